//! Any string as `jwtauth.toml` text, and as the JSON the C API's `jwtauth_open_json`
//! takes: `Config::from_toml` / `from_json` must answer Ok or Err. A configuration
//! that is Ok keeps the promises of its checks (token lifetimes, `[server]` limits,
//! CORS, `[login]` and `[refresh_limits]` throttles, `[log]` flood limits,
//! `[[trusted_issuers]]`), and every derived value can be computed without a panic.
#![no_main]

use std::net::IpAddr;
use std::time::Duration;

use jwtauth_core::Config;
use libfuzzer_sys::fuzz_target;

fn check(c: &Config) {
    assert!(!c.access_ttl().is_zero() && c.access_ttl() <= c.max_access_ttl());
    assert!(c.leeway() <= Duration::from_secs(300));
    assert!(c.refresh_idle_ttl() <= c.refresh_max_ttl());
    assert!(!c.roles_claim().is_empty());
    let _ = c.rules();
    let _ = c.jwks_max_age();
    let _ = c.public_base_url();
    let _ = c.generated_master_key_file();
    let s = c.server();
    assert!(!s.header_read_timeout.is_zero() && s.header_read_timeout <= Duration::from_secs(300));
    assert!((1..=1_000_000).contains(&s.max_connections));
    assert!(!(s.cors_allow_credentials && s.cors_allowed_origins.iter().any(|o| o == "*")));
    assert_eq!(s.tls_cert.is_some(), s.tls_key.is_some());
    for ip in ["127.0.0.1", "::1", "203.0.113.7", "::ffff:10.0.0.1", "2001:db8::1"] {
        let _ = s.is_trusted_proxy(ip.parse::<IpAddr>().expect("a fixed address"));
    }
    // Trusting every address would let any client choose its own address.
    assert!(s.trusted_proxies.iter().all(|n| n.prefix_len() > 0));
    let _ = format!("{:?} {:?} {:?}", c.login(), c.refresh_limits(), c.log());
    let _ = format!("{:?}", c.claims_profile());
    for t in c.trusted_issuers() {
        let _ = format!("{:?} {:?}", t.settings(), t.rules());
    }
    let debug = format!("{c:?}");
    if let Some(secret) = c.hs_secret() {
        assert!(!debug.contains(secret.expose()), "Debug of a Config shows hs_secret");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for parsed in [Config::from_toml(text), Config::from_json(text)] {
        match parsed {
            Ok(c) => check(&c),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
