//! The search: a [`Scheduler`] proposes trials, an executor runs at most the pool's number of
//! them at once, and the loop here stops on the time budget, the trial cap, the exit score or
//! experiment-level early stopping.

pub(crate) mod executor;
pub mod portfolio;
mod sampler;
mod scheduler;
mod stopping;
pub(crate) mod trial;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use executor::{Resumed, TrialBackend, WorkerPool};
pub use sampler::{low_cost_params, random_params, Sampler};
pub use scheduler::{CostFrugalScheduler, Fidelity, Proposal, Scheduler};
pub use trial::{early_stopping_train_rows, PreparedFold, TrialOutput, TrialRecord, TrialStatus};

use crate::error::{AutotabError, Result};
use crate::leaderboard::rank_by_loss;
use crate::metrics::Metric;
use crate::models::FittedModel;
use executor::Executor;
use stopping::StopRules;

/// Experiment-level early stopping: when the search may end before its time budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum EarlyStopping {
    /// Azure AutoML's count rule (`enable_early_termination`): stop once `min_trials` trials
    /// completed and the best score has not improved for the last `patience` of them.
    Azure {
        /// Never stop before this many completed trials.
        min_trials: usize,
        /// Stop when the best score has not improved for this many completed trials.
        patience: usize,
    },
    /// The default: stop only when the search has converged, that is when all of these hold:
    /// every strong-start configuration has run; at least [`CONVERGENCE_MIN_TRIALS`] trials
    /// completed; and the best loss improved by no more than `tolerance` during the last half of
    /// the search's elapsed time *and* during the last half of its completed trials.
    Convergence {
        /// Smallest improvement of the best loss (in the metric's units) that counts.
        tolerance: f64,
    },
}

/// The convergence rule never stops a search with fewer completed trials.
pub const CONVERGENCE_MIN_TRIALS: usize = 30;

impl EarlyStopping {
    /// Azure's `min_trials`: 20.
    pub const AZURE_MIN_TRIALS: usize = 20;
    /// Azure's `patience`: 10.
    pub const AZURE_PATIENCE: usize = 10;
    /// Azure's rule with Azure's numbers.
    pub const AZURE: EarlyStopping = EarlyStopping::Azure {
        min_trials: Self::AZURE_MIN_TRIALS,
        patience: Self::AZURE_PATIENCE,
    };
    /// The convergence rule with a tolerance of 1e-4.
    pub const CONVERGENCE: EarlyStopping = EarlyStopping::Convergence { tolerance: 1e-4 };

    /// Parses `azure` or `convergence` (`off` is `None`).
    pub fn parse(name: &str) -> Result<Option<EarlyStopping>> {
        match name.trim().to_ascii_lowercase().as_str() {
            "azure" => Ok(Some(EarlyStopping::AZURE)),
            "convergence" | "auto" => Ok(Some(EarlyStopping::CONVERGENCE)),
            "off" | "none" => Ok(None),
            other => Err(AutotabError::config(format!(
                "unknown early stopping rule '{other}'; valid rules: azure, convergence, off"
            ))),
        }
    }

    /// The rule's name, as the run summary prints it.
    pub fn name(&self) -> &'static str {
        match self {
            EarlyStopping::Azure { .. } => "azure",
            EarlyStopping::Convergence { .. } => "convergence",
        }
    }
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping::CONVERGENCE
    }
}

/// Limits of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// When the search must have stopped launching and collecting trials.
    #[serde(skip)]
    pub end: Option<Instant>,
    /// Longest a single trial may run (default: a quarter of the budget).
    pub trial_timeout: Option<Duration>,
    /// Most trials to launch.
    pub max_trials: Option<usize>,
    /// Early stopping, or `None` to use the whole budget.
    pub early_stopping: Option<EarlyStopping>,
    /// Stop as soon as a trial reaches this score of the primary metric.
    pub exit_score: Option<f64>,
    /// Seed of every random choice.
    pub seed: u64,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The time budget ran out.
    TimeBudget,
    /// `max_trials` were run.
    MaxTrials,
    /// Azure's count rule: no improvement for `patience` trials.
    EarlyStopping,
    /// The convergence rule held (see [`EarlyStopping::Convergence`]).
    Converged,
    /// A trial reached the job's exit score.
    ExitScore,
    /// No algorithm fits in the remaining time.
    NothingAffordable,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::TimeBudget => "the time budget",
            StopReason::MaxTrials => "the trial cap (max_trials)",
            StopReason::EarlyStopping => {
                "Azure's early stopping rule (no improvement in `patience` trials)"
            }
            StopReason::ExitScore => "the exit score",
            StopReason::Converged => {
                "the convergence rule (no real gain during the last half of the search)"
            }
            StopReason::NothingAffordable => "no algorithm fitting in the time left",
        })
    }
}

/// The search's result: every trial record (launch order) and the best trials' outputs.
#[derive(Debug)]
pub struct SearchOutcome {
    /// Every finished (or abandoned) trial.
    pub trials: Vec<TrialRecord>,
    /// Out-of-fold predictions of the best completed trials, best first, by trial index.
    pub oof: Vec<(usize, Array2<f64>)>,
    /// The folds' models of the [`KEEP_FOLD_MODELS`] best completed trials, best first, by
    /// trial index (the ones whose out-of-fold predictions a voting ensemble chooses from).
    pub fold_models: Vec<(usize, Vec<FittedModel>)>,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

impl SearchOutcome {
    /// The best completed trial under `metric` (ties go to the earlier trial).
    pub fn best(&self, metric: Metric) -> Option<&TrialRecord> {
        self.ranked(metric).into_iter().next()
    }

    /// Completed trials, best first.
    pub fn ranked(&self, metric: Metric) -> Vec<&TrialRecord> {
        let mut done: Vec<&TrialRecord> =
            self.trials.iter().filter(|t| t.score.is_some()).collect();
        rank_by_loss(
            &mut done,
            |t| t.score.map(|s| metric.to_loss(s)),
            |t| t.index,
        );
        done
    }
}

/// Starts trials while there is time, and knows how many it started.
struct Launcher {
    launched: usize,
    /// Seconds to keep free at the end for refitting the best trial so far.
    best_reserve: f64,
    end: Instant,
    trial_limit: Duration,
    seed: u64,
}

impl Launcher {
    /// Launches the scheduler's next proposal; returns the reason to stop when none may run.
    fn launch_next(
        &mut self,
        executor: &mut dyn TrialBackend,
        scheduler: &mut dyn Scheduler,
        rules: &StopRules,
    ) -> Option<StopReason> {
        if let Some(reason) = rules.before_launch(self.launched) {
            return Some(reason);
        }
        let now = Instant::now();
        let seconds_left =
            self.end.saturating_duration_since(now).as_secs_f64() - self.best_reserve;
        if seconds_left <= 0.0 {
            return Some(StopReason::TimeBudget);
        }
        let Some(proposal) = scheduler.propose(seconds_left) else {
            return Some(StopReason::NothingAffordable);
        };
        let deadline = (now + self.trial_limit)
            .min(self.end)
            .min(now + Duration::from_secs_f64(seconds_left));
        let seed = self.seed.wrapping_add(self.launched as u64 * 104_729);
        executor.launch(self.launched, proposal, deadline, seed);
        self.launched += 1;
        None
    }
}

/// How many out-of-fold prediction sets are kept for ensembling.
pub const KEEP_OOF: usize = 40;
/// How many trials' fold models are kept for bagging: as many as the voting ensemble chooses
/// its members from (`ensemble::VOTING_CANDIDATES`), so that any voting ensemble can be
/// shipped as its folds' models.
pub const KEEP_FOLD_MODELS: usize = 15;
/// Trials still running this long after the end are abandoned.
const GRACE: Duration = Duration::from_millis(500);

/// What the search needs besides its settings: the prepared folds and how they score.
pub struct SearchInputs<'a, 'r> {
    /// The run's worker threads.
    pub pool: &'a WorkerPool,
    /// Featurized folds, shared read-only by the trials.
    pub folds: Arc<Vec<PreparedFold>>,
    /// Rows of the training table (the out-of-fold predictions' height).
    pub n_rows: usize,
    /// The primary metric.
    pub metric: Metric,
    /// Where the trials run instead of `pool` (a distributed run's queue), or `None` for the
    /// pool.
    pub remote: Option<&'r mut dyn TrialBackend>,
}

/// Runs the search. `reserve` estimates, from the best trial so far, how many seconds must be
/// left at the end (to refit it); `on_trial` sees each finished trial.
pub fn run_search(
    inputs: SearchInputs,
    scheduler: &mut dyn Scheduler,
    settings: &SearchSettings,
    reserve: impl Fn(&TrialRecord) -> f64,
    mut on_trial: impl FnMut(&TrialRecord),
) -> Result<SearchOutcome> {
    if inputs.folds.is_empty() {
        return Err(AutotabError::config("no validation folds"));
    }
    let start = Instant::now();
    let end = settings.end.unwrap_or(start + Duration::from_secs(3600));
    let metric = inputs.metric;
    let mut local;
    let executor: &mut dyn TrialBackend = match inputs.remote {
        Some(remote) => remote,
        None => {
            local = Executor::new(inputs.pool, inputs.folds, inputs.n_rows, metric, start);
            &mut local
        }
    };
    let concurrency = executor.capacity();
    let mut rules = StopRules::new(settings, metric);
    // Without a user limit a trial may take a quarter of the budget, so that two expensive
    // samples cannot hold every slot until the end.
    let trial_limit = settings.trial_timeout.unwrap_or_else(|| {
        Duration::from_secs_f64(
            (end.saturating_duration_since(start).as_secs_f64() * 0.25).max(2.0),
        )
    });
    let mut trials: Vec<TrialRecord> = Vec::new();
    let mut oof: Vec<(usize, f64, Array2<f64>)> = Vec::new();
    let mut fold_models: Vec<(usize, f64, Vec<FittedModel>)> = Vec::new();
    let mut launcher = Launcher {
        launched: 0,
        best_reserve: 0.0,
        end,
        trial_limit,
        seed: settings.seed,
    };
    let mut stop: Option<StopReason> = None;
    // An earlier attempt's trials (see `Resumed`) count first, as if this search ran them.
    let resumed = executor.resume();
    launcher.launched = resumed.next_index;
    for proposal in &resumed.proposed {
        scheduler.replay(proposal);
    }
    let mut earlier: VecDeque<(TrialOutput, bool)> = resumed.finished.into();
    loop {
        let (output, recorded) = match earlier.pop_front() {
            Some(earlier) => earlier,
            None => {
                while stop.is_none() && executor.running() < concurrency {
                    stop = launcher.launch_next(executor, scheduler, &rules);
                }
                if executor.running() == 0 {
                    break;
                }
                let Some(output) = executor.next_finished(end + GRACE) else {
                    for record in executor.abandon_all() {
                        on_trial(&record);
                        trials.push(record);
                    }
                    stop.get_or_insert(StopReason::TimeBudget);
                    break;
                };
                (output, false)
            }
        };
        let record = output.record;
        let loss = record.score.map(|s| metric.to_loss(s));
        scheduler.observe(&record, loss);
        let progress = stopping::Progress {
            elapsed: start.elapsed().as_secs_f64(),
            strong_start_done: scheduler.strong_start_done(),
        };
        let (improved, reason) = rules.after_trial(loss, progress);
        if improved {
            launcher.best_reserve = reserve(&record);
        }
        if stop.is_none() {
            stop = reason;
        }
        if let Some(loss) = loss {
            if let Some(pred) = output.oof {
                keep_best(&mut oof, (record.index, loss, pred), KEEP_OOF);
            }
            if let Some(models) = output.fold_models {
                keep_best(
                    &mut fold_models,
                    (record.index, loss, models),
                    KEEP_FOLD_MODELS,
                );
            }
        }
        if !recorded {
            on_trial(&record);
        }
        trials.push(record);
    }
    trials.sort_by_key(|t| t.index);
    Ok(SearchOutcome {
        trials,
        oof: oof.into_iter().map(|(i, _, p)| (i, p)).collect(),
        fold_models: fold_models.into_iter().map(|(i, _, m)| (i, m)).collect(),
        stop_reason: stop.unwrap_or(StopReason::TimeBudget),
    })
}

/// Adds `item` (trial index, loss, payload) to `kept`, keeping the `keep` lowest losses, best
/// first (ties to the earlier trial, as [`rank_by_loss`] orders them).
fn keep_best<T>(kept: &mut Vec<(usize, f64, T)>, item: (usize, f64, T), keep: usize) {
    kept.push(item);
    kept.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    kept.truncate(keep);
}
