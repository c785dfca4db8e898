//! Tracking in SQL: experiments, parent and child runs, params, metrics, logs.

use std::collections::BTreeMap;

use chrono::Utc;
use rusqlite::{OptionalExtension, Row, Transaction};

use super::SqlContext;
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
}

impl<'a> NewRunRow<'a> {
    pub(super) fn encode(run: &'a NewRun<'a>) -> Result<NewRunRow<'a>> {
        Ok(NewRunRow {
            run,
            spec: to_json(run.spec, "job spec")?,
            schema: to_json(&run.fingerprint.schema_json, "data schema")?,
            rows: to_i64(run.fingerprint.rows, "row count")?,
            columns: to_i64(run.fingerprint.columns, "column count")?,
        })
    }
}

pub(super) fn start_run(tx: &Transaction<'_>, row: &NewRunRow<'_>) -> Result<RunId> {
    let run = row.run;
    let now = now_rfc3339();
    tx.execute(
        "INSERT OR IGNORE INTO experiments (name, created) VALUES (?1, ?2)",
        (run.experiment, &now),
    )
    .ctx("create the experiment")?;
    let experiment_id: i64 = tx
        .query_row(
            "SELECT id FROM experiments WHERE name = ?1",
            [run.experiment],
            |r| r.get(0),
        )
        .ctx("find the experiment")?;
    let id = loop {
        let candidate = RunId::new_parent();
        if !run_exists(tx, candidate.as_str())? {
            break candidate;
        }
    };
    tx.execute(
        "INSERT INTO runs (id, experiment_id, status, started, spec_json, data_sha256,
             data_rows, data_columns, data_schema_json, owner_host, owner_pid, owner_start)
         VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            id.as_str(),
            experiment_id,
            now,
            row.spec,
            run.fingerprint.sha256,
            row.rows,
            row.columns,
            row.schema,
            run.owner.host,
            run.owner.pid,
            run.owner.start,
        ],
    )
    .ctx("insert the run")?;
    Ok(id)
}

pub(super) fn log_child_run(
    tx: &Transaction<'_>,
    parent: &RunId,
    row: &ChildRow<'_>,
) -> Result<RunId> {
    let child = row.child;
    let id = row.id.as_str();
    let experiment_id = parent_experiment(tx, parent.as_str())?;
    if run_exists(tx, id)? {
        return Err(store_err(format!(
            "trial {} of run {parent} is already recorded (run {id})",
            child.index
        )));
    }
    tx.execute(
        "INSERT INTO runs (id, experiment_id, parent_id, trial_index, algorithm, status,
             error, started, ended, duration_secs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            id,
            experiment_id,
            parent.as_str(),
            row.index,
            child.algorithm,
            child.status.as_str(),
            child.error,
            rfc3339(child.started),
            rfc3339(child.ended),
            row.duration_secs,
        ],
    )
    .ctx("insert the child run")?;
    for (name, value) in &row.params {
        tx.execute(
            "INSERT INTO params (run_id, name, value_json) VALUES (?1, ?2, ?3)",
            (id, name, value),
        )
        .ctx("insert a param of the child run")?;
    }
    for (name, value) in &child.metrics {
        tx.execute(
            "INSERT INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
            (id, name, value),
        )
        .ctx("insert a metric of the child run")?;
    }
    for (name, values) in &child.fold_metrics {
        for (fold, value) in values.iter().enumerate() {
            tx.execute(
                "INSERT INTO fold_metrics (run_id, name, fold, value) VALUES (?1, ?2, ?3, ?4)",
                (id, name, to_i64(fold, "fold index")?, value),
            )
            .ctx("insert a per-fold metric of the child run")?;
        }
    }
    Ok(row.id.clone())
}

pub(super) fn log_metric(tx: &Transaction<'_>, run: &RunId, name: &str, value: f64) -> Result<()> {
    require_run(tx, run.as_str())?;
    tx.execute(
        "INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
        (run.as_str(), name, value),
    )
    .ctx("record the metric")?;
    Ok(())
}

pub(super) fn log_param(tx: &Transaction<'_>, run: &RunId, name: &str, value: &str) -> Result<()> {
    require_run(tx, run.as_str())?;
    tx.execute(
        "INSERT OR REPLACE INTO params (run_id, name, value_json) VALUES (?1, ?2, ?3)",
        (run.as_str(), name, value),
    )
    .ctx("record the param")?;
    Ok(())
}

pub(super) fn append_log(tx: &Transaction<'_>, run: &RunId, line: &str) -> Result<()> {
    require_run(tx, run.as_str())?;
    tx.execute(
        "INSERT INTO run_logs (run_id, logged, line) VALUES (?1, ?2, ?3)",
        (run.as_str(), now_rfc3339(), line),
    )
    .ctx("append to the run's log")?;
    Ok(())
}

pub(super) fn finish_run(
    tx: &Transaction<'_>,
    run: &RunId,
    status: RunStatus,
    outcome: &str,
) -> Result<()> {
    let (current, started): (String, String) = tx
        .query_row(
            "SELECT status, started FROM runs WHERE id = ?1",
            [run.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx("read the run's status")?
        .ok_or_else(|| no_such_run(run.as_str()))?;
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
    tx.execute(
        "UPDATE runs SET status = ?1, ended = ?2, duration_secs = ?3, summary_json = ?4
         WHERE id = ?5",
        rusqlite::params![
            status.as_str(),
            rfc3339(now),
            duration,
            outcome,
            run.as_str()
        ],
    )
    .ctx("finish the run")?;
    Ok(())
}

pub(super) fn interrupt_stale_runs(
    tx: &Transaction<'_>,
    is_gone: &dyn Fn(&ProcessOwner) -> bool,
) -> Result<Vec<RunId>> {
    let mut stmt = tx
        .prepare(
            "SELECT id, owner_host, owner_pid, owner_start FROM runs
             WHERE status = 'running' AND parent_id IS NULL",
        )
        .ctx("find the running runs")?;
    let running = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<u32>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("find the running runs")?;
    let now = now_rfc3339();
    let mut interrupted = Vec::new();
    for (id, host, pid, start) in running {
        let (Some(host), Some(pid)) = (host, pid) else {
            continue;
        };
        if is_gone(&ProcessOwner { host, pid, start }) {
            tx.execute(
                "UPDATE runs SET status = ?1, ended = ?2,
                     error = 'the process running it stopped without finishing it'
                 WHERE id = ?3 AND status = 'running'",
                (RunStatus::Interrupted.as_str(), &now, &id),
            )
            .ctx("mark a stale run interrupted")?;
            interrupted.push(RunId::parse(&id));
        }
    }
    Ok(interrupted)
}

pub(super) fn list_runs(
    tx: &Transaction<'_>,
    experiment: Option<&str>,
) -> Result<Vec<RunListEntry>> {
    if let Some(name) = experiment {
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )
            .ctx("look up the experiment")?;
        if !exists {
            return Err(store_err(format!(
                "no experiment named '{name}' in this workspace (experiments: {})",
                name_list(&experiment_names(tx)?)
            )));
        }
    }
    let mut stmt = tx
        .prepare(&format!(
            "{ENTRY_SELECT} WHERE r.parent_id IS NULL AND (?1 IS NULL OR e.name = ?1)
             ORDER BY r.started DESC, r.id DESC"
        ))
        .ctx("list the runs")?;
    let rows = stmt
        .query_map([experiment], entry_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("list the runs")?;
    rows.into_iter().map(|row| row.finish(tx)).collect()
}

/// The columns of `runs` that [`get_run`] reads beside the list entry.
struct DetailRow {
    parent: Option<String>,
    algorithm: Option<String>,
    error: Option<String>,
    spec: Option<String>,
    outcome: Option<String>,
    sha256: Option<String>,
    rows: Option<i64>,
    columns: Option<i64>,
    schema: Option<String>,
    host: Option<String>,
    pid: Option<u32>,
}

pub(super) fn get_run(tx: &Transaction<'_>, run_id: &str) -> Result<RunDetail> {
    let summary = tx
        .query_row(
            &format!("{ENTRY_SELECT} WHERE r.id = ?1"),
            [run_id],
            entry_row,
        )
        .optional()
        .ctx("read the run")?
        .ok_or_else(|| no_such_run(run_id))?
        .finish(tx)?;
    let d = tx
        .query_row(
            "SELECT parent_id, algorithm, error, spec_json, summary_json, data_sha256,
                 data_rows, data_columns, data_schema_json, owner_host, owner_pid
             FROM runs WHERE id = ?1",
            [run_id],
            |r| {
                Ok(DetailRow {
                    parent: r.get(0)?,
                    algorithm: r.get(1)?,
                    error: r.get(2)?,
                    spec: r.get(3)?,
                    outcome: r.get(4)?,
                    sha256: r.get(5)?,
                    rows: r.get(6)?,
                    columns: r.get(7)?,
                    schema: r.get(8)?,
                    host: r.get(9)?,
                    pid: r.get(10)?,
                })
            },
        )
        .ctx("read the run")?;
    let fingerprint = match (d.sha256, d.rows, d.columns, d.schema) {
        (Some(sha256), Some(rows), Some(columns), Some(schema)) => Some(DataFingerprint {
            sha256,
            rows: to_usize(rows),
            columns: to_usize(columns),
            schema_json: from_json(&schema, run_id)?,
        }),
        _ => None,
    };
    Ok(RunDetail {
        params: load_params(tx, run_id)?,
        fold_metrics: load_folds(tx, run_id)?,
        spec: d.spec.map(|s| from_json(&s, run_id)).transpose()?,
        outcome: d.outcome.map(|s| from_json(&s, run_id)).transpose()?,
        children: children(tx, run_id)?,
        summary,
        parent: d.parent,
        algorithm: d.algorithm,
        error: d.error,
        fingerprint,
        process: d.host.zip(d.pid),
    })
}

/// The child runs of `run_id`, in trial order.
fn children(tx: &Transaction<'_>, run_id: &str) -> Result<Vec<ChildRun>> {
    let mut stmt = tx
        .prepare(
            "SELECT id, trial_index, algorithm, status, error, started, ended, duration_secs
             FROM runs WHERE parent_id = ?1 ORDER BY trial_index",
        )
        .ctx("read the child runs")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<f64>>(7)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("read the child runs")?;
    rows.into_iter()
        .map(
            |(id, index, algorithm, status, error, started, ended, duration)| {
                Ok(ChildRun {
                    params: load_params(tx, &id)?,
                    metrics: load_metrics(tx, &id)?,
                    fold_metrics: load_folds(tx, &id)?,
                    id,
                    index: to_usize(index),
                    algorithm: algorithm.unwrap_or_default(),
                    status: RunStatus::parse(&status)?,
                    error,
                    started,
                    ended,
                    duration_secs: duration,
                })
            },
        )
        .collect()
}

pub(super) fn run_log(tx: &Transaction<'_>, run_id: &str) -> Result<Vec<String>> {
    require_run(tx, run_id)?;
    let mut stmt = tx
        .prepare("SELECT line FROM run_logs WHERE run_id = ?1 ORDER BY id")
        .ctx("read the run's log")?;
    let lines = stmt
        .query_map([run_id], |r| r.get(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .ctx("read the run's log")?;
    Ok(lines)
}

pub(super) fn list_experiments(tx: &Transaction<'_>) -> Result<Vec<ExperimentSummary>> {
    let mut stmt = tx
        .prepare(
            "SELECT e.name, e.created,
                 (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id
                      AND r.parent_id IS NULL),
                 (SELECT MAX(started) FROM runs r WHERE r.experiment_id = e.id
                      AND r.parent_id IS NULL)
             FROM experiments e ORDER BY e.name",
        )
        .ctx("list the experiments")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ExperimentSummary {
                name: r.get(0)?,
                created: r.get(1)?,
                runs: to_usize(r.get(2)?),
                last_run: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("list the experiments")?;
    Ok(rows)
}

/// Columns read into a [`RunListEntry`] (see [`entry_row`]).
const ENTRY_SELECT: &str = "
    SELECT r.id, e.name, r.status, r.started, r.ended, r.duration_secs,
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id),
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id AND c.status = 'failed')
    FROM runs r JOIN experiments e ON e.id = r.experiment_id";

/// A [`RunListEntry`] row before its status is checked and its metrics loaded.
struct EntryRow {
    id: String,
    experiment: String,
    status: String,
    started: String,
    ended: Option<String>,
    duration_secs: Option<f64>,
    trials: i64,
    failed: i64,
}

impl EntryRow {
    fn finish(self, tx: &Transaction<'_>) -> Result<RunListEntry> {
        Ok(RunListEntry {
            metrics: load_metrics(tx, &self.id)?,
            status: RunStatus::parse(&self.status)?,
            id: self.id,
            experiment: self.experiment,
            started: self.started,
            ended: self.ended,
            duration_secs: self.duration_secs,
            trials: to_usize(self.trials),
            failed_trials: to_usize(self.failed),
        })
    }
}

fn entry_row(r: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        id: r.get(0)?,
        experiment: r.get(1)?,
        status: r.get(2)?,
        started: r.get(3)?,
        ended: r.get(4)?,
        duration_secs: r.get(5)?,
        trials: r.get(6)?,
        failed: r.get(7)?,
    })
}

fn load_params(tx: &Transaction<'_>, run_id: &str) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut stmt = tx
        .prepare("SELECT name, value_json FROM params WHERE run_id = ?1")
        .ctx("read the run's params")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("read the run's params")?;
    rows.into_iter()
        .map(|(name, json)| Ok((name, from_json(&json, run_id)?)))
        .collect()
}

fn load_metrics(tx: &Transaction<'_>, run_id: &str) -> Result<BTreeMap<String, f64>> {
    let mut stmt = tx
        .prepare("SELECT name, value FROM metrics WHERE run_id = ?1")
        .ctx("read the run's metrics")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<BTreeMap<_, _>>>())
        .ctx("read the run's metrics")?;
    Ok(rows)
}

fn load_folds(tx: &Transaction<'_>, run_id: &str) -> Result<BTreeMap<String, Vec<f64>>> {
    let mut stmt = tx
        .prepare("SELECT name, value FROM fold_metrics WHERE run_id = ?1 ORDER BY name, fold")
        .ctx("read the run's per-fold metrics")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .ctx("read the run's per-fold metrics")?;
    let mut folds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, value) in rows {
        folds.entry(name).or_default().push(value);
    }
    Ok(folds)
}

/// Whether a run (parent or child) with id `run_id` exists.
pub(super) fn run_exists(tx: &Transaction<'_>, run_id: &str) -> Result<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
        [run_id],
        |r| r.get(0),
    )
    .ctx("look up the run")
}

fn require_run(tx: &Transaction<'_>, run_id: &str) -> Result<()> {
    if run_exists(tx, run_id)? {
        Ok(())
    } else {
        Err(no_such_run(run_id))
    }
}

/// The experiment id of parent run `run_id`; an error if it is missing or a child run.
fn parent_experiment(tx: &Transaction<'_>, run_id: &str) -> Result<i64> {
    let row: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT experiment_id, parent_id FROM runs WHERE id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx("look up the parent run")?;
    match row {
        None => Err(no_such_run(run_id)),
        Some((_, Some(parent))) => Err(store_err(format!(
            "run {run_id} is a child run of {parent}: trials are logged under a parent run"
        ))),
        Some((experiment, None)) => Ok(experiment),
    }
}

/// Names of all experiments, sorted.
fn experiment_names(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let mut stmt = tx
        .prepare("SELECT name FROM experiments ORDER BY name")
        .ctx("list the experiments")?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .ctx("list the experiments")?;
    Ok(names)
}
