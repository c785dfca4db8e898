//! When the search stops launching trials: the trial cap, the exit score and experiment-level
//! early stopping, Azure's count rule or the convergence rule (the time budget is the loop's
//! own deadline).

use super::{EarlyStopping, SearchSettings, StopReason, CONVERGENCE_MIN_TRIALS};
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
    /// When (seconds into the search) and after how many completed trials the best loss last
    /// improved by more than the convergence tolerance.
    last_real_gain: (f64, usize),
}

/// What the loop tells the rules about a finished trial besides its loss.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    /// Seconds since the search started.
    pub elapsed: f64,
    /// Whether the scheduler has proposed its whole strong start.
    pub strong_start_done: bool,
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
            last_real_gain: (0.0, 0),
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
    pub(crate) fn after_trial(
        &mut self,
        loss: Option<f64>,
        progress: Progress,
    ) -> (bool, Option<StopReason>) {
        let Some(loss) = loss else {
            return (false, None);
        };
        self.completed += 1;
        let improved = loss < self.best_loss - 1e-12;
        if improved {
            let tolerance = match self.early_stopping {
                Some(EarlyStopping::Convergence { tolerance }) => tolerance,
                _ => 0.0,
            };
            if !self.best_loss.is_finite() || self.best_loss - loss > tolerance {
                self.last_real_gain = (progress.elapsed, self.completed);
            }
            self.best_loss = loss;
            self.since_improvement = 0;
        } else {
            self.since_improvement += 1;
        }
        if self.exit_loss.is_some_and(|exit| self.best_loss <= exit) {
            return (improved, Some(StopReason::ExitScore));
        }
        let reason = match self.early_stopping {
            Some(EarlyStopping::Azure {
                min_trials,
                patience,
            }) => (self.completed >= min_trials && self.since_improvement >= patience)
                .then_some(StopReason::EarlyStopping),
            Some(EarlyStopping::Convergence { .. }) => {
                let (gain_at, gain_trials) = self.last_real_gain;
                let converged = progress.strong_start_done
                    && self.completed >= CONVERGENCE_MIN_TRIALS
                    && progress.elapsed >= 2.0 * gain_at
                    && self.completed >= 2 * gain_trials;
                converged.then_some(StopReason::Converged)
            }
            None => None,
        };
        (improved, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Progress = Progress {
        elapsed: 1.0,
        strong_start_done: true,
    };

    fn settings() -> SearchSettings {
        SearchSettings {
            end: None,
            trial_timeout: None,
            max_trials: Some(3),
            early_stopping: Some(EarlyStopping::Azure {
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
        assert_eq!(rules.after_trial(Some(1.0), AT), (true, None));
        assert_eq!(rules.after_trial(None, AT), (false, None));
        assert_eq!(rules.after_trial(Some(2.0), AT), (false, None));
        assert_eq!(
            rules.after_trial(Some(1.5), AT),
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
            rules.after_trial(Some(Metric::Accuracy.to_loss(0.8)), AT).1,
            None
        );
        assert_eq!(
            rules
                .after_trial(Some(Metric::Accuracy.to_loss(0.95)), AT)
                .1,
            Some(StopReason::ExitScore)
        );
    }

    #[test]
    fn convergence_waits_for_the_start_and_half_the_time_without_real_gain() {
        let mut s = settings();
        s.max_trials = None;
        s.early_stopping = Some(EarlyStopping::Convergence { tolerance: 0.01 });
        let mut rules = StopRules::new(&s, Metric::Rmse);
        let at = |elapsed: f64, strong_start_done: bool| Progress {
            elapsed,
            strong_start_done,
        };
        // A real gain at trial 10, 10 s in.
        for i in 0..10 {
            let (_, stop) = rules.after_trial(Some(10.0 - i as f64), at(i as f64 + 1.0, true));
            assert_eq!(stop, None);
        }
        // Tiny gains (below the tolerance) do not reset the clock, but the trial count
        // minimum and the strong start still hold it back.
        let mut t = 11.0;
        let mut loss = 1.0;
        for _ in 10..CONVERGENCE_MIN_TRIALS - 1 {
            loss -= 0.001;
            let (_, stop) = rules.after_trial(Some(loss), at(t, true));
            assert_eq!(
                stop, None,
                "fewer than {CONVERGENCE_MIN_TRIALS} trials at {t}"
            );
            t += 1.0;
        }
        assert_eq!(rules.after_trial(Some(5.0), at(t, false)).1, None);
        assert_eq!(
            rules.after_trial(Some(5.0), at(t + 1.0, true)).1,
            Some(StopReason::Converged)
        );
        // A real gain restarts the wait.
        let (improved, stop) = rules.after_trial(Some(0.5), at(t + 2.0, true));
        assert!(improved);
        assert_eq!(stop, None);
    }
}
