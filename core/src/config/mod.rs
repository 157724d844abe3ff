//! Layered configuration: `jwtauth.toml`, then `JWTAUTH_*` environment variables,
//! validated once into typed settings.
//!
//! Every binary and the C library read the same file. A key `a.b` is overridden by
//! the variable `JWTAUTH_A__B`; durations are written like `"15m"`, `"14d"` or as a
//! number of seconds. See the README for the full reference.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Json, Toml};
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use crate::keys::Algorithm;
use crate::limits::LoginLimits;

mod server;

pub use server::ServerConfig;
use server::{RawLogin, RawServer};

/// The environment variable that names the configuration file.
pub const CONFIG_PATH_ENV: &str = "JWTAUTH_CONFIG";
/// The configuration file looked for in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "jwtauth.toml";
/// The failure log directory when `log.dir` is not set.
const DEFAULT_LOG_DIR: &str = "logs";
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
    "BLESS",
];

/// Secret values known from tutorials and samples; a key equal to one of them is
/// as good as public.
const PLACEHOLDER_SECRETS: &[&str] = &[
    "secret",
    "changeme",
    "change_me",
    "change-me",
    "password",
    "your_super_secure_secret_key",
    "your-super-secure-secret-key",
    "yoursupersecuresecretkey",
    "your_super_secret_key",
    "yoursupersecretkey",
    "supersecretkey",
    "super_secret_key",
    "mysecretkey",
    "my_secret_key",
    "your-256-bit-secret",
    "your-384-bit-secret",
    "your-512-bit-secret",
    "your_secret_key_here",
    "yoursecretkeyhere",
    "thisismysecretkey",
    "this_is_my_secret_key",
    "jwt_secret",
    "jwtsecret",
    "secretkey",
    "secret_key",
];

/// A configuration that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
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
    fn invalid(key: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        // figment joins several errors; keep them all, one per line.
        ConfigError::Load(e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
    }
}

/// A secret string (HS key): zeroized on drop, never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    /// The secret's bytes (its UTF-8 encoding, as .NET's `Encoding.UTF8.GetBytes`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted], {} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// One audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A duration written as `"15m"`, `"14d"`, `"1h 30m"` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub(crate) Duration);

/// No configured duration is longer: a lifetime, period or timeout beyond a century
/// is a typo, and this ceiling keeps every sum of times and durations far inside `i64`.
const LONGEST_DURATION: Duration = Duration::from_secs(100 * 31_557_600); // humantime's "100y"

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        let duration = match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a duration such as \"30s\", \"15m\", \"14d\" or a whole number of seconds",
            )
        })? {
            Raw::Secs(s) => Duration::from_secs(s),
            Raw::Text(t) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "'{}' is not a duration ({e}); write it like \"30s\", \"15m\", \"14d\"",
                    crate::error::clip(&t)
                ))
            })?,
        };
        if duration > LONGEST_DURATION {
            return Err(serde::de::Error::custom(format!(
                "{} is longer than 100 years; write it like \"30s\", \"15m\", \"14d\"",
                humantime::format_duration(duration)
            )));
        }
        Ok(Dur(duration))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    issuer: String,
    audience: OneOrMany,
    access_ttl: Dur,
    max_access_ttl: Dur,
    refresh_idle_ttl: Dur,
    refresh_max_ttl: Dur,
    refresh_reuse_grace: Dur,
    leeway: Dur,
    algorithm: String,
    roles_claim: String,
    hs_secret: Option<Secret>,
    hs_secret_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    max_token_size: usize,
    validation_cache: usize,
    revocation_staleness: Dur,
    key_reload_interval: Dur,
    store: RawStore,
    log: RawLog,
    server: RawServer,
    login: RawLogin,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            issuer: "http://localhost:8080".into(),
            audience: OneOrMany::One("jwtauth-api".into()),
            access_ttl: Dur(Duration::from_secs(15 * 60)),
            max_access_ttl: Dur(Duration::from_secs(24 * 3600)),
            refresh_idle_ttl: Dur(Duration::from_secs(14 * 86_400)),
            refresh_max_ttl: Dur(Duration::from_secs(30 * 86_400)),
            refresh_reuse_grace: Dur(Duration::ZERO),
            leeway: Dur(Duration::from_secs(30)),
            algorithm: "ES256".into(),
            roles_claim: "roles".into(),
            hs_secret: None,
            hs_secret_file: None,
            key_file: None,
            master_key_file: None,
            max_token_size: 8 * 1024,
            validation_cache: 4096,
            revocation_staleness: Dur(Duration::from_secs(5)),
            key_reload_interval: Dur(Duration::from_secs(60)),
            store: RawStore::default(),
            log: RawLog::default(),
            server: RawServer::default(),
            login: RawLogin::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    url: String,
    pool_size: u32,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: "sqlite://jwtauth.db".into(),
            pool_size: 8,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    dir: Option<PathBuf>,
    retention_days: u32,
    file_prefix: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            dir: None,
            retention_days: 14,
            file_prefix: "failures".into(),
        }
    }
}

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative paths resolved against the config file's folder)
    /// or `postgres://…`.
    pub url: String,
    /// Connections kept open to PostgreSQL.
    pub pool_size: u32,
}

/// The failure log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Directory of the daily rolling JSON-lines files.
    pub dir: PathBuf,
    /// Whether `log.dir` was set (file or environment) rather than defaulted: an
    /// embedded library writes files only where it was told to.
    pub dir_configured: bool,
    /// How many daily files are kept.
    pub retention_days: u32,
    /// File names are `<prefix>.<YYYY-MM-DD>.jsonl`.
    pub file_prefix: String,
}

/// Validated settings. Obtain one with [`Config::load`] (file and environment),
/// [`Config::from_toml`] or [`Config::from_json`]; each checks every rule, so a
/// `Config` that exists is usable.
#[derive(Debug, Clone)]
pub struct Config {
    /// Expected and issued `iss`.
    pub issuer: String,
    /// Accepted `aud` values; the first is the one issued (all of them when several).
    pub audience: Vec<String>,
    /// Lifetime of issued access tokens.
    pub access_ttl: Duration,
    /// The ceiling `access_ttl` may not exceed.
    pub max_access_ttl: Duration,
    /// A refresh token unused for this long expires.
    pub refresh_idle_ttl: Duration,
    /// A login's refresh tokens all expire this long after the login.
    pub refresh_max_ttl: Duration,
    /// Window in which the immediately previous refresh token may be retried once (0 = off).
    pub refresh_reuse_grace: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Algorithm of the active signing key.
    pub algorithm: Algorithm,
    /// Claim that carries roles (`roles`, or `role` like .NET).
    pub roles_claim: String,
    /// The HS secret, when `algorithm` is HS256/384/512.
    pub hs_secret: Option<Secret>,
    /// PEM (PKCS#8) private key for an asymmetric `algorithm`; generated when absent.
    pub key_file: Option<PathBuf>,
    /// File holding the master key that seals stored signing keys
    /// (else `JWTAUTH_MASTER_KEY`).
    pub master_key_file: Option<PathBuf>,
    /// Tokens larger than this many bytes are refused before any decoding.
    pub max_token_size: usize,
    /// Verified tokens remembered, so that a token presented again skips its
    /// signature check (0 = off).
    pub validation_cache: usize,
    /// How stale the in-memory revocation watermarks may be.
    pub revocation_staleness: Duration,
    /// How often the key ring is reloaded from the store.
    pub key_reload_interval: Duration,
    /// Where state is kept.
    pub store: StoreConfig,
    /// The failure log.
    pub log: LogConfig,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Login throttling.
    pub login: LoginLimits,
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

    fn from_raw(raw: RawConfig, base: Option<&Path>) -> Result<Config, ConfigError> {
        let resolve = |p: PathBuf| match base {
            Some(b) if p.is_relative() && !b.as_os_str().is_empty() => b.join(p),
            _ => p,
        };

        let issuer = raw.issuer.trim().to_string();
        if issuer.is_empty() {
            return Err(ConfigError::invalid(
                "issuer",
                "it is empty, so tokens could not be tied to this service",
                "Set `issuer` to this service's URL, e.g. \"https://auth.example.com\"",
            ));
        }
        let audience: Vec<String> = match raw.audience {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        }
        .into_iter()
        .map(|a| a.trim().to_string())
        .collect();
        if audience.is_empty() || audience.iter().any(String::is_empty) {
            return Err(ConfigError::invalid(
                "audience",
                "it is empty, so any service's tokens would be accepted here",
                "Set `audience` to the name of the API the tokens are for, e.g. \"orders-api\"",
            ));
        }

        let access_ttl = raw.access_ttl.0;
        let max_access_ttl = raw.max_access_ttl.0;
        if access_ttl.is_zero() {
            return Err(ConfigError::invalid(
                "access_ttl",
                "it is 0, so every token would be born expired",
                "Set a positive lifetime such as \"15m\"",
            ));
        }
        if access_ttl > max_access_ttl {
            return Err(ConfigError::invalid(
                "access_ttl",
                format!(
                    "{} exceeds the ceiling max_access_ttl = {}; long-lived access tokens cannot be revoked in time",
                    humantime::format_duration(access_ttl),
                    humantime::format_duration(max_access_ttl)
                ),
                "Use a short access_ttl (minutes) with refresh tokens, or raise `max_access_ttl` deliberately",
            ));
        }
        let leeway = raw.leeway.0;
        if leeway > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "leeway",
                format!(
                    "{} is more than 5 minutes; expired tokens would stay usable that long",
                    humantime::format_duration(leeway)
                ),
                "Use a few seconds to a minute (default \"30s\"); fix clock drift with NTP instead",
            ));
        }
        let refresh_idle_ttl = raw.refresh_idle_ttl.0;
        let refresh_max_ttl = raw.refresh_max_ttl.0;
        if refresh_idle_ttl.is_zero() || refresh_max_ttl.is_zero() {
            return Err(ConfigError::invalid(
                if refresh_idle_ttl.is_zero() {
                    "refresh_idle_ttl"
                } else {
                    "refresh_max_ttl"
                },
                "it is 0, so no refresh token could ever be used",
                "Set a positive duration such as \"14d\"",
            ));
        }
        if refresh_idle_ttl > refresh_max_ttl {
            return Err(ConfigError::invalid(
                "refresh_idle_ttl",
                format!(
                    "{} is longer than refresh_max_ttl = {}",
                    humantime::format_duration(refresh_idle_ttl),
                    humantime::format_duration(refresh_max_ttl)
                ),
                "Make the idle lifetime at most the absolute lifetime",
            ));
        }
        if raw.refresh_reuse_grace.0 > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "refresh_reuse_grace",
                "it is more than 5 minutes, which would weaken reuse detection",
                "Use a few seconds (or 0 to turn it off)",
            ));
        }

        let algorithm: Algorithm = raw.algorithm.parse().map_err(|_| {
            ConfigError::invalid(
                "algorithm",
                format!("'{}' is not a supported algorithm", crate::error::clip(&raw.algorithm)),
                format!(
                    "Use one of {}",
                    Algorithm::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;

        let hs_secret = match (raw.hs_secret, raw.hs_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "hs_secret",
                    "both hs_secret and hs_secret_file are set",
                    "Keep one of them",
                ));
            }
            (Some(s), None) => Some(s),
            (None, Some(path)) => {
                let path = resolve(path);
                let text = read_secret_file(&path).map_err(|e| {
                    ConfigError::invalid(
                        "hs_secret_file",
                        format!("{} cannot be read: {e}", path.display()),
                        "Point it at a readable UTF-8 file that holds the secret",
                    )
                })?;
                Some(Secret::new(text.trim_end_matches(['\r', '\n'])))
            }
            (None, None) => None,
        };
        match (&hs_secret, algorithm.is_hmac()) {
            (Some(secret), true) => check_hs_secret(secret, algorithm)?,
            (None, true) => {
                return Err(ConfigError::invalid(
                    "hs_secret",
                    format!("algorithm is {algorithm} but no secret is set"),
                    format!(
                        "Set JWTAUTH_HS_SECRET (or hs_secret_file) to at least {} random bytes, e.g. the output of `openssl rand -base64 {}`",
                        algorithm.min_secret_len(),
                        algorithm.min_secret_len()
                    ),
                ));
            }
            (Some(_), false) => {
                return Err(ConfigError::invalid(
                    "hs_secret",
                    format!("a secret is set but algorithm is {algorithm}, which does not use one"),
                    "Set algorithm = \"HS256\" (or HS384/HS512) to use the secret, or remove it",
                ));
            }
            (None, false) => {}
        }
        if raw.key_file.is_some() && algorithm.is_hmac() {
            return Err(ConfigError::invalid(
                "key_file",
                format!("a key file is set but algorithm is {algorithm}, which uses hs_secret"),
                "Remove key_file, or choose the asymmetric algorithm of the key",
            ));
        }

        let roles_claim = raw.roles_claim.trim().to_string();
        if roles_claim.is_empty() || crate::token::REGISTERED_CLAIMS.contains(&roles_claim.as_str()) {
            return Err(ConfigError::invalid(
                "roles_claim",
                format!("'{}' cannot carry roles", crate::error::clip(&roles_claim)),
                "Use \"roles\" (default) or \"role\"",
            ));
        }
        if raw.validation_cache > 1_000_000 {
            return Err(ConfigError::invalid(
                "validation_cache",
                format!("{} tokens is over 1000000", raw.validation_cache),
                "Keep it near the number of clients active within an access-token lifetime (default 4096; 0 = off)",
            ));
        }
        if !(512..=1024 * 1024).contains(&raw.max_token_size) {
            return Err(ConfigError::invalid(
                "max_token_size",
                format!("{} bytes is outside 512..=1048576", raw.max_token_size),
                "Keep the default 8192 unless tokens carry many claims",
            ));
        }
        if raw.revocation_staleness.0 > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "revocation_staleness",
                "it is more than 5 minutes; logged-out users would keep access that long",
                "Use a few seconds (default \"5s\")",
            ));
        }
        if raw.key_reload_interval.0.is_zero() {
            return Err(ConfigError::invalid(
                "key_reload_interval",
                "it is 0",
                "Use a positive duration such as \"60s\"",
            ));
        }

        let url = raw.store.url.trim().to_string();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConfigError::invalid(
                    "store.url",
                    "sqlite:// names no file",
                    "Write it like \"sqlite://jwtauth.db\"",
                ));
            }
            format!("sqlite://{}", resolve(PathBuf::from(path)).display())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url
        } else {
            return Err(ConfigError::invalid(
                "store.url",
                format!(
                    "'{}' is neither sqlite:// nor postgres://",
                    crate::store_url_masked(&url)
                ),
                "Use \"sqlite://jwtauth.db\" (default) or \"postgres://user@host/db\"",
            ));
        };
        if raw.store.pool_size == 0 || raw.store.pool_size > 1024 {
            return Err(ConfigError::invalid(
                "store.pool_size",
                format!("{} is outside 1..=1024", raw.store.pool_size),
                "Use a small number such as 8",
            ));
        }
        if raw.log.retention_days == 0 {
            return Err(ConfigError::invalid(
                "log.retention_days",
                "it is 0, so no failure log would be kept",
                "Keep at least 1 day (default 14)",
            ));
        }
        let prefix = raw.log.file_prefix.trim().to_string();
        if prefix.is_empty() || prefix.contains(['/', '\\']) {
            return Err(ConfigError::invalid(
                "log.file_prefix",
                format!("'{}' is not a plain file name", crate::error::clip(&prefix)),
                "Use a plain name such as \"failures\"",
            ));
        }
        let server = raw.server.validate(resolve)?;
        let login = raw.login.validate()?;

        Ok(Config {
            issuer,
            audience,
            access_ttl,
            max_access_ttl,
            refresh_idle_ttl,
            refresh_max_ttl,
            refresh_reuse_grace: raw.refresh_reuse_grace.0,
            leeway,
            algorithm,
            roles_claim,
            hs_secret,
            key_file: raw.key_file.map(resolve),
            master_key_file: raw.master_key_file.map(resolve),
            max_token_size: raw.max_token_size,
            validation_cache: raw.validation_cache,
            revocation_staleness: raw.revocation_staleness.0,
            key_reload_interval: raw.key_reload_interval.0,
            store: StoreConfig {
                url,
                pool_size: raw.store.pool_size,
            },
            log: LogConfig {
                dir_configured: raw.log.dir.is_some(),
                dir: resolve(raw.log.dir.unwrap_or_else(|| PathBuf::from(DEFAULT_LOG_DIR))),
                retention_days: raw.log.retention_days,
                file_prefix: prefix,
            },
            server,
            login,
        })
    }
}

/// Reads a key or secret file, refusing one over 64 KiB rather than reading whatever
/// the path names (`/dev/zero`) into memory. The buffer is allocated once, so no copy
/// of the secret is left behind by a reallocation, and it is wiped when dropped.
pub(crate) fn read_secret_file(path: &Path) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read;
    const LIMIT: usize = 64 * 1024;
    let mut text = Zeroizing::new(String::with_capacity(LIMIT + 1));
    std::fs::File::open(path)?
        .take(LIMIT as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > LIMIT {
        return Err(std::io::Error::other(
            "it is larger than 64 KiB, too large for a key or secret",
        ));
    }
    Ok(text)
}

fn env_provider() -> Env {
    Env::prefixed("JWTAUTH_").ignore(NOT_CONFIG_KEYS).split("__")
}

/// Refuses HS secrets that are short or well known (the guide's first common mistake).
pub(crate) fn check_hs_secret(secret: &Secret, alg: Algorithm) -> Result<(), ConfigError> {
    let s = secret.expose();
    let need = alg.min_secret_len();
    if s.len() < need {
        return Err(ConfigError::invalid(
            "hs_secret",
            format!("the secret is {} bytes; {alg} needs at least {need}", s.len()),
            format!("Generate one with `openssl rand -base64 {need}` and set JWTAUTH_HS_SECRET"),
        ));
    }
    let lower = s.to_ascii_lowercase();
    let placeholder = PLACEHOLDER_SECRETS.iter().any(|p| {
        // A placeholder repeated or padded with digits to reach the length is still a placeholder.
        let rest = lower.replace(p, "");
        lower.contains(p) && rest.chars().all(|c| c.is_ascii_digit() || "_-!. ".contains(c))
    });
    let one_char = s.chars().all(|c| s.starts_with(c));
    if placeholder || one_char {
        return Err(ConfigError::invalid(
            "hs_secret",
            "the secret is a well-known placeholder (or a single repeated character), which anyone can guess",
            format!("Generate one with `openssl rand -base64 {need}` and set JWTAUTH_HS_SECRET"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
