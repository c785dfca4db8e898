//! Gradient-boosted trees on the native histogram core ([`super::trees`]).

use serde::{Deserialize, Serialize};

use super::params::hyperparams;
use super::trees::{train_gbm, GbmModel, GbmParams};
use super::{binned_rows, tree_target, Algorithm, FitContext, TrainSet};
use crate::error::{AutotabError, Result};

hyperparams! {
    /// Gradient boosting's hyperparameters: LightGBM's search space as FLAML declares it,
    /// starting from 4 trees of 4 leaves.
    pub struct BoostingParams {
        /// Boosting rounds.
        n_estimators: usize = int(4, 2000, log), default 100, low_cost 4;
        /// Largest number of leaves per tree.
        num_leaves: usize = int(4, 512, log), default 31, low_cost 4;
        /// Fewest rows in a leaf.
        min_child_samples: usize = int(2, 128, log), default 20, low_cost 20;
        /// Shrinkage applied to every tree.
        learning_rate: f64 = float(0.005, 1.0, log), default 0.1, low_cost 0.1;
        /// Fraction of features drawn for each tree.
        colsample_bytree: f64 = float(0.1, 1.0), default 1.0, low_cost 1.0;
        /// Fraction of rows drawn for each round.
        subsample: f64 = float(0.5, 1.0), default 1.0, low_cost 1.0;
        /// L1 regularisation of leaf values.
        reg_alpha: f64 = float(1e-3, 1024.0, log), default 1e-3, low_cost 1e-3;
        /// L2 regularisation of leaf values.
        reg_lambda: f64 = float(1e-3, 1024.0, log), default 1.0, low_cost 1.0;
    }
}

impl BoostingParams {
    /// The tree core's parameters for these values (the core's defaults for the rest).
    pub(crate) fn to_core(&self) -> GbmParams {
        GbmParams {
            n_estimators: self.n_estimators,
            num_leaves: self.num_leaves,
            min_child_samples: self.min_child_samples,
            learning_rate: self.learning_rate,
            colsample_bytree: self.colsample_bytree,
            subsample: self.subsample,
            reg_alpha: self.reg_alpha,
            reg_lambda: self.reg_lambda,
            ..GbmParams::default()
        }
    }
}

/// A fitted boosting model.
#[derive(Debug, Serialize, Deserialize)]
pub struct BoostingModel {
    /// The trees.
    pub gbm: GbmModel,
}

/// Rounds without improvement on the validation rows before boosting stops: about five
/// "unit steps" of shrinkage (50 rounds at LightGBM's default 0.1, 100 at 0.05), within 10..=200.
pub(crate) fn early_stopping_patience(learning_rate: f64) -> usize {
    ((5.0 / learning_rate).round() as usize).clamp(10, 200)
}

/// Fits the trees. With `ctx.valid`, rounds stop early on those rows (see
/// [`early_stopping_patience`]) and the model keeps its best round; without, every round of
/// `n_estimators` is trained.
pub(crate) fn fit(
    params: &BoostingParams,
    train: &TrainSet,
    ctx: &FitContext,
) -> Result<BoostingModel> {
    let mut params = params.to_core();
    params.check()?;
    let mut owned = None;
    let binned = binned_rows(train.binned, train.x, &mut owned, ctx.seed);
    let valid_binned = ctx.valid.as_ref().map(|v| match v.binned {
        Some(b) => std::borrow::Cow::Borrowed(b),
        None => std::borrow::Cow::Owned(binned.bin_like(v.x)),
    });
    let valid = match (&ctx.valid, &valid_binned) {
        (Some(v), Some(b)) => {
            params.early_stopping_rounds = Some(early_stopping_patience(params.learning_rate));
            Some((b.as_ref(), tree_target(v.y)))
        }
        _ => None,
    };
    let gbm = train_gbm(
        binned,
        tree_target(train.y),
        train.weights,
        valid,
        &params,
        ctx.deadline,
        ctx.seed,
    )
    .map_err(|e| AutotabError::fit(Algorithm::GradientBoosting, e))?;
    Ok(BoostingModel { gbm })
}
