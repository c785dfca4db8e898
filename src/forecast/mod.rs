//! Forecasting: time series in, a searched forecaster out (Azure AutoML's forecasting task).
//!
//! ```text
//! table --series (parse time, grain, frequency, duplicates, gaps, short series; guardrails)
//!       --folds (rolling origins) --search (baselines, ETS, learners on lag features)
//!       --refit --model (history tail + residual quantiles) --predict (future rows alone)
//! ```
//! The run itself (budget, observer, refit) is `engine::forecast`; this module holds the
//! concepts, one file each.

pub mod baselines;
pub mod ets;
pub mod features;
pub mod folds;
pub mod forecaster;
pub mod harmonic;
pub mod metrics;
pub mod model;
pub mod search;
pub mod series;
pub mod settings;
pub mod time;

pub use model::{Forecast, ForecastModel};
pub use settings::ForecastSettings;

use self::baselines::Baseline;
use self::features::FeaturePlan;
use self::folds::Fold;
use self::forecaster::{forecast_fold, Context, ForecasterSpec};
use self::series::SeriesSet;
use crate::metrics::Metric;

/// Candidate season lengths of a frequency's default season: daily data may repeat weekly or
/// yearly, hourly data daily or weekly.
pub fn season_candidates(default: usize) -> Vec<usize> {
    match default {
        7 => vec![7, 365],
        24 => vec![24, 168],
        m => vec![m],
    }
}

/// The season length when not given: among `candidates` that the longest series covers twice,
/// the one whose SeasonalNaive forecast scores best on the rolling-origin `folds` (mean of the
/// folds' `metric`; ties to the earlier candidate); 1 when none fits.
pub fn choose_season(
    set: &SeriesSet,
    folds: &[Fold],
    horizon: usize,
    candidates: &[usize],
    metric: Metric,
) -> usize {
    let longest = set.series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let plan = FeaturePlan {
        horizon,
        season: 1,
        lags: Vec::new(),
        windows: Vec::new(),
        n_known: 0,
        known_lags: false,
        sub_daily: false,
        n_series: 1,
        extra_seasons: Vec::new(),
    };
    let mut best: Option<(f64, usize)> = None;
    for &m in candidates.iter().filter(|&&m| m > 1 && longest >= 2 * m) {
        let ctx = Context {
            set,
            plan: &plan,
            season: m,
            horizon,
            seed: 0,
            deadline: None,
        };
        let spec = ForecasterSpec::Baseline(Baseline::SeasonalNaive);
        let scores: Option<Vec<f64>> = folds
            .iter()
            .map(|f| {
                let out = forecast_fold(&spec, &ctx, f).ok()?;
                metric.regression(&out.actual, &out.predicted).ok()
            })
            .collect();
        let Some(scores) = scores else { continue };
        let loss = metric.to_loss(scores.iter().sum::<f64>() / scores.len().max(1) as f64);
        if best.is_none_or(|(b, _)| loss < b) {
            best = Some((loss, m));
        }
    }
    best.map(|(_, m)| m).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::series::Series;
    use crate::forecast::time::{Frequency, Grid};

    fn daily(values: Vec<f64>) -> SeriesSet {
        SeriesSet {
            grid: Grid {
                frequency: Frequency::Fixed { seconds: 86_400 },
                origin: chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            },
            series: vec![Series {
                key: Vec::new(),
                start: 0,
                values,
                features: Vec::new(),
            }],
            feature_names: Vec::new(),
            dropped: Vec::new(),
            guardrails: Vec::new(),
        }
    }

    #[test]
    fn the_season_that_forecasts_best_is_chosen() {
        let yearly: Vec<f64> = (0..1500)
            .map(|t| (t as f64 * std::f64::consts::TAU / 365.0).sin() * 10.0 + (t % 3) as f64)
            .collect();
        let set = daily(yearly);
        let folds = folds::rolling_origin_folds(&set, 30, 3, 30, 5).unwrap();
        assert_eq!(
            choose_season(&set, &folds, 30, &[7, 365], Metric::NormalizedRmse),
            365
        );
        let weekly: Vec<f64> = (0..1500)
            .map(|t| [0.0, 5.0, 1.0, 3.0, 9.0, 2.0, 4.0][t % 7] + (t / 50) as f64)
            .collect();
        let set = daily(weekly);
        assert_eq!(
            choose_season(&set, &folds, 30, &[7, 365], Metric::NormalizedRmse),
            7
        );
        let short = daily((0..12).map(|t| t as f64).collect());
        let folds = folds::rolling_origin_folds(&short, 3, 1, 3, 5).unwrap();
        assert_eq!(
            choose_season(&short, &folds, 3, &[7, 365], Metric::NormalizedRmse),
            1
        );
    }
}
