//! The workspace handle: where it is ([`WorkspaceLocation`]: a folder, or a PostgreSQL
//! database with shared artifacts, [`ArtifactsLocation`]), its [`Store`] and
//! [`ArtifactStore`], and the process that opened it. Tracking calls check their input here and go to the store; registry calls
//! are in [`crate::registry`].

use std::path::{Path, PathBuf};

use crate::error::{AutotabError, Result};
#[cfg(feature = "postgres")]
use crate::store::PostgresStore;
#[cfg(feature = "s3")]
use crate::store::S3Artifacts;
use crate::store::{
    redact_url, s3, ArtifactStore, ChildRunRecord, DataFingerprint, ExperimentSummary, Liveness,
    LocalArtifacts, NewRun, ProcessOwner, RunDetail, RunId, RunListEntry, RunStatus, S3Location,
    SqliteStore, Store,
};

/// The folder of a local workspace that holds its artifacts.
const ARTIFACTS_DIR: &str = "artifacts";

/// Where a workspace is: what `--workspace` (and `--artifacts`) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceLocation {
    /// A local folder holding `store.sqlite` and `artifacts/`.
    Folder(PathBuf),
    /// A shared PostgreSQL database (`postgres://` or `postgresql://` URL) for the records,
    /// and artifacts (model bundles and run outputs) that every machine using the workspace
    /// can read and write: a shared folder or an S3 bucket.
    Postgres {
        /// The connection URL (it may hold a password: the `Display` form hides it).
        url: String,
        /// Where the artifacts are.
        artifacts: ArtifactsLocation,
    },
}

/// Where a PostgreSQL workspace keeps its artifacts: what `--artifacts` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactsLocation {
    /// A folder every machine can read and write (a shared file system).
    Folder(PathBuf),
    /// An S3 bucket and prefix (`s3://bucket/prefix`; cargo feature `s3`), read through
    /// local copies ([`crate::store::s3`]).
    S3(S3Location),
}

impl ArtifactsLocation {
    /// `s3://bucket/prefix` is S3 (checked: a bad bucket or prefix is an error naming the
    /// URL); any other `scheme://` URL is refused; anything else is a folder.
    pub fn parse(artifacts: &Path) -> Result<ArtifactsLocation> {
        let text = artifacts.to_string_lossy();
        if s3::is_s3_path(artifacts) {
            return Ok(ArtifactsLocation::S3(S3Location::parse(&text)?));
        }
        if let Some(scheme) = url_scheme(&text) {
            return Err(AutotabError::config(format!(
                "artifacts location {}: '{scheme}://' URLs are not supported; give a shared \
                 folder (--artifacts DIR) or an S3 bucket (--artifacts s3://bucket/prefix)",
                redact_url(&text)
            )));
        }
        Ok(ArtifactsLocation::Folder(artifacts.to_path_buf()))
    }
}

impl std::fmt::Display for ArtifactsLocation {
    /// The folder, or `s3://bucket/prefix`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactsLocation::Folder(dir) => write!(f, "{}", dir.display()),
            ArtifactsLocation::S3(location) => write!(f, "{location}"),
        }
    }
}

impl WorkspaceLocation {
    /// The location `workspace` names: a `postgres://` or `postgresql://` URL is a PostgreSQL
    /// workspace, whose artifacts go to `artifacts`, a shared folder or `s3://bucket/prefix`
    /// (required: there is no folder of the workspace to put them in); anything else without
    /// `://` is a local folder, which keeps its artifacts inside and refuses `artifacts`.
    /// Other URL schemes are refused.
    pub fn parse(workspace: &str, artifacts: Option<&Path>) -> Result<WorkspaceLocation> {
        let artifacts = artifacts.filter(|a| !a.as_os_str().is_empty());
        match url_scheme(workspace) {
            None => match artifacts {
                None => Ok(WorkspaceLocation::Folder(PathBuf::from(workspace))),
                Some(dir) => Err(AutotabError::config(format!(
                    "--artifacts {} (AUTOTAB_ARTIFACTS) is for a PostgreSQL workspace; the \
                     folder workspace {workspace} keeps its artifacts in {}: leave \
                     --artifacts out, or give --workspace postgres://...",
                    dir.display(),
                    Path::new(workspace).join(ARTIFACTS_DIR).display()
                ))),
            },
            Some(scheme) if is_postgres(scheme) => {
                let Some(dir) = artifacts else {
                    return Err(AutotabError::config(format!(
                        "PostgreSQL workspace {} needs a folder for its artifacts (model \
                         bundles, reports): give --artifacts DIR or set AUTOTAB_ARTIFACTS, a \
                         path that every machine using the workspace can read and write (a \
                         shared file system), or an S3 bucket (--artifacts \
                         s3://bucket/prefix)",
                        redact_url(workspace)
                    )));
                };
                Ok(WorkspaceLocation::Postgres {
                    url: workspace.to_string(),
                    artifacts: ArtifactsLocation::parse(dir)?,
                })
            }
            Some(scheme) => Err(AutotabError::config(format!(
                "workspace {}: '{scheme}://' URLs are not supported; use a local folder \
                 (--workspace DIR) or a PostgreSQL database (--workspace postgres://...)",
                redact_url(workspace)
            ))),
        }
    }

    /// The folder that holds the artifacts: for S3, the local folder of their copies
    /// ([`S3Location::default_cache`]).
    pub fn artifacts_root(&self) -> PathBuf {
        match self {
            WorkspaceLocation::Folder(dir) => dir.join(ARTIFACTS_DIR),
            WorkspaceLocation::Postgres { artifacts, .. } => match artifacts {
                ArtifactsLocation::Folder(dir) => dir.clone(),
                ArtifactsLocation::S3(location) => location.default_cache(),
            },
        }
    }
}

impl From<&Path> for WorkspaceLocation {
    /// A local folder workspace.
    fn from(dir: &Path) -> WorkspaceLocation {
        WorkspaceLocation::Folder(dir.to_path_buf())
    }
}

impl std::fmt::Display for WorkspaceLocation {
    /// The folder, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkspaceLocation::Folder(dir) => write!(f, "{}", dir.display()),
            WorkspaceLocation::Postgres { url, .. } => f.write_str(&redact_url(url)),
        }
    }
}

/// An autotab workspace: experiments, runs and registered models (its [`Store`]) and the
/// files they refer to (its [`ArtifactStore`]).
///
/// A local workspace is a folder holding `store.sqlite` and `artifacts/`; a PostgreSQL
/// workspace is a database (the URL's `search_path` schema) and a shared artifacts folder
/// ([`WorkspaceLocation`]). A `Workspace` can be shared (`&Workspace`, `Arc`) by the engine's
/// worker threads, and other processes (on other machines, for PostgreSQL) may open the same
/// workspace at the same time.
#[derive(Debug)]
pub struct Workspace {
    location: WorkspaceLocation,
    pub(crate) store: Box<dyn Store>,
    pub(crate) artifacts: Box<dyn ArtifactStore>,
    owner: ProcessOwner,
}

impl Workspace {
    /// Opens the folder workspace at `location`, creating the folder and the store if
    /// missing (see [`Workspace::open_at`]).
    pub fn open(location: &Path) -> Result<Workspace> {
        Workspace::open_at(&WorkspaceLocation::from(location))
    }

    /// Opens the folder workspace at `location` for commands that only look at what it
    /// holds (see [`Workspace::open_existing_at`]).
    pub fn open_existing(location: &Path) -> Result<Workspace> {
        Workspace::open_existing_at(&WorkspaceLocation::from(location))
    }

    /// Opens the workspace at `location`, creating it if missing: a folder and its SQLite
    /// store, or the tables in a PostgreSQL database (the database itself must exist) and
    /// the artifacts folder (an S3 bucket must exist: it is listed once to check).
    ///
    /// Parent runs left `running` by a process of this host that no longer exists are marked
    /// `interrupted`. Fails with a clear error if the store was written by a newer autotab,
    /// or if the PostgreSQL server cannot be reached (naming the URL without its password).
    pub fn open_at(location: &WorkspaceLocation) -> Result<Workspace> {
        let (store, artifacts): (Box<dyn Store>, Box<dyn ArtifactStore>) = match location {
            WorkspaceLocation::Folder(dir) => {
                refuse_url(dir)?;
                // Creates the folder too, which the store needs.
                let artifacts = LocalArtifacts::create(&location.artifacts_root())?;
                (Box::new(SqliteStore::open(dir)?), Box::new(artifacts))
            }
            WorkspaceLocation::Postgres { url, artifacts } => {
                let store = open_postgres(url, true)?;
                (store, open_artifacts(artifacts, true)?)
            }
        };
        Workspace::assemble(location, store, artifacts)
    }

    /// Opens the workspace at `location` for commands that only look at what it holds: a
    /// missing workspace is an error ("no workspace at ..."), and nothing is created.
    pub fn open_existing_at(location: &WorkspaceLocation) -> Result<Workspace> {
        let (store, artifacts): (Box<dyn Store>, Box<dyn ArtifactStore>) = match location {
            WorkspaceLocation::Folder(dir) => {
                refuse_url(dir)?;
                let artifacts = LocalArtifacts::existing(&location.artifacts_root());
                (Box::new(open_existing_folder(dir)?), Box::new(artifacts))
            }
            WorkspaceLocation::Postgres { url, artifacts } => (
                open_postgres(url, false)?,
                open_artifacts(artifacts, false)?,
            ),
        };
        Workspace::assemble(location, store, artifacts)
    }

    /// The workspace over `store` and `artifacts`, after marking the stale runs interrupted.
    fn assemble(
        location: &WorkspaceLocation,
        store: Box<dyn Store>,
        artifacts: Box<dyn ArtifactStore>,
    ) -> Result<Workspace> {
        store.interrupt_stale_runs(&|owner| owner.liveness() == Liveness::Dead)?;
        Ok(Workspace {
            location: location.clone(),
            store,
            artifacts,
            owner: ProcessOwner::current(),
        })
    }

    /// Where the workspace is.
    pub fn location(&self) -> &WorkspaceLocation {
        &self.location
    }

    /// The process this workspace handle records as the owner of the runs it starts.
    pub fn owner(&self) -> &ProcessOwner {
        &self.owner
    }

    /// The queue of distributed runs (`crate::distributed`): a PostgreSQL workspace's; a
    /// folder workspace has none, which is a clear error naming `what` needed it.
    pub fn queue(&self, what: &str) -> Result<&dyn crate::store::WorkQueue> {
        self.store.queue().ok_or_else(|| {
            AutotabError::config(format!(
                "{what} needs a shared PostgreSQL workspace (--workspace postgres://... with \
                 --artifacts, or AUTOTAB_WORKSPACE); the folder workspace {} runs trials in \
                 one process only",
                self.location
            ))
        })
    }

    /// The folder for the artifacts of run `run_id` (`<root>/artifacts/runs/<run_id>`).
    /// It is not created here.
    pub fn artifacts_dir(&self, run_id: &str) -> PathBuf {
        self.artifacts
            .locate(&format!("runs/{run_id}"))
            .unwrap_or_else(|_| {
                // An id that is not a valid key (e.g. with '/') gets a folder of its own
                // name, still inside the artifacts: the store refuses such ids anyway.
                let safe: String = run_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                self.location.artifacts_root().join("runs").join(safe)
            })
    }

    /// Makes the outputs written into [`Workspace::artifacts_dir`] of run `run_id` visible
    /// to every machine: with artifacts on S3 they are uploaded (a local or shared folder
    /// needs nothing). Called once the run's outputs are complete.
    pub fn sync_run_artifacts(&self, run_id: &str) -> Result<()> {
        self.artifacts.sync(&format!("runs/{run_id}"))
    }

    /// Starts a parent run in `experiment` (created if new), owned by the calling process.
    pub fn start_run(
        &self,
        experiment: &str,
        spec_json: &serde_json::Value,
        fingerprint: &DataFingerprint,
    ) -> Result<RunId> {
        let experiment = experiment.trim();
        if experiment.is_empty() {
            return Err(AutotabError::config(
                "experiment name is empty: give a name such as --experiment heart-failure",
            ));
        }
        self.store.start_run(&NewRun {
            experiment,
            spec: spec_json,
            fingerprint,
            owner: &self.owner,
        })
    }

    /// Records one finished trial under `parent`, in one transaction, and returns its id
    /// (`<parent>-t<index>`).
    pub fn log_child_run(&self, parent: &RunId, child: &ChildRunRecord) -> Result<RunId> {
        if child.status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "trial {} of run {parent} is logged with status 'running': only finished \
                 trials are recorded",
                child.index
            )));
        }
        self.store.log_child_run(parent, child)
    }

    /// Sets metric `name` of `run` to `value` (replacing an earlier value).
    pub fn log_metric(&self, run: &RunId, name: &str, value: f64) -> Result<()> {
        self.store.log_metric(run, name, value)
    }

    /// Sets param `name` of `run` to `value` (replacing an earlier value).
    pub fn log_param(&self, run: &RunId, name: &str, value: &serde_json::Value) -> Result<()> {
        self.store.log_param(run, name, value)
    }

    /// Appends one line to the debug log of `run`.
    pub fn append_log(&self, run: &RunId, line: &str) -> Result<()> {
        self.store.append_log(run, line)
    }

    /// Ends the running `run` with `status` and a summary (best trial, scores, ...).
    pub fn finish_run(
        &self,
        run: &RunId,
        status: RunStatus,
        summary: &serde_json::Value,
    ) -> Result<()> {
        if status == RunStatus::Running {
            return Err(AutotabError::config(format!(
                "run {run} cannot be finished with status 'running'"
            )));
        }
        self.store.finish_run(run, status, summary)
    }

    /// Parent runs, newest first, of one experiment or of all.
    pub fn list_runs(&self, experiment: Option<&str>) -> Result<Vec<RunListEntry>> {
        self.store.list_runs(experiment)
    }

    /// Everything about run `run_id` (parent or child), with its children in trial order.
    pub fn get_run(&self, run_id: &str) -> Result<RunDetail> {
        self.store.get_run(run_id)
    }

    /// The debug log of `run_id`, in the order the lines were appended.
    pub fn run_log(&self, run_id: &str) -> Result<Vec<String>> {
        self.store.run_log(run_id)
    }

    /// All experiments, by name.
    pub fn list_experiments(&self) -> Result<Vec<ExperimentSummary>> {
        self.store.list_experiments()
    }
}

/// The folder workspace at `dir`, which must exist and hold a store.
fn open_existing_folder(dir: &Path) -> Result<SqliteStore> {
    let missing = |what: &str| {
        AutotabError::Store(format!(
            "no workspace at {}: {what} (run `autotab run` to create one, or point \
             --workspace / AUTOTAB_WORKSPACE at an existing one)",
            dir.display()
        ))
    };
    if !dir.is_dir() {
        return Err(missing("no such folder"));
    }
    if !dir.join(SqliteStore::FILE_NAME).is_file() {
        return Err(missing(&format!(
            "the folder has no {}",
            SqliteStore::FILE_NAME
        )));
    }
    SqliteStore::open_existing(dir)
}

/// The artifact store of a PostgreSQL workspace: a shared folder (created if `create`), or
/// an S3 bucket (checked by listing it if `create`).
fn open_artifacts(artifacts: &ArtifactsLocation, create: bool) -> Result<Box<dyn ArtifactStore>> {
    match artifacts {
        ArtifactsLocation::Folder(dir) if create => Ok(Box::new(LocalArtifacts::create(dir)?)),
        ArtifactsLocation::Folder(dir) => Ok(Box::new(LocalArtifacts::existing(dir))),
        ArtifactsLocation::S3(location) => open_s3(location, create),
    }
}

/// The S3 artifact store at `location`, with local copies in its default cache folder.
#[cfg(feature = "s3")]
fn open_s3(location: &S3Location, check: bool) -> Result<Box<dyn ArtifactStore>> {
    let cache = location.default_cache();
    Ok(Box::new(if check {
        S3Artifacts::open(location, &cache)?
    } else {
        S3Artifacts::open_unchecked(location, &cache)?
    }))
}

/// Without the `s3` feature: an error saying how to get it.
#[cfg(not(feature = "s3"))]
fn open_s3(location: &S3Location, _check: bool) -> Result<Box<dyn ArtifactStore>> {
    Err(s3::unsupported(location))
}

/// The PostgreSQL store at `url` (created if `create`).
#[cfg(feature = "postgres")]
fn open_postgres(url: &str, create: bool) -> Result<Box<dyn Store>> {
    let store = if create {
        PostgresStore::open(url)?
    } else {
        PostgresStore::open_existing(url)?
    };
    Ok(Box::new(store))
}

/// Without the `postgres` feature: an error saying how to get it.
#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str, _create: bool) -> Result<Box<dyn Store>> {
    Err(AutotabError::config(format!(
        "workspace {}: this autotab was built without PostgreSQL support (cargo feature \
         `postgres`, on by default): rebuild it without --no-default-features",
        redact_url(url)
    )))
}

/// The scheme of `text` when it is a URL (`scheme://...`).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

fn is_postgres(scheme: &str) -> bool {
    ["postgres", "postgresql"]
        .iter()
        .any(|p| scheme.eq_ignore_ascii_case(p))
}

/// A folder path that is a URL: a clear error (a URL is given as a [`WorkspaceLocation`]).
fn refuse_url(location: &Path) -> Result<()> {
    let text = location.to_string_lossy();
    let Some(scheme) = url_scheme(&text) else {
        return Ok(());
    };
    Err(AutotabError::config(if is_postgres(scheme) {
        format!(
            "workspace {}: a PostgreSQL URL is not a folder; open it as \
             WorkspaceLocation::parse(url, Some(artifacts folder)) (--workspace URL \
             --artifacts DIR)",
            redact_url(&text)
        )
    } else {
        format!(
            "workspace {}: '{scheme}://' URLs are not supported; use a local folder \
             (--workspace DIR) or a PostgreSQL database (--workspace postgres://...)",
            redact_url(&text)
        )
    }))
}
