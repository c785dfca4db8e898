//! Cross-validation against the test window, trial by trial: a trial-capped forecasting run on a
//! bench split's training rows (one trial at a time, a budget no trial reaches, so the machine's
//! load does not change the figures), then every completed trial refit on the whole training
//! history and scored on the split's test rows, pooled as `run_anchor.py` scores them.
//!
//! `cargo run --release --example forecast_trials -- <bench dir> <max trials>`, where the bench
//! folder holds `bench.json` (label, time column, horizon), `train.csv` and `test.csv`.

use std::path::PathBuf;

use anyhow::Context as _;

use autotab::data::{load_table, ColumnValues, LoadOptions};
use autotab::forecast::forecaster::{fit_final, Context};
use autotab::forecast::series::SeriesSet;
use autotab::forecast::{ForecastModel, ForecastSettings};
use autotab::job::{AutoOr, ForecastingSpec};
use autotab::metrics::Metric;
use autotab::task::Task;
use autotab::{AutoMl, JobSpec};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: forecast_trials <bench dir> <max trials>";
    let dir = PathBuf::from(args.next().context(usage)?);
    let max_trials: usize = args.next().context(usage)?.parse().context(usage)?;
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json"))?)?;
    let label = bench["label"].as_str().context("bench.json: label")?;
    let time = bench["time_column"]
        .as_str()
        .context("bench.json: time_column")?;
    let horizon = bench["horizon"].as_u64().context("bench.json: horizon")? as usize;
    let train_path = dir.join("train.csv");
    let train = load_table(&train_path, &LoadOptions::default())?;
    let test = load_table(&dir.join("test.csv"), &LoadOptions::default())?;
    let mut job = JobSpec::new(&train_path, label);
    job.task = Some(Task::Forecasting);
    job.limits.timeout = std::time::Duration::from_secs(3600);
    job.limits.max_trials = Some(max_trials);
    job.limits.max_concurrent_trials = 1;
    job.forecasting = Some(ForecastingSpec {
        time_column_name: Some(time.into()),
        forecast_horizon: Some(AutoOr::Value(horizon)),
        ..ForecastingSpec::default()
    });
    let outcome = AutoMl::new(job.clone()).fit(&train)?.into_forecasting()?;
    let settings = ForecastSettings::from_job(&job)?;
    let set = SeriesSet::build(&train, label, &settings, &|_| horizon + 5, "train")?;
    let actual: Vec<f64> = match &test.require(label)?.values {
        ColumnValues::Numeric(v) => v.clone(),
        _ => anyhow::bail!("test.csv: label '{label}' is not numeric"),
    };
    let model = &outcome.model;
    println!(
        "season {}, lags {:?}; cross-validated score, then the test window's pooled nRMSE",
        model.season, model.plan.lags
    );
    for t in &outcome.trials {
        let Some(score) = t.score else { continue };
        let ctx = Context {
            set: &set,
            plan: &model.plan,
            season: model.season,
            horizon,
            seed: job.seed,
            deadline: None,
        };
        // The run's model with this trial's method refit in place of the winner.
        let mut refit: ForecastModel = serde_json::from_value(serde_json::to_value(model)?)?;
        refit.forecaster = t.forecaster.clone();
        refit.fitted = fit_final(&t.forecaster, &ctx)?;
        let forecast = refit.predict_rolling(&test, &[])?;
        let test_score = Metric::NormalizedRmse.regression(&actual, &forecast.values)?;
        println!(
            "#{:<3} {:<22} cv {score:.4} test {test_score:.4}  {}",
            t.index,
            t.forecaster.name(),
            t.forecaster.describe()
        );
    }
    Ok(())
}
