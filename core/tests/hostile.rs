//! The catalogue of attacks: every file in `tests/data/hostile/` describes one
//! hostile token (literally, or as a recipe signed at test time with the keys the
//! case names) and the reason it must fail with. `tests/data/hostile/README.md`
//! documents the recipe format. No case may panic, and every case must fail the
//! way its file says.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] functions

mod common;

use std::path::{Path, PathBuf};

use common::*;
use jwtauth_core::{Algorithm, Key, KeyState, Reason, RequestInfo, Tokens};
use serde_json::{Map, Value, json};

struct Case {
    name: String,
    spec: Value,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join("hostile"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| Case {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            spec: serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect()
}

fn str_of<'a>(spec: &'a Value, name: &str) -> Option<&'a str> {
    spec.get(name).and_then(Value::as_str)
}

/// `"ES256"`, `"ES256:verify_only"` or `"ES256:retired"`.
fn ring_key(desc: &str, first: bool) -> Key {
    let (alg, state) = desc.split_once(':').unwrap_or((desc, ""));
    let alg: Algorithm = alg.parse().unwrap();
    let state = match state {
        "" if first => KeyState::Active,
        "" | "verify_only" => KeyState::VerifyOnly,
        "retired" => KeyState::Retired,
        other => panic!("unknown key state {other}"),
    };
    if alg.is_hmac() {
        let secret = jwtauth_core::keys::Secret::new(SECRET);
        Key::from_secret(alg, &secret, NOW).unwrap().with_state(state).unwrap()
    } else {
        key(alg, state)
    }
}

/// Replaces `$KID0`, `$KID1`, `$ATTACKER_KID`, `$ISS`, `$AUD`, `$NOW`, `$EXP` in text.
fn fill(text: &str, keys: &[Key], attacker: Option<&Key>) -> String {
    let mut t = text
        .replace("$ISS", ISSUER)
        .replace("$AUD", AUDIENCE)
        .replace("$NOW", &NOW.to_string())
        .replace("$EXP", &(NOW + TTL).to_string());
    for (i, k) in keys.iter().enumerate() {
        t = t.replace(&format!("$KID{i}"), k.kid().as_str());
    }
    if let Some(a) = attacker {
        t = t.replace("$ATTACKER_KID", a.kid().as_str());
    }
    t
}

/// The same placeholders inside a JSON value; `"$ATTACKER_JWK"` becomes the
/// attacker's public JWK object.
fn fill_value(v: &Value, keys: &[Key], attacker: Option<&Key>) -> Value {
    match v {
        Value::String(s) if s == "$ATTACKER_JWK" => attacker.unwrap().public_jwk().unwrap(),
        Value::String(s) => Value::String(fill(s, keys, attacker)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_value(x, keys, attacker)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_value(x, keys, attacker)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn patch(base: &mut Value, patch: &Value) {
    let obj = base.as_object_mut().unwrap();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
}

/// Encodes one part the way the case asks: canonical, or deliberately not.
fn encode(bytes: &[u8], how: Option<&str>) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
    match how {
        None => b64(bytes),
        Some("standard") => {
            let s = STANDARD_NO_PAD.encode(bytes);
            assert!(
                s.contains(['+', '/']),
                "the part must contain + or / to test the alphabet"
            );
            s
        }
        Some("padded") => {
            let s = URL_SAFE.encode(bytes);
            assert!(s.ends_with('='), "the part's length must not be a multiple of 3");
            s
        }
        Some("trailing_bits") => {
            // Sets a low bit of the last character, which decoders ignore unless strict.
            let mut s = b64(bytes);
            assert!(
                !s.len().is_multiple_of(4),
                "the part's length must not be a multiple of 3"
            );
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let last = s.pop().unwrap();
            let idx = ALPHABET.iter().position(|c| *c as char == last).unwrap();
            s.push(ALPHABET[idx | 1] as char);
            assert_ne!(s.chars().last(), Some(last));
            s
        }
        Some(other) => panic!("unknown encoding {other}"),
    }
}

/// `"ff fe 2e"` → bytes.
fn hex_bytes(hex: &str) -> Vec<u8> {
    let digits: String = hex.split_whitespace().collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// Wraps the member `"deep": [[[…]]]` nested `depth` levels into a JSON object's text.
fn nest(text: &str, depth: usize) -> String {
    let rest = text.strip_prefix('{').unwrap();
    format!("{{\"deep\":{}{},{rest}", "[".repeat(depth), "]".repeat(depth))
}

/// The runtime holding the case's keys, the token, and the kids (for the hint).
fn build(spec: &Value) -> (Tokens, Vec<u8>, Vec<String>) {
    let descs: Vec<&str> = match spec.get("keys") {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap()).collect(),
        None => vec!["HS256"],
        Some(other) => panic!("keys must be an array: {other}"),
    };
    let keys: Vec<Key> = descs.iter().enumerate().map(|(i, d)| ring_key(d, i == 0)).collect();
    let attacker = str_of(spec, "attacker").map(|a| key(a.parse().unwrap(), KeyState::Active));
    let cfg = match spec.get("max_token_size").and_then(Value::as_u64) {
        Some(n) => config_with(keys[0].algorithm(), &format!("max_token_size = {n}\n")),
        None => config(keys[0].algorithm()),
    };
    let ring_copy: Vec<Key> = keys.iter().map(|k| k.with_state(k.state()).unwrap()).collect();
    let (auth, _) = auth_with_keys(cfg, ring_copy);
    let kids: Vec<String> = keys.iter().map(|k| k.kid().to_string()).collect();

    if let Some(t) = str_of(spec, "token") {
        return (auth, fill(t, &keys, attacker.as_ref()).into_bytes(), kids);
    }
    if let Some(hex) = str_of(spec, "token_hex") {
        return (auth, hex_bytes(hex), kids);
    }
    if let Some(r) = spec.get("token_repeat") {
        let unit = r["unit"].as_str().unwrap();
        let count = usize::try_from(r["count"].as_u64().unwrap()).unwrap();
        return (auth, unit.repeat(count).into_bytes(), kids);
    }

    let mut header = match (spec.get("header"), str_of(spec, "header_text")) {
        (Some(h), None) => fill_value(h, &keys, attacker.as_ref()).to_string(),
        (None, Some(t)) => fill(t, &keys, attacker.as_ref()),
        (None, None) => header_for(&keys[0]).to_string(),
        _ => panic!("header and header_text are exclusive"),
    };
    let mut claims = match (spec.get("claims_patch"), str_of(spec, "claims_text")) {
        (p, None) => {
            let mut c = valid_claims();
            if let Some(p) = p {
                patch(&mut c, &fill_value(p, &keys, attacker.as_ref()));
            }
            c.to_string().into_bytes()
        }
        (None, Some(t)) => fill(t, &keys, attacker.as_ref()).into_bytes(),
        _ => panic!("claims_patch and claims_text are exclusive"),
    };
    if let Some(hex) = str_of(spec, "claims_hex") {
        claims = hex_bytes(hex);
    }
    if let Some(n) = spec.get("nest") {
        let depth = usize::try_from(n["depth"].as_u64().unwrap()).unwrap();
        match n["part"].as_str().unwrap() {
            "header" => header = nest(&header, depth),
            "claims" => claims = nest(std::str::from_utf8(&claims).unwrap(), depth).into_bytes(),
            other => panic!("unknown part {other}"),
        }
    }
    let enc = spec.get("encode").cloned().unwrap_or(json!({}));
    let mut header = header.into_bytes();
    for (part, bytes) in [("header", &mut header), ("claims", &mut claims)] {
        // A part whose length is a multiple of 3 has no padding and no unused bits;
        // a space after the JSON changes that without changing its meaning.
        if matches!(enc[part].as_str(), Some("padded" | "trailing_bits")) && bytes.len().is_multiple_of(3) {
            bytes.push(b' ');
        }
    }
    let input = format!(
        "{}.{}",
        encode(&header, enc["header"].as_str()),
        encode(&claims, enc["claims"].as_str())
    );
    let sign = str_of(spec, "sign").unwrap_or("key:0");
    let signature: Option<Vec<u8>> = match sign {
        "omit" => None,
        "empty" => Some(Vec::new()),
        "garbage" => Some(b"\x00not a signature at all, but long enough to look like one\x00".to_vec()),
        "attacker" => Some(sign_with(attacker.as_ref().unwrap(), input.as_bytes())),
        s if s.starts_with("key:") => {
            let i: usize = s[4..].parse().unwrap();
            Some(sign_with(&keys[i], input.as_bytes()))
        }
        s if s.starts_with("hs256:") => {
            let k = &keys[0];
            let secret = match &s[6..] {
                "public_pem" => public_pem(k).into_bytes(),
                "public_spki_der" => public_spki_der(k),
                "public_raw" => public_raw(k),
                "public_jwk" => k.public_jwk().unwrap().to_string().into_bytes(),
                other => panic!("unknown HMAC secret {other}"),
            };
            Some(hs256_with(&secret, input.as_bytes()))
        }
        other => panic!("unknown sign {other}"),
    };
    let mut input = input;
    if let Some(after) = spec.get("after") {
        // Tampering after signing: the claims are swapped for patched ones.
        let mut c = valid_claims();
        patch(&mut c, &after["claims_patch"]);
        let h = input.split('.').next().unwrap().to_string();
        input = format!("{h}.{}", b64(c.to_string()));
    }
    let token = match signature {
        None => input,
        Some(sig) => format!("{input}.{}", encode(&sig, enc["signature"].as_str())),
    };
    (auth, token.into_bytes(), kids)
}

fn run(case: &Case) -> Result<(), String> {
    let spec = &case.spec;
    let expect = str_of(spec, "expect").ok_or("no expect")?;
    if str_of(spec, "attack").is_none_or(str::is_empty) {
        return Err("no attack description".into());
    }
    let (auth, token, kids) = build(spec);
    let result = auth.verifier().validate(&token);
    // The diagnostic reads the same unverified header and claims: it must explain
    // every hostile token without failing, and reach the same verdict.
    if let Ok(text) = std::str::from_utf8(&token) {
        let inspected = auth.verifier().inspect(text).verdict.map(|_| ()).map_err(|e| e.reason);
        if inspected != result.as_ref().map(|_| ()).map_err(|e| e.reason) {
            return Err(format!("inspect says {inspected:?}"));
        }
    }
    match (expect, result) {
        ("ok", Ok(_)) => Ok(()),
        ("ok", Err(e)) => Err(format!("expected success, got {e}")),
        (_, Ok(c)) => Err(format!("accepted (sub {})", c.subject())),
        (reason, Err(e)) => {
            let want: Reason = reason.parse().map_err(|e| format!("{e}"))?;
            if e.reason != want {
                return Err(format!("expected {want}, got {e}"));
            }
            let hint = str_of(spec, "hint").map(|h| {
                kids.iter()
                    .enumerate()
                    .fold(h.to_string(), |h, (i, k)| h.replace(&format!("$KID{i}"), k))
            });
            if let Some(h) = hint
                && !e.hint.contains(&h)
            {
                return Err(format!("hint '{}' lacks '{h}'", e.hint));
            }
            let text = String::from_utf8_lossy(&token);
            if token.len() > 40 && e.hint.contains(text.as_ref()) {
                return Err("the hint repeats the token".into());
            }
            Ok(())
        }
    }
}

#[test]
fn every_hostile_token_in_the_catalogue_fails_as_documented() {
    let cases = cases();
    assert!(cases.len() >= 50, "the catalogue has only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            std::panic::catch_unwind(|| run(c))
                .unwrap_or_else(|_| Err("PANICKED".into()))
                .err()
                .map(|e| format!("{}: {e}", c.name))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_catalogue_covers_every_token_reason() {
    let covered: Vec<String> = cases()
        .iter()
        .filter_map(|c| str_of(&c.spec, "expect").map(str::to_owned))
        .collect();
    for reason in [
        "malformed",
        "too_large",
        "alg_not_allowed",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "missing_claim",
        "ok",
    ] {
        assert!(covered.iter().any(|c| c == reason), "no case expects {reason}");
    }
}

#[test]
fn authorization_header_variants_are_parsed_as_rfc_6750_says() {
    let (auth, _) = auth(Algorithm::ES256);
    let token = auth.issuer().issue("alice", &[], &Map::new()).unwrap().token;
    let text = std::fs::read_to_string(data_dir().join("authorization_headers.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in &cases {
        let header = case["header"].as_str().map(|h| h.replace("$TOKEN", &token));
        let expect = case["expect"].as_str().unwrap();
        let got = match auth
            .verifier()
            .validate_header(header.as_deref(), &RequestInfo::default())
        {
            Ok(c) => {
                assert_eq!(c.subject(), "alice");
                "ok".to_string()
            }
            Err(e) => e.reason.as_str().to_string(),
        };
        if got != expect {
            failures.push(format!("{}: expected {expect}, got {got}", case["case"]));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
