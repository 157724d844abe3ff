//! Users, login and products on every backend (SQLite always, PostgreSQL when reachable).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use jwtauth_core::limits::LoginLimits;
use jwtauth_core::products::NewProduct;
use jwtauth_core::users::{HashCost, Login, LoginError};
use jwtauth_core::{Error, FixedClock, Reason, RequestInfo};

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
        auth.add_user_with_cost("alice", "correct horse", &["Admin"], CHEAP)
            .unwrap();
        auth.add_user_with_cost("bob", "battery staple", &[], CHEAP).unwrap();
        let dup = auth.add_user_with_cost("alice", "another one", &[], CHEAP).unwrap_err();
        assert!(matches!(dup, Error::Refused(_)), "{}: {dup}", b.name);

        let login = login_service();
        let req = RequestInfo::default();
        let pair = login
            .login(&auth, "alice", "correct horse", Some("127.0.0.1"), &req)
            .unwrap();
        let claims = auth.validate(&pair.access.token).unwrap();
        assert_eq!(claims.subject, "alice");
        assert!(claims.has_role("Admin"), "{}", b.name);

        let wrong = login.login(&auth, "bob", "wrong password", None, &req).unwrap_err();
        let unknown = login.login(&auth, "carol", "wrong password", None, &req).unwrap_err();
        for e in [&wrong, &unknown] {
            match e {
                LoginError::Failed(e) => assert_eq!(e.reason(), Some(Reason::BadCredentials)),
                other => panic!("{}: {other:?}", b.name),
            }
        }
        assert_eq!(wrong.to_string(), unknown.to_string());

        let users = auth.users().unwrap();
        assert_eq!(
            users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["alice", "bob"]
        );
        assert!(auth.disable_user("bob").unwrap());
        assert!(!auth.disable_user("nobody").unwrap());
        assert!(auth.users().unwrap()[1].disabled);
        let disabled = login.login(&auth, "bob", "battery staple", None, &req).unwrap_err();
        assert!(matches!(disabled, LoginError::Failed(ref e) if e.reason() == Some(Reason::BadCredentials)));
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
            login.login(&auth, "mallory", "guess guess", Some("10.0.0.1"), &req),
            Err(LoginError::Failed(_))
        ));
    }
    match login.login(&auth, "mallory", "guess guess", Some("10.0.0.2"), &req) {
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

#[test]
fn the_first_admin_is_created_once_on_an_empty_store() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        let password = auth.bootstrap_admin().unwrap().expect("first start creates admin");
        assert!(password.expose().len() >= 16);
        assert!(auth.bootstrap_admin().unwrap().is_none(), "{}", b.name);
        let users = auth.users().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].roles, ["Admin"]);
        let pair = Login::new()
            .unwrap()
            .login(&auth, "admin", password.expose(), None, &RequestInfo::default())
            .unwrap();
        assert!(auth.validate(&pair.access.token).unwrap().has_role("Admin"));
    }
}

#[test]
fn products_are_kept_in_the_store() {
    for b in common::store::backends() {
        let clock = Arc::new(FixedClock::new(common::store::T0));
        let auth = common::store::open(&b.url, "", &clock);
        assert!(auth.products().unwrap().is_empty());
        let input = serde_json::json!({"name": "Tea", "price": 3.5});
        let p = auth
            .add_product(&NewProduct::from_json(input.as_object().unwrap()).unwrap())
            .unwrap();
        assert_eq!(p.price, 3.5);
        assert_eq!(auth.products().unwrap(), vec![p.clone()], "{}", b.name);
        assert!(auth.delete_product(&p.id).unwrap());
        assert!(!auth.delete_product(&p.id).unwrap());
        assert!(auth.products().unwrap().is_empty());
    }
}
