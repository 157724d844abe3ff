//! Shared set-up of the fuzz targets and of the corpus seeder (`examples/seed.rs`):
//! two `Tokens` runtimes with fixed keys and a fixed clock, so that tokens written
//! into the seed corpus stay valid in every fuzzing process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwtauth_core::{Algorithm, Config, FixedClock, Key, KeyRing, Tokens};

/// "Now" of every runtime here: 2026-11-18T07:33:20Z (as in core/tests/common).
pub const NOW: i64 = 1_795_000_000;
pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "products-api";
/// The HS256 secret (33 bytes, passes the configuration checks).
pub const HS_SECRET: &str = "q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1";
/// A fixed P-256 PKCS#8 key (generated once with openssl; test material only).
pub const ES256_PEM: &str = include_str!("../keys/es256.pem");

fn config(alg: Algorithm) -> Config {
    let mut toml = format!(
        "issuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\nalgorithm = \"{alg}\"\naccess_ttl = 900\nleeway = 30\n"
    );
    if alg.is_hmac() {
        toml.push_str(&format!("hs_secret = \"{HS_SECRET}\"\n"));
    }
    Config::from_toml(&toml).expect("fuzz config")
}

/// HS256 runtime (key from the configured secret), no store.
pub fn hs256() -> &'static Tokens {
    static AUTH: OnceLock<Tokens> = OnceLock::new();
    AUTH.get_or_init(|| {
        Tokens::with_clock(config(Algorithm::HS256), Arc::new(FixedClock::new(NOW))).expect("hs256 runtime")
    })
}

/// ES256 runtime with the fixed key in `keys/es256.pem`, no store.
pub fn es256() -> &'static Tokens {
    static AUTH: OnceLock<Tokens> = OnceLock::new();
    AUTH.get_or_init(|| {
        let key = Key::from_pkcs8_pem(Algorithm::ES256, ES256_PEM, NOW).expect("es256 key");
        let ring = KeyRing::new(vec![key]).expect("ring");
        Tokens::with_key_ring(config(Algorithm::ES256), ring, Arc::new(FixedClock::new(NOW)))
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64(header).b64(claims).b64(HMAC-SHA256 with HS_SECRET)`: a token whose
/// signature verifies under [`hs256`], whatever the header and claims hold.
pub fn hs256_sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, HS_SECRET.as_bytes()),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}

/// Splits fuzz input into header and claims at the first newline (claims empty
/// when there is none).
pub fn split_parts(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
