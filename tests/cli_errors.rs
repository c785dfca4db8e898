//! Bad input: every case exits non-zero with one clear line, never a panic or a backtrace.

mod common;

use common::{autotab, succeed, TempWorkspace};

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

#[test]
fn timeouts_too_large_for_the_clock_are_refused() {
    // Each of these panicked in Duration::from_secs_f64 (a silent exit 101).
    for flags in [
        ["--timeout", "1e30"],
        ["--timeout", "99999999999999999h"],
        ["--trial-timeout", "1e30"],
    ] {
        let line = fails_with(
            &run_args("datasets/heart_failure.csv", "DEATH_EVENT", &flags),
            &["timeout too large", "30 days"],
        );
        assert!(line.contains(flags[1]), "{line}");
    }
}

#[test]
fn a_panic_is_one_internal_error_line_with_its_place_and_exit_code_70() {
    let ws = TempWorkspace::new();
    let out = autotab(&ws)
        .args(["runs", "list"])
        .env("AUTOTAB_TEST_PANIC", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: internal error: AUTOTAB_TEST_PANIC is set at src/main.rs:"),
        "{stderr}"
    );

    let out = autotab(&ws)
        .args(["runs", "list"])
        .env("AUTOTAB_TEST_PANIC", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(stderr.starts_with("error: internal error: "), "{stderr}");
    assert!(stderr.contains("backtrace:"), "{stderr}");
}

#[test]
fn non_finite_regression_labels_are_refused_before_the_search() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inf.csv");
    let mut text = String::from("x,z,y\n");
    for i in 0..40 {
        let y = match i {
            3 | 17 => "inf".to_string(),
            25 => "nan".to_string(),
            _ => format!("{}.5", i * 3),
        };
        text.push_str(&format!("{i},{},{y}\n", i % 7));
    }
    std::fs::write(&path, text).unwrap();
    fails_with(
        &run_args(path.to_str().unwrap(), "y", &["--task", "regression"]),
        &["label column 'y'", "3 non-finite values", "row 4"],
    );
}

#[test]
fn nul_bytes_are_refused_not_read_as_categories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nul.csv");
    let mut bytes = b"a,b,y\n1,x,0\n2,y,1\n3,z,0\n".to_vec();
    bytes.extend_from_slice(b"4,\x00\x00,1\n");
    std::fs::write(&path, bytes).unwrap();
    fails_with(
        &run_args(path.to_str().unwrap(), "y", &[]),
        &["nul.csv", "line 5", "NUL byte"],
    );
}

#[test]
fn a_row_with_too_many_fields_is_named_by_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ragged.csv");
    std::fs::write(&path, "a,b,y\n1,2,0\n3,4,1\n5,6,0,7\n8,9,1\n").unwrap();
    let line = fails_with(
        &run_args(path.to_str().unwrap(), "y", &[]),
        &["ragged.csv", "row 3", "has 4 fields, the header has 3"],
    );
    assert!(!line.contains("truncate_ragged_lines"), "{line}");
}

#[test]
fn rows_with_too_few_fields_are_counted_in_the_run_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.csv");
    let original = std::fs::read_to_string("datasets/heart_failure.csv").unwrap();
    let mut text = String::new();
    for (i, line) in original.lines().enumerate() {
        // Rows 10, 20 and 30 lose their last field (the label, so they are also dropped).
        if i > 0 && i % 10 == 0 && i <= 30 {
            text.push_str(line.rsplit_once(',').unwrap().0);
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                path.to_str().unwrap(),
                "--label",
                "DEATH_EVENT",
            ])
            .args([
                "--allowed-algorithms",
                "LogisticRegression",
                "--max-trials",
                "1",
            ])
            .args(["--timeout", "30"]),
    );
    assert!(
        stdout.contains("3 rows had fewer fields than the header (rows 10, 20, 30)"),
        "{stdout}"
    );
    assert!(stdout.contains("dropped 3 rows whose label"), "{stdout}");
}

#[test]
fn an_empty_auth_key_is_refused() {
    for args in [
        vec!["serve", "--model", "no-such-model", "--auth-key", ""],
        vec!["serve", "--model", "no-such-model", "--auth-key", "   "],
    ] {
        fails_with(&args, &["auth key is empty"]);
    }
}

#[test]
fn a_huge_max_concurrent_trials_is_capped_with_a_warning() {
    // Used to start threads at about 100/s until killed (and 1000 spent 9 s of a 5 s budget
    // before launching anything).
    let ws = TempWorkspace::new();
    let started = std::time::Instant::now();
    let stdout = succeed(autotab(&ws).args(run_args(
        "datasets/heart_failure.csv",
        "DEATH_EVENT",
        &["--max-concurrent-trials", "100000", "--timeout", "10"],
    )));
    assert!(
        stdout.contains("max_concurrent_trials 100000 capped at"),
        "{stdout}"
    );
    // Generous: the budget is 10 s; unbounded thread start-up took minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn the_budget_holds_while_featurizing_a_very_wide_table() {
    // 10,000 columns x 20 rows took 19 s of featurization on a 10 s budget before a trial ran.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.csv");
    let mut text = (0..10_000)
        .map(|j| format!("c{j}"))
        .chain(std::iter::once("y".to_string()))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for i in 0..20 {
        let row: Vec<String> = (0..10_000)
            .map(|j| ((i * 7 + j * 13) % 97).to_string())
            .chain(std::iter::once((i % 2).to_string()))
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let started = std::time::Instant::now();
    let line = fails_with(
        &run_args(path.to_str().unwrap(), "y", &["--timeout", "1"]),
        &["time budget"],
    );
    assert!(
        line.contains("featurizing") || line.contains("no trial completed"),
        "{line}"
    );
    // Generous: the budget is 1 s; before, featurization alone ran 19 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_and_successfully() {
    // `autotab data list | head -0`: the reader is gone before the first line is written.
    let ws = TempWorkspace::new();
    succeed(autotab(&ws).args([
        "data",
        "register",
        "--name",
        "heart",
        "--path",
        "datasets/heart_failure.csv",
    ]));
    for args in [&["data", "list"][..], &["data", "show", "heart"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = autotab(&ws)
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
