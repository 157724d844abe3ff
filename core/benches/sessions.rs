//! Refresh-rotation throughput on each backend with 1, 8 and 64 concurrent clients,
//! and validation throughput while rotations run on other threads.
//!
//! `cargo bench -p jwtauth-core --bench sessions` (PostgreSQL at
//! `$JWTAUTH_BENCH_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`; a
//! fresh schema is created and dropped). Prints a Markdown table.

#![allow(clippy::expect_used)] // a benchmark stops loudly on any failure

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use jwtauth_core::{Config, JwtAuth, RequestInfo};
use serde_json::Map;

const RUN: Duration = Duration::from_secs(3);
/// Rotations of one session before a client starts another: the family throttle
/// allows at most 10,000 at once (the configuration's bound) and one more per
/// millisecond, fewer than a client rotates in `RUN`.
const PER_SESSION: u64 = 5_000;

/// Validation here always verifies the signature (no verified-token cache), so the
/// figures stay comparable with earlier runs and measure the crypto path. The
/// PostgreSQL schema is thrown away: its keys need no sealing.
fn config(url: &str, pool: u32) -> Config {
    Config::from_toml(&format!(
        "validation_cache = 0\nallow_unsealed_keys = true\n[refresh_limits]\nfamily_burst = 10000\nfamily_period = \"1ms\"\n[store]\nurl = \"{url}\"\npool_size = {pool}\n"
    ))
    .expect("config")
}

/// Rotations per second with `clients` threads, each rotating its own session.
fn rotations(auth: &Arc<JwtAuth>, clients: usize, run: Duration) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(clients + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (auth, count, start, stop) = (auth.clone(), count.clone(), start.clone(), stop.clone());
            std::thread::spawn(move || {
                let session = || {
                    auth.sessions()
                        .start(&format!("bench{i}"), &["User"], &Map::new())
                        .expect("session")
                        .refresh_token
                };
                let mut token = session();
                start.wait();
                let mut rotated = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if rotated == PER_SESSION {
                        token = session();
                        rotated = 0;
                    }
                    token = auth
                        .sessions()
                        .refresh(token.expose(), &RequestInfo::default())
                        .expect("refresh")
                        .refresh_token;
                    rotated += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let n = count.load(Ordering::Relaxed);
    let elapsed = t0.elapsed();
    for t in threads {
        t.join().expect("client thread");
    }
    n as f64 / elapsed.as_secs_f64()
}

/// Validations per second on one thread.
fn validations(auth: &JwtAuth, token: &str, run: Duration) -> f64 {
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < run {
        for _ in 0..256 {
            std::hint::black_box(auth.verifier().validate(token).expect("valid"));
        }
        n += 256;
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn backend(name: &str, url: &str) {
    let auth = Arc::new(JwtAuth::open(config(url, 64)).expect("open store"));
    for clients in [1, 8, 64] {
        let rate = rotations(&auth, clients, RUN);
        println!("| {name} | {clients} | {rate:.0} |");
    }
    let token = auth.issuer().issue("reader", &[], &Map::new()).expect("issue").token;
    let idle = validations(&auth, &token, RUN);
    let stop = Arc::new(AtomicBool::new(false));
    let busy_auth = auth.clone();
    let busy_stop = stop.clone();
    let background = std::thread::spawn(move || {
        while !busy_stop.load(Ordering::Relaxed) {
            rotations(&busy_auth, 1, Duration::from_millis(500));
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let busy = validations(&auth, &token, RUN);
    stop.store(true, Ordering::Relaxed);
    background.join().expect("rotation thread");
    println!(
        "| {name} | validation (ES256, 1 thread): idle {idle:.0}/s, while 1 client rotates {busy:.0}/s = {:.1}% |  |",
        busy / idle * 100.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    println!("| backend | clients | refresh rotations/s |\n|---|---|---|");
    let dir = tempfile::tempdir().expect("tempdir");
    backend("SQLite", &format!("sqlite://{}", dir.path().join("bench.db").display()));

    let base =
        std::env::var("JWTAUTH_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match postgres::Client::connect(&base, postgres::NoTls) {
        Ok(mut c) => {
            let schema = format!("jwtauth_bench_{}", std::process::id());
            c.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("schema");
            backend("PostgreSQL", &format!("{base}?options=-c%20search_path%3D{schema}"));
            c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .expect("drop schema");
        }
        Err(e) => println!("| PostgreSQL | skipped: {base} unreachable ({e}) | |"),
    }
}
