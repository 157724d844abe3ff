//! Every `jwtauth-tui` command line in the README is accepted by the real binary's
//! argument parser (the other blocks are checked by `server/tests/readme.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_jwtauth-tui");

/// The arguments of each `cargo run … -p jwtauth-tui [-- ARGS]` line of a ```sh block.
fn invocations() -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            in_sh = !in_sh && info.starts_with("sh");
            continue;
        }
        let cmd = line.split(" #").next().unwrap_or("");
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if in_sh && words.first() == Some(&"cargo") && words.windows(2).any(|w| w == ["-p", "jwtauth-tui"]) {
            let args = match words.iter().position(|w| *w == "--") {
                Some(p) => words[p + 1..].iter().map(|w| (*w).to_owned()).collect(),
                None => Vec::new(),
            };
            out.push((i + 1, args));
        }
    }
    out
}

fn accepted(args: &[String]) -> Result<(), String> {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_readme_invocation_of_the_tui_is_accepted() {
    let lines = invocations();
    assert!(lines.len() >= 4, "{lines:?}");
    for (line, args) in &lines {
        if let Err(e) = accepted(args) {
            panic!("README.md:{line}: jwtauth-tui {args:?} is refused:\n{e}");
        }
    }
    // The check can fail: an option the binary does not have is refused.
    assert!(accepted(&["--no-such-option".to_owned()]).is_err());
}
