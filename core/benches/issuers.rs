//! Steady-state validation of a trusted external issuer's tokens (RS256, ES256)
//! beside validation of the same algorithm's tokens with a local key.
//!
//! `cargo bench -p jwtauth-core --bench issuers`
//!
//! The issuer is a key-set server on loopback; its keys are fetched once at start,
//! then every validation reads them from memory, as in production between
//! refreshes. The verified-token cache is off on both sides, so each iteration is
//! a full validation (signature included); the external side also pays for
//! picking the issuer by the token's `iss`. The two sides alternate in chunks so
//! both see the same machine load; the ratio is printed at the end.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jwtauth_core::{Algorithm, Config, Tokens};

fn serve(listener: TcpListener, body: String) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=86400\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
}

struct Sides {
    local: Tokens,
    local_token: String,
    relying: Tokens,
    external_token: String,
}

fn setup(alg: Algorithm) -> Sides {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let idp = Tokens::new(
        Config::from_toml(&format!(
            "issuer = \"{url}\"\naudience = \"orders-api\"\nalgorithm = \"{alg}\"\nvalidation_cache = 0"
        ))
        .unwrap(),
    )
    .unwrap();
    serve(listener, idp.verifier().jwks().to_string());
    let relying = Tokens::new(
        Config::from_toml(&format!(
            "issuer = \"https://api.example.com\"\naudience = \"api\"\nvalidation_cache = 0\n[[trusted_issuers]]\nissuer = \"{url}\"\naudience = \"orders-api\"\njwks_url = \"{url}/jwks.json\"\n"
        ))
        .unwrap(),
    )
    .unwrap();
    let roles = ["Buyer"];
    let external_token = idp.issuer().issue("alice", &roles, &Default::default()).unwrap().token;
    // The first validation waits for the key set; from then on it is in memory.
    relying.verifier().validate(&external_token).unwrap();
    let local_token = idp.issuer().issue("alice", &roles, &Default::default()).unwrap().token;
    Sides {
        local: idp,
        local_token,
        relying,
        external_token,
    }
}

fn bench(c: &mut Criterion) {
    let mut ratios = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let s = setup(alg);
        let mut g = c.benchmark_group(format!("trusted/{alg}"));
        g.bench_function("local key", |b| {
            b.iter(|| s.local.verifier().validate(black_box(&s.local_token)).unwrap())
        });
        g.bench_function("external issuer", |b| {
            b.iter(|| s.relying.verifier().validate(black_box(&s.external_token)).unwrap())
        });
        g.finish();
        // Paired: alternate chunks of both sides under the same load.
        let (mut local, mut external) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..2_000 {
            let t = Instant::now();
            for _ in 0..20 {
                s.local.verifier().validate(black_box(&s.local_token)).unwrap();
            }
            local += t.elapsed();
            let t = Instant::now();
            for _ in 0..20 {
                s.relying.verifier().validate(black_box(&s.external_token)).unwrap();
            }
            external += t.elapsed();
        }
        ratios.push(format!(
            "{alg}: external / local = {:.3} (paired, 40,000 validations each)",
            external.as_secs_f64() / local.as_secs_f64()
        ));
    }
    println!("\npaired ratios:");
    for r in ratios {
        println!("  {r}");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
