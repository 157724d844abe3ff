//! `claims_profile` and the `[[trusted_issuers]]` section: external issuers whose
//! tokens are accepted, each with its own rules.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::raw::{Dur, OneOrMany, RawConfig};
use crate::error::clip;
use crate::issuers::{IssuerSettings, KeySource, check_url};
use crate::keys::Algorithm;
use crate::token::{ClaimsProfile, Rules};

/// One `[[trusted_issuers]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrustedIssuer {
    issuer: String,
    audience: OneOrMany,
    discovery_url: Option<String>,
    jwks_url: Option<String>,
    #[serde(default)]
    algorithms: Vec<String>,
    leeway: Option<Dur>,
    claims_profile: Option<String>,
    roles_claim: Option<String>,
    max_token_age: Option<Dur>,
    #[serde(default)]
    allow_http: bool,
    last_known_good: Option<Dur>,
    refetch_cooldown: Option<Dur>,
    fetch_timeout: Option<Dur>,
}

/// A trusted external issuer, checked: how its keys are fetched and the rules its
/// tokens must satisfy.
#[derive(Debug, Clone)]
pub struct TrustedIssuerConfig {
    settings: IssuerSettings,
    rules: Rules,
}

impl TrustedIssuerConfig {
    /// How its keys are fetched and cached.
    pub fn settings(&self) -> &IssuerSettings {
        &self.settings
    }
    /// The rules its tokens must satisfy.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

/// `claims_profile` (top level).
pub(super) fn profile(raw: &RawConfig) -> Result<ClaimsProfile, ConfigError> {
    parse_profile("claims_profile", &raw.claims_profile)
}

fn parse_profile(key: &'static str, text: &str) -> Result<ClaimsProfile, ConfigError> {
    text.trim().parse().map_err(|problem: String| {
        ConfigError::invalid(
            key,
            problem,
            "Use \"jwtauth\" (default: `sub` required) or \"aspnet\" (also the names ASP.NET writes: nameid, unique_name, role and the ClaimTypes URIs)",
        )
    })
}

/// Every `[[trusted_issuers]]` entry, checked; `own` is this service's rules.
pub(super) fn trusted(entries: &[RawTrustedIssuer], own: &Rules) -> Result<Vec<TrustedIssuerConfig>, ConfigError> {
    let mut out: Vec<TrustedIssuerConfig> = Vec::new();
    for t in entries {
        let issuer = t.issuer.trim().to_string();
        let named = |problem: String| format!("trusted issuer '{}': {problem}", clip(&issuer));
        if issuer.is_empty() {
            return Err(ConfigError::invalid(
                "trusted_issuers.issuer",
                "it is empty",
                "Set it to the exact `iss` the issuer's tokens carry",
            ));
        }
        if issuer == own.issuer || out.iter().any(|o| o.rules.issuer == issuer) {
            return Err(ConfigError::invalid(
                "trusted_issuers.issuer",
                named("it appears twice (or is this service's own `issuer`)".into()),
                "List each external issuer once",
            ));
        }
        let audience: Vec<String> = match t.audience.clone() {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        }
        .into_iter()
        .map(|a| a.trim().to_string())
        .collect();
        if audience.is_empty() || audience.iter().any(String::is_empty) {
            return Err(ConfigError::invalid(
                "trusted_issuers.audience",
                named("it is empty, so tokens the issuer made for any other service would be accepted".into()),
                "Set it to the audience the issuer puts in tokens for this API",
            ));
        }
        let source = match (&t.discovery_url, &t.jwks_url) {
            (Some(d), None) => KeySource::Discovery(d.trim().to_string()),
            (None, Some(j)) => KeySource::Jwks(j.trim().to_string()),
            _ => {
                return Err(ConfigError::invalid(
                    "trusted_issuers.discovery_url",
                    named("exactly one of discovery_url and jwks_url is needed".into()),
                    "Set discovery_url to the issuer's /.well-known/openid-configuration, or jwks_url to its key set",
                ));
            }
        };
        let (KeySource::Discovery(url) | KeySource::Jwks(url)) = &source;
        check_url(url, t.allow_http).map_err(|problem| {
            ConfigError::invalid(
                "trusted_issuers.discovery_url",
                named(problem),
                "Use the issuer's https URL",
            )
        })?;
        let mut algorithms = Vec::new();
        for a in &t.algorithms {
            let alg: Algorithm = a.trim().parse().map_err(|_| {
                ConfigError::invalid(
                    "trusted_issuers.algorithms",
                    named(format!("'{}' is not a supported algorithm", clip(a))),
                    "Use names such as \"RS256\", \"ES256\", \"EdDSA\"",
                )
            })?;
            if alg.is_hmac() {
                return Err(ConfigError::invalid(
                    "trusted_issuers.algorithms",
                    named(format!(
                        "{alg} needs a secret shared with the issuer, which a key set never publishes"
                    )),
                    "Use the issuer's public-key algorithms (RS256, ES256, …)",
                ));
            }
            algorithms.push(alg);
        }
        let leeway = t.leeway.map_or(own.leeway, |d| secs(d.0));
        if leeway > 300 {
            return Err(ConfigError::invalid(
                "trusted_issuers.leeway",
                named("it is more than 5 minutes".into()),
                "Use a few seconds to a minute",
            ));
        }
        let claims_profile = match &t.claims_profile {
            Some(p) => parse_profile("trusted_issuers.claims_profile", p)?,
            None => own.claims_profile,
        };
        let roles_claim = t
            .roles_claim
            .as_deref()
            .map_or(own.roles_claim.clone(), |r| r.trim().to_string());
        if roles_claim.is_empty() || crate::token::REGISTERED_CLAIMS.contains(&roles_claim.as_str()) {
            return Err(ConfigError::invalid(
                "trusted_issuers.roles_claim",
                named(format!("'{}' cannot carry roles", clip(&roles_claim))),
                "Use the claim the issuer puts roles in, e.g. \"roles\" or \"groups\"",
            ));
        }
        let max_token_age = t.max_token_age.map_or(Duration::from_secs(86_400), |d| d.0);
        if max_token_age.is_zero() {
            return Err(ConfigError::invalid(
                "trusted_issuers.max_token_age",
                named("it is 0, so every token would be too old".into()),
                "Use the longest lifetime the issuer's access tokens have (default \"24h\")",
            ));
        }
        let fetch_timeout = t.fetch_timeout.map_or(Duration::from_secs(5), |d| d.0);
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&fetch_timeout) {
            return Err(ConfigError::invalid(
                "trusted_issuers.fetch_timeout",
                named("it is outside 100ms..=60s".into()),
                "Use a few seconds (default \"5s\")",
            ));
        }
        let refetch_cooldown = t.refetch_cooldown.map_or(Duration::from_secs(30), |d| d.0);
        if refetch_cooldown < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "trusted_issuers.refetch_cooldown",
                named("it is under 1 s, so made-up kids could make this service hammer the issuer".into()),
                "Use the default \"30s\" or more",
            ));
        }
        out.push(TrustedIssuerConfig {
            settings: IssuerSettings {
                issuer: issuer.clone(),
                source,
                algorithms,
                allow_http: t.allow_http,
                fetch_timeout,
                last_known_good: t.last_known_good.map_or(Duration::from_secs(86_400), |d| d.0),
                refetch_cooldown,
            },
            rules: Rules {
                issuer,
                audience,
                leeway,
                max_size: own.max_size,
                roles_claim,
                claims_profile,
                max_token_age: Some(secs(max_token_age)),
                // Their tokens are not revoked by our watermarks; the longest lifetime
                // accepted is the issuer's own bound.
                max_lifetime: secs(max_token_age).saturating_add(leeway),
            },
        });
    }
    Ok(out)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
