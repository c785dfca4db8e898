//! Ranking: one ordering for every list of scored things (trials, ensembles, child runs), and
//! the leaderboard of a finished run.

use serde::Serialize;

use crate::ensemble::{EnsembleRecord, Learner};
use crate::metrics::Metric;
use crate::models::Params;
use crate::search::TrialRecord;

/// Sorts `items` best first: by `loss` (lower is better; items without one go last), ties by
/// `index` (the earlier one first).
pub fn rank_by_loss<T>(
    items: &mut [T],
    loss: impl Fn(&T) -> Option<f64>,
    index: impl Fn(&T) -> usize,
) {
    items.sort_by(|a, b| {
        let key = |x: &T| loss(x).filter(|l| !l.is_nan()).unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then(index(a).cmp(&index(b)))
    });
}

/// One row of a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Trial (or ensemble) number in the run.
    pub index: usize,
    /// What produced the model.
    pub learner: Learner,
    /// Mean cross-validated score of the primary metric.
    pub score: f64,
    /// Standard deviation over the folds.
    pub score_std: f64,
    /// Wall seconds it took.
    pub seconds: f64,
    /// Its hyperparameters (an ensemble's are its members).
    pub params: Params,
}

impl Entry {
    /// The entry of a trial (score NaN when it did not complete).
    pub fn of_trial(t: &TrialRecord) -> Entry {
        Entry {
            index: t.index,
            learner: Learner::Algorithm(t.algorithm),
            score: t.score.unwrap_or(f64::NAN),
            score_std: t.score_std.unwrap_or(0.0),
            seconds: t.seconds,
            params: t.params.clone(),
        }
    }

    /// The entry of an ensemble of `trials`.
    pub fn of_ensemble(e: &EnsembleRecord, trials: &[TrialRecord]) -> Entry {
        Entry {
            index: e.index,
            learner: Learner::Ensemble(e.kind),
            score: e.score,
            score_std: e.score_std,
            seconds: e.seconds,
            params: e.params(trials),
        }
    }
}

/// The completed trials and ensembles of a run, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    /// The metric the entries are ranked by.
    pub metric: Metric,
    /// Best first.
    pub entries: Vec<Entry>,
}

impl Leaderboard {
    /// Ranks the completed `trials` and the `ensembles` under `metric`.
    pub fn new(metric: Metric, trials: &[TrialRecord], ensembles: &[EnsembleRecord]) -> Self {
        let mut entries: Vec<Entry> = trials
            .iter()
            .filter(|t| t.score.is_some())
            .map(Entry::of_trial)
            .collect();
        entries.extend(ensembles.iter().map(|e| Entry::of_ensemble(e, trials)));
        rank_by_loss(&mut entries, |e| Some(metric.to_loss(e.score)), |e| e.index);
        Leaderboard { metric, entries }
    }

    /// The best entry, if any completed.
    pub fn best(&self) -> Option<&Entry> {
        self.entries.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_loss_first_then_earlier_index_and_missing_last() {
        let mut items = vec![
            (0, None),
            (1, Some(0.5)),
            (2, Some(0.2)),
            (3, Some(0.2)),
            (4, Some(f64::NAN)),
        ];
        rank_by_loss(&mut items, |i| i.1, |i| i.0);
        let order: Vec<usize> = items.iter().map(|i| i.0).collect();
        assert_eq!(order, vec![2, 3, 1, 0, 4]);
    }
}
