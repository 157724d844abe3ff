//! `include/jwtauth.h` is generated from the sources by cbindgen and committed;
//! this test fails when it is stale, and rewrites it with `JWTAUTH_BLESS=1`.

// Test helpers outside #[test] functions: failing loudly is their job.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::path::Path;

#[test]
fn committed_header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/jwtauth.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read ffi/src");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");

    if std::env::var_os("JWTAUTH_BLESS").is_some() {
        std::fs::write(&header, &generated).expect("include/jwtauth.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        committed == generated,
        "include/jwtauth.h is stale (or missing): the C API in ffi/src changed.\n\
         Regenerate it with:  JWTAUTH_BLESS=1 cargo test -p jwtauth-ffi --test header\n\
         and commit the result."
    );
}
