//! Registered datasets: named, versioned references to a training table (a CSV or Parquet
//! file, or an MLTable folder) kept in the workspace, as Azure ML's `ws.datasets[...]`.
//!
//! Registering records where the table is (its absolute location; the bytes stay where they
//! are), its format, its columns with their inferred kinds, its row count and its content
//! fingerprint (the same SHA-256 a run records as its data fingerprint) as the next version of
//! the name. Registering the same location with the same bytes again returns the latest
//! version instead of making a new one. `run --data NAME[:N]` resolves a registered dataset
//! ([`resolve_training_data`]) when no file or folder of that name exists, and refuses a table
//! whose bytes no longer match the recorded fingerprint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::{infer_columns, is_mltable, load_table, LoadOptions};
use crate::error::{AutotabError, Result};
use crate::job::{JobSpec, RegisteredData, TableSource};
use crate::store::{DatasetRecord, DatasetRegistration, NewDataset, SqliteStore};
use crate::tracking::{Workspace, WorkspaceLocation};

/// A parsed `name` or `name:version` reference to a registered dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRef {
    /// Dataset name.
    pub name: String,
    /// Version; the latest when `None`.
    pub version: Option<u32>,
}

impl DatasetRef {
    /// Parses `name`, `name:N` or `name:latest`; an error says what a reference looks like.
    pub fn parse(reference: &str) -> Result<DatasetRef> {
        let reference = reference.trim();
        let (name, version) = match reference.rsplit_once(':') {
            None => (reference, None),
            Some((name, "latest")) => (name, None),
            Some((name, v)) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => (name, Some(n)),
                _ => {
                    return Err(AutotabError::config(format!(
                        "dataset reference '{reference}': the version after ':' must be a \
                         positive integer (e.g. {name}:2) or 'latest'"
                    )))
                }
            },
        };
        validate_dataset_name(name)?;
        Ok(DatasetRef {
            name: name.to_string(),
            version,
        })
    }
}

/// Checks a dataset name: 1 to 128 letters, digits, `-`, `_` or `.`, not starting with `.`.
pub fn validate_dataset_name(name: &str) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 128 || name.starts_with('.') || !ok_chars {
        return Err(AutotabError::config(format!(
            "dataset name '{name}' is invalid: use 1 to 128 letters, digits, '-', '_' or '.', \
             not starting with '.' (e.g. heart-failure-records)"
        )));
    }
    Ok(())
}

/// The format of the table at `path`: `mltable`, `parquet` or `csv` (as the loader reads it).
pub fn table_format(path: &Path) -> &'static str {
    if is_mltable(path) {
        return "mltable";
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    if extension == "parquet" || extension == "pq" {
        "parquet"
    } else {
        "csv"
    }
}

impl Workspace {
    /// Registers the table at `path` as the next version of dataset `name`: its absolute
    /// location, format, columns and inferred kinds, row count and content fingerprint. When
    /// the latest version has the same location and bytes, that version is returned
    /// (`created: false`) and nothing is written. Tag keys must be distinct and non-empty.
    pub fn register_dataset(
        &self,
        name: &str,
        path: &Path,
        description: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<DatasetRegistration> {
        validate_dataset_name(name)?;
        let mut tag_map = BTreeMap::new();
        for (key, value) in tags {
            if key.trim().is_empty() {
                return Err(AutotabError::config(
                    "tag with an empty key: use --tag key=value",
                ));
            }
            if tag_map.insert(key.clone(), value.clone()).is_some() {
                return Err(AutotabError::config(format!("tag '{key}' is given twice")));
            }
        }
        if !path.exists() {
            return Err(AutotabError::InvalidData(format!(
                "cannot register dataset '{name}': {} does not exist (expected a CSV or Parquet \
                 file or an MLTable folder)",
                path.display()
            )));
        }
        let location = std::fs::canonicalize(path).map_err(|e| AutotabError::io(path, e))?;
        let data = load_table(&location, &LoadOptions::default())?;
        let columns = infer_columns(&data);
        let schema: Vec<serde_json::Value> = columns
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "kind": c.kind.name(),
                    "missing": c.missing,
                    "distinct": c.distinct,
                })
            })
            .collect();
        let sha256 = content_sha256(&location)?;
        let location_text = location.to_string_lossy().into_owned();
        self.store.register_dataset(&NewDataset {
            name,
            location: &location_text,
            format: table_format(&location),
            schema: &serde_json::Value::Array(schema),
            rows: data.n_rows(),
            columns: columns.len(),
            sha256: &sha256,
            description,
            tags: &tag_map,
        })
    }

    /// The latest version of every registered dataset, by name.
    pub fn list_datasets(&self) -> Result<Vec<DatasetRecord>> {
        self.store.list_datasets()
    }

    /// All versions of dataset `name`, oldest first.
    pub fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetRecord>> {
        self.store.dataset_versions(name)
    }

    /// The dataset version `reference` names (`name`, `name:N` or `name:latest`).
    pub fn resolve_dataset(&self, reference: &str) -> Result<DatasetRecord> {
        let r = DatasetRef::parse(reference)?;
        self.store.resolve_dataset(&r.name, r.version)
    }
}

/// The content fingerprint of the table at `path` (what a run records as its data's
/// `sha256`: of the file's bytes, or of an MLTable folder's files).
pub fn content_sha256(path: &Path) -> Result<String> {
    Ok(crate::experiment::fingerprint(path, 0, 0, serde_json::Value::Null)?.sha256)
}

/// Checks that the table of `dataset` still exists and has the bytes it was registered with.
pub fn verify_dataset(dataset: &DatasetRecord) -> Result<()> {
    let location = Path::new(&dataset.location);
    let what = format!(
        "registered dataset '{}' version {}",
        dataset.name, dataset.version
    );
    if !location.exists() {
        return Err(AutotabError::InvalidData(format!(
            "{what}: its table {} no longer exists",
            location.display()
        )));
    }
    let now = content_sha256(location)?;
    if now != dataset.sha256 {
        return Err(AutotabError::InvalidData(format!(
            "{what}: the bytes of {} no longer match its fingerprint (registered sha256 {}, \
             now {now}); register the table again to make a new version \
             (autotab data register --name {} --path {})",
            location.display(),
            dataset.sha256,
            dataset.name,
            location.display()
        )));
    }
    Ok(())
}

/// Resolves the job's training table: when its path is not an existing file or folder, it is
/// read as a registered dataset `NAME[:N]` (Azure's `azureml:NAME[:N]` too) of the workspace
/// at `workspace`; the table's bytes are checked against the recorded fingerprint, and
/// the job then trains on the dataset's location with [`DataSpec::dataset`] set, which the run
/// records. An existing file or folder always wins over a dataset of the same name.
///
/// [`DataSpec::dataset`]: crate::job::DataSpec::dataset
pub fn resolve_training_data(workspace: &WorkspaceLocation, spec: &mut JobSpec) -> Result<()> {
    let path = spec.data.training.path().to_path_buf();
    if path.exists() {
        return Ok(());
    }
    let Some(dataset) = find_dataset(workspace, &path)? else {
        return Ok(());
    };
    verify_dataset(&dataset)?;
    spec.data.training = TableSource::new(PathBuf::from(&dataset.location));
    spec.data.dataset = Some(RegisteredData {
        name: dataset.name,
        version: dataset.version,
        sha256: dataset.sha256,
    });
    Ok(())
}

/// The dataset `path` (not an existing file) names, or an error saying neither a file nor a
/// registered dataset was found (with close names). `None` when `path` cannot be a dataset
/// reference and no workspace exists: the loader then reports the missing file as it always
/// has.
fn find_dataset(location: &WorkspaceLocation, path: &Path) -> Result<Option<DatasetRecord>> {
    let text = path.to_string_lossy();
    let reference = text.strip_prefix("azureml:").unwrap_or(&text);
    let not_found = |detail: String| {
        AutotabError::InvalidData(format!(
            "training data '{text}': no such file or folder, and {detail}"
        ))
    };
    let Ok(r) = DatasetRef::parse(reference) else {
        return Err(not_found(
            "it is not a registered dataset's name either (NAME or NAME:VERSION)".to_string(),
        ));
    };
    if let WorkspaceLocation::Folder(dir) = location {
        if !dir.join(SqliteStore::FILE_NAME).is_file() {
            return Err(not_found(format!(
                "no registered dataset either (no workspace at {})",
                dir.display()
            )));
        }
    }
    let workspace = Workspace::open_existing_at(location)?;
    let names: Vec<String> = workspace
        .list_datasets()?
        .into_iter()
        .map(|d| d.name)
        .collect();
    if !names.contains(&r.name) {
        let mut close: Vec<(f64, &String)> = names
            .iter()
            .map(|n| {
                (
                    strsim::jaro_winkler(&n.to_lowercase(), &r.name.to_lowercase()),
                    n,
                )
            })
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0));
        let hint = match close.first() {
            Some((_, n)) => format!("; did you mean '{n}'?"),
            None if names.is_empty() => " (none registered yet)".to_string(),
            None => format!(" (registered: {})", names.join(", ")),
        };
        return Err(not_found(format!(
            "no registered dataset named '{}' in workspace {}{hint}",
            r.name, location
        )));
    }
    workspace
        .store
        .resolve_dataset(&r.name, r.version)
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = DatasetRef::parse("heart-failure-records:3").unwrap();
        assert_eq!(
            (r.name.as_str(), r.version),
            ("heart-failure-records", Some(3))
        );
        assert_eq!(DatasetRef::parse("hf:latest").unwrap().version, None);
        assert_eq!(DatasetRef::parse("hf").unwrap().version, None);
        let err = DatasetRef::parse("hf:0").unwrap_err().to_string();
        assert!(err.contains("positive integer"), "{err}");
        assert!(DatasetRef::parse("data/hf.csv").is_err());
    }

    #[test]
    fn registration_records_the_table_and_resolution_checks_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "a,b,y\n1,x,0\n2,y,1\n3,x,0\n").unwrap();
        let ws_dir = dir.path().join("ws");
        let ws = Workspace::open(&ws_dir).unwrap();
        let tags = [("k".to_string(), "v".to_string())];
        let r = ws.register_dataset("t", &csv, Some("tiny"), &tags).unwrap();
        assert!(r.created);
        let d = &r.record;
        assert_eq!(
            (d.version, d.rows, d.columns, d.format.as_str()),
            (1, 3, 3, "csv")
        );
        assert_eq!(d.schema[1]["name"], "b");
        assert_eq!(d.sha256, content_sha256(&csv).unwrap());
        assert!(Path::new(&d.location).is_absolute());
        let again = ws.register_dataset("t", &csv, None, &[]).unwrap();
        assert!(!again.created && again.record.version == 1);

        let mut spec = JobSpec::new("t:1", "y");
        resolve_training_data(&WorkspaceLocation::Folder(ws_dir.clone()), &mut spec).unwrap();
        assert_eq!(spec.data.training.path(), Path::new(&d.location));
        assert_eq!(spec.data.dataset.as_ref().unwrap().to_string(), "t:1");

        let mut spec = JobSpec::new("tt", "y");
        let err = resolve_training_data(&WorkspaceLocation::Folder(ws_dir.clone()), &mut spec)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no such file") && err.contains("did you mean 't'"),
            "{err}"
        );

        std::fs::write(&csv, "a,b,y\n1,x,0\n2,y,1\n3,x,1\n").unwrap();
        let mut spec = JobSpec::new("t", "y");
        let err = resolve_training_data(&WorkspaceLocation::Folder(ws_dir.clone()), &mut spec)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'t' version 1") && err.contains(&d.sha256) && err.contains("t.csv"),
            "{err}"
        );
    }
}
