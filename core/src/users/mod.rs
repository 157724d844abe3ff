//! Users who log in with a password: stored with argon2id hashes (OWASP parameters:
//! 7 MiB, 5 passes, 1 lane), listed and disabled by administrators, and checked by
//! [`Login`], which throttles failures and takes the same time whether or not the
//! user exists. Names are compared caselessly ([`name_key`]) and kept as entered:
//! administrators may designate a user by any spelling of its name.

mod login;
mod password;
pub mod slots;
pub mod throttle;

use std::sync::Arc;

use crate::clock::Clock;
use crate::random::NoRandomness;
use crate::refresh::{SessionError, Sessions};
use crate::store::{Row, Store, StoreError, Val};

pub use crate::fold::name_key;
pub use login::{Login, LoginError};
pub use password::{GeneratedPassword, HashCost};
use password::{hash_password, random_password};

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
    /// Login name, as it was entered when the user was added (names are compared
    /// caselessly, see [`name_key`]).
    pub name: String,
    /// Roles put into the user's tokens.
    pub roles: Vec<String>,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// When it was created.
    pub created_at: i64,
}

/// Why a user operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The name has characters or a length a user name cannot have.
    #[error("a user name is 1 to 64 characters among letters, digits and . _ @ -")]
    InvalidName,
    /// A role has characters or a length a role cannot have.
    #[error("a role is 1 to 64 characters among letters, digits and . _ : -")]
    InvalidRole,
    /// The password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the password is too short: at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    /// The password is longer than [`MAX_PASSWORD_BYTES`].
    #[error("the password is too long: at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// Another user has this name, compared caselessly (the other user's name as stored).
    #[error("user '{0}' already exists")]
    AlreadyExists(String),
    /// The argon2 parameters or the hashing failed.
    #[error("{0}")]
    Hashing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Revoking or starting the user's sessions failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No random bytes for a password.
    #[error(transparent)]
    Randomness(#[from] NoRandomness),
}

fn check_name(name: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok { Ok(()) } else { Err(UserError::InvalidName) }
}

fn check_role(role: &str) -> Result<(), UserError> {
    let ok = (1..=64).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok { Ok(()) } else { Err(UserError::InvalidRole) }
}

fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::PasswordTooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::PasswordTooLong);
    }
    Ok(())
}

pub(crate) fn user_info(row: &Row) -> Result<UserInfo, StoreError> {
    let roles: Vec<String> =
        serde_json::from_str(&row.text(1)?).map_err(|e| StoreError::Data(format!("user roles are corrupt: {e}")))?;
    Ok(UserInfo {
        name: row.text(0)?,
        roles,
        disabled: row.i64(2)? != 0,
        created_at: row.i64(3)?,
    })
}

pub(crate) struct Parts {
    pub store: Arc<Store>,
    pub sessions: Sessions,
    pub clock: Arc<dyn Clock>,
}

/// The users who log in with a password: add, list, disable, and the first
/// admin of an empty store. Cheap to clone; every call blocks on the store.
#[derive(Clone)]
pub struct Users(Arc<Parts>);

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("store", &self.0.store)
            .finish_non_exhaustive()
    }
}

impl Users {
    pub(crate) fn new(parts: Parts) -> Users {
        Users(Arc::new(parts))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// Adds a user with an argon2id hash of `password` (OWASP cost). Fails for a
    /// bad name, role or password, or a name already taken: names are compared
    /// caselessly ([`name_key`]), so `Admin` is refused beside `admin`. The name is
    /// kept and shown as entered.
    pub fn add(&self, name: &str, password: &str, roles: &[&str]) -> Result<(), UserError> {
        self.add_with_cost(name, password, roles, HashCost::OWASP)
    }

    /// Like [`Users::add`] with explicit argon2 cost (tests use a cheap one).
    pub fn add_with_cost(&self, name: &str, password: &str, roles: &[&str], cost: HashCost) -> Result<(), UserError> {
        check_name(name)?;
        check_password(password)?;
        roles.iter().try_for_each(|r| check_role(r))?;
        let store = &self.0.store;
        let hash = hash_password(cost, password)?;
        let roles_json = serde_json::to_string(roles).map_err(|e| UserError::Hashing(e.to_string()))?;
        let now = self.0.clock.now();
        let key = name_key(name);
        let taken = store.write(|tx| {
            let same = tx.query(
                "SELECT name FROM jwtauth_users WHERE name_key = ?1 OR name = ?2",
                &[key.as_str().into(), name.into()],
            )?;
            if let Some(row) = same.first() {
                return Ok(Some(row.text(0)?));
            }
            tx.exec(
                "INSERT INTO jwtauth_users (name, name_key, password_hash, roles, disabled, created_at) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                &[name.into(), key.as_str().into(), hash.as_str().into(), roles_json.as_str().into(), Val::I64(now)],
            )?;
            Ok(None)
        })?;
        match taken {
            None => Ok(()),
            Some(existing) => Err(UserError::AlreadyExists(existing)),
        }
    }

    /// The stored name of the user `name` designates, compared caselessly.
    fn stored_name(&self, name: &str) -> Result<Option<String>, StoreError> {
        let key = name_key(name);
        let rows = self.0.store.write(|tx| {
            tx.query(
                "SELECT name FROM jwtauth_users WHERE name_key = ?1",
                &[key.as_str().into()],
            )
        })?;
        rows.first().map(|r| r.text(0)).transpose()
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<UserInfo>, StoreError> {
        let rows = self.0.store.write(|tx| {
            tx.query(
                "SELECT name, roles, disabled, created_at FROM jwtauth_users ORDER BY name",
                &[],
            )
        })?;
        rows.iter().map(user_info).collect()
    }

    /// Disables a user: no more logins, and every session and access token of it is
    /// revoked. Returns whether the user exists.
    ///
    /// The flag, the sessions and the watermark change in one transaction, so a
    /// login in flight either commits its session first (and it is revoked) or
    /// sees the user disabled; refresh refuses a disabled or deleted user too.
    pub fn disable(&self, name: &str) -> Result<bool, StoreError> {
        match self.stored_name(name)? {
            Some(stored) => self.0.sessions.disable_user(&stored),
            None => Ok(false),
        }
    }

    /// Lets a disabled user log in again. Sessions revoked when it was disabled stay
    /// revoked. Returns whether the user exists.
    pub fn enable(&self, name: &str) -> Result<bool, StoreError> {
        let Some(name) = self.stored_name(name)? else {
            return Ok(false);
        };
        let name = name.as_str();
        let n = self
            .0
            .store
            .write(|tx| tx.exec("UPDATE jwtauth_users SET disabled = 0 WHERE name = ?1", &[name.into()]))?;
        Ok(n > 0)
    }

    /// Changes a user's password (argon2id at OWASP cost) and ends every session
    /// and access token of it: whoever knew the old password is logged out.
    /// Returns whether the user exists.
    pub fn set_password(&self, name: &str, password: &str) -> Result<bool, UserError> {
        self.set_password_with_cost(name, password, HashCost::OWASP)
    }

    /// Like [`Users::set_password`] with explicit argon2 cost (tests use a cheap one).
    pub fn set_password_with_cost(&self, name: &str, password: &str, cost: HashCost) -> Result<bool, UserError> {
        check_password(password)?;
        let Some(name) = self.stored_name(name)? else {
            return Ok(false);
        };
        let name = name.as_str();
        let hash = hash_password(cost, password)?;
        let n = self.0.store.write(|tx| {
            tx.exec(
                "UPDATE jwtauth_users SET password_hash = ?1 WHERE name = ?2",
                &[hash.as_str().into(), name.into()],
            )
        })?;
        if n == 0 {
            return Ok(false);
        }
        self.0.sessions.revoke_subject(name)?;
        Ok(true)
    }

    /// Adds and removes roles (a role both added and removed is removed) and ends
    /// the user's sessions and access tokens, which carry the old roles. Returns the
    /// roles now, or `None` when there is no such user.
    pub fn change_roles(&self, name: &str, add: &[&str], remove: &[&str]) -> Result<Option<Vec<String>>, UserError> {
        add.iter().chain(remove).try_for_each(|r| check_role(r))?;
        let Some(name) = self.stored_name(name)? else {
            return Ok(None);
        };
        let name = name.as_str();
        let roles = self.0.store.write(|tx| {
            let rows = tx.query(
                &format!("SELECT roles FROM jwtauth_users WHERE name = ?1{}", tx.for_update()),
                &[name.into()],
            )?;
            let Some(row) = rows.first() else { return Ok(None) };
            let mut roles: Vec<String> = serde_json::from_str(&row.text(0)?)
                .map_err(|e| StoreError::Data(format!("user roles are corrupt: {e}")))?;
            for r in add {
                if !roles.iter().any(|have| have == r) {
                    roles.push((*r).to_string());
                }
            }
            roles.retain(|have| !remove.contains(&have.as_str()));
            let json = serde_json::to_string(&roles).map_err(|e| StoreError::Data(e.to_string()))?;
            tx.exec(
                "UPDATE jwtauth_users SET roles = ?1 WHERE name = ?2",
                &[json.as_str().into(), name.into()],
            )?;
            Ok(Some(roles))
        })?;
        if roles.is_some() {
            self.0.sessions.revoke_subject(name)?;
        }
        Ok(roles)
    }

    /// Deletes a user and ends every session and access token of it. The name may
    /// be taken again by a new user, whose tokens the old ones cannot be mistaken
    /// for: they were revoked. Returns whether the user existed.
    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let Some(name) = self.stored_name(name)? else {
            return Ok(false);
        };
        let name = name.as_str();
        let n = self
            .0
            .store
            .write(|tx| tx.exec("DELETE FROM jwtauth_users WHERE name = ?1", &[name.into()]))?;
        if n == 0 {
            return Ok(false);
        }
        self.0.sessions.revoke_subject(name)?;
        Ok(true)
    }

    /// On a store with no users, creates [`FIRST_ADMIN`] with role [`ADMIN_ROLE`] and a
    /// random password, returned to be shown once. `None` when users exist (also
    /// when another process created the first admin at the same moment).
    pub fn bootstrap_admin(&self) -> Result<Option<GeneratedPassword>, UserError> {
        let any = self
            .0
            .store
            .write(|tx| tx.query("SELECT name FROM jwtauth_users LIMIT 1", &[]))?;
        if !any.is_empty() {
            return Ok(None);
        }
        let password = random_password()?;
        match self.add(FIRST_ADMIN, password.expose(), &[ADMIN_ROLE]) {
            Ok(()) => Ok(Some(password)),
            Err(UserError::AlreadyExists(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::password::hash_password;
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
