//! The one vocabulary of failure reasons and the error types built on it.

use std::fmt;
use std::str::FromStr;

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// Why an authentication attempt failed.
        ///
        /// The same names are used by the C status codes, the HTTP `error_description`
        /// prefix, the `reason` field of the failure log and the admin TUI's filter.
        /// The numeric codes are stable: they are the C ABI's status numbers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl Reason {
            /// Every reason, in code order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The snake_case name used in logs, HTTP bodies and filters.
            pub const fn as_str(self) -> &'static str {
                match self { $( Reason::$variant => $name, )* }
            }

            /// The stable numeric code (also the C `jwtauth_status` value).
            pub const fn code(self) -> u16 {
                self as u16
            }

            /// The reason with this stable code, if any.
            pub fn from_code(code: u16) -> Option<Reason> {
                match code { $( $code => Some(Reason::$variant), )* _ => None }
            }
        }

        impl FromStr for Reason {
            type Err = UnknownReason;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $( $name => Ok(Reason::$variant), )* _ => Err(UnknownReason(s.chars().take(64).collect())) }
            }
        }
    };
}

reasons! {
    /// No token was presented.
    MissingToken = 1, "missing_token";
    /// The Authorization header does not use the `Bearer` scheme.
    BadScheme = 2, "bad_scheme";
    /// The token is not a well-formed compact JWS carrying a JSON claims set.
    Malformed = 3, "malformed";
    /// The token is larger than the configured limit.
    TooLarge = 4, "too_large";
    /// The header names an algorithm that is not allowed (including `none`) or that
    /// differs from the one the key is pinned to.
    AlgNotAllowed = 5, "alg_not_allowed";
    /// The header names a key id that is not in the key ring.
    UnknownKid = 6, "unknown_kid";
    /// The signature does not verify.
    BadSignature = 7, "bad_signature";
    /// The token has expired.
    Expired = 8, "expired";
    /// The token is not valid yet (`nbf` or `iat` in the future).
    NotYetValid = 9, "not_yet_valid";
    /// The `iss` claim does not match the configured issuer.
    WrongIssuer = 10, "wrong_issuer";
    /// The `aud` claim does not contain a configured audience.
    WrongAudience = 11, "wrong_audience";
    /// A required claim is absent.
    MissingClaim = 12, "missing_claim";
    /// The token or session was revoked.
    Revoked = 13, "revoked";
    /// The caller lacks a required role.
    InsufficientRole = 14, "insufficient_role";
    /// The refresh token is unknown or not usable.
    RefreshInvalid = 15, "refresh_invalid";
    /// The refresh token (or its family) has expired.
    RefreshExpired = 16, "refresh_expired";
    /// A refresh token was presented again after it had been spent.
    RefreshReused = 17, "refresh_reused";
    /// Username or password is wrong.
    BadCredentials = 18, "bad_credentials";
    /// Too many attempts.
    RateLimited = 19, "rate_limited";
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`Reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure reason '{0}'")]
pub struct UnknownReason(pub String);

/// An authentication failure: a [`Reason`] and a hint for humans.
///
/// The hint never contains a secret or a whole token; it may contain claim values
/// such as the issuer or audience the token carried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {hint}")]
pub struct AuthError {
    /// The machine-readable reason.
    pub reason: Reason,
    /// What went wrong, in words a person can act on.
    pub hint: String,
    /// The issuer whose rules judged the token (this service's or a trusted one's),
    /// for failure events and metric labels; `None` when no issuer was chosen (no
    /// token, or an `iss` that is neither ours nor trusted).
    pub issuer: Option<String>,
}

impl AuthError {
    /// A failure with the given reason and hint.
    pub fn new(reason: Reason, hint: impl Into<String>) -> Self {
        AuthError {
            reason,
            hint: hint.into(),
            issuer: None,
        }
    }
}

/// Whether `c` would rearrange or hide text around it in a log or a terminal:
/// bidirectional overrides and isolates (U+202E shows "gpj.exe" as "exe.jpg"),
/// zero-width and other format characters, line and paragraph separators, tags.
pub(crate) fn is_invisible_or_reordering(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Shortens a value taken from an untrusted token before it is put in a hint,
/// so a hostile token cannot flood logs; control, bidirectional and invisible
/// format characters become `?`, so it cannot disguise itself either.
pub fn clip(s: &str) -> String {
    clip_to(s, 80).into_owned()
}

/// [`clip`] to at most `max` characters (then `…`); borrowed when `s` is already
/// clean and short enough.
pub fn clip_to(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || is_invisible_or_reordering(c);
    if s.len() <= max && !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut clean: String = s
        .chars()
        .take(max)
        .map(|c| if unsafe_char(c) { '?' } else { c })
        .collect();
    if s.chars().nth(max).is_some() {
        clean.push('…');
    }
    std::borrow::Cow::Owned(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_neutralises_bidi_overrides_and_invisible_characters() {
        assert_eq!(clip("evil\u{202E}gpj.exe"), "evil?gpj.exe");
        assert_eq!(clip("a\u{2066}b\u{2069}c\u{200B}d\u{FEFF}e\u{2028}f"), "a?b?c?d?e?f");
        assert_eq!(clip("tag\u{E0041}"), "tag?");
        assert_eq!(clip("line\nbreak\u{7}"), "line?break?");
        // Letters of every script pass unchanged.
        assert_eq!(clip("Zoë Ωμέγα 東京 مرحبا"), "Zoë Ωμέγα 東京 مرحبا");
    }

    #[test]
    fn every_reason_round_trips_through_its_name_and_code() {
        for &r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(Reason::ALL.len(), 19);
        assert!("nope".parse::<Reason>().is_err());
        assert_eq!(Reason::from_code(0), None);
    }

    #[test]
    fn reason_codes_are_stable() {
        assert_eq!(Reason::MissingToken.code(), 1);
        assert_eq!(Reason::Expired.code(), 8);
        assert_eq!(Reason::RateLimited.code(), 19);
    }

    #[test]
    fn clip_bounds_untrusted_text_and_strips_control_characters() {
        assert_eq!(clip("a\nb"), "a?b");
        let long = "x".repeat(500);
        assert_eq!(clip(&long).chars().count(), 81);
    }
}
