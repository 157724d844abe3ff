//! Logout-everywhere watermarks as the verifier sees them: subject → access tokens
//! issued at or before this second are revoked. An immutable map behind an atomic
//! pointer, replaced whole by the maintenance thread and updated in place by a
//! revocation made in this process.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

#[derive(Default)]
pub(crate) struct Revocations(ArcSwap<HashMap<String, i64>>);

impl Revocations {
    /// The watermark of `subject`, if it has one.
    pub(crate) fn of(&self, subject: &str) -> Option<i64> {
        let marks = self.0.load();
        if marks.is_empty() {
            return None;
        }
        marks.get(subject).copied()
    }

    /// Records a revocation made in this process, before any reload shows it.
    pub(crate) fn set(&self, subject: &str, at: i64) {
        self.0.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(subject.to_string(), at);
            m
        });
    }

    /// Replaces every watermark with what the store holds.
    pub(crate) fn replace(&self, marks: HashMap<String, i64>) {
        self.0.store(Arc::new(marks));
    }
}
