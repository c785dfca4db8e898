//! Gradient boosting on the histogram learner.

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::{mix, BinnedData};
use super::learner::{Growth, Learner, LearnerConfig, Signal};
use super::tree::Tree;
use super::{check_training, check_weights, row_major, TreeTarget};
use crate::error::{AutotabError, Result};

const ALGORITHM: &str = "gradient boosting";

/// Rows per parallel prediction task.
const PREDICT_CHUNK: usize = 256;

/// The loss a boosted model minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GbmLoss {
    /// Binary log-loss (two classes).
    LogLoss,
    /// Multiclass softmax: one tree per class per round.
    Softmax,
    /// Squared error.
    L2,
    /// Huber loss with [`GbmParams::huber_delta`].
    Huber,
    /// Absolute error (leaf values renewed to residual medians).
    L1,
}

impl GbmLoss {
    fn is_classification(self) -> bool {
        matches!(self, GbmLoss::LogLoss | GbmLoss::Softmax)
    }
}

/// Hyperparameters of gradient boosting. [`Default`] gives LightGBM's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbmParams {
    /// Boosting rounds.
    pub n_estimators: usize,
    /// Shrinkage applied to every tree.
    pub learning_rate: f64,
    /// Largest number of leaves per tree (leaf-wise growth).
    pub num_leaves: usize,
    /// Largest depth of a tree (`None`: unlimited).
    pub max_depth: Option<usize>,
    /// Fewest rows in a leaf.
    pub min_child_samples: usize,
    /// Smallest hessian sum in a leaf.
    pub min_child_weight: f64,
    /// L1 regularisation of leaf values.
    pub reg_alpha: f64,
    /// L2 regularisation of leaf values.
    pub reg_lambda: f64,
    /// Smallest gain a split must bring.
    pub min_split_gain: f64,
    /// Fraction of rows drawn (without replacement) for each round; 1 = no bagging.
    pub subsample: f64,
    /// Fraction of features drawn for each tree.
    pub colsample_bytree: f64,
    /// Fraction of the tree's features tried at each node.
    pub colsample_bynode: f64,
    /// Stop when the validation loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// The loss; `None` picks log-loss, softmax or L2 from the target.
    pub loss: Option<GbmLoss>,
    /// Residual size where the Huber loss turns linear.
    pub huber_delta: f64,
    /// Random thresholds instead of the best ones (LightGBM's `extra_trees`).
    pub extra_trees: bool,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            n_estimators: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            min_child_samples: 20,
            min_child_weight: 1e-3,
            reg_alpha: 0.0,
            reg_lambda: 0.0,
            min_split_gain: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bynode: 1.0,
            early_stopping_rounds: None,
            loss: None,
            huber_delta: 1.0,
            extra_trees: false,
        }
    }
}

fn bad(field: &str, expected: &str, value: impl std::fmt::Display) -> AutotabError {
    AutotabError::config(format!(
        "gradient boosting parameter `{field}` is {value}, expected {expected}"
    ))
}

fn check_fraction(field: &str, v: f64) -> Result<()> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(bad(field, "a fraction in (0, 1]", v))
    }
}

fn check_non_negative(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(bad(field, "a finite number >= 0", v))
    }
}

impl GbmParams {
    /// Checks every parameter's range.
    pub fn check(&self) -> Result<()> {
        if self.n_estimators == 0 {
            return Err(bad("n_estimators", "at least 1", 0));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(bad(
                "learning_rate",
                "a finite number > 0",
                self.learning_rate,
            ));
        }
        if self.num_leaves < 2 {
            return Err(bad("num_leaves", "at least 2", self.num_leaves));
        }
        if self.max_depth == Some(0) {
            return Err(bad("max_depth", "at least 1 (or none)", 0));
        }
        check_non_negative("min_child_weight", self.min_child_weight)?;
        check_non_negative("reg_alpha", self.reg_alpha)?;
        check_non_negative("reg_lambda", self.reg_lambda)?;
        check_non_negative("min_split_gain", self.min_split_gain)?;
        check_fraction("subsample", self.subsample)?;
        check_fraction("colsample_bytree", self.colsample_bytree)?;
        check_fraction("colsample_bynode", self.colsample_bynode)?;
        if self.early_stopping_rounds == Some(0) {
            return Err(bad("early_stopping_rounds", "at least 1 (or none)", 0));
        }
        if !(self.huber_delta.is_finite() && self.huber_delta > 0.0) {
            return Err(bad("huber_delta", "a finite number > 0", self.huber_delta));
        }
        Ok(())
    }

    fn learner_config(&self) -> LearnerConfig {
        LearnerConfig {
            max_leaves: self.num_leaves,
            max_depth: self.max_depth,
            min_child_samples: self.min_child_samples,
            min_child_weight: self.min_child_weight,
            lambda: self.reg_lambda,
            alpha: self.reg_alpha,
            min_split_gain: self.min_split_gain,
            feature_fraction_node: self.colsample_bynode,
            extra_trees: self.extra_trees,
            growth: Growth::BestFirst,
            parallel: true,
        }
    }
}

/// A fitted gradient-boosted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbmModel {
    loss: GbmLoss,
    /// Number of classes (0 for regression).
    n_classes: usize,
    /// Initial raw score per tree of a round.
    base: Vec<f64>,
    /// Trees, round by round (`per_round` per round).
    pub(super) trees: Vec<Tree>,
    per_round: usize,
    best_iteration: usize,
    n_features: usize,
    fingerprint: u64,
    params: GbmParams,
}

/// Fits a gradient-boosted model on binned training rows.
///
/// With `valid` and `params.early_stopping_rounds`, training stops once the validation loss has
/// not improved for that many rounds and the model keeps the best rounds. Past `deadline`
/// (checked before every round after the first) training stops and keeps the trees built.
pub fn train_gbm(
    train: &BinnedData,
    y: TreeTarget,
    weights: Option<&[f64]>,
    valid: Option<(&BinnedData, TreeTarget)>,
    params: &GbmParams,
    deadline: Option<Instant>,
    seed: u64,
) -> Result<GbmModel> {
    params.check()?;
    check_training(ALGORITHM, train, &y, weights)?;
    let loss = match (params.loss, y.n_classes()) {
        (None, Some(2)) => GbmLoss::LogLoss,
        (None, Some(_)) => GbmLoss::Softmax,
        (None, None) => GbmLoss::L2,
        (Some(GbmLoss::LogLoss), Some(2)) => GbmLoss::LogLoss,
        (Some(GbmLoss::LogLoss), Some(k)) => {
            return Err(AutotabError::config(format!(
            "gradient boosting loss `LogLoss` needs 2 classes, the target has {k}; use `Softmax`"
        )))
        }
        (Some(l), Some(_)) if l.is_classification() => l,
        (Some(l), None) if !l.is_classification() => l,
        (Some(l), _) => {
            return Err(AutotabError::config(format!(
                "gradient boosting loss `{l:?}` does not fit a {} target",
                if y.n_classes().is_some() {
                    "class"
                } else {
                    "numeric"
                }
            )))
        }
    };
    let n_classes = y.n_classes().unwrap_or(0);
    let per_round = if loss == GbmLoss::Softmax {
        n_classes
    } else {
        1
    };
    let mut model = GbmModel {
        loss,
        n_classes,
        base: base_score(loss, y, weights, per_round),
        trees: Vec::new(),
        per_round,
        best_iteration: 0,
        n_features: train.n_features(),
        fingerprint: train.fingerprint(),
        params: params.clone(),
    };
    model.boost(
        train,
        y,
        weights,
        valid,
        params.n_estimators,
        deadline,
        seed,
    )?;
    Ok(model)
}

/// The constant raw score the boosting starts from.
fn base_score(loss: GbmLoss, y: TreeTarget, weights: Option<&[f64]>, per_round: usize) -> Vec<f64> {
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    match y {
        TreeTarget::Classes { labels, n_classes } => {
            let mut freq = vec![0.0; n_classes];
            let mut total = 0.0;
            for (i, &l) in labels.iter().enumerate() {
                freq[l] += w(i);
                total += w(i);
            }
            let p: Vec<f64> = freq
                .iter()
                .map(|f| (f / total).clamp(1e-15, 1.0 - 1e-15))
                .collect();
            if loss == GbmLoss::LogLoss {
                vec![(p[1] / (1.0 - p[1])).ln()]
            } else {
                p.iter().take(per_round).map(|q| q.ln()).collect()
            }
        }
        TreeTarget::Values(v) => {
            if loss == GbmLoss::L1 {
                let mut pairs: Vec<(f64, f64)> =
                    v.iter().enumerate().map(|(i, &x)| (x, w(i))).collect();
                vec![weighted_median(&mut pairs)]
            } else {
                let (s, t) = v
                    .iter()
                    .enumerate()
                    .fold((0.0, 0.0), |(s, t), (i, &x)| (s + w(i) * x, t + w(i)));
                vec![s / t]
            }
        }
    }
}

/// The weighted median of `(value, weight)` pairs (reorders them).
fn weighted_median(pairs: &mut [(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for p in pairs.iter() {
        acc += p.1;
        if acc >= total / 2.0 {
            return p.0;
        }
    }
    pairs[pairs.len() - 1].0
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `raw` in place.
fn softmax(raw: &mut [f64]) {
    let m = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in raw.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    raw.iter_mut().for_each(|v| *v /= s);
}

impl GbmModel {
    /// Adds up to `rounds` boosting rounds to the model.
    /// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
    /// splitting it would pass that state around on every call of the inner loop.
    #[allow(clippy::too_many_arguments)]
    fn boost(
        &mut self,
        train: &BinnedData,
        y: TreeTarget,
        weights: Option<&[f64]>,
        valid: Option<(&BinnedData, TreeTarget)>,
        rounds: usize,
        deadline: Option<Instant>,
        seed: u64,
    ) -> Result<()> {
        let n = train.n_rows();
        let k = self.per_round;
        let params = self.params.clone();
        if let Some((v, vy)) = valid {
            if v.n_features() != train.n_features() || v.fingerprint() != self.fingerprint {
                return Err(AutotabError::data(format!(
                    "validation data ({} features) must be binned with the training data's \
                     boundaries (`BinnedData::bin_like`; training data has {} features)",
                    v.n_features(),
                    train.n_features()
                )));
            }
            vy.check(v.n_rows(), "validation target")?;
            if vy.n_classes() != y.n_classes() {
                return Err(AutotabError::data(
                    "validation target: its kind or number of classes differs from the training target",
                ));
            }
        }
        let mut scores = self.binned_scores(train);
        let mut vscores = valid.map(|(v, _)| self.binned_scores(v));
        let mut g = vec![0.0; k * n];
        let mut h = vec![0.0; k * n];
        let mut learner = Learner::new(params.learner_config(), train, 1);
        let start_rounds = self.trees.len() / k;
        let mut rng =
            ChaCha8Rng::seed_from_u64(mix(seed ^ (start_rounds as u64).wrapping_mul(0x9e37)));
        let n_features = train.n_features();
        let mut features = vec![true; n_features];
        let mut feature_order: Vec<usize> = (0..n_features).collect();
        let mut bag: Vec<u32> = Vec::new();
        let mut residuals: Vec<(f64, f64)> = Vec::new();

        let early = params.early_stopping_rounds.filter(|_| valid.is_some());
        let mut best_loss = f64::INFINITY;
        let mut kept = start_rounds;
        if let (Some((_, vy)), Some(vs)) = (valid, vscores.as_ref()) {
            if start_rounds > 0 {
                best_loss = self.valid_loss(vs, vy);
            }
        }

        for round in 0..rounds {
            if deadline.is_some_and(|d| Instant::now() >= d)
                && (round > 0 || !self.trees.is_empty())
            {
                break;
            }
            self.gradients(&scores, y, weights, &mut g, &mut h);
            let rows: Option<&[u32]> = if params.subsample < 1.0 {
                bag.clear();
                for r in 0..n as u32 {
                    if rng.gen::<f64>() < params.subsample {
                        bag.push(r);
                    }
                }
                if bag.is_empty() {
                    None
                } else {
                    Some(&bag)
                }
            } else {
                None
            };
            if params.colsample_bytree < 1.0 {
                let m = ((params.colsample_bytree * n_features as f64).round() as usize)
                    .clamp(1, n_features);
                features.fill(false);
                for i in 0..m {
                    let j = rng.gen_range(i..n_features);
                    feature_order.swap(i, j);
                    features[feature_order[i]] = true;
                }
            }
            for c in 0..k {
                let tree_seed: u64 = rng.gen();
                let (gc, hc) = (&g[c * n..(c + 1) * n], &h[c * n..(c + 1) * n]);
                let mut tree = learner.grow(
                    train,
                    rows,
                    Signal::Grad { g: gc, h: hc },
                    &features,
                    tree_seed,
                );
                if let (GbmLoss::L1, TreeTarget::Values(v)) = (self.loss, y) {
                    for leaf in 0..learner.n_leaves() {
                        residuals.clear();
                        residuals.extend(learner.leaf_rows(leaf).iter().map(|&r| {
                            let r = r as usize;
                            (v[r] - scores[r], weights.map_or(1.0, |w| w[r]))
                        }));
                        tree.values[leaf] = weighted_median(&mut residuals);
                    }
                }
                tree.scale(params.learning_rate);
                let sc = &mut scores[c * n..(c + 1) * n];
                if rows.is_none() {
                    for leaf in 0..learner.n_leaves() {
                        let v = tree.values[leaf];
                        for &r in learner.leaf_rows(leaf) {
                            sc[r as usize] += v;
                        }
                    }
                } else {
                    add_binned(&tree, train, sc);
                }
                if let (Some((vd, _)), Some(vs)) = (valid, vscores.as_mut()) {
                    let m = vd.n_rows();
                    add_binned(&tree, vd, &mut vs[c * m..(c + 1) * m]);
                }
                self.trees.push(tree);
            }
            let done = start_rounds + round + 1;
            if let (Some(patience), Some((_, vy)), Some(vs)) = (early, valid, vscores.as_ref()) {
                let l = self.valid_loss(vs, vy);
                if l < best_loss {
                    best_loss = l;
                    kept = done;
                } else if done - kept >= patience {
                    break;
                }
            } else {
                kept = done;
            }
        }
        let done = self.trees.len() / k;
        if early.is_some() {
            kept = kept.max(1).min(done);
            self.trees.truncate(kept * k);
        } else {
            kept = done;
        }
        self.best_iteration = kept;
        Ok(())
    }

    /// Raw scores (class-major, `per_round` blocks of `n`) of binned rows.
    fn binned_scores(&self, data: &BinnedData) -> Vec<f64> {
        let n = data.n_rows();
        let k = self.per_round;
        let mut s = vec![0.0; k * n];
        for c in 0..k {
            s[c * n..(c + 1) * n].fill(self.base[c]);
        }
        for (i, t) in self.trees.iter().enumerate() {
            let c = i % k;
            add_binned(t, data, &mut s[c * n..(c + 1) * n]);
        }
        s
    }

    /// Fills gradients and hessians for the current raw scores.
    fn gradients(
        &self,
        scores: &[f64],
        y: TreeTarget,
        weights: Option<&[f64]>,
        g: &mut [f64],
        h: &mut [f64],
    ) {
        let n = scores.len() / self.per_round;
        let delta = self.params.huber_delta;
        let loss = self.loss;
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        match (loss, y) {
            (
                GbmLoss::Softmax,
                TreeTarget::Classes {
                    labels,
                    n_classes: k,
                },
            ) => {
                let factor = k as f64 / (k as f64 - 1.0);
                let mut p = vec![0.0; k];
                for i in 0..n {
                    for c in 0..k {
                        p[c] = scores[c * n + i];
                    }
                    softmax(&mut p);
                    let wi = w(i);
                    for c in 0..k {
                        let target = if labels[i] == c { 1.0 } else { 0.0 };
                        g[c * n + i] = (p[c] - target) * wi;
                        h[c * n + i] = (factor * p[c] * (1.0 - p[c])).max(1e-16) * wi;
                    }
                }
            }
            (_, y) => {
                let f = |i: usize, s: f64| -> (f64, f64) {
                    let wi = w(i);
                    match (loss, y) {
                        (GbmLoss::LogLoss, TreeTarget::Classes { labels, .. }) => {
                            let p = sigmoid(s);
                            let t = if labels[i] == 1 { 1.0 } else { 0.0 };
                            ((p - t) * wi, (p * (1.0 - p)).max(1e-16) * wi)
                        }
                        (GbmLoss::L1, TreeTarget::Values(v)) => {
                            let r = s - v[i];
                            (
                                if r > 0.0 {
                                    wi
                                } else if r < 0.0 {
                                    -wi
                                } else {
                                    0.0
                                },
                                wi,
                            )
                        }
                        (GbmLoss::Huber, TreeTarget::Values(v)) => {
                            let r = s - v[i];
                            (r.clamp(-delta, delta) * wi, wi)
                        }
                        (_, TreeTarget::Values(v)) => ((s - v[i]) * wi, wi),
                        (_, TreeTarget::Classes { .. }) => (0.0, wi),
                    }
                };
                const CHUNK: usize = 16_384;
                g.par_chunks_mut(CHUNK)
                    .zip(h.par_chunks_mut(CHUNK))
                    .enumerate()
                    .for_each(|(ci, (gc, hc))| {
                        for (j, (gi, hi)) in gc.iter_mut().zip(hc.iter_mut()).enumerate() {
                            let i = ci * CHUNK + j;
                            (*gi, *hi) = f(i, scores[i]);
                        }
                    });
            }
        }
    }

    /// The (unweighted) validation loss for early stopping.
    fn valid_loss(&self, scores: &[f64], y: TreeTarget) -> f64 {
        let k = self.per_round;
        let n = scores.len() / k;
        if n == 0 {
            return 0.0;
        }
        let delta = self.params.huber_delta;
        let mut total = 0.0;
        match y {
            TreeTarget::Classes { labels, n_classes } => {
                let mut p = vec![0.0; n_classes];
                for i in 0..n {
                    let py = if self.loss == GbmLoss::LogLoss {
                        let p1 = sigmoid(scores[i]);
                        if labels[i] == 1 {
                            p1
                        } else {
                            1.0 - p1
                        }
                    } else {
                        for c in 0..k {
                            p[c] = scores[c * n + i];
                        }
                        softmax(&mut p);
                        p[labels[i]]
                    };
                    total -= py.max(1e-15).ln();
                }
            }
            TreeTarget::Values(v) => {
                for i in 0..n {
                    let r = (scores[i] - v[i]).abs();
                    total += match self.loss {
                        GbmLoss::L1 => r,
                        GbmLoss::Huber if r > delta => delta * (r - delta / 2.0),
                        GbmLoss::Huber => r * r / 2.0,
                        _ => r * r,
                    };
                }
            }
        }
        total / n as f64
    }

    /// Adds up to `rounds` rounds to a fitted model (warm start). `train` must be binned with
    /// the same boundaries as the data the model was fitted on, and the target of the same kind.
    #[allow(clippy::too_many_arguments)]
    pub fn continue_training(
        &mut self,
        train: &BinnedData,
        y: TreeTarget,
        weights: Option<&[f64]>,
        valid: Option<(&BinnedData, TreeTarget)>,
        rounds: usize,
        deadline: Option<Instant>,
        seed: u64,
    ) -> Result<()> {
        if train.fingerprint() != self.fingerprint || train.n_features() != self.n_features {
            return Err(AutotabError::fit(
                ALGORITHM,
                "warm start needs the training data binned as for the first fit (same BinnedData or bin_like of it)",
            ));
        }
        if y.n_classes().unwrap_or(0) != self.n_classes {
            return Err(AutotabError::fit(
                ALGORITHM,
                "warm start needs a target of the same kind and number of classes as the first fit",
            ));
        }
        y.check(train.n_rows(), "training target")?;
        check_weights(weights, train.n_rows())?;
        self.boost(train, y, weights, valid, rounds, deadline, seed)
    }

    /// Predictions for raw feature rows: class probabilities (`n x k`, binary `n x 2`) or
    /// values (`n x 1`). `x` should have [`GbmModel::n_features`] columns; absent ones read as
    /// missing.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let n = x.nrows();
        let k = self.per_round;
        let xs = row_major(x);
        let p = xs.ncols();
        let flat = xs.as_slice().unwrap_or(&[]);
        let mut raw = vec![0.0; n * k];
        raw.par_chunks_mut(PREDICT_CHUNK * k)
            .enumerate()
            .for_each(|(ci, out)| {
                let first = ci * PREDICT_CHUNK;
                let rows = out.len() / k;
                for o in out.chunks_mut(k) {
                    o.copy_from_slice(&self.base);
                }
                for (ti, t) in self.trees.iter().enumerate() {
                    let c = ti % k;
                    for r in 0..rows {
                        let i = first + r;
                        let row = &flat[i * p..(i + 1) * p];
                        out[r * k + c] += t.values[t.leaf_of_row(row)];
                    }
                }
            });
        self.finish(raw, n)
    }

    /// Prediction for one raw row (same layout as one row of [`GbmModel::predict`]).
    pub fn predict_row(&self, row: &[f64]) -> Vec<f64> {
        let k = self.per_round;
        let mut raw = self.base.clone();
        for (ti, t) in self.trees.iter().enumerate() {
            raw[ti % k] += t.values[t.leaf_of_row(row)];
        }
        self.finish(raw, 1).into_raw_vec_and_offset().0
    }

    /// Turns raw scores (`n` rows of `per_round`) into the output matrix.
    fn finish(&self, mut raw: Vec<f64>, n: usize) -> Array2<f64> {
        let k = self.per_round;
        match self.loss {
            GbmLoss::LogLoss => Array2::from_shape_fn((n, 2), |(i, j)| {
                let p = sigmoid(raw[i]);
                if j == 1 {
                    p
                } else {
                    1.0 - p
                }
            }),
            GbmLoss::Softmax => {
                raw.chunks_mut(k).for_each(softmax);
                Array2::from_shape_vec((n, k), raw).unwrap_or_else(|_| Array2::zeros((n, k)))
            }
            _ => Array2::from_shape_vec((n, 1), raw).unwrap_or_else(|_| Array2::zeros((n, 1))),
        }
    }

    /// Checks a decoded model before it predicts (see [`Tree`]'s checks): raw scores per
    /// round match the loss and the base scores, every tree has one output per leaf.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| AutotabError::data(format!("boosted model: {what}"));
        let expected_per_round = match self.loss {
            GbmLoss::Softmax => self.n_classes,
            _ => 1,
        };
        if self.per_round == 0 || self.per_round != expected_per_round {
            return Err(bad(format!(
                "{} trees per round with {:?} loss and {} classes",
                self.per_round, self.loss, self.n_classes
            )));
        }
        if self.loss == GbmLoss::Softmax && self.n_classes < 2 {
            return Err(bad(format!("softmax loss with {} classes", self.n_classes)));
        }
        if self.base.len() != self.per_round {
            return Err(bad(format!(
                "{} base scores for {} trees per round",
                self.base.len(),
                self.per_round
            )));
        }
        for (i, tree) in self.trees.iter().enumerate() {
            tree.validate(1, self.n_features)
                .map_err(|e| bad(format!("tree {i}: {e}")))?;
        }
        Ok(())
    }

    /// Number of output columns of [`GbmModel::predict`].
    pub fn n_outputs(&self) -> usize {
        match self.loss {
            GbmLoss::LogLoss => 2,
            GbmLoss::Softmax => self.per_round,
            _ => 1,
        }
    }

    /// Number of trees (rounds times trees per round).
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of rounds kept: the best round under early stopping, else all rounds trained.
    pub fn best_iteration(&self) -> usize {
        self.best_iteration
    }

    /// The trees, round by round ([`GbmModel::n_outputs_per_round`] per round; tree `i`
    /// adds to raw score `i % n_outputs_per_round`), for explanations.
    pub(crate) fn trees_for_explain(&self) -> &[Tree] {
        &self.trees
    }

    /// Trees per round: the number of raw scores (1, or the classes under softmax).
    pub(crate) fn n_outputs_per_round(&self) -> usize {
        self.per_round
    }

    /// The initial raw score of each output.
    pub(crate) fn base_scores(&self) -> &[f64] {
        &self.base
    }

    /// Number of features the model was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The loss the model was trained with.
    pub fn loss(&self) -> GbmLoss {
        self.loss
    }

    /// Total split gain per feature.
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

/// Adds a one-output tree's values for binned rows to `scores`.
fn add_binned(tree: &Tree, data: &BinnedData, scores: &mut [f64]) {
    const CHUNK: usize = 4096;
    scores
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, sc)| {
            for (j, s) in sc.iter_mut().enumerate() {
                *s += tree.values[tree.leaf_of_binned(data, ci * CHUNK + j)];
            }
        });
}
