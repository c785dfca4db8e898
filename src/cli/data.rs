//! `autotab data register|list|show`: registered datasets.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use autotab::store::DatasetRecord;

use super::run::parse_tags;
use super::WorkspaceArg;

/// `autotab data ...`
#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Register a table (CSV, Parquet or MLTable folder) as the next version of a name.
    Register {
        /// Dataset name.
        #[arg(long)]
        name: String,
        /// The table: a CSV or Parquet file, or an MLTable folder.
        #[arg(long)]
        path: PathBuf,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Tag key=value (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Registered datasets: the latest version of each name.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A dataset version: location, format, rows, fingerprint, tags, columns.
    Show {
        /// `name` (latest version) or `name:version`.
        reference: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand.
pub fn execute(args: DataArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    match args.command {
        DataCommand::Register {
            name,
            path,
            description,
            tags,
            json,
        } => {
            let tags = parse_tags(&tags)?;
            let ws = workspace.open()?;
            let r = ws.register_dataset(&name, &path, description.as_deref(), &tags)?;
            if json {
                let mut value = serde_json::to_value(&r.record)?;
                value["created"] = serde_json::json!(r.created);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else if r.created {
                let d = &r.record;
                println!(
                    "registered dataset {}:{} ({}, {} rows, {} columns, sha256 {})",
                    d.name, d.version, d.format, d.rows, d.columns, d.sha256
                );
            } else {
                let d = &r.record;
                println!(
                    "dataset {}:{} already has these bytes at {}: no new version",
                    d.name, d.version, d.location
                );
            }
        }
        DataCommand::List { json } => {
            let ws = workspace.open_existing()?;
            let datasets = ws.list_datasets()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&datasets)?);
            } else {
                print_table(&datasets);
            }
        }
        DataCommand::Show { reference, json } => {
            let ws = workspace.open_existing()?;
            let d = ws.resolve_dataset(&reference)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_dataset(&d);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(datasets: &[DatasetRecord]) {
    if datasets.is_empty() {
        println!("no registered datasets (register one with `autotab data register`)");
        return;
    }
    println!(
        "{:<28} {:>7} {:<8} {:>9} {:<24} location",
        "name", "version", "format", "rows", "created"
    );
    for d in datasets {
        println!(
            "{:<28} {:>7} {:<8} {:>9} {:<24} {}",
            d.name, d.version, d.format, d.rows, d.created, d.location
        );
    }
}

fn print_dataset(d: &DatasetRecord) {
    println!("dataset:     {}:{}", d.name, d.version);
    println!("location:    {}", d.location);
    println!("format:      {}", d.format);
    println!("rows:        {}", d.rows);
    println!("columns:     {}", d.columns);
    println!("sha256:      {}", d.sha256);
    println!("created:     {}", d.created);
    if let Some(description) = &d.description {
        println!("description: {description}");
    }
    if !d.tags.is_empty() {
        let tags: Vec<String> = d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("tags:        {}", tags.join(" "));
    }
    println!("schema:");
    for c in d.schema.as_array().into_iter().flatten() {
        let text = |key: &str| {
            c.get(key)
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default()
        };
        println!(
            "  {:<28} {:<12} missing {:<6} distinct {}",
            text("name"),
            text("kind"),
            text("missing"),
            text("distinct")
        );
    }
}
