//! A fit's deadline as the learners see it: whether it has passed, and whether a piece of work
//! whose cost has been measured or extrapolated still fits before it.
//!
//! Library solvers cannot be interrupted, so the learners that wrap them bound their work with
//! these checks between pieces (iteration chunks, one-vs-rest machines, row blocks) and before
//! any piece whose projected cost would overrun: a fit that cannot finish in time stops with
//! [`AutotabError::Budget`] instead of holding its slot past the deadline.

use std::time::{Duration, Instant};

use super::Algorithm;
use crate::error::{AutotabError, Result};

/// The deadline of one fit (or prediction) of one algorithm; `None` means unbounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    algorithm: Algorithm,
}

impl Deadline {
    /// The deadline `at` for work of `algorithm`.
    pub(crate) fn new(at: Option<Instant>, algorithm: Algorithm) -> Deadline {
        Deadline { at, algorithm }
    }

    /// Whether there is a deadline at all (an unbounded fit need not measure its costs).
    pub(crate) fn is_bounded(&self) -> bool {
        self.at.is_some()
    }

    /// A budget error if the deadline has passed; `stage` says where the work stopped.
    pub(crate) fn check(&self, stage: &str) -> Result<()> {
        match self.at {
            Some(at) if Instant::now() >= at => Err(self.stopped(stage)),
            _ => Ok(()),
        }
    }

    /// A budget error unless work projected to take `seconds` ends before the deadline.
    pub(crate) fn afford(&self, seconds: f64, stage: &str) -> Result<()> {
        let Some(at) = self.at else {
            return Ok(());
        };
        let left = at.saturating_duration_since(Instant::now());
        if seconds.is_finite() && Duration::try_from_secs_f64(seconds).is_ok_and(|s| s <= left) {
            Ok(())
        } else {
            Err(AutotabError::Budget(format!(
                "{} would need about {seconds:.2}s for {stage} but {:.2}s are left before the trial deadline",
                self.algorithm,
                left.as_secs_f64()
            )))
        }
    }

    /// The projected seconds of a fit on all `n` rows, for a library fit that cannot be
    /// interrupted: `time_on(rows)` fits on a sample of `rows` rows and returns its seconds
    /// (`None` when that sample cannot be fitted, e.g. it holds one class).
    ///
    /// Samples grow four times at each step, from about `n / first` rows (at least
    /// `min_rows`) to `n / second`; each is timed only if its cost, projected from the one
    /// before at the slowest growth allowed, fits before the deadline. The growth measured
    /// between the last two, as a power of the rows clamped to `growth`, is extrapolated to
    /// `n`. `None` when the table is too small for two samples or a sample could not be fitted.
    pub(crate) fn project_from_samples(
        &self,
        n: usize,
        (first, second): (usize, usize),
        min_rows: usize,
        growth: (f64, f64),
        mut time_on: impl FnMut(usize) -> Result<Option<f64>>,
    ) -> Result<Option<f64>> {
        let mut sizes = vec![n / second.max(1)];
        while let Some(&last) = sizes.last() {
            let smaller = last / 4;
            if smaller < min_rows.max(1) || smaller < n / first.max(1) {
                break;
            }
            sizes.push(smaller);
        }
        sizes.reverse();
        if sizes.len() < 2 {
            return Ok(None);
        }
        let mut timed: Vec<(usize, f64)> = Vec::with_capacity(sizes.len());
        for rows in sizes {
            if let Some(&(previous, seconds)) = timed.last() {
                self.afford(
                    seconds * (rows as f64 / previous as f64).powf(growth.0),
                    &format!("a probe fit on {rows} rows"),
                )?;
            }
            let Some(seconds) = time_on(rows)? else {
                return Ok(None);
            };
            timed.push((rows, seconds));
        }
        let [.., (small, t_small), (large, t_large)] = timed[..] else {
            return Ok(None);
        };
        let ratio = large as f64 / small as f64;
        // Timings under a millisecond are mostly noise: assume the fastest growth allowed.
        let power = if t_small > 1e-3 {
            ((t_large / t_small).ln() / ratio.ln()).clamp(growth.0, growth.1)
        } else {
            growth.1
        };
        Ok(Some(t_large * (n as f64 / large as f64).powf(power)))
    }

    fn stopped(&self, stage: &str) -> AutotabError {
        AutotabError::Budget(format!(
            "{} stopped by the trial deadline {stage}",
            self.algorithm
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbounded_deadline_affords_anything() {
        let d = Deadline::new(None, Algorithm::KNearestNeighbors);
        assert!(!d.is_bounded());
        assert!(d.check("anywhere").is_ok());
        assert!(d.afford(1e9, "anything").is_ok());
    }

    #[test]
    fn a_passed_or_near_deadline_refuses_work_with_a_budget_error() {
        let past = Deadline::new(Some(Instant::now()), Algorithm::LinearSvm);
        let err = past.check("before training").unwrap_err();
        assert!(matches!(err, AutotabError::Budget(_)), "{err}");
        assert!(err.to_string().contains("LinearSVM"), "{err}");
        let soon = Deadline::new(
            Some(Instant::now() + Duration::from_secs(5)),
            Algorithm::DecisionTree,
        );
        assert!(soon.check("before training").is_ok());
        assert!(soon.afford(0.01, "a small piece").is_ok());
        let err = soon.afford(60.0, "the whole tree").unwrap_err();
        assert!(
            matches!(err, AutotabError::Budget(ref m) if m.contains("the whole tree")),
            "{err}"
        );
        assert!(soon.afford(f64::NAN, "an unknown cost").is_err());
    }

    #[test]
    fn projection_extrapolates_the_measured_growth_within_its_bounds() {
        let d = Deadline::new(None, Algorithm::LinearSvm);
        // Cost growing as the square of the rows: 1000 rows take 0.01 s, 4000 rows 0.16 s.
        let mut asked = Vec::new();
        let square = |rows: usize| (rows as f64 / 1000.0).powi(2) * 0.01;
        let projected = d
            .project_from_samples(16_000, (16, 4), 250, (1.0, 3.0), |rows| {
                asked.push(rows);
                Ok(Some(square(rows)))
            })
            .unwrap()
            .unwrap();
        assert_eq!(asked, [1000, 4000], "a sixteenth, then a quarter");
        assert!((projected - square(16_000)).abs() < 1e-9, "{projected}");
        // Growth measured faster than allowed is clamped to the bound.
        let clamped = d
            .project_from_samples(16_000, (16, 4), 250, (1.0, 1.5), |rows| {
                Ok(Some(square(rows)))
            })
            .unwrap()
            .unwrap();
        assert!((clamped - 0.16 * 4f64.powf(1.5)).abs() < 1e-9, "{clamped}");
        // Too small a table is not probed; an unfittable sample gives no projection.
        let none = d
            .project_from_samples(1000, (16, 4), 250, (1.0, 3.0), |_| panic!("probed"))
            .unwrap();
        assert!(none.is_none());
        let none = d
            .project_from_samples(16_000, (16, 4), 250, (1.0, 3.0), |_| Ok(None))
            .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn a_probe_that_projects_past_the_deadline_stops_before_the_larger_sample() {
        let d = Deadline::new(
            Some(Instant::now() + Duration::from_millis(200)),
            Algorithm::LinearSvm,
        );
        let mut asked = Vec::new();
        let err = d
            .project_from_samples(16_000, (16, 4), 250, (2.0, 3.0), |rows| {
                asked.push(rows);
                Ok(Some(1.0))
            })
            .unwrap_err();
        assert_eq!(asked, [1000], "the quarter-size probe must not run");
        // Three sizes from a sixty-fourth: 250, 1000, 4000 rows.
        let mut asked = Vec::new();
        let d = Deadline::new(None, Algorithm::LinearSvm);
        d.project_from_samples(16_000, (64, 4), 100, (2.0, 3.0), |rows| {
            asked.push(rows);
            Ok(Some(rows as f64 * 1e-3))
        })
        .unwrap();
        assert_eq!(asked, [250, 1000, 4000]);
        assert!(matches!(err, AutotabError::Budget(_)), "{err}");
    }
}
