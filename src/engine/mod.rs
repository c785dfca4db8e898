//! The engine: one AutoML run as named stages with typed hand-offs.
//!
//! ```text
//! load (JobTable -> LoadedData) -> plan (RunPlan) -> featurize folds (FoldSet)
//!   -> search (SearchOutcome) -> ensembles (voting?, stack?) -> finalize (Pipeline)
//!   -> package (RunOutcome::save_bundle, or experiment::run_tracked)
//! ```
//! [`AutoMl`] is the library entry point; [`run`] is the same run on a [`JobSpec`].

mod finalize;
mod folds;
pub mod forecast;
mod load;
mod observer;
mod outcome;
mod plan;
mod stack;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use load::{load_job_table, JobTable};
pub use observer::{Quiet, RunObserver, RunStart};
pub use outcome::{OutOfFold, OutcomeSummary, RunOutcome};

use crate::data::Dataset;
use crate::ensemble::{
    choose_stack, choose_voting, EnsembleKind, EnsembleRecord, Learner, MetaLearner,
};
use crate::error::{AutotabError, Result};
use crate::job::{FinalModel, JobSpec};
use crate::leaderboard::rank_by_loss;
use crate::models::params::ParamType;
use crate::models::{log_possible, Algorithm, Params, TargetScale};
use crate::pipeline::Pipeline;
use crate::search::{
    run_search, CostFrugalScheduler, Fidelity, PreparedFold, SearchInputs, SearchOutcome,
    SearchSettings, TrialBackend, WorkerPool,
};
use crate::task::Task;
use finalize::{FoldModels, RefitCost, Refitter, REFIT_MARGIN};
use folds::FoldSet;
use load::LoadedData;
use plan::RunPlan;

/// Seconds kept at the end of the budget for writing results.
const FINISH_MARGIN_S: f64 = 0.5;

/// An AutoML job, ready to fit: the library's entry point for every task. Classification and
/// regression run the stages above ([`run`]); forecasting runs [`forecast::fit_forecasting`].
///
/// ```
/// use autotab::{AutoMl, JobSpec, Predictor};
/// use autotab::data::{load_table, LoadOptions};
///
/// let mut job = JobSpec::new("datasets/heart_failure.csv", "DEATH_EVENT");
/// job.limits.timeout = std::time::Duration::from_secs(20);
/// job.limits.max_trials = Some(4);
/// let data = load_table("datasets/heart_failure.csv".as_ref(), &LoadOptions::default())?;
/// let outcome = AutoMl::new(job).fit(&data)?;
/// println!("{} scored {:.3}", outcome.best_algorithm(), outcome.best_score());
///
/// let dir = std::env::temp_dir().join(format!("autotab-doctest-{}", std::process::id()));
/// outcome.save_bundle(&dir)?;
/// let predictions = Predictor::load(&dir)?.predict(&data)?;
/// assert_eq!(predictions.labels.len(), data.n_rows());
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), autotab::AutotabError>(())
/// ```
///
/// A forecasting job (`job.task = Some(Task::Forecasting)` with `job.forecasting` naming the
/// time column and horizon) fits the same way; its bundle is a forecasting bundle
/// ([`crate::forecast::ForecastModel`]), and `examples/forecast_oj.rs` runs one.
pub struct AutoMl<'o> {
    job: JobSpec,
    observer: Option<&'o mut dyn RunObserver>,
}

impl<'o> AutoMl<'o> {
    /// A run of `job` (its data paths are used by [`AutoMl::fit_job_data`] only).
    pub fn new(job: JobSpec) -> Self {
        AutoMl {
            job,
            observer: None,
        }
    }

    /// Reports progress to `observer` (trials, messages, guardrails).
    pub fn observer(mut self, observer: &'o mut dyn RunObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Searches, ensembles and refits on `data` (training rows, label included).
    pub fn fit(self, data: &Dataset) -> Result<FitOutcome> {
        let forecasting = is_forecasting(&self.job);
        let started = Instant::now();
        let clock = RunClock::start(&self.job)?;
        let mut quiet = Quiet;
        let observer = self.observer.unwrap_or(&mut quiet);
        if forecasting {
            return forecast::fit_forecasting(&self.job, data, started, observer)
                .map(|o| FitOutcome::Forecasting(Box::new(o)));
        }
        run_on(
            &self.job,
            JobTable::training(data.clone()),
            clock,
            observer,
            None,
        )
        .map(|o| FitOutcome::Tabular(Box::new(o)))
    }

    /// Searches, ensembles and refits on the job's own training (and validation) data.
    pub fn fit_job_data(self) -> Result<FitOutcome> {
        let mut quiet = Quiet;
        let observer = self.observer.unwrap_or(&mut quiet);
        if is_forecasting(&self.job) {
            return forecast::run_forecasting(&self.job, observer)
                .map(|o| FitOutcome::Forecasting(Box::new(o)));
        }
        run(&self.job, observer).map(|o| FitOutcome::Tabular(Box::new(o)))
    }
}

/// Whether `job` is a forecasting job: its task says so, or, without a task, its forecasting
/// settings name a time column.
fn is_forecasting(job: &JobSpec) -> bool {
    match job.task {
        Some(task) => task == Task::Forecasting,
        None => job
            .forecasting
            .as_ref()
            .is_some_and(|f| f.time_column_name.is_some()),
    }
}

/// What [`AutoMl::fit`] produced: the job's task decides which.
#[derive(Debug)]
pub enum FitOutcome {
    /// Classification or regression: the searched, refit pipeline.
    Tabular(Box<RunOutcome>),
    /// Forecasting: the searched, refit forecaster.
    Forecasting(Box<forecast::ForecastOutcome>),
}

impl FitOutcome {
    /// The task that ran.
    pub fn task(&self) -> Task {
        match self {
            FitOutcome::Tabular(o) => o.task,
            FitOutcome::Forecasting(_) => Task::Forecasting,
        }
    }

    /// The primary metric.
    pub fn metric(&self) -> crate::metrics::Metric {
        match self {
            FitOutcome::Tabular(o) => o.metric,
            FitOutcome::Forecasting(o) => o.metric,
        }
    }

    /// The shipped model's cross-validated score.
    pub fn best_score(&self) -> f64 {
        match self {
            FitOutcome::Tabular(o) => o.winner.score,
            FitOutcome::Forecasting(o) => o.model.score,
        }
    }

    /// What produced the shipped model (an algorithm, a forecasting method or an ensemble).
    pub fn best_algorithm(&self) -> String {
        match self {
            FitOutcome::Tabular(o) => o.winner.learner.name().to_string(),
            FitOutcome::Forecasting(o) => o.winner().forecaster.name(),
        }
    }

    /// Number of search trials.
    pub fn trials(&self) -> usize {
        match self {
            FitOutcome::Tabular(o) => o.trials.len(),
            FitOutcome::Forecasting(o) => o.trials.len(),
        }
    }

    /// Wall seconds of the run.
    pub fn elapsed_s(&self) -> f64 {
        match self {
            FitOutcome::Tabular(o) => o.elapsed_s,
            FitOutcome::Forecasting(o) => o.elapsed_s,
        }
    }

    /// Saves the model as a self-contained bundle folder, with no tracking: a tabular bundle
    /// ([`RunOutcome::save_bundle`]) or a forecasting one
    /// ([`crate::scoring::forecast::save_forecast_bundle`]); `autotab predict`, `serve` and the
    /// bundle's `score.py` score either.
    pub fn save_bundle(&self, dir: &Path) -> Result<()> {
        match self {
            FitOutcome::Tabular(o) => o.save_bundle(dir),
            FitOutcome::Forecasting(o) => {
                crate::scoring::forecast::save_forecast_bundle(dir, &o.model)
            }
        }
    }

    /// The tabular run's outcome (`None` for forecasting).
    pub fn tabular(&self) -> Option<&RunOutcome> {
        match self {
            FitOutcome::Tabular(o) => Some(o),
            FitOutcome::Forecasting(_) => None,
        }
    }

    /// The forecasting run's outcome (`None` for classification and regression).
    pub fn forecasting(&self) -> Option<&forecast::ForecastOutcome> {
        match self {
            FitOutcome::Forecasting(o) => Some(o),
            FitOutcome::Tabular(_) => None,
        }
    }

    /// The tabular run's outcome; an error naming the task for a forecasting run.
    pub fn into_tabular(self) -> Result<RunOutcome> {
        match self {
            FitOutcome::Tabular(o) => Ok(*o),
            FitOutcome::Forecasting(_) => Err(AutotabError::config(
                "this run was a forecasting run: its outcome is a forecasting one (into_forecasting)",
            )),
        }
    }

    /// The forecasting run's outcome; an error naming the task for another run.
    pub fn into_forecasting(self) -> Result<forecast::ForecastOutcome> {
        match self {
            FitOutcome::Forecasting(o) => Ok(*o),
            FitOutcome::Tabular(o) => Err(AutotabError::config(format!(
                "this run was a {} run: its outcome is a tabular one (into_tabular)",
                o.task
            ))),
        }
    }
}

/// Runs a whole AutoML job within its time budget, reading its data from the job's paths.
pub fn run(spec: &JobSpec, observer: &mut dyn RunObserver) -> Result<RunOutcome> {
    let clock = RunClock::start(spec)?;
    let table = load_job_table(spec)?;
    run_on(spec, table, clock, observer, None)
}

/// Runs a whole AutoML job as [`run`] does, except that its trials run on `remote` (a
/// distributed run's queue of trial rows) instead of this process's pool. The folds' models
/// stay where the trials ran, so the winner is always refit on all rows here.
pub fn run_remote(
    spec: &JobSpec,
    observer: &mut dyn RunObserver,
    remote: &mut dyn TrialBackend,
) -> Result<RunOutcome> {
    let clock = RunClock::start(spec)?;
    let table = load_job_table(spec)?;
    run_on(spec, table, clock, observer, Some(remote))
}

/// What reading and preparing a job's training data found (see [`inspect_job`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JobInspection {
    /// Rows with a label.
    pub rows: usize,
    /// Columns of the table.
    pub columns: usize,
    /// The inferred schema, as JSON (what a run records with its data fingerprint).
    pub schema: serde_json::Value,
}

/// Reads and prepares the training data of `spec` as a run does (label found and encoded, task
/// and metric inferred, schema inferred), without searching: what a submitted run is checked
/// with before it is queued.
pub fn inspect_job(spec: &JobSpec) -> Result<JobInspection> {
    let data = load::prepare(spec, load_job_table(spec)?)?;
    Ok(JobInspection {
        rows: data.data.n_rows(),
        columns: data.data.columns().len(),
        schema: serde_json::to_value(&data.schema).unwrap_or_default(),
    })
}

/// The folds of a run as a process that runs its trials elsewhere (a worker of a distributed
/// run) prepares them: the same stages as [`run`] up to the featurized folds.
#[derive(Debug)]
pub struct TrialFolds {
    /// The featurized folds.
    pub folds: Arc<Vec<PreparedFold>>,
    /// Rows of the training table.
    pub n_rows: usize,
    /// The primary metric.
    pub metric: crate::metrics::Metric,
    /// [`folds_digest`] of the folds, to compare with the coordinator's.
    pub digest: String,
}

/// Loads, plans and featurizes the folds of `spec` on `pool` exactly as [`run`] does, for a
/// worker that runs some of its trials.
pub fn prepare_trial_folds(spec: &JobSpec, pool: &WorkerPool) -> Result<TrialFolds> {
    let clock = RunClock::start(spec)?;
    let data = load::prepare(spec, load_job_table(spec)?)?;
    let plan = plan::plan(spec, &data)?;
    let folds = folds::featurize_folds(pool, &data, &plan, spec.seed, clock.hard_end)?;
    let digest = folds_digest(&folds.splits, folds.n_features());
    Ok(TrialFolds {
        folds: Arc::new(folds.prepared),
        n_rows: data.data.n_rows(),
        metric: data.metric,
        digest,
    })
}

/// A SHA-256 of the folds' rows and the number of features: two processes that read the same
/// data with the same job and autotab build the same digest.
pub fn folds_digest(splits: &[crate::validation::Fold], n_features: usize) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update((n_features as u64).to_le_bytes());
    for fold in splits {
        hash.update((fold.train.len() as u64).to_le_bytes());
        hash.update((fold.valid.len() as u64).to_le_bytes());
        for &row in &fold.valid {
            hash.update((row as u64).to_le_bytes());
        }
    }
    hex::encode(hash.finalize())
}

/// When the run started and when it must end.
#[derive(Debug, Clone, Copy)]
struct RunClock {
    start: Instant,
    hard_end: Instant,
}

impl RunClock {
    fn start(spec: &JobSpec) -> Result<RunClock> {
        if spec.limits.timeout.is_zero() {
            return Err(AutotabError::config(
                "the timeout must be more than 0 seconds",
            ));
        }
        let start = Instant::now();
        let hard_end = start.checked_add(spec.limits.timeout).ok_or_else(|| {
            AutotabError::config(format!(
                "the timeout of {:.0}s is too large for this machine's clock",
                spec.limits.timeout.as_secs_f64()
            ))
        })?;
        Ok(RunClock { start, hard_end })
    }

    /// When the search must have stopped: the end less a margin for writing results (at most
    /// a tenth of the budget).
    fn search_end(&self) -> Instant {
        let budget = self.hard_end - self.start;
        self.hard_end - Duration::from_secs_f64(FINISH_MARGIN_S.min(budget.as_secs_f64() / 10.0))
    }
}

/// Members, each as costly as the best trial, that the reserve at the end of the search pays
/// to refit (side by side, see [`RefitCost::like_seconds`]): an ensemble refits several members
/// of about its cost, and one that beat the best trial but could not be refit in time is lost
/// (seen on ames_housing: 7 members needing 9.1 s, 1.4 s left; with a reserve for 4, two
/// seeds of three lost their 6-member votes). The reserve beyond the best trial's own refit is
/// capped at [`ENSEMBLE_RESERVE_SHARE`] of the budget.
const ENSEMBLE_RESERVE_MEMBERS: f64 = 6.0;
/// Members of a small ensemble: when fold models can stand in, the search keeps a refit
/// reserve only if refitting that many members like the best trial is expected to fit in the
/// capped reserve (adult's 4-6 member votes refit in 2.5-5.5 s of its 6 s).
const SMALL_ENSEMBLE_MEMBERS: f64 = 4.0;
/// Most of the budget kept for refitting an ensemble beyond the best trial's refit (without a
/// cap, an expensive best trial early in a short run, such as 150 extra trees on diamonds at
/// 30 s, reserved more than the budget and ended the search after 5 s).
const ENSEMBLE_RESERVE_SHARE: f64 = 0.1;
/// Most of the budget kept at the end when the run ships the folds' models (nothing to refit;
/// the reserve covers assembling and saving them).
const FOLD_MODELS_RESERVE_SHARE: f64 = 0.02;
/// Most of the budget kept for refits in all: past it, a winner too costly to refit in the
/// time left is shipped as its validation fold's model instead (`engine::finalize`), which
/// costs the search less than ending it early (seen on diamonds at 30 s: one expensive early
/// trial's reserve ended the search after 6 trials).
const REFIT_RESERVE_MAX_SHARE: f64 = 0.1;

fn run_on(
    spec: &JobSpec,
    table: JobTable,
    clock: RunClock,
    observer: &mut dyn RunObserver,
    mut remote: Option<&mut dyn TrialBackend>,
) -> Result<RunOutcome> {
    let data = load::prepare(spec, table)?;
    let mut plan = plan::plan(spec, &data)?;
    announce(spec, &data, &plan, observer);
    if remote.is_some() && plan.final_model != FinalModel::Refit {
        plan.final_model = FinalModel::Refit;
        observer.message(
            "the trials run on workers, which keep their folds' models: the winner is refit on \
             all rows",
        );
    }
    let pool = worker_pool(spec.limits.max_concurrent_trials, observer)?;
    let folds = folds::featurize_folds(&pool, &data, &plan, spec.seed, clock.hard_end)?;
    observer.message(&format!(
        "featurized {} fold(s) in {:.2}s: {} features",
        folds.prepared.len(),
        folds.seconds,
        folds.n_features()
    ));
    if let Some(remote) = remote.as_mut() {
        let digest = folds_digest(&folds.splits, folds.n_features());
        remote.begin(&digest, clock.search_end())?;
    }
    let cost = RefitCost::new(
        data.data.n_rows(),
        folds.mean_train_rows(),
        folds.seconds,
        folds.prepared.len(),
        pool.threads(),
    );
    let FoldSet {
        splits,
        prepared,
        featurizers,
        ..
    } = folds;
    let mut search = search_stage(
        spec, &pool, &data, &plan, prepared, clock, cost, observer, remote,
    )?;
    let scored = ensemble_stage(spec, &data, &plan, &search, &splits, clock);
    if let Some(reason) = &scored.stack_error {
        observer.message(&format!("no stack ensemble: {reason}"));
    }
    for e in &scored.records {
        observer.ensemble(e, &search.trials);
    }
    let fold_models = FoldModels::new(featurizers, std::mem::take(&mut search.fold_models));
    let finalized = finalize::finalize(
        &pool,
        &data,
        &plan,
        &search,
        scored.candidates,
        fold_models,
        cost,
        clock.hard_end,
        spec.seed,
        observer,
    )?;
    let oof = winner_oof(&search, &scored.records, &finalized.winner, &splits, &data);
    Ok(RunOutcome {
        oof,
        experiment: spec.experiment.clone(),
        task: data.task,
        metric: data.metric,
        schema: data.schema.clone(),
        guardrails: plan.guardrails,
        validation: plan.validation.describe(),
        trials: search.trials,
        ensembles: scored.records,
        winner: finalized.winner,
        pipeline: finalized.pipeline,
        stop_reason: search.stop_reason,
        n_rows: data.data.n_rows(),
        class_counts: data.class_counts.clone(),
        elapsed_s: clock.start.elapsed().as_secs_f64(),
        refit_s: finalized.seconds,
        sample: data.features.select_rows(&[0]),
    })
}

/// The out-of-fold predictions behind `winner`'s score on the rows of the validation parts: a
/// trial's own, a voting ensemble's weighted average of its members', or for a stack (whose
/// meta-learner's out-of-fold predictions are not kept) those of the best trial.
fn winner_oof(
    search: &SearchOutcome,
    ensembles: &[EnsembleRecord],
    winner: &crate::leaderboard::Entry,
    splits: &[crate::validation::Fold],
    data: &LoadedData,
) -> Option<OutOfFold> {
    let of_trial = |index: usize| search.oof.iter().find(|(i, _)| *i == index).map(|(_, p)| p);
    let name_of = |index: usize| {
        search
            .trials
            .iter()
            .find(|t| t.index == index)
            .map_or("?", |t| t.algorithm.name())
    };
    let (source, predictions) = match winner.learner {
        Learner::Algorithm(a) => (
            format!("#{} {}", winner.index, a.name()),
            of_trial(winner.index)?.clone(),
        ),
        Learner::Ensemble(EnsembleKind::Voting) => {
            let record = ensembles.iter().find(|e| e.index == winner.index)?;
            let mut sum: Option<ndarray::Array2<f64>> = None;
            for m in &record.members {
                let p = of_trial(m.trial)? * m.weight;
                sum = Some(match sum {
                    Some(s) => s + p,
                    None => p,
                });
            }
            (format!("#{} {}", winner.index, winner.learner.name()), sum?)
        }
        Learner::Ensemble(EnsembleKind::Stack) => {
            let (index, p) = search.oof.first()?;
            (
                format!(
                    "#{index} {} (best trial; the stack's own are not kept)",
                    name_of(*index)
                ),
                p.clone(),
            )
        }
    };
    let mut rows: Vec<usize> = splits
        .iter()
        .flat_map(|f| f.valid.iter().copied())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    let labels = rows
        .iter()
        .map(|&r| match &data.targets {
            crate::target::Targets::Classes(c, _) => c[r] as f64,
            crate::target::Targets::Values(v) => v[r],
        })
        .collect();
    let predictions = rows.iter().map(|&r| predictions.row(r).to_vec()).collect();
    Some(OutOfFold {
        source,
        rows,
        labels,
        predictions,
    })
}

/// What the ensemble stage produced.
struct ScoredEnsembles {
    /// Every ensemble scored (listed on the leaderboard, recorded as child runs).
    records: Vec<EnsembleRecord>,
    /// Those that beat the best trial, best first, for finalizing.
    candidates: Vec<finalize::Candidate>,
    /// Why no stack was built, when building it failed.
    stack_error: Option<String>,
}

/// Stage 5, ensemble: the voting ensemble (when a mixture beats the best trial) and the stack
/// ensemble over the same members (recorded whether or not it beats it), both scored on the
/// trials' folds.
fn ensemble_stage(
    spec: &JobSpec,
    data: &LoadedData,
    plan: &RunPlan,
    search: &SearchOutcome,
    splits: &[crate::validation::Fold],
    clock: RunClock,
) -> ScoredEnsembles {
    // The ensembles take the numbers after the trials' (contiguous unless a resumed
    // distributed search left gaps).
    let next_index = search
        .trials
        .iter()
        .map(|t| t.index + 1)
        .max()
        .unwrap_or(0)
        .max(search.trials.len());
    let voting = choose_voting(search, splits, &data.targets, data.metric, next_index)
        .filter(|_| plan.ensembles);
    let stack = plan
        .stack
        .then(|| {
            choose_stack(
                search,
                voting.as_ref(),
                splits,
                &data.targets,
                data.metric,
                next_index + usize::from(voting.is_some()),
                Some(clock.hard_end),
                spec.seed,
            )
        })
        .transpose();
    let mut stack_error = None;
    let stack = stack
        .unwrap_or_else(|e| {
            stack_error = Some(e.to_string());
            None
        })
        .flatten();
    let best_loss = search
        .best(data.metric)
        .and_then(|t| t.score)
        .map_or(f64::INFINITY, |s| data.metric.to_loss(s));
    let mut records = Vec::new();
    let mut candidates = Vec::new();
    for (record, meta) in voting
        .map(|v| (v, None))
        .into_iter()
        .chain(stack.map(|s| (s.record, Some((s.meta, s.input)))))
    {
        if data.metric.to_loss(record.score) < best_loss {
            candidates.push(finalize::Candidate {
                record: record.clone(),
                meta,
            });
        }
        records.push(record);
    }
    rank_by_loss(
        &mut candidates,
        |c| Some(data.metric.to_loss(c.record.score)),
        |c| c.record.index,
    );
    ScoredEnsembles {
        records,
        candidates,
        stack_error,
    }
}

/// Tells the observer what the run starts from: dropped rows, schema, plan and guardrails.
fn announce(spec: &JobSpec, data: &LoadedData, plan: &RunPlan, observer: &mut dyn RunObserver) {
    for note in &data.notes {
        observer.message(note);
    }
    if data.dropped > 0 {
        observer.message(&format!(
            "dropped {} rows whose label '{}' is missing",
            data.dropped, spec.data.label
        ));
    }
    observer.schema(&RunStart {
        spec,
        schema: &data.schema,
        task: data.task,
        metric: data.metric,
        validation: plan.validation.describe(),
        rows: data.data.n_rows(),
        columns: data.data.columns().len(),
    });
    observer.guardrails(&plan.guardrails);
}

/// The run's one worker pool, capped at what the machine can run (with a message saying so).
fn worker_pool(requested: usize, observer: &mut dyn RunObserver) -> Result<WorkerPool> {
    let (pool, capped) = WorkerPool::new(requested)?;
    if capped {
        observer.message(&format!(
            "warning: max_concurrent_trials {requested} capped at {} ({} per core on this machine)",
            pool.threads(),
            WorkerPool::MAX_THREADS_PER_CORE
        ));
    }
    Ok(pool)
}

/// Stage 4, search: trials on the prepared folds until a stop rule holds; at least one must
/// complete.
#[allow(clippy::too_many_arguments)]
fn search_stage(
    spec: &JobSpec,
    pool: &WorkerPool,
    data: &LoadedData,
    plan: &RunPlan,
    folds: Vec<PreparedFold>,
    clock: RunClock,
    cost: RefitCost,
    observer: &mut dyn RunObserver,
    remote: Option<&mut dyn TrialBackend>,
) -> Result<SearchOutcome> {
    let budget = spec.limits.timeout.as_secs_f64();
    let settings = SearchSettings {
        end: Some(clock.search_end()),
        trial_timeout: spec.limits.trial_timeout,
        max_trials: spec.limits.max_trials,
        early_stopping: spec.limits.early_stopping,
        exit_score: spec.limits.exit_score,
        seed: spec.seed,
    };
    let smallest_fold = folds.iter().map(|f| f.train_rows()).min().unwrap_or(0);
    let inputs = SearchInputs {
        pool,
        folds: Arc::new(folds),
        n_rows: data.data.n_rows(),
        metric: data.metric,
        remote,
    };
    let mut scheduler = CostFrugalScheduler::new(plan.algorithms.clone(), spec.seed)
        .with_fidelity(Fidelity::for_rows(smallest_fold).filter(|_| spec.training.sample));
    if let Some(points) = &spec.training.starting_points {
        scheduler = scheduler.with_start(points.clone());
    }
    // Boosting may fit the label's logarithm only when every label is above 0.
    if !log_possible(data.targets.as_ref()) {
        scheduler = scheduler.with_pin(
            Algorithm::GradientBoosting,
            TargetScale::PARAM,
            TargetScale::Raw.to_value(),
        );
    }
    let fold_models = plan.prefers_fold_models();
    // Without fold models to fall back on, the refit must fit: no cap then.
    let reserve_cap = if plan.may_ship_fold_models(cost.train_share()) {
        REFIT_RESERVE_MAX_SHARE * budget
    } else {
        f64::INFINITY
    };
    let outcome = run_search(
        inputs,
        &mut scheduler,
        &settings,
        |t| {
            let refit = cost.seconds(t);
            let ensemble_refit = cost
                .like_seconds(t, ENSEMBLE_RESERVE_MEMBERS, REFIT_MARGIN)
                .min(refit + ENSEMBLE_RESERVE_SHARE * budget);
            // With fold models to fall back on, a refit is attempted past its safe estimate
            // (`finalize::RefitPlan::Attempt`): the expected time is enough to reserve.
            let expected = cost.like_seconds(t, SMALL_ENSEMBLE_MEMBERS, 1.0);
            if fold_models || expected > reserve_cap {
                // Nothing to refit, or a refit the capped reserve cannot pay for: the run ships
                // the folds' models, and the rest of the reserve is search time (adult,
                // diamonds and bank_marketing ended 6 s early with a reserve no refit used).
                refit.min(FOLD_MODELS_RESERVE_SHARE * budget)
            } else {
                ensemble_refit.min(reserve_cap)
            }
        },
        |t| observer.trial(t),
    )?;
    if outcome.best(data.metric).is_none() {
        let mut reasons: Vec<String> = outcome
            .trials
            .iter()
            .map(|t| format!("{:?}", t.status))
            .collect();
        reasons.sort();
        reasons.dedup();
        return Err(AutotabError::Budget(format!(
            "no trial completed within the {:.0}s budget ({} launched: {}); give a larger --timeout",
            spec.limits.timeout.as_secs_f64(),
            outcome.trials.len(),
            reasons.join("; ")
        )));
    }
    Ok(outcome)
}

/// A model to refit on all rows of a job's data without searching: one configuration, a
/// weighted ensemble of configurations, or a stack of configurations under a meta-learner
/// (what registering a child run needs).
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// What produces the model.
    pub learner: crate::ensemble::Learner,
    /// `(weight, algorithm, params)`; a single configuration has one member of weight 1.
    pub members: Vec<(f64, Algorithm, Params)>,
    /// A stack's meta-learner, fitted on the members' out-of-fold predictions over the job's
    /// validation folds (`None` for a single configuration or a voting ensemble).
    pub meta: Option<MetaLearner>,
}

impl Recipe {
    /// One configuration.
    pub fn single(algorithm: Algorithm, params: Params) -> Recipe {
        Recipe {
            learner: crate::ensemble::Learner::Algorithm(algorithm),
            members: vec![(1.0, algorithm, params)],
            meta: None,
        }
    }
}

/// Fits `recipe` on all rows of the job's data (a stack's meta-learner on its members'
/// out-of-fold predictions over the job's folds, see [`stack::fit_stack`]). Returns the
/// pipeline and the first row's inputs (a sample request).
pub fn fit_recipe(spec: &JobSpec, recipe: &Recipe) -> Result<(Pipeline, Dataset)> {
    let data = load::prepare(spec, load_job_table(spec)?)?;
    let (pool, _) = WorkerPool::new(spec.limits.max_concurrent_trials.max(1))?;
    let featurizer = crate::featurize::fit_featurizer_with_label(
        &data.schema,
        &data.features,
        Some(&data.targets),
        &spec.featurization.featurizer_config(),
    )?;
    // The rounds scale of the run's own refit, from the same folds.
    let folds = spec
        .validation_plan(data.data.n_rows(), data.n_given_valid)
        .folds(&data.targets, spec.seed)?;
    let refitter = Refitter::new(
        &pool,
        featurizer.transform(&data.features)?,
        &data.targets,
        spec.seed,
    )
    .with_rounds_scale(finalize::refit_rounds_scale(
        data.data.n_rows(),
        crate::validation::mean_train_rows(&folds),
    ));
    let deadline = Instant::now() + spec.limits.timeout.max(Duration::from_secs(60));
    let model = match (&recipe.meta, recipe.members.as_slice()) {
        (Some(meta), members) => {
            stack::fit_stack(spec, &data, &pool, &refitter, members, meta, deadline)?
        }
        (None, [(_, algorithm, params)]) => refitter.fit(*algorithm, params, deadline)?,
        (None, members) => refitter.fit_weighted(members, deadline)?,
    };
    let sample = data.features.select_rows(&[0]);
    Ok((
        finalize::refit_pipeline(&data, featurizer, recipe.learner, model),
        sample,
    ))
}

/// The ensemble record's members as a recipe, looked up in `trials`.
pub fn ensemble_recipe(
    record: &EnsembleRecord,
    trials: &[crate::search::TrialRecord],
) -> Result<Recipe> {
    Ok(Recipe {
        learner: crate::ensemble::Learner::Ensemble(record.kind),
        members: record
            .member_trials(trials)?
            .into_iter()
            .map(|(w, t)| (w, t.algorithm, t.params.clone()))
            .collect(),
        meta: record.meta.clone(),
    })
}
