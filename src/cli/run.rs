//! `autotab run`: the AutoML job.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;

use autotab::data::ColumnKind;
use autotab::engine::{RunObserver, RunStart};
use autotab::ensemble::EnsembleRecord;
use autotab::experiment::{run_tracked, Registration};
use autotab::featurize::{FeaturizationMode, Guardrail};
use autotab::job::{parse_duration, JobSpec};
use autotab::metrics::Metric;
use autotab::models::Algorithm;
use autotab::search::{TrialRecord, TrialStatus};
use autotab::task::Task;
use autotab::tracking::{RunId, RunStatus, Workspace};

use super::output;

/// Flags of `autotab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job file (YAML with Azure ML AutoML keys); flags given too override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Training table (CSV or Parquet).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Label column.
    #[arg(long)]
    label: Option<String>,
    /// classification, regression (default: inferred from the label).
    #[arg(long)]
    task: Option<String>,
    /// Primary metric, Azure name (AUC_weighted, accuracy, r2_score, ...).
    #[arg(long)]
    metric: Option<String>,
    /// Hard time budget: 90, 90s, 2m, 1h30m.
    #[arg(long)]
    timeout: Option<String>,
    /// Longest one trial may run.
    #[arg(long)]
    trial_timeout: Option<String>,
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
    /// Experiment name.
    #[arg(long)]
    experiment: Option<String>,
    /// Force a column kind: name=categorical (repeatable).
    #[arg(long = "column-kind", value_name = "NAME=KIND")]
    column_kinds: Vec<String>,
    /// Only these algorithms (comma-separated).
    #[arg(long, value_delimiter = ',')]
    allowed_algorithms: Vec<String>,
    /// Never these algorithms (comma-separated).
    #[arg(long, value_delimiter = ',')]
    blocked_algorithms: Vec<String>,
    /// Featurization: auto or off.
    #[arg(long)]
    featurization: Option<String>,
    /// Turn experiment-level early stopping off.
    #[arg(long)]
    no_early_stopping: bool,
    /// Early stopping: never before this many trials.
    #[arg(long)]
    early_stopping_min_trials: Option<usize>,
    /// Early stopping: trials without improvement before stopping.
    #[arg(long)]
    early_stopping_patience: Option<usize>,
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
    /// Print one JSON summary object as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Print less: no per-trial lines.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn job_spec(&self) -> anyhow::Result<JobSpec> {
        let mut spec = match &self.config {
            Some(path) => JobSpec::from_yaml_file(path)?,
            None => {
                let data = self
                    .data
                    .clone()
                    .context("--data is required (or --config)")?;
                let label = self
                    .label
                    .clone()
                    .context("--label is required (or --config)")?;
                JobSpec::new(data, label)
            }
        };
        if self.config.is_some() {
            if let Some(d) = &self.data {
                spec.training_data = d.clone();
            }
            if let Some(l) = &self.label {
                spec.label = l.clone();
            }
        }
        if let Some(t) = &self.task {
            spec.task = Some(Task::parse(t)?);
        }
        if let Some(m) = &self.metric {
            spec.metric = Some(Metric::parse(m)?);
        }
        if let Some(t) = &self.timeout {
            spec.timeout = parse_duration(t)?;
        }
        if let Some(t) = &self.trial_timeout {
            spec.trial_timeout = Some(parse_duration(t)?);
        }
        if self.max_trials.is_some() {
            spec.max_trials = self.max_trials;
        }
        if let Some(c) = self.max_concurrent_trials {
            spec.max_concurrent_trials = c;
        }
        if self.n_cross_validations.is_some() {
            spec.n_cross_validations = self.n_cross_validations;
        }
        if self.validation_size.is_some() {
            spec.validation_size = self.validation_size;
        }
        if self.validation_data.is_some() {
            spec.validation_data = self.validation_data.clone();
        }
        if let Some(e) = &self.experiment {
            spec.experiment = e.clone();
        }
        for item in &self.column_kinds {
            let (name, kind) = item
                .split_once('=')
                .with_context(|| format!("--column-kind '{item}' must be NAME=KIND"))?;
            spec.column_kinds
                .insert(name.to_string(), ColumnKind::parse(kind)?);
        }
        if !self.allowed_algorithms.is_empty() {
            spec.allowed_algorithms = Some(parse_algorithms(&self.allowed_algorithms)?);
        }
        if !self.blocked_algorithms.is_empty() {
            spec.blocked_algorithms = parse_algorithms(&self.blocked_algorithms)?;
        }
        if let Some(f) = &self.featurization {
            spec.featurization = FeaturizationMode::parse(f)?;
        }
        if self.no_early_stopping {
            spec.early_stopping = None;
        } else if self.early_stopping_min_trials.is_some() || self.early_stopping_patience.is_some()
        {
            let mut es = spec.early_stopping.unwrap_or_default();
            es.min_trials = self.early_stopping_min_trials.unwrap_or(es.min_trials);
            es.patience = self.early_stopping_patience.unwrap_or(es.patience);
            spec.early_stopping = Some(es);
        }
        if let Some(s) = self.seed {
            spec.seed = s;
        }
        Ok(spec)
    }
}

fn parse_algorithms(names: &[String]) -> anyhow::Result<Vec<Algorithm>> {
    Ok(names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| Algorithm::parse(n.trim()))
        .collect::<autotab::Result<Vec<_>>>()?)
}

/// Prints progress to stdout as the run goes, and remembers the run id for Ctrl-C.
struct Printer {
    quiet: bool,
    run_id: Arc<Mutex<Option<String>>>,
}

impl RunObserver for Printer {
    fn schema(&mut self, start: &RunStart) {
        let schema = start.schema;
        println!(
            "task: {}   metric: {}   validation: {}   rows: {}",
            start.task, start.metric, start.validation, start.rows
        );
        println!(
            "schema ({} columns besides the label '{}'):",
            schema.columns.len(),
            schema.label
        );
        for c in &schema.columns {
            println!(
                "  {:<28} {:<12} missing {:>6}  distinct {:>7}  {}",
                c.name,
                c.kind.name(),
                c.missing,
                c.distinct,
                c.reason
            );
        }
    }

    fn guardrails(&mut self, guardrails: &[Guardrail]) {
        println!("data guardrails:");
        for g in guardrails {
            println!(
                "  [{}] {}: {}",
                output::guardrail_status(g),
                g.name,
                g.message
            );
        }
        if !self.quiet {
            println!("trials:");
        }
    }

    fn trial(&mut self, t: &TrialRecord) {
        if self.quiet {
            return;
        }
        println!("  {}", output::trial_line(t));
        let _ = std::io::stdout().flush();
    }

    fn ensemble(&mut self, e: &EnsembleRecord, _trials: &[TrialRecord]) {
        if !self.quiet {
            let members: Vec<String> = e
                .members
                .iter()
                .map(|m| format!("#{} x{:.2}", m.trial, m.weight))
                .collect();
            println!(
                "  #{:<4} {:<20} {:.4} ± {:.4}  members {}",
                e.index,
                e.kind.name(),
                e.score,
                e.score_std,
                members.join(", ")
            );
        }
    }

    fn message(&mut self, message: &str) {
        if !self.quiet {
            println!("  .. {message}");
        }
    }

    fn run_started(&mut self, run_id: &str) {
        println!("run: {run_id}");
        if let Ok(mut slot) = self.run_id.lock() {
            *slot = Some(run_id.to_string());
        }
    }
}

/// On Ctrl-C, marks the run `canceled` (finished trials stay recorded) and exits with 130.
fn cancel_on_ctrl_c(workspace: &Path, run_id: Arc<Mutex<Option<String>>>) {
    let root = workspace.to_path_buf();
    let _ = ctrlc::set_handler(move || {
        let id = run_id.lock().ok().and_then(|s| s.clone());
        if let (Some(id), Ok(ws)) = (id, Workspace::open(&root)) {
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

/// Runs the job in the workspace, saves (and registers) the bundle, prints the leaderboard
/// and, with --json, the summary.
pub fn execute(args: RunArgs, workspace_dir: &Path) -> anyhow::Result<ExitCode> {
    let spec = args.job_spec()?;
    let register = match &args.register {
        Some(name) => Some(Registration {
            name: name.clone(),
            description: args.description.clone(),
            tags: parse_tags(&args.tags)?,
        }),
        None => None,
    };
    let workspace = Workspace::open(workspace_dir)?;
    println!(
        "autotab run: {} (label '{}', budget {:.0}s, {} concurrent trial(s))",
        spec.training_data.display(),
        spec.label,
        spec.timeout.as_secs_f64(),
        spec.max_concurrent_trials
    );
    let run_id = Arc::new(Mutex::new(None));
    cancel_on_ctrl_c(workspace_dir, Arc::clone(&run_id));
    let mut printer = Printer {
        quiet: args.quiet,
        run_id,
    };
    let tracked = run_tracked(
        &spec,
        &workspace,
        args.output.as_deref(),
        register.as_ref(),
        &mut printer,
    )?;
    let outcome = &tracked.outcome;
    let leaderboard = outcome.leaderboard();
    println!(
        "leaderboard (best {} of {} trials):",
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
        "best: {} {} = {:.4} (trial {}), refit on {} rows in {:.2}s; {} trial(s) failed or timed out; stopped by {:?}",
        outcome.winner.learner,
        outcome.metric,
        outcome.winner.score,
        outcome.winner.index,
        outcome.n_rows,
        outcome.refit_s,
        failed,
        outcome.stop_reason
    );
    println!("model saved to {}", tracked.model_dir.display());
    if let Some(v) = &tracked.registered {
        println!("registered model {}:{}", v.name, v.version);
    }
    println!("elapsed: {:.1}s", outcome.elapsed_s);
    if args.json {
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
        if let Some(v) = &tracked.registered {
            summary["registered_model"] = serde_json::json!(format!("{}:{}", v.name, v.version));
        }
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
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
