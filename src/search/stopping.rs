//! When the search stops launching trials: the trial cap, the exit score and experiment-level
//! early stopping (the time budget is the loop's own deadline).

use super::{EarlyStopping, SearchSettings, StopReason};
use crate::metrics::Metric;

/// The stop rules of one search, with what they have seen so far.
#[derive(Debug)]
pub(crate) struct StopRules {
    max_trials: Option<usize>,
    early_stopping: Option<EarlyStopping>,
    /// The exit score as a loss (lower is better).
    exit_loss: Option<f64>,
    completed: usize,
    since_improvement: usize,
    best_loss: f64,
}

impl StopRules {
    /// The rules of `settings`, scoring with `metric`.
    pub(crate) fn new(settings: &SearchSettings, metric: Metric) -> StopRules {
        StopRules {
            max_trials: settings.max_trials,
            early_stopping: settings.early_stopping,
            exit_loss: settings.exit_score.map(|s| metric.to_loss(s)),
            completed: 0,
            since_improvement: 0,
            best_loss: f64::INFINITY,
        }
    }

    /// Whether the cap forbids launching another trial after `launched` were.
    pub(crate) fn before_launch(&self, launched: usize) -> Option<StopReason> {
        self.max_trials
            .is_some_and(|m| launched >= m)
            .then_some(StopReason::MaxTrials)
    }

    /// Takes a finished trial's loss (`None` when it did not complete). Returns whether it
    /// improved on the best so far, and the reason to stop, if one now holds.
    pub(crate) fn after_trial(&mut self, loss: Option<f64>) -> (bool, Option<StopReason>) {
        let Some(loss) = loss else {
            return (false, None);
        };
        self.completed += 1;
        let improved = loss < self.best_loss - 1e-12;
        if improved {
            self.best_loss = loss;
            self.since_improvement = 0;
        } else {
            self.since_improvement += 1;
        }
        if self.exit_loss.is_some_and(|exit| self.best_loss <= exit) {
            return (improved, Some(StopReason::ExitScore));
        }
        let stale = self.early_stopping.is_some_and(|es| {
            self.completed >= es.min_trials && self.since_improvement >= es.patience
        });
        (improved, stale.then_some(StopReason::EarlyStopping))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SearchSettings {
        SearchSettings {
            end: None,
            trial_timeout: None,
            max_trials: Some(3),
            early_stopping: Some(EarlyStopping {
                min_trials: 2,
                patience: 2,
            }),
            exit_score: None,
            seed: 0,
        }
    }

    #[test]
    fn trial_cap_and_patience() {
        let mut rules = StopRules::new(&settings(), Metric::Rmse);
        assert_eq!(rules.before_launch(2), None);
        assert_eq!(rules.before_launch(3), Some(StopReason::MaxTrials));
        assert_eq!(rules.after_trial(Some(1.0)), (true, None));
        assert_eq!(rules.after_trial(None), (false, None));
        assert_eq!(rules.after_trial(Some(2.0)), (false, None));
        assert_eq!(
            rules.after_trial(Some(1.5)),
            (false, Some(StopReason::EarlyStopping))
        );
    }

    #[test]
    fn exit_score_stops_once_reached() {
        let mut s = settings();
        s.early_stopping = None;
        s.exit_score = Some(0.9);
        let mut rules = StopRules::new(&s, Metric::Accuracy);
        assert_eq!(
            rules.after_trial(Some(Metric::Accuracy.to_loss(0.8))).1,
            None
        );
        assert_eq!(
            rules.after_trial(Some(Metric::Accuracy.to_loss(0.95))).1,
            Some(StopReason::ExitScore)
        );
    }
}
