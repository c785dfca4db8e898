//! Forecast scores with Azure's names: normalized_root_mean_squared_error (the default
//! primary metric), normalized_mean_absolute_error, r2_score, spearman_correlation, and
//! mean_absolute_percentage_error reported.
//!
//! Normalization is Azure's: the error divided by the range (max - min) of the actual values
//! scored. A trial's score is the mean over its rolling-origin folds of the fold's score, the
//! actuals of all series of a fold pooled. The benchmark's figure (`run_anchor.py`) pools the
//! whole test split instead: RMSE over every test row divided by the range of every test label,
//! once; on one fold the two are the same number.

use crate::error::Result;
use crate::metrics::Metric;

/// Mean absolute percentage error (in percent) over the rows whose actual value is not 0.
pub fn mape(actual: &[f64], predicted: &[f64]) -> f64 {
    let (sum, n) = actual
        .iter()
        .zip(predicted)
        .filter(|(a, _)| **a != 0.0)
        .fold((0.0, 0usize), |(s, n), (a, p)| {
            (s + ((a - p) / a).abs(), n + 1)
        });
    if n == 0 {
        f64::NAN
    } else {
        100.0 * sum / n as f64
    }
}

/// The metrics reported for a forecasting model, by name.
pub const REPORTED: [Metric; 4] = [
    Metric::NormalizedRmse,
    Metric::NormalizedMae,
    Metric::R2,
    Metric::Spearman,
];

/// Every reported metric of one set of forecasts: Azure's four and MAPE.
pub fn report(actual: &[f64], predicted: &[f64]) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for m in REPORTED {
        out.push((m.name().to_string(), m.regression(actual, predicted)?));
    }
    out.push((
        "mean_absolute_percentage_error".to_string(),
        mape(actual, predicted),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_azures() {
        let a = [1.0, 2.0, 3.0, 5.0];
        let p = [1.0, 2.5, 2.0, 5.0];
        let r = report(&a, &p).unwrap();
        let get = |n: &str| r.iter().find(|(k, _)| k == n).unwrap().1;
        let rmse = ((0.25 + 1.0) / 4.0f64).sqrt();
        assert!((get("normalized_root_mean_squared_error") - rmse / 4.0).abs() < 1e-12);
        assert!((get("normalized_mean_absolute_error") - 1.5 / 4.0 / 4.0).abs() < 1e-12);
        assert!(
            (get("mean_absolute_percentage_error") - 100.0 * (0.25 + 1.0 / 3.0) / 4.0).abs() < 1e-9
        );
        assert!(mape(&[0.0], &[1.0]).is_nan());
    }
}
