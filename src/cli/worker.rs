//! `autotab worker`: claims and runs the trials (and coordinates the runs) submitted to a
//! shared PostgreSQL workspace with `autotab run --submit`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use autotab::distributed::{run_worker, WorkerEvent, WorkerOptions};
use autotab::job::parse_duration;
use autotab::search::TrialStatus;

use super::WorkspaceArg;

/// Flags of `autotab worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Trials this worker runs at once.
    #[arg(long, default_value_t = 1)]
    max_concurrent_trials: usize,
    /// Stop after this long with nothing to do (e.g. 30s, 5m); default: run until stopped.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    idle_exit: Option<Duration>,
    /// How long a claim holds without renewal: a trial whose worker died is claimed again
    /// after it.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    lease: Duration,
    /// Name recorded with this worker's claims (default: host:pid).
    #[arg(long)]
    name: Option<String>,
    /// Only run trials; leave coordinating queued runs to other workers.
    #[arg(long)]
    no_coordinate: bool,
    /// Print less: no per-trial lines.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Works until idle for `--idle-exit` (or forever), printing what it does.
pub fn execute(args: WorkerArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let workspace = workspace.open()?;
    if args.lease < Duration::from_secs(1) {
        anyhow::bail!("--lease must be at least 1s");
    }
    let mut options = WorkerOptions::new(args.name.unwrap_or_else(WorkerOptions::default_name));
    options.slots = args.max_concurrent_trials;
    options.idle_exit = args.idle_exit;
    options.lease = args.lease;
    options.coordinate = !args.no_coordinate;
    println!(
        "autotab worker {}: {} trial slot(s), lease {:.0}s, workspace {}",
        options.name,
        options.slots,
        options.lease.as_secs_f64(),
        workspace.location()
    );
    let quiet = args.quiet;
    let print = |event: WorkerEvent<'_>| match event {
        WorkerEvent::TrialClaimed {
            run,
            index,
            algorithm,
            attempt,
        } if !quiet => {
            let again = if attempt > 1 {
                format!(" (claim {attempt}: its first worker stopped)")
            } else {
                String::new()
            };
            println!("  {run} trial {index}: {algorithm} claimed{again}");
        }
        WorkerEvent::TrialFinished {
            record,
            run,
            accepted,
        } if !quiet => {
            let outcome = match (&record.status, record.score) {
                (TrialStatus::Completed, Some(score)) => format!("{score:.4}"),
                (TrialStatus::Failed(reason), _) => format!("failed: {reason}"),
                (TrialStatus::TimedOut(reason), _) => format!("timed out: {reason}"),
                _ => "no score".into(),
            };
            let refused = if accepted {
                ""
            } else {
                " (result refused: the claim was lost)"
            };
            println!(
                "  {run} trial {}: {} {outcome} in {:.2}s{refused}",
                record.index,
                record.algorithm.name(),
                record.seconds
            );
        }
        WorkerEvent::RunRefused { run, reason } => {
            eprintln!("  {run}: cannot run its trials: {reason}");
        }
        WorkerEvent::Coordinating { run } => println!("coordinating run {run}"),
        WorkerEvent::Coordinated { run, result } => match result {
            Ok(summary) => println!("run {run} completed: {summary}"),
            Err(reason) => eprintln!("run {run} failed: {reason}"),
        },
        WorkerEvent::Error(message) => eprintln!("  warning: {message} (retrying)"),
        _ => {}
    };
    let summary = run_worker(&workspace, &options, &print).context("the worker stopped")?;
    println!(
        "worker {} idle for {:.0}s: stopping after {} trial(s) and {} coordinated run(s)",
        options.name,
        args.idle_exit.unwrap_or_default().as_secs_f64(),
        summary.trials,
        summary.runs
    );
    Ok(ExitCode::SUCCESS)
}
