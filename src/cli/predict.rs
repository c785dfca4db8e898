//! `autotab predict`: score a table with a saved model bundle.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use autotab::data::{format_number, load_table_with_report, ColumnKind, LoadOptions};
use autotab::scoring::Predictor;

use super::serve::resolve_model_dir;
use super::WorkspaceArg;

/// Flags of `autotab predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model bundle folder, or a registered model: `name` (latest) or `name:version`.
    #[arg(long)]
    model: String,
    /// Table to score (CSV or Parquet); a label column in it is ignored.
    #[arg(long)]
    data: PathBuf,
    /// Output CSV (stdout when absent).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Forecasting models: prediction-interval levels, such as 0.1,0.5,0.9 (`q_<level>` columns).
    #[arg(long, value_delimiter = ',')]
    quantiles: Vec<f64>,
    /// Forecasting models: forecast rows beyond the horizon by rolling the origin forward over
    /// the actual values the table's label column gives (each forecast reads only the actual
    /// values before the first step it forecasts).
    #[arg(long)]
    rolling: bool,
}

/// Scores the table and writes id column (if any), `prediction`, and `proba_<class>` columns.
pub fn execute(args: PredictArgs, workspace: &WorkspaceArg) -> anyhow::Result<ExitCode> {
    let model_dir = resolve_model_dir(&args.model, workspace)?;
    if autotab::forecast::ForecastModel::is_bundle(&model_dir) {
        return super::forecast::predict(
            &model_dir,
            &args.data,
            args.output.as_deref(),
            &args.quantiles,
            args.rolling,
        );
    }
    anyhow::ensure!(
        args.quantiles.is_empty(),
        "--quantiles applies to forecasting models only"
    );
    anyhow::ensure!(
        !args.rolling,
        "--rolling applies to forecasting models only"
    );
    let predictor = Predictor::load(&model_dir)?;
    let (data, report) = load_table_with_report(&args.data, &LoadOptions::default())?;
    for note in report.messages(&args.data) {
        eprintln!("note: {note}");
    }
    let predictions = predictor
        .predict(&data)
        .with_context(|| format!("scoring {}", args.data.display()))?;
    let schema = &predictor.pipeline().schema;
    let id_columns: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::IdLike && data.column(&c.name).is_some())
        .map(|c| c.name.as_str())
        .collect();
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    let mut header: Vec<String> = id_columns.iter().map(|s| s.to_string()).collect();
    header.push("prediction".into());
    header.extend(predictions.classes.iter().map(|c| format!("proba_{c}")));
    writer.write_record(&header)?;
    for i in 0..predictions.labels.len() {
        let mut row: Vec<String> = id_columns
            .iter()
            .map(|c| {
                data.column(c)
                    .and_then(|col| col.values.text_at(i))
                    .unwrap_or_default()
            })
            .collect();
        row.push(predictions.labels[i].clone());
        if let Some(proba) = &predictions.proba {
            row.extend(
                proba
                    .row(i)
                    .iter()
                    .map(|p| format_number((p * 1e6).round() / 1e6)),
            );
        }
        writer.write_record(&row)?;
    }
    writer.flush()?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {} predictions to {}",
            predictions.labels.len(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
