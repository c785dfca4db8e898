//! k nearest neighbours on standardised features: an exact brute-force search.
//!
//! smartcore's cover tree took seconds where a brute-force search takes milliseconds on the
//! tables autotab sees (one-hot encoding gives hundreds of dimensions, where a tree index
//! prunes nothing), so the search is written here: the squared distances of a block of query
//! rows to every training row come from one matrix product (`|a|^2 + |b|^2 - 2 a.b`), and each
//! row keeps its `k` nearest by partial selection. Fitting stores the standardised rows.
//! Prediction runs in blocks of rows and, given a deadline ([`KnnModel::predict_before`]),
//! checks it between blocks and stops with a budget error once the searches done so far
//! project past it.

use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::deadline::Deadline;
use super::params::{choice_param, hyperparams};
use super::scaler::Standardizer;
use super::{positions_among_present, present_classes, Algorithm, FitContext, TargetRef, TrainSet};
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

/// What the neighbours vote on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Votes {
    /// Class labels, as indices into `present` (the classes seen in training).
    Classes {
        labels: Vec<usize>,
        present: Vec<usize>,
        n_classes: usize,
    },
    /// Numeric targets.
    Values(Vec<f64>),
}

/// A fitted k-NN model: the scaler, the standardised training rows and their targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnModel {
    scaler: Standardizer,
    /// Standardised training rows.
    rows: Array2<f64>,
    /// Their squared norms.
    norms: Array1<f64>,
    votes: Votes,
    k: usize,
    /// Inverse-distance votes (else every neighbour counts the same).
    distance_weighted: bool,
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
        let width = match &self.votes {
            Votes::Classes { n_classes, .. } => *n_classes,
            Votes::Values(_) => 1,
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
            let part = self.predict_block(x.slice_axis(Axis(0), (start..end).into()));
            out.slice_axis_mut(Axis(0), (start..end).into())
                .assign(&part);
            start = end;
        }
        Ok(out)
    }

    /// The outputs of one block of query rows.
    fn predict_block(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let q = self.scaler.transform(x);
        let q_norms: Vec<f64> = q.rows().into_iter().map(|r| r.dot(&r)).collect();
        // Squared distances, query rows x training rows.
        let cross = q.dot(&self.rows.t());
        let width = match &self.votes {
            Votes::Classes { n_classes, .. } => *n_classes,
            Votes::Values(_) => 1,
        };
        let mut out = Array2::zeros((x.nrows(), width));
        let mut order: Vec<(f64, usize)> = Vec::with_capacity(self.rows.nrows());
        for (i, cross_row) in cross.rows().into_iter().enumerate() {
            order.clear();
            order.extend(
                cross_row
                    .iter()
                    .zip(&self.norms)
                    .enumerate()
                    .map(|(j, (c, n))| {
                        // Rounding leaves a trace of the norms where the rows are equal.
                        let d2 = q_norms[i] + n - 2.0 * c;
                        let exact = d2 <= 1e-12 * (q_norms[i] + n);
                        (if exact { 0.0 } else { d2 }, j)
                    }),
            );
            let k = self.k.min(order.len());
            if k < order.len() {
                order.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
            let nearest = &order[..k];
            let weights = vote_weights(nearest, self.distance_weighted);
            match &self.votes {
                Votes::Classes {
                    labels,
                    present,
                    n_classes: _,
                } => {
                    let total: f64 = weights.iter().sum();
                    for ((_, j), w) in nearest.iter().zip(&weights) {
                        out[[i, present[labels[*j]]]] += w / total;
                    }
                }
                Votes::Values(values) => {
                    let total: f64 = weights.iter().sum();
                    out[[i, 0]] = nearest
                        .iter()
                        .zip(&weights)
                        .map(|((_, j), w)| values[*j] * w)
                        .sum::<f64>()
                        / total;
                }
            }
        }
        out
    }
}

/// Each neighbour's vote: 1, or the inverse of its distance; neighbours at distance zero,
/// when there are any, take the whole vote (as scikit-learn does).
fn vote_weights(nearest: &[(f64, usize)], distance_weighted: bool) -> Vec<f64> {
    match distance_weighted {
        false => vec![1.0; nearest.len()],
        true => {
            if nearest.iter().any(|(d2, _)| *d2 == 0.0) {
                nearest
                    .iter()
                    .map(|(d2, _)| if *d2 == 0.0 { 1.0 } else { 0.0 })
                    .collect()
            } else {
                nearest.iter().map(|(d2, _)| 1.0 / d2.sqrt()).collect()
            }
        }
    }
}

/// Rows of the first block of prediction, which measures the cost of a row; each later block
/// doubles, up to [`MAX_BLOCK_ROWS`] (deadline checks fall between blocks).
const FIRST_BLOCK_ROWS: usize = 16;
/// Most rows per block of prediction.
const MAX_BLOCK_ROWS: usize = 1024;

pub(crate) fn fit(params: &KnnParams, train: &TrainSet, ctx: &FitContext) -> Result<KnnModel> {
    let deadline = Deadline::new(ctx.deadline, Algorithm::KNearestNeighbors);
    deadline.check("before storing the rows")?;
    if train.x.nrows() == 0 {
        return Err(AutotabError::fit(
            Algorithm::KNearestNeighbors,
            "no training rows",
        ));
    }
    let scaler = Standardizer::fit(train.x);
    let rows = scaler.transform(train.x);
    let norms = rows.rows().into_iter().map(|r| r.dot(&r)).collect();
    let votes = match train.y {
        TargetRef::Classes { labels, n_classes } => {
            let present = present_classes(labels);
            Votes::Classes {
                labels: positions_among_present(labels, &present),
                present,
                n_classes,
            }
        }
        TargetRef::Values(y) => Votes::Values(y.to_vec()),
    };
    Ok(KnnModel {
        scaler,
        rows,
        norms,
        votes,
        k: params.n_neighbors.max(1),
        distance_weighted: params.weights == KnnWeights::Distance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// The neighbours by a plain sort over every training row, for comparison.
    fn by_sorting(z: &Array2<f64>, q: ArrayView2<f64>, k: usize) -> Vec<Vec<usize>> {
        q.rows()
            .into_iter()
            .map(|row| {
                let mut d: Vec<(f64, usize)> = z
                    .rows()
                    .into_iter()
                    .enumerate()
                    .map(|(j, r)| ((&r - &row).mapv(|v| v * v).sum(), j))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d.into_iter().take(k).map(|(_, j)| j).collect()
            })
            .collect()
    }

    #[test]
    fn regression_averages_the_true_nearest_rows() {
        // Irrational-ish coordinates: no two distances tie.
        let x = Array2::from_shape_fn((60, 3), |(i, j)| {
            ((i as f64 + 1.0) * (j as f64 + 2.0).sqrt()).sin() * 10.0
        });
        let y: Vec<f64> = (0..60).map(|i| i as f64).collect();
        let params = KnnParams {
            n_neighbors: 4,
            weights: KnnWeights::Uniform,
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Values(&y),
            weights: None,
            binned: None,
        };
        let model = fit(&params, &train, &FitContext::unbounded()).unwrap();
        let queries =
            Array2::from_shape_fn((25, 3), |(i, j)| ((i * 3 + j) as f64 * 0.77).cos() * 9.0);
        let pred = model.predict_before(queries.view(), None).unwrap();
        let z = model.scaler.transform(x.view());
        let qz = model.scaler.transform(queries.view());
        for (i, nearest) in by_sorting(&z, qz.view(), 4).into_iter().enumerate() {
            let mean = nearest.iter().map(|&j| y[j]).sum::<f64>() / 4.0;
            assert!(
                (pred[[i, 0]] - mean).abs() < 1e-9,
                "row {i}: {} vs {mean}",
                pred[[i, 0]]
            );
        }
    }

    #[test]
    fn distance_votes_give_an_exact_match_the_whole_vote() {
        let x = array![[0.0, 0.0], [1.0, 1.0], [1.1, 0.9], [5.0, 5.0]];
        let labels = [0usize, 1, 1, 2];
        let params = KnnParams {
            n_neighbors: 3,
            weights: KnnWeights::Distance,
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 4,
            },
            weights: None,
            binned: None,
        };
        let model = fit(&params, &train, &FitContext::unbounded()).unwrap();
        let proba = model.predict_before(x.view(), None).unwrap();
        assert_eq!(proba.row(0).to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(proba.row(3).to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
        // Class 3 was never seen: its column stays zero; rows sum to one.
        for row in proba.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert_eq!(row[3], 0.0);
        }
    }

    #[test]
    fn uniform_votes_count_the_k_nearest_classes() {
        let x = array![[0.0], [0.1], [0.2], [10.0], [10.1]];
        let labels = [0usize, 0, 1, 1, 1];
        let params = KnnParams {
            n_neighbors: 3,
            weights: KnnWeights::Uniform,
        };
        let train = TrainSet {
            x: x.view(),
            y: TargetRef::Classes {
                labels: &labels,
                n_classes: 2,
            },
            weights: None,
            binned: None,
        };
        let model = fit(&params, &train, &FitContext::unbounded()).unwrap();
        let proba = model.predict_before(array![[0.05]].view(), None).unwrap();
        assert!((proba[[0, 0]] - 2.0 / 3.0).abs() < 1e-12);
        assert!((proba[[0, 1]] - 1.0 / 3.0).abs() < 1e-12);
    }
}
