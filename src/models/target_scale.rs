//! The scale a regression learner fits its label on: the label itself, or its natural
//! logarithm with predictions exponentiated back (a searched choice of the learners that
//! declare a `target` hyperparameter; the search pins it to `raw` unless every label of the run
//! is above 0, see `search::Sampler::pin`).

use super::params::choice_param;
use super::{Algorithm, TargetRef};
use crate::error::{AutotabError, Result};

choice_param! {
    /// The scale a regression label is fitted on.
    pub enum TargetScale {
        /// The label as it is.
        Raw = "raw",
        /// The label's natural logarithm (every label above 0); predictions are
        /// exponentiated back. For skewed positive labels such as prices: the model then fits
        /// relative errors instead of being led by the few largest values.
        Log = "log",
    }
}

impl TargetScale {
    /// The name of the hyperparameter in a learner's params (the `target` field of the
    /// learners that declare it).
    pub const PARAM: &'static str = "target";
}

/// Whether every label of `y` can be fitted on a log scale: a regression label above 0 on
/// every row.
pub(crate) fn log_possible(y: TargetRef<'_>) -> bool {
    loggable(y).is_ok()
}

/// The labels of `y` when they can be fitted on a log scale, else why not.
fn loggable(y: TargetRef<'_>) -> std::result::Result<&[f64], String> {
    match y {
        TargetRef::Values(values) => match values.iter().find(|v| v.is_nan() || **v <= 0.0) {
            Some(bad) => Err(format!("every label above 0, found {bad}")),
            None => Ok(values),
        },
        TargetRef::Classes { .. } => Err("a regression label, not classes".into()),
    }
}

/// The labels a learner fits: their logarithms when there are, else `y` itself.
pub(crate) fn on_scale<'a>(y: TargetRef<'a>, logs: Option<&'a [f64]>) -> TargetRef<'a> {
    logs.map_or(y, TargetRef::Values)
}

/// The natural logarithm of every label of a regression target (`what` names the rows in the
/// error), or why `algorithm` cannot fit them on a log scale.
pub(crate) fn log_labels(algorithm: Algorithm, y: TargetRef<'_>, what: &str) -> Result<Vec<f64>> {
    loggable(y)
        .map(|values| values.iter().map(|v| v.ln()).collect())
        .map_err(|why| AutotabError::fit(algorithm, format!("target=log needs {why} ({what})")))
}
