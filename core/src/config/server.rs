//! The `[server]` and `[login]` sections: where jwtauth-server listens, which proxies
//! it believes about client addresses, and how hard password guessing is throttled.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::{ConfigError, Dur, OneOrMany};
use crate::refresh::RefreshLimits;
use crate::users::slots::HashLimits;
use crate::users::throttle::LoginLimits;

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Socket address to bind, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// PEM certificate chain; with `tls_key`, the server speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    pub tls_key: Option<PathBuf>,
    /// Set when a proxy in front terminates TLS; allows plain HTTP on a non-loopback address.
    pub behind_tls_proxy: bool,
    /// Proxies whose `X-Forwarded-For` is believed: a request arriving from one of these
    /// addresses is attributed to the client the proxy names. Empty (the default): the
    /// header is ignored and the socket's peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client has to send a request's headers (and, over HTTP/1, how long
    /// a kept-alive connection may wait for its next request; over TLS, the handshake).
    pub header_read_timeout: Duration,
    /// Connections served at once; a connection over the cap is closed at once.
    pub max_connections: usize,
    /// The absolute URL clients reach this server at (`https://auth.example.com`),
    /// used for the URLs in the metadata when `issuer` is not one itself.
    pub public_url: Option<String>,
    /// Origins whose browsers may call the API (CORS); empty (the default): none.
    /// `"*"` is any origin, refused together with `cors_allow_credentials`.
    pub cors_allowed_origins: Vec<String>,
    /// Whether cross-origin requests may carry cookies or HTTP authentication
    /// (off: tokens travel in the `Authorization` header, which needs no credentials mode).
    pub cors_allow_credentials: bool,
}

impl ServerConfig {
    /// Whether `ip` is one of the trusted proxies (an IPv4 address seen as
    /// `::ffff:a.b.c.d` on a dual-stack socket counts as itself).
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    listen: String,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    behind_tls_proxy: bool,
    trusted_proxies: OneOrMany,
    header_read_timeout: Dur,
    max_connections: usize,
    public_url: Option<String>,
    cors_allowed_origins: OneOrMany,
    cors_allow_credentials: bool,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            tls_cert: None,
            tls_key: None,
            behind_tls_proxy: false,
            trusted_proxies: OneOrMany::Many(Vec::new()),
            header_read_timeout: Dur(Duration::from_secs(10)),
            max_connections: 1024,
            public_url: None,
            cors_allowed_origins: OneOrMany::Many(Vec::new()),
            cors_allow_credentials: false,
        }
    }
}

/// `text` as an absolute base URL without a trailing slash: `https://host[:port][/path]`,
/// or `http://` on a loopback host; no query, fragment or user info.
pub(crate) fn absolute_url(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('/');
    let (https, rest) = if let Some(r) = text.strip_prefix("https://") {
        (true, r)
    } else {
        (false, text.strip_prefix("http://")?)
    };
    let host_port = rest.split('/').next().unwrap_or("");
    if host_port.is_empty() || rest.contains(['?', '#', '@', ' ']) || !rest.chars().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (https || loopback).then(|| text.to_owned())
}

/// A CORS origin: `*`, or `scheme://host[:port]` with no path.
fn origin(text: &str) -> Result<String, ConfigError> {
    let t = text.trim();
    let ok = t == "*"
        || ((t.starts_with("https://") || t.starts_with("http://"))
            && t.splitn(4, '/').nth(3).is_none()
            && t.len() > "http://".len()
            && t.chars().all(|c| c.is_ascii_graphic()));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(ConfigError::invalid(
            "server.cors_allowed_origins",
            format!("'{}' is not an origin", crate::error::clip(t)),
            "Write each origin as scheme://host[:port], e.g. [\"https://app.example.com\"], with no path or trailing slash",
        ))
    }
}

impl RawServer {
    pub(super) fn validate(self, resolve: impl Fn(PathBuf) -> PathBuf) -> Result<ServerConfig, ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::invalid(
                if self.tls_cert.is_some() {
                    "server.tls_key"
                } else {
                    "server.tls_cert"
                },
                "only one of tls_cert and tls_key is set",
                "Set both (PEM certificate chain and its private key) or neither",
            ));
        }
        let written = match self.trusted_proxies {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        };
        let trusted_proxies = written
            .iter()
            .map(|text| trusted_proxy(text))
            .collect::<Result<Vec<_>, _>>()?;
        let header_read_timeout = self.header_read_timeout.0;
        if header_read_timeout.is_zero() || header_read_timeout > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "server.header_read_timeout",
                format!(
                    "{} is outside 1ms..=5m",
                    humantime::format_duration(header_read_timeout)
                ),
                "Use a few seconds, such as \"10s\" (the default)",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::invalid(
                "server.max_connections",
                format!("{} is outside 1..=1000000", self.max_connections),
                "Keep it below the process's open-file limit (`ulimit -n`), e.g. 1024 (the default)",
            ));
        }
        let public_url = match self.public_url.as_deref() {
            None => None,
            Some(text) => Some(absolute_url(text).ok_or_else(|| {
                ConfigError::invalid(
                    "server.public_url",
                    format!("'{}' is not an absolute URL", crate::error::clip(text)),
                    "Write it like \"https://auth.example.com\" (http:// only on a loopback host)",
                )
            })?),
        };
        let cors_allowed_origins = match self.cors_allowed_origins {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
        .iter()
        .map(|o| origin(o))
        .collect::<Result<Vec<_>, _>>()?;
        if self.cors_allow_credentials && cors_allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::invalid(
                "server.cors_allowed_origins",
                "\"*\" together with cors_allow_credentials would let every web site act with a visitor's credentials",
                "List the origins of your own applications, or leave cors_allow_credentials off",
            ));
        }
        Ok(ServerConfig {
            header_read_timeout,
            max_connections: self.max_connections,
            listen: self.listen,
            tls_cert: self.tls_cert.map(&resolve),
            tls_key: self.tls_key.map(&resolve),
            behind_tls_proxy: self.behind_tls_proxy,
            trusted_proxies,
            public_url,
            cors_allowed_origins,
            cors_allow_credentials: self.cors_allow_credentials,
        })
    }
}

fn trusted_proxy(text: &str) -> Result<IpNet, ConfigError> {
    let text = text.trim();
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            ConfigError::invalid(
                "server.trusted_proxies",
                format!("'{}' is not an IP address or a CIDR range", crate::error::clip(text)),
                "List your proxies' addresses, e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]",
            )
        })?;
    if net.prefix_len() == 0 {
        return Err(ConfigError::invalid(
            "server.trusted_proxies",
            format!(
                "'{net}' trusts every address, so any client could name its own address and escape login throttling"
            ),
            "List only the addresses of your own proxies",
        ));
    }
    Ok(net.trunc())
}

/// The `[oauth]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawOauth {
    pub password_grant: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLogin {
    user_burst: u32,
    user_period: Dur,
    client_burst: u32,
    client_period: Dur,
    client_attempt_burst: u32,
    client_attempt_period: Dur,
    max_tracked: usize,
    concurrent_hashes: usize,
    hash_wait: Dur,
}

impl Default for RawLogin {
    fn default() -> Self {
        let d = LoginLimits::default();
        let h = HashLimits::default();
        RawLogin {
            concurrent_hashes: h.concurrent_hashes,
            hash_wait: Dur(h.hash_wait),
            user_burst: d.per_user_burst,
            user_period: Dur(d.per_user_period),
            client_burst: d.per_client_burst,
            client_period: Dur(d.per_client_period),
            client_attempt_burst: d.per_client_attempt_burst,
            client_attempt_period: Dur(d.per_client_attempt_period),
            max_tracked: d.max_keys,
        }
    }
}

/// Bursts above this would not slow a guesser down.
const MAX_BURST: u32 = 10_000;
/// A period above this locks a user out for longer than anyone waits.
const MAX_PERIOD: Duration = Duration::from_secs(3600);

/// Checks one burst and one period of a throttle section.
fn rate(
    burst_key: &'static str,
    burst: u32,
    period_key: &'static str,
    period: Duration,
    example: &str,
) -> Result<(), ConfigError> {
    if burst == 0 || burst > MAX_BURST {
        return Err(ConfigError::invalid(
            burst_key,
            format!("{burst} is outside 1..={MAX_BURST}"),
            format!("It is how many attempts are allowed at once, e.g. {example}"),
        ));
    }
    if period.is_zero() || period > MAX_PERIOD {
        return Err(ConfigError::invalid(
            period_key,
            format!("{} is outside 1ms..=1h", humantime::format_duration(period)),
            format!("It is the wait for one more attempt after the burst, e.g. {example}"),
        ));
    }
    Ok(())
}

fn tracked(key: &'static str, n: usize) -> Result<(), ConfigError> {
    if n == 0 {
        return Err(ConfigError::invalid(
            key,
            "it is 0, so no attempt would be remembered",
            "Keep the default (100000) or another bound on memory",
        ));
    }
    Ok(())
}

/// Each busy slot holds 7 MiB (freed 2 s after its last hash): more than this is a typo, not a machine.
const MAX_CONCURRENT_HASHES: usize = 256;
/// A login waiting longer than this for a hashing slot would meet the server's
/// 10 s request timeout before its answer.
const MAX_HASH_WAIT: Duration = Duration::from_secs(5);

fn hashing(concurrent_hashes: usize, hash_wait: Duration) -> Result<HashLimits, ConfigError> {
    if !(1..=MAX_CONCURRENT_HASHES).contains(&concurrent_hashes) {
        return Err(ConfigError::invalid(
            "login.concurrent_hashes",
            format!("{concurrent_hashes} is outside 1..={MAX_CONCURRENT_HASHES}"),
            "It is how many password hashes run at once, each with 7 MiB; keep the default (2) or the number of cores",
        ));
    }
    if hash_wait.is_zero() || hash_wait > MAX_HASH_WAIT {
        return Err(ConfigError::invalid(
            "login.hash_wait",
            format!("{} is outside 1ms..=5s", humantime::format_duration(hash_wait)),
            "It is how long a login waits for a hashing slot before it is refused as busy, e.g. \"3s\"",
        ));
    }
    Ok(HashLimits {
        concurrent_hashes,
        hash_wait,
    })
}

impl RawLogin {
    pub(super) fn validate(self) -> Result<(LoginLimits, HashLimits), ConfigError> {
        let example = "5 failures then one per \"12s\" per user, 20 then one per \"3s\" per client";
        rate(
            "login.user_burst",
            self.user_burst,
            "login.user_period",
            self.user_period.0,
            example,
        )?;
        rate(
            "login.client_burst",
            self.client_burst,
            "login.client_period",
            self.client_period.0,
            example,
        )?;
        rate(
            "login.client_attempt_burst",
            self.client_attempt_burst,
            "login.client_attempt_period",
            self.client_attempt_period.0,
            "100 attempts then one per \"100ms\" per client",
        )?;
        tracked("login.max_tracked", self.max_tracked)?;
        let hashing = hashing(self.concurrent_hashes, self.hash_wait.0)?;
        let limits = LoginLimits {
            per_user_burst: self.user_burst,
            per_user_period: self.user_period.0,
            per_client_burst: self.client_burst,
            per_client_period: self.client_period.0,
            per_client_attempt_burst: self.client_attempt_burst,
            per_client_attempt_period: self.client_attempt_period.0,
            max_keys: self.max_tracked,
        };
        Ok((limits, hashing))
    }
}

/// `[refresh_limits]`: how often refresh tokens may be spent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRefreshLimits {
    family_burst: u32,
    family_period: Dur,
    client_burst: u32,
    client_period: Dur,
    max_tracked: usize,
}

impl Default for RawRefreshLimits {
    fn default() -> Self {
        let d = RefreshLimits::default();
        RawRefreshLimits {
            family_burst: d.family_burst,
            family_period: Dur(d.family_period),
            client_burst: d.client_burst,
            client_period: Dur(d.client_period),
            max_tracked: d.max_keys,
        }
    }
}

impl RawRefreshLimits {
    pub(super) fn validate(self) -> Result<RefreshLimits, ConfigError> {
        let example = "30 then one per \"2s\" per session, 600 then one per \"20ms\" per client";
        let (fb, fp) = (self.family_burst, self.family_period.0);
        rate(
            "refresh_limits.family_burst",
            fb,
            "refresh_limits.family_period",
            fp,
            example,
        )?;
        let (cb, cp) = (self.client_burst, self.client_period.0);
        rate(
            "refresh_limits.client_burst",
            cb,
            "refresh_limits.client_period",
            cp,
            example,
        )?;
        tracked("refresh_limits.max_tracked", self.max_tracked)?;
        Ok(RefreshLimits {
            family_burst: fb,
            family_period: fp,
            client_burst: cb,
            client_period: cp,
            max_keys: self.max_tracked,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::Config;
    use super::*;

    fn err(toml: &str) -> String {
        Config::from_toml(toml).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn public_url_and_cors_origins_are_checked() {
        let c = Config::from_toml(
            "[server]\npublic_url = \"https://auth.example.com/\"\ncors_allowed_origins = \"https://app.example.com\"",
        )
        .unwrap();
        assert_eq!(c.server.public_url.as_deref(), Some("https://auth.example.com"));
        assert_eq!(c.server.cors_allowed_origins, ["https://app.example.com"]);
        assert!(Config::default().server.cors_allowed_origins.is_empty());
        assert!(err("[server]\npublic_url = \"yourdomain.com\"").contains("server.public_url"));
        assert!(err("[server]\npublic_url = \"http://auth.example.com\"").contains("server.public_url"));
        assert!(Config::from_toml("[server]\npublic_url = \"http://127.0.0.1:8080\"").is_ok());
        assert!(err("[server]\ncors_allowed_origins = [\"https://app.example.com/\"]").contains("not an origin"));
        assert!(Config::from_toml("[server]\ncors_allowed_origins = [\"*\"]").is_ok());
        let e = err("[server]\ncors_allowed_origins = [\"*\"]\ncors_allow_credentials = true");
        assert!(e.contains("cors_allow_credentials"), "{e}");
    }

    #[test]
    fn key_publish_ahead_leaves_every_server_time_to_publish() {
        assert_eq!(Config::default().key_publish_ahead(), Duration::from_secs(600));
        assert_eq!(Config::default().jwks_max_age(), Duration::from_secs(300));
        let c = Config::from_toml("key_publish_ahead = \"4s\"\nrevocation_staleness = \"1s\"").unwrap();
        assert_eq!(c.jwks_max_age(), Duration::from_secs(2));
        assert!(Config::from_toml("key_publish_ahead = 0").is_ok());
        assert!(err("key_publish_ahead = \"6s\"").contains("key_publish_ahead"));
    }

    #[test]
    fn absolute_urls_are_https_or_loopback_http() {
        assert_eq!(absolute_url("https://a.example").as_deref(), Some("https://a.example"));
        assert_eq!(absolute_url("http://[::1]:80/x/").as_deref(), Some("http://[::1]:80/x"));
        assert_eq!(
            absolute_url("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        for bad in [
            "yourdomain.com",
            "http://a.example",
            "https://",
            "https://a.example?x",
            "https://u@a.example",
            "ftp://a",
        ] {
            assert_eq!(absolute_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn tls_needs_both_files() {
        assert!(err("[server]\ntls_cert = \"c.pem\"").contains("server.tls_key"));
        assert!(err("[server]\ntls_key = \"k.pem\"").contains("server.tls_cert"));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges_never_everyone() {
        assert!(Config::default().server.trusted_proxies.is_empty());
        let c = Config::from_toml("[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\", \"fd00::/8\"]").unwrap();
        let nets: Vec<String> = c.server.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
        assert!(c.server.is_trusted_proxy("10.200.0.1".parse().unwrap()));
        assert!(c.server.is_trusted_proxy("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!c.server.is_trusted_proxy("127.0.0.2".parse().unwrap()));
        assert!(!c.server.is_trusted_proxy("11.0.0.1".parse().unwrap()));
        let one = Config::from_toml("[server]\ntrusted_proxies = \"::1\"").unwrap();
        assert!(one.server.is_trusted_proxy("::1".parse().unwrap()));

        let e = err("[server]\ntrusted_proxies = [\"proxy.local\"]");
        assert!(e.contains("server.trusted_proxies") && e.contains("proxy.local"), "{e}");
        for everyone in ["0.0.0.0/0", "::/0"] {
            let e = err(&format!("[server]\ntrusted_proxies = [\"{everyone}\"]"));
            assert!(e.contains("trusts every address"), "{e}");
        }
    }

    #[test]
    fn login_limits_have_defaults_and_refuse_to_switch_throttling_off() {
        assert_eq!(Config::default().login, LoginLimits::default());
        let c =
            Config::from_toml("[login]\nuser_burst = 3\nuser_period = \"1m\"\nclient_burst = 50\nclient_period = 1")
                .unwrap();
        assert_eq!(c.login.per_user_burst, 3);
        assert_eq!(c.login.per_user_period, Duration::from_secs(60));
        assert_eq!(c.login.per_client_burst, 50);
        assert_eq!(c.login.per_client_period, Duration::from_secs(1));
        assert!(err("[login]\nuser_burst = 0").contains("login.user_burst"));
        assert!(err("[login]\nclient_burst = 100000").contains("login.client_burst"));
        assert!(err("[login]\nuser_period = 0").contains("login.user_period"));
        assert!(err("[login]\nclient_period = \"2h\"").contains("login.client_period"));
        assert!(err("[login]\nmax_tracked = 0").contains("login.max_tracked"));
        assert_eq!(c.login.per_client_attempt_burst, 100);
        assert_eq!(c.login.per_client_attempt_period, Duration::from_millis(100));
        let c = Config::from_toml("[login]\nclient_attempt_burst = 30\nclient_attempt_period = \"1s\"").unwrap();
        assert_eq!(c.login.per_client_attempt_burst, 30);
        assert_eq!(c.login.per_client_attempt_period, Duration::from_secs(1));
        assert!(err("[login]\nclient_attempt_burst = 0").contains("login.client_attempt_burst"));
        assert!(err("[login]\nclient_attempt_period = \"2h\"").contains("login.client_attempt_period"));
        assert!(err("[login]\nuser_bust = 3").contains("user_bust"));
    }

    #[test]
    fn hashing_bound_has_defaults_and_refuses_zero() {
        assert_eq!(Config::default().login_hashing(), HashLimits::default());
        assert_eq!(
            (HashLimits::default().concurrent_hashes, HashLimits::default().hash_wait),
            (2, Duration::from_secs(3))
        );
        let c = Config::from_toml("[login]\nconcurrent_hashes = 4\nhash_wait = \"250ms\"").unwrap();
        assert_eq!(c.login_hashing().concurrent_hashes, 4);
        assert_eq!(c.login_hashing().hash_wait, Duration::from_millis(250));
        let zero = err("[login]\nconcurrent_hashes = 0");
        assert!(
            zero.contains("login.concurrent_hashes") && zero.contains("outside 1..=256"),
            "{zero}"
        );
        assert!(err("[login]\nconcurrent_hashes = 100000").contains("login.concurrent_hashes"));
        let zero = err("[login]\nhash_wait = 0");
        assert!(
            zero.contains("login.hash_wait") && zero.contains("outside 1ms..=5s"),
            "{zero}"
        );
        assert!(err("[login]\nhash_wait = \"1m\"").contains("login.hash_wait"));
    }
}
