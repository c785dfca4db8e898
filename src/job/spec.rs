//! The engine-facing job: nested, typed, with autotab's defaults, and the one merge of
//! command-line overrides over it ([`JobSpec::apply`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::algorithms::{resolve_algorithms, AlgorithmList};
use crate::data::{load_table, ColumnKind, Dataset, LoadOptions};
use crate::error::{AutotabError, Result};
use crate::featurize::{FeaturizationMode, FeaturizerConfig, Imputation};
use crate::metrics::Metric;
use crate::models::Algorithm;
use crate::search::EarlyStopping;
use crate::task::Task;
use crate::validation::ValidationPlan;

/// Everything that defines one AutoML run. Stored with each run (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Experiment the run belongs to.
    pub experiment: String,
    /// Free-text description of the job.
    pub description: Option<String>,
    /// Task; inferred from the label when `None`.
    pub task: Option<Task>,
    /// Primary metric; the task's default when `None`.
    pub metric: Option<Metric>,
    /// The tables and the label.
    pub data: DataSpec,
    /// How rows are validated when no validation table is given.
    pub validation: ValidationChoice,
    /// Time and trial limits.
    pub limits: Limits,
    /// Featurization settings.
    pub featurization: FeaturizationSpec,
    /// Algorithms and ensembles.
    pub training: TrainingSpec,
    /// Forecasting settings (kept typed; the engine refuses forecasting for now).
    pub forecasting: Option<ForecastingSpec>,
    /// Seed of every random choice.
    pub seed: u64,
}

/// A table: a CSV or Parquet file, or an MLTable folder (or its `MLTable` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TableSource {
    /// Where the table is.
    pub path: PathBuf,
}

impl TableSource {
    /// A table at `path`.
    pub fn new(path: impl Into<PathBuf>) -> TableSource {
        TableSource { path: path.into() }
    }

    /// Reads the table (MLTable folders included).
    pub fn load(&self, options: &LoadOptions) -> Result<Dataset> {
        load_table(&self.path, options)
    }

    /// The path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for TableSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

/// The job's tables and label column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// Training table.
    pub training: TableSource,
    /// Validation table with the same columns (wins over the validation choice).
    pub validation: Option<TableSource>,
    /// Test table, scored with the final model after the run.
    pub test: Option<TableSource>,
    /// Label column.
    pub label: String,
    /// The registered dataset the training table was resolved from (`--data NAME[:N]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<RegisteredData>,
}

/// A registered dataset version a run trains on: recorded with the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredData {
    /// Dataset name.
    pub name: String,
    /// Dataset version.
    pub version: u32,
    /// SHA-256 of its content, checked against the file before the run.
    pub sha256: String,
}

impl fmt::Display for RegisteredData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.version)
    }
}

/// How rows are validated when no validation table is given.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationChoice {
    /// Azure's size-based default: 10-fold under 1,000 rows, 3-fold up to 20,000, then 10%.
    #[default]
    Auto,
    /// k-fold cross-validation.
    CrossValidation {
        /// Number of folds.
        folds: usize,
    },
    /// One holdout of a share of the rows.
    Holdout {
        /// Share of rows held out, in (0, 1).
        fraction: f64,
    },
}

/// Time and trial limits of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Hard time budget of the whole run.
    #[serde(with = "seconds")]
    pub timeout: Duration,
    /// Longest a single trial may run.
    #[serde(with = "opt_seconds")]
    pub trial_timeout: Option<Duration>,
    /// Most trials.
    pub max_trials: Option<usize>,
    /// Most trials at once.
    pub max_concurrent_trials: usize,
    /// Experiment-level early stopping; `None` disables it.
    pub early_stopping: Option<EarlyStopping>,
    /// Stop the search once a trial reaches this score (Azure's `exit_score`).
    pub exit_score: Option<f64>,
}

/// A user's imputation choice for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImputerOverride {
    /// The column.
    pub column: String,
    /// How its missing cells are filled.
    pub imputation: Imputation,
}

/// Featurizers the job can block (Azure's `blocked_transformers` names that autotab has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockedTransformer {
    /// `OneHotEncoder`: categorical columns are frequency encoded only.
    OneHotEncoder,
    /// `CountVectorizer`: free text keeps its length and word count, no hashed word counts.
    CountVectorizer,
    /// `CatTargetEncoder`: categorical columns get no label order (`col__target_order`).
    CatTargetEncoder,
}

/// Featurization settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FeaturizationSpec {
    /// `auto` or `off` (Azure's `custom` is `auto` with the overrides below).
    pub mode: FeaturizationMode,
    /// Column kinds forced by the user.
    pub column_kinds: BTreeMap<String, ColumnKind>,
    /// Per-column imputation.
    pub imputers: Vec<ImputerOverride>,
    /// Blocked featurizers.
    pub blocked_transformers: Vec<BlockedTransformer>,
}

impl FeaturizationSpec {
    /// The featurizer settings these choices give.
    pub fn featurizer_config(&self) -> FeaturizerConfig {
        let defaults = FeaturizerConfig::default();
        let blocked = |t| self.blocked_transformers.contains(&t);
        FeaturizerConfig {
            mode: self.mode,
            one_hot: !blocked(BlockedTransformer::OneHotEncoder),
            target_order: !blocked(BlockedTransformer::CatTargetEncoder),
            text_hash_buckets: if blocked(BlockedTransformer::CountVectorizer) {
                0
            } else {
                defaults.text_hash_buckets
            },
            imputers: self
                .imputers
                .iter()
                .map(|i| (i.column.clone(), i.imputation.clone()))
                .collect(),
            ..defaults
        }
    }
}

/// Algorithms and ensembles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpec {
    /// Only these algorithms (all that fit the task when `None`).
    pub allowed: Option<Vec<Algorithm>>,
    /// Never these algorithms.
    pub blocked: Vec<Algorithm>,
    /// Build a voting ensemble of the best trials when it wins.
    pub enable_vote_ensemble: bool,
    /// Build a stack ensemble (a meta-learner over the best trials' out-of-fold predictions)
    /// and keep it when it wins; Azure's default, except for forecasting.
    pub enable_stack_ensemble: bool,
    /// Compute the refit model's permutation importance into its bundle (Azure's default:
    /// on).
    pub enable_model_explainability: bool,
    /// What the run ships: bagged fold models or a refit on all rows.
    #[serde(default)]
    pub final_model: FinalModel,
    /// Configurations to run first, in this order, instead of the strong start (FLAML's
    /// `starting_points`); each is checked against its algorithm's space when its trial starts,
    /// and those of algorithms the run does not search are skipped. `None`: the portfolio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_points: Option<Vec<(Algorithm, crate::models::Params)>>,
    /// Multi-fidelity on large tables: trials start on row samples of the folds and move to
    /// all rows (FLAML's `sample`; see `search::Fidelity`). `false`: every trial on all rows.
    #[serde(default = "default_true")]
    pub sample: bool,
}

fn default_true() -> bool {
    true
}

/// What a run ships as its model: the validation folds' own models averaged (k-fold bagging,
/// as AutoGluon ships them: exactly what the cross-validated score measured, and no time
/// spent refitting), or the winner refit on every row (Azure AutoML's way: one model, faster
/// to score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalModel {
    /// The folds' models under cross-validation of at least 5 folds; otherwise a refit on all
    /// rows when the time left allows it, else the folds' models if each saw at least 80% of
    /// the rows (a 10% holdout's model; not 3 folds' models of two thirds of the rows).
    #[default]
    Auto,
    /// The folds' models whenever the search kept them (a refit otherwise).
    Bagged,
    /// Always a refit on all rows (Azure AutoML's behaviour).
    Refit,
}

impl FinalModel {
    /// Parses `auto`, `bagged` or `refit`.
    pub fn parse(name: &str) -> Result<FinalModel> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(FinalModel::Auto),
            "bagged" | "bagging" | "folds" => Ok(FinalModel::Bagged),
            "refit" => Ok(FinalModel::Refit),
            other => Err(AutotabError::config(format!(
                "unknown final model '{other}'; valid choices: auto, bagged, refit"
            ))),
        }
    }
}

impl Default for TrainingSpec {
    fn default() -> Self {
        TrainingSpec {
            allowed: None,
            blocked: Vec::new(),
            enable_vote_ensemble: true,
            enable_stack_ensemble: true,
            enable_model_explainability: true,
            final_model: FinalModel::Auto,
            starting_points: None,
            sample: true,
        }
    }
}

/// `auto` or a number (Azure's forecasting settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoOr<T> {
    /// Let autotab decide.
    Auto,
    /// This value.
    Value(T),
}

/// Forecasting settings, typed as Azure's `forecasting:` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ForecastingSpec {
    /// The time column.
    pub time_column_name: Option<String>,
    /// How many periods ahead to forecast.
    pub forecast_horizon: Option<AutoOr<usize>>,
    /// Columns that identify one series (grain).
    pub time_series_id_column_names: Vec<String>,
    /// Pandas-style frequency (`D`, `W-THU`, ...).
    pub frequency: Option<String>,
    /// Lags of the target.
    pub target_lags: Option<AutoOr<Vec<usize>>>,
    /// Rolling window over the target.
    pub target_rolling_window_size: Option<AutoOr<usize>>,
    /// Lags of the features (`auto` or `none`).
    pub feature_lags: Option<String>,
    /// Seasonality.
    pub seasonality: Option<AutoOr<usize>>,
    /// `auto`, `pad`, `drop` or `none`.
    pub short_series_handling_config: Option<String>,
    /// `sum`, `max`, `min` or `mean`.
    pub target_aggregate_function: Option<String>,
    /// Periods between cross-validation origins.
    pub cv_step_size: Option<AutoOr<usize>>,
    /// Country or region for holiday features.
    pub country_or_region_for_holidays: Option<String>,
    /// `season`, `season_trend` or none.
    pub use_stl: Option<String>,
}

/// Values given on the command line, each overriding the job file's (flags win).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOverrides {
    /// Training table.
    pub data: Option<PathBuf>,
    /// Label column.
    pub label: Option<String>,
    /// Task.
    pub task: Option<Task>,
    /// Primary metric.
    pub metric: Option<Metric>,
    /// Time budget.
    pub timeout: Option<Duration>,
    /// Per-trial limit.
    pub trial_timeout: Option<Duration>,
    /// Most trials.
    pub max_trials: Option<usize>,
    /// Most trials at once.
    pub max_concurrent_trials: Option<usize>,
    /// Folds of cross-validation.
    pub n_cross_validations: Option<usize>,
    /// Holdout share.
    pub validation_size: Option<f64>,
    /// Validation table.
    pub validation_data: Option<PathBuf>,
    /// Test table.
    pub test_data: Option<PathBuf>,
    /// Experiment name.
    pub experiment: Option<String>,
    /// Forced column kinds (added to the file's).
    pub column_kinds: Vec<(String, ColumnKind)>,
    /// Allowed algorithm names (Azure's or autotab's).
    pub allowed_algorithms: Option<Vec<String>>,
    /// Blocked algorithm names.
    pub blocked_algorithms: Option<Vec<String>>,
    /// Featurization mode.
    pub featurization: Option<FeaturizationMode>,
    /// Experiment-level early stopping: `Some(None)` turns it off, `Some(Some(rule))` picks
    /// the rule.
    pub early_stopping: Option<Option<EarlyStopping>>,
    /// Early stopping: never before this many trials.
    pub early_stopping_min_trials: Option<usize>,
    /// Early stopping: trials without improvement before stopping.
    pub early_stopping_patience: Option<usize>,
    /// `--final-model`.
    pub final_model: Option<FinalModel>,
    /// Seed.
    pub seed: Option<u64>,
}

/// The longest budget a job may ask for (30 days): larger values would overflow the clock
/// arithmetic.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Checks a duration in seconds taken from a file or flag: finite, non-negative, at most
/// [`MAX_TIMEOUT`]. `what` names the setting in the error.
pub fn checked_duration(what: &str, seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(AutotabError::config(format!(
            "{what} must be a non-negative number, got {seconds}"
        )));
    }
    let d = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    if d > MAX_TIMEOUT {
        return Err(AutotabError::config(format!(
            "timeout too large: {what} is more than the maximum of 30 days (720h)"
        )));
    }
    Ok(d)
}

impl JobSpec {
    /// A job with autotab's defaults: 5 minutes, 2 concurrent trials, early stopping on,
    /// size-based validation, featurization auto, every algorithm, seed 42.
    pub fn new(training: impl Into<PathBuf>, label: impl Into<String>) -> JobSpec {
        JobSpec {
            experiment: "default".into(),
            description: None,
            task: None,
            metric: None,
            data: DataSpec {
                training: TableSource::new(training),
                validation: None,
                test: None,
                label: label.into(),
                dataset: None,
            },
            validation: ValidationChoice::Auto,
            limits: Limits {
                timeout: Duration::from_secs(300),
                trial_timeout: None,
                max_trials: None,
                max_concurrent_trials: 2,
                early_stopping: Some(EarlyStopping::default()),
                exit_score: None,
            },
            featurization: FeaturizationSpec::default(),
            training: TrainingSpec::default(),
            forecasting: None,
            seed: 42,
        }
    }

    /// A job from command-line values alone: `--data` and `--label` are required.
    pub fn from_overrides(overrides: JobOverrides) -> Result<(JobSpec, Vec<String>)> {
        let data = overrides
            .data
            .clone()
            .ok_or_else(|| AutotabError::config("--data is required (or --config)"))?;
        let label = overrides
            .label
            .clone()
            .ok_or_else(|| AutotabError::config("--label is required (or --config)"))?;
        let mut spec = JobSpec::new(data, label);
        let notes = spec.apply(overrides)?;
        Ok((spec, notes))
    }

    /// Merges command-line values over this job (flags win). Returns notes about algorithm
    /// names that have no local meaning.
    pub fn apply(&mut self, o: JobOverrides) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        if let Some(d) = o.data {
            self.data.training = TableSource::new(d);
            self.data.dataset = None;
        }
        if let Some(l) = o.label {
            self.data.label = l;
        }
        if let Some(v) = o.validation_data {
            self.data.validation = Some(TableSource::new(v));
        }
        if let Some(t) = o.test_data {
            self.data.test = Some(TableSource::new(t));
        }
        self.task = o.task.or(self.task);
        self.metric = o.metric.or(self.metric);
        if let Some(e) = o.experiment {
            self.experiment = e;
        }
        match (o.n_cross_validations, o.validation_size) {
            (Some(_), Some(_)) => {
                return Err(AutotabError::config(
                    "give either --n-cross-validations or --validation-size, not both",
                ))
            }
            (Some(folds), None) => self.validation = ValidationChoice::CrossValidation { folds },
            (None, Some(fraction)) => self.validation = ValidationChoice::Holdout { fraction },
            (None, None) => {}
        }
        let limits = &mut self.limits;
        if let Some(t) = o.timeout {
            limits.timeout = t;
        }
        limits.trial_timeout = o.trial_timeout.or(limits.trial_timeout);
        limits.max_trials = o.max_trials.or(limits.max_trials);
        if let Some(c) = o.max_concurrent_trials {
            limits.max_concurrent_trials = c;
        }
        if let Some(rule) = o.early_stopping {
            limits.early_stopping = rule;
        }
        if o.early_stopping_min_trials.is_some() || o.early_stopping_patience.is_some() {
            // The count settings belong to Azure's rule: giving one selects it.
            let (min_trials, patience) = match limits.early_stopping {
                Some(EarlyStopping::Azure {
                    min_trials,
                    patience,
                }) => (min_trials, patience),
                _ => (
                    EarlyStopping::AZURE_MIN_TRIALS,
                    EarlyStopping::AZURE_PATIENCE,
                ),
            };
            limits.early_stopping = Some(EarlyStopping::Azure {
                min_trials: o.early_stopping_min_trials.unwrap_or(min_trials),
                patience: o.early_stopping_patience.unwrap_or(patience),
            });
        }
        self.featurization.column_kinds.extend(o.column_kinds);
        if let Some(mode) = o.featurization {
            self.featurization.mode = mode;
        }
        if let Some(names) = o.allowed_algorithms {
            let AlgorithmList {
                algorithms,
                notes: n,
            } = resolve_algorithms("--allowed-algorithms", &names, true)?;
            self.training.allowed = Some(algorithms);
            notes.extend(n);
        }
        if let Some(names) = o.blocked_algorithms {
            let AlgorithmList {
                algorithms,
                notes: n,
            } = resolve_algorithms("--blocked-algorithms", &names, false)?;
            self.training.blocked = algorithms;
            notes.extend(n);
        }
        if let Some(s) = o.seed {
            self.seed = s;
        }
        if let Some(f) = o.final_model {
            self.training.final_model = f;
        }
        Ok(notes)
    }

    /// The validation scheme for `n_rows` rows, of which the last `n_given_valid` come from
    /// a given validation table (which wins over the validation choice).
    pub fn validation_plan(&self, n_rows: usize, n_given_valid: Option<usize>) -> ValidationPlan {
        match (n_given_valid, self.validation) {
            (Some(n), _) => ValidationPlan::Given {
                n_valid: n.min(n_rows.saturating_sub(1)),
            },
            (None, ValidationChoice::CrossValidation { folds }) => {
                ValidationPlan::CrossValidation { folds }
            }
            (None, ValidationChoice::Holdout { fraction }) => ValidationPlan::Holdout { fraction },
            (None, ValidationChoice::Auto) => ValidationPlan::default_for(n_rows),
        }
    }

    /// The algorithms this job searches, for `task`: allowed (or all that fit) minus blocked.
    pub fn algorithms_for(&self, task: Task) -> Result<Vec<Algorithm>> {
        let allowed = &self.training.allowed;
        let candidates = allowed.clone().unwrap_or_else(|| Algorithm::ALL.to_vec());
        if allowed.is_some() {
            if let Some(a) = candidates.iter().find(|a| !a.supports(task)) {
                return Err(AutotabError::config(format!(
                    "algorithm {a} does not support {task}"
                )));
            }
        }
        let mut chosen: Vec<Algorithm> = Vec::new();
        for a in candidates {
            if a.supports(task) && !self.training.blocked.contains(&a) && !chosen.contains(&a) {
                chosen.push(a);
            }
        }
        if chosen.is_empty() {
            return Err(AutotabError::config(format!(
                "no algorithm left for {task} after the allowed/blocked lists"
            )));
        }
        Ok(chosen)
    }
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        super::checked_duration("timeout", v).map_err(serde::de::Error::custom)
    }
}

mod opt_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|v| super::checked_duration("trial timeout", v))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_json() {
        let mut spec = JobSpec::new("data/a.csv", "y");
        spec.data.test = Some(TableSource::new("data/test"));
        spec.validation = ValidationChoice::Holdout { fraction: 0.2 };
        spec.limits.trial_timeout = Some(Duration::from_secs(9));
        spec.featurization.imputers.push(ImputerOverride {
            column: "x".into(),
            imputation: Imputation::Constant {
                fill_value: "0".into(),
            },
        });
        spec.forecasting = Some(ForecastingSpec {
            forecast_horizon: Some(AutoOr::Value(4)),
            target_lags: Some(AutoOr::Auto),
            ..ForecastingSpec::default()
        });
        let json = serde_json::to_string(&spec).unwrap();
        let back: JobSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn overrides_win_and_validation_is_resolved_once() {
        let mut spec = JobSpec::new("a.csv", "y");
        spec.validation = ValidationChoice::CrossValidation { folds: 5 };
        assert_eq!(
            spec.validation_plan(100, None),
            ValidationPlan::CrossValidation { folds: 5 }
        );
        assert_eq!(
            spec.validation_plan(100, Some(30)),
            ValidationPlan::Given { n_valid: 30 }
        );
        let notes = spec
            .apply(JobOverrides {
                validation_size: Some(0.25),
                timeout: Some(Duration::from_secs(7)),
                early_stopping: Some(None),
                allowed_algorithms: Some(vec!["light_gbm".into(), "SGD".into()]),
                ..JobOverrides::default()
            })
            .unwrap();
        assert_eq!(
            spec.validation_plan(100, None),
            ValidationPlan::Holdout { fraction: 0.25 }
        );
        assert_eq!(spec.limits.timeout, Duration::from_secs(7));
        assert_eq!(spec.limits.early_stopping, None);
        assert_eq!(
            spec.training.allowed,
            Some(vec![Algorithm::GradientBoosting])
        );
        assert!(notes.iter().any(|n| n.contains("SGD")), "{notes:?}");
        let both = spec.apply(JobOverrides {
            validation_size: Some(0.25),
            n_cross_validations: Some(3),
            ..JobOverrides::default()
        });
        assert!(both.is_err());
        assert_eq!(
            JobSpec::new("a.csv", "y").validation_plan(500, None),
            ValidationPlan::CrossValidation { folds: 10 }
        );
    }

    #[test]
    fn algorithms_for_filters_and_refuses_an_empty_list() {
        let mut spec = JobSpec::new("a.csv", "y");
        spec.training.blocked = vec![Algorithm::KNearestNeighbors];
        let all = spec.algorithms_for(Task::Regression).unwrap();
        assert!(!all.contains(&Algorithm::KNearestNeighbors));
        assert!(!all.contains(&Algorithm::LogisticRegression));
        spec.training.allowed = Some(vec![]);
        let err = spec.algorithms_for(Task::Regression).unwrap_err();
        assert!(err.to_string().contains("no algorithm left"), "{err}");
        spec.training.allowed = Some(vec![Algorithm::LogisticRegression]);
        let err = spec.algorithms_for(Task::Regression).unwrap_err();
        assert!(err.to_string().contains("does not support"), "{err}");
    }

    #[test]
    fn durations_are_bounded() {
        assert!(checked_duration("t", 1e300).is_err());
        assert!(checked_duration("t", f64::NAN).is_err());
        assert!(checked_duration("t", -1.0).is_err());
        assert_eq!(
            checked_duration("t", 90.0).unwrap(),
            Duration::from_secs(90)
        );
    }
}
