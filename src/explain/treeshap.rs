//! Exact path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature
//! attribution for tree ensembles", algorithm 2) on one tree.
//!
//! A feature outside the coalition is integrated out by following both children, weighted by
//! the training rows (cover) that went each way. The contributions of a row add up to the
//! tree's output minus its expected output ([`ShapTree::expected_value`]).

use crate::models::trees::Tree;

/// A tree in one node numbering: internal nodes first (as in [`Tree::nodes`]), then leaf `j`
/// at `n_internal + j`; each node's cover is the sum of its leaves' covers.
#[derive(Debug, Clone)]
pub(crate) struct ShapTree {
    n_internal: usize,
    feature: Vec<usize>,
    threshold: Vec<f64>,
    default_left: Vec<bool>,
    left: Vec<usize>,
    right: Vec<usize>,
    cover: Vec<f64>,
    /// Leaf values of the explained output, by leaf number.
    leaf_value: Vec<f64>,
}

/// One element of the path of unique features from the root (the paper's `m`).
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    /// The feature, or `usize::MAX` for the root's placeholder.
    feature: usize,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

impl ShapTree {
    /// The tree's output `output` with its leaf covers. `None` when the tree carries no covers
    /// (a model saved before they were recorded).
    pub(crate) fn new(tree: &Tree, output: usize) -> Option<ShapTree> {
        let k = tree.n_outputs.max(1);
        let n_leaves = tree.values.len() / k;
        if tree.leaf_covers.len() != n_leaves || output >= k {
            return None;
        }
        let n_internal = tree.nodes.len();
        let total = n_internal + n_leaves;
        let index = |child: i32| {
            if child < 0 {
                n_internal + (!child) as usize
            } else {
                child as usize
            }
        };
        let mut t = ShapTree {
            n_internal,
            feature: tree.nodes.iter().map(|n| n.feature as usize).collect(),
            threshold: tree.nodes.iter().map(|n| n.threshold).collect(),
            default_left: tree.nodes.iter().map(|n| n.default_left).collect(),
            left: tree.nodes.iter().map(|n| index(n.left)).collect(),
            right: tree.nodes.iter().map(|n| index(n.right)).collect(),
            cover: vec![0.0; total],
            leaf_value: (0..n_leaves).map(|l| tree.values[l * k + output]).collect(),
        };
        t.cover[n_internal..].copy_from_slice(&tree.leaf_covers);
        if n_internal > 0 {
            t.fill_cover(0);
        }
        Some(t)
    }

    /// Sets the cover of `node`'s subtree bottom-up; returns it.
    fn fill_cover(&mut self, node: usize) -> f64 {
        if node >= self.n_internal {
            return self.cover[node];
        }
        let c = self.fill_cover(self.left[node]) + self.fill_cover(self.right[node]);
        self.cover[node] = c;
        c
    }

    fn root(&self) -> usize {
        if self.n_internal == 0 {
            self.n_internal
        } else {
            0
        }
    }

    /// The child `row` goes to at internal node `node` (NaN and absent features follow the
    /// learned default), as the model predicts.
    fn goes_left(&self, node: usize, row: &[f64]) -> bool {
        let v = row.get(self.feature[node]).copied().unwrap_or(f64::NAN);
        if v.is_nan() {
            self.default_left[node]
        } else {
            v <= self.threshold[node]
        }
    }

    /// The shares of `node`'s cover that go left and right (halves when it has none).
    fn fractions(&self, node: usize) -> (f64, f64) {
        let c = self.cover[node];
        if c > 0.0 {
            (
                self.cover[self.left[node]] / c,
                self.cover[self.right[node]] / c,
            )
        } else {
            (0.5, 0.5)
        }
    }

    /// The tree's output for `row`.
    pub(crate) fn predict(&self, row: &[f64]) -> f64 {
        let mut node = self.root();
        while node < self.n_internal {
            node = if self.goes_left(node, row) {
                self.left[node]
            } else {
                self.right[node]
            };
        }
        self.leaf_value[node - self.n_internal]
    }

    /// The output averaged over the training rows (cover-weighted leaves).
    pub(crate) fn expected_value(&self) -> f64 {
        self.conditional(self.root(), &[], &[])
    }

    /// `E[f(x) | x_S]`: features in `known` follow `row`, the others are integrated out by
    /// cover. Exponential in nothing, but used with every subset by the brute-force check.
    pub(crate) fn conditional(&self, node: usize, row: &[f64], known: &[bool]) -> f64 {
        if node >= self.n_internal {
            return self.leaf_value[node - self.n_internal];
        }
        let f = self.feature[node];
        if known.get(f).copied().unwrap_or(false) {
            let next = if self.goes_left(node, row) {
                self.left[node]
            } else {
                self.right[node]
            };
            return self.conditional(next, row, known);
        }
        let (l, r) = self.fractions(node);
        l * self.conditional(self.left[node], row, known)
            + r * self.conditional(self.right[node], row, known)
    }

    /// Adds `scale` times the row's SHAP values to `phi` (one slot per model feature; splits
    /// on features beyond `phi` are ignored, which never happens for a validated model).
    pub(crate) fn add_shap(&self, row: &[f64], phi: &mut [f64], scale: f64) {
        if self.n_internal == 0 {
            return;
        }
        let depth = self.max_depth() + 2;
        let mut arena = vec![PathElement::default(); depth * (depth + 1) / 2 + depth];
        self.recurse(
            self.root(),
            row,
            phi,
            scale,
            &mut arena,
            0,
            0,
            (1.0, 1.0, usize::MAX),
        );
    }

    fn max_depth(&self) -> usize {
        fn go(t: &ShapTree, node: usize) -> usize {
            if node >= t.n_internal {
                0
            } else {
                1 + go(t, t.left[node]).max(go(t, t.right[node]))
            }
        }
        go(self, self.root())
    }

    /// The paper's RECURSE. `arena[start..]` holds the parent's path of `unique_depth`
    /// elements; this call copies it to `arena[start + unique_depth ..]` and extends it.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        node: usize,
        row: &[f64],
        phi: &mut [f64],
        scale: f64,
        arena: &mut [PathElement],
        start: usize,
        mut unique_depth: usize,
        (zero_fraction, one_fraction, feature): (f64, f64, usize),
    ) {
        // Copy the parent's path after it, so the parent's stays intact for the sibling.
        let here = start + unique_depth;
        for i in 0..unique_depth {
            arena[here + i] = arena[start + i];
        }
        let path = &mut arena[here..];
        extend_path(path, unique_depth, zero_fraction, one_fraction, feature);

        if node >= self.n_internal {
            let value = self.leaf_value[node - self.n_internal] * scale;
            for i in 1..=unique_depth {
                let w = unwound_path_sum(path, unique_depth, i);
                let el = path[i];
                if let Some(slot) = phi.get_mut(el.feature) {
                    *slot += w * (el.one_fraction - el.zero_fraction) * value;
                }
            }
            return;
        }

        let split = self.feature[node];
        let (hot, cold) = if self.goes_left(node, row) {
            (self.left[node], self.right[node])
        } else {
            (self.right[node], self.left[node])
        };
        let c = self.cover[node];
        let share = |child: usize| {
            if c > 0.0 {
                self.cover[child] / c
            } else {
                0.5
            }
        };
        let (hot_zero, cold_zero) = (share(hot), share(cold));
        let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
        if let Some(k) = (1..=unique_depth).find(|&k| path[k].feature == split) {
            incoming_zero = path[k].zero_fraction;
            incoming_one = path[k].one_fraction;
            unwind_path(path, unique_depth, k);
            unique_depth -= 1;
        }
        let next_start = here;
        self.recurse(
            hot,
            row,
            phi,
            scale,
            arena,
            next_start,
            unique_depth + 1,
            (hot_zero * incoming_zero, incoming_one, split),
        );
        self.recurse(
            cold,
            row,
            phi,
            scale,
            arena,
            next_start,
            unique_depth + 1,
            (cold_zero * incoming_zero, 0.0, split),
        );
    }
}

/// The paper's EXTEND: adds a feature to the path with its zero and one fractions.
fn extend_path(
    path: &mut [PathElement],
    unique_depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: usize,
) {
    path[unique_depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if unique_depth == 0 { 1.0 } else { 0.0 },
    };
    let d = (unique_depth + 1) as f64;
    for i in (0..unique_depth).rev() {
        path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) as f64 / d;
        path[i].pweight = zero_fraction * path[i].pweight * (unique_depth - i) as f64 / d;
    }
}

/// The paper's UNWIND: removes element `path_index` from the path.
fn unwind_path(path: &mut [PathElement], unique_depth: usize, path_index: usize) {
    let one = path[path_index].one_fraction;
    let zero = path[path_index].zero_fraction;
    let d = (unique_depth + 1) as f64;
    let mut next_one_portion = path[unique_depth].pweight;
    for i in (0..unique_depth).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * d / ((i + 1) as f64 * one);
            next_one_portion = tmp - path[i].pweight * zero * (unique_depth - i) as f64 / d;
        } else {
            path[i].pweight = path[i].pweight * d / (zero * (unique_depth - i) as f64);
        }
    }
    for i in path_index..unique_depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// The total weight the path would have with element `path_index` unwound.
fn unwound_path_sum(path: &[PathElement], unique_depth: usize, path_index: usize) -> f64 {
    let one = path[path_index].one_fraction;
    let zero = path[path_index].zero_fraction;
    let d = (unique_depth + 1) as f64;
    let mut next_one_portion = path[unique_depth].pweight;
    let mut total = 0.0;
    for i in (0..unique_depth).rev() {
        if one != 0.0 {
            let tmp = next_one_portion * d / ((i + 1) as f64 * one);
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero * (unique_depth - i) as f64 / d;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((unique_depth - i) as f64 / d);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::trees::{train_forest, train_gbm, BinnedData, ForestParams, GbmParams};
    use crate::models::trees::{Tree, TreeTarget};
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Shapley values by their definition: every coalition of the other features, weighted
    /// `|S|! (M - |S| - 1)! / M!`, of `E[f | x_S ∪ {i}] - E[f | x_S]`.
    fn brute_force(tree: &ShapTree, row: &[f64], m: usize) -> Vec<f64> {
        let fact = |n: usize| (1..=n).map(|x| x as f64).product::<f64>();
        let mut phi = vec![0.0; m];
        for (i, p) in phi.iter_mut().enumerate() {
            for mask in 0u32..(1 << m) {
                if mask & (1 << i) != 0 {
                    continue;
                }
                let known: Vec<bool> = (0..m).map(|j| mask & (1 << j) != 0).collect();
                let mut with = known.clone();
                with[i] = true;
                let s = mask.count_ones() as usize;
                let w = fact(s) * fact(m - s - 1) / fact(m);
                *p += w
                    * (tree.conditional(tree.root(), row, &with)
                        - tree.conditional(tree.root(), row, &known));
            }
        }
        phi
    }

    fn data(n: usize, m: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, m), |_| rng.gen_range(0.0..1.0));
        let y = x
            .rows()
            .into_iter()
            .map(|r| r[0] * 2.0 + (r[1] > 0.5) as u8 as f64 * r[2] - r[3] * r[0])
            .collect();
        (x, y)
    }

    fn small_trees(m: usize) -> (Vec<Tree>, Array2<f64>) {
        let (x, y) = data(300, m, 7);
        let binned = BinnedData::build(x.view(), 255, 1);
        let params = ForestParams {
            n_estimators: 3,
            max_depth: Some(5),
            max_features: 1.0,
            ..ForestParams::default()
        };
        let forest = train_forest(&binned, TreeTarget::Values(&y), None, &params, None, 3)
            .expect("forest trains");
        (forest.trees_for_explain().to_vec(), x)
    }

    #[test]
    fn treeshap_equals_brute_force_shapley_on_small_trees() {
        let m = 5;
        let (trees, x) = small_trees(m);
        for tree in &trees {
            let t = ShapTree::new(tree, 0).expect("covers recorded");
            assert!(t.n_internal >= 3, "a tree worth testing");
            for r in 0..40 {
                let row = x.row(r).to_vec();
                let mut phi = vec![0.0; m];
                t.add_shap(&row, &mut phi, 1.0);
                let exact = brute_force(&t, &row, m);
                for (a, b) in phi.iter().zip(&exact) {
                    assert!((a - b).abs() < 1e-10, "row {r}: {phi:?} vs {exact:?}");
                }
                let total: f64 = phi.iter().sum::<f64>() + t.expected_value();
                assert!((total - t.predict(&row)).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn treeshap_handles_a_feature_split_twice_on_a_path_and_missing_values() {
        let m = 4;
        let (x, y) = data(400, m, 11);
        let binned = BinnedData::build(x.view(), 255, 1);
        let params = GbmParams {
            n_estimators: 4,
            num_leaves: 12,
            min_child_samples: 5,
            ..GbmParams::default()
        };
        let model = train_gbm(
            &binned,
            TreeTarget::Values(&y),
            None,
            None,
            &params,
            None,
            1,
        )
        .expect("boosting trains");
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for tree in model.trees_for_explain() {
            let t = ShapTree::new(tree, 0).expect("covers recorded");
            for r in 0..20 {
                let mut row = x.row(r).to_vec();
                if rng.gen_range(0..3) == 0 {
                    row[rng.gen_range(0..m)] = f64::NAN;
                }
                let mut phi = vec![0.0; m];
                t.add_shap(&row, &mut phi, 1.0);
                let exact = brute_force(&t, &row, m);
                for (a, b) in phi.iter().zip(&exact) {
                    assert!((a - b).abs() < 1e-10, "row {r}: {phi:?} vs {exact:?}");
                }
            }
        }
    }
}
