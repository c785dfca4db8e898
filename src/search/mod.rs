//! The search: proposes trials, runs at most `max_concurrent` of them at once on a bounded
//! rayon pool, and stops on the time budget, the trial cap or experiment-level early stopping.

mod sampler;
mod trial;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use sampler::{low_cost_params, random_params, Sampler};
pub use trial::{PreparedFold, TrialOutput, TrialRecord, TrialStatus};

use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::Algorithm;

/// Experiment-level early stopping, as Azure AutoML does it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Never stop before this many completed trials.
    pub min_trials: usize,
    /// Stop when the best score has not improved for this many completed trials.
    pub patience: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            min_trials: 20,
            patience: 10,
        }
    }
}

/// Limits and choices of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Algorithms to search, in first-round order.
    pub algorithms: Vec<Algorithm>,
    /// When the search must have stopped launching and collecting trials.
    #[serde(skip)]
    pub end: Option<Instant>,
    /// Longest a single trial may run.
    pub trial_timeout: Option<Duration>,
    /// Most trials to launch.
    pub max_trials: Option<usize>,
    /// Most trials in flight at once.
    pub max_concurrent: usize,
    /// Early stopping, or `None` to use the whole budget.
    pub early_stopping: Option<EarlyStopping>,
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
    /// No improvement for `patience` trials.
    EarlyStopping,
    /// No algorithm fits in the remaining time.
    NothingAffordable,
}

/// The search's result: every trial record (launch order) and the best trial's outputs.
#[derive(Debug)]
pub struct SearchOutcome {
    /// Every finished (or abandoned) trial.
    pub trials: Vec<TrialRecord>,
    /// Out-of-fold predictions of completed trials, by trial index (the best ones are kept).
    pub oof: Vec<(usize, Array2<f64>)>,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

impl SearchOutcome {
    /// The best completed trial under `metric`.
    pub fn best(&self, metric: Metric) -> Option<&TrialRecord> {
        self.trials
            .iter()
            .filter(|t| t.score.is_some())
            .min_by(|a, b| {
                let la = metric.to_loss(a.score.unwrap_or(f64::NAN));
                let lb = metric.to_loss(b.score.unwrap_or(f64::NAN));
                la.total_cmp(&lb).then(a.index.cmp(&b.index))
            })
    }
}

/// Stack of each trial thread (reserved, not committed, until used).
pub(crate) const TRIAL_STACK_BYTES: usize = 256 << 20;

/// How many out-of-fold prediction sets are kept for ensembling.
const KEEP_OOF: usize = 40;

/// Runs the search on prepared folds. `reserve` estimates, from a trial record, how many
/// seconds must be left at the end (to refit the winner); `on_trial` sees each finished trial.
pub fn run_search(
    folds: Arc<Vec<PreparedFold>>,
    n_rows: usize,
    metric: Metric,
    settings: &SearchSettings,
    reserve: impl Fn(&TrialRecord) -> f64,
    mut on_trial: impl FnMut(&TrialRecord),
) -> Result<SearchOutcome> {
    if settings.algorithms.is_empty() {
        return Err(AutotabError::config("no algorithm left to search"));
    }
    if folds.is_empty() {
        return Err(AutotabError::config("no validation folds"));
    }
    let start = Instant::now();
    let end = settings.end.unwrap_or(start + Duration::from_secs(3600));
    let concurrency = settings.max_concurrent.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(concurrency)
        .thread_name(|i| format!("autotab-trial-{i}"))
        // Some library learners recurse deeply (tree building, cover trees): give them room.
        .stack_size(TRIAL_STACK_BYTES)
        .build()
        .map_err(|e| AutotabError::config(format!("cannot start the trial pool: {e}")))?;
    let mut sampler = Sampler::new(
        settings.algorithms.clone(),
        ChaCha8Rng::seed_from_u64(settings.seed),
    );
    let (tx, rx) = mpsc::channel::<TrialOutput>();
    let mut trials: Vec<TrialRecord> = Vec::new();
    let mut oof: Vec<(usize, f64, Array2<f64>)> = Vec::new();
    let mut in_flight: Vec<(usize, Algorithm, crate::models::Params, Instant)> = Vec::new();
    let mut launched = 0usize;
    let mut best_loss = f64::INFINITY;
    let mut best_reserve = 0.0f64;
    let mut completed = 0usize;
    let mut since_improvement = 0usize;
    let mut stop: Option<StopReason> = None;
    let default_trial_limit = Duration::from_secs_f64(
        (end.saturating_duration_since(start).as_secs_f64() * 0.25).max(2.0),
    );
    // Trials still running this long after `end` are abandoned.
    let grace = Duration::from_millis(500);

    loop {
        // Launch while there is room, time and no reason to stop.
        while stop.is_none() && in_flight.len() < concurrency {
            if settings.max_trials.is_some_and(|m| launched >= m) {
                stop = Some(StopReason::MaxTrials);
                break;
            }
            let now = Instant::now();
            let seconds_left = end.saturating_duration_since(now).as_secs_f64() - best_reserve;
            if seconds_left <= 0.0 {
                stop = Some(StopReason::TimeBudget);
                break;
            }
            let Some((algorithm, params)) = sampler.propose(seconds_left) else {
                stop = Some(StopReason::NothingAffordable);
                break;
            };
            // Without a user limit a trial may take a quarter of the budget, so that two
            // expensive samples cannot hold every slot until the end.
            let limit = settings.trial_timeout.unwrap_or(default_trial_limit);
            let trial_end = (now + limit)
                .min(end)
                .min(now + Duration::from_secs_f64(seconds_left));
            let index = launched;
            launched += 1;
            in_flight.push((index, algorithm, params.clone(), now));
            let folds = Arc::clone(&folds);
            let tx = tx.clone();
            let seed = settings.seed.wrapping_add(index as u64 * 104_729);
            pool.spawn(move || {
                let output = trial::run_trial(trial::TrialJob {
                    index,
                    algorithm,
                    params,
                    folds: &folds,
                    n_rows,
                    metric,
                    deadline: trial_end,
                    seed,
                    search_start: start,
                });
                // The receiver may be gone when the search ended first; nothing to do then.
                let _ = tx.send(output);
            });
        }
        if in_flight.is_empty() {
            break;
        }
        let wait_until = end + grace;
        let timeout = wait_until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(output) => {
                in_flight.retain(|f| f.0 != output.record.index);
                let record = output.record;
                let loss = record.score.map(|s| metric.to_loss(s));
                sampler.observe(record.algorithm, &record.params, loss, record.seconds);
                if let Some(loss) = loss {
                    completed += 1;
                    if loss < best_loss - 1e-12 {
                        best_loss = loss;
                        best_reserve = reserve(&record);
                        since_improvement = 0;
                    } else {
                        since_improvement += 1;
                    }
                    if let Some(oof_pred) = output.oof {
                        oof.push((record.index, loss, oof_pred));
                        oof.sort_by(|a, b| a.1.total_cmp(&b.1));
                        oof.truncate(KEEP_OOF);
                    }
                }
                on_trial(&record);
                trials.push(record);
                if let Some(es) = settings.early_stopping {
                    if stop.is_none()
                        && completed >= es.min_trials
                        && since_improvement >= es.patience
                    {
                        stop = Some(StopReason::EarlyStopping);
                    }
                }
            }
            Err(_) => {
                // Budget over: record the trials still running as timed out and leave them.
                for (index, algorithm, params, launched_at) in in_flight.drain(..) {
                    let record = TrialRecord {
                        index,
                        algorithm,
                        params,
                        status: TrialStatus::TimedOut(
                            "still running when the time budget ran out".into(),
                        ),
                        score: None,
                        score_std: None,
                        fold_scores: Vec::new(),
                        seconds: launched_at.elapsed().as_secs_f64(),
                        fit_seconds_per_fold: 0.0,
                        started_at: launched_at.duration_since(start).as_secs_f64(),
                    };
                    on_trial(&record);
                    trials.push(record);
                }
                stop.get_or_insert(StopReason::TimeBudget);
                break;
            }
        }
    }
    trials.sort_by_key(|t| t.index);
    Ok(SearchOutcome {
        trials,
        oof: oof.into_iter().map(|(i, _, p)| (i, p)).collect(),
        stop_reason: stop.unwrap_or(StopReason::TimeBudget),
    })
}
