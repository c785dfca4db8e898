//! Greedy ensemble selection (Caruana et al., 2004) over the trials' out-of-fold predictions,
//! as Azure AutoML's VotingEnsemble does.

use ndarray::{Array2, Axis};

use crate::error::Result;
use crate::metrics::Metric;
use crate::target::Targets;

/// The chosen members (trial index, weight; weights sum to 1) and the ensemble's score on the
/// out-of-fold rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// `(trial index, weight)`, heaviest first.
    pub members: Vec<(usize, f64)>,
    /// The metric of the weighted average of the members' out-of-fold predictions.
    pub score: f64,
}

/// Scores out-of-fold predictions `pred` (rows of the training table) on `rows`.
pub fn score_rows(
    metric: Metric,
    targets: &Targets,
    pred: &Array2<f64>,
    rows: &[usize],
) -> Result<f64> {
    let sub = pred.select(Axis(0), rows);
    match targets.select(rows) {
        Targets::Classes(labels, _) => metric.classification(&labels, sub.view()),
        Targets::Values(values) => metric.regression(&values, &sub.column(0).to_vec()),
    }
}

/// Greedy selection with replacement: start from nothing, add at each step the candidate that
/// makes the averaged prediction score best, up to `max_steps` additions; keep the best prefix.
/// Returns `None` when fewer than two candidates exist or no mixture beats the best single one.
pub fn greedy_selection(
    candidates: &[(usize, Array2<f64>)],
    rows: &[usize],
    targets: &Targets,
    metric: Metric,
    max_steps: usize,
) -> Result<Option<Selection>> {
    if candidates.len() < 2 || rows.is_empty() {
        return Ok(None);
    }
    let single_best = candidates
        .iter()
        .map(|(_, p)| score_rows(metric, targets, p, rows).map(|s| metric.to_loss(s)))
        .collect::<Result<Vec<f64>>>()?
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let mut sum = Array2::<f64>::zeros(candidates[0].1.dim());
    let mut counts = vec![0usize; candidates.len()];
    let mut best: Option<(f64, Vec<usize>)> = None;
    for step in 1..=max_steps {
        let mut step_best: Option<(f64, usize)> = None;
        for (c, (_, pred)) in candidates.iter().enumerate() {
            let mixed = (&sum + pred) / step as f64;
            let loss = metric.to_loss(score_rows(metric, targets, &mixed, rows)?);
            if loss.is_finite() && step_best.is_none_or(|(l, _)| loss < l) {
                step_best = Some((loss, c));
            }
        }
        let Some((loss, c)) = step_best else { break };
        sum += &candidates[c].1;
        counts[c] += 1;
        if best.as_ref().is_none_or(|(l, _)| loss < *l - 1e-12) {
            best = Some((loss, counts.clone()));
        }
    }
    let Some((loss, counts)) = best else {
        return Ok(None);
    };
    let distinct = counts.iter().filter(|&&n| n > 0).count();
    if distinct < 2 || loss >= single_best - 1e-9 {
        return Ok(None);
    }
    let total: usize = counts.iter().sum();
    let mut members: Vec<(usize, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(c, &n)| (candidates[c].0, n as f64 / total as f64))
        .collect();
    members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let score = if metric.greater_is_better() {
        -loss
    } else {
        loss
    };
    Ok(Some(Selection { members, score }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_complementary_models_beat_either_alone() {
        // Each model is 2 off on rows 2-3, in opposite directions: their average is exact.
        let targets = Targets::Values(vec![1.0, 2.0, 3.0, 4.0]);
        let a = array![[1.0], [2.0], [1.0], [2.0]];
        let b = array![[1.0], [2.0], [5.0], [6.0]];
        let sel = greedy_selection(&[(0, a), (1, b)], &[0, 1, 2, 3], &targets, Metric::Rmse, 10)
            .unwrap()
            .expect("a mixture helps");
        assert_eq!(sel.members.len(), 2);
        assert!((sel.members.iter().map(|m| m.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(sel.score < 1e-9, "{sel:?}");
        assert_eq!(
            sel.members.iter().map(|m| m.1).collect::<Vec<_>>(),
            vec![0.5, 0.5]
        );
    }

    #[test]
    fn no_ensemble_when_one_model_dominates() {
        let targets = Targets::Values(vec![1.0, 2.0, 3.0]);
        let good = array![[1.0], [2.0], [3.0]];
        let bad = array![[9.0], [9.0], [9.0]];
        let sel = greedy_selection(
            &[(0, good), (1, bad)],
            &[0, 1, 2],
            &targets,
            Metric::Rmse,
            10,
        )
        .unwrap();
        assert_eq!(sel, None);
    }
}
