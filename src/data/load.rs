//! Loading CSV and Parquet files into a [`Dataset`] with polars.

use std::path::Path;

use super::Dataset;
use crate::error::{AutotabError, Result};

/// How to read a table file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Cell values read as missing (compared after trimming spaces).
    pub missing_markers: Vec<String>,
    /// Field delimiter; sniffed from the first lines when `None`.
    pub delimiter: Option<u8>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            missing_markers: ["", "NA", "N/A", "null", "?", "NaN"]
                .map(String::from)
                .to_vec(),
            delimiter: None,
        }
    }
}

/// Reads a CSV (`.csv`, `.tsv`, `.txt`) or Parquet (`.parquet`) file.
pub fn load_table(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    let _ = options;
    Err(AutotabError::data(format!(
        "{}: loading is not written yet",
        path.display()
    )))
}
