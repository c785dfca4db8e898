//! End-to-end tests of `autotab run` and `autotab predict` on the shipped datasets.

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
    let best = summary["best_score"].as_f64().unwrap();
    assert!(best > 0.85, "best AUC_weighted {best}");
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
    let out = autotab(&ws)
        .args([
            "predict",
            "--model",
            &model,
            "--data",
            "datasets/heart_failure.csv",
            "--output",
        ])
        .arg(&preds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (header, rows) = read_csv(&preds);
    assert_eq!(header, vec!["prediction", "proba_0", "proba_1"]);
    assert_eq!(rows.len(), 299);
    let truth = read_csv(std::path::Path::new("datasets/heart_failure.csv")).1;
    let correct = rows
        .iter()
        .zip(&truth)
        .filter(|(p, t)| p[0] == t[12])
        .count();
    assert!(
        correct as f64 / 299.0 > 0.8,
        "training-set accuracy {correct}/299"
    );
    for r in &rows {
        let p0: f64 = r[1].parse().unwrap();
        let p1: f64 = r[2].parse().unwrap();
        assert!((p0 + p1 - 1.0).abs() < 1e-4, "{r:?}");
        assert_eq!(r[0], if p1 > p0 { "1" } else { "0" }, "{r:?}");
    }
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
            .args(["--timeout", "60", "--max-trials", "10", "--json", "--quiet"]),
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
            .args([
                "--metric",
                "r2_score",
                "--timeout",
                "60",
                "--max-trials",
                "12",
                "--json",
                "--quiet",
            ]),
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
            .args(["--timeout", "60", "--max-trials", "8", "--json"]),
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
    let out = autotab(&ws)
        .args([
            "predict",
            "--model",
            &model,
            "--data",
            "datasets/penguins.csv",
            "--output",
        ])
        .arg(&preds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
    let alg = summary["best_algorithm"].as_str().unwrap();
    assert!(
        ["LogisticRegression", "DecisionTree"].contains(&alg),
        "{alg}"
    );
}

#[test]
fn damaged_and_newer_bundles_are_refused_with_a_clear_message() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let out = autotab(&ws)
        .args(["run", "--data", "datasets/wine.csv", "--label", "target"])
        .args([
            "--timeout",
            "30",
            "--max-trials",
            "3",
            "--quiet",
            "--output",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
        stderr.contains("model.bin is damaged or truncated"),
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

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
