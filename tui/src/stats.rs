//! Aggregates that make a burst visible: failures per minute over the last hour,
//! split by reason, and the most frequent reasons, client hosts and subjects.
//!
//! Both are bounded: the minute series is 60 slots whatever the rate; the tallies
//! count what the ring holds (added on push, removed on eviction).
//!
//! A summary line of a flood (`"suppressed": N`) stands for the N failures it was
//! not written for: it counts N in both, so a burst shows at its real size.

use std::collections::HashMap;

use jwtauth_core::Reason;

use crate::failure::Failure;

/// Minutes the chart covers.
pub const WINDOW_MINUTES: usize = 60;
/// Number of reason slots: index 0 is "unknown", then each reason by its code.
pub const REASON_SLOTS: usize = 20;

/// Per-reason counts for one minute.
pub type Counts = [u32; REASON_SLOTS];

/// The slot of a reason in [`Counts`].
pub fn slot(reason: Option<Reason>) -> usize {
    reason.map_or(0, |r| usize::from(r.code())).min(REASON_SLOTS - 1)
}

/// Failures per minute by reason, for the last [`WINDOW_MINUTES`] minutes.
#[derive(Debug, Clone)]
pub struct PerMinute {
    slots: [(i64, Counts); WINDOW_MINUTES],
}

impl Default for PerMinute {
    fn default() -> Self {
        PerMinute {
            slots: [(i64::MIN, [0; REASON_SLOTS]); WINDOW_MINUTES],
        }
    }
}

impl PerMinute {
    /// Counts `weight` failures at a time; older than the window they would land in
    /// are ignored.
    pub fn add(&mut self, at: i64, reason: Option<Reason>, weight: u32) {
        let minute = at.div_euclid(60);
        let i = usize::try_from(minute.rem_euclid(WINDOW_MINUTES as i64)).unwrap_or(0);
        let s = &mut self.slots[i];
        if s.0 < minute {
            *s = (minute, [0; REASON_SLOTS]);
        }
        if s.0 == minute {
            s.1[slot(reason)] = s.1[slot(reason)].saturating_add(weight);
        }
    }

    /// The counts of the [`WINDOW_MINUTES`] minutes ending with the one holding `now`,
    /// oldest first.
    pub fn series(&self, now: i64) -> Vec<Counts> {
        let last = now.div_euclid(60);
        (0..WINDOW_MINUTES as i64)
            .rev()
            .map(|back| {
                let minute = last - back;
                let i = usize::try_from(minute.rem_euclid(WINDOW_MINUTES as i64)).unwrap_or(0);
                let (m, c) = self.slots[i];
                if m == minute { c } else { [0; REASON_SLOTS] }
            })
            .collect()
    }
}

/// How often each reason, client host and subject occurs among the failures held.
#[derive(Debug, Default, Clone)]
pub struct Tallies {
    reasons: HashMap<String, u32>,
    hosts: HashMap<String, u32>,
    subjects: HashMap<String, u32>,
    total: u64,
}

impl Tallies {
    /// Counts a failure that entered the ring (a summary line as the failures it
    /// stands for).
    pub fn add(&mut self, f: &Failure) {
        let w = f.weight();
        self.total = self.total.saturating_add(u64::from(w));
        bump(&mut self.reasons, &f.record.reason, w);
        if let Some(h) = f.client_host() {
            bump(&mut self.hosts, h, w);
        }
        if let Some(s) = &f.record.subject {
            bump(&mut self.subjects, s, w);
        }
    }

    /// Forgets a failure that left the ring.
    pub fn remove(&mut self, f: &Failure) {
        let w = f.weight();
        self.total = self.total.saturating_sub(u64::from(w));
        drop_one(&mut self.reasons, &f.record.reason, w);
        if let Some(h) = f.client_host() {
            drop_one(&mut self.hosts, h, w);
        }
        if let Some(s) = &f.record.subject {
            drop_one(&mut self.subjects, s, w);
        }
    }

    /// The failures counted: lines, with a summary line as the failures it stands for.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `n` most frequent reasons, most frequent first (ties by name).
    pub fn top_reasons(&self, n: usize) -> Vec<(&str, u32)> {
        top(&self.reasons, n)
    }

    /// The `n` most frequent client hosts.
    pub fn top_hosts(&self, n: usize) -> Vec<(&str, u32)> {
        top(&self.hosts, n)
    }

    /// The `n` most frequent subjects.
    pub fn top_subjects(&self, n: usize) -> Vec<(&str, u32)> {
        top(&self.subjects, n)
    }
}

fn bump(map: &mut HashMap<String, u32>, key: &str, weight: u32) {
    match map.get_mut(key) {
        Some(c) => *c = c.saturating_add(weight),
        None => {
            map.insert(key.to_owned(), weight);
        }
    }
}

fn drop_one(map: &mut HashMap<String, u32>, key: &str, weight: u32) {
    if let Some(c) = map.get_mut(key) {
        *c = c.saturating_sub(weight);
        if *c == 0 {
            map.remove(key);
        }
    }
}

/// Top `n` in one pass (no sort of the whole map: it may hold a host per failure).
fn top(map: &HashMap<String, u32>, n: usize) -> Vec<(&str, u32)> {
    let mut best: Vec<(&str, u32)> = Vec::with_capacity(n + 1);
    let better = |a: &(&str, u32), b: &(&str, u32)| a.1 > b.1 || (a.1 == b.1 && a.0 < b.0);
    for (k, &c) in map {
        let item = (k.as_str(), c);
        if best.len() == n && best.last().is_none_or(|last| !better(&item, last)) {
            continue;
        }
        let pos = best.iter().position(|b| better(&item, b)).unwrap_or(best.len());
        best.insert(pos, item);
        best.truncate(n);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwtauth_core::audit::FailureRecord;

    const T0: i64 = 1_795_878_000; // 2026-11-28T15:00:00Z

    #[test]
    fn per_minute_counts_by_reason_and_slides_with_the_clock() {
        let mut p = PerMinute::default();
        p.add(T0 + 5, Some(Reason::Expired), 1);
        p.add(T0 + 59, Some(Reason::Expired), 1);
        p.add(T0 + 60, Some(Reason::BadSignature), 1);
        p.add(T0 + 61, None, 1);
        let s = p.series(T0 + 90);
        assert_eq!(s.len(), WINDOW_MINUTES);
        assert_eq!(s[58][slot(Some(Reason::Expired))], 2);
        assert_eq!(s[59][slot(Some(Reason::BadSignature))], 1);
        assert_eq!(s[59][0], 1, "unknown reasons have their own slot");
        // An hour later the old minutes have left the window.
        let later = p.series(T0 + 3600 + 60);
        assert!(later.iter().all(|c| c.iter().all(|&n| n == 0)));
    }

    #[test]
    fn a_slot_is_reused_by_a_newer_minute_and_late_events_are_ignored() {
        let mut p = PerMinute::default();
        p.add(T0, Some(Reason::Expired), 1);
        p.add(T0 + 3600, Some(Reason::Revoked), 1); // same slot, an hour later
        p.add(T0 + 30, Some(Reason::Expired), 1); // too old for that slot now
        let s = p.series(T0 + 3600);
        assert_eq!(s[59][slot(Some(Reason::Revoked))], 1);
        assert_eq!(s.iter().map(|c| c.iter().sum::<u32>()).sum::<u32>(), 1);
    }

    fn f(reason: &str, subject: &str, client: &str) -> Failure {
        Failure {
            seq: 0,
            at: T0,
            reason: reason.parse().ok(),
            record: FailureRecord {
                reason: reason.into(),
                subject: Some(subject.into()),
                client: Some(client.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn tallies_rank_and_forget_evicted_failures() {
        let mut t = Tallies::default();
        let a = f("bad_credentials", "admin", "10.0.0.9:4000");
        for port in 0..5 {
            t.add(&f("bad_credentials", "admin", &format!("10.0.0.9:{port}")));
        }
        t.add(&f("expired", "alice", "10.0.0.1:1"));
        t.add(&f("expired", "bob", "10.0.0.2:1"));
        assert_eq!(t.top_reasons(5), vec![("bad_credentials", 5), ("expired", 2)]);
        assert_eq!(t.top_hosts(1), vec![("10.0.0.9", 5)]);
        assert_eq!(t.top_subjects(2), vec![("admin", 5), ("alice", 1)]);
        for _ in 0..5 {
            t.remove(&a);
        }
        assert_eq!(t.top_reasons(5), vec![("expired", 2)]);
        assert!(t.top_hosts(5).iter().all(|(h, _)| *h != "10.0.0.9"));
    }

    #[test]
    fn a_flood_summary_counts_as_the_failures_it_stands_for() {
        let mut summary = f("rate_limited", "victim", "127.0.0.1:1");
        summary.record.suppressed = Some(9_972);
        let mut t = Tallies::default();
        t.add(&f("rate_limited", "victim", "127.0.0.1:2"));
        t.add(&summary);
        t.add(&f("bad_credentials", "nobody", "127.0.0.1:3"));
        assert_eq!(t.total(), 9_974);
        assert_eq!(t.top_reasons(2), vec![("rate_limited", 9_973), ("bad_credentials", 1)]);
        assert_eq!(t.top_hosts(1), vec![("127.0.0.1", 9_974)]);
        t.remove(&summary);
        assert_eq!(t.total(), 2);
        assert_eq!(t.top_reasons(2), vec![("bad_credentials", 1), ("rate_limited", 1)]);

        let mut p = PerMinute::default();
        p.add(T0 + 1, Some(Reason::RateLimited), 1);
        p.add(T0 + 59, Some(Reason::RateLimited), summary.weight());
        assert_eq!(p.series(T0 + 60)[58][slot(Some(Reason::RateLimited))], 9_973);
    }
}
