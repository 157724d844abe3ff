//! jwtauth-core: issue, validate and refresh JSON Web Tokens, keep signing keys and
//! record every authentication failure.
//!
//! The core is synchronous and has no HTTP or terminal in it; `jwtauth-server`,
//! `jwtauth-tui` and the C library `libjwtauth` are thin adapters over [`JwtAuth`].
//!
//! ```
//! use jwtauth_core::{Config, JwtAuth, Reason};
//!
//! let auth = JwtAuth::new(Config::default())?; // ES256 key generated
//! let issued = auth.issue("alice", &["Admin"], &Default::default())?;
//! let claims = auth.validate(&issued.token)?;
//! assert_eq!(claims.subject, "alice");
//! assert!(claims.has_role("Admin"));
//!
//! let err = auth.validate_header(Some(&issued.token), &Default::default()).unwrap_err();
//! assert_eq!(err.reason, Reason::BadScheme); // no "Bearer " prefix
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
pub mod clock;
pub mod config;
mod encoding;
pub mod error;
pub mod keys;
pub mod token;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

pub use crate::audit::RequestInfo;
pub use crate::clock::{Clock, FixedClock, SystemClock};
pub use crate::config::{Config, ConfigError};
pub use crate::error::{AuthError, Reason};
pub use crate::keys::{Algorithm, Key, KeyError, KeyRing, KeyState, Kid};
pub use crate::token::{Claims, IssueError, Issued, Rules};

/// Masks the password of a connection URL (`postgres://user:***@host/db`) so it can
/// be shown in errors and logs.
pub fn store_url_masked(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Why a [`JwtAuth`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key could not be loaded or generated.
    #[error("{context}: {source}")]
    Key {
        /// Which key.
        context: String,
        /// Why.
        source: KeyError,
    },
}

/// The authentication runtime: configuration, the key ring and the clock.
///
/// Cheap to share (`Arc<JwtAuth>`); every method takes `&self` and is safe to call
/// from many threads. Validation takes no lock: the key ring is an immutable value
/// behind an atomic pointer, replaced whole by [`JwtAuth::replace_key_ring`].
pub struct JwtAuth {
    config: Config,
    rules: Rules,
    ring: ArcSwap<KeyRing>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("issuer", &self.config.issuer)
            .field("keys", &self.ring.load().keys().len())
            .finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// Sets up from a configuration with the system clock: the HS secret, the PEM
    /// key file, or else a freshly generated key for `algorithm`.
    pub fn new(config: Config) -> Result<JwtAuth, InitError> {
        JwtAuth::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`JwtAuth::new`] with an injected clock.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<JwtAuth, InitError> {
        let key = initial_key(&config, clock.now())?;
        let ring = KeyRing::new(vec![key]).map_err(|source| InitError::Key {
            context: "key ring".into(),
            source,
        })?;
        Ok(JwtAuth::with_key_ring(config, ring, clock))
    }

    /// Sets up with a ready key ring (e.g. loaded from the store).
    pub fn with_key_ring(config: Config, ring: KeyRing, clock: Arc<dyn Clock>) -> JwtAuth {
        JwtAuth {
            rules: Rules::from_config(&config),
            config,
            ring: ArcSwap::from_pointee(ring),
            clock,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The validation rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// "Now" according to the injected clock, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Replaces the key ring atomically; validations in flight finish with the old one.
    pub fn replace_key_ring(&self, ring: KeyRing) {
        self.ring.store(Arc::new(ring));
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> Value {
        self.ring.load().jwks()
    }

    /// Issues an access token for `subject` with `roles` and extra claims, signed
    /// by the active key, valid for `access_ttl`.
    pub fn issue(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<Issued, IssueError> {
        let ring = self.ring.load();
        let key = ring.active().ok_or(KeyError::NoActiveKey)?;
        let ttl = i64::try_from(self.config.access_ttl.as_secs()).unwrap_or(i64::MAX);
        token::issue(key, &self.rules, self.clock.now(), ttl, subject, roles, extra)
    }

    /// Validates a compact JWS (any bytes are accepted as input); a failure is
    /// recorded in the failure log.
    pub fn validate(&self, token: impl AsRef<[u8]>) -> Result<Claims, AuthError> {
        self.validate_with(token.as_ref(), &RequestInfo::default())
    }

    /// Like [`JwtAuth::validate`], recording `request` with a failure.
    pub fn validate_with(&self, token: impl AsRef<[u8]>, request: &RequestInfo<'_>) -> Result<Claims, AuthError> {
        let token = token.as_ref();
        let ring = self.ring.load();
        token::validate(&ring, &self.rules, self.clock.now(), token).map_err(|r| {
            let fp = (!token.is_empty()).then(|| audit::fingerprint(token));
            audit::record(&audit::FailureEvent {
                reason: r.error.reason,
                hint: &r.error.hint,
                kid: r.kid.as_deref(),
                subject: r.subject.as_deref(),
                subject_verified: r.verified,
                fingerprint: fp.as_deref(),
                request: *request,
            });
            r.error
        })
    }

    /// Validates the token in an `Authorization` header value (`Bearer <token>`).
    /// A missing header or another scheme fails with `missing_token` or `bad_scheme`.
    pub fn validate_header(&self, header: Option<&str>, request: &RequestInfo<'_>) -> Result<Claims, AuthError> {
        match token::bearer_token(header) {
            Ok(t) => self.validate_with(t.as_bytes(), request),
            Err(e) => {
                self.record_failure(&e, None, request);
                Err(e)
            }
        }
    }

    /// Checks that verified claims carry `role`; otherwise fails with
    /// `insufficient_role` and records it.
    pub fn require_role(&self, claims: &Claims, role: &str, request: &RequestInfo<'_>) -> Result<(), AuthError> {
        if claims.has_role(role) {
            return Ok(());
        }
        let e = AuthError::new(
            Reason::InsufficientRole,
            format!(
                "role '{}' is required; the token has [{}]",
                error::clip(role),
                error::clip(&claims.roles.join(", "))
            ),
        );
        audit::record(&audit::FailureEvent {
            reason: e.reason,
            hint: &e.hint,
            kid: Some(claims.kid.as_str()),
            subject: Some(&claims.subject),
            subject_verified: true,
            fingerprint: None,
            request: *request,
        });
        Err(e)
    }

    /// Records a failure that did not come from token validation (bad credentials,
    /// rate limiting, a refresh token reused…).
    pub fn record_failure(&self, error: &AuthError, subject: Option<&str>, request: &RequestInfo<'_>) {
        audit::record(&audit::FailureEvent {
            reason: error.reason,
            hint: &error.hint,
            kid: None,
            subject,
            subject_verified: false,
            fingerprint: None,
            request: *request,
        });
    }
}

fn initial_key(config: &Config, now: i64) -> Result<Key, InitError> {
    let alg = config.algorithm;
    if let Some(secret) = &config.hs_secret {
        return Key::from_secret(alg, secret, now).map_err(|source| InitError::Key {
            context: "hs_secret".into(),
            source,
        });
    }
    if let Some(path) = &config.key_file {
        let text = std::fs::read_to_string(path).map_err(|e| InitError::Key {
            context: format!("key_file {}", path.display()),
            source: KeyError::Invalid(format!("cannot be read: {e}")),
        })?;
        return Key::from_pkcs8_pem(alg, &text, now).map_err(|source| InitError::Key {
            context: format!("key_file {}", path.display()),
            source,
        });
    }
    Key::generate(alg, now).map_err(|source| InitError::Key {
        context: format!("generating a {alg} key"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_url_password_is_masked() {
        assert_eq!(
            store_url_masked("postgres://u:hunter2@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(store_url_masked("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(store_url_masked("sqlite://x.db"), "sqlite://x.db");
    }
}
