//! `jwtauth_status`: one stable number per failure reason of the core, plus the
//! library's own (invalid argument, config, store, internal, not found, type mismatch,
//! closed),
//! and the thread-local hint behind `jwtauth_last_error`.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};

use jwtauth_core::Reason;

/// The result of every fallible function: 0 (`JWTAUTH_STATUS_OK`) on success, else
/// why it failed. `jwtauth_last_error()` then holds a hint for humans.
///
/// The numbers are stable: codes 1 to 99 are the core's failure reasons (the same
/// names appear in the failure log and the HTTP API); new reasons are only ever
/// appended. Codes from 100 on are the library's own. A new version may add codes,
/// so treat an unknown one like `JWTAUTH_STATUS_INTERNAL` and print it with
/// `jwtauth_status_str`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum jwtauth_status {
    /// Success; the out-parameters were written.
    Ok = 0,
    /// No token was presented (NULL header, empty token, "Bearer" alone).
    MissingToken = 1,
    /// The Authorization header does not use the `Bearer` scheme (e.g. a bare token).
    BadScheme = 2,
    /// Not a well-formed compact JWS with a JSON claims set (wrong claim types,
    /// duplicate members and `crit` headers included).
    Malformed = 3,
    /// The token is larger than `max_token_size`; refused before any decoding.
    TooLarge = 4,
    /// `none`, an unsupported algorithm, or not the one the key is pinned to.
    AlgNotAllowed = 5,
    /// No usable key has the token's `kid`.
    UnknownKid = 6,
    /// The signature does not verify.
    BadSignature = 7,
    /// `exp` plus the leeway has passed.
    Expired = 8,
    /// `nbf` or `iat` lies in the future beyond the leeway.
    NotYetValid = 9,
    /// `iss` differs from the configured issuer.
    WrongIssuer = 10,
    /// `aud` names none of the configured audiences.
    WrongAudience = 11,
    /// `exp`, `iss`, `aud` or `sub` is absent.
    MissingClaim = 12,
    /// The session or the subject was revoked.
    Revoked = 13,
    /// A required role is missing.
    InsufficientRole = 14,
    /// The refresh token is unknown or not usable.
    RefreshInvalid = 15,
    /// The refresh token or its session has expired.
    RefreshExpired = 16,
    /// A spent refresh token was presented again; its whole session is revoked.
    RefreshReused = 17,
    /// Wrong username or password.
    BadCredentials = 18,
    /// Too many attempts.
    RateLimited = 19,
    /// An argument is NULL, not UTF-8, out of range or otherwise unusable (e.g. an
    /// empty subject, extra claims that are not a JSON object). Nothing was done.
    InvalidArgument = 100,
    /// The configuration (file, environment, JSON, key file, log directory) is unusable;
    /// the hint names the key and the fix.
    Config = 101,
    /// The store (SQLite file or PostgreSQL) failed or is unreachable.
    Store = 102,
    /// A bug or an unexpected condition inside the library (a caught panic included).
    Internal = 103,
    /// The claim, value or index asked for is not there (e.g. a token without `jti`).
    NotFound = 104,
    /// The claim exists but has another JSON type than asked for, or holds a NUL
    /// character and so cannot be returned as a C string.
    TypeMismatch = 105,
    /// The handle was closed with `jwtauth_close`; nothing was done. Open a new one.
    Closed = 106,
}

impl jwtauth_status {
    /// Every status, in code order.
    pub const ALL: &'static [jwtauth_status] = &[
        jwtauth_status::Ok,
        jwtauth_status::MissingToken,
        jwtauth_status::BadScheme,
        jwtauth_status::Malformed,
        jwtauth_status::TooLarge,
        jwtauth_status::AlgNotAllowed,
        jwtauth_status::UnknownKid,
        jwtauth_status::BadSignature,
        jwtauth_status::Expired,
        jwtauth_status::NotYetValid,
        jwtauth_status::WrongIssuer,
        jwtauth_status::WrongAudience,
        jwtauth_status::MissingClaim,
        jwtauth_status::Revoked,
        jwtauth_status::InsufficientRole,
        jwtauth_status::RefreshInvalid,
        jwtauth_status::RefreshExpired,
        jwtauth_status::RefreshReused,
        jwtauth_status::BadCredentials,
        jwtauth_status::RateLimited,
        jwtauth_status::InvalidArgument,
        jwtauth_status::Config,
        jwtauth_status::Store,
        jwtauth_status::Internal,
        jwtauth_status::NotFound,
        jwtauth_status::TypeMismatch,
        jwtauth_status::Closed,
    ];

    /// The status with this number, if any.
    pub fn from_code(code: u32) -> Option<jwtauth_status> {
        jwtauth_status::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// The snake_case name: for reasons, exactly the core's `Reason::as_str()`.
    pub fn name(self) -> &'static CStr {
        use jwtauth_status as S;
        match self {
            S::Ok => c"ok",
            S::MissingToken => c"missing_token",
            S::BadScheme => c"bad_scheme",
            S::Malformed => c"malformed",
            S::TooLarge => c"too_large",
            S::AlgNotAllowed => c"alg_not_allowed",
            S::UnknownKid => c"unknown_kid",
            S::BadSignature => c"bad_signature",
            S::Expired => c"expired",
            S::NotYetValid => c"not_yet_valid",
            S::WrongIssuer => c"wrong_issuer",
            S::WrongAudience => c"wrong_audience",
            S::MissingClaim => c"missing_claim",
            S::Revoked => c"revoked",
            S::InsufficientRole => c"insufficient_role",
            S::RefreshInvalid => c"refresh_invalid",
            S::RefreshExpired => c"refresh_expired",
            S::RefreshReused => c"refresh_reused",
            S::BadCredentials => c"bad_credentials",
            S::RateLimited => c"rate_limited",
            S::InvalidArgument => c"invalid_argument",
            S::Config => c"config",
            S::Store => c"store",
            S::Internal => c"internal",
            S::NotFound => c"not_found",
            S::TypeMismatch => c"type_mismatch",
            S::Closed => c"closed",
        }
    }
}

impl From<Reason> for jwtauth_status {
    /// The status numbered like the reason; a reason unknown to this table (a core
    /// newer than the ABI) is internal, which a test rules out.
    fn from(r: Reason) -> Self {
        jwtauth_status::from_code(u32::from(r.code())).unwrap_or(jwtauth_status::Internal)
    }
}

/// A failed call: its status and the hint for `jwtauth_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: jwtauth_status,
    pub hint: String,
}

impl Failure {
    pub fn new(status: jwtauth_status, hint: impl Into<String>) -> Self {
        Failure {
            status,
            hint: hint.into(),
        }
    }

    pub fn invalid(hint: impl Into<String>) -> Self {
        Failure::new(jwtauth_status::InvalidArgument, hint)
    }

    /// What a panic caught at the boundary becomes.
    pub fn panicked() -> Self {
        Failure::new(
            jwtauth_status::Internal,
            "internal error: a panic was caught at the C boundary (please report it)",
        )
    }

    /// Stores the hint for this thread and returns the status.
    pub fn report(self) -> jwtauth_status {
        set_last_error(&self.hint);
        self.status
    }
}

impl From<jwtauth_core::AuthError> for Failure {
    fn from(e: jwtauth_core::AuthError) -> Self {
        Failure::new(e.reason.into(), e.hint)
    }
}

impl From<jwtauth_core::ConfigError> for Failure {
    fn from(e: jwtauth_core::ConfigError) -> Self {
        Failure::new(jwtauth_status::Config, e.to_string())
    }
}

impl From<jwtauth_core::InitError> for Failure {
    fn from(e: jwtauth_core::InitError) -> Self {
        use jwtauth_core::InitError as E;
        let status = match &e {
            // A key that cannot be read or parsed is a configuration problem too.
            E::Config(_) | E::Key { .. } => jwtauth_status::Config,
            E::Store(_) => jwtauth_status::Store,
            _ => jwtauth_status::Internal,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<jwtauth_core::Error> for Failure {
    fn from(e: jwtauth_core::Error) -> Self {
        use jwtauth_core::Error as E;
        match e {
            E::Auth(a) => a.into(),
            E::Issue(i) => i.into(),
            E::Store(s) => Failure::new(jwtauth_status::Store, s.to_string()),
            // A refused administration request: the caller asked for something that cannot be done.
            E::KeyAdmin(why) => Failure::invalid(why.to_string()),
            E::User(why) => Failure::invalid(why.to_string()),
            other => Failure::new(jwtauth_status::Internal, other.to_string()),
        }
    }
}

/// The service errors of the core, each handled like the same case of
/// [`jwtauth_core::Error`].
macro_rules! via_core_error {
    ($($t:ty),*) => {
        $(impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                jwtauth_core::Error::from(e).into()
            }
        })*
    };
}

via_core_error!(
    jwtauth_core::StoreError,
    jwtauth_core::SessionError,
    jwtauth_core::KeyAdminError,
    jwtauth_core::UserError
);

impl From<jwtauth_core::IssueError> for Failure {
    fn from(e: jwtauth_core::IssueError) -> Self {
        use jwtauth_core::IssueError as E;
        let status = match &e {
            E::EmptySubject | E::ReservedClaim(_) | E::InvalidSubject | E::InvalidRole(_) | E::TooLarge { .. } => {
                jwtauth_status::InvalidArgument
            }
            _ => jwtauth_status::Internal,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<jwtauth_core::audit::LogError> for Failure {
    fn from(e: jwtauth_core::audit::LogError) -> Self {
        Failure::new(jwtauth_status::Config, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Forgets this thread's hint (every entry point starts with it).
pub(crate) fn clear_last_error() {
    // `try_with`: during thread teardown the slot may be gone; nothing to clear then.
    let _ = LAST_ERROR.try_with(|slot| slot.borrow_mut().take());
}

fn set_last_error(hint: &str) {
    let text = CString::new(hint.replace('\0', "?")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(text));
}

/// This thread's hint as a C string ("" when none).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(|c| c.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_reason_has_the_status_with_its_code_and_name() {
        for &r in Reason::ALL {
            let s = jwtauth_status::from(r);
            assert_eq!(s as u32, u32::from(r.code()), "{r}");
            assert_eq!(s.name().to_str().unwrap(), r.as_str());
        }
        // Reasons and the library's own codes do not overlap.
        for s in jwtauth_status::ALL {
            let code = *s as u32;
            assert!(
                code == 0 || code >= 100 || Reason::from_code(code as u16).is_some(),
                "{s:?}"
            );
        }
        assert_eq!(jwtauth_status::ALL.len(), Reason::ALL.len() + 8);
    }

    #[test]
    fn codes_are_unique_and_stable() {
        let mut codes: Vec<u32> = jwtauth_status::ALL.iter().map(|s| *s as u32).collect();
        codes.dedup();
        assert_eq!(codes.len(), jwtauth_status::ALL.len());
        assert_eq!(jwtauth_status::Expired as u32, 8);
        assert_eq!(jwtauth_status::InvalidArgument as u32, 100);
        assert_eq!(jwtauth_status::Internal as u32, 103);
        assert_eq!(jwtauth_status::from_code(999), None);
    }

    #[test]
    fn last_error_is_per_thread_and_cleared() {
        Failure::invalid("left here").report();
        // SAFETY: the pointer comes from this thread's slot, alive until the next call.
        let here = unsafe { CStr::from_ptr(last_error_ptr()) }.to_str().unwrap().to_owned();
        assert_eq!(here, "left here");
        let other = std::thread::spawn(|| {
            // SAFETY: as above, on the other thread.
            unsafe { CStr::from_ptr(last_error_ptr()) }.to_str().unwrap().to_owned()
        })
        .join()
        .unwrap();
        assert_eq!(other, "");
        clear_last_error();
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(last_error_ptr()) }.to_bytes(), b"");
        Failure::invalid("nul\0inside").report();
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(last_error_ptr()) }.to_bytes(), b"nul?inside");
    }
}
