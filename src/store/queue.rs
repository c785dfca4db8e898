//! The work queue of distributed runs, kept in a shared store: a submitted run and its trials
//! are rows that worker processes claim with row locks (`SELECT ... FOR UPDATE SKIP LOCKED`),
//! hold with a lease they renew while they work, and complete in one transaction. A claim whose
//! lease ran out (its worker died or hangs) can be claimed again by another worker, and the
//! first worker's late result is then refused.
//!
//! The store knows nothing of algorithms or proposals: a trial's proposal and its result are
//! JSON documents written and read by `crate::distributed`. Times are seconds since the Unix
//! epoch; leases are measured on the database server's clock, deadlines (`not_after`) on the
//! coordinator's, so the machines' clocks must agree to within a small part of a trial.

use std::time::Duration;

use super::records::{NewRun, RunId};
use super::ProcessOwner;
use crate::error::Result;

/// A run claimed for coordination (searching, ensembling, refitting, packaging).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The run.
    pub run_id: RunId,
    /// The job spec the run was submitted with.
    pub spec: serde_json::Value,
    /// What else the submitter asked for (a registration name, ...), as submitted.
    pub request: serde_json::Value,
    /// 1 for the first claim; more when an earlier coordinator's lease ran out.
    pub attempt: u32,
    /// Seconds since the run was first claimed (0 on the first claim), by the server's clock:
    /// the part of the run's budget an earlier coordinator used.
    pub elapsed: f64,
}

/// A trial of a run as the queue holds it, whatever its state (see [`WorkQueue::trials_of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    /// The trial as it was queued.
    pub trial: QueuedTrial,
    /// `pending`, `running`, `done` or `abandoned`.
    pub state: String,
    /// What its worker wrote, once done.
    pub result: Option<TrialResult>,
}

/// A trial its coordinator queues.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedTrial {
    /// The trial's index in the run.
    pub index: usize,
    /// What to run (algorithm, hyperparameters, rows), as JSON.
    pub proposal: serde_json::Value,
    /// The trial's seed.
    pub seed: u64,
    /// Longest the trial may run once claimed.
    pub time_limit: Duration,
    /// When it must have finished whoever runs it (seconds since the epoch): the search's end.
    pub not_after: f64,
}

/// A trial claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedTrial {
    /// The run it belongs to.
    pub run_id: RunId,
    /// The queued trial.
    pub trial: QueuedTrial,
    /// The run's job spec (for a worker that has not prepared the run's folds yet).
    pub spec: serde_json::Value,
    /// The digest of the coordinator's folds (see `engine::folds_digest`).
    pub folds_digest: String,
    /// When the run's search started (seconds since the epoch).
    pub search_start: f64,
    /// 1 for the first claim; more when an earlier worker's lease ran out.
    pub attempt: u32,
}

/// A trial's result as its worker writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResult {
    /// The trial's record, as JSON.
    pub record: serde_json::Value,
    /// Its lower-is-better loss when it completed.
    pub loss: Option<f64>,
    /// Its out-of-fold predictions, encoded (kept only for the run's best trials).
    pub oof: Option<Vec<u8>>,
}

/// A finished trial collected by its coordinator.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedTrial {
    /// The trial's index.
    pub index: usize,
    /// What the worker wrote.
    pub result: TrialResult,
    /// The worker that ran it.
    pub worker: String,
    /// How many times it was claimed.
    pub attempts: u32,
}

/// The queue of distributed runs and their trials (see the module documentation).
pub trait WorkQueue: Send + Sync {
    /// Records a new parent run with status `queued` and its submission (`request`: what the
    /// coordinator needs besides the spec); returns the run's id.
    fn submit(&self, run: &NewRun<'_>, request: &serde_json::Value) -> Result<RunId>;

    /// Claims the oldest queued run, or a running one whose coordinator's lease ran out, for
    /// `worker` (running as `owner`) with a lease of `lease`; the run becomes `running`.
    fn claim_run(
        &self,
        worker: &str,
        owner: &ProcessOwner,
        lease: Duration,
    ) -> Result<Option<ClaimedRun>>;

    /// Extends `worker`'s lease on coordinating `run`; `false` when it lost the claim.
    fn renew_run(&self, run: &RunId, worker: &str, lease: Duration) -> Result<bool>;

    /// The coordinator's search begins: workers may now claim the run's trials, at most
    /// `max_running` at once, and check their folds against `folds_digest`.
    fn open_trials(
        &self,
        run: &RunId,
        folds_digest: &str,
        search_start: f64,
        max_running: usize,
    ) -> Result<()>;

    /// Queues a trial of `run`.
    fn push_trial(&self, run: &RunId, trial: &QueuedTrial) -> Result<()>;

    /// Claims the next pending trial (oldest submission first, then trial order), or a running
    /// one whose lease ran out, of a run not in `skip`; the claim holds for `lease`.
    fn claim_trial(
        &self,
        worker: &str,
        lease: Duration,
        skip: &[RunId],
    ) -> Result<Option<ClaimedTrial>>;

    /// Extends `worker`'s lease on trial `index` of `run`; `false` when it lost the claim.
    fn renew_trial(&self, run: &RunId, index: usize, worker: &str, lease: Duration)
        -> Result<bool>;

    /// Gives a claimed trial back to the queue (its worker cannot run it).
    fn release_trial(&self, run: &RunId, index: usize, worker: &str) -> Result<()>;

    /// Writes the result of trial `index` of `run`, if `worker` still holds its claim; `false`
    /// when it does not (another worker re-claimed it, or the run gave up on it).
    fn complete_trial(
        &self,
        run: &RunId,
        index: usize,
        worker: &str,
        result: &TrialResult,
    ) -> Result<bool>;

    /// How many finished trials of `run` have a loss below `loss`.
    fn trials_better_than(&self, run: &RunId, loss: f64) -> Result<usize>;

    /// The finished trials of `run` not collected yet, in index order; they are marked
    /// collected.
    fn collect_trials(&self, run: &RunId) -> Result<Vec<FinishedTrial>>;

    /// Every trial of `run` in the queue, in index order (what a coordinator taking the run
    /// over resumes from).
    fn trials_of(&self, run: &RunId) -> Result<Vec<QueueRow>>;

    /// Gives up on the trials of `run` still pending or running; returns their indices.
    fn abandon_trials(&self, run: &RunId) -> Result<Vec<usize>>;

    /// Gives up on trial `index` of `run` if it is still pending or running; `false` when it
    /// finished first.
    fn abandon_trial(&self, run: &RunId, index: usize) -> Result<bool>;

    /// Ends `worker`'s coordination of `run`: its submission is finished, its remaining trials
    /// abandoned and their stored predictions dropped.
    fn finish_submission(&self, run: &RunId, worker: &str) -> Result<()>;
}
