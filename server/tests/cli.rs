//! The administration subcommands' messages, from the real binary: what an
//! operator reads when a command succeeds and when it is given something wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jwtauth-server");

/// Its own SQLite store in `dir`, and no other `JWTAUTH_*` setting.
fn isolate<'a>(c: &'a mut Command, dir: &Path) -> &'a mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JWTAUTH_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .env(
            "JWTAUTH_STORE__URL",
            format!("sqlite://{}", dir.join("jwtauth.db").display()),
        )
        .env("JWTAUTH_LOG__DIR", dir.join("logs"))
}

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    isolate(&mut c, dir).args(args);
    c
}

/// A store in `dir`, made the one way an operator makes one without serving.
fn init(dir: &Path) -> String {
    let (code, _, err) = run(dir, &["init"]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("jwtauth.db").is_file());
    err
}

/// Runs to the end: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(dir, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keys_rotate_names_the_valid_algorithms_and_the_one_meant() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), &["keys", "rotate", "--alg", "bogus"]);
    assert_ne!(code, 0);
    for name in ["HS256", "RS512", "PS384", "ES256", "ES512", "EdDSA"] {
        assert!(err.contains(name), "{name} not listed: {err}");
    }
    let (code, _, err) = run(dir.path(), &["keys", "rotate", "--alg", "es256"]);
    assert_ne!(code, 0);
    assert!(err.contains("did you mean ES256?"), "{err}");
    let (code, _, err) = run(dir.path(), &["keys", "rotate", "--alg", "eddsa"]);
    assert_ne!(code, 0);
    assert!(err.contains("did you mean EdDSA?"), "{err}");
    // Nothing was created by a refused command line.
    assert!(!dir.path().join("jwtauth.db").exists());
    init(dir.path());
    let (code, out, err) = run(dir.path(), &["keys", "rotate", "--alg", "EdDSA", "--now"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("new active key "), "{out}");
    assert!(err.contains("warning: the new key signs at once"), "{err}");
}

#[test]
fn keys_rotate_publishes_a_next_key_that_signs_after_key_publish_ahead() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let (code, out, err) = run(dir.path(), &["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("new key ") && out.contains(" published; it signs at "),
        "{out}"
    );
    let kid = out.split_whitespace().nth(2).unwrap();
    let (_, list, _) = run(dir.path(), &["keys", "list"]);
    let row = list.lines().find(|l| l.starts_with(kid)).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[2], "next", "{row}");
    let signs = time::OffsetDateTime::parse(cols[4], &time::format_description::well_known::Rfc3339).unwrap();
    let created = time::OffsetDateTime::parse(cols[3], &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(
        signs - created,
        time::Duration::minutes(10),
        "the default key_publish_ahead: {row}"
    );
    assert!(
        list.lines().any(|l| l.split_whitespace().nth(2) == Some("active")),
        "{list}"
    );
}

#[test]
fn keys_list_shows_states_as_written_elsewhere_and_when_a_retired_key_retired() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let (code, out, err) = run(dir.path(), &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    let first = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (code, _, err) = run(dir.path(), &["keys", "rotate", "--now"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(dir.path(), &["keys", "list"]);
    assert!(out.contains(" verify-only "), "{out}");
    assert!(!out.contains("verify_only"), "one spelling: {out}");
    assert!(out.lines().next().unwrap().ends_with("RETIREMENT"), "{out}");
    // The old key would have retired after access_ttl + leeway; retired now, it
    // shows now, not that time ahead.
    let (code, _, err) = run(dir.path(), &["keys", "retire", &first]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(dir.path(), &["keys", "list"]);
    let row = out.lines().find(|l| l.starts_with(&first)).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[2], "retired", "{row}");
    let retired = time::OffsetDateTime::parse(cols[5], &time::format_description::well_known::Rfc3339).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(retired <= now, "a retired key shows a past time: {row}");
    assert!(now - retired < time::Duration::minutes(5), "{row}");
}

#[test]
fn token_inspect_shows_iso_times_beside_epoch_seconds() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    // A token with made-up times: inspect decodes what it cannot verify too.
    let b64 = |s: &str| {
        use std::fmt::Write;
        // base64url without padding, enough for this ASCII JSON.
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                let _ = out.write_char(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    };
    let token = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"ES256","typ":"JWT","kid":"nope"}"#),
        b64(r#"{"sub":"alice","iat":1795870000,"exp":1795870900,"nbf":99999999999999}"#)
    );
    let (code, out, _) = run(dir.path(), &["token", "inspect", &token]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("iat 1795870000 = 2026-11-28T12:46:40Z"), "{out}");
    assert!(out.contains("exp 1795870900 = 2026-11-28T13:01:40Z"), "{out}");
    assert!(out.contains("nbf 99999999999999 (not a representable date)"), "{out}");
}

fn has_ansi(s: &str) -> bool {
    s.contains('\u{1b}')
}

/// Runs `args` under a pseudo-terminal (util-linux `script`), where colours are
/// allowed, with keys stored in the clear so that every start warns; returns what
/// the terminal showed.
fn run_on_a_terminal(dir: &Path, args: &[&str], no_color: bool) -> String {
    let line = std::iter::once(BIN)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    isolate(&mut script, dir)
        .args(["-qec", &line, "/dev/null"])
        .env("JWTAUTH_ALLOW_UNSEALED_KEYS", "true");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script
        .output()
        .expect("util-linux `script` runs a command on a terminal");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn log_lines_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_env(dir.path(), &["init"], &[("JWTAUTH_ALLOW_UNSEALED_KEYS", "true")]);
    assert_eq!(code, 0, "{err}");
    // The unencrypted-keys warning (keys in the clear spelled out) is a log line on stderr.
    let (code, _, err) = run_env(
        dir.path(),
        &["keys", "list"],
        &[("JWTAUTH_ALLOW_UNSEALED_KEYS", "true")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("WARN"), "{err}");
    assert!(!has_ansi(&err), "no colours into a pipe: {err:?}");

    let on_tty = run_on_a_terminal(dir.path(), &["keys", "list"], false);
    assert!(on_tty.contains("WARN"), "{on_tty}");
    assert!(has_ansi(&on_tty), "colours on a terminal: {on_tty:?}");
    let no_color = run_on_a_terminal(dir.path(), &["keys", "list"], true);
    assert!(no_color.contains("WARN"), "{no_color}");
    assert!(!has_ansi(&no_color), "NO_COLOR is respected: {no_color:?}");
}

#[test]
fn administration_never_creates_a_store_and_says_which_one_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let abs = std::path::absolute(dir.path().join("jwtauth.db")).unwrap();
    for args in [
        &["user", "list"][..],
        &["user", "disable", "admin"],
        &["keys", "list"],
        &["keys", "rotate"],
    ] {
        let (code, _, err) = run(dir.path(), args);
        assert_ne!(code, 0, "{args:?}");
        assert!(
            err.contains(&format!("no jwtauth store at sqlite://{}", abs.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains("jwtauth-server init"), "{args:?}: {err}");
        assert!(!dir.path().join("jwtauth.db").exists(), "{args:?} created the store");
    }
    // `init` makes it, with one key and the first admin, whose password goes to stderr.
    let err = init(dir.path());
    assert!(err.contains("created user 'admin'"), "{err}");
    let (code, out, err) = run(dir.path(), &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains(" active ")).count(), 1, "{out}");
    // A second init changes nothing: no new key, no new admin.
    let err = init(dir.path());
    assert!(!err.contains("created user"), "{err}");
    let (_, again, _) = run(dir.path(), &["keys", "list"]);
    assert_eq!(again.lines().count(), out.lines().count(), "{again}");
}

/// Runs with `input` on stdin.
fn run_with_input(dir: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = cmd(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = cmd(dir, args);
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn users_are_administered_end_to_end_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let (code, _, err) = run_with_input(
        dir.path(),
        &["user", "add", "erin", "--role", "User"],
        "first password\n",
    );
    assert_eq!(code, 0, "{err}");
    let list = |dir: &Path| run(dir, &["user", "list"]).1;
    let (code, out, err) = run(
        dir.path(),
        &["user", "roles", "erin", "--add", "Admin", "--remove", "User"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("now has roles [Admin]"), "{out}");
    assert!(
        list(dir.path())
            .lines()
            .any(|l| l.starts_with("erin ") && l.ends_with(" Admin"))
    );
    let (code, _, err) = run(dir.path(), &["user", "roles", "erin"]);
    assert_ne!(code, 0);
    assert!(err.contains("--add or --remove"), "{err}");

    let (code, out, err) = run_with_input(dir.path(), &["user", "passwd", "erin"], "second password\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("password of 'erin' changed"), "{out}");
    let (code, _, err) = run_with_input(dir.path(), &["user", "passwd", "erin"], "short\n");
    assert_ne!(code, 0);
    assert!(err.contains("too short"), "{err}");

    let (code, _, _) = run(dir.path(), &["user", "disable", "erin"]);
    assert_eq!(code, 0);
    assert!(
        list(dir.path())
            .lines()
            .any(|l| l.starts_with("erin ") && l.contains(" disabled "))
    );
    let (code, out, err) = run(dir.path(), &["user", "enable", "erin"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("enabled"), "{out}");
    assert!(
        list(dir.path())
            .lines()
            .any(|l| l.starts_with("erin ") && l.contains(" active "))
    );

    let (code, _, err) = run(dir.path(), &["user", "delete", "erin"]);
    assert_eq!(code, 0, "{err}");
    assert!(!list(dir.path()).contains("erin"));
    for args in [
        &["user", "delete", "erin"][..],
        &["user", "enable", "erin"],
        &["user", "roles", "erin", "--add", "X"],
    ] {
        let (code, _, err) = run(dir.path(), args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains("no user 'erin'"), "{args:?}: {err}");
    }
    let (code, _, err) = run_with_input(dir.path(), &["user", "passwd", "erin"], "third password\n");
    assert_ne!(code, 0);
    assert!(err.contains("no user 'erin'"), "{err}");
}

#[test]
fn serve_on_a_port_already_taken_creates_nothing_and_shows_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = cmd(dir.path(), &["serve"])
        .env("JWTAUTH_SERVER__LISTEN", &addr)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!err.contains("password"), "{err}");
    assert!(!dir.path().join("jwtauth.db").exists(), "the store was created");
}

#[test]
fn keys_stored_unsealed_are_counted_at_start_and_sealed_by_keys_seal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
    // A store made with keys in the clear, as every store was before sealing became the default.
    let (code, _, err) = run_env(dir.path(), &["init"], &[("JWTAUTH_ALLOW_UNSEALED_KEYS", "true")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("UNENCRYPTED"), "{err}");
    assert_eq!(mode("jwtauth.db"), 0o600);
    assert!(!dir.path().join("jwtauth.db.master-key").exists());

    // The next start generates the master key beside the store and says what to run.
    let (code, _, err) = run(dir.path(), &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    let key_file = dir.path().join("jwtauth.db.master-key");
    assert!(
        err.contains("generated a master key in") && err.contains(&key_file.display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("1 signing key") && err.contains("jwtauth-server keys seal"),
        "{err}"
    );
    assert_eq!(mode("jwtauth.db.master-key"), 0o600);
    // User administration is not the place for it: no warning there.
    let (code, _, err) = run(dir.path(), &["user", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("unsealed") && !err.contains("UNENCRYPTED"), "{err}");

    let (code, out, err) = run(dir.path(), &["keys", "seal"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sealed 1 key under the master key; 0 left unsealed"),
        "{out}"
    );
    let (code, _, err) = run(dir.path(), &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("unsealed") && !err.contains("generated"), "{err}");
}

#[test]
fn a_kid_that_starts_with_a_dash_is_a_kid_not_an_option() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    // Base64url kids start with `-` one time in 64: `-h…` once printed the help and
    // exited 0 without retiring anything.
    let (code, out, err) = run(dir.path(), &["keys", "retire", "-hNoSuchKid"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("no key has kid '-hNoSuchKid'"), "{err}");
}
