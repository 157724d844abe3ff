//! Links `libjwtauth.so` as a versioned shared library: SONAME `libjwtauth.so.<major>`
//! (two majors can be installed side by side) and a version script that exports
//! the C API (`jwtauth_*`) only. The static library and the rlib are unaffected.

fn main() {
    println!("cargo:rerun-if-changed=jwtauth.map");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libjwtauth.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/jwtauth.map");
}
