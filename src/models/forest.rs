//! Random forest and extra trees on the native histogram core ([`super::trees`]).

use serde::{Deserialize, Serialize};

use super::params::{ParamReader, ParamSpec};
use super::trees::{train_forest, ForestModel, ForestParams};
use super::{binned_rows, tree_target, Algorithm, FitContext, TrainSet};
use crate::error::{AutotabError, Result};

/// FLAML's forest space: trees, feature share per node, leaves per tree; from 4 small trees.
pub(crate) const SPACE: &[ParamSpec] = &[
    ParamSpec::int("n_estimators", 4, 1000, true, 100, 4),
    ParamSpec::float("max_features", 0.1, 1.0, false, 0.5, 0.5),
    ParamSpec::int("max_leaves", 4, 32768, true, 32768, 4),
    ParamSpec::int("min_samples_leaf", 1, 64, true, 1, 1),
];

/// A fitted forest (random forest or extra trees).
#[derive(Debug, Serialize, Deserialize)]
pub struct ForestFit {
    /// The trees.
    pub forest: ForestModel,
}

pub(crate) fn fit(
    reader: &ParamReader,
    train: &TrainSet,
    ctx: &FitContext,
    extra: bool,
) -> Result<ForestFit> {
    let algorithm = if extra {
        Algorithm::ExtraTrees
    } else {
        Algorithm::RandomForest
    };
    let base = if extra {
        ForestParams::extra_trees_defaults()
    } else {
        ForestParams::default()
    };
    let max_leaves = reader.int("max_leaves", 32768).max(2) as usize;
    let params = ForestParams {
        n_estimators: reader.int("n_estimators", 100).max(1) as usize,
        max_features: reader.float("max_features", 0.5),
        min_samples_leaf: reader.int("min_samples_leaf", 1).max(1) as usize,
        max_leaves: (max_leaves < 32768).then_some(max_leaves),
        ..base
    };
    params.check()?;
    let mut owned = None;
    let binned = binned_rows(train.binned, train.x, &mut owned, ctx.seed);
    let forest = train_forest(
        binned,
        tree_target(train.y),
        train.weights,
        &params,
        ctx.deadline,
        ctx.seed,
    )
    .map_err(|e| AutotabError::fit(algorithm, e))?;
    Ok(ForestFit { forest })
}
