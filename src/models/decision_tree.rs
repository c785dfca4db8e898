//! A single CART decision tree (smartcore).
//!
//! smartcore's fit cannot be interrupted; under a deadline on a large table, the tree is first
//! grown on a thirty-second and an eighth of the rows, and grown on all rows only when the
//! measured growth (clamped to between linear and the power 1.5 of the rows), extrapolated to
//! all rows, ends before the deadline. The probes only decide whether to go on.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use super::deadline::Deadline;
use super::params::{choice_param, hyperparams};
use super::smartcore_glue::{from_dense, labels_u32, to_dense};
use super::{expand_classes, present_classes, Algorithm, FitContext, TargetRef, TrainSet};
use crate::error::{AutotabError, Result};

choice_param! {
    /// How a classification tree scores a split.
    pub enum TreeCriterion {
        /// Gini impurity.
        Gini = "gini",
        /// Entropy (information gain).
        Entropy = "entropy",
    }
}

hyperparams! {
    /// The decision tree's hyperparameters.
    pub struct DecisionTreeParams {
        /// Largest depth.
        max_depth: usize = int(2, 30), default 10, low_cost 4;
        /// Fewest rows in a leaf (a split needs twice as many).
        min_samples_leaf: usize = int(1, 100, log), default 1, low_cost 10;
        /// Split criterion (classification only).
        criterion: TreeCriterion = choice, default TreeCriterion::Gini, low_cost TreeCriterion::Gini;
    }
}

type Classifier = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;
type Regressor = DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// A fitted decision tree.
#[derive(Debug, Serialize, Deserialize)]
pub enum TreeModel {
    /// Classification tree with the classes it saw.
    Classifier {
        /// The smartcore tree.
        tree: Box<Classifier>,
        /// Class indices present in training, in smartcore's column order.
        present: Vec<usize>,
        /// Number of classes of the problem.
        n_classes: usize,
        /// Number of input features.
        n_features: usize,
    },
    /// Regression tree.
    Regressor {
        /// The smartcore tree.
        tree: Box<Regressor>,
        /// Number of input features.
        n_features: usize,
    },
}

impl TreeModel {
    pub(crate) fn n_features(&self) -> usize {
        match self {
            TreeModel::Classifier { n_features, .. } | TreeModel::Regressor { n_features, .. } => {
                *n_features
            }
        }
    }

    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let dense = to_dense(x)?;
        match self {
            TreeModel::Classifier {
                tree,
                present,
                n_classes,
                ..
            } => {
                let proba = tree
                    .predict_proba(&dense)
                    .map_err(|e| AutotabError::Predict(e.to_string()))?;
                Ok(expand_classes(present, &from_dense(&proba), *n_classes))
            }
            TreeModel::Regressor { tree, .. } => {
                let values = tree
                    .predict(&dense)
                    .map_err(|e| AutotabError::Predict(e.to_string()))?;
                Ok(Array2::from_shape_vec((values.len(), 1), values)
                    .map_err(|e| AutotabError::Predict(e.to_string()))?)
            }
        }
    }
}

/// Fewest rows of the smaller probe sample; smaller tables are fitted without probing.
const PROBE_MIN_ROWS: usize = 100;

pub(crate) fn fit(
    params: &DecisionTreeParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<TreeModel> {
    let deadline = Deadline::new(ctx.deadline, Algorithm::DecisionTree);
    deadline.check("before training")?;
    if deadline.is_bounded() {
        let n = train.x.nrows();
        let projected =
            deadline.project_from_samples(n, (32, 8), PROBE_MIN_ROWS, (1.0, 1.5), |rows| {
                let sample = crate::validation::subsample_rows(n, rows, ctx.seed);
                let x = train.x.select(Axis(0), &sample);
                let y = train.y.select(&sample);
                let part = TrainSet {
                    x: x.view(),
                    y: y.as_ref(),
                    weights: None,
                    binned: None,
                };
                let started = Instant::now();
                fit_tree(params, &part, ctx.seed)?;
                Ok(Some(started.elapsed().as_secs_f64()))
            })?;
        if let Some(seconds) = projected {
            deadline.afford(seconds, &format!("the tree on {n} rows"))?;
        }
    }
    fit_tree(params, train, ctx.seed)
}

/// Grows the tree on `train`.
fn fit_tree(params: &DecisionTreeParams, train: &TrainSet, seed: u64) -> Result<TreeModel> {
    let dense = to_dense(train.x)?;
    let max_depth = u16::try_from(params.max_depth).unwrap_or(u16::MAX);
    let min_leaf = params.min_samples_leaf;
    let fail = |e: smartcore::error::Failed| AutotabError::fit(Algorithm::DecisionTree, e);
    match train.y {
        TargetRef::Classes { labels, n_classes } => {
            let criterion = match params.criterion {
                TreeCriterion::Entropy => SplitCriterion::Entropy,
                TreeCriterion::Gini => SplitCriterion::Gini,
            };
            let parameters = DecisionTreeClassifierParameters {
                criterion,
                max_depth: Some(max_depth),
                min_samples_leaf: min_leaf,
                min_samples_split: 2 * min_leaf,
                seed: Some(seed),
            };
            let tree = Classifier::fit(&dense, &labels_u32(labels), parameters).map_err(fail)?;
            Ok(TreeModel::Classifier {
                tree: Box::new(tree),
                present: present_classes(labels),
                n_classes,
                n_features: train.x.ncols(),
            })
        }
        TargetRef::Values(y) => {
            let parameters = DecisionTreeRegressorParameters {
                max_depth: Some(max_depth),
                min_samples_leaf: min_leaf,
                min_samples_split: 2 * min_leaf,
                seed: Some(seed),
            };
            let tree = Regressor::fit(&dense, &y.to_vec(), parameters).map_err(fail)?;
            Ok(TreeModel::Regressor {
                tree: Box::new(tree),
                n_features: train.x.ncols(),
            })
        }
    }
}
