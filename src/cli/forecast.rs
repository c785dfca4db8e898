//! Forecasting in the CLI: the flags mirroring Azure's `forecasting:` keys, `autotab run
//! --task forecasting` (printing; `experiment::run_forecasting_tracked` records the run, saves,
//! scores the test data and registers) and forecasting bundles in `autotab predict`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use autotab::data::{format_number, load_table_with_report, LoadOptions};
use autotab::engine::RunObserver;
use autotab::experiment::{run_forecasting_tracked, Registration, TrackedForecast};
use autotab::featurize::Guardrail;
use autotab::forecast::search::ranked;
use autotab::forecast::ForecastModel;
use autotab::job::{AutoOr, JobSpec};
use autotab::task::Task;
use autotab::tracking::{Workspace, WorkspaceLocation};

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

/// How a forecasting run prints as it goes (and the run's id, once recorded).
struct Printer {
    quiet: bool,
    run_id: Option<String>,
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

    fn run_started(&mut self, run_id: &str) {
        println!("run: {run_id}");
        self.run_id = Some(run_id.to_string());
    }
}

/// Runs a forecasting job recorded in the workspace ([`run_forecasting_tracked`]: parent run,
/// metrics, trials as child runs, bundle, test data, registration) and prints the result.
pub fn execute_run(
    spec: &JobSpec,
    location: &WorkspaceLocation,
    output_dir: Option<&Path>,
    register: Option<&Registration>,
    json: bool,
    quiet: bool,
    mlflow: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::open_at(location)?;
    let mut printer = Printer {
        quiet,
        run_id: None,
    };
    let tracked = run_forecasting_tracked(spec, &workspace, output_dir, register, &mut printer);
    let tracked = match tracked {
        Ok(tracked) => tracked,
        Err(e) => {
            // A run that failed after it started is recorded as failed: log that too.
            if let (Some(uri), Some(id)) = (mlflow, printer.run_id.as_deref()) {
                super::mlflow::export_after_run(uri, &workspace, id);
            }
            return Err(e.into());
        }
    };
    print_result(&tracked);
    let exported = mlflow
        .and_then(|uri| super::mlflow::export_after_run(uri, &workspace, tracked.run_id.as_str()));
    if json {
        let mut summary = tracked.summary.clone();
        if let Some(report) = exported {
            summary["mlflow_run_id"] = serde_json::json!(report.mlflow_run_id);
        }
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_result(tracked: &TrackedForecast) {
    let outcome = &tracked.outcome;
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
    for (name, value) in &tracked.test_metrics {
        println!("test {name}: {value:.4}");
    }
    println!("model saved to {}", tracked.model_dir.display());
    if let Some(v) = &tracked.registered {
        println!("registered model {}:{}", v.name, v.version);
    }
    println!("elapsed: {:.1}s", outcome.elapsed_s);
}

/// `autotab predict` on a forecasting bundle: the rows in input order with `prediction` and
/// one `q_<level>` column per asked quantile; with `rolling`, rows beyond the horizon are
/// forecast from the actual values the table gives ([`ForecastModel::predict_rolling`]).
pub fn predict(
    model_dir: &Path,
    data_path: &Path,
    output: Option<&Path>,
    quantiles: &[f64],
    rolling: bool,
) -> anyhow::Result<ExitCode> {
    let model = ForecastModel::load(model_dir)?;
    let (data, report) = load_table_with_report(data_path, &LoadOptions::default())?;
    for note in report.messages(data_path) {
        eprintln!("note: {note}");
    }
    let forecast = if rolling {
        model.predict_rolling(&data, quantiles)
    } else {
        model.predict(&data, quantiles)
    };
    let forecast = forecast.with_context(|| format!("forecasting {}", data_path.display()))?;
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
