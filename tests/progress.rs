//! The live progress bar: drawn on a terminal (a pseudo-terminal made by util-linux's
//! `script`), absent when stdout is piped or with `--json`.

mod common;

use std::process::Command;

use common::TempWorkspace;

const RUN: &str = "run --data datasets/heart_failure.csv --label DEATH_EVENT --seed 7 \
                   --max-concurrent-trials 1 --max-trials 3 --timeout 60";

/// What the binary printed on a pseudo-terminal, run with `args`.
fn on_a_terminal(ws: &TempWorkspace, args: &str) -> String {
    let out = Command::new("script")
        .args(["-qfec"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_autotab")))
        .arg("/dev/null")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AUTOTAB_WORKSPACE", ws.workspace())
        .env("TERM", "xterm")
        .env("COLUMNS", "160")
        .env_remove("AUTOTAB_AUTH_KEY")
        .output()
        .expect("util-linux script(1) runs (the CI installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn the_bar_shows_on_a_terminal_and_not_when_piped() {
    let ws = TempWorkspace::new();
    let shown = on_a_terminal(&ws, RUN);
    assert!(shown.contains("/ 60s ["), "no bar in:\n{shown}");
    assert!(shown.contains("trials done"), "no trial count in:\n{shown}");
    assert!(shown.contains("best:"), "the result is printed:\n{shown}");

    let json = on_a_terminal(&ws, &format!("{RUN} --json"));
    assert!(!json.contains("trials done"), "a bar with --json:\n{json}");

    let piped = common::succeed(
        common::autotab(&ws)
            .args(RUN.split(' ').filter(|a| !a.is_empty()))
            .stdout(std::process::Stdio::piped()),
    );
    assert!(!piped.contains("trials done"), "a bar when piped:\n{piped}");
    assert!(
        !piped.contains('\u{1b}'),
        "escape codes when piped:\n{piped}"
    );
    assert!(
        piped.contains("  #0 "),
        "plain trial lines when piped:\n{piped}"
    );
}
