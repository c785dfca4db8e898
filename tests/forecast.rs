//! Forecasting end to end: the real binary (`autotab run --task forecasting` + `autotab
//! predict`) on a shipped series, the horizon-exceeded error, and frequency inference on every
//! shipped forecasting series (through the library). Nothing here depends on which method the
//! search picks: only the structure of the outputs and the errors are checked.

mod common;

use std::path::Path;

use autotab::data::{load_table, LoadOptions};
use autotab::forecast::series::SeriesSet;
use autotab::forecast::settings::{ForecastSettings, ShortSeriesHandling};
use common::{autotab, json_summary, read_csv, succeed, TempWorkspace};

/// Writes the first `n_train` data lines of `source` to `train` and the rest to `future`
/// (in reverse order, to check that predictions follow the input order).
fn split(source: &str, n_train: usize, train: &Path, future: &Path) {
    let text = std::fs::read_to_string(source).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut t = vec![header];
    t.extend(&rows[..n_train]);
    std::fs::write(train, t.join("\n") + "\n").unwrap();
    let mut f = vec![header];
    f.extend(rows[n_train..].iter().rev());
    std::fs::write(future, f.join("\n") + "\n").unwrap();
}

#[test]
fn air_passengers_run_then_predict_with_quantiles() {
    let ws = TempWorkspace::new();
    let train = ws.path().join("train.csv");
    let future = ws.path().join("future.csv");
    split("datasets/air_passengers.csv", 132, &train, &future);
    let model = ws.path().join("model");
    let stdout = succeed(autotab(&ws).args([
        "run",
        "--data",
        train.to_str().unwrap(),
        "--label",
        "AirPassengers",
        "--task",
        "forecasting",
        "--time-column",
        "date",
        "--horizon",
        "12",
        "--timeout",
        "30s",
        "--max-trials",
        "10",
        "--max-concurrent-trials",
        "2",
        "--output",
        model.to_str().unwrap(),
        "--json",
    ]));
    assert!(
        stdout.contains("frequency MS detected on 'date'"),
        "{stdout}"
    );
    assert!(stdout.contains("#0    SeasonalNaive"), "{stdout}");
    let summary = json_summary(&stdout);
    for key in [
        "experiment",
        "run_id",
        "task",
        "metric",
        "best_score",
        "best_algorithm",
        "trials",
        "elapsed_s",
        "model_path",
    ] {
        assert!(summary.get(key).is_some(), "{key} missing: {summary}");
    }
    assert_eq!(summary["task"], "forecasting");
    assert_eq!(summary["metric"], "normalized_root_mean_squared_error");
    // Every trial is a child run with its scores, as for the other tasks.
    let detail = succeed(autotab(&ws).args([
        "runs",
        "show",
        summary["run_id"].as_str().unwrap(),
        "--json",
    ]));
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    let children = detail["children"].as_array().unwrap();
    assert_eq!(
        Some(children.len() as u64),
        summary["trials"].as_u64(),
        "{detail}"
    );
    let first = children
        .iter()
        .find(|c| c["algorithm"] == "SeasonalNaive")
        .unwrap_or_else(|| panic!("no SeasonalNaive child run: {detail}"));
    assert_eq!(first["status"], "completed", "{first}");
    assert_eq!(
        first["fold_metrics"]["normalized_root_mean_squared_error"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "{first}"
    );

    let out = ws.path().join("forecast.csv");
    succeed(autotab(&ws).args([
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        future.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--quantiles",
        "0.1,0.9",
    ]));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["date", "prediction", "q_0.1", "q_0.9"]);
    assert_eq!(rows.len(), 12);
    // Input order: the future file lists 1960-12 first.
    assert_eq!(rows[0][0], "1960-12-01");
    assert_eq!(rows[11][0], "1960-01-01");
    for row in &rows {
        let p: f64 = row[1].parse().unwrap();
        let (lo, hi): (f64, f64) = (row[2].parse().unwrap(), row[3].parse().unwrap());
        assert!(p.is_finite() && p > 0.0, "{row:?}");
        assert!(lo <= hi, "{row:?}");
    }

    // One month too far: a clear error naming the series' first time stamp beyond the horizon.
    let far = ws.path().join("far.csv");
    std::fs::write(
        &far,
        "date,AirPassengers\n1960-06-01,\n1961-01-01,\n1961-02-01,\n",
    )
    .unwrap();
    let result = autotab(&ws)
        .args(["predict", "--model", model.to_str().unwrap(), "--data"])
        .arg(&far)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("ForecastHorizonExceeded: the series asks for 1961-01-01 (line 3)"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_forecasting_input_gets_one_clear_error() {
    let ws = TempWorkspace::new();
    let run = |args: &[&str]| {
        let out = autotab(&ws)
            .args(["run", "--task", "forecasting", "--timeout", "10s"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = run(&[
        "--data",
        "datasets/air_passengers.csv",
        "--label",
        "AirPassengers",
    ]);
    assert!(err.contains("time column"), "{err}");
    let err = run(&[
        "--data",
        "datasets/air_passengers.csv",
        "--label",
        "AirPassengers",
        "--time-column",
        "when",
    ]);
    assert!(err.contains("time column 'when' not found"), "{err}");
    let err = run(&[
        "--data",
        "datasets/oj_sales.csv",
        "--label",
        "Brand",
        "--time-column",
        "WeekStarting",
    ]);
    assert!(err.contains("not a number"), "{err}");
    let err = run(&[
        "--data",
        "datasets/air_passengers.csv",
        "--label",
        "AirPassengers",
        "--time-column",
        "date",
        "--horizon",
        "400",
    ]);
    assert!(err.contains("every series is shorter"), "{err}");
}

/// The frequency and the series found on each shipped forecasting series (the shared
/// benchmark's six).
#[test]
fn frequency_is_inferred_on_every_shipped_series() {
    /// Dataset, label, time column, grain, frequency expected, series expected.
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a str, usize);
    let cases: [Case; 6] = [
        ("air_passengers", "AirPassengers", "date", &[], "MS", 1),
        ("bike_share_daily", "cnt", "date", &[], "D", 1),
        ("co2_weekly", "co2", "date", &[], "W-SAT", 1),
        ("daily_min_temperatures", "Temp", "Date", &[], "D", 1),
        ("nyc_energy", "demand", "timeStamp", &[], "H", 1),
        (
            "oj_sales",
            "Quantity",
            "WeekStarting",
            &["Store", "Brand"],
            "W-THU",
            9,
        ),
    ];
    for (name, label, time, grain, frequency, n_series) in cases {
        let path = format!("datasets/{name}.csv");
        let data = load_table(path.as_ref(), &LoadOptions::default()).unwrap();
        let settings = ForecastSettings {
            time_column: time.into(),
            horizon: 1,
            grain: grain.iter().map(|g| g.to_string()).collect(),
            frequency: None,
            target_lags: None,
            rolling_window: None,
            feature_lags: false,
            seasonality: None,
            short_series: ShortSeriesHandling::Auto,
            aggregate: None,
            cv_step: None,
            n_folds: None,
            excluded: Vec::new(),
        };
        let set = SeriesSet::build(&data, label, &settings, &|_| 2, &path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(set.grid.frequency_name(), frequency, "{name}");
        assert_eq!(set.series.len(), n_series, "{name}");
    }
}

/// Splits `source` by series: each series' last `n_future` time stamps go to `future` (its rows
/// in reverse file order, as strings), the rest to `train`. Returns the future rows as
/// `(header, rows)`.
fn split_by_series(
    source: &str,
    time: &str,
    grain: &[&str],
    n_future: usize,
    train: &Path,
    future: &Path,
) -> (Vec<String>, Vec<Vec<String>>) {
    let (header, rows) = read_csv(Path::new(source));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (t, g): (usize, Vec<usize>) = (col(time), grain.iter().map(|n| col(n)).collect());
    let key = |row: &Vec<String>| g.iter().map(|&i| row[i].clone()).collect::<Vec<_>>();
    let mut times: std::collections::BTreeMap<Vec<String>, Vec<String>> = Default::default();
    for row in &rows {
        times.entry(key(row)).or_default().push(row[t].clone());
    }
    let cutoff: std::collections::BTreeMap<Vec<String>, String> = times
        .into_iter()
        .map(|(k, mut ts)| {
            ts.sort();
            let at = ts.len() - n_future;
            (k, ts[at].clone())
        })
        .collect();
    let (mut train_rows, mut future_rows) = (Vec::new(), Vec::new());
    for row in rows {
        if row[t] >= cutoff[&key(&row)] {
            future_rows.push(row);
        } else {
            train_rows.push(row);
        }
    }
    future_rows.reverse();
    let write = |path: &Path, rows: &[Vec<String>]| {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(&header).unwrap();
        for r in rows {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
    };
    write(train, &train_rows);
    write(future, &future_rows);
    (header, future_rows)
}

/// A forecasting bundle scores the same from `POST /score` and from its `score.py` as from
/// `autotab predict`: the future rows alone (series ids and known features, no history), with
/// prediction intervals; `/swagger.json` documents that request.
#[test]
fn forecasting_score_and_score_py_match_predict() {
    let ws = TempWorkspace::new();
    let train = ws.path().join("train.csv");
    let future = ws.path().join("future.csv");
    let (header, future_rows) = split_by_series(
        "datasets/oj_sales.csv",
        "WeekStarting",
        &["Store", "Brand"],
        4,
        &train,
        &future,
    );
    let model = ws.path().join("model");
    succeed(autotab(&ws).args([
        "run",
        "--data",
        train.to_str().unwrap(),
        "--label",
        "Quantity",
        "--time-column",
        "WeekStarting",
        "--grain",
        "Store,Brand",
        "--horizon",
        "4",
        "--timeout",
        "30s",
        "--max-trials",
        "8",
        "--max-concurrent-trials",
        "2",
        "--output",
        model.to_str().unwrap(),
        "-q",
    ]));
    for file in ["forecast.json", "score.py", "sample_input.json", "MODEL.md"] {
        assert!(model.join(file).is_file(), "the bundle lacks {file}");
    }
    let out = ws.path().join("forecast.csv");
    succeed(autotab(&ws).args([
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        future.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--quantiles",
        "0.1,0.9",
    ]));
    let (_, predicted) = read_csv(&out);
    let column =
        |i: usize| -> Vec<f64> { predicted.iter().map(|r| r[i].parse().unwrap()).collect() };
    // date, Store, Brand, prediction, q_0.1, q_0.9
    let (expected, low, high) = (column(3), column(4), column(5));
    assert_eq!(expected.len(), 36);

    // The future rows as a JSON request, every value a string as in the CSV, the label kept
    // (it is ignored).
    let records: Vec<serde_json::Value> = future_rows
        .iter()
        .map(|row| {
            serde_json::Value::Object(
                header
                    .iter()
                    .zip(row)
                    .map(|(h, v)| (h.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        })
        .collect();
    let request = serde_json::json!({ "data": records, "quantiles": [0.1, 0.9] }).to_string();
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let check = |answer: &serde_json::Value, who: &str| {
        assert_eq!(numbers(&answer["result"]), expected, "{who}: {answer}");
        assert_eq!(numbers(&answer["quantiles"]["0.1"]), low, "{who}");
        assert_eq!(numbers(&answer["quantiles"]["0.9"]), high, "{who}");
    };

    let server = common::scoring::Server::start_model(model.as_os_str(), &[], &[]);
    let (status, answer) = server.post("/score", "application/json", &request, None);
    assert_eq!(status, 200, "{answer}");
    check(&answer, "POST /score");
    let (status, health) = server.get("/health", None);
    assert_eq!(status, 200);
    assert_eq!(health["task"], "forecasting", "{health}");
    let (status, swagger) = server.get("/swagger.json", None);
    assert_eq!(status, 200);
    let schemas = &swagger["components"]["schemas"];
    assert_eq!(
        schemas["InputRecord"]["required"],
        serde_json::json!(["WeekStarting", "Store", "Brand"]),
        "{swagger}"
    );
    assert!(schemas["InputRecord"]["properties"]["Price"].is_object());
    assert!(schemas["ScoreRequest"]["properties"]["quantiles"].is_object());
    assert!(schemas["ScoreResponse"]["properties"]["quantiles"].is_object());
    // An unknown series and a week beyond the horizon are 400s naming the problem.
    let (status, answer) = server.post(
        "/score",
        "application/json",
        r#"{"data":[{"WeekStarting":"1992-08-20","Store":"999","Brand":"tropicana"}]}"#,
        None,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("Store=999"),
        "{answer}"
    );
    let (status, answer) = server.post(
        "/score",
        "application/json",
        r#"{"data":[{"WeekStarting":"1993-08-19","Store":2,"Brand":"tropicana"}]}"#,
        None,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("ForecastHorizonExceeded"),
        "{answer}"
    );
    drop(server);

    let snippet = format!(
        r#"
import importlib.util, json
spec = importlib.util.spec_from_file_location("score", {script:?})
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)
score.init()
print(json.dumps([score.run({request:?}), score.run(open({sample:?}).read())]))
"#,
        script = model.join("score.py").to_str().unwrap(),
        sample = model.join("sample_input.json").to_str().unwrap(),
        request = request,
    );
    let stdout = succeed(
        std::process::Command::new("python3")
            .args(["-c", &snippet])
            .env("AUTOTAB_BIN", env!("CARGO_BIN_EXE_autotab"))
            .env_remove("AUTOTAB_MODEL_DIR"),
    );
    let answers: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    check(&answers[0], "score.py");
    assert_eq!(
        answers[1]["result"].as_array().map(Vec::len),
        Some(4),
        "the sample asks for the first series' 4 next weeks: {}",
        answers[1]
    );
}

/// Trains on air_passengers up to 1958-12 (horizon 12) in `ws`, with `extra` flags; returns the
/// stdout and writes the 24 later months (1959-01 to 1960-12, actual values included, in file
/// order) to `later`.
fn air_passengers_to_1958(ws: &TempWorkspace, later: &Path, extra: &[&str]) -> String {
    let train = ws.path().join("train.csv");
    let text = std::fs::read_to_string("datasets/air_passengers.csv").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&train, lines[..121].join("\n") + "\n").unwrap();
    let mut rest = vec![lines[0]];
    rest.extend(&lines[121..]);
    std::fs::write(later, rest.join("\n") + "\n").unwrap();
    succeed(
        autotab(ws)
            .args([
                "run",
                "--data",
                train.to_str().unwrap(),
                "--label",
                "AirPassengers",
                "--time-column",
                "date",
                "--horizon",
                "12",
                "--timeout",
                "30s",
                "--max-trials",
                "6",
                "--max-concurrent-trials",
                "2",
            ])
            .args(extra),
    )
}

/// `predict --rolling` forecasts the months beyond the horizon from the actual values before
/// their origin (1960 from the actual 1959): the 1959 forecasts are `predict`'s, the 1960 ones
/// move with the 1959 actuals and never with the 1960 ones; without `--rolling`, or with a
/// 1959 actual missing, it is one clear error.
#[test]
fn rolling_forecasts_beyond_the_horizon_from_the_actuals_given() {
    let ws = TempWorkspace::new();
    let later = ws.path().join("later.csv");
    let model = ws.path().join("model");
    air_passengers_to_1958(&ws, &later, &["--output", model.to_str().unwrap(), "-q"]);
    let (header, rows) = read_csv(&later);
    assert_eq!(header, ["date", "AirPassengers"]);
    // The later months with the 1959 actuals scaled by `scale_1959` and the 1960 ones replaced
    // by `value_1960` (None: empty).
    let write = |name: &str, scale_1959: f64, value_1960: Option<&str>, skip: Option<&str>| {
        let path = ws.path().join(name);
        let mut text = String::from("date,AirPassengers\n");
        for row in &rows {
            let actual = if row[0].starts_with("1959") {
                if Some(row[0].as_str()) == skip {
                    String::new()
                } else {
                    (row[1].parse::<f64>().unwrap() * scale_1959).to_string()
                }
            } else {
                value_1960.unwrap_or("").to_string()
            };
            text.push_str(&format!("{},{actual}\n", row[0]));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let predict = |data: &Path, rolling: bool| -> std::process::Output {
        let mut cmd = autotab(&ws);
        cmd.args(["predict", "--model", model.to_str().unwrap(), "--data"])
            .arg(data);
        if rolling {
            cmd.arg("--rolling");
        }
        cmd.output().unwrap()
    };
    let forecasts = |out: std::process::Output| -> Vec<(String, f64)> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[1].parse().unwrap())
            })
            .collect()
    };
    let given = write("given.csv", 1.0, None, None);
    let rolled = forecasts(predict(&given, true));
    assert_eq!(rolled.len(), 24);
    assert_eq!(rolled[12].0, "1960-01-01");
    // Within the horizon: what predict forecasts without actual values.
    let first_year = ws.path().join("1959.csv");
    std::fs::write(
        &first_year,
        std::iter::once("date".to_string())
            .chain(rows[..12].iter().map(|r| r[0].clone()))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
    .unwrap();
    assert_eq!(forecasts(predict(&first_year, false)), rolled[..12]);
    // The 1960 actual values (their own forecasts' targets) change nothing.
    let leaked = write("leaked.csv", 1.0, Some("100000"), None);
    assert_eq!(forecasts(predict(&leaked, true)), rolled);
    // The 1959 actual values are read.
    let doubled = forecasts(predict(&write("doubled.csv", 2.0, None, None), true));
    assert_eq!(doubled[..12], rolled[..12]);
    assert_ne!(doubled[12..], rolled[12..]);

    let error_of = |out: std::process::Output| -> String {
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{stderr}"
        );
        stderr
    };
    let err = error_of(predict(&given, false));
    assert!(
        err.contains("ForecastHorizonExceeded: the series asks for 1960-01-01 (line 14)"),
        "{err}"
    );
    let err = error_of(predict(
        &write("gap.csv", 1.0, None, Some("1959-06-01")),
        true,
    ));
    assert!(
        err.contains("rolling forecast: the series at 1960-01-01"),
        "{err}"
    );
    assert!(err.contains("gives none for 1959-06-01"), "{err}");
}

/// `--register` and `--test-data` on a forecasting run: the bundle is registered (name, next
/// version, tags) and `predict --model NAME` resolves it; the test rows are forecast (rolling
/// past the horizon) and scored all pooled, as the benchmark does, into the run's metrics.
#[test]
fn forecasting_run_registers_and_scores_its_test_data() {
    let ws = TempWorkspace::new();
    let later = ws.path().join("later.csv");
    // The test file is written before the run reads it (the helper writes it first).
    let stdout = air_passengers_to_1958(
        &ws,
        &later,
        &[
            "--test-data",
            later.to_str().unwrap(),
            "--register",
            "air",
            "--tag",
            "owner=forecasts",
            "--json",
        ],
    );
    let summary = json_summary(&stdout);
    assert_eq!(summary["registered_model"], "air:1", "{summary}");
    let test = &summary["test_metrics"];
    for key in [
        "normalized_root_mean_squared_error",
        "normalized_mean_absolute_error",
        "r2_score",
        "spearman_correlation",
        "mean_absolute_percentage_error",
    ] {
        assert!(test[key].is_number(), "{key} missing: {summary}");
    }
    assert!(
        stdout.contains("test normalized_root_mean_squared_error: "),
        "{stdout}"
    );

    // The pooled figure: RMSE over the 24 test months over the range of their actual values.
    let out = ws.path().join("forecast.csv");
    succeed(autotab(&ws).args([
        "predict",
        "--model",
        "air",
        "--data",
        later.to_str().unwrap(),
        "--rolling",
        "--output",
        out.to_str().unwrap(),
    ]));
    let (_, predicted) = read_csv(&out);
    let (_, actual) = read_csv(&later);
    let pairs: Vec<(f64, f64)> = actual
        .iter()
        .zip(&predicted)
        .map(|(a, p)| (a[1].parse().unwrap(), p[1].parse().unwrap()))
        .collect();
    let rmse = (pairs.iter().map(|(a, p)| (a - p).powi(2)).sum::<f64>() / 24.0).sqrt();
    let values = pairs.iter().map(|(a, _)| *a);
    let range = values.clone().fold(f64::MIN, f64::max) - values.fold(f64::MAX, f64::min);
    let recorded = test["normalized_root_mean_squared_error"].as_f64().unwrap();
    assert!(
        (recorded - rmse / range).abs() < 1e-6,
        "{recorded} vs {}",
        rmse / range
    );

    let run_id = summary["run_id"].as_str().unwrap();
    let detail = succeed(autotab(&ws).args(["runs", "show", run_id, "--json"]));
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert!(
        detail
            .to_string()
            .contains("test_normalized_root_mean_squared_error"),
        "{detail}"
    );
    let card = succeed(autotab(&ws).args(["models", "show", "air", "--json"]));
    let card: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(card["bundle"]["task"], "forecasting", "{card}");
    assert_eq!(card["model"]["tags"]["owner"], "forecasts", "{card}");
    assert_eq!(card["schema"]["columns"][0]["name"], "date", "{card}");
    // The run's model registered again: the next version.
    let again =
        succeed(autotab(&ws).args(["models", "register", "--run", run_id, "--name", "air"]));
    assert!(again.contains("registered model air:2"), "{again}");
}
