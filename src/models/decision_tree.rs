//! A single CART decision tree (smartcore).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

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

pub(crate) fn fit(
    params: &DecisionTreeParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<TreeModel> {
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
                seed: Some(ctx.seed),
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
                seed: Some(ctx.seed),
            };
            let tree = Regressor::fit(&dense, &y.to_vec(), parameters).map_err(fail)?;
            Ok(TreeModel::Regressor {
                tree: Box::new(tree),
                n_features: train.x.ncols(),
            })
        }
    }
}
