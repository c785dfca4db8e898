//! Scoring: the model bundle on disk and the [`Predictor`] that loads and runs it, JSON
//! requests and answers, the generated `score.py` and model card, and the HTTP server.
//! [`Scorer`] is what the server and the worker score: a tabular [`Predictor`] or a
//! [`forecast::ForecastScorer`].

mod bundle;
pub mod forecast;
pub mod request;
mod scorer;
mod script;
pub mod server;
pub mod worker;

pub use bundle::{
    decode_pipeline, save_bundle, verify_bundle, BundleInfo, Predictor, BUNDLE_FORMAT_VERSION,
};
pub use scorer::{load_scorer, Scorer};
pub use script::{model_card, score_py};
