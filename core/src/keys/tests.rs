//! Unit tests of keys and the key ring.

use super::*;

#[test]
fn every_algorithm_generates_signs_and_verifies() {
    for &alg in Algorithm::ALL {
        let k = Key::generate(alg, 0).unwrap();
        let mut sig = String::new();
        k.sign_into(b"hello", &mut sig).unwrap();
        let raw = crate::encoding::b64_decode(sig.as_bytes()).unwrap();
        assert!(k.verify(b"hello", &raw), "{alg}");
        assert!(!k.verify(b"hellO", &raw), "{alg}");
        assert_eq!(k.algorithm(), alg);
        assert_eq!(k.public_jwk().is_none(), alg.is_hmac());
    }
}

#[test]
fn algorithm_names_are_exact_and_none_is_not_one() {
    assert_eq!("ES512".parse::<Algorithm>().unwrap(), Algorithm::ES512);
    for bad in ["none", "None", "NONE", "es256", "HS256 ", ""] {
        assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
    }
}

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    // RFC 7638 §3.1 example key and thumbprint.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
    });
    assert_eq!(thumbprint(&jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn jwks_never_contains_secret_or_private_members() {
    let hs = Key::generate(Algorithm::HS256, 0)
        .unwrap()
        .with_state(KeyState::VerifyOnly)
        .unwrap();
    let es = Key::generate(Algorithm::ES256, 0)
        .unwrap()
        .with_state(KeyState::VerifyOnly)
        .unwrap();
    let rsa = Key::generate(Algorithm::RS256, 0).unwrap();
    let retired = Key::generate(Algorithm::EdDSA, 0)
        .unwrap()
        .with_state(KeyState::Retired)
        .unwrap();
    let ring = KeyRing::new(vec![hs, es, rsa, retired]).unwrap();
    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "{private} in {k}");
        }
        assert_eq!(k["use"], "sig");
    }
}

#[test]
fn small_rsa_keys_and_wrong_material_are_refused() {
    let es = Key::generate(Algorithm::ES256, 0).unwrap();
    let err = Key::from_parts(
        Kid::new("x"),
        Algorithm::RS256,
        KeyState::Active,
        0,
        es.material().clone(),
    );
    assert!(err.is_err());
    let err = Key::from_parts(
        Kid::new("x"),
        Algorithm::ES384,
        KeyState::Active,
        0,
        es.material().clone(),
    );
    assert!(err.is_err(), "a P-256 key must not load as ES384");
    let hs = Key::generate(Algorithm::HS256, 0).unwrap();
    assert!(
        Key::from_parts(
            Kid::new("x"),
            Algorithm::ES256,
            KeyState::Active,
            0,
            hs.material().clone()
        )
        .is_err()
    );
}

#[test]
fn ring_refuses_two_active_keys_and_duplicate_kids() {
    let a = Key::generate(Algorithm::ES256, 0).unwrap();
    let b = Key::generate(Algorithm::ES256, 0).unwrap();
    assert!(KeyRing::new(vec![a, b]).is_err());
    let a = Key::generate(Algorithm::ES256, 0).unwrap();
    let a2 = a.with_state(KeyState::VerifyOnly).unwrap();
    assert!(KeyRing::new(vec![a, a2]).is_err());
}
