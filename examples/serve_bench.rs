//! Serving benchmark: single-record latency of `POST /score` over loopback with a keep-alive
//! client, and batch scoring throughput through the `Predictor` and through `/score`.
//!
//! ```text
//! cargo run --release --example serve_bench -- <bundle dir> [requests] [batch rows] [batches]
//! ```
//! The bundle is any `autotab run --output` folder (reports/serving.md used heart failure).
//! The server runs in this process on 127.0.0.1 (port chosen by the OS), exactly as
//! `autotab serve` runs it: same router, same multi-threaded tokio runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use autotab::data::{load_table, LoadOptions};
use autotab::scoring::request::{parse_request, score_request};
use autotab::scoring::server::serve_listener;
use autotab::scoring::Predictor;
use serde_json::{json, Value};

const TUTORIAL_REQUEST: &str = r#"{"data":[{"age":"60","anaemia":"false","creatinine_phosphokinase":"500","diabetes":"false","ejection_fraction":"38","high_blood_pressure":"false","platelets":"260000","serum_creatinine":"1.40","serum_sodium":"137","sex":"false","smoking":"false","time":"130"}]}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or("usage: serve_bench <bundle dir> [requests] [batch rows] [batches]")?;
    let requests: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let batch_rows: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let batches: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(50);
    println!("load average before: {}", load_average());
    let predictor = Arc::new(Predictor::load(std::path::Path::new(dir))?);
    println!(
        "model: {} {} from {dir}; {} input columns",
        predictor.info().task,
        predictor.info().algorithm,
        predictor.info().input_columns.len()
    );

    // In-process: parse + coerce + featurize + predict of the tutorial record, no HTTP.
    let single = parse_request(TUTORIAL_REQUEST.as_bytes())?;
    for _ in 0..200 {
        score_request(&predictor, &single)?;
    }
    let mut inproc = Vec::with_capacity(requests);
    for _ in 0..requests {
        let start = Instant::now();
        std::hint::black_box(score_request(&predictor, &single)?);
        inproc.push(start.elapsed());
    }
    report("in-process score_request, 1 record", &mut inproc);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(serve_listener(
        listener,
        Arc::clone(&predictor) as Arc<dyn autotab::scoring::Scorer>,
        None,
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://{addr}/score");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections_per_host(1)
        .build()
        .into();
    let post = |body: &str| -> Result<Value, Box<dyn std::error::Error>> {
        let mut response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)?;
        Ok(serde_json::from_str(
            &response.body_mut().read_to_string()?,
        )?)
    };

    for _ in 0..200 {
        post(TUTORIAL_REQUEST)?;
    }
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let start = Instant::now();
        let answer = post(TUTORIAL_REQUEST)?;
        latencies.push(start.elapsed());
        if answer["result"].as_array().map(Vec::len) != Some(1) {
            return Err(format!("unexpected answer {answer}").into());
        }
    }
    report(
        "POST /score, 1 record, keep-alive, sequential",
        &mut latencies,
    );

    // Batches of real rows from the training file, values as strings.
    let table = load_table(
        std::path::Path::new("datasets/heart_failure.csv"),
        &LoadOptions::default(),
    )?;
    let records: Vec<Value> = (0..batch_rows)
        .map(|i| {
            let row = i % table.n_rows();
            let fields: serde_json::Map<String, Value> = table
                .columns()
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.values
                            .text_at(row)
                            .map(Value::String)
                            .unwrap_or(Value::Null),
                    )
                })
                .collect();
            Value::Object(fields)
        })
        .collect();
    let body = json!({ "data": records }).to_string();
    let batch = parse_request(body.as_bytes())?;
    score_request(&predictor, &batch)?;
    let start = Instant::now();
    for _ in 0..batches {
        std::hint::black_box(score_request(&predictor, &batch)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "batch through Predictor (coerce + featurize + predict): {batches} x {batch_rows} rows in {seconds:.3} s = {:.0} rows/s",
        (batches * batch_rows) as f64 / seconds
    );
    post(&body)?;
    let start = Instant::now();
    for _ in 0..batches {
        let answer = post(&body)?;
        if answer["result"].as_array().map(Vec::len) != Some(batch_rows) {
            return Err("short batch answer".into());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "batch through POST /score ({} KB body): {batches} x {batch_rows} rows in {seconds:.3} s = {:.0} rows/s",
        body.len() / 1024,
        (batches * batch_rows) as f64 / seconds
    );

    let _ = stop.send(());
    runtime.block_on(server)??;
    println!("load average after: {}", load_average());
    Ok(())
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{what}: n = {}, p50 = {:.3} ms, p90 = {:.3} ms, p99 = {:.3} ms, max = {:.3} ms, mean = {:.3} ms",
        samples.len(),
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1]),
        ms(mean)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
