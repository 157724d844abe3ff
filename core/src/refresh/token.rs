//! Refresh tokens (RFC 9700 §4.14): opaque, 256 random bits, stored only as their
//! SHA-256.

use std::fmt;

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::random::NoRandomness;

/// An opaque refresh token. Its `Debug` shows a fingerprint, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    pub(crate) fn generate() -> Result<RefreshToken, NoRandomness> {
        Ok(RefreshToken(Zeroizing::new(crate::random::b64_id::<32>()?)))
    }

    /// Wraps a token received from a client.
    pub fn new(token: impl Into<String>) -> RefreshToken {
        RefreshToken(Zeroizing::new(token.into()))
    }

    /// The token, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn hash(&self) -> String {
        hash(self.expose())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefreshToken({})", crate::encoding::fingerprint(self.0.as_bytes()))
    }
}

/// The SHA-256 of a refresh token in hex: all the store keeps of it.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}
