//! Login's bound on concurrent hashes: a login finding every slot busy is refused
//! as busy, and an over-long password is refused without waiting for a slot.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use jwtauth_core::users::slots::HashLimits;
use jwtauth_core::users::throttle::LoginLimits;
use jwtauth_core::users::{HashCost, Login, LoginError, MAX_PASSWORD_BYTES};
use jwtauth_core::{FixedClock, Reason, RequestInfo};

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

#[test]
fn a_login_without_a_free_slot_is_busy_and_an_over_long_password_needs_none() {
    let b = common::store::sqlite();
    let clock = Arc::new(FixedClock::new(common::store::T0));
    let auth = common::store::open(&b.url, "", &clock);
    auth.users()
        .add_with_cost("alice", "correct horse", &[], CHEAP)
        .unwrap();
    let login = Login::configured(
        LoginLimits::default(),
        HashLimits {
            concurrent_hashes: 1,
            hash_wait: Duration::from_millis(5),
        },
        CHEAP,
    )
    .unwrap();
    let req = RequestInfo::default();
    let held = login.hash_slots().try_acquire().unwrap();
    let busy = login
        .login(auth.users(), "alice", "correct horse", None, &req)
        .unwrap_err();
    assert!(matches!(busy, LoginError::Busy(_)), "{busy:?}");
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(!login.needs_slot(&long));
    match login.login(auth.users(), "alice", &long, None, &req) {
        Err(LoginError::Failed(e)) => assert_eq!(e.reason, Reason::BadCredentials),
        other => panic!("{other:?}"),
    }
    drop(held);
    login.login(auth.users(), "alice", "correct horse", None, &req).unwrap();
    // A slot taken beforehand (as an async caller does) is used, not waited for.
    let slot = login.hash_slots().try_acquire();
    assert!(slot.is_some());
    login
        .login_in_slot(slot, auth.users(), "alice", "correct horse", None, &req)
        .unwrap();
    assert!(login.hash_slots().try_acquire().is_some(), "the slot came back");
}
