//! End-to-end tests of `autotab serve`: a real server process on a loopback port.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::scoring::{Server, TUTORIAL_REQUEST};
use common::succeed;
use serde_json::{json, Value};

#[test]
fn answers_the_azure_tutorial_request() {
    let server = Server::start(&[]);
    let (status, body) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
    assert_eq!(status, 200, "{body}");
    let result = body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result in {body}"));
    assert_eq!(result.len(), 1);
    assert!(result[0] == json!(0) || result[0] == json!(1), "{body}");
    assert!(body.get("probabilities").is_none());

    let mut with_proba: Value = serde_json::from_str(TUTORIAL_REQUEST).unwrap();
    with_proba["return_proba"] = json!(true);
    let (status, body) = server.post(
        "/score",
        "application/json; charset=utf-8",
        &with_proba.to_string(),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let p = &body["probabilities"][0];
    let total = p["0"].as_f64().unwrap() + p["1"].as_f64().unwrap();
    assert!((total - 1.0).abs() < 1e-9, "{body}");
    let predicted = if p["1"].as_f64().unwrap() > p["0"].as_f64().unwrap() {
        1
    } else {
        0
    };
    assert_eq!(body["result"][0], json!(predicted));
}

#[test]
fn scores_batches_with_numbers_and_extra_fields() {
    let server = Server::start(&[]);
    let sample =
        std::fs::read_to_string(common::scoring::model_dir().join("sample_input.json")).unwrap();
    let mut request: Value = serde_json::from_str(&sample).unwrap();
    let records = request["data"].as_array_mut().unwrap();
    let n = records.len();
    assert!(n >= 1);
    records[0]["not_a_column"] = json!({"nested": true});
    records[0]["age"] = json!(61.5);
    let (status, body) = server.post("/score", "application/json", &request.to_string(), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), n);

    let mut proba = request.clone();
    proba["method"] = json!("predict_proba");
    let (status, body) = server.post("/score", "application/json", &proba.to_string(), None);
    assert_eq!(status, 200, "{body}");
    assert!(body["result"][0]["1"].as_f64().is_some(), "{body}");
}

#[test]
fn bad_requests_get_4xx_json_and_the_server_keeps_serving() {
    let server = Server::start(&[]);
    let cases: [(&str, &str, u16, &str); 7] = [
        ("application/json", "{\"data\": [", 400, "not valid JSON"),
        ("application/json", "{\"data\": []}", 400, "empty list"),
        (
            "application/json",
            "{\"rows\": [{}]}",
            400,
            "no field 'data'",
        ),
        (
            "application/json",
            "{\"data\": [{\"age\": \"60\"}]}",
            400,
            "record 0: missing field",
        ),
        (
            "text/plain",
            TUTORIAL_REQUEST,
            415,
            "Content-Type: application/json",
        ),
        (
            "application/x-www-form-urlencoded",
            TUTORIAL_REQUEST,
            415,
            "content type",
        ),
        (
            "application/json",
            &TUTORIAL_REQUEST.replace("\"60\"", "\"sixty\""),
            400,
            "record 0: field 'age'",
        ),
    ];
    for (content_type, body, expected, message) in cases {
        let (status, answer) = server.post("/score", content_type, body, None);
        assert_eq!(status, expected, "{body} -> {answer}");
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {answer}"));
        assert!(
            error.contains(message),
            "{error:?} should contain {message:?}"
        );
    }
    let (status, answer) = server.get("/nowhere", None);
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = server.get("/score", None);
    assert_eq!(status, 405, "{answer}");

    // A body announced larger than 16 MB is refused before it is read.
    let head = format!(
        "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        17 * 1024 * 1024
    );
    let (status, body) = server.raw(head.as_bytes());
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"error\""), "{body}");

    let (status, body) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
    assert_eq!(status, 200, "still serving after errors: {body}");
}

#[test]
fn a_key_protects_score_and_swagger_but_not_health() {
    let server = Server::start(&["--auth-key", "s3cret"]);
    let (status, body) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));
    let (status, _) = server.post(
        "/score",
        "application/json",
        TUTORIAL_REQUEST,
        Some("wrong"),
    );
    assert_eq!(status, 401);
    let (status, body) = server.post(
        "/score",
        "application/json",
        TUTORIAL_REQUEST,
        Some("s3cret"),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.get("/swagger.json", None);
    assert_eq!(status, 401);
    let (status, _) = server.get("/swagger.json", Some("s3cret"));
    assert_eq!(status, 200);
    let (status, body) = server.get("/health", None);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
}

#[test]
fn the_key_can_come_from_the_environment() {
    let server = Server::start_with_env(&[], &[("AUTOTAB_AUTH_KEY", "from-env")]);
    let (status, _) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
    assert_eq!(status, 401);
    let (status, _) = server.post(
        "/score",
        "application/json",
        TUTORIAL_REQUEST,
        Some("from-env"),
    );
    assert_eq!(status, 200);
}

#[test]
fn swagger_describes_the_input_columns() {
    let server = Server::start(&[]);
    let (status, doc) = server.get("/swagger.json", None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let record = &doc["components"]["schemas"]["InputRecord"];
    let properties = record["properties"].as_object().unwrap();
    let tutorial: Value = serde_json::from_str(TUTORIAL_REQUEST).unwrap();
    for field in tutorial["data"][0].as_object().unwrap().keys() {
        assert!(
            properties.contains_key(field),
            "swagger lacks {field}: {record}"
        );
    }
    let age_types = properties["age"]["type"].as_array().unwrap();
    assert!(
        age_types.contains(&json!("number")),
        "{}",
        properties["age"]
    );
    assert!(record["example"].is_object(), "no example: {record}");
    assert!(doc["paths"]["/score"]["post"]["requestBody"].is_object());
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start(&[]);
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}

#[test]
fn an_unknown_model_is_a_clear_error() {
    let out = common::scoring::autotab()
        .args(["serve", "--model", "no-such-model", "--port", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model 'no-such-model' not found"), "{err}");
}

#[test]
fn serves_a_registered_model_by_name_and_version() {
    let ws = common::scoring::scratch().join("registry-ws");
    succeed(
        common::scoring::autotab()
            .env("AUTOTAB_WORKSPACE", &ws)
            .args([
                "run",
                "--data",
                "datasets/heart_failure.csv",
                "--label",
                "DEATH_EVENT",
            ])
            .args([
                "--timeout",
                "30",
                "--max-trials",
                "3",
                "--quiet",
                "--register",
                "hf-serve",
            ]),
    );
    let ws_text = ws.to_str().unwrap();
    for reference in ["hf-serve", "hf-serve:1"] {
        let server =
            Server::start_model(reference.as_ref(), &[], &[("AUTOTAB_WORKSPACE", ws_text)]);
        let (status, body) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
        assert_eq!(status, 200, "{reference}: {body}");
    }
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let server = Server::start(&["--auth-key", "s3cret"]);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let request = format!(
            "POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Authorization: {scheme} s3cret\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            TUTORIAL_REQUEST.len(),
            TUTORIAL_REQUEST
        );
        let (status, body) = server.raw(request.as_bytes());
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let (status, _) = server.raw(
        b"GET /swagger.json HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic s3cret\r\n\
          Connection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
}

/// Opens a connection and sends half of a request's headers, then nothing.
fn half_sent_request(port: u16) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .unwrap();
    stream.flush().unwrap();
    stream
}

#[test]
fn a_client_that_sends_half_its_headers_is_disconnected() {
    use std::io::Read;
    let server = Server::start(&[]);
    let mut stream = half_sent_request(server.port);
    stream
        .set_read_timeout(Some(Duration::from_secs(25)))
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    // The server closes the connection (EOF, possibly after a 408) instead of waiting forever.
    let closed = stream.read_to_end(&mut rest).is_ok();
    assert!(
        closed && start.elapsed() < Duration::from_secs(20),
        "still connected after {:?}",
        start.elapsed()
    );
    let (status, body) = server.post("/score", "application/json", TUTORIAL_REQUEST, None);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn sigterm_is_not_held_open_by_a_half_sent_request() {
    let mut server = Server::start(&[]);
    let _stalled: Vec<_> = (0..3).map(|_| half_sent_request(server.port)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The bound: 10 s of grace (or the 10 s header timeout), plus slack for a busy machine.
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM with a half-sent request open"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}

#[test]
fn explain_true_returns_each_rows_top_contributions() {
    let dir = common::scoring::scratch().join("tree-model");
    common::scoring::train_bundle(
        &dir,
        &[
            "--allowed-algorithms",
            "LightGBM",
            "--max-trials",
            "1",
            "--seed",
            "7",
            "--final-model",
            "refit",
            "--timeout",
            "60",
        ],
    );
    let server = Server::start_model(dir.as_os_str(), &[], &[]);
    let mut request: Value = serde_json::from_str(TUTORIAL_REQUEST).unwrap();
    request["explain"] = json!(true);
    request["return_proba"] = json!(true);
    let (status, body) = server.post("/score", "application/json", &request.to_string(), None);
    assert_eq!(status, 200, "{body}");
    let row = &body["explanations"][0];
    assert_eq!(row["output"], json!("1"), "{body}");
    assert_eq!(row["scale"], json!("log-odds"), "{body}");
    let top = row["top"].as_array().unwrap();
    assert_eq!(top.len(), 5, "{body}");
    let sizes: Vec<f64> = top
        .iter()
        .map(|t| t["contribution"].as_f64().unwrap().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{body}");
    let raw = row["raw_score"].as_f64().unwrap();
    let p1 = body["probabilities"][0]["1"].as_f64().unwrap();
    assert!((1.0 / (1.0 + (-raw).exp()) - p1).abs() < 1e-9, "{body}");

    request["explain"] = json!("yes");
    let (status, body) = server.post("/score", "application/json", &request.to_string(), None);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("'explain'"),
        "{body}"
    );
}
