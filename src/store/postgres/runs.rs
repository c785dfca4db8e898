//! Tracking in PostgreSQL: experiments, parent and child runs, params, metrics, logs. The
//! same rows and behaviour as `store/sqlite/runs.rs`; what differs is the SQL (`$n`
//! parameters, `ON CONFLICT` upserts, `FOR UPDATE` row locks) and that children's params and
//! metrics are read in one query each instead of one per child (a round trip to a server
//! costs more than one to a file).

use std::collections::BTreeMap;

use chrono::Utc;
use postgres::Row;

use super::Db;
use crate::error::Result;
use crate::store::records::{
    ChildRun, DataFingerprint, ExperimentSummary, NewRun, RunDetail, RunId, RunListEntry, RunStatus,
};
use crate::store::{
    from_json, name_list, no_such_run, now_rfc3339, rfc3339, store_err, to_i64, to_json, to_usize,
    ChildRow, ProcessOwner,
};

/// A [`NewRun`] with its JSON documents and counts encoded, ready to insert (encoded before
/// the transaction starts, so that it is held as briefly as possible).
pub(super) struct NewRunRow<'a> {
    run: &'a NewRun<'a>,
    spec: String,
    schema: String,
    rows: i64,
    columns: i64,
    pid: i64,
}

impl<'a> NewRunRow<'a> {
    /// The job spec, as stored.
    pub(super) fn spec_text(&self) -> &str {
        &self.spec
    }

    pub(super) fn encode(run: &'a NewRun<'a>) -> Result<NewRunRow<'a>> {
        Ok(NewRunRow {
            run,
            spec: to_json(run.spec, "job spec")?,
            schema: to_json(&run.fingerprint.schema_json, "data schema")?,
            rows: to_i64(run.fingerprint.rows, "row count")?,
            columns: to_i64(run.fingerprint.columns, "column count")?,
            pid: i64::from(run.owner.pid),
        })
    }
}

pub(super) fn start_run(db: &mut Db<'_>, row: &NewRunRow<'_>) -> Result<RunId> {
    let run = row.run;
    let now = now_rfc3339();
    // A concurrent insert of the same new name waits for the other transaction, then does
    // nothing; the next statement (a new snapshot) sees its row.
    db.execute(
        "INSERT INTO experiments (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&run.experiment, &now],
        "create the experiment",
    )?;
    let found = db.query_one(
        "SELECT id FROM experiments WHERE name = $1",
        &[&run.experiment],
        "find the experiment",
    )?;
    let experiment_id: i64 = db.get(&found, 0)?;
    loop {
        let id = RunId::new_parent();
        let inserted = db.execute(
            "INSERT INTO runs (id, experiment_id, status, started, spec_json, data_sha256,
                 data_rows, data_columns, data_schema_json, owner_host, owner_pid, owner_start)
             VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO NOTHING",
            &[
                &id.as_str(),
                &experiment_id,
                &now,
                &row.spec,
                &run.fingerprint.sha256,
                &row.rows,
                &row.columns,
                &row.schema,
                &run.owner.host,
                &row.pid,
                &run.owner.start,
            ],
            "insert the run",
        )?;
        if inserted == 1 {
            return Ok(id);
        }
    }
}

pub(super) fn log_child_run(db: &mut Db<'_>, parent: &RunId, row: &ChildRow<'_>) -> Result<RunId> {
    let child = row.child;
    let id = row.id.as_str();
    let experiment_id = parent_experiment(db, parent.as_str())?;
    let inserted = db.execute(
        "INSERT INTO runs (id, experiment_id, parent_id, trial_index, algorithm, status,
             error, started, ended, duration_secs)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
        &[
            &id,
            &experiment_id,
            &parent.as_str(),
            &row.index,
            &child.algorithm,
            &child.status.as_str(),
            &child.error,
            &rfc3339(child.started),
            &rfc3339(child.ended),
            &row.duration_secs,
        ],
        "insert the child run",
    )?;
    if inserted == 0 {
        return Err(store_err(format!(
            "trial {} of run {parent} is already recorded (run {id})",
            child.index
        )));
    }
    for (name, value) in &row.params {
        db.execute(
            "INSERT INTO params (run_id, name, value_json) VALUES ($1, $2, $3)",
            &[&id, name, value],
            "insert a param of the child run",
        )?;
    }
    for (name, value) in &child.metrics {
        db.execute(
            "INSERT INTO metrics (run_id, name, value) VALUES ($1, $2, $3)",
            &[&id, name, value],
            "insert a metric of the child run",
        )?;
    }
    for (name, values) in &child.fold_metrics {
        for (fold, value) in values.iter().enumerate() {
            db.execute(
                "INSERT INTO fold_metrics (run_id, name, fold, value) VALUES ($1, $2, $3, $4)",
                &[&id, name, &to_i64(fold, "fold index")?, value],
                "insert a per-fold metric of the child run",
            )?;
        }
    }
    Ok(row.id.clone())
}

pub(super) fn log_metric(db: &mut Db<'_>, run: &RunId, name: &str, value: f64) -> Result<()> {
    require_run(db, run.as_str())?;
    db.execute(
        "INSERT INTO metrics (run_id, name, value) VALUES ($1, $2, $3)
         ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value",
        &[&run.as_str(), &name, &value],
        "record the metric",
    )?;
    Ok(())
}

pub(super) fn log_param(db: &mut Db<'_>, run: &RunId, name: &str, value: &str) -> Result<()> {
    require_run(db, run.as_str())?;
    db.execute(
        "INSERT INTO params (run_id, name, value_json) VALUES ($1, $2, $3)
         ON CONFLICT (run_id, name) DO UPDATE SET value_json = excluded.value_json",
        &[&run.as_str(), &name, &value],
        "record the param",
    )?;
    Ok(())
}

pub(super) fn append_log(db: &mut Db<'_>, run: &RunId, line: &str) -> Result<()> {
    require_run(db, run.as_str())?;
    db.execute(
        "INSERT INTO run_logs (run_id, logged, line) VALUES ($1, $2, $3)",
        &[&run.as_str(), &now_rfc3339(), &line],
        "append to the run's log",
    )?;
    Ok(())
}

pub(super) fn finish_run(
    db: &mut Db<'_>,
    run: &RunId,
    status: RunStatus,
    outcome: &str,
) -> Result<()> {
    // The row lock makes two finishers (or a finisher and an interrupter) take turns: the
    // second sees the first's status.
    let row = db
        .query_opt(
            "SELECT status, started FROM runs WHERE id = $1 FOR UPDATE",
            &[&run.as_str()],
            "read the run's status",
        )?
        .ok_or_else(|| no_such_run(run.as_str()))?;
    let current: String = db.get(&row, 0)?;
    let started: String = db.get(&row, 1)?;
    let current = RunStatus::parse(&current)?;
    if current != RunStatus::Running {
        return Err(store_err(format!(
            "run {run} is already {current}; it cannot be finished again"
        )));
    }
    let now = Utc::now();
    let duration = chrono::DateTime::parse_from_rfc3339(&started)
        .map(|s| (now - s.with_timezone(&Utc)).num_milliseconds().max(0) as f64 / 1000.0)
        .ok();
    db.execute(
        "UPDATE runs SET status = $1, ended = $2, duration_secs = $3, summary_json = $4
         WHERE id = $5",
        &[
            &status.as_str(),
            &rfc3339(now),
            &duration,
            &outcome,
            &run.as_str(),
        ],
        "finish the run",
    )?;
    Ok(())
}

pub(super) fn interrupt_stale_runs(
    db: &mut Db<'_>,
    is_gone: &dyn Fn(&ProcessOwner) -> bool,
) -> Result<Vec<RunId>> {
    let rows = db.query(
        "SELECT id, owner_host, owner_pid, owner_start FROM runs
         WHERE status = 'running' AND parent_id IS NULL",
        &[],
        "find the running runs",
    )?;
    let now = now_rfc3339();
    let mut interrupted = Vec::new();
    for row in rows {
        let id: String = db.get(&row, 0)?;
        let host: Option<String> = db.get(&row, 1)?;
        let pid: Option<i64> = db.get(&row, 2)?;
        let start: Option<String> = db.get(&row, 3)?;
        let (Some(host), Some(pid)) = (host, pid.and_then(|p| u32::try_from(p).ok())) else {
            continue;
        };
        if is_gone(&ProcessOwner { host, pid, start }) {
            let changed = db.execute(
                "UPDATE runs SET status = $1, ended = $2,
                     error = 'the process running it stopped without finishing it'
                 WHERE id = $3 AND status = 'running'",
                &[&RunStatus::Interrupted.as_str(), &now, &id],
                "mark a stale run interrupted",
            )?;
            if changed == 1 {
                interrupted.push(RunId::parse(&id));
            }
        }
    }
    Ok(interrupted)
}

pub(super) fn list_runs(db: &mut Db<'_>, experiment: Option<&str>) -> Result<Vec<RunListEntry>> {
    if let Some(name) = experiment {
        let row = db.query_one(
            "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = $1)",
            &[&name],
            "look up the experiment",
        )?;
        let exists: bool = db.get(&row, 0)?;
        if !exists {
            return Err(store_err(format!(
                "no experiment named '{name}' in this workspace (experiments: {})",
                name_list(&experiment_names(db)?)
            )));
        }
    }
    let rows = db.query(
        &format!(
            "{ENTRY_SELECT} WHERE r.parent_id IS NULL AND ($1::TEXT IS NULL OR e.name = $1)
             ORDER BY r.started COLLATE \"C\" DESC, r.id COLLATE \"C\" DESC"
        ),
        &[&experiment],
        "list the runs",
    )?;
    rows.iter().map(|row| entry(db, row)).collect()
}

pub(super) fn get_run(db: &mut Db<'_>, run_id: &str) -> Result<RunDetail> {
    let row = db
        .query_opt(
            &format!("{ENTRY_SELECT} WHERE r.id = $1"),
            &[&run_id],
            "read the run",
        )?
        .ok_or_else(|| no_such_run(run_id))?;
    let summary = entry(db, &row)?;
    let d = db.query_one(
        "SELECT parent_id, algorithm, error, spec_json, summary_json, data_sha256,
             data_rows, data_columns, data_schema_json, owner_host, owner_pid
         FROM runs WHERE id = $1",
        &[&run_id],
        "read the run",
    )?;
    let sha256: Option<String> = db.get(&d, 5)?;
    let rows: Option<i64> = db.get(&d, 6)?;
    let columns: Option<i64> = db.get(&d, 7)?;
    let schema: Option<String> = db.get(&d, 8)?;
    let fingerprint = match (sha256, rows, columns, schema) {
        (Some(sha256), Some(rows), Some(columns), Some(schema)) => Some(DataFingerprint {
            sha256,
            rows: to_usize(rows),
            columns: to_usize(columns),
            schema_json: from_json(&schema, run_id)?,
        }),
        _ => None,
    };
    let spec: Option<String> = db.get(&d, 3)?;
    let outcome: Option<String> = db.get(&d, 4)?;
    let host: Option<String> = db.get(&d, 9)?;
    let pid: Option<i64> = db.get(&d, 10)?;
    Ok(RunDetail {
        params: load_params(db, run_id)?,
        fold_metrics: load_folds(db, run_id)?,
        spec: spec.map(|s| from_json(&s, run_id)).transpose()?,
        outcome: outcome.map(|s| from_json(&s, run_id)).transpose()?,
        children: children(db, run_id)?,
        summary,
        parent: db.get(&d, 0)?,
        algorithm: db.get(&d, 1)?,
        error: db.get(&d, 2)?,
        fingerprint,
        process: host.zip(pid.and_then(|p| u32::try_from(p).ok())),
    })
}

/// The child runs of `run_id`, in trial order, with their params and metrics (one query per
/// table for all children).
fn children(db: &mut Db<'_>, run_id: &str) -> Result<Vec<ChildRun>> {
    let rows = db.query(
        "SELECT id, trial_index, algorithm, status, error, started, ended, duration_secs
         FROM runs WHERE parent_id = $1 ORDER BY trial_index",
        &[&run_id],
        "read the child runs",
    )?;
    let of_children = "(SELECT id FROM runs WHERE parent_id = $1)";
    let mut params = group_params(
        db,
        &format!("SELECT run_id, name, value_json FROM params WHERE run_id IN {of_children}"),
        run_id,
    )?;
    let mut metrics = group_metrics(
        db,
        &format!("SELECT run_id, name, value FROM metrics WHERE run_id IN {of_children}"),
        run_id,
    )?;
    let mut folds = group_folds(
        db,
        &format!(
            "SELECT run_id, name, value FROM fold_metrics WHERE run_id IN {of_children}
             ORDER BY run_id, name, fold"
        ),
        run_id,
    )?;
    rows.iter()
        .map(|r| {
            let id: String = db.get(r, 0)?;
            let index: i64 = db.get(r, 1)?;
            let algorithm: Option<String> = db.get(r, 2)?;
            let status: String = db.get(r, 3)?;
            Ok(ChildRun {
                params: params.remove(&id).unwrap_or_default(),
                metrics: metrics.remove(&id).unwrap_or_default(),
                fold_metrics: folds.remove(&id).unwrap_or_default(),
                index: to_usize(index),
                algorithm: algorithm.unwrap_or_default(),
                status: RunStatus::parse(&status)?,
                error: db.get(r, 4)?,
                started: db.get(r, 5)?,
                ended: db.get(r, 6)?,
                duration_secs: db.get(r, 7)?,
                id,
            })
        })
        .collect()
}

pub(super) fn run_log(db: &mut Db<'_>, run_id: &str) -> Result<Vec<String>> {
    require_run(db, run_id)?;
    let rows = db.query(
        "SELECT line FROM run_logs WHERE run_id = $1 ORDER BY id",
        &[&run_id],
        "read the run's log",
    )?;
    rows.iter().map(|r| db.get(r, 0)).collect()
}

pub(super) fn list_experiments(db: &mut Db<'_>) -> Result<Vec<ExperimentSummary>> {
    let rows = db.query(
        "SELECT e.name, e.created,
             (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id
                  AND r.parent_id IS NULL),
             (SELECT MAX(started COLLATE \"C\") FROM runs r WHERE r.experiment_id = e.id
                  AND r.parent_id IS NULL)
         FROM experiments e ORDER BY e.name COLLATE \"C\"",
        &[],
        "list the experiments",
    )?;
    rows.iter()
        .map(|r| {
            let runs: i64 = db.get(r, 2)?;
            Ok(ExperimentSummary {
                name: db.get(r, 0)?,
                created: db.get(r, 1)?,
                runs: to_usize(runs),
                last_run: db.get(r, 3)?,
            })
        })
        .collect()
}

/// Columns read into a [`RunListEntry`] (see [`entry`]).
const ENTRY_SELECT: &str = "
    SELECT r.id, e.name, r.status, r.started, r.ended, r.duration_secs,
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id),
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id AND c.status = 'failed')
    FROM runs r JOIN experiments e ON e.id = r.experiment_id";

/// A [`RunListEntry`] from a row of [`ENTRY_SELECT`], with its metrics.
fn entry(db: &mut Db<'_>, r: &Row) -> Result<RunListEntry> {
    let id: String = db.get(r, 0)?;
    let status: String = db.get(r, 2)?;
    let trials: i64 = db.get(r, 6)?;
    let failed: i64 = db.get(r, 7)?;
    Ok(RunListEntry {
        metrics: load_metrics(db, &id)?,
        status: RunStatus::parse(&status)?,
        experiment: db.get(r, 1)?,
        started: db.get(r, 3)?,
        ended: db.get(r, 4)?,
        duration_secs: db.get(r, 5)?,
        trials: to_usize(trials),
        failed_trials: to_usize(failed),
        id,
    })
}

fn load_params(db: &mut Db<'_>, run_id: &str) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut by_run = group_params(
        db,
        "SELECT run_id, name, value_json FROM params WHERE run_id = $1",
        run_id,
    )?;
    Ok(by_run.remove(run_id).unwrap_or_default())
}

fn load_metrics(db: &mut Db<'_>, run_id: &str) -> Result<BTreeMap<String, f64>> {
    let mut by_run = group_metrics(
        db,
        "SELECT run_id, name, value FROM metrics WHERE run_id = $1",
        run_id,
    )?;
    Ok(by_run.remove(run_id).unwrap_or_default())
}

fn load_folds(db: &mut Db<'_>, run_id: &str) -> Result<BTreeMap<String, Vec<f64>>> {
    let mut by_run = group_folds(
        db,
        "SELECT run_id, name, value FROM fold_metrics WHERE run_id = $1
         ORDER BY name, fold",
        run_id,
    )?;
    Ok(by_run.remove(run_id).unwrap_or_default())
}

/// Rows `(run_id, name, value_json)` of `sql` (one parameter, `run_id`) by run and name.
fn group_params(
    db: &mut Db<'_>,
    sql: &str,
    run_id: &str,
) -> Result<BTreeMap<String, BTreeMap<String, serde_json::Value>>> {
    let rows = db.query(sql, &[&run_id], "read the run's params")?;
    let mut out: BTreeMap<String, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
    for r in &rows {
        let run: String = db.get(r, 0)?;
        let name: String = db.get(r, 1)?;
        let json: String = db.get(r, 2)?;
        let value = from_json(&json, &run)?;
        out.entry(run).or_default().insert(name, value);
    }
    Ok(out)
}

/// Rows `(run_id, name, value)` of `sql` by run and name (a `NULL` value as `NaN`).
fn group_metrics(
    db: &mut Db<'_>,
    sql: &str,
    run_id: &str,
) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let rows = db.query(sql, &[&run_id], "read the run's metrics")?;
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in &rows {
        let run: String = db.get(r, 0)?;
        let name: String = db.get(r, 1)?;
        let value: Option<f64> = db.get(r, 2)?;
        out.entry(run)
            .or_default()
            .insert(name, value.unwrap_or(f64::NAN));
    }
    Ok(out)
}

/// Rows `(run_id, name, value)` of `sql`, in fold order, by run and name.
fn group_folds(
    db: &mut Db<'_>,
    sql: &str,
    run_id: &str,
) -> Result<BTreeMap<String, BTreeMap<String, Vec<f64>>>> {
    let rows = db.query(sql, &[&run_id], "read the run's per-fold metrics")?;
    let mut out: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for r in &rows {
        let run: String = db.get(r, 0)?;
        let name: String = db.get(r, 1)?;
        let value: Option<f64> = db.get(r, 2)?;
        out.entry(run)
            .or_default()
            .entry(name)
            .or_default()
            .push(value.unwrap_or(f64::NAN));
    }
    Ok(out)
}

/// Whether a run (parent or child) with id `run_id` exists.
pub(super) fn run_exists(db: &mut Db<'_>, run_id: &str) -> Result<bool> {
    let row = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)",
        &[&run_id],
        "look up the run",
    )?;
    db.get(&row, 0)
}

fn require_run(db: &mut Db<'_>, run_id: &str) -> Result<()> {
    if run_exists(db, run_id)? {
        Ok(())
    } else {
        Err(no_such_run(run_id))
    }
}

/// The experiment id of parent run `run_id`; an error if it is missing or a child run.
fn parent_experiment(db: &mut Db<'_>, run_id: &str) -> Result<i64> {
    let row = db
        .query_opt(
            "SELECT experiment_id, parent_id FROM runs WHERE id = $1",
            &[&run_id],
            "look up the parent run",
        )?
        .ok_or_else(|| no_such_run(run_id))?;
    let parent: Option<String> = db.get(&row, 1)?;
    if let Some(parent) = parent {
        return Err(store_err(format!(
            "run {run_id} is a child run of {parent}: trials are logged under a parent run"
        )));
    }
    db.get(&row, 0)
}

/// Names of all experiments, sorted.
fn experiment_names(db: &mut Db<'_>) -> Result<Vec<String>> {
    let rows = db.query(
        "SELECT name FROM experiments ORDER BY name COLLATE \"C\"",
        &[],
        "list the experiments",
    )?;
    rows.iter().map(|r| db.get(r, 0)).collect()
}
