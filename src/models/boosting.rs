//! Gradient-boosted trees on the native histogram core ([`super::trees`]).

use serde::{Deserialize, Serialize};

use ndarray::{Array2, ArrayView2};

use super::params::hyperparams;
use super::target_scale::{log_labels, on_scale, TargetScale};
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
        /// The scale a regression label is fitted on (`log` needs every label above 0; the
        /// search tries it only then, see `search::Sampler::pin`).
        target: TargetScale = choice, default TargetScale::Raw, low_cost TargetScale::Raw;
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
    /// The trees fit ln(label): predictions are exponentiated (bundles saved before the
    /// choice existed read as `false`).
    #[serde(default)]
    pub log_target: bool,
}

impl BoostingModel {
    /// A model of `gbm`'s trees on the label's own scale.
    pub fn new(gbm: GbmModel) -> Self {
        BoostingModel {
            gbm,
            log_target: false,
        }
    }

    /// Predictions on the label's scale (exponentiated when the trees fit its logarithm).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let raw = self.gbm.predict(x);
        if self.log_target {
            raw.mapv(f64::exp)
        } else {
            raw
        }
    }
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
    let params_target = params.target;
    let mut params = params.to_core();
    params.check()?;
    let mut owned = None;
    let binned = binned_rows(train.binned, train.x, &mut owned, ctx.seed);
    let valid_binned = ctx.valid.as_ref().map(|v| match v.binned {
        Some(b) => std::borrow::Cow::Borrowed(b),
        None => std::borrow::Cow::Owned(binned.bin_like(v.x)),
    });
    // On a log scale, both the rows fitted and the rows that stop the rounds are logged.
    let log_target = params_target == TargetScale::Log;
    let train_logs = log_target
        .then(|| log_labels(Algorithm::GradientBoosting, train.y, "training rows"))
        .transpose()?;
    let valid_logs = ctx
        .valid
        .as_ref()
        .filter(|_| log_target)
        .map(|v| log_labels(Algorithm::GradientBoosting, v.y, "validation rows"))
        .transpose()?;
    let valid = match (&ctx.valid, &valid_binned) {
        (Some(v), Some(b)) => {
            params.early_stopping_rounds = Some(early_stopping_patience(params.learning_rate));
            Some((
                b.as_ref(),
                tree_target(on_scale(v.y, valid_logs.as_deref())),
            ))
        }
        _ => None,
    };
    let gbm = train_gbm(
        binned,
        tree_target(on_scale(train.y, train_logs.as_deref())),
        train.weights,
        valid,
        &params,
        ctx.deadline,
        ctx.seed,
    )
    .map_err(|e| AutotabError::fit(Algorithm::GradientBoosting, e))?;
    Ok(BoostingModel { gbm, log_target })
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::models::{Estimator, FittedModel, ParamValue, Params, TargetRef};

    /// A skewed positive label: `exp(2 x0 + x1)` over a grid, so that the log scale is linear.
    fn skewed(n: usize) -> (Array2<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                (i % 40) as f64 / 40.0
            } else {
                (i / 40) as f64 / (n / 40) as f64
            }
        });
        let y = x
            .rows()
            .into_iter()
            .map(|r| (2.0 * r[0] + r[1]).exp())
            .collect();
        (x, y)
    }

    fn fit(target: &str, x: &Array2<f64>, y: TargetRef<'_>) -> Result<FittedModel> {
        let mut params = Params::new();
        params.insert("n_estimators".into(), ParamValue::Int(200));
        params.insert(TargetScale::PARAM.into(), ParamValue::Choice(target.into()));
        let train = TrainSet {
            x: x.view(),
            y,
            weights: None,
            binned: None,
        };
        let ctx = FitContext {
            deadline: None,
            seed: 3,
            valid: None,
        };
        Estimator::new(Algorithm::GradientBoosting, &params)?.fit(&train, &ctx)
    }

    #[test]
    fn a_log_target_fits_the_logarithm_and_predicts_on_the_label_scale() {
        let (x, y) = skewed(800);
        let model = fit("log", &x, TargetRef::Values(&y)).unwrap();
        let FittedModel::Boosting(boosting) = &model else {
            panic!("a boosting model")
        };
        assert!(boosting.log_target);
        let predicted = model.predict(x.view()).unwrap();
        let trees = boosting.gbm.predict(x.view());
        for ((p, t), label) in predicted.iter().zip(trees.iter()).zip(&y) {
            assert!(
                (p - t.exp()).abs() < 1e-9,
                "the trees' output is exponentiated"
            );
            assert!((p / label - 1.0).abs() < 0.1, "{p} against {label}");
        }
        let raw = fit("raw", &x, TargetRef::Values(&y)).unwrap();
        let FittedModel::Boosting(raw) = &raw else {
            panic!("a boosting model")
        };
        assert!(!raw.log_target);
    }

    #[test]
    fn the_label_scale_is_declared_under_its_param_name() {
        let spec = Algorithm::GradientBoosting
            .space()
            .iter()
            .find(|s| s.name == TargetScale::PARAM)
            .expect("boosting declares the label scale");
        assert_eq!(spec.domain, crate::models::Domain::Choice(&["raw", "log"]));
    }

    #[test]
    fn a_log_target_refuses_labels_at_or_below_zero_and_classes() {
        let (x, mut y) = skewed(200);
        y[17] = 0.0;
        let err = fit("log", &x, TargetRef::Values(&y))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("target=log") && err.contains("above 0"),
            "{err}"
        );
        let labels: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let classes = TargetRef::Classes {
            labels: &labels,
            n_classes: 2,
        };
        let err = fit("log", &x, classes).unwrap_err().to_string();
        assert!(err.contains("regression label"), "{err}");
        assert!(fit("raw", &x, classes).is_ok());
    }
}
