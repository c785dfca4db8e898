//! The HTML run report: one self-contained file (inline SVG charts drawn with plotters, inline
//! CSS, no script, no network) built from what the workspace recorded about a run.
//!
//! A run records what the store lacks in its artifacts folder as `report_data.json`
//! ([`ReportData`]: the summary, the column profile and guardrails, the winner's out-of-fold
//! predictions with their labels, a forecasting run's series histories and forecasts, the
//! permutation importance), and `report.html` beside it ([`save_run_report`]). The report reads
//! that file and the store's parent and child runs (leaderboard, trial times); `autotab report`
//! rebuilds it ([`build_report`]).

pub mod charts;
pub mod curves;
mod render;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::{Column, ColumnSchema, ColumnValues, Dataset};
use crate::engine::forecast::ForecastOutcome;
use crate::engine::{OutOfFold, RunOutcome};
use crate::error::{AutotabError, Result};
use crate::explain::ExplanationSummary;
use crate::featurize::Guardrail;
use crate::forecast::search::ForecastStop;
use crate::forecast::series::describe_key;
use crate::forecast::time::format_time;
use crate::job::JobSpec;
use crate::task::Task;
use crate::tracking::Workspace;

pub use render::render;

/// The artifact holding a run's [`ReportData`], in the run's artifacts folder.
pub const REPORT_DATA_FILE: &str = "report_data.json";
/// The report itself, in the run's artifacts folder.
pub const REPORT_FILE: &str = "report.html";
/// Most series a forecasting report draws.
pub const MAX_SERIES: usize = 6;
/// Most history steps drawn per series (the most recent ones).
const MAX_HISTORY: usize = 240;
/// Most rows kept in the out-of-fold record (a seeded-free, evenly strided subset past it).
const MAX_OOF_ROWS: usize = 5_000;
/// Format version of `report_data.json`.
pub const FORMAT_VERSION: u32 = 1;

/// What a run records for its report beyond the store's runs and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The run in a few facts.
    pub summary: ReportSummary,
    /// The input columns with their kind, missing cells and distinct values (tabular runs).
    #[serde(default)]
    pub columns: Vec<ColumnSchema>,
    /// Data guardrails.
    #[serde(default)]
    pub guardrails: Vec<Guardrail>,
    /// Class names and counts, in class order (classification).
    #[serde(default)]
    pub classes: Vec<(String, usize)>,
    /// The winner's out-of-fold predictions with labels (classification, regression).
    #[serde(default)]
    pub oof: Option<OutOfFold>,
    /// Series histories and forecasts (forecasting).
    #[serde(default)]
    pub forecast: Option<ForecastCurves>,
    /// Permutation importance of the raw input columns.
    #[serde(default)]
    pub explanations: Option<ExplanationSummary>,
}

/// The run in a few facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    /// The experiment.
    pub experiment: String,
    /// The training data as given.
    pub data: String,
    /// The label column.
    pub label: String,
    /// Task name.
    pub task: String,
    /// Primary metric name.
    pub metric: String,
    /// The time budget in seconds.
    pub budget_s: f64,
    /// The trial cap, when one was given.
    pub max_trials: Option<usize>,
    /// Training rows.
    pub rows: usize,
    /// How the trials were validated.
    pub validation: String,
    /// What was shipped (an algorithm, a method or an ensemble).
    pub best_learner: String,
    /// Its trial number.
    pub best_index: usize,
    /// Its cross-validated score.
    pub best_score: f64,
    /// How the shipped model was trained.
    pub final_model: String,
    /// Why the search stopped.
    pub stop_reason: String,
    /// Trials run.
    pub trials: usize,
    /// Wall seconds of the run.
    pub elapsed_s: f64,
}

/// A forecasting run's series for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastCurves {
    /// Steps forecast.
    pub horizon: usize,
    /// The grid's frequency, such as `MS`.
    pub frequency: String,
    /// Series in the run (more than are drawn when over [`MAX_SERIES`]).
    pub n_series: usize,
    /// The interval's quantile levels.
    pub interval: (f64, f64),
    /// The first [`MAX_SERIES`] series.
    pub series: Vec<SeriesCurve>,
}

/// One series: its recent history and the shipped model's forecast after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesCurve {
    /// The series' key as `Store=2, Brand=tropicana` (or `the series`).
    pub name: String,
    /// Steps of history in the run.
    pub length: usize,
    /// Time stamps of the drawn history, then of the forecast steps.
    pub times: Vec<String>,
    /// The drawn history (the last up to 240 steps).
    pub history: Vec<f64>,
    /// The forecast of the steps after the history.
    pub forecast: Vec<f64>,
    /// Lower bound of the interval.
    pub lower: Vec<f64>,
    /// Upper bound of the interval.
    pub upper: Vec<f64>,
}

impl ReportData {
    /// The report data of a tabular run.
    pub fn of_run(
        spec: &JobSpec,
        outcome: &RunOutcome,
        explanations: Option<&ExplanationSummary>,
    ) -> ReportData {
        let oof = outcome.oof.clone().map(|mut o| {
            if o.rows.len() > MAX_OOF_ROWS {
                let stride = o.rows.len().div_ceil(MAX_OOF_ROWS);
                o.rows = every(o.rows, stride);
                o.labels = every(o.labels, stride);
                o.predictions = every(o.predictions, stride);
            }
            o
        });
        ReportData {
            format_version: FORMAT_VERSION,
            summary: ReportSummary {
                experiment: outcome.experiment.clone(),
                data: spec.data.training.to_string(),
                label: spec.data.label.clone(),
                task: outcome.task.name().to_string(),
                metric: outcome.metric.name().to_string(),
                budget_s: spec.limits.timeout.as_secs_f64(),
                max_trials: spec.limits.max_trials,
                rows: outcome.n_rows,
                validation: outcome.validation.clone(),
                best_learner: outcome.winner.learner.name().to_string(),
                best_index: outcome.winner.index,
                best_score: outcome.winner.score,
                final_model: outcome.pipeline.fit.describe(),
                stop_reason: outcome.stop_reason.to_string(),
                trials: outcome.trials.len(),
                elapsed_s: outcome.elapsed_s,
            },
            columns: outcome.schema.columns.clone(),
            guardrails: outcome.guardrails.clone(),
            classes: outcome.class_counts.clone(),
            oof,
            forecast: None,
            explanations: explanations.cloned(),
        }
    }

    /// The report data of a forecasting run: the first [`MAX_SERIES`] series' histories and
    /// the shipped model's forecast of the `horizon` steps after each, with a 5%-95% interval
    /// (known features held at their last value).
    pub fn of_forecast(spec: &JobSpec, outcome: &ForecastOutcome) -> Result<ReportData> {
        let model = &outcome.model;
        let settings = &model.settings;
        let horizon = settings.horizon;
        let interval = (0.05, 0.95);
        let mut curves = Vec::new();
        for s in outcome.series.iter().take(MAX_SERIES) {
            let end = s.end();
            let future_times: Vec<String> = (1..=horizon as i64)
                .map(|k| format_time(model.grid.time_at(end + k)))
                .collect();
            let mut columns = vec![Column {
                name: settings.time_column.clone(),
                values: ColumnValues::Text(future_times.iter().cloned().map(Some).collect()),
            }];
            for (g, value) in settings.grain.iter().zip(&s.key) {
                columns.push(Column {
                    name: g.clone(),
                    values: ColumnValues::Text(vec![Some(value.clone()); horizon]),
                });
            }
            let future = Dataset::new(columns)?;
            let forecast = model.predict(&future, &[interval.0, interval.1])?;
            let first = s.values.len().saturating_sub(MAX_HISTORY);
            let mut times: Vec<String> = (first..s.values.len())
                .map(|i| format_time(model.grid.time_at(s.start + i as i64)))
                .collect();
            times.extend(future_times);
            let band = |k: usize| {
                forecast
                    .quantiles
                    .get(k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            curves.push(SeriesCurve {
                name: describe_key(&s.key, &settings.grain),
                length: s.values.len(),
                times,
                history: s.values[first..].to_vec(),
                forecast: forecast.values.clone(),
                lower: band(0),
                upper: band(1),
            });
        }
        let winner = outcome.winner();
        Ok(ReportData {
            format_version: FORMAT_VERSION,
            summary: ReportSummary {
                experiment: outcome.experiment.clone(),
                data: spec.data.training.to_string(),
                label: spec.data.label.clone(),
                task: Task::Forecasting.name().to_string(),
                metric: outcome.metric.name().to_string(),
                budget_s: spec.limits.timeout.as_secs_f64(),
                max_trials: spec.limits.max_trials,
                rows: outcome.n_rows,
                validation: outcome.validation.clone(),
                best_learner: winner.forecaster.name(),
                best_index: winner.index,
                best_score: model.score,
                final_model: "refit on the whole history".into(),
                stop_reason: match outcome.stop {
                    ForecastStop::TimeBudget => "the time budget",
                    ForecastStop::MaxTrials => "the trial cap (max_trials)",
                    ForecastStop::EarlyStopping => "early stopping",
                    ForecastStop::Exhausted => "every candidate tried",
                }
                .to_string(),
                trials: outcome.trials.len(),
                elapsed_s: outcome.elapsed_s,
            },
            columns: Vec::new(),
            guardrails: outcome.guardrails.clone(),
            classes: Vec::new(),
            oof: None,
            forecast: Some(ForecastCurves {
                horizon,
                frequency: model.grid.frequency_name(),
                n_series: outcome.series.len(),
                interval,
                series: curves,
            }),
            explanations: None,
        })
    }
}

/// Every `stride`-th item, from the first.
fn every<T>(items: Vec<T>, stride: usize) -> Vec<T> {
    items.into_iter().step_by(stride.max(1)).collect()
}

/// Writes `data` as the run's `report_data.json`, then builds the report from it and the
/// store and writes `report.html`, both in the run's artifacts folder. Returns the report's
/// path.
pub fn save_run_report(workspace: &Workspace, run_id: &str, data: &ReportData) -> Result<PathBuf> {
    let dir = workspace.artifacts_dir(run_id);
    std::fs::create_dir_all(&dir).map_err(|e| AutotabError::io(&dir, e))?;
    let data_path = dir.join(REPORT_DATA_FILE);
    let json = serde_json::to_vec(data)
        .map_err(|e| AutotabError::Report(format!("cannot encode the report data: {e}")))?;
    write_file(&data_path, &json)?;
    let html = build_report(workspace, run_id)?;
    let path = dir.join(REPORT_FILE);
    write_file(&path, html.as_bytes())?;
    Ok(path)
}

/// Writes `bytes` beside `path` and renames it into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| AutotabError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AutotabError::io(path, e))
}

/// The report of parent run `run_id`, from its recorded `report_data.json` and the store.
pub fn build_report(workspace: &Workspace, run_id: &str) -> Result<String> {
    let run = workspace.get_run(run_id)?;
    if let Some(parent) = &run.parent {
        return Err(AutotabError::Report(format!(
            "{run_id} is a child run (one trial); give its parent run {parent}"
        )));
    }
    let path = workspace.artifacts_dir(run_id).join(REPORT_DATA_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AutotabError::Report(format!(
                "run {run_id} (status {}) has no report data: expected {}, which a run writes when it completes",
                run.summary.status,
                path.display()
            )))
        }
        Err(e) => return Err(AutotabError::io(&path, e)),
    };
    let data: ReportData = serde_json::from_slice(&bytes).map_err(|e| {
        AutotabError::Report(format!(
            "{} is not readable report data: {e}",
            path.display()
        ))
    })?;
    if data.format_version > FORMAT_VERSION {
        return Err(AutotabError::Report(format!(
            "{} has format version {}, newer than this autotab reads ({FORMAT_VERSION})",
            path.display(),
            data.format_version
        )));
    }
    render(&data, &run)
}
