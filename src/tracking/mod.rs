//! The workspace store: experiments, parent runs (one per `autotab run`), child runs (one per
//! trial), their params, metrics (with per-fold values), job spec, data fingerprint, debug log
//! and status.
//!
//! Everything lives in a SQLite database inside the workspace folder; every write is one
//! transaction, so a process killed at any point leaves every finished child run readable and
//! its parent marked `running` until the next [`Workspace::open`] finds it `interrupted`.

mod owner;
mod runs;
mod workspace;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AutotabError, Result};

pub(crate) use workspace::store_err;
pub use workspace::Workspace;

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// In progress (or its process died and no open has noticed yet).
    Running,
    /// Finished normally.
    Completed,
    /// Stopped by an error.
    Failed,
    /// Stopped on request (Ctrl-C).
    Canceled,
    /// Its process stopped without finishing it (found on a later open).
    Interrupted,
}

impl RunStatus {
    /// The lowercase name stored in the database and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Result<RunStatus> {
        Ok(match s {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "canceled" => RunStatus::Canceled,
            "interrupted" => RunStatus::Interrupted,
            other => {
                return Err(store_err(format!(
                    "unknown run status '{other}' in the store"
                )))
            }
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a run: `run-<yyyymmdd-hhmmss>-<4 hex>` for a parent, `<parent>-t<index>` for a
/// child.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(String);

impl RunId {
    /// A run id given as text (e.g. on the command line); the store checks it exists.
    pub fn parse(id: &str) -> RunId {
        RunId(id.trim().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies the training data of a run: hash of the file, its shape and schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
    /// The inferred schema, as JSON.
    pub schema_json: serde_json::Value,
}

impl DataFingerprint {
    /// Fingerprints the file at `path` (SHA-256 of its bytes) with the given shape and schema.
    pub fn of_file(
        path: &Path,
        rows: usize,
        columns: usize,
        schema_json: serde_json::Value,
    ) -> Result<DataFingerprint> {
        let mut file = std::fs::File::open(path).map_err(|e| AutotabError::io(path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| AutotabError::io(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(DataFingerprint {
            sha256: hex::encode(hasher.finalize()),
            rows,
            columns,
            schema_json,
        })
    }
}

/// A finished trial, as the engine hands it to [`Workspace::log_child_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRunRecord {
    /// The trial's index in the experiment (unique within the parent run).
    pub index: usize,
    /// The algorithm's name.
    pub algorithm: String,
    /// Hyperparameters, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// `Completed` or `Failed` (or `Canceled` for a trial stopped by Ctrl-C).
    pub status: RunStatus,
    /// Why the trial failed, if it did.
    pub error: Option<String>,
    /// Metric values (mean over folds), by metric name.
    pub metrics: BTreeMap<String, f64>,
    /// Per-fold values, by metric name, in fold order.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// When the trial started.
    pub started: DateTime<Utc>,
    /// When the trial ended.
    pub ended: DateTime<Utc>,
}

/// One line of `autotab runs list`: a parent run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Experiment name.
    pub experiment: String,
    /// Current status.
    pub status: RunStatus,
    /// Start time, RFC 3339.
    pub started: String,
    /// End time, RFC 3339, if the run has ended.
    pub ended: Option<String>,
    /// Wall time in seconds, if the run has ended.
    pub duration_secs: Option<f64>,
    /// Metrics logged on the run itself (e.g. the best score), by name.
    pub metrics: BTreeMap<String, f64>,
    /// Number of child runs recorded.
    pub trials: usize,
    /// Number of child runs that failed.
    pub failed_trials: usize,
}

/// A child run (trial) as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildRun {
    /// Run id (`<parent>-t<index>`).
    pub id: String,
    /// Trial index.
    pub index: usize,
    /// Algorithm name.
    pub algorithm: String,
    /// Status (`completed`, `failed`, ...).
    pub status: RunStatus,
    /// Error message of a failed trial.
    pub error: Option<String>,
    /// Hyperparameters, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Metric values, by name (`NaN` where the value was not finite-representable).
    pub metrics: BTreeMap<String, f64>,
    /// Per-fold metric values, by name.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// Start time, RFC 3339.
    pub started: String,
    /// End time, RFC 3339.
    pub ended: Option<String>,
    /// Wall time in seconds.
    pub duration_secs: Option<f64>,
}

/// Everything about one run, for `autotab runs show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// Id, experiment, status, times, metrics and trial counts.
    pub summary: RunSummary,
    /// The parent run's id, for a child run.
    pub parent: Option<String>,
    /// The algorithm, for a child run.
    pub algorithm: Option<String>,
    /// The error message of a failed or interrupted run.
    pub error: Option<String>,
    /// The job spec, for a parent run.
    pub spec: Option<serde_json::Value>,
    /// The training data's fingerprint, for a parent run.
    pub fingerprint: Option<DataFingerprint>,
    /// Params, by name.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Per-fold metric values, by name.
    pub fold_metrics: BTreeMap<String, Vec<f64>>,
    /// The summary given to [`Workspace::finish_run`].
    pub outcome: Option<serde_json::Value>,
    /// Host and pid of the process that ran it (parent runs).
    pub process: Option<(String, u32)>,
    /// Child runs in trial order.
    pub children: Vec<ChildRun>,
}

impl RunDetail {
    /// The child runs ranked by `metric` (best first); runs without a finite value of it
    /// (failed ones included) come last, in trial order.
    pub fn leaderboard(&self, metric: &str, higher_is_better: bool) -> Vec<&ChildRun> {
        let mut ranked: Vec<&ChildRun> = self.children.iter().collect();
        let key = |c: &ChildRun| c.metrics.get(metric).copied().filter(|v| v.is_finite());
        ranked.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                let ord = x.total_cmp(&y);
                if higher_is_better {
                    ord.reverse()
                } else {
                    ord
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.index.cmp(&b.index),
        });
        ranked
    }
}

/// One line of `autotab experiments list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentSummary {
    /// Experiment name.
    pub name: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Number of parent runs.
    pub runs: usize,
    /// Start time of the latest parent run, RFC 3339.
    pub last_run: Option<String>,
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn fingerprint() -> DataFingerprint {
        DataFingerprint {
            sha256: "ab".repeat(32),
            rows: 299,
            columns: 13,
            schema_json: serde_json::json!({"columns": [{"name": "age", "kind": "numeric"}]}),
        }
    }

    fn trial(index: usize, auc: f64) -> ChildRunRecord {
        let started = Utc::now();
        ChildRunRecord {
            index,
            algorithm: "LogisticRegression".to_string(),
            params: BTreeMap::from([("c".to_string(), serde_json::json!(0.5 + index as f64))]),
            status: RunStatus::Completed,
            error: None,
            metrics: BTreeMap::from([("AUC_weighted".to_string(), auc)]),
            fold_metrics: BTreeMap::from([(
                "AUC_weighted".to_string(),
                vec![auc - 0.01, auc + 0.01],
            )]),
            started,
            ended: started + chrono::Duration::milliseconds(1500),
        }
    }

    /// A raw connection to the store, to fake states the API cannot produce.
    fn raw(root: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(root.join("store.sqlite")).expect("raw connection")
    }

    #[test]
    fn run_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        let spec = serde_json::json!({"label": "DEATH_EVENT", "metric": "AUC_weighted"});
        let run = ws
            .start_run("heart-failure", &spec, &fingerprint())
            .unwrap();
        assert!(run.as_str().starts_with("run-"), "{run}");
        ws.log_param(&run, "cv_folds", &serde_json::json!(5))
            .unwrap();
        ws.append_log(&run, "featurized 13 columns").unwrap();
        ws.append_log(&run, "trial 0 done").unwrap();

        let t0 = ws.log_child_run(&run, &trial(0, 0.81)).unwrap();
        assert_eq!(t0.as_str(), format!("{run}-t0"));
        ws.log_child_run(&run, &trial(1, 0.88)).unwrap();
        let mut failed = trial(2, f64::NAN);
        failed.status = RunStatus::Failed;
        failed.error = Some("singular matrix".to_string());
        ws.log_child_run(&run, &failed).unwrap();

        let err = ws
            .log_child_run(&run, &trial(1, 0.5))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already recorded"), "{err}");
        let err = ws
            .log_child_run(&t0, &trial(9, 0.5))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a child run"), "{err}");
        let mut running = trial(3, 0.5);
        running.status = RunStatus::Running;
        assert!(ws.log_child_run(&run, &running).is_err());

        ws.log_metric(&run, "best_AUC_weighted", 0.88).unwrap();
        let summary = serde_json::json!({"best_trial": 1});
        assert!(ws.finish_run(&run, RunStatus::Running, &summary).is_err());
        ws.finish_run(&run, RunStatus::Completed, &summary).unwrap();
        let err = ws
            .finish_run(&run, RunStatus::Failed, &summary)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already completed"), "{err}");

        let runs = ws.list_runs(Some("heart-failure")).unwrap();
        assert_eq!(runs.len(), 1);
        let s = &runs[0];
        assert_eq!(
            (s.status, s.trials, s.failed_trials),
            (RunStatus::Completed, 3, 1)
        );
        assert_eq!(s.metrics["best_AUC_weighted"], 0.88);
        assert!(s.ended.is_some() && s.duration_secs.is_some());

        let detail = ws.get_run(run.as_str()).unwrap();
        assert_eq!(detail.spec.as_ref(), Some(&spec));
        assert_eq!(detail.fingerprint, Some(fingerprint()));
        assert_eq!(detail.outcome, Some(summary));
        assert_eq!(detail.params["cv_folds"], serde_json::json!(5));
        assert_eq!(
            detail.process.as_ref().map(|p| p.1),
            Some(std::process::id())
        );
        assert_eq!(detail.children.len(), 3);
        let c1 = &detail.children[1];
        assert_eq!(c1.params["c"], serde_json::json!(1.5));
        assert_eq!(c1.fold_metrics["AUC_weighted"], vec![0.87, 0.89]);
        assert_eq!(c1.duration_secs, Some(1.5));
        assert!(detail.children[2].metrics["AUC_weighted"].is_nan());
        assert_eq!(detail.children[2].error.as_deref(), Some("singular matrix"));
        let board: Vec<usize> = detail
            .leaderboard("AUC_weighted", true)
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(board, vec![1, 0, 2]);
        let board: Vec<usize> = detail
            .leaderboard("AUC_weighted", false)
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(board, vec![0, 1, 2]);

        let child = ws.get_run(t0.as_str()).unwrap();
        assert_eq!(child.parent.as_deref(), Some(run.as_str()));
        assert_eq!(child.algorithm.as_deref(), Some("LogisticRegression"));
        assert!(child.children.is_empty() && child.spec.is_none());

        assert_eq!(
            ws.run_log(run.as_str()).unwrap(),
            vec!["featurized 13 columns", "trial 0 done"]
        );
        let exps = ws.list_experiments().unwrap();
        assert_eq!(exps.len(), 1);
        assert_eq!((exps[0].name.as_str(), exps[0].runs), ("heart-failure", 1));

        let err = ws.get_run("run-nope").unwrap_err().to_string();
        assert!(err.contains("no run with id 'run-nope'"), "{err}");
        let err = ws.list_runs(Some("other")).unwrap_err().to_string();
        assert!(err.contains("heart-failure"), "{err}");
        assert!(ws.start_run("  ", &spec, &fingerprint()).is_err());
    }

    #[test]
    fn children_listed_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let run = {
            let ws = Workspace::open(dir.path()).unwrap();
            let run = ws
                .start_run("e", &serde_json::json!({}), &fingerprint())
                .unwrap();
            for i in 0..4 {
                ws.log_child_run(&run, &trial(i, 0.7 + i as f64 / 100.0))
                    .unwrap();
            }
            run
        };
        let ws = Workspace::open(dir.path()).unwrap();
        let detail = ws.get_run(run.as_str()).unwrap();
        assert_eq!(detail.children.len(), 4);
        // Its owner (this process) is alive: the run is left running.
        assert_eq!(detail.summary.status, RunStatus::Running);
        assert_eq!(ws.list_runs(None).unwrap().len(), 1);
    }

    #[test]
    fn stale_running_run_marked_interrupted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (dead, alive, elsewhere) = {
            let ws = Workspace::open(dir.path()).unwrap();
            let fp = fingerprint();
            let dead = ws.start_run("e", &serde_json::json!({}), &fp).unwrap();
            ws.log_child_run(&dead, &trial(0, 0.9)).unwrap();
            let alive = ws.start_run("e", &serde_json::json!({}), &fp).unwrap();
            let elsewhere = ws.start_run("e", &serde_json::json!({}), &fp).unwrap();
            (dead, alive, elsewhere)
        };
        let conn = raw(dir.path());
        conn.execute(
            "UPDATE runs SET owner_pid = ?1 WHERE id = ?2",
            (u32::MAX - 1, dead.as_str()),
        )
        .unwrap();
        conn.execute(
            "UPDATE runs SET owner_host = 'another-host', owner_pid = ?1 WHERE id = ?2",
            (u32::MAX - 1, elsewhere.as_str()),
        )
        .unwrap();
        drop(conn);

        let ws = Workspace::open(dir.path()).unwrap();
        let d = ws.get_run(dead.as_str()).unwrap();
        assert_eq!(d.summary.status, RunStatus::Interrupted);
        assert!(d.summary.ended.is_some() && d.error.is_some());
        assert_eq!(d.children.len(), 1);
        assert_eq!(d.children[0].status, RunStatus::Completed);
        let status = |id: &RunId| ws.get_run(id.as_str()).unwrap().summary.status;
        assert_eq!(status(&alive), RunStatus::Running);
        assert_eq!(status(&elsewhere), RunStatus::Running);
        assert!(ws
            .finish_run(&dead, RunStatus::Completed, &serde_json::json!({}))
            .is_err());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Workspace::open(dir.path()).unwrap());
        raw(dir.path())
            .execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        let err = Workspace::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("newer autotab") && err.contains("99"), "{err}");
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        raw(dir.path())
            .execute("CREATE TABLE customers (id INTEGER)", [])
            .unwrap();
        let err = Workspace::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not an autotab store"), "{err}");
    }

    #[test]
    fn fingerprint_hashes_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, "abc").unwrap();
        let fp = DataFingerprint::of_file(&path, 1, 1, serde_json::json!(null)).unwrap();
        assert_eq!(
            fp.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let err = DataFingerprint::of_file(
            &dir.path().join("missing.csv"),
            0,
            0,
            serde_json::json!(null),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing.csv"), "{err}");
    }

    #[test]
    fn child_runs_logged_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Arc::new(Workspace::open(dir.path()).unwrap());
        let run = ws
            .start_run("e", &serde_json::json!({}), &fingerprint())
            .unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let ws = Arc::clone(&ws);
                let run = run.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        ws.log_child_run(&run, &trial(t * 25 + i, 0.5)).unwrap();
                    }
                });
            }
        });
        let detail = ws.get_run(run.as_str()).unwrap();
        let indices: Vec<usize> = detail.children.iter().map(|c| c.index).collect();
        assert_eq!(indices, (0..100).collect::<Vec<_>>());
    }

    const KILL_ENV: &str = "AUTOTAB_TEST_KILL_WORKSPACE";

    /// Run by `sigkill_mid_run_keeps_finished_children` in a child process: logs trials until
    /// it is killed.
    #[test]
    #[ignore = "helper process of sigkill_mid_run_keeps_finished_children"]
    fn helper_logs_trials_until_killed() {
        let Some(root) = std::env::var_os(KILL_ENV) else {
            return;
        };
        let ws = Workspace::open(Path::new(&root)).unwrap();
        let run = ws
            .start_run("killed", &serde_json::json!({}), &fingerprint())
            .unwrap();
        for i in 0.. {
            ws.log_child_run(&run, &trial(i, 0.5)).unwrap();
            ws.append_log(&run, &format!("trial {i} done")).unwrap();
        }
    }

    #[test]
    fn sigkill_mid_run_keeps_finished_children() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "tracking::tests::helper_logs_trials_until_killed",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(KILL_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let ws = Workspace::open(dir.path()).unwrap();
        loop {
            let runs = ws.list_runs(None).unwrap();
            if runs.first().is_some_and(|r| r.trials >= 20) {
                assert_eq!(
                    runs[0].status,
                    RunStatus::Running,
                    "owner alive: left running"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "helper made no progress"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(ws);

        let ws = Workspace::open(dir.path()).unwrap();
        let runs = ws.list_runs(Some("killed")).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Interrupted);
        let detail = ws.get_run(&runs[0].id).unwrap();
        assert!(detail.children.len() >= 20);
        for (i, c) in detail.children.iter().enumerate() {
            assert_eq!(c.index, i, "trials are contiguous: none half-written");
            assert_eq!(c.status, RunStatus::Completed);
            assert_eq!(c.fold_metrics["AUC_weighted"].len(), 2);
        }
        let check: String = raw(dir.path())
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
