//! `autotab runs list|show|export`: the recorded runs of the workspace.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use autotab::metrics::Metric;
use autotab::tracking::{RunDetail, RunListEntry};

use super::WorkspaceArg;

/// `autotab runs ...`
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Parent runs, newest first: status, best score, trials, time.
    List {
        /// Only this experiment.
        #[arg(long)]
        experiment: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: spec, data fingerprint, metrics, and the child-run leaderboard.
    Show {
        /// Run id (parent or child).
        run_id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Log parent runs with their child runs, params, metrics, tags and artifacts to an
    /// MLflow tracking server (its REST API); a run exported before is not duplicated.
    Export {
        /// Parent run ids.
        #[arg(required_unless_present = "experiment", conflicts_with = "experiment")]
        run_ids: Vec<String>,
        /// Export every run of this experiment instead.
        #[arg(long)]
        experiment: Option<String>,
        /// The MLflow tracking server: http://host:port.
        #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
        mlflow_tracking_uri: String,
        /// One JSON array of what each export did instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand.
pub fn execute(args: RunsArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let ws = workspace.open_existing()?;
    match args.command {
        RunsCommand::List { experiment, json } => {
            let runs = ws.list_runs(experiment.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                print_run_table(&runs);
            }
        }
        RunsCommand::Show { run_id, json } => {
            let detail = ws.get_run(&run_id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_run(&detail);
                if !detail.children.is_empty() {
                    print_child_runs(&detail);
                }
            }
        }
        RunsCommand::Export {
            run_ids,
            experiment,
            mlflow_tracking_uri,
            json,
        } => {
            let exporter = super::mlflow::exporter(&mlflow_tracking_uri)?;
            let reports = match experiment {
                Some(name) => exporter.export_experiment(&ws, &name)?,
                None => run_ids
                    .iter()
                    .map(|id| exporter.export_run(&ws, id))
                    .collect::<Result<_, _>>()?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                reports.iter().for_each(super::mlflow::print_report);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `runs list` as a table: one line per parent run.
fn print_run_table(runs: &[RunListEntry]) {
    println!(
        "{:<28} {:<20} {:<12} {:<28} {:>7} {:>7} {:>9}  started",
        "run", "experiment", "status", "best", "trials", "failed", "seconds"
    );
    for r in runs {
        let best = r
            .metrics
            .iter()
            .next()
            .map(|(k, v)| format!("{k}={v:.4}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<20} {:<12} {:<28} {:>7} {:>7} {:>9}  {}",
            r.id,
            r.experiment,
            r.status.to_string(),
            best,
            r.trials,
            r.failed_trials,
            r.duration_secs
                .map(|d| format!("{d:.1}"))
                .unwrap_or_else(|| "-".into()),
            r.started
        );
    }
}

/// `runs show` as text: the run's record, params and metrics (without its child runs).
fn print_run(detail: &RunDetail) {
    let s = &detail.summary;
    println!("run:        {}", s.id);
    println!("experiment: {}", s.experiment);
    println!("status:     {}", s.status);
    println!(
        "started:    {}   ended: {}",
        s.started,
        s.ended.clone().unwrap_or_else(|| "-".into())
    );
    if let Some(parent) = &detail.parent {
        println!("parent:     {parent}");
    }
    if let Some(alg) = &detail.algorithm {
        println!("algorithm:  {alg}");
    }
    if let Some(err) = &detail.error {
        println!("error:      {err}");
    }
    if let Some(fp) = &detail.fingerprint {
        println!(
            "data:       sha256 {} ({} rows, {} columns)",
            fp.sha256, fp.rows, fp.columns
        );
    }
    if let Some(dataset) = detail.params.get("dataset").and_then(|d| d.as_str()) {
        println!("dataset:    {dataset} (registered)");
    }
    if !detail.params.is_empty() {
        println!("params:");
        for (k, v) in &detail.params {
            println!("  {k} = {v}");
        }
    }
    if !s.metrics.is_empty() {
        println!("metrics:");
        for (k, v) in &s.metrics {
            println!("  {k} = {v:.6}");
        }
    }
    for (k, folds) in &detail.fold_metrics {
        let text: Vec<String> = folds.iter().map(|v| format!("{v:.4}")).collect();
        println!("  {k} per fold: {}", text.join(" "));
    }
}

/// The child-run leaderboard of a parent run, best first by [`ranking_metric`].
fn print_child_runs(detail: &RunDetail) {
    let metric = ranking_metric(detail);
    let higher = Metric::parse(&metric)
        .map(|m| m.greater_is_better())
        .unwrap_or(true);
    println!(
        "child runs ({}), best first by {metric}:",
        detail.children.len()
    );
    for c in detail.leaderboard(&metric, higher) {
        let score = c
            .metrics
            .get(&metric)
            .map(|v| format!("{v:.4}"))
            .unwrap_or_else(|| c.status.to_string());
        let params: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  {:<34} {:<20} {:>10} {:>8.2}s  {}",
            c.id,
            c.algorithm,
            score,
            c.duration_secs.unwrap_or(0.0),
            params.join(" ")
        );
    }
}

/// The metric the child runs are ranked by: the run outcome's, else the spec's, else the
/// first metric name a child run recorded.
fn ranking_metric(detail: &RunDetail) -> String {
    let named = |record: Option<&serde_json::Value>| {
        record
            .and_then(|r| r.get("metric"))
            .and_then(|m| m.as_str())
            .map(String::from)
    };
    named(detail.outcome.as_ref())
        .or_else(|| named(detail.spec.as_ref()))
        .or_else(|| {
            detail
                .children
                .iter()
                .find_map(|c| c.metrics.keys().find(|k| Metric::parse(k).is_ok()).cloned())
        })
        .unwrap_or_default()
}
