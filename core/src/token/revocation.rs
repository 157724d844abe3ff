//! Revocation marks as the verifier sees them, one immutable value behind an
//! atomic pointer, replaced whole by the maintenance thread and updated in place
//! by a revocation made in this process:
//!
//! - subject watermarks (logout everywhere, a password or role change, a disabled
//!   or deleted user): access tokens of the subject issued at or before that second;
//! - revoked sessions (logout, reuse of a refresh token, an administrator, and
//!   every session a watermark revoked with it): access tokens whose `sid` names one.
//!
//! A watermark and the sessions it ends are written in one transaction and land
//! here together, so a token of a session (one with `sid`) from the watermark's
//! own second is decided by its session: revoked with it if the session existed,
//! good if the session started after (a login in the same second as a logout
//! everywhere is not dead on arrival). A token without `sid` compares by the
//! second alone, as before: its whole second is refused.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Every mark in force.
#[derive(Default)]
pub(crate) struct Marks {
    /// Subject → access tokens issued at or before this second are revoked.
    pub subjects: HashMap<String, i64>,
    /// Session (family) id → when it was revoked.
    pub sessions: HashMap<String, i64>,
}

/// Why a token is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoked {
    /// The subject's watermark, at this second.
    Subject(i64),
    /// The token's session was revoked, at this second.
    Session(i64),
}

#[derive(Default)]
pub(crate) struct Revocations(ArcSwap<Marks>);

impl Revocations {
    /// Whether a token of `subject`, of session `session` (its `sid`), issued at
    /// `issued_at` (its `iat`), is revoked.
    pub(crate) fn check(&self, subject: &str, session: Option<&str>, issued_at: Option<i64>) -> Option<Revoked> {
        let marks = self.0.load();
        if marks.subjects.is_empty() && marks.sessions.is_empty() {
            return None;
        }
        if let Some(at) = session.and_then(|s| marks.sessions.get(s)) {
            return Some(Revoked::Session(*at));
        }
        let mark = *marks.subjects.get(subject)?;
        let issued_at = issued_at.unwrap_or(0);
        // A session's token from the watermark's second whose session is not
        // revoked (above) was issued by a session started after the watermark.
        let revoked = if session.is_some() {
            issued_at < mark
        } else {
            issued_at <= mark
        };
        revoked.then_some(Revoked::Subject(mark))
    }

    /// Records a watermark set in this process at `at`, with the sessions revoked
    /// with it, before any reload shows them; both at once.
    pub(crate) fn set_subject(&self, subject: &str, at: i64, sessions: &[String]) {
        self.0.rcu(|m| {
            let mut sessions_now = m.sessions.clone();
            sessions_now.extend(sessions.iter().map(|s| (s.clone(), at)));
            let mut subjects = m.subjects.clone();
            subjects.insert(subject.to_string(), at);
            Marks {
                subjects,
                sessions: sessions_now,
            }
        });
    }

    /// Records a session revoked in this process at `at`.
    pub(crate) fn set_session(&self, session: &str, at: i64) {
        self.0.rcu(|m| {
            let mut sessions = m.sessions.clone();
            sessions.insert(session.to_string(), at);
            Marks {
                subjects: m.subjects.clone(),
                sessions,
            }
        });
    }

    /// Replaces every mark with what the store holds.
    pub(crate) fn replace(&self, marks: Marks) {
        self.0.store(Arc::new(marks));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_token_from_the_watermark_second_is_decided_by_its_session() {
        let r = Revocations::default();
        assert_eq!(r.check("alice", Some("s1"), Some(100)), None, "no marks");
        r.set_subject("alice", 100, &["s1".to_string()]);
        // The session revoked with the watermark: refused, whatever the second.
        assert_eq!(r.check("alice", Some("s1"), Some(100)), Some(Revoked::Session(100)));
        // A session started after it, in the same second: good.
        assert_eq!(r.check("alice", Some("s2"), Some(100)), None);
        assert_eq!(r.check("alice", Some("s2"), Some(101)), None);
        // Any session's token from an earlier second: refused.
        assert_eq!(r.check("alice", Some("s2"), Some(99)), Some(Revoked::Subject(100)));
        // Without a session, the whole second is refused, as before.
        assert_eq!(r.check("alice", None, Some(100)), Some(Revoked::Subject(100)));
        assert_eq!(r.check("alice", None, None), Some(Revoked::Subject(100)));
        assert_eq!(r.check("alice", None, Some(101)), None);
        assert_eq!(r.check("bob", Some("s1"), Some(100)), Some(Revoked::Session(100)));
        assert_eq!(r.check("bob", None, Some(1)), None);
    }

    #[test]
    fn a_revoked_session_refuses_every_token_it_names() {
        let r = Revocations::default();
        r.set_session("s1", 100);
        for iat in [Some(1), Some(100), Some(10_000), None] {
            assert_eq!(r.check("alice", Some("s1"), iat), Some(Revoked::Session(100)));
        }
        assert_eq!(r.check("alice", Some("s2"), Some(1)), None);
        assert_eq!(r.check("alice", None, Some(1)), None);
        r.replace(Marks::default());
        assert_eq!(r.check("alice", Some("s1"), Some(1)), None, "replaced whole");
    }
}
