//! Bad input: every case exits non-zero with one clear line, never a panic or a backtrace.

mod common;

use common::{autotab, TempWorkspace};

/// Runs `autotab` with `args`; asserts failure, a one-line `error:` message containing every
/// `needles` string, and no panic text. Returns the message.
fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let ws = TempWorkspace::new();
    let out = autotab(&ws).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert_ne!(
        out.status.code(),
        Some(101),
        "exit code 101 is a panic: {stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line for {args:?}: {stderr}"));
    for n in needles {
        assert!(line.contains(n), "'{n}' not in: {line}");
    }
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    line.to_string()
}

fn run_args<'a>(data: &'a str, label: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--data", data, "--label", label, "--max-trials", "2"];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "20"]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn file_not_found() {
    fails_with(
        &run_args("datasets/nope.csv", "y", &[]),
        &["datasets/nope.csv"],
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.csv");
    std::fs::write(&path, "").unwrap();
    let p = path.to_str().unwrap();
    fails_with(&run_args(p, "y", &[]), &["empty.csv", "empty"]);
}

#[test]
fn header_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("header.csv");
    std::fs::write(&path, "a,b,y\n").unwrap();
    fails_with(&run_args(path.to_str().unwrap(), "y", &[]), &["header.csv"]);
}

#[test]
fn unreadable_binary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.parquet");
    std::fs::write(&path, [0u8, 159, 146, 150, 1, 2, 3]).unwrap();
    fails_with(
        &run_args(path.to_str().unwrap(), "y", &[]),
        &["garbage.parquet"],
    );
}

#[test]
fn label_column_missing_lists_the_columns() {
    fails_with(
        &run_args("datasets/heart_failure.csv", "DEATH", &[]),
        &["'DEATH'", "not found", "DEATH_EVENT", "ejection_fraction"],
    );
}

#[test]
fn label_with_one_class() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.csv");
    std::fs::write(&path, "x,y\n1,a\n2,a\n3,a\n4,a\n").unwrap();
    fails_with(
        &run_args(path.to_str().unwrap(), "y", &["--task", "classification"]),
        &["single class"],
    );
}

#[test]
fn regression_on_a_text_label() {
    fails_with(
        &run_args(
            "datasets/penguins.csv",
            "species",
            &["--task", "regression"],
        ),
        &["numeric label", "species"],
    );
}

#[test]
fn unknown_metric_lists_the_valid_ones() {
    fails_with(
        &run_args(
            "datasets/heart_failure.csv",
            "DEATH_EVENT",
            &["--metric", "auc"],
        ),
        &["'auc'", "AUC_weighted", "r2_score"],
    );
}

#[test]
fn metric_that_does_not_fit_the_task() {
    fails_with(
        &run_args(
            "datasets/heart_failure.csv",
            "DEATH_EVENT",
            &["--metric", "r2_score"],
        ),
        &["r2_score"],
    );
}

#[test]
fn unknown_algorithm() {
    fails_with(
        &run_args(
            "datasets/heart_failure.csv",
            "DEATH_EVENT",
            &["--allowed-algorithms", "DeepForest"],
        ),
        &["'DeepForest'", "LogisticRegression"],
    );
}

#[test]
fn budget_too_small_to_train_anything() {
    fails_with(
        &run_args(
            "datasets/heart_failure.csv",
            "DEATH_EVENT",
            &["--timeout", "0.001"],
        ),
        &["budget"],
    );
}

#[test]
fn bad_duration() {
    fails_with(
        &run_args(
            "datasets/heart_failure.csv",
            "DEATH_EVENT",
            &["--timeout", "soon"],
        ),
        &["'soon'"],
    );
}

#[test]
fn predict_with_a_missing_model() {
    fails_with(
        &[
            "predict",
            "--model",
            "no/such/model",
            "--data",
            "datasets/wine.csv",
        ],
        &["no/such/model"],
    );
}
