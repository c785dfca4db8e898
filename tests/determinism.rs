//! The same seed and data give the same search: with one trial at a time, a budget no trial
//! comes near, a trial cap and one algorithm (so no rule that reads the clock decides anything:
//! choosing *between* algorithms weighs their measured trial times, which a loaded machine
//! changes; a run that searched several algorithms once differed here under load), two runs
//! propose the same configurations in the same order and score them identically, and the
//! leaderboard and the shipped model's predictions are the same.

use std::time::Duration;

use autotab::engine::{run, Quiet, RunOutcome};
use autotab::metrics::Metric;
use autotab::JobSpec;

fn heart_failure_run(seed: u64) -> RunOutcome {
    let mut spec = JobSpec::new("datasets/heart_failure.csv", "DEATH_EVENT");
    spec.metric = Some(Metric::AucWeighted);
    spec.limits.timeout = Duration::from_secs(600);
    spec.limits.trial_timeout = Some(Duration::from_secs(300));
    spec.limits.max_trials = Some(18);
    spec.limits.max_concurrent_trials = 1;
    spec.training.allowed = Some(vec![autotab::models::Algorithm::GradientBoosting]);
    spec.seed = seed;
    run(&spec, &mut Quiet).expect("the run succeeds")
}

/// Each trial as `(algorithm, params, fold scores)`, in launch order.
fn trials(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .trials
        .iter()
        .map(|t| {
            format!(
                "{} {} {:?} {:?}",
                t.algorithm,
                t.params_summary(),
                t.status,
                t.fold_scores
            )
        })
        .collect()
}

#[test]
fn one_seed_one_search() {
    let first = heart_failure_run(11);
    let second = heart_failure_run(11);
    assert_eq!(trials(&first), trials(&second));
    assert_eq!(first.trials.len(), 18);
    let board = |o: &RunOutcome| {
        o.leaderboard()
            .entries
            .iter()
            .map(|e| format!("{} {:.12}", e.learner, e.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(board(&first), board(&second));
    let rows = first.sample.clone();
    let a = first.pipeline.predict(&rows).unwrap();
    let b = second.pipeline.predict(&rows).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    // Another seed searches differently (a different order of sampled configurations).
    let other = heart_failure_run(12);
    assert_ne!(trials(&first), trials(&other));
}
