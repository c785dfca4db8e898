//! `autotab models list|show|register|delete`: the model registry.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use autotab::experiment::{register_run, Registration};
use autotab::forecast::ForecastModel;
use autotab::registry::ModelVersion;

use super::run::parse_tags;
use super::WorkspaceArg;

/// `autotab models ...`
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Registered models: name, latest version, metric, created.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A model version's card: algorithm, params, metrics, schema, tags.
    Show {
        /// `name` (latest version) or `name:version`.
        reference: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Register the model of a run (a parent run's best model, or one child run's trial refit on all rows).
    Register {
        /// Run id (parent or child).
        #[arg(long)]
        run: String,
        /// Model name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Tag key=value (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Delete `name:version`, or every version of `name`.
    Delete {
        /// `name` or `name:version`.
        reference: String,
    },
}

/// Runs the subcommand.
pub fn execute(args: ModelsArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let ws = workspace.open_existing()?;
    match args.command {
        ModelsCommand::List { json } => {
            let models = ws.list_models()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models)?);
            } else {
                print_model_table(&models);
            }
        }
        ModelsCommand::Show { reference, json } => {
            let m = ws.resolve_model(&reference)?;
            let (bundle, schema) = if ForecastModel::is_bundle(&m.path) {
                let model = ForecastModel::load(&m.path)
                    .with_context(|| format!("model {}:{}", m.name, m.version))?;
                forecast_card(&model)
            } else {
                // Checked before anything of the bundle is read: a damaged one names its file.
                autotab::scoring::verify_bundle(&m.path)
                    .with_context(|| format!("model {}:{}", m.name, m.version))?;
                (
                    read_json_or_null(&m.path.join("bundle.json")),
                    read_json_or_null(&m.path.join("schema.json")),
                )
            };
            if json {
                let card = serde_json::json!({"model": m, "bundle": bundle, "schema": schema});
                println!("{}", serde_json::to_string_pretty(&card)?);
            } else {
                print_model_card(&m, &bundle, &schema);
            }
        }
        ModelsCommand::Register {
            run,
            name,
            description,
            tags,
        } => {
            let registration = Registration {
                name,
                description,
                tags: parse_tags(&tags)?,
            };
            let v = register_run(&ws, &run, &registration)?;
            println!("registered model {}:{} from run {run}", v.name, v.version);
        }
        ModelsCommand::Delete { reference } => {
            let n = ws.delete_model(&reference)?;
            println!("deleted {n} version(s) of {reference}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `models show` says of a forecasting bundle, in the keys of a tabular bundle's
/// `bundle.json` and `schema.json`: the method and its settings, the cross-validated score, the
/// forecasting settings, and the input columns of a future row (time, grain, known features).
fn forecast_card(model: &ForecastModel) -> (serde_json::Value, serde_json::Value) {
    let settings = &model.settings;
    let mut columns = vec![serde_json::json!({"name": settings.time_column, "kind": "datetime"})];
    columns.extend(
        settings
            .grain
            .iter()
            .map(|g| serde_json::json!({"name": g, "kind": "series id"})),
    );
    columns.extend(
        model
            .feature_names
            .iter()
            .map(|f| serde_json::json!({"name": f, "kind": "known feature"})),
    );
    let bundle = serde_json::json!({
        "task": "forecasting",
        "algorithm": model.forecaster.name(),
        "params": model.forecaster.describe(),
        "metric": model.metric,
        "score": model.score,
        "label": model.label,
        "horizon": settings.horizon,
        "frequency": model.grid.frequency_name(),
        "season": model.season,
        "series": model.series.len(),
    });
    (bundle, serde_json::json!({ "columns": columns }))
}

/// A JSON file of a model's folder; `null` when it is absent or unreadable.
fn read_json_or_null(path: &Path) -> serde_json::Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// `models list` as a table: one line per registered model (its latest version).
fn print_model_table(models: &[ModelVersion]) {
    println!(
        "{:<24} {:>7}  {:<36} {:<28} created",
        "name", "latest", "metrics", "run"
    );
    for m in models {
        println!(
            "{:<24} {:>7}  {:<36} {:<28} {}",
            m.name,
            m.version,
            compact_metrics(&m.metrics),
            m.run_id.clone().unwrap_or_else(|| "-".into()),
            m.created
        );
    }
}

/// `models show` as text: the version's record, then what its bundle and schema say.
fn print_model_card(m: &ModelVersion, bundle: &serde_json::Value, schema: &serde_json::Value) {
    println!("model:       {}:{}", m.name, m.version);
    println!("created:     {}", m.created);
    println!(
        "run:         {}",
        m.run_id.clone().unwrap_or_else(|| "-".into())
    );
    println!(
        "description: {}",
        m.description.clone().unwrap_or_else(|| "-".into())
    );
    let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "tags:        {}",
        if tags.is_empty() {
            "-".into()
        } else {
            tags.join(", ")
        }
    );
    println!("path:        {}", m.path.display());
    println!("task:        {}", bundle["task"].as_str().unwrap_or("?"));
    println!(
        "algorithm:   {}",
        bundle["algorithm"].as_str().unwrap_or("?")
    );
    println!("params:      {}", bundle["params"]);
    println!(
        "score:       {} = {}",
        bundle["metric"].as_str().unwrap_or("?"),
        bundle["score"]
    );
    println!("metrics:     {}", compact_metrics(&m.metrics));
    if let Some(classes) = bundle["classes"].as_array().filter(|c| !c.is_empty()) {
        let names: Vec<String> = classes
            .iter()
            .map(|c| c.as_str().unwrap_or("?").to_string())
            .collect();
        println!("classes:     {}", names.join(", "));
    }
    println!("inputs:");
    for c in schema["columns"].as_array().into_iter().flatten() {
        println!(
            "  {:<28} {}",
            c["name"].as_str().unwrap_or("?"),
            c["kind"].as_str().unwrap_or("?")
        );
    }
}

/// Metrics on one line (`key=value`), without the `_std` spreads and the duration.
fn compact_metrics(metrics: &serde_json::Value) -> String {
    match metrics.as_object() {
        Some(map) if !map.is_empty() => map
            .iter()
            .filter(|(k, _)| !k.ends_with("_std") && *k != "duration_s")
            .map(|(k, v)| match v.as_f64() {
                Some(x) => format!("{k}={x:.4}"),
                None => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "-".into(),
    }
}
