//! The HTML run report, end to end: short runs (a trial cap, so no test depends on which
//! model the search picks or on the machine's speed) on a binary, a regression, a multiclass
//! and a forecasting dataset; each run writes `report.html` into its artifacts, `autotab
//! report` writes it again, and every section's id is in it. Then each report is opened in
//! real headless Chromium (`chromium`; the test fails when it is absent — `.ci/run` installs
//! it):
//!
//! - a screenshot of the report as written, with Chromium's logging on stderr: any
//!   `CONSOLE` line fails the test (the report has no script, so a console message can only
//!   be an error such as a blocked resource);
//! - `--dump-dom` of a copy of the report with a checking script appended: after layout it
//!   checks that every section exists as an HTML element (not swallowed by a broken SVG) with
//!   a rendered size, that every chart's SVG has a rendered size and text, and writes the
//!   verdict into the title, which the test reads from the dumped DOM. A page whose markup
//!   breaks a section or a chart fails here.
//!
//! With `AUTOTAB_SCREENSHOTS=reports/screenshots` the screenshots are kept there (that is
//! how `reports/screenshots/*.png` were made:
//! `AUTOTAB_SCREENSHOTS=reports/screenshots cargo test --release --test report`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{autotab, json_summary, succeed, TempWorkspace};

const CHROMIUM: &str = "chromium";

/// Sections every report has.
const COMMON_SECTIONS: [&str; 6] = [
    "summary",
    "data",
    "leaderboard",
    "progress",
    "quality",
    "importance",
];

/// Runs `args` (after `run`) with a trial cap and returns the run id.
fn run(ws: &TempWorkspace, args: &[&str]) -> String {
    let stdout = succeed(
        autotab(ws)
            .arg("run")
            .args(args)
            .args(["--max-trials", "6", "--max-concurrent-trials", "2"])
            .args(["--timeout", "300", "--seed", "7", "--json"]),
    );
    assert!(stdout.contains("report: "), "{stdout}");
    json_summary(&stdout)["run_id"]
        .as_str()
        .expect("run_id")
        .to_string()
}

/// A Chromium command with a fresh profile, offline and quiet.
fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// The checking script appended to a copy of the report: its verdict becomes the title.
fn checker(ids: &[&str]) -> String {
    let ids: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
    format!(
        r#"<script>
const bad = [];
for (const id of [{ids}]) {{
  const e = document.getElementById(id);
  if (!e) {{ bad.push(id + ' missing'); continue; }}
  if (e.namespaceURI !== 'http://www.w3.org/1999/xhtml') bad.push(id + ' is not an HTML element');
  const r = e.getBoundingClientRect();
  if (r.width < 100 || r.height < 20) bad.push(id + ' not rendered (' + r.width + 'x' + r.height + ')');
}}
const svgs = document.querySelectorAll('svg');
svgs.forEach((s, i) => {{
  const b = s.getBoundingClientRect();
  if (b.width < 200 || b.height < 150) bad.push('chart ' + i + ' is ' + b.width + 'x' + b.height);
  if (s.querySelectorAll('text').length < 3) bad.push('chart ' + i + ' has no text');
}});
document.title = 'CHECK[' + (bad.length ? bad.join('; ') : 'ok') + '] charts=' + svgs.length;
</script>"#,
        ids = ids.join(",")
    )
}

/// Opens `report` in headless Chromium: the screenshot (saved to `screenshot`) must log no
/// console message, and the rendered page must pass [`checker`] with at least `charts`
/// charts.
fn check_in_chromium(
    ws: &TempWorkspace,
    report: &Path,
    ids: &[&str],
    charts: usize,
    (screenshot, height): (&Path, u32),
) {
    let found = Command::new(CHROMIUM).arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "headless Chromium is needed for this test: install Debian's chromium (apt-get install -y chromium; .ci/run does)"
    );
    let profile = ws.path().join("chromium-shot");
    let out = chromium(&profile)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(file_url(report))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 30_000,
        "screenshot of {} bytes: an empty page?",
        png.len()
    );

    let html = std::fs::read_to_string(report).unwrap();
    let checked = ws.path().join("checked.html");
    std::fs::write(
        &checked,
        html.replace("</body>", &format!("{}\n</body>", checker(ids))),
    )
    .unwrap();
    let out = chromium(&ws.path().join("chromium-dom"))
        .arg(format!("--window-size=1280,{height}"))
        .arg("--dump-dom")
        .arg(file_url(&checked))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium --dump-dom failed");
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or_default();
    assert!(
        title.starts_with("CHECK[ok]"),
        "rendered page check: {title}"
    );
    let drawn: usize = title
        .rsplit("charts=")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        drawn >= charts,
        "{drawn} charts rendered, expected {charts}+"
    );
}

/// Where a screenshot goes: `AUTOTAB_SCREENSHOTS` when set, else the temporary folder.
fn screenshot_path(ws: &TempWorkspace, name: &str) -> PathBuf {
    match std::env::var_os("AUTOTAB_SCREENSHOTS") {
        Some(dir) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir.join(format!("{name}.png"))
        }
        None => ws.path().join(format!("{name}.png")),
    }
}

/// Builds the report of `run_id` with `autotab report`, checks the sections, and opens it.
/// `height`: the screenshot's, in pixels (the page's length, about).
fn check_report(
    ws: &TempWorkspace,
    run_id: &str,
    (name, height): (&str, u32),
    task_ids: &[&str],
    charts: usize,
) {
    let artifact = ws
        .workspace()
        .join("artifacts")
        .join("runs")
        .join(run_id)
        .join("report.html");
    assert!(
        artifact.is_file(),
        "the run wrote no {}",
        artifact.display()
    );
    let report = ws.path().join(format!("{name}.html"));
    let stdout = succeed(
        autotab(ws)
            .args(["report", run_id, "--output"])
            .arg(&report),
    );
    assert!(stdout.contains("report written to"), "{stdout}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(
        html,
        std::fs::read_to_string(&artifact).unwrap(),
        "autotab report rebuilds the run's own report"
    );
    let ids: Vec<&str> = COMMON_SECTIONS.iter().chain(task_ids).copied().collect();
    for id in &ids {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "{name}: no section {id}"
        );
    }
    assert!(!html.contains("<script"), "the report needs no script");
    for external in ["src=\"http", "href=\"http", "url(", "<link", "@import"] {
        assert!(
            !html.contains(external),
            "{name}: loads something ({external})"
        );
    }
    let screenshot = screenshot_path(ws, name);
    check_in_chromium(ws, &report, &ids, charts, (screenshot.as_path(), height));
}

#[test]
fn binary_classification_report() {
    let ws = TempWorkspace::new();
    let id = run(
        &ws,
        &[
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
            "--metric",
            "AUC_weighted",
        ],
    );
    let html = std::fs::read_to_string(
        ws.workspace()
            .join("artifacts")
            .join("runs")
            .join(&id)
            .join("report.html"),
    )
    .unwrap();
    assert!(
        html.contains("ejection_fraction"),
        "the column table names the columns"
    );
    assert!(html.contains("Confusion matrix"));
    check_report(
        &ws,
        &id,
        ("heart_failure", 3900),
        &["roc", "pr", "calibration", "confusion"],
        4,
    );
}

#[test]
fn regression_report() {
    let ws = TempWorkspace::new();
    let id = run(
        &ws,
        &[
            "--data",
            "datasets/diabetes_regression.csv",
            "--label",
            "target",
        ],
    );
    check_report(
        &ws,
        &id,
        ("diabetes_regression", 3000),
        &["predicted-vs-actual", "residuals"],
        3,
    );
}

#[test]
fn multiclass_report() {
    let ws = TempWorkspace::new();
    let id = run(
        &ws,
        &[
            "--data",
            "datasets/digits.csv",
            "--label",
            "target",
            "--task",
            "classification",
            // Learners cheap to predict with, so that the permutation importance of the 64
            // pixels fits in its share of the budget and the report draws it.
            "--allowed-algorithms",
            "LogisticRegression,GaussianNaiveBayes,DecisionTree",
        ],
    );
    let html = std::fs::read_to_string(
        ws.workspace()
            .join("artifacts")
            .join("runs")
            .join(&id)
            .join("report.html"),
    )
    .unwrap();
    // Ten classes: a 10 x 10 confusion matrix.
    assert_eq!(html.matches("class=\"cm-cell").count(), 100);
    check_report(
        &ws,
        &id,
        ("digits", 4450),
        &["roc", "pr", "calibration", "confusion"],
        4,
    );
}

#[test]
fn forecasting_report() {
    let ws = TempWorkspace::new();
    let id = run(
        &ws,
        &[
            "--data",
            "datasets/air_passengers.csv",
            "--label",
            "AirPassengers",
            "--task",
            "forecasting",
            "--time-column",
            "date",
            "--horizon",
            "12",
        ],
    );
    let html = std::fs::read_to_string(
        ws.workspace()
            .join("artifacts")
            .join("runs")
            .join(&id)
            .join("report.html"),
    )
    .unwrap();
    assert!(
        html.contains("1961-12-01"),
        "the forecast runs 12 months past 1960-12"
    );
    check_report(&ws, &id, ("air_passengers", 2300), &["forecasts"], 2);
}

#[test]
fn report_errors_name_what_was_expected() {
    let ws = TempWorkspace::new();
    let out = autotab(&ws)
        .args(["report", "no-such-run", "--output"])
        .arg(ws.path().join("r.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("no workspace at"),
        "{stderr}"
    );
    // A run that completed: then a child run id, an unknown id, and a run without report data.
    let id = run(
        &ws,
        &[
            "--data",
            "datasets/heart_failure.csv",
            "--label",
            "DEATH_EVENT",
            "--allowed-algorithms",
            "LogisticRegression",
        ],
    );
    let fail = |run_id: &str| {
        let out = autotab(&ws)
            .args(["report", run_id, "--output"])
            .arg(ws.path().join("r.html"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{run_id}");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    };
    let child = fail(&format!("{id}-t0"));
    assert!(
        child.contains("child run") && child.contains(&id),
        "{child}"
    );
    let unknown = fail("no-such-run");
    assert!(unknown.contains("no-such-run"), "{unknown}");
    std::fs::remove_file(
        ws.workspace()
            .join("artifacts")
            .join("runs")
            .join(&id)
            .join("report_data.json"),
    )
    .unwrap();
    let missing = fail(&id);
    assert!(missing.contains("report_data.json"), "{missing}");
    assert!(!ws.path().join("r.html").exists());
}
