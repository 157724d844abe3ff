//! Layered configuration: `jwtauth.toml`, then `JWTAUTH_*` environment variables,
//! validated once into typed settings.
//!
//! Every binary and the C library read the same file. A key `a.b` is overridden by
//! the variable `JWTAUTH_A__B`; durations are written like `"15m"`, `"14d"` or as a
//! number of seconds. See the README for the full reference.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Json, Toml};

use crate::audit::LogConfig;
use crate::keys::{Algorithm, Secret};
use crate::keystore::MasterKey;
use crate::token::Rules;
use crate::users::throttle::LoginLimits;

mod issuers;
mod raw;
mod server;
mod signing;
mod storage;
mod tokens;

pub use issuers::TrustedIssuerConfig;
use raw::RawConfig;
pub(crate) use raw::{Dur, OneOrMany};
pub use server::ServerConfig;
pub use storage::StoreConfig;

/// The environment variable that names the configuration file.
pub const CONFIG_PATH_ENV: &str = "JWTAUTH_CONFIG";
/// The configuration file looked for in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "jwtauth.toml";
/// Environment variables with the `JWTAUTH_` prefix that are not configuration keys:
/// the file's path, the master key, and the switches of jwtauth's own test and
/// benchmark harnesses. Any other `JWTAUTH_*` variable must name a key.
pub const NOT_CONFIG_KEYS: &[&str] = &[
    "CONFIG",
    "MASTER_KEY",
    "LOG",
    "TEST_PG_URL",
    "REQUIRE_PG",
    "BENCH_PG_URL",
    "VALGRIND",
    "ASAN",
    "BLESS",
    "REQUIRE_FAULTS",
    "FAULTS_KILLS",
    "FAULTS_CLIENTS",
];

/// A configuration that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file, a variable or a value could not be read (unknown key, wrong type).
    #[error("configuration: {0}")]
    Load(String),
    /// A value was read but is not acceptable.
    #[error("configuration key `{key}`: {problem}. {fix}")]
    Invalid {
        /// The key, as written in `jwtauth.toml`.
        key: &'static str,
        /// What is wrong, naming the value given (never a secret's value).
        problem: String,
        /// What to do.
        fix: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        // figment joins several errors; keep them all.
        ConfigError::Load(e.into_iter().map(|e| describe(&e)).collect::<Vec<_>>().join("; "))
    }
}

/// One error of the loader in an operator's words. A misspelt key is the common
/// case: it is named with where it was written and the key meant, instead of the
/// deserializer's list of every field.
fn describe(e: &figment::Error) -> String {
    let figment::error::Kind::UnknownField(field, expected) = &e.kind else {
        return e.to_string();
    };
    // The path ends with the unknown key; what comes before is its section.
    let section: Vec<&str> = e.path.iter().map(String::as_str).filter(|p| *p != field).collect();
    let key = |name: &str| {
        let mut k = section.clone();
        k.push(name);
        k.join(".")
    };
    let place = match e.metadata.as_ref() {
        Some(m) => match m.source.as_ref().and_then(|s| s.file_path()) {
            Some(path) => std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            None => m.name.to_string(),
        },
        None => "the configuration".to_string(),
    };
    // A key a typo or two away (a swap counts as one) is the key meant.
    let lower = field.to_ascii_lowercase();
    let meant = expected
        .iter()
        .map(|x| (strsim::damerau_levenshtein(&lower, x), *x))
        .filter(|(distance, x)| *distance <= 2.max(x.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, x)| format!("; did you mean `{}`?", key(x)))
        .unwrap_or_else(|| {
            let mut all: Vec<String> = expected.iter().map(|x| format!("`{}`", key(x))).collect();
            all.sort();
            format!("; the keys here are {}", all.join(", "))
        });
    format!("unknown key `{}` in {place}{meant}", crate::error::clip(&key(field)))
}

/// Validated settings. Obtain one with [`Config::load`] (file and environment),
/// [`Config::from_toml`] or [`Config::from_json`]; each checks every rule, and the
/// fields are private, so a `Config` that exists is usable.
#[derive(Debug, Clone)]
pub struct Config {
    /// Expected and issued `iss`.
    issuer: String,
    /// Accepted `aud` values; the first is the one issued (all of them when several).
    audience: Vec<String>,
    /// Lifetime of issued access tokens.
    access_ttl: Duration,
    /// The ceiling `access_ttl` may not exceed.
    max_access_ttl: Duration,
    /// A refresh token unused for this long expires.
    refresh_idle_ttl: Duration,
    /// A login's refresh tokens all expire this long after the login.
    refresh_max_ttl: Duration,
    /// Window in which the immediately previous refresh token may be retried once (0 = off).
    refresh_reuse_grace: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    leeway: Duration,
    /// Algorithm of the active signing key.
    algorithm: Algorithm,
    /// Claim that carries roles (`roles`, or `role` like .NET).
    roles_claim: String,
    /// The HS secret, when `algorithm` is HS256/384/512.
    hs_secret: Option<Secret>,
    /// PEM (PKCS#8) private key for an asymmetric `algorithm`; generated when absent.
    key_file: Option<PathBuf>,
    /// File holding the master key that seals stored signing keys
    /// (else `JWTAUTH_MASTER_KEY`).
    master_key_file: Option<PathBuf>,
    /// Store keys unsealed when no master key is configured (spelled out, never a default).
    allow_unsealed_keys: bool,
    /// The folder of the configuration file, when one was read.
    config_dir: Option<PathBuf>,
    /// Tokens larger than this many bytes are refused before any decoding.
    max_token_size: usize,
    /// Verified tokens remembered, so that a token presented again skips its
    /// signature check (0 = off).
    validation_cache: usize,
    /// How stale the in-memory revocation watermarks may be.
    revocation_staleness: Duration,
    /// How often the key ring is reloaded from the store.
    key_reload_interval: Duration,
    /// How long a rotated key is published before it signs.
    key_publish_ahead: Duration,
    /// Whether `/oauth/token` takes `grant_type=password` (legacy, RFC 9700 §2.4).
    password_grant: bool,
    /// Where state is kept.
    store: StoreConfig,
    /// The failure log.
    log: LogConfig,
    /// The HTTP server.
    server: ServerConfig,
    /// Login throttling.
    login: LoginLimits,
    /// The bound on concurrent password hashes.
    login_hashing: crate::users::slots::HashLimits,
    refresh_limits: crate::refresh::RefreshLimits,
    /// Where our tokens' subject and roles are read from.
    claims_profile: crate::token::ClaimsProfile,
    /// External issuers whose tokens are accepted.
    trusted_issuers: Vec<TrustedIssuerConfig>,
}

impl Default for Config {
    /// The laptop defaults: what a missing `jwtauth.toml` means.
    fn default() -> Self {
        // The defaults are valid by construction; a test proves it.
        match Config::from_raw(RawConfig::default(), None) {
            Ok(c) => c,
            Err(e) => unreachable!("default configuration is invalid: {e}"),
        }
    }
}

impl Config {
    /// Reads `path`, or else the file named by `JWTAUTH_CONFIG`, or else
    /// `jwtauth.toml` in the working directory if it exists, then applies the
    /// `JWTAUTH_*` environment. A path given explicitly must exist.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_PATH_ENV).map(PathBuf::from));
        let file = match explicit {
            Some(p) if !p.is_file() => {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist or is not a file",
                    p.display()
                )));
            }
            Some(p) => Some(p),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut fig = Figment::new();
        if let Some(f) = &file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(env_provider());
        let base = file.as_deref().and_then(Path::parent).map(Path::to_path_buf);
        Config::from_raw(fig.extract()?, base.as_deref())
    }

    /// Parses TOML text alone (no environment); relative paths stay relative to the
    /// working directory.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_raw(Figment::from(Toml::string(text)).extract()?, None)
    }

    /// Parses a JSON object with the same keys as `jwtauth.toml`, then applies the
    /// `JWTAUTH_*` environment.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let fig = Figment::from(Json::string(text)).merge(env_provider());
        Config::from_raw(fig.extract()?, None)
    }

    fn from_raw(mut raw: RawConfig, base: Option<&Path>) -> Result<Config, ConfigError> {
        let resolve = |p: PathBuf| match base {
            Some(b) if p.is_relative() && !b.as_os_str().is_empty() => b.join(p),
            _ => p,
        };
        // Section by section, in the order their errors are reported.
        let (issuer, audience) = tokens::identity(&raw)?;
        let claims_profile = issuers::profile(&raw)?;
        let trusted_raw = std::mem::take(&mut raw.trusted_issuers);
        let times = tokens::lifetimes(&raw)?;
        let signing = signing::signing(&raw, &resolve)?;
        let roles_claim = tokens::validation(&raw)?;
        let (store, log) = storage::storage(&raw, &resolve)?;
        let (ahead, staleness) = (raw.key_publish_ahead.0, raw.revocation_staleness.0);
        if !ahead.is_zero() && ahead < staleness.saturating_mul(2) {
            return Err(ConfigError::invalid(
                "key_publish_ahead",
                format!(
                    "{} is less than twice revocation_staleness ({}), so a server sharing the store could start signing with a rotated key as soon as it publishes it",
                    humantime::format_duration(ahead),
                    humantime::format_duration(staleness)
                ),
                "Keep the default (\"10m\"), or at least twice revocation_staleness; 0 makes rotations sign at once",
            ));
        }
        let server = raw.server.validate(resolve)?;
        let (login, login_hashing) = raw.login.validate()?;
        let refresh_limits = raw.refresh_limits.validate()?;
        let mut config = Config {
            issuer,
            audience,
            access_ttl: times.access_ttl,
            max_access_ttl: times.max_access_ttl,
            refresh_idle_ttl: times.refresh_idle_ttl,
            refresh_max_ttl: times.refresh_max_ttl,
            refresh_reuse_grace: times.refresh_reuse_grace,
            leeway: times.leeway,
            algorithm: signing.algorithm,
            roles_claim,
            hs_secret: signing.hs_secret,
            key_file: signing.key_file,
            master_key_file: signing.master_key_file,
            allow_unsealed_keys: raw.allow_unsealed_keys,
            config_dir: base.map(Path::to_path_buf),
            max_token_size: raw.max_token_size,
            validation_cache: raw.validation_cache,
            revocation_staleness: raw.revocation_staleness.0,
            key_reload_interval: raw.key_reload_interval.0,
            key_publish_ahead: raw.key_publish_ahead.0,
            password_grant: raw.oauth.password_grant,
            store,
            log,
            server,
            login,
            login_hashing,
            refresh_limits,
            claims_profile,
            trusted_issuers: Vec::new(),
        };
        config.trusted_issuers = issuers::trusted(&trusted_raw, &config.rules())?;
        Ok(config)
    }

    /// The validation rules this configuration asks for.
    pub fn rules(&self) -> Rules {
        Rules {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(300),
            max_size: self.max_token_size,
            roles_claim: self.roles_claim.clone(),
            max_lifetime: secs(self.max_access_ttl).saturating_add(secs(self.leeway)),
            claims_profile: self.claims_profile,
            max_token_age: None,
        }
    }

    /// The master key from `master_key_file` if configured, else from
    /// `JWTAUTH_MASTER_KEY`; `None` when neither is set.
    pub fn master_key(&self) -> Result<Option<MasterKey>, ConfigError> {
        signing::master_key(self.master_key_file.as_deref())
    }

    /// Where a master key is generated on first start when none is configured:
    /// `jwtauth.master-key` beside the configuration file, or else
    /// `<store file>.master-key` beside the SQLite store. `None` for PostgreSQL,
    /// whose instances must share one key that no single host can generate.
    ///
    /// A key generated earlier is found in either place, so a process that found no
    /// configuration file (a test harness, a tool given only `JWTAUTH_STORE__URL`) and
    /// one that did open the same store with the same key.
    pub fn generated_master_key_file(&self) -> Option<PathBuf> {
        self.master_key_candidates().into_iter().next()
    }

    /// Where a generated master key may already be, in the order looked at: beside
    /// the configuration file, then beside the SQLite store (a store first opened
    /// without a configuration file keeps its key there). Empty for PostgreSQL.
    pub(crate) fn master_key_candidates(&self) -> Vec<PathBuf> {
        let Some(db) = self.store.url().strip_prefix("sqlite://") else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = self.config_dir.iter().map(|d| d.join("jwtauth.master-key")).collect();
        v.push(PathBuf::from(format!("{db}.master-key")));
        v
    }

    /// Seconds a demoted key keeps verifying: every token it signed has expired by
    /// then (`access_ttl` + `leeway`).
    pub(crate) fn verify_window(&self) -> i64 {
        secs(self.access_ttl).saturating_add(secs(self.leeway))
    }

    /// `access_ttl` in seconds.
    pub(crate) fn access_ttl_secs(&self) -> i64 {
        secs(self.access_ttl)
    }

    /// How long relying parties may cache the JWKS (its `Cache-Control: max-age`):
    /// half of `key_publish_ahead`, at most 5 minutes, so a client that fetched the
    /// keys just before a rotation fetches them again, after its own cooldown
    /// (30 s for jose and PyJWT), before the new key signs.
    pub fn jwks_max_age(&self) -> Duration {
        (self.key_publish_ahead / 2).min(Duration::from_secs(300))
    }

    /// The absolute base of every URL in the metadata: `issuer` when it is an
    /// absolute `https://` URL (or `http://` on loopback), else `server.public_url`;
    /// `None` when neither is (then there is no honest metadata to give).
    pub fn public_base_url(&self) -> Option<String> {
        server::absolute_url(&self.issuer).or_else(|| self.server.public_url.clone())
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

macro_rules! accessors {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr; )*) => {
        impl Config {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> $ty {
                    let f: fn(&Config) -> $ty = $conv;
                    f(self)
                }
            )*
        }
    };
}

accessors! {
    /// Expected and issued `iss`.
    issuer: &str => |c| &c.issuer;
    /// Accepted `aud` values; the first is the one issued (all of them when several).
    audience: &[String] => |c| &c.audience;
    /// Lifetime of issued access tokens.
    access_ttl: Duration => |c| c.access_ttl;
    /// The ceiling `access_ttl` may not exceed.
    max_access_ttl: Duration => |c| c.max_access_ttl;
    /// A refresh token unused for this long expires.
    refresh_idle_ttl: Duration => |c| c.refresh_idle_ttl;
    /// A login's refresh tokens all expire this long after the login.
    refresh_max_ttl: Duration => |c| c.refresh_max_ttl;
    /// Window in which the immediately previous refresh token may be retried once (0 = off).
    refresh_reuse_grace: Duration => |c| c.refresh_reuse_grace;
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    leeway: Duration => |c| c.leeway;
    /// Algorithm of the active signing key.
    algorithm: Algorithm => |c| c.algorithm;
    /// Claim that carries roles (`roles`, or `role` like .NET).
    roles_claim: &str => |c| &c.roles_claim;
    /// The HS secret, when `algorithm` is HS256/384/512.
    hs_secret: Option<&Secret> => |c| c.hs_secret.as_ref();
    /// PEM (PKCS#8) private key for an asymmetric `algorithm`; generated when absent.
    key_file: Option<&Path> => |c| c.key_file.as_deref();
    /// File holding the master key that seals stored signing keys (else `JWTAUTH_MASTER_KEY`).
    master_key_file: Option<&Path> => |c| c.master_key_file.as_deref();
    /// Store signing keys unsealed when no master key is configured.
    allow_unsealed_keys: bool => |c| c.allow_unsealed_keys;
    /// Tokens larger than this many bytes are refused before any decoding.
    max_token_size: usize => |c| c.max_token_size;
    /// Verified tokens remembered, so that a token presented again skips its signature check (0 = off).
    validation_cache: usize => |c| c.validation_cache;
    /// How stale the in-memory revocation watermarks may be.
    revocation_staleness: Duration => |c| c.revocation_staleness;
    /// How often the key ring is reloaded from the store.
    key_reload_interval: Duration => |c| c.key_reload_interval;
    /// How long a rotated key is published in the JWKS before it signs (`key_publish_ahead`).
    key_publish_ahead: Duration => |c| c.key_publish_ahead;
    /// Whether `/oauth/token` takes `grant_type=password` (`oauth.password_grant`, off by default).
    password_grant: bool => |c| c.password_grant;
    /// Where state is kept.
    store: &StoreConfig => |c| &c.store;
    /// The failure log.
    log: &LogConfig => |c| &c.log;
    /// The HTTP server.
    server: &ServerConfig => |c| &c.server;
    /// Login throttling.
    login: LoginLimits => |c| c.login;
    /// The bound on concurrent password hashes (`login.concurrent_hashes`, `login.hash_wait`).
    login_hashing: crate::users::slots::HashLimits => |c| c.login_hashing;
    /// Refresh throttling (`[refresh_limits]`).
    refresh_limits: crate::refresh::RefreshLimits => |c| c.refresh_limits;
    /// Where our tokens' subject and roles are read from (`claims_profile`).
    claims_profile: crate::token::ClaimsProfile => |c| c.claims_profile;
    /// External issuers whose tokens are accepted (`[[trusted_issuers]]`).
    trusted_issuers: &[TrustedIssuerConfig] => |c| &c.trusted_issuers;
}

fn env_provider() -> Env {
    Env::prefixed("JWTAUTH_").ignore(NOT_CONFIG_KEYS).split("__")
}

#[cfg(test)]
mod tests;
