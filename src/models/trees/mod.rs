//! Native histogram tree core: gradient boosting, random forest and extra trees.
//!
//! Features are quantised once into a [`BinnedData`] (at most 255 value bins per feature, NaN
//! in its own bin), shared read-only by every trial on a fold. One histogram learner grows all
//! trees: gradient/hessian histograms per leaf, the larger child by subtraction, leaf-wise
//! (boosting) or depth-first (forests) growth, learned missing-value direction, parallel over
//! features on rayon's current pool. Fitted models keep raw `f64` thresholds in flat node
//! arrays, so they predict from raw feature matrices.
//!
//! - [`train_gbm`] fits a [`GbmModel`] (log-loss, softmax, L2, Huber, L1) with early stopping,
//!   a deadline and warm start ([`GbmModel::continue_training`]).
//! - [`train_forest`] fits a [`ForestModel`] (random forest, or extra trees with
//!   [`ForestParams::extra_trees_defaults`]).

mod binning;
mod forest;
mod gbm;
mod learner;
mod tree;

pub use binning::BinnedData;
pub use forest::{train_forest, ForestModel, ForestParams};
pub use gbm::{train_gbm, GbmLoss, GbmModel, GbmParams};
pub(crate) use tree::Tree;

use crate::error::{AutotabError, Result};

/// The training target of a tree model.
#[derive(Debug, Clone, Copy)]
pub enum TreeTarget<'a> {
    /// Class indices in `0..n_classes`, one per row.
    Classes {
        /// The class of each row.
        labels: &'a [usize],
        /// Number of classes (at least 2).
        n_classes: usize,
    },
    /// A real value per row (regression).
    Values(&'a [f64]),
}

impl TreeTarget<'_> {
    /// Checks the target against `n_rows` rows; `what` names the data in messages.
    fn check(&self, n_rows: usize, what: &str) -> Result<()> {
        match *self {
            TreeTarget::Classes { labels, n_classes } => {
                if n_classes < 2 {
                    return Err(AutotabError::data(format!(
                        "{what}: a classification target needs at least 2 classes, got {n_classes}"
                    )));
                }
                if labels.len() != n_rows {
                    return Err(AutotabError::data(format!(
                        "{what}: {} labels for {n_rows} rows",
                        labels.len()
                    )));
                }
                if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l >= n_classes) {
                    return Err(AutotabError::data(format!(
                        "{what}: label {l} of row {i} is not a class index below {n_classes}"
                    )));
                }
            }
            TreeTarget::Values(v) => {
                if v.len() != n_rows {
                    return Err(AutotabError::data(format!(
                        "{what}: {} target values for {n_rows} rows",
                        v.len()
                    )));
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(AutotabError::data(format!(
                        "{what}: target value of row {i} is {}, expected a finite number",
                        v[i]
                    )));
                }
            }
        }
        Ok(())
    }

    /// Number of classes, or `None` for regression.
    fn n_classes(&self) -> Option<usize> {
        match *self {
            TreeTarget::Classes { n_classes, .. } => Some(n_classes),
            TreeTarget::Values(_) => None,
        }
    }
}

/// Checks sample weights: one per row, finite, non-negative, with a positive sum.
/// Checks a learner's training inputs: some rows, one target and (optional) weight per row.
/// Returns the number of rows.
fn check_training(
    algorithm: &str,
    train: &BinnedData,
    y: &TreeTarget,
    weights: Option<&[f64]>,
) -> Result<usize> {
    let n = train.n_rows();
    if n == 0 {
        return Err(AutotabError::fit(
            algorithm,
            "the training data has no rows",
        ));
    }
    y.check(n, "training target")?;
    check_weights(weights, n)?;
    Ok(n)
}

fn check_weights(weights: Option<&[f64]>, n_rows: usize) -> Result<()> {
    let Some(w) = weights else { return Ok(()) };
    if w.len() != n_rows {
        return Err(AutotabError::data(format!(
            "sample weights: {} weights for {n_rows} rows",
            w.len()
        )));
    }
    if let Some(i) = w.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(AutotabError::data(format!(
            "sample weights: weight of row {i} is {}, expected a finite number >= 0",
            w[i]
        )));
    }
    if w.iter().sum::<f64>() <= 0.0 {
        return Err(AutotabError::data("sample weights: all weights are zero"));
    }
    Ok(())
}

/// Rows of a feature matrix as one contiguous row-major slice (copied only if needed).
fn row_major(x: ndarray::ArrayView2<'_, f64>) -> ndarray::CowArray<'_, f64, ndarray::Ix2> {
    if x.is_standard_layout() {
        ndarray::CowArray::from(x)
    } else {
        ndarray::CowArray::from(x.as_standard_layout().into_owned())
    }
}

#[cfg(test)]
mod tests;
