//! Helpers of the scoring tests: one trained heart-failure bundle per test binary, a served
//! model process, and the Azure tutorial request.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The request of the Azure heart-failure tutorial, values as strings.
pub const TUTORIAL_REQUEST: &str = r#"{"data":[{"age":"60","anaemia":"false","creatinine_phosphokinase":"500","diabetes":"false","ejection_fraction":"38","high_blood_pressure":"false","platelets":"260000","serum_creatinine":"1.40","serum_sodium":"137","sex":"false","smoking":"false","time":"130"}]}"#;

/// The binary under test with this test process's scratch workspace.
pub fn autotab() -> Command {
    super::autotab_in(&scratch().join("ws"))
}

/// Trains a heart-failure model bundle into `dir` (quietly; `extra` flags added), panicking
/// with the run's output if it fails.
pub fn train_bundle(dir: &Path, extra: &[&str]) {
    let out = autotab()
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args(extra)
        .args(["--quiet", "--output"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "training failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder for this test process under cargo's test scratch space.
pub fn scratch() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scoring-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A heart-failure model bundle, trained once per test binary.
pub fn model_dir() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch().join("model");
        train_bundle(&dir, &["--timeout", "30", "--max-trials", "6", "--json"]);
        dir
    })
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An `autotab serve` child process; killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `autotab serve` on a free port with `extra` flags and waits until /health answers.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// Like [`Server::start`] with extra environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_model(model_dir().as_os_str(), extra, env)
    }

    /// Starts `autotab serve --model <model>` (a folder or a registered name).
    pub fn start_model(model: &std::ffi::OsStr, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let child = autotab()
            .envs(env.iter().copied())
            .arg("serve")
            .arg("--model")
            .arg(model)
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = agent().get(&server.url("/health")).call() {
                assert_eq!(response.status().as_u16(), 200);
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                let mut err = String::new();
                server
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("autotab serve exited with {status}: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer /health within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POSTs `body` to `path`; the status and the JSON body, 4xx/5xx included.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = agent()
            .post(&self.url(path))
            .header("Content-Type", content_type);
        if let Some(key) = key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        read(request.send(body))
    }

    /// GETs `path`; the status and the JSON body.
    pub fn get(&self, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
        let mut request = agent().get(&self.url(path));
        if let Some(key) = key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        read(request.call())
    }

    /// Sends raw bytes on a fresh connection and returns the status line and body text.
    pub fn raw(&self, bytes: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(bytes).unwrap();
        let mut text = Vec::new();
        // The server may close after answering; whatever arrived is the answer.
        let _ = stream.read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let body = text
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, body)
    }
}

/// An HTTP client that hands back 4xx/5xx responses instead of turning them into errors.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, serde_json::Value) {
    let mut response = result.unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, value)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
