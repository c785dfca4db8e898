//! The histogram tree learner shared by boosting and forests.
//!
//! Rows of the tree live in one index array; every leaf owns a contiguous range of it, and a
//! split partitions that range in place (stably, so each range stays sorted). For each split
//! the smaller child's gradient histogram is built from its rows (gradients gathered into
//! ordered arrays first) and the larger child's is the parent's minus the smaller's. Building,
//! subtracting and split finding are fused per feature and run in parallel over features on
//! rayon's current pool. Histogram buffers come from a pool reused across leaves and trees.
//!
//! Histograms are kept per *slot* of the [`BinnedData`]: a feature, or a bundle of exclusive
//! binary features whose members' histograms are read off the bundle's. Near the leaves of deep
//! trees (and with few features tried per node) keeping histograms costs more than it saves:
//! clearing and subtracting every bin of every slot, for a handful of rows. There a leaf's split
//! is found from histograms of its tried features alone, built in one zeroed region from its
//! rows and cleared again through the bins they touched (`Learner::find_sparse`); the choice
//! is a cost comparison per leaf (`Learner::sparse_wins`).

use rayon::prelude::*;

use super::binning::{mix, BinnedData};
use super::tree::{Node, Tree};

/// Bins per feature region of a histogram (255 value bins + NaN).
const BINS: usize = 256;

/// Below this many (row, feature) cells a histogram is built on the calling thread.
const PAR_MIN_CELLS: usize = 32_768;

/// Cost of clearing and subtracting one histogram bin, relative to adding one row to a
/// histogram, in the choice between kept and per-leaf histograms (`Learner::sparse_wins`).
const SPARSE_BIN_COST: usize = 2;

/// How the tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Growth {
    /// Split the leaf with the largest gain next (LightGBM's leaf-wise growth).
    BestFirst,
    /// Split every splittable leaf, depth first; with no leaf limit this grows the same tree as
    /// level-by-level growth while keeping only `depth` histograms alive.
    DepthFirst,
}

/// Settings of one tree.
#[derive(Debug, Clone)]
pub(crate) struct LearnerConfig {
    pub(crate) max_leaves: usize,
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_child_samples: usize,
    pub(crate) min_child_weight: f64,
    pub(crate) lambda: f64,
    pub(crate) alpha: f64,
    pub(crate) min_split_gain: f64,
    /// Fraction of the tree's features tried at each node.
    pub(crate) feature_fraction_node: f64,
    /// One random threshold per feature and node instead of the best one.
    pub(crate) extra_trees: bool,
    pub(crate) growth: Growth,
    /// Parallelise over features (on rayon's current pool).
    pub(crate) parallel: bool,
}

/// The per-row training signal of a tree.
#[derive(Clone, Copy)]
pub(crate) enum Signal<'a> {
    /// One output: gradient and hessian per row.
    Grad { g: &'a [f64], h: &'a [f64] },
    /// `k` outputs from a class label and a weight per row (gradient `-w` on the row's class,
    /// hessian `w`): leaf values become weighted class frequencies, gains Gini decreases.
    Classes {
        labels: &'a [u32],
        w: &'a [f64],
        k: usize,
    },
}

impl Signal<'_> {
    fn n_outputs(&self) -> usize {
        match self {
            Signal::Grad { .. } => 1,
            Signal::Classes { k, .. } => *k,
        }
    }
}

/// The signal of the rows being histogrammed, gathered in their order.
#[derive(Clone, Copy)]
enum Ordered<'a> {
    Grad(&'a [[f32; 2]]),
    Classes {
        labels: &'a [u32],
        w: &'a [f64],
        k: usize,
    },
}

/// A candidate split of a leaf.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    default_left: bool,
}

impl Split {
    const NONE: Split = Split {
        gain: f64::NEG_INFINITY,
        feature: usize::MAX,
        bin: 0,
        default_left: false,
    };

    fn is_valid(&self) -> bool {
        self.feature != usize::MAX
    }

    /// The better of two candidates (ties go to the lower feature index, for determinism).
    fn better(self, other: Split) -> Split {
        if other.gain > self.gain || (other.gain == self.gain && other.feature < self.feature) {
            other
        } else {
            self
        }
    }
}

/// A leaf while the tree grows.
#[derive(Debug)]
struct Leaf {
    begin: usize,
    end: usize,
    depth: usize,
    /// Parent node index, or -1 for the root.
    parent: i32,
    is_left: bool,
    hist: Option<Vec<f64>>,
    split: Split,
}

/// Everything the per-feature job reads.
struct Ctx<'a> {
    data: &'a BinnedData,
    cfg: &'a LearnerConfig,
    stride: usize,
    /// Ordered signal of the rows the histogram is built from.
    sig: Ordered<'a>,
    /// Rows of that child (`None`: all rows in order, signal not gathered).
    rows: Option<&'a [u32]>,
    /// Which histogram slots (see [`BinnedData`]) hold a feature of the tree.
    active: &'a [bool],
    small: Child<'a>,
    large: Option<Child<'a>>,
}

/// What the job needs to know to find one child's split.
#[derive(Clone, Copy)]
struct Child<'a> {
    can_split: bool,
    mask: &'a [bool],
    sums: &'a [f64],
    seed: u64,
}

/// The learner and its reusable buffers (allocated once, reused by every tree it grows).
pub(crate) struct Learner {
    cfg: LearnerConfig,
    n_features: usize,
    /// Histogram slots of the data (features on their own and bundles).
    n_slots: usize,
    slot_active: Vec<bool>,
    n_active_slots: usize,
    stride: usize,
    indices: Vec<u32>,
    tmp: Vec<u32>,
    /// Gradient and hessian of the rows being histogrammed, in row order, as `f32` pairs
    /// (half the memory traffic of two `f64` streams; sums stay `f64`).
    gh: Vec<[f32; 2]>,
    ow: Vec<f64>,
    olab: Vec<u32>,
    pool: Vec<Vec<f64>>,
    leaves: Vec<Leaf>,
    sums: Vec<f64>,
    frontier: Vec<usize>,
    masks: [Vec<bool>; 2],
    active: Vec<bool>,
    active_list: Vec<usize>,
    shuffle: Vec<usize>,
    scratch: Vec<f64>,
    /// One all-zero slot region: the histograms of a small leaf are built in it slot by slot
    /// and cleared again through the bins they touched (see [`Learner::find_sparse`]).
    sparse: Vec<f64>,
    /// Value bins (plus NaN) of the tree's features, summed; set by [`Learner::grow`].
    active_bins: usize,
}

#[inline]
fn soft_threshold(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

/// The objective reduction of a leaf with gradient sum `g` and hessian sum `h`.
#[inline]
fn leaf_score(g: f64, h: f64, lambda: f64, alpha: f64) -> f64 {
    let d = h + lambda;
    if d <= 0.0 {
        0.0
    } else {
        let t = soft_threshold(g, alpha);
        t * t / d
    }
}

impl Learner {
    /// A learner for `data` producing `n_outputs` values per leaf.
    pub(crate) fn new(cfg: LearnerConfig, data: &BinnedData, n_outputs: usize) -> Learner {
        let n_features = data.n_features();
        let n_slots = data.n_slots();
        let stride = n_outputs + 2;
        Learner {
            cfg,
            n_features,
            n_slots,
            slot_active: vec![false; n_slots],
            n_active_slots: 0,
            stride,
            indices: Vec::with_capacity(data.n_rows()),
            tmp: vec![0; data.n_rows()],
            gh: Vec::new(),
            ow: Vec::new(),
            olab: Vec::new(),
            pool: Vec::new(),
            leaves: Vec::new(),
            sums: Vec::new(),
            frontier: Vec::new(),
            masks: [vec![false; n_features], vec![false; n_features]],
            active: vec![false; n_features],
            active_list: Vec::with_capacity(n_features),
            shuffle: Vec::with_capacity(n_features),
            scratch: vec![0.0; 5 * stride],
            sparse: vec![0.0; BINS * stride],
            active_bins: 0,
        }
    }

    /// The rows of leaf `leaf` of the last grown tree.
    pub(crate) fn leaf_rows(&self, leaf: usize) -> &[u32] {
        let l = &self.leaves[leaf];
        &self.indices[l.begin..l.end]
    }

    /// Number of leaves of the last grown tree.
    pub(crate) fn n_leaves(&self) -> usize {
        self.leaves.len()
    }

    fn take_hist(&mut self) -> Vec<f64> {
        self.pool
            .pop()
            .unwrap_or_else(|| vec![0.0; self.n_slots * BINS * self.stride])
    }

    /// Grows one tree on `rows` (sorted, distinct; `None` = every row) using the features
    /// flagged in `tree_features`. Leaf values are `-T(G)/(H + lambda)` per output.
    /// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
    /// splitting it would pass that state around on every call of the inner loop.
    pub(crate) fn grow(
        &mut self,
        data: &BinnedData,
        rows: Option<&[u32]>,
        signal: Signal,
        tree_features: &[bool],
        seed: u64,
    ) -> Tree {
        let k = signal.n_outputs();
        let s = self.stride;
        debug_assert_eq!(k + 2, s);
        for l in self.leaves.drain(..) {
            if let Some(h) = l.hist {
                self.pool.push(h);
            }
        }
        self.frontier.clear();
        self.sums.clear();
        self.indices.clear();
        match rows {
            Some(r) => self.indices.extend_from_slice(r),
            None => self.indices.extend(0..data.n_rows() as u32),
        }
        self.active_list.clear();
        for f in 0..self.n_features {
            self.active[f] = tree_features.get(f).copied().unwrap_or(false);
            if self.active[f] {
                self.active_list.push(f);
            }
        }
        self.active_bins = 0;
        self.n_active_slots = 0;
        for c in 0..self.n_slots {
            let on = data
                .slot_features(c)
                .iter()
                .any(|&f| self.active[f as usize]);
            self.slot_active[c] = on;
            if on {
                self.n_active_slots += 1;
                self.active_bins += data.slot_value_bins(c) + 1;
            }
        }
        let n = self.indices.len();

        // Root sums.
        self.sums.resize(s, 0.0);
        match signal {
            Signal::Grad { g, h } => {
                // Sum the same f32-rounded values the histograms hold, so that children's
                // sums derived from histograms stay consistent with the root's.
                let (mut sg, mut sh) = (0.0, 0.0);
                for &r in &self.indices {
                    sg += g[r as usize] as f32 as f64;
                    sh += h[r as usize] as f32 as f64;
                }
                self.sums[0] = sg;
                self.sums[1] = sh;
            }
            Signal::Classes { labels, w, .. } => {
                for &r in &self.indices {
                    let r = r as usize;
                    self.sums[labels[r] as usize] -= w[r];
                    self.sums[k] += w[r];
                }
            }
        }
        self.sums[k + 1] = n as f64;

        let mut nodes: Vec<Node> = Vec::new();
        let mut gains: Vec<f64> = Vec::new();
        self.leaves.push(Leaf {
            begin: 0,
            end: n,
            depth: 0,
            parent: -1,
            is_left: false,
            hist: None,
            split: Split::NONE,
        });
        let root_can = self.can_split(0, 0, 1);
        if root_can && self.sparse_wins(n) {
            let root_seed = mix(seed);
            self.fill_mask(0, root_seed);
            let split = self.find_sparse(data, signal, 0, root_seed);
            self.leaves[0].split = split;
            if split.is_valid() {
                self.frontier.push(0);
            }
        } else if root_can {
            let mut hist = self.take_hist();
            let root_seed = mix(seed);
            self.fill_mask(0, root_seed);
            let split = self.build_and_find(
                data,
                signal,
                (0, n),
                rows.is_none(),
                &mut hist,
                None,
                [(0, root_can, root_seed), (usize::MAX, false, 0)],
            );
            self.leaves[0].hist = Some(hist);
            self.leaves[0].split = split.0;
            if split.0.is_valid() {
                self.frontier.push(0);
            } else if let Some(h) = self.leaves[0].hist.take() {
                self.pool.push(h);
            }
        }

        while self.leaves.len() < self.cfg.max_leaves {
            let pick = match self.cfg.growth {
                Growth::BestFirst => {
                    let mut best: Option<usize> = None;
                    for (pos, &l) in self.frontier.iter().enumerate() {
                        let better = match best {
                            None => true,
                            Some(b) => {
                                self.leaves[l].split.gain > self.leaves[self.frontier[b]].split.gain
                            }
                        };
                        if better {
                            best = Some(pos);
                        }
                    }
                    best.map(|pos| self.frontier.swap_remove(pos))
                }
                Growth::DepthFirst => self.frontier.pop(),
            };
            let Some(l) = pick else { break };
            self.split_leaf(data, signal, l, &mut nodes, &mut gains, seed);
        }
        for l in self.leaves.iter_mut() {
            if let Some(h) = l.hist.take() {
                self.pool.push(h);
            }
        }

        let n_leaves = self.leaves.len();
        let mut values = vec![0.0; n_leaves * k];
        for leaf in 0..n_leaves {
            let sums = &self.sums[leaf * s..(leaf + 1) * s];
            let d = sums[k] + self.cfg.lambda;
            for c in 0..k {
                values[leaf * k + c] = if d > 0.0 {
                    -soft_threshold(sums[c], self.cfg.alpha) / d
                } else {
                    0.0
                };
            }
        }
        let leaf_covers = (0..n_leaves)
            .map(|leaf| self.sums[leaf * s + s - 1])
            .collect();
        Tree {
            nodes,
            values,
            n_outputs: k,
            gains,
            leaf_covers,
        }
    }

    /// Whether a leaf with these sums, at this depth, may be split once the tree has
    /// `leaves_after` leaves.
    fn can_split(&self, leaf: usize, depth: usize, leaves_after: usize) -> bool {
        let s = self.stride;
        let sums = &self.sums[leaf * s..(leaf + 1) * s];
        let min_n = self.cfg.min_child_samples.max(1) as f64;
        leaves_after < self.cfg.max_leaves
            && self.cfg.max_depth.is_none_or(|d| depth < d)
            && sums[s - 1] >= 2.0 * min_n
            && sums[s - 2] >= 2.0 * self.cfg.min_child_weight
            && !self.active_list.is_empty()
    }

    /// Chooses the features tried at a node into `masks[which]`.
    fn fill_mask(&mut self, which: usize, seed: u64) {
        let frac = self.cfg.feature_fraction_node;
        let mask = &mut self.masks[which];
        mask.fill(false);
        if frac >= 1.0 {
            for &f in &self.active_list {
                mask[f] = true;
            }
            return;
        }
        let n = self.active_list.len();
        let m = ((frac * n as f64).round() as usize).clamp(1, n.max(1));
        self.shuffle.clear();
        self.shuffle.extend_from_slice(&self.active_list);
        let mut state = seed;
        for i in 0..m.min(n) {
            state = mix(state);
            let j = i + (state % (n - i) as u64) as usize;
            self.shuffle.swap(i, j);
            mask[self.shuffle[i]] = true;
        }
    }

    /// Splits one leaf: partitions its rows, builds the smaller child's histogram and derives
    /// the other by subtraction, and finds both children's best splits.
    /// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
    /// splitting it would pass that state around on every call of the inner loop.
    fn split_leaf(
        &mut self,
        data: &BinnedData,
        signal: Signal,
        l: usize,
        nodes: &mut Vec<Node>,
        gains: &mut Vec<f64>,
        seed: u64,
    ) {
        let s = self.stride;
        let split = self.leaves[l].split;
        let f = split.feature;
        let t = split.bin;
        let nv = data.mapper(f).n_value_bins();
        let (begin, end) = (self.leaves[l].begin, self.leaves[l].end);

        // Partition the leaf's rows, stably.
        let col = data.column(f);
        let mut w = begin;
        let mut tc = 0;
        for i in begin..end {
            let r = self.indices[i];
            let b = col[r as usize];
            if b <= t || (b as usize == nv && split.default_left) {
                self.indices[w] = r;
                w += 1;
            } else {
                self.tmp[tc] = r;
                tc += 1;
            }
        }
        self.indices[w..end].copy_from_slice(&self.tmp[..tc]);
        let mid = w;

        // Child sums: from the parent's histogram of the split feature, or from the rows of a
        // leaf split without histograms.
        let r_id = self.leaves.len();
        self.sums.resize((r_id + 1) * s, 0.0);
        {
            let (left, view) = self.scratch.split_at_mut(s);
            left.fill(0.0);
            match self.leaves[l].hist.as_ref() {
                Some(parent_hist) => {
                    let c = data.feature_slot(f).0;
                    let region = feature_region(
                        data,
                        &parent_hist[c * BINS * s..(c + 1) * BINS * s],
                        f,
                        &self.sums[l * s..(l + 1) * s],
                        &mut view[..3 * s],
                    );
                    for b in 0..=t as usize {
                        for c in 0..s {
                            left[c] += region[b * s + c];
                        }
                    }
                    if split.default_left {
                        for c in 0..s {
                            left[c] += region[nv * s + c];
                        }
                    }
                }
                None => add_rows(left, &self.indices[begin..mid], signal),
            }
            let (lo, hi) = self.sums.split_at_mut(r_id * s);
            let parent = &mut lo[l * s..(l + 1) * s];
            for c in 0..s {
                hi[c] = parent[c] - left[c];
                parent[c] = left[c];
            }
            // Counts are exact: take them from the partition.
            parent[s - 1] = (mid - begin) as f64;
            hi[s - 1] = (end - mid) as f64;
        }

        // The new node replaces the leaf in its parent.
        let node = nodes.len() as i32;
        nodes.push(Node {
            // The NaN-against-values split has an infinite bound; JSON cannot hold it.
            threshold: data.mapper(f).upper[t as usize].min(f64::MAX),
            feature: f as u32,
            left: !(l as i32),
            right: !(r_id as i32),
            bin_threshold: t,
            default_left: split.default_left,
        });
        gains.push(split.gain);
        let parent = self.leaves[l].parent;
        if parent >= 0 {
            let p = &mut nodes[parent as usize];
            if self.leaves[l].is_left {
                p.left = node;
            } else {
                p.right = node;
            }
        }
        let depth = self.leaves[l].depth + 1;
        let parent_hist = self.leaves[l].hist.take();
        self.leaves[l] = Leaf {
            begin,
            end: mid,
            depth,
            parent: node,
            is_left: true,
            hist: None,
            split: Split::NONE,
        };
        self.leaves.push(Leaf {
            begin: mid,
            end,
            depth,
            parent: node,
            is_left: false,
            hist: None,
            split: Split::NONE,
        });

        let leaves_after = self.leaves.len();
        let can_l = self.can_split(l, depth, leaves_after);
        let can_r = self.can_split(r_id, depth, leaves_after);
        let seed_of = |leaf: usize| mix(seed ^ mix(leaf as u64 ^ ((node as u64) << 32)));
        let sparse = parent_hist.is_none() || self.sparse_wins(end - begin);
        if !can_l && !can_r || sparse {
            if let Some(h) = parent_hist {
                self.pool.push(h);
            }
            for (leaf, can) in [(l, can_l), (r_id, can_r)] {
                if can {
                    let leaf_seed = seed_of(leaf);
                    self.fill_mask(0, leaf_seed);
                    let sp = self.find_sparse(data, signal, leaf, leaf_seed);
                    if sp.is_valid() {
                        self.leaves[leaf].split = sp;
                        self.frontier.push(leaf);
                    }
                }
            }
            return;
        }
        let Some(mut parent_hist) = parent_hist else {
            return;
        };
        let (small, large, can_small, can_large) = if mid - begin <= end - mid {
            (l, r_id, can_l, can_r)
        } else {
            (r_id, l, can_r, can_l)
        };
        let seed_small = seed_of(small);
        let seed_large = seed_of(large);
        self.fill_mask(0, seed_small);
        self.fill_mask(1, seed_large);
        let mut small_hist = self.take_hist();
        let range = (self.leaves[small].begin, self.leaves[small].end);
        let (split_small, split_large) = self.build_and_find(
            data,
            signal,
            range,
            false,
            &mut small_hist,
            if can_large {
                Some(&mut parent_hist)
            } else {
                None
            },
            [
                (small, can_small, seed_small),
                (large, can_large, seed_large),
            ],
        );
        for (leaf, hist, sp) in [
            (small, small_hist, split_small),
            (large, parent_hist, split_large),
        ] {
            if sp.is_valid() {
                self.leaves[leaf].hist = Some(hist);
                self.leaves[leaf].split = sp;
                self.frontier.push(leaf);
            } else {
                self.pool.push(hist);
            }
        }
    }

    /// Whether a leaf of `n` rows finds its children's splits (or its own) faster without
    /// kept histograms: each tried feature's histogram built from the rows alone, against
    /// the histogram route (clear and subtract every bin of every tree feature, and build the
    /// smaller child over every tree feature). Deep forest trees and feature sampling per node
    /// make the first one much cheaper near the leaves.
    fn sparse_wins(&self, n: usize) -> bool {
        let active = self.active_list.len();
        let tried = ((self.cfg.feature_fraction_node.min(1.0) * active as f64).round() as usize)
            .clamp(1, active.max(1));
        2 * n * tried <= SPARSE_BIN_COST * self.active_bins + n * self.n_active_slots / 2
    }

    /// The best split of leaf `leaf` over the features in `masks[0]`, without a kept
    /// histogram: each tried slot's histogram is built in the zeroed `sparse` region from the
    /// leaf's rows, searched, and cleared again through the bins it touched (an extra tree's
    /// feature on its own needs none, see [`extra_tree_split`]).
    fn find_sparse(&mut self, data: &BinnedData, signal: Signal, leaf: usize, seed: u64) -> Split {
        let s = self.stride;
        let (begin, end) = (self.leaves[leaf].begin, self.leaves[leaf].end);
        let rows = &self.indices[begin..end];
        let child = Child {
            can_split: true,
            mask: &self.masks[0],
            sums: &self.sums[leaf * s..(leaf + 1) * s],
            seed,
        };
        // The leaf's signal, gathered once in row order for every feature.
        let ordered = gather(
            signal,
            Some(rows),
            &mut self.gh,
            &mut self.olab,
            &mut self.ow,
        );
        let region = &mut self.sparse;
        let mut touched = [0u8; BINS + 1];
        let mut best = Split::NONE;
        for c in 0..self.n_slots {
            let features = data.slot_features(c);
            if !features.iter().any(|&f| child.mask[f as usize]) {
                continue;
            }
            let col = data.slot_column(c);
            let nv = data.slot_value_bins(c);
            if self.cfg.extra_trees && features.len() == 1 {
                let f = features[0] as usize;
                let sp = extra_tree_split(
                    &self.cfg,
                    (f, col, nv),
                    rows,
                    ordered,
                    &child,
                    &mut self.scratch,
                );
                best = best.better(sp);
                continue;
            }
            let mut n_touched = 0;
            match ordered {
                Ordered::Grad(gh) => {
                    for (&r, &[g, h]) in rows.iter().zip(gh) {
                        let b = col[r as usize];
                        let j = b as usize * 3;
                        touched[n_touched] = b;
                        n_touched += (region[j + 2] == 0.0) as usize;
                        region[j] += g as f64;
                        region[j + 1] += h as f64;
                        region[j + 2] += 1.0;
                    }
                }
                Ordered::Classes { labels, w, k } => {
                    for ((&r, &y), &w) in rows.iter().zip(labels).zip(w) {
                        let b = col[r as usize];
                        let j = b as usize * s;
                        touched[n_touched] = b;
                        n_touched += (region[j + k + 1] == 0.0) as usize;
                        region[j + y as usize] -= w;
                        region[j + k] += w;
                        region[j + k + 1] += 1.0;
                    }
                }
            }
            let touched = &mut touched[..n_touched];
            if features.len() == 1 {
                touched.sort_unstable();
                // The NaN bin, if touched, sorts last; it is not a value bin.
                let values = touched.partition_point(|&b| (b as usize) < nv);
                let f = features[0] as usize;
                let sp = find(
                    &self.cfg,
                    s,
                    f,
                    region,
                    nv,
                    &touched[..values],
                    &child,
                    &mut self.scratch,
                );
                best = best.better(sp);
            } else {
                // A bundle: each tried member's three bins from the bundle's histogram.
                for &f in features {
                    let f = f as usize;
                    if child.mask[f] {
                        let sp =
                            feature_split(data, &self.cfg, f, region, &child, &mut self.scratch);
                        best = best.better(sp);
                    }
                }
            }
            for &b in touched.iter() {
                let j = b as usize * s;
                region[j..j + s].fill(0.0);
            }
        }
        best
    }

    /// Builds the histogram of the rows `range` of `indices` into `hist` (`full`: the range is
    /// every row in order), turns `parent` (if any) into the sibling's histogram by
    /// subtraction, and finds the best split of both.
    /// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
    /// splitting it would pass that state around on every call of the inner loop.
    #[allow(clippy::too_many_arguments)]
    fn build_and_find(
        &mut self,
        data: &BinnedData,
        signal: Signal,
        range: (usize, usize),
        full: bool,
        hist: &mut [f64],
        parent: Option<&mut Vec<f64>>,
        children: [(usize, bool, u64); 2],
    ) -> (Split, Split) {
        let s = self.stride;
        let (begin, end) = range;
        let rows = &self.indices[begin..end];
        let n_rows = end - begin;
        let sig = gather(
            signal,
            (!full).then_some(rows),
            &mut self.gh,
            &mut self.olab,
            &mut self.ow,
        );
        let child = |which: usize| {
            let (leaf, can, seed) = children[which];
            Child {
                can_split: can,
                mask: &self.masks[which],
                sums: if leaf == usize::MAX {
                    &[]
                } else {
                    &self.sums[leaf * s..(leaf + 1) * s]
                },
                seed,
            }
        };
        let ctx = Ctx {
            data,
            cfg: &self.cfg,
            stride: s,
            sig,
            rows: if full { None } else { Some(rows) },
            active: &self.slot_active,
            small: child(0),
            large: parent.is_some().then(|| child(1)),
        };
        let parallel = self.cfg.parallel
            && matches!(signal, Signal::Grad { .. })
            && n_rows * self.n_active_slots >= PAR_MIN_CELLS
            && rayon::current_num_threads() > 1;
        // Features are processed in groups of up to 4 that share one pass over the gradients
        // (less memory traffic); smaller groups when there are few features per thread.
        let group = if !matches!(signal, Signal::Grad { .. }) {
            1
        } else if parallel {
            (self.n_slots / (4 * rayon::current_num_threads())).clamp(1, 4)
        } else {
            4
        };
        let region = BINS * s * group;
        let none = (Split::NONE, Split::NONE);
        let merge = |a: (Split, Split), b: (Split, Split)| (a.0.better(b.0), a.1.better(b.1));
        match parent {
            Some(parent) => {
                if parallel {
                    hist.par_chunks_mut(region)
                        .zip(parent.par_chunks_mut(region))
                        .enumerate()
                        .map(|(gi, (sm, lg))| group_job(&ctx, gi * group, sm, Some(lg), &mut []))
                        .reduce(|| none, merge)
                } else {
                    let scratch = &mut self.scratch;
                    hist.chunks_mut(region)
                        .zip(parent.chunks_mut(region))
                        .enumerate()
                        .map(|(gi, (sm, lg))| group_job(&ctx, gi * group, sm, Some(lg), scratch))
                        .fold(none, merge)
                }
            }
            None => {
                if parallel {
                    hist.par_chunks_mut(region)
                        .enumerate()
                        .map(|(gi, sm)| group_job(&ctx, gi * group, sm, None, &mut []))
                        .reduce(|| none, merge)
                } else {
                    let scratch = &mut self.scratch;
                    hist.chunks_mut(region)
                        .enumerate()
                        .map(|(gi, sm)| group_job(&ctx, gi * group, sm, None, scratch))
                        .fold(none, merge)
                }
            }
        }
    }
}

/// For a group of consecutive histogram slots starting at `c0` (regions side by side in
/// `small` and `large`): build the small child's histograms, derive the large child's by
/// subtraction, and find each child's best split among these slots' features.
fn group_job(
    ctx: &Ctx,
    c0: usize,
    small: &mut [f64],
    mut large: Option<&mut [f64]>,
    scratch: &mut [f64],
) -> (Split, Split) {
    let region = BINS * ctx.stride;
    let nc = small.len() / region;
    match ctx.sig {
        Ordered::Grad(gh) if nc == 4 && (c0..c0 + 4).all(|c| ctx.active[c]) => {
            let cols = [0, 1, 2, 3].map(|j| ctx.data.slot_column(c0 + j));
            let used = [0, 1, 2, 3].map(|j| (ctx.data.slot_value_bins(c0 + j) + 1) * 3);
            build_grad4(small, cols, used, ctx.rows, gh);
        }
        sig => {
            for (j, sm) in small.chunks_mut(region).enumerate() {
                let c = c0 + j;
                if !ctx.active[c] {
                    continue;
                }
                let col = ctx.data.slot_column(c);
                let used = (ctx.data.slot_value_bins(c) + 1) * ctx.stride;
                match sig {
                    Ordered::Grad(gh) => build_grad(sm, col, used, ctx.rows, gh),
                    Ordered::Classes { labels, w, k } => {
                        build_classes(&mut sm[..used], col, ctx.rows, labels, w, k)
                    }
                }
            }
        }
    }
    let mut best = (Split::NONE, Split::NONE);
    for (j, sm) in small.chunks_mut(region).enumerate() {
        let c = c0 + j;
        if !ctx.active[c] {
            continue;
        }
        let lg = large
            .as_deref_mut()
            .map(|l| &mut l[j * region..(j + 1) * region]);
        let (a, b) = slot_job(ctx, c, sm, lg, scratch);
        best = (best.0.better(a), best.1.better(b));
    }
    best
}

/// For one slot whose small-child histogram is built: derive the large child's by
/// subtraction and find each child's best split on the slot's features.
fn slot_job(
    ctx: &Ctx,
    c: usize,
    small: &mut [f64],
    large: Option<&mut [f64]>,
    scratch: &mut [f64],
) -> (Split, Split) {
    let s = ctx.stride;
    let large = match (large, ctx.large) {
        (Some(large), Some(child)) => {
            let used = (ctx.data.slot_value_bins(c) + 1) * s;
            for (p, c) in large[..used].iter_mut().zip(&small[..used]) {
                *p -= *c;
            }
            Some((large, child))
        }
        _ => None,
    };
    let mut best = (Split::NONE, Split::NONE);
    for &f in ctx.data.slot_features(c) {
        let f = f as usize;
        if ctx.small.can_split && ctx.small.mask[f] {
            let sp = feature_split(ctx.data, ctx.cfg, f, small, &ctx.small, scratch);
            best.0 = best.0.better(sp);
        }
        if let Some((large, child)) = &large {
            if child.can_split && child.mask[f] {
                let sp = feature_split(ctx.data, ctx.cfg, f, large, child, scratch);
                best.1 = best.1.better(sp);
            }
        }
    }
    best
}

/// The best split on feature `f` of a child whose histogram of `f`'s slot is `slot_region`.
fn feature_split(
    data: &BinnedData,
    cfg: &LearnerConfig,
    f: usize,
    slot_region: &[f64],
    child: &Child,
    scratch: &mut [f64],
) -> Split {
    let s = child.sums.len();
    let nv = data.mapper(f).n_value_bins();
    let mut filled = [0u8; BINS];
    // A bundled feature's histogram is three bins; a one-output one fits on the stack (the
    // parallel jobs have no scratch).
    let mut stack = [0.0; 9];
    let (view, scratch) = if s == 3 {
        (&mut stack[..], scratch)
    } else {
        scratch.split_at_mut(3 * s)
    };
    let region = feature_region(data, slot_region, f, child.sums, view);
    let n = filled_bins(region, nv, s, &mut filled);
    find(cfg, s, f, region, nv, &filled[..n], child, scratch)
}

/// Feature `f`'s histogram region, from `region`, the histogram region of `f`'s slot: that
/// region itself for a feature on its own; for a bundled feature, its three bins built in
/// `view` from the bundle's bin and the leaf's totals `tot`.
fn feature_region<'a>(
    data: &BinnedData,
    region: &'a [f64],
    f: usize,
    tot: &[f64],
    view: &'a mut [f64],
) -> &'a [f64] {
    let s = tot.len();
    let b = data.feature_slot(f).1;
    if b == 0 {
        return region;
    }
    let one = &region[b as usize * s..(b as usize + 1) * s];
    let view = &mut view[..3 * s];
    for i in 0..s {
        view[i] = tot[i] - one[i];
        view[s + i] = one[i];
        view[2 * s + i] = 0.0;
    }
    view
}

/// An extra tree's split of a small leaf on feature `f` (on its own in its slot), without a
/// histogram: one pass finds the range of the leaf's value bins, from which the random
/// threshold is drawn exactly as [`find`] draws it; a second sums the rows on each side of it
/// (and the NaN rows) into three bins, which [`find`] then scores.
fn extra_tree_split(
    cfg: &LearnerConfig,
    (f, col, nv): (usize, &[u8], usize),
    rows: &[u32],
    ordered: Ordered,
    child: &Child,
    scratch: &mut [f64],
) -> Split {
    let (mut lo, mut hi) = (u8::MAX, 0u8);
    for &r in rows {
        let b = col[r as usize];
        if (b as usize) < nv {
            lo = lo.min(b);
            hi = hi.max(b);
        }
    }
    if lo > hi {
        // Only NaN rows: nothing to split.
        return Split::NONE;
    }
    let range = [lo, hi];
    let filled = if lo == hi { &range[..1] } else { &range[..] };
    let Some(o) = random_bin(filled, child.seed, f) else {
        return Split::NONE;
    };
    let s = child.sums.len();
    let (view, scratch) = scratch.split_at_mut(3 * s);
    view.fill(0.0);
    let side = |b: u8| {
        if b as usize >= nv {
            2
        } else {
            (b > o) as usize
        }
    };
    match ordered {
        Ordered::Grad(gh) => {
            for (&r, &[g, h]) in rows.iter().zip(gh) {
                let j = side(col[r as usize]) * 3;
                view[j] += g as f64;
                view[j + 1] += h as f64;
                view[j + 2] += 1.0;
            }
        }
        Ordered::Classes { labels, w, k } => {
            for ((&r, &y), &wi) in rows.iter().zip(labels).zip(w) {
                let j = side(col[r as usize]) * s;
                view[j + y as usize] -= wi;
                view[j + k] += wi;
                view[j + k + 1] += 1.0;
            }
        }
    }
    // The three bins' own draw reproduces the threshold: bin 0 against bin 1, or every value
    // against NaN when the leaf holds one value bin.
    let sides: &[u8] = if view[2 * s - 1] > 0.0 { &[0, 1] } else { &[0] };
    let mut split = find(cfg, s, f, view, 2, sides, child, scratch);
    if split.is_valid() {
        split.bin = o;
    }
    split
}

/// The signal of `rows` (`None`: every row, in order) gathered in their order into `gh`, or
/// `olab` and `ow` (class signals of every row are read in place).
fn gather<'a>(
    signal: Signal<'a>,
    rows: Option<&[u32]>,
    gh: &'a mut Vec<[f32; 2]>,
    olab: &'a mut Vec<u32>,
    ow: &'a mut Vec<f64>,
) -> Ordered<'a> {
    match (signal, rows) {
        (Signal::Grad { g, h }, None) => {
            gh.clear();
            gh.extend(g.iter().zip(h).map(|(&g, &h)| [g as f32, h as f32]));
            Ordered::Grad(gh)
        }
        (Signal::Grad { g, h }, Some(rows)) => {
            gh.clear();
            gh.extend(
                rows.iter()
                    .map(|&r| [g[r as usize] as f32, h[r as usize] as f32]),
            );
            Ordered::Grad(gh)
        }
        (Signal::Classes { labels, w, k }, None) => Ordered::Classes { labels, w, k },
        (Signal::Classes { labels, w, k }, Some(rows)) => {
            olab.clear();
            ow.clear();
            olab.extend(rows.iter().map(|&r| labels[r as usize]));
            ow.extend(rows.iter().map(|&r| w[r as usize]));
            Ordered::Classes {
                labels: olab,
                w: ow,
                k,
            }
        }
    }
}

/// Adds the signal of `rows` to the sums `acc` (one leaf's stride), rounded as histograms hold it.
fn add_rows(acc: &mut [f64], rows: &[u32], signal: Signal) {
    match signal {
        Signal::Grad { g, h } => {
            for &r in rows {
                acc[0] += g[r as usize] as f32 as f64;
                acc[1] += h[r as usize] as f32 as f64;
            }
        }
        Signal::Classes { labels, w, k } => {
            for &r in rows {
                let r = r as usize;
                acc[labels[r] as usize] -= w[r];
                acc[k] += w[r];
            }
        }
    }
}

fn as_region(r: &mut [f64]) -> &mut [f64; BINS * 3] {
    r.try_into()
        .expect("a one-output histogram region holds 256 bins of 3 numbers")
}

/// Four one-output histograms in one pass over the rows; only the first `used[j]` numbers of
/// region `j` (its value bins and NaN bin) are cleared.
fn build_grad4(
    regions: &mut [f64],
    cols: [&[u8]; 4],
    used: [usize; 4],
    rows: Option<&[u32]>,
    gh: &[[f32; 2]],
) {
    let (r0, rest) = regions.split_at_mut(BINS * 3);
    let (r1, rest) = rest.split_at_mut(BINS * 3);
    let (r2, r3) = rest.split_at_mut(BINS * 3);
    let (r0, r1, r2, r3) = (as_region(r0), as_region(r1), as_region(r2), as_region(r3));
    for (r, u) in [&mut *r0, &mut *r1, &mut *r2, &mut *r3]
        .into_iter()
        .zip(used)
    {
        r[..u].fill(0.0);
    }
    let mut add = |b: [u8; 4], g: f64, h: f64| {
        for (r, b) in [&mut *r0, &mut *r1, &mut *r2, &mut *r3].into_iter().zip(b) {
            let j = b as usize * 3;
            r[j] += g;
            r[j + 1] += h;
            r[j + 2] += 1.0;
        }
    };
    let [c0, c1, c2, c3] = cols;
    match rows {
        None => {
            let n = gh
                .len()
                .min(c0.len())
                .min(c1.len())
                .min(c2.len())
                .min(c3.len());
            let (c0, c1, c2, c3) = (&c0[..n], &c1[..n], &c2[..n], &c3[..n]);
            for i in 0..n {
                let [g, h] = gh[i];
                add([c0[i], c1[i], c2[i], c3[i]], g as f64, h as f64);
            }
        }
        Some(rows) => {
            for (&r, &[g, h]) in rows.iter().zip(gh) {
                let r = r as usize;
                add([c0[r], c1[r], c2[r], c3[r]], g as f64, h as f64);
            }
        }
    }
}

/// One one-output histogram; only its first `used` numbers (value bins and NaN bin) are cleared.
fn build_grad(region: &mut [f64], col: &[u8], used: usize, rows: Option<&[u32]>, gh: &[[f32; 2]]) {
    let region: &mut [f64; BINS * 3] = region
        .try_into()
        .expect("a one-output histogram region holds 256 bins of 3 numbers");
    region[..used].fill(0.0);
    match rows {
        None => {
            for (&b, &[gi, hi]) in col.iter().zip(gh) {
                let j = b as usize * 3;
                region[j] += gi as f64;
                region[j + 1] += hi as f64;
                region[j + 2] += 1.0;
            }
        }
        Some(rows) => {
            for (&r, &[gi, hi]) in rows.iter().zip(gh) {
                let j = col[r as usize] as usize * 3;
                region[j] += gi as f64;
                region[j + 1] += hi as f64;
                region[j + 2] += 1.0;
            }
        }
    }
}

fn build_classes(
    region: &mut [f64],
    col: &[u8],
    rows: Option<&[u32]>,
    labels: &[u32],
    w: &[f64],
    k: usize,
) {
    let s = k + 2;
    region.fill(0.0);
    let mut add = |b: u8, y: u32, wi: f64| {
        let j = b as usize * s;
        region[j + y as usize] -= wi;
        region[j + k] += wi;
        region[j + k + 1] += 1.0;
    };
    match rows {
        None => {
            for ((&b, &y), &wi) in col.iter().zip(labels).zip(w) {
                add(b, y, wi);
            }
        }
        Some(rows) => {
            for ((&r, &y), &wi) in rows.iter().zip(labels).zip(w) {
                add(col[r as usize], y, wi);
            }
        }
    }
}

/// The value bins of a feature's histogram region that hold rows, in increasing order, into
/// `out`; returns how many.
fn filled_bins(region: &[f64], nv: usize, s: usize, out: &mut [u8; BINS]) -> usize {
    let mut n = 0;
    for t in 0..nv {
        out[n] = t as u8;
        n += (region[t * s + s - 1] != 0.0) as usize;
    }
    n
}

/// A random (extra-trees) threshold drawn from `[lo, hi)` of the filled value bins `filled`
/// (sorted); the last one when only one is filled (only NaN against the values remains
/// possible); `None` when none is.
fn random_bin(filled: &[u8], seed: u64, f: usize) -> Option<u8> {
    let (&lo, &hi) = (filled.first()?, filled.last()?);
    if hi == lo {
        return Some(hi);
    }
    let r = mix(seed ^ mix(f as u64 + 1));
    Some(lo + (r % (hi - lo) as u64) as u8)
}

/// Best split of one feature's histogram region for a leaf with totals `child.sums`; `filled`
/// lists the value bins that hold rows, in increasing order (only they are read, with the NaN
/// bin `nv`).
/// Kept as one function (an algorithm's core): its steps share the hot loop's state, and
/// splitting it would pass that state around on every call of the inner loop.
#[allow(clippy::too_many_arguments)]
fn find(
    cfg: &LearnerConfig,
    s: usize,
    f: usize,
    region: &[f64],
    nv: usize,
    filled: &[u8],
    child: &Child,
    scratch: &mut [f64],
) -> Split {
    let k = s - 2;
    let tot = child.sums;
    let min_n = cfg.min_child_samples.max(1) as f64;
    let min_h = cfg.min_child_weight;
    // Extra trees try one random threshold: every filled bin up to it goes left.
    let (candidates, only) = if cfg.extra_trees {
        match random_bin(filled, child.seed, f) {
            Some(o) => (filled.partition_point(|&b| b <= o), Some(o as usize)),
            None => return Split::NONE,
        }
    } else {
        (filled.len(), None)
    };
    let nan = &region[nv * s..(nv + 1) * s];
    let has_nan = nan[s - 1] > 0.0;
    let mut best = Split::NONE;
    let mut consider = |gain: f64, scale: f64, t: usize, default_left: bool| {
        if gain > cfg.min_split_gain && gain > 1e-10 * scale && gain > best.gain {
            best = Split {
                gain,
                feature: f,
                bin: t as u8,
                default_left,
            };
        }
    };
    if k == 1 {
        let (g, h, n) = (tot[0], tot[1], tot[2]);
        let parent = leaf_score(g, h, cfg.lambda, cfg.alpha);
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0.0);
        for (i, &t) in filled[..candidates].iter().enumerate() {
            let t = t as usize;
            gl += region[t * 3];
            hl += region[t * 3 + 1];
            nl += region[t * 3 + 2];
            // A random threshold only needs the sums up to it.
            if only.is_some() && i + 1 < candidates {
                continue;
            }
            let t = only.unwrap_or(t);
            for dir in 0..1 + has_nan as usize {
                let (gl, hl, nl) = if dir == 1 {
                    (gl + nan[0], hl + nan[1], nl + nan[2])
                } else {
                    (gl, hl, nl)
                };
                let (gr, hr, nr) = (g - gl, h - hl, n - nl);
                if nl < min_n || nr < min_n || hl < min_h || hr < min_h {
                    continue;
                }
                let sl = leaf_score(gl, hl, cfg.lambda, cfg.alpha);
                let sr = leaf_score(gr, hr, cfg.lambda, cfg.alpha);
                // Without NaN in the leaf, unseen NaN follows the heavier side.
                let default_left = if has_nan { dir == 1 } else { hl >= hr };
                consider(sl + sr - parent, sl + sr, t, default_left);
            }
        }
    } else {
        let (cum, left) = scratch.split_at_mut(s);
        cum.fill(0.0);
        let parent_score: f64 = (0..k)
            .map(|c| leaf_score(tot[c], tot[k], cfg.lambda, cfg.alpha))
            .sum();
        for (i, &t) in filled[..candidates].iter().enumerate() {
            let t = t as usize;
            for c in 0..s {
                cum[c] += region[t * s + c];
            }
            if only.is_some() && i + 1 < candidates {
                continue;
            }
            let t = only.unwrap_or(t);
            for dir in 0..1 + has_nan as usize {
                for c in 0..s {
                    left[c] = cum[c] + if dir == 1 { nan[c] } else { 0.0 };
                }
                let (hl, nl) = (left[k], left[k + 1]);
                let (hr, nr) = (tot[k] - hl, tot[k + 1] - nl);
                if nl < min_n || nr < min_n || hl < min_h || hr < min_h {
                    continue;
                }
                let mut sl = 0.0;
                let mut sr = 0.0;
                for c in 0..k {
                    sl += leaf_score(left[c], hl, cfg.lambda, cfg.alpha);
                    sr += leaf_score(tot[c] - left[c], hr, cfg.lambda, cfg.alpha);
                }
                let default_left = if has_nan { dir == 1 } else { hl >= hr };
                consider(sl + sr - parent_score, sl + sr, t, default_left);
            }
        }
    }
    best
}
