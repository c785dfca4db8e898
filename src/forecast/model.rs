//! The forecasting model bundle: the refit forecaster, the tail of every series' history that
//! its lags need, and the rolling-origin residuals per step for prediction intervals; it
//! forecasts from the future rows alone (time, grain and known features; a label is ignored).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::features::{series_scale, FeaturePlan, RowInput};
use super::forecaster::{local_path, FittedForecaster, ForecasterSpec};
use super::series::{describe_key, parse_rows, SeriesSet};
use super::settings::ForecastSettings;
use super::time::{format_time, Grid};
use crate::data::{format_number, ColumnValues, Dataset};
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
    /// The last values of the history: as many as the lag features read, and as a refit of
    /// the method at a later origin reads when the bundle's `tails_roll`.
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
    /// Whether the series' tails hold what refitting the method at a later origin reads
    /// ([`ForecasterSpec::history_read`]); bundles saved before rolling forecasts do not.
    #[serde(default)]
    pub tails_roll: bool,
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
    /// ignored), with the `quantiles` asked (levels in (0, 1)). A row more than the horizon
    /// after the end of its series' training history is an error (ForecastHorizonExceeded);
    /// [`ForecastModel::predict_rolling`] forecasts it from actual values instead.
    pub fn predict(&self, data: &Dataset, quantiles: &[f64]) -> Result<Forecast> {
        self.forecast_rows(data, quantiles, false)
    }

    /// [`ForecastModel::predict`] with the origin rolled forward over the actual values the
    /// label column of `data` gives (Azure's `rolling_forecast` with a step of one horizon):
    /// a series' rows within the horizon are forecast from the end of its training history, as
    /// `predict` does; a row `k` horizons further is forecast from the origin `k` horizons
    /// after that end, with the actual values of every step up to that origin appended to the
    /// history (the model itself is not refit; a local method, such as a baseline or
    /// exponential smoothing, is refit on the extended history as at a cross-validation
    /// origin). A forecast reads no actual value at or after the first step it forecasts from
    /// its origin, its own included. A missing actual that an origin needs is an error naming
    /// the series and the time stamp.
    pub fn predict_rolling(&self, data: &Dataset, quantiles: &[f64]) -> Result<Forecast> {
        self.forecast_rows(data, quantiles, true)
    }

    fn forecast_rows(&self, data: &Dataset, quantiles: &[f64], rolling: bool) -> Result<Forecast> {
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
        let mut asked: Vec<Asked> = Vec::with_capacity(data.n_rows());
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
            asked.push(Asked {
                series: s,
                step: step as usize,
                time: *time,
                row: i,
                line,
            });
        }
        // Series first, then time: errors name each series' first time stamp at fault.
        let mut order: Vec<usize> = (0..asked.len()).collect();
        order.sort_by_key(|&i| (asked[i].series, asked[i].time, i));
        // Azure's ForecastHorizonExceeded: name the series and its first time stamp too far.
        if !rolling {
            if let Some(a) = order.iter().map(|&i| &asked[i]).find(|a| a.step > horizon) {
                let state = &self.series[a.series];
                return Err(AutotabError::data(format!(
                    "ForecastHorizonExceeded: {} asks for {} (line {}), {} steps after the end of its training history ({}); the model forecasts at most {horizon} steps ({} to {}); a rolling forecast (`predict --rolling`) forecasts further from the actual values up to a later origin",
                    describe_key(&state.key, grain),
                    format_time(a.time),
                    a.line,
                    a.step,
                    format_time(self.grid.time_at(state.end)),
                    format_time(self.grid.time_at(state.end + 1)),
                    format_time(self.grid.time_at(state.end + horizon as i64))
                )));
            }
        }
        let actuals = if asked.iter().any(|a| a.step > horizon) {
            self.actuals(data, &asked)?
        } else {
            HashMap::new()
        };
        let mut origins: Vec<Origin> = Vec::new();
        let mut origin_of: HashMap<(usize, usize), usize> = HashMap::new();
        let mut targets: Vec<Option<Target>> = vec![None; asked.len()];
        for &i in &order {
            let a = &asked[i];
            let block = (a.step - 1) / horizon;
            let o = match origin_of.get(&(a.series, block)) {
                Some(&o) => o,
                None => {
                    origins.push(self.origin(a, block * horizon, &actuals, data, &known)?);
                    origin_of.insert((a.series, block), origins.len() - 1);
                    origins.len() - 1
                }
            };
            targets[i] = Some(Target {
                origin: o,
                step: a.step - block * horizon,
                time: a.time,
                row: a.row,
            });
        }
        let targets: Vec<Target> = targets.into_iter().flatten().collect();
        let values = self.point_forecasts(
            &self.forecaster,
            &self.fitted,
            &targets,
            &origins,
            &actuals,
            &known,
        )?;
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
                    .map(|(t, v)| {
                        let residuals = self
                            .residuals
                            .get(t.step - 1)
                            .filter(|r| !r.is_empty())
                            .unwrap_or(&pooled);
                        v + self.series[origins[t.origin].series].scale * quantile(residuals, q)
                    })
                    .collect();
                (q, band)
            })
            .collect();
        Ok(Forecast { values, quantiles })
    }
}

/// One row of the future data: its series, steps after the series' training end, time stamp,
/// row and line in the file.
#[derive(Debug, Clone, Copy)]
struct Asked {
    series: usize,
    step: usize,
    time: chrono::NaiveDateTime,
    row: usize,
    line: usize,
}

/// One forecast to make: from which origin, how many steps ahead of it, the target time stamp
/// and the input row (its known features).
#[derive(Debug, Clone, Copy)]
struct Target {
    origin: usize,
    step: usize,
    time: chrono::NaiveDateTime,
    row: usize,
}

/// Where forecasts start: the end of a series' training history, or a later origin reached by
/// appending actual values.
#[derive(Debug, Clone)]
struct Origin {
    /// The series.
    series: usize,
    /// Steps after the end of the training history (0: the end itself).
    advanced: usize,
    /// The kept history with the actual values up to the origin appended.
    history: Vec<f64>,
    /// Known features at the origin.
    known: Vec<f64>,
}

/// Actual values given in the future data: `(series, steps after its training end)` ->
/// (value, input row).
type Actuals = HashMap<(usize, usize), (f64, usize)>;

impl ForecastModel {
    /// The label values the future data gives, by series and step (empty cells skipped; two
    /// different values for one time stamp refused).
    fn actuals(&self, data: &Dataset, asked: &[Asked]) -> Result<Actuals> {
        let mut out = Actuals::new();
        let Some(column) = data.column(&self.label) else {
            return Ok(out);
        };
        for a in asked {
            let value = match &column.values {
                ColumnValues::Numeric(v) => Some(v[a.row]).filter(|v| !v.is_nan()),
                ColumnValues::Text(v) => match v[a.row].as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(text) => Some(text.parse::<f64>().map_err(|_| {
                        AutotabError::data(format!(
                            "future data, line {}: the actual '{}' value '{text}' is not a number",
                            a.line, self.label
                        ))
                    })?),
                },
            };
            let Some(value) = value else { continue };
            if !value.is_finite() {
                return Err(AutotabError::data(format!(
                    "future data, line {}: the actual '{}' value {value} is not a finite number",
                    a.line, self.label
                )));
            }
            if let Some(&(other, row)) = out.get(&(a.series, a.step)) {
                if other != value {
                    return Err(AutotabError::data(format!(
                        "future data, lines {} and {}: {} at {} has two different actual '{}' values ({} and {value})",
                        row + 2,
                        a.line,
                        describe_key(&self.series[a.series].key, &self.settings.grain),
                        format_time(a.time),
                        self.label,
                        format_number(other)
                    )));
                }
                continue;
            }
            out.insert((a.series, a.step), (value, a.row));
        }
        Ok(out)
    }

    /// The origin `advanced` steps after the end of `a`'s series' training history, with the
    /// actual values of every step up to it (an error naming the first one missing).
    fn origin(
        &self,
        a: &Asked,
        advanced: usize,
        actuals: &Actuals,
        data: &Dataset,
        known: &[Option<&[f64]>],
    ) -> Result<Origin> {
        let state = &self.series[a.series];
        let mut history = state.tail.clone();
        let mut known_now = state.last_known.clone();
        if advanced > 0 && !self.tails_roll && self.forecaster.history_read(self.season) != Some(0)
        {
            return Err(AutotabError::data(format!(
                "future data, line {}: this forecasting bundle was saved by an autotab without \
                 rolling forecasts and keeps too little history to refit its {} at a later \
                 origin: run the job again to forecast beyond the horizon of {}",
                a.line,
                self.forecaster.name(),
                self.settings.horizon
            )));
        }
        for step in 1..=advanced {
            let Some(&(value, row)) = actuals.get(&(a.series, step)) else {
                let missing = self.grid.time_at(state.end + step as i64);
                let why = if data.column(&self.label).is_none() {
                    format!("the future data has no '{}' column", self.label)
                } else {
                    format!("the future data gives none for {}", format_time(missing))
                };
                return Err(AutotabError::data(format!(
                    "rolling forecast: {} at {} (line {}) is forecast from the origin {}, {advanced} steps after the end of its training history ({}), which needs the actual '{}' of every step up to that origin; {why}",
                    describe_key(&state.key, &self.settings.grain),
                    format_time(a.time),
                    a.line,
                    format_time(self.grid.time_at(state.end + advanced as i64)),
                    format_time(self.grid.time_at(state.end)),
                    self.label
                )));
            };
            history.push(value);
            if step == advanced {
                known_now = self.known_at(a.series, row, known);
            }
        }
        Ok(Origin {
            series: a.series,
            advanced,
            history,
            known: known_now,
        })
    }

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

    /// Point forecasts of `fitted` (the refit `spec`; an ensemble averages its members') for
    /// `targets`.
    fn point_forecasts(
        &self,
        spec: &ForecasterSpec,
        fitted: &FittedForecaster,
        targets: &[Target],
        origins: &[Origin],
        actuals: &Actuals,
        known: &[Option<&[f64]>],
    ) -> Result<Vec<f64>> {
        let horizon = self.settings.horizon;
        Ok(match fitted {
            FittedForecaster::Paths(paths) => {
                // A later origin refits the local method on the extended history.
                let mut rolled: HashMap<usize, Vec<f64>> = HashMap::new();
                targets
                    .iter()
                    .map(|t| {
                        let origin = &origins[t.origin];
                        if origin.advanced == 0 {
                            return paths[origin.series][t.step - 1];
                        }
                        rolled.entry(t.origin).or_insert_with(|| {
                            local_path(spec, &origin.history, horizon, self.season)
                        })[t.step - 1]
                    })
                    .collect()
            }
            FittedForecaster::Ensemble(members) => {
                let ForecasterSpec::Ensemble(specs) = spec else {
                    return Err(AutotabError::Predict(
                        "the fitted ensemble does not match its method".into(),
                    ));
                };
                let mut values = vec![0.0; targets.len()];
                for ((w, member), (_, member_spec)) in members.iter().zip(specs) {
                    let v = self.point_forecasts(
                        member_spec,
                        member,
                        targets,
                        origins,
                        actuals,
                        known,
                    )?;
                    values.iter_mut().zip(v).for_each(|(a, b)| *a += w * b);
                }
                values
            }
            FittedForecaster::Harmonic(fits) => {
                // A later origin: the residuals of the actual values up to it.
                let mut recent: HashMap<usize, Vec<f64>> = HashMap::new();
                targets
                    .iter()
                    .map(|t| {
                        let origin = &origins[t.origin];
                        let s = origin.series;
                        let fit = &fits[s];
                        let known_now = self.known_at(s, t.row, known);
                        if origin.advanced == 0 {
                            return fit.forecast(t.step, &known_now);
                        }
                        let residuals = recent.entry(t.origin).or_insert_with(|| {
                            let keep = fit.recent_residuals.len();
                            let first = origin.advanced.saturating_sub(keep) + 1;
                            let mut r: Vec<f64> = (first..=origin.advanced)
                                .map(|step| {
                                    let (value, row) = actuals[&(s, step)];
                                    fit.residual_after(step, value, &self.known_at(s, row, known))
                                })
                                .collect();
                            let older = keep - r.len();
                            let mut all = fit.recent_residuals[keep - older..].to_vec();
                            all.append(&mut r);
                            all
                        });
                        fit.forecast_rolled(origin.advanced, residuals, t.step, &known_now)
                    })
                    .collect()
            }
            FittedForecaster::Global(model) => {
                let mut x = Vec::new();
                for t in targets {
                    let origin = &origins[t.origin];
                    let known_now = self.known_at(origin.series, t.row, known);
                    self.plan.row(
                        &RowInput {
                            history: &origin.history,
                            step: t.step,
                            target_time: t.time,
                            known: &known_now,
                            known_at_origin: &origin.known,
                            series_code: origin.series,
                            scale: self.plan.local_scale(&origin.history),
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
                    .map(|(i, t)| {
                        let history = &origins[t.origin].history;
                        let scale = self.plan.local_scale(history);
                        FeaturePlan::invert(history, output[[i, 0]], scale)
                    })
                    .collect()
            }
        })
    }
}

/// What a model keeps of each series of `set`: its last `keep` values (`None`: all of them),
/// the known features at its last step, its scale.
pub fn series_states(set: &SeriesSet, keep: Option<usize>) -> Vec<SeriesState> {
    set.series
        .iter()
        .map(|s| SeriesState {
            key: s.key.clone(),
            end: s.end(),
            scale: series_scale(&s.values),
            tail: s.values[keep.map_or(0, |k| s.values.len().saturating_sub(k))..].to_vec(),
            last_known: s
                .features
                .iter()
                .map(|f| *f.last().unwrap_or(&0.0))
                .collect(),
        })
        .collect()
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
    use crate::forecast::baselines::Baseline;
    use crate::forecast::ets::{EtsConfig, Season};
    use crate::forecast::folds::Fold;
    use crate::forecast::forecaster::{fit_final, forecast_fold, Context};
    use crate::forecast::harmonic::HarmonicConfig;
    use crate::forecast::series::{Series, SeriesSet};
    use crate::forecast::settings::ShortSeriesHandling;
    use crate::forecast::time::{format_time, Frequency};
    use crate::models::Algorithm;

    const HORIZON: usize = 5;

    fn grid() -> Grid {
        Grid {
            frequency: Frequency::Fixed { seconds: 3600 },
            origin: chrono::NaiveDate::from_ymd_opt(2021, 3, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        }
    }

    /// Two hourly series with a daily season, a trend and a known feature.
    fn full_set() -> SeriesSet {
        let make = |len: usize, phase: usize| Series {
            key: vec![format!("s{phase}")],
            start: phase as i64,
            values: (0..len)
                .map(|t| 100.0 + ((t + phase) % 24) as f64 * 3.0 + t as f64 * 0.05 + (t % 7) as f64)
                .collect(),
            features: vec![(0..len).map(|t| ((t * 5 + phase) % 11) as f64).collect()],
        };
        SeriesSet {
            grid: grid(),
            series: vec![make(200, 0), make(180, 3)],
            feature_names: vec!["temp".into()],
            dropped: Vec::new(),
            guardrails: Vec::new(),
        }
    }

    fn plan() -> FeaturePlan {
        FeaturePlan {
            horizon: HORIZON,
            season: 24,
            lags: vec![2, 3, 24],
            windows: vec![3, 24],
            n_known: 1,
            known_lags: true,
            sub_daily: true,
            n_series: 2,
            extra_seasons: vec![12],
        }
    }

    fn boosting() -> ForecasterSpec {
        ForecasterSpec::Regression {
            algorithm: Algorithm::GradientBoosting,
            params: crate::search::low_cost_params(Algorithm::GradientBoosting.space()),
        }
    }

    fn ctx<'a>(set: &'a SeriesSet, plan: &'a FeaturePlan) -> Context<'a> {
        Context {
            set,
            plan,
            season: 24,
            horizon: HORIZON,
            seed: 7,
            deadline: None,
        }
    }

    /// `full` cut after position `origins[s]` of each series.
    fn cut(full: &SeriesSet, origins: &[usize]) -> SeriesSet {
        let mut train = full.clone();
        for (s, &o) in train.series.iter_mut().zip(origins) {
            s.values.truncate(o + 1);
            s.features[0].truncate(o + 1);
        }
        train
    }

    /// The model the engine would save for `spec` fitted as `fitted` on `train`.
    fn model(spec: &ForecasterSpec, train: &SeriesSet, fitted: FittedForecaster) -> ForecastModel {
        let plan = plan();
        let keep = spec.history_read(24).map(|r| r.max(plan.history_needed()));
        ForecastModel {
            format_version: FORMAT_VERSION,
            label: "y".into(),
            settings: ForecastSettings {
                time_column: "t".into(),
                horizon: HORIZON,
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
            grid: grid(),
            season: 24,
            feature_names: vec!["temp".into()],
            forecaster: spec.clone(),
            series: series_states(train, keep),
            plan,
            dropped: Vec::new(),
            fitted,
            residuals: vec![vec![-1.0, 1.0]; HORIZON],
            metric: "normalized_root_mean_squared_error".into(),
            score: 0.0,
            tails_roll: true,
        }
    }

    /// Future rows of `full`: `(series, position, label given)` each; the label column holds the
    /// actual value where given (else empty) when `with_label`.
    fn future(full: &SeriesSet, rows: &[(usize, usize, Option<f64>)], with_label: bool) -> Dataset {
        let (mut times, mut keys, mut temps, mut labels) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &(s, pos, label) in rows {
            let series = &full.series[s];
            times.push(Some(format_time(grid().time_at(series.start + pos as i64))));
            keys.push(Some(series.key[0].clone()));
            temps.push(series.features[0][pos]);
            labels.push(label.unwrap_or(f64::NAN));
        }
        let mut columns = vec![
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
        ];
        if with_label {
            columns.push(Column {
                name: "y".into(),
                values: ColumnValues::Numeric(labels),
            });
        }
        Dataset::new(columns).unwrap()
    }

    fn assert_close(a: &[f64], b: &[f64], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() < 1e-9 * y.abs().max(1.0),
                "{what}: {x} vs {y}"
            );
        }
    }

    /// A model refit on the history up to an origin forecasts from future rows alone exactly
    /// what the rolling-origin fold at that origin forecast: `predict` and cross-validation
    /// build the same rows.
    #[test]
    fn predict_matches_the_fold_forecast_at_the_same_origin() {
        let (full, plan) = (full_set(), plan());
        let origins = [150usize, 140];
        let train = cut(&full, &origins);
        let spec = boosting();
        let fold = Fold {
            origins: origins.iter().map(|&o| Some(o)).collect(),
        };
        let expected = forecast_fold(&spec, &ctx(&full, &plan), &fold).unwrap();
        let model = model(
            &spec,
            &train,
            fit_final(&spec, &ctx(&train, &plan)).unwrap(),
        );
        // The future rows, in the fold's order: series, then step.
        let rows: Vec<(usize, usize, Option<f64>)> = (0..expected.series.len())
            .map(|i| {
                let s = expected.series[i];
                (s, origins[s] + expected.steps[i], None)
            })
            .collect();
        let forecast = model.predict(&future(&full, &rows, false), &[0.5]).unwrap();
        assert_close(&forecast.values, &expected.predicted, "predict vs fold");
        assert_eq!(forecast.values.len(), 10);
    }

    /// The fitted forecaster of a bundle whose history was extended from `early` to `late`: a
    /// regression learner (or harmonic regression) keeps its fit, a local method is refit.
    fn extended(spec: &ForecasterSpec, early: &SeriesSet, late: &SeriesSet) -> FittedForecaster {
        let plan = plan();
        match spec {
            ForecasterSpec::Ensemble(members) => FittedForecaster::Ensemble(
                members
                    .iter()
                    .map(|(w, m)| (*w, extended(m, early, late)))
                    .collect(),
            ),
            ForecasterSpec::Regression { .. } => fit_final(spec, &ctx(early, &plan)).unwrap(),
            local => fit_final(local, &ctx(late, &plan)).unwrap(),
        }
    }

    /// A rolling forecast beyond the horizon equals, row for row, the forecast of a bundle
    /// whose history was extended by the actual values up to its origin; rows within the
    /// horizon are forecast as `predict` forecasts them; actual values at or after the first
    /// step a forecast makes (its own included) change nothing.
    #[test]
    fn rolling_forecasts_equal_a_bundle_extended_by_the_actuals() {
        let (full, plan) = (full_set(), plan());
        let early = [150usize, 140];
        let late = early.map(|o| o + HORIZON);
        let (train, extended_train) = (cut(&full, &early), cut(&full, &late));
        let ets = ForecasterSpec::ExponentialSmoothing(EtsConfig {
            trend: true,
            damped: true,
            season: Season::Additive,
        });
        let specs = [
            boosting(),
            ForecasterSpec::Baseline(Baseline::SeasonalNaive),
            ForecasterSpec::Baseline(Baseline::Average),
            ets.clone(),
            ForecasterSpec::Ensemble(vec![(0.5, boosting()), (0.5, ets)]),
        ];
        // Steps 1..=2 horizons of both series, every actual value given (in reverse order).
        let mut rows: Vec<(usize, usize, Option<f64>)> = Vec::new();
        for s in [1, 0] {
            for step in (1..=2 * HORIZON).rev() {
                let pos = early[s] + step;
                rows.push((s, pos, Some(full.series[s].values[pos])));
            }
        }
        let is_late = |r: &(usize, usize, Option<f64>)| r.1 > early[r.0] + HORIZON;
        let late_rows: Vec<_> = rows.iter().copied().filter(is_late).collect();
        let early_rows: Vec<_> = rows.iter().copied().filter(|r| !is_late(r)).collect();
        for spec in &specs {
            let fitted = fit_final(spec, &ctx(&train, &plan)).unwrap();
            let a = model(spec, &train, fitted);
            let rolled = a
                .predict_rolling(&future(&full, &rows, true), &[0.1])
                .unwrap();
            let pick = |late: bool| -> Vec<f64> {
                rows.iter()
                    .zip(&rolled.values)
                    .filter(|(r, _)| is_late(r) == late)
                    .map(|(_, v)| *v)
                    .collect()
            };
            let b = model(
                spec,
                &extended_train,
                extended(spec, &train, &extended_train),
            );
            let expected = b.predict(&future(&full, &late_rows, false), &[]).unwrap();
            assert_close(&pick(true), &expected.values, &spec.name());
            let within = a.predict(&future(&full, &early_rows, false), &[]).unwrap();
            assert_close(&pick(false), &within.values, &spec.name());
            // The late rows' own actual values (and anything after their origin) poisoned.
            let poisoned: Vec<_> = rows
                .iter()
                .map(|&(s, pos, v)| (s, pos, if is_late(&(s, pos, v)) { Some(1e6) } else { v }))
                .collect();
            let again = a
                .predict_rolling(&future(&full, &poisoned, true), &[])
                .unwrap();
            assert_eq!(again.values, rolled.values, "{}", spec.name());
        }
    }

    /// A harmonic regression rolls forward on its coefficients: no actual value at or after a
    /// forecast's origin reaches it, and the actuals before it do.
    #[test]
    fn rolling_harmonic_regression_reads_only_actuals_before_the_origin() {
        let (full, plan) = (full_set(), plan());
        let early = [150usize, 140];
        let train = cut(&full, &early);
        let spec = ForecasterSpec::Harmonic(HarmonicConfig {
            trend: true,
            recent_cycles: None,
            interactions: true,
        });
        let a = model(
            &spec,
            &train,
            fit_final(&spec, &ctx(&train, &plan)).unwrap(),
        );
        let rows = |shift: f64, poison: f64| -> Vec<(usize, usize, Option<f64>)> {
            (1..=2 * HORIZON)
                .map(|step| {
                    let pos = early[0] + step;
                    let v = full.series[0].values[pos];
                    (
                        0,
                        pos,
                        Some(if step > HORIZON { poison } else { v + shift }),
                    )
                })
                .collect()
        };
        let run = |r: Vec<_>| {
            a.predict_rolling(&future(&full, &r, true), &[])
                .unwrap()
                .values
        };
        let base = run(rows(0.0, 0.0));
        assert_eq!(run(rows(0.0, 1e6)), base);
        let shifted = run(rows(50.0, 0.0));
        assert_eq!(shifted[..HORIZON], base[..HORIZON]);
        assert_ne!(shifted[HORIZON..], base[HORIZON..]);
    }

    /// An origin whose actual values are not all given is an error naming the series and the
    /// first time stamp missing; without `--rolling`, the horizon is the limit.
    #[test]
    fn rolling_needs_every_actual_up_to_the_origin() {
        let (full, plan) = (full_set(), plan());
        let early = [150usize, 140];
        let train = cut(&full, &early);
        let spec = ForecasterSpec::Baseline(Baseline::SeasonalNaive);
        let a = model(
            &spec,
            &train,
            fit_final(&spec, &ctx(&train, &plan)).unwrap(),
        );
        let mut rows: Vec<(usize, usize, Option<f64>)> = (1..=HORIZON + 1)
            .map(|step| {
                let pos = early[1] + step;
                (1, pos, Some(full.series[1].values[pos]))
            })
            .collect();
        rows[2].2 = None;
        let missing = format_time(grid().time_at(full.series[1].start + early[1] as i64 + 3));
        let err = a
            .predict_rolling(&future(&full, &rows, true), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rolling forecast: g=s3"), "{err}");
        assert!(err.contains(&format!("gives none for {missing}")), "{err}");
        let err = a
            .predict_rolling(&future(&full, &rows, false), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no 'y' column"), "{err}");
        let err = a
            .predict(&future(&full, &rows, true), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ForecastHorizonExceeded: g=s3"), "{err}");
        // A bundle saved before rolling forecasts keeps too little history to refit at a
        // later origin: refused, not rolled on a short history.
        rows[2].2 = Some(full.series[1].values[early[1] + 3]);
        let old = ForecastModel {
            tails_roll: false,
            ..a
        };
        let err = old
            .predict_rolling(&future(&full, &rows, true), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("run the job again"), "{err}");
    }
}
