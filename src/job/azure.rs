//! The job file, typed as Azure ML's CLI v2 AutoML job (`type: automl`), so that Azure's own
//! job files parse as they are. Every level refuses keys outside the schema; every schema key
//! is either turned into the [`JobSpec`] or acknowledged with a note saying why it has no
//! effect here (`compute: ignored, runs on this machine`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use yaml_serde::Value;

use super::algorithms::{resolve_algorithms, AlgorithmList};
use super::spec::{
    checked_duration, AutoOr, BlockedTransformer, ForecastingSpec, ImputerOverride, JobSpec,
    TableSource, ValidationChoice,
};
use crate::data::ColumnKind;
use crate::error::{AutotabError, Result};
use crate::featurize::{FeaturizationMode, Imputation};
use crate::metrics::Metric;
use crate::search::EarlyStopping;
use crate::task::Task;

/// The whole job document.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureJob {
    #[serde(rename = "$schema")]
    schema: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<JobType>,
    name: Option<String>,
    display_name: Option<String>,
    experiment_name: Option<String>,
    description: Option<String>,
    tags: Option<Value>,
    properties: Option<Value>,
    compute: Option<Value>,
    identity: Option<Value>,
    resources: Option<Value>,
    queue_settings: Option<Value>,
    outputs: Option<Value>,
    environment_variables: Option<Value>,
    log_verbosity: Option<LogVerbosity>,
    task: Option<String>,
    primary_metric: Option<String>,
    target_column_name: Option<String>,
    training_data: Option<DataInput>,
    validation_data: Option<DataInput>,
    test_data: Option<DataInput>,
    validation_data_size: Option<f64>,
    test_data_size: Option<f64>,
    n_cross_validations: Option<AutoCount>,
    cv_split_column_names: Option<Vec<String>>,
    weight_column_name: Option<String>,
    positive_label: Option<Value>,
    limits: Option<AzureLimits>,
    #[serde(default, deserialize_with = "featurization")]
    featurization: Option<AzureFeaturization>,
    training: Option<AzureTraining>,
    forecasting: Option<AzureForecasting>,
    // autotab's own keys.
    seed: Option<u64>,
    column_kinds: Option<BTreeMap<String, String>>,
    allowed_training_algorithms: Option<Vec<String>>,
    blocked_training_algorithms: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
enum JobType {
    #[serde(rename = "automl")]
    Automl,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LogVerbosity {
    NotSet,
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

/// `training_data` / `validation_data` / `test_data`: a path, or `{path, type}`.
#[derive(Debug, Default)]
struct DataInput {
    path: String,
    input_type: Option<InputType>,
    mode: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InputType {
    Mltable,
    UriFile,
    UriFolder,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureLimits {
    timeout_minutes: Option<f64>,
    trial_timeout_minutes: Option<f64>,
    max_trials: Option<usize>,
    max_concurrent_trials: Option<usize>,
    max_cores_per_trial: Option<i64>,
    enable_early_termination: Option<bool>,
    exit_score: Option<f64>,
    max_nodes: Option<usize>,
}

/// `featurization`: `auto` / `off`, or the full section.
#[derive(Debug, Default)]
struct AzureFeaturization {
    mode: Option<Mode>,
    column_name_and_types: Option<BTreeMap<String, AzureColumnType>>,
    transformer_params: Option<TransformerParams>,
    blocked_transformers: Option<Vec<AzureTransformer>>,
    enable_dnn_featurization: Option<bool>,
    dataset_language: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[serde(alias = "Auto")]
    Auto,
    #[serde(alias = "Off")]
    Off,
    #[serde(alias = "Custom")]
    Custom,
}

/// Azure's featurization column types.
#[derive(Debug, Clone, Copy, Deserialize)]
enum AzureColumnType {
    Numeric,
    Categorical,
    #[serde(alias = "Datetime")]
    DateTime,
    Text,
    CategoricalHash,
    Hashes,
    Ignore,
    AllNan,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformerParams {
    #[serde(alias = "Imputer")]
    imputer: Option<Vec<ImputerEntry>>,
    #[serde(alias = "HashOneHotEncoder")]
    hash_one_hot_encoder: Option<Value>,
    #[serde(alias = "TfIdf")]
    tf_idf: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImputerEntry {
    fields: Vec<String>,
    parameters: Option<ImputerParameters>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImputerParameters {
    strategy: Option<Strategy>,
    fill_value: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Strategy {
    Mean,
    Median,
    MostFrequent,
    Constant,
    Ffill,
}

/// Azure's `BlockedTransformers` names.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
enum AzureTransformer {
    #[serde(alias = "one_hot_encoder")]
    OneHotEncoder,
    #[serde(alias = "count_vectorizer")]
    CountVectorizer,
    #[serde(alias = "text_target_encoder")]
    TextTargetEncoder,
    #[serde(alias = "cat_target_encoder")]
    CatTargetEncoder,
    #[serde(alias = "tf_idf")]
    TfIdf,
    #[serde(alias = "wo_e_target_encoder", alias = "woe_target_encoder")]
    WoETargetEncoder,
    #[serde(alias = "label_encoder")]
    LabelEncoder,
    #[serde(alias = "word_embedding")]
    WordEmbedding,
    #[serde(alias = "naive_bayes")]
    NaiveBayes,
    #[serde(alias = "hash_one_hot_encoder")]
    HashOneHotEncoder,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureTraining {
    enable_model_explainability: Option<bool>,
    enable_stack_ensemble: Option<bool>,
    enable_vote_ensemble: Option<bool>,
    allowed_training_algorithms: Option<Vec<String>>,
    blocked_training_algorithms: Option<Vec<String>>,
    enable_onnx_compatible_models: Option<bool>,
    ensemble_model_download_timeout_minutes: Option<f64>,
    stack_ensemble_settings: Option<Value>,
    training_mode: Option<String>,
    enable_dnn_training: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureForecasting {
    time_column_name: Option<String>,
    forecast_horizon: Option<AutoCount>,
    time_series_id_column_names: Option<OneOrMany>,
    frequency: Option<String>,
    target_lags: Option<Lags>,
    target_rolling_window_size: Option<AutoCount>,
    feature_lags: Option<String>,
    seasonality: Option<AutoCount>,
    short_series_handling_config: Option<String>,
    target_aggregate_function: Option<String>,
    cv_step_size: Option<AutoCount>,
    country_or_region_for_holidays: Option<String>,
    use_stl: Option<String>,
}

/// `auto` or a whole number.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AutoCount(AutoOr<usize>);

/// `auto`, one lag or a list of lags.
#[derive(Debug, Clone, PartialEq)]
struct Lags(AutoOr<Vec<usize>>);

/// One column name or a list of them.
#[derive(Debug, Clone, PartialEq)]
struct OneOrMany(Vec<String>);

// ---- Deserialization of the keys that take more than one shape ----

impl<'de> Deserialize<'de> for DataInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Inner {
            path: String,
            #[serde(rename = "type")]
            input_type: Option<InputType>,
            mode: Option<String>,
            description: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DataInput;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path or a mapping {path, type: mltable}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<DataInput, E> {
                Ok(DataInput {
                    path: v.to_string(),
                    ..DataInput::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<DataInput, A::Error> {
                let i = Inner::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(DataInput {
                    path: i.path,
                    input_type: i.input_type,
                    mode: i.mode,
                    description: i.description,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes `featurization` from a scalar mode or the full mapping.
fn featurization<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<AzureFeaturization>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        mode: Option<Mode>,
        column_name_and_types: Option<BTreeMap<String, AzureColumnType>>,
        transformer_params: Option<TransformerParams>,
        blocked_transformers: Option<Vec<AzureTransformer>>,
        enable_dnn_featurization: Option<bool>,
        dataset_language: Option<String>,
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<AzureFeaturization>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("auto, off, custom, or a mapping with mode, column_name_and_types, transformer_params, blocked_transformers")
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            let mode = Mode::deserialize(de::value::StrDeserializer::<E>::new(v))?;
            Ok(Some(AzureFeaturization {
                mode: Some(mode),
                ..AzureFeaturization::default()
            }))
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let i = Inner::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(Some(AzureFeaturization {
                mode: i.mode,
                column_name_and_types: i.column_name_and_types,
                transformer_params: i.transformer_params,
                blocked_transformers: i.blocked_transformers,
                enable_dnn_featurization: i.enable_dnn_featurization,
                dataset_language: i.dataset_language,
            }))
        }
    }
    d.deserialize_any(V)
}

/// The keyword `auto` (any case, surrounding spaces ignored) as `auto`; other text is an
/// invalid value.
fn auto_keyword<T, E: de::Error>(
    v: &str,
    auto: T,
    expected: &dyn de::Expected,
) -> std::result::Result<T, E> {
    if v.trim().eq_ignore_ascii_case("auto") {
        Ok(auto)
    } else {
        Err(E::invalid_value(de::Unexpected::Str(v), expected))
    }
}

impl<'de> Deserialize<'de> for AutoCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AutoCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`auto` or a whole number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<AutoCount, E> {
                usize::try_from(v)
                    .map(|n| AutoCount(AutoOr::Value(n)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<AutoCount, E> {
                Err(E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<AutoCount, E> {
                auto_keyword(v, AutoCount(AutoOr::Auto), &self)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Lags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`auto`, a whole number or a list of whole numbers")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Lags, E> {
                Ok(Lags(AutoOr::Value(vec![v as usize])))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Lags, E> {
                auto_keyword(v, Lags(AutoOr::Auto), &self)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Lags, A::Error> {
                let lags = Vec::<usize>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Lags(AutoOr::Value(lags)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name or a list of column names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<OneOrMany, A::Error> {
                let names = Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(OneOrMany(names))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- From the document to the job ----

/// Collects the notes about keys that have no effect here.
struct Notes(Vec<String>);

impl Notes {
    fn ack<T>(&mut self, value: &Option<T>, key: &str, why: &str) {
        if value.is_some() {
            self.0.push(format!("{key}: {why}"));
        }
    }
}

/// A key's error, prefixed with the key.
fn at(key: &str) -> impl Fn(AutotabError) -> AutotabError + '_ {
    move |e| AutotabError::config(format!("{key}: {e}"))
}

impl AzureJob {
    /// The job this document describes, with one note per key that has no effect here.
    /// Relative data paths are relative to `base` (the job file's folder).
    pub fn into_spec(self, base: &Path) -> Result<(JobSpec, Vec<String>)> {
        let mut notes = Notes(Vec::new());
        let mut spec = self.data_spec(base, &mut notes)?;
        if let Some(name) = &self.experiment_name {
            spec.experiment = name.clone();
        }
        spec.description = self.description.clone();
        if let Some(t) = &self.task {
            spec.task = Some(Task::parse(t).map_err(at("task"))?);
        }
        if let Some(m) = &self.primary_metric {
            spec.metric = Some(Metric::parse(m).map_err(at("primary_metric"))?);
        }
        spec.validation = validation_choice(&self)?;
        self.note_unused_keys(&mut notes);
        if let Some(limits) = &self.limits {
            apply_limits(&mut spec, limits, &mut notes)?;
        }
        if let Some(f) = &self.featurization {
            apply_featurization(&mut spec, f, &mut notes)?;
        }
        if let Some(kinds) = &self.column_kinds {
            for (name, kind) in kinds {
                let kind = ColumnKind::parse(kind).map_err(at(&format!("column_kinds.{name}")))?;
                spec.featurization.column_kinds.insert(name.clone(), kind);
            }
        }
        self.apply_algorithm_lists(&mut spec, &mut notes)?;
        if let Some(t) = &self.training {
            apply_training(&mut spec, t, &mut notes);
        }
        if let Some(f) = &self.forecasting {
            spec.forecasting = Some(forecasting_spec(f));
        }
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        Ok((spec, notes.0))
    }

    /// A job on the training data and label, with the validation and test tables when given.
    fn data_spec(&self, base: &Path, notes: &mut Notes) -> Result<JobSpec> {
        let training = self
            .training_data
            .as_ref()
            .ok_or_else(|| AutotabError::config("missing key 'training_data'"))?;
        let label = self
            .target_column_name
            .clone()
            .ok_or_else(|| AutotabError::config("missing key 'target_column_name'"))?;
        let mut spec = JobSpec::new(resolve(base, "training_data", training)?, label);
        if let Some(v) = &self.validation_data {
            spec.data.validation = Some(TableSource::new(resolve(base, "validation_data", v)?));
        }
        if let Some(v) = &self.test_data {
            spec.data.test = Some(TableSource::new(resolve(base, "test_data", v)?));
        }
        for (key, input) in [
            ("training_data", &self.training_data),
            ("validation_data", &self.validation_data),
            ("test_data", &self.test_data),
        ] {
            if let Some(input) = input {
                notes.ack(
                    &input.mode,
                    &format!("{key}.mode"),
                    "ignored, files are read in place",
                );
                let _ = &input.description;
            }
        }
        Ok(spec)
    }

    /// One note per top-level key that is accepted but has no effect here.
    fn note_unused_keys(&self, notes: &mut Notes) {
        const THIS_MACHINE: &str = "ignored, runs on this machine";
        const OWN_IDS: &str = "ignored; runs get their own ids";
        notes.ack(
            &self.schema,
            "$schema",
            "not fetched; autotab checks every key itself",
        );
        let _ = &self.job_type;
        notes.ack(&self.name, "name", OWN_IDS);
        notes.ack(&self.display_name, "display_name", OWN_IDS);
        notes.ack(
            &self.tags,
            "tags",
            "ignored on the run (tag a registered model with --tag)",
        );
        notes.ack(&self.properties, "properties", "ignored");
        notes.ack(&self.compute, "compute", THIS_MACHINE);
        notes.ack(&self.identity, "identity", THIS_MACHINE);
        notes.ack(&self.resources, "resources", THIS_MACHINE);
        notes.ack(&self.queue_settings, "queue_settings", THIS_MACHINE);
        notes.ack(
            &self.outputs,
            "outputs",
            "ignored; the model bundle goes to the workspace or --output",
        );
        notes.ack(
            &self.environment_variables,
            "environment_variables",
            "ignored",
        );
        notes.ack(
            &self.log_verbosity,
            "log_verbosity",
            "ignored; autotab prints its own progress (--quiet for less)",
        );
        notes.ack(
            &self.test_data_size,
            "test_data_size",
            "not supported; give test_data instead (no test split is made)",
        );
        notes.ack(
            &self.cv_split_column_names,
            "cv_split_column_names",
            "not supported; autotab makes its own folds",
        );
        notes.ack(
            &self.weight_column_name,
            "weight_column_name",
            "not supported; rows are not weighted",
        );
        notes.ack(
            &self.positive_label,
            "positive_label",
            "ignored; metrics average over classes",
        );
    }

    /// Applies the allowed and blocked algorithm lists, given either at the top level or under
    /// `training` (not both).
    fn apply_algorithm_lists(&self, spec: &mut JobSpec, notes: &mut Notes) -> Result<()> {
        let training = self.training.as_ref();
        let lists = [
            (
                "allowed_training_algorithms",
                training.and_then(|t| t.allowed_training_algorithms.as_ref()),
                self.allowed_training_algorithms.as_ref(),
                true,
            ),
            (
                "blocked_training_algorithms",
                training.and_then(|t| t.blocked_training_algorithms.as_ref()),
                self.blocked_training_algorithms.as_ref(),
                false,
            ),
        ];
        for (key, nested, top, allowed) in lists {
            let (key, names) = match (nested, top) {
                (Some(_), Some(_)) => {
                    return Err(AutotabError::config(format!(
                        "{key} is given both at the top level and under training; keep one"
                    )))
                }
                (Some(n), None) => (format!("training.{key}"), n),
                (None, Some(n)) => (key.to_string(), n),
                (None, None) => continue,
            };
            let AlgorithmList {
                algorithms,
                notes: n,
            } = resolve_algorithms(&key, names, allowed)?;
            notes.0.extend(n);
            if allowed {
                spec.training.allowed = Some(algorithms);
            } else {
                spec.training.blocked = algorithms;
            }
        }
        Ok(())
    }
}

/// Resolves a data input's path against the job file's folder; remote data is refused. The
/// training data may name a registered dataset as Azure does (`azureml:NAME[:VERSION]`): that
/// path is kept as written, for `autotab run` to resolve in the workspace.
fn resolve(base: &Path, key: &str, input: &DataInput) -> Result<PathBuf> {
    let raw = input.path.trim();
    if key == "training_data" {
        if let Some(name) = raw.strip_prefix("azureml:") {
            if !name.is_empty() && !name.contains('/') {
                return Ok(PathBuf::from(raw));
            }
        }
    }
    let remote = [
        "azureml:", "http://", "https://", "wasbs://", "abfss://", "adl://",
    ];
    if remote
        .iter()
        .any(|r| raw.to_ascii_lowercase().starts_with(r))
    {
        return Err(AutotabError::config(format!(
            "{key}.path: remote data ('{raw}') is not supported; point at a local file or MLTable folder"
        )));
    }
    let raw = raw.strip_prefix("file://").unwrap_or(raw);
    if raw.is_empty() {
        return Err(AutotabError::config(format!("{key}.path: empty path")));
    }
    let path = PathBuf::from(raw);
    let path = if path.is_absolute() {
        path
    } else {
        base.join(path)
    };
    let _ = &input.input_type;
    Ok(path)
}

fn validation_choice(job: &AzureJob) -> Result<ValidationChoice> {
    let folds = match job.n_cross_validations {
        None | Some(AutoCount(AutoOr::Auto)) => None,
        Some(AutoCount(AutoOr::Value(k))) => Some(k),
    };
    match (folds, job.validation_data_size) {
        (Some(_), Some(_)) => Err(AutotabError::config(
            "n_cross_validations and validation_data_size: give one of them, not both",
        )),
        (Some(folds), None) => {
            if folds < 2 {
                return Err(AutotabError::config(format!(
                    "n_cross_validations: must be auto or at least 2, got {folds}"
                )));
            }
            Ok(ValidationChoice::CrossValidation { folds })
        }
        (None, Some(fraction)) => {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(AutotabError::config(format!(
                    "validation_data_size: must be between 0 and 1 (exclusive), got {fraction}"
                )));
            }
            Ok(ValidationChoice::Holdout { fraction })
        }
        (None, None) => Ok(ValidationChoice::Auto),
    }
}

fn apply_limits(spec: &mut JobSpec, l: &AzureLimits, notes: &mut Notes) -> Result<()> {
    if let Some(m) = l.timeout_minutes {
        spec.limits.timeout = checked_duration("limits.timeout_minutes", m * 60.0)?;
    }
    if let Some(m) = l.trial_timeout_minutes {
        spec.limits.trial_timeout =
            Some(checked_duration("limits.trial_timeout_minutes", m * 60.0)?);
    }
    if l.max_trials.is_some() {
        spec.limits.max_trials = l.max_trials;
    }
    if let Some(c) = l.max_concurrent_trials {
        spec.limits.max_concurrent_trials = c;
    }
    if let Some(on) = l.enable_early_termination {
        spec.limits.early_stopping = on.then_some(EarlyStopping::AZURE);
    }
    if let Some(score) = l.exit_score {
        if !score.is_finite() {
            return Err(AutotabError::config(
                "limits.exit_score: must be a finite number",
            ));
        }
        spec.limits.exit_score = Some(score);
        notes.0.push(format!(
            "limits.exit_score: {score} is kept in the job; the search does not stop on it yet"
        ));
    }
    notes.ack(
        &l.max_cores_per_trial,
        "limits.max_cores_per_trial",
        "ignored; each trial runs on one thread of the pool (max_concurrent_trials)",
    );
    notes.ack(
        &l.max_nodes,
        "limits.max_nodes",
        "ignored, runs on this machine",
    );
    Ok(())
}

fn apply_featurization(
    spec: &mut JobSpec,
    f: &AzureFeaturization,
    notes: &mut Notes,
) -> Result<()> {
    let mode = f.mode.unwrap_or(Mode::Auto);
    spec.featurization.mode = match mode {
        Mode::Off => FeaturizationMode::Off,
        Mode::Auto | Mode::Custom => FeaturizationMode::Auto,
    };
    let customized = f.column_name_and_types.is_some()
        || f.transformer_params.is_some()
        || f.blocked_transformers.is_some();
    if customized && mode == Mode::Off {
        return Err(AutotabError::config(
            "featurization: mode off takes no column_name_and_types, transformer_params or blocked_transformers; use mode custom",
        ));
    }
    for (column, t) in f.column_name_and_types.iter().flatten() {
        spec.featurization
            .column_kinds
            .insert(column.clone(), column_kind(t));
    }
    if let Some(params) = &f.transformer_params {
        apply_transformer_params(spec, params, notes)?;
    }
    for t in f.blocked_transformers.iter().flatten() {
        match t {
            AzureTransformer::OneHotEncoder => {
                spec.featurization.blocked_transformers.push(BlockedTransformer::OneHotEncoder)
            }
            AzureTransformer::CountVectorizer => spec
                .featurization
                .blocked_transformers
                .push(BlockedTransformer::CountVectorizer),
            AzureTransformer::CatTargetEncoder => spec
                .featurization
                .blocked_transformers
                .push(BlockedTransformer::CatTargetEncoder),
            other => notes.0.push(format!(
                "featurization.blocked_transformers: {other:?} is not used by autotab; nothing to block"
            )),
        }
    }
    notes.ack(
        &f.enable_dnn_featurization,
        "featurization.enable_dnn_featurization",
        "ignored; autotab has no DNN featurization",
    );
    notes.ack(
        &f.dataset_language,
        "featurization.dataset_language",
        "ignored; text is split into words whatever the language",
    );
    Ok(())
}

/// The autotab column kind of an Azure featurization column type.
fn column_kind(t: &AzureColumnType) -> ColumnKind {
    match t {
        AzureColumnType::Numeric => ColumnKind::Numeric,
        AzureColumnType::Categorical | AzureColumnType::CategoricalHash => ColumnKind::Categorical,
        AzureColumnType::DateTime => ColumnKind::Datetime,
        AzureColumnType::Text => ColumnKind::Text,
        AzureColumnType::Hashes | AzureColumnType::Ignore => ColumnKind::IdLike,
        AzureColumnType::AllNan => ColumnKind::Constant,
    }
}

/// Applies `transformer_params`: one imputer override per named column (a later entry wins;
/// the label is never imputed), and notes for the transformers autotab does not have.
fn apply_transformer_params(
    spec: &mut JobSpec,
    params: &TransformerParams,
    notes: &mut Notes,
) -> Result<()> {
    for (i, entry) in params.imputer.iter().flatten().enumerate() {
        let key = format!("featurization.transformer_params.imputer[{i}]");
        let imputation = imputation(&key, entry.parameters.as_ref())?;
        if entry.fields.is_empty() {
            return Err(AutotabError::config(format!(
                "{key}.fields: name at least one column"
            )));
        }
        for column in &entry.fields {
            if column == &spec.data.label {
                notes.0.push(format!(
                    "{key}: '{column}' is the label; rows with a missing label are dropped, not imputed"
                ));
                continue;
            }
            spec.featurization.imputers.retain(|o| &o.column != column);
            spec.featurization.imputers.push(ImputerOverride {
                column: column.clone(),
                imputation: imputation.clone(),
            });
        }
    }
    notes.ack(
        &params.hash_one_hot_encoder,
        "featurization.transformer_params.hash_one_hot_encoder",
        "ignored; autotab frequency-encodes high-cardinality categories",
    );
    notes.ack(
        &params.tf_idf,
        "featurization.transformer_params.tf_idf",
        "ignored; autotab uses hashed word counts for text",
    );
    Ok(())
}

fn imputation(key: &str, parameters: Option<&ImputerParameters>) -> Result<Imputation> {
    let strategy = parameters.and_then(|p| p.strategy).ok_or_else(|| {
        AutotabError::config(format!(
            "{key}.parameters.strategy: missing; use mean, median, most_frequent, constant or ffill"
        ))
    })?;
    let fill = parameters.and_then(|p| p.fill_value.as_ref());
    Ok(match strategy {
        Strategy::Mean => Imputation::Mean,
        Strategy::Median => Imputation::Median,
        Strategy::MostFrequent => Imputation::MostFrequent,
        Strategy::Ffill => Imputation::ForwardFill,
        Strategy::Constant => {
            let fill_value = match fill {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => {
                    return Err(AutotabError::config(format!(
                        "{key}.parameters.fill_value: strategy constant needs a number or a string"
                    )))
                }
            };
            Imputation::Constant { fill_value }
        }
    })
}

fn apply_training(spec: &mut JobSpec, t: &AzureTraining, notes: &mut Notes) {
    if let Some(on) = t.enable_vote_ensemble {
        spec.training.enable_vote_ensemble = on;
    }
    if let Some(on) = t.enable_stack_ensemble {
        spec.training.enable_stack_ensemble = on;
    }
    if let Some(on) = t.enable_model_explainability {
        spec.training.enable_model_explainability = on;
        if on {
            notes.0.push("training.enable_model_explainability: permutation importance of the refit model (not for forecasting yet)".into());
        }
    }
    notes.ack(
        &t.enable_onnx_compatible_models,
        "training.enable_onnx_compatible_models",
        "ignored; models are saved as autotab bundles",
    );
    notes.ack(
        &t.ensemble_model_download_timeout_minutes,
        "training.ensemble_model_download_timeout_minutes",
        "ignored; nothing is downloaded",
    );
    notes.ack(
        &t.stack_ensemble_settings,
        "training.stack_ensemble_settings",
        "ignored; the stack's meta-learner is logistic regression (classification) or elastic net (regression), fitted on all out-of-fold rows",
    );
    notes.ack(
        &t.training_mode,
        "training.training_mode",
        "ignored, runs on this machine",
    );
    notes.ack(
        &t.enable_dnn_training,
        "training.enable_dnn_training",
        "ignored; autotab has no DNN learners",
    );
}

fn forecasting_spec(f: &AzureForecasting) -> ForecastingSpec {
    ForecastingSpec {
        time_column_name: f.time_column_name.clone(),
        forecast_horizon: f.forecast_horizon.map(|a| a.0),
        time_series_id_column_names: f
            .time_series_id_column_names
            .clone()
            .map(|n| n.0)
            .unwrap_or_default(),
        frequency: f.frequency.clone(),
        target_lags: f.target_lags.clone().map(|l| l.0),
        target_rolling_window_size: f.target_rolling_window_size.map(|a| a.0),
        feature_lags: f.feature_lags.clone(),
        seasonality: f.seasonality.map(|a| a.0),
        short_series_handling_config: f.short_series_handling_config.clone(),
        target_aggregate_function: f.target_aggregate_function.clone(),
        cv_step_size: f.cv_step_size.map(|a| a.0),
        country_or_region_for_holidays: f.country_or_region_for_holidays.clone(),
        use_stl: f.use_stl.clone(),
    }
}
