//! What one fit of each learner costs on a table: every algorithm the task allows, at its
//! low-cost starting point (where the search begins), fitted once on all rows of the CSV as a
//! trial would (featurized the same way; capped learners subsampled to their cap), then
//! predicting one validation fold's worth of rows (a fifth of the table).
//!
//! ```text
//! cargo run --release --example learner_costs -- <train.csv> <label> [deadline-seconds]
//! ```
//! With a deadline, each fit and its prediction get that many seconds from the fit's start (a
//! trial's deadline) and the table shows which learners stopped with a budget error and how
//! long they took to give up.
//! Prints one Markdown table: algorithm, rows, features, fit seconds, predict seconds, outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use autotab::data::{infer_schema, load_table, LoadOptions};
use autotab::featurize::{fit_featurizer, FeaturizerConfig};
use autotab::models::{Algorithm, Estimator, FitContext, ParamSpec, Params, TrainSet};
use autotab::target::{encode_label, infer_task};
use autotab::validation::subsample_rows;
use ndarray::Axis;

fn low_cost(space: &[ParamSpec]) -> Params {
    space
        .iter()
        .map(|s| (s.name.to_string(), s.low_cost.value()))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(label)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: learner_costs <train.csv> <label> [deadline-seconds]");
    };
    let deadline_s: Option<f64> = args
        .next()
        .map(|s| s.parse().context("deadline-seconds must be a number"))
        .transpose()?;
    let path = PathBuf::from(path);
    let data = load_table(&path, &LoadOptions::default())?;
    let label_column = data
        .column(&label)
        .with_context(|| format!("{}: no column '{label}'", path.display()))?;
    let task = infer_task(label_column);
    let (_, targets, kept) = encode_label(label_column, task)?;
    let data = data.select_rows(&kept);
    let schema = infer_schema(&data, &label, &BTreeMap::new())?;
    let features = data.without(&label);
    let featurizer = fit_featurizer(&schema, &features, &FeaturizerConfig::default())?;
    let x = featurizer.transform(&features)?;
    let n_predict = (x.nrows() / 5).max(1);
    let x_predict = x.slice_axis(Axis(0), (..n_predict).into());
    println!(
        "{}: {} rows, {} features, task {task}",
        path.display(),
        x.nrows(),
        x.ncols()
    );
    println!();
    println!("| algorithm | rows | features | fit s | predict s ({n_predict} rows) | outcome |");
    println!("|---|---:|---:|---:|---:|---|");
    for algorithm in Algorithm::ALL {
        if !algorithm.supports(task) {
            continue;
        }
        let estimator = Estimator::new(algorithm, &low_cost(algorithm.space()))?;
        let (xs, ys) = match algorithm.max_train_rows() {
            Some(cap) if cap < x.nrows() => {
                let rows = subsample_rows(x.nrows(), cap, 0);
                (x.select(Axis(0), &rows), targets.select(&rows))
            }
            _ => (x.clone(), targets.clone()),
        };
        let train = TrainSet {
            x: xs.view(),
            y: ys.as_ref(),
            weights: None,
            binned: None,
        };
        let start = Instant::now();
        let ctx = FitContext {
            deadline: deadline_s.map(|s| start + Duration::from_secs_f64(s)),
            seed: 0,
            valid: None,
        };
        let fitted = estimator.fit(&train, &ctx);
        let fit_s = start.elapsed().as_secs_f64();
        let (predict_s, outcome) = match fitted {
            Ok(model) => {
                let start = Instant::now();
                let outcome = match model.predict_before(x_predict, ctx.deadline) {
                    Ok(_) => "model".to_string(),
                    Err(e) => format!("predict error: {e}"),
                };
                (format!("{:.3}", start.elapsed().as_secs_f64()), outcome)
            }
            Err(e) => ("-".to_string(), e.to_string()),
        };
        println!(
            "| {algorithm} | {} | {} | {fit_s:.3} | {predict_s} | {outcome} |",
            xs.nrows(),
            xs.ncols()
        );
    }
    Ok(())
}
