//! Users who log in with a password: stored with argon2id hashes (OWASP parameters:
//! 7 MiB, 5 passes, 1 lane), listed and disabled by administrators, and checked by
//! [`Login`], which throttles attempts and takes the same time whether or not the
//! user exists.

use serde_json::Map;
use zeroize::Zeroizing;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, Params};

use crate::audit::RequestInfo;
use crate::error::{AuthError, Reason};
use crate::limits::{Limited, LoginLimiter, LoginLimits};
use crate::store::{Row, StoreError, Val};
use crate::{Error, JwtAuth, TokenPair};

/// The role given to the first user created on an empty store.
pub const ADMIN_ROLE: &str = "Admin";
/// The name of the first user created on an empty store.
pub const FIRST_ADMIN: &str = "admin";
/// Passwords shorter than this are refused (OWASP ASVS 2.1.1).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Passwords longer than this are refused (hashing cost is bounded).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A user as listed (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// Login name.
    pub name: String,
    /// Roles put into the user's tokens.
    pub roles: Vec<String>,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// When it was created.
    pub created_at: i64,
}

/// Argon2 cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// One of OWASP's equivalent argon2id settings: 7 MiB, 5 passes, 1 lane. The
    /// Password Storage Cheat Sheet lists it beside 19 MiB × 2 passes as the same
    /// strength; the smaller working memory keeps a server's footprint small, since
    /// the allocator tends to keep each hashing thread's buffer.
    pub const OWASP: HashCost = HashCost {
        memory_kib: 7 * 1024,
        iterations: 5,
        parallelism: 1,
    };

    fn hasher(self) -> Result<Argon2<'static>, Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Refused(format!("argon2 parameters are invalid: {e}")))?;
        Ok(Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::OWASP
    }
}

fn hash_password(cost: HashCost, password: &str) -> Result<String, Error> {
    let hash = cost
        .hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| Error::Refused(format!("password could not be hashed: {e}")))?;
    Ok(hash.to_string())
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Refused(
            "a user name is 1 to 64 characters among letters, digits and . _ @ -".into(),
        ))
    }
}

fn check_role(role: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Refused(
            "a role is 1 to 64 characters among letters, digits and . _ : -".into(),
        ))
    }
}

fn check_password(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Refused(format!(
            "the password is too short: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::Refused(format!(
            "the password is too long: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

fn user_info(row: &Row) -> Result<UserInfo, StoreError> {
    let roles: Vec<String> =
        serde_json::from_str(&row.text(1)?).map_err(|e| StoreError::Data(format!("user roles are corrupt: {e}")))?;
    Ok(UserInfo {
        name: row.text(0)?,
        roles,
        disabled: row.i64(2)? != 0,
        created_at: row.i64(3)?,
    })
}

/// A generated password, shown once. Zeroed when dropped; `Debug` hides it.
pub struct GeneratedPassword(Zeroizing<String>);

impl GeneratedPassword {
    /// The password, to show to the person once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for GeneratedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeneratedPassword(***)")
    }
}

fn random_password() -> Result<GeneratedPassword, Error> {
    use base64::Engine as _;
    // 15 random bytes as 20 URL-safe base64 characters: 120 bits.
    let mut raw = Zeroizing::new([0u8; 15]);
    aws_lc_rs::rand::fill(&mut *raw).map_err(|_| Error::Refused("system randomness unavailable".into()))?;
    Ok(GeneratedPassword(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*raw),
    )))
}

impl JwtAuth {
    /// Adds a user with an argon2id hash of `password` (OWASP cost). Fails with
    /// [`Error::Refused`] for a bad name, role or password, or a name already taken.
    pub fn add_user(&self, name: &str, password: &str, roles: &[&str]) -> Result<(), Error> {
        self.add_user_with_cost(name, password, roles, HashCost::OWASP)
    }

    /// Like [`JwtAuth::add_user`] with explicit argon2 cost (tests use a cheap one).
    pub fn add_user_with_cost(&self, name: &str, password: &str, roles: &[&str], cost: HashCost) -> Result<(), Error> {
        check_name(name)?;
        check_password(password)?;
        roles.iter().try_for_each(|r| check_role(r))?;
        let store = self.store_or_err()?;
        let hash = hash_password(cost, password)?;
        let roles_json = serde_json::to_string(roles).map_err(|e| Error::Refused(e.to_string()))?;
        let now = self.now();
        let inserted = store.write(|tx| {
            if !tx
                .query("SELECT name FROM jwtauth_users WHERE name = ?1", &[name.into()])?
                .is_empty()
            {
                return Ok(false);
            }
            tx.exec(
                "INSERT INTO jwtauth_users (name, password_hash, roles, disabled, created_at) VALUES (?1, ?2, ?3, 0, ?4)",
                &[name.into(), hash.as_str().into(), roles_json.as_str().into(), Val::I64(now)],
            )?;
            Ok(true)
        })?;
        if inserted {
            Ok(())
        } else {
            Err(Error::Refused(format!("user '{name}' already exists")))
        }
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserInfo>, Error> {
        let rows = self.store_or_err()?.write(|tx| {
            tx.query(
                "SELECT name, roles, disabled, created_at FROM jwtauth_users ORDER BY name",
                &[],
            )
        })?;
        Ok(rows.iter().map(user_info).collect::<Result<_, _>>()?)
    }

    /// Disables a user: no more logins, and every session and access token of it is
    /// revoked. Returns whether the user exists.
    pub fn disable_user(&self, name: &str) -> Result<bool, Error> {
        let n = self
            .store_or_err()?
            .write(|tx| tx.exec("UPDATE jwtauth_users SET disabled = 1 WHERE name = ?1", &[name.into()]))?;
        if n == 0 {
            return Ok(false);
        }
        self.revoke_subject(name)?;
        Ok(true)
    }

    /// On a store with no users, creates [`FIRST_ADMIN`] with role [`ADMIN_ROLE`] and a
    /// random password, returned to be shown once. `None` when users exist (also
    /// when another process created the first admin at the same moment).
    pub fn bootstrap_admin(&self) -> Result<Option<GeneratedPassword>, Error> {
        let store = self.store_or_err()?;
        let any = store.write(|tx| tx.query("SELECT name FROM jwtauth_users LIMIT 1", &[]))?;
        if !any.is_empty() {
            return Ok(None);
        }
        let password = random_password()?;
        match self.add_user(FIRST_ADMIN, password.expose(), &[ADMIN_ROLE]) {
            Ok(()) => Ok(Some(password)),
            Err(Error::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

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
    /// Wrong username or password, a disabled user, or a store failure.
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Password login: throttling, constant-time-ish verification, session start.
/// Share one per process. Every call blocks (argon2, store): run it off async workers.
pub struct Login {
    limiter: LoginLimiter,
    cost: HashCost,
    /// Verified against when the user is unknown, so that both cases cost the same.
    dummy_hash: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("limiter", &self.limiter)
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// A login service with OWASP cost and the default limits.
    pub fn new() -> Result<Login, Error> {
        Login::with(LoginLimits::default(), HashCost::OWASP)
    }

    /// With explicit limits and cost for the dummy hash (use the cost users were
    /// hashed with, so unknown and known users take the same time).
    pub fn with(limits: LoginLimits, cost: HashCost) -> Result<Login, Error> {
        let dummy = random_password()?;
        Ok(Login {
            limiter: LoginLimiter::new(limits),
            cost,
            dummy_hash: hash_password(cost, dummy.expose())?,
        })
    }

    /// The throttle (for sweeping and inspection).
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Checks `username` and `password`, then starts a session with the user's roles.
    /// Every failure (throttled, bad credentials) is recorded in the failure log with
    /// `request`; the log never says whether the user exists.
    pub fn login(
        &self,
        auth: &JwtAuth,
        username: &str,
        password: &str,
        client_ip: Option<&str>,
        request: &RequestInfo<'_>,
    ) -> Result<TokenPair, LoginError> {
        let subject = crate::error::clip(username);
        if let Err(Limited {
            retry_after_secs,
            by_client,
        }) = self.limiter.check(username, client_ip)
        {
            let who = if by_client {
                "this client address"
            } else {
                "this username"
            };
            let error = AuthError::new(
                Reason::RateLimited,
                format!("too many login attempts for {who}; retry in {retry_after_secs} s"),
            );
            auth.record_failure(&error, Some(&subject), request);
            return Err(LoginError::Limited {
                error,
                retry_after_secs,
            });
        }
        let store = auth.store_or_err()?;
        let row = store
            .write(|tx| {
                tx.query(
                    "SELECT name, roles, disabled, created_at, password_hash FROM jwtauth_users WHERE name = ?1",
                    &[username.into()],
                )
            })
            .map_err(Error::from)?;
        let user = row.first().map(|r| Ok::<_, StoreError>((user_info(r)?, r.text(4)?)));
        let user = user.transpose().map_err(Error::from)?;
        let hash = user.as_ref().map_or(self.dummy_hash.as_str(), |(_, h)| h.as_str());
        // Verify even for an unknown or disabled user: the time taken tells nothing.
        let verified = password.len() <= MAX_PASSWORD_BYTES
            && self.cost.hasher()?.verify_password(password.as_bytes(), hash).is_ok();
        match user {
            Some((info, _)) if verified && !info.disabled => {
                let roles: Vec<&str> = info.roles.iter().map(String::as_str).collect();
                Ok(auth.start_session(&info.name, &roles, &Map::new())?)
            }
            _ => {
                let error = AuthError::new(Reason::BadCredentials, "wrong username or password");
                auth.record_failure(&error, Some(&subject), request);
                Err(LoginError::Failed(Error::Auth(error)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cost_is_owasp_argon2id() {
        assert_eq!(HashCost::default(), HashCost::OWASP);
        assert_eq!(
            (
                HashCost::OWASP.memory_kib,
                HashCost::OWASP.iterations,
                HashCost::OWASP.parallelism
            ),
            (7_168, 5, 1)
        );
        let h = hash_password(
            HashCost {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            "correct horse",
        )
        .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
    }

    #[test]
    fn names_roles_and_passwords_are_checked() {
        assert!(check_name("alice").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_role("Admin").is_ok());
        assert!(check_role("Ad min").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn generated_passwords_are_long_random_and_hidden_from_debug() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.expose().len(), 20);
        assert_ne!(a.expose(), b.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
