//! autotab: an AutoML experimentation engine for tabular data.
//!
//! The library does the work (load, featurize, search, ensemble, register, score); the
//! `autotab` binary and the HTTP server are thin layers over it.

pub mod data;
pub mod error;
pub mod metrics;
pub mod models;
pub mod task;

pub use error::{AutotabError, Result};
pub use task::Task;
