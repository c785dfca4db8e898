//! k nearest neighbours on standardised features (smartcore, cover-tree search).
//!
//! Fitting only builds the index; the cost is in the neighbour searches of prediction, which
//! grow with the rows predicted times the rows indexed. Prediction therefore runs in blocks of
//! rows and, given a deadline ([`KnnModel::predict_before`]), checks it between blocks and
//! stops with a budget error once the searches done so far project past it. Under a deadline
//! the index itself is first built on two samples of the rows and built on all of them only
//! when the measured growth, extrapolated, ends in time.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};
use smartcore::neighbors::KNNWeightFunction;

use super::deadline::Deadline;
use super::params::{choice_param, hyperparams};
use super::scaler::Standardizer;
use super::smartcore_glue::{labels_u32, to_dense};
use super::{expand_classes, present_classes, Algorithm, FitContext, TargetRef, TrainSet};
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

    /// Predicts `x` in blocks of rows; with a deadline, stops with a budget error before a
    /// block whose projected cost (the mean of the blocks so far) would end past it.
    pub(crate) fn predict_before(
        &self,
        x: ArrayView2<f64>,
        deadline: Option<Instant>,
    ) -> Result<Array2<f64>> {
        let deadline = Deadline::new(deadline, Algorithm::KNearestNeighbors);
        deadline.check("before predicting")?;
        let width = match &self.index {
            Index::Classifier { n_classes, .. } => *n_classes,
            Index::Regressor(_) => 1,
        };
        let mut out = Array2::zeros((x.nrows(), width));
        let started = Instant::now();
        let mut start = 0;
        let mut block = FIRST_BLOCK_ROWS;
        while start < x.nrows() {
            let end = (start + block).min(x.nrows());
            block = (block * 2).min(MAX_BLOCK_ROWS);
            if start > 0 {
                let per_row = started.elapsed().as_secs_f64() / start as f64;
                deadline.afford(
                    per_row * (end - start) as f64,
                    &format!(
                        "neighbour searches of rows {}..{} of {}",
                        start + 1,
                        end,
                        x.nrows()
                    ),
                )?;
            }
            let part = self.predict_block(x.slice_axis(Axis(0), (start..end).into()))?;
            out.slice_axis_mut(Axis(0), (start..end).into())
                .assign(&part);
            start = end;
        }
        Ok(out)
    }

    fn predict_block(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
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

/// Rows of the first block of prediction, which measures the cost of a row; each later block
/// doubles, up to [`MAX_BLOCK_ROWS`] (deadline checks fall between blocks).
const FIRST_BLOCK_ROWS: usize = 16;
/// Most rows per block of prediction.
const MAX_BLOCK_ROWS: usize = 1024;

/// Fewest rows of the smaller probe sample; smaller tables build their index without probing.
const PROBE_MIN_ROWS: usize = 100;

pub(crate) fn fit(params: &KnnParams, train: &TrainSet, ctx: &FitContext) -> Result<KnnModel> {
    let deadline = Deadline::new(ctx.deadline, Algorithm::KNearestNeighbors);
    deadline.check("before building the index")?;
    let scaler = Standardizer::fit(train.x);
    let z = scaler.transform(train.x);
    if deadline.is_bounded() {
        // The cover tree's build cannot be interrupted: time it on samples first.
        let n = z.nrows();
        let projected =
            deadline.project_from_samples(n, (32, 8), PROBE_MIN_ROWS, (1.0, 1.5), |rows| {
                let sample = crate::validation::subsample_rows(n, rows, ctx.seed);
                let part = z.select(Axis(0), &sample);
                let y = train.y.select(&sample);
                let started = Instant::now();
                build_index(params, part.view(), y.as_ref())?;
                Ok(Some(started.elapsed().as_secs_f64()))
            })?;
        if let Some(seconds) = projected {
            deadline.afford(seconds, &format!("the neighbour index of {n} rows"))?;
        }
    }
    let index = build_index(params, z.view(), train.y)?;
    Ok(KnnModel { scaler, index })
}

/// The smartcore index of the standardised rows `z`.
fn build_index(params: &KnnParams, z: ArrayView2<f64>, y: TargetRef) -> Result<Index> {
    let dense = to_dense(z)?;
    let k = params.n_neighbors.min(z.nrows());
    let weight = match params.weights {
        KnnWeights::Distance => KNNWeightFunction::Distance,
        KnnWeights::Uniform => KNNWeightFunction::Uniform,
    };
    let fail = |e: smartcore::error::Failed| AutotabError::fit(Algorithm::KNearestNeighbors, e);
    Ok(match y {
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
    })
}
