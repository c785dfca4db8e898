//! Gaussian naive Bayes, computed directly on `ndarray` as scikit-learn's `GaussianNB` does:
//! per-class feature means and variances (plus `var_smoothing` times the largest feature
//! variance), class priors from the (weighted) class counts, and probabilities from the joint
//! log-likelihoods with log-sum-exp. One pass over the rows to fit, one to predict.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::params::hyperparams;
use super::{present_classes, Algorithm, TargetRef, TrainSet};
use crate::error::{AutotabError, Result};

hyperparams! {
    /// Gaussian naive Bayes' hyperparameters.
    pub struct NaiveBayesParams {
        /// Variance smoothing, as a share of the largest feature variance (scikit-learn's
        /// `var_smoothing`).
        var_smoothing: f64 = float(1e-12, 1e-1, log), default 1e-9, low_cost 1e-9;
    }
}

/// Per-class feature means and variances, and class log-priors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveBayesModel {
    /// The classes seen in training, in increasing order; row `c` of the statistics is
    /// `classes[c]`.
    classes: Vec<usize>,
    n_classes: usize,
    log_prior: Vec<f64>,
    /// Per-class feature means.
    theta: Vec<Vec<f64>>,
    /// Per-class feature variances, smoothing included (always positive).
    var: Vec<Vec<f64>>,
}

impl NaiveBayesModel {
    pub(crate) fn n_features(&self) -> usize {
        self.theta.first().map(|t| t.len()).unwrap_or(0)
    }

    /// Class probabilities of `x`, `n_classes` columns (zero for classes absent in training).
    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let log_proba = self.predict_log_proba(x);
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        for (c, &class) in self.classes.iter().enumerate() {
            out.column_mut(class)
                .assign(&log_proba.column(c).mapv(f64::exp));
        }
        out
    }

    /// Log-probabilities of the classes seen in training (one column each, in `classes`
    /// order), normalised with log-sum-exp.
    fn predict_log_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let two_pi = 2.0 * std::f64::consts::PI;
        // Per class: log prior - 0.5 * sum_j ln(2 pi var_j), and 1 / var_j.
        let base: Vec<f64> = self
            .var
            .iter()
            .zip(&self.log_prior)
            .map(|(var, prior)| prior - 0.5 * var.iter().map(|v| (two_pi * v).ln()).sum::<f64>())
            .collect();
        let inv_var: Vec<Vec<f64>> = self
            .var
            .iter()
            .map(|var| var.iter().map(|v| 1.0 / v).collect())
            .collect();
        let k = self.classes.len();
        let mut out = Array2::zeros((x.nrows(), k));
        for (row, mut joint) in x.rows().into_iter().zip(out.rows_mut()) {
            for c in 0..k {
                let (theta, inv) = (&self.theta[c], &inv_var[c]);
                let mut distance = 0.0;
                for (j, v) in row.iter().enumerate() {
                    let d = v - theta[j];
                    distance += d * d * inv[j];
                }
                joint[c] = base[c] - 0.5 * distance;
            }
            let max = joint.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let log_sum = max + joint.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            joint.mapv_inplace(|l| l - log_sum);
        }
        out
    }
}

/// Fits the per-class statistics in two passes over the rows (means, then squared
/// deviations), weighting rows by `train.weights` when given.
pub(crate) fn fit(params: &NaiveBayesParams, train: &TrainSet) -> Result<NaiveBayesModel> {
    let TargetRef::Classes { labels, n_classes } = train.y else {
        return Err(AutotabError::fit(
            Algorithm::GaussianNaiveBayes,
            "needs class labels",
        ));
    };
    let x = train.x;
    let d = x.ncols();
    if let Some(w) = train.weights {
        if w.len() != labels.len() || w.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(AutotabError::fit(
                Algorithm::GaussianNaiveBayes,
                "sample weights must be one finite, non-negative number per row",
            ));
        }
    }
    let weight = |i: usize| train.weights.map_or(1.0, |w| w[i]);
    let classes = present_classes(labels);
    let mut slot = vec![usize::MAX; n_classes.max(classes.last().map_or(0, |c| c + 1))];
    for (c, &class) in classes.iter().enumerate() {
        slot[class] = c;
    }
    let k = classes.len();
    let mut count = vec![0.0; k];
    let mut theta = vec![vec![0.0; d]; k];
    for (i, row) in x.rows().into_iter().enumerate() {
        let (c, w) = (slot[labels[i]], weight(i));
        count[c] += w;
        for (sum, v) in theta[c].iter_mut().zip(row) {
            *sum += w * v;
        }
    }
    if count.iter().any(|&n| n <= 0.0) {
        return Err(AutotabError::fit(
            Algorithm::GaussianNaiveBayes,
            "a class present in the labels has zero total weight",
        ));
    }
    for (mean, n) in theta.iter_mut().zip(&count) {
        mean.iter_mut().for_each(|m| *m /= n);
    }
    let mut var = vec![vec![0.0; d]; k];
    for (i, row) in x.rows().into_iter().enumerate() {
        let (c, w) = (slot[labels[i]], weight(i));
        for ((sum, v), m) in var[c].iter_mut().zip(row).zip(&theta[c]) {
            *sum += w * (v - m) * (v - m);
        }
    }
    // scikit-learn: epsilon = var_smoothing * the largest (unweighted) feature variance. When
    // every feature is constant that is zero; the scale then falls back to 1 so that variances
    // stay positive.
    let largest_variance = x
        .columns()
        .into_iter()
        .map(|col| {
            let mean = col.sum() / col.len().max(1) as f64;
            col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / col.len().max(1) as f64
        })
        .fold(0.0, f64::max);
    let scale = if largest_variance > 0.0 {
        largest_variance
    } else {
        1.0
    };
    let epsilon = params.var_smoothing * scale;
    for (v, n) in var.iter_mut().zip(&count) {
        v.iter_mut().for_each(|s| *s = *s / n + epsilon);
    }
    let total: f64 = count.iter().sum();
    Ok(NaiveBayesModel {
        classes,
        n_classes,
        log_prior: count.iter().map(|n| (n / total).ln()).collect(),
        theta,
        var,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        var_smoothing: f64,
        x_train: Vec<Vec<f64>>,
        y_train: Vec<usize>,
        weights: Option<Vec<f64>>,
        x_test: Vec<Vec<f64>>,
        predict_proba: Vec<Vec<f64>>,
        predict_log_proba: Vec<Vec<f64>>,
    }

    fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
        Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
    }

    fn fit_on(x: &Array2<f64>, labels: &[usize], n_classes: usize) -> NaiveBayesModel {
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes { labels, n_classes },
            weights: None,
            binned: None,
        };
        fit(&NaiveBayesParams::default(), &train).unwrap()
    }

    #[test]
    fn matches_scikit_learn_gaussian_nb() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/naive_bayes/sklearn_gaussian_nb.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture.cases.len(), 3);
        for case in &fixture.cases {
            let x = matrix(&case.x_train);
            let train = TrainSet {
                x: x.view(),
                y: TargetRef::Classes {
                    labels: &case.y_train,
                    n_classes: 3,
                },
                weights: case.weights.as_deref(),
                binned: None,
            };
            let params = NaiveBayesParams {
                var_smoothing: case.var_smoothing,
            };
            let model = fit(&params, &train).unwrap();
            let x_test = matrix(&case.x_test);
            let proba = model.predict(x_test.view());
            let log_proba = model.predict_log_proba(x_test.view());
            for (i, expected) in case.predict_proba.iter().enumerate() {
                for (c, want) in expected.iter().enumerate() {
                    let got = proba[[i, c]];
                    assert!(
                        (got - want).abs() <= 1e-9,
                        "{}: row {i} class {c}: {got} vs scikit-learn {want}",
                        case.name
                    );
                    let (got, want) = (log_proba[[i, c]], case.predict_log_proba[i][c]);
                    assert!(
                        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                        "{}: row {i} class {c}: log {got} vs scikit-learn {want}",
                        case.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_constant_feature_and_an_absent_class_give_finite_probabilities() {
        // Column 1 is constant; class 1 of 3 never occurs.
        let x = ndarray::array![
            [0.0, 5.0],
            [0.2, 5.0],
            [0.1, 5.0],
            [3.0, 5.0],
            [3.2, 5.0],
            [2.9, 5.0]
        ];
        let labels = [0usize, 0, 0, 2, 2, 2];
        let model = fit_on(&x, &labels, 3);
        let test = ndarray::array![[0.1, 5.0], [3.1, 5.0], [1.6, 7.0], [-40.0, -3.0]];
        let proba = model.predict(test.view());
        assert_eq!(proba.dim(), (4, 3));
        for row in proba.rows() {
            assert!(row.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
            assert!((row.sum() - 1.0).abs() < 1e-12, "{row}");
            assert_eq!(row[1], 0.0, "the absent class gets no probability");
        }
        assert!(proba[[0, 0]] > 0.99 && proba[[1, 2]] > 0.99, "{proba}");
    }

    #[test]
    fn every_feature_constant_falls_back_to_the_priors() {
        let x = Array2::from_elem((5, 3), 2.0);
        let labels = [0usize, 1, 1, 1, 0];
        let model = fit_on(&x, &labels, 2);
        let proba = model.predict(ndarray::array![[2.0, 2.0, 2.0], [9.0, 0.0, 1.0]].view());
        // The far row's equal, huge distances cancel to within their rounding.
        for row in proba.rows() {
            assert!(
                (row[0] - 0.4).abs() < 1e-4 && (row[1] - 0.6).abs() < 1e-4,
                "{row}"
            );
        }
    }

    #[test]
    fn zero_total_weight_for_a_present_class_is_an_error() {
        let x = ndarray::array![[0.0], [1.0], [2.0]];
        let labels = [0usize, 1, 1];
        let weights = [0.0, 1.0, 1.0];
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 2,
            },
            weights: Some(&weights),
            binned: None,
        };
        let err = fit(&NaiveBayesParams::default(), &train).unwrap_err();
        assert!(err.to_string().contains("zero total weight"), "{err}");
    }
}
