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
