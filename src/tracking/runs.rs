//! Experiments, parent and child runs: the tracking half of [`Workspace`].

use std::collections::BTreeMap;

use chrono::Utc;
use rusqlite::{OptionalExtension, Row, Transaction};

use super::{
    now_rfc3339, rfc3339, store_err, ChildRun, ChildRunRecord, DataFingerprint, ExperimentSummary,
    RunDetail, RunId, RunStatus, RunSummary, Workspace,
};
use crate::error::{AutotabError, Result};

impl Workspace {
    /// Starts a parent run in `experiment` (created if new), owned by the calling process.
    pub fn start_run(
        &self,
        experiment: &str,
        spec_json: &serde_json::Value,
        fingerprint: &DataFingerprint,
    ) -> Result<RunId> {
        let experiment = experiment.trim();
        if experiment.is_empty() {
            return Err(AutotabError::config(
                "experiment name is empty: give a name such as --experiment heart-failure",
            ));
        }
        let spec = to_json(spec_json, "job spec")?;
        let schema = to_json(&fingerprint.schema_json, "data schema")?;
        let owner = self.owner().clone();
        self.write(|tx| {
            let now = now_rfc3339();
            tx.execute(
                "INSERT OR IGNORE INTO experiments (name, created) VALUES (?1, ?2)",
                (experiment, &now),
            )?;
            let experiment_id: i64 = tx.query_row(
                "SELECT id FROM experiments WHERE name = ?1",
                [experiment],
                |r| r.get(0),
            )?;
            let id = loop {
                let candidate = format!(
                    "run-{}-{:04x}",
                    Utc::now().format("%Y%m%d-%H%M%S"),
                    rand::random::<u16>()
                );
                if !run_exists(tx, &candidate)? {
                    break candidate;
                }
            };
            tx.execute(
                "INSERT INTO runs (id, experiment_id, status, started, spec_json, data_sha256,
                     data_rows, data_columns, data_schema_json, owner_host, owner_pid, owner_start)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params![
                    id,
                    experiment_id,
                    now,
                    spec,
                    fingerprint.sha256,
                    to_i64(fingerprint.rows, "row count")?,
                    to_i64(fingerprint.columns, "column count")?,
                    schema,
                    owner.host,
                    owner.pid,
                    owner.start,
                ],
            )?;
            Ok(RunId(id))
        })
    }

    /// Records one finished trial under `parent`, in one transaction, and returns its id
    /// (`<parent>-t<index>`).
    pub fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId> {
        if child.status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "trial {} of run {parent} is logged with status 'running': only finished \
                 trials are recorded",
                child.index
            )));
        }
        let mut params = Vec::with_capacity(child.params.len());
        for (name, value) in &child.params {
            params.push((name, to_json(value, &format!("param '{name}'"))?));
        }
        let index = to_i64(child.index, "trial index")?;
        let duration = (child.ended - child.started).num_milliseconds().max(0) as f64 / 1000.0;
        let id = format!("{}-t{}", parent.as_str(), child.index);
        self.write(|tx| {
            let experiment_id = parent_experiment(tx, parent.as_str())?;
            if run_exists(tx, &id)? {
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
                    index,
                    child.algorithm,
                    child.status.as_str(),
                    child.error,
                    rfc3339(child.started),
                    rfc3339(child.ended),
                    duration,
                ],
            )?;
            for (name, value) in &params {
                tx.execute(
                    "INSERT INTO params (run_id, name, value_json) VALUES (?1, ?2, ?3)",
                    (&id, name, value),
                )?;
            }
            for (name, value) in &child.metrics {
                tx.execute(
                    "INSERT INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
                    (&id, name, value),
                )?;
            }
            for (name, values) in &child.fold_metrics {
                for (fold, value) in values.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO fold_metrics (run_id, name, fold, value)
                         VALUES (?1, ?2, ?3, ?4)",
                        (&id, name, to_i64(fold, "fold index")?, value),
                    )?;
                }
            }
            Ok(RunId(id))
        })
    }

    /// Sets metric `name` of `run` to `value` (replacing an earlier value).
    pub fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()> {
        self.write(|tx| {
            require_run(tx, run.as_str())?;
            tx.execute(
                "INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
                (run.as_str(), name, value),
            )?;
            Ok(())
        })
    }

    /// Sets param `name` of `run` to `value` (replacing an earlier value).
    pub fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()> {
        let value = to_json(value, &format!("param '{name}'"))?;
        self.write(|tx| {
            require_run(tx, run.as_str())?;
            tx.execute(
                "INSERT OR REPLACE INTO params (run_id, name, value_json) VALUES (?1, ?2, ?3)",
                (run.as_str(), name, &value),
            )?;
            Ok(())
        })
    }

    /// Appends one line to the debug log of `run`.
    pub fn append_log(&self, run: &RunId, line: &str) -> Result<()> {
        self.write(|tx| {
            require_run(tx, run.as_str())?;
            tx.execute(
                "INSERT INTO run_logs (run_id, logged, line) VALUES (?1, ?2, ?3)",
                (run.as_str(), now_rfc3339(), line),
            )?;
            Ok(())
        })
    }

    /// Ends the running `run` with `status` and a summary (best trial, scores, ...).
    pub fn finish_run(
        &self,
        run: &RunId,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<()> {
        if status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "run {run} cannot be finished with status 'running'"
            )));
        }
        let summary = to_json(summary, "run summary")?;
        self.write(|tx| {
            let (current, started): (String, String) = tx
                .query_row(
                    "SELECT status, started FROM runs WHERE id = ?1",
                    [run.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
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
                    summary,
                    run.as_str()
                ],
            )?;
            Ok(())
        })
    }

    /// Parent runs, newest first, of one experiment or of all.
    pub fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunSummary>> {
        self.read(|tx| {
            if let Some(name) = experiment {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM experiments WHERE name = ?1)",
                    [name],
                    |r| r.get(0),
                )?;
                if !exists {
                    let names = experiment_names(tx)?;
                    return Err(store_err(format!(
                        "no experiment named '{name}' in this workspace (experiments: {})",
                        if names.is_empty() {
                            "none yet".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
            }
            let mut stmt = tx.prepare(&format!(
                "{SUMMARY_SELECT} WHERE r.parent_id IS NULL AND (?1 IS NULL OR e.name = ?1)
                 ORDER BY r.started DESC, r.id DESC"
            ))?;
            let rows = stmt
                .query_map([experiment], summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(|row| row.finish(tx)).collect()
        })
    }

    /// Everything about run `run_id` (parent or child), with its children in trial order.
    pub fn get_run(&self, run_id: &str) -> Result<RunDetail> {
        self.read(|tx| {
            let summary = tx
                .query_row(
                    &format!("{SUMMARY_SELECT} WHERE r.id = ?1"),
                    [run_id],
                    summary_row,
                )
                .optional()?
                .ok_or_else(|| no_such_run(run_id))?
                .finish(tx)?;
            let detail = tx.query_row(
                "SELECT parent_id, algorithm, error, spec_json, summary_json, data_sha256,
                     data_rows, data_columns, data_schema_json, owner_host, owner_pid
                 FROM runs WHERE id = ?1",
                [run_id],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, Option<u32>>(10)?,
                    ))
                },
            )?;
            let (parent, algorithm, error, spec, outcome, sha, rows, cols, schema, host, pid) =
                detail;
            let fingerprint = match (sha, rows, cols, schema) {
                (Some(sha256), Some(rows), Some(columns), Some(schema)) => Some(DataFingerprint {
                    sha256,
                    rows: usize::try_from(rows).unwrap_or(0),
                    columns: usize::try_from(columns).unwrap_or(0),
                    schema_json: from_json(&schema, run_id)?,
                }),
                _ => None,
            };
            let mut stmt = tx.prepare(
                "SELECT id, trial_index, algorithm, status, error, started, ended, duration_secs
                 FROM runs WHERE parent_id = ?1 ORDER BY trial_index",
            )?;
            let children = stmt
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
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .map(
                    |(id, index, algorithm, status, error, started, ended, duration)| {
                        Ok(ChildRun {
                            params: load_params(tx, &id)?,
                            metrics: load_metrics(tx, &id)?,
                            fold_metrics: load_folds(tx, &id)?,
                            id,
                            index: usize::try_from(index).unwrap_or(0),
                            algorithm: algorithm.unwrap_or_default(),
                            status: RunStatus::parse(&status)?,
                            error,
                            started,
                            ended,
                            duration_secs: duration,
                        })
                    },
                )
                .collect::<Result<Vec<_>>>()?;
            Ok(RunDetail {
                params: load_params(tx, run_id)?,
                fold_metrics: load_folds(tx, run_id)?,
                spec: spec.map(|s| from_json(&s, run_id)).transpose()?,
                outcome: outcome.map(|s| from_json(&s, run_id)).transpose()?,
                summary,
                parent,
                algorithm,
                error,
                fingerprint,
                process: host.zip(pid),
                children,
            })
        })
    }

    /// The debug log of `run_id`, in the order the lines were appended.
    pub fn run_log(&self, run_id: &str) -> Result<Vec<String>> {
        self.read(|tx| {
            require_run(tx, run_id)?;
            let mut stmt = tx.prepare("SELECT line FROM run_logs WHERE run_id = ?1 ORDER BY id")?;
            let lines = stmt
                .query_map([run_id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(lines)
        })
    }

    /// All experiments, by name.
    pub fn list_experiments(&self) -> Result<Vec<ExperimentSummary>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT e.name, e.created,
                     (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id
                          AND r.parent_id IS NULL),
                     (SELECT MAX(started) FROM runs r WHERE r.experiment_id = e.id
                          AND r.parent_id IS NULL)
                 FROM experiments e ORDER BY e.name",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ExperimentSummary {
                        name: r.get(0)?,
                        created: r.get(1)?,
                        runs: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        last_run: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

/// Columns read into a [`RunSummary`] (see [`summary_row`]).
const SUMMARY_SELECT: &str = "
    SELECT r.id, e.name, r.status, r.started, r.ended, r.duration_secs,
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id),
        (SELECT COUNT(*) FROM runs c WHERE c.parent_id = r.id AND c.status = 'failed')
    FROM runs r JOIN experiments e ON e.id = r.experiment_id";

/// A [`RunSummary`] row before its status is checked and its metrics loaded.
struct SummaryRow {
    id: String,
    experiment: String,
    status: String,
    started: String,
    ended: Option<String>,
    duration_secs: Option<f64>,
    trials: i64,
    failed: i64,
}

impl SummaryRow {
    fn finish(self, tx: &Transaction<'_>) -> Result<RunSummary> {
        Ok(RunSummary {
            metrics: load_metrics(tx, &self.id)?,
            status: RunStatus::parse(&self.status)?,
            id: self.id,
            experiment: self.experiment,
            started: self.started,
            ended: self.ended,
            duration_secs: self.duration_secs,
            trials: usize::try_from(self.trials).unwrap_or(0),
            failed_trials: usize::try_from(self.failed).unwrap_or(0),
        })
    }
}

fn summary_row(r: &Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
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
    let mut stmt = tx.prepare("SELECT name, value_json FROM params WHERE run_id = ?1")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(name, json)| Ok((name, from_json(&json, run_id)?)))
        .collect()
}

fn load_metrics(tx: &Transaction<'_>, run_id: &str) -> Result<BTreeMap<String, f64>> {
    let mut stmt = tx.prepare("SELECT name, value FROM metrics WHERE run_id = ?1")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
            ))
        })?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok(rows)
}

fn load_folds(tx: &Transaction<'_>, run_id: &str) -> Result<BTreeMap<String, Vec<f64>>> {
    let mut stmt =
        tx.prepare("SELECT name, value FROM fold_metrics WHERE run_id = ?1 ORDER BY name, fold")?;
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut folds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, value) in rows {
        folds.entry(name).or_default().push(value);
    }
    Ok(folds)
}

fn run_exists(tx: &Transaction<'_>, run_id: &str) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
        [run_id],
        |r| r.get(0),
    )?)
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
        .optional()?;
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
    let mut stmt = tx.prepare("SELECT name FROM experiments ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

fn no_such_run(run_id: &str) -> AutotabError {
    store_err(format!(
        "no run with id '{run_id}' in this workspace (see `autotab runs list`)"
    ))
}

fn to_json(value: &serde_json::Value, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| store_err(format!("cannot encode the {what}: {e}")))
}

fn from_json(text: &str, run_id: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| store_err(format!("stored JSON of run {run_id} is damaged: {e}")))
}

fn to_i64(n: usize, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| store_err(format!("{what} {n} is too large to store")))
}
