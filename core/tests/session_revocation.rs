//! An access token dies with its session: every token issued for a session carries
//! its id (`sid`), and revoking the session (reuse of a refresh token, logout, an
//! administrator, logout everywhere) revokes the token, in this process at once and
//! in another sharing the store after its maintenance reload. A logout everywhere
//! leaves a session started after it alive, even within the same second. Both
//! backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::store::{T0, backends, open};
use jwtauth_core::users::HashCost;
use jwtauth_core::users::throttle::LoginLimits;
use jwtauth_core::{Config, FixedClock, JwtAuth, Login, OpenOptions, Reason, RequestInfo};
use serde_json::Map;

/// The reason `token` is refused with, or `None` when it is good.
fn refused(auth: &JwtAuth, token: &str) -> Option<Reason> {
    auth.verifier().validate(token).err().map(|e| e.reason)
}

#[test]
fn every_access_token_of_a_session_names_it_and_no_other_token_does() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let first = auth.sessions().start("alice", &[], &Map::new()).unwrap();
        let next = auth
            .sessions()
            .refresh(first.refresh_token.expose(), &RequestInfo::default())
            .unwrap();
        for pair in [&first, &next] {
            let claims = auth.verifier().validate(&pair.access.token).unwrap();
            assert_eq!(claims.session_id(), Some(first.family_id.as_str()), "{}", b.name);
            let json = claims.to_json("roles");
            assert_eq!(json["sid"], first.family_id.as_str());
            // Never anything that refreshes.
            assert!(!pair.access.token.contains(pair.refresh_token.expose()));
        }
        let plain = auth.issuer().issue("alice", &[], &Map::new()).unwrap();
        assert_eq!(auth.verifier().validate(&plain.token).unwrap().session_id(), None);
        // Only jwtauth sets it.
        let mut extra = Map::new();
        extra.insert("sid".into(), first.family_id.clone().into());
        assert!(auth.issuer().issue("mallory", &[], &extra).is_err());
        assert!(auth.sessions().start("mallory", &[], &extra).is_err());
    }
}

#[test]
fn reusing_a_refresh_token_revokes_the_family_access_tokens_here_and_in_another_process() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let here = open(&b.url, "", &clock);
        let there = open(&b.url, "", &clock);
        let first = here.sessions().start("bob", &[], &Map::new()).unwrap();
        let current = here
            .sessions()
            .refresh(first.refresh_token.expose(), &RequestInfo::default())
            .unwrap();
        let other_session = here.sessions().start("bob", &[], &Map::new()).unwrap();
        let plain = here.issuer().issue("bob", &[], &Map::new()).unwrap();
        for auth in [&here, &there] {
            assert_eq!(refused(auth, &current.access.token), None, "{}", b.name);
        }
        clock.advance(5);
        // The spent token comes back: the family dies, and its access tokens with it.
        let e = here
            .sessions()
            .refresh(first.refresh_token.expose(), &RequestInfo::default())
            .unwrap_err();
        assert_eq!(e.reason(), Some(Reason::RefreshReused));
        there.sessions().reload_revocations().unwrap();
        for auth in [&here, &there] {
            for token in [&first.access.token, &current.access.token] {
                let e = auth.verifier().validate(token).unwrap_err();
                assert_eq!(e.reason, Reason::Revoked, "{}", b.name);
                assert!(e.hint.contains("session"), "{}", e.hint);
            }
            assert_eq!(refused(auth, &other_session.access.token), None, "{}", b.name);
            assert_eq!(refused(auth, &plain.token), None, "{}: no sid, no session", b.name);
        }
    }
}

#[test]
fn another_process_learns_a_revoked_session_on_its_maintenance_tick() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let here = open(&b.url, "", &clock);
        let there = open(&b.url, "revocation_staleness = \"1s\"", &clock);
        let pair = here.sessions().start("erin", &[], &Map::new()).unwrap();
        assert_eq!(refused(&there, &pair.access.token), None);
        assert!(here.sessions().revoke(pair.refresh_token.expose()).unwrap());
        // Nothing but its own maintenance thread tells `there`; bounded wait.
        let deadline = Instant::now() + Duration::from_secs(60);
        while refused(&there, &pair.access.token).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(refused(&there, &pair.access.token), Some(Reason::Revoked), "{}", b.name);
    }
}

#[test]
fn logout_and_an_administrator_revoke_that_session_access_tokens_and_no_other() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let here = open(&b.url, "", &clock);
        let there = open(&b.url, "", &clock);
        let phone = here.sessions().start("carol", &[], &Map::new()).unwrap();
        let laptop = here.sessions().start("carol", &[], &Map::new()).unwrap();
        let tablet = here.sessions().start("carol", &[], &Map::new()).unwrap();
        assert!(here.sessions().revoke(phone.refresh_token.expose()).unwrap());
        assert!(here.sessions().revoke_family(&tablet.family_id).unwrap());
        there.sessions().reload_revocations().unwrap();
        for auth in [&here, &there] {
            assert_eq!(refused(auth, &phone.access.token), Some(Reason::Revoked), "{}", b.name);
            assert_eq!(refused(auth, &tablet.access.token), Some(Reason::Revoked), "{}", b.name);
            assert_eq!(refused(auth, &laptop.access.token), None, "{}", b.name);
        }
        // The laptop keeps refreshing; its new token is good.
        let next = here
            .sessions()
            .refresh(laptop.refresh_token.expose(), &RequestInfo::default())
            .unwrap();
        assert_eq!(refused(&here, &next.access.token), None);
    }
}

#[test]
fn a_login_in_the_second_of_a_logout_everywhere_is_not_dead_on_arrival() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let here = open(&b.url, "", &clock);
        let there = open(&b.url, "", &clock);
        // Issued just before the logout everywhere, in the same second.
        let before = here.sessions().start("dave", &[], &Map::new()).unwrap();
        let refreshed = here.sessions().start("dave", &[], &Map::new()).unwrap();
        let refreshed = here
            .sessions()
            .refresh(refreshed.refresh_token.expose(), &RequestInfo::default())
            .unwrap();
        let plain = here.issuer().issue("dave", &[], &Map::new()).unwrap();
        assert_eq!(here.sessions().revoke_subject("dave").unwrap(), 2);
        // Logged in again at once: same second.
        let after = here.sessions().start("dave", &[], &Map::new()).unwrap();
        there.sessions().reload_revocations().unwrap();
        for auth in [&here, &there] {
            assert_eq!(refused(auth, &after.access.token), None, "{}: dead on arrival", b.name);
            for token in [&before.access.token, &refreshed.access.token, &plain.token] {
                assert_eq!(refused(auth, token), Some(Reason::Revoked), "{}", b.name);
            }
        }
        let next = here
            .sessions()
            .refresh(after.refresh_token.expose(), &RequestInfo::default())
            .unwrap();
        assert_eq!(refused(&here, &next.access.token), None);
        // A second later, the earlier second is refused whatever the session.
        clock.advance(1);
        assert_eq!(here.sessions().revoke_subject("dave").unwrap(), 1);
        assert_eq!(refused(&here, &next.access.token), Some(Reason::Revoked));
    }
}

#[test]
fn a_user_enabled_again_and_logging_in_within_the_second_of_the_disable_gets_a_live_token() {
    let cheap = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let login = Login::with(LoginLimits::default(), cheap).unwrap();
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        auth.users()
            .add_with_cost("frank", "correct horse", &[], cheap)
            .unwrap();
        let log_in = || {
            login
                .login(auth.users(), "frank", "correct horse", None, &RequestInfo::default())
                .unwrap()
        };
        let before = log_in();
        assert!(auth.users().disable("frank").unwrap());
        assert!(auth.users().enable("frank").unwrap());
        let after = log_in();
        assert_eq!(
            refused(&auth, &before.access.token),
            Some(Reason::Revoked),
            "{}",
            b.name
        );
        assert_eq!(refused(&auth, &after.access.token), None, "{}: dead on arrival", b.name);
    }
}

#[test]
fn a_revoked_session_stays_revoked_as_long_as_its_tokens_can_live() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        // Tokens of 30 hours: longer than the day a finished session is kept.
        let config = Config::from_toml(&format!(
            "access_ttl = \"30h\"\nmax_access_ttl = \"30h\"\nallow_unsealed_keys = true\n[store]\nurl = \"{}\"\n",
            b.url
        ))
        .unwrap();
        let here = JwtAuth::open_with(config, OpenOptions::new().clock(clock.clone())).unwrap();
        let pair = here.sessions().start("gina", &[], &Map::new()).unwrap();
        assert!(here.sessions().revoke(pair.refresh_token.expose()).unwrap());
        clock.advance(26 * 3600);
        here.sweep(100).unwrap();
        here.sessions().reload_revocations().unwrap();
        assert_eq!(refused(&here, &pair.access.token), Some(Reason::Revoked), "{}", b.name);
        // Past the tokens' life the session can go.
        clock.advance(5 * 3600);
        assert_eq!(here.sweep(100).unwrap(), 1, "{}", b.name);
    }
}
