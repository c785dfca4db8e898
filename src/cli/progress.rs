//! The live progress bar of `autotab run` (indicatif): elapsed time against the budget,
//! trials done and running, and the best score so far with its algorithm. Lines printed
//! while it shows go above it. Shown only when stdout is a terminal and neither `--json` nor
//! `--quiet` is given; otherwise every call prints plain lines (or nothing).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use autotab::metrics::Metric;
use autotab::search::{TrialRecord, TrialStatus};

/// The bar (absent when not shown) and what it tells.
pub struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
    done: usize,
    launched: usize,
    best: Option<(f64, String)>,
    metric: Option<Metric>,
}

impl Progress {
    /// A bar over `budget` when stdout is a terminal and `enabled`; plain lines otherwise.
    pub fn new(budget: Duration, enabled: bool) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let mut progress = Progress {
            bar: None,
            stop: Arc::clone(&stop),
            ticker: None,
            done: 0,
            launched: 0,
            best: None,
            metric: None,
        };
        if !enabled || !std::io::stdout().is_terminal() {
            return progress;
        }
        let total_ms = budget.as_millis().max(1) as u64;
        let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{elapsed:>4}} / {}s [{{bar:30.cyan/blue}}] {{msg}}",
            budget.as_secs()
        )) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("starting");
        // The position is the elapsed time: a ticker moves it (and redraws) four times a second.
        let ticking = bar.clone();
        let start = Instant::now();
        progress.ticker = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                ticking.set_position((start.elapsed().as_millis() as u64).min(total_ms));
                std::thread::sleep(Duration::from_millis(250));
            }
        }));
        progress.bar = Some(bar);
        progress
    }

    /// Whether the bar is shown.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// The metric that ranks trials (before the first trial).
    pub fn set_metric(&mut self, metric: Metric) {
        self.metric = Some(metric);
    }

    /// Prints `line` above the bar (or as a plain line).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    /// Counts a finished trial and updates the best score.
    pub fn trial(&mut self, t: &TrialRecord) {
        self.done += 1;
        // Trials are numbered in launch order: a finished trial proves that many launches.
        self.launched = self.launched.max(t.index + 1).max(self.done);
        if let (TrialStatus::Completed, Some(score), Some(metric)) =
            (&t.status, t.score, self.metric)
        {
            let better = self
                .best
                .as_ref()
                .is_none_or(|(b, _)| metric.to_loss(score) < metric.to_loss(*b));
            if better {
                self.best = Some((score, t.algorithm.name().to_string()));
            }
        }
        if let Some(bar) = &self.bar {
            let best = match &self.best {
                Some((s, algorithm)) => format!("best {s:.4} ({algorithm})"),
                None => "no score yet".to_string(),
            };
            bar.set_message(format!(
                "{} trials done, {} running | {best}",
                self.done,
                self.launched - self.done
            ));
        }
    }

    /// Runs `print` with the bar hidden (for code that prints on its own).
    pub fn suspend(&self, print: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Says what the run does now (after the search: ensembles, refit).
    pub fn stage(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    /// Removes the bar before the result is printed.
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
