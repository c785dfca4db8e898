//! Forecasting in the CLI: the flags mirroring Azure's `forecasting:` keys, `autotab run
//! --task forecasting` (printing, the workspace record, the bundle) and forecasting bundles in
//! `autotab predict`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use autotab::data::{format_number, load_table_with_report, LoadOptions};
use autotab::engine::forecast::{run_forecasting, ForecastOutcome};
use autotab::engine::RunObserver;
use autotab::featurize::Guardrail;
use autotab::forecast::forecaster::ForecasterSpec;
use autotab::forecast::search::{ranked, ForecastTrial};
use autotab::forecast::ForecastModel;
use autotab::job::{AutoOr, JobSpec};
use autotab::metrics::Metric;
use autotab::task::Task;
use autotab::tracking::{ChildRunRecord, DataFingerprint, RunStatus, Workspace};

use super::output;

/// Forecasting flags of `autotab run` (Azure's `forecasting:` keys; flags win over the file).
#[derive(Debug, Args, Default)]
pub struct ForecastFlags {
    /// Time column (forecasting.time_column_name); implies --task forecasting.
    #[arg(long)]
    time_column: Option<String>,
    /// Steps to forecast (forecasting.forecast_horizon).
    #[arg(long)]
    horizon: Option<usize>,
    /// Columns identifying a series, comma-separated (time_series_id_column_names).
    #[arg(long, value_delimiter = ',')]
    grain: Vec<String>,
    /// Frequency, pandas style: H, D, W-THU, MS, ME, QS, YS (default: inferred).
    #[arg(long)]
    frequency: Option<String>,
    /// Target lags: auto or a list such as 1,2,7.
    #[arg(long)]
    target_lags: Option<String>,
    /// Rolling window over the target: auto or a size.
    #[arg(long)]
    target_rolling_window_size: Option<String>,
    /// Season length: auto or a number.
    #[arg(long)]
    seasonality: Option<String>,
    /// Steps between rolling origins: auto or a number.
    #[arg(long)]
    cv_step_size: Option<String>,
    /// Short series: auto, pad, drop or none.
    #[arg(long)]
    short_series_handling_config: Option<String>,
    /// Duplicate time stamps combined by sum, mean, min or max (refused when absent).
    #[arg(long)]
    target_aggregate_function: Option<String>,
    /// Lags of the known features: auto or none.
    #[arg(long)]
    feature_lags: Option<String>,
}

fn auto_or_number(flag: &str, value: &str) -> anyhow::Result<AutoOr<usize>> {
    if value.trim().eq_ignore_ascii_case("auto") {
        return Ok(AutoOr::Auto);
    }
    value
        .trim()
        .parse()
        .map(AutoOr::Value)
        .with_context(|| format!("{flag} '{value}': expected auto or a whole number"))
}

impl ForecastFlags {
    /// Merges the flags into `spec.forecasting` (and sets the task when a time column is
    /// given without one).
    pub fn apply(&self, spec: &mut JobSpec) -> anyhow::Result<()> {
        let given = self.time_column.is_some()
            || self.horizon.is_some()
            || !self.grain.is_empty()
            || self.frequency.is_some()
            || self.target_lags.is_some()
            || self.target_rolling_window_size.is_some()
            || self.seasonality.is_some()
            || self.cv_step_size.is_some()
            || self.short_series_handling_config.is_some()
            || self.target_aggregate_function.is_some()
            || self.feature_lags.is_some();
        if !given {
            return Ok(());
        }
        let f = spec.forecasting.get_or_insert_with(Default::default);
        if let Some(t) = &self.time_column {
            f.time_column_name = Some(t.clone());
        }
        if let Some(h) = self.horizon {
            f.forecast_horizon = Some(AutoOr::Value(h));
        }
        if !self.grain.is_empty() {
            f.time_series_id_column_names = self.grain.clone();
        }
        if let Some(v) = &self.frequency {
            f.frequency = Some(v.clone());
        }
        if let Some(v) = &self.target_lags {
            f.target_lags = Some(if v.trim().eq_ignore_ascii_case("auto") {
                AutoOr::Auto
            } else {
                AutoOr::Value(
                    v.split(',')
                        .map(|l| l.trim().parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                        .with_context(|| {
                            format!("--target-lags '{v}': expected auto or numbers such as 1,2,7")
                        })?,
                )
            });
        }
        if let Some(v) = &self.target_rolling_window_size {
            f.target_rolling_window_size = Some(auto_or_number("--target-rolling-window-size", v)?);
        }
        if let Some(v) = &self.seasonality {
            f.seasonality = Some(auto_or_number("--seasonality", v)?);
        }
        if let Some(v) = &self.cv_step_size {
            f.cv_step_size = Some(auto_or_number("--cv-step-size", v)?);
        }
        if let Some(v) = &self.short_series_handling_config {
            f.short_series_handling_config = Some(v.clone());
        }
        if let Some(v) = &self.target_aggregate_function {
            f.target_aggregate_function = Some(v.clone());
        }
        if let Some(v) = &self.feature_lags {
            f.feature_lags = Some(v.clone());
        }
        if spec.task.is_none() && self.time_column.is_some() {
            spec.task = Some(Task::Forecasting);
        }
        Ok(())
    }
}

/// How a forecasting run prints as it goes.
struct Printer {
    quiet: bool,
}

impl RunObserver for Printer {
    fn guardrails(&mut self, guardrails: &[Guardrail]) {
        output::print_guardrails(guardrails, self.quiet);
    }

    fn message(&mut self, message: &str) {
        if !self.quiet {
            println!("  {message}");
            let _ = std::io::stdout().flush();
        }
    }
}

/// Records a forecasting run in the workspace (parent run, metrics, summary, every trial as a
/// child run once the search is over), saves the bundle and prints the result.
pub fn execute_run(
    spec: &JobSpec,
    workspace_dir: &Path,
    output_dir: Option<&Path>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::open(workspace_dir)?;
    let path = spec.data.training.path();
    let fingerprint =
        DataFingerprint::of_file(path, 0, 0, serde_json::Value::Null).or_else(|_| {
            DataFingerprint::of_file(&path.join("MLTable"), 0, 0, serde_json::Value::Null)
        })?;
    let run_id = workspace.start_run(
        &spec.experiment,
        &serde_json::to_value(spec).unwrap_or_default(),
        &fingerprint,
    )?;
    println!("run: {}", run_id.as_str());
    let mut printer = Printer { quiet };
    let outcome = match run_forecasting(spec, &mut printer) {
        Ok(o) => o,
        Err(e) => {
            let _ = workspace.finish_run(
                &run_id,
                RunStatus::Failed,
                &serde_json::json!({"error": e.to_string()}),
            );
            return Err(e.into());
        }
    };
    let model_dir: PathBuf = match output_dir {
        Some(d) => d.to_path_buf(),
        None => workspace.artifacts_dir(run_id.as_str()).join("model"),
    };
    autotab::scoring::forecast::save_forecast_bundle(&model_dir, &outcome.model)?;
    for trial in &outcome.trials {
        workspace.log_child_run(&run_id, &child_record(trial, outcome.metric))?;
    }
    workspace.log_metric(&run_id, outcome.metric.name(), outcome.model.score)?;
    for (name, value) in &outcome.cv_metrics {
        if value.is_finite() {
            workspace.log_metric(&run_id, &format!("cv_pooled_{name}"), *value)?;
        }
    }
    let summary = summary_json(spec, run_id.as_str(), &outcome, &model_dir);
    workspace.finish_run(&run_id, RunStatus::Completed, &summary)?;
    match autotab::report::ReportData::of_forecast(spec, &outcome) {
        Ok(data) => {
            autotab::experiment::write_report(&workspace, run_id.as_str(), &data, &mut printer);
        }
        Err(e) => printer.message(&format!("warning: the run report was not written: {e}")),
    }
    print_result(&outcome, &model_dir);
    if json {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The workspace record of one forecasting trial: the method, its settings (a learner's
/// hyperparameters, or the method's settings line), and its mean and per-fold scores.
fn child_record(t: &ForecastTrial, metric: Metric) -> ChildRunRecord {
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

fn print_result(outcome: &ForecastOutcome, model_dir: &Path) {
    let board = ranked(&outcome.trials, outcome.metric);
    println!(
        "leaderboard (best {} of {} trials):",
        board.len().min(10),
        outcome.trials.len()
    );
    for t in board.iter().take(10) {
        println!(
            "  {}",
            autotab::engine::forecast::trial_line(t, outcome.metric)
        );
    }
    let winner = outcome.winner();
    println!(
        "best: {} {} = {:.4} (trial {}), refit in {:.2}s; stopped by {:?}",
        winner.forecaster.name(),
        outcome.metric,
        outcome.model.score,
        winner.index,
        outcome.refit_s,
        outcome.stop
    );
    let pooled: Vec<String> = outcome
        .cv_metrics
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    println!("cross-validated (folds pooled): {}", pooled.join(", "));
    println!("model saved to {}", model_dir.display());
    println!("elapsed: {:.1}s", outcome.elapsed_s);
}

fn summary_json(
    spec: &JobSpec,
    run_id: &str,
    outcome: &ForecastOutcome,
    model_dir: &Path,
) -> serde_json::Value {
    serde_json::json!({
        "experiment": spec.experiment,
        "run_id": run_id,
        "task": Task::Forecasting.name(),
        "metric": outcome.metric.name(),
        "best_score": outcome.model.score,
        "best_algorithm": outcome.winner().forecaster.name(),
        "trials": outcome.trials.len(),
        "elapsed_s": (outcome.elapsed_s * 1000.0).round() / 1000.0,
        "model_path": model_dir.display().to_string(),
    })
}

/// `autotab predict` on a forecasting bundle: the rows in input order with `prediction` and
/// one `q_<level>` column per asked quantile.
pub fn predict(
    model_dir: &Path,
    data_path: &Path,
    output: Option<&Path>,
    quantiles: &[f64],
) -> anyhow::Result<ExitCode> {
    let model = ForecastModel::load(model_dir)?;
    let (data, report) = load_table_with_report(data_path, &LoadOptions::default())?;
    for note in report.messages(data_path) {
        eprintln!("note: {note}");
    }
    let forecast = model
        .predict(&data, quantiles)
        .with_context(|| format!("forecasting {}", data_path.display()))?;
    let sink: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    let mut id_columns = vec![model.settings.time_column.clone()];
    id_columns.extend(model.settings.grain.iter().cloned());
    let mut header = id_columns.clone();
    header.push("prediction".into());
    header.extend(forecast.quantiles.iter().map(|(q, _)| format!("q_{q}")));
    writer.write_record(&header)?;
    for i in 0..forecast.values.len() {
        let mut row: Vec<String> = id_columns
            .iter()
            .map(|c| {
                data.column(c)
                    .and_then(|col| col.values.text_at(i))
                    .unwrap_or_default()
            })
            .collect();
        row.push(format_number(forecast.values[i]));
        row.extend(forecast.quantiles.iter().map(|(_, v)| format_number(v[i])));
        writer.write_record(&row)?;
    }
    writer.flush()?;
    if let Some(path) = output {
        eprintln!(
            "wrote {} forecasts to {}",
            forecast.values.len(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
