//! The `autotab` command line: a thin layer over the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Learner panics are caught per trial and recorded; keep their default report off the
    // terminal (the trial record carries the message).
    std::panic::set_hook(Box::new(|_| {}));
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::one_line(&e));
            ExitCode::from(2)
        }
    }
}
