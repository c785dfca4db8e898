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

/// The labels a learner fits: their logarithms when there are, else `y` itself.
pub(crate) fn on_scale<'a>(y: TargetRef<'a>, logs: Option<&'a [f64]>) -> TargetRef<'a> {
    logs.map_or(y, TargetRef::Values)
}

/// The natural logarithm of every label of a regression target (`what` names the rows in the
/// error), or why `algorithm` cannot fit them on a log scale.
pub(crate) fn log_labels(algorithm: Algorithm, y: TargetRef<'_>, what: &str) -> Result<Vec<f64>> {
    let fail =
        |why: String| AutotabError::fit(algorithm, format!("target=log needs {why} ({what})"));
    match y {
        TargetRef::Values(values) => match values.iter().find(|v| v.is_nan() || **v <= 0.0) {
            Some(bad) => Err(fail(format!("every label above 0, found {bad}"))),
            None => Ok(values.iter().map(|v| v.ln()).collect()),
        },
        TargetRef::Classes { .. } => Err(fail("a regression label, not classes".into())),
    }
}
