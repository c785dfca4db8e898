//! The job a user asks for: data, label, task, metric, validation, limits, algorithms.
//!
//! Built from CLI flags or from a YAML file with the keys of an Azure ML AutoML job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::ColumnKind;
use crate::error::{AutotabError, Result};
use crate::featurize::FeaturizationMode;
use crate::metrics::Metric;
use crate::models::Algorithm;
use crate::search::EarlyStopping;
use crate::task::Task;

/// Everything that defines one AutoML run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Experiment the run belongs to.
    pub experiment: String,
    /// Training table (CSV or Parquet).
    pub training_data: PathBuf,
    /// Optional validation table with the same columns.
    pub validation_data: Option<PathBuf>,
    /// Label column.
    pub label: String,
    /// Task; inferred from the label when `None`.
    pub task: Option<Task>,
    /// Primary metric; the task's default when `None`.
    pub metric: Option<Metric>,
    /// Number of cross-validation folds (overrides the size-based default).
    pub n_cross_validations: Option<usize>,
    /// Share of rows for a holdout (overrides the size-based default).
    pub validation_size: Option<f64>,
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
    /// Featurization mode.
    pub featurization: FeaturizationMode,
    /// Column kinds forced by the user.
    pub column_kinds: BTreeMap<String, ColumnKind>,
    /// Only these algorithms (all that fit the task when `None`).
    pub allowed_algorithms: Option<Vec<Algorithm>>,
    /// Never these algorithms.
    pub blocked_algorithms: Vec<Algorithm>,
    /// Seed of every random choice.
    pub seed: u64,
}

impl JobSpec {
    /// A job with autotab's defaults: 5 minutes, 2 concurrent trials, early stopping on.
    pub fn new(training_data: impl Into<PathBuf>, label: impl Into<String>) -> JobSpec {
        JobSpec {
            experiment: "default".into(),
            training_data: training_data.into(),
            validation_data: None,
            label: label.into(),
            task: None,
            metric: None,
            n_cross_validations: None,
            validation_size: None,
            timeout: Duration::from_secs(300),
            trial_timeout: None,
            max_trials: None,
            max_concurrent_trials: 2,
            early_stopping: Some(EarlyStopping::default()),
            featurization: FeaturizationMode::Auto,
            column_kinds: BTreeMap::new(),
            allowed_algorithms: None,
            blocked_algorithms: Vec::new(),
            seed: 42,
        }
    }

    /// Reads a YAML job file with Azure ML AutoML keys: `task`, `primary_metric`,
    /// `target_column_name`, `training_data` (a path or `{path: ...}`), `validation_data`,
    /// `n_cross_validations`, `validation_data_size`, `limits` (`timeout_minutes`,
    /// `trial_timeout_minutes`, `max_trials`, `max_concurrent_trials`,
    /// `enable_early_termination`), `featurization` (`auto`/`off` or `{mode: ...}`),
    /// `allowed_training_algorithms` / `blocked_training_algorithms` (top level or under
    /// `training`), `experiment_name`, `seed`. Relative paths are relative to the file.
    pub fn from_yaml_file(path: &Path) -> Result<JobSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| AutotabError::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        JobSpec::from_yaml(&text, base)
            .map_err(|e| AutotabError::config(format!("{}: {e}", path.display())))
    }

    /// Parses YAML job text; see [`JobSpec::from_yaml_file`].
    pub fn from_yaml(text: &str, base: &Path) -> Result<JobSpec> {
        let doc: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|e| AutotabError::config(format!("not valid YAML: {e}")))?;
        let map = doc
            .as_mapping()
            .ok_or_else(|| AutotabError::config("the job file must be a YAML mapping"))?;
        const KNOWN: &[&str] = &[
            "type",
            "experiment_name",
            "task",
            "primary_metric",
            "target_column_name",
            "training_data",
            "validation_data",
            "n_cross_validations",
            "validation_data_size",
            "limits",
            "featurization",
            "training",
            "allowed_training_algorithms",
            "blocked_training_algorithms",
            "seed",
            "column_kinds",
        ];
        for key in map.keys() {
            let key = key.as_str().unwrap_or_default();
            if !KNOWN.contains(&key) {
                return Err(AutotabError::config(format!(
                    "unknown key '{key}'; known keys: {}",
                    KNOWN.join(", ")
                )));
            }
        }
        let get = |k: &str| doc.get(k);
        let text_of = |k: &str, v: &serde_yaml::Value| -> Result<String> {
            match v {
                serde_yaml::Value::String(s) => Ok(s.clone()),
                serde_yaml::Value::Mapping(m) => m
                    .get("path")
                    .and_then(|p| p.as_str())
                    .map(String::from)
                    .ok_or_else(|| AutotabError::config(format!("'{k}' needs a 'path'"))),
                _ => Err(AutotabError::config(format!("'{k}' must be a string"))),
            }
        };
        let resolve = |p: String| -> PathBuf {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        };
        let training = get("training_data")
            .ok_or_else(|| AutotabError::config("missing key 'training_data'"))?;
        let label = get("target_column_name")
            .ok_or_else(|| AutotabError::config("missing key 'target_column_name'"))?;
        let mut spec = JobSpec::new(
            resolve(text_of("training_data", training)?),
            text_of("target_column_name", label)?,
        );
        if let Some(v) = get("validation_data") {
            spec.validation_data = Some(resolve(text_of("validation_data", v)?));
        }
        if let Some(v) = get("experiment_name") {
            spec.experiment = text_of("experiment_name", v)?;
        }
        if let Some(v) = get("task") {
            spec.task = Some(Task::parse(&text_of("task", v)?)?);
        }
        if let Some(v) = get("primary_metric") {
            spec.metric = Some(Metric::parse(&text_of("primary_metric", v)?)?);
        }
        if let Some(v) = get("n_cross_validations") {
            spec.n_cross_validations = Some(yaml_uint("n_cross_validations", v)?);
        }
        if let Some(v) = get("validation_data_size") {
            spec.validation_size = Some(yaml_float("validation_data_size", v)?);
        }
        if let Some(v) = get("seed") {
            spec.seed = yaml_uint("seed", v)? as u64;
        }
        if let Some(limits) = get("limits") {
            if let Some(v) = limits.get("timeout_minutes") {
                spec.timeout =
                    Duration::from_secs_f64(yaml_float("limits.timeout_minutes", v)? * 60.0);
            }
            if let Some(v) = limits.get("trial_timeout_minutes") {
                spec.trial_timeout = Some(Duration::from_secs_f64(
                    yaml_float("limits.trial_timeout_minutes", v)? * 60.0,
                ));
            }
            if let Some(v) = limits.get("max_trials") {
                spec.max_trials = Some(yaml_uint("limits.max_trials", v)?);
            }
            if let Some(v) = limits.get("max_concurrent_trials") {
                spec.max_concurrent_trials = yaml_uint("limits.max_concurrent_trials", v)?;
            }
            if let Some(v) = limits.get("enable_early_termination") {
                let on = v.as_bool().ok_or_else(|| {
                    AutotabError::config("'limits.enable_early_termination' must be true or false")
                })?;
                spec.early_stopping = on.then(EarlyStopping::default);
            }
        }
        if let Some(v) = get("featurization") {
            let mode = match v {
                serde_yaml::Value::Mapping(m) => m
                    .get("mode")
                    .and_then(|m| m.as_str())
                    .unwrap_or("auto")
                    .to_string(),
                other => text_of("featurization", other)?,
            };
            spec.featurization = FeaturizationMode::parse(&mode)?;
        }
        let algorithms = |key: &str| -> Result<Option<Vec<Algorithm>>> {
            let value = get(key).or_else(|| get("training").and_then(|t| t.get(key)));
            match value {
                None => Ok(None),
                Some(serde_yaml::Value::Sequence(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or_else(|| {
                                AutotabError::config(format!("'{key}' must list algorithm names"))
                            })
                            .and_then(Algorithm::parse)
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some),
                Some(_) => Err(AutotabError::config(format!("'{key}' must be a list"))),
            }
        };
        spec.allowed_algorithms = algorithms("allowed_training_algorithms")?;
        spec.blocked_algorithms = algorithms("blocked_training_algorithms")?.unwrap_or_default();
        if let Some(serde_yaml::Value::Mapping(kinds)) = get("column_kinds") {
            for (k, v) in kinds {
                let name = k.as_str().unwrap_or_default().to_string();
                let kind = ColumnKind::parse(v.as_str().unwrap_or_default())?;
                spec.column_kinds.insert(name, kind);
            }
        }
        Ok(spec)
    }

    /// The algorithms this job searches, for `task`: allowed (or all that fit) minus blocked.
    pub fn algorithms_for(&self, task: Task) -> Result<Vec<Algorithm>> {
        let candidates = self
            .allowed_algorithms
            .clone()
            .unwrap_or_else(|| Algorithm::ALL.to_vec());
        for a in &candidates {
            if !a.supports(task) && self.allowed_algorithms.is_some() {
                return Err(AutotabError::config(format!(
                    "algorithm {a} does not support {task}"
                )));
            }
        }
        let chosen: Vec<Algorithm> = candidates
            .into_iter()
            .filter(|a| a.supports(task) && !self.blocked_algorithms.contains(a))
            .collect();
        if chosen.is_empty() {
            return Err(AutotabError::config(format!(
                "no algorithm left for {task} after the allowed/blocked lists"
            )));
        }
        Ok(chosen)
    }
}

fn yaml_uint(key: &str, v: &serde_yaml::Value) -> Result<usize> {
    v.as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| AutotabError::config(format!("'{key}' must be a whole number")))
}

fn yaml_float(key: &str, v: &serde_yaml::Value) -> Result<f64> {
    v.as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| AutotabError::config(format!("'{key}' must be a non-negative number")))
}

/// Longest time budget accepted (30 days, Azure's limit for an experiment): larger values
/// would overflow the clock arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// `seconds` as a [`Duration`], refusing negative, non-finite and too-large values (above
/// [`MAX_DURATION`]) with a message that names `what` (e.g. `'1e30'` or
/// `limits.timeout_minutes`); never panics as `Duration::from_secs_f64` does on overflow.
pub fn checked_duration(seconds: f64, what: &str) -> Result<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(AutotabError::config(format!(
            "invalid duration {what}: expected a non-negative number of seconds"
        )));
    }
    if seconds > MAX_DURATION.as_secs_f64() {
        return Err(AutotabError::config(format!(
            "timeout too large: {what} is more than the maximum of 30 days (720h)"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a duration: `90` (seconds), `90s`, `2m`, `1h30m`, `1.5m`; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        AutotabError::config(format!(
            "invalid duration '{text}': use e.g. 90, 90s, 2m, 1h30m"
        ))
    };
    let what = format!("'{t}'");
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            checked_duration(secs, &what)
        } else {
            Err(bad())
        };
    }
    // Fractional single-unit forms like "1.5m" are not in humantime.
    if let Some((num, unit)) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| t.split_at(i))
    {
        if let (Ok(v), Some(mult)) = (num.parse::<f64>(), unit_seconds(unit)) {
            if v.is_finite() && v >= 0.0 {
                return checked_duration(v * mult, &what);
            }
        }
    }
    match humantime::parse_duration(t) {
        Ok(d) if d > MAX_DURATION => checked_duration(d.as_secs_f64(), &what),
        Ok(d) => Ok(d),
        // humantime refuses numbers that overflow its own arithmetic.
        Err(humantime::DurationError::NumberOverflow) => checked_duration(f64::MAX, &what),
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

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?.max(0.0)))
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
        Ok(Option::<f64>::deserialize(d)?.map(|v| Duration::from_secs_f64(v.max(0.0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

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
        let spec = JobSpec::from_yaml(text, Path::new("/jobs")).unwrap();
        assert_eq!(spec.training_data, PathBuf::from("/jobs/data/hf.csv"));
        assert_eq!(spec.label, "DEATH_EVENT");
        assert_eq!(spec.metric, Some(Metric::AucWeighted));
        assert_eq!(spec.n_cross_validations, Some(5));
        assert_eq!(spec.timeout, Duration::from_secs(90));
        assert_eq!(spec.max_trials, Some(30));
        assert_eq!(spec.max_concurrent_trials, 3);
        assert_eq!(spec.early_stopping, None);
        assert_eq!(spec.featurization, FeaturizationMode::Off);
        assert_eq!(spec.blocked_algorithms, vec![Algorithm::KNearestNeighbors]);
        assert_eq!(spec.seed, 7);
    }

    #[test]
    fn yaml_errors_name_the_key() {
        let err = JobSpec::from_yaml("target_column_name: y\n", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("training_data"), "{err}");
        let err = JobSpec::from_yaml(
            "training_data: a.csv\ntarget_column_name: y\ncolour: red\n",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown key 'colour'"), "{err}");
    }
}
