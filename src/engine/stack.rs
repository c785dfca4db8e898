//! Refitting a recorded stack ensemble without its run's out-of-fold predictions (registering
//! its child run): the members are cross-validated again over the job's validation folds to
//! get out-of-fold predictions, the meta-learner is fitted on them, and the members are refit
//! on all rows, as the run did.

use std::time::Instant;

use ndarray::{Array2, ArrayView2};

use super::finalize::Refitter;
use super::load::LoadedData;
use crate::ensemble::stack::{out_of_fold_rows, stack_input};
use crate::ensemble::{MetaLearner, Stack};
use crate::error::{AutotabError, Result};
use crate::featurize::fit_featurizer_with_label;
use crate::job::JobSpec;
use crate::models::{Algorithm, FittedModel, Params};
use crate::search::WorkerPool;

/// Fits a stack of `members` under `meta` on the job's data: out-of-fold predictions of every
/// member over the job's folds (each fold's featurizer fitted on its training rows only), the
/// meta-learner fitted on them, the members refit on all rows by `refitter`.
pub(super) fn fit_stack(
    spec: &JobSpec,
    data: &LoadedData,
    pool: &WorkerPool,
    refitter: &Refitter,
    members: &[(f64, Algorithm, Params)],
    meta: &MetaLearner,
    deadline: Instant,
) -> Result<FittedModel> {
    if members.len() < 2 {
        return Err(AutotabError::config("a stack needs at least two members"));
    }
    let plan = spec.validation_plan(data.data.n_rows(), data.n_given_valid);
    let folds = plan.folds(&data.targets, spec.seed)?;
    let config = spec.featurization.featurizer_config();
    let n_outputs = match &data.targets {
        crate::target::Targets::Classes(_, k) => *k,
        crate::target::Targets::Values(_) => 1,
    };
    let mut oof = vec![Array2::<f64>::zeros((data.data.n_rows(), n_outputs)); members.len()];
    for (f, fold) in folds.iter().enumerate() {
        let train_rows = data.features.select_rows(&fold.train);
        let valid_rows = data.features.select_rows(&fold.valid);
        let y_train = data.targets.select(&fold.train);
        let featurizer =
            fit_featurizer_with_label(&data.schema, &train_rows, Some(&y_train), &config)?;
        let fold_refitter = Refitter::new(
            pool,
            featurizer.transform(&train_rows)?,
            &y_train,
            spec.seed.wrapping_add(f as u64 * 7919),
        );
        let x_valid = featurizer.transform(&valid_rows)?;
        for ((_, algorithm, params), out) in members.iter().zip(oof.iter_mut()) {
            let pred = fold_refitter
                .fit(*algorithm, params, deadline)?
                .predict(x_valid.view())?;
            for (i, &row) in fold.valid.iter().enumerate() {
                out.row_mut(row).assign(&pred.row(i));
            }
        }
    }
    let input = stack_input(&data.targets);
    let views: Vec<ArrayView2<f64>> = oof.iter().map(|p| p.view()).collect();
    let z = input.features(&views)?;
    let fitted_meta = meta.fit(
        z.view(),
        &data.targets,
        &out_of_fold_rows(&folds),
        Some(deadline),
        spec.seed,
    )?;
    let refit = members
        .iter()
        .map(|(_, algorithm, params)| refitter.fit(*algorithm, params, deadline))
        .collect::<Result<Vec<_>>>()?;
    Ok(Stack::model(fitted_meta, input, refit))
}

#[cfg(test)]
mod tests {
    use crate::engine::{fit_recipe, Recipe};
    use crate::ensemble::{EnsembleKind, Learner, MetaLearner};
    use crate::models::{Algorithm, FittedModel, Params};
    use crate::scoring::{save_bundle, BundleInfo, Predictor};
    use crate::JobSpec;

    fn stack_recipe(meta: MetaLearner) -> Recipe {
        Recipe {
            learner: Learner::Ensemble(EnsembleKind::Stack),
            members: vec![
                (0.5, Algorithm::DecisionTree, Params::new()),
                (0.5, Algorithm::GaussianNaiveBayes, Params::new()),
            ],
            meta: Some(meta),
        }
    }

    #[test]
    fn a_run_records_its_stack_and_keeps_an_ensemble_only_when_it_beats_every_trial() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
        let mut job = JobSpec::new(path.join("heart_failure.csv"), "DEATH_EVENT");
        job.limits.timeout = std::time::Duration::from_secs(60);
        job.limits.max_trials = Some(4);
        job.limits.max_concurrent_trials = 1;
        let mut without = job.clone();
        without.training.enable_stack_ensemble = false;
        let unstacked = crate::AutoMl::new(without)
            .fit_job_data()
            .and_then(|o| o.into_tabular())
            .unwrap();
        assert!(unstacked
            .ensembles
            .iter()
            .all(|e| e.kind != EnsembleKind::Stack));
        let outcome = crate::AutoMl::new(job)
            .fit_job_data()
            .and_then(|o| o.into_tabular())
            .unwrap();
        let metric = outcome.metric;
        let completed: Vec<f64> = outcome.trials.iter().filter_map(|t| t.score).collect();
        let best_trial = completed
            .iter()
            .map(|s| metric.to_loss(*s))
            .fold(f64::INFINITY, f64::min);
        let stack = outcome
            .ensembles
            .iter()
            .find(|e| e.kind == EnsembleKind::Stack);
        if completed.len() >= 2 {
            let stack = stack.expect("two completed trials make a stack");
            assert_eq!(stack.fold_scores.len(), 10, "scored on the run's 10 folds");
            assert!(stack.meta.is_some());
        }
        // Every scored ensemble is on the leaderboard, as an ensemble.
        let board = outcome.leaderboard();
        for e in &outcome.ensembles {
            assert!(board
                .entries
                .iter()
                .any(|x| x.index == e.index && x.learner == Learner::Ensemble(e.kind)));
        }
        // The refit model is the best trial, or an ensemble that beats it, of its own kind.
        let won = metric.to_loss(outcome.winner.score);
        assert!(
            won <= best_trial,
            "{} vs {best_trial}",
            outcome.winner.score
        );
        match (outcome.winner.learner, &outcome.pipeline.model) {
            (Learner::Ensemble(EnsembleKind::Stack), FittedModel::Stacked(_))
            | (Learner::Ensemble(EnsembleKind::Voting), FittedModel::Ensemble(_)) => {
                assert!(won < best_trial)
            }
            (Learner::Algorithm(_), m) => {
                assert!(!matches!(
                    m,
                    FittedModel::Stacked(_) | FittedModel::Ensemble(_)
                ))
            }
            (learner, _) => panic!("{learner} refit as another kind of model"),
        }
    }

    #[test]
    fn a_stack_recipe_refits_and_round_trips_through_a_bundle() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
        let mut spec = JobSpec::new(path.join("heart_failure.csv"), "DEATH_EVENT");
        spec.validation = crate::job::ValidationChoice::CrossValidation { folds: 3 };
        let meta = MetaLearner::default_for(&crate::target::Targets::Classes(vec![], 2));
        let (pipeline, sample) = fit_recipe(&spec, &stack_recipe(meta)).unwrap();
        let FittedModel::Stacked(stacked) = &pipeline.model else {
            panic!("not a stack: {:?}", pipeline.learner);
        };
        assert_eq!(stacked.members.len(), 2);
        assert_eq!(stacked.meta.n_features(), 2, "one column per binary member");
        pipeline.model.validate().unwrap();

        let data = crate::data::load_table(
            &path.join("heart_failure.csv"),
            &crate::data::LoadOptions::default(),
        )
        .unwrap();
        let before = pipeline.predict(&data).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let info = BundleInfo::new(
            &pipeline,
            "stack",
            crate::metrics::Metric::AucWeighted,
            0.9,
            &Params::new(),
            None,
        );
        save_bundle(&dir.path().join("model"), &pipeline, &info, &sample).unwrap();
        let loaded = Predictor::load(&dir.path().join("model")).unwrap();
        assert_eq!(
            loaded.info().algorithm,
            Learner::Ensemble(EnsembleKind::Stack)
        );
        assert!(matches!(loaded.pipeline().model, FittedModel::Stacked(_)));
        let after = loaded.predict(&data).unwrap();
        assert_eq!(before, after);
    }
}
