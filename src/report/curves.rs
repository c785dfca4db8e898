//! The numbers behind the report's classification charts, from out-of-fold predictions: ROC
//! and precision-recall curves (one class against the rest), calibration bins and the
//! confusion matrix.

/// A curve as `(x, y)` points in drawing order, with its area summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// ROC: the area under the curve (trapezoids). Precision-recall: average precision (the
    /// precision at each threshold weighted by the recall it adds).
    pub area: f64,
}

/// Positive and negative counts at each distinct score, highest score first.
fn sweep(scores: &[f64], positive: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_tie {
            steps.push((tp, fp));
        }
    }
    steps
}

/// The ROC curve of `scores` for the rows where `positive` holds: `(false positive rate, true
/// positive rate)` from `(0, 0)` to `(1, 1)`, one point per distinct score (ties are one
/// step). `None` when either class is absent.
pub fn roc(scores: &[f64], positive: &[bool]) -> Option<Curve> {
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return None;
    }
    let mut points = vec![(0.0, 0.0)];
    for (tp, fp) in sweep(scores, positive) {
        points.push((fp as f64 / n as f64, tp as f64 / p as f64));
    }
    let area = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum();
    Some(Curve { points, area })
}

/// The precision-recall curve of `scores`: `(recall, precision)` per distinct score, starting
/// at recall 0 with the first threshold's precision. `None` without positives.
pub fn precision_recall(scores: &[f64], positive: &[bool]) -> Option<Curve> {
    let p = positive.iter().filter(|&&b| b).count();
    if p == 0 {
        return None;
    }
    let steps = sweep(scores, positive);
    let mut points = Vec::with_capacity(steps.len() + 1);
    let mut area = 0.0;
    let mut last_recall = 0.0;
    for (tp, fp) in steps {
        let recall = tp as f64 / p as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        if points.is_empty() {
            points.push((0.0, precision));
        }
        area += (recall - last_recall) * precision;
        last_recall = recall;
        points.push((recall, precision));
    }
    Some(Curve { points, area })
}

/// One bin of a calibration curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationBin {
    /// Mean predicted probability of the rows in the bin.
    pub predicted: f64,
    /// Share of those rows where the event happened.
    pub observed: f64,
    /// Rows in the bin.
    pub count: usize,
}

/// Calibration of probabilities `p` against outcomes `happened`, in `bins` equal-width bins
/// over [0, 1] (1.0 falls in the last); empty bins are left out.
pub fn calibration(p: &[f64], happened: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0.0, 0usize, 0usize); bins];
    for (&pi, &h) in p.iter().zip(happened) {
        if !pi.is_finite() {
            continue;
        }
        let b = ((pi.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[b].0 += pi;
        sums[b].1 += usize::from(h);
        sums[b].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(sum, events, count)| CalibrationBin {
            predicted: sum / count as f64,
            observed: events as f64 / count as f64,
            count,
        })
        .collect()
}

/// The index of the largest value (ties to the lowest index), as the metrics predict a class.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Confusion matrix counts: `matrix[actual][predicted]`, `k` classes.
pub fn confusion(actual: &[usize], predicted: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; k]; k];
    for (&a, &p) in actual.iter().zip(predicted) {
        if a < k && p < k {
            m[a][p] += 1;
        }
    }
    m
}

/// At most `max` points of a curve, evenly spaced, keeping the first and the last.
pub fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max).map(|i| points[i * last / (max - 1)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_of_a_perfect_and_a_hand_computed_ranking() {
        let perfect = roc(&[0.9, 0.8, 0.2, 0.1], &[true, true, false, false]).unwrap();
        assert_eq!(
            perfect.points,
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(perfect.area, 1.0);
        // Scores 0.9+ 0.7- 0.6+ 0.3-: one swapped pair of four -> AUC 3/4.
        let c = roc(&[0.9, 0.7, 0.6, 0.3], &[true, false, true, false]).unwrap();
        assert_eq!(
            c.points,
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        assert!((c.area - 0.75).abs() < 1e-12);
        assert!(roc(&[0.1, 0.2], &[true, true]).is_none());
    }

    #[test]
    fn tied_scores_are_one_step_of_the_roc_curve() {
        let c = roc(&[0.5, 0.5, 0.5, 0.5], &[true, false, true, false]).unwrap();
        assert_eq!(c.points, vec![(0.0, 0.0), (1.0, 1.0)]);
        assert!((c.area - 0.5).abs() < 1e-12);
    }

    #[test]
    fn precision_recall_points_and_average_precision() {
        // Ranked +, -, +, -: precision 1 at recall 1/2, 2/3 at recall 1.
        let c = precision_recall(&[0.9, 0.7, 0.6, 0.3], &[true, false, true, false]).unwrap();
        assert_eq!(
            c.points,
            vec![
                (0.0, 1.0),
                (0.5, 1.0),
                (0.5, 0.5),
                (1.0, 2.0 / 3.0),
                (1.0, 0.5)
            ]
        );
        assert!((c.area - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
        assert!(precision_recall(&[0.3], &[false]).is_none());
    }

    #[test]
    fn calibration_bins_average_predictions_and_outcomes() {
        let p = [0.05, 0.15, 0.12, 0.95, 1.0, 0.91];
        let happened = [false, true, false, true, true, false];
        let bins = calibration(&p, &happened, 10);
        assert_eq!(bins.len(), 3);
        assert!((bins[0].predicted - 0.05).abs() < 1e-12);
        assert_eq!((bins[0].observed, bins[0].count), (0.0, 1));
        assert!((bins[1].predicted - 0.135).abs() < 1e-12);
        assert_eq!((bins[1].observed, bins[1].count), (0.5, 2));
        // 0.91, 0.95 and 1.0 share the last bin.
        assert!((bins[2].predicted - (0.95 + 1.0 + 0.91) / 3.0).abs() < 1e-12);
        assert_eq!(bins[2].count, 3);
        assert!((bins[2].observed - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn confusion_matrix_counts_actual_by_predicted() {
        let m = confusion(&[0, 0, 1, 2, 2, 2], &[0, 1, 1, 2, 0, 2], 3);
        assert_eq!(m, vec![vec![1, 1, 0], vec![0, 1, 0], vec![1, 0, 2]]);
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), 1);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&pts, 4);
        assert_eq!(t.len(), 4);
        assert_eq!(t[0], (0.0, 0.0));
        assert_eq!(t[3], (9.0, 0.0));
    }
}
