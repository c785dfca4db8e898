//! Artifacts: folders (model bundles, run outputs) kept under string keys such as
//! `models/heart-failure/3` or `runs/<run id>`.
//!
//! Putting a folder is two steps so that a registry can tie it to a database transaction:
//! [`ArtifactStore::stage`] copies it somewhere invisible (slow, outside any lock), and
//! [`ArtifactStore::commit`] makes it appear under its key atomically (fast, inside the
//! transaction that picks the key).
//!
//! A key's local folder comes from [`ArtifactStore::locate`]. Run outputs are written into
//! that folder; a store whose folders are copies of remote objects ([`super::S3Artifacts`])
//! uploads them when [`ArtifactStore::sync`] is called once they are complete.

use std::fs;
use std::path::{Path, PathBuf};

use super::store_err;
use crate::error::{AutotabError, Result};

/// A folder copied into an artifact store but not yet visible under a key.
#[derive(Debug)]
pub struct StagedArtifact {
    /// Where the copy is, in the store's own terms (a folder for [`LocalArtifacts`], an
    /// object prefix for S3).
    pub(crate) location: PathBuf,
    /// The files copied, by `/`-separated path relative to the folder, with their sizes
    /// (what an object store's commit lists in its marker; empty for [`LocalArtifacts`]).
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) files: Vec<(String, u64)>,
}

/// Where a workspace keeps its artifact folders.
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Copies the folder `source` into the store, fully written and synced, near the keys
    /// starting with `prefix` (e.g. `models/heart-failure`), but under no key yet.
    fn stage(&self, source: &Path, prefix: &str) -> Result<StagedArtifact>;

    /// Makes `staged` the folder under `key` in one atomic step, replacing a folder left there
    /// by a commit whose transaction never completed.
    fn commit(&self, staged: &StagedArtifact, key: &str) -> Result<()>;

    /// Removes a staged copy that will not be committed (best effort: a leftover is harmless).
    fn discard(&self, staged: &StagedArtifact);

    /// A local folder with the content of `key`, to read from or (for run outputs) to write
    /// into; it may not exist yet. A store that keeps its folders elsewhere (S3) downloads
    /// the key's committed content into a local copy first, when its copy is not current.
    fn locate(&self, key: &str) -> Result<PathBuf>;

    /// The local folder [`ArtifactStore::locate`] gives for `key`, without fetching anything
    /// (for listings: it may be missing or out of date). The default is `locate`.
    fn local_path(&self, key: &str) -> Result<PathBuf> {
        self.locate(key)
    }

    /// Makes what was written into the local folder of `key` (from
    /// [`ArtifactStore::locate`]) the content of `key` for every machine: called once a run's
    /// outputs are complete. A missing local folder is nothing to do. The default is a no-op,
    /// right for stores whose local folder is the stored one ([`LocalArtifacts`]).
    fn sync(&self, key: &str) -> Result<()> {
        let _ = key;
        Ok(())
    }

    /// Deletes the folder under `key`; nothing there is not an error.
    fn delete(&self, key: &str) -> Result<()>;

    /// Puts a copy of the folder `source` under `key` (stage, then commit).
    fn put(&self, source: &Path, key: &str) -> Result<()> {
        let prefix = key.rsplit_once('/').map_or("", |(prefix, _)| prefix);
        let staged = self.stage(source, prefix)?;
        let committed = self.commit(&staged, key);
        if committed.is_err() {
            self.discard(&staged);
        }
        committed
    }
}

/// Artifacts in a local folder (the workspace's `artifacts/`): key `a/b/c` is the folder
/// `<root>/a/b/c`. Staged copies are hidden folders (`.staging-*`) beside their key, on the
/// same file system, so that commit is a rename.
#[derive(Debug, Clone)]
pub struct LocalArtifacts {
    root: PathBuf,
}

impl LocalArtifacts {
    /// The artifact store in folder `root`, which is created if missing.
    pub fn create(root: &Path) -> Result<LocalArtifacts> {
        fs::create_dir_all(root).map_err(|e| AutotabError::io(root, e))?;
        Ok(LocalArtifacts::existing(root))
    }

    /// The artifact store in folder `root`, without creating anything.
    pub fn existing(root: &Path) -> LocalArtifacts {
        LocalArtifacts {
            root: root.to_path_buf(),
        }
    }

    /// The folder of `key`, refusing keys that would leave the store.
    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let valid = key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
        if key.is_empty() || !valid {
            return Err(store_err(format!(
                "artifact key '{key}' is invalid: use non-empty '/'-separated names without \
                 '.' or '..'"
            )));
        }
        Ok(self.root.join(key))
    }
}

impl ArtifactStore for LocalArtifacts {
    fn stage(&self, source: &Path, prefix: &str) -> Result<StagedArtifact> {
        let near = self.path_of(prefix)?;
        fs::create_dir_all(&near).map_err(|e| AutotabError::io(&near, e))?;
        if let (Ok(source_abs), Ok(near_abs)) = (source.canonicalize(), near.canonicalize()) {
            if near_abs.starts_with(&source_abs) {
                return Err(AutotabError::Bundle {
                    path: source.to_path_buf(),
                    message: format!(
                        "the folder contains the workspace folder {}: register the bundle \
                         folder itself",
                        near.display()
                    ),
                });
            }
        }
        let location = near.join(format!(
            ".staging-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        if let Err(e) = copy_dir(source, &location) {
            let _ = fs::remove_dir_all(&location);
            return Err(e);
        }
        Ok(StagedArtifact {
            location,
            files: Vec::new(),
        })
    }

    fn commit(&self, staged: &StagedArtifact, key: &str) -> Result<()> {
        let target = self.path_of(key)?;
        let parent = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| AutotabError::io(parent, e))?;
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| AutotabError::io(&target, e))?;
        }
        fs::rename(&staged.location, &target).map_err(|e| AutotabError::io(&target, e))?;
        sync_dir(parent);
        Ok(())
    }

    fn discard(&self, staged: &StagedArtifact) {
        let _ = fs::remove_dir_all(&staged.location);
    }

    fn locate(&self, key: &str) -> Result<PathBuf> {
        self.path_of(key)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AutotabError::io(&path, e)),
            _ => Ok(()),
        }
    }
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
    sync_dir(to);
    Ok(())
}

/// Flushes a folder's entries to disk (a no-op where folders cannot be opened or synced).
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(parent: &Path, text: &str) -> PathBuf {
        let dir = parent.join(format!("src-{text}"));
        fs::create_dir_all(dir.join("nested")).unwrap();
        fs::write(dir.join("nested").join("file.txt"), text).unwrap();
        dir
    }

    #[test]
    fn put_locate_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalArtifacts::create(&dir.path().join("artifacts")).unwrap();
        store.put(&folder(dir.path(), "a"), "models/m/1").unwrap();
        let at = store.locate("models/m/1").unwrap();
        assert_eq!(at, dir.path().join("artifacts/models/m/1"));
        assert_eq!(fs::read_to_string(at.join("nested/file.txt")).unwrap(), "a");
        // Putting again replaces the folder, and leaves no staging folder behind.
        store.put(&folder(dir.path(), "b"), "models/m/1").unwrap();
        assert_eq!(fs::read_to_string(at.join("nested/file.txt")).unwrap(), "b");
        let names: Vec<String> = fs::read_dir(dir.path().join("artifacts/models/m"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["1".to_string()]);
        store.delete("models/m/1").unwrap();
        assert!(!at.exists());
        store.delete("models/m/1").unwrap();
    }

    #[test]
    fn staged_copy_is_invisible_until_committed_and_discard_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalArtifacts::create(&dir.path().join("artifacts")).unwrap();
        let staged = store.stage(&folder(dir.path(), "a"), "models/m").unwrap();
        assert!(!store.locate("models/m/1").unwrap().exists());
        store.discard(&staged);
        let left = fs::read_dir(dir.path().join("artifacts/models/m"))
            .unwrap()
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn bad_keys_and_sources_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalArtifacts::create(&dir.path().join("artifacts")).unwrap();
        for key in ["", "../x", "a//b", "a/./b", "/abs", "a\\b"] {
            let err = store.locate(key).unwrap_err().to_string();
            assert!(err.contains("artifact key"), "{key}: {err}");
        }
        let err = store
            .put(&dir.path().join("missing"), "models/m/1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        // A source folder that contains the store itself would copy into itself.
        let err = store.put(dir.path(), "models/m/1").unwrap_err().to_string();
        assert!(err.contains("contains the workspace folder"), "{err}");
    }
}
