//! The real binary in a pseudo-terminal against a real SQLite store: failures
//! appended to the log directory (across a daily rotation) appear on screen; a
//! key rotated with keystrokes is published ahead in the store (and an emergency
//! rotation signs at once); keys typed right after a resize are taken at once; a
//! user added and disabled, and a client added, with keystrokes are so in the
//! store, and the client's secret is shown once and works.

#![allow(clippy::unwrap_used)] // helpers of a test: a failure should fail loudly

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwtauth_core::{Config, JwtAuth, KeyState, Login, RequestInfo};
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

/// A store as `jwtauth-server init` leaves it (one active key), its log directory
/// and the configuration file naming both.
struct Store {
    dir: tempfile::TempDir,
    config_path: std::path::PathBuf,
    config: Config,
}

impl Store {
    fn new() -> Store {
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
        drop(JwtAuth::open(config.clone()).unwrap());
        Store {
            dir,
            config_path,
            config,
        }
    }

    /// The store as another process sees it now.
    fn open(&self) -> JwtAuth {
        JwtAuth::open(self.config.clone()).unwrap()
    }
}

/// The binary running in a pseudo-terminal.
struct Tui {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    keys: Box<dyn Write + Send>,
    screen: Screen,
}

impl Tui {
    fn start(store: &Store, rows: u16, cols: u16) -> Tui {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_jwtauth-tui"));
        cmd.arg("--config");
        cmd.arg(&store.config_path);
        cmd.cwd(store.dir.path());
        cmd.env("TERM", "xterm-256color");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("JWTAUTH_") {
                cmd.env_remove(k);
            }
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let keys = pty.master.take_writer().unwrap();
        let screen = Screen {
            parser: Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0))),
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
        Tui {
            child,
            master: pty.master,
            keys,
            screen,
        }
    }

    fn press(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
    }

    /// Presses `keys`, then waits for `shows`.
    fn then(&mut self, keys: &str, shows: &str) -> String {
        self.press(keys);
        self.screen.wait_for(shows)
    }

    /// Quits with `q` and checks the terminal is given back.
    fn quit(mut self) {
        self.press("q");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
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
                let p = self.screen.parser.lock().unwrap();
                (p.screen().alternate_screen(), p.screen().hide_cursor())
            };
            if !alternate && !hidden {
                break;
            }
            assert!(start.elapsed() < PATIENCE, "terminal not restored");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_secs()).unwrap()
}

#[test]
fn follows_the_log_and_rotates_a_key_with_keystrokes() {
    let store = Store::new();
    let logs = store.dir.path().join("logs");
    let first_kid = store.open().keys().list().unwrap()[0].kid.to_string();
    let today = logs.join("failures.2026-11-28.jsonl");
    append(&today, &line("2026-11-28T10:00:00Z", "expired", "history-before-start"));

    let mut tui = Tui::start(&store, 30, 120);
    let screen = &tui.screen;

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

    // Keys view: rotate with keystrokes and confirm. The new key is published now
    // and signs after key_publish_ahead (10 min by default); the old one still signs.
    tui.then("2", &first_kid);
    let question = tui.then("r", "Rotate?");
    assert!(question.contains("(in 10 min,"), "{question}");
    let asked_at = now();
    let text = tui.then("y", "published now, signs from");

    let stored = store.open().keys().list().unwrap();
    let next: Vec<_> = stored.iter().filter(|k| k.state == KeyState::Next).collect();
    assert_eq!(next.len(), 1, "{stored:?}");
    let activates = next[0].activates_at.unwrap();
    assert!(
        (asked_at + 600 - 5..=now() + 600 + 5).contains(&activates),
        "activation {activates} is not about now + 600 s (asked at {asked_at})"
    );
    let new_kid = next[0].kid.to_string();
    assert!(text.contains(&new_kid), "the new kid is on screen:\n{text}");
    let old = stored.iter().find(|k| k.kid.as_str() == first_kid).unwrap();
    assert_eq!(
        old.state,
        KeyState::Active,
        "the old key signs until the new one starts"
    );
    // The selection stayed on the key it was on; the next key is listed first.
    tui.then("g", &format!("selected kid {new_kid}  signs from"));

    // The emergency rotation signs at once and withdraws the pending next key.
    tui.then("!", "EMERGENCY rotation");
    let text = tui.then("y", "is the active key");
    let stored = store.open().keys().list().unwrap();
    let active: Vec<_> = stored.iter().filter(|k| k.state == KeyState::Active).collect();
    assert_eq!(active.len(), 1, "{stored:?}");
    let now_kid = active[0].kid.to_string();
    assert!(now_kid != first_kid && now_kid != new_kid, "{stored:?}");
    assert!(text.contains(&now_kid), "{text}");
    let state = |kid: &str| stored.iter().find(|k| k.kid.as_str() == kid).map(|k| k.state);
    assert_eq!(state(&first_kid), Some(KeyState::VerifyOnly));
    assert_eq!(state(&new_kid), Some(KeyState::Retired));

    // A key typed right after a resize is taken at once, not left until the next
    // key arrives: switch views across resizes, each time with no pause between.
    for round in 0..8 {
        let (rows, cols, key, shows, gone) = if round % 2 == 0 {
            (24, 80, "1", "last hour", "signing keys")
        } else {
            (30, 120, "2", "signing keys", "last hour")
        };
        tui.screen.resize(tui.master.as_ref(), rows, cols);
        tui.press(key);
        tui.screen
            .wait_until(&format!("{shows:?} without {gone:?} (round {round})"), |text| {
                text.contains(shows) && !text.contains(gone)
            });
    }

    // A resize to 80x24 redraws the whole screen at the new size.
    tui.screen.resize(tui.master.as_ref(), 24, 80);
    tui.press("1");
    tui.screen.wait_for_all(&["per 3 min, last hour", "after-rotation"]);
    tui.quit();
}

#[test]
fn a_user_and_a_client_are_managed_with_keystrokes_in_the_store() {
    let store = Store::new();
    let mut tui = Tui::start(&store, 30, 120);
    tui.screen.wait_for("sqlite://");
    tui.then("4", "0 users, 0 disabled");

    // Add: name, roles, then the password twice into a masked input.
    const PASSWORD: &str = "e2e-Pa55word";
    tui.then("a", "new user: login name");
    tui.then("dave\r", "new user dave: roles");
    tui.then("Editor Viewer\r", "password of new user dave");
    let typed = tui.then(PASSWORD, "password: ••••••••••••█");
    let again = tui.then("\r", "again:");
    let done = tui.then(
        &format!("{PASSWORD}\r"),
        "user 'dave' added with roles [Editor, Viewer]",
    );
    for text in [typed, again, done] {
        assert!(!text.contains(PASSWORD), "a password is never drawn:\n{text}");
    }
    tui.screen.wait_for("1 user, 0 disabled");
    let auth = store.open();
    let users = auth.users().list().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].name.as_str(), users[0].roles.clone()),
        ("dave", vec!["Editor".to_owned(), "Viewer".to_owned()])
    );
    let login = Login::new().unwrap();
    let request = RequestInfo::default();
    assert!(
        login.login(auth.users(), "dave", PASSWORD, None, &request).is_ok(),
        "the typed password is dave's"
    );

    // Disable: asked first, then dave can no longer log in.
    let question = tui.then("d", "Disable dave?");
    assert!(question.contains("y yes  n no"), "{question}");
    tui.then("y", "user 'dave' disabled; its sessions and tokens are revoked");
    assert!(store.open().users().list().unwrap()[0].disabled);
    assert!(login.login(auth.users(), "dave", PASSWORD, None, &request).is_err());
    assert!(
        auth.sessions().list(Some("dave"), 10).unwrap().is_empty(),
        "its sessions ended"
    );

    // A client: its secret is shown once, works, and is not shown again.
    tui.then("5", "0 clients, 0 disabled");
    tui.then("a", "new service client: client id");
    tui.then("ledger\r", "new client ledger: roles");
    tui.press("Reader\r");
    let dialog = tui
        .screen
        .wait_for_all(&["client secret, shown once", "jwtcs_", "Enter close"]);
    let at = dialog.find("jwtcs_").unwrap();
    let secret: String = dialog[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let ok = auth.clients().authenticate("ledger", &secret, &request);
    assert!(ok.is_ok(), "the secret on screen is the client's: {secret}");
    tui.press("\r");
    tui.screen.wait_until("the secret gone", |text| {
        !text.contains("jwtcs_") && text.contains("only its hash is stored")
    });
    // Back and forth, and a reload: never shown again.
    tui.then("4", "1 user, 1 disabled");
    tui.then("5R", "reloaded:");
    let text = tui.screen.wait_for("selected client ledger  roles [Reader]");
    assert!(!text.contains("jwtcs_"), "{text}");
    tui.quit();
}
