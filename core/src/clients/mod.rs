//! Service clients (OAuth 2.0 confidential clients, RFC 6749 §2.1): microservices
//! that authenticate with a client id and secret and receive access tokens of their
//! own through the `client_credentials` grant (RFC 6749 §4.4).
//!
//! A client secret is 256 random bits generated here, shown once and stored only as
//! its SHA-256: with that much entropy a slow password hash would protect nothing
//! more (nobody can guess 2^256 values), while it would cost every service call
//! tens of milliseconds and megabytes. The comparison is constant-time.

mod basic;
mod sql;

pub use basic::{basic_credentials, form_decode};

use std::sync::Arc;

use aws_lc_rs::{constant_time, digest};
use zeroize::Zeroizing;

use crate::audit::{FailureEvent, RequestInfo};
use crate::clock::Clock;
use crate::error::{AuthError, Reason};
use crate::random::NoRandomness;
use crate::refresh::Sessions;
use crate::store::{Store, StoreError};
use crate::token::{IssueError, Issued, Issuer};

/// The claim naming the client a token was issued to (RFC 9068 §2.2), so a
/// resource server can tell a service's token from a person's.
pub const CLIENT_ID_CLAIM: &str = "client_id";
/// Every generated secret starts with this, so a leaked one is recognisable
/// (secret scanners) and never mistaken for a password.
pub const SECRET_PREFIX: &str = "jwtcs_";
/// Longest secret looked at; anything longer is refused before hashing.
const MAX_SECRET_BYTES: usize = 256;

/// A registered client as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client id (the name it was added with); the `sub` of its tokens.
    pub client_id: String,
    /// Roles put into its tokens.
    pub roles: Vec<String>,
    /// A disabled client gets no tokens.
    pub disabled: bool,
    /// When it was added.
    pub created_at: i64,
    /// When its current secret was made.
    pub secret_created_at: i64,
}

/// A client secret, shown once. Zeroed when dropped; `Debug` hides it.
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    fn generate() -> Result<ClientSecret, NoRandomness> {
        let random = crate::random::b64_id::<32>()?;
        Ok(ClientSecret(Zeroizing::new(format!("{SECRET_PREFIX}{random}"))))
    }

    /// The secret, to show to the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// A client just added: its id and its secret, shown once.
#[derive(Debug)]
pub struct NewClient {
    /// The client id.
    pub client_id: String,
    /// The secret (only its hash is stored).
    pub secret: ClientSecret,
}

/// Why a client operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Client authentication failed (unknown client, wrong secret, disabled);
    /// recorded in the failure log with reason `bad_credentials`.
    #[error(transparent)]
    Auth(AuthError),
    /// The name has characters or a length a client id cannot have.
    #[error("a client name is 1 to 64 characters among letters, digits and . _ @ -")]
    InvalidName,
    /// A role has characters or a length a role cannot have.
    #[error("a role is 1 to 64 characters among letters, digits and . _ : -")]
    InvalidRole,
    /// Another client, or a user, has this name (the name is the `sub` of its tokens).
    #[error("'{0}' is already the name of a client or a user; a client's tokens carry its name as `sub`")]
    AlreadyExists(String),
    /// No client has this name.
    #[error("no client '{0}'")]
    Unknown(String),
    /// The token could not be issued.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No random bytes for a secret.
    #[error(transparent)]
    Randomness(#[from] NoRandomness),
}

fn check_name(name: &str) -> Result<(), ClientError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok { Ok(()) } else { Err(ClientError::InvalidName) }
}

fn check_role(role: &str) -> Result<(), ClientError> {
    let ok = (1..=64).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok { Ok(()) } else { Err(ClientError::InvalidRole) }
}

/// What the store keeps of a secret.
fn secret_hash(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    format!("sha256:{}", crate::encoding::b64(d.as_ref()))
}

/// Whether `secret` hashes to `stored`, in time independent of where they differ.
fn secret_matches(secret: &str, stored: &str) -> bool {
    let presented = secret_hash(secret);
    constant_time::verify_slices_are_equal(presented.as_bytes(), stored.as_bytes()).is_ok()
}

pub(crate) struct Parts {
    pub store: Arc<Store>,
    pub issuer: Issuer,
    pub sessions: Sessions,
    pub clock: Arc<dyn Clock>,
}

/// The registry of service clients: add, list, disable, rotate a secret,
/// authenticate, and the `client_credentials` grant. Cheap to clone; every call
/// blocks on the store.
#[derive(Clone)]
pub struct Clients(Arc<Parts>);

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("store", &self.0.store)
            .finish_non_exhaustive()
    }
}

impl Clients {
    pub(crate) fn new(parts: Parts) -> Clients {
        Clients(Arc::new(parts))
    }

    /// Registers a client named `name` with `roles` and a new secret, returned to
    /// be shown once. The name may not be a user's: it is the `sub` of the
    /// client's tokens.
    pub fn add(&self, name: &str, roles: &[&str]) -> Result<NewClient, ClientError> {
        check_name(name)?;
        roles.iter().try_for_each(|r| check_role(r))?;
        let secret = ClientSecret::generate()?;
        let roles_json = serde_json::to_string(roles).map_err(|e| StoreError::Data(e.to_string()))?;
        let now = self.0.clock.now();
        if !sql::insert(&self.0.store, name, &secret_hash(secret.expose()), &roles_json, now)? {
            return Err(ClientError::AlreadyExists(name.to_owned()));
        }
        Ok(NewClient {
            client_id: name.to_owned(),
            secret,
        })
    }

    /// Every client, by id.
    pub fn list(&self) -> Result<Vec<ClientInfo>, StoreError> {
        sql::list(&self.0.store)
    }

    /// Disables a client: no more tokens, and the access tokens it holds stop
    /// validating (here at once, elsewhere within `revocation_staleness`).
    pub fn disable(&self, name: &str) -> Result<(), ClientError> {
        if !sql::disable(&self.0.store, name)? {
            return Err(ClientError::Unknown(crate::error::clip(name)));
        }
        self.0.sessions.revoke_subject(name)?;
        Ok(())
    }

    /// Replaces a client's secret with a new one, returned to be shown once; the
    /// old secret stops working at once. Tokens already issued stay valid.
    pub fn rotate_secret(&self, name: &str) -> Result<ClientSecret, ClientError> {
        let secret = ClientSecret::generate()?;
        if !sql::set_secret(&self.0.store, name, &secret_hash(secret.expose()), self.0.clock.now())? {
            return Err(ClientError::Unknown(crate::error::clip(name)));
        }
        Ok(secret)
    }

    /// Checks a client's id and secret. Any failure (unknown client, wrong secret,
    /// disabled) is the same `bad_credentials` error to the caller and is recorded
    /// in the failure log with the client id as an unverified subject.
    pub fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
        request: &RequestInfo<'_>,
    ) -> Result<ClientInfo, ClientError> {
        let fail = |hint: &str| {
            let e = AuthError::new(Reason::BadCredentials, hint);
            let shown = crate::error::clip(client_id);
            FailureEvent::of(&e, request).subject(Some(&shown), false).record();
            ClientError::Auth(e)
        };
        if client_id.is_empty() || client_id.len() > 64 || secret.len() > MAX_SECRET_BYTES {
            return Err(fail("client authentication failed"));
        }
        let Some((info, stored)) = sql::get(&self.0.store, client_id)? else {
            // Hash anyway, so an unknown client takes as long as a known one.
            let _ = secret_matches(secret, "sha256:");
            return Err(fail("client authentication failed"));
        };
        if !secret_matches(secret, &stored) {
            return Err(fail("client authentication failed"));
        }
        if info.disabled {
            return Err(fail("the client is disabled"));
        }
        Ok(info)
    }

    /// The `client_credentials` grant: authenticates the client and issues an
    /// access token with `sub` and `client_id` = the client id and the client's
    /// roles. No refresh token: the client authenticates again instead.
    pub fn token(&self, client_id: &str, secret: &str, request: &RequestInfo<'_>) -> Result<Issued, ClientError> {
        let info = self.authenticate(client_id, secret, request)?;
        let roles: Vec<&str> = info.roles.iter().map(String::as_str).collect();
        let mut extra = serde_json::Map::new();
        extra.insert(CLIENT_ID_CLAIM.into(), info.client_id.clone().into());
        Ok(self.0.issuer.issue(&info.client_id, &roles, &extra)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_hidden_from_debug_and_stored_as_a_hash() {
        let a = ClientSecret::generate().unwrap();
        let b = ClientSecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 43);
        assert!(!format!("{a:?}").contains(a.expose()));
        let stored = secret_hash(a.expose());
        assert!(!stored.contains(a.expose()));
        assert!(secret_matches(a.expose(), &stored));
        assert!(!secret_matches(b.expose(), &stored));
        assert!(!secret_matches("", &stored));
    }

    #[test]
    fn names_and_roles_are_checked() {
        assert!(check_name("billing-svc").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a:b").is_err());
        assert!(check_role("Reader").is_ok());
        assert!(check_role("a b").is_err());
    }
}
