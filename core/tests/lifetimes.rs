//! No token outlives the watermarks kept for it: a lifetime longer than
//! `max_access_ttl` + leeway is refused, and a process with a short ceiling never
//! purges a watermark another process sharing the store still needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{LEEWAY, NOW};
use jwtauth_core::{Algorithm, Config, FixedClock, JwtAuth, KeyState, OpenOptions, Reason};
use serde_json::json;

#[test]
fn a_token_living_longer_than_max_access_ttl_plus_leeway_is_refused() {
    let max = 3600;
    let key = common::key(Algorithm::ES256, KeyState::Active);
    let craft = |iat: Option<i64>, exp: i64| {
        let mut claims = common::valid_claims();
        claims["exp"] = json!(exp);
        match iat {
            Some(iat) => claims["iat"] = json!(iat),
            None => {
                claims.as_object_mut().unwrap().remove("iat");
            }
        }
        common::craft(&key, &common::header_for(&key), &claims)
    };
    let cases = [
        (craft(Some(NOW), NOW + max + LEEWAY), None),
        (craft(Some(NOW), NOW + max + LEEWAY + 1), Some(Reason::Expired)),
        (craft(Some(NOW - 10), NOW + 100 * 86_400), Some(Reason::Expired)),
        // Without iat, what is left of it counts.
        (craft(None, NOW + max + LEEWAY), None),
        (craft(None, NOW + max + LEEWAY + 1), Some(Reason::Expired)),
    ];
    let config = common::config_with(Algorithm::ES256, &format!("max_access_ttl = {max}"));
    let (tokens, _clock) = common::auth_with_keys(config, vec![key]);
    for (i, (token, want)) in cases.iter().enumerate() {
        let got = tokens.verifier().validate(token).err().map(|e| e.reason);
        assert_eq!(&got, want, "case {i}");
    }
}

fn open(url: &str, lifetimes: &str, clock: &Arc<FixedClock>) -> JwtAuth {
    let config = Config::from_toml(&format!("{lifetimes}\n[store]\nurl = \"{url}\"\npool_size = 2\n")).unwrap();
    JwtAuth::open_with(config, OpenOptions::new().clock(clock.clone())).unwrap()
}

#[test]
fn a_process_with_a_short_ceiling_keeps_the_watermarks_a_longer_one_needs() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(common::store::T0));
    // A: tokens of at most 10 minutes. B: tokens of two hours.
    let short = open(&b.url, "access_ttl = \"10m\"\nmax_access_ttl = \"10m\"", &clock);
    let long = open(&b.url, "access_ttl = \"2h\"\nmax_access_ttl = \"2h\"", &clock);
    let token = long.issuer().issue("carol", &[], &Default::default()).unwrap().token;
    long.sessions().revoke_subject("carol").unwrap();
    // Past A's ceiling, well inside B's token's life: A sweeps, B reloads.
    clock.set(common::store::T0 + 3600);
    short.sweep(100).unwrap();
    long.sessions().reload_revocations().unwrap();
    let e = long.verifier().validate(&token).unwrap_err();
    assert_eq!(e.reason, Reason::Revoked, "a revoked token became valid again: {e}");
    // Past B's ceiling too, the watermark can go.
    clock.set(common::store::T0 + 2 * 3600 + 60);
    short.sweep(100).unwrap();
    let left = long
        .store()
        .write(|tx| tx.query("SELECT subject FROM jwtauth_revocations", &[]))
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn issuing_refuses_what_validation_would_refuse_or_have_to_clean() {
    let (tokens, _clock) = common::auth(Algorithm::ES256);
    let issue = |sub: &str, roles: &[&str], extra: serde_json::Value| {
        tokens
            .issuer()
            .issue(sub, roles, extra.as_object().unwrap())
            .map(|i| i.token)
            .map_err(|e| e.to_string())
    };
    let ok = issue("alice", &["Reader"], json!({})).unwrap();
    assert!(tokens.verifier().validate(&ok).is_ok());
    for bad_sub in [
        "x".repeat(1 << 20),
        "a\nb".into(),
        "evil\u{202E}gpj".into(),
        "z\u{200B}".into(),
    ] {
        let e = issue(&bad_sub, &[], json!({})).unwrap_err();
        assert!(e.contains("subject"), "{e}");
    }
    for bad_role in ["", "Ad\u{0}min", "\u{2066}Admin"] {
        let e = issue("alice", &[bad_role], json!({})).unwrap_err();
        assert!(e.contains("role"), "{e}");
    }
    // Claims that make the token larger than this same service accepts.
    let e = issue("alice", &[], json!({"blob": "x".repeat(10_000)})).unwrap_err();
    assert!(e.contains("max_token_size"), "{e}");
    // A subject of letters in any script is fine.
    assert!(issue("Zoë-東京", &[], json!({})).is_ok());
}
