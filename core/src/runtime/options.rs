//! How a store is opened: by a service (which may create it and its first key) or
//! by an administration tool (which opens what exists).

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};

/// How [`super::JwtAuth::open_with`] opens a store.
#[derive(Clone)]
pub struct OpenOptions {
    pub(super) use_configured_key: bool,
    pub(super) create: bool,
    pub(super) warn_at_rest: bool,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("use_configured_key", &self.use_configured_key)
            .field("create", &self.create)
            .field("warn_at_rest", &self.warn_at_rest)
            .finish_non_exhaustive()
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            use_configured_key: true,
            create: true,
            warn_at_rest: true,
            clock: Arc::new(SystemClock),
        }
    }
}

impl OpenOptions {
    /// What a service does at start: the store is created if there is none, the
    /// configured key (HS secret or key file) becomes the active key if the store
    /// has not seen it, and a store without an active key gets a generated one.
    /// The system clock.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// What an administration tool does: it opens a store that exists (a missing
    /// one is an error naming the absolute path; nothing is created) and takes the
    /// keys as the store has them. No configured key is activated, so a tool started
    /// with an older configuration cannot undo a rotation made since, and no key is
    /// generated. Nor does it warn about keys stored unsealed (see
    /// [`OpenOptions::warn_at_rest`]): that is for the service and key administration.
    pub fn admin() -> OpenOptions {
        OpenOptions {
            use_configured_key: false,
            create: false,
            warn_at_rest: false,
            ..OpenOptions::default()
        }
    }

    /// Whether a missing store (and its first key) may be created.
    #[must_use]
    pub fn create(mut self, yes: bool) -> OpenOptions {
        self.create = yes;
        self
    }

    /// Whether the configured key becomes the active key when the store has not
    /// seen it.
    #[must_use]
    pub fn use_configured_key(mut self, yes: bool) -> OpenOptions {
        self.use_configured_key = yes;
        self
    }

    /// Whether to warn (a `tracing` warning, once per store in a process) that
    /// signing keys are stored unsealed: no master key with `allow_unsealed_keys`,
    /// or keys from before a master key was configured.
    #[must_use]
    pub fn warn_at_rest(mut self, yes: bool) -> OpenOptions {
        self.warn_at_rest = yes;
        self
    }

    /// The clock every service reads (tests inject a [`crate::FixedClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> OpenOptions {
        self.clock = clock;
        self
    }
}
