//! Users and login on every backend (SQLite always, PostgreSQL when reachable).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use jwtauth_core::users::throttle::LoginLimits;
use jwtauth_core::users::{HashCost, Login, LoginError};
use jwtauth_core::{FixedClock, Reason, RequestInfo, Store, StoreError, UserError};

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn login_service() -> Login {
    Login::with(
        LoginLimits {
            per_user_burst: 3,
            per_user_period: Duration::from_secs(60),
            per_client_burst: 100,
            per_client_period: Duration::from_secs(1),
            max_keys: 1000,
            ..LoginLimits::default()
        },
        CHEAP,
    )
    .unwrap()
}

#[test]
fn users_log_in_with_their_roles_and_failures_do_not_tell_who_exists() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        auth.users()
            .add_with_cost("alice", "correct horse", &["Admin"], CHEAP)
            .unwrap();
        auth.users().add_with_cost("bob", "battery staple", &[], CHEAP).unwrap();
        let dup = auth
            .users()
            .add_with_cost("alice", "another one", &[], CHEAP)
            .unwrap_err();
        assert!(matches!(dup, UserError::AlreadyExists(_)), "{}: {dup}", b.name);

        let login = login_service();
        let req = RequestInfo::default();
        let pair = login
            .login(auth.users(), "alice", "correct horse", Some("127.0.0.1"), &req)
            .unwrap();
        let claims = auth.verifier().validate(&pair.access.token).unwrap();
        assert_eq!(claims.subject(), "alice");
        assert!(claims.has_role("Admin"), "{}", b.name);

        let wrong = login
            .login(auth.users(), "bob", "wrong password", None, &req)
            .unwrap_err();
        let unknown = login
            .login(auth.users(), "carol", "wrong password", None, &req)
            .unwrap_err();
        for e in [&wrong, &unknown] {
            match e {
                LoginError::Failed(e) => assert_eq!(Some(e.reason), Some(Reason::BadCredentials)),
                other => panic!("{}: {other:?}", b.name),
            }
        }
        assert_eq!(wrong.to_string(), unknown.to_string());

        let users = auth.users().list().unwrap();
        assert_eq!(
            users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["alice", "bob"]
        );
        assert!(auth.users().disable("bob").unwrap());
        assert!(!auth.users().disable("nobody").unwrap());
        assert!(auth.users().list().unwrap()[1].disabled);
        let disabled = login
            .login(auth.users(), "bob", "battery staple", None, &req)
            .unwrap_err();
        assert!(matches!(disabled, LoginError::Failed(ref e) if e.reason == Reason::BadCredentials));
    }
}

#[test]
fn a_username_is_throttled_after_its_burst() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(common::store::T0));
    let auth = common::store::open(&b.url, "", &clock);
    let login = login_service();
    let req = RequestInfo::default();
    for _ in 0..3 {
        assert!(matches!(
            login.login(auth.users(), "mallory", "guess guess", Some("10.0.0.1"), &req),
            Err(LoginError::Failed(_))
        ));
    }
    match login.login(auth.users(), "mallory", "guess guess", Some("10.0.0.2"), &req) {
        Err(LoginError::Limited {
            error,
            retry_after_secs,
        }) => {
            assert_eq!(error.reason, Reason::RateLimited);
            assert!((1..=60).contains(&retry_after_secs));
        }
        other => panic!("{other:?}"),
    }
}

fn is_limited(r: &Result<jwtauth_core::TokenPair, LoginError>) -> Option<u64> {
    match r {
        Err(LoginError::Limited {
            error,
            retry_after_secs,
        }) => {
            assert_eq!(error.reason, Reason::RateLimited);
            Some(*retry_after_secs)
        }
        _ => None,
    }
}

/// A SQLite store with the user `alice` ("correct horse"); keep the backend alive.
fn with_alice() -> (common::store::Backend, jwtauth_core::JwtAuth) {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(common::store::T0));
    let auth = common::store::open(&b.url, "", &clock);
    auth.users()
        .add_with_cost("alice", "correct horse", &[], CHEAP)
        .unwrap();
    (b, auth)
}

fn assert_failed(r: &Result<jwtauth_core::TokenPair, LoginError>) {
    assert!(matches!(r, Err(LoginError::Failed(_))), "{r:?}");
}

#[test]
fn a_correct_password_is_not_throttled_however_often_it_logs_in() {
    let (_b, auth) = with_alice();
    let login = login_service();
    let req = RequestInfo::default();
    // 30 logins in a row from one address, ten times the username's failure burst.
    for i in 0..30 {
        let r = login.login(auth.users(), "alice", "correct horse", Some("127.0.0.1"), &req);
        assert!(r.is_ok(), "login {i}: {:?}", r.err());
    }
    // Failures are still throttled: 3 for the username, then 429 even for the right password.
    for _ in 0..3 {
        let r = login.login(auth.users(), "alice", "wrong horse", Some("127.0.0.1"), &req);
        assert_failed(&r);
    }
    let r = login.login(auth.users(), "alice", "correct horse", Some("127.0.0.1"), &req);
    assert!(is_limited(&r).is_some_and(|s| (1..=60).contains(&s)), "{r:?}");
}

#[test]
fn a_success_ends_the_back_off_of_its_username() {
    let (_b, auth) = with_alice();
    let login = login_service();
    let req = RequestInfo::default();
    // Burst 3: two failures, a success, two failures, a success, ... never 429.
    for round in 0..4 {
        for _ in 0..2 {
            let r = login.login(auth.users(), "alice", "typo horse", Some("10.0.0.1"), &req);
            assert!(matches!(r, Err(LoginError::Failed(_))), "round {round}: {r:?}");
        }
        let r = login.login(auth.users(), "alice", "correct horse", Some("10.0.0.1"), &req);
        assert!(r.is_ok(), "round {round}: {:?}", r.err());
    }
}

#[test]
fn failures_from_one_address_are_throttled_across_usernames() {
    let (_b, auth) = with_alice();
    let login = Login::with(
        LoginLimits {
            per_client_burst: 4,
            per_client_period: Duration::from_secs(60),
            ..LoginLimits::default()
        },
        CHEAP,
    )
    .unwrap();
    let req = RequestInfo::default();
    for i in 0..4 {
        let r = login.login(
            auth.users(),
            &format!("user{i}"),
            "guess guess",
            Some("192.0.2.7"),
            &req,
        );
        assert_failed(&r);
    }
    let r = login.login(auth.users(), "alice", "correct horse", Some("192.0.2.7"), &req);
    assert!(is_limited(&r).is_some(), "{r:?}");
    // IPv6 clients are one client per /64.
    for i in 0..4 {
        let ip = format!("2001:db8:7:7::{}", i + 1);
        let r = login.login(auth.users(), "nobody", "guess guess", Some(&ip), &req);
        assert_failed(&r);
    }
    let r = login.login(
        auth.users(),
        "alice",
        "correct horse",
        Some("2001:db8:7:7:abcd::1"),
        &req,
    );
    assert!(is_limited(&r).is_some(), "{r:?}");
    // Another address still logs in.
    assert!(
        login
            .login(auth.users(), "alice", "correct horse", Some("192.0.2.8"), &req)
            .is_ok()
    );
}

#[test]
fn an_over_long_password_is_refused_and_counts_as_a_failure() {
    let (_b, auth) = with_alice();
    let login = login_service();
    let req = RequestInfo::default();
    let long = "x".repeat(jwtauth_core::users::MAX_PASSWORD_BYTES + 1);
    for _ in 0..3 {
        let r = login.login(auth.users(), "alice", &long, Some("10.0.0.1"), &req);
        assert_failed(&r);
    }
    let r = login.login(auth.users(), "ALICE", "correct horse", Some("10.0.0.2"), &req);
    assert!(is_limited(&r).is_some(), "{r:?}");
}

#[test]
fn user_names_are_unique_caselessly_and_shown_as_entered() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        let users = auth.users();
        users
            .add_with_cost("admin", "correct horse", &["Admin"], CHEAP)
            .unwrap();
        for twin in ["Admin", "ADMIN"] {
            match users.add_with_cost(twin, "another horse", &[], CHEAP) {
                Err(UserError::AlreadyExists(existing)) => assert_eq!(existing, "admin", "{}", b.name),
                other => panic!("{}: {twin}: {other:?}", b.name),
            }
        }
        users.add_with_cost("Zoe.Q", "correct horse", &[], CHEAP).unwrap();
        let mut names: Vec<String> = users.list().unwrap().into_iter().map(|u| u.name).collect();
        names.sort();
        assert_eq!(names, ["Zoe.Q", "admin"], "{}", b.name);

        let login = login_service();
        let req = RequestInfo::default();
        let pair = login.login(users, "ADMIN", "correct horse", None, &req).unwrap();
        let claims = auth.verifier().validate(&pair.access.token).unwrap();
        assert_eq!(claims.subject(), "admin", "{}", b.name);
        let pair = login.login(users, "zoe.q", "correct horse", None, &req).unwrap();
        let claims = auth.verifier().validate(&pair.access.token).unwrap();
        assert_eq!(claims.subject(), "Zoe.Q", "{}", b.name);

        // Administrators designate a user by any spelling too.
        assert!(users.disable("ZOE.Q").unwrap(), "{}", b.name);
        assert!(
            users.list().unwrap().iter().any(|u| u.name == "Zoe.Q" && u.disabled),
            "{}",
            b.name
        );
        assert!(users.enable("zoe.q").unwrap(), "{}", b.name);
        assert!(users.delete("Zoe.q").unwrap(), "{}", b.name);
        assert_eq!(users.list().unwrap().len(), 1, "{}", b.name);
    }
}

/// Takes a store back to schema 6 (no `name_key`), as a previous jwtauth left it.
fn back_to_schema_6(store: &Store) {
    store
        .write(|tx| {
            tx.batch(
                "DROP INDEX jwtauth_users_name_key;
                 ALTER TABLE jwtauth_users DROP COLUMN name_key;
                 UPDATE jwtauth_schema SET version = 6;",
            )
        })
        .unwrap();
}

fn schema_version(store: &Store) -> i64 {
    store
        .write(|tx| tx.query("SELECT version FROM jwtauth_schema", &[]))
        .unwrap()[0]
        .i64(0)
        .unwrap()
}

#[test]
fn migration_7_keys_existing_users_and_refuses_names_that_collide() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        auth.users()
            .add_with_cost("admin", "correct horse", &["Admin"], CHEAP)
            .unwrap();
        drop(auth);
        let old = Store::open(&b.url, 1).unwrap();
        back_to_schema_6(&old);
        // Two accounts a previous jwtauth allowed.
        old.write(|tx| {
            tx.exec(
                "INSERT INTO jwtauth_users (name, password_hash, roles, disabled, created_at)
                 SELECT 'ADMIN', password_hash, roles, disabled, created_at FROM jwtauth_users WHERE name = 'admin'",
                &[],
            )
        })
        .unwrap();

        let e = Store::open(&b.url, 1).unwrap_err();
        assert!(matches!(e, StoreError::Data(_)), "{}: {e}", b.name);
        let msg = e.to_string();
        assert!(
            msg.contains("'ADMIN' and 'admin'") && msg.contains("Nothing was changed"),
            "{}: {msg}",
            b.name
        );
        assert_eq!(schema_version(&old), 6, "{}", b.name);

        // Once a person removed one of them, the upgrade goes through.
        old.write(|tx| tx.exec("DELETE FROM jwtauth_users WHERE name = 'ADMIN'", &[]))
            .unwrap();
        let auth = common::store::open(&b.url, "", &clock);
        assert_eq!(schema_version(&old), 7, "{}", b.name);
        let pair = login_service()
            .login(auth.users(), "Admin", "correct horse", None, &RequestInfo::default())
            .unwrap();
        assert_eq!(
            auth.verifier().validate(&pair.access.token).unwrap().subject(),
            "admin",
            "{}",
            b.name
        );
        let twin = auth.users().add_with_cost("ADMIN", "another horse", &[], CHEAP);
        assert!(matches!(twin, Err(UserError::AlreadyExists(_))), "{}: {twin:?}", b.name);
    }
}

#[test]
fn the_first_admin_is_created_once_on_an_empty_store() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        let password = auth
            .users()
            .bootstrap_admin()
            .unwrap()
            .expect("first start creates admin");
        assert!(password.expose().len() >= 16);
        assert!(auth.users().bootstrap_admin().unwrap().is_none(), "{}", b.name);
        let users = auth.users().list().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].roles, ["Admin"]);
        let pair = Login::new()
            .unwrap()
            .login(auth.users(), "admin", password.expose(), None, &RequestInfo::default())
            .unwrap();
        assert!(auth.verifier().validate(&pair.access.token).unwrap().has_role("Admin"));
    }
}

#[test]
fn administrators_change_passwords_roles_and_accounts_and_old_sessions_end() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        let users = auth.users();
        users.add_with_cost("dana", "first password", &["User"], CHEAP).unwrap();
        // Throttling is not what this test is about: room for every attempt.
        let roomy = LoginLimits {
            per_user_burst: 100,
            per_user_period: Duration::from_secs(1),
            per_client_burst: 100,
            per_client_period: Duration::from_secs(1),
            max_keys: 1000,
            ..LoginLimits::default()
        };
        let login = Login::with(roomy, CHEAP).unwrap();
        let req = RequestInfo::default();
        let before = login.login(users, "dana", "first password", None, &req).unwrap();
        clock.advance(1);

        // A new password: the old one fails, the new one works, the old session is over.
        assert!(users.set_password_with_cost("dana", "second password", CHEAP).unwrap());
        assert!(
            !users
                .set_password_with_cost("nobody", "second password", CHEAP)
                .unwrap()
        );
        assert!(matches!(
            users.set_password_with_cost("dana", "short", CHEAP),
            Err(UserError::PasswordTooShort)
        ));
        assert!(matches!(
            login.login(users, "dana", "first password", None, &req),
            Err(LoginError::Failed(_))
        ));
        let reason = auth.verifier().validate(&before.access.token).unwrap_err().reason;
        assert_eq!(reason, Reason::Revoked, "{}", b.name);
        let refreshed = auth.sessions().refresh(before.refresh_token.expose(), &req);
        assert_eq!(refreshed.unwrap_err().reason(), Some(Reason::Revoked), "{}", b.name);
        clock.advance(1);
        let after = login.login(users, "dana", "second password", None, &req).unwrap();
        assert!(auth.verifier().validate(&after.access.token).unwrap().has_role("User"));
        clock.advance(1);

        // Roles: added once, removed, the change ends the sessions carrying the old ones.
        let roles = users
            .change_roles("dana", &["Admin", "Admin", "Ops"], &["User"])
            .unwrap();
        assert_eq!(roles.unwrap(), ["Admin", "Ops"], "{}", b.name);
        assert_eq!(users.change_roles("nobody", &["Admin"], &[]).unwrap(), None);
        assert!(matches!(
            users.change_roles("dana", &["not a role"], &[]),
            Err(UserError::InvalidRole)
        ));
        assert_eq!(
            auth.verifier().validate(&after.access.token).unwrap_err().reason,
            Reason::Revoked
        );
        clock.advance(1);
        let admin = login.login(users, "dana", "second password", None, &req).unwrap();
        let claims = auth.verifier().validate(&admin.access.token).unwrap();
        assert!(claims.has_role("Admin") && claims.has_role("Ops") && !claims.has_role("User"));

        // Disable, then enable: logins come back; the sessions ended by disabling stay ended.
        assert!(users.disable("dana").unwrap());
        assert!(login.login(users, "dana", "second password", None, &req).is_err());
        assert!(users.enable("dana").unwrap());
        assert!(!users.enable("nobody").unwrap());
        assert!(
            !users
                .list()
                .unwrap()
                .iter()
                .find(|u| u.name == "dana")
                .unwrap()
                .disabled
        );
        let refreshed = auth.sessions().refresh(admin.refresh_token.expose(), &req);
        assert_eq!(refreshed.unwrap_err().reason(), Some(Reason::Revoked), "{}", b.name);
        clock.advance(1);
        let again = login.login(users, "dana", "second password", None, &req).unwrap();

        // Delete: gone from the list, no login, its sessions end.
        assert!(users.delete("dana").unwrap());
        assert!(!users.delete("dana").unwrap());
        assert!(users.list().unwrap().iter().all(|u| u.name != "dana"));
        assert!(matches!(
            login.login(users, "dana", "second password", None, &req),
            Err(LoginError::Failed(_))
        ));
        let refreshed = auth.sessions().refresh(again.refresh_token.expose(), &req);
        assert_eq!(refreshed.unwrap_err().reason(), Some(Reason::Revoked), "{}", b.name);
    }
}

fn refresh_reason(auth: &jwtauth_core::JwtAuth, token: &str) -> Option<Reason> {
    auth.sessions()
        .refresh(token, &RequestInfo::default())
        .err()
        .and_then(|e| e.reason())
}

#[test]
fn refresh_refuses_a_user_disabled_or_deleted_behind_its_session() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        for name in ["dora", "dave"] {
            auth.users().add_with_cost(name, "correct horse", &[], CHEAP).unwrap();
        }
        let login = login_service();
        let req = RequestInfo::default();
        let dora = login.login(auth.users(), "dora", "correct horse", None, &req).unwrap();
        let dave = login.login(auth.users(), "dave", "correct horse", None, &req).unwrap();
        // The flag alone, as a session committed after the revocation would find it,
        // and a row deleted behind the runtime's back.
        auth.store()
            .write(|tx| {
                tx.exec("UPDATE jwtauth_users SET disabled = 1 WHERE name = 'dora'", &[])?;
                tx.exec("DELETE FROM jwtauth_users WHERE name = 'dave'", &[])
            })
            .unwrap();
        for pair in [&dora, &dave] {
            let token = pair.refresh_token.expose().to_string();
            assert_eq!(refresh_reason(&auth, &token), Some(Reason::Revoked), "{}", b.name);
            // The family is revoked for good, not just refused once.
            let live = auth.sessions().list(None, 10).unwrap();
            assert!(live.iter().all(|s| s.family_id != pair.family_id), "{}", b.name);
        }
        // A session an application started itself for a name no user has is not a
        // user's session: it keeps refreshing.
        let app = auth.sessions().start("service-7", &[], &Default::default()).unwrap();
        assert!(
            auth.sessions()
                .refresh(app.refresh_token.expose(), &RequestInfo::default())
                .is_ok(),
            "{}",
            b.name
        );
    }
}

#[test]
fn a_login_racing_a_disable_never_leaves_a_live_session() {
    // Hashing costs a few milliseconds here, so the disable often lands between
    // the login's read of the user and its session start: the window the fix closes.
    let slow = HashCost {
        memory_kib: 2048,
        iterations: 2,
        parallelism: 1,
    };
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = Arc::new(common::store::open(&b.url, "", &clock));
        let login = Arc::new(
            Login::with(
                LoginLimits {
                    per_user_burst: 100,
                    per_user_period: Duration::from_secs(1),
                    per_client_burst: 1000,
                    per_client_period: Duration::from_secs(1),
                    max_keys: 1000,
                    ..LoginLimits::default()
                },
                slow,
            )
            .unwrap(),
        );
        let mut logged_in = 0;
        for i in 0..12 {
            let name = format!("racer{i}");
            auth.users().add_with_cost(&name, "correct horse", &[], slow).unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let (a, l, n, bar) = (auth.clone(), login.clone(), name.clone(), barrier.clone());
            let racer = std::thread::spawn(move || {
                bar.wait();
                l.login(a.users(), &n, "correct horse", None, &RequestInfo::default())
            });
            barrier.wait();
            // Let the login read the user row first, most of the time.
            std::thread::yield_now();
            assert!(auth.users().disable(&name).unwrap());
            if let Ok(pair) = racer.join().unwrap() {
                logged_in += 1;
                assert_eq!(
                    refresh_reason(&auth, pair.refresh_token.expose()),
                    Some(Reason::Revoked),
                    "{}: {name}",
                    b.name
                );
                let access = auth.verifier().validate(&pair.access.token).unwrap_err();
                assert_eq!(access.reason, Reason::Revoked, "{}: {name}", b.name);
            }
            assert!(
                auth.sessions().list(Some(&name), 10).unwrap().is_empty(),
                "{}: {name} has a live session after being disabled",
                b.name
            );
        }
        eprintln!("{}: {logged_in} of 12 logins committed before the disable", b.name);
    }
}

/// A password user's session is the one PostgreSQL rotates in one statement when
/// the token's family is known in this process: a chain of rotations, one winner
/// among concurrent refreshes of one token, and reuse still detected.
#[test]
fn a_users_session_rotates_in_a_chain_has_one_winner_at_a_time_and_detects_reuse() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = Arc::new(common::store::open(&b.url, "", &clock));
        auth.users()
            .add_with_cost("dana", "dana's password", &["User"], CHEAP)
            .unwrap();
        let login = login_service();
        let req = RequestInfo::default();
        let first = login
            .login(auth.users(), "dana", "dana's password", None, &req)
            .unwrap();
        let mut token = first.refresh_token.expose().to_string();
        for _ in 0..20 {
            let next = auth.sessions().refresh(&token, &req).unwrap();
            let claims = auth.verifier().validate(&next.access.token).unwrap();
            assert_eq!(claims.subject(), "dana", "{}", b.name);
            assert!(claims.has_role("User"), "{}", b.name);
            token = next.refresh_token.expose().to_string();
        }
        for round in 0..5 {
            let barrier = Arc::new(std::sync::Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (auth, token, barrier) = (auth.clone(), token.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        auth.sessions().refresh(&token, &RequestInfo::default())
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "{} round {round}", b.name);
            if round < 4 {
                // The losers presented a spent token: the family is revoked. Start
                // again from a fresh login for the next round.
                let fresh = login
                    .login(auth.users(), "dana", "dana's password", None, &req)
                    .unwrap();
                token = fresh.refresh_token.expose().to_string();
            } else {
                let reused = auth.sessions().refresh(winners[0].refresh_token.expose(), &req);
                let e = reused.expect_err("the family survived reuse of its spent token");
                assert_eq!(e.reason(), Some(Reason::Revoked), "{}", b.name);
            }
        }
    }
}
