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
pub mod metrics;
pub mod model;
pub mod search;
pub mod series;
pub mod settings;
pub mod time;

pub use model::{Forecast, ForecastModel};
pub use settings::ForecastSettings;

/// Candidate season lengths of a frequency's default season: daily data may repeat weekly or
/// yearly, hourly data daily or weekly.
fn season_candidates(default: usize) -> Vec<usize> {
    match default {
        7 => vec![7, 365],
        24 => vec![24, 168],
        m => vec![m],
    }
}

/// Autocorrelation of `values` (linear trend removed) at `lag`.
fn detrended_acf(values: &[f64], lag: usize) -> f64 {
    let n = values.len();
    if n <= lag + 2 {
        return f64::NAN;
    }
    let t_mean = (n - 1) as f64 / 2.0;
    let y_mean = values.iter().sum::<f64>() / n as f64;
    let sxx: f64 = (0..n).map(|t| (t as f64 - t_mean).powi(2)).sum();
    let sxy: f64 = values
        .iter()
        .enumerate()
        .map(|(t, v)| (t as f64 - t_mean) * (v - y_mean))
        .sum();
    let slope = sxy / sxx;
    let r: Vec<f64> = values
        .iter()
        .enumerate()
        .map(|(t, v)| v - y_mean - slope * (t as f64 - t_mean))
        .collect();
    let var: f64 = r.iter().map(|v| v * v).sum();
    if var <= 0.0 {
        return f64::NAN;
    }
    (lag..n).map(|i| r[i] * r[i - lag]).sum::<f64>() / var
}

/// The season length when not given: among the frequency's candidates that the longest series
/// covers twice, the one whose (detrended) autocorrelation is highest; 1 when none fits.
pub fn detect_season(longest: &[f64], default: usize) -> usize {
    season_candidates(default)
        .into_iter()
        .filter(|&m| m > 1 && longest.len() >= 2 * m)
        .map(|m| (m, detrended_acf(longest, m)))
        .filter(|(_, r)| r.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yearly_cycle_in_daily_data_is_found() {
        let y: Vec<f64> = (0..1500)
            .map(|t| (t as f64 * std::f64::consts::TAU / 365.0).sin() * 10.0 + (t % 3) as f64)
            .collect();
        assert_eq!(detect_season(&y, 7), 365);
        let weekly: Vec<f64> = (0..1500)
            .map(|t| [0.0, 5.0, 1.0, 3.0, 9.0, 2.0, 4.0][t % 7])
            .collect();
        assert_eq!(detect_season(&weekly, 7), 7);
        assert_eq!(detect_season(&weekly[..10], 7), 1);
    }
}
