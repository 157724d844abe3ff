//! The composition root. [`JwtAuth`] opens the store named by the configuration,
//! builds the services once and hands them out; [`Tokens`] is the same without a
//! store (issuing and validation with a key ring kept in memory). No other module
//! imports this one.

mod error;
mod maintenance;
mod options;

pub use error::{Error, InitError};
pub use options::OpenOptions;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clients::{self, Clients};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::issuers::TrustedIssuer;
use crate::keys::{Key, KeyError, KeyRing};
use crate::keystore::{self, KeyAdmin};
use crate::refresh::{self, Sessions};
use crate::store::{Store, StoreError};
use crate::token::{External, Issuer, Revocations, Verifier};
use crate::users::{self, Users};

/// The authentication runtime over a store: configuration, key ring, sessions,
/// users and key lifecycle, with a background thread that keeps the key ring and
/// the revocation watermarks fresh and sweeps what has expired.
///
/// Open one per process and share it (an `Arc`, or clones of the services it hands
/// out); every service is safe to use from many threads.
pub struct JwtAuth {
    config: Config,
    clock: Arc<dyn Clock>,
    store: Arc<Store>,
    verifier: Verifier,
    issuer: Issuer,
    sessions: Sessions,
    keys: KeyAdmin,
    users: Users,
    clients: Clients,
    /// Stops the background thread when the runtime is dropped.
    _maintenance: maintenance::Handle,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("issuer", &self.config.issuer())
            .field("verifier", &self.verifier)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// Opens the store named by `store.url` (applying migrations), makes sure it has
    /// an active key (the configured HS secret or key file, else a generated key
    /// for `algorithm`), loads the key ring and starts the background refresh.
    pub fn open(config: Config) -> Result<JwtAuth, InitError> {
        JwtAuth::open_with(config, OpenOptions::new())
    }

    /// Like [`JwtAuth::open`], with the given options.
    pub fn open_with(config: Config, options: OpenOptions) -> Result<JwtAuth, InitError> {
        let clock = options.clock;
        let (url, pool) = (config.store().url(), config.store().pool_size());
        let store = Arc::new(if options.create {
            Store::open(url, pool)?
        } else {
            Store::open_existing(url, pool)?
        });
        let master = master_key(&config, options.warn_at_rest)?;
        let now = clock.now();
        let configured = if options.use_configured_key {
            configured_key(&config, now)?
        } else {
            None
        };
        // Only an open that may create may also make a key (the first one, or the
        // configured one).
        if options.create || configured.is_some() {
            keystore::ensure_active(
                &store,
                master.as_ref(),
                configured,
                config.algorithm(),
                now,
                config.verify_window(),
            )?;
        }
        let sealing = master.is_some();
        let ring = Arc::new(ArcSwap::from_pointee(crate::keys::KeyRing::default()));
        let rules = Arc::new(config.rules());
        let revocations = Arc::new(Revocations::default());
        let issuer = Issuer::new(ring.clone(), rules.clone(), clock.clone(), config.access_ttl_secs());
        let sessions = Sessions::new(refresh::Parts {
            store: store.clone(),
            issuer: issuer.clone(),
            revocations: revocations.clone(),
            clock: clock.clone(),
            life: refresh::Lifetimes {
                idle: secs(config.refresh_idle_ttl()),
                max: secs(config.refresh_max_ttl()),
                grace: secs(config.refresh_reuse_grace()),
            },
            watermark_horizon: secs(config.max_access_ttl()).saturating_add(secs(config.leeway())),
            limiter: refresh::RefreshLimiter::new(config.refresh_limits()),
            known: refresh::KnownFamilies::for_store(&store),
        });
        sessions.record_horizon()?;
        sessions.reload_revocations()?;
        let keys = KeyAdmin::new(keystore::Parts {
            store: store.clone(),
            master,
            ring: ring.clone(),
            clock: clock.clone(),
            algorithm: config.algorithm(),
            verify_window: config.verify_window(),
            publish_ahead: secs(config.key_publish_ahead()),
            version: std::sync::Mutex::default(),
        });
        keys.reload()?;
        let clients = Clients::new(clients::Parts {
            store: store.clone(),
            issuer: issuer.clone(),
            sessions: sessions.clone(),
            clock: clock.clone(),
        });
        if sealing && options.warn_at_rest {
            let n = keys.unsealed_count()?;
            if n > 0 {
                warn_once_per_store(
                    "unsealed keys",
                    store.url(),
                    &format!(
                        "{n} signing key{} in {} {} stored unsealed (from before a master key was configured). Run `jwtauth-server keys seal` to seal {} under the master key",
                        if n == 1 { "" } else { "s" },
                        store.url(),
                        if n == 1 { "is" } else { "are" },
                        if n == 1 { "it" } else { "them" },
                    ),
                );
            }
        }
        let users = Users::new(users::Parts {
            store: store.clone(),
            sessions: sessions.clone(),
            clock: clock.clone(),
        });
        let maintenance = maintenance::start(maintenance::Work {
            keys: keys.clone(),
            sessions: sessions.clone(),
            marks_every: config.revocation_staleness().max(std::time::Duration::from_millis(100)),
            keys_every: config.key_reload_interval(),
        });
        let verifier = Verifier::new(
            rules,
            ring,
            config.validation_cache(),
            revocations,
            clock.clone(),
            Some(maintenance.key_reloader()),
        )
        .trusting(trusted(&config, &clock));
        Ok(JwtAuth {
            config,
            clock,
            store,
            verifier,
            issuer,
            sessions,
            keys,
            users,
            clients,
            _maintenance: maintenance,
        })
    }

    /// Service clients: registry and the `client_credentials` grant.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Validates access tokens.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Issues access tokens.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Login sessions: start, refresh, logout.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Key lifecycle: list, rotate, retire.
    pub fn keys(&self) -> &KeyAdmin {
        &self.keys
    }

    /// Users who log in with a password.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// "Now" according to the clock, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// One bounded maintenance pass, as the background thread makes every minute:
    /// retires verify-only keys past their window and deletes up to `limit`
    /// expired or revoked sessions. Returns the sessions deleted.
    pub fn sweep(&self, limit: usize) -> Result<u64, StoreError> {
        self.keys.sweep()?;
        self.sessions.purge(i64::try_from(limit).unwrap_or(i64::MAX))
    }
}

/// Issuing and validation without a store: the configured HS secret or PEM key,
/// or else a freshly generated key kept in memory only. Sessions, users and key
/// lifecycle need a store: open a [`JwtAuth`].
pub struct Tokens {
    config: Config,
    clock: Arc<dyn Clock>,
    verifier: Verifier,
    issuer: Issuer,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Sets up with the system clock and the configured (or a generated) key.
    pub fn new(config: Config) -> Result<Tokens, InitError> {
        Tokens::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`Tokens::new`] with an injected clock.
    pub fn with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Tokens, InitError> {
        let key = initial_key(&config, clock.now())?;
        let ring = KeyRing::new(vec![key]).map_err(|source| InitError::Key {
            context: "key ring".into(),
            source,
        })?;
        Ok(Tokens::with_key_ring(config, ring, clock))
    }

    /// Sets up with a ready key ring.
    pub fn with_key_ring(config: Config, ring: KeyRing, clock: Arc<dyn Clock>) -> Tokens {
        let ring = Arc::new(ArcSwap::from_pointee(ring));
        let rules = Arc::new(config.rules());
        let issuer = Issuer::new(ring.clone(), rules.clone(), clock.clone(), config.access_ttl_secs());
        let verifier = Verifier::new(
            rules,
            ring,
            config.validation_cache(),
            Arc::new(Revocations::default()),
            clock.clone(),
            None,
        )
        .trusting(trusted(&config, &clock));
        Tokens {
            config,
            clock,
            verifier,
            issuer,
        }
    }

    /// Validates access tokens.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Issues access tokens.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Replaces the key ring atomically; validations in flight finish with the old one.
    pub fn replace_key_ring(&self, ring: KeyRing) {
        self.verifier.replace_key_ring(ring);
    }
}

/// Emits a warning about keys at rest once per store and process: a host that
/// opens the same store again (the C library, a test) hears it once.
fn warn_once_per_store(kind: &'static str, store: &str, message: &str) {
    static WARNED: std::sync::Mutex<Vec<(&'static str, String)>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (kind, store.to_owned());
    if !warned.contains(&key) {
        tracing::warn!("{message}");
        warned.push(key);
    }
}

/// The configured master key; else, unless `allow_unsealed_keys` is spelled out,
/// the one generated beside the configuration file or the SQLite store (made on
/// first start). PostgreSQL without a master key is refused: its instances must
/// share one key, which no single host can generate for the others.
fn master_key(config: &Config, warn: bool) -> Result<Option<keystore::MasterKey>, InitError> {
    if let Some(m) = config.master_key()? {
        return Ok(Some(m));
    }
    let url = crate::store::url_masked(config.store().url());
    if config.allow_unsealed_keys() {
        if warn {
            warn_once_per_store(
                "no master key",
                &url,
                &format!(
                    "allow_unsealed_keys = true and no master key: signing keys are stored UNENCRYPTED in {url}. Anyone who can read that database can forge tokens"
                ),
            );
        }
        return Ok(None);
    }
    let candidates = config.master_key_candidates();
    let Some(path) = candidates.iter().find(|p| p.exists()).or(candidates.first()).cloned() else {
        return Err(ConfigError::invalid(
            "allow_unsealed_keys",
            format!("no master key is configured, so the signing keys in {url} would be stored unencrypted"),
            format!(
                "Set master_key_file or {} to 32 random bytes (`openssl rand -base64 32`), the same on every instance; or write allow_unsealed_keys = true to accept unencrypted keys",
                keystore::MASTER_KEY_ENV
            ),
        )
        .into());
    };
    let (key, generated) = keystore::load_or_generate(&path).map_err(|e| ConfigError::Invalid {
        key: "master_key_file",
        problem: e.problem,
        fix: e.fix,
    })?;
    if generated {
        let shown = std::fs::canonicalize(&path).unwrap_or(path);
        tracing::info!(
            "generated a master key in {} (readable by this user only); the signing keys in {url} are sealed with it. Keep that file with the store and back it up: without it the keys cannot be opened",
            shown.display()
        );
    }
    Ok(Some(key))
}

/// Starts fetching the keys of every trusted issuer (in the background).
fn trusted(config: &Config, clock: &Arc<dyn Clock>) -> Vec<External> {
    config
        .trusted_issuers()
        .iter()
        .map(|t| External {
            rules: Arc::new(t.rules().clone()),
            keys: TrustedIssuer::start(t.settings().clone(), clock.clone()),
        })
        .collect()
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The configured static key (HS secret or PEM key file), if any.
fn configured_key(config: &Config, now: i64) -> Result<Option<Key>, InitError> {
    if config.hs_secret().is_some() || config.key_file().is_some() {
        initial_key(config, now).map(Some)
    } else {
        Ok(None)
    }
}

fn initial_key(config: &Config, now: i64) -> Result<Key, InitError> {
    let alg = config.algorithm();
    if let Some(secret) = config.hs_secret() {
        return Key::from_secret(alg, secret, now).map_err(|source| InitError::Key {
            context: "hs_secret".into(),
            source,
        });
    }
    if let Some(path) = config.key_file() {
        let text = crate::keys::read_secret_file(path).map_err(|e| InitError::Key {
            context: format!("key_file {}", path.display()),
            source: KeyError::Invalid(format!("cannot be read: {e}")),
        })?;
        return Key::from_pkcs8_pem(alg, &text, now).map_err(|source| InitError::Key {
            context: format!("key_file {}", path.display()),
            source,
        });
    }
    Key::generate(alg, now).map_err(|source| InitError::Key {
        context: format!("generating a {alg} key"),
        source,
    })
}
