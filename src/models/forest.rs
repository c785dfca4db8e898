//! Random forest and extra trees on the native histogram core ([`super::trees`]).

use serde::{Deserialize, Serialize};

use super::params::hyperparams;
use super::trees::{train_forest, ForestModel, ForestParams};
use super::{binned_rows, tree_target, Algorithm, FitContext, TrainSet};
use crate::error::{AutotabError, Result};

/// `max_leaves` at its upper bound means no limit on the leaves of a tree.
const UNLIMITED_LEAVES: usize = 32768;

hyperparams! {
    /// Random forest's and extra trees' hyperparameters: FLAML's forest space (trees, feature
    /// share per node, leaves per tree), starting from 4 small trees.
    pub struct RandomForestParams {
        /// Number of trees.
        n_estimators: usize = int(4, 1000, log), default 100, low_cost 4;
        /// Fraction of the features tried at each node.
        max_features: f64 = float(0.1, 1.0), default 0.5, low_cost 0.5;
        /// Largest number of leaves per tree; 32768 means unlimited.
        max_leaves: usize = int(4, 32768, log), default 32768, low_cost 4;
        /// Fewest rows in a leaf.
        min_samples_leaf: usize = int(1, 64, log), default 1, low_cost 1;
    }
}

impl RandomForestParams {
    /// The tree core's parameters: random forest's, or extra trees' when `extra`.
    pub(crate) fn to_core(&self, extra: bool) -> ForestParams {
        let base = if extra {
            ForestParams::extra_trees_defaults()
        } else {
            ForestParams::default()
        };
        ForestParams {
            n_estimators: self.n_estimators,
            max_features: self.max_features,
            min_samples_leaf: self.min_samples_leaf,
            max_leaves: (self.max_leaves < UNLIMITED_LEAVES).then_some(self.max_leaves),
            ..base
        }
    }
}

/// A fitted forest (random forest or extra trees).
#[derive(Debug, Serialize, Deserialize)]
pub struct ForestFit {
    /// The trees.
    pub forest: ForestModel,
}

pub(crate) fn fit(
    params: &RandomForestParams,
    train: &TrainSet,
    ctx: &FitContext,
    extra: bool,
) -> Result<ForestFit> {
    let algorithm = if extra {
        Algorithm::ExtraTrees
    } else {
        Algorithm::RandomForest
    };
    let params = params.to_core(extra);
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
