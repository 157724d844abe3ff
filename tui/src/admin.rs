//! What the Keys and Sessions views ask of the store, as a small trait so the
//! views do not depend on how the store is reached. The real implementation is a
//! thin adapter over `jwtauth-core`; every rule (which key may be retired, what a
//! rotation does) lives there, never here.

use std::fmt;

use jwtauth_core::Algorithm;
pub use jwtauth_core::{KeyInfo, SessionInfo};

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
    /// Every key, the active one first.
    fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError>;
    /// Makes a new key (of `alg`, or the configured algorithm) the active one and
    /// the old one verify-only; returns the new kid.
    fn rotate_key(&mut self, alg: Option<Algorithm>) -> Result<String, AdminError>;
    /// Retires a key (the core refuses to retire the last active one).
    fn retire_key(&mut self, kid: &str) -> Result<(), AdminError>;
    /// The public keys as a JWKS document.
    fn jwks(&mut self) -> Result<serde_json::Value, AdminError>;
    /// Every live refresh-token family.
    fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError>;
    /// Revokes one family.
    fn revoke_session(&mut self, family_id: &str) -> Result<(), AdminError>;
    /// Revokes every session of a subject; returns how many.
    fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError>;
}

/// Opens an [`Admin`]; called again after a failure, so an unreachable store is retried.
pub type Connect = Box<dyn FnMut() -> Result<Box<dyn Admin>, AdminError> + Send>;

#[cfg(test)]
pub mod memory {
    //! An in-memory [`Admin`] for state and snapshot tests: enough behaviour to
    //! drive the views, none of the core's rules beyond what the views display.

    use super::*;
    use jwtauth_core::{KeyState, Kid};

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
        /// A fixed sample: three keys and three sessions.
        pub fn sample(now: i64) -> MemoryAdmin {
            let key = |kid: &str, alg, state, created, demoted: Option<i64>| KeyInfo {
                kid: Kid::new(kid),
                algorithm: alg,
                state,
                created_at: created,
                demoted_at: demoted,
                retire_after: demoted.map(|d| d + 900),
                retired_at: (state == KeyState::Retired).then(|| demoted.unwrap_or(created) + 900),
                activates_at: None,
            };
            let session = |id: &str, subject: &str, started: i64, used: i64| SessionInfo {
                family_id: id.into(),
                subject: subject.into(),
                started_at: started,
                last_used_at: used,
                expires_at: used + 14 * 86_400,
                max_expires_at: started + 30 * 86_400,
                generation: (used - started) / 900,
                client_id: None,
                user_agent: None,
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
    }

    impl Admin for MemoryAdmin {
        fn list_keys(&mut self) -> Result<Vec<KeyInfo>, AdminError> {
            Ok(self.keys.clone())
        }
        fn rotate_key(&mut self, alg: Option<Algorithm>) -> Result<String, AdminError> {
            let now = self.now;
            for k in self.keys.iter_mut().filter(|k| k.state == KeyState::Active) {
                k.state = KeyState::VerifyOnly;
                k.demoted_at = Some(now);
                k.retire_after = Some(now + 900);
            }
            let alg = alg.unwrap_or(Algorithm::ES256);
            let kid = format!("k{}-{}", self.next, alg.as_str().to_ascii_lowercase());
            self.next += 1;
            self.keys.insert(
                0,
                KeyInfo {
                    kid: Kid::new(kid.clone()),
                    algorithm: alg,
                    state: KeyState::Active,
                    created_at: now,
                    demoted_at: None,
                    retire_after: None,
                    retired_at: None,
                    activates_at: None,
                },
            );
            Ok(kid)
        }
        fn retire_key(&mut self, kid: &str) -> Result<(), AdminError> {
            let k = self
                .keys
                .iter_mut()
                .find(|k| k.kid.as_str() == kid)
                .ok_or_else(|| AdminError(format!("no key has kid '{kid}'")))?;
            if k.state == KeyState::Active {
                return Err(AdminError("the active key cannot be retired".into()));
            }
            k.state = KeyState::Retired;
            Ok(())
        }
        fn jwks(&mut self) -> Result<serde_json::Value, AdminError> {
            let keys: Vec<_> = self
                .keys
                .iter()
                .filter(|k| k.state != KeyState::Retired)
                .map(|k| serde_json::json!({ "kid": k.kid.as_str(), "alg": k.algorithm.as_str() }))
                .collect();
            Ok(serde_json::json!({ "keys": keys }))
        }
        fn list_sessions(&mut self) -> Result<Vec<SessionInfo>, AdminError> {
            Ok(self.sessions.clone())
        }
        fn revoke_session(&mut self, family_id: &str) -> Result<(), AdminError> {
            self.sessions.retain(|s| s.family_id != family_id);
            Ok(())
        }
        fn revoke_subject(&mut self, subject: &str) -> Result<u64, AdminError> {
            let before = self.sessions.len();
            self.sessions.retain(|s| s.subject != subject);
            Ok((before - self.sessions.len()) as u64)
        }
    }
}
