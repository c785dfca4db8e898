//! The heart-failure job through the Rust API, with no CLI: search for 30 seconds, save the
//! best pipeline, reload it and score a patient record.
//!
//! `cargo run --release --example heart_failure`

use std::time::Duration;

use autotab::automl::{run, RunObserver};
use autotab::data::{Column, ColumnValues, Dataset};
use autotab::metrics::Metric;
use autotab::scoring::{save_bundle, BundleInfo, Predictor, BUNDLE_FORMAT_VERSION};
use autotab::search::TrialRecord;
use autotab::JobSpec;

struct Progress;

impl RunObserver for Progress {
    fn trial(&mut self, t: &TrialRecord) {
        if let Some(score) = t.score {
            println!("trial {:>3} {:<20} {score:.4}", t.index, t.algorithm.name());
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut spec = JobSpec::new("datasets/heart_failure.csv", "DEATH_EVENT");
    spec.metric = Some(Metric::AucWeighted);
    spec.limits.timeout = Duration::from_secs(30);
    spec.limits.max_concurrent_trials = 3;
    spec.experiment = "heart-failure".into();

    let outcome = run(&spec, &mut Progress)?;
    println!(
        "best: {} AUC_weighted {:.4} after {} trials in {:.1}s",
        outcome.best.algorithm,
        outcome.best.score.unwrap_or(f64::NAN),
        outcome.trials.len(),
        outcome.elapsed_s
    );

    let dir = std::env::temp_dir().join("autotab-example-heart-failure");
    let info = BundleInfo {
        format_version: BUNDLE_FORMAT_VERSION,
        autotab_version: env!("CARGO_PKG_VERSION").into(),
        created: String::new(),
        task: outcome.task.name().into(),
        metric: outcome.metric.name().into(),
        score: outcome.best.score.unwrap_or(f64::NAN),
        algorithm: outcome.best.algorithm.name().into(),
        params: outcome.best.params.clone(),
        label: spec.data.label.clone(),
        classes: outcome.pipeline.label_encoding.classes().to_vec(),
        input_columns: outcome.pipeline.featurizer.input_columns().to_vec(),
        featurization: outcome.pipeline.featurizer.steps(),
        experiment: spec.experiment.clone(),
        run_id: None,
        guardrails: Vec::new(),
        data_fingerprint: None,
    };
    save_bundle(&dir, &outcome.pipeline, &info, &outcome.sample)?;
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
