//! How a run reports as it goes: the [`RunObserver`] the CLI prints from and tracking records
//! through.

use crate::data::Schema;
use crate::ensemble::EnsembleRecord;
use crate::featurize::Guardrail;
use crate::job::JobSpec;
use crate::metrics::Metric;
use crate::search::TrialRecord;
use crate::task::Task;

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
    /// An ensemble of trials was scored after the search (a voting ensemble that beats the best
    /// trial, or a stack ensemble), before the winner is refit; it may not win.
    fn ensemble(&mut self, _ensemble: &EnsembleRecord, _trials: &[TrialRecord]) {}
    /// A progress message.
    fn message(&mut self, _message: &str) {}
    /// The run was recorded under this id (tracked runs only).
    fn run_started(&mut self, _run_id: &str) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl RunObserver for Quiet {}
