//! The model registry: named, versioned model bundles kept in the workspace.
//!
//! Registering a name again creates the next version (1, 2, 3, ...; a deleted version's number
//! is never reused). The bundle folder is first copied into the workspace's artifact store
//! (staged, synced), then published under `models/<name>/<version>` inside the store
//! transaction that picks the version, so two processes registering at once get distinct
//! versions and a crash never leaves a registered version without its folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{AutotabError, Result};
use crate::store::{store_err, ModelRecord, NewModel};
use crate::tracking::Workspace;

/// One registered version of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// Model name.
    pub name: String,
    /// Version, from 1.
    pub version: u32,
    /// The bundle folder (`<workspace>/artifacts/models/<name>/<version>`; with artifacts on
    /// S3, its local copy).
    pub path: PathBuf,
    /// The run that produced it, if any.
    pub run_id: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags (`key=value`).
    pub tags: BTreeMap<String, String>,
    /// Metrics recorded at registration.
    pub metrics: serde_json::Value,
    /// Registration time, RFC 3339.
    pub created: String,
}

/// A parsed `name` or `name:version` reference.
struct ModelRef<'a> {
    name: &'a str,
    version: Option<u32>,
}

impl<'a> ModelRef<'a> {
    fn parse(reference: &'a str) -> Result<ModelRef<'a>> {
        let (name, version) = match reference.split_once(':') {
            None => (reference, None),
            Some((name, "latest")) => (name, None),
            Some((name, v)) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => (name, Some(n)),
                _ => {
                    return Err(AutotabError::config(format!(
                        "model reference '{reference}': the version after ':' must be a \
                         positive integer (e.g. {name}:2) or 'latest'"
                    )))
                }
            },
        };
        validate_name(name)?;
        Ok(ModelRef { name, version })
    }
}

impl Workspace {
    /// Registers the bundle folder `bundle_dir` as the next version of `name`.
    ///
    /// The folder is copied into the workspace; `run_id`, if given, must be a run of this
    /// workspace. Tag keys must be distinct and non-empty.
    pub fn register_model(
        &self,
        name: &str,
        bundle_dir: &Path,
        run_id: Option<&str>,
        description: Option<&str>,
        tags: &[(String, String)],
        metrics: &serde_json::Value,
    ) -> Result<ModelVersion> {
        validate_name(name)?;
        if !bundle_dir.is_dir() {
            return Err(AutotabError::Bundle {
                path: bundle_dir.to_path_buf(),
                message: "not a folder: a model bundle is a folder to register".to_string(),
            });
        }
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
        let staged = self
            .artifacts
            .stage(bundle_dir, &format!("models/{name}"))?;
        let mut published: Option<String> = None;
        let model = NewModel {
            name,
            run_id,
            description,
            tags: &tag_map,
            metrics,
        };
        let result = self.store.register_model(&model, &mut |version| {
            let key = format!("models/{name}/{version}");
            self.artifacts.commit(&staged, &key)?;
            published = Some(key.clone());
            Ok(key)
        });
        match result {
            Ok(record) => self.model_version(record),
            Err(e) => {
                // The registration did not commit: nothing refers to either folder.
                self.artifacts.discard(&staged);
                if let Some(key) = published {
                    let _ = self.artifacts.delete(&key);
                }
                Err(e)
            }
        }
    }

    /// The latest version of every registered model, by name. Their paths are where
    /// [`Workspace::resolve_model`] puts the bundles: with artifacts on S3 nothing is
    /// downloaded here, so a path may not exist yet.
    pub fn list_models(&self) -> Result<Vec<ModelVersion>> {
        self.model_versions_of(self.store.list_models()?)
    }

    /// All versions of model `name`, oldest first; an error if there is none (paths as in
    /// [`Workspace::list_models`]).
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        validate_name(name)?;
        self.model_versions_of(self.store.model_versions(name)?)
    }

    /// Finds `name` (its latest version), `name:latest` or `name:<version>`.
    pub fn resolve_model(&self, reference: &str) -> Result<ModelVersion> {
        let r = ModelRef::parse(reference)?;
        self.model_version(self.store.resolve_model(r.name, r.version)?)
    }

    /// Deletes `name:<version>`, or every version of `name`; returns how many were deleted.
    ///
    /// The records go first (one transaction), then the folders; version numbers are not
    /// reused.
    pub fn delete_model(&self, reference: &str) -> Result<usize> {
        let r = ModelRef::parse(reference)?;
        let deleted = self.store.delete_models(r.name, r.version)?;
        for m in &deleted {
            self.artifacts.delete(&m.artifact).map_err(|e| {
                store_err(format!(
                    "model {}:{} was deleted from the registry but its folder could not be \
                     removed: {e}",
                    m.name, m.version
                ))
            })?;
        }
        Ok(deleted.len())
    }

    /// Stored records with the local folders their bundles would have, fetching nothing.
    fn model_versions_of(&self, records: Vec<ModelRecord>) -> Result<Vec<ModelVersion>> {
        records
            .into_iter()
            .map(|record| {
                let path = self.artifacts.local_path(&record.artifact)?;
                Ok(ModelVersion::of(record, path))
            })
            .collect()
    }

    /// A stored record with the local folder of its bundle (fetched, with artifacts on S3).
    fn model_version(&self, record: ModelRecord) -> Result<ModelVersion> {
        let path = self.artifacts.locate(&record.artifact)?;
        Ok(ModelVersion::of(record, path))
    }
}

impl ModelVersion {
    /// The version `record` describes, its bundle in `path`.
    fn of(record: ModelRecord, path: PathBuf) -> ModelVersion {
        ModelVersion {
            path,
            name: record.name,
            version: record.version,
            run_id: record.run_id,
            description: record.description,
            tags: record.tags,
            metrics: record.metrics,
            created: record.created,
        }
    }
}

/// Model names become folder names and are followed by `:version`: letters, digits, `-`,
/// `_` and `.`, not starting with `.`, at most 128 characters.
pub fn validate_name(name: &str) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 128 || name.starts_with('.') || !ok_chars {
        return Err(AutotabError::config(format!(
            "model name '{name}' is invalid: use 1 to 128 letters, digits, '-', '_' or '.', \
             not starting with '.' (e.g. heart-failure)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A small bundle folder with a nested file whose content names `label`.
    fn bundle(parent: &Path, label: &str) -> PathBuf {
        let dir = parent.join(format!("bundle-{label}"));
        fs::create_dir_all(dir.join("nested")).unwrap();
        fs::write(
            dir.join("schema.json"),
            format!("{{\"label\":\"{label}\"}}"),
        )
        .unwrap();
        fs::write(dir.join("nested").join("model.bin"), [1u8, 2, 3]).unwrap();
        dir
    }

    fn register(ws: &Workspace, name: &str, bundle_dir: &Path) -> ModelVersion {
        ws.register_model(name, bundle_dir, None, None, &[], &serde_json::json!({}))
            .unwrap()
    }

    #[test]
    fn versions_count_up_and_bundles_are_copied() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let fp = crate::tracking::DataFingerprint {
            sha256: String::new(),
            rows: 1,
            columns: 1,
            schema_json: serde_json::json!({}),
        };
        let run = ws.start_run("e", &serde_json::json!({}), &fp).unwrap();
        let tags = [("owner".to_string(), "cardio".to_string())];
        let metrics = serde_json::json!({"AUC_weighted": 0.91});
        let v1 = ws
            .register_model(
                "heart-failure",
                &bundle(dir.path(), "a"),
                Some(run.as_str()),
                Some("first"),
                &tags,
                &metrics,
            )
            .unwrap();
        let v2 = register(&ws, "heart-failure", &bundle(dir.path(), "b"));
        let v3 = register(&ws, "heart-failure", &bundle(dir.path(), "c"));
        let other = register(&ws, "churn", &bundle(dir.path(), "d"));
        assert_eq!(
            (v1.version, v2.version, v3.version, other.version),
            (1, 2, 3, 1)
        );
        assert_eq!(
            v1.path,
            dir.path().join("ws/artifacts/models/heart-failure/1")
        );
        assert_eq!(
            fs::read_to_string(v2.path.join("schema.json")).unwrap(),
            "{\"label\":\"b\"}"
        );
        assert_eq!(
            fs::read(v3.path.join("nested/model.bin")).unwrap(),
            vec![1, 2, 3]
        );

        // Records (tags, run, metrics) are the store's: see the store conformance suite.
        assert_eq!(ws.model_versions("heart-failure").unwrap()[0], v1);
        assert_eq!(v1.tags["owner"], "cardio");
        assert_eq!(v1.metrics, metrics);
        let staging_left = fs::read_dir(dir.path().join("ws/artifacts/models/heart-failure"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        assert_eq!(staging_left, 0);
    }

    #[test]
    fn references_are_parsed_before_the_store_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let b = bundle(dir.path(), "x");
        for _ in 0..3 {
            register(&ws, "hf", &b);
        }
        assert_eq!(ws.resolve_model("hf").unwrap().version, 3);
        assert_eq!(ws.resolve_model("hf:latest").unwrap().version, 3);
        let v2 = ws.resolve_model("hf:2").unwrap();
        assert_eq!(v2.path, dir.path().join("ws/artifacts/models/hf/2"));
        let err = ws.resolve_model("hf:abc").unwrap_err().to_string();
        assert!(err.contains("positive integer"), "{err}");
        for bad in [
            "hf:0", "hf:abc", "hf:-1", "", ":2", "a/b", "../x", ".hidden",
        ] {
            assert!(ws.resolve_model(bad).is_err(), "{bad}");
            assert!(ws.delete_model(bad).is_err(), "{bad}");
        }
        assert!(ws.model_versions("a/b").is_err());
        assert_eq!(ws.model_versions("hf").unwrap().len(), 3);
    }

    #[test]
    fn deleting_removes_the_bundle_folders() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let b = bundle(dir.path(), "x");
        let v: Vec<ModelVersion> = (0..3).map(|_| register(&ws, "hf", &b)).collect();
        assert_eq!(ws.delete_model("hf:3").unwrap(), 1);
        assert!(!v[2].path.exists() && v[1].path.exists());
        assert_eq!(register(&ws, "hf", &b).version, 4);
        assert_eq!(ws.delete_model("hf").unwrap(), 3);
        assert!(!v[0].path.exists() && !v[1].path.exists());
        // A folder removed by hand already does not stop the deletion of its record.
        let v5 = register(&ws, "hf", &b);
        fs::remove_dir_all(&v5.path).unwrap();
        assert_eq!(ws.delete_model("hf:5").unwrap(), 1);
        assert!(ws.list_models().unwrap().is_empty());
    }

    #[test]
    fn bad_registrations_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let b = bundle(dir.path(), "x");
        let none = serde_json::json!({});
        assert!(ws
            .register_model("bad name", &b, None, None, &[], &none)
            .is_err());
        assert!(ws
            .register_model("a:1", &b, None, None, &[], &none)
            .is_err());
        let missing = dir.path().join("missing");
        let err = ws
            .register_model("m", &missing, None, None, &[], &none)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("not a folder"),
            "{err}"
        );
        let twice = [
            ("k".to_string(), "1".to_string()),
            ("k".to_string(), "2".to_string()),
        ];
        let err = ws
            .register_model("m", &b, None, None, &twice, &none)
            .unwrap_err();
        assert!(err.to_string().contains("'k' is given twice"), "{err}");
        let err = ws
            .register_model("m", &b, Some("run-unknown"), None, &[], &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("run-unknown"), "{err}");
        // The refused registration left no folder and used no version number.
        let m_dir = dir.path().join("ws/artifacts/models/m");
        assert_eq!(fs::read_dir(&m_dir).unwrap().count(), 0);
        assert_eq!(register(&ws, "m", &b).version, 1);
    }

    #[test]
    fn leftover_folder_of_a_crashed_registration_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let orphan = dir.path().join("ws/artifacts/models/m/1");
        fs::create_dir_all(&orphan).unwrap();
        fs::write(orphan.join("junk"), "x").unwrap();
        let m = register(&ws, "m", &bundle(dir.path(), "x"));
        assert_eq!(m.version, 1);
        assert!(!m.path.join("junk").exists());
        assert!(m.path.join("schema.json").exists());
    }

    const REGISTER_ENV: &str = "AUTOTAB_TEST_REGISTER_WORKSPACE";

    /// Run by `concurrent_registration_from_two_processes` in child processes.
    #[test]
    #[ignore = "helper process of concurrent_registration_from_two_processes"]
    fn helper_registers_ten_versions() {
        let Some(root) = std::env::var_os(REGISTER_ENV) else {
            return;
        };
        let root = PathBuf::from(root);
        let ws = Workspace::open(&root.join("ws")).unwrap();
        let b = root.join("bundle-x");
        for _ in 0..10 {
            register(&ws, "hf", &b);
        }
    }

    #[test]
    fn concurrent_registration_from_two_processes() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path(), "x");
        let spawn = || {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "registry::tests::helper_registers_ten_versions",
                    "--exact",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(REGISTER_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let children = [spawn(), spawn()];
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let versions: Vec<u32> = ws
            .model_versions("hf")
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, (1..=20).collect::<Vec<_>>());
    }
}
