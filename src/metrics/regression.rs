//! Regression metrics: R², Spearman correlation, RMSE and MAE (plain and normalised).

use crate::error::{AutotabError, Result};

/// Checks the lengths and values of a regression input; `metric` names the caller.
pub(super) fn validate(metric: &str, y_true: &[f64], y_pred: &[f64]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(AutotabError::data(format!(
            "{metric}: y_true has {} rows but y_pred has {} rows",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.is_empty() {
        return Err(AutotabError::data(format!(
            "{metric}: y_true and y_pred are empty (0 rows); need at least one row"
        )));
    }
    for (name, values) in [("y_true", y_true), ("y_pred", y_pred)] {
        if let Some((row, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AutotabError::data(format!(
                "{metric}: {name}[{row}] is {value}; values must be finite numbers"
            )));
        }
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Root mean squared error.
pub(super) fn rmse(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let squared: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(t, p)| (t - p) * (t - p))
        .sum();
    (squared / y_true.len() as f64).sqrt()
}

/// Mean absolute error.
pub(super) fn mae(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let absolute: f64 = y_true.iter().zip(y_pred).map(|(t, p)| (t - p).abs()).sum();
    absolute / y_true.len() as f64
}

/// `max(y_true) - min(y_true)`, the divisor of the normalised errors; 1 when `y_true` is
/// constant.
pub(super) fn range(y_true: &[f64]) -> f64 {
    let max = y_true.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = y_true.iter().copied().fold(f64::INFINITY, f64::min);
    if max > min {
        max - min
    } else {
        1.0
    }
}

/// scikit-learn's `r2_score`: for a constant `y_true`, 1 for a perfect prediction and 0
/// otherwise; NaN with fewer than two rows.
pub(super) fn r2(y_true: &[f64], y_pred: &[f64]) -> f64 {
    if y_true.len() < 2 {
        return f64::NAN;
    }
    let centre = mean(y_true);
    let residual: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(t, p)| (t - p) * (t - p))
        .sum();
    let total: f64 = y_true.iter().map(|t| (t - centre) * (t - centre)).sum();
    if residual == 0.0 {
        1.0
    } else if total == 0.0 {
        0.0
    } else {
        1.0 - residual / total
    }
}

/// Ranks starting at 1; tied values get the mean of the ranks they span.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Pearson correlation; NaN when either input is constant or has fewer than two values.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Spearman rank correlation (SciPy's `spearmanr`): Pearson correlation of average ranks.
pub(super) fn spearman(y_true: &[f64], y_pred: &[f64]) -> f64 {
    pearson(&average_ranks(y_true), &average_ranks(y_pred))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_mean_rank() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn r2_of_constant_truth_follows_sklearn() {
        assert_eq!(r2(&[2.0, 2.0], &[2.0, 2.0]), 1.0);
        assert_eq!(r2(&[2.0, 2.0], &[2.0, 3.0]), 0.0);
        assert!(r2(&[2.0], &[2.0]).is_nan());
    }

    #[test]
    fn spearman_of_constant_input_is_nan() {
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 25.0]) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn range_of_constant_truth_is_one() {
        assert_eq!(range(&[4.0, 4.0]), 1.0);
        assert_eq!(range(&[4.0, -1.0, 2.0]), 5.0);
    }

    #[test]
    fn validate_names_both_lengths_and_bad_values() {
        let err = validate("mean_absolute_error", &[1.0, 2.0], &[1.0]).unwrap_err();
        assert!(err.to_string().contains("2 rows") && err.to_string().contains("1 rows"));
        let err = validate("r2_score", &[1.0], &[f64::NAN]).unwrap_err();
        assert!(err.to_string().contains("y_pred[0] is NaN"));
        assert!(validate("r2_score", &[], &[]).is_err());
    }
}
