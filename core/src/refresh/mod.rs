//! Sessions (refresh-token families, RFC 9700 §4.14): login starts a family,
//! refresh spends its current token and rotates to the next, presenting a spent
//! token revokes the whole family, and logout everywhere sets a watermark that
//! the [`crate::token::Verifier`] checks on every access token. Every access token
//! of a family names it (`sid`), so revoking the family revokes them too: a
//! revoked family is a revocation mark, reloaded with the watermarks and kept as
//! long as they are.
//!
//! The family's rotation state is a generation counter that only moves forward;
//! what a presented token leads to is decided by a pure function (`decision`).

mod claims;
mod decision;
mod sql;
mod throttle;
mod token;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::audit::{FailureEvent, RequestInfo};
use crate::clock::Clock;
use crate::error::{AuthError, Reason};
use crate::random::NoRandomness;
use crate::store::{Store, StoreError};
use crate::token::{IssueError, Issued, Issuer, Marks, Revocations};
use claims::SessionClaims;
use sql::Outcome;

pub(crate) use throttle::RefreshLimiter;
pub use throttle::RefreshLimits;
pub use token::RefreshToken;

/// A refresh-token family as listed for administrators (no token material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Family id.
    pub family_id: String,
    /// Whose session.
    pub subject: String,
    /// Login time.
    pub started_at: i64,
    /// Last refresh (or the login).
    pub last_used_at: i64,
    /// When the current refresh token expires (idle or absolute, whichever is first).
    pub expires_at: i64,
    /// Absolute end of the family.
    pub max_expires_at: i64,
    /// How many rotations so far.
    pub generation: i64,
    /// The OAuth client the login authenticated as, if any.
    pub client_id: Option<String>,
    /// The User-Agent of the login (clipped), to tell devices apart.
    pub user_agent: Option<String>,
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

/// Why a session could not be started or refreshed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The refresh token was refused (recorded in the failure log).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Too many refreshes of this session or from this client address
    /// (`rate_limited`, recorded); nothing was spent.
    #[error("{error}")]
    Limited {
        /// The failure.
        error: AuthError,
        /// Whole seconds until a refresh will be accepted (at least 1): the `Retry-After`.
        retry_after_secs: u64,
    },
    /// The access token could not be issued.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No random bytes for a token or family id.
    #[error(transparent)]
    Randomness(#[from] NoRandomness),
}

impl SessionError {
    /// The failure reason, when the token was refused.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            SessionError::Auth(e) | SessionError::Limited { error: e, .. } => Some(e.reason),
            _ => None,
        }
    }
}

/// Lifetimes of refresh tokens, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub idle: i64,
    pub max: i64,
    pub grace: i64,
}

pub(crate) struct Parts {
    pub store: Arc<Store>,
    pub issuer: Issuer,
    pub revocations: Arc<Revocations>,
    pub clock: Arc<dyn Clock>,
    pub life: Lifetimes,
    /// Seconds after which a watermark cannot matter: every access token issued
    /// before it has expired (`max_access_ttl` + leeway).
    pub watermark_horizon: i64,
    pub limiter: RefreshLimiter,
    pub known: KnownFamilies,
}

/// The families of refresh tokens this process issued, by the tokens' hashes, so a
/// rotation on PostgreSQL can spend the family's throttle before its one statement
/// (see `sql::rotate`). Bounded: a token not in it takes the general path. Kept
/// only for a store that commits statement by statement; it holds what the store
/// holds (hashes, ids), never a token.
pub(crate) struct KnownFamilies(Option<quick_cache::sync::Cache<String, String>>);

/// Tokens remembered at most: about 150 bytes each.
const KNOWN_FAMILIES: usize = 4096;

impl KnownFamilies {
    pub(crate) fn for_store(store: &Store) -> KnownFamilies {
        KnownFamilies(
            store
                .commits_each_statement()
                .then(|| quick_cache::sync::Cache::new(KNOWN_FAMILIES)),
        )
    }

    fn get(&self, token_hash: &str) -> Option<String> {
        self.0.as_ref()?.get(token_hash)
    }

    /// `token` is the live token of `family`; `spent` (its predecessor) no longer is.
    fn issued(&self, token: &token::RefreshToken, family: &str, spent: Option<&str>) {
        let Some(cache) = &self.0 else { return };
        if let Some(spent) = spent {
            cache.remove(spent);
        }
        cache.insert(token.hash(), family.to_owned());
    }
}

/// Login sessions over the store: start, refresh with rotation and reuse
/// detection, logout, logout everywhere. Cheap to clone; safe from many threads.
/// Every call blocks on the store.
#[derive(Clone)]
pub struct Sessions(Arc<Parts>);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.0.store)
            .field("life", &self.0.life)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub(crate) fn new(parts: Parts) -> Sessions {
        Sessions(Arc::new(parts))
    }

    fn now(&self) -> i64 {
        self.0.clock.now()
    }

    /// Starts a session (a login): an access token and the first refresh token of a
    /// new family. Roles and extra claims are kept with the family and carried into
    /// every refreshed access token.
    pub fn start(&self, subject: &str, roles: &[&str], extra: &Map<String, Value>) -> Result<TokenPair, SessionError> {
        self.start_with(subject, roles, extra, &RequestInfo::default())
    }

    /// Like [`Sessions::start`], keeping where the login came from (`request`'s
    /// User-Agent and OAuth client) with the session for administrators.
    pub fn start_with(
        &self,
        subject: &str,
        roles: &[&str],
        extra: &Map<String, Value>,
        request: &RequestInfo<'_>,
    ) -> Result<TokenPair, SessionError> {
        match self.start_as(subject, roles, extra, false, request)? {
            Some(pair) => Ok(pair),
            None => Err(StoreError::Data("session start refused".into()).into()),
        }
    }

    /// Starts a password user's session: only if the user exists and is not
    /// disabled when the session commits (checked under the user's row lock), and
    /// every refresh of it checks the user again. `None` when the user was refused.
    pub(crate) fn start_for_user(
        &self,
        name: &str,
        roles: &[&str],
        request: &RequestInfo<'_>,
    ) -> Result<Option<TokenPair>, SessionError> {
        self.start_as(name, roles, &Map::new(), true, request)
    }

    fn start_as(
        &self,
        subject: &str,
        roles: &[&str],
        extra: &Map<String, Value>,
        user: bool,
        request: &RequestInfo<'_>,
    ) -> Result<Option<TokenPair>, SessionError> {
        // Issue first: it checks the subject and extra claims before anything is stored.
        let family_id = crate::random::b64_id::<16>()?;
        let access = self.0.issuer.issue_for_session(&family_id, subject, roles, extra)?;
        let mut claims = SessionClaims::new(roles, extra);
        claims.user = user;
        let claims = claims.to_json()?;
        let origin = sql::Origin {
            client_id: request.client_id.map(crate::error::clip),
            user_agent: request.user_agent.map(crate::error::clip),
        };
        let family = sql::NewFamily {
            id: family_id,
            subject,
            claims: &claims,
            user,
            origin: &origin,
        };
        let Some(started) = sql::start(&self.0.store, &family, self.now(), self.0.life)? else {
            return Ok(None);
        };
        self.0.known.issued(&started.token, &started.family_id, None);
        Ok(Some(TokenPair {
            access,
            refresh_token: started.token,
            refresh_expires_at: started.expires_at,
            family_id: started.family_id,
        }))
    }

    /// Disables the user `name` and revokes its sessions and access tokens, in one
    /// transaction. Returns whether the user exists.
    pub(crate) fn disable_user(&self, name: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let revoked = sql::disable_user(&self.0.store, name, now)?;
        if let Some(sessions) = &revoked {
            self.0.revocations.set_subject(name, now, sessions);
        }
        Ok(revoked.is_some())
    }

    /// Spends a refresh token and returns a new pair (rotation). A spent token
    /// presented again revokes its whole family and fails with `refresh_reused`;
    /// every failure is recorded in the failure log.
    pub fn refresh(&self, refresh_token: &str, request: &RequestInfo<'_>) -> Result<TokenPair, SessionError> {
        let record = |reason: Reason, hint: String, subject: Option<&str>| -> AuthError {
            let e = AuthError::new(reason, hint);
            let fp = crate::encoding::fingerprint(refresh_token.as_bytes());
            FailureEvent::of(&e, request)
                .subject(subject, subject.is_some())
                .fingerprint(Some(&fp))
                .record();
            e
        };
        let fail =
            |reason: Reason, hint: String, subject: Option<&str>| SessionError::Auth(record(reason, hint, subject));
        let limited = |secs: u64, hint: String, subject: Option<&str>| SessionError::Limited {
            error: record(Reason::RateLimited, hint, subject),
            retry_after_secs: secs,
        };
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(fail(
                Reason::RefreshInvalid,
                "refresh token is empty or too long".into(),
                None,
            ));
        }
        if let Some(client) = request.client
            && let Err(secs) = self.0.limiter.client(client)
        {
            return Err(limited(
                secs,
                format!("too many refreshes from this client address; retry in {secs} s"),
                None,
            ));
        }
        let allowed = |family: &str| self.0.limiter.family(family);
        let presented = token::hash(refresh_token);
        let known = self.0.known.get(&presented);
        match sql::rotate(
            &self.0.store,
            &presented,
            known.as_deref(),
            self.now(),
            self.0.life,
            &allowed,
        )? {
            Outcome::Rotated {
                subject,
                claims,
                token,
                expires_at,
                family_id,
            } => {
                self.0.known.issued(&token, &family_id, Some(&presented));
                let stored = SessionClaims::from_json(&claims)?;
                let access =
                    self.0
                        .issuer
                        .issue_for_session(&family_id, &subject, &stored.role_refs(), &stored.extra)?;
                Ok(TokenPair {
                    access,
                    refresh_token: token,
                    refresh_expires_at: expires_at,
                    family_id,
                })
            }
            Outcome::Invalid => Err(fail(Reason::RefreshInvalid, "unknown refresh token".into(), None)),
            Outcome::Expired { subject } => Err(fail(
                Reason::RefreshExpired,
                "the refresh token or its session expired; log in again".into(),
                Some(&subject),
            )),
            Outcome::Revoked { subject } => Err(fail(
                Reason::Revoked,
                "the session was revoked (logout, reuse, or a change to the account)".into(),
                Some(&subject),
            )),
            Outcome::SubjectRefused { subject } => Err(fail(
                Reason::Revoked,
                "the user was disabled or deleted; its sessions are revoked".into(),
                Some(&subject),
            )),
            Outcome::Limited { subject, retry_after } => Err(limited(
                retry_after,
                format!("this session refreshed too often; retry in {retry_after} s (the token is still valid)"),
                Some(&subject),
            )),
            Outcome::Reused { subject, family_id } => {
                // The family's access tokens die with it, here at once.
                self.0.revocations.set_session(&family_id, self.now());
                Err(fail(
                    Reason::RefreshReused,
                    format!("a spent refresh token was presented again; session {family_id} is revoked"),
                    Some(&subject),
                ))
            }
        }
    }

    /// Logout: revokes the family of `refresh_token` and the access tokens issued
    /// for it (their `sid`; in this process at once, in others within
    /// `revocation_staleness`). Returns whether the token was known.
    pub fn revoke(&self, refresh_token: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let family = sql::revoke(&self.0.store, refresh_token, now)?;
        if let Some(family_id) = &family {
            self.0.revocations.set_session(family_id, now);
        }
        Ok(family.is_some())
    }

    /// Revokes one session by family id (administration), with its access tokens.
    pub fn revoke_family(&self, family_id: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let found = sql::revoke_family(&self.0.store, family_id, now)?;
        if found {
            self.0.revocations.set_session(family_id, now);
        }
        Ok(found)
    }

    /// Logout everywhere: revokes every session of `subject` with its access
    /// tokens, and access tokens issued to it before this second fail with
    /// `revoked` (in this process at once, in others within
    /// `revocation_staleness`). A token of a session started after the call is
    /// good, even within the same second; one without a session (`sid`) issued in
    /// that second is refused. Returns the sessions revoked.
    pub fn revoke_subject(&self, subject: &str) -> Result<u64, StoreError> {
        let now = self.now();
        let sessions = sql::revoke_subject(&self.0.store, subject, now)?;
        self.0.revocations.set_subject(subject, now, &sessions);
        Ok(sessions.len() as u64)
    }

    /// Live sessions, most recently used first, optionally of one subject.
    pub fn list(&self, subject: Option<&str>, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sql::list(&self.0.store, subject, self.now(), limit)
    }

    /// Reloads the revocation watermarks and revoked sessions from the store now.
    pub fn reload_revocations(&self) -> Result<(), StoreError> {
        let since = self.now().saturating_sub(self.0.watermark_horizon);
        let (subjects, sessions) = sql::revocation_marks(&self.0.store, since)?;
        self.0.revocations.replace(Marks {
            subjects: subjects.into_iter().collect(),
            sessions: sessions.into_iter().collect(),
        });
        Ok(())
    }

    /// Deletes up to `limit` finished families (kept a day, so a late replay still
    /// reads as reuse or expiry) and watermarks that cannot matter any more.
    pub(crate) fn purge(&self, limit: i64) -> Result<u64, StoreError> {
        self.0.limiter.sweep();
        let now = self.now();
        sql::purge(
            &self.0.store,
            now.saturating_sub(86_400),
            now,
            self.0.watermark_horizon,
            limit,
        )
    }

    /// Records in the store the longest access-token lifetime this process accepts,
    /// so that no process sharing the store purges a watermark another still needs.
    pub(crate) fn record_horizon(&self) -> Result<i64, StoreError> {
        sql::record_horizon(&self.0.store, self.0.watermark_horizon)
    }
}
