//! Features for the regression learners: **direct** forecasting with the horizon as a feature.
//!
//! One row describes a forecast origin `o` (the last observed step) and a step `h` ahead
//! (`1..=horizon`); its target is the value at `o + h`. One model covers every horizon, with
//! `h` among its features. Nothing a row holds comes after its origin except the known
//! features at the target step (given in advance, as Azure's "known" features are) and its
//! calendar parts: the row is computed from the history slice `values[..=o]`, so a lag cannot
//! reach past the origin (`tests` poison every later value to prove it).
//!
//! Why direct and not recursive: a recursive forecaster feeds its one-step predictions back
//! as lags, so its errors compound over a long horizon (52 weeks, 48 hours) and a fold's
//! score depends on how errors propagate rather than on what the model learnt; the direct
//! form predicts every step from observed values only, trains on `horizon` times more rows
//! (each origin gives one row per step, which helps short series) and lets a single tree
//! model learn how the forecast spreads with `h`. One model over all steps rather than one
//! per step keeps the fit cost of a trial independent of the horizon.
//!
//! Values are expressed relative to the level at the origin and divided by the local scale
//! (mean absolute value of the last season, at least 4 steps, up to the origin):
//! `(v - y[o]) / scale`. Trees cannot extrapolate a level they never saw (trending series), one
//! model is pooled over series of different sizes (grain), and a multiplicative season grows
//! with the level; in these units all three look stationary. Predictions are mapped back with
//! `y[o] + scale * output`.

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

/// Which features a row holds; decided once per run from the data and the job's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePlan {
    /// Steps to forecast.
    pub horizon: usize,
    /// Season length (1: none).
    pub season: usize,
    /// Origin lags: lag `l` is the value `l - 1` steps before the origin (lag 1 is the origin).
    pub lags: Vec<usize>,
    /// Rolling windows ending at the origin (mean, min, max, std of each).
    pub windows: Vec<usize>,
    /// Number of known features.
    pub n_known: usize,
    /// Whether the known features' values at the origin are features too.
    pub known_lags: bool,
    /// Hour of day as a feature (sub-daily data).
    pub sub_daily: bool,
    /// Series code as a feature (more than one series).
    pub n_series: usize,
    /// Other season lengths the data covers (yearly for daily data, weekly for hourly): their
    /// seasonal-naive values are features too.
    #[serde(default)]
    pub extra_seasons: Vec<usize>,
}

/// What one row is computed from.
#[derive(Debug, Clone, Copy)]
pub struct RowInput<'a> {
    /// The series up to and including the origin (never beyond).
    pub history: &'a [f64],
    /// Steps ahead of the origin.
    pub step: usize,
    /// Time stamp of the target step.
    pub target_time: NaiveDateTime,
    /// Known features at the target step.
    pub known: &'a [f64],
    /// Known features at the origin.
    pub known_at_origin: &'a [f64],
    /// The series' code (its position among the training series).
    pub series_code: usize,
    /// The series' scale.
    pub scale: f64,
}

/// The scale of a series: mean absolute value of `history`, or 1 when that is 0.
pub fn series_scale(history: &[f64]) -> f64 {
    if history.is_empty() {
        return 1.0;
    }
    let s = history.iter().map(|v| v.abs()).sum::<f64>() / history.len() as f64;
    if s > 1e-12 && s.is_finite() {
        s
    } else {
        1.0
    }
}

/// The seasonal-naive value for `step` ahead of the end of `history`: the last observed value
/// at the same season position (`season` 1 gives the last value).
pub fn seasonal_naive_value(
    history: &[f64],
    step: usize,
    season: usize,
    cycles_back: usize,
) -> Option<f64> {
    let n = history.len();
    let m = season.max(1);
    let back = m * (step.div_ceil(m) + cycles_back);
    let at = (n + step).checked_sub(back + 1)?;
    (at < n).then(|| history[at])
}

impl FeaturePlan {
    /// The scale of a row at the end of `history`: mean absolute value of its last season
    /// (at least 4 values), or 1 when that is 0.
    pub fn local_scale(&self, history: &[f64]) -> f64 {
        let w = self.season.max(4).min(history.len());
        series_scale(&history[history.len() - w..])
    }

    /// Longest history any feature reads.
    pub fn history_needed(&self) -> usize {
        let lag = self.lags.iter().copied().max().unwrap_or(1);
        let window = self.windows.iter().copied().max().unwrap_or(1);
        // The main season reads two cycles back, the extra ones four (their seasonal mean).
        let seasonal = std::iter::once((self.season, 1))
            .chain(self.extra_seasons.iter().map(|&m| (m, 3)))
            .map(|(m, back)| m * (self.horizon.div_ceil(m.max(1)) + back))
            .max()
            .unwrap_or(1);
        lag.max(window).max(seasonal).max(self.season).max(4) + 1
    }

    /// Feature names, in row order.
    pub fn names(&self, known: &[String]) -> Vec<String> {
        let mut names = vec!["horizon".to_string(), "level".to_string()];
        names.extend(self.lags.iter().map(|l| format!("lag_{l}")));
        if self.season > 1 {
            names.push("seasonal_naive".into());
            names.push("seasonal_naive_2".into());
        }
        for m in &self.extra_seasons {
            names.push(format!("seasonal_naive_{m}"));
            names.push(format!("seasonal_naive_{m}_2"));
            names.push(format!("seasonal_mean_{m}"));
        }
        for w in &self.windows {
            for stat in ["mean", "min", "max", "std"] {
                names.push(format!("window_{w}_{stat}"));
            }
        }
        names.extend(["month", "day_of_week", "day_of_month", "day_of_year"].map(String::from));
        if self.sub_daily {
            names.push("hour".into());
        }
        if self.n_series > 1 {
            names.push("series".into());
        }
        names.extend(known.iter().cloned());
        if self.known_lags {
            names.extend(known.iter().map(|k| format!("{k}_at_origin")));
        }
        names
    }

    /// Appends one row's features to `out`.
    pub fn row(&self, input: &RowInput, out: &mut Vec<f64>) {
        let h = input.history;
        let n = h.len();
        let level = h[n - 1];
        let rel = |v: f64| (v - level) / input.scale;
        out.push(input.step as f64);
        out.push(level / input.scale);
        for &l in &self.lags {
            out.push(if l <= n { rel(h[n - l]) } else { 0.0 });
        }
        if self.season > 1 {
            for back in 0..2 {
                out.push(
                    seasonal_naive_value(h, input.step, self.season, back)
                        .map(rel)
                        .unwrap_or(0.0),
                );
            }
        }
        for &m in &self.extra_seasons {
            for back in 0..2 {
                out.push(
                    seasonal_naive_value(h, input.step, m, back)
                        .map(rel)
                        .unwrap_or(0.0),
                );
            }
            // The mean over up to four cycles back: a climatology for long seasons.
            let past: Vec<f64> = (0..4)
                .filter_map(|back| seasonal_naive_value(h, input.step, m, back))
                .collect();
            out.push(if past.is_empty() {
                0.0
            } else {
                rel(past.iter().sum::<f64>() / past.len() as f64)
            });
        }
        for &w in &self.windows {
            let tail = &h[n.saturating_sub(w)..];
            let mean = tail.iter().sum::<f64>() / tail.len() as f64;
            let min = tail.iter().copied().fold(f64::INFINITY, f64::min);
            let max = tail.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let var = tail.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / tail.len() as f64;
            out.extend([rel(mean), rel(min), rel(max), var.sqrt() / input.scale]);
        }
        let t = input.target_time;
        out.extend([
            t.month() as f64,
            t.weekday().num_days_from_monday() as f64,
            t.day() as f64,
            t.ordinal() as f64,
        ]);
        if self.sub_daily {
            out.push(t.hour() as f64);
        }
        if self.n_series > 1 {
            out.push(input.series_code as f64);
        }
        out.extend(
            input
                .known
                .iter()
                .map(|v| if v.is_finite() { *v } else { 0.0 }),
        );
        if self.known_lags {
            out.extend(
                input
                    .known_at_origin
                    .iter()
                    .map(|v| if v.is_finite() { *v } else { 0.0 }),
            );
        }
    }

    /// The target of a row in relative units.
    pub fn target(history: &[f64], actual: f64, scale: f64) -> f64 {
        (actual - history[history.len() - 1]) / scale
    }

    /// A model output in relative units back in the label's units.
    pub fn invert(history: &[f64], output: f64, scale: f64) -> f64 {
        history[history.len() - 1] + output * scale
    }
}

/// Lags chosen from the autocorrelation of the differenced series: lags 2..=4 always, the
/// season and the season + 1, and up to three more lags (up to twice the season, at most 60)
/// whose autocorrelation is significant.
pub fn auto_lags(values: &[f64], season: usize) -> Vec<usize> {
    let mut lags: Vec<usize> = vec![2, 3, 4];
    if season > 1 && season <= 400 {
        lags.push(season);
        lags.push(season + 1);
    }
    let diff: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let n = diff.len();
    if n > 10 {
        let mean = diff.iter().sum::<f64>() / n as f64;
        let var: f64 = diff.iter().map(|d| (d - mean) * (d - mean)).sum();
        if var > 0.0 {
            let max_lag = (2 * season).clamp(8, 60).min(n / 2);
            let mut acf: Vec<(usize, f64)> = (1..=max_lag)
                .map(|k| {
                    let c: f64 = (k..n)
                        .map(|i| (diff[i] - mean) * (diff[i - k] - mean))
                        .sum();
                    (k, c / var)
                })
                .filter(|(_, r)| r.abs() > 2.0 / (n as f64).sqrt())
                .collect();
            acf.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            // ACF lag k of the differences relates y[o+1-k]: origin lag k + 1.
            lags.extend(acf.iter().take(3).map(|(k, _)| k + 1));
        }
    }
    lags.sort_unstable();
    lags.dedup();
    lags
}

/// Rolling windows: 3 steps and one season (at least 3), or the given size.
pub fn auto_windows(season: usize, given: Option<usize>) -> Vec<usize> {
    match given {
        Some(w) => vec![w],
        None => {
            let mut w = vec![3, season.clamp(3, 400)];
            w.dedup();
            w
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> FeaturePlan {
        FeaturePlan {
            horizon: 3,
            season: 4,
            lags: vec![2, 5],
            windows: vec![3, 8],
            n_known: 1,
            known_lags: true,
            sub_daily: true,
            n_series: 2,
            extra_seasons: vec![6],
        }
    }

    #[test]
    fn no_feature_reaches_past_the_origin() {
        let values: Vec<f64> = (0..40)
            .map(|i| (i as f64 * 0.7).sin() * 10.0 + i as f64)
            .collect();
        let time = chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
            .unwrap()
            .and_hms_opt(5, 0, 0)
            .unwrap();
        for origin in [0usize, 3, 10, 25] {
            for step in 1..=3 {
                let row = |series: &[f64]| {
                    let mut out = Vec::new();
                    plan().row(
                        &RowInput {
                            history: &series[..=origin],
                            step,
                            target_time: time,
                            known: &[1.5],
                            known_at_origin: &[2.5],
                            series_code: 1,
                            scale: 2.0,
                        },
                        &mut out,
                    );
                    out
                };
                let clean = row(&values);
                // Every value after the origin replaced by garbage: the row must not change.
                let mut poisoned = values.clone();
                poisoned[origin + 1..].iter_mut().for_each(|v| *v = 1e9);
                assert_eq!(row(&poisoned), clean, "origin {origin} step {step}");
                assert_eq!(clean.len(), plan().names(&["x".into()]).len());
                assert!(clean.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn seasonal_naive_takes_the_last_value_of_the_same_season() {
        let h = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        assert_eq!(seasonal_naive_value(&h, 1, 4, 0), Some(5.0));
        assert_eq!(seasonal_naive_value(&h, 4, 4, 0), Some(8.0));
        assert_eq!(seasonal_naive_value(&h, 5, 4, 0), Some(5.0));
        assert_eq!(seasonal_naive_value(&h, 1, 4, 1), Some(1.0));
        assert_eq!(seasonal_naive_value(&h, 1, 4, 2), None);
        assert_eq!(seasonal_naive_value(&h, 3, 1, 0), Some(8.0));
    }

    #[test]
    fn relative_targets_invert() {
        let h = [10.0, 12.0];
        let t = FeaturePlan::target(&h, 15.0, 4.0);
        assert_eq!(FeaturePlan::invert(&h, t, 4.0), 15.0);
        assert!(auto_lags(&(0..100).map(|i| (i % 7) as f64).collect::<Vec<_>>(), 7).contains(&7));
    }
}
