//! Label-based classification metrics (confusion matrix) and log loss.

use ndarray::ArrayView2;

use super::Average;
use crate::error::{AutotabError, Result};

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` before the log loss, as
/// Azure AutoML (scikit-learn's historical default) does.
const LOG_LOSS_EPS: f64 = 1e-15;

/// Checks the shapes and values of a classification input; `metric` names the caller.
pub(super) fn validate(metric: &str, y_true: &[usize], proba: &ArrayView2<f64>) -> Result<()> {
    let (rows, k) = proba.dim();
    if y_true.len() != rows {
        return Err(AutotabError::data(format!(
            "{metric}: y_true has {} rows but proba has {rows} rows",
            y_true.len()
        )));
    }
    if rows == 0 {
        return Err(AutotabError::data(format!(
            "{metric}: y_true and proba are empty (0 rows); need at least one row"
        )));
    }
    if k < 2 {
        return Err(AutotabError::data(format!(
            "{metric}: proba has {k} column(s); expected one column per class, at least 2"
        )));
    }
    if let Some((row, &label)) = y_true.iter().enumerate().find(|(_, &c)| c >= k) {
        return Err(AutotabError::data(format!(
            "{metric}: y_true[{row}] is class {label} but proba has only {k} columns (classes 0..{})",
            k - 1
        )));
    }
    if let Some(((row, col), value)) = proba.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(AutotabError::data(format!(
            "{metric}: proba[{row}, {col}] is {value}; probabilities must be finite numbers"
        )));
    }
    Ok(())
}

/// Index of the largest value of each row; ties go to the lowest index.
fn argmax_rows(proba: &ArrayView2<f64>) -> Vec<usize> {
    proba
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// A `k x k` confusion matrix: rows are true classes, columns predicted classes.
pub(super) struct Confusion {
    k: usize,
    counts: Vec<u64>,
}

impl Confusion {
    /// Counts the arg-max predictions of `proba` against `y_true` (already validated).
    pub(super) fn new(y_true: &[usize], proba: &ArrayView2<f64>) -> Confusion {
        let k = proba.ncols();
        let mut counts = vec![0u64; k * k];
        for (&t, p) in y_true.iter().zip(argmax_rows(proba)) {
            counts[t * k + p] += 1;
        }
        Confusion { k, counts }
    }

    fn cell(&self, truth: usize, pred: usize) -> f64 {
        self.counts[truth * self.k + pred] as f64
    }

    fn total(&self) -> f64 {
        self.counts.iter().sum::<u64>() as f64
    }

    /// Fraction of rows predicted right.
    pub(super) fn accuracy(&self) -> f64 {
        self.correct() / self.total()
    }

    fn correct(&self) -> f64 {
        (0..self.k).map(|c| self.cell(c, c)).sum()
    }

    /// Rows whose true class is `c` (the class support).
    fn true_count(&self, c: usize) -> f64 {
        (0..self.k).map(|p| self.cell(c, p)).sum()
    }

    /// Rows predicted as class `c`.
    fn pred_count(&self, c: usize) -> f64 {
        (0..self.k).map(|t| self.cell(t, c)).sum()
    }
}

/// Which per-class score to average.
#[derive(Clone, Copy)]
pub(super) enum Score {
    /// `tp / predicted`.
    Precision,
    /// `tp / actual`.
    Recall,
    /// Harmonic mean of precision and recall.
    F1,
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Precision, recall or F1 as scikit-learn computes them with the default `labels` (the
/// classes seen in `y_true` or in the predictions) and `zero_division=0`.
pub(super) fn prf(confusion: &Confusion, score: Score, averaging: Average) -> f64 {
    let per_class = |tp: f64, truth: f64, pred: f64| match score {
        Score::Precision => ratio(tp, pred),
        Score::Recall => ratio(tp, truth),
        Score::F1 => ratio(2.0 * tp, truth + pred),
    };
    match averaging {
        Average::Micro => {
            let n = confusion.total();
            per_class(confusion.correct(), n, n)
        }
        Average::Macro | Average::Weighted => {
            let mut sum = 0.0;
            let mut weight_sum = 0.0;
            for c in 0..confusion.k {
                let truth = confusion.true_count(c);
                let pred = confusion.pred_count(c);
                if truth == 0.0 && pred == 0.0 {
                    continue;
                }
                let weight = match averaging {
                    Average::Weighted => truth,
                    _ => 1.0,
                };
                sum += weight * per_class(confusion.cell(c, c), truth, pred);
                weight_sum += weight;
            }
            ratio(sum, weight_sum)
        }
    }
}

/// Mean recall over the classes present in `y_true`.
pub(super) fn balanced_accuracy(confusion: &Confusion) -> f64 {
    let recalls: Vec<f64> = (0..confusion.k)
        .filter(|&c| confusion.true_count(c) > 0.0)
        .map(|c| confusion.cell(c, c) / confusion.true_count(c))
        .collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// Multiclass Matthews correlation coefficient (scikit-learn's `matthews_corrcoef`); 0 when
/// the truth or the predictions hold a single class.
pub(super) fn matthews(confusion: &Confusion) -> f64 {
    let n = confusion.total();
    let (mut t_dot_p, mut t_dot_t, mut p_dot_p) = (0.0, 0.0, 0.0);
    for c in 0..confusion.k {
        let t = confusion.true_count(c);
        let p = confusion.pred_count(c);
        t_dot_p += t * p;
        t_dot_t += t * t;
        p_dot_p += p * p;
    }
    let cov_tp = confusion.correct() * n - t_dot_p;
    let cov_pp = n * n - p_dot_p;
    let cov_tt = n * n - t_dot_t;
    if cov_pp * cov_tt == 0.0 {
        0.0
    } else {
        cov_tp / (cov_tt * cov_pp).sqrt()
    }
}

/// Macro recall rescaled as Azure does, `(recall - 1/k) / (1 - 1/k)`, clipped at 0.
pub(super) fn norm_macro_recall(confusion: &Confusion) -> f64 {
    let chance = 1.0 / confusion.k as f64;
    let recall = prf(confusion, Score::Recall, Average::Macro);
    ((recall - chance) / (1.0 - chance)).max(0.0)
}

/// Mean cross-entropy: each row's probabilities are clipped to `[1e-15, 1 - 1e-15]` and
/// renormalised to sum to 1.
pub(super) fn log_loss(y_true: &[usize], proba: &ArrayView2<f64>) -> f64 {
    let clip = |p: f64| p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
    let total: f64 = y_true
        .iter()
        .zip(proba.rows())
        .map(|(&t, row)| {
            let row_sum: f64 = row.iter().map(|&p| clip(p)).sum();
            -(clip(row[t]) / row_sum).ln()
        })
        .sum();
    total / y_true.len() as f64
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn argmax_ties_go_to_lowest_index() {
        let proba = array![[0.5, 0.5], [0.2, 0.8], [0.4, 0.4]];
        assert_eq!(argmax_rows(&proba.view()), vec![0, 1, 0]);
    }

    #[test]
    fn validate_names_the_fault() {
        let proba = array![[0.5, 0.5], [0.2, 0.8]];
        let err = validate("accuracy", &[0], &proba.view()).unwrap_err();
        assert!(err.to_string().contains("1 rows") && err.to_string().contains("2 rows"));
        let err = validate("accuracy", &[0, 2], &proba.view()).unwrap_err();
        assert!(err.to_string().contains("y_true[1] is class 2"));
        let nan = array![[0.5, f64::NAN], [0.2, 0.8]];
        let err = validate("accuracy", &[0, 1], &nan.view()).unwrap_err();
        assert!(err.to_string().contains("proba[0, 1] is NaN"));
        let one_col = array![[1.0], [1.0]];
        assert!(validate("accuracy", &[0, 0], &one_col.view()).is_err());
    }

    #[test]
    fn matthews_is_zero_for_a_single_predicted_class() {
        let proba = array![[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]];
        let confusion = Confusion::new(&[0, 1, 1], &proba.view());
        assert_eq!(matthews(&confusion), 0.0);
    }

    #[test]
    fn log_loss_clips_zero_probabilities() {
        let proba = array![[1.0, 0.0]];
        let loss = log_loss(&[1], &proba.view());
        assert!((loss - (1.0 / LOG_LOSS_EPS).ln()).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn norm_macro_recall_is_clipped_at_zero() {
        // Always predicts class 0 although half the rows are class 1: macro recall 0.5.
        let proba = array![[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]];
        let confusion = Confusion::new(&[0, 0, 1, 1], &proba.view());
        assert_eq!(norm_macro_recall(&confusion), 0.0);
        // Everything wrong: macro recall 0, rescaled -1, clipped to 0.
        let confusion = Confusion::new(&[1, 1, 1, 1], &proba.view());
        assert_eq!(norm_macro_recall(&confusion), 0.0);
    }
}
