//! A fitted tree as flat node arrays: prediction walks indices, never pointers.

use serde::{Deserialize, Serialize};

use super::binning::BinnedData;

/// One internal node. A child index `>= 0` is another node; a negative child `c` is leaf `!c`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Node {
    /// Raw threshold: rows with `x[feature] <= threshold` go left.
    pub(crate) threshold: f64,
    /// Feature tested.
    pub(crate) feature: u32,
    /// Left child (node index, or `!leaf`).
    pub(crate) left: i32,
    /// Right child (node index, or `!leaf`).
    pub(crate) right: i32,
    /// Same test on bins: `bin <= bin_threshold` goes left (valid for the training binning).
    pub(crate) bin_threshold: u8,
    /// Where NaN goes.
    pub(crate) default_left: bool,
}

/// A fitted tree. `values` holds `n_outputs` numbers per leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f64>,
    pub(crate) n_outputs: usize,
    /// Gain of each internal node's split (for importances).
    pub(crate) gains: Vec<f64>,
    /// Training rows that reached each leaf (for TreeSHAP's expectations). Empty in models
    /// saved before it was recorded.
    #[serde(default)]
    pub(crate) leaf_covers: Vec<f64>,
}

impl Tree {
    /// Number of leaves.
    #[cfg(test)]
    pub(crate) fn n_leaves(&self) -> usize {
        self.values.len() / self.n_outputs.max(1)
    }

    /// The leaf a raw row falls in; features beyond the row's length read as NaN.
    #[inline]
    pub(crate) fn leaf_of_row(&self, row: &[f64]) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0i32;
        loop {
            let n = &self.nodes[i as usize];
            let v = row.get(n.feature as usize).copied().unwrap_or(f64::NAN);
            let left = if v.is_nan() {
                n.default_left
            } else {
                v <= n.threshold
            };
            i = if left { n.left } else { n.right };
            if i < 0 {
                return !i as usize;
            }
        }
    }

    /// The leaf row `r` of binned data falls in (the data must use the training binning).
    #[inline]
    pub(crate) fn leaf_of_binned(&self, data: &BinnedData, r: usize) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0i32;
        loop {
            let n = &self.nodes[i as usize];
            let f = n.feature as usize;
            let b = data.column(f)[r];
            let left = if b as usize == data.mapper(f).n_value_bins() {
                n.default_left
            } else {
                b <= n.bin_threshold
            };
            i = if left { n.left } else { n.right };
            if i < 0 {
                return !i as usize;
            }
        }
    }

    /// The output values of leaf `leaf`.
    #[inline]
    pub(crate) fn leaf_values(&self, leaf: usize) -> &[f64] {
        &self.values[leaf * self.n_outputs..(leaf + 1) * self.n_outputs]
    }

    /// Checks a decoded tree before it predicts: every child index names an existing node or
    /// leaf, no node is reached twice and none leads back to the root (so a walk from the root
    /// ends within `nodes.len()` steps), leaves hold `n_outputs` values each, and split
    /// features are below `n_features`.
    pub(crate) fn validate(&self, n_outputs: usize, n_features: usize) -> Result<(), String> {
        if self.n_outputs != n_outputs || n_outputs == 0 {
            return Err(format!(
                "a tree has {} outputs per leaf, expected {n_outputs}",
                self.n_outputs
            ));
        }
        if !self.values.len().is_multiple_of(n_outputs) {
            return Err(format!(
                "a tree has {} leaf values, not a multiple of {n_outputs}",
                self.values.len()
            ));
        }
        let n_leaves = self.values.len() / n_outputs;
        if n_leaves == 0 {
            return Err("a tree has no leaf".into());
        }
        if self.nodes.len() >= i32::MAX as usize || self.gains.len() != self.nodes.len() {
            return Err(format!(
                "a tree has {} nodes and {} split gains",
                self.nodes.len(),
                self.gains.len()
            ));
        }
        let mut reached = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if node.feature as usize >= n_features {
                return Err(format!(
                    "node {i} splits on feature {}, the model has {n_features}",
                    node.feature
                ));
            }
            for child in [node.left, node.right] {
                if child < 0 {
                    if !child as usize >= n_leaves {
                        return Err(format!(
                            "node {i} leads to leaf {}, the tree has {n_leaves}",
                            !child
                        ));
                    }
                    continue;
                }
                let c = child as usize;
                if c == 0 || c >= self.nodes.len() || reached[c] {
                    return Err(format!(
                        "node {i} leads to node {c}, which is not a new node"
                    ));
                }
                reached[c] = true;
            }
        }
        Ok(())
    }

    /// Multiplies every leaf value by `factor` (shrinkage).
    pub(crate) fn scale(&mut self, factor: f64) {
        self.values.iter_mut().for_each(|v| *v *= factor);
    }

    /// Adds the tree's gains and split counts to per-feature totals.
    pub(crate) fn add_importance(&self, gain: &mut [f64], split: &mut [u64]) {
        for (n, g) in self.nodes.iter().zip(&self.gains) {
            let f = n.feature as usize;
            if f < gain.len() {
                gain[f] += g;
                split[f] += 1;
            }
        }
    }
}

/// Per-feature totals of split gain and split count over `trees`.
pub(crate) fn importance(trees: &[Tree], n_features: usize) -> (Vec<f64>, Vec<u64>) {
    let mut gain = vec![0.0; n_features];
    let mut split = vec![0; n_features];
    for t in trees {
        t.add_importance(&mut gain, &mut split);
    }
    (gain, split)
}
