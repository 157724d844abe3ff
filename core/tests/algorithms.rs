//! Issue → validate with every supported algorithm, each key pinned to its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use common::*;
use jwtauth_core::{Algorithm, Reason};
use serde_json::{Map, json};

fn round_trip(alg: Algorithm) {
    let (auth, _) = auth(alg);
    let mut extra = Map::new();
    extra.insert("tenant".into(), json!("acme"));
    let issued = auth.issuer().issue("alice", &["Admin", "Reader"], &extra).unwrap();

    let header: serde_json::Value =
        serde_json::from_slice(&b64_decode(issued.token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], alg.as_str());
    assert_eq!(header["kid"], issued.kid.as_str());

    let claims = auth.verifier().validate(&issued.token).unwrap();
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.roles(), ["Admin", "Reader"]);
    assert_eq!(claims.extra().get("tenant"), Some(&json!("acme")));
    assert_eq!(claims.kid(), &issued.kid);
    assert_eq!(claims.jwt_id(), Some(issued.jwt_id.as_str()));
    assert_eq!(claims.expires_at(), issued.expires_at);

    // The same token with its signature bytes reversed no longer verifies.
    let (input, sig) = issued.token.rsplit_once('.').unwrap();
    let mut raw = b64_decode(sig);
    raw.reverse();
    let err = auth.verifier().validate(format!("{input}.{}", b64(raw))).unwrap_err();
    assert_eq!(err.reason, Reason::BadSignature, "{alg}");
}

macro_rules! round_trips {
    ($($name:ident => $alg:ident,)*) => {
        $(
            #[test]
            fn $name() {
                round_trip(Algorithm::$alg);
            }
        )*

        #[test]
        fn every_supported_algorithm_has_a_round_trip_test() {
            let tested = [$(Algorithm::$alg),*];
            assert_eq!(tested.len(), Algorithm::ALL.len());
            for alg in Algorithm::ALL {
                assert!(tested.contains(alg), "{alg} has no round-trip test");
            }
        }
    };
}

round_trips! {
    hs256_issues_and_validates => HS256,
    hs384_issues_and_validates => HS384,
    hs512_issues_and_validates => HS512,
    rs256_issues_and_validates => RS256,
    rs384_issues_and_validates => RS384,
    rs512_issues_and_validates => RS512,
    ps256_issues_and_validates => PS256,
    ps384_issues_and_validates => PS384,
    ps512_issues_and_validates => PS512,
    es256_issues_and_validates => ES256,
    es384_issues_and_validates => ES384,
    es512_issues_and_validates => ES512,
    eddsa_issues_and_validates => EdDSA,
}
