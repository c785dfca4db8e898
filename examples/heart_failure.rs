//! The heart-failure job through the Rust API, with no CLI: search for 30 seconds, save the
//! best pipeline as a bundle, reload it and score a patient record.
//!
//! `cargo run --release --example heart_failure`

use std::time::Duration;

use autotab::data::{load_table, Column, ColumnValues, Dataset, LoadOptions};
use autotab::metrics::Metric;
use autotab::search::TrialRecord;
use autotab::{AutoMl, JobSpec, Predictor, RunObserver};

/// Prints each completed trial.
struct Progress;

impl RunObserver for Progress {
    fn trial(&mut self, t: &TrialRecord) {
        if let Some(score) = t.score {
            println!("trial {:>3} {:<20} {score:.4}", t.index, t.algorithm.name());
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut job = JobSpec::new("datasets/heart_failure.csv", "DEATH_EVENT");
    job.metric = Some(Metric::AucWeighted);
    job.limits.timeout = Duration::from_secs(30);
    job.limits.max_concurrent_trials = 3;
    job.experiment = "heart-failure".into();

    let data = load_table(
        "datasets/heart_failure.csv".as_ref(),
        &LoadOptions::default(),
    )?;
    let outcome = AutoMl::new(job).observer(&mut Progress).fit(&data)?;
    println!(
        "best: {} AUC_weighted {:.4} after {} trials in {:.1}s",
        outcome.best_algorithm(),
        outcome.best_score(),
        outcome.trials(),
        outcome.elapsed_s()
    );

    let dir = std::env::temp_dir().join("autotab-example-heart-failure");
    outcome.save_bundle(&dir)?;
    let predictor = Predictor::load(&dir)?;

    // The patient of the Azure tutorial's request, values as strings.
    let patient = [
        ("age", "60"),
        ("anaemia", "false"),
        ("creatinine_phosphokinase", "500"),
        ("diabetes", "false"),
        ("ejection_fraction", "38"),
        ("high_blood_pressure", "false"),
        ("platelets", "260000"),
        ("serum_creatinine", "1.40"),
        ("serum_sodium", "137"),
        ("sex", "false"),
        ("smoking", "false"),
        ("time", "130"),
    ];
    let columns = patient
        .iter()
        .map(|(name, value)| Column {
            name: name.to_string(),
            values: ColumnValues::Text(vec![Some(value.to_string())]),
        })
        .collect();
    let predictions = predictor.predict(&Dataset::new(columns)?)?;
    println!(
        "patient: DEATH_EVENT = {} (p = {:.3})",
        predictions.labels[0],
        predictions
            .proba
            .as_ref()
            .map(|p| p[[0, 1]])
            .unwrap_or(f64::NAN)
    );
    Ok(())
}
