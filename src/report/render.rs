//! From [`ReportData`] and the store's run record to HTML: the charts are drawn here, the page
//! is the `report.html` template (minijinja, HTML auto-escaping of every value not marked
//! safe; only the SVG strings plotters wrote are).

use serde::Serialize;

use super::charts::{
    bar_chart, colour, extent, forecast_chart, padded, xy_chart, ForecastChart, Frame, Legend,
    Series, FULL, HALF,
};
use super::curves::{argmax, calibration, confusion, precision_recall, roc, thin};
use super::ReportData;
use crate::error::{AutotabError, Result};
use crate::metrics::Metric;
use crate::tracking::RunDetail;

const TEMPLATE: &str = include_str!("report.html");
/// Most leaderboard rows shown.
const LEADERBOARD_ROWS: usize = 15;
/// Most columns in the importance chart.
const IMPORTANCE_COLUMNS: usize = 15;
/// Most classes drawn one against the rest.
const MAX_CLASS_CURVES: usize = 10;
/// Most points of a drawn curve and of a scatter chart.
const MAX_CURVE_POINTS: usize = 400;
const MAX_SCATTER_POINTS: usize = 2_000;
/// Child runs with these names are ensembles, not search trials.
const ENSEMBLE_NAMES: [&str; 2] = ["VotingEnsemble", "StackEnsemble"];

#[derive(Serialize)]
struct View {
    title: String,
    run_id: String,
    status: String,
    started: String,
    task: String,
    summary: Vec<(String, String)>,
    columns: Vec<ColumnRow>,
    data_facts: Vec<(String, String)>,
    guardrails: Vec<GuardrailRow>,
    leaderboard: Vec<LeaderRow>,
    leaderboard_note: String,
    progress_svg: Option<String>,
    progress_note: String,
    oof_note: String,
    roc_svg: Option<String>,
    pr_svg: Option<String>,
    calibration_svg: Option<String>,
    confusion: Option<Confusion>,
    pva_svg: Option<String>,
    residuals_svg: Option<String>,
    forecast_svgs: Vec<String>,
    forecast_note: String,
    importance_svg: Option<String>,
    importance_note: String,
}

#[derive(Serialize)]
struct ColumnRow {
    name: String,
    kind: String,
    missing: String,
    distinct: usize,
    reason: String,
}

#[derive(Serialize)]
struct GuardrailRow {
    name: String,
    status: String,
    message: String,
}

#[derive(Serialize)]
struct LeaderRow {
    rank: usize,
    index: usize,
    learner: String,
    score: String,
    std: String,
    seconds: String,
    params: String,
    best: bool,
}

#[derive(Serialize)]
struct Confusion {
    classes: Vec<String>,
    rows: Vec<ConfusionRow>,
}

#[derive(Serialize)]
struct ConfusionRow {
    class: String,
    cells: Vec<ConfusionCell>,
}

#[derive(Serialize)]
struct ConfusionCell {
    count: usize,
    /// Share of the actual class's rows, as the cell's shade (0..1).
    shade: String,
    /// Dark cells get light text.
    dark: bool,
}

fn fmt_score(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "–".into()
    }
}

/// The report page of `run` from its report data.
pub fn render(data: &ReportData, run: &RunDetail) -> Result<String> {
    let s = &data.summary;
    let metric = Metric::parse(&s.metric).ok();
    let greater = metric.is_none_or(|m| m.greater_is_better());
    let mut view = View {
        title: format!("autotab run {} — {}", run.summary.id, s.experiment),
        run_id: run.summary.id.clone(),
        status: run.summary.status.to_string(),
        started: run.summary.started.clone(),
        task: s.task.clone(),
        summary: summary_rows(data, run),
        columns: data
            .columns
            .iter()
            .map(|c| ColumnRow {
                name: c.name.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                missing: format!("{:.1}%", 100.0 * c.missing as f64 / s.rows.max(1) as f64),
                distinct: c.distinct,
                reason: c.reason.clone(),
            })
            .collect(),
        data_facts: data_facts(data),
        guardrails: data
            .guardrails
            .iter()
            .map(|g| GuardrailRow {
                name: g.name.clone(),
                status: g.status.name().to_string(),
                message: g.message.clone(),
            })
            .collect(),
        leaderboard: Vec::new(),
        leaderboard_note: String::new(),
        progress_svg: None,
        progress_note: String::new(),
        oof_note: String::new(),
        roc_svg: None,
        pr_svg: None,
        calibration_svg: None,
        confusion: None,
        pva_svg: None,
        residuals_svg: None,
        forecast_svgs: Vec::new(),
        forecast_note: String::new(),
        importance_svg: None,
        importance_note: String::new(),
    };
    leaderboard(&mut view, data, run, greater);
    progress(&mut view, data, run, greater)?;
    match s.task.as_str() {
        "classification" => classification(&mut view, data)?,
        "regression" => regression(&mut view, data)?,
        _ => forecasting(&mut view, data)?,
    }
    importance(&mut view, data)?;
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| AutotabError::Report(format!("template: {e}")))?;
    env.get_template("report.html")
        .and_then(|t| t.render(&view))
        .map_err(|e| AutotabError::Report(format!("template: {e}")))
}

fn summary_rows(data: &ReportData, run: &RunDetail) -> Vec<(String, String)> {
    let s = &data.summary;
    let mut rows = vec![
        ("Experiment".to_string(), s.experiment.clone()),
        ("Data".into(), format!("{} ({} rows)", s.data, s.rows)),
        ("Label".into(), s.label.clone()),
        ("Task".into(), s.task.clone()),
        ("Primary metric".into(), s.metric.clone()),
        (
            "Budget".into(),
            match s.max_trials {
                Some(n) => format!("{:.0} s, at most {n} trials", s.budget_s),
                None => format!("{:.0} s", s.budget_s),
            },
        ),
        ("Validation".into(), s.validation.clone()),
        (
            "Best model".into(),
            format!(
                "{} (trial #{}): {} = {}",
                s.best_learner,
                s.best_index,
                s.metric,
                fmt_score(s.best_score)
            ),
        ),
        ("Final model".into(), s.final_model.clone()),
        (
            "Search".into(),
            format!("{} trials, stopped by {}", s.trials, s.stop_reason),
        ),
        ("Elapsed".into(), format!("{:.1} s", s.elapsed_s)),
        (
            "Status".into(),
            format!("{} (started {})", run.summary.status, run.summary.started),
        ),
    ];
    if !data.classes.is_empty() {
        let classes: Vec<String> = data
            .classes
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        rows.insert(4, ("Classes".into(), classes.join(", ")));
    }
    rows
}

fn data_facts(data: &ReportData) -> Vec<(String, String)> {
    let mut facts = vec![("Rows".to_string(), data.summary.rows.to_string())];
    if !data.columns.is_empty() {
        facts.push(("Input columns".into(), data.columns.len().to_string()));
    }
    if let Some(f) = &data.forecast {
        facts.push(("Series".into(), f.n_series.to_string()));
        facts.push(("Frequency".into(), f.frequency.clone()));
        facts.push(("Horizon".into(), format!("{} steps", f.horizon)));
    }
    facts
}

fn leaderboard(view: &mut View, data: &ReportData, run: &RunDetail, greater: bool) {
    let metric = &data.summary.metric;
    let ranked = run.leaderboard(metric, greater);
    let std_key = format!("{metric}_std");
    view.leaderboard = ranked
        .iter()
        .filter(|c| c.metrics.get(metric).is_some_and(|v| v.is_finite()))
        .take(LEADERBOARD_ROWS)
        .enumerate()
        .map(|(i, c)| {
            let mut params: Vec<String> = c
                .params
                .iter()
                .filter(|(k, _)| k.as_str() != "member_weights")
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    v => format!("{k}={v}"),
                })
                .collect();
            params.sort();
            let mut params = params.join(" ");
            if params.chars().count() > 140 {
                params = params.chars().take(139).collect::<String>() + "…";
            }
            LeaderRow {
                rank: i + 1,
                index: c.index,
                learner: c.algorithm.clone(),
                score: fmt_score(c.metrics[metric]),
                std: c
                    .metrics
                    .get(&std_key)
                    .map_or(String::new(), |v| fmt_score(*v)),
                seconds: c
                    .metrics
                    .get("duration_s")
                    .map_or(String::new(), |v| format!("{v:.2}")),
                params,
                best: c.index == data.summary.best_index,
            }
        })
        .collect();
    let scored = ranked
        .iter()
        .filter(|c| c.metrics.get(metric).is_some_and(|v| v.is_finite()))
        .count();
    view.leaderboard_note = format!(
        "{} of {} child runs with a {metric} score, best first ({} failed or timed out).",
        view.leaderboard.len(),
        run.children.len(),
        run.children.len() - scored
    );
}

/// Seconds from `start` to `end` (RFC 3339).
fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    Some((b - a).num_milliseconds() as f64 / 1000.0)
}

fn progress(view: &mut View, data: &ReportData, run: &RunDetail, greater: bool) -> Result<()> {
    let metric = &data.summary.metric;
    let mut points: Vec<(f64, f64, String)> = run
        .children
        .iter()
        .filter(|c| !ENSEMBLE_NAMES.contains(&c.algorithm.as_str()))
        .filter_map(|c| {
            let score = c.metrics.get(metric).copied().filter(|v| v.is_finite())?;
            let end = c.ended.as_deref()?;
            Some((
                seconds_between(&run.summary.started, end)?.max(0.0),
                score,
                c.algorithm.clone(),
            ))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if points.is_empty() {
        view.progress_note = "No trial finished with a score.".into();
        return Ok(());
    }
    let mut algorithms: Vec<String> = points.iter().map(|p| p.2.clone()).collect();
    algorithms.sort();
    algorithms.dedup();
    let mut best_line: Vec<(f64, f64)> = Vec::new();
    let mut best: Option<f64> = None;
    for &(x, y, _) in &points {
        let better = best.is_none_or(|b| if greater { y > b } else { y < b });
        if better {
            if let Some(b) = best {
                best_line.push((x, b));
            }
            best = Some(y);
            best_line.push((x, y));
        }
    }
    let (_, x_end) = extent(points.iter().map(|p| p.0));
    if let (Some(b), Some(last)) = (best, best_line.last()) {
        if last.0 < x_end {
            best_line.push((x_end, b));
        }
    }
    let by_algorithm: Vec<Vec<(f64, f64)>> = algorithms
        .iter()
        .map(|a| {
            points
                .iter()
                .filter(|p| &p.2 == a)
                .map(|p| (p.0, p.1))
                .collect()
        })
        .collect();
    // The best-so-far line first, so that the trials' dots are drawn over it.
    let mut series = vec![Series {
        name: "best so far".into(),
        points: &best_line,
        colour: plotters::style::RGBColor(20, 20, 20),
        line: true,
        radius: 0,
    }];
    series.extend(
        algorithms
            .iter()
            .zip(&by_algorithm)
            .enumerate()
            .map(|(i, (a, pts))| Series {
                name: a.clone(),
                points: pts,
                colour: colour(i),
                line: false,
                radius: 5,
            }),
    );
    let (y_lo, y_hi) = extent(points.iter().map(|p| p.1));
    let x = padded(0.0, x_end);
    view.progress_svg = Some(xy_chart(
        &Frame {
            title: "Trials over time",
            x_label: "seconds since the run started (trial end)",
            y_label: metric,
            x: (0.0, x.1),
            y: padded(y_lo, y_hi),
            size: FULL,
            reference: None,
            legend: Some(if greater {
                Legend::LowerRight
            } else {
                Legend::UpperRight
            }),
        },
        &series,
    )?);
    view.progress_note = format!(
        "{} scored trials of {} algorithm(s); each dot is one trial at the time it ended, the line the best {metric} so far.",
        points.len(),
        algorithms.len()
    );
    Ok(())
}

fn classification(view: &mut View, data: &ReportData) -> Result<()> {
    let Some(oof) = &data.oof else {
        view.oof_note = "No out-of-fold predictions were recorded for this run.".into();
        return Ok(());
    };
    let k = oof.predictions.first().map_or(0, Vec::len);
    let names: Vec<String> = (0..k)
        .map(|i| {
            data.classes
                .get(i)
                .map_or_else(|| i.to_string(), |(n, _)| n.clone())
        })
        .collect();
    let labels: Vec<usize> = oof.labels.iter().map(|&l| l as usize).collect();
    view.oof_note = format!(
        "Out-of-fold predictions of {} on {} rows (each row predicted by a model that did not see it).",
        oof.source,
        labels.len()
    );
    let classes: Vec<usize> = if k == 2 {
        vec![1]
    } else {
        (0..k.min(MAX_CLASS_CURVES)).collect()
    };
    let mut rocs = Vec::new();
    let mut prs = Vec::new();
    for &c in &classes {
        let scores: Vec<f64> = oof.predictions.iter().map(|p| p[c]).collect();
        let positive: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        if let Some(curve) = roc(&scores, &positive) {
            rocs.push((
                format!("class {} (AUC {:.3})", names[c], curve.area),
                thin(&curve.points, MAX_CURVE_POINTS),
                c,
            ));
        }
        if let Some(curve) = precision_recall(&scores, &positive) {
            prs.push((
                format!("class {} (AP {:.3})", names[c], curve.area),
                thin(&curve.points, MAX_CURVE_POINTS),
                c,
            ));
        }
    }
    let which = if k == 2 {
        format!("class {} against {}", names[1], names[0])
    } else {
        "each class against the rest".into()
    };
    view.roc_svg = Some(xy_chart(
        &Frame {
            title: &format!("ROC, {which}"),
            x_label: "false positive rate",
            y_label: "true positive rate",
            x: (0.0, 1.0),
            y: (0.0, 1.02),
            size: HALF,
            reference: Some(((0.0, 0.0), (1.0, 1.0))),
            legend: Some(Legend::LowerRight),
        },
        &curve_series(&rocs),
    )?);
    view.pr_svg = Some(xy_chart(
        &Frame {
            title: &format!("Precision-recall, {which}"),
            x_label: "recall",
            y_label: "precision",
            x: (0.0, 1.0),
            y: (0.0, 1.02),
            size: HALF,
            reference: None,
            legend: Some(Legend::LowerLeft),
        },
        &curve_series(&prs),
    )?);
    let (p, happened, title): (Vec<f64>, Vec<bool>, String) = if k == 2 {
        (
            oof.predictions.iter().map(|p| p[1]).collect(),
            labels.iter().map(|&l| l == 1).collect(),
            format!("Calibration of P({})", names[1]),
        )
    } else {
        (
            oof.predictions.iter().map(|p| p[argmax(p)]).collect(),
            oof.predictions
                .iter()
                .zip(&labels)
                .map(|(p, &l)| argmax(p) == l)
                .collect(),
            "Calibration of the top class's probability".into(),
        )
    };
    let bins = calibration(&p, &happened, 10);
    let bin_points: Vec<(f64, f64)> = bins.iter().map(|b| (b.predicted, b.observed)).collect();
    view.calibration_svg = Some(xy_chart(
        &Frame {
            title: &title,
            x_label: "mean predicted probability (10 bins)",
            y_label: if k == 2 {
                "share of positives"
            } else {
                "share correct"
            },
            x: (0.0, 1.0),
            y: (0.0, 1.02),
            size: HALF,
            reference: Some(((0.0, 0.0), (1.0, 1.0))),
            legend: Some(Legend::UpperLeft),
        },
        &[
            Series {
                name: "model".into(),
                points: &bin_points,
                colour: colour(0),
                line: true,
                radius: 0,
            },
            Series {
                name: String::new(),
                points: &bin_points,
                colour: colour(0),
                line: false,
                radius: 4,
            },
        ],
    )?);
    let predicted: Vec<usize> = oof.predictions.iter().map(|p| argmax(p)).collect();
    let matrix = confusion(&labels, &predicted, k);
    view.confusion = Some(Confusion {
        classes: names.clone(),
        rows: matrix
            .iter()
            .enumerate()
            .map(|(a, row)| {
                let total = row.iter().sum::<usize>().max(1) as f64;
                ConfusionRow {
                    class: names[a].clone(),
                    cells: row
                        .iter()
                        .map(|&n| {
                            let share = n as f64 / total;
                            ConfusionCell {
                                count: n,
                                shade: format!("{:.3}", 0.08 + 0.82 * share),
                                dark: share > 0.5,
                            }
                        })
                        .collect(),
                }
            })
            .collect(),
    });
    Ok(())
}

/// A curve's legend text, points and class.
type NamedCurve = (String, Vec<(f64, f64)>, usize);

/// Named curves as chart series, coloured by class.
fn curve_series(curves: &[NamedCurve]) -> Vec<Series<'_>> {
    curves
        .iter()
        .map(|(name, pts, c)| Series {
            name: name.clone(),
            points: pts,
            colour: colour(*c),
            line: true,
            radius: 0,
        })
        .collect()
}

fn regression(view: &mut View, data: &ReportData) -> Result<()> {
    let Some(oof) = &data.oof else {
        view.oof_note = "No out-of-fold predictions were recorded for this run.".into();
        return Ok(());
    };
    let stride = oof.labels.len().div_ceil(MAX_SCATTER_POINTS).max(1);
    let pairs: Vec<(f64, f64)> = oof
        .labels
        .iter()
        .zip(&oof.predictions)
        .step_by(stride)
        .filter_map(|(&y, p)| p.first().map(|&q| (y, q)))
        .filter(|(y, q)| y.is_finite() && q.is_finite())
        .collect();
    view.oof_note = format!(
        "Out-of-fold predictions of {} on {} rows (each row predicted by a model that did not see it){}.",
        oof.source,
        oof.labels.len(),
        if stride > 1 { format!("; every {stride}th row drawn") } else { String::new() }
    );
    let (lo, hi) = extent(pairs.iter().flat_map(|&(y, q)| [y, q]));
    let range = padded(lo, hi);
    let label = &data.summary.label;
    view.pva_svg = Some(xy_chart(
        &Frame {
            title: "Predicted against actual",
            x_label: &format!("actual {label}"),
            y_label: "predicted",
            x: range,
            y: range,
            size: HALF,
            reference: Some(((range.0, range.0), (range.1, range.1))),
            legend: None,
        },
        &[Series {
            name: String::new(),
            points: &pairs,
            colour: colour(0),
            line: false,
            radius: 3,
        }],
    )?);
    let residuals: Vec<(f64, f64)> = pairs.iter().map(|&(y, q)| (q, y - q)).collect();
    let x = padded(
        extent(residuals.iter().map(|r| r.0)).0,
        extent(residuals.iter().map(|r| r.0)).1,
    );
    let (r_lo, r_hi) = extent(residuals.iter().map(|r| r.1));
    let bound = r_lo.abs().max(r_hi.abs());
    view.residuals_svg = Some(xy_chart(
        &Frame {
            title: "Residuals (actual − predicted)",
            x_label: "predicted",
            y_label: "residual",
            x,
            y: padded(-bound, bound),
            size: HALF,
            reference: Some(((x.0, 0.0), (x.1, 0.0))),
            legend: None,
        },
        &[Series {
            name: String::new(),
            points: &residuals,
            colour: colour(1),
            line: false,
            radius: 3,
        }],
    )?);
    Ok(())
}

fn forecasting(view: &mut View, data: &ReportData) -> Result<()> {
    let Some(f) = &data.forecast else {
        view.forecast_note = "No forecasts were recorded for this run.".into();
        return Ok(());
    };
    let band = format!(
        "{:.0}%–{:.0}% interval",
        f.interval.0 * 100.0,
        f.interval.1 * 100.0
    );
    for s in &f.series {
        let title = format!(
            "{}: {} steps, forecast {} to {}",
            s.name,
            s.length,
            s.times.get(s.history.len()).map_or("", String::as_str),
            s.times.last().map_or("", String::as_str)
        );
        view.forecast_svgs.push(forecast_chart(&ForecastChart {
            title: &title,
            times: &s.times,
            history: &s.history,
            forecast: &s.forecast,
            lower: &s.lower,
            upper: &s.upper,
            band: &band,
            // One series gets the whole width.
            size: if f.series.len() == 1 { FULL } else { HALF },
        })?);
    }
    view.forecast_note = format!(
        "The shipped model's forecast of the {} steps after each series' history, with the {band} from its rolling-origin residuals; {} of {} series drawn.",
        f.horizon,
        f.series.len(),
        f.n_series
    );
    Ok(())
}

fn importance(view: &mut View, data: &ReportData) -> Result<()> {
    let Some(e) = &data.explanations else {
        view.importance_note = if data.summary.task == "forecasting" {
            "Permutation importance is not computed for forecasting runs yet.".into()
        } else {
            "Permutation importance was not computed for this run (model_explainability off, or it did not fit in its share of the budget).".into()
        };
        return Ok(());
    };
    let top: Vec<_> = e.importances.iter().take(IMPORTANCE_COLUMNS).collect();
    let labels: Vec<String> = top.iter().map(|i| i.column.clone()).collect();
    let means: Vec<f64> = top.iter().map(|i| i.mean).collect();
    let stds: Vec<f64> = top.iter().map(|i| i.std).collect();
    let height = (90 + 28 * labels.len() as u32).max(200);
    view.importance_svg = Some(bar_chart(
        "Permutation importance of the raw input columns",
        &format!(
            "increase of the {} loss when the column is shuffled",
            e.metric
        ),
        &labels,
        &means,
        &stds,
        (FULL.0, height),
    )?);
    view.importance_note = format!(
        "{} of {} columns, most important first; on {}, computed in {:.2} s ({:.1}% of the budget). Whiskers: ± one standard deviation over the shuffles.",
        labels.len(),
        e.importances.len(),
        e.rows,
        e.seconds,
        e.budget_share * 100.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::OutOfFold;
    use crate::report::{ReportSummary, FORMAT_VERSION};
    use crate::store::records::{ChildRun, RunListEntry};
    use crate::tracking::RunStatus;

    fn run_detail() -> RunDetail {
        let child = |index: usize, algorithm: &str, score: f64, end: &str| ChildRun {
            id: format!("r-t{index}"),
            index,
            algorithm: algorithm.into(),
            status: RunStatus::Completed,
            error: None,
            params: BTreeMap::from([("alpha".to_string(), serde_json::json!(0.5))]),
            metrics: BTreeMap::from([("AUC_weighted".to_string(), score)]),
            fold_metrics: BTreeMap::new(),
            started: "2026-01-01T00:00:00Z".into(),
            ended: Some(end.into()),
            duration_secs: Some(1.0),
        };
        RunDetail {
            summary: RunListEntry {
                id: "r".into(),
                experiment: "exp <b>".into(),
                status: RunStatus::Completed,
                started: "2026-01-01T00:00:00Z".into(),
                ended: None,
                duration_secs: None,
                metrics: BTreeMap::new(),
                trials: 2,
                failed_trials: 0,
            },
            parent: None,
            algorithm: None,
            error: None,
            spec: None,
            fingerprint: None,
            params: BTreeMap::new(),
            fold_metrics: BTreeMap::new(),
            outcome: None,
            process: None,
            children: vec![
                child(0, "LogisticRegression", 0.8, "2026-01-01T00:00:02Z"),
                child(1, "LightGBM", 0.9, "2026-01-01T00:00:05Z"),
            ],
        }
    }

    fn binary_data() -> ReportData {
        ReportData {
            format_version: FORMAT_VERSION,
            summary: ReportSummary {
                experiment: "exp <b>".into(),
                data: "d.csv".into(),
                label: "y".into(),
                task: "classification".into(),
                metric: "AUC_weighted".into(),
                budget_s: 60.0,
                max_trials: Some(2),
                rows: 4,
                validation: "2-fold".into(),
                best_learner: "LightGBM".into(),
                best_index: 1,
                best_score: 0.9,
                final_model: "refit on all rows".into(),
                stop_reason: "the trial cap".into(),
                trials: 2,
                elapsed_s: 6.0,
            },
            columns: Vec::new(),
            guardrails: Vec::new(),
            classes: vec![("no".into(), 2), ("<yes>".into(), 2)],
            oof: Some(OutOfFold {
                source: "#1 LightGBM".into(),
                rows: vec![0, 1, 2, 3],
                labels: vec![0.0, 1.0, 1.0, 0.0],
                predictions: vec![
                    vec![0.9, 0.1],
                    vec![0.2, 0.8],
                    vec![0.6, 0.4],
                    vec![0.3, 0.7],
                ],
            }),
            forecast: None,
            explanations: None,
        }
    }

    #[test]
    fn a_binary_report_has_every_section_and_escapes_user_text() {
        let html = render(&binary_data(), &run_detail()).unwrap();
        for id in [
            "summary",
            "data",
            "leaderboard",
            "progress",
            "roc",
            "pr",
            "calibration",
            "confusion",
            "importance",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no section {id}");
        }
        assert!(
            html.contains("exp &lt;b&gt;"),
            "experiment name not escaped"
        );
        assert!(!html.contains("exp <b>"));
        assert!(html.contains("&lt;yes&gt;"));
        assert!(!html.contains("<script"), "the report needs no script");
        // Confusion counts: actual no -> [1 predicted no, 1 predicted yes]; yes -> [1, 1].
        assert_eq!(html.matches("class=\"cm-cell").count(), 4);
        assert!(html.matches("<svg").count() >= 4);
    }

    #[test]
    fn the_best_so_far_line_follows_the_scores_in_time() {
        let mut view_html = render(&binary_data(), &run_detail()).unwrap();
        view_html.retain(|c| c != '\n');
        assert!(view_html.contains("best so far"));
        assert!(view_html.contains("2 scored trials of 2 algorithm(s)"));
    }
}
