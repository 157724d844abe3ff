//! Refresh-token rotation, reuse detection, revocation and expiry, on every backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::sync::{Arc, Barrier};

use common::store::{T0, backends, open};
use jwtauth_core::{FixedClock, Reason, RequestInfo};
use serde_json::Map;

fn reason(r: Result<jwtauth_core::TokenPair, jwtauth_core::SessionError>) -> Reason {
    match r {
        Ok(_) => panic!("expected a failure"),
        Err(e) => e.reason().unwrap_or_else(|| panic!("not an auth failure: {e}")),
    }
}

const REQ: RequestInfo<'static> = RequestInfo {
    client: None,
    method: None,
    path: None,
    user_agent: None,
    request_id: None,
    client_id: None,
};

#[test]
fn refresh_rotates_and_a_spent_token_revokes_the_family() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let first = auth.sessions().start("alice", &["Admin"], &Map::new()).unwrap();
        assert_eq!(first.refresh_token.expose().len(), 43, "256 bits base64url");
        let second = auth.sessions().refresh(first.refresh_token.expose(), &REQ).unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.family_id, first.family_id);
        let claims = auth.verifier().validate(&second.access.token).unwrap();
        assert_eq!(claims.subject(), "alice");
        assert!(
            claims.has_role("Admin"),
            "{}: roles carried into refreshed tokens",
            b.name
        );

        // Replaying the spent token is reuse: the whole family dies, the new token too.
        assert_eq!(
            reason(auth.sessions().refresh(first.refresh_token.expose(), &REQ)),
            Reason::RefreshReused,
            "{}",
            b.name
        );
        assert_eq!(
            reason(auth.sessions().refresh(second.refresh_token.expose(), &REQ)),
            Reason::Revoked,
            "{}",
            b.name
        );
        assert_eq!(
            reason(auth.sessions().refresh("no-such-token", &REQ)),
            Reason::RefreshInvalid
        );
        assert_eq!(reason(auth.sessions().refresh("", &REQ)), Reason::RefreshInvalid);
    }
}

#[test]
fn only_hashes_are_stored() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(T0));
    let auth = open(&b.url, "", &clock);
    let pair = auth.sessions().start("alice", &[], &Map::new()).unwrap();
    drop(auth);
    let path = b.url.trim_start_matches("sqlite://");
    let conn = rusqlite::Connection::open(path).unwrap();
    let hash: String = conn
        .query_row("SELECT hash FROM jwtauth_refresh_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hash.len(), 64);
    assert_ne!(hash, pair.refresh_token.expose());
    let dump: Vec<String> = conn
        .prepare("SELECT hash || family_id FROM jwtauth_refresh_tokens")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(dump.iter().all(|d| !d.contains(pair.refresh_token.expose())));
    assert!(!format!("{:?}", pair.refresh_token).contains(pair.refresh_token.expose()));
}

#[test]
fn two_refreshes_in_the_same_second_keep_the_counter_moving_forward() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let p0 = auth.sessions().start("bob", &[], &Map::new()).unwrap();
        let p1 = auth.sessions().refresh(p0.refresh_token.expose(), &REQ).unwrap();
        let p2 = auth.sessions().refresh(p1.refresh_token.expose(), &REQ).unwrap();
        // Same second, yet p1 is spent: the generation counter decides, not the time.
        assert_eq!(
            reason(auth.sessions().refresh(p1.refresh_token.expose(), &REQ)),
            Reason::RefreshReused,
            "{}",
            b.name
        );
        assert_eq!(
            reason(auth.sessions().refresh(p2.refresh_token.expose(), &REQ)),
            Reason::Revoked
        );
    }
}

#[test]
fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = Arc::new(open(&b.url, "", &clock));
        for round in 0..5 {
            let pair = auth
                .sessions()
                .start(&format!("carol{round}"), &[], &Map::new())
                .unwrap();
            let token = pair.refresh_token.expose().to_string();
            let barrier = Arc::new(Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (auth, token, barrier) = (auth.clone(), token.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        auth.sessions().refresh(&token, &REQ).map_err(|e| e.reason())
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{}: {results:?}", b.name);
            for r in results.iter().filter_map(|r| r.as_ref().err()) {
                assert!(
                    matches!(r, Some(Reason::RefreshReused) | Some(Reason::Revoked)),
                    "{}: {r:?}",
                    b.name
                );
            }
        }
    }
}

/// A rotation on PostgreSQL runs outside BEGIN/COMMIT, statement by statement: a
/// pooled connection the server has closed must still be replaced before anything
/// ran, as it is for a transaction.
#[test]
fn refreshes_survive_pooled_postgres_connections_closed_by_the_server() {
    let Some(b) = common::store::postgres() else { return };
    let name = b.pg_schema.clone().unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let auth = Arc::new(open(&format!("{}&application_name={name}", b.url), "", &clock));
    let mut tokens: Vec<String> = (0..4)
        .map(|i| {
            let pair = auth.sessions().start(&format!("dora{i}"), &[], &Map::new()).unwrap();
            pair.refresh_token.expose().to_string()
        })
        .collect();
    // Fill the pool: four rotations at once.
    let barrier = Arc::new(Barrier::new(4));
    tokens = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let (auth, barrier) = (auth.clone(), barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    auth.sessions()
                        .refresh(t, &REQ)
                        .unwrap()
                        .refresh_token
                        .expose()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        common::store::terminate_connections(&name) >= 1,
        "the pool held no connection"
    );
    // Every pooled connection is dead: each session still rotates, once.
    for t in &tokens {
        let next = auth.sessions().refresh(t, &REQ).unwrap();
        assert_eq!(reason(auth.sessions().refresh(t, &REQ)), Reason::RefreshReused);
        assert_ne!(next.refresh_token.expose(), t);
    }
}

#[test]
fn grace_window_lets_the_previous_token_be_retried_once() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "refresh_reuse_grace = \"10s\"", &clock);
        let p0 = auth.sessions().start("dave", &[], &Map::new()).unwrap();
        let _lost = auth.sessions().refresh(p0.refresh_token.expose(), &REQ).unwrap();
        clock.advance(3);
        // The client never saw `_lost` and retries with p0: allowed once.
        let retried = auth.sessions().refresh(p0.refresh_token.expose(), &REQ).unwrap();
        assert_eq!(
            reason(auth.sessions().refresh(p0.refresh_token.expose(), &REQ)),
            Reason::RefreshReused,
            "{}",
            b.name
        );
        assert_eq!(
            reason(auth.sessions().refresh(retried.refresh_token.expose(), &REQ)),
            Reason::Revoked
        );

        // Outside the window the same retry is reuse.
        let q0 = auth.sessions().start("dave", &[], &Map::new()).unwrap();
        let _q1 = auth.sessions().refresh(q0.refresh_token.expose(), &REQ).unwrap();
        clock.advance(11);
        assert_eq!(
            reason(auth.sessions().refresh(q0.refresh_token.expose(), &REQ)),
            Reason::RefreshReused,
            "{}",
            b.name
        );
    }
}

#[test]
fn grace_is_off_by_default() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(T0));
    let auth = open(&b.url, "", &clock);
    let p0 = auth.sessions().start("erin", &[], &Map::new()).unwrap();
    let _p1 = auth.sessions().refresh(p0.refresh_token.expose(), &REQ).unwrap();
    assert_eq!(
        reason(auth.sessions().refresh(p0.refresh_token.expose(), &REQ)),
        Reason::RefreshReused
    );
}

#[test]
fn idle_and_absolute_lifetimes_expire_refresh_tokens() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock); // idle 1d, max 7d
        let p = auth.sessions().start("frank", &[], &Map::new()).unwrap();
        assert_eq!(p.refresh_expires_at, T0 + 86_400);
        clock.advance(86_400);
        assert_eq!(
            reason(auth.sessions().refresh(p.refresh_token.expose(), &REQ)),
            Reason::RefreshExpired,
            "{}",
            b.name
        );

        // Used every 20 h, the family still ends at the absolute limit.
        let mut p = auth.sessions().start("frank", &[], &Map::new()).unwrap();
        let started = clock.now_for_test();
        loop {
            clock.advance(20 * 3600);
            match auth.sessions().refresh(p.refresh_token.expose(), &REQ) {
                Ok(next) => {
                    assert!(next.refresh_expires_at <= started + 7 * 86_400);
                    p = next;
                }
                Err(e) => {
                    assert_eq!(e.reason(), Some(Reason::RefreshExpired), "{}", b.name);
                    assert!(clock.now_for_test() >= started + 7 * 86_400);
                    break;
                }
            }
        }
    }
}

trait NowForTest {
    fn now_for_test(&self) -> i64;
}
impl NowForTest for FixedClock {
    fn now_for_test(&self) -> i64 {
        jwtauth_core::Clock::now(self)
    }
}

#[test]
fn logout_revokes_the_family() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let p = auth.sessions().start("gina", &[], &Map::new()).unwrap();
        assert!(auth.sessions().revoke(p.refresh_token.expose()).unwrap());
        assert!(!auth.sessions().revoke("unknown").unwrap());
        assert_eq!(
            reason(auth.sessions().refresh(p.refresh_token.expose(), &REQ)),
            Reason::Revoked,
            "{}",
            b.name
        );
    }
}

#[test]
fn logout_everywhere_revokes_sessions_and_earlier_access_tokens() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let a = open(&b.url, "", &clock);
        let other = open(&b.url, "", &clock); // a second process sharing the store
        let s1 = a.sessions().start("hank", &[], &Map::new()).unwrap();
        let s2 = a.sessions().start("hank", &[], &Map::new()).unwrap();
        let bystander = a.sessions().start("ivy", &[], &Map::new()).unwrap();
        clock.advance(5);
        assert_eq!(a.sessions().revoke_subject("hank").unwrap(), 2);
        assert_eq!(
            a.verifier().validate(&s1.access.token).unwrap_err().reason,
            Reason::Revoked,
            "{}",
            b.name
        );
        assert_eq!(
            reason(a.sessions().refresh(s2.refresh_token.expose(), &REQ)),
            Reason::Revoked
        );
        assert!(a.verifier().validate(&bystander.access.token).is_ok());
        // The other instance sees it after its (bounded-staleness) reload.
        other.sessions().reload_revocations().unwrap();
        assert_eq!(
            other.verifier().validate(&s1.access.token).unwrap_err().reason,
            Reason::Revoked
        );
        // Tokens issued after the revocation work.
        clock.advance(1);
        let fresh = a.sessions().start("hank", &[], &Map::new()).unwrap();
        assert!(a.verifier().validate(&fresh.access.token).is_ok(), "{}", b.name);
        assert!(a.sessions().refresh(fresh.refresh_token.expose(), &REQ).is_ok());
    }
}

#[test]
fn sessions_are_listed_and_swept_in_bounded_batches() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        for i in 0..7 {
            auth.sessions().start(&format!("user{i}"), &[], &Map::new()).unwrap();
        }
        let kept = auth.sessions().start("keeper", &[], &Map::new()).unwrap();
        assert_eq!(auth.sessions().list(None, 100).unwrap().len(), 8);
        assert_eq!(auth.sessions().list(Some("keeper"), 100).unwrap().len(), 1);
        assert!(auth.sessions().revoke_family(&kept.family_id).unwrap());
        assert_eq!(auth.sessions().list(Some("keeper"), 100).unwrap().len(), 0);
        // Two days later everything is expired (idle 1 day) and past the one-day keep.
        clock.advance(2 * 86_400 + 1);
        assert_eq!(auth.sweep(3).unwrap(), 3, "{}", b.name);
        assert_eq!(auth.sweep(100).unwrap(), 5);
        assert_eq!(auth.sweep(100).unwrap(), 0);
        assert_eq!(
            reason(auth.sessions().refresh(kept.refresh_token.expose(), &REQ)),
            Reason::RefreshInvalid
        );
    }
}

#[test]
fn a_session_keeps_the_user_agent_and_client_of_its_login() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let auth = open(&b.url, "", &clock);
        let phone = RequestInfo {
            user_agent: Some("Orders/4.2 (iPhone; iOS 19.1)\u{1b}[31m"),
            client_id: Some("svc-mobile"),
            ..REQ
        };
        let laptop = RequestInfo {
            user_agent: Some(&"Mozilla/5.0 ".repeat(20)),
            ..REQ
        };
        let a = auth.sessions().start_with("carol", &[], &Map::new(), &phone).unwrap();
        let b2 = auth.sessions().start_with("carol", &[], &Map::new(), &laptop).unwrap();
        let plain = auth.sessions().start("carol", &[], &Map::new()).unwrap();
        // A refresh keeps where the session came from.
        clock.advance(5);
        auth.sessions().refresh(a.refresh_token.expose(), &REQ).unwrap();

        let listed = auth.sessions().list(Some("carol"), 10).unwrap();
        let of = |id: &str| listed.iter().find(|s| s.family_id == id).unwrap();
        let phone_session = of(&a.family_id);
        assert_eq!(phone_session.client_id.as_deref(), Some("svc-mobile"), "{}", b.name);
        let ua = phone_session.user_agent.as_deref().unwrap();
        assert!(ua.starts_with("Orders/4.2 (iPhone; iOS 19.1)"), "{}: {ua}", b.name);
        assert!(
            !ua.contains('\u{1b}'),
            "{}: control characters are not kept: {ua:?}",
            b.name
        );
        let long = of(&b2.family_id).user_agent.as_deref().unwrap();
        assert!(
            long.chars().count() <= 81 && long.ends_with('…'),
            "{}: clipped: {long}",
            b.name
        );
        assert_eq!(of(&b2.family_id).client_id, None, "{}", b.name);
        assert_eq!(of(&plain.family_id).user_agent, None, "{}", b.name);
    }
}

#[test]
fn a_session_and_a_client_address_may_refresh_only_so_often() {
    for b in backends() {
        let clock = Arc::new(FixedClock::new(T0));
        let limits =
            "[refresh_limits]\nfamily_burst = 3\nfamily_period = \"1h\"\nclient_burst = 5\nclient_period = \"1h\"";
        let auth = open(&b.url, limits, &clock);
        let mut token = auth.sessions().start("alice", &[], &Map::new()).unwrap().refresh_token;
        for _ in 0..3 {
            token = auth.sessions().refresh(token.expose(), &REQ).unwrap().refresh_token;
        }
        let refused = auth.sessions().refresh(token.expose(), &REQ).unwrap_err();
        assert_eq!(refused.reason(), Some(Reason::RateLimited), "{}", b.name);
        let jwtauth_core::SessionError::Limited { retry_after_secs, .. } = refused else {
            panic!("{}: {refused:?}", b.name)
        };
        assert!((1..=3600).contains(&retry_after_secs), "{retry_after_secs}");
        // Nothing was spent: the same token is refused the same way, not taken for reuse.
        assert_eq!(
            reason(auth.sessions().refresh(token.expose(), &REQ)),
            Reason::RateLimited
        );
        // Another session of the same user is not affected.
        let other = auth.sessions().start("alice", &[], &Map::new()).unwrap();
        assert!(auth.sessions().refresh(other.refresh_token.expose(), &REQ).is_ok());

        // One client address, many ports and sessions: 5, then refused.
        let results: Vec<bool> = (0..7)
            .map(|i| {
                let port = format!("203.0.113.5:{}", 40000 + i);
                let from = RequestInfo {
                    client: Some(&port),
                    ..REQ
                };
                let s = auth.sessions().start("bob", &[], &Map::new()).unwrap();
                auth.sessions().refresh(s.refresh_token.expose(), &from).is_ok()
            })
            .collect();
        assert_eq!(results, [true, true, true, true, true, false, false], "{}", b.name);
    }
}

#[test]
fn a_long_lived_session_keeps_a_bounded_number_of_spent_hashes_and_still_detects_reuse() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(T0));
    let auth = open(&b.url, "[refresh_limits]\nfamily_burst = 1000", &clock);
    let first = auth.sessions().start("alice", &[], &Map::new()).unwrap();
    let mut tokens = vec![first.refresh_token];
    for _ in 0..200 {
        let next = auth.sessions().refresh(tokens.last().unwrap().expose(), &REQ).unwrap();
        tokens.push(next.refresh_token);
    }
    let rows: i64 = auth
        .store()
        .write(|tx| {
            tx.query(
                "SELECT COUNT(*) FROM jwtauth_refresh_tokens WHERE family_id = ?1",
                &[first.family_id.as_str().into()],
            )
        })
        .unwrap()[0]
        .i64(0)
        .unwrap();
    assert!(rows <= 48, "{rows} hashes kept for one session");
    // A token spent long ago is only unknown; a recent one is reuse and ends the session.
    assert_eq!(
        reason(auth.sessions().refresh(tokens[10].expose(), &REQ)),
        Reason::RefreshInvalid
    );
    assert_eq!(
        reason(auth.sessions().refresh(tokens[195].expose(), &REQ)),
        Reason::RefreshReused
    );
    assert_eq!(
        reason(auth.sessions().refresh(tokens[200].expose(), &REQ)),
        Reason::Revoked
    );
}
