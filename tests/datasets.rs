//! End-to-end tests of registered datasets through the real binary: register, list, show, a
//! run on a registered dataset, and the refusals (changed bytes, unknown names).

mod common;

use std::process::Output;

use common::{autotab, json_summary, succeed, TempWorkspace};
use sha2::Digest;

fn json(ws: &TempWorkspace, args: &[&str]) -> serde_json::Value {
    let stdout = succeed(autotab(ws).args(args));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} did not print JSON: {e}"))
}

/// Runs `args`, asserts it failed with one `error:` line on stderr, returns that line.
fn fail(ws: &TempWorkspace, args: &[&str]) -> String {
    let out: Output = autotab(ws).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "{args:?} succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_string()
}

const RUN: [&str; 11] = [
    "run",
    "--label",
    "DEATH_EVENT",
    "--max-trials",
    "2",
    "--timeout",
    "60",
    "--experiment",
    "datasets",
    "--json",
    "--quiet",
];

#[test]
fn a_registered_dataset_is_listed_shown_run_and_refused_once_changed() {
    let ws = TempWorkspace::new();
    let csv = ws.path().join("heart.csv");
    std::fs::copy("datasets/heart_failure.csv", &csv).unwrap();
    let csv_text = csv.to_str().unwrap();
    let register = [
        "data",
        "register",
        "--name",
        "heart-failure-records",
        "--path",
        csv_text,
        "--description",
        "UCI heart failure",
        "--tag",
        "source=uci",
        "--json",
    ];

    let v1 = json(&ws, &register);
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["created"], true);
    assert_eq!(v1["format"], "csv");
    assert_eq!(
        (v1["rows"].as_u64(), v1["columns"].as_u64()),
        (Some(299), Some(13))
    );
    assert_eq!(v1["tags"]["source"], "uci");
    let location = std::fs::canonicalize(&csv).unwrap();
    assert_eq!(v1["location"], location.to_str().unwrap());
    let registered_sha = v1["sha256"].as_str().unwrap().to_string();
    let bytes = std::fs::read(&csv).unwrap();
    assert_eq!(registered_sha, hex::encode(sha2::Sha256::digest(&bytes)));
    let columns: Vec<&str> = v1["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        columns.contains(&"DEATH_EVENT") && columns.contains(&"age"),
        "{columns:?}"
    );

    // The same bytes again: the existing version.
    let again = json(&ws, &register);
    assert_eq!(
        (again["version"].as_u64(), again["created"].as_bool()),
        (Some(1), Some(false))
    );

    let list = json(&ws, &["data", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "heart-failure-records");
    let text = succeed(autotab(&ws).args(["data", "show", "heart-failure-records:1"]));
    for needle in [
        "heart-failure-records:1",
        "DEATH_EVENT",
        &registered_sha,
        "source=uci",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let shown = json(&ws, &["data", "show", "heart-failure-records", "--json"]);
    assert_eq!(shown["sha256"], registered_sha.as_str());
    let err = fail(&ws, &["data", "show", "heart-failure-records:2"]);
    assert!(
        err.contains("no version 2") && err.contains("versions: 1"),
        "{err}"
    );

    // A run on the registered dataset records which version it used.
    let mut args = RUN.to_vec();
    args.extend(["--data", "heart-failure-records"]);
    let summary = json_summary(&succeed(autotab(&ws).args(&args)));
    let run_id = summary["run_id"].as_str().unwrap();
    let detail = json(&ws, &["runs", "show", run_id, "--json"]);
    let params = &detail["params"];
    assert_eq!(params["dataset"], "heart-failure-records:1", "{detail}");
    assert_eq!(detail["fingerprint"]["sha256"], registered_sha.as_str());
    let text = succeed(autotab(&ws).args(["runs", "show", run_id]));
    assert!(text.contains("heart-failure-records:1"), "{text}");

    // A job file names a registered dataset as Azure does.
    let job = ws.path().join("job.yml");
    std::fs::write(
        &job,
        "training_data: azureml:heart-failure-records:1\ntarget_column_name: DEATH_EVENT\n\
         limits: {max_trials: 2, timeout_minutes: 1}\n",
    )
    .unwrap();
    let job_text = job.to_str().unwrap();
    let summary = json_summary(&succeed(
        autotab(&ws).args(["run", "--config", job_text, "--json", "--quiet"]),
    ));
    let detail = json(
        &ws,
        &[
            "runs",
            "show",
            summary["run_id"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        detail["params"]["dataset"], "heart-failure-records:1",
        "{detail}"
    );

    // Changed bytes are refused, naming the dataset, version, file and both fingerprints.
    let mut changed = bytes.clone();
    changed.extend_from_slice(b"75,0,582,0,20,1,265000,1.9,130,1,0,4,1\n");
    std::fs::write(&csv, &changed).unwrap();
    let now_sha = hex::encode(sha2::Sha256::digest(&changed));
    let err = fail(&ws, &args);
    for needle in [
        "heart-failure-records",
        "version 1",
        location.to_str().unwrap(),
        &registered_sha,
        &now_sha,
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
    // Registering the new bytes makes version 2; version 1 is still refused.
    let v2 = json(&ws, &register);
    assert_eq!(
        (v2["version"].as_u64(), v2["created"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(v2["rows"], 300);
    let mut old = RUN.to_vec();
    old.extend(["--data", "heart-failure-records:1"]);
    let err = fail(&ws, &old);
    assert!(err.contains("no longer match"), "{err}");
}

#[test]
fn unknown_datasets_and_files_get_one_clear_error() {
    let ws = TempWorkspace::new();
    let mut args = RUN.to_vec();
    args.extend(["--data", "heart-failure-records"]);
    // No workspace yet.
    let err = fail(&ws, &args);
    assert!(
        err.contains("no such file or folder") && err.contains("no registered dataset"),
        "{err}"
    );
    assert!(
        !ws.workspace().exists(),
        "a failed resolution creates no workspace"
    );

    succeed(autotab(&ws).args([
        "data",
        "register",
        "--name",
        "heart-failure-records",
        "--path",
        "datasets/heart_failure.csv",
    ]));
    let mut args = RUN.to_vec();
    args.extend(["--data", "heart-failure-recs"]);
    let err = fail(&ws, &args);
    assert!(
        err.contains("'heart-failure-recs': no such file or folder")
            && err.contains("no registered dataset named 'heart-failure-recs'")
            && err.contains("did you mean 'heart-failure-records'"),
        "{err}"
    );
    let mut args = RUN.to_vec();
    args.extend(["--data", "datasets/missing.csv"]);
    let err = fail(&ws, &args);
    assert!(
        err.contains("datasets/missing.csv") && err.contains("no such file"),
        "{err}"
    );

    let err = fail(
        &ws,
        &[
            "data",
            "register",
            "--name",
            "x",
            "--path",
            "datasets/missing.csv",
        ],
    );
    assert!(
        err.contains("datasets/missing.csv") && err.contains("does not exist"),
        "{err}"
    );
    let err = fail(
        &ws,
        &[
            "data",
            "register",
            "--name",
            "bad/name",
            "--path",
            "datasets/heart_failure.csv",
        ],
    );
    assert!(err.contains("dataset name 'bad/name' is invalid"), "{err}");
    let err = fail(&ws, &["data", "show", "nope"]);
    assert!(
        err.contains("no registered dataset named 'nope'") && err.contains("heart-failure-records"),
        "{err}"
    );
}
