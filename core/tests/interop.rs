//! Interoperability with the `jsonwebtoken` crate: tokens made the way the ASP.NET
//! guide's `GenerateToken` makes them validate here, and our tokens validate there
//! with nothing but the JWKS we publish.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use jwtauth_core::{Algorithm, Reason};
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

/// What ASP.NET's `JwtSecurityTokenHandler` writes for the guide's
/// `new JwtSecurityToken(issuer, audience, claims, expires: …, signingCredentials)`
/// with `sub`, `jti`, a name and a role claim.
#[derive(Serialize)]
struct DotNetClaims {
    sub: String,
    jti: String,
    unique_name: String,
    role: Vec<String>,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Debug, Deserialize)]
struct TheirClaims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    roles: Vec<String>,
}

#[test]
fn a_token_made_like_the_aspnet_guide_validates_with_the_same_secret() {
    let config = config_with(Algorithm::HS256, "roles_claim = \"role\"\n");
    let clock = std::sync::Arc::new(jwtauth_core::FixedClock::new(NOW));
    let auth = jwtauth_core::Tokens::with_clock(config, clock).unwrap();

    // HS256, the secret used as its UTF-8 bytes (Encoding.UTF8.GetBytes), no kid.
    let header = Header::new(jsonwebtoken::Algorithm::HS256);
    assert!(header.kid.is_none());
    let claims = DotNetClaims {
        sub: "alice".into(),
        jti: "6f1c2b9e-1d3c-4a55-9a57-3b9f5a1c2d7e".into(),
        unique_name: "alice".into(),
        role: vec!["Admin".into(), "Reader".into()],
        exp: NOW + 1800,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
    };
    let token = encode(&header, &claims, &EncodingKey::from_secret(SECRET.as_bytes()).unwrap()).unwrap();

    let got = auth.verifier().validate(&token).unwrap();
    assert_eq!(got.subject(), "alice");
    assert!(got.has_role("Admin") && got.has_role("Reader"));
    assert_eq!(got.extra()["unique_name"], "alice");
    assert_eq!(got.jwt_id(), Some(claims.jti.as_str()));

    // The same token with another secret is refused.
    let wrong = encode(
        &header,
        &claims,
        &EncodingKey::from_secret(b"x7Rk2mZr7VtL0pWn4YbC9sHd3JfG6uEa2").unwrap(),
    )
    .unwrap();
    assert_eq!(
        auth.verifier().validate(&wrong).unwrap_err().reason,
        Reason::BadSignature
    );
}

fn our_tokens_validate_there_with_our_jwks(alg: Algorithm, theirs: jsonwebtoken::Algorithm) {
    let (auth, _) = auth(alg);
    let token = auth.issuer().issue("alice", &["Admin"], &Map::new()).unwrap().token;

    let jwks: JwkSet = serde_json::from_value(auth.verifier().jwks()).unwrap();
    let kid = decode_header(&token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();

    let mut v = Validation::new(theirs);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The token was issued at our fixed NOW; judge it at that time, not the wall clock.
    v.validate_exp = false;
    let data = decode::<TheirClaims>(&token, &key, &v).unwrap();
    assert_eq!(data.header.alg, theirs);
    assert_eq!(data.claims.sub, "alice");
    assert_eq!(data.claims.iss, ISSUER);
    assert_eq!(data.claims.aud, AUDIENCE);
    assert_eq!(data.claims.exp, NOW + TTL);
    assert_eq!(data.claims.roles, ["Admin"]);

    // And their check is real: a tampered token fails there too.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (h, _) = input.split_once('.').unwrap();
    let forged = format!(
        "{h}.{}.{sig}",
        b64(json!({"sub": "admin", "iss": ISSUER, "aud": AUDIENCE, "exp": NOW + TTL, "roles": ["Admin"]}).to_string())
    );
    assert!(decode::<TheirClaims>(&forged, &key, &v).is_err());
}

#[test]
fn our_es256_tokens_validate_in_jsonwebtoken_with_the_exported_jwks() {
    our_tokens_validate_there_with_our_jwks(Algorithm::ES256, jsonwebtoken::Algorithm::ES256);
}

#[test]
fn our_rs256_tokens_validate_in_jsonwebtoken_with_the_exported_jwks() {
    our_tokens_validate_there_with_our_jwks(Algorithm::RS256, jsonwebtoken::Algorithm::RS256);
}

#[test]
fn our_eddsa_tokens_validate_in_jsonwebtoken_with_the_exported_jwks() {
    our_tokens_validate_there_with_our_jwks(Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA);
}

#[test]
fn tokens_jsonwebtoken_signs_with_our_private_key_validate_here() {
    for (alg, theirs) in [
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
    ] {
        let (auth, _) = auth(alg);
        let ring = auth.verifier().key_ring();
        let ours = ring.active().unwrap();
        let pem = private_pem(ours);
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut header = Header::new(theirs);
        header.kid = Some(ours.kid().to_string());
        let token = encode(&header, &valid_claims(), &key).unwrap();
        let claims = auth.verifier().validate(&token).unwrap();
        assert_eq!(claims.subject(), "alice", "{alg}");
        assert_eq!(claims.kid(), ours.kid());
    }
}
