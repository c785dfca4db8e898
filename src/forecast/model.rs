//! The forecasting model bundle: the refit forecaster, the tail of every series' history that
//! its lags need, and the rolling-origin residuals per step for prediction intervals; it
//! forecasts from the future rows alone (time, grain and known features; a label is ignored).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::features::{FeaturePlan, RowInput};
use super::forecaster::{FittedForecaster, ForecasterSpec};
use super::series::{describe_key, parse_rows};
use super::settings::ForecastSettings;
use super::time::{format_time, Grid};
use crate::data::{ColumnValues, Dataset};
use crate::error::{AutotabError, Result};

/// The file a forecasting bundle folder holds.
pub const FORECAST_FILE: &str = "forecast.json";

/// Bundle format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What the model keeps of one training series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesState {
    /// Grain values.
    pub key: Vec<String>,
    /// Grid step of the last training value.
    pub end: i64,
    /// The series' scale over its whole history (residuals are in its units).
    pub scale: f64,
    /// The last values of the history (as many as the lag features read).
    pub tail: Vec<f64>,
    /// Known features at the last training step.
    pub last_known: Vec<f64>,
}

/// A fitted forecasting model: what `predict`, `score.py` and `POST /score` run.
#[derive(Debug, Serialize, Deserialize)]
pub struct ForecastModel {
    /// Bundle format.
    pub format_version: u32,
    /// The label column.
    pub label: String,
    /// The job's forecasting settings (time column, grain, horizon, ...).
    pub settings: ForecastSettings,
    /// The grid of the training data.
    pub grid: Grid,
    /// Season length used.
    pub season: usize,
    /// Known feature columns, in feature order.
    pub feature_names: Vec<String>,
    /// The winning method.
    pub forecaster: ForecasterSpec,
    /// The lag features (regression learners).
    pub plan: FeaturePlan,
    /// One entry per training series.
    pub series: Vec<SeriesState>,
    /// Series dropped as too short at training (they cannot be forecast).
    pub dropped: Vec<Vec<String>>,
    /// The refit model.
    pub fitted: FittedForecaster,
    /// Rolling-origin residuals per step (`residuals[h - 1]`, relative to the series' scale),
    /// sorted.
    pub residuals: Vec<Vec<f64>>,
    /// Primary metric name and the winner's cross-validated score.
    pub metric: String,
    /// The winner's cross-validated score.
    pub score: f64,
}

/// Forecasts for a table's rows, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Point forecasts.
    pub values: Vec<f64>,
    /// `(level, values)` per asked quantile.
    pub quantiles: Vec<(f64, Vec<f64>)>,
}

/// The `q`-quantile of sorted values, linearly interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl ForecastModel {
    /// Whether `dir` holds a forecasting bundle.
    pub fn is_bundle(dir: &Path) -> bool {
        dir.join(FORECAST_FILE).is_file()
    }

    /// Writes the bundle into `dir` (created if needed; the file is written beside and renamed).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| AutotabError::io(dir, e))?;
        let json = serde_json::to_vec(self).map_err(|e| AutotabError::Bundle {
            path: dir.to_path_buf(),
            message: format!("cannot encode the forecasting model: {e}"),
        })?;
        let path = dir.join(FORECAST_FILE);
        let tmp = dir.join(format!("{FORECAST_FILE}.tmp"));
        std::fs::write(&tmp, json).map_err(|e| AutotabError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| AutotabError::io(&path, e))?;
        let card = format!(
            "# Forecasting model\n\n- label: {}\n- time column: {}\n- grain: {}\n- frequency: {}\n- horizon: {}\n- method: {} {}\n- {}: {:.4} (rolling-origin cross-validation)\n- series: {}\n",
            self.label,
            self.settings.time_column,
            if self.settings.grain.is_empty() { "none".into() } else { self.settings.grain.join(", ") },
            self.grid.frequency_name(),
            self.settings.horizon,
            self.forecaster.name(),
            self.forecaster.describe(),
            self.metric,
            self.score,
            self.series.len()
        );
        let card_path = dir.join("MODEL.md");
        std::fs::write(&card_path, card).map_err(|e| AutotabError::io(&card_path, e))
    }

    /// Reads a bundle written by [`ForecastModel::save`].
    pub fn load(dir: &Path) -> Result<ForecastModel> {
        let path = dir.join(FORECAST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| AutotabError::io(&path, e))?;
        let model: ForecastModel =
            serde_json::from_slice(&bytes).map_err(|e| AutotabError::Bundle {
                path: path.clone(),
                message: format!("not a readable forecasting model: {e}"),
            })?;
        if model.format_version > FORMAT_VERSION {
            return Err(AutotabError::Bundle {
                path,
                message: format!(
                    "format version {} is newer than this autotab reads ({FORMAT_VERSION})",
                    model.format_version
                ),
            });
        }
        Ok(model)
    }

    /// Forecasts the rows of `data` (time column, grain columns, known features; the label is
    /// ignored), with the `quantiles` asked (levels in (0, 1)).
    pub fn predict(&self, data: &Dataset, quantiles: &[f64]) -> Result<Forecast> {
        if let Some(q) = quantiles.iter().find(|q| !(**q > 0.0 && **q < 1.0)) {
            return Err(AutotabError::config(format!(
                "quantile {q} must be between 0 and 1 (exclusive)"
            )));
        }
        let rows = parse_rows(data, &self.settings, "future data")?;
        let index: HashMap<&[String], usize> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key.as_slice(), i))
            .collect();
        let grain = &self.settings.grain;
        let horizon = self.settings.horizon;
        let known: Vec<Option<&[f64]>> = self
            .feature_names
            .iter()
            .map(|n| match data.column(n).map(|c| &c.values) {
                Some(ColumnValues::Numeric(v)) => Some(v.as_slice()),
                _ => None,
            })
            .collect();
        let mut targets = Vec::with_capacity(data.n_rows());
        for (i, (time, key)) in rows.times.iter().zip(&rows.keys).enumerate() {
            let line = i + 2;
            let Some(&s) = index.get(key.as_slice()) else {
                let why = if self.dropped.contains(key) {
                    "was dropped at training as too short, so it cannot be forecast"
                } else {
                    "is not in the training data (a forecast needs the series' history)"
                };
                return Err(AutotabError::data(format!(
                    "future data, line {line}: {} {why}",
                    describe_key(key, grain)
                )));
            };
            let state = &self.series[s];
            let step = self.grid.index_of(*time).ok_or_else(|| {
                AutotabError::data(format!(
                    "future data, line {line}: time stamp {} is not on the training data's {} grid",
                    format_time(*time),
                    self.grid.frequency_name()
                ))
            })? - state.end;
            if step < 1 {
                return Err(AutotabError::data(format!(
                    "future data, line {line}: {} at {} is not after the end of its training history ({})",
                    describe_key(key, grain),
                    format_time(*time),
                    format_time(self.grid.time_at(state.end))
                )));
            }
            targets.push((s, step as usize, *time, i, line));
        }
        // Azure's ForecastHorizonExceeded: name the series and its first time stamp too far.
        if let Some(&(s, step, time, _, line)) = targets
            .iter()
            .filter(|t| t.1 > horizon)
            .min_by_key(|t| (t.0, t.2))
        {
            let state = &self.series[s];
            return Err(AutotabError::data(format!(
                "ForecastHorizonExceeded: {} asks for {} (line {line}), {step} steps after the end of its training history ({}); the model forecasts at most {horizon} steps ({} to {})",
                describe_key(&state.key, grain),
                format_time(time),
                format_time(self.grid.time_at(state.end)),
                format_time(self.grid.time_at(state.end + 1)),
                format_time(self.grid.time_at(state.end + horizon as i64))
            )));
        }
        let values = self.point_forecasts(&self.fitted, &targets, &known)?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(AutotabError::Predict(
                "the model produced a non-finite forecast".into(),
            ));
        }
        let pooled: Vec<f64> = {
            let mut all: Vec<f64> = self.residuals.iter().flatten().copied().collect();
            all.sort_by(f64::total_cmp);
            all
        };
        let quantiles = quantiles
            .iter()
            .map(|&q| {
                let band = targets
                    .iter()
                    .zip(&values)
                    .map(|(&(s, step, ..), v)| {
                        let residuals = self
                            .residuals
                            .get(step - 1)
                            .filter(|r| !r.is_empty())
                            .unwrap_or(&pooled);
                        v + self.series[s].scale * quantile(residuals, q)
                    })
                    .collect();
                (q, band)
            })
            .collect();
        Ok(Forecast { values, quantiles })
    }
}

/// One row to forecast: series, step, target time, row in the input, line in the file.
type Target = (usize, usize, chrono::NaiveDateTime, usize, usize);

impl ForecastModel {
    /// The known features of input row `row` for series `s`: the given values, each missing
    /// one (no column, or an empty cell) at its last training value.
    fn known_at(&self, s: usize, row: usize, known: &[Option<&[f64]>]) -> Vec<f64> {
        known
            .iter()
            .zip(&self.series[s].last_known)
            .map(|(col, last)| match col {
                Some(v) if !v[row].is_nan() => v[row],
                _ => *last,
            })
            .collect()
    }

    /// Point forecasts of `fitted` (an ensemble averages its members') for `targets`.
    fn point_forecasts(
        &self,
        fitted: &FittedForecaster,
        targets: &[Target],
        known: &[Option<&[f64]>],
    ) -> Result<Vec<f64>> {
        Ok(match fitted {
            FittedForecaster::Paths(paths) => targets.iter().map(|t| paths[t.0][t.1 - 1]).collect(),
            FittedForecaster::Ensemble(members) => {
                let mut values = vec![0.0; targets.len()];
                for (w, member) in members {
                    let v = self.point_forecasts(member, targets, known)?;
                    values.iter_mut().zip(v).for_each(|(a, b)| *a += w * b);
                }
                values
            }
            FittedForecaster::Harmonic(fits) => targets
                .iter()
                .map(|&(s, step, _, row, _)| {
                    let known_now = self.known_at(s, row, known);
                    fits[s].forecast(step, &known_now)
                })
                .collect(),
            FittedForecaster::Global(model) => {
                let mut x = Vec::new();
                for &(s, step, time, row, _) in targets {
                    let state = &self.series[s];
                    let known_now = self.known_at(s, row, known);
                    self.plan.row(
                        &RowInput {
                            history: &state.tail,
                            step,
                            target_time: time,
                            known: &known_now,
                            known_at_origin: &state.last_known,
                            series_code: s,
                            scale: self.plan.local_scale(&state.tail),
                        },
                        &mut x,
                    );
                }
                let n = targets.len();
                let cols = x.len().checked_div(n).unwrap_or(0);
                let x = ndarray::Array2::from_shape_vec((n, cols), x)
                    .map_err(|e| AutotabError::Predict(e.to_string()))?;
                let output = model.predict(x.view())?;
                targets
                    .iter()
                    .enumerate()
                    .map(|(i, &(s, ..))| {
                        let state = &self.series[s];
                        let scale = self.plan.local_scale(&state.tail);
                        FeaturePlan::invert(&state.tail, output[[i, 0]], scale)
                    })
                    .collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let r = [-2.0, 0.0, 2.0];
        assert_eq!(quantile(&r, 0.5), 0.0);
        assert_eq!(quantile(&r, 0.25), -1.0);
        assert_eq!(quantile(&r, 1.0), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}

#[cfg(test)]
mod consistency_tests {
    use super::*;
    use crate::data::Column;
    use crate::forecast::features::series_scale;
    use crate::forecast::folds::Fold;
    use crate::forecast::forecaster::{fit_final, forecast_fold, Context};
    use crate::forecast::series::{Series, SeriesSet};
    use crate::forecast::settings::ShortSeriesHandling;
    use crate::forecast::time::{format_time, Frequency};
    use crate::models::Algorithm;

    /// A model refit on the history up to an origin forecasts from future rows alone exactly
    /// what the rolling-origin fold at that origin forecast: `predict` and cross-validation
    /// build the same rows.
    #[test]
    fn predict_matches_the_fold_forecast_at_the_same_origin() {
        let horizon = 5;
        let grid = Grid {
            frequency: Frequency::Fixed { seconds: 3600 },
            origin: chrono::NaiveDate::from_ymd_opt(2021, 3, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        };
        let make = |len: usize, phase: usize| Series {
            key: vec![format!("s{phase}")],
            start: phase as i64,
            values: (0..len)
                .map(|t| 100.0 + ((t + phase) % 24) as f64 * 3.0 + t as f64 * 0.05 + (t % 7) as f64)
                .collect(),
            features: vec![(0..len).map(|t| ((t * 5 + phase) % 11) as f64).collect()],
        };
        let full = SeriesSet {
            grid,
            series: vec![make(200, 0), make(180, 3)],
            feature_names: vec!["temp".into()],
            dropped: Vec::new(),
            guardrails: Vec::new(),
        };
        let origins = [150usize, 140];
        let mut train = full.clone();
        for (s, o) in train.series.iter_mut().zip(origins) {
            s.values.truncate(o + 1);
            s.features[0].truncate(o + 1);
        }
        let plan = FeaturePlan {
            horizon,
            season: 24,
            lags: vec![2, 3, 24],
            windows: vec![3, 24],
            n_known: 1,
            known_lags: true,
            sub_daily: true,
            n_series: 2,
            extra_seasons: vec![12],
        };
        let spec = ForecasterSpec::Regression {
            algorithm: Algorithm::GradientBoosting,
            params: crate::search::low_cost_params(Algorithm::GradientBoosting.space()),
        };
        let ctx = |set| Context {
            set,
            plan: &plan,
            season: 24,
            horizon,
            seed: 7,
            deadline: None,
        };
        let fold = Fold {
            origins: origins.iter().map(|&o| Some(o)).collect(),
        };
        let expected = forecast_fold(&spec, &ctx(&full), &fold).unwrap();
        let fitted = fit_final(&spec, &ctx(&train)).unwrap();
        let model = ForecastModel {
            format_version: FORMAT_VERSION,
            label: "y".into(),
            settings: ForecastSettings {
                time_column: "t".into(),
                horizon,
                grain: vec!["g".into()],
                frequency: None,
                target_lags: None,
                rolling_window: None,
                feature_lags: true,
                seasonality: None,
                short_series: ShortSeriesHandling::Auto,
                aggregate: None,
                cv_step: None,
                n_folds: None,
                excluded: Vec::new(),
            },
            grid,
            season: 24,
            feature_names: vec!["temp".into()],
            forecaster: spec.clone(),
            series: train
                .series
                .iter()
                .map(|s| SeriesState {
                    key: s.key.clone(),
                    end: s.end(),
                    scale: series_scale(&s.values),
                    tail: s.values[s.values.len() - plan.history_needed()..].to_vec(),
                    last_known: vec![*s.features[0].last().unwrap()],
                })
                .collect(),
            plan: plan.clone(),
            dropped: Vec::new(),
            fitted,
            residuals: vec![vec![-1.0, 1.0]; horizon],
            metric: "normalized_root_mean_squared_error".into(),
            score: 0.0,
        };
        // The future rows, in the fold's order: series, then step.
        let (mut times, mut keys, mut temps) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..expected.series.len() {
            let s = &full.series[expected.series[i]];
            let pos = origins[expected.series[i]] + expected.steps[i];
            times.push(Some(format_time(grid.time_at(s.start + pos as i64))));
            keys.push(Some(s.key[0].clone()));
            temps.push(s.features[0][pos]);
        }
        let future = Dataset::new(vec![
            Column {
                name: "t".into(),
                values: ColumnValues::Text(times),
            },
            Column {
                name: "g".into(),
                values: ColumnValues::Text(keys),
            },
            Column {
                name: "temp".into(),
                values: ColumnValues::Numeric(temps),
            },
        ])
        .unwrap();
        let forecast = model.predict(&future, &[0.5]).unwrap();
        for (a, b) in forecast.values.iter().zip(&expected.predicted) {
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(forecast.values.len(), 10);
    }
}
