//! What the Keys, Sessions, Users and Clients views ask of the store, as a small
//! trait so the views do not depend on how the store is reached. The real
//! implementation is a thin adapter over `jwtauth-core`; every rule (which key may
//! be retired, what a rotation does, which names and passwords are acceptable,
//! which sessions end) lives there, never here.

use std::fmt;

use jwtauth_core::Algorithm;
pub use jwtauth_core::issuers::IssuerStatus;
pub use jwtauth_core::users::UserInfo;
pub use jwtauth_core::{ClientInfo, KeyInfo, SessionInfo};

use crate::secret::Secret;

/// A store operation that failed, in words for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError(pub String);

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for AdminError {
    fn from(e: E) -> Self {
        AdminError(e.to_string())
    }
}

/// When a rotated key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Published in the JWKS now, signing after `key_publish_ahead`, so relying
    /// parties have fetched it before its first token.
    PublishAhead,
    /// Signing at once (an emergency: relying parties with a cached JWKS reject
    /// its tokens until they fetch the JWKS again).
    Now,
}

/// Store administration. Called from the store thread, never from the drawing
/// thread, so implementations may block.
pub trait Admin: Send {
    /// Every key, the next one first, then the active one.
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError>;
    /// Seconds between a [`Rotation::PublishAhead`] and the new key's first signature.
    fn publish_ahead(&mut self) -> i64;
    /// Makes a new key (of `alg`, or the configured algorithm); returns it as stored.
    fn rotate_key(&mut self, alg: Option<Algorithm>, when: Rotation) -> Result<KeyInfo, AdminError>;
    /// Retires a key (the core refuses to retire the last active one).
    fn retire_key(&mut self, kid: &str) -> Result<(), AdminError>;
    /// The public keys as a JWKS document.
    fn jwks(&mut self) -> Result<serde_json::Value, AdminError>;
    /// What this process knows of each configured trusted issuer (it fetches their
    /// keys itself; a server's view may differ).
    fn trusted_issuers(&mut self) -> Vec<IssuerStatus>;
    /// Every live refresh-token family.
    fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError>;
    /// Revokes one family.
    fn revoke_session(&mut self, family_id: &str) -> Result<(), AdminError>;
    /// Revokes every session of a subject; returns how many.
    fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError>;
    /// Every user, by name.
    fn list_users(&mut self) -> Result<Vec<UserInfo>, AdminError>;
    /// Adds a user with a password and roles.
    fn add_user(&mut self, name: &str, password: &Secret, roles: &[String]) -> Result<(), AdminError>;
    /// Changes a user's password; the core ends the user's sessions.
    fn set_password(&mut self, name: &str, password: &Secret) -> Result<(), AdminError>;
    /// Disables a user; the core ends the user's sessions.
    fn disable_user(&mut self, name: &str) -> Result<(), AdminError>;
    /// Lets a disabled user log in again.
    fn enable_user(&mut self, name: &str) -> Result<(), AdminError>;
    /// Adds and removes roles; returns the roles now. The core ends the user's sessions.
    fn change_roles(&mut self, name: &str, add: &[String], remove: &[String]) -> Result<Vec<String>, AdminError>;
    /// Deletes a user; the core ends the user's sessions.
    fn delete_user(&mut self, name: &str) -> Result<(), AdminError>;
    /// Every service client, by id.
    fn list_clients(&mut self) -> Result<Vec<ClientInfo>, AdminError>;
    /// Registers a client; returns its secret, to be shown once.
    fn add_client(&mut self, name: &str, roles: &[String]) -> Result<Secret, AdminError>;
    /// Disables a client; its tokens stop validating.
    fn disable_client(&mut self, name: &str) -> Result<(), AdminError>;
    /// Replaces a client's secret; returns the new one, to be shown once.
    fn rotate_client_secret(&mut self, name: &str) -> Result<Secret, AdminError>;
}

/// Opens an [`Admin`]; called again after a failure, so an unreachable store is retried.
pub type Connect = Box<dyn FnMut() -> Result<Box<dyn Admin>, AdminError> + Send>;

#[cfg(test)]
pub mod memory;
