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
pub mod crypt;
mod encoding;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod keystore;
pub mod limits;
mod maintenance;
pub mod products;
pub mod sessions;
pub mod store;
pub mod token;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

pub use crate::audit::RequestInfo;
pub use crate::clock::{Clock, FixedClock, SystemClock};
pub use crate::config::{Config, ConfigError};
pub use crate::crypt::MasterKey;
pub use crate::error::{AuthError, Reason};
pub use crate::keys::{Algorithm, Key, KeyError, KeyRing, KeyState, Kid};
pub use crate::keystore::KeyInfo;
pub use crate::sessions::{RefreshToken, SessionInfo};
pub use crate::store::{Store, StoreError};
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
    /// The store cannot be opened or its keys cannot be loaded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Any failure of a [`JwtAuth`] operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An authentication failure, with its [`Reason`].
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A token could not be issued.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The operation needs a store, and this instance was built without one.
    #[error("this operation needs a store: open jwtauth with JwtAuth::open")]
    NoStore,
    /// The operation is not allowed (e.g. retiring the active key).
    #[error("{0}")]
    Refused(String),
}

impl Error {
    /// The failure reason, when this is an authentication failure.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Auth(e) => Some(e.reason),
            _ => None,
        }
    }
}

/// A new access token with its refresh token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token.
    pub access: Issued,
    /// The refresh token (opaque; its `Debug` shows a fingerprint only).
    pub refresh_token: RefreshToken,
    /// When the refresh token expires unless used (idle or absolute limit).
    pub refresh_expires_at: i64,
    /// The session (refresh-token family) id.
    pub family_id: String,
}

pub(crate) struct Inner {
    config: Config,
    rules: Rules,
    ring: ArcSwap<KeyRing>,
    clock: Arc<dyn Clock>,
    store: Option<Store>,
    master: Option<MasterKey>,
    /// subject → access tokens issued at or before this second are revoked.
    watermarks: ArcSwap<HashMap<String, i64>>,
    started: Instant,
    /// Milliseconds since `started` of the last on-demand key reload.
    last_reload_ms: AtomicU64,
    /// Tokens verified before (`validation_cache`; `None` when 0).
    verified: Option<token::VerifiedTokens>,
}

/// The authentication runtime: configuration, the key ring, the clock and (when
/// opened with [`JwtAuth::open`]) the store with sessions and key lifecycle.
///
/// Share it in an `Arc`; every method takes `&self` and is safe to call from many
/// threads. Validation does no I/O of its own: the key ring and the revocation
/// watermarks are immutable values behind atomic pointers, refreshed by a
/// background thread (every `key_reload_interval` and `revocation_staleness`, and
/// at once, rate-limited, when a token names an unknown kid; the validating call
/// waits for that reload, see [`JwtAuth::validate_header_nonblocking`]). The
/// verified-token cache is sharded: a lookup holds one shard's lock for a probe.
pub struct JwtAuth {
    inner: Arc<Inner>,
    maintenance: Option<maintenance::Handle>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("issuer", &self.inner.config.issuer)
            .field("keys", &self.inner.ring.load().keys().len())
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// Sets up without a store, with the system clock: the HS secret, the PEM key
    /// file, or else a freshly generated key (kept in memory only). Issuing and
    /// validation work; sessions and key lifecycle need [`JwtAuth::open`].
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

    /// Sets up with a ready key ring and no store.
    pub fn with_key_ring(config: Config, ring: KeyRing, clock: Arc<dyn Clock>) -> JwtAuth {
        JwtAuth {
            inner: Arc::new(Inner::new(config, ring, clock, None, None)),
            maintenance: None,
        }
    }

    /// Opens the store named by `store.url` (applying migrations), makes sure it has
    /// an active key (the configured HS secret or key file, else a generated key
    /// for `algorithm`), loads the key ring and starts the background refresh.
    pub fn open(config: Config) -> Result<JwtAuth, InitError> {
        JwtAuth::open_with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`JwtAuth::open`] with an injected clock.
    pub fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<JwtAuth, InitError> {
        let master = MasterKey::from_config(&config)?;
        if master.is_none() {
            tracing::warn!(
                "no master key: signing keys are stored UNENCRYPTED in {}. Anyone who can read that database can forge tokens. Set {} to 32 random bytes (e.g. `openssl rand -base64 32`) before the first start",
                store_url_masked(&config.store.url),
                crypt::MASTER_KEY_ENV
            );
        }
        let store = Store::open(&config.store.url, config.store.pool_size)?;
        let now = clock.now();
        let configured = configured_key(&config, now)?;
        keystore::ensure_active(
            &store,
            master.as_ref(),
            configured,
            config.algorithm,
            now,
            verify_window(&config),
        )?;
        let ring = keystore::load_ring(&store, master.as_ref(), now)?;
        let inner = Arc::new(Inner::new(config, ring, clock, Some(store), master));
        inner.reload_watermarks()?;
        let maintenance = Some(maintenance::start(Arc::downgrade(&inner)));
        Ok(JwtAuth { inner, maintenance })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The validation rules in force.
    pub fn rules(&self) -> &Rules {
        &self.inner.rules
    }

    /// "Now" according to the injected clock, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The store, when opened with one.
    pub fn store(&self) -> Option<&Store> {
        self.inner.store.as_ref()
    }

    /// Whether stored keys are sealed with a master key.
    pub fn has_master_key(&self) -> bool {
        self.inner.master.is_some()
    }

    /// The current key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.inner.ring.load_full()
    }

    /// Replaces the key ring atomically; validations in flight finish with the old one.
    pub fn replace_key_ring(&self, ring: KeyRing) {
        self.inner.ring.store(Arc::new(ring));
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> Value {
        self.inner.ring.load().jwks()
    }

    /// Issues an access token for `subject` with `roles` and extra claims, signed
    /// by the active key, valid for `access_ttl`.
    pub fn issue(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<Issued, IssueError> {
        self.inner.issue(subject, roles, extra)
    }

    /// Validates a compact JWS (any bytes are accepted as input); a failure is
    /// recorded in the failure log.
    pub fn validate(&self, token: impl AsRef<[u8]>) -> Result<Claims, AuthError> {
        self.validate_with(token.as_ref(), &RequestInfo::default())
    }

    /// Like [`JwtAuth::validate`], recording `request` with a failure.
    pub fn validate_with(&self, token: impl AsRef<[u8]>, request: &RequestInfo<'_>) -> Result<Claims, AuthError> {
        let token = token.as_ref();
        let mut result = self.inner.check(token);
        if let Err(r) = &result
            && r.error.reason == Reason::UnknownKid
            && self.reload_keys_now()
        {
            result = self.inner.check(token);
        }
        self.conclude(token, result, request)
    }

    /// Like [`JwtAuth::validate_header`], but never blocks: `None` when the token
    /// names a key this process does not know and a reload from the store is due
    /// (another process may have just rotated it). Nothing is recorded then; call
    /// [`JwtAuth::validate_header`] where blocking is allowed (for an async server,
    /// on its blocking pool) for the verdict. Otherwise the verdict, recorded like
    /// `validate_header`'s.
    pub fn validate_header_nonblocking(
        &self,
        header: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Option<Result<Claims, AuthError>> {
        let token = match token::bearer_token(header) {
            Ok(t) => t.as_bytes(),
            Err(e) => {
                self.record_failure(&e, None, request);
                return Some(Err(e));
            }
        };
        let result = self.inner.check(token);
        if let Err(r) = &result
            && r.error.reason == Reason::UnknownKid
            && self.reload_due()
        {
            return None;
        }
        Some(self.conclude(token, result, request))
    }

    /// Records a failed check; hands on the claims or the error.
    fn conclude(
        &self,
        token: &[u8],
        result: Result<Claims, token::Rejection>,
        request: &RequestInfo<'_>,
    ) -> Result<Claims, AuthError> {
        result.map_err(|r| {
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
    /// rate limiting…).
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

    fn store_or_err(&self) -> Result<&Store, Error> {
        self.inner.store.as_ref().ok_or(Error::NoStore)
    }

    /// Reloads the revocation watermarks from the store now.
    pub fn reload_watermarks(&self) -> Result<(), Error> {
        Ok(self.inner.reload_watermarks()?)
    }

    /// One bounded maintenance pass: retires verify-only keys past their window and
    /// deletes up to `limit` expired or revoked sessions. Returns sessions deleted.
    pub fn sweep(&self, limit: usize) -> Result<u64, Error> {
        Ok(self.inner.sweep(i64::try_from(limit).unwrap_or(i64::MAX))?)
    }

    /// Asks the background thread to reload keys, rate-limited to once a second;
    /// waits briefly. Returns whether a reload happened.
    fn reload_keys_now(&self) -> bool {
        let Some(m) = &self.maintenance else { return false };
        let now_ms = self.elapsed_ms();
        let last = self.inner.last_reload_ms.load(Ordering::Relaxed);
        if !Self::reload_allowed(last, now_ms) {
            return false;
        }
        if self
            .inner
            .last_reload_ms
            .compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        m.reload_keys(Duration::from_secs(2))
    }

    /// Whether an unknown kid would now trigger a reload (and a wait for it).
    fn reload_due(&self) -> bool {
        self.maintenance.is_some()
            && Self::reload_allowed(self.inner.last_reload_ms.load(Ordering::Relaxed), self.elapsed_ms())
    }

    /// On-demand reloads happen at most once a second.
    fn reload_allowed(last_ms: u64, now_ms: u64) -> bool {
        last_ms == 0 || now_ms.saturating_sub(last_ms) >= 1_000
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// How long a demoted key keeps verifying: every token it signed has expired by then.
fn verify_window(c: &Config) -> i64 {
    secs(c.access_ttl).saturating_add(secs(c.leeway))
}

impl Inner {
    fn new(
        config: Config,
        ring: KeyRing,
        clock: Arc<dyn Clock>,
        store: Option<Store>,
        master: Option<MasterKey>,
    ) -> Inner {
        Inner {
            rules: Rules::from_config(&config),
            verified: (config.validation_cache > 0).then(|| token::VerifiedTokens::new(config.validation_cache)),
            config,
            ring: ArcSwap::from_pointee(ring),
            clock,
            store,
            master,
            watermarks: ArcSwap::from_pointee(HashMap::new()),
            started: Instant::now(),
            last_reload_ms: AtomicU64::new(0),
        }
    }

    fn issue(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<Issued, IssueError> {
        let ring = self.ring.load();
        let key = ring.active().ok_or(KeyError::NoActiveKey)?;
        token::issue(
            key,
            &self.rules,
            self.clock.now(),
            secs(self.config.access_ttl),
            subject,
            roles,
            extra,
        )
    }

    fn check(&self, token: &[u8]) -> Result<Claims, token::Rejection> {
        let ring = self.ring.load();
        let now = self.clock.now();
        let remembered = self
            .verified
            .as_ref()
            .and_then(|v| v.get(token, &ring, &self.rules, now));
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = token::validate(&ring, &self.rules, now, token)?;
                if let Some(v) = &self.verified {
                    v.insert(token, &ring, &claims);
                }
                claims
            }
        };
        // Revocation is checked on every use, remembered token or not.
        let marks = self.watermarks.load();
        if !marks.is_empty()
            && let Some(&mark) = marks.get(&claims.subject)
            && claims.issued_at.unwrap_or(0) <= mark
        {
            return Err(token::Rejection {
                error: AuthError::new(
                    Reason::Revoked,
                    format!("every session of this subject was revoked at {mark}; log in again"),
                ),
                kid: Some(claims.kid.to_string()),
                subject: Some(error::clip(&claims.subject)),
                verified: true,
            });
        }
        Ok(claims)
    }

    pub(crate) fn reload_keys(&self) -> Result<(), StoreError> {
        if let Some(store) = &self.store {
            let ring = keystore::load_ring(store, self.master.as_ref(), self.clock.now())?;
            self.ring.store(Arc::new(ring));
        }
        Ok(())
    }

    pub(crate) fn reload_watermarks(&self) -> Result<(), StoreError> {
        if let Some(store) = &self.store {
            let horizon = self
                .clock
                .now()
                .saturating_sub(secs(self.config.max_access_ttl).saturating_add(secs(self.config.leeway)));
            let marks: HashMap<String, i64> = sessions::watermarks(store, horizon)?.into_iter().collect();
            self.watermarks.store(Arc::new(marks));
        }
        Ok(())
    }

    pub(crate) fn sweep(&self, limit: i64) -> Result<u64, StoreError> {
        let Some(store) = &self.store else { return Ok(0) };
        let now = self.clock.now();
        if keystore::sweep(store, now)? > 0 {
            self.reload_keys()?;
        }
        // Keep finished sessions a day, so a late replay still reads as reuse or expiry.
        let horizon = now.saturating_sub(secs(self.config.max_access_ttl).saturating_add(secs(self.config.leeway)));
        sessions::purge(store, now.saturating_sub(86_400), horizon, limit)
    }

    pub(crate) fn tick_intervals(&self) -> (Duration, Duration) {
        (
            self.config.revocation_staleness.max(Duration::from_millis(100)),
            self.config.key_reload_interval,
        )
    }
}

/// The configured static key (HS secret or PEM key file), if any.
fn configured_key(config: &Config, now: i64) -> Result<Option<Key>, InitError> {
    if config.hs_secret.is_some() || config.key_file.is_some() {
        initial_key(config, now).map(Some)
    } else {
        Ok(None)
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
        let text = config::read_secret_file(path).map_err(|e| InitError::Key {
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
