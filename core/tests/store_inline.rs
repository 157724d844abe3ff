//! `Store::inline`: SQLite calls on the caller's thread, every wait handed to the
//! caller's `Wait`, and the log still checkpointed by commits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::cell::Cell;
use std::sync::mpsc;
use std::time::Duration;

use jwtauth_core::store::{Store, Val};

fn store(dir: &std::path::Path) -> (Store, std::path::PathBuf) {
    let path = dir.join("jwtauth.db");
    let store = Store::open(&format!("sqlite://{}", path.display()), 1).unwrap();
    store
        .migrate_extension(
            "notes",
            &["CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"],
        )
        .unwrap();
    (store, path)
}

fn add(store: &Store, id: i64, body: &str) {
    store
        .write(|tx| {
            tx.exec(
                "INSERT INTO notes (id, body) VALUES (?1, ?2)",
                &[Val::I64(id), body.into()],
            )
        })
        .unwrap();
}

fn notes(store: &Store) -> i64 {
    store.write(|tx| tx.query("SELECT COUNT(*) FROM notes", &[])).unwrap()[0]
        .i64(0)
        .unwrap()
}

thread_local! {
    /// Waits run on this thread (each test has its own): the wait runs where `inline` was called.
    static WAITS: Cell<usize> = const { Cell::new(0) };
}

fn counted(wait: &mut dyn FnMut()) {
    WAITS.set(WAITS.get() + 1);
    wait();
}

fn waits() -> usize {
    WAITS.get()
}

#[test]
fn only_a_call_that_must_wait_goes_through_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(dir.path());
    assert!(store.runs_inline());

    // Nothing in the way: no wait.
    Store::inline(counted, || add(&store, 1, "free"));
    assert_eq!(waits(), 0);

    // Another process's write lock (a connection of its own): the wait takes it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        other.execute_batch("ROLLBACK").unwrap();
    });
    Store::inline(counted, || add(&store, 2, "after another process"));
    release.join().unwrap();
    assert_eq!(waits(), 1);

    // Another thread of this process in a transaction: the wait takes the connection.
    std::thread::scope(|s| {
        let (held, holding) = mpsc::channel();
        let shared = &store;
        s.spawn(move || {
            shared
                .write(|_| {
                    held.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .unwrap();
        });
        holding.recv().unwrap();
        assert!(store.busy());
        Store::inline(counted, || add(&store, 3, "after another thread"));
    });
    assert_eq!(waits(), 2);
    assert!(!store.busy());

    // Outside `inline` the same contention waits in place.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        other.execute_batch("ROLLBACK").unwrap();
    });
    add(&store, 4, "plain");
    release.join().unwrap();
    assert_eq!(waits(), 2);
    assert_eq!(notes(&store), 4, "every write committed");
}

#[test]
fn commits_keep_checkpointing_the_log_through_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(dir.path());
    let wal = path.with_file_name("jwtauth.db-wal");
    // 1,500 commits of a 3 KB row each: about 25 MB of log if nothing checkpointed it
    // (SQLite with its automatic checkpoint off), about 4 MB with checkpoints.
    let body = "x".repeat(3000);
    Store::inline(counted, || {
        for id in 0..1500 {
            add(&store, id, &body);
        }
    });
    assert_eq!(notes(&store), 1500);
    assert!(waits() >= 1, "no checkpoint went through the wait");
    let size = std::fs::metadata(&wal).unwrap().len();
    // A checkpoint lets the log start over: it stays near the 1,000 frames
    // (4 KiB pages) at which commits checkpoint.
    assert!(size < 6 * 1024 * 1024, "the log grew to {size} bytes");
}
