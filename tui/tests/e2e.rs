//! The real binary in a pseudo-terminal: failures appended to the log directory
//! (across a daily rotation) appear on screen, and a key rotated with keystrokes
//! is the active key in the store afterwards, and keys typed right after a resize
//! are taken at once.

#![allow(clippy::unwrap_used)] // helpers of a test: a failure should fail loudly

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwtauth_core::{Config, JwtAuth, KeyState};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// Upper bound for anything to show up; only guards against a hang.
const PATIENCE: Duration = Duration::from_secs(60);

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `needle`; panics with the screen if it never does.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_all(&[needle])
    }

    /// Waits until the screen shows every one of `needles` at once. A frame can
    /// reach the parser in several reads, so one needle on screen does not mean
    /// the rest of its frame is there yet.
    fn wait_for_all(&self, needles: &[&str]) -> String {
        self.wait_until(&format!("all of {needles:?}"), |text| {
            needles.iter().all(|n| text.contains(n))
        })
    }

    /// Waits until `ready` holds for the screen; panics with the screen if it never does.
    fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if ready(&text) {
                return text;
            }
            assert!(start.elapsed() < PATIENCE, "never saw {what}; the screen:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resizes the terminal and this parser's screen alike.
    fn resize(&self, pty: &dyn portable_pty::MasterPty, rows: u16, cols: u16) {
        pty.resize(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
        self.parser.lock().unwrap().screen_mut().set_size(rows, cols);
    }
}

fn line(time: &str, reason: &str, subject: &str) -> String {
    format!(
        "{{\"time\":\"{time}\",\"reason\":\"{reason}\",\"hint\":\"e2e\",\"subject\":\"{subject}\",\"subject_verified\":false,\"client\":\"192.0.2.1:4000\",\"method\":\"GET\",\"path\":\"/api/products\"}}\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn follows_the_log_and_rotates_a_key_with_keystrokes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let config_path = dir.path().join("jwtauth.toml");
    let toml = format!(
        "store.url = \"sqlite://{}\"\nlog.dir = \"{}\"\nalgorithm = \"ES256\"\n",
        dir.path().join("jwtauth.db").display(),
        logs.display()
    );
    std::fs::write(&config_path, &toml).unwrap();
    // The file alone: the JWTAUTH_* variables of whoever runs the tests do not apply
    // (they are removed from the binary's environment below too).
    let config = Config::from_toml(&toml).unwrap();
    // The store as a server would leave it: one active key.
    let first_kid = JwtAuth::open(config.clone()).unwrap().keys().list().unwrap()[0]
        .kid
        .to_string();
    let today = logs.join("failures.2026-11-28.jsonl");
    append(&today, &line("2026-11-28T10:00:00Z", "expired", "history-before-start"));

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_jwtauth-tui"));
    cmd.arg("--config");
    cmd.arg(&config_path);
    cmd.cwd(dir.path());
    cmd.env("TERM", "xterm-256color");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JWTAUTH_") {
            cmd.env_remove(k);
        }
    }
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut keys = pty.master.take_writer().unwrap();
    let screen = Screen {
        parser: Arc::new(Mutex::new(vt100::Parser::new(30, 120, 0))),
    };
    let parser = screen.parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            parser.lock().unwrap().process(&buf[..n]);
        }
    });

    // History loaded at start, then lines appended while it runs, across a new daily file.
    screen.wait_for("history-before-start");
    assert!(screen.parser.lock().unwrap().screen().alternate_screen());
    screen.wait_for("sqlite://");
    append(&today, &line("2026-11-28T23:59:59Z", "bad_signature", "appended-today"));
    screen.wait_for("appended-today");
    append(&today, "{\"time\":\"2026-11-28T23:59:59Z\",\"rea");
    let tomorrow = logs.join("failures.2026-11-29.jsonl");
    append(
        &tomorrow,
        &line("2026-11-29T00:00:01Z", "wrong_audience", "after-rotation"),
    );
    // The cut line is counted.
    screen.wait_for_all(&["after-rotation", "skipped 1"]);

    // Keys view: rotate with keystrokes and confirm.
    keys.write_all(b"2").unwrap();
    screen.wait_for(&first_kid);
    keys.write_all(b"r").unwrap();
    screen.wait_for("Rotate?");
    keys.write_all(b"y").unwrap();
    let text = screen.wait_for("is the active key");

    let auth = JwtAuth::open(config).unwrap();
    let stored = auth.keys().list().unwrap();
    let active: Vec<_> = stored.iter().filter(|k| k.state == KeyState::Active).collect();
    assert_eq!(active.len(), 1, "{stored:?}");
    let new_kid = active[0].kid.to_string();
    assert_ne!(new_kid, first_kid);
    assert!(text.contains(&new_kid), "the new kid is on screen:\n{text}");
    let old = stored.iter().find(|k| k.kid.as_str() == first_kid).unwrap();
    assert_eq!(old.state, KeyState::VerifyOnly);

    // A key typed right after a resize is taken at once, not left until the next
    // key arrives: switch views across resizes, each time with no pause between.
    for round in 0..8 {
        let (rows, cols, key, shows, gone) = if round % 2 == 0 {
            (24, 80, b"1", "last hour", "signing keys")
        } else {
            (30, 120, b"2", "signing keys", "last hour")
        };
        screen.resize(pty.master.as_ref(), rows, cols);
        keys.write_all(key).unwrap();
        screen.wait_until(&format!("{shows:?} without {gone:?} (round {round})"), |text| {
            text.contains(shows) && !text.contains(gone)
        });
    }

    // A resize to 80x24 redraws the whole screen at the new size.
    screen.resize(pty.master.as_ref(), 24, 80);
    keys.write_all(b"1").unwrap();
    screen.wait_for_all(&["per 3 min, last hour", "after-rotation"]);

    keys.write_all(b"q").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The terminal is given back: main screen, cursor shown.
    let start = Instant::now();
    loop {
        let (alternate, hidden) = {
            let p = screen.parser.lock().unwrap();
            (p.screen().alternate_screen(), p.screen().hide_cursor())
        };
        if !alternate && !hidden {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "terminal not restored");
        std::thread::sleep(Duration::from_millis(50));
    }
}
