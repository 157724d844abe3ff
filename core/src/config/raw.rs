//! The configuration as read, before any check: what figment deserializes from
//! the file and the environment, with the laptop defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::server::{RawLogin, RawOauth, RawRefreshLimits, RawServer};
use crate::keys::Secret;

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
pub(super) struct RawConfig {
    pub issuer: String,
    pub audience: OneOrMany,
    pub access_ttl: Dur,
    pub max_access_ttl: Dur,
    pub refresh_idle_ttl: Dur,
    pub refresh_max_ttl: Dur,
    pub refresh_reuse_grace: Dur,
    pub leeway: Dur,
    pub algorithm: String,
    pub roles_claim: String,
    pub hs_secret: Option<Secret>,
    pub hs_secret_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub allow_unsealed_keys: bool,
    pub max_token_size: usize,
    pub validation_cache: usize,
    pub revocation_staleness: Dur,
    pub key_reload_interval: Dur,
    pub key_publish_ahead: Dur,
    pub oauth: RawOauth,
    pub store: RawStore,
    pub log: RawLog,
    pub server: RawServer,
    pub login: RawLogin,
    pub refresh_limits: RawRefreshLimits,
    pub claims_profile: String,
    pub trusted_issuers: Vec<super::issuers::RawTrustedIssuer>,
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
            allow_unsealed_keys: false,
            max_token_size: 8 * 1024,
            validation_cache: 4096,
            revocation_staleness: Dur(Duration::from_secs(5)),
            key_reload_interval: Dur(Duration::from_secs(60)),
            key_publish_ahead: Dur(Duration::from_secs(10 * 60)),
            oauth: RawOauth::default(),
            store: RawStore::default(),
            log: RawLog::default(),
            server: RawServer::default(),
            login: RawLogin::default(),
            refresh_limits: RawRefreshLimits::default(),
            claims_profile: "jwtauth".into(),
            trusted_issuers: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
    pub url: String,
    pub pool_size: u32,
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
pub(super) struct RawLog {
    pub dir: Option<PathBuf>,
    pub retention_days: u32,
    pub file_prefix: String,
    pub max_repeats_per_minute: u32,
    pub max_bytes_per_day: u64,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            dir: None,
            retention_days: 14,
            file_prefix: "failures".into(),
            max_repeats_per_minute: crate::audit::FloodLimits::default().max_repeats_per_minute,
            max_bytes_per_day: crate::audit::FloodLimits::default().max_bytes_per_day,
        }
    }
}
