//! The README's code blocks, run or checked as written.
//!
//! Each fenced block's info string says how it is checked: `sh tour` blocks run in
//! order in one shell against the real server on a free port (the only change made
//! to them is that address for the README's `127.0.0.1:8080`); `sh cli` lines must
//! be accepted by the binary's argument parser; other `sh` blocks must be valid shell
//! naming packages, benchmarks, tests and files that exist; `toml` blocks must load
//! with the real configuration loader; `json` blocks must be failure-log lines. The
//! `c` blocks are compiled and run by `ffi/tests/readme.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/binary.rs"]
mod binary;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_jwtauth-server");
/// The address the README's tour talks to.
const README_BASE: &str = "http://127.0.0.1:8080";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fenced code block: its info string, its text and the line it starts on.
#[derive(Debug)]
struct Block {
    file: &'static str,
    line: usize,
    info: String,
    text: String,
}

impl Block {
    fn lang(&self) -> &str {
        self.info.split_whitespace().next().unwrap_or("")
    }
    fn kind(&self) -> &str {
        self.info.split_whitespace().nth(1).unwrap_or("")
    }
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

fn blocks_of(file: &'static str) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    file,
                    line: i + 1,
                    info: info.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a code block is never closed");
    out
}

fn readme() -> Vec<Block> {
    blocks_of("README.md")
}

fn all_blocks() -> Vec<Block> {
    let mut v = readme();
    v.extend(blocks_of("docs/PERFORMANCE.md"));
    v
}

#[test]
fn every_block_says_how_it_is_checked() {
    let blocks = all_blocks();
    assert!(blocks.len() > 10, "the blocks were found: {}", blocks.len());
    for b in &blocks {
        let known = matches!(
            (b.lang(), b.kind()),
            ("sh", "" | "tour" | "cli") | ("c" | "toml" | "json", "")
        );
        assert!(known, "{}: block ```{} is of no kind this test checks", b.at(), b.info);
    }
    let kinds = |lang: &str, kind: &str| blocks.iter().filter(|b| b.lang() == lang && b.kind() == kind).count();
    assert!(kinds("sh", "tour") >= 4 && kinds("sh", "cli") >= 1 && kinds("toml", "") >= 1);
    assert!(kinds("c", "") >= 1 && kinds("json", "") >= 1);
}

/// Lines of a shell block with comments and continuations folded away.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(line);
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_owned());
        }
        cur.clear();
    }
    out
}

fn help_accepts(args: &[&str]) -> Result<(), String> {
    let out = Command::new(BIN)
        .args(args)
        .arg("--help")
        .env_remove("JWTAUTH_CONFIG")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_cli_line_is_accepted_by_the_binary() {
    let mut lines = 0;
    for b in readme().iter().filter(|b| b.kind() == "cli") {
        for cmd in commands(&b.text) {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            assert_eq!(words[0], "jwtauth-server", "{}: {cmd}", b.at());
            if let Err(e) = help_accepts(&words[1..]) {
                panic!("{}: `{cmd}` is refused:\n{e}", b.at());
            }
            lines += 1;
        }
    }
    assert!(lines >= 8, "{lines}");
    // The check can fail: a subcommand that does not exist is refused.
    assert!(help_accepts(&["user", "rename", "NAME"]).is_err());
}

/// Workspace packages by name, with their folders.
fn packages() -> Vec<(String, PathBuf)> {
    ["core", "ffi", "server", "tui"]
        .iter()
        .map(|dir| {
            let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .unwrap()
                .to_owned();
            (name, root().join(dir))
        })
        .collect()
}

/// What a command names must exist: `-p` packages, `--bench`/`--test` targets of that
/// package, files under `scripts/`, `examples/`, `include/`, and for
/// `cargo run -p jwtauth-server -- ARGS`, arguments the server accepts.
fn check_names(cmd: &str, packages: &[(String, PathBuf)]) -> Result<(), String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let mut package: Option<&PathBuf> = None;
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        match *w {
            "-p" | "--package" => {
                package = Some(
                    packages
                        .iter()
                        .find(|(n, _)| n == next)
                        .map(|(_, d)| d)
                        .ok_or_else(|| format!("no package {next}"))?,
                );
            }
            "--bench" | "--test" => {
                let dir = package.ok_or_else(|| format!("{w} without -p"))?;
                let sub = if *w == "--bench" { "benches" } else { "tests" };
                let file = dir.join(sub).join(format!("{next}.rs"));
                if !file.is_file() {
                    return Err(format!("{} does not exist", file.display()));
                }
            }
            "--" if words.first() == Some(&"cargo") => {
                if package.is_some_and(|d| d.ends_with("server")) {
                    help_accepts(&words[i + 1..])?;
                }
                break;
            }
            path if ["scripts/", "examples/", "include/"]
                .iter()
                .any(|p| path.starts_with(p)) =>
            {
                let path = path.trim_end_matches(['/', ';']);
                if !root().join(path).exists() {
                    return Err(format!("{path} does not exist"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn every_other_shell_block_is_valid_and_names_what_exists() {
    let packages = packages();
    let mut checked = 0;
    for b in all_blocks().iter().filter(|b| b.lang() == "sh" && b.kind().is_empty()) {
        let out = Command::new("bash").args(["-n", "-c", &b.text]).output().unwrap();
        assert!(
            out.status.success(),
            "{}: not valid shell: {}",
            b.at(),
            String::from_utf8_lossy(&out.stderr)
        );
        for cmd in commands(&b.text) {
            if let Err(e) = check_names(&cmd, &packages) {
                panic!("{}: `{cmd}`: {e}", b.at());
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
    // The check can fail.
    assert!(check_names("cargo bench -p jwtauth-core --bench nothing_here", &packages).is_err());
    assert!(check_names("cargo run -p jwtauth-nope", &packages).is_err());
    assert!(check_names("scripts/not-a-script.sh", &packages).is_err());
}

#[test]
fn toml_blocks_load_with_the_real_configuration_loader() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for b in readme().iter().filter(|b| b.lang() == "toml") {
        let path = dir.path().join(format!("jwtauth-{}.toml", b.line));
        std::fs::write(&path, &b.text).unwrap();
        if let Err(e) = jwtauth_core::Config::load(Some(&path)) {
            panic!("{}: not a valid jwtauth.toml: {e}", b.at());
        }
        n += 1;
    }
    assert!(n >= 1);
    // The loader refuses what is wrong, so the check can fail.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "audiance = \"x\"\n").unwrap();
    assert!(jwtauth_core::Config::load(Some(&bad)).is_err());
}

#[test]
fn json_blocks_are_failure_log_lines() {
    let mut n = 0;
    for b in readme().iter().filter(|b| b.lang() == "json") {
        let r: Result<jwtauth_core::audit::FailureRecord, _> = serde_json::from_str(b.text.trim());
        let r = r.unwrap_or_else(|e| panic!("{}: not a failure-log line: {e}", b.at()));
        assert!(
            r.reason.parse::<jwtauth_core::Reason>().is_ok(),
            "{}: {}",
            b.at(),
            r.reason
        );
        n += 1;
    }
    assert!(n >= 1);
}

/// Waits for `child` at most `limit`; kills it after that.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tool(name: &str) {
    let ok = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "the README's tour uses {name}: install it (apt install {name})");
}

/// The server as the README starts it, in a folder of its own that stands for the
/// repository: `./target/release/jwtauth-server` is this build's binary.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for the tour: the README's defaults, so no `JWTAUTH_*` but the port.
fn clean(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JWTAUTH_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn start(dir: &Path) -> Server {
    let mut cmd = Command::new(dir.join("target/release/jwtauth-server"));
    clean(&mut cmd)
        .current_dir(dir)
        .env("JWTAUTH_SERVER__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    let l =
        binary::spawn(&mut cmd).unwrap_or_else(|(code, err)| panic!("the server did not start (exit {code}): {err}"));
    Server {
        child: l.child,
        base: l.base,
        stderr: l.stderr,
    }
}

#[test]
fn the_five_minute_tour_runs_as_written_against_a_real_server() {
    tool("curl");
    tool("jq");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("target/release")).unwrap();
    std::os::unix::fs::symlink(BIN, dir.path().join("target/release/jwtauth-server")).unwrap();
    let server = start(dir.path());

    let tour: Vec<String> = readme()
        .iter()
        .filter(|b| b.kind() == "tour")
        .map(|b| b.text.clone())
        .collect();
    let script = tour.join("\n");
    assert!(script.contains(README_BASE), "the tour talks to {README_BASE}");
    let script = script.replace(README_BASE, &server.base);
    let mut sh = clean(&mut Command::new("bash"))
        .args(["-euo", "pipefail", "-s"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let (mut o, mut e) = (sh.stdout.take().unwrap(), sh.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = e.read_to_string(&mut s);
        s
    });
    o.read_to_string(&mut out).unwrap();
    let code = wait_bounded(&mut sh, Duration::from_secs(120));
    err.push_str(&reader.join().unwrap());
    assert_eq!(
        code,
        Some(0),
        "the tour failed\nstdout:\n{out}\nstderr:\n{err}\nserver:\n{}",
        server.stderr.lock().unwrap()
    );

    // What the README says each step shows.
    assert!(out.contains("user 'alice' added"), "{out}");
    assert!(out.contains("\"token_type\": \"Bearer\""), "{out}");
    assert!(out.lines().any(|l| l == "[]"), "no products yet: {out}");
    assert!(out.contains("\"sub\":\"alice\""), "{out}");
    assert!(out.contains("VALID: subject 'alice'"), "{out}");
    assert!(out.contains("\"error_description\":\"bad_scheme:"), "{out}");
    assert!(out.contains("\"error_description\":\"refresh_reused:"), "{out}");

    // And the failures the TUI would show are in the log it follows.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut server = server;
    assert_eq!(wait_bounded(&mut server.child, Duration::from_secs(20)), Some(0));
    let files = jwtauth_core::audit::log_files(&dir.path().join("logs"), "failures").unwrap();
    let log: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    for reason in ["\"reason\":\"bad_scheme\"", "\"reason\":\"refresh_reused\""] {
        assert!(log.contains(reason), "{reason} not in the failure log:\n{log}");
    }
    assert!(!log.contains("a tour password 42"), "no password in the log");
}
