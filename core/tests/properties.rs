//! Properties over generated inputs: what is issued validates to the same claims;
//! any single-bit change to a token is refused; no input makes validation panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use std::sync::LazyLock;

use common::*;
use jwtauth_core::token::REGISTERED_CLAIMS;
use jwtauth_core::{Algorithm, IssueError, Reason, RequestInfo, Tokens};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

static HS: LazyLock<Tokens> = LazyLock::new(|| roomy(Algorithm::HS256));
static ES: LazyLock<Tokens> = LazyLock::new(|| roomy(Algorithm::ES256));
static HS_TOKEN: LazyLock<String> =
    LazyLock::new(|| HS.issuer().issue("alice", &["Admin"], &Map::new()).unwrap().token);
static ES_TOKEN: LazyLock<String> =
    LazyLock::new(|| ES.issuer().issue("alice", &["Admin"], &Map::new()).unwrap().token);

/// A runtime whose size limit leaves room for large generated claims.
fn roomy(alg: Algorithm) -> Tokens {
    let clock = std::sync::Arc::new(jwtauth_core::FixedClock::new(NOW));
    Tokens::with_clock(config_with(alg, "max_token_size = 65536\n"), clock).unwrap()
}

/// Any JSON value that survives a text round trip exactly (floats are multiples
/// of 1/4, which binary floating point holds exactly).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 4.0)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("\\PC{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claim_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_:/.-]{0,15}".prop_filter("registered names are tested apart", |n| {
        !REGISTERED_CLAIMS.contains(&n.as_str()) && n != "roles"
    })
}

fn flip(token: &str, bit: usize) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    bytes
}

fn refuses(auth: &Tokens, bytes: &[u8]) -> Result<Reason, TestCaseError> {
    match auth.verifier().validate(bytes) {
        Ok(c) => Err(TestCaseError::fail(format!("accepted, sub {}", c.subject()))),
        Err(e) => Ok(e.reason),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn issued_claims_come_back_unchanged(
        // Printable text: control and format characters (category C) and line and
        // paragraph separators are refused at issue time, as is an empty role.
        subject in "[^\\p{C}\\p{Zl}\\p{Zp}]{1,40}",
        roles in vec("[^\\p{C}\\p{Zl}\\p{Zp}]{1,16}", 0..5),
        extra in btree_map(claim_name(), json_value(), 0..6),
    ) {
        let extra: Map<String, Value> = extra.into_iter().collect();
        let role_refs: Vec<&str> = roles.iter().map(String::as_str).collect();
        for auth in [&*HS, &*ES] {
            let issued = auth.issuer().issue(&subject, &role_refs, &extra).unwrap();
            let claims = auth.verifier().validate(&issued.token).unwrap();
            prop_assert_eq!(claims.subject(), &subject);
            prop_assert_eq!(claims.roles(), &roles);
            prop_assert_eq!(claims.extra(), &extra);
            prop_assert_eq!(claims.jwt_id(), Some(issued.jwt_id.as_str()));
        }
    }

    #[test]
    fn extra_claims_with_registered_names_are_refused_at_issue(
        name in prop::sample::select(vec!["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "roles"]),
        value in json_value(),
        others in btree_map(claim_name(), json_value(), 0..3),
    ) {
        let mut extra: Map<String, Value> = others.into_iter().collect();
        extra.insert(name.to_string(), value);
        let got = HS.issuer().issue("alice", &[], &extra);
        prop_assert_eq!(got.unwrap_err(), IssueError::ReservedClaim(name.to_string()));
    }

    #[test]
    fn flipping_any_bit_of_an_es256_token_is_refused(bit in any::<usize>()) {
        let reason = refuses(&ES, &flip(&ES_TOKEN, bit))?;
        prop_assert!(
            matches!(reason, Reason::Malformed | Reason::BadSignature | Reason::AlgNotAllowed | Reason::UnknownKid),
            "{reason}"
        );
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panicking(bytes in vec(any::<u8>(), 0..2048)) {
        refuses(&HS, &bytes)?;
    }

    #[test]
    fn arbitrary_dotted_base64url_is_refused_without_panicking(
        token in "[A-Za-z0-9_=+/-]{0,80}(\\.[A-Za-z0-9_-]{0,80}){0,5}",
    ) {
        refuses(&HS, token.as_bytes())?;
        let header = format!("Bearer {token}");
        prop_assert!(HS.verifier().validate_header(Some(&header), &RequestInfo::default()).is_err());
    }

    #[test]
    fn arbitrary_json_in_header_and_claims_is_refused_without_panicking(
        header in json_value(),
        claims in json_value(),
    ) {
        let ring = HS.verifier().key_ring();
        let key = ring.active().unwrap();
        let token = craft(key, &header, &claims);
        refuses(&HS, token.as_bytes())?;
        // Signed by the ring's key under a proper header, odd claims still never panic.
        let token = craft(key, &header_for(key), &claims);
        refuses(&HS, token.as_bytes())?;
    }

    #[test]
    fn arbitrary_authorization_headers_never_panic(header in "\\PC{0,200}") {
        let _ = HS.verifier().validate_header(Some(&header), &RequestInfo::default());
    }
}

#[test]
fn flipping_each_bit_of_an_hs256_token_is_refused() {
    let len = HS_TOKEN.len() * 8;
    for bit in 0..len {
        let reason = HS.verifier().validate(flip(&HS_TOKEN, bit)).unwrap_err().reason;
        assert!(
            matches!(
                reason,
                Reason::Malformed | Reason::BadSignature | Reason::AlgNotAllowed | Reason::UnknownKid
            ),
            "bit {bit}: {reason}"
        );
    }
    HS.verifier().validate(HS_TOKEN.as_str()).unwrap();
}
