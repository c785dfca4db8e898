//! `autotab serve` (the HTTP endpoint) and `autotab score-worker` (the JSON-lines scorer that
//! the generated `score.py` drives).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use autotab::scoring::load_scorer;
use autotab::scoring::server::{check_auth_key, serve, shutdown_signal};
use autotab::scoring::worker::run_worker;
use autotab::{Workspace, WorkspaceLocation};

use super::WorkspaceArg;

/// Flags of `autotab serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model: a bundle folder, or a registered model `name` (latest) or `name:version`.
    #[arg(long)]
    model: String,
    /// TCP port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Key required as `Authorization: Bearer <key>` on /score and /swagger.json (not empty).
    #[arg(long, env = "AUTOTAB_AUTH_KEY", hide_env_values = true)]
    auth_key: Option<String>,
}

/// Flags of `autotab score-worker`.
#[derive(Debug, Args)]
pub struct ScoreWorkerArgs {
    /// The model: a bundle folder, or a registered model `name` or `name:version`.
    #[arg(long)]
    model: String,
}

/// The bundle folder a model reference names: an existing folder is taken as a bundle path;
/// otherwise the reference is a registered model, `name` (latest version) or `name:version`,
/// looked up in `workspace`.
pub fn resolve_model_dir(reference: &str, workspace: &WorkspaceArg) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(reference);
    if path.exists() {
        return Ok(path);
    }
    let location = workspace.location().with_context(|| {
        format!("model '{reference}' not found: no folder at that path, and no workspace to look it up in")
    })?;
    if let WorkspaceLocation::Folder(dir) = &location {
        if !dir.exists() {
            anyhow::bail!(
                "model '{reference}' not found: no folder at that path, and no workspace at {} to look it up as a registered model (set --workspace or AUTOTAB_WORKSPACE)",
                dir.display()
            );
        }
    }
    let found = Workspace::open_existing_at(&location)
        .and_then(|ws| ws.resolve_model(reference))
        .with_context(|| {
            format!(
                "model '{reference}' not found: no folder at that path, and not a registered model of workspace {location}"
            )
        })?;
    Ok(found.path)
}

/// Serves the model over HTTP until Ctrl-C or SIGTERM.
pub fn execute(args: ServeArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    check_auth_key(args.auth_key.as_deref())?;
    let dir = resolve_model_dir(&args.model, workspace)?;
    let scorer = load_scorer(&dir)?;
    let addr = SocketAddr::new(args.host, args.port);
    let auth_key = args.auth_key;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let facts = scorer.health();
    let fact = |key: &str| facts[key].as_str().unwrap_or("?").to_string();
    println!(
        "autotab serve: {} {} model from {} on http://{addr} (POST /score, GET /health, GET /swagger.json; key {})",
        fact("task"),
        fact("algorithm"),
        dir.display(),
        if auth_key.is_some() { "required" } else { "not required" }
    );
    runtime.block_on(serve(scorer, addr, auth_key, shutdown_signal()))?;
    println!("autotab serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Answers JSON-lines requests on stdin until end of input.
pub fn execute_worker(args: ScoreWorkerArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let dir = resolve_model_dir(&args.model, workspace)?;
    let scorer = load_scorer(&dir)?;
    run_worker(
        scorer.as_ref(),
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )?;
    Ok(ExitCode::SUCCESS)
}
