//! Fuzz tests of the decoders that read outside input: the CSV loader, the scoring request
//! decoder and the model bundle decoder. Each input must give a clear error or a correct
//! result, never a panic or a hang: every decode runs on its own thread with a deadline.
//!
//! Inputs that once failed are kept under `tests/corpus/` and replayed by
//! `the_corpus_of_inputs_that_once_failed_still_decodes_cleanly`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use autotab::data::{load_table, LoadOptions};
use autotab::scoring::request::{parse_request, records_to_dataset, score_request};
use autotab::scoring::{decode_pipeline, Predictor};
use proptest::prelude::*;
use serde_json::Value;

/// Longest time one decode may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `work` on its own thread; fails the test on a panic (with the message) or a hang.
fn bounded<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = work();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{what}: panicked: {message}")
            }
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {DEADLINE:?}"),
    }
}

fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The first lines of the heart-failure data: a real CSV to mutate.
fn real_csv() -> &'static [u8] {
    static CSV: OnceLock<Vec<u8>> = OnceLock::new();
    CSV.get_or_init(|| {
        let text = std::fs::read_to_string(crate_path("datasets/heart_failure.csv")).unwrap();
        let head: Vec<&str> = text.lines().take(25).collect();
        (head.join("\n") + "\n").into_bytes()
    })
}

/// Writes `bytes` to a fresh file and loads it; the error text, or the shape of the table.
fn load_bytes(bytes: Vec<u8>, extension: &str) -> Result<(usize, usize), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("input.{extension}"));
    std::fs::write(&path, &bytes).unwrap();
    let shown = format!(
        "{} bytes: {:?}",
        bytes.len(),
        String::from_utf8_lossy(&bytes)
    );
    bounded(&format!("load_table on {shown}"), move || {
        load_table(&path, &LoadOptions::default())
            .map(|data| (data.n_rows(), data.columns().len()))
            .map_err(|e| e.to_string())
    })
}

/// A bundle trained once for this test binary, on a tree model (autotab's own decoder paths).
fn bundle_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::scoring::scratch().join("fuzz-model");
        common::scoring::train_bundle(
            &dir,
            &[
                "--allowed-algorithms",
                "LightGBM",
                "--max-trials",
                "2",
                "--max-concurrent-trials",
                "1",
                "--seed",
                "5",
                "--timeout",
                "60",
            ],
        );
        dir
    })
}

fn predictor() -> &'static Predictor {
    static PREDICTOR: OnceLock<Predictor> = OnceLock::new();
    PREDICTOR.get_or_init(|| Predictor::load(bundle_dir()).unwrap())
}

fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(bundle_dir().join("model.bin")).unwrap())
}

/// The bundle's sample request.
fn sample_request() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(bundle_dir().join("sample_input.json")).unwrap())
}

/// Decodes `bytes` as a `model.bin` and, when that succeeds, scores the sample rows with it
/// (directly: a panic in prediction fails the test). The number of predictions, or the error.
fn decode_and_score(bytes: Vec<u8>) -> Result<usize, String> {
    let info = predictor().info().clone();
    let records: Value = serde_json::from_str(sample_request()).unwrap();
    bounded(&format!("decode of {} bytes", bytes.len()), move || {
        let pipeline = decode_pipeline(&bytes)?;
        let data = records_to_dataset(
            records["data"].as_array().unwrap(),
            &pipeline.schema,
            &info.input_columns,
        )
        .map_err(|e| e.to_string())?;
        let predictions = pipeline.predict(&data).map_err(|e| e.to_string())?;
        Ok(predictions.labels.len())
    })
}

/// Parses and scores `body` with the real predictor: the answer or the error text.
fn score_body(body: Vec<u8>) -> Result<Value, String> {
    let predictor = predictor();
    bounded(
        &format!("request {:?}", String::from_utf8_lossy(&body)),
        move || {
            parse_request(&body)
                .and_then(|request| score_request(predictor, &request))
                .map_err(|e| e.to_string())
        },
    )
}

/// One byte of `bytes` changed, inserted or removed, as chosen by `(op, at, value)`.
fn mutate(bytes: &[u8], op: u8, at: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = at % out.len().max(1);
    match op % 3 {
        0 if !out.is_empty() => out[at] ^= value.max(1),
        1 => out.insert(at.min(out.len()), value),
        _ if !out.is_empty() => {
            out.remove(at);
        }
        _ => out.push(value),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn csv_loader_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = load_bytes(bytes, "csv");
    }

    #[test]
    fn csv_loader_on_random_text(text in "[a-c0-9,;\"\\t\\r\\n .?-]{0,200}") {
        if let Ok((rows, columns)) = load_bytes(text.into_bytes(), "csv") {
            prop_assert!(rows > 0 && columns > 0);
        }
    }

    #[test]
    fn csv_loader_on_a_mutated_real_file(
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4)
    ) {
        let mut bytes = real_csv().to_vec();
        for (op, at, value) in edits {
            bytes = mutate(&bytes, op, at, value);
        }
        if let Ok((rows, columns)) = load_bytes(bytes, "csv") {
            prop_assert!(rows >= 20 && columns >= 12, "{rows} rows, {columns} columns");
        }
    }

    #[test]
    fn parquet_loader_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(load_bytes(bytes, "parquet").is_err());
    }

    #[test]
    fn request_decoder_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = score_body(body);
    }

    #[test]
    fn request_decoder_on_a_mutated_real_request(
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4)
    ) {
        let mut body = sample_request().as_bytes().to_vec();
        for (op, at, value) in edits {
            body = mutate(&body, op, at, value);
        }
        if let Ok(answer) = score_body(body) {
            prop_assert!(answer["result"].is_array(), "{answer}");
        }
    }

    #[test]
    fn bundle_decoder_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(decode_and_score(bytes).is_err());
    }

    #[test]
    fn bundle_decoder_on_one_byte_mutations_of_a_real_model(at in any::<usize>(), mask in 1u8..=255) {
        let mut bytes = model_bytes().to_vec();
        let at = at % bytes.len();
        bytes[at] ^= mask;
        let _ = decode_and_score(bytes);
    }

    #[test]
    fn bundle_decoder_on_truncations_of_a_real_model(cut in any::<usize>()) {
        let bytes = model_bytes();
        let cut = cut % bytes.len();
        prop_assert!(decode_and_score(bytes[..cut].to_vec()).is_err());
    }
}

#[test]
fn the_real_model_decodes_and_scores_every_sample_row() {
    let n = decode_and_score(model_bytes().to_vec()).unwrap();
    let sample: Value = serde_json::from_str(sample_request()).unwrap();
    assert_eq!(n, sample["data"].as_array().unwrap().len());
}

#[test]
fn the_corpus_of_inputs_that_once_failed_still_decodes_cleanly() {
    let corpus = crate_path("tests/corpus");
    let mut replayed = 0;
    for kind in ["csv", "request", "bundle"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            match kind {
                "csv" => {
                    let extension = file.extension().unwrap().to_string_lossy().to_string();
                    let outcome = load_bytes(bytes, &extension);
                    if name.starts_with("error-") {
                        assert!(outcome.is_err(), "{name}: {outcome:?}");
                    }
                }
                "request" => {
                    let outcome = score_body(bytes);
                    if name.starts_with("error-") {
                        assert!(outcome.is_err(), "{name}: {outcome:?}");
                    }
                }
                _ => {
                    let outcome = decode_and_score(bytes);
                    assert!(outcome.is_err(), "{name}: {outcome:?}");
                }
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 6, "only {replayed} corpus files");
}
