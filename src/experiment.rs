//! A tracked experiment run: the engine's run recorded in the workspace (parent run, one child
//! run per trial, log lines), its model bundle saved in the run's artifacts, and optionally
//! registered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::automl::{self, RunObserver, RunOutcome, RunStart};
use crate::error::{AutotabError, Result};
use crate::featurize::Guardrail;
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::models::{Algorithm, Params};
use crate::pipeline::Pipeline;
use crate::registry::ModelVersion;
use crate::scoring::{save_bundle, BundleInfo, BUNDLE_FORMAT_VERSION};
use crate::search::{TrialRecord, TrialStatus};
use crate::tracking::{ChildRunRecord, DataFingerprint, RunId, RunStatus, Workspace};

/// Register the run's model under a name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registration {
    /// Model name (a new version is added if it exists).
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A finished, recorded run.
#[derive(Debug)]
pub struct TrackedRun {
    /// The parent run's id.
    pub run_id: RunId,
    /// What the engine produced.
    pub outcome: RunOutcome,
    /// Where the model bundle was saved.
    pub model_dir: PathBuf,
    /// The registered version, when registration was asked for.
    pub registered: Option<ModelVersion>,
    /// Metrics of the final model on the job's test data (empty without test data).
    pub test_metrics: Vec<(Metric, f64)>,
}

/// Records the run in the workspace as it goes and forwards every event to `inner`.
struct Recorder<'a> {
    workspace: &'a Workspace,
    inner: &'a mut dyn RunObserver,
    run: Option<RunId>,
    metric: Option<Metric>,
    store_error: Option<AutotabError>,
}

impl Recorder<'_> {
    fn keep(&mut self, result: Result<()>) {
        if let Err(e) = result {
            self.store_error.get_or_insert(e);
        }
    }
}

impl RunObserver for Recorder<'_> {
    fn schema(&mut self, start: &RunStart) {
        self.metric = Some(start.metric);
        let schema_json = serde_json::to_value(start.schema).unwrap_or_default();
        let started = fingerprint(
            start.spec.data.training.path(),
            start.rows,
            start.columns,
            schema_json,
        )
        .and_then(|fp| {
            let spec_json = serde_json::to_value(start.spec).unwrap_or_default();
            self.workspace
                .start_run(&start.spec.experiment, &spec_json, &fp)
        });
        match started {
            Ok(id) => {
                self.inner.run_started(id.as_str());
                self.run = Some(id);
            }
            Err(e) => self.keep(Err(e)),
        }
        self.inner.schema(start);
    }

    fn guardrails(&mut self, guardrails: &[Guardrail]) {
        if let Some(run) = self.run.clone() {
            for g in guardrails {
                let line = format!("guardrail [{}] {}: {}", g.status.name(), g.name, g.message);
                let r = self.workspace.append_log(&run, &line);
                self.keep(r);
            }
        }
        self.inner.guardrails(guardrails);
    }

    fn trial(&mut self, trial: &TrialRecord) {
        if let (Some(run), Some(metric)) = (self.run.clone(), self.metric) {
            let r = self
                .workspace
                .log_child_run(&run, &child_record(trial, metric))
                .map(|_| ());
            self.keep(r);
        }
        self.inner.trial(trial);
    }

    fn message(&mut self, message: &str) {
        if let Some(run) = self.run.clone() {
            let r = self.workspace.append_log(&run, message);
            self.keep(r);
        }
        self.inner.message(message);
    }
}

/// The fingerprint of a training table: of its file, or for an MLTable folder of the hashes of
/// its definition and data files in reading order.
fn fingerprint(
    path: &Path,
    rows: usize,
    columns: usize,
    schema_json: serde_json::Value,
) -> Result<DataFingerprint> {
    if !crate::data::is_mltable(path) {
        return DataFingerprint::of_file(path, rows, columns, schema_json);
    }
    let mut hashes = String::new();
    for file in crate::data::mltable_files(path)? {
        hashes.push_str(&DataFingerprint::of_file(&file, 0, 0, serde_json::Value::Null)?.sha256);
    }
    use sha2::Digest;
    Ok(DataFingerprint {
        sha256: hex::encode(sha2::Sha256::digest(hashes.as_bytes())),
        rows,
        columns,
        schema_json,
    })
}

/// The store's record of a trial.
fn child_record(t: &TrialRecord, metric: Metric) -> ChildRunRecord {
    let ended = Utc::now();
    let started = ended - chrono::Duration::milliseconds((t.seconds * 1000.0) as i64);
    let (status, error) = match &t.status {
        TrialStatus::Completed => (RunStatus::Completed, None),
        TrialStatus::Failed(reason) => (RunStatus::Failed, Some(reason.clone())),
        TrialStatus::TimedOut(reason) => {
            (RunStatus::Canceled, Some(format!("timed out: {reason}")))
        }
    };
    let mut metrics = BTreeMap::new();
    let mut fold_metrics = BTreeMap::new();
    if let Some(score) = t.score {
        metrics.insert(metric.name().to_string(), score);
        metrics.insert(format!("{}_std", metric.name()), t.score_std.unwrap_or(0.0));
        fold_metrics.insert(metric.name().to_string(), t.fold_scores.clone());
    }
    metrics.insert("duration_s".into(), t.seconds);
    ChildRunRecord {
        index: t.index,
        algorithm: t.algorithm.name().to_string(),
        params: t
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect(),
        status,
        error,
        metrics,
        fold_metrics,
        started,
        ended,
    }
}

/// Runs `spec` recorded in `workspace`: saves the bundle to `output` (default: the run's
/// artifacts folder) and registers it when `register` is given. A run that fails after it
/// started is recorded as failed with its error.
pub fn run_tracked(
    spec: &JobSpec,
    workspace: &Workspace,
    output: Option<&Path>,
    register: Option<&Registration>,
    observer: &mut dyn RunObserver,
) -> Result<TrackedRun> {
    // Read the test table up front: a bad path fails before the search, not after it.
    let test_data = match &spec.data.test {
        Some(source) => Some(
            source
                .load(&crate::data::LoadOptions::default())
                .map_err(|e| AutotabError::data(format!("test data: {e}")))?,
        ),
        None => None,
    };
    let mut recorder = Recorder {
        workspace,
        inner: observer,
        run: None,
        metric: None,
        store_error: None,
    };
    let result = automl::run(spec, &mut recorder);
    let run_id = recorder.run.clone();
    if let Some(e) = recorder.store_error.take() {
        if let Some(id) = &run_id {
            let _ = workspace.finish_run(
                id,
                RunStatus::Failed,
                &serde_json::json!({"error": e.to_string()}),
            );
        }
        return Err(e);
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            if let Some(id) = &run_id {
                let _ = workspace.finish_run(
                    id,
                    RunStatus::Failed,
                    &serde_json::json!({"error": e.to_string()}),
                );
            }
            return Err(e);
        }
    };
    let run_id = run_id.ok_or_else(|| AutotabError::Store("the run was never recorded".into()))?;
    let scored = match &test_data {
        Some(data) => {
            let metrics = crate::evaluate::test_metrics(outcome.task, outcome.metric);
            crate::evaluate::score_table(&outcome.pipeline, data, &metrics).map_err(|e| {
                AutotabError::data(format!(
                    "test data {}: {e}",
                    spec.data
                        .test
                        .as_ref()
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                ))
            })
        }
        None => Ok(Vec::new()),
    };
    let finished = scored.and_then(|test_metrics| {
        for (metric, value) in &test_metrics {
            workspace.log_metric(&run_id, &format!("test_{}", metric.name()), *value)?;
        }
        save_and_register(spec, workspace, output, register, &run_id, &outcome)
            .map(|(dir, registered)| (dir, registered, test_metrics))
    });
    let summary = serde_json::to_value(outcome.summary()).unwrap_or_default();
    match finished {
        Ok((model_dir, registered, test_metrics)) => {
            workspace.log_metric(
                &run_id,
                outcome.metric.name(),
                outcome.best.score.unwrap_or(f64::NAN),
            )?;
            let mut summary = summary;
            summary["model_path"] = serde_json::json!(model_dir.display().to_string());
            summary["best_trial"] = serde_json::json!(outcome.best.index);
            summary["stop_reason"] = serde_json::to_value(outcome.stop_reason).unwrap_or_default();
            if !test_metrics.is_empty() {
                summary["test_metrics"] = test_metrics
                    .iter()
                    .map(|(m, v)| (m.name().to_string(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            workspace.finish_run(&run_id, RunStatus::Completed, &summary)?;
            Ok(TrackedRun {
                run_id,
                outcome,
                model_dir,
                registered,
                test_metrics,
            })
        }
        Err(e) => {
            let _ = workspace.finish_run(
                &run_id,
                RunStatus::Failed,
                &serde_json::json!({"error": e.to_string()}),
            );
            Err(e)
        }
    }
}

fn save_and_register(
    spec: &JobSpec,
    workspace: &Workspace,
    output: Option<&Path>,
    register: Option<&Registration>,
    run_id: &RunId,
    outcome: &RunOutcome,
) -> Result<(PathBuf, Option<ModelVersion>)> {
    let model_dir = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.artifacts_dir(run_id.as_str()).join("model"));
    let mut info = bundle_info(
        spec,
        &outcome.pipeline,
        outcome.metric.name(),
        outcome.best.score.unwrap_or(f64::NAN),
        &outcome.best.params,
        Some(run_id.as_str()),
    );
    info.guardrails = outcome
        .guardrails
        .iter()
        .map(|g| serde_json::to_value(g).unwrap_or_default())
        .collect();
    info.data_fingerprint = workspace
        .get_run(run_id.as_str())
        .ok()
        .and_then(|d| d.fingerprint)
        .and_then(|f| serde_json::to_value(f).ok());
    save_bundle(&model_dir, &outcome.pipeline, &info, &outcome.sample)?;
    let registered = match register {
        Some(r) => {
            let metrics = serde_json::json!({ outcome.metric.name(): outcome.best.score });
            Some(workspace.register_model(
                &r.name,
                &model_dir,
                Some(run_id.as_str()),
                r.description.as_deref(),
                &r.tags,
                &metrics,
            )?)
        }
        None => None,
    };
    Ok((model_dir, registered))
}

/// The bundle facts of a fitted pipeline.
pub fn bundle_info(
    spec: &JobSpec,
    pipeline: &Pipeline,
    metric: &str,
    score: f64,
    params: &Params,
    run_id: Option<&str>,
) -> BundleInfo {
    BundleInfo {
        format_version: BUNDLE_FORMAT_VERSION,
        autotab_version: env!("CARGO_PKG_VERSION").to_string(),
        created: Utc::now().to_rfc3339(),
        task: pipeline.task.name().to_string(),
        metric: metric.to_string(),
        score,
        algorithm: pipeline.algorithm.name().to_string(),
        params: params.clone(),
        label: spec.data.label.clone(),
        classes: pipeline.label_encoding.classes().to_vec(),
        input_columns: pipeline.featurizer.input_columns().to_vec(),
        featurization: pipeline.featurizer.steps(),
        experiment: spec.experiment.clone(),
        run_id: run_id.map(String::from),
        guardrails: Vec::new(),
        data_fingerprint: None,
    }
}

/// Registers the model of a recorded run: a parent run's saved bundle, or, for a child run
/// (one trial), that trial's configuration refit on all rows of the parent's data.
pub fn register_run(
    workspace: &Workspace,
    run_id: &str,
    registration: &Registration,
) -> Result<ModelVersion> {
    let detail = workspace.get_run(run_id)?;
    let (model_dir, metrics) = match &detail.parent {
        None => {
            let dir = detail
                .outcome
                .as_ref()
                .and_then(|o| o.get("model_path"))
                .and_then(|p| p.as_str())
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.artifacts_dir(run_id).join("model"));
            if !dir.join("bundle.json").exists() {
                return Err(AutotabError::Store(format!(
                    "run {run_id} has no saved model (status {}); register one of its child runs instead",
                    detail.summary.status
                )));
            }
            (
                dir,
                serde_json::to_value(&detail.summary.metrics).unwrap_or_default(),
            )
        }
        Some(parent_id) => {
            let parent = workspace.get_run(parent_id)?;
            let spec: JobSpec = parent
                .spec
                .clone()
                .ok_or_else(|| {
                    AutotabError::Store(format!("parent run {parent_id} has no job spec"))
                })
                .and_then(|v| {
                    serde_json::from_value(v).map_err(|e| {
                        AutotabError::Store(format!(
                            "job spec of run {parent_id} is unreadable: {e}"
                        ))
                    })
                })?;
            let child = parent
                .children
                .iter()
                .find(|c| c.id == run_id)
                .ok_or_else(|| AutotabError::Store(format!("child run {run_id} not found")))?;
            if child.status != RunStatus::Completed {
                return Err(AutotabError::Store(format!(
                    "child run {run_id} is {}: only completed trials can be registered",
                    child.status
                )));
            }
            let algorithm = Algorithm::parse(&child.algorithm)?;
            let params: Params = child
                .params
                .iter()
                .map(|(k, v)| serde_json::from_value(v.clone()).map(|p| (k.clone(), p)))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| {
                    AutotabError::Store(format!("params of run {run_id} are unreadable: {e}"))
                })?;
            let metric = parent
                .outcome
                .as_ref()
                .and_then(|o| o.get("metric"))
                .and_then(|m| m.as_str())
                .map(String::from)
                .or_else(|| spec.metric.map(|m| m.name().to_string()))
                .unwrap_or_default();
            let score = child.metrics.get(&metric).copied().unwrap_or(f64::NAN);
            let trial = TrialRecord {
                index: child.index,
                algorithm,
                params: params.clone(),
                status: TrialStatus::Completed,
                score: Some(score),
                score_std: None,
                fold_scores: Vec::new(),
                seconds: 0.0,
                fit_seconds_per_fold: 0.0,
                started_at: 0.0,
            };
            let (pipeline, sample) = automl::fit_configuration(&spec, &trial)?;
            let dir = workspace.artifacts_dir(run_id).join("model");
            let mut info = bundle_info(&spec, &pipeline, &metric, score, &params, Some(run_id));
            info.data_fingerprint = parent
                .fingerprint
                .as_ref()
                .and_then(|f| serde_json::to_value(f).ok());
            save_bundle(&dir, &pipeline, &info, &sample)?;
            (
                dir,
                serde_json::to_value(&child.metrics).unwrap_or_default(),
            )
        }
    };
    workspace.register_model(
        &registration.name,
        &model_dir,
        Some(run_id),
        registration.description.as_deref(),
        &registration.tags,
        &metrics,
    )
}
