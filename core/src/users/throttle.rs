//! Login throttling: failed logins are limited per username and per client address
//! (`rate_limited`), so passwords cannot be guessed at speed, while a correct
//! password that has not failed is never refused for having been used often.
//!
//! Three budgets, each a keyed GCRA bucket ([`Keyed`]):
//! - failures per username (its caseless key, so `admin` and `ADMIN` share one);
//! - failures per client address (IPv6 by /64);
//! - every attempt per client address, generous: a verification costs an argon2
//!   hash, so even correct passwords cannot be sent without bound.
//!
//! An attempt reserves one failure of its username and address before the password
//! is checked, so concurrent guesses cannot overshoot a budget; a success gives the
//! address its failure back and ends the username's back-off entirely. Memory is
//! bounded: each budget keeps at most `max_keys` keys and evicts the least recently
//! used one, so a flood of fresh keys pushes out idle ones, never a client that is
//! still trying.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::fold::name_key;

/// How many login attempts are allowed (`[login]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failed logins in a burst for one username.
    pub per_user_burst: u32,
    /// One more failure allowed for a username per this period.
    pub per_user_period: Duration,
    /// Failed logins in a burst from one client address.
    pub per_client_burst: u32,
    /// One more failure allowed from a client address per this period.
    pub per_client_period: Duration,
    /// Attempts of any outcome in a burst from one client address.
    pub per_client_attempt_burst: u32,
    /// One more attempt of any outcome from a client address per this period.
    pub per_client_attempt_period: Duration,
    /// Keys kept per budget at most; the least recently used is evicted first.
    pub max_keys: usize,
}

impl Default for LoginLimits {
    /// 5 failures per username then one every 12 s (5 a minute); 20 failures per
    /// client address then one every 3 s; 100 attempts of any outcome per client
    /// address then 10 a second; 100 000 keys per budget.
    fn default() -> Self {
        LoginLimits {
            per_user_burst: 5,
            per_user_period: Duration::from_secs(12),
            per_client_burst: 20,
            per_client_period: Duration::from_secs(3),
            per_client_attempt_burst: 100,
            per_client_attempt_period: Duration::from_millis(100),
            max_keys: 100_000,
        }
    }
}

/// One keyed GCRA budget with bounded memory: `burst` at once, then one more per
/// `period`. Each key holds the instant its bucket is full again; a key whose
/// bucket is full carries no information and may be dropped.
pub(crate) struct Keyed {
    period: Duration,
    /// `burst × period`: how far ahead of now a bucket may be spent.
    tolerance: Duration,
    full_at: Mutex<LruCache<String, Instant>>,
}

impl Keyed {
    pub(crate) fn new(burst: u32, period: Duration, max_keys: usize) -> Keyed {
        let period = period.max(Duration::from_millis(1));
        Keyed {
            period,
            tolerance: period.saturating_mul(burst.max(1)),
            full_at: Mutex::new(LruCache::new(NonZeroUsize::new(max_keys).unwrap_or(NonZeroUsize::MIN))),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<String, Instant>> {
        // A poisoned lock means a thread panicked while holding it; the map is
        // still a valid map (each change is one insert or remove).
        self.full_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spends one unit for `key`; `Err(wait)` when none is left (nothing spent, but
    /// the key counts as used: a client that keeps trying is not evicted).
    pub(crate) fn check(&self, key: String) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: String, now: Instant) -> Result<(), Duration> {
        let mut cache = self.cache();
        let from = cache.get(&key).map_or(now, |&full_at| full_at.max(now));
        let next = from + self.period;
        let ahead = next - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        cache.put(key, next);
        Ok(())
    }

    /// Gives back one unit spent for `key` (an attempt that turned out not to count).
    pub(crate) fn refund(&self, key: &str) {
        let now = Instant::now();
        let mut cache = self.cache();
        if let Some(full_at) = cache.get_mut(key) {
            match full_at.checked_sub(self.period).filter(|t| *t > now) {
                Some(earlier) => *full_at = earlier,
                None => {
                    cache.pop(key);
                }
            }
        }
    }

    /// Forgets `key`: its whole budget is available again.
    pub(crate) fn forget(&self, key: &str) {
        self.cache().pop(key);
    }

    pub(crate) fn len(&self) -> usize {
        self.cache().len()
    }

    /// Drops the keys whose bucket is full again.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let mut cache = self.cache();
        let full: Vec<String> = cache
            .iter()
            .filter(|(_, full_at)| **full_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in full {
            cache.pop(&k);
        }
    }
}

/// What one client is, for throttling and log summaries: the IP of `addr` (an IP
/// or `ip:port`) without the port, and for IPv6 its /64 (one host's addresses; a
/// client rotating through its prefix is still one client). Anything else as given.
pub fn client_key(addr: &str) -> String {
    let ip = addr
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| addr.parse::<std::net::IpAddr>());
    match ip.map(|ip| ip.to_canonical()) {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(ip) => ip.to_string(),
        Err(_) => addr.to_owned(),
    }
}

/// Whole seconds to wait (at least 1), for `Retry-After` and hints.
pub(crate) fn whole_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The login throttle. Thread-safe; share it.
pub struct LoginLimiter {
    user_failures: Keyed,
    client_failures: Keyed,
    client_attempts: Keyed,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("users", &self.user_failures.len())
            .field("clients", &self.client_failures.len())
            .field("client_attempts", &self.client_attempts.len())
            .finish()
    }
}

/// An attempt that was refused, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Whole seconds until an attempt will be accepted (at least 1): the `Retry-After`.
    pub retry_after_secs: u64,
    /// Whether the client address (rather than the username) ran out of attempts.
    pub by_client: bool,
}

/// One login attempt admitted by [`LoginLimiter::begin`]: it counts as a failure
/// unless [`LoginLimiter::succeeded`] is called with it.
#[derive(Debug)]
#[must_use = "an attempt counts as a failure unless it is reported as a success"]
pub struct Attempt {
    user: String,
    client: Option<String>,
}

impl LoginLimiter {
    /// A throttle with these limits.
    pub fn new(limits: LoginLimits) -> LoginLimiter {
        LoginLimiter {
            user_failures: Keyed::new(limits.per_user_burst, limits.per_user_period, limits.max_keys),
            client_failures: Keyed::new(limits.per_client_burst, limits.per_client_period, limits.max_keys),
            client_attempts: Keyed::new(
                limits.per_client_attempt_burst,
                limits.per_client_attempt_period,
                limits.max_keys,
            ),
        }
    }

    /// Admits one attempt for `username` (compared caselessly) from `client_ip`
    /// (an IP, with or without its port) when known, or says how long to wait. The
    /// attempt reserves one failure of the username and of the address.
    pub fn begin(&self, username: &str, client_ip: Option<&str>) -> Result<Attempt, Limited> {
        let limited = |wait: Duration, by_client: bool| Limited {
            retry_after_secs: whole_secs(wait),
            by_client,
        };
        let client = client_ip.map(client_key);
        if let Some(c) = &client {
            self.client_attempts.check(c.clone()).map_err(|w| limited(w, true))?;
            self.client_failures.check(c.clone()).map_err(|w| limited(w, true))?;
        }
        let user = name_key(username);
        if let Err(w) = self.user_failures.check(user.clone()) {
            if let Some(c) = &client {
                self.client_failures.refund(c);
            }
            return Err(limited(w, false));
        }
        Ok(Attempt { user, client })
    }

    /// The attempt's password was right: it was no failure of its address, and the
    /// username's back-off ends.
    pub fn succeeded(&self, attempt: Attempt) {
        self.user_failures.forget(&attempt.user);
        if let Some(c) = &attempt.client {
            self.client_failures.refund(c);
        }
    }

    /// The attempt judged no password (the store or hashing failed): it gives back
    /// what it reserved.
    pub fn abandoned(&self, attempt: Attempt) {
        self.user_failures.refund(&attempt.user);
        if let Some(c) = &attempt.client {
            self.client_failures.refund(c);
        }
    }

    /// Counts a failed login that was refused before [`crate::users::Login::login`]
    /// ran (for example a password over the length cap refused at the door), so it
    /// spends the username's and the address's budgets like any other failure.
    pub fn record_failure(&self, username: &str, client_ip: Option<&str>) -> Result<(), Limited> {
        self.begin(username, client_ip).map(drop)
    }

    /// Keys held (usernames, client addresses for failures).
    pub fn len(&self) -> (usize, usize) {
        (self.user_failures.len(), self.client_failures.len())
    }

    /// Drops state that has expired (call now and then).
    pub fn sweep(&self) {
        self.user_failures.sweep();
        self.client_failures.sweep();
        self.client_attempts.sweep();
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_keys: usize) -> LoginLimits {
        LoginLimits {
            per_user_burst: 3,
            per_user_period: Duration::from_secs(60),
            per_client_burst: 5,
            per_client_period: Duration::from_secs(60),
            per_client_attempt_burst: 40,
            per_client_attempt_period: Duration::from_secs(60),
            max_keys,
        }
    }

    /// A failed attempt: admitted and never reported as a success.
    fn fail(l: &LoginLimiter, user: &str, ip: &str) -> Result<(), Limited> {
        l.begin(user, Some(ip)).map(drop)
    }

    #[test]
    fn username_is_limited_after_its_failures_whatever_its_case() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..3 {
            assert!(fail(&l, "Alice", &format!("10.0.0.{i}")).is_ok());
        }
        let e = fail(&l, "ALICE", "10.0.0.9").unwrap_err();
        assert!(!e.by_client);
        assert!(e.retry_after_secs >= 1 && e.retry_after_secs <= 60, "{e:?}");
        assert!(fail(&l, "bob", "10.0.0.9").is_ok());
    }

    #[test]
    fn client_address_is_limited_across_usernames() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..5 {
            assert!(fail(&l, &format!("user{i}"), "192.0.2.1").is_ok());
        }
        let e = fail(&l, "someone", "192.0.2.1").unwrap_err();
        assert!(e.by_client);
        assert!(fail(&l, "someone", "192.0.2.2").is_ok());
    }

    #[test]
    fn successes_spend_no_failure_budget_but_the_attempt_cap() {
        let l = LoginLimiter::new(limits(100));
        for _ in 0..40 {
            let a = l.begin("alice", Some("192.0.2.1")).unwrap();
            l.succeeded(a);
        }
        // The failure budgets are untouched; the all-attempt cap is spent.
        assert_eq!(l.len(), (0, 0));
        let e = l.begin("alice", Some("192.0.2.1")).unwrap_err();
        assert!(e.by_client);
        assert!(l.begin("alice", Some("192.0.2.2")).is_ok());
    }

    #[test]
    fn a_success_ends_the_usernames_back_off() {
        let l = LoginLimiter::new(limits(100));
        for _ in 0..2 {
            fail(&l, "alice", "10.0.0.1").unwrap();
        }
        l.succeeded(l.begin("alice", Some("10.0.0.2")).unwrap());
        for _ in 0..3 {
            fail(&l, "alice", "10.0.0.3").unwrap();
        }
        assert!(fail(&l, "alice", "10.0.0.4").is_err());
    }

    #[test]
    fn a_username_refusal_gives_the_address_its_failure_back() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..3 {
            fail(&l, "alice", &format!("10.0.1.{i}")).unwrap();
        }
        for _ in 0..10 {
            assert!(!fail(&l, "alice", "10.0.2.1").unwrap_err().by_client);
        }
        // 10.0.2.1 failed nothing yet: its whole failure budget is left.
        for i in 0..5 {
            fail(&l, &format!("u{i}"), "10.0.2.1").unwrap();
        }
        assert!(fail(&l, "u9", "10.0.2.1").unwrap_err().by_client);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..5 {
            fail(&l, &format!("user{i}"), &format!("[2001:db8:1:2::{i:x}]:443")).unwrap();
        }
        let e = fail(&l, "other", "2001:db8:1:2:ffff:ffff:ffff:ffff").unwrap_err();
        assert!(e.by_client);
        assert!(fail(&l, "other", "2001:db8:1:3::1").is_ok());
    }

    #[test]
    fn a_flood_of_new_keys_evicts_idle_ones_not_the_recent_offender() {
        let l = LoginLimiter::new(limits(50));
        for _ in 0..3 {
            fail(&l, "victim", "203.0.113.1").unwrap();
        }
        for round in 0..4 {
            for i in 0..40 {
                let _ = fail(&l, &format!("r{round}u{i}"), &format!("198.51.{round}.{i}"));
            }
            // The offender keeps trying, so it stays among the recently used.
            assert!(
                !fail(&l, "victim", "203.0.113.1").unwrap_err().by_client,
                "round {round}"
            );
        }
        let (users, clients) = l.len();
        assert!(users <= 50 && clients <= 50, "{users} {clients}");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let l = LoginLimiter::new(limits(50));
        for i in 0..1_000 {
            let _ = fail(&l, &format!("u{i}"), &format!("198.51.100.{}", i % 250));
        }
        let (users, clients) = l.len();
        assert!(users <= 50, "{users}");
        assert!(clients <= 50, "{clients}");
    }

    #[test]
    fn a_bucket_refills_one_unit_per_period() {
        let k = Keyed::new(2, Duration::from_secs(10), 10);
        let t0 = Instant::now();
        assert!(k.check_at("a".into(), t0).is_ok());
        assert!(k.check_at("a".into(), t0).is_ok());
        let wait = k.check_at("a".into(), t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert!(k.check_at("a".into(), t0 + Duration::from_secs(9)).is_err());
        assert!(k.check_at("a".into(), t0 + Duration::from_secs(10)).is_ok());
        assert!(k.check_at("a".into(), t0 + Duration::from_secs(10)).is_err());
    }
}
