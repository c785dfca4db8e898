//! Random forest and extra trees on the histogram learner.

use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::{mix, BinnedData};
use super::learner::{Growth, Learner, LearnerConfig, Signal};
use super::tree::Tree;
use super::{check_training, row_major, TreeTarget};
use crate::error::{AutotabError, Result};

const ALGORITHM: &str = "random forest";

/// Rows per parallel prediction task.
const PREDICT_CHUNK: usize = 256;

/// Hyperparameters of a random forest or extra-trees ensemble. [`Default`] is a random forest
/// (scikit-learn's defaults); [`ForestParams::extra_trees_defaults`] the extra-trees variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees.
    pub n_estimators: usize,
    /// Fraction of the features tried at each node, in `(0, 1]`; `0` means automatic:
    /// `sqrt(n_features)` features for classification, all for regression.
    pub max_features: f64,
    /// Largest depth of a tree (`None`: unlimited).
    pub max_depth: Option<usize>,
    /// Fewest rows in a leaf.
    pub min_samples_leaf: usize,
    /// Train each tree on a bootstrap sample of the rows.
    pub bootstrap: bool,
    /// One random threshold per feature and node (extra trees) instead of the best one.
    pub extra_trees: bool,
    /// Largest number of leaves per tree (`None`: unlimited). With a limit, trees grow best
    /// leaf first; without, depth first.
    pub max_leaves: Option<usize>,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            max_features: 0.0,
            max_depth: None,
            min_samples_leaf: 1,
            bootstrap: true,
            extra_trees: false,
            max_leaves: None,
        }
    }
}

impl ForestParams {
    /// Extra trees: random thresholds, no bootstrap, otherwise the defaults.
    pub fn extra_trees_defaults() -> Self {
        ForestParams {
            extra_trees: true,
            bootstrap: false,
            ..ForestParams::default()
        }
    }

    /// Checks every parameter's range.
    pub fn check(&self) -> Result<()> {
        let bad = |field: &str, expected: &str, value: String| {
            Err(AutotabError::config(format!(
                "forest parameter `{field}` is {value}, expected {expected}"
            )))
        };
        if self.n_estimators == 0 {
            return bad("n_estimators", "at least 1", "0".into());
        }
        if !(self.max_features >= 0.0 && self.max_features <= 1.0) {
            return bad(
                "max_features",
                "a fraction in (0, 1], or 0 for automatic",
                self.max_features.to_string(),
            );
        }
        if self.max_depth == Some(0) {
            return bad("max_depth", "at least 1 (or none)", "0".into());
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf", "at least 1", "0".into());
        }
        if self.max_leaves.is_some_and(|l| l < 2) {
            return bad(
                "max_leaves",
                "at least 2 (or none)",
                format!("{:?}", self.max_leaves),
            );
        }
        Ok(())
    }
}

/// A fitted random forest or extra-trees ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    /// Number of classes (0 for regression).
    n_classes: usize,
    trees: Vec<Tree>,
    n_features: usize,
}

/// Fits a random forest (or extra trees) on binned rows. Trees are grown in parallel on
/// rayon's current pool; no new tree is started past `deadline`, nor one that the last tree
/// grown on the same thread says would end after it (at least one tree is built).
/// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
/// splitting it would pass that state around on every call of the inner loop.
pub fn train_forest(
    train: &BinnedData,
    y: TreeTarget,
    weights: Option<&[f64]>,
    params: &ForestParams,
    deadline: Option<Instant>,
    seed: u64,
) -> Result<ForestModel> {
    params.check()?;
    let n = check_training(ALGORITHM, train, &y, weights)?;
    let n_features = train.n_features();
    let k = y.n_classes().unwrap_or(1);
    let max_features = if params.max_features > 0.0 {
        params.max_features
    } else if y.n_classes().is_some() {
        (n_features as f64).sqrt().floor().max(1.0) / n_features.max(1) as f64
    } else {
        1.0
    };
    let cfg = LearnerConfig {
        max_leaves: params.max_leaves.unwrap_or(usize::MAX),
        max_depth: params.max_depth,
        min_child_samples: params.min_samples_leaf,
        min_child_weight: 1e-12,
        lambda: 0.0,
        alpha: 0.0,
        min_split_gain: 0.0,
        feature_fraction_node: max_features,
        extra_trees: params.extra_trees,
        growth: if params.max_leaves.is_some() {
            Growth::BestFirst
        } else {
            Growth::DepthFirst
        },
        parallel: false,
    };
    let labels: Vec<u32> = match y {
        TreeTarget::Classes { labels, .. } => labels.iter().map(|&l| l as u32).collect(),
        TreeTarget::Values(_) => Vec::new(),
    };
    let all_features = vec![true; n_features];
    let trees: Vec<Tree> = (0..params.n_estimators)
        .into_par_iter()
        .map_init(
            || (Learner::new(cfg.clone(), train, k), None::<Duration>),
            |(learner, last), i| {
                let started = Instant::now();
                if i > 0 && deadline.is_some_and(|d| started + last.unwrap_or_default() >= d) {
                    return None;
                }
                let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(i as u64)));
                let mut w: Vec<f64> = match weights {
                    Some(w) => w.to_vec(),
                    None => vec![1.0; n],
                };
                let mut rows: Option<Vec<u32>> = None;
                if params.bootstrap {
                    let mut counts = vec![0u32; n];
                    for _ in 0..n {
                        counts[rng.gen_range(0..n)] += 1;
                    }
                    rows = Some((0..n as u32).filter(|&r| counts[r as usize] > 0).collect());
                    w.iter_mut()
                        .zip(&counts)
                        .for_each(|(wi, &c)| *wi *= c as f64);
                }
                let tree_seed: u64 = rng.gen();
                let tree = match y {
                    TreeTarget::Classes { .. } => learner.grow(
                        train,
                        rows.as_deref(),
                        Signal::Classes {
                            labels: &labels,
                            w: &w,
                            k,
                        },
                        &all_features,
                        tree_seed,
                    ),
                    TreeTarget::Values(v) => {
                        let g: Vec<f64> = v.iter().zip(&w).map(|(y, w)| -y * w).collect();
                        learner.grow(
                            train,
                            rows.as_deref(),
                            Signal::Grad { g: &g, h: &w },
                            &all_features,
                            tree_seed,
                        )
                    }
                };
                *last = Some(started.elapsed());
                Some(tree)
            },
        )
        .flatten()
        .collect();
    Ok(ForestModel {
        n_classes: y.n_classes().unwrap_or(0),
        trees,
        n_features,
    })
}

impl ForestModel {
    /// Predictions for raw feature rows: averaged leaf class frequencies (`n x k`) for
    /// classification, averaged values (`n x 1`) for regression. Absent columns read as missing.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let n = x.nrows();
        let k = self.n_outputs();
        let xs = row_major(x);
        let p = xs.ncols();
        let flat = xs.as_slice().unwrap_or(&[]);
        let scale = 1.0 / self.trees.len().max(1) as f64;
        let mut out = vec![0.0; n * k];
        out.par_chunks_mut(PREDICT_CHUNK * k)
            .enumerate()
            .for_each(|(ci, out)| {
                let first = ci * PREDICT_CHUNK;
                for t in &self.trees {
                    for (r, o) in out.chunks_mut(k).enumerate() {
                        let i = first + r;
                        let v = t.leaf_values(t.leaf_of_row(&flat[i * p..(i + 1) * p]));
                        o.iter_mut().zip(v).for_each(|(o, v)| *o += v * scale);
                    }
                }
            });
        Array2::from_shape_vec((n, k), out).unwrap_or_else(|_| Array2::zeros((n, k)))
    }

    /// Prediction for one raw row (same layout as one row of [`ForestModel::predict`]).
    pub fn predict_row(&self, row: &[f64]) -> Vec<f64> {
        let k = self.n_outputs();
        let scale = 1.0 / self.trees.len().max(1) as f64;
        let mut out = vec![0.0; k];
        for t in &self.trees {
            let v = t.leaf_values(t.leaf_of_row(row));
            out.iter_mut().zip(v).for_each(|(o, v)| *o += v * scale);
        }
        out
    }

    /// Number of output columns of [`ForestModel::predict`].
    pub fn n_outputs(&self) -> usize {
        self.n_classes.max(1)
    }

    /// Checks a decoded model before it predicts (see [`Tree`]'s checks): every tree has
    /// [`ForestModel::n_outputs`] values per leaf.
    pub fn validate(&self) -> Result<()> {
        if self.n_classes == 1 {
            return Err(AutotabError::data("forest: a classifier with 1 class"));
        }
        for (i, tree) in self.trees.iter().enumerate() {
            tree.validate(self.n_outputs(), self.n_features)
                .map_err(|e| AutotabError::data(format!("forest: tree {i}: {e}")))?;
        }
        Ok(())
    }

    /// The trees (the prediction is their average), for explanations.
    pub(crate) fn trees_for_explain(&self) -> &[Tree] {
        &self.trees
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Total impurity decrease per feature.
    pub fn feature_importance_gain(&self) -> Vec<f64> {
        self.importance().0
    }

    /// Number of splits per feature.
    pub fn feature_importance_split(&self) -> Vec<u64> {
        self.importance().1
    }

    fn importance(&self) -> (Vec<f64>, Vec<u64>) {
        super::tree::importance(&self.trees, self.n_features)
    }
}
