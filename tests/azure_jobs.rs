//! End-to-end tests of Azure ML AutoML job files (copies of Azure's own examples in
//! `tests/fixtures/azure/`, their data in MLTable folders) run through the real binary, and of
//! the job-file errors a user sees.

mod common;

use common::{autotab, json_summary, read_csv, succeed, TempWorkspace};

const FIXTURES: &str = "tests/fixtures/azure";

fn fixture(job: &str, file: &str) -> String {
    format!("{FIXTURES}/{job}/{file}")
}

#[test]
fn bank_marketing_job_runs_as_azure_wrote_it_and_scores_its_test_data() {
    let ws = TempWorkspace::new();
    let job = fixture(
        "cli-automl-classification-task-bankmarketing",
        "cli-automl-classification-task-bankmarketing.yml",
    );
    // The file asks for 180 minutes: the flag wins.
    let stdout = succeed(autotab(&ws).args([
        "run",
        "--config",
        &job,
        "--timeout",
        "20s",
        "--max-concurrent-trials",
        "2",
        "--json",
    ]));
    for note in [
        "note: compute: ignored, runs on this machine",
        "note: log_verbosity: ignored",
        "note: limits.exit_score: 0.92",
        "note: featurization.blocked_transformers: WordEmbedding is not used by autotab",
        "note: training.enable_model_explainability: permutation importance of the refit model",
        // Computed, or stopped by its share of the budget on a busy machine: either is said.
        ".. explanations: ",
        "note: training.allowed_training_algorithms: gradient_boosting runs as autotab's LightGBM",
    ] {
        assert!(stdout.contains(note), "{note} missing:\n{stdout}");
    }
    assert!(stdout.contains("budget 20s"), "{stdout}");
    assert!(
        stdout.contains("given validation data (2000 rows)"),
        "{stdout}"
    );
    assert!(stdout.contains("test accuracy: "), "{stdout}");
    let summary = json_summary(&stdout);
    assert_eq!(
        summary["experiment"],
        "dpv2-cli-automl-classifier-experiment"
    );
    assert_eq!(summary["task"], "classification");
    assert_eq!(summary["metric"], "accuracy");
    let test = &summary["test_metrics"];
    for metric in ["accuracy", "AUC_weighted", "f1_score_weighted"] {
        let v = test[metric]
            .as_f64()
            .unwrap_or_else(|| panic!("{metric} in {test}"));
        assert!((0.0..=1.0).contains(&v), "{metric} = {v}");
    }
    // The test metrics are in the run record, and only the allowed algorithms were searched.
    let run_id = summary["run_id"].as_str().unwrap().to_string();
    let shown = succeed(autotab(&ws).args(["runs", "show", &run_id]));
    assert!(shown.contains("test_accuracy"), "{shown}");
    for other in ["RandomForest", "ExtremeRandomTrees", "KNN", "DecisionTree"] {
        assert!(!shown.contains(other), "{other} was searched:\n{shown}");
    }
}

#[test]
fn hardware_performance_regression_job_runs_and_predicts_from_an_mltable_folder() {
    let ws = TempWorkspace::new();
    let job_dir = "cli-automl-distributed-regression-task-hardware-performance";
    let job = fixture(job_dir, "cli-distributed-regression.yaml");
    let stdout =
        succeed(autotab(&ws).args(["run", "--config", &job, "--timeout", "15s", "--json"]));
    for note in [
        "note: training.training_mode: ignored, runs on this machine",
        "note: limits.max_nodes: ignored, runs on this machine",
        "note: featurization.blocked_transformers: LabelEncoder is not used by autotab",
    ] {
        assert!(stdout.contains(note), "{note} missing:\n{stdout}");
    }
    // column_name_and_types: sex (1/2) is categorical; the file's 5-trial cap holds.
    let sex = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sex "))
        .unwrap_or_else(|| panic!("no schema line for sex:\n{stdout}"));
    assert!(sex.contains("categorical"), "{sex}");
    let summary = json_summary(&stdout);
    assert_eq!(summary["task"], "regression");
    assert_eq!(summary["metric"], "r2_score");
    assert!(summary["trials"].as_u64().unwrap() <= 5, "{summary}");
    let model = summary["model_path"].as_str().unwrap().to_string();
    let card = std::fs::read_to_string(std::path::Path::new(&model).join("MODEL.md")).unwrap();
    assert!(card.contains("bmi: most_frequent"), "{card}");

    let preds = ws.path().join("preds.csv");
    let table = fixture(job_dir, "data/training-mltable-folder");
    succeed(
        autotab(&ws)
            .args(["predict", "--model", &model, "--data", &table, "--output"])
            .arg(&preds),
    );
    let (header, rows) = read_csv(&preds);
    assert!(header.contains(&"prediction".to_string()), "{header:?}");
    assert_eq!(rows.len(), 442);
}

#[test]
fn orange_juice_forecasting_job_runs_with_its_forecasting_keys() {
    let ws = TempWorkspace::new();
    let job = fixture(
        "cli-automl-forecasting-orange-juice-sales",
        "cli-automl-forecasting-orange-juice-sales.yml",
    );
    let out = autotab(&ws)
        .args([
            "run",
            "--config",
            &job,
            "--timeout",
            "20s",
            "--max-trials",
            "6",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Every key was read and acknowledged, and the forecasting keys reached the run.
    assert!(
        stdout.contains("note: limits.max_cores_per_trial: ignored"),
        "{stdout}"
    );
    assert!(stdout.contains("frequency W-THU given"), "{stdout}");
    assert!(stdout.contains("9 series by Store, Brand"), "{stdout}");
    assert!(stdout.contains("horizon 20"), "{stdout}");
    assert!(stdout.contains("#0    SeasonalNaive"), "{stdout}");
    // test_data: the weeks after the training history, forecast and scored.
    assert!(
        stdout.contains("test normalized_root_mean_squared_error: "),
        "{stdout}"
    );
}

fn write_job(ws: &TempWorkspace, extra: &str) -> std::path::PathBuf {
    let path = ws.path().join("job.yml");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/heart_failure.csv");
    std::fs::write(
        &path,
        format!(
            "training_data: {}\ntarget_column_name: DEATH_EVENT\n{extra}",
            data.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn job_file_errors_name_the_key_path() {
    let ws = TempWorkspace::new();
    for (extra, expected) in [
        (
            "limits:\n  timout_minutes: 5\n",
            "limits.timout_minutes: unknown key; did you mean timeout_minutes?",
        ),
        ("limits: 5\n", "limits: invalid type: integer `5`"),
        (
            "featurization: {mode: 5}\n",
            "featurization.mode: unknown value '5'",
        ),
        (
            "training:\n  allowed_training_algorithms: [RandomForrest]\n",
            "did you mean RandomForest?",
        ),
    ] {
        let job = write_job(&ws, extra);
        let out = autotab(&ws)
            .args(["run", "--config"])
            .arg(&job)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra}");
        assert!(stderr.contains(expected), "{extra}: {stderr}");
        assert!(stderr.contains("job.yml"), "{stderr}");
    }
}

#[test]
fn register_name_is_checked_before_training() {
    let ws = TempWorkspace::new();
    let out = autotab(&ws)
        .args([
            "run",
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
        ])
        .args(["--timeout", "30s", "--register", "no good/name"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("model name 'no good/name' is invalid"),
        "{stderr}"
    );
    assert!(!stdout.contains("run:"), "it trained first:\n{stdout}");
}

#[test]
fn test_data_flag_scores_the_final_model() {
    let ws = TempWorkspace::new();
    let stdout = succeed(
        autotab(&ws)
            .args(["run", "--data", "datasets/wine.csv", "--label", "target"])
            .args([
                "--test-data",
                "datasets/wine.csv",
                "--timeout",
                "10s",
                "--max-trials",
                "3",
                "--json",
            ]),
    );
    let summary = json_summary(&stdout);
    let auc = summary["test_metrics"]["AUC_weighted"]
        .as_f64()
        .unwrap_or_else(|| panic!("{summary}"));
    assert!((0.0..=1.0).contains(&auc), "{auc}");
    assert!(stdout.contains("test AUC_weighted: "), "{stdout}");
}
