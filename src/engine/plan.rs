//! Stage 2, plan: the data guardrails, the validation plan, the algorithms to search and the
//! featurization settings, decided before any model is trained.

use super::load::LoadedData;
use crate::error::{AutotabError, Result};
use crate::featurize::{run_guardrails, FeaturizerConfig, Guardrail};
use crate::job::JobSpec;
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
}

/// Plans the run of `spec` on `data`.
pub(crate) fn plan(spec: &JobSpec, data: &LoadedData) -> Result<RunPlan> {
    let guardrails = run_guardrails(
        &data.schema,
        &data.features,
        (!data.class_counts.is_empty()).then_some(&data.class_counts[..]),
    );
    let validation = validation_plan(spec, data);
    check_classes_can_validate(spec, data, validation)?;
    Ok(RunPlan {
        guardrails,
        validation,
        algorithms: spec.algorithms_for(data.task)?,
        featurizer: FeaturizerConfig {
            mode: spec.featurization,
            ..FeaturizerConfig::default()
        },
    })
}

/// A given validation table wins, then the job's folds, then its holdout share, then Azure's
/// size-based default.
fn validation_plan(spec: &JobSpec, data: &LoadedData) -> ValidationPlan {
    match (
        data.n_given_valid,
        spec.n_cross_validations,
        spec.validation_size,
    ) {
        (Some(n), _, _) => ValidationPlan::Given {
            n_valid: n.min(data.data.n_rows().saturating_sub(1)),
        },
        (None, Some(k), _) => ValidationPlan::CrossValidation { folds: k },
        (None, None, Some(f)) => ValidationPlan::Holdout { fraction: f },
        (None, None, None) => ValidationPlan::default_for(data.data.n_rows()),
    }
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
            spec.label
        ))),
        None => Ok(()),
    }
}
