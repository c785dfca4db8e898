//! Stage 2, plan: the data guardrails, the validation plan, the algorithms to search and the
//! featurization settings, decided before any model is trained.

use super::load::LoadedData;
use crate::error::{AutotabError, Result};
use crate::featurize::{run_guardrails, FeaturizerConfig, Guardrail};
use crate::job::{FinalModel, JobSpec};
use crate::models::Algorithm;
use crate::target::Targets;
use crate::validation::ValidationPlan;

/// What the run will do, decided from the job and the loaded data.
#[derive(Debug)]
pub(crate) struct RunPlan {
    /// Guardrail findings on the training data.
    pub guardrails: Vec<Guardrail>,
    /// How rows are validated.
    pub validation: ValidationPlan,
    /// Algorithms to search, in first-round order.
    pub algorithms: Vec<Algorithm>,
    /// How raw columns become features.
    pub featurizer: FeaturizerConfig,
    /// Whether a voting ensemble of the best trials may be built after the search.
    pub ensembles: bool,
    /// Whether a stack ensemble may be built after the search (not for forecasting, as in
    /// Azure).
    pub stack: bool,
    /// What to ship: bagged fold models or a refit.
    pub final_model: FinalModel,
}

impl RunPlan {
    /// Whether the run ships the validation folds' models rather than a refit when it can:
    /// asked for, or by default under cross-validation of at least 5 folds (each fold's model
    /// then saw at least 80% of the rows; measured in `reports/bagging.md`: bagging 10 folds
    /// scores like a refit on test, 3 folds' models of two thirds of the rows score below it).
    pub fn prefers_fold_models(&self) -> bool {
        match self.final_model {
            FinalModel::Refit => false,
            FinalModel::Bagged => true,
            FinalModel::Auto => matches!(
                self.validation,
                ValidationPlan::CrossValidation { folds } if folds >= 5
            ),
        }
    }

    /// Whether the folds' models may stand in for a refit that does not fit in the time left,
    /// each having been trained on `train_share` of the rows: asked for, or by default when
    /// that share is at least [`MIN_FOLD_SHARE`] (a 10% holdout's model, not 3 folds' models).
    pub fn may_ship_fold_models(&self, train_share: f64) -> bool {
        match self.final_model {
            FinalModel::Refit => false,
            FinalModel::Bagged => true,
            FinalModel::Auto => train_share >= MIN_FOLD_SHARE - 1e-9,
        }
    }
}

/// Least share of the training rows a fold's model must have seen to be shipped by default.
pub(crate) const MIN_FOLD_SHARE: f64 = 0.8;

/// Plans the run of `spec` on `data`.
pub(crate) fn plan(spec: &JobSpec, data: &LoadedData) -> Result<RunPlan> {
    let guardrails = run_guardrails(
        &data.schema,
        &data.features,
        (!data.class_counts.is_empty()).then_some(&data.class_counts[..]),
    );
    let validation = spec.validation_plan(data.data.n_rows(), data.n_given_valid);
    check_classes_can_validate(spec, data, validation)?;
    Ok(RunPlan {
        guardrails,
        validation,
        algorithms: spec.algorithms_for(data.task)?,
        featurizer: spec.featurization.featurizer_config(),
        ensembles: spec.training.enable_vote_ensemble,
        stack: spec.training.enable_stack_ensemble && data.task != crate::task::Task::Forecasting,
        final_model: spec.training.final_model,
    })
}

/// Every class needs rows on both sides of a split.
fn check_classes_can_validate(
    spec: &JobSpec,
    data: &LoadedData,
    plan: ValidationPlan,
) -> Result<()> {
    if !matches!(data.targets, Targets::Classes(_, _)) {
        return Ok(());
    }
    let folds_needed = match plan {
        ValidationPlan::CrossValidation { folds } => folds,
        _ => 2,
    };
    match data
        .class_counts
        .iter()
        .find(|(_, c)| *c < folds_needed.min(2))
    {
        Some((name, count)) => Err(AutotabError::data(format!(
            "class '{name}' of label '{}' has only {count} row(s): too few to validate",
            spec.data.label
        ))),
        None => Ok(()),
    }
}
