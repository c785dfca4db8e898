//! Formatting shared by the subcommands.

use autotab::featurize::{Guardrail, GuardrailStatus};
use autotab::leaderboard::Entry;
use autotab::search::{TrialRecord, TrialStatus};

/// One line per trial: index, algorithm, score ± std, seconds, params.
pub fn trial_line(t: &TrialRecord) -> String {
    let score = match (&t.status, t.score) {
        (TrialStatus::Completed, Some(s)) => format!("{s:.4} ± {:.4}", t.score_std.unwrap_or(0.0)),
        (TrialStatus::Failed(reason), _) => format!("failed: {}", shorten(reason, 60)),
        (TrialStatus::TimedOut(reason), _) => format!("timed out: {}", shorten(reason, 50)),
        (TrialStatus::Completed, None) => "no score".to_string(),
    };
    format!(
        "#{:<4} {:<20} {:<24} {:>7.2}s  {}",
        t.index,
        t.algorithm.name(),
        score,
        t.seconds,
        shorten(&t.params_summary(), 90)
    )
}

/// One leaderboard row: index, learner, score ± std, seconds, params.
pub fn entry_line(e: &Entry) -> String {
    let params: Vec<String> = e.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "#{:<4} {:<20} {:<24} {:>7.2}s  {}",
        e.index,
        e.learner.name(),
        format!("{:.4} ± {:.4}", e.score, e.score_std),
        e.seconds,
        shorten(&params.join(" "), 90)
    )
}

/// Prints the data guardrails, then the `trials:` heading unless `quiet`.
pub fn print_guardrails(guardrails: &[Guardrail], quiet: bool) {
    println!("data guardrails:");
    for g in guardrails {
        println!("  [{}] {}: {}", guardrail_status(g), g.name, g.message);
    }
    if !quiet {
        println!("trials:");
    }
}

/// `passed`, `done` or `ALERTED`.
pub fn guardrail_status(g: &Guardrail) -> &'static str {
    match g.status {
        GuardrailStatus::Passed => "passed",
        GuardrailStatus::Done => "done",
        GuardrailStatus::Alerted => "ALERTED",
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
