//! `autotab explain`: TreeSHAP contributions add up to the model's own raw score on every row
//! of three datasets (binary boosting, regression forest, multiclass extra trees over one-hot
//! columns), and permutation importance finds heart_failure's known risk factors.
//!
//! Every run is one trial of one algorithm with a fixed seed, so no ensemble is built and the
//! model does not depend on the machine.

mod common;

use std::path::Path;

use common::{autotab, read_csv, succeed, TempWorkspace};

/// Trains a one-trial model of `algorithm` on `data` into `model`.
/// One trial of `algorithm`, refit on all rows (one model: its raw score gives the prediction).
fn train(ws: &TempWorkspace, data: &str, label: &str, algorithm: &str, model: &Path) {
    train_as(ws, data, label, algorithm, model, "refit");
}

fn train_as(
    ws: &TempWorkspace,
    data: &str,
    label: &str,
    algorithm: &str,
    model: &Path,
    final_model: &str,
) {
    succeed(
        autotab(ws)
            .args(["run", "--data", data, "--label", label])
            .args(["--allowed-algorithms", algorithm, "--seed", "7"])
            .args(["--max-concurrent-trials", "1", "--max-trials", "1"])
            .args(["--final-model", final_model])
            .args(["--timeout", "120", "--quiet", "--output"])
            .arg(model),
    );
}

/// Contributions header and numbers, predictions header and rows.
type Explained = (Vec<String>, Vec<Vec<f64>>, Vec<String>, Vec<Vec<String>>);

/// The contributions of every row of `data`, checked to add up to the raw score; returns the
/// header and rows of the contributions and of the predictions. `explained` is the output
/// every row explains (binary: the positive class), or `None` for the row's prediction.
fn explain_and_predict(
    ws: &TempWorkspace,
    data: &str,
    model: &Path,
    explained: Option<&str>,
) -> Explained {
    let contrib = ws.path().join("contrib.csv");
    succeed(
        autotab(ws)
            .args(["explain", "--data", data, "--model"])
            .arg(model)
            .arg("--output")
            .arg(&contrib),
    );
    let preds = ws.path().join("preds.csv");
    succeed(
        autotab(ws)
            .args(["predict", "--data", data, "--model"])
            .arg(model)
            .arg("--output")
            .arg(&preds),
    );
    let (header, rows) = read_csv(&contrib);
    let n = header.len();
    assert_eq!(
        &header[n - 3..],
        ["base_value", "raw_score", "explained_output"]
    );
    let mut numbers = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let v: Vec<f64> = row[..n - 1].iter().map(|x| x.parse().unwrap()).collect();
        let total: f64 = v[..n - 2].iter().sum();
        assert!(
            (total - v[n - 2]).abs() < 1e-6,
            "row {i}: contributions + base = {total}, raw score {}",
            v[n - 2]
        );
        numbers.push(v);
    }
    let (pheader, prows) = read_csv(&preds);
    assert_eq!(prows.len(), rows.len());
    for (row, p) in rows.iter().zip(&prows) {
        assert_eq!(
            row[n - 1],
            explained.unwrap_or(&p[0]),
            "the explained output"
        );
    }
    (header, numbers, pheader, prows)
}

#[test]
fn heart_failure_boosting_contributions_sum_to_the_log_odds() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/heart_failure.csv";
    train(&ws, data, "DEATH_EVENT", "LightGBM", &model);
    let (header, rows, pheader, prows) = explain_and_predict(&ws, data, &model, Some("1"));
    assert_eq!(
        header.len(),
        12 + 3,
        "one column per input column: {header:?}"
    );
    assert_eq!(pheader, ["prediction", "proba_0", "proba_1"]);
    let n = header.len();
    for (i, (row, p)) in rows.iter().zip(&prows).enumerate() {
        let p1: f64 = p[2].parse().unwrap();
        let from_raw = 1.0 / (1.0 + (-row[n - 2]).exp());
        assert!((from_raw - p1).abs() < 2e-6, "row {i}: {from_raw} vs {p1}");
    }
}

/// A bagged pipeline (10 fold models averaged) is explained as the mean of its folds'
/// explanations: the contributions still add up to the (mean) raw score on every row, and a
/// forest's raw score, a probability, averages like the pipeline's prediction.
#[test]
fn bagged_forest_contributions_sum_to_the_mean_prediction() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/heart_failure.csv";
    train_as(&ws, data, "DEATH_EVENT", "RandomForest", &model, "bagged");
    let info = std::fs::read_to_string(model.join("bundle.json")).unwrap();
    assert!(info.contains("\"folds\""), "{info}");
    let (header, rows, _, prows) = explain_and_predict(&ws, data, &model, Some("1"));
    let n = header.len();
    for (i, (row, p)) in rows.iter().zip(&prows).enumerate() {
        let p1: f64 = p[2].parse().unwrap();
        assert!(
            (row[n - 2] - p1).abs() < 1e-6,
            "row {i}: {} vs {p1}",
            row[n - 2]
        );
    }
}

#[test]
fn diabetes_forest_contributions_sum_to_the_prediction() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/diabetes_regression.csv";
    train(&ws, data, "target", "RandomForest", &model);
    let (header, rows, _, prows) = explain_and_predict(&ws, data, &model, Some("target"));
    assert_eq!(header.len(), 10 + 3);
    let n = header.len();
    for (i, (row, p)) in rows.iter().zip(&prows).enumerate() {
        let value: f64 = p[0].parse().unwrap();
        assert!(
            (row[n - 2] - value).abs() <= 1e-6 * value.abs().max(1.0),
            "row {i}: raw score {} vs prediction {value}",
            row[n - 2]
        );
    }
}

#[test]
fn penguins_extra_trees_contributions_are_per_raw_column() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/penguins.csv";
    train(&ws, data, "species", "ExtraTrees", &model);
    let (header, rows, pheader, prows) = explain_and_predict(&ws, data, &model, None);
    // island and sex are one-hot encoded; their parts are summed back to the raw column.
    assert!(header.contains(&"island".to_string()), "{header:?}");
    assert!(header.contains(&"sex".to_string()), "{header:?}");
    assert!(!header
        .iter()
        .any(|h| h.starts_with("island_") || h.contains('=')));
    let n = header.len();
    for (i, (row, p)) in rows.iter().zip(&prows).enumerate() {
        let class = &p[0];
        let col = pheader
            .iter()
            .position(|h| *h == format!("proba_{class}"))
            .unwrap();
        let proba: f64 = p[col].parse().unwrap();
        assert!(
            (row[n - 2] - proba).abs() < 2e-6,
            "row {i}: raw score {} vs probability {proba}",
            row[n - 2]
        );
    }
}

#[test]
fn heart_failure_importance_ranks_time_and_a_clinical_marker_in_the_top_three() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/heart_failure.csv";
    train(&ws, data, "DEATH_EVENT", "RandomForest", &model);
    let importance = ws.path().join("importance.csv");
    succeed(
        autotab(&ws)
            .args(["explain", "--data", data, "--seed", "3", "--model"])
            .arg(&model)
            .arg("--importance")
            .arg(&importance)
            .arg("--output")
            .arg(ws.path().join("contrib.csv")),
    );
    let (header, rows) = read_csv(&importance);
    assert_eq!(header, ["column", "importance", "std"]);
    assert_eq!(rows.len(), 12, "every raw column: {rows:?}");
    let top: Vec<&str> = rows.iter().take(3).map(|r| r[0].as_str()).collect();
    assert!(top.contains(&"time"), "top three: {top:?}");
    assert!(
        top.contains(&"ejection_fraction") || top.contains(&"serum_creatinine"),
        "top three: {top:?}"
    );

    // The run stored the same kind of ranking (training rows, its own seed) in the bundle
    // and the model card.
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("bundle.json")).unwrap()).unwrap();
    let stored = info["explanations"]["importances"].as_array().unwrap();
    assert_eq!(stored.len(), 12);
    let stored_top: Vec<&str> = stored
        .iter()
        .take(3)
        .map(|i| i["column"].as_str().unwrap())
        .collect();
    assert!(stored_top.contains(&"time"), "{stored_top:?}");
    assert!(info["explanations"]["budget_share"].as_f64().unwrap() >= 0.0);
    let card = std::fs::read_to_string(model.join("MODEL.md")).unwrap();
    assert!(card.contains("## Feature importance"), "{card}");
}

#[test]
fn explaining_a_model_without_trees_is_a_clear_error() {
    let ws = TempWorkspace::new();
    let model = ws.path().join("model");
    let data = "datasets/heart_failure.csv";
    train(&ws, data, "DEATH_EVENT", "LogisticRegression", &model);
    let out = autotab(&ws)
        .args(["explain", "--data", data, "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TreeSHAP explains") && stderr.contains("linear model"),
        "{stderr}"
    );
}
