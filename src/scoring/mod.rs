//! Scoring: the model bundle on disk and the [`Predictor`] that loads and runs it.

mod bundle;

pub use bundle::{save_bundle, BundleInfo, Predictor, BUNDLE_FORMAT_VERSION};
