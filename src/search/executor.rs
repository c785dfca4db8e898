//! Where trials run: one bounded thread pool per run, and the executor that launches trials
//! on it, collects their outputs and abandons those still running when time is up.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use super::scheduler::Proposal;
use super::trial::{self, PreparedFold, TrialOutput, TrialRecord, TrialStatus};
use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::models::{Algorithm, Params};

/// Stack of each worker thread (reserved, not committed, until used): some library learners
/// recurse deeply (tree building, cover trees).
const WORKER_STACK_BYTES: usize = 256 << 20;

/// The run's worker threads: built once, used to featurize folds, run trials and refit.
#[derive(Debug)]
pub struct WorkerPool {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl WorkerPool {
    /// Most worker threads per core: more only time-slice the same cores and reserve stacks.
    pub const MAX_THREADS_PER_CORE: usize = 4;

    /// A pool of `threads` workers, capped at [`WorkerPool::max_threads`]. Returns the pool and
    /// whether the request was capped.
    pub fn new(threads: usize) -> Result<(WorkerPool, bool)> {
        if threads == 0 {
            return Err(AutotabError::config(
                "max_concurrent_trials must be at least 1",
            ));
        }
        let capped = threads.min(Self::max_threads());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(capped)
            .thread_name(|i| format!("autotab-worker-{i}"))
            .stack_size(WORKER_STACK_BYTES)
            .build()
            .map_err(|e| AutotabError::config(format!("cannot start the worker pool: {e}")))?;
        Ok((
            WorkerPool {
                pool,
                threads: capped,
            },
            capped < threads,
        ))
    }

    /// The most workers this machine gets: [`Self::MAX_THREADS_PER_CORE`] per core.
    pub fn max_threads() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores * Self::MAX_THREADS_PER_CORE
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` inside the pool (its parallel iterators use the pool's threads).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

/// Runs one trial's `work`: with `isolate` (several trials at once), on a one-thread pool of
/// its own, so a learner's parallel loops never steal another trial's work while they wait,
/// which would hold a trial past its deadline by however long the stolen work takes. Used by
/// the tabular [`Executor`] and the forecasting search.
pub(crate) fn run_isolated<R: Send>(isolate: bool, work: impl FnOnce() -> R + Send) -> R {
    match isolate.then(trial_thread).and_then(|r| r.ok()) {
        Some(own) => own.install(work),
        None => work(),
    }
}

/// When fold `fold` (from 0) of `n_folds` must end: each fold gets its share of the trial's
/// time from `start` to `deadline`, so iterative learners stop in time for the later folds.
pub(crate) fn fold_deadline(
    start: Instant,
    deadline: Instant,
    fold: usize,
    n_folds: usize,
) -> Instant {
    start + deadline.saturating_duration_since(start) * (fold as u32 + 1) / n_folds.max(1) as u32
}

/// A one-thread pool for one trial (see [`run_isolated`]).
fn trial_thread() -> std::result::Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "autotab-trial".into())
        .stack_size(WORKER_STACK_BYTES)
        .build()
}

/// A trial that was launched and has not reported yet.
#[derive(Debug)]
struct InFlight {
    index: usize,
    algorithm: Algorithm,
    params: Params,
    rows: Option<usize>,
    launched_at: Instant,
}

/// Launches trials on a [`WorkerPool`] and hands back their outputs as they finish.
pub(crate) struct Executor<'a> {
    pool: &'a WorkerPool,
    folds: Arc<Vec<PreparedFold>>,
    n_rows: usize,
    metric: Metric,
    start: Instant,
    tx: mpsc::Sender<TrialOutput>,
    rx: mpsc::Receiver<TrialOutput>,
    in_flight: Vec<InFlight>,
}

impl<'a> Executor<'a> {
    /// An executor of trials on `folds` (`n_rows` rows in the training table), scored by `metric`.
    pub(crate) fn new(
        pool: &'a WorkerPool,
        folds: Arc<Vec<PreparedFold>>,
        n_rows: usize,
        metric: Metric,
        start: Instant,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        Executor {
            pool,
            folds,
            n_rows,
            metric,
            start,
            tx,
            rx,
            in_flight: Vec::new(),
        }
    }

    /// Trials running now.
    pub(crate) fn running(&self) -> usize {
        self.in_flight.len()
    }

    /// Starts trial `index` of `proposal`, which must finish by `deadline`.
    pub(crate) fn launch(
        &mut self,
        index: usize,
        proposal: Proposal,
        deadline: Instant,
        seed: u64,
    ) {
        self.in_flight.push(InFlight {
            index,
            algorithm: proposal.algorithm,
            params: proposal.params.clone(),
            rows: proposal.rows,
            launched_at: Instant::now(),
        });
        let folds = Arc::clone(&self.folds);
        let tx = self.tx.clone();
        let (n_rows, metric, search_start) = (self.n_rows, self.metric, self.start);
        let isolate = self.pool.threads > 1;
        self.pool.pool.spawn(move || {
            let job = trial::TrialJob {
                index,
                algorithm: proposal.algorithm,
                params: proposal.params,
                folds: &folds,
                n_rows,
                metric,
                deadline,
                seed,
                search_start,
                rows: proposal.rows,
            };
            let output = run_isolated(isolate, || trial::run_trial(job));
            // The receiver is gone when the search ended first; nothing to do then.
            let _ = tx.send(output);
        });
    }

    /// The next finished trial, or `None` if none finished by `until`.
    pub(crate) fn next_finished(&mut self, until: Instant) -> Option<TrialOutput> {
        let timeout = until.saturating_duration_since(Instant::now());
        let output = self.rx.recv_timeout(timeout).ok()?;
        self.in_flight.retain(|f| f.index != output.record.index);
        Some(output)
    }

    /// Gives up on every running trial: they are recorded as timed out and left to finish on
    /// their own (their results are dropped).
    pub(crate) fn abandon_all(&mut self) -> Vec<TrialRecord> {
        self.in_flight
            .drain(..)
            .map(|f| TrialRecord {
                index: f.index,
                algorithm: f.algorithm,
                params: f.params,
                status: TrialStatus::TimedOut("still running when the time budget ran out".into()),
                score: None,
                score_std: None,
                fold_scores: Vec::new(),
                seconds: f.launched_at.elapsed().as_secs_f64(),
                fit_seconds_per_fold: 0.0,
                started_at: f.launched_at.duration_since(self.start).as_secs_f64(),
                train_rows: f.rows,
            })
            .collect()
    }
}
