//! The JSON bodies and paths of MLflow's REST tracking API, built from a recorded run: pure
//! functions, no I/O, so they are tested without a server.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::{json, Value};

use crate::error::{AutotabError, Result};
use crate::tracking::{ChildRun, RunDetail, RunStatus};

/// Most params one `runs/log-batch` request may carry (MLflow's limit).
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Most tags one `runs/log-batch` request may carry (MLflow's limit).
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Most params, metrics and tags together in one `runs/log-batch` request (MLflow's limit).
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// Longest param value MLflow accepts (characters); longer values are cut.
pub const MAX_PARAM_VALUE: usize = 6000;
/// Longest tag value MLflow accepts (characters); longer values are cut.
pub const MAX_TAG_VALUE: usize = 8000;

/// Tag holding the autotab run id of an exported run (parent or child).
pub const TAG_RUN_ID: &str = "autotab.run_id";
/// Tag holding the autotab id of the parent run an exported run belongs to (on the parent
/// too), to find every part of an earlier export.
pub const TAG_EXPORT_OF: &str = "autotab.export_of";
/// Tag set on the parent run last, once its export went through.
pub const TAG_EXPORT_COMPLETE: &str = "autotab.export_complete";
/// Tag holding the algorithm of a child run.
pub const TAG_ALGORITHM: &str = "autotab.algorithm";

/// One param, metric value or tag to log, as MLflow's JSON wants it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// `{"key", "value"}` objects.
    pub params: Vec<Value>,
    /// `{"key", "value", "timestamp", "step"}` objects.
    pub metrics: Vec<Value>,
    /// `{"key", "value"}` objects.
    pub tags: Vec<Value>,
}

impl Batch {
    /// Adds param `key` (a JSON string is logged as its text, anything else as JSON).
    pub fn param(&mut self, key: &str, value: &Value) {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.params
            .push(json!({"key": key, "value": cut(&text, MAX_PARAM_VALUE)}));
    }

    /// Adds metric `key` = `value` at `step`, logged at `timestamp_ms`.
    pub fn metric(&mut self, key: &str, value: f64, timestamp_ms: i64, step: i64) {
        self.metrics.push(json!({
            "key": key,
            "value": metric_value(value),
            "timestamp": timestamp_ms,
            "step": step,
        }));
    }

    /// Adds tag `key` = `value`.
    pub fn tag(&mut self, key: &str, value: &str) {
        self.tags
            .push(json!({"key": key, "value": cut(value, MAX_TAG_VALUE)}));
    }

    /// The `runs/log-batch` bodies for run `run_id`: every entry once, each body within
    /// MLflow's limits (none when there is nothing to log).
    pub fn requests(&self, run_id: &str) -> Vec<Value> {
        let (mut p, mut m, mut t) = (0, 0, 0);
        let mut bodies = Vec::new();
        while p < self.params.len() || m < self.metrics.len() || t < self.tags.len() {
            let params = &self.params[p..(p + MAX_PARAMS_PER_BATCH).min(self.params.len())];
            let tags = &self.tags[t..(t + MAX_TAGS_PER_BATCH).min(self.tags.len())];
            let room = MAX_ENTITIES_PER_BATCH - params.len() - tags.len();
            let metrics = &self.metrics[m..(m + room).min(self.metrics.len())];
            bodies.push(json!({
                "run_id": run_id,
                "params": params,
                "metrics": metrics,
                "tags": tags,
            }));
            p += params.len();
            m += metrics.len();
            t += tags.len();
        }
        bodies
    }
}

/// A metric value as JSON: a number, or MLflow's (protobuf JSON's) strings for the values
/// JSON has no number for.
pub fn metric_value(value: f64) -> Value {
    if value.is_nan() {
        json!("NaN")
    } else if value == f64::INFINITY {
        json!("Infinity")
    } else if value == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(value)
    }
}

/// `text` cut to at most `max` characters (MLflow refuses longer values).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 3).collect();
    cut.push_str("...");
    cut
}

/// MLflow's run status for an autotab status (`None` for a run still in progress: it stays
/// `RUNNING`). An interrupted run is `KILLED`, as a canceled one; a queued run is
/// `SCHEDULED`.
pub fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => "SCHEDULED",
        RunStatus::Running => "RUNNING",
        RunStatus::Completed => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Canceled | RunStatus::Interrupted => "KILLED",
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time stamp.
pub fn epoch_ms(rfc3339: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp_millis())
        .map_err(|e| AutotabError::Store(format!("time stamp '{rfc3339}' is unreadable: {e}")))
}

/// `experiments/create` for experiment `name`.
pub fn create_experiment(name: &str) -> Value {
    json!({"name": name})
}

/// `runs/create` in `experiment_id`, named `name`, started at `start_ms`, with `tags`.
pub fn create_run(
    experiment_id: &str,
    name: &str,
    start_ms: i64,
    tags: &[(String, String)],
) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": cut(v, MAX_TAG_VALUE)}))
        .collect();
    json!({
        "experiment_id": experiment_id,
        "run_name": name,
        "start_time": start_ms,
        "tags": tags,
    })
}

/// `runs/update` of `run_id` to `status`, ended at `end_ms` (none for a run in progress).
pub fn update_run(run_id: &str, status: RunStatus, end_ms: Option<i64>) -> Value {
    let mut body = json!({"run_id": run_id, "status": run_status(status)});
    if let Some(end) = end_ms {
        body["end_time"] = json!(end);
    }
    body
}

/// `runs/search` for the active runs of `experiment_id` that belong to the export of autotab
/// run `autotab_run_id` (its parent and children), one page from `page_token`.
pub fn search_export(experiment_id: &str, autotab_run_id: &str, page_token: Option<&str>) -> Value {
    // Run ids are letters, digits and '-'; a quote is escaped all the same.
    let id = autotab_run_id.replace('\\', "\\\\").replace('\'', "\\'");
    let mut body = json!({
        "experiment_ids": [experiment_id],
        "filter": format!("tags.`{TAG_EXPORT_OF}` = '{id}'"),
        "run_view_type": "ACTIVE_ONLY",
        "max_results": 1000,
    });
    if let Some(token) = page_token {
        body["page_token"] = json!(token);
    }
    body
}

/// The tags MLflow's UI reads (`mlflow.runName`, `mlflow.source.*`, `mlflow.parentRunId`) and
/// autotab's own, for a run created as `name`.
fn base_tags(name: &str, autotab_id: &str, export_of: &str) -> Vec<(String, String)> {
    vec![
        ("mlflow.runName".into(), name.into()),
        ("mlflow.source.name".into(), "autotab".into()),
        ("mlflow.source.type".into(), "LOCAL".into()),
        (TAG_RUN_ID.into(), autotab_id.into()),
        (TAG_EXPORT_OF.into(), export_of.into()),
    ]
}

/// The `runs/create` tags of parent run `detail`: the MLflow ones, its autotab id, status,
/// error, data fingerprint, and the scalar fields of its outcome (`autotab.outcome.<key>`).
pub fn parent_tags(detail: &RunDetail) -> Vec<(String, String)> {
    let id = detail.summary.id.as_str();
    let mut tags = base_tags(id, id, id);
    tags.push(("autotab.kind".into(), "parent".into()));
    tags.push((
        "autotab.experiment".into(),
        detail.summary.experiment.clone(),
    ));
    tags.push(("autotab.status".into(), detail.summary.status.to_string()));
    if let Some(error) = &detail.error {
        tags.push(("autotab.error".into(), error.clone()));
    }
    if let Some(fp) = &detail.fingerprint {
        tags.push(("autotab.data.sha256".into(), fp.sha256.clone()));
        tags.push(("autotab.data.rows".into(), fp.rows.to_string()));
        tags.push(("autotab.data.columns".into(), fp.columns.to_string()));
    }
    if let Some((host, pid)) = &detail.process {
        tags.push(("autotab.host".into(), format!("{host} (pid {pid})")));
    }
    if let Some(Value::Object(outcome)) = &detail.outcome {
        for (key, value) in outcome {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            tags.push((format!("autotab.outcome.{key}"), text));
        }
    }
    tags
}

/// The `runs/create` tags of child run `child` of MLflow run `parent_mlflow_id` (autotab run
/// `parent_id`): `mlflow.parentRunId`, its name (`t<index> <algorithm>`), algorithm, status
/// and error.
pub fn child_tags(
    child: &ChildRun,
    parent_id: &str,
    parent_mlflow_id: &str,
) -> Vec<(String, String)> {
    let mut tags = base_tags(&child_name(child), &child.id, parent_id);
    tags.push(("mlflow.parentRunId".into(), parent_mlflow_id.into()));
    tags.push(("autotab.kind".into(), "trial".into()));
    tags.push((TAG_ALGORITHM.into(), child.algorithm.clone()));
    tags.push(("autotab.trial".into(), child.index.to_string()));
    tags.push(("autotab.status".into(), child.status.to_string()));
    if let Some(error) = &child.error {
        tags.push(("autotab.error".into(), error.clone()));
    }
    tags
}

/// The MLflow run name of a child run: `t<index> <algorithm>`.
pub fn child_name(child: &ChildRun) -> String {
    format!("t{} {}", child.index, child.algorithm)
}

/// Adds `metrics` (each at step 0) and `fold_metrics` (`<name>_fold`, the fold index as the
/// step) to `batch`, all at `timestamp_ms`.
fn add_metrics(
    batch: &mut Batch,
    metrics: &BTreeMap<String, f64>,
    fold_metrics: &BTreeMap<String, Vec<f64>>,
    timestamp_ms: i64,
) {
    for (key, value) in metrics {
        batch.metric(key, *value, timestamp_ms, 0);
    }
    for (key, folds) in fold_metrics {
        for (fold, value) in folds.iter().enumerate() {
            batch.metric(&format!("{key}_fold"), *value, timestamp_ms, fold as i64);
        }
    }
}

/// What is logged on the parent run: the job spec flattened into params (`data.label`,
/// `limits.timeout`, ...; nulls left out) with the run's own params, its final metrics with
/// `trials` and `failed_trials` (and `duration_s` once ended), and its per-fold metrics.
pub fn parent_batch(detail: &RunDetail, timestamp_ms: i64) -> Batch {
    let mut batch = Batch::default();
    let mut params = BTreeMap::new();
    if let Some(spec) = &detail.spec {
        flatten("", spec, &mut params);
    }
    for (key, value) in &detail.params {
        params.insert(key.clone(), value.clone());
    }
    for (key, value) in &params {
        batch.param(key, value);
    }
    let mut metrics = detail.summary.metrics.clone();
    metrics.insert("trials".into(), detail.summary.trials as f64);
    metrics.insert("failed_trials".into(), detail.summary.failed_trials as f64);
    if let Some(d) = detail.summary.duration_secs {
        metrics.insert("duration_s".into(), d);
    }
    add_metrics(&mut batch, &metrics, &detail.fold_metrics, timestamp_ms);
    batch
}

/// What is logged on a child run: its hyperparameters as params, its final (mean) metrics and
/// per-fold metrics.
pub fn child_batch(child: &ChildRun, timestamp_ms: i64) -> Batch {
    let mut batch = Batch::default();
    for (key, value) in &child.params {
        batch.param(key, value);
    }
    add_metrics(
        &mut batch,
        &child.metrics,
        &child.fold_metrics,
        timestamp_ms,
    );
    batch
}

/// `value`'s leaves under dotted keys (`prefix.key`); arrays stay whole (as JSON text when
/// logged), nulls and empty objects are left out.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The artifact proxy path (`/api/2.0/mlflow-artifacts/artifacts/...`) for a run whose
/// `artifact_uri` is `mlflow-artifacts:/<path>` (or `mlflow-artifacts://host/<path>`), with
/// `file` (a relative path with `/`) appended, every segment percent-encoded. `None` when the
/// server does not proxy this run's artifacts (another scheme).
pub fn artifact_path(artifact_uri: &str, file: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        // mlflow-artifacts://host:port/path: the host is the tracking server's.
        Some(authority_and_path) => authority_and_path
            .split_once('/')
            .map(|(_, p)| p)
            .unwrap_or(""),
        None => rest,
    };
    let segments = path
        .split('/')
        .chain(file.split('/'))
        .filter(|s| !s.is_empty())
        .map(percent_encode)
        .collect::<Vec<_>>();
    Some(format!(
        "/api/2.0/mlflow-artifacts/artifacts/{}",
        segments.join("/")
    ))
}

/// `segment` with every byte but unreserved ones (letters, digits, `-._~`) percent-encoded.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::{DataFingerprint, RunListEntry};

    fn child(index: usize) -> ChildRun {
        ChildRun {
            id: format!("run-1-t{index}"),
            index,
            algorithm: "LightGBM".into(),
            status: RunStatus::Completed,
            error: None,
            params: BTreeMap::from([
                ("n_estimators".into(), json!(120)),
                ("objective".into(), json!("binary")),
                ("members".into(), json!([{"trial": 1, "weight": 0.5}])),
            ]),
            metrics: BTreeMap::from([
                ("AUC_weighted".into(), 0.875),
                ("AUC_weighted_std".into(), f64::NAN),
            ]),
            fold_metrics: BTreeMap::from([("AUC_weighted".into(), vec![0.8, 0.9, 0.925])]),
            started: "2026-12-03T07:00:00.000Z".into(),
            ended: Some("2026-12-03T07:00:01.500Z".into()),
            duration_secs: Some(1.5),
        }
    }

    fn parent() -> RunDetail {
        RunDetail {
            summary: RunListEntry {
                id: "run-1".into(),
                experiment: "hf".into(),
                status: RunStatus::Completed,
                started: "2026-12-03T07:00:00.000Z".into(),
                ended: Some("2026-12-03T07:00:10.000Z".into()),
                duration_secs: Some(10.0),
                metrics: BTreeMap::from([("AUC_weighted".into(), 0.9)]),
                trials: 1,
                failed_trials: 0,
            },
            parent: None,
            algorithm: None,
            error: None,
            spec: Some(json!({
                "experiment": "hf",
                "data": {"label": "DEATH_EVENT", "test": null},
                "limits": {"max_trials": 4},
                "training": {"allowed": ["LightGBM", "KNN"]},
            })),
            fingerprint: Some(DataFingerprint {
                sha256: "abc".into(),
                rows: 299,
                columns: 13,
                schema_json: json!({}),
            }),
            params: BTreeMap::new(),
            fold_metrics: BTreeMap::new(),
            outcome: Some(json!({"best_algorithm": "LightGBM", "best_trial": 0, "nested": {}})),
            process: Some(("host".into(), 7)),
            children: vec![child(0)],
        }
    }

    fn pairs(list: &[Value]) -> BTreeMap<String, Value> {
        list.iter()
            .map(|e| (e["key"].as_str().unwrap().to_string(), e["value"].clone()))
            .collect()
    }

    #[test]
    fn a_child_run_logs_params_as_text_and_folds_as_steps() {
        let batch = child_batch(&child(2), 1_000);
        let params = pairs(&batch.params);
        assert_eq!(params["n_estimators"], json!("120"));
        assert_eq!(
            params["objective"],
            json!("binary"),
            "strings are not quoted"
        );
        assert_eq!(params["members"], json!(r#"[{"trial":1,"weight":0.5}]"#));
        let folds: Vec<(i64, f64)> = batch
            .metrics
            .iter()
            .filter(|m| m["key"] == "AUC_weighted_fold")
            .map(|m| (m["step"].as_i64().unwrap(), m["value"].as_f64().unwrap()))
            .collect();
        assert_eq!(folds, vec![(0, 0.8), (1, 0.9), (2, 0.925)]);
        let mean = batch
            .metrics
            .iter()
            .find(|m| m["key"] == "AUC_weighted")
            .unwrap();
        assert_eq!(mean["step"], 0);
        assert_eq!(mean["timestamp"], 1_000);
        assert_eq!(mean["value"], 0.875);
        let std = batch
            .metrics
            .iter()
            .find(|m| m["key"] == "AUC_weighted_std")
            .unwrap();
        assert_eq!(
            std["value"], "NaN",
            "non-finite values as protobuf JSON strings"
        );
        assert_eq!(metric_value(f64::NEG_INFINITY), json!("-Infinity"));
    }

    #[test]
    fn child_tags_name_the_parent_and_the_algorithm() {
        let tags: BTreeMap<_, _> = child_tags(&child(3), "run-1", "abc123")
            .into_iter()
            .collect();
        assert_eq!(tags["mlflow.parentRunId"], "abc123");
        assert_eq!(tags["mlflow.runName"], "t3 LightGBM");
        assert_eq!(tags[TAG_ALGORITHM], "LightGBM");
        assert_eq!(tags[TAG_RUN_ID], "run-1-t3");
        assert_eq!(tags[TAG_EXPORT_OF], "run-1");
    }

    #[test]
    fn the_parent_logs_the_spec_flattened_and_its_outcome_as_tags() {
        let detail = parent();
        let batch = parent_batch(&detail, 5);
        let params = pairs(&batch.params);
        assert_eq!(params["data.label"], json!("DEATH_EVENT"));
        assert_eq!(params["limits.max_trials"], json!("4"));
        assert_eq!(params["training.allowed"], json!(r#"["LightGBM","KNN"]"#));
        assert!(!params.contains_key("data.test"), "nulls are left out");
        let metrics = pairs(&batch.metrics);
        assert_eq!(metrics["AUC_weighted"], json!(0.9));
        assert_eq!(metrics["trials"], json!(1.0));
        assert_eq!(metrics["duration_s"], json!(10.0));
        let tags: BTreeMap<_, _> = parent_tags(&detail).into_iter().collect();
        assert_eq!(tags["mlflow.runName"], "run-1");
        assert_eq!(tags["autotab.outcome.best_algorithm"], "LightGBM");
        assert_eq!(tags["autotab.outcome.best_trial"], "0");
        assert!(!tags.contains_key("autotab.outcome.nested"));
        assert_eq!(tags["autotab.data.rows"], "299");
        assert!(!tags.contains_key("mlflow.parentRunId"));
    }

    #[test]
    fn batches_keep_within_mlflows_limits_and_lose_nothing() {
        let mut batch = Batch::default();
        for i in 0..250 {
            batch.param(&format!("p{i}"), &json!(i));
            batch.tag(&format!("t{i}"), "v");
        }
        for i in 0..2_500 {
            batch.metric("m", i as f64, 0, i);
        }
        let bodies = batch.requests("r");
        let count = |b: &Value, k: &str| b[k].as_array().unwrap().len();
        for b in &bodies {
            assert_eq!(b["run_id"], "r");
            assert!(count(b, "params") <= MAX_PARAMS_PER_BATCH);
            assert!(count(b, "tags") <= MAX_TAGS_PER_BATCH);
            let total = count(b, "params") + count(b, "tags") + count(b, "metrics");
            assert!(total <= MAX_ENTITIES_PER_BATCH, "{total}");
        }
        let sum = |k: &str| bodies.iter().map(|b| count(b, k)).sum::<usize>();
        assert_eq!(
            (sum("params"), sum("tags"), sum("metrics")),
            (250, 250, 2_500)
        );
        let steps: Vec<i64> = bodies
            .iter()
            .flat_map(|b| b["metrics"].as_array().unwrap().clone())
            .map(|m| m["step"].as_i64().unwrap())
            .collect();
        assert_eq!(steps, (0..2_500).collect::<Vec<_>>(), "in order, once each");
        assert!(Batch::default().requests("r").is_empty());
    }

    #[test]
    fn long_values_are_cut_to_mlflows_limits() {
        let mut batch = Batch::default();
        batch.param("p", &json!("x".repeat(10_000)));
        batch.tag("t", &"é".repeat(9_000));
        let p = batch.params[0]["value"].as_str().unwrap();
        assert_eq!(p.chars().count(), MAX_PARAM_VALUE);
        assert!(p.ends_with("..."));
        assert_eq!(
            batch.tags[0]["value"].as_str().unwrap().chars().count(),
            MAX_TAG_VALUE
        );
    }

    #[test]
    fn statuses_times_and_run_bodies() {
        assert_eq!(run_status(RunStatus::Completed), "FINISHED");
        assert_eq!(run_status(RunStatus::Failed), "FAILED");
        assert_eq!(run_status(RunStatus::Interrupted), "KILLED");
        assert_eq!(run_status(RunStatus::Running), "RUNNING");
        assert_eq!(epoch_ms("1970-01-01T00:00:01.250Z").unwrap(), 1_250);
        assert!(epoch_ms("yesterday")
            .unwrap_err()
            .to_string()
            .contains("yesterday"));
        let body = update_run("r", RunStatus::Completed, Some(9));
        assert_eq!(
            body,
            json!({"run_id": "r", "status": "FINISHED", "end_time": 9})
        );
        assert!(update_run("r", RunStatus::Running, None)
            .get("end_time")
            .is_none());
        let body = create_run("4", "n", 3, &[("k".into(), "v".into())]);
        assert_eq!(
            body,
            json!({"experiment_id": "4", "run_name": "n", "start_time": 3,
                   "tags": [{"key": "k", "value": "v"}]})
        );
        let search = search_export("4", "run-1", Some("tok"));
        assert_eq!(search["filter"], "tags.`autotab.export_of` = 'run-1'");
        assert_eq!(search["experiment_ids"], json!(["4"]));
        assert_eq!(search["page_token"], "tok");
        assert_eq!(
            search_export("4", "a'b", None)["filter"],
            r"tags.`autotab.export_of` = 'a\'b'"
        );
    }

    #[test]
    fn artifact_paths_go_through_the_proxy_or_nowhere() {
        assert_eq!(
            artifact_path("mlflow-artifacts:/1/abc/artifacts", "model/bundle.json").unwrap(),
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/bundle.json"
        );
        assert_eq!(
            artifact_path("mlflow-artifacts://srv:5000/1/abc/artifacts", "a b%.txt").unwrap(),
            "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a%20b%25.txt"
        );
        assert_eq!(
            artifact_path("file:///tmp/mlruns/1/abc/artifacts", "x"),
            None
        );
        assert_eq!(artifact_path("s3://bucket/1/abc/artifacts", "x"), None);
    }
}
