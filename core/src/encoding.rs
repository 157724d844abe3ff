//! base64url and JSON as JWS needs them: strict base64url without padding (RFC 7515 §2),
//! and JSON objects that refuse duplicate member names (RFC 8725 §3.9 asks for
//! unambiguous parsing; RFC 7515 §5.2 lets us reject them), and the token
//! fingerprint that log lines carry instead of tokens.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// First 12 hex digits of the SHA-256 of a token: enough to correlate log lines,
/// useless for replaying the token.
///
/// An ES256/ES384/ES512 token whose signature has a high S is fingerprinted in its
/// low-S spelling, so the two spellings of one token (both verify) are one token
/// in the log. Any other bytes are hashed as they are.
pub fn fingerprint(token: &[u8]) -> String {
    let token = low_s_spelling(token);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &token);
    hex::encode(&d.as_ref()[..6])
}

/// `token` with its ECDSA signature in the low-S spelling, when it is a compact
/// JWS whose header names an ES* algorithm and whose signature has a high S;
/// otherwise `token` itself.
fn low_s_spelling(token: &[u8]) -> Cow<'_, [u8]> {
    #[derive(serde::Deserialize)]
    struct Alg<'a> {
        #[serde(borrow)]
        alg: Cow<'a, str>,
    }
    let spelt = || -> Option<Vec<u8>> {
        let mut parts = token.split(|b| *b == b'.');
        let (h64, _, s64) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let mut buf = [0u8; 512];
        let header = b64_decode_in(h64, &mut buf)?;
        let alg: Alg<'_> = serde_json::from_slice(&header).ok()?;
        let curve = crate::low_s::Curve::of_alg(&alg.alg)?;
        let sig = b64_decode(s64)?;
        let low = crate::low_s::low_s(curve, &sig)?;
        if low == sig {
            return None;
        }
        let mut out = String::with_capacity(token.len());
        out.push_str(std::str::from_utf8(&token[..token.len() - s64.len()]).ok()?);
        b64_into(&low, &mut out);
        Some(out.into_bytes())
    };
    spelt().map_or(Cow::Borrowed(token), Cow::Owned)
}

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends base64url without padding to `out`.
pub(crate) fn b64_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes base64url: no padding, no whitespace, no other alphabet, and
/// canonical trailing bits, so one token has exactly one spelling.
pub(crate) fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Like [`b64_decode`], into `buf` when the result surely fits (no allocation on
/// the common path), else into a new vector.
pub(crate) fn b64_decode_in<'b>(text: &[u8], buf: &'b mut [u8]) -> Option<Cow<'b, [u8]>> {
    // The decoder's own worst-case estimate, so a fitting input never fails for space.
    if text.len().div_ceil(4) * 3 <= buf.len() {
        let n = URL_SAFE_NO_PAD.decode_slice(text, buf).ok()?;
        Some(Cow::Borrowed(&buf[..n]))
    } else {
        b64_decode(text).map(Cow::Owned)
    }
}

/// A JSON value whose objects, at every depth, have unique member names.
/// serde_json's recursion limit (128) bounds nesting, so deep input is an error,
/// not a stack overflow.
pub(crate) struct StrictValue(pub Value);

/// Parses a JSON object with unique member names at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(m))) => Ok(m),
        Ok(_) => Err("is not a JSON object".into()),
        Err(e) => Err(format!("is not valid JSON ({})", crate::error::clip(&e.to_string()))),
    }
}

/// Parses a JSON object with unique member names at every depth straight into a
/// typed value: `seed` visits the members (and must refuse duplicates among those it
/// reads itself; [`StrictValue`] and [`MaybeStr`] refuse them below). Errors read as
/// [`parse_object`]'s do.
pub(crate) fn parse_object_with<'de, S: DeserializeSeed<'de>>(bytes: &'de [u8], seed: S) -> Result<S::Value, String> {
    let first = bytes.iter().find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
    if first != Some(&b'{') {
        // Not an object (or not JSON): the general parser words the error.
        return Err(parse_object(bytes)
            .err()
            .unwrap_or_else(|| "is not a JSON object".into()));
    }
    let json_error = |e: serde_json::Error| format!("is not valid JSON ({})", crate::error::clip(&e.to_string()));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(value)
}

/// The error for a member name seen twice in one object.
pub(crate) fn duplicate<E: de::Error>(name: &str) -> E {
    de::Error::custom(format_args!("duplicate member name '{}'", crate::error::clip(name)))
}

/// A member name or string, borrowed from the input when it has no escapes.
pub(crate) struct Text<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A member that should be a string, kept whatever it is so the caller can say
/// what was wrong; nested objects are parsed strictly.
pub(crate) enum MaybeStr<'de> {
    /// A string, borrowed when it has no escapes.
    Str(Cow<'de, str>),
    /// Anything else.
    Other(Value),
}

impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Other(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr::Other(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MaybeStr<'de>, A::Error> {
                StrictVisitor.visit_seq(seq).map(|StrictValue(v)| MaybeStr::Other(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeStr<'de>, A::Error> {
                StrictVisitor.visit_map(map).map(|StrictValue(v)| MaybeStr::Other(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(StrictValue(Value::Array(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut m = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if m.contains_key(&key) {
                return Err(duplicate(&key));
            }
            let StrictValue(v) = map.next_value()?;
            m.insert(key, v);
        }
        Ok(StrictValue(Value::Object(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode(b"aGk").as_deref(), Some(&b"hi"[..]));
        assert!(b64_decode(b"aGk=").is_none(), "padding");
        assert!(b64_decode(b"aGl").is_none(), "non-canonical trailing bits");
        assert!(b64_decode(b"a+k").is_none(), "standard alphabet");
        assert!(b64_decode(b"aG k").is_none(), "whitespace");
    }

    #[test]
    fn decoding_in_place_is_as_strict_and_handles_any_size() {
        let mut buf = [0u8; 8];
        assert_eq!(b64_decode_in(b"aGk", &mut buf).as_deref(), Some(&b"hi"[..]));
        for bad in [&b"aGk="[..], b"aGl", b"a+k", b"aG k"] {
            assert!(b64_decode_in(bad, &mut buf).is_none(), "{bad:?}");
        }
        let long = b64(&[7u8; 100]);
        assert_eq!(
            b64_decode_in(long.as_bytes(), &mut buf).as_deref(),
            Some(&[7u8; 100][..])
        );
        // Exactly at the estimate: 8 characters decode to at most 6 bytes.
        let mut six = [0u8; 6];
        assert_eq!(
            b64_decode_in(b"AAECAwQF", &mut six).as_deref(),
            Some(&[0u8, 1, 2, 3, 4, 5][..])
        );
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert!(
            parse_object(br#"{"a":1,"a":2}"#)
                .unwrap_err()
                .contains("duplicate member name 'a'")
        );
        assert!(parse_object(br#"{"x":{"b":1,"b":1}}"#).is_err());
        assert!(parse_object(br#"{"x":[{"b":1,"b":1}]}"#).is_err());
        assert!(parse_object(br#"{"a":1,"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_object(deep.as_bytes()).is_err());
    }

    #[test]
    fn typed_parsing_refuses_what_the_general_parser_refuses() {
        // A seed that reads members as strict values and refuses repeated names.
        struct Names;
        impl<'de> DeserializeSeed<'de> for Names {
            type Value = Vec<String>;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> Visitor<'de> for Names {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                let mut names = Vec::new();
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    if names.iter().any(|n| *n == name) {
                        return Err(duplicate(&name));
                    }
                    map.next_value::<MaybeStr<'de>>()?;
                    names.push(name.into_owned());
                }
                Ok(names)
            }
        }
        assert_eq!(
            parse_object_with(br#" {"a":"x","b":[1,{"c":2}]}"#, Names).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            parse_object_with(br#"{"\u0061":1}"#, Names).unwrap(),
            ["a"],
            "escaped names are unescaped"
        );
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":2}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"a":1} x"#,
            b"[1]",
            b"",
            &[0xff, 0xfe],
        ] {
            assert_eq!(
                parse_object_with(bad, Names).unwrap_err(),
                parse_object(bad).unwrap_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_object_with(deep.as_bytes(), Names).is_err());
    }

    #[test]
    fn an_es_token_is_fingerprinted_in_its_low_s_spelling() {
        // r = 1, s = 1: a well-formed P-256 signature (it need not verify here).
        let mut low = [0u8; 64];
        low[31] = 1;
        low[63] = 1;
        let high = crate::low_s::p256_twin(&low);
        let token =
            |alg: &str, sig: &[u8]| format!("{}.e30.{}", b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()), b64(sig));
        let (es_low, es_high) = (token("ES256", &low), token("ES256", &high));
        assert_eq!(fingerprint(es_high.as_bytes()), fingerprint(es_low.as_bytes()));
        let plain = |t: &str| {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(
            fingerprint(es_low.as_bytes()),
            plain(&es_low),
            "the low spelling as it is"
        );
        // Under any other algorithm, or not a JWS, the bytes are hashed as they are.
        let hs_high = token("HS512", &high);
        assert_eq!(fingerprint(hs_high.as_bytes()), plain(&hs_high));
        for other in [format!("{es_high}.x"), es_high.replace("e30.", ""), "abc".into()] {
            assert_eq!(fingerprint(other.as_bytes()), plain(&other), "{other}");
        }
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"\"s\"").is_err());
        assert!(parse_object(b"{\"a\":1} x").is_err());
        assert!(parse_object(&[0xff, 0xfe]).is_err());
    }
}
