//! The `autotab` command line: a thin layer over the library.
//!
//! Exit codes: 0 success, 2 an error (one `error:` line on stderr), 70 an internal error (a
//! panic: one `error: internal error: <message> at <file:line>` line, plus the backtrace with
//! `RUST_BACKTRACE=1`), 130 a run canceled with Ctrl-C.

mod cli;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

/// Exit code of an internal error (a panic outside a trial): `EX_SOFTWARE` of sysexits.h.
const EXIT_INTERNAL_ERROR: u8 = 70;

/// Prefix of the names of the search's trial threads, whose panics the search catches and
/// records as a failed trial (so they are not reported on the terminal).
const TRIAL_THREAD_PREFIX: &str = "autotab-trial-";

/// Set once the panic hook has printed an internal-error line.
static PANIC_REPORTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(report_panic));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if std::env::var_os("AUTOTAB_TEST_PANIC").is_some() {
            // Lets the end-to-end tests check the internal-error report on a real panic.
            panic!("AUTOTAB_TEST_PANIC is set");
        }
        let args = cli::Cli::parse();
        cli::dispatch(args)
    }));
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {}", cli::one_line(&e));
            ExitCode::from(2)
        }
        Err(payload) if payload_text(payload.as_ref()).is_some_and(is_closed_stdout) => {
            // Output piped into a reader that stopped (`| head`): done, as ripgrep and
            // coreutils treat it.
            ExitCode::SUCCESS
        }
        Err(payload) => {
            // A panic of a trial thread that escaped the search was not printed by the hook.
            if !PANIC_REPORTED.load(Ordering::SeqCst) {
                eprintln!(
                    "error: internal error: {}",
                    payload_text(payload.as_ref()).unwrap_or("unknown panic")
                );
            }
            ExitCode::from(EXIT_INTERNAL_ERROR)
        }
    }
}

/// The panic hook: one `error: internal error: <message> at <file:line>` line on stderr, then
/// the backtrace when `RUST_BACKTRACE` asks for one. Silent on trial threads, whose panics
/// the search catches and records with the trial.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let on_trial_thread = std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with(TRIAL_THREAD_PREFIX));
    if on_trial_thread {
        return;
    }
    let message = payload_text(info.payload()).unwrap_or("unknown panic");
    if is_closed_stdout(message) {
        // `autotab runs show | head`: the reader is gone, which is not our error.
        PANIC_REPORTED.store(true, Ordering::SeqCst);
        return;
    }
    eprintln!("{}", internal_error_line(message, info.location()));
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        eprintln!("backtrace:\n{backtrace}");
    }
    PANIC_REPORTED.store(true, Ordering::SeqCst);
}

/// Whether a panic is `println!` failing because stdout's reader closed the pipe.
fn is_closed_stdout(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

/// `error: internal error: <message> at <file:line>`, on one line.
fn internal_error_line(message: &str, location: Option<&std::panic::Location<'_>>) -> String {
    let message = message.replace('\n', " ");
    match location {
        Some(at) => format!(
            "error: internal error: {message} at {}:{}",
            at.file(),
            at.line()
        ),
        None => format!("error: internal error: {message}"),
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn payload_text(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internal_error_line_names_the_message_and_the_place() {
        let here = std::panic::Location::caller();
        let line = internal_error_line("index out of bounds\nsecond line", Some(here));
        assert!(line.starts_with("error: internal error: index out of bounds second line at "));
        assert!(
            line.ends_with(&format!("src/main.rs:{}", here.line())),
            "{line}"
        );
        assert_eq!(
            internal_error_line("boom", None),
            "error: internal error: boom"
        );
    }

    #[test]
    fn payloads_of_both_panic_forms_are_read() {
        let literal: Box<dyn std::any::Any + Send> = Box::new("literal");
        assert_eq!(payload_text(literal.as_ref()), Some("literal"));
        let formatted: Box<dyn std::any::Any + Send> = Box::new(format!("n = {}", 3));
        assert_eq!(payload_text(formatted.as_ref()), Some("n = 3"));
        let other: Box<dyn std::any::Any + Send> = Box::new(3u8);
        assert_eq!(payload_text(other.as_ref()), None);
    }
}
