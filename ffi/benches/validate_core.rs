//! Validation through the core from Rust: ns per `JwtAuth::validate` (claims
//! dropped), HS256 and ES256, best of 7 rounds: the twin of
//! `benches/c/bench_validate.c`, so `scripts/bench-ffi.sh` can put them side by side.
//! Both time this thread's CPU time, so other load on the machine disturbs them less.
//!
//! `cargo bench -p jwtauth-ffi --bench validate_core -- WORK_DIR [ITERATIONS]`

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use jwtauth_core::{Config, JwtAuth};

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// Linux's CLOCK_THREAD_CPUTIME_ID.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

fn cpu_ns() -> f64 {
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (two i64 on 64-bit Linux).
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn bench(name: &str, config: &str, iterations: u64) {
    let auth = JwtAuth::open(Config::from_json(config).expect("config")).expect("open");
    let token = auth
        .issuer()
        .issue("alice", &["Admin"], &Default::default())
        .expect("issue")
        .token;
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = cpu_ns();
        for _ in 0..iterations {
            let claims = auth.verifier().validate(black_box(token.as_bytes())).expect("valid");
            drop(black_box(claims));
        }
        best = best.min((cpu_ns() - start) / iterations as f64);
    }
    println!("rust_core {name} validate: {best:.0} ns/op");
}

fn main() {
    // `cargo bench` passes `--bench`; the work dir is the first other argument.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let hs = format!(
        r#"{{"validation_cache":0,"algorithm":"HS256","hs_secret":"bench-secret-0123456789abcdef-0123456789","log":{{"dir":"{dir}/logs"}},"store":{{"url":"sqlite://{dir}/rust-hs.db"}}}}"#
    );
    let es = format!(
        r#"{{"validation_cache":0,"algorithm":"ES256","log":{{"dir":"{dir}/logs"}},"store":{{"url":"sqlite://{dir}/rust-es.db"}}}}"#
    );
    bench("HS256", &hs, n * 10);
    bench("ES256", &es, n);
}
