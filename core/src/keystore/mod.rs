//! The key lifecycle in the store: next (published in the JWKS, not signing yet)
//! → active (signs, from the stored activation instant on) → verify-only
//! (validates what it signed until access TTL + leeway has passed) → retired (gone
//! from the JWKS), with private material sealed at rest under a master key. [`KeyAdmin`] is the
//! administrators' view; the runtime uses the same functions to load the ring.

mod seal;
mod sql;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::keys::{Algorithm, KeyError, KeyRing, KeyState, Kid};
use crate::store::{Store, StoreError};

pub use seal::{MasterKey, MasterKeyError, load_or_generate};
pub(crate) use sql::{ensure_active, load_ring};

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "JWTAUTH_MASTER_KEY";

/// A key as the store knows it: never any private material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: Kid,
    /// Its one algorithm.
    pub algorithm: Algorithm,
    /// State now (a verify-only key past `retire_after` counts as retired).
    pub state: KeyState,
    /// When it was made.
    pub created_at: i64,
    /// When it stopped signing.
    pub demoted_at: Option<i64>,
    /// When a verify-only key retires by itself.
    pub retire_after: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// When a `next` key starts (or a promoted key started) signing.
    pub activates_at: Option<i64>,
}

impl KeyInfo {
    /// When the key retires (verify-only) or retired (retired); `None` for the
    /// active key. A key retired early keeps the retirement it had been planned
    /// for, which may lie ahead: its actual retirement is what counts.
    pub fn retirement(&self) -> Option<i64> {
        match self.state {
            KeyState::Active | KeyState::Next => None,
            KeyState::VerifyOnly => self.retire_after,
            _ => self.retired_at.or(self.retire_after),
        }
    }
}

/// Why a key operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyAdminError {
    /// HS keys are shared secrets from the configuration; none is generated.
    #[error(
        "{0} keys are shared secrets taken from hs_secret; rotate them by changing the secret, or rotate to an asymmetric algorithm"
    )]
    SharedSecret(Algorithm),
    /// The active key signs: it cannot be retired before a rotation.
    #[error("the active key cannot be retired: rotate to a new key first, then retire this one")]
    ActiveKey,
    /// Sealing was asked for, but no master key is configured.
    #[error("no master key is configured: set master_key_file or JWTAUTH_MASTER_KEY, then seal")]
    NoMasterKey,
    /// No stored key has this kid.
    #[error("no key has kid '{0}'")]
    UnknownKid(String),
    /// A key could not be generated or sealed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) struct Parts {
    pub store: Arc<Store>,
    pub master: Option<MasterKey>,
    pub ring: Arc<ArcSwap<KeyRing>>,
    pub clock: Arc<dyn Clock>,
    /// The algorithm of keys made by a rotation without one named.
    pub algorithm: Algorithm,
    /// How long a demoted key keeps verifying (access TTL + leeway).
    pub verify_window: i64,
    /// Seconds between a rotation and the new key's first signature.
    pub publish_ahead: i64,
    /// What the ring was loaded from (see `sql::ring_version`).
    pub version: std::sync::Mutex<String>,
}

/// Key administration over the store: list, rotate, retire, reload. Cheap to
/// clone. Changes reach this process's ring at once, and other processes sharing
/// the store within `revocation_staleness` (or at the first token naming a new
/// kid). A rotated key signs from its stored activation instant in every process,
/// by each one's clock, with no reload at that moment.
#[derive(Clone)]
pub struct KeyAdmin(Arc<Parts>);

impl std::fmt::Debug for KeyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAdmin")
            .field("store", &self.0.store)
            .field("sealed", &self.0.master.is_some())
            .finish_non_exhaustive()
    }
}

impl KeyAdmin {
    pub(crate) fn new(parts: Parts) -> KeyAdmin {
        KeyAdmin(Arc::new(parts))
    }

    /// Every stored key with its lifecycle times (no private material).
    pub fn list(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let now = self.0.clock.now();
        sql::promote_due(&self.0.store, now, self.0.verify_window)?;
        sql::list(&self.0.store, now)
    }

    /// Creates the `next` key (of `algorithm`, default the configured one): in the
    /// JWKS at once, signing from `now + key_publish_ahead`, when the active key
    /// becomes verify-only. With `key_publish_ahead = 0` this is [`KeyAdmin::rotate_now`].
    pub fn rotate(&self, algorithm: Option<Algorithm>) -> Result<Kid, KeyAdminError> {
        self.rotate_in(algorithm, self.0.publish_ahead)
    }

    /// Creates a new key that signs at once (an emergency: relying parties that
    /// cached the JWKS refuse its tokens until they fetch it again).
    pub fn rotate_now(&self, algorithm: Option<Algorithm>) -> Result<Kid, KeyAdminError> {
        self.rotate_in(algorithm, 0)
    }

    /// Seconds between a rotation and the new key's first signature (`key_publish_ahead`).
    pub fn publish_ahead(&self) -> i64 {
        self.0.publish_ahead
    }

    fn rotate_in(&self, algorithm: Option<Algorithm>, ahead: i64) -> Result<Kid, KeyAdminError> {
        let p = &*self.0;
        let kid = sql::rotate(
            &p.store,
            p.master.as_ref(),
            algorithm.unwrap_or(p.algorithm),
            p.clock.now(),
            p.verify_window,
            ahead,
        )?;
        self.reload()?;
        Ok(kid)
    }

    /// Retires a verify-only or `next` key at once (e.g. a compromised one): it
    /// leaves the JWKS and its tokens fail with `unknown_kid`, here at once and in
    /// every other process within `revocation_staleness`. The active key cannot be
    /// retired.
    pub fn retire(&self, kid: &str) -> Result<(), KeyAdminError> {
        sql::retire(&self.0.store, kid, self.0.clock.now(), self.0.verify_window)?;
        self.reload()?;
        Ok(())
    }

    /// Reloads the key ring from the store now (persisting a due activation first).
    pub fn reload(&self) -> Result<(), StoreError> {
        let p = &*self.0;
        let now = p.clock.now();
        sql::promote_due(&p.store, now, p.verify_window)?;
        let version = sql::ring_version(&p.store, now)?;
        let ring = load_ring(&p.store, p.master.as_ref(), now)?.keeping_unchanged(&p.ring.load());
        p.ring.store(Arc::new(ring));
        if let Ok(mut seen) = p.version.lock() {
            *seen = version;
        }
        Ok(())
    }

    /// Reloads the ring only when the stored keys changed since the last load (one
    /// small query otherwise): the maintenance thread runs this every
    /// `revocation_staleness`, so a retirement reaches every process that soon.
    pub fn reload_if_changed(&self) -> Result<(), StoreError> {
        let p = &*self.0;
        let version = sql::ring_version(&p.store, p.clock.now())?;
        let changed = p.version.lock().map_or(true, |seen| *seen != version);
        if changed { self.reload() } else { Ok(()) }
    }

    /// Whether stored keys are sealed with a master key.
    pub fn sealed(&self) -> bool {
        self.0.master.is_some()
    }

    /// How many usable keys the store holds unsealed (stored before a master key
    /// was configured, or with `allow_unsealed_keys`).
    pub fn unsealed_count(&self) -> Result<u64, StoreError> {
        sql::count_unsealed(&self.0.store, self.0.clock.now())
    }

    /// Seals every usable key stored unsealed under the configured master key, in
    /// one transaction. Returns how many were sealed; fails when no master key is
    /// configured.
    pub fn seal_all(&self) -> Result<u64, KeyAdminError> {
        let master = self.0.master.as_ref().ok_or(KeyAdminError::NoMasterKey)?;
        Ok(sql::seal_all(&self.0.store, master, self.0.clock.now())?)
    }

    /// Persists the retirement of verify-only keys past their window, reloading
    /// the ring when one retired.
    pub(crate) fn sweep(&self) -> Result<(), StoreError> {
        if sql::sweep(&self.0.store, self.0.clock.now())? > 0 {
            self.reload()?;
        }
        Ok(())
    }
}
