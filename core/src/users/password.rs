//! Password hashing: argon2id at OWASP cost, and generated passwords.

use argon2::password_hash::PasswordHasher;
use argon2::{Argon2, Params};
use zeroize::Zeroizing;

use super::UserError;
use crate::random::NoRandomness;

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

    pub(crate) fn params(self) -> Result<Params, UserError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| UserError::Hashing(format!("argon2 parameters are invalid: {e}")))
    }

    pub(crate) fn hasher(self) -> Result<Argon2<'static>, UserError> {
        Ok(Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.params()?,
        ))
    }
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost::OWASP
    }
}

pub(crate) fn hash_password(cost: HashCost, password: &str) -> Result<String, UserError> {
    let hash = cost
        .hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| UserError::Hashing(format!("password could not be hashed: {e}")))?;
    Ok(hash.to_string())
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

pub(crate) fn random_password() -> Result<GeneratedPassword, NoRandomness> {
    // 15 random bytes as 20 URL-safe base64 characters: 120 bits.
    Ok(GeneratedPassword(Zeroizing::new(crate::random::b64_id::<15>()?)))
}
