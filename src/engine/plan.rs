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
    /// asked for, or by default under k-fold cross-validation (with one holdout or given
    /// validation data a refit sees more rows than the fold's model, so it is preferred when
    /// the time left allows it).
    pub fn prefers_fold_models(&self) -> bool {
        match self.final_model {
            FinalModel::Refit => false,
            FinalModel::Bagged => true,
            FinalModel::Auto => matches!(
                self.validation,
                ValidationPlan::CrossValidation { folds } if folds >= 2
            ),
        }
    }
}

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
