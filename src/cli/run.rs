//! `autotab run`: the AutoML job.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use autotab::data::ColumnKind;
use autotab::engine::{RunObserver, RunStart};
use autotab::ensemble::EnsembleRecord;
use autotab::experiment::{run_tracked, Registration, TrackedRun};
use autotab::featurize::{FeaturizationMode, Guardrail};
use autotab::job::{load_job_file, parse_duration, FinalModel, JobOverrides, JobSpec, LoadedJob};
use autotab::metrics::Metric;
use autotab::pipeline::FinalFit;
use autotab::registry::validate_name;
use autotab::search::{EarlyStopping, TrialRecord, TrialStatus};
use autotab::task::Task;
use autotab::tracking::{RunId, RunStatus, Workspace, WorkspaceLocation};

use super::output;
use super::WorkspaceArg;

/// Flags of `autotab run`. Every job flag fills one field of [`JobOverrides`]; given with
/// `--config`, flags win over the file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job file (YAML with Azure ML AutoML job keys); flags given too override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training table (CSV, Parquet or an MLTable folder).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Label column.
    #[arg(long)]
    label: Option<String>,
    /// classification, regression (default: inferred from the label).
    #[arg(long, value_parser = parse_task)]
    task: Option<Task>,
    /// Primary metric, Azure name (AUC_weighted, accuracy, r2_score, ...).
    #[arg(long, value_parser = parse_metric)]
    metric: Option<Metric>,
    /// Hard time budget: 90, 90s, 2m, 1h30m.
    #[arg(long, value_parser = parse_time)]
    timeout: Option<Duration>,
    /// Longest one trial may run.
    #[arg(long, value_parser = parse_time)]
    trial_timeout: Option<Duration>,
    /// Most trials.
    #[arg(long)]
    max_trials: Option<usize>,
    /// Most trials at once.
    #[arg(long)]
    max_concurrent_trials: Option<usize>,
    /// Number of cross-validation folds.
    #[arg(long)]
    n_cross_validations: Option<usize>,
    /// Holdout share of rows instead of cross-validation.
    #[arg(long)]
    validation_size: Option<f64>,
    /// Separate validation table.
    #[arg(long)]
    validation_data: Option<PathBuf>,
    /// Test table: the final model is scored on it after the run (metrics `test_<metric>`).
    #[arg(long)]
    test_data: Option<PathBuf>,
    /// Experiment name.
    #[arg(long)]
    experiment: Option<String>,
    /// Force a column kind: name=categorical (repeatable).
    #[arg(long = "column-kind", value_name = "NAME=KIND", value_parser = parse_column_kind)]
    column_kinds: Vec<(String, ColumnKind)>,
    /// Only these algorithms (comma-separated; Azure's names are accepted).
    #[arg(long, value_delimiter = ',')]
    allowed_algorithms: Vec<String>,
    /// Never these algorithms (comma-separated).
    #[arg(long, value_delimiter = ',')]
    blocked_algorithms: Vec<String>,
    /// Featurization: auto or off.
    #[arg(long, value_parser = parse_featurization)]
    featurization: Option<FeaturizationMode>,
    /// Experiment-level early stopping: convergence (the default: stop once the best score
    /// stopped improving for half the run), azure (Azure's count rule) or off.
    #[arg(long, value_name = "RULE", value_parser = parse_early_stopping)]
    early_stopping: Option<EarlyStoppingArg>,
    /// Turn experiment-level early stopping off (same as `--early-stopping off`).
    #[arg(long, conflicts_with = "early_stopping")]
    no_early_stopping: bool,
    /// Azure's early stopping rule: never before this many trials (selects that rule).
    #[arg(long)]
    early_stopping_min_trials: Option<usize>,
    /// Azure's early stopping rule: trials without improvement before stopping (selects that
    /// rule).
    #[arg(long)]
    early_stopping_patience: Option<usize>,
    /// What to ship: auto (the folds' models averaged under cross-validation of 5 folds or
    /// more, a refit on all rows otherwise), bagged (the folds' models), or refit (one model on
    /// all rows).
    #[arg(long, value_name = "CHOICE", value_parser = parse_final_model)]
    final_model: Option<FinalModel>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to save the model bundle (default: inside the workspace).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Register the best model under this name (next version if it exists).
    #[arg(long)]
    register: Option<String>,
    /// Tag of the registered model: key=value (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Description of the registered model.
    #[arg(long)]
    description: Option<String>,
    /// Queue the run in a shared PostgreSQL workspace instead of running it here: prints its
    /// run id and returns; `autotab worker` processes claim and run it (data paths must be
    /// readable by every worker).
    #[arg(long)]
    submit: bool,
    /// Print one JSON summary object as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Print less: no per-trial lines.
    #[arg(long, short)]
    quiet: bool,
    /// Log the run to this MLflow tracking server (http://host:port) when it ends; a failed
    /// export is a warning (retry with `autotab runs export`).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    mlflow_tracking_uri: Option<String>,
    #[command(flatten)]
    forecast: super::forecast::ForecastFlags,
}

fn parse_task(s: &str) -> Result<Task, String> {
    Task::parse(s).map_err(|e| e.to_string())
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    Metric::parse(s).map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// The value of `--early-stopping`: a rule, or `None` for `off`. (A newtype: clap reads a
/// field of type `Option<Option<T>>` as a flag whose value may be left out.)
#[derive(Debug, Clone, Copy, PartialEq)]
struct EarlyStoppingArg(Option<EarlyStopping>);

fn parse_early_stopping(s: &str) -> Result<EarlyStoppingArg, String> {
    EarlyStopping::parse(s)
        .map(EarlyStoppingArg)
        .map_err(|e| e.to_string())
}

fn parse_final_model(s: &str) -> Result<FinalModel, String> {
    FinalModel::parse(s).map_err(|e| e.to_string())
}

fn parse_featurization(s: &str) -> Result<FeaturizationMode, String> {
    FeaturizationMode::parse(s).map_err(|e| e.to_string())
}

fn parse_column_kind(s: &str) -> Result<(String, ColumnKind), String> {
    let (name, kind) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' must be NAME=KIND"))?;
    let kind = ColumnKind::parse(kind).map_err(|e| e.to_string())?;
    Ok((name.to_string(), kind))
}

impl RunArgs {
    /// The command-line values, for [`JobSpec::apply`].
    fn overrides(&self) -> JobOverrides {
        let list = |names: &Vec<String>| (!names.is_empty()).then(|| names.clone());
        JobOverrides {
            data: self.data.clone(),
            label: self.label.clone(),
            task: self.task,
            metric: self.metric,
            timeout: self.timeout,
            trial_timeout: self.trial_timeout,
            max_trials: self.max_trials,
            max_concurrent_trials: self.max_concurrent_trials,
            n_cross_validations: self.n_cross_validations,
            validation_size: self.validation_size,
            validation_data: self.validation_data.clone(),
            test_data: self.test_data.clone(),
            experiment: self.experiment.clone(),
            column_kinds: self.column_kinds.clone(),
            allowed_algorithms: list(&self.allowed_algorithms),
            blocked_algorithms: list(&self.blocked_algorithms),
            featurization: self.featurization,
            early_stopping: if self.no_early_stopping {
                Some(None)
            } else {
                self.early_stopping.map(|rule| rule.0)
            },
            early_stopping_min_trials: self.early_stopping_min_trials,
            early_stopping_patience: self.early_stopping_patience,
            final_model: self.final_model,
            seed: self.seed,
        }
    }

    /// The job: the file (if any) with the flags merged over it, and the notes to print.
    fn job_spec(&self) -> anyhow::Result<(JobSpec, Vec<String>)> {
        Ok(match &self.config {
            Some(path) => {
                let LoadedJob {
                    mut spec,
                    mut notes,
                } = load_job_file(path)?;
                notes.extend(spec.apply(self.overrides())?);
                (spec, notes)
            }
            None => JobSpec::from_overrides(self.overrides())?,
        })
    }

    /// The registration asked for by `--register`, with its name checked up front: a bad
    /// name must not cost a whole search.
    fn registration(&self) -> anyhow::Result<Option<Registration>> {
        let Some(name) = &self.register else {
            return Ok(None);
        };
        let registration = Registration {
            name: name.clone(),
            description: self.description.clone(),
            tags: parse_tags(&self.tags)?,
        };
        validate_name(&registration.name).context("--register")?;
        Ok(Some(registration))
    }
}

/// Prints progress to stdout as the run goes, and remembers the run id for Ctrl-C.
struct Printer {
    quiet: bool,
    progress: super::progress::Progress,
    run_id: Arc<Mutex<Option<String>>>,
}

impl RunObserver for Printer {
    fn schema(&mut self, start: &RunStart) {
        self.progress.set_metric(start.metric);
        let schema = start.schema;
        self.progress.println(&format!(
            "task: {}   metric: {}   validation: {}   rows: {}",
            start.task, start.metric, start.validation, start.rows
        ));
        self.progress.println(&format!(
            "schema ({} columns besides the label '{}'):",
            schema.columns.len(),
            schema.label
        ));
        for c in &schema.columns {
            self.progress.println(&format!(
                "  {:<28} {:<12} missing {:>6}  distinct {:>7}  {}",
                c.name,
                c.kind.name(),
                c.missing,
                c.distinct,
                c.reason
            ));
        }
    }

    fn guardrails(&mut self, guardrails: &[Guardrail]) {
        if self.progress.is_shown() {
            self.progress
                .suspend(|| output::print_guardrails(guardrails, self.quiet));
            return;
        }
        output::print_guardrails(guardrails, self.quiet);
    }

    fn trial(&mut self, t: &TrialRecord) {
        self.progress.trial(t);
        if self.quiet {
            return;
        }
        self.progress
            .println(&format!("  {}", output::trial_line(t)));
        let _ = std::io::stdout().flush();
    }

    fn ensemble(&mut self, e: &EnsembleRecord, _trials: &[TrialRecord]) {
        if !self.quiet {
            let members: Vec<String> = match &e.meta {
                Some(_) => e.members.iter().map(|m| format!("#{}", m.trial)).collect(),
                None => e
                    .members
                    .iter()
                    .map(|m| format!("#{} x{:.2}", m.trial, m.weight))
                    .collect(),
            };
            let meta = e
                .meta
                .as_ref()
                .map(|m| format!(" under {}", m.algorithm))
                .unwrap_or_default();
            self.progress.println(&format!(
                "  #{:<4} {:<20} {:.4} ± {:.4}  members {}{meta}",
                e.index,
                e.kind.name(),
                e.score,
                e.score_std,
                members.join(", ")
            ));
        }
    }

    fn message(&mut self, message: &str) {
        self.progress.stage(message);
        if !self.quiet {
            self.progress.println(&format!("  .. {message}"));
        }
    }

    fn run_started(&mut self, run_id: &str) {
        self.progress.println(&format!("run: {run_id}"));
        if let Ok(mut slot) = self.run_id.lock() {
            *slot = Some(run_id.to_string());
        }
    }
}

/// On Ctrl-C, marks the run `canceled` (finished trials stay recorded) and exits with 130.
fn cancel_on_ctrl_c(workspace: &WorkspaceLocation, run_id: Arc<Mutex<Option<String>>>) {
    let root = workspace.clone();
    let _ = ctrlc::set_handler(move || {
        let id = run_id.lock().ok().and_then(|s| s.clone());
        if let (Some(id), Ok(ws)) = (id, Workspace::open_existing_at(&root)) {
            if let Ok(detail) = ws.get_run(&id) {
                let run = RunId::parse(&detail.summary.id);
                let _ = ws.finish_run(
                    &run,
                    RunStatus::Canceled,
                    &serde_json::json!({"error": "canceled by Ctrl-C"}),
                );
            }
            eprintln!("canceled: run {id} is recorded as canceled");
        }
        std::process::exit(130);
    });
}

/// `run --submit`: queues the job and prints its run id (with --json, `{"run_id": ...}`).
fn submit(
    spec: &JobSpec,
    workspace: &Workspace,
    register: Option<&Registration>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let run_id =
        autotab::distributed::submit(workspace, spec, register).context("cannot submit the run")?;
    if json {
        println!(
            "{}",
            serde_json::json!({"run_id": run_id.as_str(), "status": "queued"})
        );
    } else {
        println!(
            "submitted run {run_id}: {} (label '{}', budget {:.0}s, {} concurrent trial(s) over \
             all workers)",
            spec.data.training,
            spec.data.label,
            spec.limits.timeout.as_secs_f64(),
            spec.limits.max_concurrent_trials
        );
        println!("start workers with: autotab worker --workspace <the same workspace>");
        println!("follow it with:     autotab runs show {run_id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the job in the workspace, saves (and registers) the bundle, prints the leaderboard
/// and, with --json, the summary.
pub fn execute(args: RunArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let (mut spec, notes) = args.job_spec()?;
    let location = workspace.location()?;
    autotab::datasets::resolve_training_data(&location, &mut spec)?;
    args.forecast.apply(&mut spec)?;
    let register = args.registration()?;
    // A bad tracking URI must not cost a whole search either.
    if let Some(uri) = &args.mlflow_tracking_uri {
        super::mlflow::exporter(uri)?;
    }
    let mlflow = args.mlflow_tracking_uri.as_deref();
    if args.submit {
        if args.output.is_some() || mlflow.is_some() {
            anyhow::bail!(
                "--output and --mlflow-tracking-uri are not used with --submit: a submitted \
                 run's bundle goes into its artifacts (export it later with `autotab runs \
                 export`)"
            );
        }
        let workspace = Workspace::open_at(&location)?;
        return submit(&spec, &workspace, register.as_ref(), args.json);
    }
    if spec.task == Some(Task::Forecasting) {
        for note in &notes {
            println!("  note: {note}");
        }
        return super::forecast::execute_run(
            &spec,
            &location,
            args.output.as_deref(),
            register.as_ref(),
            args.json,
            args.quiet,
            mlflow,
        );
    }
    let workspace = Workspace::open_at(&location)?;
    println!(
        "autotab run: {} (label '{}', budget {:.0}s, {} concurrent trial(s))",
        spec.data.training,
        spec.data.label,
        spec.limits.timeout.as_secs_f64(),
        spec.limits.max_concurrent_trials
    );
    for note in &notes {
        println!("  note: {note}");
    }
    let run_id = Arc::new(Mutex::new(None));
    cancel_on_ctrl_c(&location, Arc::clone(&run_id));
    let mut printer = Printer {
        quiet: args.quiet,
        progress: super::progress::Progress::new(spec.limits.timeout, !args.json && !args.quiet),
        run_id: Arc::clone(&run_id),
    };
    let tracked = run_tracked(
        &spec,
        &workspace,
        args.output.as_deref(),
        register.as_ref(),
        &mut printer,
    );
    printer.progress.finish();
    let started = run_id.lock().ok().and_then(|id| id.clone());
    let tracked = match tracked {
        Ok(tracked) => tracked,
        Err(e) => {
            // A run that failed after it started is recorded as failed: log that too.
            if let (Some(uri), Some(id)) = (mlflow, started) {
                super::mlflow::export_after_run(uri, &workspace, &id);
            }
            return Err(e.into());
        }
    };
    print_result(&tracked);
    let exported = mlflow
        .and_then(|uri| super::mlflow::export_after_run(uri, &workspace, tracked.run_id.as_str()));
    if args.json {
        let mut summary = json_summary(&spec, &tracked);
        if let Some(report) = exported {
            summary["mlflow_run_id"] = serde_json::json!(report.mlflow_run_id);
        }
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The leaderboard (top 10), the winner, test metrics and where the model went.
fn print_result(tracked: &TrackedRun) {
    let outcome = &tracked.outcome;
    let leaderboard = outcome.leaderboard();
    let ensembles = match outcome.ensembles.len() {
        0 => String::new(),
        1 => " and 1 ensemble".to_string(),
        n => format!(" and {n} ensembles"),
    };
    println!(
        "leaderboard (best {} of {} trials{ensembles}):",
        leaderboard.entries.len().min(10),
        outcome.trials.len()
    );
    for e in leaderboard.entries.iter().take(10) {
        println!("  {}", output::entry_line(e));
    }
    let failed = outcome
        .trials
        .iter()
        .filter(|t| !matches!(t.status, TrialStatus::Completed))
        .count();
    println!(
        "best: {} {} = {:.4} (trial {}), {} in {:.2}s; {} trial(s) failed or timed out; stopped by {}",
        outcome.winner.learner,
        outcome.metric,
        outcome.winner.score,
        outcome.winner.index,
        match outcome.pipeline.fit {
            FinalFit::Refit => format!("refit on {} rows", outcome.n_rows),
            fit => fit.describe(),
        },
        outcome.refit_s,
        failed,
        outcome.stop_reason
    );
    for (metric, value) in &tracked.test_metrics {
        println!("test {}: {:.4}", metric.name(), value);
    }
    println!("model saved to {}", tracked.model_dir.display());
    if let Some(v) = &tracked.registered {
        println!("registered model {}:{}", v.name, v.version);
    }
    println!("elapsed: {:.1}s", outcome.elapsed_s);
}

/// The one-line JSON summary printed with `--json`.
fn json_summary(spec: &JobSpec, tracked: &TrackedRun) -> serde_json::Value {
    let outcome = &tracked.outcome;
    let mut summary = serde_json::json!({
        "experiment": spec.experiment,
        "run_id": tracked.run_id.as_str(),
        "task": outcome.task.name(),
        "metric": outcome.metric.name(),
        "best_score": outcome.winner.score,
        "best_algorithm": outcome.winner.learner.name(),
        "trials": outcome.trials.len(),
        "elapsed_s": (outcome.elapsed_s * 1000.0).round() / 1000.0,
        "model_path": tracked.model_dir.display().to_string(),
    });
    if !tracked.test_metrics.is_empty() {
        summary["test_metrics"] = tracked
            .test_metrics
            .iter()
            .map(|(m, v)| (m.name().to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if let Some(v) = &tracked.registered {
        summary["registered_model"] = serde_json::json!(format!("{}:{}", v.name, v.version));
    }
    summary
}

/// `key=value` pairs.
pub fn parse_tags(items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("--tag '{t}' must be KEY=VALUE"))
        })
        .collect()
}
