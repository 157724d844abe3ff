//! The token sections: whose tokens (`issuer`, `audience`), how long they live,
//! and what validation accepts.

use std::time::Duration;

use super::ConfigError;
use super::raw::{OneOrMany, RawConfig};

/// `issuer` and `audience`, trimmed and non-empty.
pub(super) fn identity(raw: &RawConfig) -> Result<(String, Vec<String>), ConfigError> {
    let issuer = raw.issuer.trim().to_string();
    if issuer.is_empty() {
        return Err(ConfigError::invalid(
            "issuer",
            "it is empty, so tokens could not be tied to this service",
            "Set `issuer` to this service's URL, e.g. \"https://auth.example.com\"",
        ));
    }
    let audience: Vec<String> = match raw.audience.clone() {
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

    Ok((issuer, audience))
}

/// Every lifetime, with the ceilings that keep tokens revocable in time.
pub(super) struct Lifetimes {
    pub access_ttl: Duration,
    pub max_access_ttl: Duration,
    pub leeway: Duration,
    pub refresh_idle_ttl: Duration,
    pub refresh_max_ttl: Duration,
    pub refresh_reuse_grace: Duration,
}

pub(super) fn lifetimes(raw: &RawConfig) -> Result<Lifetimes, ConfigError> {
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

    Ok(Lifetimes {
        access_ttl,
        max_access_ttl,
        leeway,
        refresh_idle_ttl,
        refresh_max_ttl,
        refresh_reuse_grace: raw.refresh_reuse_grace.0,
    })
}

/// `roles_claim`, and the bounds of the cache, token size and reload intervals.
pub(super) fn validation(raw: &RawConfig) -> Result<String, ConfigError> {
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

    Ok(roles_claim)
}
