//! `autotab report`: a recorded run's HTML report written to a file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::WorkspaceArg;

/// Flags of `autotab report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The parent run's id (`autotab runs list` shows them).
    run_id: String,
    /// Where to write the report (one self-contained HTML file).
    #[arg(long, short)]
    output: PathBuf,
}

/// Builds the report of the run from the workspace and writes it to `--output`.
pub fn execute(args: ReportArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let ws = workspace.open_existing()?;
    let html = autotab::report::build_report(&ws, &args.run_id)?;
    std::fs::write(&args.output, html)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("report written to {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
