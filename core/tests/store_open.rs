//! Opening a store that is not what it should be: a clear error naming the URL and
//! what to do, never a panic and never a reset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use jwtauth_core::{Store, StoreError};

fn open_err(url: &str) -> String {
    match Store::open(url, 2) {
        Ok(_) => panic!("{url} opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn corrupt_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &junk).unwrap();
    let e = open_err(&format!("sqlite://{}", path.display()));
    assert!(
        e.contains(&path.display().to_string()) && e.contains("not a SQLite database"),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), junk, "file must not be changed");
}

#[test]
fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
        .unwrap();
    drop(conn);
    let e = open_err(&format!("sqlite://{}", path.display()));
    assert!(e.contains("another application") && e.contains("invoices"), "{e}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn newer_schema_is_refused_on_every_backend() {
    for b in common::store::backends() {
        Store::open(&b.url, 2).unwrap();
        // Simulate a database written by a future jwtauth.
        match b.name {
            "sqlite" => {
                let conn = rusqlite::Connection::open(b.url.trim_start_matches("sqlite://")).unwrap();
                conn.execute("UPDATE jwtauth_schema SET version = 99", []).unwrap();
            }
            _ => {
                let mut c = postgres::Client::connect(&b.url, postgres::NoTls).unwrap();
                c.execute("UPDATE jwtauth_schema SET version = 99", &[]).unwrap();
            }
        }
        match Store::open(&b.url, 2) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("{}: {other:?}", b.name),
        }
    }
}

#[test]
fn reopening_applies_no_migration_twice() {
    for b in common::store::backends() {
        for _ in 0..3 {
            Store::open(&b.url, 2).unwrap().ping().unwrap();
        }
    }
}

#[test]
fn pooled_postgres_connections_closed_by_the_server_are_replaced_unnoticed() {
    let Some(b) = common::store::postgres() else { return };
    let name = b.pg_schema.clone().unwrap();
    let url = format!("{}&application_name={name}", b.url);
    let store = Store::open(&url, 4).unwrap();
    // Fill the pool: four transactions at once.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| store.ping().unwrap());
        }
    });
    assert!(
        common::store::terminate_connections(&name) >= 1,
        "the pool held no connection"
    );
    // Every pooled connection is now dead; the next transactions still succeed.
    for _ in 0..3 {
        store.ping().unwrap();
    }
}

#[test]
fn unreachable_postgres_names_the_url_with_the_password_masked() {
    let e = open_err("postgres://app:hunter2@127.0.0.1:1/db");
    assert!(e.contains("postgres://app:***@127.0.0.1:1/db"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    assert!(e.contains("running"), "{e}");
    let e = open_err("postgres://app:hunter2@127.0.0.1:5432/db?sslmode=bogus");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_postgresql_connection_error_names_its_cause() {
    let e = open_err("postgres://app:hunter2@127.0.0.1:1/db");
    assert!(e.contains("connection refused: nothing listens"), "{e}");
    // The rest needs a server: the PostgreSQL suite's, when it has one.
    if common::store::postgres().is_none() {
        return;
    }
    let base = common::store::pg_url();
    let Some((server, _db)) = base.rsplit_once('/') else {
        panic!("{base} names no database")
    };
    let e = open_err(&format!("{server}/jwtauth_no_such_database"));
    assert!(e.contains("the database does not exist"), "{e}");
    assert!(e.contains("createdb"), "{e}");
    let Some((scheme, rest)) = server.split_once("://") else {
        panic!("{server}")
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let e = open_err(&format!("{scheme}://jwtauth_no_such_role:pw@{host}/postgres"));
    assert!(e.contains("authentication failed"), "{e}");
    assert!(!e.contains(":pw@"), "{e}");
}

#[test]
fn missing_folder_is_created_and_unwritable_place_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/jwtauth.db");
    Store::open(&format!("sqlite://{}", nested.display()), 1).unwrap();
    assert!(nested.exists());
    let e = open_err("sqlite:///proc/jwtauth/x.db");
    assert!(e.contains("/proc/jwtauth/x.db"), "{e}");
}
