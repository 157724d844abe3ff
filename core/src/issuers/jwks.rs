//! A trusted issuer's JWKS (RFC 7517) read into the ring's own key types.
//!
//! Accepted: RSA of 2048 bits and more, EC on P-256, P-384 and P-521, OKP Ed25519.
//! A key meant for something else (`use` other than `sig`), of an unknown type or
//! curve, or whose `alg` contradicts it, is skipped with one warning. A set with
//! any private member is refused whole: an issuer that publishes its secrets
//! cannot be trusted with any of them.

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use serde_json::{Map, Value, json};

use crate::encoding::{b64_decode, parse_object};
use crate::error::clip;
use crate::keys::{Algorithm, Key, Kid, thumbprint};

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k", "r", "t"];
/// More keys than any issuer publishes: such a set is refused.
pub const MAX_KEYS: usize = 100;

/// The keys of a set, and a warning for each one skipped.
#[derive(Debug)]
pub(crate) struct KeySet {
    pub keys: Vec<Key>,
    pub warnings: Vec<String>,
}

/// Reads a JWKS document. `allowed` restricts the algorithms (empty: those the
/// keys name, or for a key without `alg` the first its type allows: RS256 for RSA).
pub(crate) fn parse(body: &[u8], allowed: &[Algorithm], now: i64) -> Result<KeySet, String> {
    let doc = parse_object(body).map_err(|e| format!("the key set is not a JSON object: {e}"))?;
    let Some(Value::Array(items)) = doc.get("keys") else {
        return Err("the key set has no \"keys\" array".into());
    };
    if items.len() > MAX_KEYS {
        return Err(format!(
            "the key set has {} keys, more than {MAX_KEYS}; refused",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if let Value::Object(m) = item
            && let Some(member) = PRIVATE_MEMBERS.iter().find(|p| m.contains_key(**p))
        {
            return Err(format!(
                "key {} of the set has the private member '{member}'; a set that publishes secrets is refused whole (tell the issuer's operator: that key is compromised)",
                describe(m, i)
            ));
        }
    }
    let mut set = KeySet {
        keys: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            set.warnings
                .push(format!("member {i} of the key set is not an object; skipped"));
            continue;
        };
        match one(m, allowed, now) {
            Ok(key) if set.keys.iter().any(|k| k.kid() == key.kid()) => set
                .warnings
                .push(format!("key {} appears twice; the second is skipped", describe(m, i))),
            Ok(key) => set.keys.push(key),
            Err(why) => set.warnings.push(format!("key {} skipped: {why}", describe(m, i))),
        }
    }
    Ok(set)
}

/// "'kid'" or "#3", for messages.
fn describe(m: &Map<String, Value>, i: usize) -> String {
    match m.get("kid").and_then(Value::as_str) {
        Some(k) => format!("'{}'", clip(k)),
        None => format!("#{i}"),
    }
}

fn text<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("'{name}' is not a string")),
    }
}

fn bytes(m: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let t = text(m, name)?.ok_or_else(|| format!("'{name}' is missing"))?;
    b64_decode(t.as_bytes()).ok_or_else(|| format!("'{name}' is not base64url"))
}

/// The algorithm a key is pinned to: the one it names, if its type allows it (and
/// the issuer's `algorithms` do); else the first the type and the issuer allow.
fn pin(family: &[Algorithm], named: Option<&str>, allowed: &[Algorithm]) -> Result<Algorithm, String> {
    let permitted = |a: &Algorithm| allowed.is_empty() || allowed.contains(a);
    match named {
        Some(name) => {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| format!("alg '{}' is not supported", clip(name)))?;
            if !family.contains(&alg) {
                return Err(format!("alg {alg} contradicts the key's type"));
            }
            if !permitted(&alg) {
                return Err(format!("alg {alg} is not among this issuer's algorithms"));
            }
            Ok(alg)
        }
        None => family
            .iter()
            .copied()
            .find(permitted)
            .ok_or_else(|| "none of this issuer's algorithms fits the key's type".to_string()),
    }
}

fn one(m: &Map<String, Value>, allowed: &[Algorithm], now: i64) -> Result<Key, String> {
    if let Some(u) = text(m, "use")?
        && u != "sig"
    {
        return Err(format!("use is '{}', not 'sig'", clip(u)));
    }
    if let Some(Value::Array(ops)) = m.get("key_ops")
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return Err("key_ops does not include 'verify'".into());
    }
    let kty = text(m, "kty")?.ok_or("kty is missing")?;
    let named = text(m, "alg")?;
    let (alg, public, jwk) = match kty {
        "RSA" => {
            const RSA: &[Algorithm] = &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ];
            let alg = pin(RSA, named, allowed)?;
            let n = bytes(m, "n")?;
            let e = bytes(m, "e")?;
            let n_trim: &[u8] = &n[n.iter().take_while(|b| **b == 0).count()..];
            let e_trim: &[u8] = &e[e.iter().take_while(|b| **b == 0).count()..];
            let bits = n_trim.len() * 8 - n_trim.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits < 2048 {
                return Err(format!("RSA key has {bits} bits; at least 2048 are required"));
            }
            if n_trim.len() > 1024 || e_trim.is_empty() || e_trim.len() > 8 {
                return Err("RSA key has an implausible modulus or exponent".into());
            }
            let params = alg.rsa_parameters().ok_or("RSA parameters")?;
            let public = RsaPublicKeyComponents { n: n_trim, e: e_trim }
                .to_parsed_public_key(params)
                .map_err(|e| format!("RSA key rejected: {e}"))?;
            let jwk = json!({ "kty": "RSA", "n": crate::encoding::b64(n_trim), "e": crate::encoding::b64(e_trim) });
            (alg, public, jwk)
        }
        "EC" => {
            let crv = text(m, "crv")?.ok_or("crv is missing")?;
            let family: &[Algorithm] = match crv {
                "P-256" => &[Algorithm::ES256],
                "P-384" => &[Algorithm::ES384],
                "P-521" => &[Algorithm::ES512],
                other => return Err(format!("curve '{}' is not supported", clip(other))),
            };
            let alg = pin(family, named, allowed)?;
            let (_, _, len) = alg.ecdsa().ok_or("curve")?;
            let (x, y) = (bytes(m, "x")?, bytes(m, "y")?);
            if x.len() != len || y.len() != len {
                return Err(format!("{crv} coordinates must be {len} bytes each"));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let verification = alg.verification().ok_or("verification")?;
            let public = ParsedPublicKey::new(verification, &point).map_err(|e| format!("{crv} key rejected: {e}"))?;
            let jwk = json!({ "kty": "EC", "crv": crv, "x": crate::encoding::b64(&x), "y": crate::encoding::b64(&y) });
            (alg, public, jwk)
        }
        "OKP" => {
            let crv = text(m, "crv")?.ok_or("crv is missing")?;
            if crv != "Ed25519" {
                return Err(format!("curve '{}' is not supported", clip(crv)));
            }
            let alg = pin(&[Algorithm::EdDSA], named, allowed)?;
            let x = bytes(m, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 key must be 32 bytes".into());
            }
            let verification = alg.verification().ok_or("verification")?;
            let public = ParsedPublicKey::new(verification, &x).map_err(|e| format!("Ed25519 key rejected: {e}"))?;
            (
                alg,
                public,
                json!({ "kty": "OKP", "crv": "Ed25519", "x": crate::encoding::b64(&x) }),
            )
        }
        other => return Err(format!("kty '{}' is not supported", clip(other))),
    };
    let kid = match text(m, "kid")? {
        Some(k) => Kid::new(k),
        None => Kid::new(thumbprint(&jwk)),
    };
    Key::from_public(kid, alg, public, jwk, now).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn own(alg: Algorithm) -> Value {
        Key::generate(alg, 0).unwrap().public_jwk().unwrap()
    }

    fn set(keys: Vec<Value>) -> Vec<u8> {
        json!({ "keys": keys }).to_string().into_bytes()
    }

    #[test]
    fn every_supported_key_type_is_read_and_pinned() {
        let algs = [
            Algorithm::RS256,
            Algorithm::PS384,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::EdDSA,
        ];
        let parsed = parse(&set(algs.iter().map(|a| own(*a)).collect()), &[], 0).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let pinned: Vec<Algorithm> = parsed.keys.iter().map(Key::algorithm).collect();
        assert_eq!(pinned, algs);
    }

    #[test]
    fn wrong_use_unknown_types_and_contradicting_alg_are_skipped_with_one_warning_each() {
        let mut enc = own(Algorithm::ES256);
        enc["use"] = "enc".into();
        let mut lying = own(Algorithm::ES256);
        lying["alg"] = "RS256".into();
        let mut curve = own(Algorithm::EdDSA);
        curve["crv"] = "X25519".into();
        let good = own(Algorithm::ES256);
        let parsed = parse(
            &set(vec![
                enc,
                lying,
                curve,
                json!({"kty": "XYZ", "kid": "x"}),
                json!(7),
                good,
            ]),
            &[],
            0,
        )
        .unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.warnings.len(), 5, "{:?}", parsed.warnings);
    }

    #[test]
    fn a_set_with_any_private_member_is_refused_whole() {
        for member in ["d", "p", "k"] {
            let mut bad = own(Algorithm::ES256);
            bad[member] = "AAAA".into();
            let e = parse(&set(vec![own(Algorithm::ES256), bad]), &[], 0).unwrap_err();
            assert!(e.contains(&format!("'{member}'")), "{e}");
        }
    }

    #[test]
    fn small_rsa_keys_and_keys_outside_the_issuers_algorithms_are_skipped() {
        let mut small = own(Algorithm::RS256);
        small["n"] = crate::encoding::b64(&[0xC1; 128]).into();
        let parsed = parse(&set(vec![small]), &[], 0).unwrap();
        assert!(parsed.keys.is_empty());
        assert!(parsed.warnings[0].contains("1024 bits"), "{:?}", parsed.warnings);
        let parsed = parse(&set(vec![own(Algorithm::ES384)]), &[Algorithm::ES256], 0).unwrap();
        assert!(parsed.keys.is_empty());
        assert!(parsed.warnings[0].contains("algorithms"), "{:?}", parsed.warnings);
    }

    #[test]
    fn hostile_documents_are_refused_without_panicking() {
        for body in [
            &b"["[..],
            b"{}",
            b"{\"keys\":{}}",
            b"{\"keys\":[],\"keys\":[]}",
            b"\xff\xfe",
            b"",
        ] {
            assert!(parse(body, &[], 0).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
        let many: Vec<Value> = (0..=MAX_KEYS).map(|_| json!({})).collect();
        assert!(parse(&set(many), &[], 0).is_err());
        let parsed = parse(
            br#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":5}]}"#,
            &[],
            0,
        )
        .unwrap();
        assert!(parsed.keys.is_empty());
    }
}
