//! Artifacts in an S3 bucket (or an S3-compatible server): [`S3Location`] is what
//! `--artifacts s3://bucket/prefix` names, and [`S3Artifacts`] (cargo feature `s3`) is the
//! [`ArtifactStore`] over it, through the `object_store` crate on a private tokio runtime so
//! that the trait stays synchronous.
//!
//! # Layout
//!
//! Key `a/b/c` is the objects under `<prefix>/a/b/c/`: one object per file of the folder (its
//! path relative to the folder), and the marker object `<prefix>/a/b/c/_COMMITTED`, a JSON
//! manifest naming the commit (a random token) and every file with its size.
//! [`ArtifactStore::stage`] uploads a folder under the hidden prefix
//! `<prefix>/<near>/.staging-<token>/`.
//!
//! # What "atomic" means here
//!
//! S3 has no rename and no transaction over several objects; what it does guarantee is that
//! one PUT is atomic (a reader sees the whole new object or none of it) and that reads after
//! a write see it (strong read-after-write consistency). So [`ArtifactStore::commit`] first
//! deletes the key's marker (the key is then missing), then every object left under the key
//! (a commit whose transaction never completed), copies the staged files under the key
//! (server-side copies), and PUTs the marker last. Readers ([`ArtifactStore::locate`]) read
//! the marker first and then exactly the files its manifest lists: a key without a marker
//! (half written, or being replaced) reads as missing, and objects that are not in the
//! manifest are never read. A reader that fetched the marker just before a replacement of
//! the same key can still read a mix; autotab never replaces a key that a committed record
//! refers to, except a run's outputs when [`ArtifactStore::sync`] uploads them again.
//!
//! # Local copies
//!
//! `locate` gives a local folder: the cache folder of the key (`AUTOTAB_ARTIFACTS_CACHE`, by
//! default `<temp dir>/autotab-artifacts/<bucket>/<prefix>`, then the key), downloaded when
//! the store holds a newer commit than the one the cache holds (a hidden file
//! `.<name>.commit` beside the folder keeps the commit token). A key the store does not
//! hold yet is a folder that is written into locally — a run's outputs — and uploaded by
//! [`ArtifactStore::sync`] once it is complete.

use std::path::{Path, PathBuf};

use crate::error::{AutotabError, Result};

/// The name of the marker object that makes a key visible.
pub const COMMIT_MARKER: &str = "_COMMITTED";

/// Environment variable naming the local folder for copies of S3 artifacts.
pub const CACHE_ENV: &str = "AUTOTAB_ARTIFACTS_CACHE";

/// An S3 artifacts location: `s3://bucket` or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket's name.
    pub bucket: String,
    /// The prefix of every object under the location, without a leading or trailing `/`
    /// (empty for the whole bucket).
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`: a bucket name of 3 to 63 lowercase letters, digits,
    /// `.` and `-`, and a prefix of non-empty `/`-separated names other than `.` and `..`
    /// (one trailing `/` is allowed).
    pub fn parse(url: &str) -> Result<S3Location> {
        // Credentials in the URL (`s3://key:secret@bucket`) are never repeated in a message.
        let shown = match url.split_once("://") {
            Some((scheme, rest)) => match rest.split('/').next().and_then(|b| b.rsplit_once('@')) {
                Some((_, host)) => {
                    let tail = rest.split_once('/').map_or("", |(_, t)| t);
                    let tail = if tail.is_empty() {
                        String::new()
                    } else {
                        format!("/{tail}")
                    };
                    format!("{scheme}://***@{host}{tail}")
                }
                None => url.to_string(),
            },
            None => url.to_string(),
        };
        let bad = |what: String| {
            AutotabError::config(format!(
                "artifacts location {shown}: {what}; expected s3://bucket or s3://bucket/prefix"
            ))
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("s3") => rest,
            _ => return Err(bad("not an s3:// URL".to_string())),
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if bucket.is_empty() {
            return Err(bad("no bucket name".to_string()));
        }
        if bucket.contains('@') {
            return Err(bad(
                "credentials do not belong in the URL (use the AWS_* environment variables)"
                    .to_string(),
            ));
        }
        if !bucket_ok {
            return Err(bad(format!(
                "'{bucket}' is not a valid bucket name (3 to 63 lowercase letters, digits, '.' \
                 and '-', starting and ending with a letter or digit)"
            )));
        }
        if url.contains(['?', '#']) {
            return Err(bad(
                "queries and fragments do not belong in the URL (S3 settings come from the \
                 AWS_* environment variables)"
                    .to_string(),
            ));
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|part| {
                !part.is_empty() && part != "." && part != ".." && !part.contains('\\')
            });
        if !prefix_ok {
            return Err(bad(format!(
                "prefix '{prefix}' is invalid: use non-empty '/'-separated names without '.' \
                 or '..'"
            )));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The local folder for copies of this location's artifacts: `AUTOTAB_ARTIFACTS_CACHE`
    /// when set, else `<temp dir>/autotab-artifacts/<bucket>/<prefix>`.
    pub fn default_cache(&self) -> PathBuf {
        match std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let mut dir = std::env::temp_dir()
                    .join("autotab-artifacts")
                    .join(&self.bucket);
                for part in self.prefix.split('/').filter(|p| !p.is_empty()) {
                    dir.push(part);
                }
                dir
            }
        }
    }
}

impl std::fmt::Display for S3Location {
    /// `s3://bucket/prefix`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Checks an artifact key for S3: non-empty `/`-separated names, none `.` or `..`, none
/// starting with `.` (hidden names are the store's own: staging prefixes, cache markers) and
/// none the commit marker's name.
#[cfg(any(feature = "s3", test))]
pub(crate) fn check_key(location: &S3Location, key: &str) -> Result<()> {
    let valid = key.split('/').all(|part| {
        !part.is_empty() && !part.starts_with('.') && !part.contains('\\') && part != COMMIT_MARKER
    });
    if key.is_empty() || !valid {
        return Err(crate::store::store_err(format!(
            "artifact key '{key}' in {location} is invalid: use non-empty '/'-separated names \
             not starting with '.' and other than {COMMIT_MARKER}"
        )));
    }
    Ok(())
}

#[cfg(feature = "s3")]
pub use imp::S3Artifacts;

#[cfg(feature = "s3")]
mod imp {
    use std::fs;
    use std::future::Future;
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use futures_util::{StreamExt, TryStreamExt};
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::path::Path as ObjectPath;
    use object_store::{
        CopyOptions, GetOptions, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
        RetryConfig, WriteMultipart,
    };
    use serde::{Deserialize, Serialize};

    use super::{check_key, S3Location, COMMIT_MARKER};
    use crate::error::{AutotabError, Result};
    use crate::store::{ArtifactStore, StagedArtifact};

    /// Files up to this size are uploaded in one PUT; larger ones in parts of this size.
    const PART_SIZE: usize = 16 * 1024 * 1024;

    /// The commit marker's content: which commit, and the files it made visible.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Manifest {
        /// A random token naming the commit (what a local copy records to know it is current).
        commit: String,
        /// Every file, by its `/`-separated path relative to the folder, with its size.
        files: Vec<FileEntry>,
    }

    /// One file of an artifact folder.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct FileEntry {
        path: String,
        size: u64,
    }

    /// Artifacts in an S3 bucket under a prefix, with local copies in a cache folder (see the
    /// [module docs](super) for the layout and what a commit guarantees).
    ///
    /// Credentials, region and endpoint come from the standard AWS environment variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a local
    /// S3-compatible server, ...), through `AmazonS3Builder::from_env`.
    #[derive(Debug)]
    pub struct S3Artifacts {
        location: S3Location,
        store: Arc<dyn ObjectStore>,
        runtime: tokio::runtime::Runtime,
        cache: PathBuf,
    }

    impl S3Artifacts {
        /// The store at `location`, keeping local copies under `cache`, configured from the
        /// AWS environment variables, after checking that the bucket can be listed (so a
        /// wrong bucket, endpoint or credentials fail here, naming the location).
        pub fn open(location: &S3Location, cache: &Path) -> Result<S3Artifacts> {
            S3Artifacts::open_with(location, cache, &[], true)
        }

        /// As [`S3Artifacts::open`] without any request (for commands that only read: a
        /// missing bucket fails at the first read).
        pub fn open_unchecked(location: &S3Location, cache: &Path) -> Result<S3Artifacts> {
            S3Artifacts::open_with(location, cache, &[], false)
        }

        /// The store at `location` with local copies under `cache`, configured from the AWS
        /// environment variables and then `options` (object_store's S3 configuration keys,
        /// such as `aws_endpoint`, `aws_allow_http`, `aws_access_key_id`, `aws_region`); the
        /// bucket is listed once when `check`.
        pub fn open_with(
            location: &S3Location,
            cache: &Path,
            options: &[(&str, &str)],
            check: bool,
        ) -> Result<S3Artifacts> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("autotab-s3")
                .enable_all()
                .build()
                .map_err(|e| {
                    AutotabError::Store(format!(
                        "artifacts {location}: cannot start the async runtime: {e}"
                    ))
                })?;
            let retry = RetryConfig {
                max_retries: 5,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            };
            let mut builder = AmazonS3Builder::from_env();
            for (key, value) in options {
                let parsed: AmazonS3ConfigKey = key.parse().map_err(|_| {
                    AutotabError::config(format!(
                        "artifacts {location}: '{key}' is not an S3 configuration key (such as \
                         aws_endpoint, aws_region, aws_allow_http)"
                    ))
                })?;
                builder = builder.with_config(parsed, *value);
            }
            let s3 = {
                let _guard = runtime.enter();
                builder
                    .with_bucket_name(&location.bucket)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| {
                        AutotabError::Store(format!(
                            "artifacts {location}: cannot configure the S3 client from the \
                             AWS_* environment variables: {e}"
                        ))
                    })?
            };
            let store = S3Artifacts {
                location: location.clone(),
                store: Arc::new(s3),
                runtime,
                cache: cache.to_path_buf(),
            };
            if check {
                let root = store.object_path(None)?;
                store
                    .block_on(async {
                        let mut listing = store.store.list(Some(&root));
                        listing.next().await.transpose().map(|_| ())
                    })?
                    .map_err(|e| {
                        store.error(&format!("cannot list the bucket '{}'", location.bucket), e)
                    })?;
            }
            Ok(store)
        }

        /// Where the store is.
        pub fn location(&self) -> &S3Location {
            &self.location
        }

        /// The local folder that holds copies of the keys.
        pub fn cache_root(&self) -> &Path {
            &self.cache
        }

        /// Runs `future` on the store's runtime. From inside another tokio runtime (where
        /// blocking on a future is refused) it runs on a scoped thread.
        fn block_on<F>(&self, future: F) -> Result<F::Output>
        where
            F: Future + Send,
            F::Output: Send,
        {
            if tokio::runtime::Handle::try_current().is_err() {
                return Ok(self.runtime.block_on(future));
            }
            std::thread::scope(|scope| {
                scope
                    .spawn(|| self.runtime.block_on(future))
                    .join()
                    .map_err(|_| {
                        AutotabError::Store(format!(
                            "artifacts {}: a request panicked",
                            self.location
                        ))
                    })
            })
        }

        /// A store error naming the location and what was being done.
        fn error(&self, what: &str, e: impl std::fmt::Display) -> AutotabError {
            AutotabError::Store(format!("artifacts {}: {what}: {e}", self.location))
        }

        /// The object path of `key` (or of the prefix itself), then `rest`.
        fn object_path(&self, key: Option<&str>) -> Result<ObjectPath> {
            let mut parts: Vec<&str> = Vec::new();
            if !self.location.prefix.is_empty() {
                parts.push(&self.location.prefix);
            }
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                parts.push(key);
            }
            let text = parts.join("/");
            ObjectPath::parse(&text).map_err(|e| self.error(&format!("object name '{text}'"), e))
        }

        /// `base/relative` as an object path.
        fn child(&self, base: &ObjectPath, relative: &str) -> Result<ObjectPath> {
            let text = if base.as_ref().is_empty() {
                relative.to_string()
            } else {
                format!("{}/{relative}", base.as_ref())
            };
            ObjectPath::parse(&text).map_err(|e| self.error(&format!("object name '{text}'"), e))
        }

        /// The local folder of `key` in the cache.
        fn cache_path(&self, key: &str) -> PathBuf {
            let mut path = self.cache.clone();
            for part in key.split('/') {
                path.push(part);
            }
            path
        }

        /// The file beside the local folder of `key` that records which commit it holds.
        fn cache_marker(&self, key: &str) -> PathBuf {
            let folder = self.cache_path(key);
            let name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            folder.with_file_name(format!(".{name}.commit"))
        }

        /// The key's manifest, or `None` when it has no commit marker.
        fn read_manifest(&self, key: &str) -> Result<Option<Manifest>> {
            let marker = self.child(&self.object_path(Some(key))?, COMMIT_MARKER)?;
            let fetched = self.block_on(async {
                match self.store.get_opts(&marker, GetOptions::default()).await {
                    Ok(got) => got.bytes().await.map(Some),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })?;
            let Some(bytes) = fetched
                .map_err(|e| self.error(&format!("cannot read the commit marker {marker}"), e))?
            else {
                return Ok(None);
            };
            serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                self.error(
                    &format!("the commit marker {marker} of key '{key}' is damaged"),
                    e,
                )
            })
        }

        /// Uploads every file of folder `source` under `base`, returning the manifest's file
        /// list. A `_COMMITTED` file at the top of the folder is refused (it would be taken
        /// for the marker).
        fn upload_dir(&self, source: &Path, base: &ObjectPath) -> Result<Vec<FileEntry>> {
            let meta = fs::metadata(source).map_err(|e| AutotabError::io(source, e))?;
            if !meta.is_dir() {
                return Err(AutotabError::Bundle {
                    path: source.to_path_buf(),
                    message: "not a folder: artifacts are folders".to_string(),
                });
            }
            let mut files = Vec::new();
            list_files(source, "", &mut files)?;
            if files.iter().any(|(rel, _)| rel == COMMIT_MARKER) {
                return Err(AutotabError::Bundle {
                    path: source.join(COMMIT_MARKER),
                    message: format!(
                        "a file named {COMMIT_MARKER} cannot be stored in {}: the name marks a \
                         committed key",
                        self.location
                    ),
                });
            }
            let mut entries = Vec::with_capacity(files.len());
            for (rel, path) in files {
                let target = self.child(base, &rel)?;
                let size = self.upload_file(&path, &target)?;
                entries.push(FileEntry { path: rel, size });
            }
            Ok(entries)
        }

        /// Uploads the file `path` as object `target` (in parts when large); returns its size.
        fn upload_file(&self, path: &Path, target: &ObjectPath) -> Result<u64> {
            let io = |e| AutotabError::io(path, e);
            let mut file = fs::File::open(path).map_err(io)?;
            let size = file.metadata().map_err(io)?.len();
            let failed = |e: object_store::Error| {
                self.error(&format!("cannot upload {} to {target}", path.display()), e)
            };
            if size <= PART_SIZE as u64 {
                let mut bytes = Vec::with_capacity(size as usize);
                file.read_to_end(&mut bytes).map_err(io)?;
                let payload = PutPayload::from(bytes);
                self.block_on(self.store.put_opts(target, payload, PutOptions::default()))?
                    .map_err(failed)?;
                return Ok(size);
            }
            let upload = self
                .block_on(
                    self.store
                        .put_multipart_opts(target, PutMultipartOptions::default()),
                )?
                .map_err(failed)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buffer = vec![0u8; PART_SIZE];
            loop {
                let n = file.read(&mut buffer).map_err(io)?;
                if n == 0 {
                    break;
                }
                self.block_on(writer.wait_for_capacity(4))?
                    .map_err(failed)?;
                writer.write(&buffer[..n]);
            }
            self.block_on(writer.finish())?.map_err(failed)?;
            Ok(size)
        }

        /// Deletes every object under `base` (the marker first when `marker_first`, so the
        /// key is missing before its files go).
        fn delete_prefix(&self, base: &ObjectPath, marker_first: bool) -> Result<()> {
            if marker_first {
                let marker = self.child(base, COMMIT_MARKER)?;
                let store = Arc::clone(&self.store);
                let one = futures_util::stream::once(std::future::ready(Ok(marker.clone())));
                self.block_on(async move {
                    match store
                        .delete_stream(one.boxed())
                        .try_collect::<Vec<_>>()
                        .await
                    {
                        Err(object_store::Error::NotFound { .. }) => Ok(()),
                        other => other.map(|_| ()),
                    }
                })?
                .map_err(|e| self.error(&format!("cannot delete {marker}"), e))?;
            }
            let store = Arc::clone(&self.store);
            self.block_on(async move {
                let listed = store.list(Some(base)).map_ok(|meta| meta.location).boxed();
                store
                    .delete_stream(listed)
                    .try_for_each(|_| async { Ok(()) })
                    .await
                    .or_else(|e| match e {
                        object_store::Error::NotFound { .. } => Ok(()),
                        e => Err(e),
                    })
            })?
            .map_err(|e| self.error(&format!("cannot delete the objects under {base}/"), e))
        }

        /// Writes the marker of `key` (the last step of a commit).
        fn write_marker(&self, key: &str, manifest: &Manifest) -> Result<()> {
            let marker = self.child(&self.object_path(Some(key))?, COMMIT_MARKER)?;
            let json = serde_json::to_vec(manifest)
                .map_err(|e| self.error("cannot encode a commit marker", e))?;
            let payload = PutPayload::from(json);
            self.block_on(self.store.put_opts(&marker, payload, PutOptions::default()))?
                .map_err(|e| self.error(&format!("cannot write the commit marker {marker}"), e))?;
            Ok(())
        }

        /// Records in the cache that the local folder of `key` holds `commit`.
        fn mark_cached(&self, key: &str, commit: &str) -> Result<()> {
            let marker = self.cache_marker(key);
            fs::write(&marker, commit).map_err(|e| AutotabError::io(&marker, e))
        }

        /// Downloads the files of `manifest` (key `key`) into a new folder beside the key's
        /// cache folder, then moves it into place.
        fn download(&self, key: &str, manifest: &Manifest) -> Result<PathBuf> {
            let target = self.cache_path(key);
            let parent = target.parent().unwrap_or(&self.cache).to_path_buf();
            fs::create_dir_all(&parent).map_err(|e| AutotabError::io(&parent, e))?;
            let temp = parent.join(format!(
                ".download-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            let fetched = self.download_into(key, manifest, &temp);
            if let Err(e) = fetched {
                let _ = fs::remove_dir_all(&temp);
                return Err(e);
            }
            // Another process may have put the same commit in place meanwhile: then keep its.
            if target.exists() {
                if fs::read_to_string(self.cache_marker(key)).ok().as_deref()
                    == Some(manifest.commit.as_str())
                {
                    let _ = fs::remove_dir_all(&temp);
                    return Ok(target);
                }
                let _ = fs::remove_file(self.cache_marker(key));
                fs::remove_dir_all(&target).map_err(|e| AutotabError::io(&target, e))?;
            }
            if let Err(e) = fs::rename(&temp, &target) {
                let _ = fs::remove_dir_all(&temp);
                let current = fs::read_to_string(self.cache_marker(key)).ok();
                if current.as_deref() == Some(manifest.commit.as_str()) {
                    return Ok(target);
                }
                return Err(AutotabError::io(&target, e));
            }
            self.mark_cached(key, &manifest.commit)?;
            Ok(target)
        }

        /// Downloads every file of `manifest` into the new folder `dir`, checking sizes.
        fn download_into(&self, key: &str, manifest: &Manifest, dir: &Path) -> Result<()> {
            let base = self.object_path(Some(key))?;
            fs::create_dir_all(dir).map_err(|e| AutotabError::io(dir, e))?;
            for entry in &manifest.files {
                let valid = entry
                    .path
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
                if !valid {
                    return Err(self.error(
                        &format!("key '{key}'"),
                        format!("its commit marker lists the file '{}'", entry.path),
                    ));
                }
                let source = self.child(&base, &entry.path)?;
                let mut path = dir.to_path_buf();
                for part in entry.path.split('/') {
                    path.push(part);
                }
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| AutotabError::io(parent, e))?;
                }
                let mut file = fs::File::create(&path).map_err(|e| AutotabError::io(&path, e))?;
                let written = self.block_on(async {
                    let got = self.store.get_opts(&source, GetOptions::default()).await?;
                    let mut stream = got.into_stream();
                    let mut written: u64 = 0;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk?;
                        written += chunk.len() as u64;
                        if let Err(e) = file.write_all(&chunk) {
                            return Ok(Err(e));
                        }
                    }
                    Ok(Ok(written))
                })?;
                let written = written
                    .map_err(|e: object_store::Error| {
                        self.error(
                            &format!("cannot read {source} (listed by the marker of key '{key}')"),
                            e,
                        )
                    })?
                    .map_err(|e| AutotabError::io(&path, e))?;
                if written != entry.size {
                    return Err(self.error(
                        &format!("key '{key}'"),
                        format!(
                            "{source} has {written} bytes, its commit marker says {}",
                            entry.size
                        ),
                    ));
                }
                file.sync_all().map_err(|e| AutotabError::io(&path, e))?;
            }
            Ok(())
        }

        /// A new random commit token.
        fn token() -> String {
            format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
        }
    }

    impl ArtifactStore for S3Artifacts {
        fn stage(&self, source: &Path, prefix: &str) -> Result<StagedArtifact> {
            if !prefix.is_empty() {
                check_key(&self.location, prefix)?;
            }
            let token = S3Artifacts::token();
            let near = self.object_path(Some(prefix))?;
            let staging = self.child(&near, &format!(".staging-{token}"))?;
            match self.upload_dir(source, &staging) {
                Ok(files) => Ok(StagedArtifact {
                    location: PathBuf::from(staging.as_ref()),
                    files: files.into_iter().map(|f| (f.path, f.size)).collect(),
                }),
                Err(e) => {
                    let _ = self.delete_prefix(&staging, false);
                    Err(e)
                }
            }
        }

        fn commit(&self, staged: &StagedArtifact, key: &str) -> Result<()> {
            check_key(&self.location, key)?;
            let staging = ObjectPath::parse(staged.location.to_string_lossy().as_ref())
                .map_err(|e| self.error("staged artifact", e))?;
            let base = self.object_path(Some(key))?;
            // The key goes missing first (its marker), then a leftover of a commit whose
            // transaction never completed is removed, so no old file outlives the new commit.
            self.delete_prefix(&base, true)?;
            for (rel, _) in &staged.files {
                let from = self.child(&staging, rel)?;
                let to = self.child(&base, rel)?;
                let copied = self.store.copy_opts(&from, &to, CopyOptions::default());
                self.block_on(copied)?
                    .map_err(|e| self.error(&format!("cannot copy {from} to {to}"), e))?;
            }
            let manifest = Manifest {
                commit: S3Artifacts::token(),
                files: staged
                    .files
                    .iter()
                    .map(|(path, size)| FileEntry {
                        path: path.clone(),
                        size: *size,
                    })
                    .collect(),
            };
            self.write_marker(key, &manifest)?;
            // The staged copy is no longer needed (a leftover is harmless).
            let _ = self.delete_prefix(&staging, false);
            Ok(())
        }

        fn discard(&self, staged: &StagedArtifact) {
            if let Ok(staging) = ObjectPath::parse(staged.location.to_string_lossy().as_ref()) {
                let _ = self.delete_prefix(&staging, false);
            }
        }

        fn locate(&self, key: &str) -> Result<PathBuf> {
            check_key(&self.location, key)?;
            let local = self.cache_path(key);
            let cached = fs::read_to_string(self.cache_marker(key)).ok();
            match self.read_manifest(key)? {
                None => {
                    // Not in the store: a local folder that came from the store was deleted
                    // there since; one that never did is being written (a run's outputs).
                    if cached.is_some() {
                        let _ = fs::remove_file(self.cache_marker(key));
                        if local.exists() {
                            fs::remove_dir_all(&local).map_err(|e| AutotabError::io(&local, e))?;
                        }
                    }
                    Ok(local)
                }
                Some(manifest) if cached.as_deref() == Some(manifest.commit.as_str()) => {
                    if local.is_dir() {
                        Ok(local)
                    } else {
                        self.download(key, &manifest)
                    }
                }
                Some(manifest) => self.download(key, &manifest),
            }
        }

        fn delete(&self, key: &str) -> Result<()> {
            check_key(&self.location, key)?;
            self.delete_prefix(&self.object_path(Some(key))?, true)?;
            let _ = fs::remove_file(self.cache_marker(key));
            let local = self.cache_path(key);
            match fs::remove_dir_all(&local) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(AutotabError::io(&local, e))
                }
                _ => Ok(()),
            }
        }

        fn sync(&self, key: &str) -> Result<()> {
            check_key(&self.location, key)?;
            let local = self.cache_path(key);
            if !local.is_dir() {
                return Ok(());
            }
            let base = self.object_path(Some(key))?;
            self.delete_prefix(&base, true)?;
            let files = self.upload_dir(&local, &base)?;
            let manifest = Manifest {
                commit: S3Artifacts::token(),
                files,
            };
            self.write_marker(key, &manifest)?;
            self.mark_cached(key, &manifest.commit)
        }

        fn local_path(&self, key: &str) -> Result<PathBuf> {
            check_key(&self.location, key)?;
            Ok(self.cache_path(key))
        }
    }

    /// Every file under `dir`, as (`/`-separated path relative to the top folder, path).
    fn list_files(dir: &Path, relative: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
            .map_err(|e| AutotabError::io(dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| AutotabError::io(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let meta = fs::metadata(&path).map_err(|e| AutotabError::io(&path, e))?;
            if meta.is_dir() {
                list_files(&path, &rel, out)?;
            } else {
                out.push((rel, path));
            }
        }
        Ok(())
    }
}

/// Without the `s3` feature: the error an `s3://` artifacts location gets.
#[cfg(not(feature = "s3"))]
pub(crate) fn unsupported(location: &S3Location) -> AutotabError {
    AutotabError::config(format!(
        "artifacts {location}: this autotab was built without S3 support (cargo feature `s3`, \
         on by default): rebuild it without --no-default-features, or give --artifacts a \
         shared folder"
    ))
}

/// Whether `text` is an `s3://` URL (any case).
pub(crate) fn is_s3_url(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("s3"))
}

/// Whether `path` (an `--artifacts` value) is an `s3://` URL.
pub(crate) fn is_s3_path(path: &Path) -> bool {
    path.to_str().is_some_and(is_s3_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let l = S3Location::parse("s3://my-bucket/a/b/").unwrap();
        assert_eq!(l.bucket, "my-bucket");
        assert_eq!(l.prefix, "a/b");
        assert_eq!(l.to_string(), "s3://my-bucket/a/b");
        let l = S3Location::parse("S3://bucket.x").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("bucket.x", ""));
        assert_eq!(l.to_string(), "s3://bucket.x");
    }

    #[test]
    fn refuses_bad_urls_naming_them() {
        let err = S3Location::parse("s3://key:s3cret@bucket/x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s3://***@bucket/x") && !err.contains("s3cret"),
            "{err}"
        );
        for (url, expected) in [
            ("s3://", "no bucket name"),
            ("s3:///prefix", "no bucket name"),
            ("s3://Bucket/x", "not a valid bucket name"),
            ("s3://ab/x", "not a valid bucket name"),
            ("s3://bucket/a//b", "prefix 'a//b' is invalid"),
            ("s3://bucket/../b", "is invalid"),
            ("s3://***@bucket/x", "credentials do not belong"),
            ("s3://bucket/x?y=1", "queries"),
            ("gs://bucket/x", "not an s3:// URL"),
        ] {
            let err = S3Location::parse(url).unwrap_err().to_string();
            assert!(err.contains(url), "{url}: {err}");
            assert!(err.contains(expected), "{url}: {err}");
            assert!(err.contains("expected s3://bucket"), "{url}: {err}");
        }
    }

    #[test]
    fn keys_may_not_use_hidden_or_marker_names() {
        let l = S3Location::parse("s3://bucket/p").unwrap();
        check_key(&l, "models/m/1").unwrap();
        for key in ["", "a//b", ".staging-x", "a/../b", "a/_COMMITTED", "a\\b"] {
            let err = check_key(&l, key).unwrap_err().to_string();
            assert!(
                err.contains("artifact key") && err.contains("s3://bucket/p"),
                "{err}"
            );
        }
    }

    #[test]
    fn cache_folder_follows_bucket_and_prefix() {
        let l = S3Location::parse("s3://bucket/a/b").unwrap();
        if std::env::var_os(CACHE_ENV).is_none() {
            let dir = l.default_cache();
            assert!(
                dir.ends_with("autotab-artifacts/bucket/a/b"),
                "{}",
                dir.display()
            );
        }
    }
}
