//! Validation and issuing beside the raw `jsonwebtoken` crate and the bare
//! signature cost with aws-lc-rs, for HS256, ES256, EdDSA and RS256.
//!
//! `cargo bench -p jwtauth-core --bench tokens`
//!
//! The machine is shared and noisy, so each goal's two sides are measured paired:
//! their iterations alternate in small chunks, and the ratio of their total times
//! (printed at the end as "paired ratios") compares them under the same load.
//!
//! Every comparison uses the same key and the same token. The raw crate is set up
//! with the checks jwtauth makes (algorithm, iss, aud, exp, nbf, leeway 30 s,
//! required exp/iss/aud/sub) and decodes into a typed struct, the fastest way to
//! use it. The "floor" rows are what no JWT library can avoid: the signature
//! alone, and for HS256 the HMAC plus base64url and JSON parsing of the token.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::large_enum_variant)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use jwtauth_core::{Algorithm, Config, Key, KeyRing, KeyState, SystemClock, Tokens};
use serde::{Deserialize, Serialize};
use serde_json::Map;

/// Total time of each side of a paired comparison, by comparison name.
static PAIRED: Mutex<BTreeMap<String, [Duration; 2]>> = Mutex::new(BTreeMap::new());

/// Times `side` (0 or 1) of a comparison while running both sides alternately in
/// chunks, so both see the same machine; both totals feed the paired ratio.
fn paired<A, B>(
    b: &mut Bencher<'_>,
    name: &str,
    side: usize,
    mut first: impl FnMut() -> A,
    mut second: impl FnMut() -> B,
) {
    const CHUNK: u64 = 16;
    b.iter_custom(|iters| {
        let mut t = [Duration::ZERO; 2];
        let mut done = 0;
        while done < iters {
            let n = (iters - done).min(CHUNK);
            let start = Instant::now();
            for _ in 0..n {
                black_box(first());
            }
            t[0] += start.elapsed();
            let start = Instant::now();
            for _ in 0..n {
                black_box(second());
            }
            t[1] += start.elapsed();
            done += n;
        }
        let mut totals = PAIRED.lock().unwrap();
        let entry = totals.entry(name.to_string()).or_default();
        entry[0] += t[0];
        entry[1] += t[1];
        t[side]
    });
}

const SECRET: &str = "q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "products-api";

/// The claims jwtauth issues, as a user of the raw crate would declare them.
#[derive(Serialize, Deserialize)]
struct RawClaims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    roles: Vec<String>,
}

/// The header members a verifier reads, borrowed (for the HS256 floor).
#[derive(Deserialize)]
#[allow(dead_code)]
struct FloorHeader<'a> {
    alg: &'a str,
    typ: Option<&'a str>,
    kid: Option<&'a str>,
}

/// The bare signature primitive with its key prepared once.
enum Bare {
    Hmac(hmac::Key),
    Ecdsa(EcdsaKeyPair, ParsedPublicKey),
    Ed(Ed25519KeyPair, ParsedPublicKey),
    Rsa(RsaKeyPair, ParsedPublicKey),
}

impl Bare {
    fn new(key: &Key) -> Bare {
        let m = key.material().bytes();
        let parsed =
            |alg: &'static dyn VerificationAlgorithm, public: &[u8]| ParsedPublicKey::new(alg, public).unwrap();
        match key.algorithm() {
            Algorithm::HS256 => Bare::Hmac(hmac::Key::new(hmac::HMAC_SHA256, m)),
            Algorithm::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, m).unwrap();
                let pk = parsed(&signature::ECDSA_P256_SHA256_FIXED, kp.public_key().as_ref());
                Bare::Ecdsa(kp, pk)
            }
            Algorithm::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(m).unwrap();
                let pk = parsed(&signature::ED25519, kp.public_key().as_ref());
                Bare::Ed(kp, pk)
            }
            Algorithm::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(m).unwrap();
                let pk = parsed(&signature::RSA_PKCS1_2048_8192_SHA256, kp.public_key().as_ref());
                Bare::Rsa(kp, pk)
            }
            other => unreachable!("not benchmarked: {other}"),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Bare::Hmac(k) => hmac::sign(k, msg).as_ref().to_vec(),
            Bare::Ecdsa(k, _) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            Bare::Ed(k, _) => k.sign(msg).as_ref().to_vec(),
            Bare::Rsa(k, _) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
                    .unwrap();
                sig
            }
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Bare::Hmac(k) => hmac::verify(k, msg, sig).is_ok(),
            Bare::Ecdsa(_, p) | Bare::Ed(_, p) | Bare::Rsa(_, p) => p.verify_sig(msg, sig).is_ok(),
        }
    }
}

struct Setup {
    alg: Algorithm,
    auth: Tokens,
    /// The same key, with the verified-token cache on.
    remembering: Tokens,
    token: String,
    bare: Bare,
    enc: jsonwebtoken::EncodingKey,
    dec: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    header: jsonwebtoken::Header,
}

fn setup(alg: Algorithm) -> Setup {
    // Every validation verifies in full: the comparison is of validation, not of the
    // verified-token cache (measured apart, as `remembered`).
    let mut toml =
        format!("issuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\nalgorithm = \"{alg}\"\nvalidation_cache = 0\n");
    if alg.is_hmac() {
        toml.push_str(&format!("hs_secret = \"{SECRET}\"\n"));
    }
    let config = Config::from_toml(&toml).unwrap();
    let auth = Tokens::new(config).unwrap();
    let ring: Arc<KeyRing> = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    let token = auth.issuer().issue("alice", &["Admin"], &Map::new()).unwrap().token;
    let remembering = Tokens::with_key_ring(
        Config::from_toml(&toml.replace("validation_cache = 0", "validation_cache = 4096")).unwrap(),
        KeyRing::new(vec![key.with_state(KeyState::Active).unwrap()]).unwrap(),
        Arc::new(SystemClock),
    );

    let jalg: jsonwebtoken::Algorithm = alg.as_str().parse().unwrap();
    let (enc, dec) = if alg.is_hmac() {
        (
            jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        )
    } else {
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", key.material().bytes().to_vec()));
        let enc = match alg {
            Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().unwrap()).unwrap();
        (enc, jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap())
    };
    let mut validation = jsonwebtoken::Validation::new(jalg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    validation.validate_nbf = true;
    let mut header = jsonwebtoken::Header::new(jalg);
    header.kid = Some(key.kid().to_string());

    // Both sides accept the same token before anything is timed.
    auth.verifier().validate(&token).unwrap();
    remembering.verifier().validate(&token).unwrap();
    jsonwebtoken::decode::<RawClaims>(&token, &dec, &validation).unwrap();

    Setup {
        alg,
        bare: Bare::new(key),
        auth,
        remembering,
        token,
        enc,
        dec,
        validation,
        header,
    }
}

fn raw_claims(now: i64) -> RawClaims {
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).unwrap();
    RawClaims {
        iss: ISSUER.into(),
        sub: "alice".into(),
        aud: AUDIENCE.into(),
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: URL_SAFE_NO_PAD.encode(id),
        roles: vec!["Admin".into()],
    }
}

fn bench_validate(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group(format!("validate/{}", s.alg));
    let token = s.token.as_str();
    let name = format!("validate/{} jwtauth ÷ jsonwebtoken", s.alg);
    let ours = || s.auth.verifier().validate(black_box(token)).unwrap();
    let raw = || jsonwebtoken::decode::<RawClaims>(black_box(token), &s.dec, &s.validation).unwrap();
    g.bench_function("jwtauth", |b| paired(b, &name, 0, ours, raw));
    g.bench_function("jsonwebtoken", |b| paired(b, &name, 1, ours, raw));
    // The same token again, with the verified-token cache on (the default).
    g.bench_function("jwtauth remembered", |b| {
        b.iter(|| s.remembering.verifier().validate(black_box(token)).unwrap())
    });
    let (input, sig64) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig64).unwrap();
    g.bench_function("signature", |b| {
        b.iter(|| assert!(s.bare.verify(black_box(input.as_bytes()), black_box(&sig))))
    });
    if s.alg.is_hmac() {
        // The least any HS256 validation must do: split, decode the three parts,
        // check the MAC, parse the header and the claims into typed values.
        g.bench_function("floor", |b| {
            b.iter(|| {
                let t = black_box(token);
                let (input, sig64) = t.rsplit_once('.').unwrap();
                let (h64, p64) = input.split_once('.').unwrap();
                let sig = URL_SAFE_NO_PAD.decode(sig64).unwrap();
                assert!(s.bare.verify(input.as_bytes(), &sig));
                let h = URL_SAFE_NO_PAD.decode(h64).unwrap();
                let h: FloorHeader<'_> = serde_json::from_slice(&h).unwrap();
                assert_eq!(h.alg, "HS256");
                let p: RawClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p64).unwrap()).unwrap();
                p
            })
        });
    }
    g.finish();
}

fn bench_issue(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group(format!("issue/{}", s.alg));
    let none = Map::new();
    let ours = || s.auth.issuer().issue(black_box("alice"), &["Admin"], &none).unwrap();
    g.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            let claims = raw_claims(s.auth.verifier().now());
            jsonwebtoken::encode(&s.header, &claims, &s.enc).unwrap()
        })
    });
    let (input, _) = s.token.rsplit_once('.').unwrap();
    g.bench_function("signature", |b| b.iter(|| s.bare.sign(black_box(input.as_bytes()))));
    // The least any issuer must do: a fresh jti, the claims as JSON, base64url,
    // the header (prepared once) and the signature.
    let header64 = input.split_once('.').unwrap().0.to_string();
    let floor = || {
        let claims = raw_claims(s.auth.verifier().now());
        let mut t = header64.clone();
        t.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(&claims).unwrap(), &mut t);
        let sig = s.bare.sign(t.as_bytes());
        t.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut t);
        t
    };
    let name = format!("issue/{} jwtauth ÷ sign+encode", s.alg);
    g.bench_function("jwtauth", |b| paired(b, &name, 0, ours, floor));
    g.bench_function("sign+encode", |b| paired(b, &name, 1, ours, floor));
    g.finish();
}

fn tokens(c: &mut Criterion) {
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let s = setup(alg);
        bench_validate(c, &s);
        bench_issue(c, &s);
    }
    println!("\npaired ratios (total time of each side, iterations interleaved):");
    for (name, [ours, other]) in PAIRED.lock().unwrap().iter() {
        let goal = match name.as_str() {
            n if n.starts_with("validate/HS256") => 0.80,
            n if n.starts_with("validate/") => 1.05,
            _ => 1.15,
        };
        let ratio = ours.as_secs_f64() / other.as_secs_f64();
        let verdict = if ratio <= goal { "met" } else { "MISSED" };
        println!("  {name:<42} {ratio:.2}  (goal <= {goal:.2}: {verdict})");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = tokens
}
criterion_main!(benches);
