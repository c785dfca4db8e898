//! The coordinator of a submitted run: the engine's ordinary run, recorded as it goes, whose
//! search launches its trials as queue rows ([`QueueBackend`]) that workers claim.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::wire;
use super::SubmitRequest;
use crate::engine::RunObserver;
use crate::error::{AutotabError, Result};
use crate::experiment::{run_submitted, TrackedRun};
use crate::job::JobSpec;
use crate::search::executor::abandoned_record;
use crate::search::{Proposal, Resumed, TrialBackend, TrialOutput, TrialRecord, TrialStatus};
use crate::store::{ClaimedRun, QueuedTrial, RunId, RunStatus, WorkQueue};
use crate::tracking::Workspace;

/// Seconds since the Unix epoch on this machine's clock.
pub(crate) fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A trial queued and not collected yet.
#[derive(Debug)]
struct Queued {
    proposal: Proposal,
    launched: Instant,
    /// The latest any claim of it may run to.
    not_after: Instant,
}

/// Trials queued or running per trial allowed to run.
const QUEUE_DEPTH: usize = 2;

/// The first wait between two polls of the queue; it doubles up to the poll interval while
/// nothing comes.
pub(crate) const FIRST_POLL: Duration = Duration::from_millis(5);

/// How long after the latest end of any claim a trial not reported is given up (its worker
/// died and no other could run it again in time).
const LATE: Duration = Duration::from_secs(2);

/// The search's trials as rows of the run's queue: [`TrialBackend::launch`] queues a row,
/// [`TrialBackend::next_finished`] polls for rows that workers completed.
pub struct QueueBackend<'w> {
    workspace: &'w Workspace,
    queue: &'w dyn WorkQueue,
    run: RunId,
    /// Most trials running at once, over all workers (the run's `max_concurrent_trials`).
    max_running: usize,
    poll: Duration,
    start: Instant,
    /// When the search ends: the latest a trial may run, on its first claim or a later one.
    search_end: Instant,
    in_flight: BTreeMap<usize, Queued>,
    ready: VecDeque<TrialOutput>,
    last_error: Option<String>,
    /// Whether an earlier coordinator ran this run's search before (see [`Resumed`]).
    resuming: bool,
}

impl<'w> QueueBackend<'w> {
    /// The queue of run `run` in `workspace`, with at most `max_running` trials running at once
    /// over all workers (the run's `max_concurrent_trials`), polled every `poll`.
    pub fn new(
        workspace: &'w Workspace,
        run: RunId,
        max_running: usize,
        poll: Duration,
    ) -> Result<QueueBackend<'w>> {
        Ok(QueueBackend {
            queue: workspace.queue("a distributed run")?,
            workspace,
            run,
            max_running: max_running.max(1),
            poll,
            start: Instant::now(),
            search_end: Instant::now(),
            in_flight: BTreeMap::new(),
            ready: VecDeque::new(),
            last_error: None,
            resuming: false,
        })
    }

    /// Takes the search over from an earlier coordinator: [`TrialBackend::resume`] then returns
    /// the trials it left in the queue.
    pub fn resuming(mut self) -> Self {
        self.resuming = true;
        self
    }

    /// Writes `line` to the run's log (best effort: the log is for people).
    fn log(&self, line: &str) {
        let _ = self.workspace.append_log(&self.run, line);
    }

    /// A store error while polling: logged once per distinct message, then retried.
    fn note_error(&mut self, what: &str, e: &AutotabError) {
        let message = format!("{what}: {e}");
        if self.last_error.as_deref() != Some(message.as_str()) {
            self.log(&format!("warning: {message} (retrying)"));
            self.last_error = Some(message);
        }
    }

    /// Moves the trials workers completed into `ready`.
    fn collect(&mut self) {
        let finished = match self.queue.collect_trials(&self.run) {
            Ok(f) => f,
            Err(e) => return self.note_error("cannot collect the finished trials", &e),
        };
        for trial in finished {
            let Some(queued) = self.in_flight.remove(&trial.index) else {
                continue;
            };
            let output = match decode_result(&trial.result, &queued) {
                Ok(output) => output,
                Err(e) => TrialOutput {
                    record: failed_record(trial.index, &queued, e.to_string()),
                    oof: None,
                    fold_models: None,
                },
            };
            if trial.attempts > 1 {
                self.log(&format!(
                    "trial {} ran again, on worker {} (claim {}): the worker that claimed it \
                     before stopped renewing its lease",
                    trial.index, trial.worker, trial.attempts
                ));
            }
            self.ready.push_back(output);
        }
    }

    /// Gives up on trials past their deadline that no worker reported: their worker died and
    /// none could run them again in time.
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<usize> = self
            .in_flight
            .iter()
            .filter(|(_, q)| now > q.not_after + LATE)
            .map(|(i, _)| *i)
            .collect();
        for index in late {
            match self.queue.abandon_trial(&self.run, index) {
                // Finished after all: the next collect has it.
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    self.note_error("cannot give up a late trial", &e);
                    continue;
                }
            }
            if let Some(queued) = self.in_flight.remove(&index) {
                let mut record = abandoned_record(
                    index,
                    &queued.proposal,
                    queued.launched.elapsed().as_secs_f64(),
                    queued.launched.duration_since(self.start).as_secs_f64(),
                );
                record.status = TrialStatus::TimedOut(
                    "no worker reported it by its deadline (its worker stopped, and no other \
                     could run it again in time)"
                        .into(),
                );
                self.log(&format!("trial {index}: given up, no worker reported it"));
                self.ready.push_back(TrialOutput {
                    record,
                    oof: None,
                    fold_models: None,
                });
            }
        }
    }
}

/// The output of a trial from what its worker wrote.
fn decode_result(result: &crate::store::TrialResult, queued: &Queued) -> Result<TrialOutput> {
    let record: TrialRecord = serde_json::from_value(result.record.clone()).map_err(|e| {
        AutotabError::Store(format!(
            "a worker wrote an unreadable trial record ({e}); do all workers run the same \
             autotab version?"
        ))
    })?;
    if record.algorithm != queued.proposal.algorithm {
        return Err(AutotabError::Store(format!(
            "a worker reported {} for a trial queued as {}",
            record.algorithm.name(),
            queued.proposal.algorithm.name()
        )));
    }
    let oof = match (&record.status, &result.oof) {
        (TrialStatus::Completed, Some(bytes)) => Some(wire::decode_predictions(bytes)?),
        _ => None,
    };
    Ok(TrialOutput {
        record,
        oof,
        fold_models: None,
    })
}

fn failed_record(index: usize, queued: &Queued, reason: String) -> TrialRecord {
    let mut record = abandoned_record(index, &queued.proposal, 0.0, 0.0);
    record.status = TrialStatus::Failed(reason);
    record
}

impl TrialBackend for QueueBackend<'_> {
    fn capacity(&self) -> usize {
        // As many trials again wait in the queue as may run, so a worker that finishes one
        // finds the next without waiting for the coordinator; the claims keep the running
        // ones to `max_running`.
        QUEUE_DEPTH * self.max_running
    }

    fn launch(&mut self, index: usize, proposal: Proposal, deadline: Instant, seed: u64) {
        // Each claim gets the trial's time limit from when it is claimed, so a trial whose
        // worker died runs again in full, until the search's end at the latest.
        let now = Instant::now();
        let time_limit = deadline.saturating_duration_since(now);
        let not_after = self.search_end.max(deadline);
        let trial = QueuedTrial {
            index,
            proposal: wire::encode_proposal(&proposal),
            seed,
            time_limit,
            not_after: epoch_now() + not_after.saturating_duration_since(now).as_secs_f64(),
        };
        let queued = Queued {
            proposal,
            launched: now,
            not_after,
        };
        match self.queue.push_trial(&self.run, &trial) {
            Ok(()) => {
                self.in_flight.insert(index, queued);
            }
            Err(e) => {
                let record = failed_record(index, &queued, format!("cannot queue it: {e}"));
                self.ready.push_back(TrialOutput {
                    record,
                    oof: None,
                    fold_models: None,
                });
            }
        }
    }

    fn running(&self) -> usize {
        self.in_flight.len() + self.ready.len()
    }

    fn next_finished(&mut self, until: Instant) -> Option<TrialOutput> {
        // Polls soon after a result (trials finish in bursts), then less and less often.
        let mut wait = FIRST_POLL;
        loop {
            if let Some(output) = self.ready.pop_front() {
                return Some(output);
            }
            self.collect();
            self.expire();
            if !self.ready.is_empty() {
                continue;
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            std::thread::sleep(wait.min(until - now));
            wait = (wait * 2).min(self.poll);
        }
    }

    fn abandon_all(&mut self) -> Vec<TrialRecord> {
        if let Err(e) = self.queue.abandon_trials(&self.run) {
            self.note_error("cannot give up the open trials", &e);
        }
        let start = self.start;
        let mut records: Vec<TrialRecord> = self.ready.drain(..).map(|o| o.record).collect();
        records.extend(
            std::mem::take(&mut self.in_flight)
                .into_iter()
                .map(|(i, q)| {
                    abandoned_record(
                        i,
                        &q.proposal,
                        q.launched.elapsed().as_secs_f64(),
                        q.launched.duration_since(start).as_secs_f64(),
                    )
                }),
        );
        records
    }

    fn resume(&mut self) -> Resumed {
        if !self.resuming {
            return Resumed::default();
        }
        let rows = match self.queue.trials_of(&self.run) {
            Ok(rows) => rows,
            Err(e) => {
                self.note_error("cannot read the earlier coordinator's trials", &e);
                return Resumed::default();
            }
        };
        let recorded: BTreeSet<usize> = self
            .workspace
            .get_run(self.run.as_str())
            .map(|d| d.children.iter().map(|c| c.index).collect())
            .unwrap_or_default();
        let now = Instant::now();
        let epoch = epoch_now();
        let mut resumed = Resumed::default();
        for row in rows {
            let index = row.trial.index;
            resumed.next_index = resumed.next_index.max(index + 1);
            let Ok(proposal) = wire::decode_proposal(&row.trial.proposal, self.run.as_str(), index)
            else {
                continue;
            };
            resumed.proposed.push(proposal.clone());
            let queued = Queued {
                proposal,
                launched: now,
                not_after: now
                    + Duration::try_from_secs_f64((row.trial.not_after - epoch).max(0.0))
                        .unwrap_or_default(),
            };
            match (row.state.as_str(), &row.result) {
                ("done", Some(result)) => {
                    let output = decode_result(result, &queued).unwrap_or_else(|e| TrialOutput {
                        record: failed_record(index, &queued, e.to_string()),
                        oof: None,
                        fold_models: None,
                    });
                    resumed.finished.push((output, recorded.contains(&index)));
                }
                ("pending" | "running", _) => {
                    self.in_flight.insert(index, queued);
                }
                _ => {
                    let mut record = abandoned_record(index, &queued.proposal, 0.0, 0.0);
                    record.status = TrialStatus::TimedOut(
                        "given up by the earlier coordinator (no worker reported it)".into(),
                    );
                    let output = TrialOutput {
                        record,
                        oof: None,
                        fold_models: None,
                    };
                    resumed.finished.push((output, recorded.contains(&index)));
                }
            }
        }
        self.log(&format!(
            "resumed the search: {} finished trial(s) and {} still queued from the earlier \
             coordinator",
            resumed.finished.len(),
            self.in_flight.len()
        ));
        resumed
    }

    fn begin(&mut self, digest: &str, search_end: Instant) -> Result<()> {
        self.start = Instant::now();
        self.search_end = search_end;
        self.queue
            .open_trials(&self.run, digest, epoch_now(), self.max_running)
    }
}

/// Settings of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// The worker's name, as its claims record it.
    pub worker: String,
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// How often the queue is polled for finished trials.
    pub poll: Duration,
}

/// Coordinates the claimed run: runs it with [`run_submitted`] (its trials on the queue), its
/// claim renewed meanwhile; the submission is finished whatever the outcome. A run claimed
/// again (its first coordinator died) is failed with the reason: its search cannot resume.
pub fn coordinate(
    workspace: &Workspace,
    claimed: &ClaimedRun,
    options: &CoordinatorOptions,
    observer: &mut dyn RunObserver,
) -> Result<TrackedRun> {
    let queue = workspace.queue("a distributed run")?;
    let run = &claimed.run_id;
    let result = std::thread::scope(|scope| {
        let (done, heartbeat) = mpsc::channel();
        scope.spawn(move || {
            renew_until(heartbeat, options.lease, || {
                queue.renew_run(run, &options.worker, options.lease)
            })
        });
        let result = coordinate_claimed(workspace, claimed, options, observer);
        drop(done);
        result
    });
    if let Err(e) = queue.finish_submission(run, &options.worker) {
        let _ = workspace.append_log(run, &format!("warning: cannot close the submission: {e}"));
    }
    result
}

fn coordinate_claimed(
    workspace: &Workspace,
    claimed: &ClaimedRun,
    options: &CoordinatorOptions,
    observer: &mut dyn RunObserver,
) -> Result<TrackedRun> {
    let run = &claimed.run_id;
    let fail = |e: AutotabError| {
        let _ = workspace.finish_run(
            run,
            RunStatus::Failed,
            &serde_json::json!({"error": e.to_string()}),
        );
        e
    };
    let mut spec: JobSpec = serde_json::from_value(claimed.spec.clone()).map_err(|e| {
        fail(AutotabError::config(format!(
            "run {run}: its submitted job spec is unreadable ({e}); was it submitted by another \
             version of autotab?"
        )))
    })?;
    let request: SubmitRequest = serde_json::from_value(claimed.request.clone()).map_err(|e| {
        fail(AutotabError::config(format!(
            "run {run}: its submission is unreadable ({e})"
        )))
    })?;
    let mut backend = QueueBackend::new(
        workspace,
        run.clone(),
        spec.limits.max_concurrent_trials,
        options.poll,
    )?;
    if claimed.attempt > 1 {
        // Its first coordinator stopped: the search goes on from the queue's trials, in what
        // is left of the budget (at least a second, to ensemble and refit what exists).
        let left = (spec.limits.timeout.as_secs_f64() - claimed.elapsed).max(1.0);
        let _ = workspace.append_log(
            run,
            &format!(
                "taken over by worker {} (claim {}): its earlier coordinator stopped; {left:.1}s \
                 of the budget left",
                options.worker, claimed.attempt
            ),
        );
        spec.limits.timeout = Duration::from_secs_f64(left);
        backend = backend.resuming();
    } else {
        let _ = workspace.append_log(run, &format!("coordinated by worker {}", options.worker));
    }
    let register = request.register.map(crate::experiment::Registration::from);
    run_submitted(
        &spec,
        workspace,
        run,
        register.as_ref(),
        observer,
        &mut backend,
    )
}

/// Calls `renew` every third of `lease` until `done` is dropped (or sends), which ends it at
/// once: the caller's work is not held up by a sleeping heartbeat.
pub(crate) fn renew_until(
    done: mpsc::Receiver<()>,
    lease: Duration,
    renew: impl Fn() -> Result<bool>,
) {
    let every = lease / 3;
    while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(every) {
        // A lost claim (`false`) or a store error: keep trying while the work goes on; the
        // result is refused later if another process took the claim over.
        let _ = renew();
    }
}
