//! The engine: one function that takes a [`JobSpec`] through load, featurization, search and
//! refit, and returns the leaderboard and the trained [`Pipeline`].

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{
    infer_schema, load_table_with_report, Column, ColumnValues, Dataset, LoadOptions, Schema,
};
use crate::error::{AutotabError, Result};
use crate::featurize::{fit_featurizer, run_guardrails, FeaturizerConfig, Guardrail};
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::models::trees::BinnedData;
use crate::models::{
    uses_binned_features, Algorithm, Estimator, FitContext, FittedModel, TrainSet,
};
use crate::pipeline::Pipeline;
use crate::search::{run_search, PreparedFold, SearchSettings, StopReason, TrialRecord};
use crate::target::{encode_label, infer_task, LabelEncoding, Targets};
use crate::task::Task;
use crate::validation::{subsample_rows, ValidationPlan};

/// What is known when a run starts searching: the data's shape, schema, task and metric.
#[derive(Debug)]
pub struct RunStart<'a> {
    /// The job.
    pub spec: &'a JobSpec,
    /// The inferred schema.
    pub schema: &'a Schema,
    /// The task.
    pub task: Task,
    /// The primary metric.
    pub metric: Metric,
    /// The validation scheme, described.
    pub validation: String,
    /// Training rows (label present).
    pub rows: usize,
    /// Columns of the training table, label included.
    pub columns: usize,
}

/// Hears about a run as it goes (the CLI prints; tracking records).
pub trait RunObserver {
    /// The data was loaded and its schema inferred.
    fn schema(&mut self, _start: &RunStart) {}
    /// The data guardrails were run.
    fn guardrails(&mut self, _guardrails: &[Guardrail]) {}
    /// A trial finished.
    fn trial(&mut self, _trial: &TrialRecord) {}
    /// A progress message.
    fn message(&mut self, _message: &str) {}
    /// The run was recorded under this id (tracked runs only).
    fn run_started(&mut self, _run_id: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl RunObserver for Quiet {}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The task solved.
    pub task: Task,
    /// The primary metric.
    pub metric: Metric,
    /// The inferred schema.
    pub schema: Schema,
    /// Guardrail findings.
    pub guardrails: Vec<Guardrail>,
    /// How rows were validated.
    pub validation: String,
    /// Every trial, in launch order.
    pub trials: Vec<TrialRecord>,
    /// The trial whose configuration was refit.
    pub best: TrialRecord,
    /// The refit pipeline.
    pub pipeline: Pipeline,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// Rows used for training (label present).
    pub n_rows: usize,
    /// Class counts (classification), in class order.
    pub class_counts: Vec<(String, usize)>,
    /// Wall seconds of the whole run.
    pub elapsed_s: f64,
    /// Seconds spent refitting the winner on all rows.
    pub refit_s: f64,
    /// The first training row's input columns, for a sample request.
    pub sample: Dataset,
}

/// A compact, serialisable summary of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Task name.
    pub task: String,
    /// Metric name.
    pub metric: String,
    /// Best cross-validated score.
    pub best_score: f64,
    /// Algorithm of the best trial.
    pub best_algorithm: String,
    /// Number of trials.
    pub trials: usize,
    /// Wall seconds.
    pub elapsed_s: f64,
}

impl RunOutcome {
    /// The summary of this run.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            task: self.task.name().to_string(),
            metric: self.metric.name().to_string(),
            best_score: self.best.score.unwrap_or(f64::NAN),
            best_algorithm: self.best.algorithm.name().to_string(),
            trials: self.search_trials(),
            elapsed_s: self.elapsed_s,
        }
    }

    /// Number of search trials (the ensemble, if any, is not one).
    pub fn search_trials(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.algorithm != Algorithm::VotingEnsemble)
            .count()
    }

    /// Completed trials, best first.
    pub fn leaderboard(&self) -> Vec<&TrialRecord> {
        let mut done: Vec<&TrialRecord> =
            self.trials.iter().filter(|t| t.score.is_some()).collect();
        done.sort_by(|a, b| {
            let la = self.metric.to_loss(a.score.unwrap_or(f64::NAN));
            let lb = self.metric.to_loss(b.score.unwrap_or(f64::NAN));
            la.total_cmp(&lb).then(a.index.cmp(&b.index))
        });
        done
    }
}

/// Seconds kept at the end of the budget for writing results.
const FINISH_MARGIN_S: f64 = 0.5;

/// Loads the training table (and the validation table, appended at the end).
pub fn load_job_data(spec: &JobSpec) -> Result<(Dataset, Option<usize>)> {
    load_job_data_with_notes(spec).map(|(data, n_valid, _)| (data, n_valid))
}

/// Like [`load_job_data`], with the loaders' notes (rows read leniently) as message lines.
fn load_job_data_with_notes(spec: &JobSpec) -> Result<(Dataset, Option<usize>, Vec<String>)> {
    let options = LoadOptions::default();
    let (train, report) = load_table_with_report(&spec.training_data, &options)?;
    let mut notes = report.messages(&spec.training_data);
    let Some(valid_path) = &spec.validation_data else {
        return Ok((train, None, notes));
    };
    let (valid, report) = load_table_with_report(valid_path, &options)?;
    notes.extend(report.messages(valid_path));
    let mut columns = Vec::with_capacity(train.columns().len());
    for col in train.columns() {
        let other = valid.column(&col.name).ok_or_else(|| {
            AutotabError::data(format!(
                "{}: column '{}' of the training data is missing",
                valid_path.display(),
                col.name
            ))
        })?;
        columns.push(Column {
            name: col.name.clone(),
            values: concat_values(&col.values, &other.values),
        });
    }
    Ok((Dataset::new(columns)?, Some(valid.n_rows()), notes))
}

fn concat_values(a: &ColumnValues, b: &ColumnValues) -> ColumnValues {
    match (a, b) {
        (ColumnValues::Numeric(x), ColumnValues::Numeric(y)) => {
            ColumnValues::Numeric(x.iter().chain(y).copied().collect())
        }
        _ => {
            let text = |v: &ColumnValues| (0..v.len()).map(|i| v.text_at(i)).collect::<Vec<_>>();
            let mut all = text(a);
            all.extend(text(b));
            ColumnValues::Text(all)
        }
    }
}

/// The job's data, ready to split: label encoded, rows without a label dropped, schema inferred.
struct Prepared {
    data: Dataset,
    features_table: Dataset,
    targets: Targets,
    encoding: LabelEncoding,
    task: Task,
    metric: Metric,
    schema: Schema,
    class_counts: Vec<(String, usize)>,
    /// Rows of a given validation table (at the end of `data`).
    n_valid_rows: Option<usize>,
    /// Rows dropped for a missing label.
    dropped: usize,
    /// What the loaders read leniently, one line each.
    load_notes: Vec<String>,
}

/// Loads the job's data and works out task, metric, targets and schema.
fn prepare(spec: &JobSpec) -> Result<Prepared> {
    let (data, n_given_valid, load_notes) = load_job_data_with_notes(spec)?;
    let label_column = data.require(&spec.label).map_err(|_| {
        AutotabError::data(format!(
            "{}: label column '{}' not found; the columns are: {}",
            spec.training_data.display(),
            spec.label,
            data.names().join(", ")
        ))
    })?;
    let task = spec.task.unwrap_or_else(|| infer_task(label_column));
    if task == Task::Forecasting {
        return Err(AutotabError::config(
            "forecasting is not supported yet: use classification or regression",
        ));
    }
    let metric = spec.metric.unwrap_or_else(|| Metric::default_for(task));
    metric.check_task(task)?;
    let (encoding, targets, kept) = encode_label(label_column, task)?;
    let total = data.n_rows();
    let dropped = total - kept.len();
    let n_valid_rows = n_given_valid.map(|n| kept.iter().filter(|&&i| i >= total - n).count());
    let data = if dropped > 0 {
        data.select_rows(&kept)
    } else {
        data
    };
    let features_table = data.without(&spec.label);
    let schema = infer_schema(&data, &spec.label, &spec.column_kinds)?;
    if schema.features().next().is_none() {
        return Err(AutotabError::data(format!(
            "{}: no usable feature column (all are ID-like or constant)",
            spec.training_data.display()
        )));
    }
    let class_counts: Vec<(String, usize)> = match &targets {
        Targets::Classes(labels, n) => {
            let mut counts = vec![0usize; *n];
            labels.iter().for_each(|&l| counts[l] += 1);
            encoding.classes().iter().cloned().zip(counts).collect()
        }
        Targets::Values(_) => Vec::new(),
    };
    Ok(Prepared {
        data,
        features_table,
        targets,
        encoding,
        task,
        metric,
        schema,
        class_counts,
        n_valid_rows,
        dropped,
        load_notes,
    })
}

/// Fits one configuration on all rows of the job's data (no search): what registering a
/// chosen child run needs. Returns the pipeline and the first row's inputs (a sample request).
pub fn fit_configuration(spec: &JobSpec, trial: &TrialRecord) -> Result<(Pipeline, Dataset)> {
    let p = prepare(spec)?;
    let config = FeaturizerConfig {
        mode: spec.featurization,
        ..FeaturizerConfig::default()
    };
    let featurizer = fit_featurizer(&p.schema, &p.features_table, &config)?;
    let x_all = featurizer.transform(&p.features_table)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.max_concurrent_trials.max(1))
        .stack_size(crate::search::TRIAL_STACK_BYTES)
        .build()
        .map_err(|e| AutotabError::config(format!("cannot start the worker pool: {e}")))?;
    let deadline = Instant::now() + spec.timeout.max(Duration::from_secs(60));
    let model = pool.install(|| {
        refit(
            trial,
            &x_all,
            &p.targets,
            &OnceLock::new(),
            deadline,
            spec.seed,
        )
    })?;
    let pipeline = Pipeline {
        task: p.task,
        label: spec.label.clone(),
        label_encoding: p.encoding,
        schema: p.schema,
        algorithm: trial.algorithm,
        featurizer,
        model,
    };
    Ok((pipeline, p.features_table.select_rows(&[0])))
}

/// Runs a whole AutoML job within its time budget.
pub fn run(spec: &JobSpec, observer: &mut dyn RunObserver) -> Result<RunOutcome> {
    let start = Instant::now();
    if spec.timeout.is_zero() {
        return Err(AutotabError::config(
            "the timeout must be more than 0 seconds",
        ));
    }
    if spec.max_concurrent_trials == 0 {
        return Err(AutotabError::config(
            "max_concurrent_trials must be at least 1",
        ));
    }
    let hard_end = start + spec.timeout;
    let Prepared {
        data,
        features_table,
        targets,
        encoding,
        task,
        metric,
        schema,
        class_counts,
        n_valid_rows,
        dropped,
        load_notes,
    } = prepare(spec)?;
    for note in &load_notes {
        observer.message(note);
    }
    if dropped > 0 {
        observer.message(&format!(
            "dropped {dropped} rows whose label '{}' is missing",
            spec.label
        ));
    }
    let guardrails = run_guardrails(
        &schema,
        &features_table,
        (!class_counts.is_empty()).then_some(&class_counts[..]),
    );
    let plan = match (n_valid_rows, spec.n_cross_validations, spec.validation_size) {
        (Some(n), _, _) => ValidationPlan::Given {
            n_valid: n.min(data.n_rows().saturating_sub(1)),
        },
        (None, Some(k), _) => ValidationPlan::CrossValidation { folds: k },
        (None, None, Some(f)) => ValidationPlan::Holdout { fraction: f },
        (None, None, None) => ValidationPlan::default_for(data.n_rows()),
    };
    if let Targets::Classes(_, _) = &targets {
        let folds_needed = match plan {
            ValidationPlan::CrossValidation { folds } => folds,
            _ => 2,
        };
        if let Some((name, count)) = class_counts.iter().find(|(_, c)| *c < folds_needed.min(2)) {
            return Err(AutotabError::data(format!(
                "class '{name}' of label '{}' has only {count} row(s): too few to validate",
                spec.label
            )));
        }
    }
    observer.schema(&RunStart {
        spec,
        schema: &schema,
        task,
        metric,
        validation: plan.describe(),
        rows: data.n_rows(),
        columns: data.columns().len(),
    });
    observer.guardrails(&guardrails);
    let algorithms = spec.algorithms_for(task)?;
    let featurizer_config = FeaturizerConfig {
        mode: spec.featurization,
        ..FeaturizerConfig::default()
    };

    // Featurize every fold once; trials share them read-only.
    let prep_start = Instant::now();
    let folds = plan.folds(&targets, spec.seed)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.max_concurrent_trials)
        .stack_size(crate::search::TRIAL_STACK_BYTES)
        .build()
        .map_err(|e| AutotabError::config(format!("cannot start the worker pool: {e}")))?;
    let prepared: Vec<PreparedFold> = pool.install(|| {
        folds
            .par_iter()
            .map(|fold| {
                let train_rows = features_table.select_rows(&fold.train);
                let valid_rows = features_table.select_rows(&fold.valid);
                let featurizer = fit_featurizer(&schema, &train_rows, &featurizer_config)?;
                Ok(PreparedFold::new(
                    featurizer.transform(&train_rows)?,
                    targets.select(&fold.train),
                    featurizer.transform(&valid_rows)?,
                    targets.select(&fold.valid),
                    fold.valid.clone(),
                ))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    // Bin every fold for the tree learners now, before trials share them: building it lazily
    // inside a trial could deadlock the pool (a thread blocked on the fold's lock while the
    // builder waits on work that thread stole).
    if algorithms.iter().any(|a| uses_binned_features(*a)) {
        pool.install(|| {
            prepared.par_iter().for_each(|f| {
                f.binned();
            })
        });
    }
    let prep_seconds = prep_start.elapsed().as_secs_f64();
    let mean_train_rows =
        prepared.iter().map(|f| f.x_train.nrows()).sum::<usize>() as f64 / prepared.len() as f64;
    let n_rows = data.n_rows();
    observer.message(&format!(
        "featurized {} fold(s) in {:.2}s: {} features",
        prepared.len(),
        prep_seconds,
        prepared[0].x_train.ncols()
    ));

    // The refit of a winner costs about one fold fit scaled to all rows, plus featurization.
    let scale = n_rows as f64 / mean_train_rows.max(1.0);
    let featurize_all = prep_seconds / prepared.len() as f64 * scale;
    let reserve = move |t: &TrialRecord| -> f64 {
        // A learner capped at fewer rows than a fold refits on the same number of rows.
        let capped = t
            .algorithm
            .max_train_rows()
            .is_some_and(|cap| (cap as f64) < mean_train_rows);
        let growth = if capped { 1.0 } else { scale.max(1.0) };
        t.fit_seconds_per_fold * growth * 1.3 + featurize_all + 0.2
    };
    let settings = SearchSettings {
        algorithms,
        end: Some(
            hard_end
                - Duration::from_secs_f64(FINISH_MARGIN_S.min(spec.timeout.as_secs_f64() / 10.0)),
        ),
        trial_timeout: spec.trial_timeout,
        max_trials: spec.max_trials,
        max_concurrent: spec.max_concurrent_trials,
        early_stopping: spec.early_stopping,
        seed: spec.seed,
    };
    let outcome = run_search(
        Arc::new(prepared),
        n_rows,
        metric,
        &settings,
        reserve,
        |t| observer.trial(t),
    )?;
    let mut ranked: Vec<&TrialRecord> = outcome
        .trials
        .iter()
        .filter(|t| t.score.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        metric
            .to_loss(a.score.unwrap_or(f64::NAN))
            .total_cmp(&metric.to_loss(b.score.unwrap_or(f64::NAN)))
            .then(a.index.cmp(&b.index))
    });
    if ranked.is_empty() {
        let reasons: BTreeMap<String, usize> =
            outcome.trials.iter().fold(BTreeMap::new(), |mut m, t| {
                *m.entry(format!("{:?}", t.status)).or_default() += 1;
                m
            });
        return Err(AutotabError::Budget(format!(
            "no trial completed within the {:.0}s budget ({} launched: {}); give a larger --timeout",
            spec.timeout.as_secs_f64(),
            outcome.trials.len(),
            reasons.keys().cloned().collect::<Vec<_>>().join("; ")
        )));
    }

    // A weighted ensemble of the best trials, when it beats the best single trial out of fold.
    let mut trials = outcome.trials.clone();
    let ensemble = select_ensemble(&outcome, &folds, &targets, metric, trials.len());

    // Refit the best configuration on all rows; fall back to the next ones if it fails.
    let refit_start = Instant::now();
    observer.message("refitting the best configuration on all rows");
    let featurizer = fit_featurizer(&schema, &features_table, &featurizer_config)?;
    let x_all = featurizer.transform(&features_table)?;
    let binned_all: OnceLock<BinnedData> = OnceLock::new();
    let mut last_error = None;
    let mut fitted = None;
    for candidate in ranked.iter().take(3) {
        let deadline = hard_end.max(Instant::now() + Duration::from_secs(1));
        // On the pool: its threads have the large stack some learners need.
        let result = pool.install(|| {
            refit(
                candidate,
                &x_all,
                &targets,
                &binned_all,
                deadline,
                spec.seed,
            )
        });
        match result {
            Ok(model) => {
                fitted = Some(((*candidate).clone(), model));
                break;
            }
            Err(e) => {
                observer.message(&format!("refit of trial {} failed: {e}", candidate.index));
                last_error = Some(e);
            }
        }
    }
    let Some((best, model)) = fitted else {
        return Err(
            last_error.unwrap_or_else(|| AutotabError::Budget("no model could be refit".into()))
        );
    };
    let (best, model) = match ensemble {
        Some((record, members)) => {
            let needed: f64 = members.iter().map(|(_, t)| reserve(t)).sum();
            let left = hard_end
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            if needed > left {
                observer.message(&format!(
                    "skipped the ensemble: refitting its {} members needs about {needed:.1}s, {left:.1}s left",
                    members.len()
                ));
                (best, model)
            } else {
                let mut fitted_members = Vec::with_capacity(members.len());
                for (weight, member) in &members {
                    if member.index == best.index {
                        continue;
                    }
                    let deadline = hard_end.max(Instant::now() + Duration::from_secs(1));
                    match pool.install(|| {
                        refit(member, &x_all, &targets, &binned_all, deadline, spec.seed)
                    }) {
                        Ok(m) => fitted_members.push((*weight, m)),
                        Err(e) => {
                            observer.message(&format!(
                                "skipped the ensemble: refit of trial {} failed: {e}",
                                member.index
                            ));
                            fitted_members.clear();
                            break;
                        }
                    }
                }
                if fitted_members.len() + 1 == members.len() {
                    let best_weight = members
                        .iter()
                        .find(|(_, t)| t.index == best.index)
                        .map(|m| m.0);
                    match best_weight {
                        Some(w) => {
                            fitted_members.push((w, model));
                            observer.trial(&record);
                            trials.push(record.clone());
                            (record, FittedModel::Ensemble(fitted_members))
                        }
                        None => (best, model),
                    }
                } else {
                    (best, model)
                }
            }
        }
        None => (best, model),
    };
    let refit_s = refit_start.elapsed().as_secs_f64();
    let pipeline = Pipeline {
        task,
        label: spec.label.clone(),
        label_encoding: encoding,
        schema: schema.clone(),
        algorithm: best.algorithm,
        featurizer,
        model,
    };
    Ok(RunOutcome {
        task,
        metric,
        schema,
        guardrails,
        validation: plan.describe(),
        trials,
        best,
        pipeline,
        stop_reason: outcome.stop_reason,
        n_rows,
        class_counts,
        elapsed_s: start.elapsed().as_secs_f64(),
        refit_s,
        sample: features_table.select_rows(&[0]),
    })
}

/// Fits `trial`'s configuration on all rows (subsampled for capped learners), turning a panic
/// of the learner into an error.
fn refit(
    trial: &TrialRecord,
    x_all: &Array2<f64>,
    targets: &Targets,
    binned_all: &OnceLock<BinnedData>,
    deadline: Instant,
    seed: u64,
) -> Result<FittedModel> {
    let estimator = Estimator::new(trial.algorithm, &trial.params)?;
    let ctx = FitContext {
        deadline: Some(deadline),
        seed,
        valid: None,
    };
    let fit = || match trial
        .algorithm
        .max_train_rows()
        .filter(|&c| c < x_all.nrows())
    {
        Some(cap) => {
            let rows = subsample_rows(x_all.nrows(), cap, seed);
            let x = x_all.select(Axis(0), &rows);
            let y = targets.select(&rows);
            let train = TrainSet {
                x: x.view(),
                y: y.as_ref(),
                weights: None,
                binned: None,
            };
            estimator.fit(&train, &ctx)
        }
        None => {
            let binned = uses_binned_features(trial.algorithm)
                .then(|| binned_all.get_or_init(|| BinnedData::build(x_all.view(), 255, 0)));
            let train = TrainSet {
                x: x_all.view(),
                y: targets.as_ref(),
                weights: None,
                binned,
            };
            estimator.fit(&train, &ctx)
        }
    };
    catch_unwind(AssertUnwindSafe(fit))
        .unwrap_or_else(|_| Err(AutotabError::fit(trial.algorithm, "the learner panicked")))
}

/// Picks a greedy ensemble over the kept out-of-fold predictions. Returns its record (scored
/// per fold like a trial) and its members with their weights, or `None` when no mixture beats
/// the best single trial.
fn select_ensemble<'a>(
    outcome: &'a crate::search::SearchOutcome,
    folds: &[crate::validation::Fold],
    targets: &Targets,
    metric: Metric,
    index: usize,
) -> Option<(TrialRecord, Vec<(f64, &'a TrialRecord)>)> {
    let started = Instant::now();
    let mut rows: Vec<usize> = folds.iter().flat_map(|f| f.valid.iter().copied()).collect();
    rows.sort_unstable();
    rows.dedup();
    let candidates: Vec<(usize, Array2<f64>)> = outcome
        .oof
        .iter()
        .take(ENSEMBLE_CANDIDATES)
        .cloned()
        .collect();
    let selection =
        crate::ensemble::greedy_selection(&candidates, &rows, targets, metric, ENSEMBLE_STEPS)
            .ok()??;
    let mut sum: Option<Array2<f64>> = None;
    let mut members = Vec::with_capacity(selection.members.len());
    for (trial_index, weight) in &selection.members {
        let trial = outcome.trials.iter().find(|t| t.index == *trial_index)?;
        let oof = &candidates.iter().find(|c| c.0 == *trial_index)?.1;
        let part = oof * *weight;
        sum = Some(match sum {
            Some(s) => s + part,
            None => part,
        });
        members.push((*weight, trial));
    }
    let sum = sum?;
    let fold_scores: Vec<f64> = folds
        .iter()
        .filter_map(|f| crate::ensemble::score_rows(metric, targets, &sum, &f.valid).ok())
        .collect();
    let n = fold_scores.len().max(1) as f64;
    let mean = fold_scores.iter().sum::<f64>() / n;
    let std = (fold_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
    let description: Vec<String> = members
        .iter()
        .map(|(w, t)| format!("#{} {} {:.2}", t.index, t.algorithm, w))
        .collect();
    let mut params = crate::models::Params::new();
    params.insert(
        "members".into(),
        crate::models::ParamValue::Choice(description.join(", ")),
    );
    let record = TrialRecord {
        index,
        algorithm: Algorithm::VotingEnsemble,
        params,
        status: crate::search::TrialStatus::Completed,
        score: Some(mean),
        score_std: Some(std),
        fold_scores,
        seconds: started.elapsed().as_secs_f64(),
        fit_seconds_per_fold: members.iter().map(|(_, t)| t.fit_seconds_per_fold).sum(),
        started_at: 0.0,
    };
    // Ranking uses the same mean-of-folds score as trials: keep the ensemble only if it wins.
    let best_single = outcome.best(metric)?.score?;
    if metric.to_loss(mean) >= metric.to_loss(best_single) {
        return None;
    }
    Some((record, members))
}

/// How many of the best trials the ensemble may draw from.
const ENSEMBLE_CANDIDATES: usize = 15;
/// Greedy additions (with replacement) when building an ensemble.
const ENSEMBLE_STEPS: usize = 20;
