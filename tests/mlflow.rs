//! MLflow export against a real `mlflow server` (from PyPI; `.ci/run` installs it): the real
//! binary runs on heart_failure, `runs export` (and `run` with `MLFLOW_TRACKING_URI`) log it,
//! and the MLflow Python client reads it back. Fails, never skips, without mlflow.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{autotab, free_port, json_summary, succeed, TempWorkspace};

/// Longest wait for the server's `/health` (it starts slowly on a loaded machine).
const STARTUP: Duration = Duration::from_secs(300);

/// A `python3 -m mlflow server` on a free loopback port with a SQLite store and a local
/// artifact folder in a temporary folder; its whole process group is stopped on drop, so a
/// failing assertion never leaves it running.
struct MlflowServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl MlflowServer {
    fn start() -> MlflowServer {
        let check = Command::new("python3")
            .args(["-c", "import mlflow; print(mlflow.__version__)"])
            .output()
            .expect("python3 is needed to run mlflow");
        assert!(
            check.status.success(),
            "mlflow is not installed (python3 -m pip install mlflow; .ci/run does it): {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let backend = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
        let artifacts = dir.path().join("artifacts");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "mlflow", "server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--workers", "1"])
            .args(["--backend-store-uri", &backend])
            .arg("--artifacts-destination")
            .arg(&artifacts)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Its own process group: the server runs its workers as child processes.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("cannot start python3 -m mlflow server");
        let mut server = MlflowServer { child, port, dir };
        server.wait_healthy();
        server
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_healthy(&mut self) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(r) = agent.get(format!("{}/health", self.uri())).call() {
                if r.status() == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mlflow server exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "mlflow server not healthy after {STARTUP:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        common::stop_process_group(&mut self.child, Duration::from_secs(15));
    }
}

/// What the MLflow Python client reads back of experiment `name`: every active run with its
/// info, params, latest metrics, tags, the history of its `*_fold` metrics, and (for runs
/// without a parent) its artifact files.
fn read_back(uri: &str, name: &str) -> Value {
    const SCRIPT: &str = r#"
import json, math, sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
exp = c.get_experiment_by_name(sys.argv[2])
def num(v):
    return v if math.isfinite(v) else str(v)
def files(run_id, path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out += files(run_id, f.path) if f.is_dir else [f.path]
    return out
runs = []
for r in c.search_runs([exp.experiment_id], max_results=5000):
    rid = r.info.run_id
    is_child = "mlflow.parentRunId" in r.data.tags
    runs.append({
        "run_id": rid, "status": r.info.status,
        "start_time": r.info.start_time, "end_time": r.info.end_time,
        "params": r.data.params,
        "metrics": {k: num(v) for k, v in r.data.metrics.items()},
        "tags": r.data.tags,
        "folds": {k: [[m.step, num(m.value)] for m in c.get_metric_history(rid, k)]
                  for k in r.data.metrics if k.endswith("_fold")},
        "artifacts": [] if is_child else sorted(files(rid)),
    })
print(json.dumps({"experiment_id": exp.experiment_id, "runs": runs}))
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, uri, name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "MlflowClient failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("MlflowClient printed no JSON ({e}): {text}"))
}

/// Runs the real binary on heart_failure with a small trial cap; the `--json` summary.
fn small_run(ws: &TempWorkspace, experiment: &str, mlflow_env: Option<&str>) -> Value {
    let mut cmd = autotab(ws);
    cmd.args([
        "run",
        "--data",
        "datasets/heart_failure.csv",
        "--label",
        "DEATH_EVENT",
    ])
    .args([
        "--timeout",
        "60",
        "--max-trials",
        "3",
        "--max-concurrent-trials",
        "1",
    ])
    .args(["--experiment", experiment, "--json", "--quiet"]);
    // `autotab` removes an inherited MLFLOW_TRACKING_URI.
    if let Some(uri) = mlflow_env {
        cmd.env("MLFLOW_TRACKING_URI", uri);
    }
    json_summary(&succeed(&mut cmd))
}

/// `runs show <id> --json`.
fn recorded(ws: &TempWorkspace, run_id: &str) -> Value {
    let stdout = succeed(autotab(ws).args(["runs", "show", run_id, "--json"]));
    serde_json::from_str(&stdout).unwrap()
}

/// A param as MLflow holds it: a string as its text, anything else as JSON.
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Asserts that read-back metric `got` is the recorded value `want` (NaN as "nan").
fn same_number(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: {g} vs {w}"
        ),
        _ => assert_eq!(got.as_str(), Some("nan"), "{what}: {got} vs {want}"),
    }
}

/// The run of `back` whose tag `autotab.run_id` is `id`.
fn by_autotab_id<'a>(back: &'a Value, id: &str) -> &'a Value {
    back["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tags"]["autotab.run_id"] == id)
        .unwrap_or_else(|| panic!("no MLflow run tagged autotab.run_id={id}"))
}

fn epoch_ms(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Asserts that experiment `experiment` on the server holds autotab run `run_id` as recorded
/// in `ws`: the parent, one child per recorded child run with `mlflow.parentRunId` the
/// parent's id, params, final and per-fold metrics, times and status; returns the parent.
fn assert_exported(uri: &str, ws: &TempWorkspace, experiment: &str, run_id: &str) -> Value {
    let detail = recorded(ws, run_id);
    let back = read_back(uri, experiment);
    let parent = by_autotab_id(&back, run_id).clone();
    let parent_id = parent["run_id"].as_str().unwrap();
    assert_eq!(parent["status"], "FINISHED");
    assert_eq!(parent["tags"]["mlflow.runName"], run_id);
    assert!(parent["tags"].get("mlflow.parentRunId").is_none());
    assert_eq!(parent["tags"]["autotab.export_complete"], "true");
    assert_eq!(
        parent["start_time"].as_i64().unwrap(),
        epoch_ms(&detail["summary"]["started"])
    );
    assert_eq!(
        parent["end_time"].as_i64().unwrap(),
        epoch_ms(&detail["summary"]["ended"])
    );
    assert_eq!(parent["params"]["data.label"], "DEATH_EVENT");
    let metrics = detail["summary"]["metrics"].as_object().unwrap();
    assert!(!metrics.is_empty());
    for (name, value) in metrics {
        same_number(&parent["metrics"][name], value, name);
    }
    same_number(
        &parent["metrics"]["trials"],
        &detail["summary"]["trials"],
        "trials",
    );

    let recorded_children = detail["children"].as_array().unwrap();
    assert!(!recorded_children.is_empty());
    let children: Vec<&Value> = back["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tags"]["mlflow.parentRunId"] == parent_id)
        .collect();
    assert_eq!(
        children.len(),
        recorded_children.len(),
        "one MLflow child run per child run"
    );
    assert_eq!(
        back["runs"].as_array().unwrap().len(),
        children.len() + 1,
        "no duplicates"
    );
    for want in recorded_children {
        let id = want["id"].as_str().unwrap();
        let got = by_autotab_id(&back, id);
        assert_eq!(got["tags"]["mlflow.parentRunId"], parent_id, "{id}");
        assert_eq!(got["tags"]["autotab.algorithm"], want["algorithm"], "{id}");
        assert_eq!(
            got["tags"]["mlflow.runName"],
            format!("t{} {}", want["index"], want["algorithm"].as_str().unwrap())
        );
        let expected_status = match want["status"].as_str().unwrap() {
            "completed" => "FINISHED",
            "failed" => "FAILED",
            _ => "KILLED",
        };
        assert_eq!(got["status"], expected_status, "{id}");
        assert_eq!(
            got["start_time"].as_i64().unwrap(),
            epoch_ms(&want["started"]),
            "{id}"
        );
        let params: BTreeMap<String, String> = want["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), param_text(v)))
            .collect();
        let got_params: BTreeMap<String, String> =
            serde_json::from_value(got["params"].clone()).unwrap();
        assert_eq!(got_params, params, "{id}: params");
        for (name, value) in want["metrics"].as_object().unwrap() {
            same_number(&got["metrics"][name], value, &format!("{id} {name}"));
        }
        for (name, folds) in want["fold_metrics"].as_object().unwrap() {
            let history = got["folds"][format!("{name}_fold")].as_array().unwrap();
            let folds = folds.as_array().unwrap();
            assert_eq!(
                history.len(),
                folds.len(),
                "{id} {name}: one value per fold"
            );
            for (i, (h, f)) in history.iter().zip(folds).enumerate() {
                assert_eq!(h[0], i, "{id} {name}: the step is the fold index");
                same_number(&h[1], f, &format!("{id} {name} fold {i}"));
            }
        }
    }
    parent
}

#[test]
fn runs_are_exported_to_a_real_mlflow_server_and_read_back_with_its_client() {
    let server = MlflowServer::start();
    let uri = server.uri();
    let ws = TempWorkspace::new();

    // runs export: a run recorded without MLflow, with a report in its artifacts.
    let summary = small_run(&ws, "mlflow-export", None);
    let run_id = summary["run_id"].as_str().unwrap().to_string();
    let report = ws
        .workspace()
        .join("artifacts/runs")
        .join(&run_id)
        .join("report.html");
    std::fs::write(&report, "<!doctype html><title>report</title>").unwrap();
    let export = |args: &[&str]| -> Value {
        let stdout = succeed(
            autotab(&ws)
                .args(["runs", "export", "--mlflow-tracking-uri", &uri, "--json"])
                .args(args),
        );
        serde_json::from_str(&stdout).unwrap()
    };
    let first = export(&[&run_id]);
    let detail = recorded(&ws, &run_id);
    let children = detail["children"].as_array().unwrap().len();
    assert_eq!(first[0]["child_runs"], children);
    assert_eq!(first[0]["already_exported"], false);
    let parent = assert_exported(&uri, &ws, "mlflow-export", &run_id);
    assert_eq!(first[0]["mlflow_run_id"], parent["run_id"]);
    let artifacts: Vec<&str> = parent["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for file in [
        "model/bundle.json",
        "model/model.bin",
        "model/MODEL.md",
        "model/score.py",
        "report.html",
        "autotab.log",
    ] {
        assert!(artifacts.contains(&file), "{file} not in {artifacts:?}");
    }
    let bundle_files = std::fs::read_dir(Path::new(summary["model_path"].as_str().unwrap()))
        .unwrap()
        .count();
    assert_eq!(
        artifacts.iter().filter(|a| a.starts_with("model/")).count(),
        bundle_files,
        "every bundle file"
    );

    // Exporting again (here: the whole experiment) finds the complete export: no duplicates.
    let again = export(&["--experiment", "mlflow-export"]);
    assert_eq!(again[0]["already_exported"], true);
    assert_eq!(again[0]["mlflow_run_id"], parent["run_id"]);
    assert_exported(&uri, &ws, "mlflow-export", &run_id);

    // An export that did not finish (no completion tag) is replaced whole, not duplicated.
    let untag = Command::new("python3")
        .args([
            "-c",
            "import sys; from mlflow.tracking import MlflowClient; \
             MlflowClient(tracking_uri=sys.argv[1]).delete_tag(sys.argv[2], 'autotab.export_complete')",
            &uri,
            parent["run_id"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        untag.status.success(),
        "{}",
        String::from_utf8_lossy(&untag.stderr)
    );
    let replaced = export(&[&run_id]);
    assert_eq!(replaced[0]["already_exported"], false);
    assert_eq!(replaced[0]["replaced_runs"], children + 1);
    assert_ne!(replaced[0]["mlflow_run_id"], parent["run_id"]);
    let parent = assert_exported(&uri, &ws, "mlflow-export", &run_id);
    assert_eq!(replaced[0]["mlflow_run_id"], parent["run_id"]);

    // run with MLFLOW_TRACKING_URI: logged when it finishes.
    let summary = small_run(&ws, "mlflow-run", Some(&uri));
    let run_id = summary["run_id"].as_str().unwrap();
    let parent = assert_exported(&uri, &ws, "mlflow-run", run_id);
    assert_eq!(summary["mlflow_run_id"], parent["run_id"]);
    drop(server);
}

#[test]
fn an_unreachable_server_never_loses_the_run_and_export_names_it() {
    let ws = TempWorkspace::new();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = autotab(&ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args([
            "--timeout",
            "60",
            "--max-trials",
            "2",
            "--max-concurrent-trials",
            "1",
        ])
        .args(["--experiment", "offline", "--json", "--quiet"])
        .args(["--mlflow-tracking-uri", &dead])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a failed export fails no run: {stderr}"
    );
    let summary = json_summary(&String::from_utf8_lossy(&out.stdout));
    let run_id = summary["run_id"].as_str().unwrap();
    assert!(summary.get("mlflow_run_id").is_none());
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning: the run was not exported to MLflow"))
        .unwrap_or_else(|| panic!("no warning line: {stderr}"));
    assert!(
        warning.contains(&dead) && warning.contains("autotab runs export"),
        "{warning}"
    );
    assert_eq!(recorded(&ws, run_id)["summary"]["status"], "completed");

    let out = autotab(&ws)
        .args(["runs", "export", run_id, "--mlflow-tracking-uri", &dead])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: MLflow tracking server {dead}: ")),
        "{stderr}"
    );

    // A URI autotab cannot use is refused before any search, naming it.
    let out = autotab(&ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args(["--mlflow-tracking-uri", "file:///tmp/mlruns"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .starts_with("error: --mlflow-tracking-uri: MLflow tracking URI 'file:///tmp/mlruns'")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(recorded(&ws, run_id)["summary"]["status"], "completed");
}
