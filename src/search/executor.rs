//! Where trials run: one bounded thread pool per run, and the executor that launches trials
//! on it, collects their outputs and abandons those still running when time is up.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use super::scheduler::Proposal;
use super::trial::{self, PreparedFold, TrialOutput, TrialRecord, TrialStatus};
use crate::error::{AutotabError, Result};
use crate::metrics::Metric;

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
        Self::cores() * Self::MAX_THREADS_PER_CORE
    }

    /// The machine's cores (1 when it cannot say).
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
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
    proposal: Proposal,
    launched_at: Instant,
}

/// Where a search's trials run: launched with a deadline, collected as they finish, abandoned
/// when time is up. The search loop ([`super::run_search`]) drives one; this process's
/// [`WorkerPool`] is the default, and a distributed run's queue of trial rows
/// (`crate::distributed`) is another.
pub trait TrialBackend {
    /// Most trials to have in flight at once.
    fn capacity(&self) -> usize;

    /// Starts trial `index` of `proposal` with `seed`; it must finish by `deadline`.
    fn launch(&mut self, index: usize, proposal: Proposal, deadline: Instant, seed: u64);

    /// Trials launched and not yet collected.
    fn running(&self) -> usize;

    /// The next finished trial, or `None` if none finished by `until`.
    fn next_finished(&mut self, until: Instant) -> Option<TrialOutput>;

    /// Gives up on every running trial: they are recorded as timed out and their results, if
    /// they ever come, are dropped.
    fn abandon_all(&mut self) -> Vec<TrialRecord>;

    /// The search is about to start, with the run's folds featurized (`digest`: see
    /// `engine::folds_digest`) and ending at `search_end`: a backend whose trials run in other
    /// processes lets them check they built the same folds, and may run a trial again (its
    /// worker died) until `search_end`.
    fn begin(&mut self, _digest: &str, _search_end: Instant) -> crate::error::Result<()> {
        Ok(())
    }

    /// What an earlier attempt at this search left (a distributed run whose first coordinator
    /// stopped), asked once after [`TrialBackend::begin`]; nothing by default.
    fn resume(&mut self) -> Resumed {
        Resumed::default()
    }
}

/// The trials of an earlier attempt at the same search (a distributed run taken over after its
/// first coordinator stopped), which the search counts as its own.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Every trial proposed before (the scheduler does not propose them again).
    pub proposed: Vec<Proposal>,
    /// Finished trials, in index order, each with whether it is already recorded (the
    /// observer saw it in the earlier attempt).
    pub finished: Vec<(TrialOutput, bool)>,
    /// The index of this search's first launch.
    pub next_index: usize,
}

/// The record of a trial given up on because the time budget ran out.
pub(crate) fn abandoned_record(
    index: usize,
    proposal: &Proposal,
    seconds: f64,
    started_at: f64,
) -> TrialRecord {
    TrialRecord::unscored(
        index,
        proposal.algorithm,
        proposal.params.clone(),
        TrialStatus::TimedOut("still running when the time budget ran out".into()),
        seconds,
        started_at,
        proposal.rows,
    )
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
}

impl TrialBackend for Executor<'_> {
    fn capacity(&self) -> usize {
        self.pool.threads
    }

    fn running(&self) -> usize {
        self.in_flight.len()
    }

    fn launch(&mut self, index: usize, proposal: Proposal, deadline: Instant, seed: u64) {
        self.in_flight.push(InFlight {
            index,
            proposal: proposal.clone(),
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

    fn next_finished(&mut self, until: Instant) -> Option<TrialOutput> {
        let timeout = until.saturating_duration_since(Instant::now());
        let output = self.rx.recv_timeout(timeout).ok()?;
        self.in_flight.retain(|f| f.index != output.record.index);
        Some(output)
    }

    fn abandon_all(&mut self) -> Vec<TrialRecord> {
        self.in_flight
            .drain(..)
            .map(|f| {
                abandoned_record(
                    f.index,
                    &f.proposal,
                    f.launched_at.elapsed().as_secs_f64(),
                    f.launched_at.duration_since(self.start).as_secs_f64(),
                )
            })
            .collect()
    }
}
