//! Store fixtures: the same scenario runs against a real SQLite file and, when
//! reachable, the real PostgreSQL server (a fresh schema per test).

use std::sync::Arc;

use jwtauth_core::{Config, FixedClock, JwtAuth, OpenOptions};

/// Where the PostgreSQL suite connects; override with `JWTAUTH_TEST_PG_URL`.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_url() -> String {
    std::env::var("JWTAUTH_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A backend to run a scenario on, cleaned up on drop.
pub struct Backend {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pub pg_schema: Option<String>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(schema) = &self.pg_schema
            && let Ok(mut c) = postgres::Client::connect(&pg_url(), postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

pub fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("jwtauth.db").display());
    Backend {
        name: "sqlite",
        url,
        _dir: Some(dir),
        pg_schema: None,
    }
}

/// A fresh schema on the PostgreSQL server, or `None` (with a note on stderr) when
/// it cannot be reached. With `JWTAUTH_REQUIRE_PG=1` (set by CI) an unreachable
/// server fails the test instead.
pub fn postgres() -> Option<Backend> {
    let base = pg_url();
    let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("JWTAUTH_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL at {base} is required (JWTAUTH_REQUIRE_PG=1) but unreachable: {e}");
            }
            // Written past the test harness's capture, once per test binary, so a
            // plain `cargo test` shows it.
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTE: the PostgreSQL suite did not run: {base} is unreachable ({e}). Start PostgreSQL (or set JWTAUTH_TEST_PG_URL) and run `JWTAUTH_REQUIRE_PG=1 cargo test -p jwtauth-core`."
                );
            });
            return None;
        }
    };
    let mut id = [0u8; 6];
    aws_lc_rs::rand::fill(&mut id).expect("random");
    let schema = format!("jt_{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some(Backend {
        name: "postgres",
        url,
        _dir: None,
        pg_schema: Some(schema),
    })
}

/// Closes, from the server's side, every connection whose `application_name` is
/// `name` (as a restart or an idle timeout would), also those opened meanwhile, waits
/// until they are gone, and returns how many there were at first.
pub fn terminate_connections(name: &str) -> i64 {
    let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).expect("admin connection");
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .expect("terminate")
        .get(0);
    // Termination is asynchronous: wait until those backends are gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .expect("count")
            .get(0);
        if left == 0 {
            return killed;
        }
        assert!(std::time::Instant::now() < deadline, "{left} backends still alive");
        // One the pool was still opening in the background when the others were
        // closed is alive and pooled too: close it as well (signalling a backend
        // already on its way out again is harmless).
        admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .expect("terminate");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// SQLite always; PostgreSQL when reachable.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![sqlite()];
    v.extend(postgres());
    v
}

pub const T0: i64 = 1_800_000_000;

pub fn config(url: &str, extra: &str) -> Config {
    // PostgreSQL refuses unsealed keys unless told; the sealing tests say so themselves.
    let unsealed = if url.starts_with("postgres") && !extra.contains("master_key") && !extra.contains("allow_unsealed")
    {
        "allow_unsealed_keys = true\n"
    } else {
        ""
    };
    Config::from_toml(&format!("access_ttl = \"10m\"\nrefresh_idle_ttl = \"1d\"\nrefresh_max_ttl = \"7d\"\n{unsealed}{extra}\n[store]\nurl = \"{url}\"\npool_size = 4\n"))
        .expect("config")
}

pub fn open(url: &str, extra: &str, clock: &Arc<FixedClock>) -> JwtAuth {
    JwtAuth::open_with(config(url, extra), OpenOptions::new().clock(clock.clone())).expect("open")
}
