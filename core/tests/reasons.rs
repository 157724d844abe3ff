//! One test per failure reason the core produces: the reason is the right one and
//! the hint says something a person can act on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use common::*;
use jwtauth_core::{Algorithm, AuthError, KeyState, Reason, RequestInfo, Tokens};
use serde_json::{Map, json};

fn fails(auth: &Tokens, token: &str) -> AuthError {
    match auth.verifier().validate(token) {
        Ok(claims) => panic!("accepted: {claims:?}"),
        Err(e) => e,
    }
}

fn issued(auth: &Tokens) -> String {
    auth.issuer().issue("alice", &["Reader"], &Map::new()).unwrap().token
}

#[test]
fn a_valid_token_passes_and_carries_its_claims() {
    let (auth, _) = auth(Algorithm::ES256);
    let claims = auth.verifier().validate(issued(&auth)).unwrap();
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.issuer(), ISSUER);
    assert_eq!(claims.audience(), vec![AUDIENCE.to_string()]);
    assert_eq!(claims.expires_at(), NOW + TTL);
    assert_eq!(claims.not_before(), Some(NOW));
    assert_eq!(claims.issued_at(), Some(NOW));
    assert!(claims.has_role("Reader"));
    assert!(!claims.has_role("reader"), "roles are case-sensitive");
}

#[test]
fn empty_token_is_rejected_with_reason_missing_token() {
    let (auth, _) = auth(Algorithm::HS256);
    let e = fails(&auth, "");
    assert_eq!(e.reason, Reason::MissingToken);
    assert!(e.hint.contains("empty"), "{}", e.hint);

    let e = auth
        .verifier()
        .validate_header(None, &RequestInfo::default())
        .unwrap_err();
    assert_eq!(e.reason, Reason::MissingToken);
    assert!(e.hint.contains("Authorization"), "{}", e.hint);
}

#[test]
fn token_without_bearer_prefix_is_rejected_with_reason_bad_scheme() {
    let (auth, _) = auth(Algorithm::HS256);
    let token = issued(&auth);
    let e = auth
        .verifier()
        .validate_header(Some(&token), &RequestInfo::default())
        .unwrap_err();
    assert_eq!(e.reason, Reason::BadScheme);
    assert!(e.hint.contains("Bearer <token>"), "{}", e.hint);
    assert!(e.hint.contains("bare token"), "{}", e.hint);
}

#[test]
fn garbage_is_rejected_with_reason_malformed() {
    let (auth, _) = auth(Algorithm::HS256);
    let e = fails(&auth, "not-a-jwt");
    assert_eq!(e.reason, Reason::Malformed);
    assert!(e.hint.contains("3 dot-separated parts"), "{}", e.hint);
}

#[test]
fn oversized_token_is_rejected_with_reason_too_large_before_decoding() {
    let (auth, _) = auth(Algorithm::HS256);
    // Not even a JWT: the size is checked before anything is decoded.
    let e = fails(&auth, &"x".repeat(8193));
    assert_eq!(e.reason, Reason::TooLarge);
    assert!(e.hint.contains("8193 bytes") && e.hint.contains("8192"), "{}", e.hint);
}

#[test]
fn unsigned_token_is_rejected_with_reason_alg_not_allowed() {
    let (auth, _) = auth(Algorithm::HS256);
    let token = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(valid_claims().to_string()));
    let e = fails(&auth, &token);
    assert_eq!(e.reason, Reason::AlgNotAllowed);
    assert!(e.hint.contains("'none'"), "{}", e.hint);
}

#[test]
fn token_from_an_unknown_key_is_rejected_with_reason_unknown_kid() {
    let (auth, _) = auth(Algorithm::ES256);
    let (other, _) = common::auth(Algorithm::ES256);
    let stranger = issued(&other);
    let e = fails(&auth, &stranger);
    assert_eq!(e.reason, Reason::UnknownKid);
    let other_kid = other.verifier().key_ring().active().unwrap().kid().to_string();
    assert!(e.hint.contains(&other_kid), "{}", e.hint);
}

#[test]
fn token_signed_with_another_secret_is_rejected_with_reason_bad_signature() {
    let (auth, _) = auth(Algorithm::HS256);
    let ring = auth.verifier().key_ring();
    let ours = ring.active().unwrap();
    // Same kid, same claims, a different secret.
    let input = format!(
        "{}.{}",
        b64(header_for(ours).to_string()),
        b64(valid_claims().to_string())
    );
    let sig = hs256_with(b"an-entirely-different-secret-of-32+bytes", input.as_bytes());
    let e = fails(&auth, &format!("{input}.{}", b64(sig)));
    assert_eq!(e.reason, Reason::BadSignature);
    assert!(e.hint.contains("does not verify"), "{}", e.hint);
}

#[test]
fn expired_token_is_rejected_with_reason_expired() {
    let (auth, clock) = auth(Algorithm::EdDSA);
    let token = issued(&auth);
    // Still accepted inside the leeway...
    clock.set(NOW + TTL + LEEWAY - 1);
    auth.verifier().validate(&token).unwrap();
    // ...and refused from exp + leeway on.
    clock.set(NOW + TTL + LEEWAY);
    let e = fails(&auth, &token);
    assert_eq!(e.reason, Reason::Expired);
    assert!(e.hint.contains(&format!("expired {LEEWAY} s ago")), "{}", e.hint);
    assert!(e.hint.contains("leeway 30 s"), "{}", e.hint);
}

#[test]
fn token_used_before_nbf_is_rejected_with_reason_not_yet_valid() {
    let (auth, clock) = auth(Algorithm::HS256);
    clock.set(NOW + 3600);
    let future = issued(&auth);
    clock.set(NOW);
    let e = fails(&auth, &future);
    assert_eq!(e.reason, Reason::NotYetValid);
    assert!(e.hint.contains("not valid for another 3600 s"), "{}", e.hint);

    // Within the leeway, a clock slightly behind the issuer's is tolerated.
    clock.set(NOW + 3600 - LEEWAY);
    auth.verifier().validate(&future).unwrap();
}

#[test]
fn token_issued_in_the_future_is_rejected_with_reason_not_yet_valid() {
    let (auth, _) = auth(Algorithm::HS256);
    let ring = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    let mut claims = valid_claims();
    claims.as_object_mut().unwrap().remove("nbf");
    claims["iat"] = json!(NOW + 600);
    let e = fails(&auth, &craft(key, &header_for(key), &claims));
    assert_eq!(e.reason, Reason::NotYetValid);
    assert!(e.hint.contains("issuer's clock"), "{}", e.hint);
}

#[test]
fn token_from_another_issuer_is_rejected_with_reason_wrong_issuer() {
    let (auth, _) = auth(Algorithm::HS256);
    // The same key, configured for another service.
    let c = config_with(Algorithm::HS256, "issuer = \"https://evil.example\"\n");
    let other = Tokens::with_key_ring(c, (*auth.verifier().key_ring()).clone(), auth.clock().clone());
    let e = fails(&auth, &issued(&other));
    assert_eq!(e.reason, Reason::WrongIssuer);
    assert!(
        e.hint.contains("'https://evil.example'") && e.hint.contains(ISSUER),
        "{}",
        e.hint
    );
}

#[test]
fn token_for_another_audience_is_rejected_with_reason_wrong_audience() {
    let (auth, _) = auth(Algorithm::HS256);
    let c = config_with(Algorithm::HS256, "audience = [\"billing-api\"]\n");
    let other = Tokens::with_key_ring(c, (*auth.verifier().key_ring()).clone(), auth.clock().clone());
    let e = fails(&auth, &issued(&other));
    assert_eq!(e.reason, Reason::WrongAudience);
    assert!(
        e.hint.contains("'billing-api'") && e.hint.contains(AUDIENCE),
        "{}",
        e.hint
    );
}

#[test]
fn token_lacking_a_required_claim_is_rejected_with_reason_missing_claim() {
    let (auth, _) = auth(Algorithm::HS256);
    let ring = auth.verifier().key_ring();
    let key = ring.active().unwrap();
    for name in ["exp", "iss", "aud", "sub"] {
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove(name);
        let e = fails(&auth, &craft(key, &header_for(key), &claims));
        assert_eq!(e.reason, Reason::MissingClaim, "{name}");
        assert!(e.hint.contains(&format!("'{name}'")), "{name}: {}", e.hint);
    }
    // An empty subject names nobody.
    let mut claims = valid_claims();
    claims["sub"] = json!("");
    let e = fails(&auth, &craft(key, &header_for(key), &claims));
    assert_eq!(e.reason, Reason::MissingClaim);
    assert!(e.hint.contains("'sub'"), "{}", e.hint);
}

#[test]
fn missing_role_is_rejected_with_reason_insufficient_role() {
    let (auth, _) = auth(Algorithm::ES256);
    let claims = auth.verifier().validate(issued(&auth)).unwrap();
    auth.verifier()
        .require_role(&claims, "Reader", &RequestInfo::default())
        .unwrap();
    let e = auth
        .verifier()
        .require_role(&claims, "Admin", &RequestInfo::default())
        .unwrap_err();
    assert_eq!(e.reason, Reason::InsufficientRole);
    assert!(e.hint.contains("'Admin'") && e.hint.contains("[Reader]"), "{}", e.hint);
}

#[test]
fn retired_key_is_rejected_with_reason_unknown_kid() {
    let active = key(Algorithm::ES256, KeyState::Active);
    let old = key(Algorithm::ES256, KeyState::VerifyOnly);
    let (auth, _) = auth_with_keys(
        config(Algorithm::ES256),
        vec![active, old.with_state(KeyState::VerifyOnly).unwrap()],
    );
    let token = craft(&old, &header_for(&old), &valid_claims());
    auth.verifier().validate(&token).unwrap();

    // Retire it: the same token now names a key that is gone.
    let ring: Vec<_> = auth
        .verifier()
        .key_ring()
        .keys()
        .iter()
        .map(|k| {
            let state = if k.kid() == old.kid() {
                KeyState::Retired
            } else {
                k.state()
            };
            k.with_state(state).unwrap()
        })
        .collect();
    auth.replace_key_ring(jwtauth_core::KeyRing::new(ring).unwrap());
    let e = fails(&auth, &token);
    assert_eq!(e.reason, Reason::UnknownKid);
    assert!(e.hint.contains(old.kid().as_str()), "{}", e.hint);
}
