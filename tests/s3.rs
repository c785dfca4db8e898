//! Artifacts on S3 against a real S3-compatible server: `moto_server` (PyPI `moto[server]`;
//! `.ci/run` installs it) on a free loopback port, one server and bucket per test.
//!
//! The library checks go through `S3Artifacts` (put and locate of nested folders from a second
//! store with an empty cache, a commit replacing a leftover, delete, a missing key, a run's
//! outputs synced); the end-to-end test runs the real binary with a PostgreSQL workspace
//! (`AUTOTAB_TEST_POSTGRES`, as in `tests/postgres.rs`) and `--artifacts s3://bucket/prefix`,
//! then scores from another process with a cache of its own, so the bundle comes back from the
//! server. Without moto the tests print a skip line and pass, unless `AUTOTAB_REQUIRE_S3=1`
//! (CI), which makes a missing moto a failure; the end-to-end test skips the same way without
//! a PostgreSQL server (`AUTOTAB_REQUIRE_POSTGRES=1` makes that a failure).
#![cfg(feature = "s3")]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autotab::store::{ArtifactStore, S3Artifacts, S3Location};

/// Longest wait for the server to answer.
const STARTUP: Duration = Duration::from_secs(120);

/// A `python3 -m moto.server` on a free loopback port, with one bucket; its process group is
/// stopped on drop, so a failing assertion never leaves it running.
struct Moto {
    child: Child,
    port: u16,
    bucket: String,
    dir: tempfile::TempDir,
}

impl Moto {
    /// The server with bucket `bucket` created, or `None` (after a skip line) when moto is
    /// not installed and `AUTOTAB_REQUIRE_S3` is not `1`.
    fn start(test: &str, bucket: &str) -> Option<Moto> {
        let required = std::env::var("AUTOTAB_REQUIRE_S3").as_deref() == Ok("1");
        let check = Command::new("python3")
            .args(["-c", "import moto.server, flask, flask_cors"])
            .output();
        let installed = check.as_ref().is_ok_and(|o| o.status.success());
        if !installed {
            let why = match &check {
                Ok(o) => String::from_utf8_lossy(&o.stderr).to_string(),
                Err(e) => format!("python3: {e}"),
            };
            assert!(
                !required,
                "AUTOTAB_REQUIRE_S3=1 but moto's server is not installed \
                 (python3 -m pip install 'moto[server]'; .ci/run does it): {why}"
            );
            println!("skipped {test}: moto's server is not installed (pip install 'moto[server]')");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let log = fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("cannot start python3 -m moto.server");
        let mut moto = Moto {
            child,
            port,
            bucket: bucket.to_string(),
            dir,
        };
        moto.wait_ready();
        let status = moto.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status.0, 200, "create bucket {bucket}: {}", status.1);
        Some(moto)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// The S3 configuration the store and the binary get (no other AWS_* setting applies).
    fn options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }

    /// `S3Artifacts` over `s3://<bucket>/<prefix>` with its local copies in `cache`.
    fn store(&self, prefix: &str, cache: &Path) -> S3Artifacts {
        let location = S3Location::parse(&format!("s3://{}/{prefix}", self.bucket)).unwrap();
        let options: Vec<(String, String)> = self
            .options()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let options: Vec<(&str, &str)> = options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        S3Artifacts::open_with(&location, cache, &options, true)
            .unwrap_or_else(|e| panic!("open {location}: {e}\n{}", self.log()))
    }

    /// Sends an unsigned request (moto accepts them) and returns the status and body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.endpoint());
        let response = match method {
            "PUT" => agent
                .put(&url)
                .header("content-type", "application/octet-stream")
                .send(body),
            "GET" => agent.get(&url).call(),
            _ => panic!("method {method}"),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, text)
    }

    /// The object names under `prefix` in the bucket.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let (status, xml) = self.request(
            "GET",
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
            b"",
        );
        assert_eq!(status, 200, "{xml}");
        let mut keys: Vec<String> = xml
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect();
        keys.sort();
        keys
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto server exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "moto server not listening after {STARTUP:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        common::stop_process_group(&mut self.child, Duration::from_secs(10));
    }
}

/// A folder `<parent>/<name>` holding `files` (relative paths, nested folders created).
fn folder(parent: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = parent.join(name);
    for (rel, text) in files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

/// Every file under `dir` as (relative path, content), sorted.
fn contents(dir: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &rel, out);
            } else {
                out.push((rel, fs::read_to_string(entry.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

fn owned(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = files
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn put_then_locate_from_another_cache_round_trips_nested_folders() {
    let Some(moto) = Moto::start("s3_put_locate", "autotab-put") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        ("bundle.json", "{\"v\":1}"),
        ("model/weights.bin", "0123456789"),
        ("model/deeper/notes.txt", "nested"),
        ("empty.txt", ""),
    ];
    let source = folder(tmp.path(), "src", &files);
    let writer = moto.store("team/a", &tmp.path().join("cache-writer"));
    writer.put(&source, "models/m/1").unwrap();

    // The objects sit under the key, the marker among them, and no staging copy is left.
    let keys = moto.keys("team/a/");
    assert_eq!(
        keys,
        vec![
            "team/a/models/m/1/_COMMITTED",
            "team/a/models/m/1/bundle.json",
            "team/a/models/m/1/empty.txt",
            "team/a/models/m/1/model/deeper/notes.txt",
            "team/a/models/m/1/model/weights.bin",
        ],
        "{keys:?}"
    );

    // Another machine (another cache) reads the folder back.
    let reader = moto.store("team/a", &tmp.path().join("cache-reader"));
    let local = reader.locate("models/m/1").unwrap();
    assert!(
        local.starts_with(tmp.path().join("cache-reader")),
        "{local:?}"
    );
    assert_eq!(contents(&local), owned(&files));
    // Located again: the same folder, still complete.
    assert_eq!(reader.locate("models/m/1").unwrap(), local);
    assert_eq!(contents(&local), owned(&files));
}

#[test]
fn a_commit_replaces_a_leftover_and_a_staged_copy_is_invisible() {
    let Some(moto) = Moto::start("s3_commit_leftover", "autotab-commit") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = moto.store("p", &tmp.path().join("cache"));
    // A leftover of a commit that never completed: files under the key, no marker.
    let (status, body) = moto.request("PUT", "/autotab-commit/p/models/m/2/stray.txt", b"old");
    assert_eq!(status, 200, "{body}");
    let (status, body) = moto.request("PUT", "/autotab-commit/p/models/m/2/bundle.json", b"old");
    assert_eq!(status, 200, "{body}");
    // Without a marker the key reads as missing.
    let local = store.locate("models/m/2").unwrap();
    assert!(!local.exists(), "{local:?}");

    // Staged: under a hidden prefix, the key still missing.
    let source = folder(tmp.path(), "new", &[("bundle.json", "new")]);
    let staged = store.stage(&source, "models/m").unwrap();
    let staging: Vec<String> = moto
        .keys("p/models/m/")
        .into_iter()
        .filter(|k| k.starts_with("p/models/m/.staging-"))
        .collect();
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert!(!store.locate("models/m/2").unwrap().exists());

    // The commit replaces the leftover: only the new files, and the staged copy is gone.
    store.commit(&staged, "models/m/2").unwrap();
    assert_eq!(
        moto.keys("p/"),
        vec!["p/models/m/2/_COMMITTED", "p/models/m/2/bundle.json"]
    );
    let local = store.locate("models/m/2").unwrap();
    assert_eq!(contents(&local), owned(&[("bundle.json", "new")]));

    // A discarded staged copy leaves nothing.
    let staged = store.stage(&source, "models/m").unwrap();
    store.discard(&staged);
    assert_eq!(moto.keys("p/").len(), 2);

    // Committing again over a committed key replaces it, and a reader's older copy is
    // replaced at its next locate.
    let reader = moto.store("p", &tmp.path().join("cache-reader"));
    assert_eq!(
        contents(&reader.locate("models/m/2").unwrap()),
        owned(&[("bundle.json", "new")])
    );
    let newer = folder(tmp.path(), "newer", &[("other.json", "newer")]);
    store.put(&newer, "models/m/2").unwrap();
    assert_eq!(
        contents(&reader.locate("models/m/2").unwrap()),
        owned(&[("other.json", "newer")])
    );
}

#[test]
fn delete_removes_every_object_and_stale_local_copies() {
    let Some(moto) = Moto::start("s3_delete", "autotab-delete") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = moto.store("", &tmp.path().join("cache"));
    let source = folder(tmp.path(), "src", &[("a.txt", "a"), ("sub/b.txt", "b")]);
    store.put(&source, "models/m/1").unwrap();
    store.put(&source, "models/m/10").unwrap();
    let reader = moto.store("", &tmp.path().join("cache-reader"));
    let copy = reader.locate("models/m/1").unwrap();
    assert!(copy.join("sub/b.txt").is_file());

    store.delete("models/m/1").unwrap();
    // Only the key's objects went (not those of models/m/10, whose name starts the same).
    assert_eq!(
        moto.keys(""),
        vec![
            "models/m/10/_COMMITTED",
            "models/m/10/a.txt",
            "models/m/10/sub/b.txt"
        ]
    );
    assert!(!store.locate("models/m/1").unwrap().exists());
    // The other machine's copy is gone at its next locate.
    assert!(!reader.locate("models/m/1").unwrap().exists());
    assert!(!copy.exists());
    // Deleting a missing key is not an error.
    store.delete("models/m/1").unwrap();
}

#[test]
fn a_missing_key_or_bucket_and_bad_keys_are_clear() {
    let Some(moto) = Moto::start("s3_missing", "autotab-missing") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = moto.store("p", &tmp.path().join("cache"));
    let local = store.locate("models/none/1").unwrap();
    assert!(!local.exists(), "{local:?}");
    assert!(local.starts_with(tmp.path().join("cache")), "{local:?}");
    for key in ["", "../x", "a//b", ".staging-1", "a/_COMMITTED"] {
        let err = store.locate(key).unwrap_err().to_string();
        assert!(
            err.contains("artifact key") && err.contains("s3://autotab-missing/p"),
            "{key}: {err}"
        );
    }
    // A folder holding a file named like the marker is refused, naming it.
    let source = folder(tmp.path(), "marker", &[("_COMMITTED", "x")]);
    let err = store.put(&source, "models/m/1").unwrap_err().to_string();
    assert!(err.contains("_COMMITTED"), "{err}");
    assert!(moto.keys("p/").is_empty(), "{:?}", moto.keys("p/"));

    // A bucket that does not exist fails at open, naming the bucket and the location.
    let location = S3Location::parse("s3://no-such-bucket/x").unwrap();
    let options: Vec<(String, String)> = moto
        .options()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let options: Vec<(&str, &str)> = options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let err = S3Artifacts::open_with(&location, tmp.path(), &options, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3://no-such-bucket/x") && err.contains("cannot list the bucket"),
        "{err}"
    );
}

#[test]
fn run_outputs_written_locally_are_synced_for_other_machines() {
    let Some(moto) = Moto::start("s3_sync", "autotab-sync") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let writer = moto.store("ws", &tmp.path().join("cache-writer"));
    // Nothing written yet: syncing is nothing to do.
    writer.sync("runs/r1").unwrap();
    assert!(moto.keys("ws/").is_empty());
    let dir = writer.locate("runs/r1").unwrap();
    fs::create_dir_all(dir.join("model")).unwrap();
    fs::write(dir.join("model/bundle.json"), "{}").unwrap();
    fs::write(dir.join("report.html"), "<html>").unwrap();
    // Written but not synced: other machines do not see it, and the writer keeps its files.
    let reader = moto.store("ws", &tmp.path().join("cache-reader"));
    assert!(!reader.locate("runs/r1").unwrap().exists());
    assert_eq!(writer.locate("runs/r1").unwrap(), dir);
    assert!(dir.join("report.html").is_file());

    writer.sync("runs/r1").unwrap();
    let expected = owned(&[("model/bundle.json", "{}"), ("report.html", "<html>")]);
    assert_eq!(contents(&reader.locate("runs/r1").unwrap()), expected);
    // The writer's folder is the current copy: kept as it is.
    assert_eq!(writer.locate("runs/r1").unwrap(), dir);
    assert_eq!(contents(&dir), expected);
}

/// The end-to-end test: a run recorded in PostgreSQL with its artifacts on S3, scored and
/// reported by other processes with caches of their own.
#[cfg(feature = "postgres")]
#[test]
fn a_run_with_artifacts_on_s3_is_scored_from_another_process() {
    let Some(moto) = Moto::start("s3_end_to_end", "autotab-e2e") else {
        return;
    };
    let Some(ws) = common::postgres::PgWorkspace::new("s3_end_to_end") else {
        return;
    };
    let url = ws.url();
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = "s3://autotab-e2e/shared/ws";
    // The binary with the workspace and the S3 settings in flags and environment, and a
    // cache folder of its own (another machine).
    let autotab = |cache: &str| {
        let mut cmd = common::autotab_in(Path::new("unused-folder"));
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("AUTOTAB_WORKSPACE")
            .env_remove("AUTOTAB_ARTIFACTS")
            .env("AUTOTAB_ARTIFACTS_CACHE", tmp.path().join(cache))
            .args(["--workspace", &url, "--artifacts", artifacts]);
        for (key, value) in moto.options() {
            cmd.env(key, value);
        }
        cmd
    };
    let stdout = common::succeed(autotab("cache-run").args([
        "run",
        "--data",
        "datasets/heart_failure.csv",
        "--label",
        "DEATH_EVENT",
        "--max-trials",
        "2",
        // Two trials end the search; the budget only matters on a loaded machine.
        "--timeout",
        "30",
        "--experiment",
        "s3-heart",
        "--register",
        "hf-s3",
        "--json",
        "--quiet",
    ]));
    let summary = common::json_summary(&stdout);
    assert_eq!(summary["registered_model"], "hf-s3:1", "{summary}");
    let run_id = summary["run_id"].as_str().unwrap().to_string();
    // The run's outputs and the registered bundle are in the bucket, each with its marker.
    let keys = moto.keys("shared/ws/");
    for expected in [
        format!("shared/ws/runs/{run_id}/_COMMITTED"),
        format!("shared/ws/runs/{run_id}/model/bundle.json"),
        format!("shared/ws/runs/{run_id}/report.html"),
        format!("shared/ws/runs/{run_id}/report_data.json"),
        "shared/ws/models/hf-s3/1/_COMMITTED".to_string(),
        "shared/ws/models/hf-s3/1/bundle.json".to_string(),
    ] {
        assert!(keys.contains(&expected), "{expected} not in {keys:?}");
    }
    assert!(
        !keys.iter().any(|k| k.contains(".staging-")),
        "a staged copy was left: {keys:?}"
    );

    // Another process, with an empty cache, scores with the registered model.
    let predictions = common::succeed(autotab("cache-predict").args([
        "predict",
        "--model",
        "hf-s3",
        "--data",
        "datasets/heart_failure.csv",
    ]));
    assert_eq!(predictions.lines().count(), 300, "header and 299 rows");
    assert!(tmp
        .path()
        .join("cache-predict/models/hf-s3/1/bundle.json")
        .is_file());

    // And another rebuilds the report from the run's outputs read back from the bucket.
    let report = tmp.path().join("report.html");
    common::succeed(
        autotab("cache-report")
            .args(["report", &run_id, "--output"])
            .arg(&report),
    );
    let html = fs::read_to_string(&report).unwrap();
    assert!(html.contains(&run_id), "the report names its run");

    // The model is listed without downloading anything.
    let listed = common::succeed(autotab("cache-list").args(["models", "list", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], "hf-s3");
    assert!(!tmp.path().join("cache-list/models").exists());
}

#[test]
fn a_bad_s3_artifacts_url_is_a_clear_error_before_any_connection() {
    // No server needed: the location is refused before the database or the bucket is asked.
    let url = "postgres://autotab:s3cret@127.0.0.1:1/autotab";
    for (artifacts, expected) in [
        ("s3://Bad_Bucket/x", "not a valid bucket name"),
        ("s3://bucket/a//b", "prefix 'a//b' is invalid"),
        ("gs://bucket/x", "'gs://' URLs are not supported"),
    ] {
        let out = common::autotab_in(Path::new(url))
            .args(["runs", "list", "--artifacts", artifacts])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{artifacts}");
        assert!(
            stderr.contains(artifacts) && stderr.contains(expected),
            "{artifacts}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
}
