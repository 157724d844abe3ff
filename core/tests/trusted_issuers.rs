//! Tokens of trusted external issuers, against real HTTP issuers on loopback, and
//! the tokens the ASP.NET guide mints, with and without `claims_profile = "aspnet"`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::issuer::{FixtureIssuer, Mode, eventually};
use common::{AUDIENCE, ISSUER, NOW, SECRET, b64, config_with, hs256_with};
use jwtauth_core::{Algorithm, FixedClock, Reason, Tokens};
use serde_json::{Value, json};

const EXT_AUD: &str = "orders-api";

fn trusting(entries: &str) -> (Tokens, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let toml = format!("issuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\nalgorithm = \"ES256\"\n{entries}");
    let config = jwtauth_core::Config::from_toml(&toml).unwrap();
    (Tokens::with_clock(config, clock.clone()).unwrap(), clock)
}

fn jwks_fetches(i: &FixtureIssuer) -> usize {
    i.jwks_requests.load(Ordering::SeqCst)
}

#[test]
fn a_token_of_a_trusted_issuer_is_accepted_and_ours_still_are() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let idp = FixtureIssuer::start(alg);
        let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
        let t = idp.token(EXT_AUD, NOW, json!({ "roles": ["Buyer"] }));
        let claims = auth.verifier().validate(&t).unwrap();
        assert_eq!(claims.issuer(), idp.url);
        assert_eq!(claims.subject(), "ext-user");
        assert!(claims.has_role("Buyer"));
        let ours = auth.issuer().issue("alice", &[], &Default::default()).unwrap();
        assert_eq!(auth.verifier().validate(&ours.token).unwrap().issuer(), ISSUER);
        // The remembered token is served again without another fetch.
        let before = jwks_fetches(&idp);
        auth.verifier().validate(&t).unwrap();
        assert_eq!(jwks_fetches(&idp), before);
        let status = &auth.verifier().trusted_issuers()[0];
        assert!(status.usable && status.keys.len() == 1, "{status:?}");
    }
}

#[test]
fn a_token_for_another_audience_of_the_trusted_issuer_is_refused() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    let t = idp.token("someone-else", NOW, json!({}));
    let e = auth.verifier().validate(&t).unwrap_err();
    assert_eq!(e.reason, Reason::WrongAudience);
    // The failure names the issuer that judged it, for failure events and metrics.
    assert_eq!(e.issuer.as_deref(), Some(idp.url.as_str()));
}

#[test]
fn a_rotated_key_is_accepted_after_exactly_one_refetch() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    let old = idp.token(EXT_AUD, NOW, json!({}));
    auth.verifier().validate(&old).unwrap();
    let before = jwks_fetches(&idp);
    idp.rotate(Algorithm::ES256);
    let claims = auth.verifier().validate(idp.token(EXT_AUD, NOW, json!({}))).unwrap();
    assert_eq!(claims.issuer(), idp.url);
    assert_eq!(jwks_fetches(&idp), before + 1);
    // The refetched set kept the old key: its token is still remembered, not verified again.
    let misses = auth.verifier().cache_stats().unwrap().misses;
    auth.verifier().validate(&old).unwrap();
    assert_eq!(auth.verifier().cache_stats().unwrap().misses, misses);
}

#[test]
fn a_thousand_made_up_kids_cause_at_most_a_handful_of_fetches() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    auth.verifier().validate(idp.token(EXT_AUD, NOW, json!({}))).unwrap();
    let good = idp.token(EXT_AUD, NOW, json!({}));
    let mut parts = good.split('.');
    let (_, payload, sig) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    for i in 0..1000 {
        let header = b64(json!({ "alg": "ES256", "kid": format!("made-up-{i}") }).to_string());
        let e = auth
            .verifier()
            .validate(format!("{header}.{payload}.{sig}"))
            .unwrap_err();
        assert_eq!(e.reason, Reason::UnknownKid);
    }
    assert!(jwks_fetches(&idp) <= 3, "{} fetches", jwks_fetches(&idp));
}

#[test]
fn when_the_issuer_goes_down_the_last_known_good_set_works_until_it_expires() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, clock) = trusting(&idp.entry(EXT_AUD, "last_known_good = \"2h\""));
    auth.verifier().validate(idp.token(EXT_AUD, NOW, json!({}))).unwrap();
    idp.set_mode(Mode::Down);
    // Past the default max-age: the background refresh runs and fails.
    clock.advance(900);
    let v = auth.verifier();
    assert!(eventually(|| v.trusted_issuers()[0].last_error.is_some()));
    let status = &v.trusted_issuers()[0];
    assert!(status.usable && status.unreachable_since.is_some(), "{status:?}");
    v.validate(idp.token(EXT_AUD, NOW + 900, json!({}))).unwrap();
    // Past last_known_good: a clear error.
    clock.advance(2 * 3600);
    let e = v.validate(idp.token(EXT_AUD, NOW + 8100, json!({}))).unwrap_err();
    assert_eq!(e.reason, Reason::UnknownKid);
    assert!(e.hint.contains("unreachable since"), "{}", e.hint);
    assert!(e.hint.contains("last_known_good"), "{}", e.hint);
    // The issuer is back: tokens work again.
    idp.set_mode(Mode::Normal);
    clock.advance(60);
    assert!(eventually(|| v.trusted_issuers()[0].usable));
    v.validate(idp.token(EXT_AUD, NOW + 8160, json!({}))).unwrap();
}

#[test]
fn an_unreachable_issuer_at_start_is_not_fatal_and_says_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let entry = format!("[[trusted_issuers]]\nissuer = \"{url}\"\naudience = \"x\"\njwks_url = \"{url}/jwks\"\n");
    let (auth, _) = trusting(&entry);
    let v = auth.verifier();
    assert!(eventually(|| v.trusted_issuers()[0].last_error.is_some()));
    let t = common::craft(
        &common::key(Algorithm::ES256, jwtauth_core::KeyState::Active),
        &json!({"alg": "ES256", "kid": "k"}),
        &json!({"iss": url, "aud": "x", "sub": "s", "exp": NOW + 60}),
    );
    let e = v.validate(&t).unwrap_err();
    assert_eq!(e.reason, Reason::UnknownKid);
    assert!(e.hint.contains("unreachable since"), "{}", e.hint);
    // Our own tokens are unaffected.
    let ours = auth.issuer().issue("alice", &[], &Default::default()).unwrap();
    v.validate(&ours.token).unwrap();
}

#[test]
fn a_slow_issuer_times_out_without_stalling_other_tokens() {
    let slow = FixtureIssuer::start(Algorithm::ES256);
    let fast = FixtureIssuer::start(Algorithm::ES256);
    slow.set_mode(Mode::Slow(Duration::from_secs(3)));
    let entries = format!(
        "{}{}",
        slow.entry(EXT_AUD, "fetch_timeout = \"300ms\""),
        fast.entry(EXT_AUD, "")
    );
    let (auth, _) = trusting(&entries);
    let v = auth.verifier();
    v.validate(fast.token(EXT_AUD, NOW, json!({}))).unwrap();
    let e = v.validate(slow.token(EXT_AUD, NOW, json!({}))).unwrap_err();
    assert_eq!(e.reason, Reason::UnknownKid);
    assert!(eventually(|| v.trusted_issuers()[0].last_error.is_some()));
    let error = v.trusted_issuers()[0].last_error.clone().unwrap().1;
    assert!(error.contains("no answer within 300 ms"), "{error}");
    v.validate(fast.token(EXT_AUD, NOW, json!({"sub": "second"}))).unwrap();
}

fn refused_set(mode: Mode, expect: &str) {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    idp.set_mode(mode);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    let v = auth.verifier();
    let e = v.validate(idp.token(EXT_AUD, NOW, json!({}))).unwrap_err();
    assert_eq!(e.reason, Reason::UnknownKid, "{}", e.hint);
    let status = &v.trusted_issuers()[0];
    assert!(!status.usable);
    let error = &status.last_error.as_ref().unwrap().1;
    assert!(error.contains(expect), "{error}");
    assert!(e.hint.contains(expect), "{}", e.hint);
}

#[test]
fn a_huge_key_set_is_refused() {
    refused_set(
        Mode::Body(format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(300 * 1024))),
        "KiB",
    );
}

#[test]
fn a_malformed_key_set_is_refused() {
    refused_set(Mode::Body("{\"keys\": [".into()), "not a JSON object");
    refused_set(Mode::Body("{\"keys\": 5}".into()), "no \"keys\" array");
}

#[test]
fn a_key_set_with_private_members_is_refused_whole() {
    let mut jwk = jwtauth_core::Key::generate(Algorithm::ES256, 0)
        .unwrap()
        .public_jwk()
        .unwrap();
    jwk["d"] = "c2VjcmV0".into();
    refused_set(Mode::Body(json!({ "keys": [jwk] }).to_string()), "private member 'd'");
}

#[test]
fn a_redirect_to_another_host_is_refused() {
    let other = FixtureIssuer::start(Algorithm::ES256);
    let to = format!("{}/jwks.json", other.url.replace("127.0.0.1", "localhost"));
    refused_set(Mode::Redirect(to), "another host");
    assert_eq!(other.jwks_requests.load(Ordering::SeqCst), 0);
}

#[test]
fn a_discovery_document_naming_another_issuer_is_refused() {
    refused_set(Mode::WrongIssuer, "not the configured");
}

#[test]
fn an_hs_token_claiming_the_trusted_issuer_is_refused() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    auth.verifier().validate(idp.token(EXT_AUD, NOW, json!({}))).unwrap();
    let kid = idp.keys.lock().unwrap()[0].kid().to_string();
    for header in [json!({"alg": "HS256", "kid": kid}), json!({"alg": "HS256"})] {
        let claims = json!({"iss": idp.url, "aud": EXT_AUD, "sub": "x", "exp": NOW + 60});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        // Signed with the public key's text as the HMAC secret: the classic confusion.
        let secret = serde_json::to_vec(&idp.keys.lock().unwrap()[0].public_jwk().unwrap()).unwrap();
        let token = format!("{input}.{}", b64(hs256_with(&secret, input.as_bytes())));
        let e = auth.verifier().validate(&token).unwrap_err();
        assert_eq!(e.reason, Reason::AlgNotAllowed, "{}", e.hint);
    }
}

#[test]
fn an_issuer_neither_ours_nor_trusted_is_named_with_the_accepted_ones() {
    let idp = FixtureIssuer::start(Algorithm::ES256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, ""));
    let t = idp.token(EXT_AUD, NOW, json!({"iss": "https://evil.example"}));
    let e = auth.verifier().validate(&t).unwrap_err();
    assert_eq!(e.reason, Reason::WrongIssuer);
    assert!(e.hint.contains(ISSUER) && e.hint.contains(&idp.url), "{}", e.hint);
    // An untrusted `iss` is never a label: the set of values stays bounded.
    assert_eq!(e.issuer, None);
}

#[test]
fn plain_http_to_a_remote_issuer_and_hs_algorithms_are_configuration_errors() {
    for entry in [
        "[[trusted_issuers]]\nissuer = \"https://idp\"\naudience = \"a\"\njwks_url = \"http://idp.example.com/jwks\"\n",
        "[[trusted_issuers]]\nissuer = \"https://idp\"\naudience = \"a\"\njwks_url = \"https://idp/jwks\"\nalgorithms = [\"HS256\"]\n",
        "[[trusted_issuers]]\nissuer = \"https://idp\"\naudience = \"a\"\n",
        "[[trusted_issuers]]\nissuer = \"https://idp\"\naudience = []\njwks_url = \"https://idp/jwks\"\n",
    ] {
        let toml = format!("issuer = \"{ISSUER}\"\n{entry}");
        assert!(jwtauth_core::Config::from_toml(&toml).is_err(), "{entry}");
    }
    let ok = format!(
        "issuer = \"{ISSUER}\"\n[[trusted_issuers]]\nissuer = \"https://idp\"\naudience = \"a\"\njwks_url = \"http://idp.example.com/jwks\"\nallow_http = true\n"
    );
    assert!(jwtauth_core::Config::from_toml(&ok).is_ok());
}

// --- the ASP.NET guide's tokens ---

const NAME_URI: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const ROLE_URI: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

/// HS256 over the UTF-8 secret, header without kid, as `JwtSecurityTokenHandler` writes it.
fn guide_token(claims: Value) -> String {
    let input = format!("{}.{}", b64(r#"{"alg":"HS256","typ":"JWT"}"#), b64(claims.to_string()));
    format!("{input}.{}", b64(hs256_with(SECRET.as_bytes(), input.as_bytes())))
}

fn guide_shapes() -> Vec<(Value, Vec<&'static str>)> {
    let base = |extra: Value| {
        let mut c = json!({ "iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 3600 });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    vec![
        (base(json!({ NAME_URI: "alice", ROLE_URI: "Admin" })), vec!["Admin"]),
        (
            base(json!({ NAME_URI: "alice", ROLE_URI: ["Admin", "Reader"] })),
            vec!["Admin", "Reader"],
        ),
        (base(json!({ "unique_name": "alice", "role": "Admin" })), vec!["Admin"]),
        (
            base(json!({ "unique_name": "alice", "nameid": "alice", "role": ["Admin", "Reader"] })),
            vec!["Admin", "Reader"],
        ),
    ]
}

#[test]
fn the_guides_tokens_are_accepted_with_the_aspnet_profile() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = Tokens::with_clock(config_with(Algorithm::HS256, "claims_profile = \"aspnet\"\n"), clock).unwrap();
    for (claims, roles) in guide_shapes() {
        let c = auth.verifier().validate(guide_token(claims.clone())).unwrap();
        assert_eq!(c.subject(), "alice", "{claims}");
        assert_eq!(
            c.roles(),
            roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "{claims}"
        );
        assert!(c.has_role("Admin"));
    }
}

#[test]
fn the_guides_tokens_are_refused_without_it_and_inspect_names_the_setting() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = Tokens::with_clock(config_with(Algorithm::HS256, ""), clock).unwrap();
    for (claims, _) in guide_shapes() {
        let token = guide_token(claims.clone());
        let e = auth.verifier().validate(&token).unwrap_err();
        assert_eq!(e.reason, Reason::MissingClaim, "{claims}");
        let i = auth.verifier().inspect(&token);
        assert!(
            i.notes.iter().any(|n| n.contains("claims_profile = \"aspnet\"")),
            "{claims}: {:?}",
            i.notes
        );
    }
}

#[test]
fn two_different_subjects_are_refused_under_the_aspnet_profile() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = Tokens::with_clock(config_with(Algorithm::HS256, "claims_profile = \"aspnet\"\n"), clock).unwrap();
    let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 60, "sub": "alice", "nameid": "mallory" });
    let e = auth.verifier().validate(guide_token(claims)).unwrap_err();
    assert_eq!(e.reason, Reason::Malformed);
    assert!(e.hint.contains("two subjects"), "{}", e.hint);
    // Types still fail closed.
    let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 60, "nameid": 7 });
    assert_eq!(
        auth.verifier().validate(guide_token(claims)).unwrap_err().reason,
        Reason::Malformed
    );
    // exp is still required.
    let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, NAME_URI: "alice" });
    assert_eq!(
        auth.verifier().validate(guide_token(claims)).unwrap_err().reason,
        Reason::MissingClaim
    );
}

#[test]
fn a_trusted_issuer_may_have_its_own_claims_profile() {
    let idp = FixtureIssuer::start(Algorithm::RS256);
    let (auth, _) = trusting(&idp.entry(EXT_AUD, "claims_profile = \"aspnet\""));
    let t = idp.token(
        EXT_AUD,
        NOW,
        json!({ "sub": Value::Null, "nameid": "bob", "role": ["A", "B"] }),
    );
    // A null sub is a wrong type, refused; without it the nameid is the subject.
    assert!(auth.verifier().validate(&t).is_err());
    let mut claims = json!({ "iss": idp.url, "aud": EXT_AUD, "nameid": "bob", "role": ["A", "B"], "exp": NOW + 60 });
    let keys = idp.keys.lock().unwrap();
    let t = common::craft(&keys[0], &common::header_for(&keys[0]), &claims);
    let c = auth.verifier().validate(&t).unwrap();
    assert_eq!((c.subject(), c.roles().len()), ("bob", 2));
    claims["iat"] = (NOW - 2 * 86_400).into();
    let t = common::craft(&keys[0], &common::header_for(&keys[0]), &claims);
    assert_eq!(
        auth.verifier().validate(&t).unwrap_err().reason,
        Reason::Expired,
        "max_token_age"
    );
}
