//! The orange-juice forecasting job through the Rust API, with no CLI: hold out the last 4
//! weeks of each of the 9 store/brand series, search for 30 seconds with `AutoMl::fit` (the one
//! entry point of every task: baselines, exponential smoothing, harmonic regression, learners
//! on lag features), save the bundle, reload it, forecast the held-out weeks from their rows
//! alone and score them as `run_anchor.py` does (pooled normalized RMSE).
//!
//! `cargo run --release --example forecast_oj`

use std::collections::BTreeMap;
use std::time::Duration;

use autotab::data::{load_table, LoadOptions};
use autotab::forecast::metrics::report;
use autotab::forecast::series::parse_rows;
use autotab::forecast::{ForecastModel, ForecastSettings};
use autotab::job::{AutoOr, ForecastingSpec};
use autotab::task::Task;
use autotab::{AutoMl, JobSpec};

fn main() -> anyhow::Result<()> {
    let path = "datasets/oj_sales.csv";
    let mut job = JobSpec::new(path, "Quantity");
    job.task = Some(Task::Forecasting);
    job.limits.timeout = Duration::from_secs(30);
    job.forecasting = Some(ForecastingSpec {
        time_column_name: Some("WeekStarting".into()),
        forecast_horizon: Some(AutoOr::Value(4)),
        time_series_id_column_names: vec!["Store".into(), "Brand".into()],
        ..ForecastingSpec::default()
    });
    let data = load_table(path.as_ref(), &LoadOptions::default())?;

    // The last 4 weeks of each series (by time stamp) are the test rows.
    let settings = ForecastSettings::from_job(&job)?;
    let rows = parse_rows(&data, &settings, path)?;
    let mut last: BTreeMap<&Vec<String>, chrono::NaiveDateTime> = BTreeMap::new();
    for (t, k) in rows.times.iter().zip(&rows.keys) {
        let e = last.entry(k).or_insert(*t);
        *e = (*e).max(*t);
    }
    let cutoff = |i: usize| last[&rows.keys[i]] - chrono::Duration::weeks(4);
    let (train_idx, test_idx): (Vec<usize>, Vec<usize>) =
        (0..data.n_rows()).partition(|&i| rows.times[i] <= cutoff(i));
    let (train, test) = (data.select_rows(&train_idx), data.select_rows(&test_idx));

    let outcome = AutoMl::new(job).fit(&train)?;
    println!(
        "best: {} {} {:.4} (cross-validated) after {} trials in {:.1}s",
        outcome.best_algorithm(),
        outcome.metric(),
        outcome.best_score(),
        outcome.trials(),
        outcome.elapsed_s()
    );

    let dir = std::env::temp_dir().join(format!("autotab-forecast-oj-{}", std::process::id()));
    outcome.save_bundle(&dir)?;
    let model = ForecastModel::load(&dir)?;
    let forecast = model.predict(&test, &[0.1, 0.9])?;
    let actual: Vec<f64> = match &test.require("Quantity")?.values {
        autotab::data::ColumnValues::Numeric(v) => v.clone(),
        _ => anyhow::bail!("Quantity is not numeric"),
    };
    for (name, value) in report(&actual, &forecast.values)? {
        println!("test {name}: {value:.4}");
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
