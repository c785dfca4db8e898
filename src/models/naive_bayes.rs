//! Gaussian naive Bayes: class means and variances estimated by smartcore; probabilities
//! computed here from those statistics (smartcore predicts labels only).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::naive_bayes::gaussian::{GaussianNB, GaussianNBParameters};

use super::params::hyperparams;
use super::smartcore_glue::{labels_u32, to_dense};
use super::{Algorithm, TargetRef, TrainSet};
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
    classes: Vec<usize>,
    n_classes: usize,
    log_prior: Vec<f64>,
    theta: Vec<Vec<f64>>,
    var: Vec<Vec<f64>>,
}

impl NaiveBayesModel {
    pub(crate) fn n_features(&self) -> usize {
        self.theta.first().map(|t| t.len()).unwrap_or(0)
    }

    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        let mut joint = vec![0.0; self.classes.len()];
        for (i, row) in x.rows().into_iter().enumerate() {
            for (c, slot) in joint.iter_mut().enumerate() {
                let mut ll = self.log_prior[c];
                for (j, v) in row.iter().enumerate() {
                    let var = self.var[c][j];
                    ll -= 0.5
                        * ((2.0 * std::f64::consts::PI * var).ln()
                            + (v - self.theta[c][j]).powi(2) / var);
                }
                *slot = ll;
            }
            let max = joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = joint.iter().map(|l| (l - max).exp()).sum();
            for (c, l) in joint.iter().enumerate() {
                out[[i, self.classes[c]]] = (l - max).exp() / sum;
            }
        }
        out
    }
}

pub(crate) fn fit(params: &NaiveBayesParams, train: &TrainSet) -> Result<NaiveBayesModel> {
    let TargetRef::Classes { labels, n_classes } = train.y else {
        return Err(AutotabError::fit(
            Algorithm::GaussianNaiveBayes,
            "needs class labels",
        ));
    };
    let dense = to_dense(train.x)?;
    let model: GaussianNB<f64, u32, DenseMatrix<f64>, Vec<u32>> =
        GaussianNB::fit(&dense, &labels_u32(labels), GaussianNBParameters::default())
            .map_err(|e| AutotabError::fit(Algorithm::GaussianNaiveBayes, e))?;
    let max_var = train
        .x
        .columns()
        .into_iter()
        .map(|c| {
            let m = c.mean().unwrap_or(0.0);
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / c.len().max(1) as f64
        })
        .fold(0.0, f64::max);
    let epsilon = params.var_smoothing * max_var.max(1e-12);
    Ok(NaiveBayesModel {
        classes: model.classes().iter().map(|&c| c as usize).collect(),
        n_classes,
        log_prior: model
            .class_priors()
            .iter()
            .map(|p| p.max(1e-300).ln())
            .collect(),
        theta: model.theta().clone(),
        var: model
            .var()
            .iter()
            .map(|row| row.iter().map(|v| v + epsilon).collect())
            .collect(),
    })
}
