//! The workspace handle: where it is ([`WorkspaceLocation`]: a folder, or a PostgreSQL
//! database with a shared artifacts folder), its [`Store`] and [`ArtifactStore`], and the
//! process that opened it. Tracking calls check their input here and go to the store; registry calls
//! are in [`crate::registry`].

use std::path::{Path, PathBuf};

use crate::error::{AutotabError, Result};
#[cfg(feature = "postgres")]
use crate::store::PostgresStore;
use crate::store::{
    redact_url, ArtifactStore, ChildRunRecord, DataFingerprint, ExperimentSummary, Liveness,
    LocalArtifacts, NewRun, ProcessOwner, RunDetail, RunId, RunListEntry, RunStatus, SqliteStore,
    Store,
};

/// The folder of a local workspace that holds its artifacts.
const ARTIFACTS_DIR: &str = "artifacts";

/// Where a workspace is: what `--workspace` (and `--artifacts`) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceLocation {
    /// A local folder holding `store.sqlite` and `artifacts/`.
    Folder(PathBuf),
    /// A shared PostgreSQL database (`postgres://` or `postgresql://` URL) for the records,
    /// and a folder every machine using the workspace can read and write (a shared file
    /// system) for the artifacts: model bundles and run outputs.
    Postgres {
        /// The connection URL (it may hold a password: the `Display` form hides it).
        url: String,
        /// The artifacts folder.
        artifacts: PathBuf,
    },
}

impl WorkspaceLocation {
    /// The location `workspace` names: a `postgres://` or `postgresql://` URL is a PostgreSQL
    /// workspace, whose artifacts go to `artifacts` (required: there is no folder of the
    /// workspace to put them in); anything else without `://` is a local folder, which keeps
    /// its artifacts inside and refuses `artifacts`. Other URL schemes are refused.
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
                         shared file system)",
                        redact_url(workspace)
                    )));
                };
                Ok(WorkspaceLocation::Postgres {
                    url: workspace.to_string(),
                    artifacts: dir.to_path_buf(),
                })
            }
            Some(scheme) => Err(AutotabError::config(format!(
                "workspace {}: '{scheme}://' URLs are not supported; use a local folder \
                 (--workspace DIR) or a PostgreSQL database (--workspace postgres://...)",
                redact_url(workspace)
            ))),
        }
    }

    /// The folder that holds the artifacts.
    pub fn artifacts_root(&self) -> PathBuf {
        match self {
            WorkspaceLocation::Folder(dir) => dir.join(ARTIFACTS_DIR),
            WorkspaceLocation::Postgres { artifacts, .. } => artifacts.clone(),
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
    /// the artifacts folder.
    ///
    /// Parent runs left `running` by a process of this host that no longer exists are marked
    /// `interrupted`. Fails with a clear error if the store was written by a newer autotab,
    /// or if the PostgreSQL server cannot be reached (naming the URL without its password).
    pub fn open_at(location: &WorkspaceLocation) -> Result<Workspace> {
        let (store, artifacts): (Box<dyn Store>, _) = match location {
            WorkspaceLocation::Folder(dir) => {
                refuse_url(dir)?;
                // Creates the folder too, which the store needs.
                let artifacts = LocalArtifacts::create(&location.artifacts_root())?;
                (Box::new(SqliteStore::open(dir)?), artifacts)
            }
            WorkspaceLocation::Postgres { url, artifacts } => {
                let store = open_postgres(url, true)?;
                (store, LocalArtifacts::create(artifacts)?)
            }
        };
        Workspace::assemble(location, store, Box::new(artifacts))
    }

    /// Opens the workspace at `location` for commands that only look at what it holds: a
    /// missing workspace is an error ("no workspace at ..."), and nothing is created.
    pub fn open_existing_at(location: &WorkspaceLocation) -> Result<Workspace> {
        let store: Box<dyn Store> = match location {
            WorkspaceLocation::Folder(dir) => {
                refuse_url(dir)?;
                Box::new(open_existing_folder(dir)?)
            }
            WorkspaceLocation::Postgres { url, .. } => open_postgres(url, false)?,
        };
        let artifacts = LocalArtifacts::existing(&location.artifacts_root());
        Workspace::assemble(location, store, Box::new(artifacts))
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
