//! The real `jwtauth-server` binary: subcommands, first start, the failure log,
//! graceful shutdown, and two processes sharing one PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/binary.rs"]
mod binary;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jwtauth-server");

struct Env {
    dir: PathBuf,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new(dir: &Path, store_url: &str, extra: &[(&str, &str)]) -> Env {
        let mut vars = vec![
            ("JWTAUTH_STORE__URL".to_owned(), store_url.to_owned()),
            ("JWTAUTH_LOG__DIR".to_owned(), dir.join("logs").display().to_string()),
            ("JWTAUTH_SERVER__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ];
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Env {
            dir: dir.to_path_buf(),
            vars,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(&self.dir).env_remove("JWTAUTH_CONFIG");
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Runs a subcommand to the end: (exit code, stdout, stderr).
    fn run(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        binary::run(&mut self.command(args), stdin)
    }

    fn serve(&self) -> Server {
        let l = binary::spawn(&mut self.command(&[]))
            .unwrap_or_else(|(code, err)| panic!("server did not start (exit {code}): {err}"));
        Server {
            child: l.child,
            base: l.base,
            stderr: l.stderr,
        }
    }
}

struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits: the server must stop by itself, cleanly.
    fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        if code != 0 {
            let _ = std::io::stderr().write_all(self.stderr.lock().unwrap().as_bytes());
        }
        code
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent("processes-test/1")
        .build()
        .unwrap()
}

fn login(c: &reqwest::blocking::Client, s: &Server, user: &str, pw: &str) -> Value {
    let r = c
        .post(s.url("/auth/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    r.json().unwrap()
}

fn failure_lines(dir: &Path) -> Vec<Value> {
    let files = jwtauth_core::audit::log_files(&dir.join("logs"), "failures").unwrap();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn subcommands_serve_and_the_failure_log_carry_the_request_context() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    let env = Env::new(dir.path(), &url, &[]);
    let password = "a long secret 42";

    // Administration opens a store that exists; `init` makes one without serving.
    let (code, _, err) = env.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = env.run(&["user", "add", "alice", "--role", "Admin"], &format!("{password}\n"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice"), "{out}");
    let (code, _, err) = env.run(&["user", "add", "alice"], "another secret\n");
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (_, out, _) = env.run(&["user", "list"], "");
    assert!(
        out.contains("alice") && out.contains("Admin") && out.contains("active"),
        "{out}"
    );

    let (code, _, err) = env.run(&["user", "add", "bob"], "bob's password\n");
    assert_eq!(code, 0, "{err}");
    let s = env.serve();
    assert!(
        !s.stderr.lock().unwrap().contains("First start"),
        "users exist: no bootstrap"
    );
    let c = client();
    let tokens = login(&c, &s, "alice", password);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        c.get(s.url("/api/products"))
            .bearer_auth(&access)
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(c.get(s.url("/api/products")).send().unwrap().status(), 401);
    let r = c
        .post(s.url("/auth/login"))
        .json(&json!({"username": "alice", "password": "not the password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        c.post(s.url("/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .unwrap();
    }
    let bob = login(&c, &s, "bob", "bob's password");
    let bob_access = bob["access_token"].as_str().unwrap().to_owned();
    let r = c
        .post(s.url("/api/products"))
        .bearer_auth(&bob_access)
        .json(&json!({"name": "Tea", "price": 1}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = c
            .post(s.url("/auth/login"))
            .json(&json!({"username": "mallory", "password": "guess guess"}))
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(s.terminate(), 0, "graceful shutdown exits cleanly");

    let lines = failure_lines(dir.path());
    let reasons: Vec<&str> = lines.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "missing_token",
            "bad_credentials",
            "refresh_reused",
            "insufficient_role",
            "bad_credentials",
            "bad_credentials",
            "bad_credentials",
            "bad_credentials",
            "bad_credentials",
            "rate_limited",
        ],
        "each failure is written once: {lines:#?}"
    );
    for l in &lines {
        for member in ["client", "method", "path", "user_agent", "request_id", "hint", "time"] {
            assert!(l.get(member).is_some(), "{member} missing in {l}");
        }
        assert!(l["client"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_eq!(l["user_agent"], "processes-test/1");
    }
    assert_eq!(lines[0]["path"], "/api/products");
    assert_eq!(lines[1]["subject"], "alice");
    assert_eq!(lines[1]["subject_verified"], false);
    let raw: String = lines.iter().map(Value::to_string).collect();
    assert!(!raw.contains(password) && !raw.contains("not the password") && !raw.contains(refresh));
    assert!(!raw.contains(&access) && !raw.contains(&bob_access));

    // The replayed refresh token revoked alice's session, and with it (through
    // `sid`) the access token that session issued; bob's session is untouched.
    let (code, out, _) = env.run(&["token", "inspect", &access], "");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("INVALID: revoked: the token's session was revoked"),
        "{out}"
    );
    let (code, out, _) = env.run(&["token", "inspect", &format!("Bearer {bob_access}")], "");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("VALID: subject 'bob'") && out.contains("note: the input starts with 'Bearer '"),
        "{out}"
    );
    // `-` takes it from stdin, so a live token stays out of the process list.
    let (code, out, _) = env.run(&["token", "inspect", "-"], &format!("{bob_access}\n"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VALID: subject 'bob'"), "{out}");
    let (code, out, _) = env.run(&["token", "inspect", "abc.def.ghi"], "");
    assert_eq!(code, 2);
    assert!(out.contains("INVALID: malformed"), "{out}");

    let (code, out, _) = env.run(&["keys", "rotate"], "");
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = env.run(&["keys", "list"], "");
    assert!(
        out.contains("active") && out.contains(" next "),
        "published ahead: {out}"
    );
    let (code, out, _) = env.run(&["keys", "rotate", "--now"], "");
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = env.run(&["keys", "list"], "");
    assert!(out.contains("active") && out.contains("verify-only"), "{out}");
    let (code, _, _) = env.run(&["user", "disable", "alice"], "");
    assert_eq!(code, 0);
    let (_, out, _) = env.run(&["user", "list"], "");
    assert!(out.contains("disabled"), "{out}");
}

#[test]
fn the_first_start_puts_the_admin_password_in_an_owner_only_file_off_a_terminal_and_never_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    let env = Env::new(dir.path(), &url, &[]);
    let s = env.serve();
    // stderr is a pipe here, as under journald or docker: the password goes to an
    // owner-only file and stderr says where. stderr is read by another thread: let
    // it catch up (bounded).
    let file = dir.path().join("logs").join("first-admin-password");
    // Up to 30 s: a loaded machine may take its time. (The master key's line, which
    // comes first, says "readable by this user only" too: wait for the file's name.)
    for _ in 0..600 {
        if s.stderr.lock().unwrap().contains(&file.display().to_string()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = s.stderr.lock().unwrap().clone();
    assert!(err.contains(&file.display().to_string()), "{err}");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(password.len() >= 16);
    assert!(!err.contains(&password), "the password reached stderr");
    std::fs::remove_file(&file).unwrap();
    let c = client();
    let me: Value = {
        let t = login(&c, &s, "admin", &password);
        c.get(s.url("/auth/me"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(me["roles"], json!(["Admin"]));
    assert_eq!(s.terminate(), 0);
    let again = env.serve();
    assert!(!again.stderr.lock().unwrap().contains("with password"));
    assert_eq!(again.terminate(), 0);
    assert!(!file.exists(), "no second password file");
    for f in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains(&password));
    }
}

/// On SQLite a refresh runs on the server's worker thread; when it must wait for the
/// store's write lock (held here by a connection of this test, as another process
/// would hold it), the wait leaves the worker. With one worker thread the server
/// answers other requests while the refresh waits, and the refresh succeeds once
/// the lock is released. A worker that waited itself would answer nothing until
/// the refresh gave up (503 after the store's 10 s busy timeout).
#[test]
fn a_refresh_waiting_for_the_sqlite_write_lock_holds_up_no_other_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jwtauth.db");
    let url = format!("sqlite://{}", db.display());
    let env = Env::new(dir.path(), &url, &[("TOKIO_WORKER_THREADS", "1")]);
    let password = "a long secret 42";
    let (code, _, err) = env.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["user", "add", "alice"], &format!("{password}\n"));
    assert_eq!(code, 0, "{err}");
    let s = env.serve();
    let c = client();
    let refresh = login(&c, &s, "alice", password)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (refresh_url, presented) = (s.url("/auth/refresh"), refresh.clone());
    let pending = std::thread::spawn(move || {
        let r = client()
            .post(refresh_url)
            .json(&json!({"refresh_token": presented}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    });
    // Let the refresh reach the lock (it cannot pass it while this test holds it).
    std::thread::sleep(Duration::from_millis(500));
    for path in ["/healthz", "/.well-known/jwks.json"] {
        assert_eq!(c.get(s.url(path)).send().unwrap().status(), 200, "{path}");
    }
    assert!(
        !pending.is_finished(),
        "the other requests were answered while the refresh waited for the lock"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    let (status, body) = pending.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let next = body["refresh_token"].as_str().unwrap();
    assert_ne!(next, refresh);
    // The rotation committed: the new token refreshes in turn.
    let again = c
        .post(s.url("/auth/refresh"))
        .json(&json!({"refresh_token": next}))
        .send()
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(s.terminate(), 0);
}

/// A fresh PostgreSQL schema, or `None` with a note when the server is unreachable.
fn pg_schema() -> Option<(String, String)> {
    let base =
        std::env::var("JWTAUTH_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("JWTAUTH_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL at {base} is required (JWTAUTH_REQUIRE_PG=1) but unreachable: {e}");
            }
            let _ = std::io::stderr().write_all(
                format!("NOTE: the two-process PostgreSQL test did not run: {base} is unreachable ({e})\n").as_bytes(),
            );
            return None;
        }
    };
    let mut id = [0u8; 6];
    aws_lc_rs::rand::fill(&mut id).unwrap();
    let schema = format!("jts_{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((format!("{base}{sep}options=-c%20search_path%3D{schema}"), schema))
}

struct DropSchema(String);
impl Drop for DropSchema {
    fn drop(&mut self) {
        let base =
            std::env::var("JWTAUTH_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}

#[test]
fn every_request_has_its_access_line_on_stderr_in_order_before_the_servers_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    let env = Env::new(dir.path(), &url, &[("RUST_LOG", "info")]);
    let (code, _, err) = env.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let s = env.serve();
    let c = client();
    let ids: Vec<String> = (0..20).map(|i| format!("access-{i}")).collect();
    for id in &ids {
        let r = c.get(s.url("/healthz")).header("x-request-id", id).send().unwrap();
        assert_eq!(r.status(), 200);
    }
    // At once: access lines wait up to 100 ms for company, so the last of these
    // are still waiting when the signal comes.
    let stderr = s.stderr.clone();
    assert_eq!(s.terminate(), 0);
    // The pipe may still hold the end when the process is gone (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stderr.lock().unwrap().contains("stopped") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = stderr.lock().unwrap().clone();
    let access: Vec<&str> = text.lines().filter(|l| l.contains(" jwtauth::access: ")).collect();
    let logged: Vec<String> = access
        .iter()
        .filter_map(|l| l.split("request_id=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    assert_eq!(logged, ids, "{text}");
    for l in &access {
        assert!(
            l.contains(r#"method="GET" path="/healthz" status=200 micros="#) && l.contains(" INFO request{request_id="),
            "{l}"
        );
    }
    // The server's own lines keep their place after the requests'.
    let last = text.lines().last().unwrap_or_default();
    assert!(last.contains("stopped"), "{text}");
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    let env = Env::new(
        dir.path(),
        &url,
        &[
            ("JWTAUTH_SERVER__TRUSTED_PROXIES", "[127.0.0.1]"),
            ("JWTAUTH_LOGIN__CLIENT_BURST", "2"),
            ("JWTAUTH_LOGIN__CLIENT_PERIOD", "1h"),
            ("JWTAUTH_LOGIN__USER_BURST", "100"),
        ],
    );
    // Administration opens a store that exists; `init` makes one without serving.
    let (code, _, err) = env.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&["user", "add", "alice"], "alice's password\n");
    assert_eq!(code, 0, "{err}");
    let s = env.serve();
    let c = client();
    let attempt = |forwarded: &str, user: &str| {
        c.post(s.url("/auth/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": user, "password": "a wrong guess"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // Two attempts per client address, whatever the username.
    assert_eq!(attempt("198.51.100.1", "alice"), 401);
    assert_eq!(attempt("198.51.100.1", "mallory"), 401);
    assert_eq!(attempt("198.51.100.1", "trudy"), 429);
    // Another client behind the same proxy has its own allowance.
    assert_eq!(attempt("198.51.100.2", "alice"), 401);
    // Prepending a made-up address does not help: the proxy's entry is the rightmost.
    assert_eq!(attempt("203.0.113.50, 198.51.100.1", "alice"), 429);
    assert_eq!(s.terminate(), 0);

    let lines = failure_lines(dir.path());
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["reason"].as_str().unwrap(), l["client"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("bad_credentials", "198.51.100.1"),
            ("bad_credentials", "198.51.100.1"),
            ("rate_limited", "198.51.100.1"),
            ("bad_credentials", "198.51.100.2"),
            ("rate_limited", "198.51.100.1"),
        ]
    );
}

#[test]
fn two_processes_sharing_postgresql_agree_on_tokens_sessions_and_keys() {
    let Some((url, schema)) = pg_schema() else { return };
    let _cleanup = DropSchema(schema);
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let secret = [("JWTAUTH_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")];
    // Rotations here sign at once (key_publish_ahead = 0): this test is about
    // finding a new kid on demand; the published-ahead rotation has its own test.
    let now = ("JWTAUTH_KEY_PUBLISH_AHEAD", "0");
    let env_a = Env::new(
        dir_a.path(),
        &url,
        &[secret[0], now, ("JWTAUTH_KEY_RELOAD_INTERVAL", "1s")],
    );
    // B never reloads on a timer during the test: it must find new keys on demand.
    let env_b = Env::new(
        dir_b.path(),
        &url,
        &[secret[0], now, ("JWTAUTH_KEY_RELOAD_INTERVAL", "1h")],
    );
    // Administration opens a store that exists; `init` makes one without serving.
    let (code, _, err) = env_a.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env_a.run(&["user", "add", "bob", "--role", "Admin"], "bob's password\n");
    assert_eq!(code, 0, "{err}");
    let a = env_a.serve();
    let b = env_b.serve();
    let c = client();

    let t = login(&c, &a, "bob", "bob's password");
    let access = t["access_token"].as_str().unwrap();
    let r = c.get(b.url("/auth/me")).bearer_auth(access).send().unwrap();
    assert_eq!(r.status(), 200, "a token from A validates on B");

    // B serves its products list from memory: a product added through A shows up on
    // B within the list's maximum age.
    let products = |s: &Server| -> Value {
        c.get(s.url("/api/products"))
            .bearer_auth(access)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(products(&b), json!([]));
    let r = c
        .post(a.url("/api/products"))
        .bearer_auth(access)
        .json(&json!({"name": "Tea", "price": 2}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        products(&a).as_array().unwrap().len(),
        1,
        "A sees its own change at once"
    );
    let deadline = std::time::Instant::now() + jwtauth_server::catalog::Catalog::MAX_AGE * 5;
    while products(&b).as_array().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "B never saw the product added through A"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let refresh = |s: &Server, token: &str| {
        c.post(s.url("/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
            .unwrap()
    };
    let r1 = t["refresh_token"].as_str().unwrap();
    let spent = refresh(&a, r1);
    assert_eq!(spent.status(), 200);
    let r2: Value = spent.json().unwrap();
    let replay: Value = refresh(&b, r1).json().unwrap();
    assert!(
        replay["error_description"]
            .as_str()
            .unwrap()
            .starts_with("refresh_reused:"),
        "{replay}"
    );
    assert_eq!(
        refresh(&a, r2["refresh_token"].as_str().unwrap()).status(),
        401,
        "the family is revoked for A too"
    );

    let old_kid = jsonwebtoken::decode_header(access).unwrap().kid.unwrap();
    // A fresh session to poll with: refreshing is not throttled like logging in.
    let mut chain = login(&c, &a, "bob", "bob's password")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = env_a.run(&["keys", "rotate"], "");
    assert_eq!(code, 0, "{err}");
    let new_kid = out.trim().rsplit(' ').next().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    // A picks the new key up on its next reload (1 s); wait for it, bounded.
    let mut rotated = None;
    for _ in 0..50 {
        let r = refresh(&a, &chain);
        assert_eq!(r.status(), 200);
        let t: Value = r.json().unwrap();
        chain = t["refresh_token"].as_str().unwrap().to_owned();
        let at = t["access_token"].as_str().unwrap().to_owned();
        if jsonwebtoken::decode_header(&at).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
            rotated = Some(at);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let at = rotated.expect("A signs with the rotated key");
    let r = c.get(b.url("/api/products")).bearer_auth(&at).send().unwrap();
    assert_eq!(r.status(), 200, "B accepts the new key without a restart");
    let jwks: Value = c.get(b.url("/.well-known/jwks.json")).send().unwrap().json().unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str())
    );
    assert_eq!(a.terminate(), 0);
    assert_eq!(b.terminate(), 0);
}

/// The kid and `iat` of a token, read without verifying.
fn kid_and_iat(token: &str) -> (String, i64) {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let mut v = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .map(|d| d.claims)
        .unwrap_or_else(|_| panic!("undecodable payload {payload}"));
    (kid, v["iat"].take().as_i64().unwrap())
}

#[test]
fn a_rotated_key_is_published_first_then_signs_everywhere_at_its_instant_and_retires_everywhere() {
    let Some((url, schema)) = pg_schema() else { return };
    let _cleanup = DropSchema(schema);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let vars = [
        ("JWTAUTH_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        ("JWTAUTH_KEY_PUBLISH_AHEAD", "4s"),
        ("JWTAUTH_REVOCATION_STALENESS", "1s"),
        // No timed full reload during the test: only what the core promises.
        ("JWTAUTH_KEY_RELOAD_INTERVAL", "1h"),
    ];
    let envs: Vec<Env> = dirs.iter().map(|d| Env::new(d.path(), &url, &vars)).collect();
    let (code, _, err) = envs[0].run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = envs[0].run(&["client", "add", "svc", "--role", "Reader", "--json"], "");
    assert_eq!(code, 0, "{err}");
    let creds: Value = serde_json::from_str(out.trim()).unwrap();
    let secret = creds["client_secret"].as_str().unwrap().to_owned();
    assert!(!err.contains(&secret), "the secret goes to stdout only");
    let servers: Vec<Server> = envs.iter().map(Env::serve).collect();
    let c = client();
    let token = |s: &Server| -> String {
        let r = c
            .post(s.url("/oauth/token"))
            .basic_auth("svc", Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let jwks_kids = |s: &Server| -> Vec<String> {
        let r = c.get(s.url("/.well-known/jwks.json")).send().unwrap();
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=2",
            "half of key_publish_ahead"
        );
        let v: Value = r.json().unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let old_token = token(&servers[0]);
    let (old_kid, _) = kid_and_iat(&old_token);

    let (code, out, err) = envs[1].run(&["keys", "rotate"], "");
    assert_eq!(code, 0, "{err}");
    let new_kid = out.split_whitespace().nth(2).unwrap().to_owned();
    let at: i64 = out
        .trim()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_kid, old_kid);

    // Poll both servers (bounded): every token carries the old kid when issued
    // before the activation instant and the new one from it on; the new kid is in a
    // server's JWKS before that server's first token carries it.
    let mut published = [false, false];
    let mut switched = [false, false];
    for _ in 0..200 {
        for (i, s) in servers.iter().enumerate() {
            published[i] |= jwks_kids(s).contains(&new_kid);
            let (kid, iat) = kid_and_iat(&token(s));
            let expected = if iat >= at { &new_kid } else { &old_kid };
            assert_eq!(&kid, expected, "server {i}: iat {iat}, activation {at}");
            if kid == new_kid {
                assert!(published[i], "server {i} signed with a kid its JWKS had not published");
                switched[i] = true;
            }
        }
        if switched == [true, true] {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        switched,
        [true, true],
        "both servers sign with the new key after its instant"
    );

    // The old key still verifies (verify-only) until it is retired; once retired
    // through one process, the other refuses its tokens within revocation_staleness.
    let me = |s: &Server, t: &str| c.get(s.url("/auth/me")).bearer_auth(t).send().unwrap();
    assert_eq!(me(&servers[1], &old_token).status(), 200);
    let (code, _, err) = envs[0].run(&["keys", "retire", &old_kid], "");
    assert_eq!(code, 0, "{err}");
    let mut refused = false;
    for _ in 0..100 {
        let r = me(&servers[1], &old_token);
        if r.status() == 401 {
            let v: Value = r.json().unwrap();
            assert!(
                v["error_description"].as_str().unwrap().starts_with("unknown_kid"),
                "{v}"
            );
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        refused,
        "the second process refuses the retired key without a reload timer"
    );
    assert!(!jwks_kids(&servers[1]).contains(&old_kid));
    for s in servers {
        assert_eq!(s.terminate(), 0);
    }
}

#[test]
fn a_flood_of_failures_is_summarised_in_the_log_and_counted_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    let env = Env::new(dir.path(), &url, &[("JWTAUTH_LOG__MAX_REPEATS_PER_MINUTE", "5")]);
    let (code, _, err) = env.run(&["init"], "");
    assert_eq!(code, 0, "{err}");
    let s = env.serve();
    let c = client();
    const FLOOD: u64 = 60;
    for _ in 0..FLOOD {
        let r = c.get(s.url("/api/products")).bearer_auth("not.a.token").send().unwrap();
        assert_eq!(r.status(), 401);
    }
    let metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    let value = |prefix: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    // Every failure is counted, written or not.
    assert_eq!(
        value("jwtauth_auth_failures_total{reason=\"malformed\""),
        FLOOD,
        "{metrics}"
    );
    let suppressed = value("jwtauth_failure_log_suppressed_lines_total");
    assert_eq!(s.terminate(), 0);

    // A clean stop writes the summary still pending.
    let lines: Vec<Value> = failure_lines(dir.path())
        .into_iter()
        .filter(|l| l["reason"] == "malformed")
        .collect();
    let (summaries, plain): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|l| l.get("suppressed").is_some());
    // Five a minute; the flood may straddle a minute boundary.
    assert!((5..=10).contains(&plain.len()), "{lines:#?}");
    let summarised: u64 = summaries.iter().map(|l| l["suppressed"].as_u64().unwrap()).sum();
    assert_eq!(plain.len() as u64 + summarised, FLOOD, "{lines:#?}");
    assert_eq!(summarised, suppressed);
    let hint = summaries[0]["hint"].as_str().unwrap();
    assert!(hint.contains("more failures like this from 127.0.0.1"), "{hint}");
}
