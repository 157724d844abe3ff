//! Several processes on one store: concurrent refreshes of one token, and a process
//! killed with SIGKILL in the middle of rotations. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::store::{T0, backends, open};
use jwtauth_core::{FixedClock, Reason, RequestInfo};
use serde_json::Map;

/// The `session_worker` example, which `cargo test` builds beside the tests.
fn worker() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("examples").join("session_worker");
    assert!(path.exists(), "{} is missing: run through `cargo test`", path.display());
    path
}

fn spawn(args: &[&str]) -> Child {
    Command::new(worker())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn processes_racing_one_refresh_token_have_exactly_one_winner() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        // The workers use the system clock: start the session in real time too.
        clock.set(jwtauth_core::Clock::now(&jwtauth_core::SystemClock));
        let auth = open(&b.url, "", &clock);
        for round in 0..3 {
            let pair = auth
                .sessions()
                .start(&format!("racer{round}"), &[], &Map::new())
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let go = dir.path().join("go");
            let go_s = go.display().to_string();
            let mut children: Vec<Child> = (0..4)
                .map(|_| spawn(&["race", &b.url, pair.refresh_token.expose(), &go_s]))
                .collect();
            let mut readers: Vec<_> = children
                .iter_mut()
                .map(|c| BufReader::new(c.stdout.take().unwrap()).lines())
                .collect();
            for r in &mut readers {
                assert_eq!(r.next().unwrap().unwrap(), "ready");
            }
            std::fs::write(&go, b"go").unwrap();
            let results: Vec<String> = readers.iter_mut().map(|r| r.next().unwrap().unwrap()).collect();
            for mut c in children {
                assert!(c.wait().unwrap().success());
            }
            assert_eq!(
                results.iter().filter(|r| *r == "ok").count(),
                1,
                "{}: {results:?}",
                b.name
            );
            assert!(
                results
                    .iter()
                    .all(|r| r == "ok" || r == "refresh_reused" || r == "revoked"),
                "{}: {results:?}",
                b.name
            );
        }
    }
}

/// Kills a worker rotating a family at `after`, then checks that the store is
/// consistent: of the tokens the worker was handed, the last may still be live (or
/// already spent, if the kill fell between commit and print), every earlier one is
/// spent, and nothing is valid twice.
fn kill_mid_rotation(url: &str, name: &str, after: Duration) {
    let clock = Arc::new(FixedClock::new(jwtauth_core::Clock::now(&jwtauth_core::SystemClock)));
    let auth = open(url, "", &clock);
    let first = auth.sessions().start("victim", &[], &Map::new()).unwrap();
    let mut child = spawn(&["chain", url, first.refresh_token.expose()]);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut handed = vec![first.refresh_token.expose().to_string()];
    let deadline = Instant::now() + after;
    // Wait for the first rotation (process start-up), then let it run until the deadline.
    handed.push(
        rx.recv_timeout(Duration::from_secs(20))
            .expect("worker produced no token"),
    );
    while Instant::now() < deadline {
        if let Ok(t) = rx.recv_timeout(Duration::from_millis(1)) {
            handed.push(t);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    handed.extend(rx.try_iter());

    let after_kill = open(url, "", &clock);
    let last = handed.last().unwrap();
    let previous = &handed[handed.len() - 2];
    match after_kill.sessions().refresh(previous, &RequestInfo::default()) {
        Ok(_) => panic!("{name}: a spent token was accepted after the kill"),
        Err(e) => assert!(matches!(e.reason(), Some(Reason::RefreshReused)), "{name}: {e}"),
    }
    // The reuse above revoked the family, so the last token now reads as revoked;
    // what matters is that it was known (committed), never "invalid".
    match after_kill.sessions().refresh(last, &RequestInfo::default()) {
        Ok(_) => panic!("{name}: family should be revoked after reuse"),
        Err(e) => assert_eq!(e.reason(), Some(Reason::Revoked), "{name}: {e}"),
    }
}

#[test]
fn sigkill_during_rotations_leaves_the_store_consistent() {
    for b in backends() {
        for (i, ms) in [30u64, 120, 250, 400].into_iter().enumerate() {
            kill_mid_rotation(&b.url, &format!("{} #{i}", b.name), Duration::from_millis(ms));
        }
        if b.name == "sqlite" {
            let conn = rusqlite::Connection::open(b.url.trim_start_matches("sqlite://")).unwrap();
            let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(ok, "ok");
        }
        // Every family has exactly one current token: the one at its generation.
        let check = "SELECT f.id, (SELECT count(*) FROM jwtauth_refresh_tokens t WHERE t.family_id = f.id AND t.generation = f.generation) FROM jwtauth_families f";
        let counts: Vec<i64> = if b.name == "sqlite" {
            let conn = rusqlite::Connection::open(b.url.trim_start_matches("sqlite://")).unwrap();
            let mut stmt = conn.prepare(check).unwrap();
            stmt.query_map([], |r| r.get::<_, i64>(1))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        } else {
            let mut c = postgres::Client::connect(&b.url, postgres::NoTls).unwrap();
            c.query(check, &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i64>(1))
                .collect()
        };
        assert_eq!(counts.len(), 4);
        assert!(counts.iter().all(|&n| n == 1), "{}: {counts:?}", b.name);
        let _ = T0;
    }
}
