//! Shared set-up for the cross-crate tests: a fixed clock, configurations, and a
//! signer that can put any bytes under any key, as an attacker (or a careless
//! issuer) would.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod issuer;
pub mod store;

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwtauth_core::{Algorithm, Config, FixedClock, Key, KeyRing, KeyState, Tokens};
use serde_json::{Value, json};

/// "Now" for every test: 2026-11-18T07:33:20Z.
pub const NOW: i64 = 1_795_000_000;
pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "products-api";
/// A 33-byte HS secret that passes the configuration checks.
pub const SECRET: &str = "q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1";
/// Seconds of leeway configured by [`config`].
pub const LEEWAY: i64 = 30;
/// Access-token lifetime configured by [`config`].
pub const TTL: i64 = 900;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// The test configuration for `alg`, with extra TOML lines appended (a key they
/// set replaces the test default).
pub fn config_with(alg: Algorithm, extra: &str) -> Config {
    let sets = |key: &str| extra.lines().any(|l| l.trim_start().starts_with(&format!("{key} =")));
    let mut toml = String::new();
    for (key, value) in [
        ("issuer", format!("\"{ISSUER}\"")),
        ("audience", format!("\"{AUDIENCE}\"")),
        ("algorithm", format!("\"{alg}\"")),
        ("access_ttl", TTL.to_string()),
        ("leeway", LEEWAY.to_string()),
    ] {
        if !sets(key) {
            toml.push_str(&format!("{key} = {value}\n"));
        }
    }
    if alg.is_hmac() && !extra.contains("hs_secret") {
        let secret = match alg {
            Algorithm::HS256 => SECRET.to_string(),
            // HS384/512 need 48/64 bytes.
            _ => format!("{SECRET}{SECRET}"),
        };
        toml.push_str(&format!("hs_secret = \"{secret}\"\n"));
    }
    toml.push_str(extra);
    Config::from_toml(&toml).unwrap()
}

pub fn config(alg: Algorithm) -> Config {
    config_with(alg, "")
}

/// A runtime with one freshly generated (or configured HS) key and a clock at [`NOW`].
pub fn auth(alg: Algorithm) -> (Tokens, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    (Tokens::with_clock(config(alg), clock.clone()).unwrap(), clock)
}

/// A runtime holding exactly these keys.
pub fn auth_with_keys(config: Config, keys: Vec<Key>) -> (Tokens, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let ring = KeyRing::new(keys).unwrap();
    (Tokens::with_key_ring(config, ring, clock.clone()), clock)
}

/// A generated key in `state`.
pub fn key(alg: Algorithm, state: KeyState) -> Key {
    Key::generate(alg, NOW).unwrap().with_state(state).unwrap()
}

/// Claims jwtauth would accept at [`NOW`].
pub fn valid_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + TTL,
        "jti": "test-jti",
        "roles": ["Reader"],
    })
}

/// Signs `message` with the private half of `key`, outside jwtauth.
pub fn sign_with(key: &Key, message: &[u8]) -> Vec<u8> {
    let m = key.material().bytes();
    let rng = SystemRandom::new();
    let rsa = |enc: &'static dyn signature::RsaEncoding| {
        let kp = RsaKeyPair::from_pkcs8(m).unwrap();
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign(enc, &rng, message, &mut sig).unwrap();
        sig
    };
    let ec = |alg: &'static signature::EcdsaSigningAlgorithm| {
        let kp = EcdsaKeyPair::from_pkcs8(alg, m).unwrap();
        kp.sign(&rng, message).unwrap().as_ref().to_vec()
    };
    let mac = |alg: hmac::Algorithm| hmac::sign(&hmac::Key::new(alg, m), message).as_ref().to_vec();
    match key.algorithm() {
        Algorithm::HS256 => mac(hmac::HMAC_SHA256),
        Algorithm::HS384 => mac(hmac::HMAC_SHA384),
        Algorithm::HS512 => mac(hmac::HMAC_SHA512),
        Algorithm::RS256 => rsa(&signature::RSA_PKCS1_SHA256),
        Algorithm::RS384 => rsa(&signature::RSA_PKCS1_SHA384),
        Algorithm::RS512 => rsa(&signature::RSA_PKCS1_SHA512),
        Algorithm::PS256 => rsa(&signature::RSA_PSS_SHA256),
        Algorithm::PS384 => rsa(&signature::RSA_PSS_SHA384),
        Algorithm::PS512 => rsa(&signature::RSA_PSS_SHA512),
        Algorithm::ES256 => ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        Algorithm::ES384 => ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        Algorithm::ES512 => ec(&signature::ECDSA_P521_SHA512_FIXED_SIGNING),
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(m).unwrap().sign(message).as_ref().to_vec(),
    }
}

/// HMAC-SHA256 of `message` under arbitrary key bytes (e.g. a public key).
pub fn hs256_with(secret: &[u8], message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), message)
        .as_ref()
        .to_vec()
}

/// `header` and `claims` (JSON text) signed by `key` as a compact JWS.
pub fn craft_text(key: &Key, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = sign_with(key, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// Like [`craft_text`] with JSON values.
pub fn craft(key: &Key, header: &Value, claims: &Value) -> String {
    craft_text(key, &header.to_string(), &claims.to_string())
}

/// The header jwtauth itself would write for `key`.
pub fn header_for(key: &Key) -> Value {
    json!({ "alg": key.algorithm().as_str(), "typ": "JWT", "kid": key.kid().as_str() })
}

/// The public half of an asymmetric key as SubjectPublicKeyInfo DER.
pub fn public_spki_der(key: &Key) -> Vec<u8> {
    let m = key.material().bytes();
    match key.algorithm() {
        Algorithm::ES256 => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, m)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        Algorithm::ES384 => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, m)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(m)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        a if a.as_str().starts_with("RS") || a.as_str().starts_with("PS") => RsaKeyPair::from_pkcs8(m)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        other => panic!("no public key for {other}"),
    }
}

/// The raw public key bytes (PKCS#1 RSAPublicKey, SEC1 point or Ed25519 bytes).
pub fn public_raw(key: &Key) -> Vec<u8> {
    let m = key.material().bytes();
    match key.algorithm() {
        Algorithm::ES256 => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, m)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec(),
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(m).unwrap().public_key().as_ref().to_vec(),
        _ => RsaKeyPair::from_pkcs8(m).unwrap().public_key().as_ref().to_vec(),
    }
}

/// The same public key as PEM `PUBLIC KEY`, the way it is usually published.
pub fn public_pem(key: &Key) -> String {
    pem::encode(&pem::Pem::new("PUBLIC KEY", public_spki_der(key)))
}

/// The private key as PEM `PRIVATE KEY` (PKCS#8), for other libraries.
pub fn private_pem(key: &Key) -> String {
    pem::encode(&pem::Pem::new("PRIVATE KEY", key.material().bytes().to_vec()))
}

/// An ES256/ES384/ES512 token with its signature spelt the other way, (r, n − s):
/// the twin that verifies just as well. Made with RustCrypto's curve crates.
pub fn ecdsa_twin(alg: Algorithm, token: &str) -> String {
    macro_rules! twin {
        ($curve:ident, $sig:expr) => {{
            let (r, s) = $curve::ecdsa::Signature::from_slice($sig).unwrap().split_scalars();
            $curve::ecdsa::Signature::from_scalars(r, -s)
                .unwrap()
                .to_bytes()
                .to_vec()
        }};
    }
    let (input, sig64) = token.rsplit_once('.').unwrap();
    let sig = b64_decode(sig64);
    let other = match alg {
        Algorithm::ES256 => twin!(p256, &sig),
        Algorithm::ES384 => twin!(p384, &sig),
        Algorithm::ES512 => twin!(p521, &sig),
        other => panic!("{other} has no twin signatures"),
    };
    format!("{input}.{}", b64(other))
}
