//! The library's error type: every failure is a value that names what was wrong.

use std::path::PathBuf;

/// Every error the autotab library returns.
///
/// Messages are written for the person who ran the command: they name the file, column,
/// field or parameter at fault and say what was expected.
#[derive(Debug, thiserror::Error)]
pub enum AutotabError {
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Input data (a file, a column, a record) is not what was expected.
    #[error("{0}")]
    InvalidData(String),
    /// A setting of the job (metric, task, budget, algorithm name, ...) is invalid.
    #[error("{0}")]
    InvalidConfig(String),
    /// A model could not be trained.
    #[error("training {algorithm} failed: {message}")]
    Fit {
        /// The algorithm that failed.
        algorithm: String,
        /// What went wrong.
        message: String,
    },
    /// A fitted model could not score the given input.
    #[error("prediction failed: {0}")]
    Predict(String),
    /// The time budget ran out before the work could be done.
    #[error("time budget exhausted: {0}")]
    Budget(String),
    /// The workspace store (runs, registry) failed.
    #[error("workspace store: {0}")]
    Store(String),
    /// An MLflow tracking server could not be reached or refused a request.
    #[error("MLflow tracking server {uri}: {message}")]
    Mlflow {
        /// The server's address (never with a password).
        uri: String,
        /// What failed.
        message: String,
    },
    /// A run report could not be built (missing or unreadable report data, a chart).
    #[error("report: {0}")]
    Report(String),
    /// A saved model bundle is missing, corrupt or of an unsupported format.
    #[error("model bundle {}: {message}", path.display())]
    Bundle {
        /// The bundle folder or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Shorthand for results whose error is [`AutotabError`].
pub type Result<T, E = AutotabError> = std::result::Result<T, E>;

impl AutotabError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AutotabError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`AutotabError::InvalidData`] from anything printable.
    pub fn data(message: impl Into<String>) -> Self {
        AutotabError::InvalidData(message.into())
    }

    /// An [`AutotabError::InvalidConfig`] from anything printable.
    pub fn config(message: impl Into<String>) -> Self {
        AutotabError::InvalidConfig(message.into())
    }

    /// An [`AutotabError::Fit`] for `algorithm`.
    pub fn fit(algorithm: impl std::fmt::Display, message: impl std::fmt::Display) -> Self {
        AutotabError::Fit {
            algorithm: algorithm.to_string(),
            message: message.to_string(),
        }
    }
}
