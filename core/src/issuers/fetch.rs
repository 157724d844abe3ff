//! Fetching one document (a discovery document or a key set) over HTTPS: rustls
//! with the system's roots, connect and overall timeouts, a size limit, and
//! redirects only within the same host.

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use reqwest::{Url, redirect};

use crate::error::clip;

/// The largest discovery document or key set read; a bigger one is refused.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// How long a key set is kept when the issuer says nothing (`Cache-Control: max-age`).
pub const DEFAULT_MAX_AGE: i64 = 600;
/// The bounds put on an issuer's `max-age`: never refetched more often than once a
/// minute in steady state, never kept unrefreshed for more than a day.
pub const MAX_AGE_BOUNDS: (i64, i64) = (60, 86_400);

/// Checks a URL we are about to fetch: https, or plain http only for a loopback
/// address (or when `allow_http` is spelled out); a host; no credentials in it.
pub fn check_url(text: &str, allow_http: bool) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("'{}' is not a URL ({e})", clip(text)))?;
    if url.host().is_none() {
        return Err(format!("'{}' has no host", clip(text)));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials; key sets are public, so it must not".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "'{}' is plain http, which anyone on the path could answer with their own keys; use https (http is accepted for loopback addresses, or with allow_http = true)",
            clip(text)
        )),
        other => Err(format!("'{}' has scheme '{}'; use https", clip(text), clip(other))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A document as fetched.
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    /// `Cache-Control: max-age`, within [`MAX_AGE_BOUNDS`]; `None` when absent.
    pub max_age: Option<i64>,
}

/// An HTTP client set up for one trusted issuer.
pub(crate) struct Fetcher {
    client: Client,
    timeout: Duration,
}

impl Fetcher {
    /// Builds the client. Call it on the thread that fetches (the blocking client
    /// runs its own small runtime and must not be made on an async worker).
    pub(crate) fn new(timeout: Duration, allow_http: bool) -> Result<Fetcher, String> {
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                return attempt.error("more than 3 redirects");
            }
            let same_host = attempt.previous().first().is_some_and(|first| {
                first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if !same_host {
                let to = attempt.url().host_str().unwrap_or("").to_string();
                return attempt.error(format!("redirect to another host ('{}') refused", clip(&to)));
            }
            if let Err(e) = check_url(attempt.url().as_str(), allow_http) {
                return attempt.error(format!("redirect refused: {e}"));
            }
            attempt.follow()
        });
        let client = Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(policy)
            .user_agent(concat!("jwtauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {}", describe(&e)))?;
        Ok(Fetcher { client, timeout })
    }

    /// GETs `url`: a 2xx answer of at most [`MAX_DOCUMENT_BYTES`].
    pub(crate) fn get(&self, url: &Url) -> Result<Fetched, String> {
        let response = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .map_err(|e| self.explain(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{} answered HTTP {status}", clip(url.as_str())));
        }
        if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(format!(
                "{} sent more than {} KiB; refused",
                clip(url.as_str()),
                MAX_DOCUMENT_BYTES / 1024
            ));
        }
        let max_age = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age);
        let mut body = Vec::new();
        response
            .take(MAX_DOCUMENT_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("{}: reading the answer failed: {e}", clip(url.as_str())))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "{} sent more than {} KiB; refused",
                clip(url.as_str()),
                MAX_DOCUMENT_BYTES / 1024
            ));
        }
        Ok(Fetched { body, max_age })
    }

    fn explain(&self, url: &Url, e: &reqwest::Error) -> String {
        let what = if e.is_timeout() {
            format!("no answer within {} ms", self.timeout.as_millis())
        } else {
            describe(e)
        };
        format!("{}: {what}", clip(url.as_str()))
    }
}

/// The innermost causes of an error, in one line (the outer ones repeat the URL).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let inner: Vec<String> = parts.iter().rev().take(2).rev().map(|p| clip(p)).collect();
    inner.join(": ")
}

/// `max-age` of one `Cache-Control` value, bounded; `no-store` and `no-cache`
/// count as the shortest time allowed.
fn max_age(value: &str) -> Option<i64> {
    value.split(',').map(str::trim).find_map(|d| {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(MAX_AGE_BOUNDS.0);
        }
        let (name, secs) = d.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs: i64 = secs.trim().trim_matches('"').parse().ok()?;
        Some(secs.clamp(MAX_AGE_BOUNDS.0, MAX_AGE_BOUNDS.1))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_http_is_refused_except_for_loopback_or_when_allowed() {
        assert!(check_url("https://idp.example.com/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        let e = check_url("http://idp.example.com/jwks", false).unwrap_err();
        assert!(e.contains("allow_http"), "{e}");
        assert!(check_url("http://idp.example.com/jwks", true).is_ok());
        assert!(check_url("ftp://idp.example.com/jwks", true).is_err());
        assert!(check_url("https://user:pw@idp.example.com/jwks", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    #[test]
    fn max_age_is_read_and_bounded() {
        assert_eq!(max_age("public, max-age=3600"), Some(3600));
        assert_eq!(max_age("max-age=5"), Some(60));
        assert_eq!(max_age("max-age=999999999"), Some(86_400));
        assert_eq!(max_age("no-store"), Some(60));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=-1"), Some(60));
        assert_eq!(max_age("max-age=banana"), None);
    }
}
