//! Claims, issuing, strict validation (RFC 8725) and Authorization-header parsing.

mod cache;
mod validate;

pub(crate) use cache::VerifiedTokens;
pub(crate) use validate::{Rejection, validate};

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

use crate::encoding::b64_into;
use crate::error::{AuthError, Reason, clip};
use crate::keys::{Key, KeyError, Kid};

/// Claim names this library sets itself; extra claims may not use them.
pub const REGISTERED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Largest NumericDate accepted: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// `typ` header values accepted (compared case-insensitively, RFC 7515 §4.1.9).
const ACCEPTED_TYP: &[&str] = &["JWT", "at+jwt", "application/at+jwt", "application/jwt"];

/// What a token must satisfy besides its signature; derived once from the config.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Required `iss`.
    pub issuer: String,
    /// `aud` must contain at least one of these.
    pub audience: Vec<String>,
    /// Seconds of clock skew tolerated.
    pub leeway: i64,
    /// Largest token accepted, in bytes.
    pub max_size: usize,
    /// Claim carrying roles.
    pub roles_claim: String,
}

impl Rules {
    /// The rules a configuration asks for.
    pub fn from_config(c: &crate::Config) -> Rules {
        Rules {
            issuer: c.issuer.clone(),
            audience: c.audience.clone(),
            leeway: i64::try_from(c.leeway.as_secs()).unwrap_or(300),
            max_size: c.max_token_size,
            roles_claim: c.roles_claim.clone(),
        }
    }
}

/// Claims of a token that passed validation. Only [`crate::JwtAuth::validate`]
/// makes these, so holding one means the token was verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `sub`.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `aud` (always a list here, whether the token had a string or an array).
    pub audience: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: i64,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// `iat`, if present.
    pub issued_at: Option<i64>,
    /// `jti`, if present.
    pub jwt_id: Option<String>,
    /// Roles from the configured roles claim.
    pub roles: Vec<String>,
    /// Every other claim.
    pub extra: Map<String, Value>,
    /// The key that verified the token.
    pub kid: Kid,
}

impl Claims {
    /// Whether the roles claim contains `role` (exact, case-sensitive, like ASP.NET's `IsInRole`).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Any claim by name, registered ones included, as JSON.
    pub fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "sub" => self.subject.clone().into(),
            "iss" => self.issuer.clone().into(),
            "aud" => self.audience.clone().into(),
            "exp" => self.expires_at.into(),
            "nbf" => self.not_before?.into(),
            "iat" => self.issued_at?.into(),
            "jti" => self.jwt_id.clone()?.into(),
            other => self.extra.get(other)?.clone(),
        })
    }

    /// The whole claims set as a JSON object; `roles_claim` names the roles member.
    pub fn to_json(&self, roles_claim: &str) -> Value {
        let mut m = self.extra.clone();
        for name in REGISTERED_CLAIMS {
            if let Some(v) = self.get(name) {
                m.insert((*name).to_string(), v);
            }
        }
        m.insert(roles_claim.to_string(), self.roles.clone().into());
        Value::Object(m)
    }
}

/// A token just issued.
#[derive(Clone)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub jwt_id: String,
    /// Its `exp`.
    pub expires_at: i64,
    /// The key that signed it.
    pub kid: Kid,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("token", &crate::audit::fingerprint(self.token.as_bytes()))
            .field("jwt_id", &self.jwt_id)
            .field("expires_at", &self.expires_at)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The subject is empty.
    #[error("subject must not be empty")]
    EmptySubject,
    /// An extra claim tried to set a claim the library owns.
    #[error("extra claim '{0}' is reserved; it is set by jwtauth")]
    ReservedClaim(String),
    /// Signing failed or there is no active key.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Issues a compact JWS signed by `key`.
pub(crate) fn issue(
    key: &Key,
    rules: &Rules,
    now: i64,
    ttl: i64,
    subject: &str,
    roles: &[&str],
    extra: &Map<String, Value>,
) -> Result<Issued, IssueError> {
    if subject.is_empty() {
        return Err(IssueError::EmptySubject);
    }
    if let Some(name) = extra
        .keys()
        .find(|k| REGISTERED_CLAIMS.contains(&k.as_str()) || **k == rules.roles_claim)
    {
        return Err(IssueError::ReservedClaim(clip(name)));
    }
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| KeyError::Crypto("system randomness unavailable"))?;
    let jwt_id = crate::encoding::b64(&id);
    let expires_at = now.saturating_add(ttl);
    let payload = serde_json::to_vec(&OutClaims {
        rules,
        subject,
        now,
        expires_at,
        jwt_id: &jwt_id,
        roles,
        extra,
    })
    .map_err(|_| KeyError::Crypto("claims serialization failed"))?;

    let header = key.header_b64();
    let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
    token.push_str(header);
    token.push('.');
    b64_into(&payload, &mut token);
    let signing_input_len = token.len();
    let mut sig = String::with_capacity(350);
    key.sign_into(&token.as_bytes()[..signing_input_len], &mut sig)?;
    token.push('.');
    token.push_str(&sig);
    Ok(Issued {
        token,
        jwt_id,
        expires_at,
        kid: key.kid().clone(),
    })
}

struct OutClaims<'a> {
    rules: &'a Rules,
    subject: &'a str,
    now: i64,
    expires_at: i64,
    jwt_id: &'a str,
    roles: &'a [&'a str],
    extra: &'a Map<String, Value>,
}

impl Serialize for OutClaims<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8 + self.extra.len()))?;
        m.serialize_entry("iss", &self.rules.issuer)?;
        m.serialize_entry("sub", self.subject)?;
        match self.rules.audience.as_slice() {
            [one] => m.serialize_entry("aud", one)?,
            many => m.serialize_entry("aud", many)?,
        }
        m.serialize_entry("iat", &self.now)?;
        m.serialize_entry("nbf", &self.now)?;
        m.serialize_entry("exp", &self.expires_at)?;
        m.serialize_entry("jti", self.jwt_id)?;
        m.serialize_entry(&self.rules.roles_claim, self.roles)?;
        for (k, v) in self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The kind of a JSON value in words ("a string", "an array"…), for hints about
/// claims of the wrong type.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Extracts the token from an `Authorization` header value: `Bearer <token>`,
/// scheme case-insensitive (RFC 6750 §2.1).
///
/// ```
/// use jwtauth_core::{token::bearer_token, Reason};
/// assert_eq!(bearer_token(Some("Bearer abc.def.ghi")).unwrap(), "abc.def.ghi");
/// assert_eq!(bearer_token(Some("bearer abc.def.ghi")).unwrap(), "abc.def.ghi");
/// assert_eq!(bearer_token(Some("abc.def.ghi")).unwrap_err().reason, Reason::BadScheme);
/// assert_eq!(bearer_token(None).unwrap_err().reason, Reason::MissingToken);
/// ```
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(AuthError::new(Reason::MissingToken, "no Authorization header"));
    }
    let (scheme, rest) = match value.split_once([' ', '\t']) {
        Some((s, r)) => (s, r.trim()),
        None => (value, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // With nothing after it, the "scheme" is the credential itself (a token, an
        // API key, a password): it must not reach the hint, which is logged.
        let hint = if rest.is_empty() {
            let what = if scheme.bytes().filter(|b| *b == b'.').count() == 2 {
                "a bare token"
            } else {
                "a bare credential without a scheme"
            };
            format!("the header holds {what}; send it as 'Authorization: Bearer <token>'")
        } else if scheme.len() <= 32 && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            format!("scheme is '{scheme}'; expected 'Bearer <token>'")
        } else {
            "the header does not start with an authentication scheme; expected 'Bearer <token>'".to_string()
        };
        return Err(AuthError::new(Reason::BadScheme, hint));
    }
    if rest.is_empty() {
        return Err(AuthError::new(Reason::MissingToken, "'Bearer' is followed by no token"));
    }
    // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = rest.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err(AuthError::new(
            Reason::Malformed,
            "the bearer token has characters a token cannot have",
        ));
    }
    Ok(rest)
}
