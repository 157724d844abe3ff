//! Remembered tokens (`validation_cache`): a token verified before skips its
//! signature check, but never outlives its expiry, a logout everywhere or its key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::sync::Arc;

use common::store::{T0, backends, open};
use common::{LEEWAY, TTL, config_with};
use jwtauth_core::{Algorithm, FixedClock, Reason, Tokens};
use serde_json::Map;

#[test]
fn a_remembered_token_still_expires() {
    for cache in ["", "validation_cache = 0\n"] {
        let clock = Arc::new(FixedClock::new(common::NOW));
        let auth = Tokens::with_clock(config_with(Algorithm::ES256, cache), clock.clone()).unwrap();
        let t = auth.issuer().issue("alice", &["User"], &Map::new()).unwrap();
        for _ in 0..3 {
            assert_eq!(
                auth.verifier().validate(&t.token).unwrap().subject(),
                "alice",
                "{cache}"
            );
        }
        clock.advance(TTL + LEEWAY - 1);
        assert!(auth.verifier().validate(&t.token).is_ok(), "{cache}");
        clock.advance(1);
        assert_eq!(
            auth.verifier().validate(&t.token).unwrap_err().reason,
            Reason::Expired,
            "{cache}"
        );
    }
}

#[test]
fn a_remembered_token_is_still_refused_after_a_logout_everywhere() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let pair = auth.sessions().start("bob", &[], &Map::new()).unwrap();
        assert!(auth.verifier().validate(&pair.access.token).is_ok());
        assert!(auth.verifier().validate(&pair.access.token).is_ok());
        auth.sessions().revoke_subject("bob").unwrap();
        assert_eq!(
            auth.verifier().validate(&pair.access.token).unwrap_err().reason,
            Reason::Revoked,
            "{}",
            b.name
        );
    }
}

#[test]
fn retiring_a_key_ends_its_remembered_tokens() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let old = auth.issuer().issue("carol", &[], &Map::new()).unwrap();
        assert!(auth.verifier().validate(&old.token).is_ok());
        auth.keys().rotate_now(None).unwrap();
        assert!(
            auth.verifier().validate(&old.token).is_ok(),
            "verify-only keys still verify"
        );
        auth.keys().retire(old.kid.as_str()).unwrap();
        assert_eq!(
            auth.verifier().validate(&old.token).unwrap_err().reason,
            Reason::UnknownKid,
            "{}",
            b.name
        );
    }
}

#[test]
fn the_cache_size_is_bounded_in_the_config() {
    let e = jwtauth_core::Config::from_toml("validation_cache = 2000000").unwrap_err();
    assert!(e.to_string().contains("validation_cache"), "{e}");
}

#[test]
fn a_reload_keeps_remembered_tokens_of_keys_that_did_not_change() {
    let (ours, theirs) = (common::store::sqlite(), common::store::sqlite());
    let clock = Arc::new(FixedClock::new(T0));
    let auth = open(&ours.url, "", &clock);
    // Same issuer and audience, other keys: its kids are unknown here.
    let stranger = open(&theirs.url, "", &clock);
    let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    let stats = || auth.verifier().cache_stats().unwrap();
    auth.verifier().validate(&token).unwrap();
    auth.verifier().validate(&token).unwrap();
    assert_eq!((stats().hits, stats().misses), (1, 1));

    // An unknown kid reloads the key ring from the store; the token stays remembered.
    let unknown = stranger.issuer().issue("mallory", &[], &Map::new()).unwrap().token;
    assert_eq!(
        auth.verifier().validate(&unknown).unwrap_err().reason,
        Reason::UnknownKid
    );
    let misses = stats().misses;
    auth.verifier().validate(&token).unwrap();
    assert_eq!(stats().misses, misses, "the reload flushed a remembered token");

    // A rotation publishes a new key; the active one is unchanged, and so is its token.
    auth.keys().rotate(None).unwrap();
    auth.verifier().validate(&token).unwrap();
    assert_eq!(stats().misses, misses);
}
