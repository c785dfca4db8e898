//! `autotab explain`: per-row TreeSHAP contributions of a tree model, per raw input column,
//! and (when the table holds the label) permutation importance.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use autotab::data::{load_table_with_report, LoadOptions};
use autotab::explain::{permutation_importance, tree_contributions, ImportanceSettings};
use autotab::scoring::Predictor;

use super::serve::resolve_model_dir;
use super::WorkspaceArg;

/// Flags of `autotab explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model bundle folder, or a registered model: `name` (latest) or `name:version`.
    #[arg(long)]
    model: String,
    /// Table to explain (CSV or Parquet); a label column in it is ignored by the contributions.
    #[arg(long)]
    data: PathBuf,
    /// Output CSV of contributions (stdout when absent): one column per raw input column, then
    /// `base_value`, `raw_score` and `explained_output`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Also write permutation importance of every raw column to this CSV (`column`,
    /// `importance`, `std`); the table must hold the label column.
    #[arg(long)]
    importance: Option<PathBuf>,
    /// Seed of permutation importance's shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Writes the contributions (and the importances when asked).
pub fn execute(args: ExplainArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let model_dir = resolve_model_dir(&args.model, workspace)?;
    let predictor = Predictor::load(&model_dir)?;
    let (data, report) = load_table_with_report(&args.data, &LoadOptions::default())?;
    for note in report.messages(&args.data) {
        eprintln!("note: {note}");
    }
    let pipeline = predictor.pipeline();
    if let Some(path) = &args.importance {
        let settings = ImportanceSettings {
            seed: args.seed,
            ..ImportanceSettings::default()
        };
        let importances =
            permutation_importance(pipeline, &data, predictor.info().metric, &settings)
                .with_context(|| format!("permutation importance on {}", args.data.display()))?;
        let mut writer = csv::Writer::from_path(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        writer.write_record(["column", "importance", "std"])?;
        for imp in &importances {
            writer.write_record([
                imp.column.clone(),
                imp.mean.to_string(),
                imp.std.to_string(),
            ])?;
        }
        writer.flush()?;
        eprintln!(
            "wrote the importance of {} columns ({} loss increase) to {}",
            importances.len(),
            predictor.info().metric.name(),
            path.display()
        );
    }
    let contributions = tree_contributions(pipeline, &data)
        .with_context(|| format!("explaining {}", args.data.display()))?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    let mut header = contributions.columns.clone();
    header.extend(["base_value", "raw_score", "explained_output"].map(String::from));
    writer.write_record(&header)?;
    for i in 0..contributions.values.nrows() {
        let mut row: Vec<String> = contributions
            .values
            .row(i)
            .iter()
            .map(|v| v.to_string())
            .collect();
        row.push(contributions.base[i].to_string());
        row.push(contributions.raw_scores[i].to_string());
        row.push(contributions.outputs[i].clone());
        writer.write_record(&row)?;
    }
    writer.flush()?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote the contributions of {} rows ({} of the explained output) to {}",
            contributions.values.nrows(),
            contributions.scale.name(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
