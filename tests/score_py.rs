//! The generated `score.py` run with python3: same predictions as `autotab predict`.

mod common;

use std::process::Command;

use common::scoring::{autotab, model_dir, scratch, TUTORIAL_REQUEST};
use common::succeed;
use serde_json::Value;

/// Runs python3 (needed by these tests) with `args` and autotab's binary as `AUTOTAB_BIN`,
/// asserts it succeeded and parses what it printed as JSON.
fn python_json<T: serde::de::DeserializeOwned>(args: &[&str]) -> T {
    let stdout = succeed(
        Command::new("python3")
            .args(args)
            .env("AUTOTAB_BIN", env!("CARGO_BIN_EXE_autotab"))
            .env_remove("AUTOTAB_MODEL_DIR"),
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("python3 did not print JSON ({e}): {stdout}"))
}

/// `autotab predict` on the tutorial record written as a CSV: (label, probability of "1").
fn predict_cli() -> (String, f64) {
    let request: Value = serde_json::from_str(TUTORIAL_REQUEST).unwrap();
    let record = request["data"][0].as_object().unwrap();
    let csv = scratch().join("tutorial.csv");
    let header: Vec<&str> = record.keys().map(String::as_str).collect();
    let row: Vec<&str> = record.values().map(|v| v.as_str().unwrap()).collect();
    std::fs::write(&csv, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
    let stdout = succeed(
        autotab()
            .arg("predict")
            .arg("--model")
            .arg(model_dir())
            .arg("--data")
            .arg(&csv),
    );
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let values: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| values[header.iter().position(|h| *h == name).unwrap()];
    (at("prediction").to_string(), at("proba_1").parse().unwrap())
}

#[test]
fn score_py_main_scores_the_sample() {
    let script = model_dir().join("score.py");
    let answer: Value = python_json(&[script.to_str().unwrap()]);
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(model_dir().join("sample_input.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        answer["result"].as_array().map(Vec::len),
        sample["data"].as_array().map(Vec::len),
        "{answer}"
    );
}

#[test]
fn init_run_matches_autotab_predict() {
    let snippet = format!(
        r#"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("score", {script:?})
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)
score.init()
request = {request:?}
answers = [
    score.run(request),
    score.run(request, method="predict_proba"),
    score.run("not json"),
    score.run('{{"data": []}}'),
    score.run('{{"data": [{{"age": "60"}}]}}'),
    score.run(request.encode("utf-8")),
]
print(json.dumps(answers))
"#,
        script = model_dir().join("score.py").to_str().unwrap(),
        request = TUTORIAL_REQUEST,
    );
    let answers: Vec<Value> = python_json(&["-c", &snippet]);
    let (label, proba_1) = predict_cli();

    let predicted = &answers[0]["result"][0];
    assert_eq!(
        predicted.to_string(),
        label,
        "score.py {predicted} vs autotab predict {label}"
    );
    let p1 = answers[1]["result"][0]["1"].as_f64().unwrap();
    assert!(
        (p1 - proba_1).abs() < 1e-6,
        "score.py p(1) = {p1}, autotab predict {proba_1}"
    );
    assert!(
        answers[2]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{}",
        answers[2]
    );
    assert!(
        answers[3]["error"].as_str().unwrap().contains("empty list"),
        "{}",
        answers[3]
    );
    assert!(
        answers[4]["error"]
            .as_str()
            .unwrap()
            .contains("record 0: missing field"),
        "{}",
        answers[4]
    );
    assert_eq!(answers[5], answers[0]);
}

#[test]
fn bundle_has_a_model_card() {
    let card = std::fs::read_to_string(model_dir().join("MODEL.md")).unwrap();
    for section in [
        "# Model card: DEATH_EVENT",
        "## Hyperparameters",
        "## Featurization",
        "## Classes",
        "## Input schema",
        "## Data guardrails",
        "`ejection_fraction`",
    ] {
        assert!(card.contains(section), "MODEL.md lacks {section}:\n{card}");
    }
}

#[test]
fn deeply_nested_json_is_an_error_answer_not_a_recursion_error() {
    let snippet = format!(
        r#"
import importlib.util, json
spec = importlib.util.spec_from_file_location("score", {script:?})
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)
score.init()
deep = "[" * 100000 + "]" * 100000
nested = {{}}
inner = nested
for _ in range(100000):
    inner["x"] = {{}}
    inner = inner["x"]
answers = [
    score.run('{{"data": ' + deep + '}}'),
    score.run(nested),
    score.run('{{"data": [' + '{{"a":' * 500 + '1' + '}}' * 500 + ']}}'),
    score.run({request:?}),
]
print(json.dumps(answers))
"#,
        script = model_dir().join("score.py").to_str().unwrap(),
        request = TUTORIAL_REQUEST,
    );
    let answers: Vec<Value> = python_json(&["-c", &snippet]);
    for answer in &answers[..2] {
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("nested too deeply"),
            "{answer}"
        );
    }
    // Within Python's depth but beyond the worker's: the worker answers the error.
    assert!(answers[2]["error"].is_string(), "{}", answers[2]);
    assert!(answers[3]["result"].is_array(), "{}", answers[3]);
}
