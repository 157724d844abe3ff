//! Claims, issuing ([`Issuer`]), strict validation (RFC 8725) behind the
//! [`Verifier`], `token inspect`, and Authorization-header parsing.

mod cache;
mod inspect;
mod issue;
mod revocation;
mod validate;
mod verifier;

pub use cache::CacheStats;
pub(crate) use cache::VerifiedTokens;
pub use inspect::Inspection;
pub use issue::Issuer;
#[cfg(test)]
pub(crate) use issue::issue;
pub(crate) use revocation::{Marks, Revocations};
pub(crate) use validate::{Rejection, validate};
pub(crate) use verifier::{External, ReloadKeys};
pub use verifier::{Verdict, Verifier};

use serde_json::{Map, Value};

use crate::error::{AuthError, Reason};
use crate::keys::{KeyError, Kid};

/// Claim names this library sets itself; extra claims may not use them.
pub const REGISTERED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid"];

/// The claim naming the session (refresh-token family) an access token was issued
/// for; revoking the session revokes the token.
pub const SESSION_CLAIM: &str = "sid";

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
    /// Longest lifetime accepted, in seconds: a token whose `exp - iat` (or
    /// `exp - now` without `iat`) is longer is refused (`max_access_ttl` + leeway),
    /// so no token outlives the revocation watermarks kept for it.
    pub max_lifetime: i64,
    /// Where the subject and roles are read from.
    pub claims_profile: ClaimsProfile,
    /// Seconds a token may be old (since `iat`, or valid for from now when it has
    /// none); `None`: no bound beyond `exp`.
    pub max_token_age: Option<i64>,
}

/// Where a token's subject and roles are read from (`claims_profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClaimsProfile {
    /// `sub` is required; roles come from `roles_claim` alone. As strict as it gets.
    #[default]
    Jwtauth,
    /// Also the names ASP.NET writes: the subject from the first present of `sub`,
    /// `nameid`, the NameIdentifier URI, `unique_name`, the Name URI; roles from
    /// `roles_claim`, `roles`, `role` and the Role URI. Two identifiers that
    /// disagree are refused, never resolved silently.
    Aspnet,
}

impl ClaimsProfile {
    /// The name used in the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClaimsProfile::Jwtauth => "jwtauth",
            ClaimsProfile::Aspnet => "aspnet",
        }
    }
}

impl std::str::FromStr for ClaimsProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jwtauth" => Ok(ClaimsProfile::Jwtauth),
            "aspnet" => Ok(ClaimsProfile::Aspnet),
            other => Err(format!("'{}' is not a claims profile", crate::error::clip(other))),
        }
    }
}

/// `ClaimTypes.NameIdentifier`, as .NET writes it into a token.
pub const NAME_IDENTIFIER_URI: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";
/// `ClaimTypes.Name`.
pub const NAME_URI: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
/// `ClaimTypes.Role`.
pub const ROLE_URI: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

/// Claims that identify the subject under the `aspnet` profile, in order; they
/// must agree with each other.
pub(crate) const ASPNET_IDENTIFIERS: &[&str] = &["nameid", NAME_IDENTIFIER_URI];
/// Claims that name the subject under the `aspnet` profile when no identifier is
/// present; they must agree with each other.
pub(crate) const ASPNET_NAMES: &[&str] = &["unique_name", NAME_URI];
/// Claims that carry roles under the `aspnet` profile (besides `roles_claim`).
pub(crate) const ASPNET_ROLES: &[&str] = &["roles", "role", ROLE_URI];

/// Claims of a token that passed validation. Only the [`Verifier`] makes these
/// (the fields are private), so holding one means the token was verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub(crate) subject: String,
    pub(crate) issuer: String,
    pub(crate) audience: Vec<String>,
    pub(crate) expires_at: i64,
    pub(crate) not_before: Option<i64>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) jwt_id: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) extra: Map<String, Value>,
    pub(crate) kid: Kid,
}

impl Claims {
    /// `sub`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `aud`, always a list here, whether the token had a string or an array.
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<i64> {
        self.not_before
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at
    }

    /// `jti`, if present.
    pub fn jwt_id(&self) -> Option<&str> {
        self.jwt_id.as_deref()
    }

    /// `sid`: the session (refresh-token family id) the token was issued for, if it
    /// was issued for one and the claim is a string. Revoking that session revokes
    /// the token.
    pub fn session_id(&self) -> Option<&str> {
        self.extra.get(SESSION_CLAIM).and_then(Value::as_str)
    }

    /// Roles from the configured roles claim.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Every other claim.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The key that verified the token.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

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
            .field("token", &crate::encoding::fingerprint(self.token.as_bytes()))
            .field("jwt_id", &self.jwt_id)
            .field("expires_at", &self.expires_at)
            .field("kid", &self.kid)
            .finish()
    }
}

/// The longest subject issued, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 256;

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The subject is empty.
    #[error("subject must not be empty")]
    EmptySubject,
    /// An extra claim tried to set a claim the library owns.
    #[error("extra claim '{0}' is reserved; it is set by jwtauth")]
    ReservedClaim(String),
    /// The subject is too long or holds control, bidirectional or invisible characters.
    #[error("subject must be at most {MAX_SUBJECT_BYTES} bytes of visible characters")]
    InvalidSubject,
    /// A role is empty or holds control, bidirectional or invisible characters.
    #[error("role '{0}' must be non-empty visible text")]
    InvalidRole(String),
    /// The token would be larger than `max_token_size`, so this service would refuse it.
    #[error("the token would be {size} bytes, over max_token_size = {max}; carry fewer or smaller claims")]
    TooLarge {
        /// Bytes the token would have.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// Signing failed or there is no active key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No random bytes for the token id.
    #[error(transparent)]
    Randomness(#[from] crate::random::NoRandomness),
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

/// The characters of an RFC 6750 b64token before its padding:
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )`, as a table (every request
/// checks every byte of its token against it).
static B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    t
};

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
    let body = rest.trim_end_matches('=');
    if body.is_empty() || !body.bytes().all(|b| B64TOKEN[usize::from(b)]) {
        return Err(AuthError::new(
            Reason::Malformed,
            "the bearer token has characters a token cannot have",
        ));
    }
    Ok(rest)
}
