//! Gradient-boosted trees on the native histogram core ([`super::trees`]).

use serde::{Deserialize, Serialize};

use super::params::{ParamReader, ParamSpec};
use super::trees::{train_gbm, GbmModel, GbmParams};
use super::{binned_rows, tree_target, Algorithm, FitContext, TrainSet};
use crate::error::{AutotabError, Result};

/// LightGBM's search space as FLAML declares it, starting from 4 trees of 4 leaves.
pub(crate) const SPACE: &[ParamSpec] = &[
    ParamSpec::int("n_estimators", 4, 2000, true, 100, 4),
    ParamSpec::int("num_leaves", 4, 512, true, 31, 4),
    ParamSpec::int("min_child_samples", 2, 128, true, 20, 20),
    ParamSpec::float("learning_rate", 0.005, 1.0, true, 0.1, 0.1),
    ParamSpec::float("colsample_bytree", 0.1, 1.0, false, 1.0, 1.0),
    ParamSpec::float("subsample", 0.5, 1.0, false, 1.0, 1.0),
    ParamSpec::float("reg_alpha", 1e-3, 1024.0, true, 1e-3, 1e-3),
    ParamSpec::float("reg_lambda", 1e-3, 1024.0, true, 1.0, 1.0),
];

/// A fitted boosting model.
#[derive(Debug, Serialize, Deserialize)]
pub struct BoostingModel {
    /// The trees.
    pub gbm: GbmModel,
}

pub(crate) fn params(reader: &ParamReader) -> GbmParams {
    GbmParams {
        n_estimators: reader.int("n_estimators", 100).max(1) as usize,
        num_leaves: reader.int("num_leaves", 31).max(2) as usize,
        min_child_samples: reader.int("min_child_samples", 20).max(1) as usize,
        learning_rate: reader.float("learning_rate", 0.1),
        colsample_bytree: reader.float("colsample_bytree", 1.0),
        subsample: reader.float("subsample", 1.0),
        reg_alpha: reader.float("reg_alpha", 0.0),
        reg_lambda: reader.float("reg_lambda", 0.0),
        ..GbmParams::default()
    }
}

pub(crate) fn fit(
    reader: &ParamReader,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<BoostingModel> {
    let params = params(reader);
    params.check()?;
    let mut owned = None;
    let binned = binned_rows(train.binned, train.x, &mut owned, ctx.seed);
    let gbm = train_gbm(
        binned,
        tree_target(train.y),
        train.weights,
        None,
        &params,
        ctx.deadline,
        ctx.seed,
    )
    .map_err(|e| AutotabError::fit(Algorithm::GradientBoosting, e))?;
    Ok(BoostingModel { gbm })
}
