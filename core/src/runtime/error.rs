//! The runtime's errors: why it could not be set up, and the one error adapters
//! may use for every service.

use crate::clients::ClientError;
use crate::config::ConfigError;
use crate::error::{AuthError, Reason};
use crate::keys::KeyError;
use crate::keystore::KeyAdminError;
use crate::random::NoRandomness;
use crate::refresh::SessionError;
use crate::store::StoreError;
use crate::token::IssueError;
use crate::users::UserError;

/// Why a [`super::JwtAuth`] or [`super::Tokens`] could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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

/// Any failure of a jwtauth service, for adapters that handle them alike (each
/// service also has its own error type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// A key administration request was refused.
    #[error(transparent)]
    KeyAdmin(KeyAdminError),
    /// A user administration request was refused.
    #[error(transparent)]
    User(UserError),
    /// A client administration request was refused.
    #[error(transparent)]
    Client(ClientError),
    /// No system randomness.
    #[error(transparent)]
    Randomness(#[from] NoRandomness),
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

impl From<SessionError> for Error {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Auth(a) | SessionError::Limited { error: a, .. } => Error::Auth(a),
            SessionError::Issue(i) => Error::Issue(i),
            SessionError::Store(s) => Error::Store(s),
            SessionError::Randomness(r) => Error::Randomness(r),
        }
    }
}

impl From<KeyAdminError> for Error {
    fn from(e: KeyAdminError) -> Self {
        match e {
            KeyAdminError::Store(s) => Error::Store(s),
            KeyAdminError::Key(k) => Error::Key(k),
            other => Error::KeyAdmin(other),
        }
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Auth(a) => Error::Auth(a),
            ClientError::Store(s) => Error::Store(s),
            ClientError::Issue(i) => Error::Issue(i),
            ClientError::Randomness(r) => Error::Randomness(r),
            other => Error::Client(other),
        }
    }
}

impl From<UserError> for Error {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Store(s) => Error::Store(s),
            UserError::Session(s) => s.into(),
            UserError::Randomness(r) => Error::Randomness(r),
            other => Error::User(other),
        }
    }
}
