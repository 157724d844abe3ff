//! Strict validation of a compact JWS (RFC 8725): size first, then structure,
//! header, key and algorithm, signature, and only then the claims.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{ACCEPTED_TYP, Claims, ClaimsProfile, MAX_NUMERIC_DATE, Rules, json_kind as kind};
use crate::encoding::{
    MaybeStr, StrictValue, Text, b64_decode, b64_decode_in, duplicate, parse_object, parse_object_with,
};
use crate::error::{AuthError, Reason, clip};
use crate::keys::{Algorithm, KeyRing, Kid};

/// A rejected token, with what could be learnt of it for the failure log.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub error: AuthError,
    pub kid: Option<String>,
    /// `sub` as read from the token; verified only when the signature was.
    pub subject: Option<String>,
    pub verified: bool,
}

impl Rejection {
    fn new(reason: Reason, hint: impl Into<String>) -> Self {
        Rejection {
            error: AuthError::new(reason, hint),
            kid: None,
            subject: None,
            verified: false,
        }
    }
}

fn malformed(hint: impl Into<String>) -> Rejection {
    Rejection::new(Reason::Malformed, hint)
}

/// Validates a compact JWS against the ring and the rules, strictly:
/// size first, then structure, header, key and algorithm, signature, and only then
/// the claims.
pub(crate) fn validate(ring: &KeyRing, rules: &Rules, now: i64, token: &[u8]) -> Result<Claims, Rejection> {
    if token.is_empty() {
        return Err(Rejection::new(Reason::MissingToken, "the token is empty"));
    }
    if token.len() > rules.max_size {
        return Err(Rejection::new(
            Reason::TooLarge,
            format!("token is {} bytes; the limit is {}", token.len(), rules.max_size),
        ));
    }
    // Where the first dots are, without allocating; more than 5 is all we need to know.
    let mut dots = [0usize; 5];
    let mut count = 0;
    for (i, _) in token.iter().enumerate().filter(|(_, b)| **b == b'.') {
        dots[count] = i;
        count += 1;
        if count == dots.len() {
            break;
        }
    }
    let (d1, d2) = match count {
        2 => (dots[0], dots[1]),
        4 => return Err(malformed("token has 5 parts: encrypted tokens (JWE) are not accepted")),
        n => {
            return Err(malformed(format!(
                "a signed JWT has 3 dot-separated parts; this token has {}",
                if n >= 5 {
                    "more than 5".to_string()
                } else {
                    (n + 1).to_string()
                }
            )));
        }
    };
    let (h64, p64, s64) = (&token[..d1], &token[d1 + 1..d2], &token[d2 + 1..]);

    // Decoded parts live on the stack unless unusually large.
    let (mut header_buf, mut signature_buf, mut payload_buf) = ([0u8; 512], [0u8; 1024], [0u8; 2048]);
    let header_bytes = b64_decode_in(h64, &mut header_buf)
        .ok_or_else(|| malformed("header is not base64url (unpadded, URL-safe alphabet)"))?;
    let header = parse_object_with(&header_bytes, HeaderSeed).map_err(|e| malformed(format!("header {e}")))?;
    let alg = match &header.alg {
        Some(MaybeStr::Str(s)) => s.as_ref(),
        Some(_) => return Err(malformed("header alg is not a string")),
        None => return Err(malformed("header has no alg")),
    };
    let kid = match &header.kid {
        Some(MaybeStr::Str(s)) => Some(s.as_ref()),
        Some(_) => return Err(malformed("header kid is not a string")),
        None => None,
    };
    let with_kid = |mut r: Rejection| {
        r.kid = kid.map(clip);
        r
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(with_kid(Rejection::new(
            Reason::AlgNotAllowed,
            format!("unsigned tokens (alg '{}') are never accepted", clip(alg)),
        )));
    }
    let alg: Algorithm = alg.parse().map_err(|_| {
        with_kid(Rejection::new(
            Reason::AlgNotAllowed,
            format!("algorithm '{}' is not supported", clip(alg)),
        ))
    })?;
    if let Some(StrictValue(crit)) = &header.crit {
        return Err(with_kid(malformed(format!(
            "header has crit {}: no JWS extension is understood here, so the token is refused",
            clip(&crit.to_string())
        ))));
    }
    if header.enc.is_some() || header.zip.is_some() {
        return Err(with_kid(malformed(
            "header has enc/zip: encrypted or compressed tokens are not accepted",
        )));
    }
    match &header.typ {
        None => {}
        Some(MaybeStr::Str(t)) if ACCEPTED_TYP.iter().any(|a| a.eq_ignore_ascii_case(t)) => {}
        Some(MaybeStr::Str(t)) => {
            return Err(with_kid(malformed(format!(
                "header typ {} is not a JWT type",
                clip(&Value::String(t.to_string()).to_string())
            ))));
        }
        Some(MaybeStr::Other(t)) => {
            return Err(with_kid(malformed(format!(
                "header typ {} is not a JWT type",
                clip(&t.to_string())
            ))));
        }
    }
    // jku, x5u, jwk and x5c are never followed: keys come only from the ring.

    let signature =
        b64_decode_in(s64, &mut signature_buf).ok_or_else(|| with_kid(malformed("signature is not base64url")))?;
    if signature.is_empty() {
        return Err(with_kid(malformed("signature is missing")));
    }
    let signing_input = &token[..d2];
    let key = match kid {
        Some(k) => {
            let key = ring.get(k).ok_or_else(|| {
                with_kid(Rejection::new(
                    Reason::UnknownKid,
                    format!("no usable key has kid '{}'", clip(k)),
                ))
            })?;
            if key.algorithm() != alg {
                return Err(with_kid(Rejection::new(
                    Reason::AlgNotAllowed,
                    format!(
                        "key '{}' is pinned to {}; the token header says {alg}",
                        clip(k),
                        key.algorithm()
                    ),
                )));
            }
            if !key.verify(signing_input, &signature) {
                return Err(unverified_subject(with_kid(bad_signature()), p64));
            }
            key
        }
        None => {
            let mut candidates = ring.pinned_to(alg).peekable();
            if candidates.peek().is_none() {
                return Err(Rejection::new(
                    Reason::AlgNotAllowed,
                    format!("no key is pinned to {alg}, and the token names no kid"),
                ));
            }
            candidates
                .find(|k| k.verify(signing_input, &signature))
                .ok_or_else(|| unverified_subject(bad_signature(), p64))?
        }
    };

    let verified = |mut r: Rejection| {
        r.kid = Some(key.kid().to_string());
        r.verified = true;
        r
    };
    let payload =
        b64_decode_in(p64, &mut payload_buf).ok_or_else(|| verified(malformed("payload is not base64url")))?;
    let raw = parse_object_with(
        &payload,
        ClaimsSeed {
            roles_claim: &rules.roles_claim,
        },
    )
    .map_err(|e| verified(malformed(format!("claims {e}"))))?;
    claims_from(raw, rules, now, key.kid()).map_err(verified)
}

fn bad_signature() -> Rejection {
    Rejection::new(Reason::BadSignature, "signature does not verify")
}

/// Reads `sub` from a payload whose signature failed, for the log only.
fn unverified_subject(mut r: Rejection, p64: &[u8]) -> Rejection {
    r.subject = b64_decode(p64)
        .and_then(|p| parse_object(&p).ok())
        .and_then(|m| m.get("sub").and_then(Value::as_str).map(clip));
    r
}

fn take_string(slot: Option<Value>, name: &str) -> Result<Option<String>, Rejection> {
    match slot {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(malformed(format!("claim '{name}' must be a string, got {}", kind(&v)))),
    }
}

fn take_strings(slot: Option<Value>, name: &str) -> Result<Option<Vec<String>>, Rejection> {
    match slot {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(malformed(format!(
                    "claim '{name}' must hold strings, found {}",
                    kind(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(v) => Err(malformed(format!(
            "claim '{name}' must be a string or an array of strings, got {}",
            kind(&v)
        ))),
    }
}

fn take_date(slot: Option<Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match slot {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) if (0..=MAX_NUMERIC_DATE).contains(&t) => Ok(Some(t)),
            Some(_) => Err(malformed(format!("claim '{name}' = {n} is out of range"))),
            None if n.is_u64() => Err(malformed(format!("claim '{name}' = {n} is out of range"))),
            None => Err(malformed(format!(
                "claim '{name}' must be a whole number of seconds, got {}",
                clip(&n.to_string())
            ))),
        },
        Some(v) => Err(malformed(format!(
            "claim '{name}' must be a NumericDate (integer seconds), got {}",
            kind(&v)
        ))),
    }
}

fn missing(name: &str) -> Rejection {
    Rejection::new(Reason::MissingClaim, format!("claim '{name}' is required"))
}

/// The header members validation looks at; other members are parsed (strictly,
/// so duplicates anywhere are refused) and dropped.
#[derive(Default)]
struct Header<'a> {
    alg: Option<MaybeStr<'a>>,
    kid: Option<MaybeStr<'a>>,
    typ: Option<MaybeStr<'a>>,
    crit: Option<StrictValue>,
    enc: Option<StrictValue>,
    zip: Option<StrictValue>,
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Header<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Header<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Header<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut h = Header::default();
        let mut others: Vec<Text<'de>> = Vec::new();
        while let Some(name) = map.next_key::<Text<'de>>()? {
            macro_rules! once {
                ($slot:expr) => {{
                    if $slot.is_some() {
                        return Err(duplicate(&name.0));
                    }
                    $slot = Some(map.next_value()?);
                }};
            }
            match name.0.as_ref() {
                "alg" => once!(h.alg),
                "kid" => once!(h.kid),
                "typ" => once!(h.typ),
                "crit" => once!(h.crit),
                "enc" => once!(h.enc),
                "zip" => once!(h.zip),
                _ => {
                    if others.iter().any(|o| o.0 == name.0) {
                        return Err(duplicate(&name.0));
                    }
                    map.next_value::<StrictValue>()?;
                    others.push(name);
                }
            }
        }
        Ok(h)
    }
}

/// The claims as read, registered ones in their own slots (not yet type-checked),
/// every other one kept as JSON.
#[derive(Default)]
struct RawClaims {
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    jti: Option<Value>,
    roles: Option<Value>,
    extra: Map<String, Value>,
}

struct ClaimsSeed<'r> {
    roles_claim: &'r str,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawClaims, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
        let mut c = RawClaims::default();
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let slot = match name.as_ref() {
                "exp" => &mut c.exp,
                "nbf" => &mut c.nbf,
                "iat" => &mut c.iat,
                "iss" => &mut c.iss,
                "sub" => &mut c.sub,
                "aud" => &mut c.aud,
                "jti" => &mut c.jti,
                n if n == self.roles_claim => &mut c.roles,
                _ => {
                    if c.extra.contains_key(name.as_ref()) {
                        return Err(duplicate(&name));
                    }
                    let StrictValue(v) = map.next_value()?;
                    c.extra.insert(name.into_owned(), v);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(duplicate(&name));
            }
            let StrictValue(v) = map.next_value()?;
            *slot = Some(v);
        }
        Ok(c)
    }
}

fn claims_from(raw: RawClaims, rules: &Rules, now: i64, kid: &Kid) -> Result<Claims, Rejection> {
    // The subject goes to the failure log with any rejection (as read, even if wrong).
    let with_sub = |mut r: Rejection, sub: Option<&str>| {
        r.subject = sub.map(clip);
        r
    };
    let RawClaims {
        exp,
        nbf,
        iat,
        iss,
        sub,
        aud,
        jti,
        roles,
        extra,
    } = raw;
    let early = |r: Rejection| with_sub(r, sub.as_ref().and_then(Value::as_str));
    // Read every registered claim first, so a wrong type is reported as such
    // rather than masked by a later check.
    let exp = take_date(exp, "exp").map_err(early)?;
    let nbf = take_date(nbf, "nbf").map_err(early)?;
    let iat = take_date(iat, "iat").map_err(early)?;
    let iss = take_string(iss, "iss").map_err(early)?;
    let sub = take_string(sub, "sub")?;
    let late = |r: Rejection| with_sub(r, sub.as_deref());
    let aud = take_strings(aud, "aud").map_err(late)?;
    let jti = take_string(jti, "jti").map_err(late)?;
    let roles = take_strings(roles, &rules.roles_claim)
        .map_err(late)?
        .unwrap_or_default();

    let result = check_claims(rules, now, exp, nbf, iat, iss, aud);
    let (exp, iss, aud) = result.map_err(late)?;
    let mut extra = extra;
    let (sub, roles) = match rules.claims_profile {
        ClaimsProfile::Jwtauth => match sub {
            Some(s) if !s.is_empty() => (s, roles),
            other => return Err(with_sub(missing("sub"), other.as_deref())),
        },
        ClaimsProfile::Aspnet => {
            let subject = aspnet_subject(sub.clone(), &extra).map_err(late)?;
            let roles = aspnet_roles(roles, &rules.roles_claim, &mut extra).map_err(|r| with_sub(r, Some(&subject)))?;
            (subject, roles)
        }
    };
    Ok(Claims {
        subject: sub,
        issuer: iss,
        audience: aud,
        expires_at: exp,
        not_before: nbf,
        issued_at: iat,
        jwt_id: jti,
        roles,
        extra,
        kid: kid.clone(),
    })
}

/// A claim of the `aspnet` profile that must be a string when present; an empty
/// one counts as absent.
fn named_string(extra: &Map<String, Value>, name: &str) -> Result<Option<String>, Rejection> {
    match extra.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(malformed(format!(
            "claim '{}' must be a string, got {}",
            clip(name),
            kind(v)
        ))),
    }
}

/// The first present of a group of claims, all of which must agree.
fn agreeing(found: Vec<(&str, String)>) -> Result<Option<String>, Rejection> {
    let Some((first_name, first)) = found.first() else {
        return Ok(None);
    };
    if let Some((name, other)) = found.iter().find(|(_, v)| v != first) {
        return Err(malformed(format!(
            "the token names two subjects: '{}' is '{}' but '{}' is '{}'; it is refused rather than resolved",
            clip(first_name),
            clip(first),
            clip(name),
            clip(other)
        )));
    }
    Ok(Some(first.clone()))
}

/// The subject under the `aspnet` profile: the identifiers (`sub`, `nameid`, the
/// NameIdentifier URI) if any is present, else the names (`unique_name`, the Name URI).
fn aspnet_subject(sub: Option<String>, extra: &Map<String, Value>) -> Result<String, Rejection> {
    let mut ids: Vec<(&str, String)> = sub.filter(|s| !s.is_empty()).map(|s| ("sub", s)).into_iter().collect();
    for name in super::ASPNET_IDENTIFIERS {
        if let Some(v) = named_string(extra, name)? {
            ids.push((name, v));
        }
    }
    let mut names = Vec::new();
    for name in super::ASPNET_NAMES {
        if let Some(v) = named_string(extra, name)? {
            names.push((*name, v));
        }
    }
    if let Some(id) = agreeing(ids)? {
        return Ok(id);
    }
    agreeing(names)?.ok_or_else(|| {
        Rejection::new(
            Reason::MissingClaim,
            "no subject: none of 'sub', 'nameid', 'unique_name' or their ClaimTypes URIs is present",
        )
    })
}

/// Roles under the `aspnet` profile: `roles_claim`, `roles`, `role` and the Role
/// URI together, each a string or an array of strings, without repeats.
fn aspnet_roles(
    mut roles: Vec<String>,
    roles_claim: &str,
    extra: &mut Map<String, Value>,
) -> Result<Vec<String>, Rejection> {
    for name in super::ASPNET_ROLES.iter().filter(|n| **n != roles_claim) {
        if let Some(found) = take_strings(extra.get(*name).cloned(), name)? {
            for role in found {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
    }
    Ok(roles)
}

/// The time, issuer and audience checks, in the order their failures are reported.
#[allow(clippy::type_complexity)]
fn check_claims(
    rules: &Rules,
    now: i64,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    iss: Option<String>,
    aud: Option<Vec<String>>,
) -> Result<(i64, String, Vec<String>), Rejection> {
    let exp = exp.ok_or_else(|| missing("exp"))?;
    check_times(rules, now, exp, nbf, iat)?;
    let iss = iss.ok_or_else(|| missing("iss"))?;
    if iss != rules.issuer {
        return Err(Rejection::new(
            Reason::WrongIssuer,
            format!("token iss is '{}', expected '{}'", clip(&iss), clip(&rules.issuer)),
        ));
    }
    let aud = aud.ok_or_else(|| missing("aud"))?;
    if !aud.iter().any(|a| rules.audience.contains(a)) {
        return Err(Rejection::new(
            Reason::WrongAudience,
            format!(
                "token aud is '{}', expected '{}'",
                clip(&aud.join(", ")),
                clip(&rules.audience.join("' or '"))
            ),
        ));
    }
    // Last, so every other failure keeps its own reason. Fixed once validated (with
    // iat) or shrinking (without), so a remembered token need not be checked again.
    let lifetime = exp.saturating_sub(iat.unwrap_or(now));
    if lifetime > rules.max_lifetime {
        return Err(Rejection::new(
            Reason::Expired,
            format!(
                "token lifetime {lifetime} s is longer than this service accepts ({} s: max_access_ttl + leeway); get a new token",
                rules.max_lifetime
            ),
        ));
    }
    Ok((exp, iss, aud))
}

/// `exp`, `nbf` and `iat` against `now` with the leeway: the checks that a token
/// once valid can come to fail, so they run again for a remembered token.
pub(crate) fn check_times(
    rules: &Rules,
    now: i64,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
) -> Result<(), Rejection> {
    if now - rules.leeway >= exp {
        return Err(Rejection::new(
            Reason::Expired,
            format!(
                "token expired {} s ago (exp {exp}, leeway {} s)",
                now - exp,
                rules.leeway
            ),
        ));
    }
    if let Some(nbf) = nbf
        && nbf > now + rules.leeway
    {
        return Err(Rejection::new(
            Reason::NotYetValid,
            format!("token is not valid for another {} s (nbf {nbf})", nbf - now),
        ));
    }
    if let Some(iat) = iat
        && iat > now + rules.leeway
    {
        return Err(Rejection::new(
            Reason::NotYetValid,
            format!(
                "token was issued {} s in the future (iat {iat}); check the issuer's clock",
                iat - now
            ),
        ));
    }
    if let Some(max) = rules.max_token_age {
        match iat {
            Some(iat) if now.saturating_sub(iat) > max.saturating_add(rules.leeway) => {
                return Err(Rejection::new(
                    Reason::Expired,
                    format!(
                        "token was issued {} s ago; this issuer's max_token_age is {max} s",
                        now.saturating_sub(iat)
                    ),
                ));
            }
            None if exp.saturating_sub(now) > max => {
                return Err(Rejection::new(
                    Reason::Expired,
                    format!(
                        "token has no iat and is valid for another {} s, beyond this issuer's max_token_age of {max} s",
                        exp.saturating_sub(now)
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
