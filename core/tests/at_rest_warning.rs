//! The warning about signing keys stored in the clear: once per store and
//! process, from the service and key administration, never from other admin tools.
//! A test binary of its own: `tracing`'s per-callsite interest is process-wide, so
//! a capture on one thread is only reliable when no other test races it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;

use jwtauth_core::{Config, JwtAuth, OpenOptions};

/// A fresh SQLite store in `dir`, keys in the clear.
fn config(dir: &Path) -> Config {
    let url = format!("sqlite://{}", dir.join("jwtauth.db").display());
    common::store::config(&url, "allow_unsealed_keys = true")
}

fn open(config: Config) -> JwtAuth {
    JwtAuth::open_with(config, OpenOptions::new()).unwrap()
}

/// Warnings emitted while `f` runs on this thread, as text.
fn warnings(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn keys_stored_in_the_clear_are_warned_about_once_per_store_and_never_by_admin_tools() {
    let dir = tempfile::tempdir().unwrap();
    let first = warnings(|| drop(open(config(dir.path()))));
    assert_eq!(first.matches("UNENCRYPTED").count(), 1, "{first}");
    // The same store opened again in this process (a host with two handles): quiet.
    let again = warnings(|| drop(open(config(dir.path()))));
    assert!(!again.contains("UNENCRYPTED"), "{again}");
    // Another store is another warning.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = warnings(|| drop(open(config(other.path()))));
    assert_eq!(elsewhere.matches("UNENCRYPTED").count(), 1, "{elsewhere}");
    // Administration tools open without it; the service still hears it after.
    let admin = tempfile::tempdir().unwrap();
    let cfg = || config(admin.path());
    let made = warnings(|| drop(JwtAuth::open_with(cfg(), OpenOptions::new().warn_at_rest(false)).unwrap()));
    let tool = warnings(|| drop(JwtAuth::open_with(cfg(), OpenOptions::admin()).unwrap()));
    assert!(
        !made.contains("UNENCRYPTED") && !tool.contains("UNENCRYPTED"),
        "{made}{tool}"
    );
    let service = warnings(|| drop(open(cfg())));
    assert_eq!(service.matches("UNENCRYPTED").count(), 1, "{service}");
}
