//! A tracked experiment run: the engine's run recorded in the workspace (parent run, one child
//! run per trial, log lines), its model bundle saved in the run's artifacts, and optionally
//! registered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use serde::{Deserialize, Serialize};

use crate::engine::forecast::ForecastOutcome;
use crate::engine::{self, OutcomeSummary, Recipe, RunObserver, RunOutcome, RunStart};
use crate::ensemble::{EnsembleKind, EnsembleRecord, Learner, MetaLearner};
use crate::error::{AutotabError, Result};
use crate::explain::{permutation_importance, ExplanationSummary, ImportanceSettings};
use crate::featurize::Guardrail;
use crate::forecast::forecaster::ForecasterSpec;
use crate::forecast::search::ForecastTrial;
use crate::forecast::ForecastModel;
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::models::Params;
use crate::registry::ModelVersion;
use crate::scoring::{save_bundle, BundleInfo};
use crate::search::{TrialBackend, TrialRecord, TrialStatus};
use crate::tracking::ChildRun;
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
    /// The HTML report in the run's artifacts (`None` when it could not be built: the run
    /// is kept and the reason was told to the observer).
    pub report: Option<PathBuf>,
}

/// What a completed parent run records as its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedOutcome {
    /// The run's summary (task, metric, best score and learner, trials, time, stop reason).
    #[serde(flatten)]
    pub summary: OutcomeSummary,
    /// Where the model bundle was saved.
    pub model_path: PathBuf,
    /// The trial (or ensemble) number that was shipped.
    pub best_trial: usize,
    /// How the shipped model was trained: refit on all rows, or the folds' models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_fit: Option<crate::pipeline::FinalFit>,
    /// Metrics of the final model on the job's test data, by name (empty without test data).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub test_metrics: BTreeMap<String, f64>,
}

impl RecordedOutcome {
    /// Reads a stored run outcome; `None` for a run that did not complete (its outcome is an
    /// error) or an outcome written by an older autotab.
    pub fn of(outcome: Option<&serde_json::Value>) -> Option<RecordedOutcome> {
        outcome.and_then(|o| serde_json::from_value(o.clone()).ok())
    }
}

/// Records the run in the workspace as it goes and forwards every event to `inner`.
struct Recorder<'a> {
    workspace: &'a Workspace,
    inner: &'a mut dyn RunObserver,
    run: Option<RunId>,
    metric: Option<Metric>,
    store_error: Option<AutotabError>,
    /// A run already recorded (submitted to the queue) that this recorder continues, instead
    /// of starting a new one.
    adopt: Option<RunId>,
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
        let adopt = self.adopt.take();
        let started = fingerprint(
            start.spec.data.training.path(),
            start.rows,
            start.columns,
            schema_json,
        )
        .and_then(|fp| {
            if let Some(id) = adopt {
                check_submitted_data(self.workspace, &id, start.spec, &fp)?;
                return Ok((id, fp));
            }
            let spec_json = serde_json::to_value(start.spec).unwrap_or_default();
            let id = self
                .workspace
                .start_run(&start.spec.experiment, &spec_json, &fp)?;
            Ok((id, fp))
        });
        match started {
            Ok((id, fp)) => {
                let logged = log_dataset(self.workspace, &id, start.spec, &fp);
                self.keep(logged);
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

    fn ensemble(&mut self, ensemble: &EnsembleRecord, trials: &[TrialRecord]) {
        if let (Some(run), Some(metric)) = (self.run.clone(), self.metric) {
            let r = self
                .workspace
                .log_child_run(&run, &ensemble_record(ensemble, trials, metric))
                .map(|_| ());
            self.keep(r);
        }
        self.inner.ensemble(ensemble, trials);
    }

    fn message(&mut self, message: &str) {
        if let Some(run) = self.run.clone() {
            let r = self.workspace.append_log(&run, message);
            self.keep(r);
        }
        self.inner.message(message);
    }
}

/// Refuses to continue submitted run `id` when the bytes of its training data (`fp`, as read
/// here) are not those fingerprinted when it was submitted.
pub(crate) fn check_submitted_data(
    workspace: &Workspace,
    id: &RunId,
    spec: &JobSpec,
    fp: &DataFingerprint,
) -> Result<()> {
    let detail = workspace.get_run(id.as_str())?;
    match detail.fingerprint {
        Some(submitted) if submitted.sha256 != fp.sha256 => {
            Err(AutotabError::InvalidData(format!(
                "run {id}: the training data {} read on this machine is not what was submitted \
             (sha256 {} when submitted, {} here): every worker must read the same file, on a \
             shared file system",
                spec.data.training.path().display(),
                submitted.sha256,
                fp.sha256
            )))
        }
        _ => Ok(()),
    }
}

/// The fingerprint of a training table: of its file, or for an MLTable folder of the hashes of
/// its definition and data files in reading order.
pub(crate) fn fingerprint(
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
    let (status, error) = match &t.status {
        TrialStatus::Completed => (RunStatus::Completed, None),
        TrialStatus::Failed(reason) => (RunStatus::Failed, Some(reason.clone())),
        TrialStatus::TimedOut(reason) => {
            (RunStatus::Canceled, Some(format!("timed out: {reason}")))
        }
    };
    let params = t
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect();
    let scores = t
        .score
        .map(|s| (s, t.score_std.unwrap_or(0.0), t.fold_scores.clone()));
    let mut record = scored_child(
        t.index,
        Learner::Algorithm(t.algorithm),
        params,
        metric,
        scores,
        t.seconds,
    );
    record.status = status;
    record.error = error;
    record
}

/// The store's record of an ensemble: its members (trial index and weight) are its params,
/// with a stack's meta-learner.
fn ensemble_record(e: &EnsembleRecord, trials: &[TrialRecord], metric: Metric) -> ChildRunRecord {
    let mut params: BTreeMap<String, serde_json::Value> = e
        .params(trials)
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect();
    params.insert(
        ENSEMBLE_MEMBERS_PARAM.into(),
        serde_json::to_value(&e.members).unwrap_or_default(),
    );
    let scores = Some((e.score, e.score_std, e.fold_scores.clone()));
    scored_child(
        e.index,
        Learner::Ensemble(e.kind),
        params,
        metric,
        scores,
        e.seconds,
    )
}

/// The child-run param holding an ensemble's members as `[{"trial": i, "weight": w}, ...]`.
const ENSEMBLE_MEMBERS_PARAM: &str = "member_weights";

fn scored_child(
    index: usize,
    learner: Learner,
    params: BTreeMap<String, serde_json::Value>,
    metric: Metric,
    scores: Option<(f64, f64, Vec<f64>)>,
    seconds: f64,
) -> ChildRunRecord {
    let ended = Utc::now();
    let started = ended - chrono::Duration::milliseconds((seconds * 1000.0) as i64);
    let mut metrics = BTreeMap::new();
    let mut fold_metrics = BTreeMap::new();
    if let Some((score, std, folds)) = scores {
        metrics.insert(metric.name().to_string(), score);
        metrics.insert(format!("{}_std", metric.name()), std);
        fold_metrics.insert(metric.name().to_string(), folds);
    }
    metrics.insert("duration_s".into(), seconds);
    ChildRunRecord {
        index,
        algorithm: learner.name().to_string(),
        params,
        status: RunStatus::Completed,
        error: None,
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
    run_recorded(spec, workspace, output, register, observer, None)
}

/// Runs the submitted run `run_id` (recorded as queued by `distributed::submit`) as
/// [`run_tracked`] does, with its trials on `remote` (the workers' queue) and its bundle in the
/// run's artifacts. A run whose training data are not the bytes submitted fails.
pub fn run_submitted(
    spec: &JobSpec,
    workspace: &Workspace,
    run_id: &RunId,
    register: Option<&Registration>,
    observer: &mut dyn RunObserver,
    remote: &mut dyn TrialBackend,
) -> Result<TrackedRun> {
    run_recorded(
        spec,
        workspace,
        None,
        register,
        observer,
        Some((run_id.clone(), remote)),
    )
}

fn run_recorded(
    spec: &JobSpec,
    workspace: &Workspace,
    output: Option<&Path>,
    register: Option<&Registration>,
    observer: &mut dyn RunObserver,
    submitted: Option<(RunId, &mut dyn TrialBackend)>,
) -> Result<TrackedRun> {
    let (adopt, remote) = match submitted {
        Some((id, remote)) => (Some(id), Some(remote)),
        None => (None, None),
    };
    let test_data = load_test_data(spec).inspect_err(|e| {
        // A failure before the engine starts still ends a submitted run.
        if let Some(id) = &adopt {
            mark_failed(workspace, id, e);
        }
    })?;
    let mut recorder = Recorder {
        workspace,
        inner: observer,
        run: None,
        metric: None,
        store_error: None,
        adopt: adopt.clone(),
    };
    let result = match remote {
        Some(remote) => engine::run_remote(spec, &mut recorder, remote),
        None => engine::run(spec, &mut recorder),
    };
    // A submitted run is already recorded: it fails with the error even when the engine
    // stopped before the recorder adopted it.
    let run_id = recorder.run.clone().or(adopt);
    let result = match recorder.store_error.take() {
        Some(e) => Err(e),
        None => result,
    };
    let outcome = result.inspect_err(|e| {
        if let Some(id) = &run_id {
            mark_failed(workspace, id, e);
        }
    })?;
    let run_id = run_id.ok_or_else(|| AutotabError::Store("the run was never recorded".into()))?;
    let explanations = match run_explanations(spec, &outcome) {
        Some(Ok(summary)) => {
            let top: Vec<&str> = summary
                .importances
                .iter()
                .take(3)
                .map(|i| i.column.as_str())
                .collect();
            observer.message(&format!(
                "explanations: permutation importance on {} in {:.2} s ({:.1}% of the budget); \
                 most important: {}",
                summary.rows,
                summary.seconds,
                summary.budget_share * 100.0,
                top.join(", ")
            ));
            Some(summary)
        }
        Some(Err(e)) => {
            observer.message(&format!("explanations: not computed: {e}"));
            None
        }
        None => None,
    };
    let report_data = crate::report::ReportData::of_run(spec, &outcome, explanations.as_ref());
    let finished = score_test_data(spec, &outcome, test_data.as_ref()).and_then(|test_metrics| {
        log_test_metrics(
            workspace,
            &run_id,
            test_metrics.iter().map(|(m, v)| (m.name(), *v)),
        )?;
        let (model_dir, registered) =
            save_and_register(workspace, output, register, &run_id, &outcome, explanations)?;
        workspace.log_metric(&run_id, outcome.metric.name(), outcome.winner.score)?;
        let recorded = RecordedOutcome {
            summary: outcome.summary(),
            model_path: model_dir.clone(),
            best_trial: outcome.winner.index,
            final_fit: Some(outcome.pipeline.fit),
            test_metrics: test_metrics
                .iter()
                .map(|(m, v)| (m.name().to_string(), *v))
                .collect(),
        };
        let recorded = serde_json::to_value(&recorded)
            .map_err(|e| AutotabError::Store(format!("cannot encode the run outcome: {e}")))?;
        workspace.finish_run(&run_id, RunStatus::Completed, &recorded)?;
        Ok((model_dir, registered, test_metrics))
    });
    let (model_dir, registered, test_metrics) =
        finished.inspect_err(|e| mark_failed(workspace, &run_id, e))?;
    let report = write_report(workspace, run_id.as_str(), &report_data, observer);
    workspace.sync_run_artifacts(run_id.as_str())?;
    Ok(TrackedRun {
        run_id,
        outcome,
        model_dir,
        registered,
        test_metrics,
        report,
    })
}

/// The job's test table, read up front: a bad path fails before the search, not after it.
fn load_test_data(spec: &JobSpec) -> Result<Option<crate::data::Dataset>> {
    match &spec.data.test {
        Some(source) => Ok(Some(
            source
                .load(&crate::data::LoadOptions::default())
                .map_err(|e| AutotabError::data(format!("test data: {e}")))?,
        )),
        None => Ok(None),
    }
}

/// Logs the test metrics of run `id` as `test_<name>`.
fn log_test_metrics<'m>(
    workspace: &Workspace,
    id: &RunId,
    metrics: impl IntoIterator<Item = (&'m str, f64)>,
) -> Result<()> {
    for (name, value) in metrics {
        if value.is_finite() {
            workspace.log_metric(id, &format!("test_{name}"), value)?;
        }
    }
    Ok(())
}

/// Registers the bundle in `model_dir` as `registration` asks, from run `run_id`.
fn register_bundle(
    workspace: &Workspace,
    registration: &Registration,
    model_dir: &Path,
    run_id: &str,
    metrics: &serde_json::Value,
) -> Result<ModelVersion> {
    workspace.register_model(
        &registration.name,
        model_dir,
        Some(run_id),
        registration.description.as_deref(),
        &registration.tags,
        metrics,
    )
}

/// Records the registered dataset the run trains on, if any, as its param `dataset`
/// (`NAME:VERSION`), after checking that the bytes the run fingerprinted (`fp`) are still the
/// dataset's (they were checked when the dataset was resolved, but may have changed since).
fn log_dataset(
    workspace: &Workspace,
    id: &RunId,
    spec: &JobSpec,
    fp: &DataFingerprint,
) -> Result<()> {
    let Some(d) = &spec.data.dataset else {
        return Ok(());
    };
    if d.sha256 != fp.sha256 {
        return Err(AutotabError::InvalidData(format!(
            "registered dataset '{}' version {}: the bytes of {} changed as the run started \
             (registered sha256 {}, now {})",
            d.name,
            d.version,
            spec.data.training.path().display(),
            d.sha256,
            fp.sha256
        )));
    }
    workspace.log_param(id, "dataset", &serde_json::json!(d.to_string()))
}

/// Writes the run's report data and HTML report into its artifacts; a failure is told to
/// `observer` as a warning and never fails the run.
pub fn write_report(
    workspace: &Workspace,
    run_id: &str,
    data: &crate::report::ReportData,
    observer: &mut dyn RunObserver,
) -> Option<PathBuf> {
    match crate::report::save_run_report(workspace, run_id, data) {
        Ok(path) => {
            observer.message(&format!("report: {}", path.display()));
            Some(path)
        }
        Err(e) => {
            observer.message(&format!("warning: the run report was not written: {e}"));
            None
        }
    }
}

/// Records run `id` as failed with `error` (best effort: the error itself is what matters).
fn mark_failed(workspace: &Workspace, id: &RunId, error: &AutotabError) {
    let _ = workspace.finish_run(
        id,
        RunStatus::Failed,
        &serde_json::json!({"error": error.to_string()}),
    );
}

/// The final model's metrics on the job's test table (none without one).
fn score_test_data(
    spec: &JobSpec,
    outcome: &RunOutcome,
    test_data: Option<&crate::data::Dataset>,
) -> Result<Vec<(Metric, f64)>> {
    let Some(data) = test_data else {
        return Ok(Vec::new());
    };
    let metrics = crate::evaluate::test_metrics(outcome.task, outcome.metric);
    crate::evaluate::score_table(&outcome.pipeline, data, &metrics).map_err(|e| {
        let source = spec.data.test.as_ref().map(|t| t.to_string());
        AutotabError::data(format!("test data {}: {e}", source.unwrap_or_default()))
    })
}

/// Share of the run's time budget that permutation importance may take after the run.
const EXPLAIN_BUDGET_SHARE: f64 = 0.05;

/// Permutation importance of the refit pipeline's raw columns on a sample of the job's rows
/// (training and given validation rows), within [`EXPLAIN_BUDGET_SHARE`] of the budget (at
/// least 2 s). Out-of-fold predictions of the refit model do not exist, so the rows are mostly
/// ones the model was fitted on: a column it overfits may rank higher than on unseen rows.
/// `None` when explanations are off, or with the reason they are missing as `Err`.
fn run_explanations(
    spec: &JobSpec,
    outcome: &RunOutcome,
) -> Option<std::result::Result<ExplanationSummary, AutotabError>> {
    if !spec.training.enable_model_explainability {
        return None;
    }
    let start = std::time::Instant::now();
    let allowed = spec
        .limits
        .timeout
        .mul_f64(EXPLAIN_BUDGET_SHARE)
        .max(std::time::Duration::from_secs(2));
    let settings = ImportanceSettings {
        repeats: 5,
        seed: spec.seed,
        max_rows: 2_000,
        deadline: Some(start + allowed),
    };
    Some(crate::engine::load_job_table(spec).and_then(|table| {
        let rows = table.data.n_rows().min(settings.max_rows);
        let importances =
            permutation_importance(&outcome.pipeline, &table.data, outcome.metric, &settings)?;
        let seconds = start.elapsed().as_secs_f64();
        Ok(ExplanationSummary {
            importances,
            rows: format!("{rows} rows of the job's data (training and given validation rows) through the refit pipeline"),
            metric: outcome.metric.name().to_string(),
            seconds,
            budget_share: seconds / spec.limits.timeout.as_secs_f64().max(1e-9),
        })
    }))
}

fn save_and_register(
    workspace: &Workspace,
    output: Option<&Path>,
    register: Option<&Registration>,
    run_id: &RunId,
    outcome: &RunOutcome,
    explanations: Option<ExplanationSummary>,
) -> Result<(PathBuf, Option<ModelVersion>)> {
    let model_dir = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.artifacts_dir(run_id.as_str()).join("model"));
    let mut info = BundleInfo::of_outcome(outcome, Some(run_id.as_str()));
    if let Some(summary) = &explanations {
        workspace.log_metric(run_id, "explain_seconds", summary.seconds)?;
    }
    info.data_fingerprint = workspace
        .get_run(run_id.as_str())
        .ok()
        .and_then(|d| d.fingerprint)
        .and_then(|f| serde_json::to_value(f).ok());
    info.explanations = explanations;
    save_bundle(&model_dir, &outcome.pipeline, &info, &outcome.sample)?;
    let registered = match register {
        Some(r) => {
            let metrics = serde_json::json!({ outcome.metric.name(): outcome.winner.score });
            Some(register_bundle(
                workspace,
                r,
                &model_dir,
                run_id.as_str(),
                &metrics,
            )?)
        }
        None => None,
    };
    Ok((model_dir, registered))
}

/// A finished, recorded forecasting run.
#[derive(Debug)]
pub struct TrackedForecast {
    /// The parent run's id.
    pub run_id: RunId,
    /// What the engine produced.
    pub outcome: ForecastOutcome,
    /// Where the forecasting bundle was saved.
    pub model_dir: PathBuf,
    /// The registered version, when registration was asked for.
    pub registered: Option<ModelVersion>,
    /// Metrics of the model on the job's test data, by name, the primary metric first (empty
    /// without test data; [`crate::evaluate::score_forecast`]).
    pub test_metrics: Vec<(String, f64)>,
    /// What the parent run records as its outcome (the keys of `run --json`).
    pub summary: serde_json::Value,
    /// The HTML report in the run's artifacts (`None` when it could not be built: the run
    /// is kept and the reason was told to the observer).
    pub report: Option<PathBuf>,
}

/// Runs the forecasting job `spec` recorded in `workspace`, as [`run_tracked`] does a
/// tabular one: the parent run, its metrics (the winner's cross-validated score and the
/// folds' pooled metrics as `cv_pooled_<name>`), every trial as a child run once the search is
/// over, the bundle saved to `output` (default: the run's artifacts folder), the job's test
/// data forecast and scored (`test_<name>` metrics), and the bundle registered when `register`
/// is given. A run that fails after it started is recorded as failed with its error.
pub fn run_forecasting_tracked(
    spec: &JobSpec,
    workspace: &Workspace,
    output: Option<&Path>,
    register: Option<&Registration>,
    observer: &mut dyn RunObserver,
) -> Result<TrackedForecast> {
    let test_data = load_test_data(spec)?;
    let path = spec.data.training.path();
    let fp = fingerprint(path, 0, 0, serde_json::Value::Null)?;
    let spec_json = serde_json::to_value(spec).unwrap_or_default();
    let run_id = workspace.start_run(&spec.experiment, &spec_json, &fp)?;
    log_dataset(workspace, &run_id, spec, &fp)
        .inspect_err(|e| mark_failed(workspace, &run_id, e))?;
    observer.run_started(run_id.as_str());
    let outcome = engine::forecast::run_forecasting(spec, observer)
        .inspect_err(|e| mark_failed(workspace, &run_id, e))?;
    let finished = (|| {
        let model_dir = output
            .map(Path::to_path_buf)
            .unwrap_or_else(|| workspace.artifacts_dir(run_id.as_str()).join("model"));
        crate::scoring::forecast::save_forecast_bundle(&model_dir, &outcome.model)?;
        for trial in &outcome.trials {
            workspace.log_child_run(&run_id, &forecast_child_record(trial, outcome.metric))?;
        }
        workspace.log_metric(&run_id, outcome.metric.name(), outcome.model.score)?;
        for (name, value) in &outcome.cv_metrics {
            if value.is_finite() {
                workspace.log_metric(&run_id, &format!("cv_pooled_{name}"), *value)?;
            }
        }
        let test_metrics = match &test_data {
            Some(data) => {
                let scores = crate::evaluate::score_forecast(&outcome.model, data, outcome.metric)
                    .map_err(|e| {
                        let source = spec.data.test.as_ref().map(|t| t.to_string());
                        AutotabError::data(format!("test data {}: {e}", source.unwrap_or_default()))
                    })?;
                log_test_metrics(
                    workspace,
                    &run_id,
                    scores.iter().map(|(n, v)| (n.as_str(), *v)),
                )?;
                scores
            }
            None => Vec::new(),
        };
        let registered = match register {
            Some(r) => {
                let mut metrics = serde_json::Map::new();
                metrics.insert(
                    outcome.metric.name().into(),
                    serde_json::json!(outcome.model.score),
                );
                for (name, value) in &test_metrics {
                    metrics.insert(format!("test_{name}"), serde_json::json!(value));
                }
                Some(register_bundle(
                    workspace,
                    r,
                    &model_dir,
                    run_id.as_str(),
                    &metrics.into(),
                )?)
            }
            None => None,
        };
        let mut summary = serde_json::json!({
            "experiment": spec.experiment,
            "run_id": run_id.as_str(),
            "task": crate::task::Task::Forecasting.name(),
            "metric": outcome.metric.name(),
            "best_score": outcome.model.score,
            "best_algorithm": outcome.winner().forecaster.name(),
            "trials": outcome.trials.len(),
            "elapsed_s": (outcome.elapsed_s * 1000.0).round() / 1000.0,
            "model_path": model_dir.display().to_string(),
        });
        if !test_metrics.is_empty() {
            summary["test_metrics"] = test_metrics
                .iter()
                .map(|(n, v)| (n.clone(), serde_json::json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        if let Some(v) = &registered {
            summary["registered_model"] = serde_json::json!(format!("{}:{}", v.name, v.version));
        }
        workspace.finish_run(&run_id, RunStatus::Completed, &summary)?;
        Ok((model_dir, registered, test_metrics, summary))
    })();
    let (model_dir, registered, test_metrics, summary) =
        finished.inspect_err(|e| mark_failed(workspace, &run_id, e))?;
    let report = match crate::report::ReportData::of_forecast(spec, &outcome) {
        Ok(data) => write_report(workspace, run_id.as_str(), &data, observer),
        Err(e) => {
            observer.message(&format!("warning: the run report was not written: {e}"));
            None
        }
    };
    workspace.sync_run_artifacts(run_id.as_str())?;
    Ok(TrackedForecast {
        run_id,
        outcome,
        model_dir,
        registered,
        test_metrics,
        summary,
        report,
    })
}

/// The store's record of one forecasting trial: the method, its settings (a learner's
/// hyperparameters, or the method's settings line), and its mean and per-fold scores.
fn forecast_child_record(t: &ForecastTrial, metric: Metric) -> ChildRunRecord {
    let mut params: BTreeMap<String, serde_json::Value> = match &t.forecaster {
        ForecasterSpec::Regression { params, .. } => params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let settings = t.forecaster.describe();
    if !matches!(t.forecaster, ForecasterSpec::Regression { .. }) && !settings.is_empty() {
        params.insert("settings".into(), serde_json::Value::String(settings));
    }
    let mut metrics = BTreeMap::new();
    let mut fold_metrics = BTreeMap::new();
    if let Some(score) = t.score {
        metrics.insert(metric.name().to_string(), score);
        fold_metrics.insert(metric.name().to_string(), t.fold_scores.clone());
    }
    metrics.insert("duration_s".into(), t.seconds);
    ChildRunRecord {
        index: t.index,
        algorithm: t.forecaster.name(),
        params,
        status: if t.score.is_some() {
            RunStatus::Completed
        } else {
            RunStatus::Failed
        },
        error: t.error.clone(),
        metrics,
        fold_metrics,
        started: t.finished - chrono::Duration::milliseconds((t.seconds * 1000.0) as i64),
        ended: t.finished,
    }
}

/// Registers the model of a recorded run: a parent run's saved bundle, or, for a child run
/// (one trial or an ensemble), its configuration refit on all rows of the parent's data.
pub fn register_run(
    workspace: &Workspace,
    run_id: &str,
    registration: &Registration,
) -> Result<ModelVersion> {
    let detail = workspace.get_run(run_id)?;
    let (model_dir, metrics) = match &detail.parent {
        None => {
            let dir = RecordedOutcome::of(detail.outcome.as_ref())
                .map(|o| o.model_path)
                .or_else(|| {
                    // A forecasting run records its summary, which names the bundle too.
                    detail.outcome.as_ref()?["model_path"]
                        .as_str()
                        .map(PathBuf::from)
                })
                .unwrap_or_else(|| workspace.artifacts_dir(run_id).join("model"));
            if ForecastModel::is_bundle(&dir) {
                ForecastModel::load(&dir)?;
            } else if !dir.join("bundle.json").exists() {
                return Err(AutotabError::Store(format!(
                    "run {run_id} has no saved model (status {}); register one of its child runs instead",
                    detail.summary.status
                )));
            } else {
                // A bundle damaged since it was saved is refused, naming the file.
                crate::scoring::verify_bundle(&dir)?;
            }
            (
                dir,
                serde_json::to_value(&detail.summary.metrics).unwrap_or_default(),
            )
        }
        Some(parent_id) => {
            let dir = refit_child_run(workspace, parent_id, run_id)?;
            let child = workspace
                .get_run(parent_id)?
                .children
                .into_iter()
                .find(|c| c.id == run_id);
            let metrics = child.map(|c| serde_json::to_value(&c.metrics).unwrap_or_default());
            (dir, metrics.unwrap_or_default())
        }
    };
    register_bundle(workspace, registration, &model_dir, run_id, &metrics)
}

/// Refits child run `run_id` of `parent_id` on the parent's data and saves it as a bundle in
/// the child's artifacts. Returns the bundle folder.
fn refit_child_run(workspace: &Workspace, parent_id: &str, run_id: &str) -> Result<PathBuf> {
    let parent = workspace.get_run(parent_id)?;
    let spec: JobSpec = parent
        .spec
        .clone()
        .ok_or_else(|| AutotabError::Store(format!("parent run {parent_id} has no job spec")))
        .and_then(|v| {
            serde_json::from_value(v).map_err(|e| {
                AutotabError::Store(format!("job spec of run {parent_id} is unreadable: {e}"))
            })
        })?;
    if spec.task == Some(crate::task::Task::Forecasting) {
        return Err(AutotabError::Store(format!(
            "run {run_id} is a trial of forecasting run {parent_id}: a forecasting trial cannot be \
             refit on its own yet; register the run's model (models register --run {parent_id})"
        )));
    }
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
    let recipe = child_recipe(child, &parent.children)?;
    let (pipeline, sample) = engine::fit_recipe(&spec, &recipe)?;
    let metric = RecordedOutcome::of(parent.outcome.as_ref())
        .and_then(|o| Metric::parse(&o.summary.metric).ok())
        .or(spec.metric)
        .unwrap_or_else(|| Metric::default_for(pipeline.task));
    let score = child
        .metrics
        .get(metric.name())
        .copied()
        .unwrap_or(f64::NAN);
    let dir = workspace.artifacts_dir(run_id).join("model");
    let params = child_params(child)?;
    let mut info = BundleInfo::new(
        &pipeline,
        &spec.experiment,
        metric,
        score,
        &params,
        Some(run_id),
    );
    info.data_fingerprint = parent
        .fingerprint
        .as_ref()
        .and_then(|f| serde_json::to_value(f).ok());
    save_bundle(&dir, &pipeline, &info, &sample)?;
    Ok(dir)
}

/// What refits a child run: its algorithm and params, or its ensemble's member trials (and a
/// stack's meta-learner, from its `meta_learner` and `meta.*` params).
fn child_recipe(child: &ChildRun, siblings: &[ChildRun]) -> Result<Recipe> {
    let learner = Learner::parse(&child.algorithm)?;
    let members = match learner {
        Learner::Algorithm(a) => vec![(1.0, a, child_params(child)?)],
        Learner::Ensemble(_) => {
            let weights: Vec<crate::ensemble::Member> = child
                .params
                .get(ENSEMBLE_MEMBERS_PARAM)
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| {
                    AutotabError::Store(format!(
                        "ensemble run {} has no readable members",
                        child.id
                    ))
                })?;
            weights
                .iter()
                .map(|m| {
                    let member = siblings
                        .iter()
                        .find(|c| c.index == m.trial)
                        .ok_or_else(|| {
                            AutotabError::Store(format!(
                                "member trial {} of {} not found",
                                m.trial, child.id
                            ))
                        })?;
                    let algorithm = crate::models::Algorithm::parse(&member.algorithm)?;
                    Ok((m.weight, algorithm, child_params(member)?))
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    let meta = match learner {
        Learner::Ensemble(EnsembleKind::Stack) => {
            let params = child_params(child)?;
            let meta = MetaLearner::read_params(&params).ok_or_else(|| {
                AutotabError::Store(format!(
                    "stack ensemble run {} records no meta-learner",
                    child.id
                ))
            })?;
            Some(meta?)
        }
        _ => None,
    };
    Ok(Recipe {
        learner,
        members,
        meta,
    })
}

/// A child run's recorded hyperparameters (an ensemble's are its member description).
fn child_params(child: &ChildRun) -> Result<Params> {
    child
        .params
        .iter()
        .filter(|(k, _)| k.as_str() != ENSEMBLE_MEMBERS_PARAM)
        .map(|(k, v)| serde_json::from_value(v.clone()).map(|p| (k.clone(), p)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| AutotabError::Store(format!("params of run {} are unreadable: {e}", child.id)))
}
