//! Login throttling: too many attempts for one username or from one client address
//! are refused for a while (`rate_limited`), so passwords cannot be guessed at speed.
//!
//! Two keyed GCRA limiters (governor), one per username and one per client address.
//! Memory is bounded: when a limiter holds `max_keys` keys, keys whose state has
//! expired are dropped; if it is still full, it starts afresh (forgetting is the
//! safe direction for memory, and an attacker flooding keys is still limited per
//! address).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many login attempts are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Attempts in a burst for one username.
    pub per_user_burst: u32,
    /// One more attempt for a username per this period.
    pub per_user_period: Duration,
    /// Attempts in a burst from one client address.
    pub per_client_burst: u32,
    /// One more attempt from a client address per this period.
    pub per_client_period: Duration,
    /// Keys kept per limiter at most.
    pub max_keys: usize,
}

impl Default for LoginLimits {
    /// 5 attempts per username then one every 12 s (5 a minute); 20 per client
    /// address then one every 3 s; 100 000 keys per limiter.
    fn default() -> Self {
        LoginLimits {
            per_user_burst: 5,
            per_user_period: Duration::from_secs(12),
            per_client_burst: 20,
            per_client_period: Duration::from_secs(3),
            max_keys: 100_000,
        }
    }
}

/// One keyed GCRA limiter with bounded memory (see the module's text).
pub(crate) struct Keyed {
    quota: Quota,
    max_keys: usize,
    limiter: ArcSwap<DefaultKeyedRateLimiter<String>>,
}

impl Keyed {
    pub(crate) fn new(burst: u32, period: Duration, max_keys: usize) -> Keyed {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Keyed {
            quota,
            max_keys: max_keys.max(1),
            limiter: ArcSwap::from_pointee(RateLimiter::keyed(quota)),
        }
    }

    /// Spends one attempt for `key`; `Err(wait)` when none is left.
    pub(crate) fn check(&self, key: String) -> Result<(), Duration> {
        let limiter = self.limiter.load_full();
        if limiter.len() >= self.max_keys {
            limiter.retain_recent();
            if limiter.len() >= self.max_keys {
                self.limiter.store(Arc::new(RateLimiter::keyed(self.quota)));
            } else {
                limiter.shrink_to_fit();
            }
        }
        let limiter = self.limiter.load();
        limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    pub(crate) fn len(&self) -> usize {
        self.limiter.load().len()
    }

    pub(crate) fn sweep(&self) {
        let l = self.limiter.load();
        l.retain_recent();
        l.shrink_to_fit();
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
    users: Keyed,
    clients: Keyed,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("users", &self.users.len())
            .field("clients", &self.clients.len())
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

impl LoginLimiter {
    /// A throttle with these limits.
    pub fn new(limits: LoginLimits) -> LoginLimiter {
        LoginLimiter {
            users: Keyed::new(limits.per_user_burst, limits.per_user_period, limits.max_keys),
            clients: Keyed::new(limits.per_client_burst, limits.per_client_period, limits.max_keys),
        }
    }

    /// Spends one attempt for `username` (case-insensitive) and, when known, the
    /// client address (an IP, without the port).
    pub fn check(&self, username: &str, client_ip: Option<&str>) -> Result<(), Limited> {
        let limited = |wait: Duration, by_client: bool| Limited {
            retry_after_secs: whole_secs(wait),
            by_client,
        };
        if let Some(ip) = client_ip {
            self.clients.check(client_key(ip)).map_err(|w| limited(w, true))?;
        }
        let user: String = username.chars().take(128).flat_map(char::to_lowercase).collect();
        self.users.check(user).map_err(|w| limited(w, false))
    }

    /// Keys held (usernames, client addresses).
    pub fn len(&self) -> (usize, usize) {
        (self.users.len(), self.clients.len())
    }

    /// Drops state that has expired (call now and then).
    pub fn sweep(&self) {
        self.users.sweep();
        self.clients.sweep();
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
            max_keys,
        }
    }

    #[test]
    fn username_is_limited_after_its_burst_whatever_its_case() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..3 {
            let ip = format!("10.0.0.{i}");
            assert!(l.check("Alice", Some(&ip)).is_ok());
        }
        let e = l.check("alice", Some("10.0.0.9")).unwrap_err();
        assert!(!e.by_client);
        assert!(e.retry_after_secs >= 1 && e.retry_after_secs <= 60, "{e:?}");
        assert!(l.check("bob", Some("10.0.0.9")).is_ok());
    }

    #[test]
    fn client_address_is_limited_across_usernames() {
        let l = LoginLimiter::new(limits(100));
        for i in 0..5 {
            assert!(l.check(&format!("user{i}"), Some("192.0.2.1")).is_ok());
        }
        let e = l.check("someone", Some("192.0.2.1")).unwrap_err();
        assert!(e.by_client);
        assert!(l.check("someone", Some("192.0.2.2")).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let l = LoginLimiter::new(limits(50));
        for i in 0..1_000 {
            let _ = l.check(&format!("u{i}"), Some(&format!("198.51.100.{}", i % 250)));
        }
        let (users, clients) = l.len();
        assert!(users <= 50, "{users}");
        assert!(clients <= 50, "{clients}");
    }
}
