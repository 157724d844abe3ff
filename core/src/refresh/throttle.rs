//! Refresh throttling: one session (refresh-token family) may rotate only so often,
//! and one client address only so often across sessions, so a stolen or scripted
//! refresh token cannot rotate thousands of times a second. Refused refreshes fail
//! with `rate_limited` and spend nothing: the presented token stays current.

use std::time::Duration;

use crate::users::throttle::{Keyed, client_key, whole_secs};

/// How often refresh tokens may be spent (`[refresh_limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshLimits {
    /// Rotations in a burst for one session.
    pub family_burst: u32,
    /// One more rotation for a session per this period.
    pub family_period: Duration,
    /// Rotations in a burst from one client address (all its sessions).
    pub client_burst: u32,
    /// One more rotation from a client address per this period.
    pub client_period: Duration,
    /// Keys kept per limiter at most.
    pub max_keys: usize,
}

impl Default for RefreshLimits {
    /// 30 rotations per session then one every 2 s; 600 per client address then
    /// one every 20 ms (50 a second); 100 000 keys per limiter. A client refreshes
    /// once per access-token lifetime (minutes): these bounds touch only floods.
    fn default() -> Self {
        RefreshLimits {
            family_burst: 30,
            family_period: Duration::from_secs(2),
            client_burst: 600,
            client_period: Duration::from_millis(20),
            max_keys: 100_000,
        }
    }
}

/// The refresh throttle of one process.
pub(crate) struct RefreshLimiter {
    families: Keyed,
    clients: Keyed,
}

impl RefreshLimiter {
    pub(crate) fn new(l: RefreshLimits) -> RefreshLimiter {
        RefreshLimiter {
            families: Keyed::new(l.family_burst, l.family_period, l.max_keys),
            clients: Keyed::new(l.client_burst, l.client_period, l.max_keys),
        }
    }

    /// Spends one rotation of the client `addr`; `Err(seconds to wait)` when none is left.
    pub(crate) fn client(&self, addr: &str) -> Result<(), u64> {
        self.clients.check(client_key(addr)).map_err(whole_secs)
    }

    /// Spends one rotation of the family; `Err(seconds to wait)` when none is left.
    pub(crate) fn family(&self, family_id: &str) -> Result<(), u64> {
        self.families.check(family_id.to_owned()).map_err(whole_secs)
    }

    /// Drops state that has expired (the maintenance thread calls it now and then).
    pub(crate) fn sweep(&self) {
        self.families.sweep();
        self.clients.sweep();
    }
}
