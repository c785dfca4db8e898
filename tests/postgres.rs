//! End-to-end tests of a PostgreSQL workspace through the real binary against a real server:
//! concurrent registrations from two processes, a run recorded from one process and read from
//! others, and two runs recorded at once.
//!
//! They need `AUTOTAB_TEST_POSTGRES` (a URL of a database the tests may create schemas in;
//! `.ci/postgres.sh` starts a throwaway server and sets it). Without it they print a skip line
//! and pass, unless `AUTOTAB_REQUIRE_POSTGRES=1`, which makes a missing URL or an unreachable
//! server a failure. Each test works in a fresh schema of its own (the URL's `search_path`),
//! dropped at the end, and never depends on which model the search picks.
#![cfg(feature = "postgres")]

mod common;

use std::path::{Path, PathBuf};

use common::postgres::{succeeded, PgWorkspace};
use common::{json_summary, TempWorkspace};

/// A small run of the heart-failure table: two trials, recorded in experiment `experiment`.
fn run_args(experiment: &str) -> Vec<String> {
    [
        "run",
        "--data",
        "datasets/heart_failure.csv",
        "--label",
        "DEATH_EVENT",
        "--max-trials",
        "2",
        "--timeout",
        "120",
        "--experiment",
        experiment,
        "--json",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn two_registrations_at_once_get_versions_1_and_2() {
    let Some(pg) = PgWorkspace::new("two_registrations_at_once") else {
        return;
    };
    // Two copies at two places: the same location and bytes would be one version.
    let paths: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = pg.files.path().join(format!("heart-{i}.csv"));
            std::fs::copy("datasets/heart_failure.csv", &p).unwrap();
            p
        })
        .collect();
    let children: Vec<_> = paths
        .iter()
        .map(|p| {
            pg.autotab()
                .args([
                    "data",
                    "register",
                    "--name",
                    "heart-failure-records",
                    "--json",
                ])
                .arg("--path")
                .arg(p)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut versions: Vec<u64> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = succeeded(&["data", "register"], &out);
            let record: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(record["created"], true, "{record}");
            record["version"].as_u64().unwrap()
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2]);

    let listed = pg.json(&["data", "list", "--json"]);
    assert_eq!(listed[0]["name"], "heart-failure-records");
    assert_eq!(listed[0]["version"], 2);
    let shown = pg.json(&["data", "show", "heart-failure-records:1", "--json"]);
    assert_eq!(shown["rows"], 299);
}

#[test]
fn a_run_recorded_in_postgres_is_read_by_other_processes() {
    let Some(pg) = PgWorkspace::new("run_read_by_others") else {
        return;
    };
    let mut args = run_args("pg-heart");
    args.extend(["--register", "hf-pg"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = pg.json(&args);
    let run_id = summary["run_id"].as_str().unwrap().to_string();
    assert_eq!(summary["registered_model"], "hf-pg:1");
    // The bundle went to the shared artifacts folder, not to a local workspace folder.
    let model_path = PathBuf::from(summary["model_path"].as_str().unwrap());
    assert!(model_path.starts_with(pg.artifacts()), "{model_path:?}");
    assert!(model_path.is_dir(), "{model_path:?}");

    // The flags work as the environment does.
    let out = common::autotab_in(Path::new("unused-folder"))
        .env_remove("AUTOTAB_WORKSPACE")
        .env_remove("AUTOTAB_ARTIFACTS")
        .args([
            "runs",
            "list",
            "--json",
            "--workspace",
            &pg.url(),
            "--artifacts",
        ])
        .arg(pg.artifacts())
        .output()
        .unwrap();
    let from_flags: serde_json::Value =
        serde_json::from_str(&succeeded(&["runs", "list"], &out)).unwrap();
    let runs = pg.json(&["runs", "list", "--json"]);
    assert_eq!(from_flags, runs);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["experiment"], "pg-heart");
    assert!(runs[0]["trials"].as_u64().unwrap() >= 2, "{runs:?}");

    let detail = pg.json(&["runs", "show", &run_id, "--json"]);
    assert_eq!(detail["summary"]["status"], "completed");
    assert_eq!(
        detail["fingerprint"]["sha256"].as_str().unwrap().len(),
        64,
        "{detail}"
    );
    let trials = detail["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            !["VotingEnsemble", "StackEnsemble"].contains(&c["algorithm"].as_str().unwrap_or(""))
        })
        .count();
    assert_eq!(trials, 2, "{detail}");
    let text = pg.text(&["runs", "show", &run_id]);
    assert!(text.contains(&run_id), "{text}");

    let models = pg.json(&["models", "list", "--json"]);
    assert_eq!(models[0]["name"], "hf-pg");
    assert_eq!(models[0]["version"], 1);
    assert_eq!(models[0]["run_id"], run_id.as_str());

    // Another process scores with the registered model, found through the database.
    let predictions = pg.text(&[
        "predict",
        "--model",
        "hf-pg",
        "--data",
        "datasets/heart_failure.csv",
    ]);
    assert_eq!(predictions.lines().count(), 300, "header and 299 rows");
}

#[test]
fn two_runs_recorded_at_once_both_land_complete() {
    let Some(pg) = PgWorkspace::new("two_runs_at_once") else {
        return;
    };
    let children: Vec<_> = (0..2)
        .map(|_| {
            pg.autotab()
                .args(run_args("concurrent"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let summary = json_summary(&succeeded(&["run"], &out));
            summary["run_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_ne!(ids[0], ids[1]);

    let runs = pg.json(&["runs", "list", "--experiment", "concurrent", "--json"]);
    let runs = runs.as_array().unwrap();
    let mut listed: Vec<String> = runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, ids);
    for r in runs {
        assert_eq!(r["status"], "completed", "{r}");
        assert!(r["trials"].as_u64().unwrap() >= 2, "{r}");
    }
    let experiments = pg.text(&["runs", "list"]);
    assert!(experiments.contains("concurrent"), "{experiments}");
}

#[test]
fn a_postgres_workspace_needs_an_artifacts_folder_and_a_reachable_server() {
    // No server needed: these fail before any connection, or on a port nobody listens on.
    let ws = TempWorkspace::new();
    let url = "postgres://autotab:s3cret@127.0.0.1:1/autotab";
    let out = common::autotab_in(Path::new(url))
        .env_remove("AUTOTAB_ARTIFACTS")
        .args(["runs", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        stderr.contains("needs a folder for its artifacts") && stderr.contains("--artifacts"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postgres://autotab:***@127.0.0.1:1/autotab"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");

    let out = common::autotab_in(Path::new(url))
        .env("AUTOTAB_ARTIFACTS", ws.path())
        .args(["runs", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("postgres://autotab:***@127.0.0.1:1/autotab")
            && stderr.contains("cannot connect"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
