//! Subcommands. Each file parses its flags, calls the library and prints.

mod data;
mod explain;
mod forecast;
mod mlflow;
mod models;
mod output;
mod predict;
mod progress;
mod report;
mod run;
mod runs;
mod serve;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use autotab::{Workspace, WorkspaceLocation};
use clap::{Parser, Subcommand};

/// autotab: AutoML for tabular data.
#[derive(Debug, Parser)]
#[command(
    name = "autotab",
    version,
    about = "AutoML for tabular data: featurize, search, register, serve"
)]
pub struct Cli {
    /// Workspace: a folder (runs, models and artifacts in it), or a shared PostgreSQL
    /// database `postgres://user@host:port/db` (with --artifacts).
    #[arg(
        long,
        global = true,
        env = "AUTOTAB_WORKSPACE",
        default_value = "autotab-workspace"
    )]
    pub workspace: String,
    /// Artifacts of a PostgreSQL workspace (model bundles, run outputs): a folder every
    /// machine using the workspace can read and write, or s3://bucket/prefix (credentials and
    /// endpoint from the AWS_* variables). A folder workspace keeps its own.
    #[arg(long, global = true, env = "AUTOTAB_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--workspace` and `--artifacts` as given, resolved into a [`WorkspaceLocation`] only when
/// a command uses the workspace (so `predict` on a bundle folder never fails on them).
#[derive(Debug, Clone)]
pub struct WorkspaceArg {
    workspace: String,
    artifacts: Option<PathBuf>,
}

impl WorkspaceArg {
    /// Where the workspace is.
    pub fn location(&self) -> autotab::Result<WorkspaceLocation> {
        WorkspaceLocation::parse(&self.workspace, self.artifacts.as_deref())
    }

    /// Opens the workspace, creating it if missing.
    pub fn open(&self) -> autotab::Result<Workspace> {
        Workspace::open_at(&self.location()?)
    }

    /// Opens an existing workspace (nothing is created).
    pub fn open_existing(&self) -> autotab::Result<Workspace> {
        Workspace::open_existing_at(&self.location()?)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Search algorithms and hyperparameters for a table and save the best pipeline.
    Run(Box<run::RunArgs>),
    /// Score a table with a saved model.
    Predict(predict::PredictArgs),
    /// Serve a model over HTTP: POST /score, GET /health, GET /swagger.json.
    Serve(serve::ServeArgs),
    /// Score JSON-lines requests from stdin (the process behind the generated score.py).
    ScoreWorker(serve::ScoreWorkerArgs),
    /// Recorded runs: list, show, export to MLflow.
    Runs(runs::RunsArgs),
    /// Registered models: list, show, register, delete.
    Models(models::ModelsArgs),
    /// Registered datasets: register, list, show.
    Data(data::DataArgs),
    /// Per-row TreeSHAP contributions of a tree model per raw column (and permutation
    /// importance when the table holds the label).
    Explain(explain::ExplainArgs),
    /// Claim and run the trials of runs submitted with `run --submit` to a shared PostgreSQL
    /// workspace (and coordinate those runs), until idle for --idle-exit.
    Worker(worker::WorkerArgs),
    /// Write a run's HTML report (summary, data, leaderboard, search progress, model
    /// quality charts, feature importance) to a file.
    Report(report::ReportArgs),
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let workspace = WorkspaceArg {
        workspace: cli.workspace,
        artifacts: cli.artifacts,
    };
    let workspace = &workspace;
    match cli.command {
        Command::Run(args) => run::execute(*args, workspace),
        Command::Predict(args) => predict::execute(args, workspace),
        Command::Serve(args) => serve::execute(args, workspace),
        Command::ScoreWorker(args) => serve::execute_worker(args, workspace),
        Command::Runs(args) => runs::execute(args, workspace),
        Command::Models(args) => models::execute(args, workspace),
        Command::Data(args) => data::execute(args, workspace),
        Command::Explain(args) => explain::execute(args, workspace),
        Command::Report(args) => report::execute(args, workspace),
        Command::Worker(args) => worker::execute(args, workspace),
    }
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
