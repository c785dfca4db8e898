//! The model registry: named, versioned model bundles kept in the workspace.
//!
//! Registering a name again creates the next version (1, 2, 3, ...; a deleted version's number
//! is never reused). The bundle folder is copied to `artifacts/models/<name>/<version>/`
//! through a staging folder and a rename, and the row is inserted in the same `BEGIN
//! IMMEDIATE` transaction that picks the version, so two processes registering at once get
//! distinct versions and a crash never leaves a row without its folder.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;

use crate::error::{AutotabError, Result};
use crate::tracking::{now_rfc3339, store_err, Workspace};

/// One registered version of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// Model name.
    pub name: String,
    /// Version, from 1.
    pub version: u32,
    /// The bundle folder (`<workspace>/artifacts/models/<name>/<version>`).
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
        let tags_json = encode(&tag_map, "tags")?;
        let metrics_json = encode(metrics, "metrics")?;

        let name_dir = self.models_dir().join(name);
        fs::create_dir_all(&name_dir).map_err(|e| AutotabError::io(&name_dir, e))?;
        if let (Ok(bundle), Ok(names)) = (bundle_dir.canonicalize(), name_dir.canonicalize()) {
            if names.starts_with(&bundle) {
                return Err(AutotabError::Bundle {
                    path: bundle_dir.to_path_buf(),
                    message: format!(
                        "the folder contains the registry folder {}: register the bundle \
                         folder itself",
                        name_dir.display()
                    ),
                });
            }
        }
        let staging = name_dir.join(format!(
            ".staging-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        if let Err(e) = copy_dir(bundle_dir, &staging) {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        let mut renamed: Option<PathBuf> = None;
        let result = self.write(|tx| {
            if let Some(run) = run_id {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                    [run],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(store_err(format!(
                        "cannot register model '{name}': no run with id '{run}' in this workspace"
                    )));
                }
            }
            let last: Option<u32> = tx
                .query_row(
                    "SELECT last_version FROM model_names WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            let version = last
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| store_err(format!("model '{name}' has too many versions")))?;
            tx.execute(
                "INSERT INTO model_names (name, last_version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version",
                (name, version),
            )?;
            let relative = Path::new("artifacts")
                .join("models")
                .join(name)
                .join(version.to_string());
            let relative_text = relative.to_str().ok_or_else(|| {
                store_err(format!(
                    "model path {} is not valid UTF-8",
                    relative.display()
                ))
            })?;
            let created = now_rfc3339();
            tx.execute(
                "INSERT INTO models (name, version, path, run_id, description, tags_json,
                     metrics_json, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    name,
                    version,
                    relative_text,
                    run_id,
                    description,
                    tags_json,
                    metrics_json,
                    created
                ],
            )?;
            // A folder already at the target is left over from a registration that crashed
            // before committing: no row refers to it, and we hold the write lock.
            let target = self.root().join(&relative);
            if target.exists() {
                fs::remove_dir_all(&target).map_err(|e| AutotabError::io(&target, e))?;
            }
            fs::rename(&staging, &target).map_err(|e| AutotabError::io(&target, e))?;
            renamed = Some(target.clone());
            sync_dir(&name_dir)?;
            Ok(ModelVersion {
                name: name.to_string(),
                version,
                path: target,
                run_id: run_id.map(str::to_string),
                description: description.map(str::to_string),
                tags: tag_map.clone(),
                metrics: metrics.clone(),
                created,
            })
        });
        match result {
            Ok(model) => Ok(model),
            Err(e) => {
                // The transaction did not commit: no row refers to either folder.
                let _ = fs::remove_dir_all(&staging);
                if let Some(target) = renamed {
                    let _ = fs::remove_dir_all(target);
                }
                Err(e)
            }
        }
    }

    /// The latest version of every registered model, by name.
    pub fn list_models(&self) -> Result<Vec<ModelVersion>> {
        self.read(|tx| {
            query_models(
                tx,
                "SELECT name, version, path, run_id, description, tags_json, metrics_json, created
                 FROM models m WHERE version = (SELECT MAX(version) FROM models WHERE name = m.name)
                 ORDER BY name",
                [],
            )
        })
        .map(|models| self.absolute(models))
    }

    /// All versions of model `name`, oldest first; an error if there is none.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        validate_name(name)?;
        let models = self.read(|tx| {
            let models = query_models(
                tx,
                "SELECT name, version, path, run_id, description, tags_json, metrics_json, created
                 FROM models WHERE name = ?1 ORDER BY version",
                [name],
            )?;
            if models.is_empty() {
                return Err(unknown_model(tx, name)?);
            }
            Ok(models)
        })?;
        Ok(self.absolute(models))
    }

    /// Finds `name` (its latest version), `name:latest` or `name:<version>`.
    pub fn resolve_model(&self, reference: &str) -> Result<ModelVersion> {
        let r = ModelRef::parse(reference)?;
        let versions = self.model_versions(r.name)?;
        let found = match r.version {
            None => versions.last().cloned(),
            Some(v) => versions.iter().find(|m| m.version == v).cloned(),
        };
        found.ok_or_else(|| {
            let list: Vec<String> = versions.iter().map(|m| m.version.to_string()).collect();
            store_err(format!(
                "model '{}' has no version {} (versions: {})",
                r.name,
                r.version.unwrap_or(0),
                list.join(", ")
            ))
        })
    }

    /// Deletes `name:<version>`, or every version of `name`; returns how many were deleted.
    ///
    /// The rows go first (one transaction), then the folders; version numbers are not reused.
    pub fn delete_model(&self, reference: &str) -> Result<usize> {
        let r = ModelRef::parse(reference)?;
        let targets = match r.version {
            Some(_) => vec![self.resolve_model(reference)?],
            None => self.model_versions(r.name)?,
        };
        let deleted = self.write(|tx| {
            let mut n = 0;
            for m in &targets {
                n += tx.execute(
                    "DELETE FROM models WHERE name = ?1 AND version = ?2",
                    (&m.name, m.version),
                )?;
            }
            Ok(n)
        })?;
        for m in &targets {
            if m.path.exists() {
                fs::remove_dir_all(&m.path).map_err(|e| {
                    store_err(format!(
                        "model {}:{} was deleted from the registry but its folder {} could \
                         not be removed: {e}",
                        m.name,
                        m.version,
                        m.path.display()
                    ))
                })?;
            }
        }
        Ok(deleted)
    }

    fn models_dir(&self) -> PathBuf {
        self.root().join("artifacts").join("models")
    }

    /// Turns the stored (workspace-relative) paths into absolute ones.
    fn absolute(&self, mut models: Vec<ModelVersion>) -> Vec<ModelVersion> {
        for m in &mut models {
            m.path = self.root().join(&m.path);
        }
        models
    }
}

fn query_models<P: rusqlite::Params>(
    tx: &Transaction<'_>,
    sql: &str,
    params: P,
) -> Result<Vec<ModelVersion>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(
            |(name, version, path, run_id, description, tags, metrics, created)| {
                let damaged = |e: serde_json::Error| {
                    store_err(format!("stored model {name}:{version} is damaged: {e}"))
                };
                Ok(ModelVersion {
                    tags: serde_json::from_str(&tags).map_err(damaged)?,
                    metrics: serde_json::from_str(&metrics).map_err(damaged)?,
                    path: PathBuf::from(path),
                    name,
                    version,
                    run_id,
                    description,
                    created,
                })
            },
        )
        .collect()
}

/// The "no such model" error, listing the registered names.
fn unknown_model(tx: &Transaction<'_>, name: &str) -> Result<AutotabError> {
    let mut stmt = tx.prepare("SELECT DISTINCT name FROM models ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(store_err(format!(
        "no registered model named '{name}' (registered: {})",
        if names.is_empty() {
            "none yet".to_string()
        } else {
            names.join(", ")
        }
    )))
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

fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| store_err(format!("cannot encode the {what}: {e}")))
}

/// Copies folder `from` to the new folder `to` recursively, syncing every file to disk.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir(to).map_err(|e| AutotabError::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| AutotabError::io(from, e))? {
        let entry = entry.map_err(|e| AutotabError::io(from, e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::metadata(&src).map_err(|e| AutotabError::io(&src, e))?;
        if meta.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| AutotabError::io(&src, e))?;
            fs::File::open(&dst)
                .and_then(|f| f.sync_all())
                .map_err(|e| AutotabError::io(&dst, e))?;
        }
    }
    sync_dir(to)
}

/// Flushes a folder's entries to disk (a no-op where folders cannot be opened).
fn sync_dir(dir: &Path) -> Result<()> {
    match fs::File::open(dir) {
        Ok(f) => f.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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

        let versions = ws.model_versions("heart-failure").unwrap();
        assert_eq!(versions.len(), 3);
        assert_eq!(versions[0], v1);
        assert_eq!(versions[0].tags["owner"], "cardio");
        assert_eq!(versions[0].run_id.as_deref(), Some(run.as_str()));
        assert_eq!(versions[0].metrics, metrics);
        let latest: Vec<(String, u32)> = ws
            .list_models()
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.version))
            .collect();
        assert_eq!(
            latest,
            vec![("churn".to_string(), 1), ("heart-failure".to_string(), 3)]
        );
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
    fn resolve_by_name_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let b = bundle(dir.path(), "x");
        for _ in 0..3 {
            register(&ws, "hf", &b);
        }
        assert_eq!(ws.resolve_model("hf").unwrap().version, 3);
        assert_eq!(ws.resolve_model("hf:latest").unwrap().version, 3);
        assert_eq!(ws.resolve_model("hf:2").unwrap().version, 2);
        let err = ws.resolve_model("hf:7").unwrap_err().to_string();
        assert!(
            err.contains("no version 7") && err.contains("1, 2, 3"),
            "{err}"
        );
        let err = ws.resolve_model("heart").unwrap_err().to_string();
        assert!(
            err.contains("'heart'") && err.contains("registered: hf"),
            "{err}"
        );
        for bad in ["hf:0", "hf:abc", "hf:-1", "", ":2", "a/b", "../x"] {
            assert!(ws.resolve_model(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delete_version_or_name_and_never_reuse_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let b = bundle(dir.path(), "x");
        let v: Vec<ModelVersion> = (0..3).map(|_| register(&ws, "hf", &b)).collect();
        assert_eq!(ws.delete_model("hf:3").unwrap(), 1);
        assert!(!v[2].path.exists());
        assert_eq!(ws.resolve_model("hf").unwrap().version, 2);
        assert_eq!(register(&ws, "hf", &b).version, 4);
        assert_eq!(ws.delete_model("hf").unwrap(), 3);
        assert!(!v[0].path.exists() && !v[1].path.exists());
        assert!(ws.list_models().unwrap().is_empty());
        let err = ws.delete_model("hf").unwrap_err().to_string();
        assert!(err.contains("no registered model named 'hf'"), "{err}");
        assert_eq!(register(&ws, "hf", &b).version, 5);
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

    #[test]
    fn concurrent_registration_from_threads_gives_distinct_versions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let b = bundle(dir.path(), "x");
        let versions: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        // Each thread has its own connection, as separate processes would.
                        let ws = Workspace::open(&root).unwrap();
                        (0..4)
                            .map(|_| register(&ws, "hf", &b).version)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let distinct: BTreeSet<u32> = versions.iter().copied().collect();
        assert_eq!(distinct, (1..=24).collect());
        let ws = Workspace::open(&root).unwrap();
        for m in ws.model_versions("hf").unwrap() {
            assert!(
                m.path.join("nested/model.bin").exists(),
                "{}",
                m.path.display()
            );
        }
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
