//! k nearest neighbours on standardised features (smartcore, cover-tree search).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};
use smartcore::neighbors::KNNWeightFunction;

use super::params::{choice_param, hyperparams};
use super::scaler::Standardizer;
use super::smartcore_glue::{labels_u32, to_dense};
use super::{expand_classes, present_classes, Algorithm, TargetRef, TrainSet};
use crate::error::{AutotabError, Result};

choice_param! {
    /// How the neighbours' votes count.
    pub enum KnnWeights {
        /// Every neighbour counts the same.
        Uniform = "uniform",
        /// Nearer neighbours count more (inverse distance).
        Distance = "distance",
    }
}

hyperparams! {
    /// k nearest neighbours' hyperparameters.
    pub struct KnnParams {
        /// Number of neighbours (capped at the number of training rows).
        n_neighbors: usize = int(1, 100, log), default 5, low_cost 5;
        /// How their votes are weighted.
        weights: KnnWeights = choice, default KnnWeights::Uniform, low_cost KnnWeights::Uniform;
    }
}

type Classifier = KNNClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>, Euclidian<f64>>;
type Regressor = KNNRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>, Euclidian<f64>>;

/// The neighbour index, by task.
#[derive(Debug, Serialize, Deserialize)]
enum Index {
    Classifier {
        model: Box<Classifier>,
        present: Vec<usize>,
        n_classes: usize,
    },
    Regressor(Box<Regressor>),
}

/// A fitted k-NN model: the scaler and the smartcore index over the training rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct KnnModel {
    scaler: Standardizer,
    index: Index,
}

impl KnnModel {
    pub(crate) fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    pub(crate) fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let dense = to_dense(self.scaler.transform(x).view())?;
        let fail = |e: smartcore::error::Failed| AutotabError::Predict(e.to_string());
        match &self.index {
            Index::Classifier {
                model,
                present,
                n_classes,
            } => {
                let rows = model.predict_proba(&dense).map_err(fail)?;
                let width = present.len();
                let scores = Array2::from_shape_fn((rows.len(), width), |(i, j)| {
                    rows[i].get(j).copied().unwrap_or(0.0)
                });
                Ok(expand_classes(present, &scores, *n_classes))
            }
            Index::Regressor(model) => {
                let values = model.predict(&dense).map_err(fail)?;
                Array2::from_shape_vec((values.len(), 1), values)
                    .map_err(|e| AutotabError::Predict(e.to_string()))
            }
        }
    }
}

pub(crate) fn fit(params: &KnnParams, train: &TrainSet) -> Result<KnnModel> {
    let scaler = Standardizer::fit(train.x);
    let dense = to_dense(scaler.transform(train.x).view())?;
    let k = params.n_neighbors.min(train.x.nrows());
    let weight = match params.weights {
        KnnWeights::Distance => KNNWeightFunction::Distance,
        KnnWeights::Uniform => KNNWeightFunction::Uniform,
    };
    let fail = |e: smartcore::error::Failed| AutotabError::fit(Algorithm::KNearestNeighbors, e);
    let index = match train.y {
        TargetRef::Classes { labels, n_classes } => {
            let parameters = KNNClassifierParameters::default()
                .with_k(k)
                .with_weight(weight);
            let model = Classifier::fit(&dense, &labels_u32(labels), parameters).map_err(fail)?;
            Index::Classifier {
                model: Box::new(model),
                present: present_classes(labels),
                n_classes,
            }
        }
        TargetRef::Values(y) => {
            let parameters = KNNRegressorParameters::default()
                .with_k(k)
                .with_weight(weight);
            Index::Regressor(Box::new(
                Regressor::fit(&dense, &y.to_vec(), parameters).map_err(fail)?,
            ))
        }
    };
    Ok(KnnModel { scaler, index })
}
