//! A workspace in a fresh schema of the PostgreSQL test server (`AUTOTAB_TEST_POSTGRES`, started
//! by `.ci/postgres.sh`), for the end-to-end tests that need one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{json_summary, TempWorkspace};

/// A fresh schema on the test server (dropped on drop) and an artifacts folder.
pub struct PgWorkspace {
    base: String,
    schema: String,
    /// Temporary files (the artifacts folder is inside).
    pub files: TempWorkspace,
}

impl PgWorkspace {
    /// `None` (after a skip line) when no server is configured and none is required.
    pub fn new(test: &str) -> Option<PgWorkspace> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let required = std::env::var("AUTOTAB_REQUIRE_POSTGRES").as_deref() == Ok("1");
        let base = match std::env::var("AUTOTAB_TEST_POSTGRES") {
            Ok(base) if !base.trim().is_empty() => base,
            _ => {
                assert!(
                    !required,
                    "AUTOTAB_REQUIRE_POSTGRES=1 but AUTOTAB_TEST_POSTGRES is not set: {test} \
                     needs a PostgreSQL server"
                );
                println!("skipped {test}: set AUTOTAB_TEST_POSTGRES to a PostgreSQL URL to run it");
                return None;
            }
        };
        let schema = format!(
            "autotab_e{}_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{test}: cannot connect to AUTOTAB_TEST_POSTGRES: {e}"));
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create the test schema");
        Some(PgWorkspace {
            base,
            schema,
            files: TempWorkspace::new(),
        })
    }

    /// The workspace URL: the base URL with `search_path` set to the test schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.schema)
    }

    /// The shared artifacts folder.
    pub fn artifacts(&self) -> PathBuf {
        self.files.path().join("shared-artifacts")
    }

    /// The real binary with this workspace and artifacts folder in its environment.
    pub fn autotab(&self) -> Command {
        let mut cmd = super::autotab_in(Path::new(&self.url()));
        cmd.env("AUTOTAB_ARTIFACTS", self.artifacts());
        cmd
    }

    /// Runs `args`, asserts success, returns the JSON it printed: all of stdout (`--json` of
    /// `runs`, `models`, `data`), or its last line (`run --json`).
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.autotab().args(args).output().unwrap();
        let stdout = succeeded(args, &out);
        serde_json::from_str(&stdout).unwrap_or_else(|_| json_summary(&stdout))
    }

    /// Runs `args`, asserts success, returns stdout.
    pub fn text(&self, args: &[&str]) -> String {
        let out = self.autotab().args(args).output().unwrap();
        succeeded(args, &out)
    }
}

impl Drop for PgWorkspace {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

/// Stdout of a finished process, after asserting it succeeded (its output shown otherwise).
pub fn succeeded(args: &[&str], out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
