//! Run tracking: experiments, parent runs (one per `autotab run`), child runs (one per
//! trial), their params, metrics (with per-fold values), job spec, data fingerprint, debug log
//! and status, all recorded through the [`Workspace`].
//!
//! The records are the [`crate::store`]'s; every write is one transaction, so a process killed
//! at any point leaves every finished child run readable and its parent marked `running` until
//! the next [`Workspace::open`] finds it `interrupted`.

mod workspace;

pub use crate::store::{
    ChildRun, ChildRunRecord, DataFingerprint, ExperimentSummary, RunDetail, RunId, RunListEntry,
    RunStatus,
};
pub use workspace::{ArtifactsLocation, Workspace, WorkspaceLocation};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::store::conformance::{fingerprint, trial};

    #[test]
    fn workspace_checks_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        let spec = serde_json::json!({});
        let err = ws.start_run("  ", &spec, &fingerprint()).unwrap_err();
        assert!(
            err.to_string().contains("experiment name is empty"),
            "{err}"
        );
        let run = ws.start_run(" e ", &spec, &fingerprint()).unwrap();
        assert_eq!(ws.list_experiments().unwrap()[0].name, "e");
        let mut running = trial(3, 0.5);
        running.status = RunStatus::Running;
        let err = ws.log_child_run(&run, &running).unwrap_err().to_string();
        assert!(err.contains("only finished trials"), "{err}");
        let err = ws
            .finish_run(&run, RunStatus::Running, &spec)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot be finished with status 'running'"),
            "{err}"
        );
        assert!(ws.get_run(run.as_str()).unwrap().children.is_empty());
        assert_eq!(
            ws.artifacts_dir(run.as_str()),
            dir.path().join("artifacts/runs").join(run.as_str())
        );
        let detail = ws.get_run(run.as_str()).unwrap();
        assert_eq!(
            detail.process.map(|p| p.1),
            Some(std::process::id()),
            "the opening process owns its runs"
        );
    }

    #[test]
    fn open_creates_a_workspace_and_open_existing_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let err = Workspace::open_existing(&root).unwrap_err().to_string();
        assert!(
            err.contains("no workspace at") && err.contains("no such folder"),
            "{err}"
        );
        assert!(!root.exists());
        std::fs::create_dir(&root).unwrap();
        let err = Workspace::open_existing(&root).unwrap_err().to_string();
        assert!(err.contains("has no store.sqlite"), "{err}");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);

        let run = Workspace::open(&root)
            .unwrap()
            .start_run("e", &serde_json::json!({}), &fingerprint())
            .unwrap();
        assert!(root.join("artifacts").is_dir() && root.join("store.sqlite").is_file());
        let ws = Workspace::open_existing(&root).unwrap();
        assert_eq!(ws.list_runs(None).unwrap()[0].id, run.as_str());
        assert_eq!(ws.location(), &WorkspaceLocation::Folder(root.clone()));
    }

    #[test]
    fn locations_are_folders_or_postgres_urls_with_an_artifacts_folder() {
        let shared = Path::new("/shared/autotab-artifacts");
        assert_eq!(
            WorkspaceLocation::parse("ws", None).unwrap(),
            WorkspaceLocation::Folder("ws".into())
        );
        for url in [
            "postgres://db/autotab",
            "postgresql://u:secret@db:5432/autotab",
        ] {
            let location = WorkspaceLocation::parse(url, Some(shared)).unwrap();
            assert_eq!(
                location,
                WorkspaceLocation::Postgres {
                    url: url.to_string(),
                    artifacts: ArtifactsLocation::Folder(shared.to_path_buf())
                }
            );
            assert_eq!(location.artifacts_root(), shared);
            assert!(!location.to_string().contains("secret"), "{location}");
            let err = WorkspaceLocation::parse(url, None).unwrap_err().to_string();
            assert!(
                err.contains("needs a folder for its artifacts") && err.contains("--artifacts"),
                "{err}"
            );
            assert!(!err.contains("secret"), "{err}");
            // A URL given as a folder path is refused, and creates no folder.
            for open in [Workspace::open, Workspace::open_existing] {
                let err = open(Path::new(url)).unwrap_err().to_string();
                assert!(err.contains("not a folder"), "{err}");
                assert!(!err.contains("secret"), "{err}");
            }
            assert!(!Path::new("postgres:").exists() && !Path::new("postgresql:").exists());
        }
        let err = WorkspaceLocation::parse("ws", Some(shared))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is for a PostgreSQL workspace"), "{err}");
        let err = WorkspaceLocation::parse("s3://bucket/ws", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'s3://' URLs are not supported"), "{err}");
        let err = Workspace::open(Path::new("s3://bucket/ws"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'s3://' URLs are not supported"), "{err}");
    }

    #[test]
    fn postgres_artifacts_may_be_an_s3_bucket() {
        let url = "postgres://u:secret@db/autotab";
        let location =
            WorkspaceLocation::parse(url, Some(Path::new("s3://bucket/team/a/"))).unwrap();
        let WorkspaceLocation::Postgres { artifacts, .. } = &location else {
            panic!("{location:?}");
        };
        assert_eq!(
            artifacts,
            &ArtifactsLocation::S3(crate::store::S3Location {
                bucket: "bucket".into(),
                prefix: "team/a".into()
            })
        );
        assert_eq!(artifacts.to_string(), "s3://bucket/team/a");
        for (bad, expected) in [
            ("s3://B/x", "not a valid bucket name"),
            ("s3://", "no bucket name"),
            ("s3://bucket/a//b", "is invalid"),
            ("gs://bucket/x", "'gs://' URLs are not supported"),
        ] {
            let err = WorkspaceLocation::parse(url, Some(Path::new(bad)))
                .unwrap_err()
                .to_string();
            assert!(err.contains(bad) && err.contains(expected), "{bad}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
        // A folder workspace keeps its own artifacts, on S3 or not.
        let err = WorkspaceLocation::parse("ws", Some(Path::new("s3://bucket/x")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is for a PostgreSQL workspace"), "{err}");
    }

    #[test]
    fn fingerprint_hashes_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, "abc").unwrap();
        let fp = DataFingerprint::of_file(&path, 1, 1, serde_json::json!(null)).unwrap();
        assert_eq!(
            fp.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let err = DataFingerprint::of_file(
            &dir.path().join("missing.csv"),
            0,
            0,
            serde_json::json!(null),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing.csv"), "{err}");
    }

    /// A raw connection to the store, to check the file itself.
    fn raw(root: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(root.join("store.sqlite")).expect("raw connection")
    }

    const KILL_ENV: &str = "AUTOTAB_TEST_KILL_WORKSPACE";

    /// Run by `sigkill_mid_run_keeps_finished_children` in a child process: logs trials until
    /// it is killed.
    #[test]
    #[ignore = "helper process of sigkill_mid_run_keeps_finished_children"]
    fn helper_logs_trials_until_killed() {
        let Some(root) = std::env::var_os(KILL_ENV) else {
            return;
        };
        let ws = Workspace::open(Path::new(&root)).unwrap();
        let run = ws
            .start_run("killed", &serde_json::json!({}), &fingerprint())
            .unwrap();
        // Bounded, so that a helper whose test died before killing it stops by itself.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
        for i in 0.. {
            if std::time::Instant::now() > give_up {
                return;
            }
            ws.log_child_run(&run, &trial(i, 0.5)).unwrap();
            ws.append_log(&run, &format!("trial {i} done")).unwrap();
            // A pause between trials, as a real search has: a writer in a tight loop can
            // starve other connections' busy handlers past their timeout on a loaded machine.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// A child process killed when dropped, so a failing assertion never leaves it running.
    struct KillOnDrop(std::process::Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn sigkill_mid_run_keeps_finished_children() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "tracking::tests::helper_logs_trials_until_killed",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(KILL_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let ws = Workspace::open(dir.path()).unwrap();
        loop {
            let runs = ws.list_runs(None).unwrap();
            if runs.first().is_some_and(|r| r.trials >= 20) {
                assert_eq!(
                    runs[0].status,
                    RunStatus::Running,
                    "owner alive: left running"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "helper made no progress"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        drop(ws);

        let ws = Workspace::open(dir.path()).unwrap();
        let runs = ws.list_runs(Some("killed")).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Interrupted);
        let detail = ws.get_run(&runs[0].id).unwrap();
        assert!(detail.children.len() >= 20);
        for (i, c) in detail.children.iter().enumerate() {
            assert_eq!(c.index, i, "trials are contiguous: none half-written");
            assert_eq!(c.status, RunStatus::Completed);
            assert_eq!(c.fold_metrics["AUC_weighted"].len(), 2);
        }
        let check: String = raw(dir.path())
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
