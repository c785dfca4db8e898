//! Metrics with the Azure ML names.
//!
//! Every metric follows the scikit-learn definition Azure AutoML uses; the unit tests check
//! each one against values computed by scikit-learn (see
//! `reports/scripts/make_metric_fixtures.py` and `tests/fixtures/metrics/sklearn_metrics.json`).
//!
//! Where we depart from a plain scikit-learn call, it is so that a cross-validation fold never
//! makes the search fail:
//! - A class that is absent from `y_true` gets weight 0 in the weighted averages and is left out
//!   of the macro averages of `AUC_*` and `average_precision_score_*` (scikit-learn would raise
//!   or count it as 0).
//! - `AUC_weighted` and `AUC_macro` return `Ok(f64::NAN)` when no class has both positive and
//!   negative rows (`y_true` holds a single class), where scikit-learn raises.
//! - `r2_score` with fewer than two rows and `spearman_correlation` with fewer than two rows or
//!   a constant input return `Ok(f64::NAN)`, as scikit-learn and SciPy do.

mod classification;
mod ranking;
mod regression;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::error::{AutotabError, Result};
use crate::task::Task;

/// A scoring metric, named as in Azure ML AutoML (`primary_metric`).
///
/// Serialized as its Azure name, e.g. `"AUC_weighted"`; the names live in the `strum`
/// attributes and serve parsing, display, serde and clap.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumMessage,
    strum::VariantArray,
)]
#[serde(into = "&'static str", try_from = "String")]
#[strum(ascii_case_insensitive)]
pub enum Metric {
    /// One-vs-rest ROC AUC averaged over classes, weighted by class support.
    #[strum(to_string = "AUC_weighted")]
    AucWeighted,
    /// One-vs-rest ROC AUC, unweighted mean over the classes present.
    #[strum(to_string = "AUC_macro")]
    AucMacro,
    /// ROC AUC of the one-hot labels against all probabilities pooled together.
    #[strum(to_string = "AUC_micro")]
    AucMicro,
    /// Fraction of rows whose predicted class is the true class.
    #[strum(to_string = "accuracy")]
    Accuracy,
    /// Mean recall over the classes present in `y_true`.
    #[strum(to_string = "balanced_accuracy")]
    BalancedAccuracy,
    /// F1 per class, weighted by class support.
    #[strum(to_string = "f1_score_weighted")]
    F1Weighted,
    /// F1 per class, unweighted mean.
    #[strum(to_string = "f1_score_macro")]
    F1Macro,
    /// F1 from the global true/false positive counts.
    #[strum(to_string = "f1_score_micro")]
    F1Micro,
    /// Precision per class, weighted by class support.
    #[strum(to_string = "precision_score_weighted")]
    PrecisionWeighted,
    /// Precision per class, unweighted mean.
    #[strum(to_string = "precision_score_macro")]
    PrecisionMacro,
    /// Precision from the global counts.
    #[strum(to_string = "precision_score_micro")]
    PrecisionMicro,
    /// Recall per class, weighted by class support.
    #[strum(to_string = "recall_score_weighted")]
    RecallWeighted,
    /// Recall per class, unweighted mean.
    #[strum(to_string = "recall_score_macro")]
    RecallMacro,
    /// Recall from the global counts.
    #[strum(to_string = "recall_score_micro")]
    RecallMicro,
    /// One-vs-rest average precision, weighted by class support.
    #[strum(to_string = "average_precision_score_weighted")]
    AveragePrecisionWeighted,
    /// One-vs-rest average precision, unweighted mean over the classes present.
    #[strum(to_string = "average_precision_score_macro")]
    AveragePrecisionMacro,
    /// Average precision of the one-hot labels against all probabilities pooled together.
    #[strum(to_string = "average_precision_score_micro")]
    AveragePrecisionMicro,
    /// Macro recall rescaled so that chance is 0 and perfect is 1, clipped at 0.
    #[strum(to_string = "norm_macro_recall")]
    NormMacroRecall,
    /// Cross-entropy of the predicted probabilities (lower is better).
    #[strum(to_string = "log_loss")]
    LogLoss,
    /// Matthews correlation coefficient (multiclass form).
    #[strum(to_string = "matthews_correlation")]
    MatthewsCorrelation,
    /// Coefficient of determination.
    #[strum(to_string = "r2_score")]
    R2,
    /// Spearman rank correlation between truth and prediction.
    #[strum(to_string = "spearman_correlation")]
    Spearman,
    /// RMSE divided by the range of `y_true` (lower is better).
    #[strum(to_string = "normalized_root_mean_squared_error")]
    NormalizedRmse,
    /// MAE divided by the range of `y_true` (lower is better).
    #[strum(to_string = "normalized_mean_absolute_error")]
    NormalizedMae,
    /// Root mean squared error (lower is better).
    #[strum(to_string = "root_mean_squared_error")]
    Rmse,
    /// Mean absolute error (lower is better).
    #[strum(to_string = "mean_absolute_error")]
    Mae,
}

impl Metric {
    /// Every metric, classification ones first (the declaration order).
    pub const ALL: &'static [Metric] = <Metric as VariantArray>::VARIANTS;

    /// The metric's Azure ML name, e.g. `AUC_weighted` or `r2_score`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Parses an Azure metric name, ignoring case and surrounding spaces.
    ///
    /// An unknown name is an [`AutotabError::InvalidConfig`] that lists every valid name.
    pub fn parse(name: &str) -> Result<Metric> {
        let wanted = name.trim();
        wanted.parse().map_err(|_| {
            AutotabError::config(format!(
                "unknown metric '{wanted}': expected one of {}",
                names(Metric::ALL.iter().copied())
            ))
        })
    }

    /// The task the metric is defined for: [`Task::Classification`] or [`Task::Regression`].
    pub fn task(self) -> Task {
        match self {
            Metric::R2
            | Metric::Spearman
            | Metric::NormalizedRmse
            | Metric::NormalizedMae
            | Metric::Rmse
            | Metric::Mae => Task::Regression,
            _ => Task::Classification,
        }
    }

    /// Checks that the metric fits `task` (regression metrics also fit forecasting).
    ///
    /// A mismatch is an [`AutotabError::InvalidConfig`] listing the metrics that do fit.
    pub fn check_task(self, task: Task) -> Result<()> {
        if fits(self.task(), task) {
            return Ok(());
        }
        Err(self.mismatch(task))
    }

    /// Whether a higher value is better (false for `log_loss` and the error metrics).
    pub fn greater_is_better(self) -> bool {
        !matches!(
            self,
            Metric::LogLoss
                | Metric::NormalizedRmse
                | Metric::NormalizedMae
                | Metric::Rmse
                | Metric::Mae
        )
    }

    /// The default primary metric of a task: `AUC_weighted` for classification, `r2_score` for
    /// regression, `normalized_root_mean_squared_error` for forecasting.
    pub fn default_for(task: Task) -> Metric {
        match task {
            Task::Classification => Metric::AucWeighted,
            Task::Regression => Metric::R2,
            Task::Forecasting => Metric::NormalizedRmse,
        }
    }

    /// Turns a metric value into a loss, where lower is better (negated when
    /// [`Metric::greater_is_better`]).
    pub fn to_loss(self, value: f64) -> f64 {
        if self.greater_is_better() {
            -value
        } else {
            value
        }
    }

    /// Scores class probabilities.
    ///
    /// `y_true` holds class indices `0..k`; `proba` is `n x k` with `k >= 2`, one column per
    /// class. The predicted class of a row is its arg-max column (ties go to the lowest index).
    /// Errors: a regression metric ([`AutotabError::InvalidConfig`]); empty input, a length
    /// mismatch, a class index `>= k` or a non-finite probability ([`AutotabError::InvalidData`]).
    pub fn classification(self, y_true: &[usize], proba: ArrayView2<f64>) -> Result<f64> {
        use classification::Score::{Precision, Recall, F1};
        if self.task() != Task::Classification {
            return Err(self.mismatch(Task::Classification));
        }
        classification::validate(self.name(), y_true, &proba)?;
        let confusion = || classification::Confusion::new(y_true, &proba);
        let value = match self {
            Metric::AucWeighted => ranking::auc(y_true, &proba, Average::Weighted),
            Metric::AucMacro => ranking::auc(y_true, &proba, Average::Macro),
            Metric::AucMicro => ranking::auc(y_true, &proba, Average::Micro),
            Metric::AveragePrecisionWeighted => {
                ranking::average_precision(y_true, &proba, Average::Weighted)
            }
            Metric::AveragePrecisionMacro => {
                ranking::average_precision(y_true, &proba, Average::Macro)
            }
            Metric::AveragePrecisionMicro => {
                ranking::average_precision(y_true, &proba, Average::Micro)
            }
            Metric::LogLoss => classification::log_loss(y_true, &proba),
            Metric::Accuracy => confusion().accuracy(),
            Metric::BalancedAccuracy => classification::balanced_accuracy(&confusion()),
            Metric::F1Weighted => classification::prf(&confusion(), F1, Average::Weighted),
            Metric::F1Macro => classification::prf(&confusion(), F1, Average::Macro),
            Metric::F1Micro => classification::prf(&confusion(), F1, Average::Micro),
            Metric::PrecisionWeighted => {
                classification::prf(&confusion(), Precision, Average::Weighted)
            }
            Metric::PrecisionMacro => classification::prf(&confusion(), Precision, Average::Macro),
            Metric::PrecisionMicro => classification::prf(&confusion(), Precision, Average::Micro),
            Metric::RecallWeighted => classification::prf(&confusion(), Recall, Average::Weighted),
            Metric::RecallMacro => classification::prf(&confusion(), Recall, Average::Macro),
            Metric::RecallMicro => classification::prf(&confusion(), Recall, Average::Micro),
            Metric::NormMacroRecall => classification::norm_macro_recall(&confusion()),
            Metric::MatthewsCorrelation => classification::matthews(&confusion()),
            Metric::R2
            | Metric::Spearman
            | Metric::NormalizedRmse
            | Metric::NormalizedMae
            | Metric::Rmse
            | Metric::Mae => return Err(self.mismatch(Task::Classification)),
        };
        Ok(value)
    }

    /// Scores real-valued predictions against the truth.
    ///
    /// Errors: a classification metric ([`AutotabError::InvalidConfig`]); empty input, a length
    /// mismatch or a non-finite value ([`AutotabError::InvalidData`]).
    pub fn regression(self, y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
        if self.task() != Task::Regression {
            return Err(self.mismatch(Task::Regression));
        }
        regression::validate(self.name(), y_true, y_pred)?;
        let value = match self {
            Metric::R2 => regression::r2(y_true, y_pred),
            Metric::Spearman => regression::spearman(y_true, y_pred),
            Metric::Rmse => regression::rmse(y_true, y_pred),
            Metric::Mae => regression::mae(y_true, y_pred),
            Metric::NormalizedRmse => regression::rmse(y_true, y_pred) / regression::range(y_true),
            Metric::NormalizedMae => regression::mae(y_true, y_pred) / regression::range(y_true),
            _ => return Err(self.mismatch(Task::Regression)),
        };
        Ok(value)
    }

    /// The error for using this metric on a `task` it does not fit.
    fn mismatch(self, task: Task) -> AutotabError {
        let valid = Metric::ALL.iter().copied().filter(|m| fits(m.task(), task));
        AutotabError::config(format!(
            "metric {} does not apply to {task}; use one of: {}",
            self.name(),
            names(valid)
        ))
    }
}

impl TryFrom<String> for Metric {
    type Error = AutotabError;

    fn try_from(name: String) -> Result<Metric> {
        Metric::parse(&name)
    }
}

crate::names::value_enum!(Metric, Metric::ALL);

/// How per-class scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Average {
    /// Mean over classes weighted by their support in `y_true`.
    Weighted,
    /// Unweighted mean over classes.
    Macro,
    /// One score from the pooled counts (or pooled one-hot scores).
    Micro,
}

/// Whether a metric defined for `metric_task` can score a job of `job_task`.
fn fits(metric_task: Task, job_task: Task) -> bool {
    match job_task {
        Task::Classification => metric_task == Task::Classification,
        Task::Regression | Task::Forecasting => metric_task == Task::Regression,
    }
}

/// The names of `metrics`, comma separated.
fn names(metrics: impl Iterator<Item = Metric>) -> String {
    metrics.map(Metric::name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    /// `tests/fixtures/metrics/sklearn_metrics.json`, made by
    /// `reports/scripts/make_metric_fixtures.py`.
    const FIXTURE: &str = include_str!("../../tests/fixtures/metrics/sklearn_metrics.json");

    #[derive(Deserialize)]
    struct Fixture {
        sklearn_version: String,
        classification: Vec<ClassificationCase>,
        regression: Vec<RegressionCase>,
    }

    #[derive(Deserialize)]
    struct ClassificationCase {
        name: String,
        y_true: Vec<usize>,
        proba: Vec<Vec<f64>>,
        expected: std::collections::BTreeMap<String, Option<f64>>,
    }

    #[derive(Deserialize)]
    struct RegressionCase {
        name: String,
        y_true: Vec<f64>,
        y_pred: Vec<f64>,
        expected: std::collections::BTreeMap<String, Option<f64>>,
    }

    fn fixture() -> Fixture {
        serde_json::from_str(FIXTURE).expect("the metrics fixture is valid JSON")
    }

    /// Checks `got` against scikit-learn's `expected` (None: scikit-learn raises, we give NaN).
    fn check(case: &str, metric: Metric, got: f64, expected: Option<f64>) {
        match expected {
            None => assert!(got.is_nan(), "{case} {metric}: expected NaN, got {got}"),
            Some(want) => assert!(
                (got - want).abs() <= 1e-9 * want.abs() + 1e-12,
                "{case} {metric}: got {got}, scikit-learn {want}"
            ),
        }
    }

    fn to_array(rows: &[Vec<f64>]) -> Array2<f64> {
        let k = rows[0].len();
        Array2::from_shape_vec((rows.len(), k), rows.concat()).expect("rectangular proba")
    }

    #[test]
    fn classification_metrics_match_sklearn() {
        let fixture = fixture();
        assert!(!fixture.sklearn_version.is_empty());
        assert_eq!(fixture.classification.len(), 5);
        for case in &fixture.classification {
            let proba = to_array(&case.proba);
            let metrics: Vec<Metric> = Metric::ALL
                .iter()
                .copied()
                .filter(|m| m.task() == Task::Classification)
                .collect();
            assert_eq!(metrics.len(), case.expected.len(), "{}", case.name);
            for metric in metrics {
                let expected = case.expected[metric.name()];
                let got = metric.classification(&case.y_true, proba.view()).unwrap();
                check(&case.name, metric, got, expected);
            }
        }
    }

    #[test]
    fn regression_metrics_match_sklearn() {
        let fixture = fixture();
        assert_eq!(fixture.regression.len(), 4);
        for case in &fixture.regression {
            let metrics: Vec<Metric> = Metric::ALL
                .iter()
                .copied()
                .filter(|m| m.task() == Task::Regression)
                .collect();
            assert_eq!(metrics.len(), case.expected.len(), "{}", case.name);
            for metric in metrics {
                let expected = case.expected[metric.name()];
                let got = metric.regression(&case.y_true, &case.y_pred).unwrap();
                check(&case.name, metric, got, expected);
            }
        }
    }

    #[test]
    fn names_round_trip_through_parse_display_and_serde() {
        for &metric in Metric::ALL {
            assert_eq!(Metric::parse(metric.name()).unwrap(), metric);
            assert_eq!(
                Metric::parse(&metric.name().to_uppercase()).unwrap(),
                metric
            );
            assert_eq!(metric.to_string(), metric.name());
            let json = serde_json::to_string(&metric).unwrap();
            assert_eq!(json, format!("\"{}\"", metric.name()));
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), metric);
        }
        let unique: std::collections::HashSet<_> = Metric::ALL.iter().collect();
        assert_eq!(unique.len(), 26);
    }

    #[test]
    fn unknown_metric_lists_the_valid_names() {
        let err = Metric::parse("auc").unwrap_err();
        assert!(matches!(err, AutotabError::InvalidConfig(_)));
        let message = err.to_string();
        assert!(message.contains("'auc'"), "{message}");
        for &metric in Metric::ALL {
            assert!(message.contains(metric.name()), "{message}");
        }
    }

    #[test]
    fn metric_task_mismatch_is_a_clear_error() {
        assert!(Metric::R2.check_task(Task::Regression).is_ok());
        assert!(Metric::R2.check_task(Task::Forecasting).is_ok());
        assert!(Metric::AucWeighted.check_task(Task::Classification).is_ok());
        assert!(Metric::AucWeighted.check_task(Task::Forecasting).is_err());
        let err = Metric::R2.check_task(Task::Classification).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, AutotabError::InvalidConfig(_)));
        assert!(
            message.starts_with("metric r2_score does not apply to classification; use one of:"),
            "{message}"
        );
        assert!(message.contains("AUC_weighted") && !message.contains("mean_absolute_error"));
        let err = Metric::Accuracy.regression(&[1.0], &[1.0]).unwrap_err();
        assert!(err
            .to_string()
            .contains("accuracy does not apply to regression"));
        let proba = Array2::from_elem((1, 2), 0.5);
        let err = Metric::Mae.classification(&[0], proba.view()).unwrap_err();
        assert!(matches!(err, AutotabError::InvalidConfig(_)));
    }

    #[test]
    fn direction_defaults_and_loss() {
        let lower: Vec<&str> = Metric::ALL
            .iter()
            .copied()
            .filter(|m| !m.greater_is_better())
            .map(Metric::name)
            .collect();
        assert_eq!(
            lower,
            [
                "log_loss",
                "normalized_root_mean_squared_error",
                "normalized_mean_absolute_error",
                "root_mean_squared_error",
                "mean_absolute_error"
            ]
        );
        assert_eq!(Metric::AucWeighted.to_loss(0.9), -0.9);
        assert_eq!(Metric::LogLoss.to_loss(0.3), 0.3);
        assert_eq!(
            Metric::default_for(Task::Classification),
            Metric::AucWeighted
        );
        assert_eq!(Metric::default_for(Task::Regression), Metric::R2);
        assert_eq!(
            Metric::default_for(Task::Forecasting),
            Metric::NormalizedRmse
        );
        for task in [Task::Classification, Task::Regression, Task::Forecasting] {
            assert!(Metric::default_for(task).check_task(task).is_ok());
        }
    }

    #[test]
    fn bad_input_is_invalid_data() {
        let proba = Array2::from_elem((2, 2), 0.5);
        let err = Metric::AucWeighted
            .classification(&[0, 1, 1], proba.view())
            .unwrap_err();
        assert!(matches!(err, AutotabError::InvalidData(_)));
        assert!(err.to_string().contains("3 rows") && err.to_string().contains("2 rows"));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(matches!(
            Metric::Accuracy.classification(&[], empty.view()),
            Err(AutotabError::InvalidData(_))
        ));
        assert!(matches!(
            Metric::R2.regression(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(AutotabError::InvalidData(_))
        ));
    }

    /// `n` rows of `k` class scores drawn from a small integer grid (so ties happen), and
    /// a class index per row.
    fn scored_rows() -> impl Strategy<Value = (Vec<usize>, Array2<f64>)> {
        (2usize..5, 2usize..40).prop_flat_map(|(k, n)| {
            (
                proptest::collection::vec(0..k, n),
                proptest::collection::vec(0u8..20, n * k),
            )
                .prop_map(move |(y, grid)| {
                    let scores = grid.into_iter().map(f64::from).collect();
                    (y, Array2::from_shape_vec((n, k), scores).expect("n x k"))
                })
        })
    }

    proptest! {
        #[test]
        fn auc_is_invariant_to_monotone_transforms((y, scores) in scored_rows()) {
            let transformed = scores.mapv(|s| (s * 0.37).exp() + s * s * s - 5.0);
            for metric in [Metric::AucWeighted, Metric::AucMacro, Metric::AucMicro] {
                let a = metric.classification(&y, scores.view()).unwrap();
                let b = metric.classification(&y, transformed.view()).unwrap();
                prop_assert!(a.is_nan() == b.is_nan());
                if !a.is_nan() {
                    prop_assert!((a - b).abs() < 1e-12, "{metric}: {a} vs {b}");
                    prop_assert!((0.0..=1.0).contains(&a), "{metric}: {a}");
                }
            }
        }

        #[test]
        fn accuracy_is_a_fraction((y, scores) in scored_rows()) {
            let accuracy = Metric::Accuracy.classification(&y, scores.view()).unwrap();
            prop_assert!((0.0..=1.0).contains(&accuracy));
            let n = y.len() as f64;
            prop_assert!(((accuracy * n).round() - accuracy * n).abs() < 1e-9);
        }

        #[test]
        fn perfect_prediction_has_r2_one(y in proptest::collection::vec(-1e6f64..1e6, 2..50)) {
            prop_assert_eq!(Metric::R2.regression(&y, &y).unwrap(), 1.0);
            prop_assert_eq!(Metric::Rmse.regression(&y, &y).unwrap(), 0.0);
        }
    }
}
