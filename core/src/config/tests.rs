//! Unit tests of configuration loading and validation.

use super::*;

fn err(toml: &str) -> String {
    match Config::from_toml(toml) {
        Ok(_) => panic!("accepted: {toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn no_file_means_laptop_defaults() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.algorithm, Algorithm::ES256);
    assert_eq!(c.access_ttl, Duration::from_secs(900));
    assert_eq!(c.leeway, Duration::from_secs(30));
    assert_eq!(c.max_token_size, 8192);
    assert_eq!(c.store.url, "sqlite://jwtauth.db");
    assert_eq!(c.log.dir, PathBuf::from("logs"));
    assert!(!c.log.dir_configured);
    assert_eq!(c.roles_claim, "roles");
    let d = Config::default();
    assert_eq!(d.issuer, c.issuer);
}

#[test]
fn durations_accept_units_and_seconds() {
    let c = Config::from_toml("access_ttl = \"5m\"\nrefresh_idle_ttl = \"14d\"\nleeway = 10").unwrap();
    assert_eq!(c.access_ttl, Duration::from_secs(300));
    assert_eq!(c.refresh_idle_ttl, Duration::from_secs(14 * 86400));
    assert_eq!(c.leeway, Duration::from_secs(10));
}

#[test]
fn durations_past_a_century_are_refused_naming_the_key() {
    for toml in [
        "max_access_ttl = \"300000000000y\"",
        "refresh_max_ttl = 9223372036854775807",
        "leeway = \"101y\"",
    ] {
        let e = err(toml);
        let key = toml.split(' ').next().unwrap();
        assert!(e.contains(key) && e.contains("100 years"), "{toml}: {e}");
    }
    let c = Config::from_toml("refresh_max_ttl = \"99y\"\nrefresh_idle_ttl = \"99y\"").unwrap();
    assert_eq!(c.refresh_max_ttl, Duration::from_secs(99 * 31_557_600));
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let e = err("isuer = \"x\"");
    assert!(e.contains("isuer"), "{e}");
}

#[test]
fn a_misspelt_key_is_named_with_where_it_was_and_the_key_meant() {
    let e = err("audiance = \"orders\"");
    assert!(e.contains("unknown key `audiance`"), "{e}");
    assert!(e.contains("did you mean `audience`?"), "{e}");
    assert!(!e.contains("expected"), "no list of every field: {e}");
    let e = err("[store]\nulr = \"sqlite://x.db\"");
    assert!(e.contains("unknown key `store.ulr`"), "{e}");
    assert!(e.contains("did you mean `store.url`?"), "{e}");
    // Nothing close: the keys of that section are listed instead.
    let e = err("[log]\nzzz = 1");
    assert!(e.contains("unknown key `log.zzz`") && e.contains("`log.dir`"), "{e}");
    // From a file: its absolute path.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwtauth.toml");
    std::fs::write(&file, "leway = \"10s\"\n").unwrap();
    let e = Config::load(Some(&file)).unwrap_err().to_string();
    assert!(e.contains(&format!("in {}", file.display())), "{e}");
    assert!(e.contains("did you mean `leeway`?"), "{e}");
}

#[test]
fn bad_value_names_key_value_and_expectation() {
    let e = err("access_ttl = \"fifteen\"");
    assert!(
        e.contains("access_ttl") && e.contains("fifteen") && e.contains("15m"),
        "{e}"
    );
    let e = err("max_token_size = \"big\"");
    assert!(e.contains("max_token_size"), "{e}");
}

#[test]
fn zero_and_excessive_lifetimes_are_refused() {
    assert!(err("access_ttl = \"0s\"").contains("access_ttl"));
    assert!(err("access_ttl = \"2d\"").contains("max_access_ttl"));
    assert!(Config::from_toml("access_ttl = \"2d\"\nmax_access_ttl = \"3d\"").is_ok());
    assert!(err("leeway = \"6m\"").contains("leeway"));
    assert!(err("refresh_idle_ttl = \"40d\"").contains("refresh_idle_ttl"));
}

#[test]
fn empty_issuer_or_audience_is_refused() {
    assert!(err("issuer = \"  \"").contains("`issuer`"));
    assert!(err("audience = \"\"").contains("`audience`"));
    assert!(err("audience = []").contains("`audience`"));
    let c = Config::from_toml("audience = [\"a\", \"b\"]").unwrap();
    assert_eq!(c.audience, vec!["a", "b"]);
}

#[test]
fn hs_secret_rules() {
    let short = err("algorithm = \"HS256\"\nhs_secret = \"0123456789\"");
    assert!(short.contains("10 bytes") && short.contains("32"), "{short}");
    assert!(!short.contains("0123456789"), "secret leaked: {short}");
    let placeholder = err("algorithm = \"HS256\"\nhs_secret = \"your_super_secure_secret_key_1234567890\"");
    assert!(placeholder.contains("placeholder"), "{placeholder}");
    assert!(
        err("algorithm = \"HS256\"\nhs_secret = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"").contains("placeholder")
    );
    assert!(err("algorithm = \"HS512\"\nhs_secret = \"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"").contains("64"));
    assert!(err("algorithm = \"HS256\"").contains("JWTAUTH_HS_SECRET"));
    assert!(err("hs_secret = \"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"").contains("algorithm"));
    assert!(Config::from_toml("algorithm = \"HS256\"\nhs_secret = \"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"").is_ok());
}

#[test]
fn secret_never_shows_in_debug() {
    let c = Config::from_toml("algorithm = \"HS256\"\nhs_secret = \"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\"").unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("q8Xk2mZr7"), "{dbg}");
    assert!(dbg.contains("redacted"));
}

#[test]
fn unsupported_algorithm_lists_the_supported_ones() {
    let e = err("algorithm = \"none\"");
    assert!(
        e.contains("'none'") && e.contains("ES256") && e.contains("EdDSA"),
        "{e}"
    );
}

#[test]
fn relative_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwtauth.toml");
    std::fs::write(
        &file,
        "[log]\ndir = \"mylogs\"\n[store]\nurl = \"sqlite://data/x.db\"\n",
    )
    .unwrap();
    let c = Config::load(Some(&file)).unwrap();
    assert_eq!(c.log.dir, dir.path().join("mylogs"));
    assert!(c.log.dir_configured);
    assert_eq!(
        c.store.url,
        format!("sqlite://{}", dir.path().join("data/x.db").display())
    );
}

#[test]
fn explicit_missing_file_is_an_error() {
    let e = Config::load(Some(Path::new("/nonexistent/jwtauth.toml"))).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/jwtauth.toml"));
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own signature
fn environment_overrides_file_with_double_underscore_nesting() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("jwtauth.toml", "issuer = \"from-file\"\naccess_ttl = \"10m\"")?;
        jail.set_env("JWTAUTH_ISSUER", "from-env");
        jail.set_env("JWTAUTH_LOG__RETENTION_DAYS", "3");
        jail.set_env("JWTAUTH_MASTER_KEY", "not-a-config-key");
        jail.set_env("JWTAUTH_REQUIRE_PG", "1");
        jail.set_env("JWTAUTH_REQUIRE_FAULTS", "1");
        jail.set_env("JWTAUTH_FAULTS_KILLS", "20");
        jail.set_env("JWTAUTH_TEST_PG_URL", "postgres://postgres@127.0.0.1/test");
        jail.set_env("JWTAUTH_SERVER__TRUSTED_PROXIES", "[127.0.0.1, 10.0.0.0/8]");
        jail.set_env("JWTAUTH_LOGIN__USER_PERIOD", "1m");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.issuer, "from-env");
        assert_eq!(c.access_ttl, Duration::from_secs(600));
        assert_eq!(c.log.retention_days, 3);
        assert_eq!(c.server.trusted_proxies.len(), 2);
        assert_eq!(c.login.per_user_period, Duration::from_secs(60));
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own signature
fn unknown_environment_key_is_an_error_naming_the_variable() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("JWTAUTH_ISUER", "typo");
        let e = Config::load(None).expect_err("a misspelt variable must not be ignored");
        assert!(e.to_string().contains("isuer"), "{e}");
        Ok(())
    });
}

#[test]
fn store_url_must_be_sqlite_or_postgres_and_password_is_masked() {
    let e = err("[store]\nurl = \"mysql://u:hunter2@h/db\"");
    assert!(e.contains("store.url") && !e.contains("hunter2"), "{e}");
    assert!(Config::from_toml("[store]\nurl = \"postgres://postgres@127.0.0.1/test\"").is_ok());
}

#[test]
fn key_and_secret_files_over_64_kib_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, "k".repeat(64 * 1024 + 1)).unwrap();
    let e = err(&format!(
        "algorithm = \"HS256\"\nhs_secret_file = \"{}\"",
        big.display()
    ));
    assert!(e.contains("hs_secret_file") && e.contains("64 KiB"), "{e}");
    // A device that never ends is refused as quickly, not read into memory.
    if std::path::Path::new("/dev/zero").exists() {
        let e = err("algorithm = \"HS256\"\nhs_secret_file = \"/dev/zero\"");
        assert!(e.contains("64 KiB"), "{e}");
    }
    let c = Config::from_toml(&format!("master_key_file = \"{}\"", big.display())).unwrap();
    let e = c.master_key().err().unwrap().to_string();
    assert!(e.contains("master_key_file") && e.contains("64 KiB"), "{e}");
    let c = Config::from_toml(&format!("key_file = \"{}\"", big.display())).unwrap();
    let e = crate::runtime::Tokens::new(c).err().unwrap().to_string();
    assert!(e.contains("key_file") && e.contains("64 KiB"), "{e}");
}
