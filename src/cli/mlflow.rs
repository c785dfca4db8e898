//! MLflow in the CLI: the tracking URI flag (`MLFLOW_TRACKING_URI`), credentials from MLflow's
//! environment variables, `autotab runs export`, and the export at the end of `autotab run`.

use anyhow::Context;

use autotab::mlflow::{Credentials, ExportReport, MlflowExporter, TrackingUri};
use autotab::tracking::Workspace;

/// The exporter to `uri`, with credentials from `MLFLOW_TRACKING_TOKEN`, or
/// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
pub fn exporter(uri: &str) -> anyhow::Result<MlflowExporter> {
    let uri = TrackingUri::parse(uri).context("--mlflow-tracking-uri")?;
    Ok(MlflowExporter::new(&uri, &credentials_from_env()))
}

/// MLflow's own environment variables for authentication.
fn credentials_from_env() -> Credentials {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
        return Credentials::Token(token);
    }
    match (
        var("MLFLOW_TRACKING_USERNAME"),
        var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        (Some(user), password) => Credentials::Basic {
            user,
            password: password.unwrap_or_default(),
        },
        _ => Credentials::None,
    }
}

/// One line saying what an export did.
pub fn report_line(r: &ExportReport) -> String {
    if r.already_exported {
        return format!(
            "mlflow: run {} was already exported to experiment '{}' as run {} ({} child runs): \
             nothing to do; {}",
            r.run_id, r.experiment, r.mlflow_run_id, r.child_runs, r.url
        );
    }
    let replaced = if r.replaced_runs > 0 {
        format!(
            " (replacing {} runs of an incomplete earlier export)",
            r.replaced_runs
        )
    } else {
        String::new()
    };
    format!(
        "mlflow: exported run {} to experiment '{}' (id {}) as run {} with {} child runs and \
         {} artifacts{replaced}; {}",
        r.run_id, r.experiment, r.experiment_id, r.mlflow_run_id, r.child_runs, r.artifacts, r.url
    )
}

/// Prints an export's line (stdout) and its warnings (stderr).
pub fn print_report(r: &ExportReport) {
    println!("{}", report_line(r));
    for w in &r.warnings {
        eprintln!("warning: mlflow: {w}");
    }
}

/// The export at the end of `autotab run`: never fails the run, whose record stays in the
/// workspace; a failure is one `warning:` line saying how to retry.
pub fn export_after_run(uri: &str, workspace: &Workspace, run_id: &str) -> Option<ExportReport> {
    let result = exporter(uri).and_then(|e| Ok(e.export_run(workspace, run_id)?));
    match result {
        Ok(report) => {
            print_report(&report);
            Some(report)
        }
        Err(e) => {
            eprintln!(
                "warning: the run was not exported to MLflow: {}; it is recorded in the \
                 workspace: retry with `autotab runs export {run_id} --mlflow-tracking-uri URI`",
                super::one_line(&e)
            );
            None
        }
    }
}
