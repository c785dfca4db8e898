//! Stage 3, featurize folds: each validation fold's featurizer fitted on its training rows
//! only, both sides transformed once, and the training rows binned for the tree learners, all
//! before the search so trials share them read-only.

use std::time::Instant;

use rayon::prelude::*;

use super::load::LoadedData;
use super::plan::RunPlan;
use crate::error::{AutotabError, Result};
use crate::featurize::{fit_featurizer_with_label, FittedFeaturizer};
use crate::models::uses_binned_features;
use crate::search::{PreparedFold, WorkerPool};
use crate::validation::Fold;

/// The folds of a run, split and featurized.
#[derive(Debug)]
pub(crate) struct FoldSet {
    /// The row indices of each fold.
    pub splits: Vec<Fold>,
    /// Each fold featurized (and binned when a tree learner is searched).
    pub prepared: Vec<PreparedFold>,
    /// Each fold's featurizer, fitted on its training rows (a bagged model's featurizers).
    pub featurizers: Vec<FittedFeaturizer>,
    /// Wall seconds it took.
    pub seconds: f64,
}

impl FoldSet {
    /// Mean number of training rows of a fold.
    pub fn mean_train_rows(&self) -> f64 {
        crate::validation::mean_train_rows(&self.splits)
    }

    /// Number of features after featurization.
    pub fn n_features(&self) -> usize {
        self.prepared.first().map_or(0, |f| f.x_train.ncols())
    }
}

/// Splits and featurizes the folds of `plan` on `pool`. Fails with a budget error naming this
/// stage when `deadline` passes before every fold is ready.
pub(crate) fn featurize_folds(
    pool: &WorkerPool,
    data: &LoadedData,
    plan: &RunPlan,
    seed: u64,
    deadline: Instant,
) -> Result<FoldSet> {
    let start = Instant::now();
    let splits = plan.validation.folds(&data.targets, seed)?;
    let out_of_time = |done: &str| {
        AutotabError::Budget(format!(
            "the time budget ran out while featurizing the validation folds ({done}, {:.1}s spent on {} columns); give a larger --timeout",
            start.elapsed().as_secs_f64(),
            data.features.columns().len()
        ))
    };
    let (prepared, featurizers): (Vec<PreparedFold>, Vec<FittedFeaturizer>) =
        pool.install(|| {
            splits
                .par_iter()
                .map(|fold| {
                    if Instant::now() >= deadline {
                        return Err(out_of_time("before every fold was featurized"));
                    }
                    featurize_fold(data, plan, fold)
                })
                .collect::<Result<Vec<_>>>()
                .map(|v| v.into_iter().unzip())
        })?;
    if Instant::now() >= deadline {
        return Err(out_of_time("after featurizing, before binning"));
    }
    // Binning inside a trial could deadlock the pool (a thread blocked on the fold's lock
    // while the builder waits on work that thread stole), so it happens here.
    if plan.algorithms.iter().any(|a| uses_binned_features(*a)) {
        pool.install(|| {
            prepared.par_iter().for_each(|f| {
                f.binned();
            })
        });
    }
    if Instant::now() >= deadline {
        return Err(out_of_time("while binning the folds for the tree learners"));
    }
    Ok(FoldSet {
        splits,
        prepared,
        featurizers,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn featurize_fold(
    data: &LoadedData,
    plan: &RunPlan,
    fold: &Fold,
) -> Result<(PreparedFold, FittedFeaturizer)> {
    let train_rows = data.features.select_rows(&fold.train);
    let valid_rows = data.features.select_rows(&fold.valid);
    let train_targets = data.targets.select(&fold.train);
    let featurizer = fit_featurizer_with_label(
        &data.schema,
        &train_rows,
        Some(&train_targets),
        &plan.featurizer,
    )?;
    let prepared = PreparedFold::new(
        featurizer.transform(&train_rows)?,
        train_targets,
        featurizer.transform(&valid_rows)?,
        data.targets.select(&fold.valid),
        fold.valid.clone(),
    );
    Ok((prepared, featurizer))
}
