//! The work queue of distributed runs in PostgreSQL (see [`crate::store::queue`]): the
//! `submissions` and `trial_queue` tables of schema version 3. Claims are
//! `SELECT ... FOR UPDATE SKIP LOCKED` (two workers never wait on, or take, the same row);
//! leases are `lease_until` on the server's clock (`clock_timestamp()`); a result is written
//! only while its worker still holds the claim.

use std::time::Duration;

use super::runs::NewRunRow;
use super::Db;
use crate::error::Result;
use crate::store::queue::{
    ClaimedRun, ClaimedTrial, FinishedTrial, QueueRow, QueuedTrial, TrialResult,
};
use crate::store::records::RunId;
use crate::store::{from_json, store_err, to_i64, to_json, to_usize, ProcessOwner};

/// Schema version 3: the queue of distributed runs, and the `queued` run status.
pub(super) const SCHEMA_V3: &str = "
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('queued','running','completed','failed','canceled','interrupted'));
CREATE TABLE submissions (
    run_id          TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    spec_json       TEXT NOT NULL,
    request_json    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued','running','finished')),
    submitted       DOUBLE PRECISION NOT NULL,
    worker          TEXT,
    lease_until     DOUBLE PRECISION,
    attempts        BIGINT NOT NULL DEFAULT 0,
    first_claimed   DOUBLE PRECISION,
    trials_open     BOOLEAN NOT NULL DEFAULT FALSE,
    max_running     BIGINT NOT NULL DEFAULT 1,
    folds_digest    TEXT,
    search_start    DOUBLE PRECISION
);
CREATE INDEX submissions_by_state ON submissions(state, submitted);
CREATE TABLE trial_queue (
    run_id          TEXT NOT NULL REFERENCES submissions(run_id) ON DELETE CASCADE,
    idx             BIGINT NOT NULL,
    proposal_json   TEXT NOT NULL,
    seed            BIGINT NOT NULL,
    time_limit_secs DOUBLE PRECISION NOT NULL,
    not_after       DOUBLE PRECISION NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending','running','done','abandoned')),
    worker          TEXT,
    lease_until     DOUBLE PRECISION,
    attempts        BIGINT NOT NULL DEFAULT 0,
    record_json     TEXT,
    loss            DOUBLE PRECISION,
    oof             BYTEA,
    collected       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX trial_queue_by_state ON trial_queue(state, run_id, idx);
";

/// The server's clock in seconds since the epoch, in SQL.
const NOW: &str = "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION";

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(super) fn submit(db: &mut Db<'_>, row: &NewRunRow<'_>, request: &str) -> Result<RunId> {
    let id = super::runs::start_run(db, row)?;
    db.execute(
        "UPDATE runs SET status = 'queued' WHERE id = $1",
        &[&id.as_str()],
        "mark the run queued",
    )?;
    db.execute(
        &format!(
            "INSERT INTO submissions (run_id, spec_json, request_json, state, submitted)
             VALUES ($1, $2, $3, 'queued', {NOW})"
        ),
        &[&id.as_str(), &row.spec_text(), &request],
        "queue the run",
    )?;
    Ok(id)
}

pub(super) fn claim_run(
    db: &mut Db<'_>,
    worker: &str,
    owner: &ProcessOwner,
    lease: Duration,
) -> Result<Option<ClaimedRun>> {
    let found = db.query_opt(
        &format!(
            "SELECT run_id FROM submissions
             WHERE state = 'queued' OR (state = 'running' AND lease_until < {NOW})
             ORDER BY submitted LIMIT 1
             FOR UPDATE SKIP LOCKED"
        ),
        &[],
        "look for a queued run",
    )?;
    let Some(found) = found else {
        return Ok(None);
    };
    let run_id: String = db.get(&found, 0)?;
    let row = db.query_one(
        &format!(
            "UPDATE submissions SET state = 'running', worker = $2, lease_until = {NOW} + $3,
                 attempts = attempts + 1, first_claimed = COALESCE(first_claimed, {NOW})
             WHERE run_id = $1
             RETURNING spec_json, request_json, attempts, {NOW} - first_claimed"
        ),
        &[&run_id, &worker, &secs(lease)],
        "claim the run",
    )?;
    let spec: String = db.get(&row, 0)?;
    let request: String = db.get(&row, 1)?;
    let attempts: i64 = db.get(&row, 2)?;
    let elapsed: f64 = db.get(&row, 3)?;
    db.execute(
        "UPDATE runs SET status = 'running', started = $2, ended = NULL, error = NULL,
             owner_host = $3, owner_pid = $4, owner_start = $5
         WHERE id = $1",
        &[
            &run_id,
            &crate::store::now_rfc3339(),
            &owner.host,
            &i64::from(owner.pid),
            &owner.start,
        ],
        "mark the run running",
    )?;
    Ok(Some(ClaimedRun {
        spec: from_json(&spec, &run_id)?,
        request: from_json(&request, &run_id)?,
        run_id: RunId::parse(&run_id),
        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
        elapsed: elapsed.max(0.0),
    }))
}

pub(super) fn renew_run(
    db: &mut Db<'_>,
    run: &RunId,
    worker: &str,
    lease: Duration,
) -> Result<bool> {
    let changed = db.execute(
        &format!(
            "UPDATE submissions SET lease_until = {NOW} + $3
             WHERE run_id = $1 AND worker = $2 AND state = 'running'"
        ),
        &[&run.as_str(), &worker, &secs(lease)],
        "renew the run's lease",
    )?;
    Ok(changed == 1)
}

pub(super) fn open_trials(
    db: &mut Db<'_>,
    run: &RunId,
    folds_digest: &str,
    search_start: f64,
    max_running: usize,
) -> Result<()> {
    db.execute(
        "UPDATE submissions SET trials_open = TRUE, folds_digest = $2, search_start = $3,
             max_running = $4
         WHERE run_id = $1",
        &[
            &run.as_str(),
            &folds_digest,
            &search_start,
            &to_i64(max_running.max(1), "concurrent trials")?,
        ],
        "open the run's trials",
    )?;
    Ok(())
}

pub(super) fn push_trial(db: &mut Db<'_>, run: &RunId, trial: &QueuedTrial) -> Result<()> {
    let proposal = to_json(&trial.proposal, "trial proposal")?;
    // The seed's bits, as PostgreSQL has no unsigned integers.
    let seed = trial.seed as i64;
    db.execute(
        "INSERT INTO trial_queue (run_id, idx, proposal_json, seed, time_limit_secs, not_after,
             state)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
        &[
            &run.as_str(),
            &to_i64(trial.index, "trial index")?,
            &proposal,
            &seed,
            &secs(trial.time_limit),
            &trial.not_after,
        ],
        "queue the trial",
    )?;
    Ok(())
}

pub(super) fn claim_trial(
    db: &mut Db<'_>,
    worker: &str,
    lease: Duration,
    skip: &[RunId],
) -> Result<Option<ClaimedTrial>> {
    let skip: Vec<&str> = skip.iter().map(RunId::as_str).collect();
    // The submission's row is locked too, so two claims of one run's trials take turns (the
    // second skips the run this time) and its running trials never exceed `max_running`.
    let found = db.query_opt(
        &format!(
            "SELECT t.run_id, t.idx FROM trial_queue t JOIN submissions s ON s.run_id = t.run_id
             WHERE s.state = 'running' AND s.trials_open AND t.not_after > {NOW}
               AND (t.state = 'pending' OR (t.state = 'running' AND t.lease_until < {NOW}))
               AND NOT (t.run_id = ANY($1))
               AND (SELECT COUNT(*) FROM trial_queue r
                    WHERE r.run_id = t.run_id AND r.state = 'running'
                      AND r.lease_until >= {NOW}) < s.max_running
             ORDER BY s.submitted, t.idx LIMIT 1
             FOR UPDATE OF t, s SKIP LOCKED"
        ),
        &[&skip],
        "look for a pending trial",
    )?;
    let Some(found) = found else {
        return Ok(None);
    };
    let run_id: String = db.get(&found, 0)?;
    let idx: i64 = db.get(&found, 1)?;
    let row = db.query_one(
        &format!(
            "UPDATE trial_queue SET state = 'running', worker = $3, lease_until = {NOW} + $4,
                 attempts = attempts + 1
             WHERE run_id = $1 AND idx = $2
             RETURNING proposal_json, seed, time_limit_secs, not_after, attempts"
        ),
        &[&run_id, &idx, &worker, &secs(lease)],
        "claim the trial",
    )?;
    let proposal: String = db.get(&row, 0)?;
    let seed: i64 = db.get(&row, 1)?;
    let time_limit: f64 = db.get(&row, 2)?;
    let not_after: f64 = db.get(&row, 3)?;
    let attempts: i64 = db.get(&row, 4)?;
    let run = db.query_one(
        "SELECT spec_json, folds_digest, search_start FROM submissions WHERE run_id = $1",
        &[&run_id],
        "read the trial's run",
    )?;
    let spec: String = db.get(&run, 0)?;
    let digest: Option<String> = db.get(&run, 1)?;
    let search_start: Option<f64> = db.get(&run, 2)?;
    Ok(Some(ClaimedTrial {
        trial: QueuedTrial {
            index: to_usize(idx),
            proposal: from_json(&proposal, &run_id)?,
            seed: seed as u64,
            time_limit: Duration::try_from_secs_f64(time_limit).unwrap_or_default(),
            not_after,
        },
        spec: from_json(&spec, &run_id)?,
        folds_digest: digest.unwrap_or_default(),
        search_start: search_start.unwrap_or(not_after),
        run_id: RunId::parse(&run_id),
        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
    }))
}

pub(super) fn renew_trial(
    db: &mut Db<'_>,
    run: &RunId,
    index: usize,
    worker: &str,
    lease: Duration,
) -> Result<bool> {
    let changed = db.execute(
        &format!(
            "UPDATE trial_queue SET lease_until = {NOW} + $4
             WHERE run_id = $1 AND idx = $2 AND worker = $3 AND state = 'running'"
        ),
        &[
            &run.as_str(),
            &to_i64(index, "trial index")?,
            &worker,
            &secs(lease),
        ],
        "renew the trial's lease",
    )?;
    Ok(changed == 1)
}

pub(super) fn release_trial(
    db: &mut Db<'_>,
    run: &RunId,
    index: usize,
    worker: &str,
) -> Result<()> {
    db.execute(
        "UPDATE trial_queue SET state = 'pending', worker = NULL, lease_until = NULL
         WHERE run_id = $1 AND idx = $2 AND worker = $3 AND state = 'running'",
        &[&run.as_str(), &to_i64(index, "trial index")?, &worker],
        "give the trial back",
    )?;
    Ok(())
}

pub(super) fn complete_trial(
    db: &mut Db<'_>,
    run: &RunId,
    index: usize,
    worker: &str,
    result: &TrialResult,
) -> Result<bool> {
    let record = to_json(&result.record, "trial record")?;
    let changed = db.execute(
        "UPDATE trial_queue SET state = 'done', record_json = $4, loss = $5, oof = $6,
             lease_until = NULL
         WHERE run_id = $1 AND idx = $2 AND worker = $3 AND state = 'running'",
        &[
            &run.as_str(),
            &to_i64(index, "trial index")?,
            &worker,
            &record,
            &result.loss,
            &result.oof,
        ],
        "write the trial's result",
    )?;
    Ok(changed == 1)
}

pub(super) fn trials_better_than(db: &mut Db<'_>, run: &RunId, loss: f64) -> Result<usize> {
    let row = db.query_one(
        "SELECT COUNT(*) FROM trial_queue WHERE run_id = $1 AND state = 'done' AND loss < $2",
        &[&run.as_str(), &loss],
        "count the better trials",
    )?;
    let n: i64 = db.get(&row, 0)?;
    Ok(to_usize(n))
}

pub(super) fn collect_trials(db: &mut Db<'_>, run: &RunId) -> Result<Vec<FinishedTrial>> {
    let rows = db.query(
        "UPDATE trial_queue SET collected = TRUE
         WHERE run_id = $1 AND state = 'done' AND NOT collected
         RETURNING idx, record_json, loss, oof, worker, attempts",
        &[&run.as_str()],
        "collect the finished trials",
    )?;
    let mut finished = Vec::with_capacity(rows.len());
    for row in rows {
        let idx: i64 = db.get(&row, 0)?;
        let record: Option<String> = db.get(&row, 1)?;
        let record = record.ok_or_else(|| {
            store_err(format!(
                "trial {idx} of run {run} is done but has no record: the store is damaged"
            ))
        })?;
        let worker: Option<String> = db.get(&row, 4)?;
        let attempts: i64 = db.get(&row, 5)?;
        finished.push(FinishedTrial {
            index: to_usize(idx),
            result: TrialResult {
                record: from_json(&record, run.as_str())?,
                loss: db.get(&row, 2)?,
                oof: db.get(&row, 3)?,
            },
            worker: worker.unwrap_or_default(),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        });
    }
    finished.sort_by_key(|t| t.index);
    Ok(finished)
}

pub(super) fn trials_of(db: &mut Db<'_>, run: &RunId) -> Result<Vec<QueueRow>> {
    let rows = db.query(
        "SELECT idx, proposal_json, seed, time_limit_secs, not_after, state, record_json, loss,
             oof
         FROM trial_queue WHERE run_id = $1 ORDER BY idx",
        &[&run.as_str()],
        "read the run's queued trials",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let idx: i64 = db.get(&row, 0)?;
        let proposal: String = db.get(&row, 1)?;
        let seed: i64 = db.get(&row, 2)?;
        let time_limit: f64 = db.get(&row, 3)?;
        let record: Option<String> = db.get(&row, 6)?;
        let result = match record {
            Some(record) => Some(TrialResult {
                record: from_json(&record, run.as_str())?,
                loss: db.get(&row, 7)?,
                oof: db.get(&row, 8)?,
            }),
            None => None,
        };
        out.push(QueueRow {
            trial: QueuedTrial {
                index: to_usize(idx),
                proposal: from_json(&proposal, run.as_str())?,
                seed: seed as u64,
                time_limit: Duration::try_from_secs_f64(time_limit).unwrap_or_default(),
                not_after: db.get(&row, 4)?,
            },
            state: db.get(&row, 5)?,
            result,
        });
    }
    Ok(out)
}

pub(super) fn abandon_trials(db: &mut Db<'_>, run: &RunId) -> Result<Vec<usize>> {
    let rows = db.query(
        "UPDATE trial_queue SET state = 'abandoned', lease_until = NULL
         WHERE run_id = $1 AND state IN ('pending', 'running')
         RETURNING idx",
        &[&run.as_str()],
        "abandon the run's open trials",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let idx: i64 = db.get(&row, 0)?;
        out.push(to_usize(idx));
    }
    out.sort_unstable();
    Ok(out)
}

pub(super) fn abandon_trial(db: &mut Db<'_>, run: &RunId, index: usize) -> Result<bool> {
    let changed = db.execute(
        "UPDATE trial_queue SET state = 'abandoned', lease_until = NULL
         WHERE run_id = $1 AND idx = $2 AND state IN ('pending', 'running')",
        &[&run.as_str(), &to_i64(index, "trial index")?],
        "abandon the trial",
    )?;
    Ok(changed == 1)
}

pub(super) fn finish_submission(db: &mut Db<'_>, run: &RunId, worker: &str) -> Result<()> {
    abandon_trials(db, run)?;
    db.execute(
        "UPDATE trial_queue SET oof = NULL WHERE run_id = $1",
        &[&run.as_str()],
        "drop the run's stored predictions",
    )?;
    db.execute(
        "UPDATE submissions SET state = 'finished', lease_until = NULL
         WHERE run_id = $1 AND worker = $2",
        &[&run.as_str(), &worker],
        "finish the submission",
    )?;
    Ok(())
}
