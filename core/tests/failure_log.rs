//! Failure events as the log sees them: exactly one per failed validation, with
//! reason, fingerprint, kid and subject (marked unverified when the signature was
//! not), and never the token or the secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::*;
use jwtauth_core::audit::{FailureLogLayer, FailureRecord, fingerprint};
use jwtauth_core::{Algorithm, Reason, RequestInfo, Tokens};
use serde_json::{Map, json};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// An in-memory log sink.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Sink;
    fn make_writer(&'a self) -> Sink {
        self.clone()
    }
}

/// Runs `f` under a subscriber with the failure-log layer; returns the lines written.
fn capture(f: impl FnOnce()) -> Vec<String> {
    let sink = Sink::default();
    let subscriber = tracing_subscriber::registry().with(FailureLogLayer::new(sink.clone()));
    tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap().lines().map(str::to_owned).collect()
}

fn one_record(lines: &[String]) -> FailureRecord {
    assert_eq!(lines.len(), 1, "expected exactly one line: {lines:#?}");
    serde_json::from_str(&lines[0]).unwrap()
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Validates `token`, expecting `reason`; returns the one line it logged.
fn logged(auth: &Tokens, token: &str, reason: Reason) -> (FailureRecord, String) {
    let lines = capture(|| {
        assert_eq!(auth.verifier().validate(token).unwrap_err().reason, reason);
    });
    let rec = one_record(&lines);
    assert_eq!(rec.reason, reason.as_str());
    assert!(!rec.hint.as_deref().unwrap_or("").is_empty());
    let fp = rec.fingerprint.as_deref().unwrap();
    assert!(is_fingerprint(fp), "{fp}");
    assert_eq!(fp, fingerprint(token.as_bytes()));
    // The issuer whose rules judged it; none for an `iss` that is not ours.
    let judged_by = (reason != Reason::WrongIssuer).then(|| auth.verifier().rules().issuer.clone());
    assert_eq!(rec.issuer, judged_by, "{}", lines[0]);
    (rec, lines[0].clone())
}

#[test]
fn a_valid_token_logs_nothing() {
    let (auth, _) = auth(Algorithm::ES256);
    let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    assert!(capture(|| drop(auth.verifier().validate(&token).unwrap())).is_empty());
}

#[test]
fn both_spellings_of_an_ecdsa_signature_are_one_token_in_the_cache_and_the_log() {
    for alg in [Algorithm::ES256, Algorithm::ES384, Algorithm::ES512] {
        let (auth, clock) = auth(alg);
        let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
        let twin = ecdsa_twin(alg, &token);
        assert_ne!(twin, token);
        // High S is accepted (other issuers' signers produce it), as one token.
        for t in [&token, &twin, &token, &twin] {
            assert_eq!(auth.verifier().validate(t).unwrap().subject(), "alice", "{alg}");
        }
        let stats = auth.verifier().cache_stats().unwrap();
        assert_eq!((stats.entries, stats.misses, stats.hits), (1, 1, 3), "{alg}");
        assert_eq!(fingerprint(twin.as_bytes()), fingerprint(token.as_bytes()), "{alg}");
        // Refused, both are logged with that one fingerprint.
        clock.advance(TTL + LEEWAY);
        let (first, _) = logged(&auth, &token, Reason::Expired);
        let (second, _) = logged(&auth, &twin, Reason::Expired);
        assert_eq!(first.fingerprint, second.fingerprint, "{alg}");
    }
}

#[test]
fn a_forged_subject_is_logged_as_unverified() {
    let (auth, _) = auth(Algorithm::ES256);
    let ring = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    let (h, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut claims = valid_claims();
    claims["sub"] = json!("mallory");
    let forged = format!("{h}.{}.{sig}", b64(claims.to_string()));

    let (rec, _) = logged(&auth, &forged, Reason::BadSignature);
    assert_eq!(rec.subject.as_deref(), Some("mallory"));
    assert_eq!(rec.subject_verified, Some(false));
    assert_eq!(rec.kid.as_deref(), Some(key.kid().as_str()));
}

#[test]
fn a_verified_subject_is_logged_as_verified() {
    let (auth, clock) = auth(Algorithm::EdDSA);
    let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    clock.advance(TTL + LEEWAY);
    let (rec, _) = logged(&auth, &token, Reason::Expired);
    assert_eq!(rec.subject.as_deref(), Some("alice"));
    assert_eq!(rec.subject_verified, Some(true));
    assert_eq!(
        rec.kid.as_deref(),
        Some(auth.verifier().key_ring().active().unwrap().kid().as_str())
    );
}

#[test]
fn failures_before_the_signature_carry_the_header_kid_but_no_subject() {
    let (auth, _) = auth(Algorithm::HS256);
    let header = json!({"alg": "HS256", "kid": "stranger"});
    let token = format!(
        "{}.{}.{}",
        b64(header.to_string()),
        b64(valid_claims().to_string()),
        b64([1u8; 32])
    );
    let (rec, _) = logged(&auth, &token, Reason::UnknownKid);
    assert_eq!(rec.kid.as_deref(), Some("stranger"));
    assert_eq!(rec.subject, None);
    assert_eq!(rec.subject_verified, None);

    let (rec, _) = logged(&auth, "a.b", Reason::Malformed);
    assert_eq!(rec.kid, None);
}

#[test]
fn every_failure_reason_of_validation_logs_exactly_one_line() {
    let (auth, clock) = auth(Algorithm::HS256);
    let ring = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    let good = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    let with = |patch: serde_json::Value| {
        let mut c = valid_claims();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        craft(key, &header_for(key), &c)
    };
    let cases = [
        ("x".repeat(9000), Reason::TooLarge),
        ("x.y".to_string(), Reason::Malformed),
        (
            format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(valid_claims().to_string())),
            Reason::AlgNotAllowed,
        ),
        (format!("{good}x"), Reason::BadSignature),
        (with(json!({"iss": "https://evil.example"})), Reason::WrongIssuer),
        (with(json!({"aud": "billing"})), Reason::WrongAudience),
        (with(json!({"nbf": NOW + 3600})), Reason::NotYetValid),
        (with(json!({"exp": NOW - 3600})), Reason::Expired),
    ];
    for (token, reason) in &cases {
        logged(&auth, token, *reason);
    }
    // An empty token has no fingerprint.
    let lines = capture(|| drop(auth.verifier().validate("").unwrap_err()));
    let rec = one_record(&lines);
    assert_eq!(rec.reason, "missing_token");
    assert_eq!(rec.fingerprint, None);
    clock.set(NOW);
}

#[test]
fn header_and_role_failures_log_one_line_each_with_the_request() {
    let (auth, _) = auth(Algorithm::ES256);
    let token = auth.issuer().issue("alice", &["Reader"], &Map::new()).unwrap().token;
    let request = RequestInfo {
        client: Some("203.0.113.7:50000"),
        method: Some("DELETE"),
        path: Some("/api/products/7"),
        user_agent: Some("curl/8.5.0"),
        request_id: Some("req-1"),
        client_id: None,
    };
    let lines = capture(|| {
        let e = auth.verifier().validate_header(Some(&token), &request).unwrap_err();
        assert_eq!(e.reason, Reason::BadScheme);
    });
    let rec = one_record(&lines);
    assert_eq!(rec.reason, "bad_scheme");
    assert_eq!(rec.client.as_deref(), Some("203.0.113.7:50000"));
    assert_eq!(rec.method.as_deref(), Some("DELETE"));
    assert_eq!(rec.path.as_deref(), Some("/api/products/7"));
    assert_eq!(rec.request_id.as_deref(), Some("req-1"));
    assert!(!lines[0].contains(&token));

    let claims = auth.verifier().validate(&token).unwrap();
    let lines = capture(|| {
        let e = auth.verifier().require_role(&claims, "Admin", &request).unwrap_err();
        assert_eq!(e.reason, Reason::InsufficientRole);
    });
    let rec = one_record(&lines);
    assert_eq!(rec.reason, "insufficient_role");
    assert_eq!(rec.subject.as_deref(), Some("alice"));
    assert_eq!(rec.subject_verified, Some(true));
    assert_eq!(rec.kid.as_deref(), Some(claims.kid().as_str()));
    assert_eq!(rec.user_agent.as_deref(), Some("curl/8.5.0"));
}

#[test]
fn no_line_contains_the_token_its_parts_or_the_secret() {
    let (auth, _) = auth(Algorithm::HS256);
    let ring = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    let good = auth.issuer().issue("alice", &["Reader"], &Map::new()).unwrap().token;
    let mut wrong_iss = valid_claims();
    wrong_iss["iss"] = json!("https://evil.example");
    let tokens = [
        format!("{good}A"),
        format!("{}.{}", good.rsplit_once('.').unwrap().0, b64([0u8; 32])),
        craft(key, &header_for(key), &wrong_iss),
        good.replacen('.', "..", 1),
    ];
    let lines = capture(|| {
        for t in &tokens {
            assert!(auth.verifier().validate(t).is_err());
            assert!(
                auth.verifier()
                    .validate_header(Some(t), &RequestInfo::default())
                    .is_err()
            );
            assert!(
                auth.verifier()
                    .validate_header(Some(&format!("Bearer {t}")), &RequestInfo::default())
                    .is_err()
            );
        }
    });
    assert_eq!(lines.len(), tokens.len() * 3);
    for line in &lines {
        assert!(!line.contains(SECRET), "secret in {line}");
        for t in &tokens {
            assert!(!line.contains(t.as_str()), "token in {line}");
            for part in t.split('.').filter(|p| p.len() >= 16) {
                assert!(!line.contains(part), "token segment in {line}");
            }
        }
    }
}

#[test]
fn a_bare_credential_sent_without_a_scheme_is_not_echoed() {
    let (auth, _) = auth(Algorithm::HS256);
    for credential in ["sk_live_51HqLyjWDarjtT1zdp7dcKq", "hunter2", "a.b.c.d.e"] {
        let lines = capture(|| {
            let e = auth
                .verifier()
                .validate_header(Some(credential), &RequestInfo::default())
                .unwrap_err();
            assert_eq!(e.reason, Reason::BadScheme);
            assert!(!e.hint.contains(credential), "{}", e.hint);
            assert!(e.hint.contains("Bearer <token>"), "{}", e.hint);
        });
        let rec = one_record(&lines);
        assert!(!lines[0].contains(credential), "{}", lines[0]);
        assert_eq!(rec.reason, "bad_scheme");
    }
    // A real scheme word is named, so the caller sees what was sent.
    let e = auth
        .verifier()
        .validate_header(Some("Basic YWxpY2U6aHVudGVyMg=="), &RequestInfo::default())
        .unwrap_err();
    assert!(e.hint.contains("'Basic'") && !e.hint.contains("YWxp"), "{}", e.hint);
}

#[test]
fn request_context_from_an_embedder_is_bounded_and_cleaned_before_it_is_written() {
    let (auth, _) = auth(Algorithm::ES256);
    let (path, agent) = (
        format!("/api/{}", "p".repeat(6_400_000)),
        "evil\u{202E}gpj.exe\n\u{1b}[2J".to_owned(),
    );
    let request = RequestInfo {
        client: Some("203.0.113.7:50000"),
        method: Some("GET"),
        path: Some(&path),
        user_agent: Some(&agent),
        request_id: Some("req-1"),
        client_id: None,
    };
    let lines = capture(|| drop(auth.verifier().validate_with("x.y", &request).unwrap_err()));
    let rec = one_record(&lines);
    assert!(lines[0].len() < 4096, "a {} byte line", lines[0].len());
    let logged_path = rec.path.unwrap();
    assert!(
        logged_path.starts_with("/api/ppp") && logged_path.ends_with('…'),
        "{logged_path}"
    );
    assert_eq!(rec.user_agent.as_deref(), Some("evil?gpj.exe??[2J"));
    // Clean, short values pass as they are.
    assert_eq!(rec.client.as_deref(), Some("203.0.113.7:50000"));
}
