//! `autotab worker`: a process that claims work from the queue of a shared workspace until it
//! has been idle for a while: trials of running submitted runs on its trial slots, and the
//! coordination of queued runs on one more thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::coordinator::{self, epoch_now, renew_until, CoordinatorOptions, FIRST_POLL};
use super::wire;
use crate::engine::{prepare_trial_folds, Quiet, RunObserver, TrialFolds};
use crate::error::{AutotabError, Result};
use crate::job::JobSpec;
use crate::search::executor::run_isolated;
use crate::search::trial::{run_trial, TrialJob};
use crate::search::{TrialRecord, WorkerPool, KEEP_OOF};
use crate::store::{ClaimedTrial, RunId, TrialResult, WorkQueue};
use crate::tracking::Workspace;

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The name its claims record (default: `<host>:<pid>`).
    pub name: String,
    /// Trials it runs at once.
    pub slots: usize,
    /// How long a claim holds without renewal; a dead worker's trial is claimed again after
    /// it.
    pub lease: Duration,
    /// Stop after this long with nothing to do (`None`: run until killed).
    pub idle_exit: Option<Duration>,
    /// How often it looks for work when there is none.
    pub poll: Duration,
    /// Whether it also coordinates queued runs.
    pub coordinate: bool,
}

impl WorkerOptions {
    /// One slot, a 10 s lease, polling every 200 ms, coordinating, never idle-exiting.
    pub fn new(name: String) -> WorkerOptions {
        WorkerOptions {
            name,
            slots: 1,
            lease: Duration::from_secs(10),
            idle_exit: None,
            poll: Duration::from_millis(200),
            coordinate: true,
        }
    }

    /// `<host>:<pid>` of this process.
    pub fn default_name() -> String {
        let owner = crate::store::ProcessOwner::current();
        format!("{}:{}", owner.host, owner.pid)
    }
}

/// What a worker tells its caller as it goes.
#[derive(Debug)]
pub enum WorkerEvent<'a> {
    /// It claimed trial `index` of `run` (`attempt` > 1: after another worker's lease ran out).
    TrialClaimed {
        /// The run.
        run: &'a RunId,
        /// The trial's index.
        index: usize,
        /// The algorithm.
        algorithm: &'a str,
        /// How many times the trial was claimed, this one included.
        attempt: u32,
    },
    /// It finished a trial; `accepted` is false when the result was refused (the claim was
    /// lost, or the run gave up on the trial).
    TrialFinished {
        /// The trial's record.
        record: &'a TrialRecord,
        /// The run.
        run: &'a RunId,
        /// Whether the queue took the result.
        accepted: bool,
    },
    /// It cannot run the trials of `run` (data unreadable or different, other folds).
    RunRefused {
        /// The run.
        run: &'a RunId,
        /// Why.
        reason: &'a str,
    },
    /// It coordinates `run`.
    Coordinating {
        /// The run.
        run: &'a RunId,
    },
    /// It finished coordinating `run`: a summary line, or the error.
    Coordinated {
        /// The run.
        run: &'a RunId,
        /// `Ok(summary)` or `Err(reason)`.
        result: std::result::Result<String, String>,
    },
    /// A store error it will retry.
    Error(String),
}

/// What a worker did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Trials it ran whose results the queue took.
    pub trials: usize,
    /// Runs it coordinated.
    pub runs: usize,
}

/// A run's folds once prepared, or why they cannot be.
type PreparedCell = OnceLock<std::result::Result<Arc<TrialFolds>, String>>;

/// Each run's folds as this worker prepared them (or why it cannot), made once per run.
#[derive(Default)]
struct PreparedRuns {
    runs: Mutex<Vec<(RunId, Arc<PreparedCell>)>>,
}

/// Runs kept prepared at once (the oldest is dropped first).
const KEEP_RUNS: usize = 4;

impl PreparedRuns {
    fn get(
        &self,
        workspace: &Workspace,
        claimed: &ClaimedTrial,
        pool: &WorkerPool,
    ) -> std::result::Result<Arc<TrialFolds>, String> {
        let cell = {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            match runs.iter().find(|(id, _)| *id == claimed.run_id) {
                Some((_, cell)) => Arc::clone(cell),
                None => {
                    if runs.len() >= KEEP_RUNS {
                        runs.remove(0);
                    }
                    let cell = Arc::new(OnceLock::new());
                    runs.push((claimed.run_id.clone(), Arc::clone(&cell)));
                    cell
                }
            }
        };
        cell.get_or_init(|| prepare(workspace, claimed, pool).map_err(|e| e.to_string()))
            .clone()
    }
}

/// Reads and featurizes the run's data as its coordinator did, refusing other bytes or folds.
fn prepare(
    workspace: &Workspace,
    claimed: &ClaimedTrial,
    pool: &WorkerPool,
) -> Result<Arc<TrialFolds>> {
    let run = &claimed.run_id;
    let spec: JobSpec = serde_json::from_value(claimed.spec.clone()).map_err(|e| {
        AutotabError::config(format!(
            "run {run}: its job spec is unreadable ({e}); do all workers run the same autotab \
             version?"
        ))
    })?;
    let fp =
        crate::experiment::fingerprint(spec.data.training.path(), 0, 0, serde_json::Value::Null)?;
    crate::experiment::check_submitted_data(workspace, run, &spec, &fp)?;
    let folds = prepare_trial_folds(&spec, pool)?;
    if folds.digest != claimed.folds_digest {
        return Err(AutotabError::InvalidData(format!(
            "run {run}: the validation folds built here differ from the coordinator's (digest \
             {} here, {} there): do all workers run the same autotab version?",
            short(&folds.digest),
            short(&claimed.folds_digest)
        )));
    }
    Ok(Arc::new(folds))
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Shared state of a worker's threads.
struct Shared<'a> {
    workspace: &'a Workspace,
    queue: &'a dyn WorkQueue,
    options: &'a WorkerOptions,
    events: &'a (dyn Fn(WorkerEvent<'_>) + Sync),
    prepared: PreparedRuns,
    pool: WorkerPool,
    /// Runs whose trials this worker cannot run.
    refused: Mutex<Vec<RunId>>,
    stop: AtomicBool,
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    trials: AtomicUsize,
    runs: AtomicUsize,
}

impl Shared<'_> {
    fn working<T>(&self, work: impl FnOnce() -> T) -> T {
        self.busy.fetch_add(1, Ordering::SeqCst);
        let out = work();
        *self
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.busy.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    /// Waits `wait` before looking for work again, and doubles it up to the poll interval.
    fn pause(&self, wait: &mut Duration) {
        std::thread::sleep(*wait);
        *wait = (*wait * 2).min(self.options.poll);
    }

    /// One trial slot: claims and runs trials until the worker stops.
    fn trial_slot(&self) {
        let mut wait = FIRST_POLL;
        while !self.stop.load(Ordering::Relaxed) {
            let refused = self
                .refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match self
                .queue
                .claim_trial(&self.options.name, self.options.lease, &refused)
            {
                Ok(Some(claimed)) => {
                    self.working(|| self.run_claimed(&claimed));
                    // Its run's next trial is queued as soon as the coordinator sees this one.
                    wait = FIRST_POLL;
                }
                Ok(None) => self.pause(&mut wait),
                Err(e) => {
                    (self.events)(WorkerEvent::Error(e.to_string()));
                    self.pause(&mut wait);
                }
            }
        }
    }

    /// The coordinator thread: claims and coordinates queued runs until the worker stops.
    fn coordinator(&self) {
        let owner = self.workspace.owner().clone();
        let mut wait = self.options.poll;
        while !self.stop.load(Ordering::Relaxed) {
            match self
                .queue
                .claim_run(&self.options.name, &owner, self.options.lease)
            {
                Ok(Some(claimed)) => self.working(|| {
                    let run = &claimed.run_id;
                    (self.events)(WorkerEvent::Coordinating { run });
                    let options = CoordinatorOptions {
                        worker: self.options.name.clone(),
                        lease: self.options.lease,
                        poll: Duration::from_millis(100),
                    };
                    let mut quiet = Quiet;
                    let observer: &mut dyn RunObserver = &mut quiet;
                    let result =
                        coordinator::coordinate(self.workspace, &claimed, &options, observer)
                            .map(|tracked| {
                                format!(
                                    "{} {:.4} with {} ({} trials, {:.1}s)",
                                    tracked.outcome.metric.name(),
                                    tracked.outcome.winner.score,
                                    tracked.outcome.winner.learner.name(),
                                    tracked.outcome.trials.len(),
                                    tracked.outcome.elapsed_s
                                )
                            })
                            .map_err(|e| e.to_string());
                    self.runs.fetch_add(1, Ordering::Relaxed);
                    (self.events)(WorkerEvent::Coordinated { run, result });
                }),
                Ok(None) => self.pause(&mut wait),
                Err(e) => {
                    (self.events)(WorkerEvent::Error(e.to_string()));
                    self.pause(&mut wait);
                }
            }
        }
    }

    /// Runs a claimed trial, its claim renewed meanwhile, and writes its result.
    fn run_claimed(&self, claimed: &ClaimedTrial) {
        let run = &claimed.run_id;
        let index = claimed.trial.index;
        let name = &self.options.name;
        let folds = match self.prepared.get(self.workspace, claimed, &self.pool) {
            Ok(folds) => folds,
            Err(reason) => return self.refuse(claimed, &reason),
        };
        let proposal = match wire::decode_proposal(&claimed.trial.proposal, run.as_str(), index) {
            Ok(p) => p,
            Err(e) => return self.refuse(claimed, &e.to_string()),
        };
        (self.events)(WorkerEvent::TrialClaimed {
            run,
            index,
            algorithm: proposal.algorithm.name(),
            attempt: claimed.attempt,
        });
        let now = Instant::now();
        let epoch = epoch_now();
        let left = Duration::try_from_secs_f64((claimed.trial.not_after - epoch).max(0.0))
            .unwrap_or_default();
        let deadline = (now + claimed.trial.time_limit).min(now + left);
        let since_start = Duration::try_from_secs_f64((epoch - claimed.search_start).max(0.0))
            .unwrap_or_default();
        let search_start = now.checked_sub(since_start).unwrap_or(now);
        let job = TrialJob {
            index,
            algorithm: proposal.algorithm,
            params: proposal.params,
            folds: &folds.folds,
            n_rows: folds.n_rows,
            metric: folds.metric,
            deadline,
            seed: claimed.trial.seed,
            search_start,
            rows: proposal.rows,
        };
        let lease = self.options.lease;
        let output = std::thread::scope(|scope| {
            let (done, heartbeat) = std::sync::mpsc::channel::<()>();
            scope.spawn(move || {
                renew_until(heartbeat, lease, || {
                    self.queue.renew_trial(run, index, name, lease)
                })
            });
            let output = run_isolated(true, || run_trial(job));
            drop(done);
            output
        });
        let record = output.record;
        let loss = record.score.map(|s| folds.metric.to_loss(s));
        // Only the run's best trials' predictions are stored: the ensembles choose among
        // those (as the search keeps only its best [`KEEP_OOF`]).
        let oof = match (loss, &output.oof) {
            (Some(loss), Some(p)) => match self.queue.trials_better_than(run, loss) {
                Ok(better) if better < KEEP_OOF => Some(wire::encode_predictions(p)),
                Ok(_) => None,
                Err(_) => Some(wire::encode_predictions(p)),
            },
            _ => None,
        };
        let result = TrialResult {
            record: serde_json::to_value(&record).unwrap_or_default(),
            loss,
            oof,
        };
        let accepted = match self.queue.complete_trial(run, index, name, &result) {
            Ok(accepted) => accepted,
            Err(e) => {
                (self.events)(WorkerEvent::Error(format!(
                    "cannot write trial {index} of run {run}: {e}"
                )));
                false
            }
        };
        if accepted {
            self.trials.fetch_add(1, Ordering::Relaxed);
        }
        (self.events)(WorkerEvent::TrialFinished {
            record: &record,
            run,
            accepted,
        });
    }

    /// Gives the trial back and stops claiming the run's trials, saying why in the run's log.
    fn refuse(&self, claimed: &ClaimedTrial, reason: &str) {
        let run = &claimed.run_id;
        let _ = self
            .queue
            .release_trial(run, claimed.trial.index, &self.options.name);
        let _ = self.workspace.append_log(
            run,
            &format!(
                "worker {} cannot run this run's trials: {reason}",
                self.options.name
            ),
        );
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(run.clone());
        (self.events)(WorkerEvent::RunRefused { run, reason });
    }
}

/// Works for `workspace`'s queue (a shared PostgreSQL workspace) until idle for
/// `options.idle_exit`, telling `events` what it does.
pub fn run_worker(
    workspace: &Workspace,
    options: &WorkerOptions,
    events: &(dyn Fn(WorkerEvent<'_>) + Sync),
) -> Result<WorkerSummary> {
    if options.slots == 0 {
        return Err(AutotabError::config(
            "a worker needs at least 1 trial slot (--max-concurrent-trials)",
        ));
    }
    let (pool, _) = WorkerPool::new(options.slots)?;
    let shared = Shared {
        workspace,
        queue: workspace.queue("autotab worker")?,
        options,
        events,
        prepared: PreparedRuns::default(),
        pool,
        refused: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
        trials: AtomicUsize::new(0),
        runs: AtomicUsize::new(0),
    };
    std::thread::scope(|scope| {
        for _ in 0..options.slots {
            scope.spawn(|| shared.trial_slot());
        }
        if options.coordinate {
            scope.spawn(|| shared.coordinator());
        }
        loop {
            std::thread::sleep(Duration::from_millis(100));
            if let Some(limit) = options.idle_exit {
                if shared.idle_for() >= limit {
                    shared.stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    });
    Ok(WorkerSummary {
        trials: shared.trials.load(Ordering::Relaxed),
        runs: shared.runs.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_workspace_has_no_queue_for_a_worker() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::open(dir.path()).unwrap();
        let options = WorkerOptions::new("w".into());
        let err = run_worker(&workspace, &options, &|_| {}).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("PostgreSQL"), "{message}");
        assert!(message.contains("autotab worker"), "{message}");
    }
}
