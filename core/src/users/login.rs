//! Password login: throttling of failures, verification that takes the same time whether or
//! not the user exists, and the session start.

use std::sync::Arc;

use super::password::{HashCost, hash_password, random_password};
use super::slots::{Busy, HashLimits, HashSlot, HashSlots};
use super::throttle::{Limited, LoginLimiter, LoginLimits};
use super::{MAX_PASSWORD_BYTES, UserError, Users, name_key, user_info};
use crate::audit::{RequestInfo, record_failure};
use crate::error::{AuthError, Reason};
use crate::refresh::TokenPair;
use crate::store::StoreError;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many attempts for this username or client address.
    #[error("{error}")]
    Limited {
        /// `rate_limited`, with a hint.
        error: AuthError,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Wrong username or password, or a disabled user (`bad_credentials`).
    #[error(transparent)]
    Failed(AuthError),
    /// Every hashing slot stayed busy for `login.hash_wait`: nothing was checked,
    /// so it is no failed login; retry in a second.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The store, hashing or the session start failed.
    #[error(transparent)]
    Error(#[from] UserError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Error(UserError::Store(e))
    }
}

/// Password login: throttling, constant-time-ish verification, session start.
/// Share one per process. Every call blocks (argon2, store): run it off async workers.
pub struct Login {
    limiter: LoginLimiter,
    cost: HashCost,
    /// Bounds concurrent hashes; each slot reuses its block of argon2 memory.
    slots: Arc<HashSlots>,
    /// Verified against when the user is unknown, so that both cases cost the same.
    dummy_hash: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("limiter", &self.limiter)
            .field("cost", &self.cost)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// A login service with OWASP cost and the default limits.
    pub fn new() -> Result<Login, UserError> {
        Login::with(LoginLimits::default(), HashCost::OWASP)
    }

    /// With explicit limits and cost for the dummy hash (use the cost users were
    /// hashed with, so unknown and known users take the same time).
    pub fn with(limits: LoginLimits, cost: HashCost) -> Result<Login, UserError> {
        Login::configured(limits, HashLimits::default(), cost)
    }

    /// With explicit limits, a bound on concurrent hashes (`login.concurrent_hashes`,
    /// `login.hash_wait`), and cost as for [`Login::with`].
    pub fn configured(limits: LoginLimits, hashing: HashLimits, cost: HashCost) -> Result<Login, UserError> {
        let dummy = random_password()?;
        Ok(Login {
            limiter: LoginLimiter::new(limits),
            cost,
            slots: HashSlots::new(cost, hashing)?,
            dummy_hash: hash_password(cost, dummy.expose())?,
        })
    }

    /// The hashing slots, for async callers that wait for one without blocking a
    /// worker (then [`Login::login_in_slot`]).
    pub fn hash_slots(&self) -> &Arc<HashSlots> {
        &self.slots
    }

    /// Whether a login with `password` would hash, so needs a slot. An over-long
    /// password is refused without hashing, so without waiting for a slot.
    pub fn needs_slot(&self, password: &str) -> bool {
        password.len() <= MAX_PASSWORD_BYTES
    }

    /// The throttle (for sweeping and inspection).
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Checks `username` and `password`, then starts a session with the user's roles.
    /// The username is compared caselessly ([`super::name_key`]): `ADMIN` logs in
    /// as `admin`, whose tokens carry the name as it was entered when the user was
    /// added. Every failure (throttled, bad credentials) is recorded in the failure
    /// log with `request`; the log never says whether the user exists. A password
    /// over [`MAX_PASSWORD_BYTES`] is refused before the store is read or anything
    /// is hashed, and counts as a failure.
    ///
    /// The password is hashed in one of the hashing slots, waited for up to
    /// `login.hash_wait` (blocking); [`LoginError::Busy`] when none came free.
    pub fn login(
        &self,
        users: &Users,
        username: &str,
        password: &str,
        client_ip: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<TokenPair, LoginError> {
        self.login_in_slot(None, users, username, password, client_ip, request)
    }

    /// Like [`Login::login`], hashing in `slot` when given (taken beforehand, e.g.
    /// with [`HashSlots::acquire_async`]) instead of waiting for one.
    pub fn login_in_slot(
        &self,
        slot: Option<HashSlot>,
        users: &Users,
        username: &str,
        password: &str,
        client_ip: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<TokenPair, LoginError> {
        let subject = crate::error::clip(username);
        let attempt = match self.limiter.begin(username, client_ip) {
            Ok(attempt) => attempt,
            Err(Limited {
                retry_after_secs,
                by_client,
            }) => {
                let who = if by_client {
                    "from this client address"
                } else {
                    "for this username"
                };
                let error = AuthError::new(
                    Reason::RateLimited,
                    format!("too many login attempts {who}; retry in {retry_after_secs} s"),
                );
                record_failure(&error, Some(&subject), request);
                return Err(LoginError::Limited {
                    error,
                    retry_after_secs,
                });
            }
        };
        let outcome = self.verify_and_start(slot, users, username, password, request);
        match &outcome {
            Ok(_) => self.limiter.succeeded(attempt),
            Err(LoginError::Failed(error)) => record_failure(error, Some(&subject), request),
            // The store or hashing failed: no password was judged, nothing counts.
            Err(_) => self.limiter.abandoned(attempt),
        }
        outcome
    }

    fn verify_and_start(
        &self,
        slot: Option<HashSlot>,
        users: &Users,
        username: &str,
        password: &str,
        request: &RequestInfo<'_>,
    ) -> Result<TokenPair, LoginError> {
        let failed = || LoginError::Failed(AuthError::new(Reason::BadCredentials, "wrong username or password"));
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(failed());
        }
        let key = name_key(username);
        let row = users.store().write(|tx| {
            tx.query(
                "SELECT name, roles, disabled, created_at, password_hash FROM jwtauth_users WHERE name_key = ?1",
                &[key.as_str().into()],
            )
        })?;
        let user = row.first().map(|r| Ok::<_, StoreError>((user_info(r)?, r.text(4)?)));
        let user = user.transpose()?;
        let hash = user.as_ref().map_or(self.dummy_hash.as_str(), |(_, h)| h.as_str());
        // Verify even for an unknown or disabled user: the time taken tells nothing.
        let mut slot = match slot {
            Some(slot) => slot,
            None => self.slots.acquire()?,
        };
        let verified = slot.verify(password.as_bytes(), hash);
        match user {
            Some((info, _)) if verified && !info.disabled => {
                let roles: Vec<&str> = info.roles.iter().map(String::as_str).collect();
                // The user is checked again where the session commits: a disable
                // since the read above refuses the login like a wrong password.
                users
                    .sessions()
                    .start_for_user(&info.name, &roles, request)
                    .map_err(UserError::from)?
                    .ok_or_else(failed)
            }
            _ => Err(failed()),
        }
    }
}
