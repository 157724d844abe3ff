//! The real `jwtauth-server` binary in a child process: a subcommand run to its
//! end, or a server whose stderr is collected as it comes and whose address is
//! read from the line it prints on stdout. Shared by the tests that run the binary
//! (`#[path]`-included, so the other tests need not build it).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A server process that printed its address.
pub struct Listening {
    pub child: Child,
    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub base: String,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

/// Spawns `cmd` with stdout and stderr piped here and waits for its address; when
/// it exits (or closes stdout) first: its exit code and stderr.
pub fn spawn(cmd: &mut Command) -> Result<Listening, (i32, String)> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("jwtauth-server listening on ") {
                    break url.to_owned();
                }
            }
            _ => {
                let _ = child.kill();
                let code = child.wait().map_or(-1, |s| s.code().unwrap_or(-1));
                let _ = reader.join();
                let err = stderr.lock().unwrap().clone();
                return Err((code, err));
            }
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Listening { child, base, stderr })
}

/// Runs `cmd` to its end with `stdin` as its input: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command, stdin: &str) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
