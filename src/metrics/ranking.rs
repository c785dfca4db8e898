//! Ranking metrics: ROC AUC and average precision, one-vs-rest or micro-averaged.
//!
//! Each binary problem sorts its scores once (`O(n log n)`) and sweeps the distinct
//! thresholds from the highest down, the way scikit-learn's `roc_curve` and
//! `precision_recall_curve` do: tied scores form one step of the curve.

use ndarray::ArrayView2;

use super::Average;

/// One row of a binary problem: the score and whether the row is a positive.
type Scored = (f64, bool);

/// Sorts `pairs` by decreasing score and calls `on_threshold(tp, fp)` with the cumulative
/// counts after each group of equal scores.
fn sweep(pairs: &mut [Scored], mut on_threshold: impl FnMut(u64, u64)) {
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < pairs.len() {
        let score = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == score {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        on_threshold(tp, fp);
    }
}

/// Area under the ROC curve (trapezoids between distinct thresholds); `None` when the
/// problem has no positive or no negative row.
fn binary_auc(pairs: &mut [Scored]) -> Option<f64> {
    let (mut prev_tp, mut prev_fp) = (0u64, 0u64);
    let mut twice_area: u128 = 0;
    sweep(pairs, |tp, fp| {
        twice_area += u128::from(fp - prev_fp) * u128::from(tp + prev_tp);
        prev_tp = tp;
        prev_fp = fp;
    });
    if prev_tp == 0 || prev_fp == 0 {
        return None;
    }
    Some(twice_area as f64 / 2.0 / (prev_tp as f64 * prev_fp as f64))
}

/// Average precision, `sum_n (R_n - R_{n-1}) P_n` over the distinct thresholds (step-wise,
/// not interpolated); `None` when the problem has no positive row.
fn binary_average_precision(pairs: &mut [Scored]) -> Option<f64> {
    let positives = pairs.iter().filter(|p| p.1).count() as u64;
    if positives == 0 {
        return None;
    }
    let mut prev_tp = 0u64;
    let mut sum = 0.0;
    sweep(pairs, |tp, fp| {
        if tp > prev_tp {
            let recall_step = (tp - prev_tp) as f64 / positives as f64;
            sum += recall_step * tp as f64 / (tp + fp) as f64;
        }
        prev_tp = tp;
    });
    Some(sum)
}

/// Averages a binary score over the classes (one-vs-rest) or computes it once on the
/// one-hot labels against all probabilities (micro). Classes absent from `y_true` are left
/// out; NaN when no class has a defined score.
fn one_vs_rest(
    y_true: &[usize],
    proba: &ArrayView2<f64>,
    average: Average,
    score: fn(&mut [Scored]) -> Option<f64>,
) -> f64 {
    let k = proba.ncols();
    if average == Average::Micro {
        let mut pairs: Vec<Scored> = y_true
            .iter()
            .zip(proba.rows())
            .flat_map(|(&t, row)| row.into_iter().enumerate().map(move |(c, &s)| (s, c == t)))
            .collect();
        return score(&mut pairs).unwrap_or(f64::NAN);
    }
    let mut support = vec![0u64; k];
    for &t in y_true {
        support[t] += 1;
    }
    let mut pairs: Vec<Scored> = Vec::with_capacity(y_true.len());
    let (mut sum, mut weight_sum) = (0.0, 0.0);
    for (c, &count) in support.iter().enumerate() {
        if count == 0 {
            continue;
        }
        pairs.clear();
        pairs.extend(
            proba
                .column(c)
                .iter()
                .zip(y_true)
                .map(|(&s, &t)| (s, t == c)),
        );
        if let Some(value) = score(&mut pairs) {
            let weight = match average {
                Average::Weighted => count as f64,
                _ => 1.0,
            };
            sum += weight * value;
            weight_sum += weight;
        }
    }
    if weight_sum == 0.0 {
        f64::NAN
    } else {
        sum / weight_sum
    }
}

/// ROC AUC with the given averaging. With two classes, weighted and macro are the plain
/// binary AUC of column 1; NaN when `y_true` holds a single class (scikit-learn raises).
pub(super) fn auc(y_true: &[usize], proba: &ArrayView2<f64>, average: Average) -> f64 {
    if proba.ncols() == 2 && average != Average::Micro {
        let mut pairs: Vec<Scored> = proba
            .column(1)
            .iter()
            .zip(y_true)
            .map(|(&s, &t)| (s, t == 1))
            .collect();
        return binary_auc(&mut pairs).unwrap_or(f64::NAN);
    }
    one_vs_rest(y_true, proba, average, binary_auc)
}

/// Average precision, one-vs-rest over every column (also for two classes) or micro.
pub(super) fn average_precision(
    y_true: &[usize],
    proba: &ArrayView2<f64>,
    average: Average,
) -> f64 {
    one_vs_rest(y_true, proba, average, binary_average_precision)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pairs(scores: &[f64], labels: &[bool]) -> Vec<Scored> {
        scores.iter().copied().zip(labels.iter().copied()).collect()
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // One positive and one negative with the same score: AUC 0.5.
        assert_eq!(
            binary_auc(&mut pairs(&[0.3, 0.3], &[true, false])),
            Some(0.5)
        );
        // Perfect ranking and reversed ranking.
        assert_eq!(
            binary_auc(&mut pairs(&[0.9, 0.1], &[true, false])),
            Some(1.0)
        );
        assert_eq!(
            binary_auc(&mut pairs(&[0.1, 0.9], &[true, false])),
            Some(0.0)
        );
    }

    #[test]
    fn auc_is_undefined_without_both_kinds() {
        assert_eq!(binary_auc(&mut pairs(&[0.1, 0.9], &[true, true])), None);
        assert_eq!(binary_auc(&mut pairs(&[0.1, 0.9], &[false, false])), None);
    }

    #[test]
    fn average_precision_is_step_wise() {
        // Ranking: pos (0.9), neg (0.8), pos (0.7): AP = 0.5 * 1 + 0.5 * 2/3.
        let mut p = pairs(&[0.9, 0.8, 0.7], &[true, false, true]);
        let ap = binary_average_precision(&mut p).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: one threshold, precision 2/3 at recall 1.
        let mut p = pairs(&[0.5, 0.5, 0.5], &[true, false, true]);
        assert!((binary_average_precision(&mut p).unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(binary_average_precision(&mut pairs(&[0.5], &[false])), None);
    }

    /// Mann-Whitney form of the AUC: the share of (positive, negative) pairs ranked right,
    /// ties counting one half. Quadratic, for checking only.
    fn pairwise_auc(pairs: &[Scored]) -> Option<f64> {
        let (mut right, mut total) = (0.0, 0.0);
        for &(sp, _) in pairs.iter().filter(|p| p.1) {
            for &(sn, _) in pairs.iter().filter(|p| !p.1) {
                total += 1.0;
                right += if sp > sn {
                    1.0
                } else if sp == sn {
                    0.5
                } else {
                    0.0
                };
            }
        }
        (total > 0.0).then(|| right / total)
    }

    proptest! {
        #[test]
        fn auc_equals_the_pairwise_definition(
            rows in proptest::collection::vec((0u8..12, any::<bool>()), 1..60)
        ) {
            let mut p: Vec<Scored> = rows.iter().map(|&(s, y)| (f64::from(s), y)).collect();
            let expected = pairwise_auc(&p);
            let got = binary_auc(&mut p);
            prop_assert_eq!(got.is_some(), expected.is_some());
            if let (Some(got), Some(expected)) = (got, expected) {
                prop_assert!((got - expected).abs() < 1e-12, "{} vs {}", got, expected);
            }
        }

        #[test]
        fn average_precision_is_a_fraction(
            rows in proptest::collection::vec((0u8..12, any::<bool>()), 1..60)
        ) {
            let mut p: Vec<Scored> = rows.iter().map(|&(s, y)| (f64::from(s), y)).collect();
            if let Some(ap) = binary_average_precision(&mut p) {
                prop_assert!(ap > 0.0 && ap <= 1.0 + 1e-12, "{}", ap);
            }
        }
    }
}
