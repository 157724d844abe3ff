//! Key lifecycle in the store: rotation, verify-only window, retirement, sharing
//! between processes, sealing at rest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::sync::Arc;

use common::store::{T0, backends, config, open};
use jwtauth_core::{
    Algorithm, FixedClock, JwtAuth, KeyAdminError, KeyState, OpenOptions, Reason, RequestInfo, Verdict,
};
use serde_json::Map;

#[test]
fn first_open_generates_one_active_key_and_reopen_keeps_it() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let kid = {
            let auth = open(&b.url, "", &clock);
            let keys = auth.keys().list().unwrap();
            assert_eq!(keys.len(), 1, "{}", b.name);
            assert_eq!(keys[0].state, KeyState::Active);
            assert_eq!(keys[0].algorithm, Algorithm::ES256);
            keys[0].kid.clone()
        };
        let again = open(&b.url, "", &clock);
        assert_eq!(
            again.keys().list().unwrap()[0].kid,
            kid,
            "{}: key survives restart",
            b.name
        );
        assert_eq!(again.keys().list().unwrap().len(), 1);
    }
}

#[test]
fn rotation_demotes_then_retires_the_old_key() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock); // access_ttl 10m, leeway 30s
        let old_token = auth.issuer().issue("alice", &[], &Map::new()).unwrap();
        let new_kid = auth.keys().rotate_now(Some(Algorithm::EdDSA)).unwrap();
        let new_token = auth.issuer().issue("alice", &[], &Map::new()).unwrap();
        assert_eq!(new_token.kid, new_kid, "{}: the new key signs", b.name);
        assert!(
            auth.verifier().validate(&old_token.token).is_ok(),
            "{}: old key still verifies",
            b.name
        );
        let keys = auth.keys().list().unwrap();
        let old = keys.iter().find(|k| k.kid == old_token.kid).unwrap();
        assert_eq!(old.state, KeyState::VerifyOnly);
        assert_eq!(old.demoted_at, Some(T0));
        assert_eq!(old.retire_after, Some(T0 + 600 + 30));
        assert_eq!(auth.verifier().jwks()["keys"].as_array().unwrap().len(), 2);

        // Once every token it signed has expired, the old key is gone.
        clock.advance(631);
        auth.sweep(10).unwrap();
        let keys = auth.keys().list().unwrap();
        assert_eq!(
            keys.iter().find(|k| k.kid == old_token.kid).unwrap().state,
            KeyState::Retired
        );
        assert_eq!(
            auth.verifier().jwks()["keys"].as_array().unwrap().len(),
            1,
            "{}",
            b.name
        );
    }
}

#[test]
fn retiring_a_key_removes_it_but_the_active_key_cannot_be_retired() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let token = auth.issuer().issue("bob", &[], &Map::new()).unwrap();
        let active = auth.keys().list().unwrap()[0].kid.clone();
        match auth.keys().retire(active.as_str()) {
            Err(e @ KeyAdminError::ActiveKey) => assert!(e.to_string().contains("rotate"), "{e}"),
            other => panic!("{}: {other:?}", b.name),
        }
        assert!(matches!(auth.keys().retire("nope"), Err(KeyAdminError::UnknownKid(_))));
        auth.keys().rotate_now(None).unwrap();
        auth.keys().retire(active.as_str()).unwrap();
        assert_eq!(
            auth.verifier().validate(&token.token).unwrap_err().reason,
            Reason::UnknownKid,
            "{}",
            b.name
        );
        assert!(!auth.verifier().jwks().to_string().contains(active.as_str()));
    }
}

#[test]
fn another_process_picks_up_a_rotated_key_without_restart() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let a = open(&b.url, "", &clock);
        let other = open(&b.url, "", &clock);
        a.keys().rotate_now(None).unwrap();
        let token = a.issuer().issue("carol", &[], &Map::new()).unwrap();
        // `other` has never seen this kid: it reloads from the store on demand.
        let claims = other.verifier().validate(&token.token).unwrap();
        assert_eq!(claims.kid(), &token.kid, "{}", b.name);
        // A flood of made-up kids does not reload each time (rate-limited): it still fails cleanly.
        for _ in 0..50 {
            let forged = token.token.replacen(
                &token.token[..token.token.find('.').unwrap()],
                "eyJhbGciOiJFUzI1NiIsImtpZCI6Im1hZGUtdXAifQ",
                1,
            );
            assert_eq!(
                other.verifier().validate(&forged).unwrap_err().reason,
                Reason::UnknownKid
            );
        }
    }
}

#[test]
fn the_nonblocking_check_defers_an_unknown_kid_only_while_a_reload_is_due() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let a = open(&b.url, "", &clock);
        let other = open(&b.url, "", &clock);
        let none = RequestInfo::default();
        let known = a.issuer().issue("carol", &[], &Map::new()).unwrap();
        let header = format!("Bearer {}", known.token);
        assert!(
            matches!(other.verifier().check_header(Some(&header), &none), Verdict::Valid(_)),
            "{}",
            b.name
        );
        assert!(matches!(
            other.verifier().check_header(Some(&known.token), &none),
            Verdict::Invalid(e) if e.reason == Reason::BadScheme
        ));

        a.keys().rotate_now(None).unwrap();
        let rotated = a.issuer().issue("carol", &[], &Map::new()).unwrap();
        let header = format!("Bearer {}", rotated.token);
        // A key `other` has not loaded: the verdict needs the store, so it is deferred.
        assert!(
            matches!(
                other.verifier().check_header(Some(&header), &none),
                Verdict::NeedsKeyReload
            ),
            "{}",
            b.name
        );
        // Where blocking is allowed, the reload finds it.
        assert_eq!(
            other.verifier().validate_header(Some(&header), &none).unwrap().kid(),
            &rotated.kid
        );
        // A made-up kid right after that reload is refused at once, not deferred again.
        let forged = rotated.token.replacen(
            &rotated.token[..rotated.token.find('.').unwrap()],
            "eyJhbGciOiJFUzI1NiIsImtpZCI6Im1hZGUtdXAifQ",
            1,
        );
        let verdict = other.verifier().check_header(Some(&format!("Bearer {forged}")), &none);
        assert!(
            matches!(verdict, Verdict::Invalid(ref e) if e.reason == Reason::UnknownKid),
            "{}: {verdict:?}",
            b.name
        );
    }
}

#[test]
fn hs_rotation_is_refused_with_advice() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(T0));
    let auth = open(&b.url, "", &clock);
    let err = auth.keys().rotate_now(Some(Algorithm::HS256)).unwrap_err();
    assert!(err.to_string().contains("hs_secret"), "{err}");
}

#[test]
fn configured_hs_secret_becomes_the_active_key() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let generated = open(&b.url, "", &clock).keys().list().unwrap()[0].kid.clone();
        let hs = open(
            &b.url,
            "algorithm = \"HS256\"\nhs_secret = \"k8Xq2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"",
            &clock,
        );
        let keys = hs.keys().list().unwrap();
        let active: Vec<_> = keys.iter().filter(|k| k.state == KeyState::Active).collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].algorithm, Algorithm::HS256, "{}", b.name);
        assert_eq!(
            keys.iter().find(|k| k.kid == generated).unwrap().state,
            KeyState::VerifyOnly
        );
        assert!(
            hs.verifier().jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["alg"] != "HS256")
        );
    }
}

#[test]
fn a_rotation_away_from_the_configured_key_survives_a_restart() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let hs = "algorithm = \"HS256\"\nhs_secret = \"k8Xq2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"";
        let first = open(&b.url, hs, &clock);
        let rotated = first.keys().rotate_now(Some(Algorithm::ES256)).unwrap();
        drop(first);
        let restarted = open(&b.url, hs, &clock);
        let active: Vec<_> = restarted
            .keys()
            .list()
            .unwrap()
            .into_iter()
            .filter(|k| k.state == KeyState::Active)
            .collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].kid, rotated, "{}: restart must not undo the rotation", b.name);
        // A new secret is a new key: it becomes the active one.
        let changed = open(
            &b.url,
            "algorithm = \"HS256\"\nhs_secret = \"Zr7VtL0pWn4YbC9sHd3JfG6uEa1k8Xq2m\"",
            &clock,
        );
        let active = changed
            .keys()
            .list()
            .unwrap()
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .unwrap();
        assert_eq!(active.algorithm, Algorithm::HS256, "{}", b.name);
        assert_ne!(active.kid, rotated);
    }
}

#[test]
fn keys_are_sealed_under_the_master_key() {
    let b = common::store::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n").unwrap();
    let wrong_file = dir.path().join("wrong.key");
    std::fs::write(&wrong_file, "ab".repeat(32)).unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let with = |file: &std::path::Path| format!("master_key_file = \"{}\"", file.display());

    let auth = open(&b.url, &with(&key_file), &clock);
    assert!(auth.keys().sealed());
    let token = auth.issuer().issue("dan", &[], &Map::new()).unwrap();
    drop(auth);

    let conn = rusqlite::Connection::open(b.url.trim_start_matches("sqlite://")).unwrap();
    let (material, sealed): (String, i64) = conn
        .query_row("SELECT material, sealed FROM jwtauth_keys", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(sealed, 1);
    // A PKCS#8 EC key in base64 starts with "MIG"; sealed material is random-looking.
    assert!(!material.starts_with("MIG"));

    let err = JwtAuth::open_with(
        config(&b.url, &with(&wrong_file)),
        OpenOptions::new().clock(clock.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("master key differs"), "{err}");
    let err = JwtAuth::open_with(config(&b.url, ""), OpenOptions::new().clock(clock.clone())).unwrap_err();
    assert!(err.to_string().contains("JWTAUTH_MASTER_KEY"), "{err}");

    let again = open(&b.url, &with(&key_file), &clock);
    assert!(again.verifier().validate(&token.token).is_ok());
}

#[test]
fn a_rotated_key_is_published_first_and_signs_from_its_stored_instant_in_every_process() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let a = open(&b.url, "key_publish_ahead = \"10m\"", &clock);
        let other = open(&b.url, "key_publish_ahead = \"10m\"", &clock);
        let old_kid = a.issuer().issue("alice", &[], &Map::new()).unwrap().kid;
        let next = a.keys().rotate(None).unwrap();
        let listed = a.keys().list().unwrap();
        let info = listed.iter().find(|k| k.kid == next).unwrap();
        assert_eq!(
            (info.state, info.activates_at),
            (KeyState::Next, Some(T0 + 600)),
            "{}",
            b.name
        );
        // Published at once, not signing.
        let published = |auth: &JwtAuth| {
            auth.verifier().jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == next.as_str())
        };
        assert!(published(&a), "{}", b.name);
        assert_eq!(a.issuer().issue("alice", &[], &Map::new()).unwrap().kid, old_kid);
        other.keys().reload_if_changed().unwrap();
        assert!(published(&other), "{}: the other process publishes it too", b.name);
        clock.set(T0 + 599);
        assert_eq!(other.issuer().issue("alice", &[], &Map::new()).unwrap().kid, old_kid);
        // At the instant, both sign with it, with no reload in between.
        clock.set(T0 + 600);
        for auth in [&a, &other] {
            let t = auth.issuer().issue("alice", &[], &Map::new()).unwrap();
            assert_eq!(t.kid, next, "{}", b.name);
            assert!(a.verifier().validate(&t.token).is_ok());
        }
        // Listed, the old key is verify-only from the instant on.
        let listed = other.keys().list().unwrap();
        let old = listed.iter().find(|k| k.kid == old_kid).unwrap();
        assert_eq!(
            (old.state, old.demoted_at),
            (KeyState::VerifyOnly, Some(T0 + 600)),
            "{}",
            b.name
        );
        assert_eq!(listed.iter().find(|k| k.kid == next).unwrap().state, KeyState::Active);
        // Retired through one process, the other drops it at its next check.
        let old_token_kid = old_kid.clone();
        a.keys().retire(old_token_kid.as_str()).unwrap();
        other.keys().reload_if_changed().unwrap();
        assert!(
            other.verifier().key_ring().get(old_kid.as_str()).is_none(),
            "{}",
            b.name
        );
    }
}
