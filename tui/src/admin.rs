//! What the Keys and Sessions views ask of the store, as a small trait so the
//! views do not depend on how the store is reached. The real implementation is a
//! thin adapter over `jwtauth-core`; every rule (which key may be retired, what a
//! rotation does) lives there, never here.

use std::fmt;

use jwtauth_core::{Algorithm, KeyState};

/// A signing key as the admin sees it: public facts only, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// The algorithm it is pinned to.
    pub algorithm: Algorithm,
    /// Active, verify-only or retired.
    pub state: KeyState,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it stopped signing, if it did.
    pub demoted_at: Option<i64>,
    /// When it may be retired (its last tokens have expired), if demoted.
    pub retire_after: Option<i64>,
}

/// A refresh-token family: one login and the refresh tokens rotated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Family id (not a token; safe to show).
    pub id: String,
    /// Who logged in.
    pub subject: String,
    /// When the login happened.
    pub started_at: i64,
    /// When a refresh token of the family was last used.
    pub last_used_at: i64,
    /// When the family expires at the latest.
    pub expires_at: i64,
}

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

/// Key and session administration. Called from the store thread, never from the
/// drawing thread, so implementations may block.
pub trait Admin: Send {
    /// Every key, newest first.
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError>;
    /// Adds a verify-only key for `alg`; returns its kid.
    fn add_key(&mut self, alg: Algorithm) -> Result<String, AdminError>;
    /// Makes a new key (of `alg`, or the active key's algorithm) the active one;
    /// returns its kid.
    fn rotate_key(&mut self, alg: Option<Algorithm>) -> Result<String, AdminError>;
    /// Retires a key (the core refuses to retire the last active one).
    fn retire_key(&mut self, kid: &str) -> Result<(), AdminError>;
    /// The public keys as a JWKS document.
    fn jwks(&mut self) -> Result<serde_json::Value, AdminError>;
    /// Every live refresh-token family.
    fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError>;
    /// Revokes one family.
    fn revoke_session(&mut self, id: &str) -> Result<(), AdminError>;
    /// Revokes every session of a subject; returns how many.
    fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError>;
}

/// Opens an [`Admin`]; called again after a failure, so an unreachable store is retried.
pub type Connect = Box<dyn FnMut() -> Result<Box<dyn Admin>, AdminError> + Send>;

#[cfg(test)]
pub mod memory {
    //! An in-memory [`Admin`] for state and snapshot tests. It follows the core's
    //! documented behaviour closely enough to drive the views; it is not a store.

    use super::*;

    /// Keys and sessions in vectors.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryAdmin {
        /// Keys, newest first.
        pub keys: Vec<KeyInfo>,
        /// Sessions.
        pub sessions: Vec<SessionInfo>,
        /// "Now" for new keys.
        pub now: i64,
        next: u32,
    }

    impl MemoryAdmin {
        /// A fixed sample: two keys and three sessions.
        pub fn sample(now: i64) -> MemoryAdmin {
            let key = |kid: &str, alg, state, created, demoted: Option<i64>| KeyInfo {
                kid: kid.into(),
                algorithm: alg,
                state,
                created_at: created,
                demoted_at: demoted,
                retire_after: demoted.map(|d| d + 900),
            };
            let session = |id: &str, subject: &str, started: i64, used: i64| SessionInfo {
                id: id.into(),
                subject: subject.into(),
                started_at: started,
                last_used_at: used,
                expires_at: started + 30 * 86_400,
            };
            MemoryAdmin {
                keys: vec![
                    key("k2-es256-7f3a", Algorithm::ES256, KeyState::Active, now - 3600, None),
                    key(
                        "k1-es256-19c0",
                        Algorithm::ES256,
                        KeyState::VerifyOnly,
                        now - 86_400,
                        Some(now - 3600),
                    ),
                    key(
                        "k0-rs256-0b11",
                        Algorithm::RS256,
                        KeyState::Retired,
                        now - 90 * 86_400,
                        Some(now - 30 * 86_400),
                    ),
                ],
                sessions: vec![
                    session("fam-01", "alice", now - 7200, now - 60),
                    session("fam-02", "alice", now - 86_400, now - 3600),
                    session("fam-03", "bob", now - 600, now - 600),
                ],
                now,
                next: 3,
            }
        }

        fn new_key(&mut self, alg: Algorithm, state: KeyState) -> String {
            let kid = format!("k{}-{}", self.next, alg.as_str().to_ascii_lowercase());
            self.next += 1;
            self.keys.insert(
                0,
                KeyInfo {
                    kid: kid.clone(),
                    algorithm: alg,
                    state,
                    created_at: self.now,
                    demoted_at: None,
                    retire_after: None,
                },
            );
            kid
        }
    }

    impl Admin for MemoryAdmin {
        fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError> {
            Ok(self.keys.clone())
        }
        fn add_key(&mut self, alg: Algorithm) -> Result<String, AdminError> {
            Ok(self.new_key(alg, KeyState::VerifyOnly))
        }
        fn rotate_key(&mut self, alg: Option<Algorithm>) -> Result<String, AdminError> {
            let now = self.now;
            let mut prev = None;
            for k in self.keys.iter_mut().filter(|k| k.state == KeyState::Active) {
                prev = Some(k.algorithm);
                k.state = KeyState::VerifyOnly;
                k.demoted_at = Some(now);
                k.retire_after = Some(now + 900);
            }
            let alg = alg.or(prev).unwrap_or(Algorithm::ES256);
            Ok(self.new_key(alg, KeyState::Active))
        }
        fn retire_key(&mut self, kid: &str) -> Result<(), AdminError> {
            let active = self.keys.iter().filter(|k| k.state == KeyState::Active).count();
            let k = self
                .keys
                .iter_mut()
                .find(|k| k.kid == kid)
                .ok_or_else(|| AdminError(format!("no key {kid}")))?;
            if k.state == KeyState::Active && active == 1 {
                return Err(AdminError("the last active key cannot be retired".into()));
            }
            k.state = KeyState::Retired;
            Ok(())
        }
        fn jwks(&mut self) -> Result<serde_json::Value, AdminError> {
            let keys: Vec<_> = self
                .keys
                .iter()
                .filter(|k| k.state != KeyState::Retired)
                .map(|k| serde_json::json!({ "kid": k.kid, "alg": k.algorithm.as_str() }))
                .collect();
            Ok(serde_json::json!({ "keys": keys }))
        }
        fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError> {
            Ok(self.sessions.clone())
        }
        fn revoke_session(&mut self, id: &str) -> Result<(), AdminError> {
            self.sessions.retain(|s| s.id != id);
            Ok(())
        }
        fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError> {
            let before = self.sessions.len();
            self.sessions.retain(|s| s.subject != subject);
            Ok((before - self.sessions.len()) as u64)
        }
    }
}
