//! The failures filter, typed after `/`: whitespace-separated terms, all of which
//! must hold. A term is free text (matched in every field, hint included) or
//! scoped with a prefix: `reason:` (`r:`), `subject:` (`s:`), `addr:` (`a:`,
//! `client:`). A leading `!` inverts a term (`!expired`, `!a:10.0.0.7`).
//! Matching ignores ASCII case.

use crate::failure::Failure;

/// Which part of a failure a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Every field.
    Any,
    /// `reason`.
    Reason,
    /// `subject`.
    Subject,
    /// `client`.
    Address,
}

/// One term of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Where to look.
    pub field: Field,
    /// Lowercased needle.
    pub needle: String,
    /// Whether the term must *not* match.
    pub negated: bool,
}

/// A parsed filter; the empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<Term>,
}

impl Filter {
    /// Parses what was typed.
    pub fn parse(text: &str) -> Filter {
        let terms = text
            .split_whitespace()
            .filter_map(|raw| {
                let (negated, raw) = match raw.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, raw),
                };
                let (field, needle) = match raw.split_once(':') {
                    Some(("reason" | "r", n)) => (Field::Reason, n),
                    Some(("subject" | "s" | "sub", n)) => (Field::Subject, n),
                    Some(("addr" | "a" | "client", n)) => (Field::Address, n),
                    _ => (Field::Any, raw),
                };
                (!needle.is_empty()).then(|| Term {
                    field,
                    needle: needle.to_ascii_lowercase(),
                    negated,
                })
            })
            .collect();
        Filter { terms }
    }

    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether `f` passes.
    pub fn matches(&self, f: &Failure) -> bool {
        self.terms.iter().all(|t| term_matches(t, f) != t.negated)
    }

    /// Needles worth highlighting in `field` (those of positive terms that look there).
    pub fn highlights(&self, field: Field) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .filter(move |t| !t.negated && (t.field == Field::Any || t.field == field))
            .map(|t| t.needle.as_str())
    }
}

fn term_matches(t: &Term, f: &Failure) -> bool {
    let r = &f.record;
    let has = |s: Option<&str>| s.is_some_and(|s| contains_ci(s, &t.needle));
    match t.field {
        Field::Reason => contains_ci(&r.reason, &t.needle),
        Field::Subject => has(r.subject.as_deref()),
        Field::Address => has(r.client.as_deref()),
        Field::Any => {
            contains_ci(&r.reason, &t.needle)
                || has(r.subject.as_deref())
                || has(r.client.as_deref())
                || has(r.path.as_deref())
                || has(r.method.as_deref())
                || has(r.kid.as_deref())
                || has(r.fingerprint.as_deref())
                || has(r.hint.as_deref())
                || has(r.user_agent.as_deref())
                || has(r.request_id.as_deref())
        }
    }
}

/// Whether `hay` contains `needle` (already lowercase), ignoring ASCII case,
/// without allocating.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle, 0).is_some()
}

/// Byte offset of the first match of `needle` (lowercase) in `hay` at or after
/// `from`, ignoring ASCII case.
pub fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| {
        h[i..i + n.len()]
            .iter()
            .zip(n)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// Splits `text` into (segment, is_match) runs for the given needles.
pub fn split_matches<'a>(text: &'a str, needles: &[&str]) -> Vec<(&'a str, bool)> {
    let mut marks = vec![false; text.len()];
    for n in needles {
        let mut from = 0;
        while let Some(i) = find_ci(text, n, from) {
            marks[i..i + n.len()].iter_mut().for_each(|m| *m = true);
            from = i + 1;
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=text.len() {
        let boundary = i == text.len() || (text.is_char_boundary(i) && marks[i] != marks[start]);
        if boundary {
            out.push((&text[start..i], marks[start]));
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwtauth_core::audit::FailureRecord;

    fn f(reason: &str, subject: &str, client: &str, hint: &str) -> Failure {
        Failure {
            seq: 0,
            at: 0,
            reason: reason.parse().ok(),
            record: FailureRecord {
                reason: reason.into(),
                subject: Some(subject.into()),
                client: Some(client.into()),
                hint: Some(hint.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(Filter::parse("  ").matches(&f("expired", "a", "b", "c")));
    }

    #[test]
    fn scoped_terms_look_only_at_their_field() {
        let alice = f("expired", "alice", "10.0.0.7:1", "token expired for bob");
        assert!(Filter::parse("s:ALI").matches(&alice));
        assert!(!Filter::parse("subject:bob").matches(&alice), "bob is only in the hint");
        assert!(Filter::parse("bob").matches(&alice), "free text looks at the hint");
        assert!(Filter::parse("reason:expired a:10.0.0.7").matches(&alice));
        assert!(!Filter::parse("r:wrong_audience").matches(&alice));
    }

    #[test]
    fn bang_inverts_a_term() {
        let e = f("expired", "alice", "10.0.0.7:1", "");
        let w = f("wrong_audience", "bob", "10.0.0.8:1", "");
        let filter = Filter::parse("!expired");
        assert!(!filter.matches(&e));
        assert!(filter.matches(&w));
        let both = Filter::parse("!r:expired !s:bob");
        assert!(!both.matches(&e) && !both.matches(&w));
    }

    #[test]
    fn highlights_come_from_positive_terms_for_the_field() {
        let filter = Filter::parse("s:ali exp !bob");
        let subj: Vec<_> = filter.highlights(Field::Subject).collect();
        assert_eq!(subj, vec!["ali", "exp"]);
        let reason: Vec<_> = filter.highlights(Field::Reason).collect();
        assert_eq!(reason, vec!["exp"]);
    }

    #[test]
    fn split_marks_every_match_case_insensitively() {
        assert_eq!(
            split_matches("Alice and ALI", &["ali"]),
            vec![("Ali", true), ("ce and ", false), ("ALI", true)]
        );
        assert_eq!(split_matches("é-ali", &["ali"]), vec![("é-", false), ("ali", true)]);
        assert_eq!(split_matches("", &["x"]), Vec::<(&str, bool)>::new());
    }
}
