//! Helpers shared by the end-to-end tests (one support module: `scoring` holds the served-model
//! helpers).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod scoring;

/// A temporary workspace folder, removed on drop.
pub struct TempWorkspace {
    dir: tempfile::TempDir,
}

impl TempWorkspace {
    pub fn new() -> Self {
        TempWorkspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }
}

/// The real binary, run from the crate root with the workspace in `ws`.
pub fn autotab(ws: &TempWorkspace) -> Command {
    autotab_in(&ws.workspace())
}

/// The real binary, run from the crate root with the workspace at `workspace` and no auth
/// key or MLflow server inherited: the one way every end-to-end test starts it.
pub fn autotab_in(workspace: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autotab"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AUTOTAB_WORKSPACE", workspace)
        .env_remove("AUTOTAB_AUTH_KEY")
        .env_remove("MLFLOW_TRACKING_URI");
    cmd
}

/// The JSON object on the last line of stdout.
pub fn json_summary(stdout: &str) -> serde_json::Value {
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

/// Header and rows of a CSV file.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A loopback port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops a server started in a process group of its own (`process_group(0)`): SIGTERM to the
/// group, up to `grace` for it to exit, then SIGKILL, then reaps it. Quiet: it may be gone.
pub fn stop_process_group(child: &mut std::process::Child, grace: std::time::Duration) {
    let group = format!("-{}", child.id());
    let kill = |signal: &str| {
        Command::new("kill")
            .args([signal, "--", &group])
            .stderr(std::process::Stdio::null())
            .status()
    };
    let _ = kill("-TERM");
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = kill("-KILL");
    let _ = child.wait();
}

/// Runs `cmd`, asserts it succeeded (showing its stdout and stderr otherwise), returns stdout.
pub fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
