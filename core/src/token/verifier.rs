//! The [`Verifier`]: "is this token good now". It owns everything that question
//! needs — the key ring, the rules, the verified-token cache and the revocation
//! watermarks — and is the one place where a rejected token is recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::Value;

use super::revocation::Revoked;
use super::{Claims, Rejection, Revocations, Rules, VerifiedTokens, bearer_token, validate};
use crate::audit::{self, FailureEvent, RequestInfo};
use crate::clock::Clock;
use crate::error::{AuthError, Reason, clip};
use crate::issuers::{IssuerStatus, TrustedIssuer};
use crate::keys::KeyRing;

/// A trusted external issuer as the verifier sees it: its rules and its key set.
pub(crate) struct External {
    pub rules: Arc<Rules>,
    pub keys: TrustedIssuer,
}

/// The verdict of [`Verifier::check_header`], which never blocks.
#[derive(Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// The token is good now. Shared: a remembered token's claims are not copied.
    Valid(Arc<Claims>),
    /// The token is refused; the failure has been recorded.
    Invalid(AuthError),
    /// The token names a key this process does not know, and a reload from the
    /// store is due (another process may have just rotated it). Nothing has been
    /// recorded: call [`Verifier::validate_header`] where blocking is allowed (an
    /// async server: on its blocking pool) for the verdict.
    NeedsKeyReload,
}

/// Asks the store's maintenance thread to reload the key ring and waits up to the
/// given time; true when a reload happened.
pub(crate) type ReloadKeys = Box<dyn Fn(Duration) -> bool + Send + Sync>;

/// On-demand key reloads: at most one a second, however many unknown kids arrive.
struct Reloader {
    reload: ReloadKeys,
    started: Instant,
    /// Milliseconds since `started` of the last on-demand reload (0: none yet).
    last_ms: AtomicU64,
}

impl Reloader {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn allowed(last_ms: u64, now_ms: u64) -> bool {
        last_ms == 0 || now_ms.saturating_sub(last_ms) >= 1_000
    }

    fn due(&self) -> bool {
        Self::allowed(self.last_ms.load(Ordering::Relaxed), self.elapsed_ms())
    }

    /// Reloads now unless one happened in the last second (or is happening).
    fn reload_now(&self) -> bool {
        let now_ms = self.elapsed_ms();
        let last = self.last_ms.load(Ordering::Relaxed);
        if !Self::allowed(last, now_ms) {
            return false;
        }
        if self
            .last_ms
            .compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        (self.reload)(Duration::from_secs(2))
    }
}

struct Parts {
    rules: Arc<Rules>,
    ring: Arc<ArcSwap<KeyRing>>,
    cache: Option<VerifiedTokens>,
    revocations: Arc<Revocations>,
    clock: Arc<dyn Clock>,
    reloader: Option<Reloader>,
    /// Trusted external issuers, picked by the token's `iss`.
    external: Vec<External>,
}

/// Whose keys and rules a token is checked with.
enum Route<'a> {
    Ours,
    External(&'a External),
}

/// Validates access tokens: strictly (RFC 8725), against the current key ring,
/// remembering verified tokens (`validation_cache`) and checking revocation on
/// every use. Every rejection is recorded in the failure log, once.
///
/// Cheap to clone; every method takes `&self` and is safe from many threads.
/// Validation does no I/O of its own: the ring and the watermarks are immutable
/// values behind atomic pointers, refreshed by the store's background thread. Only
/// a token naming an unknown kid may wait (up to 2 s, at most once a second) for an
/// on-demand reload; [`Verifier::check_header`] never waits.
#[derive(Clone)]
pub struct Verifier(Arc<Parts>);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.0.rules.issuer)
            .field("keys", &self.0.ring.load().keys().len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub(crate) fn new(
        rules: Arc<Rules>,
        ring: Arc<ArcSwap<KeyRing>>,
        cache_size: usize,
        revocations: Arc<Revocations>,
        clock: Arc<dyn Clock>,
        reload: Option<ReloadKeys>,
    ) -> Verifier {
        Verifier(Arc::new(Parts {
            rules,
            ring,
            cache: (cache_size > 0).then(|| VerifiedTokens::new(cache_size)),
            revocations,
            clock,
            reloader: reload.map(|reload| Reloader {
                reload,
                started: Instant::now(),
                last_ms: AtomicU64::new(0),
            }),
            external: Vec::new(),
        }))
    }

    /// The same verifier also accepting the tokens of these trusted issuers.
    /// Called once, right after [`Verifier::new`].
    pub(crate) fn trusting(mut self, external: Vec<External>) -> Verifier {
        if let Some(p) = Arc::get_mut(&mut self.0) {
            p.external = external;
        }
        self
    }

    /// How the verified-token cache has done (`None` with `validation_cache = 0`).
    pub fn cache_stats(&self) -> Option<super::CacheStats> {
        self.0.cache.as_ref().map(VerifiedTokens::stats)
    }

    /// The trusted external issuers and what is known of each now.
    pub fn trusted_issuers(&self) -> Vec<IssuerStatus> {
        self.0.external.iter().map(|e| e.keys.status()).collect()
    }

    /// The rules applied to a trusted issuer's tokens.
    pub fn trusted_rules(&self, issuer: &str) -> Option<&Rules> {
        self.0
            .external
            .iter()
            .find(|e| e.rules.issuer == issuer)
            .map(|e| &*e.rules)
    }

    /// Picks the issuer by the token's (still unverified) `iss`: ours, one we
    /// trust, or none (`wrong_issuer`). Without trusted issuers nothing is read.
    fn route(&self, token: &[u8]) -> Result<Route<'_>, Rejection> {
        let p = &*self.0;
        if p.external.is_empty() || token.len() > p.rules.max_size {
            return Ok(Route::Ours);
        }
        let Some(iss) = peek_issuer(token) else {
            return Ok(Route::Ours); // validation says what is wrong with it
        };
        if iss == p.rules.issuer {
            return Ok(Route::Ours);
        }
        if let Some(e) = p.external.iter().find(|e| e.rules.issuer == iss) {
            return Ok(Route::External(e));
        }
        let accepted: Vec<String> = std::iter::once(&p.rules.issuer)
            .chain(p.external.iter().map(|e| &e.rules.issuer))
            .map(|i| format!("'{}'", clip(i)))
            .collect();
        Err(Rejection {
            error: AuthError::new(
                Reason::WrongIssuer,
                format!(
                    "token iss is '{}', which is neither this service nor a trusted issuer; accepted: {}",
                    clip(&iss),
                    accepted.join(", ")
                ),
            ),
            kid: None,
            subject: None,
            verified: false,
        })
    }

    /// Asks the trusted issuer a token names for its keys again (bounded by its
    /// cooldown); true when a fetch ended.
    fn refetch_for(&self, token: &[u8], wait: bool) -> bool {
        match self.route(token) {
            Ok(Route::External(e)) if wait => e.keys.refetch(e.keys.settings().fetch_timeout + Duration::from_secs(1)),
            Ok(Route::External(e)) => e.keys.refetch_due(),
            _ => false,
        }
    }

    /// The validation rules in force.
    pub fn rules(&self) -> &Rules {
        &self.0.rules
    }

    /// The current key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.0.ring.load_full()
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> Value {
        self.0.ring.load().jwks()
    }

    /// "Now" according to the clock, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    /// Validates a compact JWS (any bytes are accepted as input); a failure is
    /// recorded in the failure log.
    pub fn validate(&self, token: impl AsRef<[u8]>) -> Result<Claims, AuthError> {
        self.validate_with(token, &RequestInfo::default())
    }

    /// Like [`Verifier::validate`], recording `request` with a failure.
    pub fn validate_with(&self, token: impl AsRef<[u8]>, request: &RequestInfo<'_>) -> Result<Claims, AuthError> {
        let token = token.as_ref();
        let mut result = self.check(token);
        if let Err(r) = &result
            && r.error.reason == Reason::UnknownKid
            && (self.refetch_for(token, true) || self.0.reloader.as_ref().is_some_and(Reloader::reload_now))
        {
            result = self.check(token);
        }
        self.conclude(token, result, request).map(Arc::unwrap_or_clone)
    }

    /// Validates the token in an `Authorization` header value (`Bearer <token>`).
    /// A missing header or another scheme fails with `missing_token` or `bad_scheme`.
    pub fn validate_header(&self, header: Option<&str>, request: &RequestInfo<'_>) -> Result<Claims, AuthError> {
        match bearer_token(header) {
            Ok(t) => self.validate_with(t.as_bytes(), request),
            Err(e) => Err(self.reject_request(e, request)),
        }
    }

    /// Like [`Verifier::validate_header`], but never blocks: see [`Verdict`].
    pub fn check_header(&self, header: Option<&str>, request: &RequestInfo<'_>) -> Verdict {
        let token = match bearer_token(header) {
            Ok(t) => t.as_bytes(),
            Err(e) => return Verdict::Invalid(self.reject_request(e, request)),
        };
        let result = self.check(token);
        if let Err(r) = &result
            && r.error.reason == Reason::UnknownKid
            && (self.refetch_for(token, false) || self.0.reloader.as_ref().is_some_and(Reloader::due))
        {
            return Verdict::NeedsKeyReload;
        }
        match self.conclude(token, result, request) {
            Ok(claims) => Verdict::Valid(claims),
            Err(e) => Verdict::Invalid(e),
        }
    }

    /// Checks that verified claims carry `role`; otherwise fails with
    /// `insufficient_role` and records it.
    pub fn require_role(&self, claims: &Claims, role: &str, request: &RequestInfo<'_>) -> Result<(), AuthError> {
        if claims.has_role(role) {
            return Ok(());
        }
        let mut e = AuthError::new(
            Reason::InsufficientRole,
            format!(
                "role '{}' is required; the token has [{}]",
                clip(role),
                clip(&claims.roles.join(", "))
            ),
        );
        e.issuer = Some(claims.issuer.clone());
        FailureEvent::of(&e, request)
            .kid(Some(claims.kid.as_str()))
            .subject(Some(&claims.subject), true)
            .issuer(e.issuer.as_deref())
            .record();
        Err(e)
    }

    /// The whole check, nothing recorded: the cache or strict validation, then
    /// revocation (checked on every use, remembered token or not).
    pub(crate) fn check(&self, token: &[u8]) -> Result<Arc<Claims>, Rejection> {
        let route = self.route(token)?;
        self.check_routed(token, &route).map_err(|mut r| {
            let rules = match route {
                Route::Ours => &self.0.rules,
                Route::External(e) => &e.rules,
            };
            // An `iss` that is neither ours nor trusted chose no issuer.
            if r.error.reason != Reason::WrongIssuer {
                r.error.issuer = Some(rules.issuer.clone());
            }
            r
        })
    }

    /// [`Verifier::check`] once the issuer is chosen.
    fn check_routed(&self, token: &[u8], route: &Route<'_>) -> Result<Arc<Claims>, Rejection> {
        let p = &*self.0;
        let now = p.clock.now();
        let ours = p.ring.load();
        let theirs;
        let (ring, rules): (&KeyRing, &Arc<Rules>) = match route {
            Route::Ours => (&ours, &p.rules),
            Route::External(e) => {
                theirs = e.keys.keys(now).map_err(|hint| Rejection {
                    error: AuthError::new(Reason::UnknownKid, hint),
                    kid: None,
                    subject: None,
                    verified: false,
                })?;
                (&theirs, &e.rules)
            }
        };
        let remembered = p.cache.as_ref().and_then(|c| c.get(token, ring, rules, now));
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(validate(ring, rules, now, token).map_err(|mut r| {
                    if !Arc::ptr_eq(rules, &p.rules) {
                        r.error.hint = format!("trusted issuer '{}': {}", clip(&rules.issuer), r.error.hint);
                    }
                    r
                })?);
                if let Some(c) = &p.cache {
                    c.insert(token, ring, &claims);
                }
                claims
            }
        };
        // Revocation covers the sessions this service issued, not another issuer's.
        if Arc::ptr_eq(rules, &p.rules)
            && let Some(why) = p
                .revocations
                .check(&claims.subject, claims.session_id(), claims.issued_at)
        {
            let hint = match why {
                Revoked::Subject(mark) => format!(
                    "every session of this subject was revoked at {mark} (logged out everywhere, a password or role change, or the account was disabled or deleted)"
                ),
                Revoked::Session(at) => format!(
                    "the token's session was revoked at {at} (logout, a refresh token used twice, or an administrator)"
                ),
            };
            return Err(Rejection {
                error: AuthError::new(Reason::Revoked, hint),
                kid: Some(claims.kid.to_string()),
                subject: Some(clip(&claims.subject)),
                verified: true,
            });
        }
        Ok(claims)
    }

    /// Records a rejected token (the one place that does) and hands on its error.
    fn conclude(
        &self,
        token: &[u8],
        result: Result<Arc<Claims>, Rejection>,
        request: &RequestInfo<'_>,
    ) -> Result<Arc<Claims>, AuthError> {
        result.map_err(|r| {
            let fp = (!token.is_empty()).then(|| crate::encoding::fingerprint(token));
            FailureEvent::of(&r.error, request)
                .kid(r.kid.as_deref())
                .subject(r.subject.as_deref(), r.verified)
                .fingerprint(fp.as_deref())
                .issuer(r.error.issuer.as_deref())
                .record();
            r.error
        })
    }

    /// Records a header that carries no token to check.
    fn reject_request(&self, e: AuthError, request: &RequestInfo<'_>) -> AuthError {
        audit::record_failure(&e, None, request);
        e
    }

    /// Replaces the key ring (a store-less setup's keys, or a test's).
    pub(crate) fn replace_key_ring(&self, ring: KeyRing) {
        self.0.ring.store(Arc::new(ring));
    }
}

/// The `iss` of a compact JWS, read without trusting it (only to pick whose keys
/// and rules check it); `None` when it cannot be read, which validation reports.
fn peek_issuer(token: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Iss<'a> {
        #[serde(borrow)]
        iss: Option<std::borrow::Cow<'a, str>>,
    }
    let mut parts = token.splitn(3, |b| *b == b'.');
    let (_, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let mut buf = [0u8; 2048];
    let bytes = crate::encoding::b64_decode_in(payload, &mut buf)?;
    let iss: Iss<'_> = serde_json::from_slice(&bytes).ok()?;
    iss.iss.map(std::borrow::Cow::into_owned)
}
