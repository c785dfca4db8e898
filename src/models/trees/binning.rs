//! Quantisation of raw `f64` features into at most 255 value bins plus one bin for NaN.
//!
//! A feature's bins are described by their upper bounds: a value `v` falls in the first bin `b`
//! with `v <= upper[b]`; the last value bin's upper bound is `+inf`. NaN goes to the bin right
//! after the value bins. A split "bin <= t" is therefore exactly the raw test `v <= upper[t]`,
//! which lets fitted trees predict from raw features.

use ndarray::{ArrayView2, Axis, Slice};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows sampled to choose the bin boundaries (LightGBM's `bin_construct_sample_cnt`).
const SAMPLE_ROWS: usize = 200_000;

/// Largest number of value bins a feature can have (one more byte value is kept for NaN).
pub const MAX_VALUE_BINS: usize = 255;

/// How one feature's raw values map to bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BinMapper {
    /// Upper bound of each value bin, increasing; the last one is `+inf`.
    pub(crate) upper: Vec<f64>,
}

impl BinMapper {
    /// Number of value bins; the NaN bin has this index.
    pub(crate) fn n_value_bins(&self) -> usize {
        self.upper.len()
    }

    /// The bin of a raw value.
    #[inline]
    pub(crate) fn bin(&self, v: f64) -> u8 {
        if v.is_nan() {
            self.upper.len() as u8
        } else {
            self.upper.partition_point(|&u| u < v) as u8
        }
    }

    /// Chooses at most `max_bins` value bins from the (non-NaN) sample values, as LightGBM's
    /// `FindBinWithZeroAsOneBin` does: zero (|v| <= 1e-35) gets a bin of its own, the negative
    /// and the positive values share the other bins in proportion to their counts, and each side
    /// is cut by [`greedy_bins`]. Measured with LightGBM on bank_marketing (one-hot plus label
    /// order, three of the run's boosting configurations, three seeds;
    /// `reports/scripts/binning_study.py`): these boundaries score 0.00045 AUC above the
    /// earlier equal-count cuts (6 runs of 9), as LightGBM's own boundaries do.
    fn from_sample(mut values: Vec<f64>, max_bins: usize) -> BinMapper {
        values.retain(|v| !v.is_nan());
        if values.is_empty() {
            return BinMapper {
                upper: vec![f64::INFINITY],
            };
        }
        values.sort_unstable_by(f64::total_cmp);
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for &v in &values {
            match distinct.last_mut() {
                Some((last, count)) if *last == v => *count += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let negative_end = distinct.partition_point(|&(v, _)| v < -ZERO_THRESHOLD);
        let positive_start = distinct.partition_point(|&(v, _)| v <= ZERO_THRESHOLD);
        let (negatives, positives) = (&distinct[..negative_end], &distinct[positive_start..]);
        let count = |part: &[(f64, usize)]| part.iter().map(|&(_, c)| c).sum::<usize>();
        let (n_negative, n_positive) = (count(negatives), count(positives));
        let mut upper = Vec::new();
        if !negatives.is_empty() {
            let share = n_negative as f64 / (n_negative + n_positive) as f64;
            let bins = ((share * (max_bins - 1) as f64) as usize).max(1);
            upper = greedy_bins(negatives, bins, n_negative);
            if let Some(last) = upper.last_mut() {
                *last = -ZERO_THRESHOLD;
            }
        }
        let positive_bins = (max_bins - 1).saturating_sub(upper.len());
        if !positives.is_empty() && positive_bins > 0 {
            upper.push(ZERO_THRESHOLD);
            upper.extend(greedy_bins(positives, positive_bins, n_positive));
        } else {
            upper.push(f64::INFINITY);
        }
        BinMapper { upper }
    }
}

/// Values this close to zero are zero to the binning (LightGBM's `kZeroThreshold`).
const ZERO_THRESHOLD: f64 = 1e-35;

/// Fewest sample values a bin is closed with, except the last (LightGBM's `min_data_in_bin`,
/// whose default is 3). At 1 a table of a few hundred rows keeps a bin per distinct value, so
/// a forest can still split between any two of them (with 3, one tree could no longer fit a
/// 200-row step function exactly); on bank_marketing 3 measured +0.0006 AUC over the earlier
/// cuts and 1 +0.00045, the same within the runs' spread (`reports/scripts/binning_study.py`).
const MIN_VALUES_IN_BIN: usize = 1;

/// Upper bounds (the last `+inf`) of at most `max_bins` bins over sorted `(value, count)` pairs
/// holding `total` values, as LightGBM's `GreedyFindBin`: with few distinct values, one bin per
/// value (merging values until a bin holds [`MIN_VALUES_IN_BIN`]); otherwise bins of about
/// equal counts, where a value holding at least a bin's share gets a bin of its own and the
/// share is recomputed over the rest.
fn greedy_bins(distinct: &[(f64, usize)], max_bins: usize, total: usize) -> Vec<f64> {
    let mut upper = Vec::new();
    let push = |upper: &mut Vec<f64>, bound: f64| {
        if upper.last() != Some(&bound) {
            upper.push(bound);
        }
    };
    if distinct.len() <= max_bins {
        let mut in_bin = 0;
        for pair in distinct.windows(2) {
            in_bin += pair[0].1;
            if in_bin >= MIN_VALUES_IN_BIN {
                push(&mut upper, midpoint(pair[0].0, pair[1].0));
                in_bin = 0;
            }
        }
        upper.push(f64::INFINITY);
        return upper;
    }
    let max_bins = max_bins.min(total / MIN_VALUES_IN_BIN).max(1);
    let share = total as f64 / max_bins as f64;
    let big: Vec<bool> = distinct.iter().map(|&(_, c)| c as f64 >= share).collect();
    let mut bins_left = max_bins;
    let mut values_left = total;
    for (&(_, c), _) in distinct.iter().zip(&big).filter(|(_, &b)| b) {
        bins_left = bins_left.saturating_sub(1);
        values_left -= c;
    }
    let mut share = values_left as f64 / bins_left.max(1) as f64;
    // Cuts between `distinct[i]` and `distinct[i + 1]`.
    let mut cuts = Vec::new();
    let mut in_bin = 0;
    for i in 0..distinct.len() - 1 {
        let c = distinct[i].1;
        if !big[i] {
            values_left -= c;
        }
        in_bin += c;
        let closes = big[i]
            || in_bin as f64 >= share
            || (big[i + 1] && in_bin as f64 >= (share * 0.5).max(1.0));
        if closes {
            cuts.push(i);
            if cuts.len() + 1 >= max_bins {
                break;
            }
            in_bin = 0;
            if !big[i] {
                bins_left = bins_left.saturating_sub(1);
                share = values_left as f64 / bins_left.max(1) as f64;
            }
        }
    }
    for i in cuts {
        push(&mut upper, midpoint(distinct[i].0, distinct[i + 1].0));
    }
    upper.push(f64::INFINITY);
    upper
}

/// A threshold strictly between `a < b` that keeps `a` below or on it and `b` above it.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    if m >= b || !m.is_finite() {
        a
    } else {
        m
    }
}

/// A feature matrix quantised once, shared read-only by every tree-based trial on a fold.
///
/// Each feature has at most 255 value bins plus its own NaN bin, stored as `u8` column by column.
///
/// Histograms are built per *slot*: a feature on its own, or a bundle of mutually exclusive
/// binary features (LightGBM's exclusive feature bundling), typically the one-hot columns of a
/// categorical. A bundle's byte column holds 0 where every member is at its bin 0, and `i + 1`
/// where member `i` is at its bin 1, so one pass over it builds all its members' histograms:
/// member `i`'s bin 1 is the bundle's bin `i + 1`, its bin 0 the leaf's total minus that.
#[derive(Debug, Clone)]
pub struct BinnedData {
    n_rows: usize,
    /// Column-major bins: feature `f` occupies `f * n_rows .. (f + 1) * n_rows`.
    bins: Vec<u8>,
    mappers: Vec<BinMapper>,
    /// The histogram slots, in feature order (a bundle where its first member is).
    slots: Vec<Slot>,
    /// Each feature's slot, and its bin in the slot's bundle (0 for a feature on its own).
    feature_slot: Vec<(u32, u8)>,
    /// Column-major bundle columns, `n_rows` each.
    bundle_bins: Vec<u8>,
}

/// One histogram column: a feature, or a bundle of exclusive binary features.
#[derive(Debug, Clone)]
struct Slot {
    /// The features, in order (one for a feature on its own).
    features: Vec<u32>,
    /// The bundle's column in `bundle_bins`, `None` for a feature on its own.
    bundle: Option<usize>,
}

/// Most members of a bundle: bins `0..=254` plus the (never used) NaN bin fit in a byte.
const MAX_BUNDLE: usize = 254;

impl BinnedData {
    /// Chooses each feature's bins from a sample of at most 200,000 rows (drawn with `seed`)
    /// and quantises every row. `max_bins` is clamped to `2..=255` value bins.
    pub fn build(x: ArrayView2<f64>, max_bins: usize, seed: u64) -> BinnedData {
        let max_bins = max_bins.clamp(2, MAX_VALUE_BINS);
        let n = x.nrows();
        let sample: Option<Vec<usize>> = (n > SAMPLE_ROWS).then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut idx = rand::seq::index::sample(&mut rng, n, SAMPLE_ROWS).into_vec();
            idx.sort_unstable();
            idx
        });
        let mappers: Vec<BinMapper> = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let col = x.column(f);
                let values: Vec<f64> = match &sample {
                    Some(idx) => idx.iter().map(|&i| col[i]).collect(),
                    None => col.iter().copied().collect(),
                };
                BinMapper::from_sample(values, max_bins)
            })
            .collect();
        Self::with_mappers(x, mappers).with_bundles()
    }

    /// Quantises other rows (a validation part, a test set) with this data's bin boundaries.
    /// Columns beyond this data's feature count are ignored; missing columns read as NaN.
    pub fn bin_like(&self, x: ArrayView2<f64>) -> BinnedData {
        Self::with_mappers(x, self.mappers.clone())
    }

    fn with_mappers(x: ArrayView2<f64>, mappers: Vec<BinMapper>) -> BinnedData {
        const BLOCK: usize = 8192;
        let n = x.nrows();
        let p = mappers.len();
        let width = x.ncols().min(p);
        // Read row blocks in their memory order, write each block column by column, then copy
        // the block columns into place: no strided walk over a row-major matrix.
        let blocks: Vec<Vec<u8>> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|bi| {
                let start = bi * BLOCK;
                let len = BLOCK.min(n - start);
                let mut local = vec![0u8; len * p];
                for (f, m) in mappers.iter().enumerate().skip(width) {
                    local[f * len..(f + 1) * len].fill(m.bin(f64::NAN));
                }
                for (i, row) in x
                    .slice_axis(Axis(0), Slice::from(start..start + len))
                    .rows()
                    .into_iter()
                    .enumerate()
                {
                    for (f, (&v, m)) in row.iter().zip(&mappers).enumerate() {
                        local[f * len + i] = m.bin(v);
                    }
                }
                local
            })
            .collect();
        let mut bins = vec![0u8; n * p];
        for (bi, local) in blocks.iter().enumerate() {
            let start = bi * BLOCK;
            let len = local.len() / p.max(1);
            for f in 0..p {
                bins[f * n + start..f * n + start + len]
                    .copy_from_slice(&local[f * len..(f + 1) * len]);
            }
        }
        BinnedData {
            n_rows: n,
            bins,
            mappers,
            slots: (0..p as u32)
                .map(|f| Slot {
                    features: vec![f],
                    bundle: None,
                })
                .collect(),
            feature_slot: (0..p as u32).map(|f| (f, 0)).collect(),
            bundle_bins: Vec::new(),
        }
    }

    /// Bundles mutually exclusive binary features (no row has two of them at bin 1, no NaN,
    /// bin 0 the more frequent), greedily in feature order, into shared histogram slots.
    fn with_bundles(mut self) -> BinnedData {
        let n = self.n_rows;
        let p = self.mappers.len();
        // Rows at bin 1 of each candidate feature.
        let ones: Vec<Option<Vec<u32>>> = (0..p)
            .into_par_iter()
            .map(|f| {
                if self.mappers[f].n_value_bins() != 2 {
                    return None;
                }
                let col = self.column(f);
                if col.contains(&2) {
                    return None;
                }
                let rows: Vec<u32> = (0..n as u32).filter(|&r| col[r as usize] == 1).collect();
                (rows.len() * 2 <= n).then_some(rows)
            })
            .collect();
        // Greedy first fit: each candidate joins the first bundle none of whose rows it uses.
        let mut bundles: Vec<(Vec<u32>, Vec<bool>)> = Vec::new();
        for (f, rows) in ones.iter().enumerate() {
            let Some(rows) = rows else { continue };
            let fit = bundles.iter().position(|(members, used)| {
                members.len() < MAX_BUNDLE && rows.iter().all(|&r| !used[r as usize])
            });
            let b = fit.unwrap_or_else(|| {
                bundles.push((Vec::new(), vec![false; n]));
                bundles.len() - 1
            });
            let (members, used) = &mut bundles[b];
            members.push(f as u32);
            for &r in rows {
                used[r as usize] = true;
            }
        }
        bundles.retain(|(members, _)| members.len() >= 2);
        if bundles.is_empty() {
            return self;
        }
        let mut bundle_bins = vec![0u8; n * bundles.len()];
        let mut first_of = vec![None; p];
        let mut in_bundle = vec![false; p];
        for (b, (members, _)) in bundles.iter().enumerate() {
            let column = &mut bundle_bins[b * n..(b + 1) * n];
            for (i, &f) in members.iter().enumerate() {
                in_bundle[f as usize] = true;
                if let Some(rows) = &ones[f as usize] {
                    for &r in rows {
                        column[r as usize] = i as u8 + 1;
                    }
                }
            }
            first_of[members[0] as usize] = Some(b);
        }
        let mut slots = Vec::new();
        let mut feature_slot = vec![(0u32, 0u8); p];
        for f in 0..p {
            if let Some(b) = first_of[f] {
                let members = bundles[b].0.clone();
                for (i, &m) in members.iter().enumerate() {
                    feature_slot[m as usize] = (slots.len() as u32, i as u8 + 1);
                }
                slots.push(Slot {
                    features: members,
                    bundle: Some(b),
                });
            } else if !in_bundle[f] {
                feature_slot[f] = (slots.len() as u32, 0);
                slots.push(Slot {
                    features: vec![f as u32],
                    bundle: None,
                });
            }
        }
        self.slots = slots;
        self.feature_slot = feature_slot;
        self.bundle_bins = bundle_bins;
        self
    }

    /// Number of histogram slots (features on their own and bundles).
    pub(crate) fn n_slots(&self) -> usize {
        self.slots.len()
    }

    /// The byte column histograms of slot `c` are built from.
    #[inline]
    pub(crate) fn slot_column(&self, c: usize) -> &[u8] {
        let slot = &self.slots[c];
        match slot.bundle {
            Some(b) => &self.bundle_bins[b * self.n_rows..(b + 1) * self.n_rows],
            None => self.column(slot.features[0] as usize),
        }
    }

    /// Value bins of slot `c`'s column (its NaN bin has this index).
    #[inline]
    pub(crate) fn slot_value_bins(&self, c: usize) -> usize {
        let slot = &self.slots[c];
        match slot.bundle {
            Some(_) => slot.features.len() + 1,
            None => self.mappers[slot.features[0] as usize].n_value_bins(),
        }
    }

    /// The features of slot `c`, in order.
    #[inline]
    pub(crate) fn slot_features(&self, c: usize) -> &[u32] {
        &self.slots[c].features
    }

    /// Feature `f`'s slot, and its bin in the slot's bundle (0: the feature is on its own).
    #[inline]
    pub(crate) fn feature_slot(&self, f: usize) -> (usize, u8) {
        let (c, b) = self.feature_slot[f];
        (c as usize, b)
    }

    /// The given rows (in that order), with the same bin boundaries: an inner split of a fold
    /// costs a byte copy, not a second binning.
    pub fn select_rows(&self, rows: &[usize]) -> BinnedData {
        let mut bins = Vec::with_capacity(rows.len() * self.mappers.len());
        for f in 0..self.mappers.len() {
            let col = self.column(f);
            bins.extend(rows.iter().map(|&r| col[r]));
        }
        // Members exclusive on all rows stay exclusive on any of them.
        let mut bundle_bins =
            Vec::with_capacity(rows.len() * self.bundle_bins.len() / self.n_rows.max(1));
        for column in self.bundle_bins.chunks(self.n_rows.max(1)) {
            bundle_bins.extend(rows.iter().map(|&r| column[r]));
        }
        BinnedData {
            n_rows: rows.len(),
            bins,
            mappers: self.mappers.clone(),
            slots: self.slots.clone(),
            feature_slot: self.feature_slot.clone(),
            bundle_bins,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mappers.len()
    }

    /// The bins of feature `f`, one per row.
    #[inline]
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// The bin boundaries of feature `f`.
    #[inline]
    pub(crate) fn mapper(&self, f: usize) -> &BinMapper {
        &self.mappers[f]
    }

    /// A fingerprint of the bin boundaries: models remember it so that warm starts refuse data
    /// binned differently.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for m in &self.mappers {
            h = mix(h ^ m.upper.len() as u64);
            for u in &m.upper {
                h = mix(h ^ u.to_bits());
            }
        }
        h
    }
}

/// A 64-bit mixing step (splitmix64 finaliser).
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use proptest::prelude::*;

    #[test]
    fn negatives_zero_and_positives_get_their_own_bins_and_nan_its_own() {
        let values = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let mut x: Vec<f64> = values.iter().flat_map(|&v| [v; 3]).collect();
        x.push(f64::NAN);
        let x = Array2::from_shape_vec((16, 1), x).unwrap();
        let b = BinnedData::build(x.view(), 255, 0);
        let m = b.mapper(0);
        assert_eq!(
            m.upper,
            vec![-1.5, -ZERO_THRESHOLD, ZERO_THRESHOLD, 1.5, f64::INFINITY]
        );
        assert_eq!(m.bin(-2.0), 0);
        assert_eq!(m.bin(0.0), 2);
        assert_eq!(m.bin(-0.0), 2);
        assert_eq!(m.bin(2.0), 4);
        assert_eq!(b.column(0)[15], 5);
    }

    #[test]
    fn few_distinct_values_get_one_bin_each_after_the_zero_bin() {
        let x = Array2::from_shape_vec((6, 1), vec![1.0, 2.0, 2.0, 3.0, f64::NAN, 1.0]).unwrap();
        let b = BinnedData::build(x.view(), 255, 0);
        // The zero bin (empty here), then one bin per value.
        assert_eq!(
            b.mapper(0).upper,
            vec![ZERO_THRESHOLD, 1.5, 2.5, f64::INFINITY]
        );
        assert_eq!(b.column(0), &[1, 2, 2, 3, 4, 1]);
    }

    #[test]
    fn a_value_holding_a_bins_share_closes_its_bin() {
        // Half the rows at 7.0 among 5,000 distinct values: 7.0 closes its bin, which may hold
        // fewer than half a bin's share of the values just below it, and none above it.
        let other = |i: usize| 1.0 + i as f64 * 1e-3;
        let x = Array2::from_shape_fn(
            (10_000, 1),
            |(i, _)| if i % 2 == 0 { 7.0 } else { other(i) },
        );
        let b = BinnedData::build(x.view(), 16, 0);
        let m = b.mapper(0);
        assert!(m.n_value_bins() <= 16);
        let seven = m.bin(7.0);
        let sharing = |above: bool| {
            (1..10_000)
                .step_by(2)
                .filter(|&i| (other(i) > 7.0) == above && m.bin(other(i)) == seven)
                .count()
        };
        assert_eq!(sharing(true), 0, "bounds {:?}", m.upper);
        let half_share = 5_000 / 15 / 2;
        assert!(sharing(false) < half_share, "bounds {:?}", m.upper);
    }

    #[test]
    fn many_values_are_capped_at_max_bins() {
        let x = Array2::from_shape_fn((10_000, 1), |(i, _)| i as f64);
        let b = BinnedData::build(x.view(), 64, 0);
        assert!(b.mapper(0).n_value_bins() <= 64);
        assert!(b.mapper(0).n_value_bins() >= 60);
    }

    #[test]
    fn selected_rows_keep_their_bins_and_boundaries() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
        let b = BinnedData::build(x.view(), 8, 0);
        let rows = [4, 0, 49, 4];
        let s = b.select_rows(&rows);
        assert_eq!(s.n_rows(), 4);
        assert_eq!(s.fingerprint(), b.fingerprint());
        for f in 0..3 {
            let expected: Vec<u8> = rows.iter().map(|&r| b.column(f)[r]).collect();
            assert_eq!(s.column(f), expected.as_slice());
        }
    }

    #[test]
    fn bin_like_uses_the_same_boundaries() {
        let x = Array2::from_shape_fn((100, 2), |(i, j)| (i * (j + 1)) as f64);
        let b = BinnedData::build(x.view(), 16, 0);
        let again = b.bin_like(x.view());
        assert_eq!(b.bins, again.bins);
        assert_eq!(b.fingerprint(), again.fingerprint());
    }

    proptest! {
        #[test]
        fn bins_are_monotone_and_match_raw_thresholds(
            values in proptest::collection::vec(-1e6f64..1e6, 1..300),
            max_bins in 2usize..40,
        ) {
            let n = values.len();
            let x = Array2::from_shape_vec((n, 1), values.clone()).unwrap();
            let b = BinnedData::build(x.view(), max_bins, 0);
            let m = b.mapper(0);
            prop_assert!(m.n_value_bins() <= max_bins);
            let col = b.column(0);
            for i in 0..n {
                for j in 0..n {
                    if values[i] < values[j] {
                        prop_assert!(col[i] <= col[j]);
                    }
                }
                let t = col[i] as usize;
                prop_assert!(values[i] <= m.upper[t]);
                if t > 0 {
                    prop_assert!(values[i] > m.upper[t - 1]);
                }
            }
        }
    }
}
