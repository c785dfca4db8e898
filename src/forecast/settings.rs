//! A forecasting job's settings resolved from Azure's `forecasting:` keys (and the flags that
//! mirror them): every `auto` is kept as `None` here and decided from the data later.

use serde::{Deserialize, Serialize};

use super::time::Frequency;
use crate::data::ColumnKind;
use crate::error::{AutotabError, Result};
use crate::job::{AutoOr, JobSpec, ValidationChoice};

/// What to do with series shorter than the job needs (Azure's `short_series_handling_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShortSeriesHandling {
    /// Drop short series; an error when every series is short (padding them all would
    /// forecast invented history).
    Auto,
    /// Pad short series at the front with their mean.
    Pad,
    /// Drop short series (they cannot be forecast).
    Drop,
    /// Keep them as they are (an error when one is too short to fit).
    Off,
}

/// How rows of one series that share a time stamp are combined
/// (Azure's `target_aggregate_function`; features are averaged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// Sum of the targets.
    Sum,
    /// Mean of the targets.
    Mean,
    /// Smallest target.
    Min,
    /// Largest target.
    Max,
}

impl Aggregate {
    /// Combines `values` (never empty).
    pub fn apply(self, values: &[f64]) -> f64 {
        match self {
            Aggregate::Sum => values.iter().sum(),
            Aggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
            Aggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The resolved forecasting settings (`None` = decided from the data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSettings {
    /// The time column.
    pub time_column: String,
    /// Steps to forecast after the end of each series.
    pub horizon: usize,
    /// Columns identifying a series (empty: one series).
    pub grain: Vec<String>,
    /// The frequency, when given.
    pub frequency: Option<Frequency>,
    /// Lags of the target (steps before the forecast origin), when given.
    pub target_lags: Option<Vec<usize>>,
    /// Rolling window size over the target, when given.
    pub rolling_window: Option<usize>,
    /// Whether known features also get lags (`feature_lags: auto`).
    pub feature_lags: bool,
    /// The season length, when given.
    pub seasonality: Option<usize>,
    /// Short-series handling.
    pub short_series: ShortSeriesHandling,
    /// Duplicate time stamps: combined this way, or refused when `None`.
    pub aggregate: Option<Aggregate>,
    /// Steps between cross-validation origins, when given.
    pub cv_step: Option<usize>,
    /// Number of rolling origins, when given.
    pub n_folds: Option<usize>,
    /// Columns left out of the known features (forced `id` or `constant` with
    /// `--column-kind` / `column_name_and_types`).
    #[serde(default)]
    pub excluded: Vec<String>,
}

impl ForecastSettings {
    /// Resolves the job's forecasting section. Errors name the key or flag at fault.
    pub fn from_job(job: &JobSpec) -> Result<ForecastSettings> {
        let f = job.forecasting.clone().unwrap_or_default();
        let time_column = f.time_column_name.clone().ok_or_else(|| {
            AutotabError::config(
                "forecasting needs a time column: give --time-column or forecasting.time_column_name",
            )
        })?;
        let horizon = match f.forecast_horizon {
            Some(AutoOr::Value(h)) => h,
            Some(AutoOr::Auto) | None => 1,
        };
        if horizon == 0 {
            return Err(AutotabError::config(
                "forecast_horizon (--horizon) must be at least 1",
            ));
        }
        let frequency = f.frequency.as_deref().map(Frequency::parse).transpose()?;
        let target_lags = match &f.target_lags {
            Some(AutoOr::Value(lags)) => {
                if lags.contains(&0) {
                    return Err(AutotabError::config(
                        "target_lags (--target-lags): lags must be at least 1",
                    ));
                }
                Some(lags.clone())
            }
            _ => None,
        };
        let rolling_window = match f.target_rolling_window_size {
            Some(AutoOr::Value(0)) => {
                return Err(AutotabError::config(
                    "target_rolling_window_size must be at least 1",
                ))
            }
            Some(AutoOr::Value(w)) => Some(w),
            _ => None,
        };
        let feature_lags = match f.feature_lags.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if v == "none" => false,
            Some(v) if v == "auto" => true,
            Some(other) => {
                return Err(AutotabError::config(format!(
                    "feature_lags '{other}': expected auto or none"
                )))
            }
        };
        let seasonality = match f.seasonality {
            Some(AutoOr::Value(0)) => {
                return Err(AutotabError::config("seasonality must be at least 1"))
            }
            Some(AutoOr::Value(m)) => Some(m),
            _ => None,
        };
        let short_series = match f
            .short_series_handling_config
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => ShortSeriesHandling::Auto,
            Some("pad") => ShortSeriesHandling::Pad,
            Some("drop") => ShortSeriesHandling::Drop,
            Some("none") => ShortSeriesHandling::Off,
            Some(other) => {
                return Err(AutotabError::config(format!(
                    "short_series_handling_config '{other}': expected auto, pad, drop or none"
                )))
            }
        };
        let aggregate = match f
            .target_aggregate_function
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => None,
            Some("sum") => Some(Aggregate::Sum),
            Some("mean") => Some(Aggregate::Mean),
            Some("min") => Some(Aggregate::Min),
            Some("max") => Some(Aggregate::Max),
            Some(other) => {
                return Err(AutotabError::config(format!(
                    "target_aggregate_function '{other}': expected sum, mean, min or max"
                )))
            }
        };
        let cv_step = match f.cv_step_size {
            Some(AutoOr::Value(0)) => {
                return Err(AutotabError::config("cv_step_size must be at least 1"))
            }
            Some(AutoOr::Value(s)) => Some(s),
            _ => None,
        };
        let n_folds = match job.validation {
            ValidationChoice::CrossValidation { folds } => Some(folds.max(1)),
            ValidationChoice::Holdout { .. } => Some(1),
            ValidationChoice::Auto => None,
        };
        Ok(ForecastSettings {
            time_column,
            horizon,
            grain: f.time_series_id_column_names.clone(),
            frequency,
            target_lags,
            rolling_window,
            feature_lags,
            seasonality,
            short_series,
            aggregate,
            cv_step,
            n_folds,
            excluded: job
                .featurization
                .column_kinds
                .iter()
                .filter(|(_, k)| matches!(k, ColumnKind::IdLike | ColumnKind::Constant))
                .map(|(name, _)| name.clone())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::parse_job;

    #[test]
    fn azure_forecasting_keys_resolve() {
        let text = r#"
type: automl
task: forecasting
training_data: {path: data.csv}
target_column_name: Quantity
n_cross_validations: 4
forecasting:
  time_column_name: WeekStarting
  forecast_horizon: 6
  time_series_id_column_names: [Store, Brand]
  frequency: W-THU
  target_lags: [1, 2, 52]
  target_rolling_window_size: 4
  feature_lags: auto
  seasonality: 52
  short_series_handling_config: drop
  target_aggregate_function: sum
  cv_step_size: 2
"#;
        let job = parse_job(text, std::path::Path::new("/jobs")).unwrap();
        let s = ForecastSettings::from_job(&job.spec).unwrap();
        assert_eq!(s.time_column, "WeekStarting");
        assert_eq!(s.horizon, 6);
        assert_eq!(s.grain, ["Store", "Brand"]);
        assert_eq!(
            s.frequency,
            Some(Frequency::Fixed {
                seconds: 7 * 86_400
            })
        );
        assert_eq!(s.target_lags, Some(vec![1, 2, 52]));
        assert_eq!(s.rolling_window, Some(4));
        assert!(s.feature_lags);
        assert_eq!(s.seasonality, Some(52));
        assert_eq!(s.short_series, ShortSeriesHandling::Drop);
        assert_eq!(s.aggregate, Some(Aggregate::Sum));
        assert_eq!(s.cv_step, Some(2));
        assert_eq!(s.n_folds, Some(4));

        let mut with_id = job.spec.clone();
        with_id
            .featurization
            .column_kinds
            .insert("instant".into(), ColumnKind::IdLike);
        assert_eq!(
            ForecastSettings::from_job(&with_id).unwrap().excluded,
            ["instant"]
        );
        let mut bad = job.spec.clone();
        bad.forecasting
            .as_mut()
            .unwrap()
            .short_series_handling_config = Some("stretch".into());
        let err = ForecastSettings::from_job(&bad).unwrap_err().to_string();
        assert!(
            err.contains("short_series_handling_config 'stretch'"),
            "{err}"
        );
        bad.forecasting = None;
        let err = ForecastSettings::from_job(&bad).unwrap_err().to_string();
        assert!(err.contains("--time-column"), "{err}");
    }
}
