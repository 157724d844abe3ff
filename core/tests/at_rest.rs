//! What the store and the failure log leave on disk: owner-only files, signing
//! keys sealed by default, retired keys wiped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use jwtauth_core::{Config, FixedClock, JwtAuth, OpenOptions};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sqlite_config(dir: &Path, extra: &str) -> Config {
    let url = format!("sqlite://{}", dir.join("state/jwtauth.db").display());
    common::store::config(&url, extra)
}

fn open(config: Config) -> JwtAuth {
    let clock = Arc::new(FixedClock::new(common::store::T0));
    JwtAuth::open_with(config, OpenOptions::new().clock(clock)).unwrap()
}

/// (kid, state, sealed, material is empty) of every stored key.
fn stored_keys(auth: &JwtAuth) -> Vec<(String, String, i64, bool)> {
    auth.store()
        .write(|tx| {
            tx.query(
                "SELECT kid, state, sealed, material FROM jwtauth_keys ORDER BY created_at, kid",
                &[],
            )
        })
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.i64(2).unwrap(),
                r.text(3).unwrap().is_empty(),
            )
        })
        .collect()
}

#[test]
fn a_new_sqlite_store_its_side_files_and_the_log_folder_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(sqlite_config(dir.path(), ""));
    // A write, so the -wal and -shm files exist while the store is open.
    auth.sessions().start("alice", &[], &Default::default()).unwrap();
    let db = dir.path().join("state/jwtauth.db");
    for side in ["", "-wal", "-shm"] {
        let p = Path::new(&format!("{}{side}", db.display())).to_path_buf();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    assert_eq!(mode(&dir.path().join("state")), 0o700);

    let log = jwtauth_core::audit::LogConfig {
        dir: dir.path().join("logs/failures"),
        dir_configured: true,
        retention_days: 1,
        file_prefix: "failures".into(),
        limits: jwtauth_core::audit::FloodLimits::default(),
    };
    let (_layer, _guard) = jwtauth_core::audit::file_layer::<tracing_subscriber::Registry>(&log).unwrap();
    assert_eq!(mode(&log.dir), 0o700);
    assert_eq!(mode(&dir.path().join("logs")), 0o700);
}

#[test]
fn keys_are_sealed_by_default_under_a_master_key_generated_beside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let auth = open(sqlite_config(dir.path(), ""));
    let key_file = dir.path().join("state/jwtauth.db.master-key");
    assert_eq!(mode(&key_file), 0o600);
    assert!(auth.keys().sealed());
    let keys = stored_keys(&auth);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].2, 1, "the generated key is stored sealed: {keys:?}");
    let token = auth.issuer().issue("alice", &[], &Default::default()).unwrap().token;
    let first = std::fs::read(&key_file).unwrap();
    drop(auth);
    // The next start reads the same file, opens the sealed key and verifies.
    let again = open(sqlite_config(dir.path(), ""));
    assert_eq!(std::fs::read(&key_file).unwrap(), first);
    assert_eq!(again.verifier().validate(&token).unwrap().subject(), "alice");
}

#[test]
fn a_config_file_puts_the_generated_master_key_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("conf/jwtauth.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "[store]\nurl = \"sqlite://../data/jwtauth.db\"\n").unwrap();
    let config = Config::load(Some(&cfg)).unwrap();
    assert_eq!(
        config.generated_master_key_file().unwrap(),
        dir.path().join("conf/jwtauth.master-key")
    );
    drop(open(config));
    assert_eq!(mode(&dir.path().join("conf/jwtauth.master-key")), 0o600);
    assert!(!dir.path().join("data/jwtauth.db.master-key").exists());
}

#[test]
fn postgres_refuses_unsealed_keys_unless_allowed_in_so_many_words() {
    let Some(pg) = common::store::postgres() else { return };
    let config = common::store::config(&pg.url, "allow_unsealed_keys = false");
    assert!(config.generated_master_key_file().is_none());
    let clock = Arc::new(FixedClock::new(common::store::T0));
    let e = JwtAuth::open_with(config, OpenOptions::new().clock(clock.clone())).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("allow_unsealed_keys") && text.contains("unencrypted") && text.contains("master_key_file"),
        "{text}"
    );
    // Spelled out, it opens, with the keys in the clear.
    let auth = JwtAuth::open_with(
        common::store::config(&pg.url, "allow_unsealed_keys = true"),
        OpenOptions::new().clock(clock),
    )
    .unwrap();
    assert!(!auth.keys().sealed());
    assert_eq!(stored_keys(&auth)[0].2, 0);
}

#[test]
fn keys_seal_seals_what_was_stored_unsealed_and_retired_keys_are_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let unsealed = open(sqlite_config(dir.path(), "allow_unsealed_keys = true"));
    assert!(!dir.path().join("state/jwtauth.db.master-key").exists());
    let old = unsealed.keys().list().unwrap()[0].kid.clone();
    unsealed.keys().rotate_now(None).unwrap();
    let token = unsealed
        .issuer()
        .issue("alice", &[], &Default::default())
        .unwrap()
        .token;
    assert_eq!(unsealed.keys().unsealed_count().unwrap(), 2);
    assert!(unsealed.keys().seal_all().is_err(), "no master key to seal with");
    unsealed.keys().retire(old.as_str()).unwrap();
    let keys = stored_keys(&unsealed);
    let retired = keys.iter().find(|k| k.0 == old.as_str()).unwrap();
    assert_eq!((retired.1.as_str(), retired.3), ("retired", true), "{keys:?}");
    assert!(keys.iter().all(|k| k.0 == old.as_str() || !k.3), "{keys:?}");
    drop(unsealed);

    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
    let extra = format!("master_key_file = \"{}\"", key_file.display());
    let auth = open(sqlite_config(dir.path(), &extra));
    assert_eq!(auth.keys().unsealed_count().unwrap(), 1);
    assert_eq!(auth.keys().seal_all().unwrap(), 1);
    assert_eq!(auth.keys().unsealed_count().unwrap(), 0);
    assert!(stored_keys(&auth).iter().all(|k| k.1 == "retired" || k.2 == 1));
    drop(auth);
    let sealed = open(sqlite_config(dir.path(), &extra));
    assert_eq!(sealed.verifier().validate(&token).unwrap().subject(), "alice");
}

#[test]
fn a_key_generated_beside_the_store_is_found_when_a_config_file_is_added_later() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[store]\nurl = \"sqlite://{}\"\n",
        dir.path().join("jwtauth.db").display()
    );
    // First opened without a configuration file: the key goes beside the store.
    let first = open(Config::from_toml(&toml).unwrap());
    let token = first.issuer().issue("alice", &[], &Default::default()).unwrap().token;
    drop(first);
    assert!(dir.path().join("jwtauth.db.master-key").exists());
    // Then through a configuration file in the same folder: that key is used, no other made.
    let cfg = dir.path().join("jwtauth.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let again = open(Config::load(Some(&cfg)).unwrap());
    assert!(!dir.path().join("jwtauth.master-key").exists());
    assert_eq!(again.verifier().validate(&token).unwrap().subject(), "alice");
}
