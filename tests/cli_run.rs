//! End-to-end tests of `autotab run` and `autotab predict` on the shipped datasets.
//!
//! A test never depends on which model the search picks: where model quality is asserted, the
//! algorithm, the seed and the concurrency are fixed (`--allowed-algorithms`, `--seed`,
//! `--max-concurrent-trials 1`), so the same trials run on any machine; elsewhere only the
//! structure of the output is checked.

mod common;

use std::time::Instant;

use common::{autotab, json_summary, read_csv, succeed, TempWorkspace};

#[test]
fn heart_failure_run_then_predict() {
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                "datasets/heart_failure.csv",
                "--label",
                "DEATH_EVENT",
            ])
            .args([
                "--metric",
                "AUC_weighted",
                "--timeout",
                "60s",
                "--max-trials",
                "14",
            ])
            .args([
                "--max-concurrent-trials",
                "2",
                "--experiment",
                "heart-failure",
                "--json",
            ]),
    );
    assert!(stdout.contains("data guardrails:"), "{stdout}");
    assert!(stdout.contains("10-fold cross-validation"), "{stdout}");
    assert!(stdout.contains("leaderboard"), "{stdout}");
    let summary = json_summary(&stdout);
    assert_eq!(summary["task"], "classification");
    assert_eq!(summary["metric"], "AUC_weighted");
    assert_eq!(summary["experiment"], "heart-failure");
    assert_eq!(summary["trials"], 14);
    // Which model wins is up to the search: only the shape of the result is checked here
    // (model quality: `heart_failure_logistic_regression_quality`).
    let best = summary["best_score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&best), "best AUC_weighted {best}");
    let model = summary["model_path"].as_str().unwrap().to_string();
    for file in [
        "model.bin",
        "bundle.json",
        "schema.json",
        "sample_input.json",
    ] {
        assert!(
            std::path::Path::new(&model).join(file).exists(),
            "{file} missing in {model}"
        );
    }

    let preds = ws.path().join("preds.csv");
    succeed(
        autotab(&ws)
            .args([
                "predict",
                "--model",
                &model,
                "--data",
                "datasets/heart_failure.csv",
                "--output",
            ])
            .arg(&preds),
    );
    let (header, rows) = read_csv(&preds);
    assert_eq!(header, vec!["prediction", "proba_0", "proba_1"]);
    assert_eq!(rows.len(), 299);
    for r in &rows {
        let p0: f64 = r[1].parse().unwrap();
        let p1: f64 = r[2].parse().unwrap();
        assert!((p0 + p1 - 1.0).abs() < 1e-4, "{r:?}");
        assert_eq!(r[0], if p1 > p0 { "1" } else { "0" }, "{r:?}");
    }
}

/// Flags that make a run's trials the same on every machine: one algorithm, a fixed seed, one
/// trial at a time and a trial cap far inside the time budget.
fn deterministic(algorithm: &'static str, trials: &'static str) -> [&'static str; 10] {
    [
        "--allowed-algorithms",
        algorithm,
        "--seed",
        "7",
        "--max-concurrent-trials",
        "1",
        "--max-trials",
        trials,
        "--timeout",
        "120",
    ]
}

#[test]
fn heart_failure_logistic_regression_quality() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                "datasets/heart_failure.csv",
                "--label",
                "DEATH_EVENT",
                "--metric",
                "AUC_weighted",
            ])
            .args(deterministic("LogisticRegression", "3"))
            .args(["--json", "--quiet", "--output"])
            .arg(&model),
    );
    let summary = json_summary(&stdout);
    let best = summary["best_score"].as_f64().unwrap();
    assert!(best > 0.8, "cross-validated AUC_weighted {best}");
    let preds = ws.path().join("preds.csv");
    succeed(
        autotab(&ws)
            .args(["predict", "--data", "datasets/heart_failure.csv", "--model"])
            .arg(&model)
            .arg("--output")
            .arg(&preds),
    );
    let rows = read_csv(&preds).1;
    let truth = read_csv(std::path::Path::new("datasets/heart_failure.csv")).1;
    let correct = rows
        .iter()
        .zip(&truth)
        .filter(|(p, t)| p[0] == t[12])
        .count();
    assert!(
        correct as f64 / 299.0 > 0.75,
        "training-set accuracy {correct}/299"
    );
}

#[test]
fn wine_multiclass_accuracy() {
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                "datasets/wine.csv",
                "--label",
                "target",
                "--metric",
                "accuracy",
            ])
            .args(deterministic("LogisticRegression", "3"))
            .args(["--json", "--quiet"]),
    );
    let best = json_summary(&stdout)["best_score"].as_f64().unwrap();
    assert!(best >= 0.95, "wine accuracy {best}");
}

#[test]
fn diabetes_regression_r2() {
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                "datasets/diabetes_regression.csv",
                "--label",
                "target",
            ])
            .args(["--metric", "r2_score", "--json", "--quiet"])
            .args(deterministic("ElasticNet", "4")),
    );
    let summary = json_summary(&stdout);
    assert_eq!(summary["task"], "regression");
    let best = summary["best_score"].as_f64().unwrap();
    assert!(best >= 0.42, "diabetes r2 {best}");
}

#[test]
fn penguins_with_string_categoricals_and_missing_values() {
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args([
                "run",
                "--data",
                "datasets/penguins.csv",
                "--label",
                "species",
            ])
            .args(deterministic("LogisticRegression", "3"))
            .arg("--json"),
    );
    assert!(stdout.contains("categorical"), "{stdout}");
    let summary = json_summary(&stdout);
    assert_eq!(
        summary["metric"], "AUC_weighted",
        "classification defaults to AUC_weighted"
    );
    assert!(summary["best_score"].as_f64().unwrap() > 0.95);
    let model = summary["model_path"].as_str().unwrap().to_string();
    let preds = ws.path().join("p.csv");
    succeed(
        autotab(&ws)
            .args([
                "predict",
                "--model",
                &model,
                "--data",
                "datasets/penguins.csv",
                "--output",
            ])
            .arg(&preds),
    );
    let (header, rows) = read_csv(&preds);
    assert_eq!(
        header,
        vec![
            "prediction",
            "proba_Adelie",
            "proba_Chinstrap",
            "proba_Gentoo"
        ]
    );
    assert_eq!(rows.len(), 344);
    assert!(rows
        .iter()
        .all(|r| ["Adelie", "Chinstrap", "Gentoo"].contains(&r[0].as_str())));
}

#[test]
fn the_time_budget_holds_without_a_trial_cap() {
    let ws = TempWorkspace::new();
    let started = Instant::now();
    let out = autotab(&ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args([
            "--timeout",
            "6s",
            "--no-early-stopping",
            "--json",
            "--quiet",
        ])
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wall < 6.0 + 4.0,
        "a 6 s budget took {wall:.1} s of wall time"
    );
    assert!(json_summary(&stdout)["trials"].as_u64().unwrap() >= 3);
}

#[test]
fn a_yaml_job_file_with_azure_keys() {
    let ws = TempWorkspace::new();
    let job = ws.path().join("job.yaml");
    let data = std::fs::canonicalize("datasets/heart_failure.csv").unwrap();
    std::fs::write(
        &job,
        format!(
            "experiment_name: hf-yaml\ntask: classification\nprimary_metric: accuracy\n\
             target_column_name: DEATH_EVENT\ntraining_data:\n  path: {}\nn_cross_validations: 3\n\
             limits:\n  timeout_minutes: 1\n  max_trials: 5\n  max_concurrent_trials: 2\n\
             training:\n  allowed_training_algorithms: [LogisticRegression, DecisionTree]\nseed: 3\n",
            data.display()
        ),
    )
    .unwrap();
    let stdout = succeed(
        autotab(&ws)
            .args(["run", "--config"])
            .arg(&job)
            .arg("--json"),
    );
    assert!(stdout.contains("3-fold cross-validation"), "{stdout}");
    let summary = json_summary(&stdout);
    assert_eq!(summary["experiment"], "hf-yaml");
    assert_eq!(summary["metric"], "accuracy");
    assert_eq!(summary["trials"], 5);
    // The allowed algorithms, or an ensemble of them (a test never depends on which wins).
    let alg = summary["best_algorithm"].as_str().unwrap();
    assert!(
        [
            "LogisticRegression",
            "DecisionTree",
            "VotingEnsemble",
            "StackEnsemble"
        ]
        .contains(&alg),
        "{alg}"
    );
}

#[test]
fn damaged_and_newer_bundles_are_refused_with_a_clear_message() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    succeed(
        autotab(&ws)
            .args(["run", "--data", "datasets/wine.csv", "--label", "target"])
            .args([
                "--timeout",
                "30",
                "--max-trials",
                "3",
                "--quiet",
                "--output",
            ])
            .arg(&model),
    );
    let predict = |dir: &std::path::Path| {
        let out = autotab(&ws)
            .args(["predict", "--data", "datasets/wine.csv", "--model"])
            .arg(dir)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(predict(&model).0);

    // A truncated model file.
    let damaged = ws.path().join("damaged");
    copy_dir(&model, &damaged);
    let bytes = std::fs::read(damaged.join("model.bin")).unwrap();
    std::fs::write(damaged.join("model.bin"), &bytes[..bytes.len() / 2]).unwrap();
    let (ok, stderr) = predict(&damaged);
    assert!(!ok);
    assert!(
        stderr.contains("model.bin does not match its checksum in bundle.json"),
        "{stderr}"
    );

    // A bundle of the format before checksums.
    let older = ws.path().join("older");
    copy_dir(&model, &older);
    let info = std::fs::read_to_string(older.join("bundle.json")).unwrap();
    let mut info: serde_json::Value = serde_json::from_str(&info).unwrap();
    info["format_version"] = serde_json::json!(1);
    info.as_object_mut().unwrap().remove("checksums");
    std::fs::write(older.join("bundle.json"), info.to_string()).unwrap();
    let (ok, stderr) = predict(&older);
    assert!(!ok);
    assert!(
        stderr.contains("bundle format 1") && stderr.contains("train the model again"),
        "{stderr}"
    );

    // A bundle written by a newer format.
    let newer = ws.path().join("newer");
    copy_dir(&model, &newer);
    let info = std::fs::read_to_string(newer.join("bundle.json")).unwrap();
    let mut info: serde_json::Value = serde_json::from_str(&info).unwrap();
    info["format_version"] = serde_json::json!(99);
    std::fs::write(newer.join("bundle.json"), info.to_string()).unwrap();
    let (ok, stderr) = predict(&newer);
    assert!(!ok);
    assert!(
        stderr.contains("bundle format 99") && stderr.contains("upgrade autotab"),
        "{stderr}"
    );
}

/// Runs `autotab predict` on wine with the bundle `dir`, killing it after 60 s: the exit
/// code (`None` if it had to be killed), stdout and stderr.
fn predict_with_deadline(dir: &std::path::Path) -> (Option<i32>, String, String) {
    use std::io::Read;
    let ws = TempWorkspace::new();
    let mut child = autotab(&ws)
        .args(["predict", "--data", "datasets/wine.csv", "--model"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    (code, reader.join().unwrap(), stderr)
}

#[test]
fn one_byte_changes_to_a_bundle_never_give_other_predictions() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    succeed(
        autotab(&ws)
            .args(["run", "--data", "datasets/wine.csv", "--label", "target"])
            .args(deterministic("LightGBM", "2"))
            .args(["--quiet", "--output"])
            .arg(&model),
    );
    let (code, reference, stderr) = predict_with_deadline(&model);
    assert_eq!(code, Some(0), "{stderr}");
    let mut tried = 0;
    for (file, positions) in [("model.bin", 60usize), ("bundle.json", 60)] {
        let original = std::fs::read(model.join(file)).unwrap();
        for k in 0..positions {
            // Spread over the file, the first and last bytes included.
            let at = k * (original.len() - 1) / (positions - 1);
            let mut bytes = original.clone();
            bytes[at] ^= 1 << (k % 8);
            let damaged = ws.path().join(format!("damaged-{file}-{k}"));
            copy_dir(&model, &damaged);
            std::fs::write(damaged.join(file), &bytes).unwrap();
            let (code, stdout, stderr) = predict_with_deadline(&damaged);
            tried += 1;
            match code {
                None => panic!("{file} byte {at}: predict still running after 60 s"),
                Some(0) => assert_eq!(
                    stdout, reference,
                    "{file} byte {at}: exit 0 with different predictions"
                ),
                Some(2) => assert!(
                    stderr.starts_with("error: model bundle") && stderr.lines().count() == 1,
                    "{file} byte {at}: {stderr}"
                ),
                Some(other) => panic!("{file} byte {at}: exit {other}: {stderr}"),
            }
            std::fs::remove_dir_all(&damaged).unwrap();
        }
    }
    assert_eq!(tried, 120);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Reads `bundle.json` of a model folder.
fn bundle_info(model: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(model.join("bundle.json")).unwrap()).unwrap()
}

/// Under k-fold cross-validation the run ships the folds' models by default (no refit), and
/// with `--final-model refit` one model refit on all rows; both predict through one bundle
/// format, and the bagged model's predictions average its folds' (they differ from the
/// refit's).
#[test]
fn bagged_fold_models_or_a_refit_are_shipped_and_recorded() {
    let ws = TempWorkspace::new();
    let mut predictions = Vec::new();
    for (choice, expected) in [
        ("auto", serde_json::json!({"folds": {"models": 10}})),
        ("refit", serde_json::json!("refit")),
    ] {
        let model = ws.path().join(format!("model-{choice}"));
        let stdout = succeed(
            autotab(&ws)
                .args([
                    "run",
                    "--data",
                    "datasets/heart_failure.csv",
                    "--label",
                    "DEATH_EVENT",
                    "--final-model",
                    choice,
                ])
                .args(deterministic("RandomForest", "2"))
                .arg("--output")
                .arg(&model),
        );
        assert!(stdout.contains("10-fold cross-validation"), "{stdout}");
        let info = bundle_info(&model);
        assert_eq!(info["final_fit"], expected, "{choice}: {info}");
        let card = std::fs::read_to_string(model.join("MODEL.md")).unwrap();
        assert!(card.contains("| Trained as |"), "{card}");
        if choice == "auto" {
            assert!(stdout.contains("10 fold models averaged"), "{stdout}");
        } else {
            assert!(stdout.contains("refit on 299 rows"), "{stdout}");
        }
        let preds = ws.path().join(format!("preds-{choice}.csv"));
        succeed(
            autotab(&ws)
                .args(["predict", "--data", "datasets/heart_failure.csv", "--model"])
                .arg(&model)
                .arg("--output")
                .arg(&preds),
        );
        let rows = read_csv(&preds).1;
        assert_eq!(rows.len(), 299);
        predictions.push(rows);
    }
    assert_ne!(
        predictions[0], predictions[1],
        "the bagged and the refit models predicted the same probabilities"
    );
}

/// `--final-model` rejects an unknown choice with the valid ones.
#[test]
fn an_unknown_final_model_is_refused() {
    let ws = TempWorkspace::new();
    let out = autotab(&ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
            "--final-model",
            "best",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("auto, bagged, refit"), "{stderr}");
}
