//! The job a user asks for: data, label, task, metric, validation, limits, featurization,
//! algorithms.
//!
//! A job comes from a YAML file with the keys of an Azure ML CLI v2 AutoML job ([`azure`],
//! parsed strictly: unknown keys and wrong types are errors naming the key path), from CLI
//! flags ([`JobOverrides`]), or both (flags win, merged once by [`JobSpec::apply`]). The
//! engine reads the typed, nested [`JobSpec`].

mod algorithms;
pub mod azure;
mod spec;

pub use algorithms::{resolve_algorithms, AlgorithmList};
pub use spec::{
    checked_duration, AutoOr, BlockedTransformer, DataSpec, FeaturizationSpec, FinalModel,
    ForecastingSpec, ImputerOverride, JobOverrides, JobSpec, Limits, RegisteredData, TableSource,
    TrainingSpec, ValidationChoice, MAX_TIMEOUT,
};

use std::path::Path;
use std::time::Duration;

use crate::error::{AutotabError, Result};

/// A job read from a file, with one note per key that has no effect here.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedJob {
    /// The job.
    pub spec: JobSpec,
    /// Lines such as `compute: ignored, runs on this machine`, for the CLI to print.
    pub notes: Vec<String>,
}

/// Reads a YAML job file (Azure ML AutoML job keys). Relative data paths are relative to the
/// file's folder. Errors start with the file's path and name the key path.
pub fn load_job_file(path: &Path) -> Result<LoadedJob> {
    let text = std::fs::read_to_string(path).map_err(|e| AutotabError::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_job(&text, base).map_err(|e| AutotabError::config(format!("{}: {e}", path.display())))
}

/// Parses YAML job text; see [`load_job_file`].
pub fn parse_job(text: &str, base: &Path) -> Result<LoadedJob> {
    if text.trim().is_empty() {
        return Err(AutotabError::config("the job file is empty"));
    }
    let job: azure::AzureJob = crate::yaml::from_str_strict(text)?;
    let (spec, notes) = job.into_spec(base)?;
    Ok(LoadedJob { spec, notes })
}

/// Parses a duration: `90` (seconds), `90s`, `2m`, `1h30m`, `1.5m`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        AutotabError::config(format!(
            "invalid duration '{text}': use e.g. 90, 90s, 2m, 1h30m"
        ))
    };
    if let Ok(secs) = t.parse::<f64>() {
        return checked_duration(&format!("duration '{text}'"), secs);
    }
    // Fractional single-unit forms like "1.5m" are not in humantime.
    if let Some((num, unit)) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| t.split_at(i))
    {
        if let (Ok(v), Some(mult)) = (num.parse::<f64>(), unit_seconds(unit)) {
            return checked_duration(&format!("duration '{text}'"), v * mult);
        }
    }
    match humantime::parse_duration(t) {
        Ok(d) => checked_duration(&format!("duration '{text}'"), d.as_secs_f64()),
        // humantime refuses numbers that overflow its own arithmetic.
        Err(humantime::DurationError::NumberOverflow) => {
            checked_duration(&format!("duration '{text}'"), f64::MAX)
        }
        Err(_) => Err(bad()),
    }
}

fn unit_seconds(unit: &str) -> Option<f64> {
    match unit {
        "s" | "sec" | "secs" => Some(1.0),
        "m" | "min" | "mins" => Some(60.0),
        "h" | "hr" | "hours" => Some(3600.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::featurize::{FeaturizationMode, Imputation};
    use crate::metrics::Metric;
    use crate::models::Algorithm;
    use std::path::PathBuf;

    #[test]
    fn durations_take_the_usual_forms() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon")
            .unwrap_err()
            .to_string()
            .contains("'soon'"));
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("1e30").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }

    fn parse(text: &str) -> Result<LoadedJob> {
        parse_job(text, Path::new("/jobs"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const MINIMAL: &str = "training_data: a.csv\ntarget_column_name: y\n";

    #[test]
    fn yaml_job_with_azure_keys() {
        let text = r#"
type: automl
experiment_name: hf
task: classification
primary_metric: AUC_weighted
target_column_name: DEATH_EVENT
training_data:
  path: data/hf.csv
n_cross_validations: 5
limits:
  timeout_minutes: 1.5
  max_trials: 30
  max_concurrent_trials: 3
  enable_early_termination: false
featurization:
  mode: off
training:
  blocked_training_algorithms: [KNN]
seed: 7
"#;
        let spec = parse(text).unwrap().spec;
        assert_eq!(spec.data.training.path, PathBuf::from("/jobs/data/hf.csv"));
        assert_eq!(spec.data.label, "DEATH_EVENT");
        assert_eq!(spec.metric, Some(Metric::AucWeighted));
        assert_eq!(
            spec.validation,
            ValidationChoice::CrossValidation { folds: 5 }
        );
        assert_eq!(spec.limits.timeout, Duration::from_secs(90));
        assert_eq!(spec.limits.max_trials, Some(30));
        assert_eq!(spec.limits.max_concurrent_trials, 3);
        assert_eq!(spec.limits.early_stopping, None);
        assert_eq!(spec.featurization.mode, FeaturizationMode::Off);
        assert_eq!(spec.training.blocked, vec![Algorithm::KNearestNeighbors]);
        assert_eq!(spec.seed, 7);
    }

    #[test]
    fn custom_featurization_and_acknowledged_keys() {
        let text = r#"
$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
compute: azureml:cpu-cluster
log_verbosity: debug
target_column_name: y
training_data: {path: ./train, type: mltable}
test_data: {path: ./test, type: mltable}
n_cross_validations: auto
limits: {exit_score: 0.92, max_cores_per_trial: -1, max_nodes: 6}
featurization:
  mode: custom
  column_name_and_types: {CHMIN: Categorical, when: DateTime, notes: Text}
  transformer_params:
    Imputer:
      - fields: ["job", "y"]
        parameters: {strategy: most_frequent}
      - fields: [age]
        parameters: {strategy: constant, fill_value: 0}
  blocked_transformers: [WordEmbedding, OneHotEncoder, CatTargetEncoder]
training:
  enable_model_explainability: true
  enable_vote_ensemble: false
  allowed_training_algorithms: [gradient_boosting, logistic_regression, SGD]
forecasting:
  time_column_name: WeekStarting
  time_series_id_column_names: [Store, Brand]
  forecast_horizon: 20
  target_lags: auto
  frequency: W-THU
"#;
        let LoadedJob { spec, notes } = parse(text).unwrap();
        assert_eq!(
            spec.data.test.as_ref().unwrap().path,
            PathBuf::from("/jobs/./test")
        );
        assert_eq!(spec.validation, ValidationChoice::Auto);
        assert_eq!(spec.limits.exit_score, Some(0.92));
        assert_eq!(spec.featurization.mode, FeaturizationMode::Auto);
        assert_eq!(
            spec.featurization.column_kinds.get("CHMIN"),
            Some(&crate::data::ColumnKind::Categorical)
        );
        assert_eq!(spec.featurization.imputers.len(), 2);
        assert_eq!(spec.featurization.imputers[0].column, "job");
        assert_eq!(
            spec.featurization.imputers[1].imputation,
            Imputation::Constant {
                fill_value: "0".into()
            }
        );
        assert_eq!(
            spec.featurization.blocked_transformers,
            vec![
                BlockedTransformer::OneHotEncoder,
                BlockedTransformer::CatTargetEncoder
            ]
        );
        let config = spec.featurization.featurizer_config();
        assert!(!config.one_hot && !config.target_order);
        assert!(!spec.training.enable_vote_ensemble);
        assert_eq!(
            spec.training.allowed,
            Some(vec![
                Algorithm::GradientBoosting,
                Algorithm::LogisticRegression
            ])
        );
        let forecasting = spec.forecasting.unwrap();
        assert_eq!(forecasting.forecast_horizon, Some(AutoOr::Value(20)));
        assert_eq!(forecasting.time_series_id_column_names, ["Store", "Brand"]);
        for expected in [
            "compute: ignored, runs on this machine",
            "log_verbosity: ignored",
            "$schema:",
            "limits.max_cores_per_trial: ignored",
            "limits.max_nodes: ignored",
            "WordEmbedding is not used by autotab",
            "SGD is not available in autotab; skipped",
            "'y' is the label",
            "enable_model_explainability: permutation importance",
        ] {
            assert!(
                notes.iter().any(|n| n.contains(expected)),
                "{expected} not in {notes:#?}"
            );
        }
    }

    #[test]
    fn unknown_nested_keys_name_the_path_and_suggest() {
        let err = error(&format!("{MINIMAL}limits:\n  timout_minutes: 5\n"));
        assert!(
            err.starts_with("limits.timout_minutes: unknown key; did you mean timeout_minutes?"),
            "{err}"
        );
        let err = error(&format!(
            "{MINIMAL}training:\n  enable_vote_ensembel: false\n"
        ));
        assert!(
            err.starts_with(
                "training.enable_vote_ensembel: unknown key; did you mean enable_vote_ensemble?"
            ),
            "{err}"
        );
        let err = error(&format!(
            "{MINIMAL}featurization:\n  transformer_params:\n    imputer:\n      - fields: [a]\n        parameters: {{strategy: mean, fill: 1}}\n"
        ));
        assert!(
            err.starts_with("featurization.transformer_params.imputer[0].parameters.fill: unknown key; did you mean fill_value?"),
            "{err}"
        );
        let err = error(&format!("{MINIMAL}colour: red\n"));
        assert!(err.starts_with("colour: unknown key"), "{err}");
        let err = error(&format!("{MINIMAL}experiment_nme: x\n"));
        assert!(err.contains("did you mean experiment_name?"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_path() {
        let err = error(&format!("{MINIMAL}limits: 5\n"));
        assert!(
            err.starts_with("limits: invalid type: integer `5`"),
            "{err}"
        );
        assert!(err.contains("expected a mapping"), "{err}");
        let err = error(&format!("{MINIMAL}featurization: {{mode: 5}}\n"));
        assert!(
            err.starts_with("featurization.mode: unknown value '5'"),
            "{err}"
        );
        assert!(err.contains("auto, off, custom"), "{err}");
        let err = error(&format!("{MINIMAL}featurization: {{mode: cusom}}\n"));
        assert!(err.contains("Did you mean custom?"), "{err}");
        let err = error(&format!("{MINIMAL}limits: {{max_trials: many}}\n"));
        assert!(err.starts_with("limits.max_trials: invalid type"), "{err}");
        let err = error(&format!("{MINIMAL}n_cross_validations: sometimes\n"));
        assert!(
            err.starts_with("n_cross_validations:") && err.contains("`auto` or a whole number"),
            "{err}"
        );
        let err = error(&format!("{MINIMAL}limits: {{timeout_minutes: 1e300}}\n"));
        assert!(
            err.contains("timeout too large: limits.timeout_minutes"),
            "{err}"
        );
        let err = error(&format!("{MINIMAL}task: clasification\n"));
        assert!(err.starts_with("task: unknown task"), "{err}");
        let err = error("- a\n- b\n");
        assert!(err.starts_with("job file: invalid type: sequence"), "{err}");
        let err = error("target_column_name: y\n");
        assert!(err.contains("training_data"), "{err}");
        let err = error("training_data: azureml://datastores/x/bank.csv\ntarget_column_name: y\n");
        assert!(err.contains("training_data.path: remote data"), "{err}");
        let err = error(&format!("{MINIMAL}test_data: azureml:bank:1\n"));
        assert!(err.contains("test_data.path: remote data"), "{err}");
        // A registered dataset, resolved by `autotab run` in the workspace.
        let spec = parse("training_data: azureml:bank:1\ntarget_column_name: y\n")
            .unwrap()
            .spec;
        assert_eq!(spec.data.training.path, PathBuf::from("azureml:bank:1"));
    }

    #[test]
    fn featurization_as_a_plain_word() {
        let spec = parse(&format!("{MINIMAL}featurization: off\n"))
            .unwrap()
            .spec;
        assert_eq!(spec.featurization.mode, FeaturizationMode::Off);
        let err = error(&format!("{MINIMAL}featurization: none\n"));
        assert!(
            err.starts_with("featurization: unknown value 'none'"),
            "{err}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn the_parser_never_panics(text in "[a-z_:\\-\\[\\]{}, \\n0-9.\"'$#|>&*!%@]{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn mutated_job_files_never_panic(
            position in 0usize..400,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let mut text = format!("{MINIMAL}limits:\n  timeout_minutes: 2\n  max_trials: 3\nfeaturization:\n  mode: custom\n  transformer_params:\n    imputer:\n      - fields: [a]\n        parameters: {{strategy: constant, fill_value: 0}}\n").into_bytes();
            let at = position % text.len();
            text[at] = byte;
            let _ = parse(&String::from_utf8_lossy(&text));
        }
    }
}
