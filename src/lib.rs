//! autotab: an AutoML experimentation engine for tabular data.
//!
//! The library does the work (load, featurize, search, ensemble, register, score); the
//! `autotab` binary and the HTTP server are thin layers over it.

pub mod data;
pub mod datasets;
pub mod distributed;
pub mod engine;
pub mod ensemble;
pub mod error;
pub mod evaluate;
pub mod experiment;
pub mod explain;
pub mod featurize;
pub mod forecast;
pub mod job;
pub mod leaderboard;
pub mod metrics;
pub mod mlflow;
pub mod models;
mod names;
pub mod pipeline;
pub mod registry;
pub mod report;
pub mod scoring;
pub mod search;
pub mod stats;
pub mod store;
pub mod target;
pub mod task;
pub mod tracking;
pub mod validation;
pub mod yaml;

pub use engine::{run, AutoMl, FitOutcome, RunObserver, RunOutcome};
pub use ensemble::Learner;
pub use error::{AutotabError, Result};
pub use job::JobSpec;
pub use pipeline::Pipeline;
pub use scoring::Predictor;
pub use task::Task;
pub use tracking::{ArtifactsLocation, Workspace, WorkspaceLocation};
