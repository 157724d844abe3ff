//! A trusted external issuer's tokens validated from C: a key-set server on
//! loopback, a C program compiled with the system compiler against the header and
//! linked against the shared library, and no new function needed.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use jwtauth_core::{Config, Tokens};

/// Serves `body` as the key set at any path, until the process ends.
fn serve_jwks(listener: TcpListener, body: String) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
}

#[test]
fn a_trusted_issuers_token_is_accepted_from_c() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let idp =
        Tokens::new(Config::from_toml(&format!("issuer = \"{url}\"\naudience = \"orders-api\"")).unwrap()).unwrap();
    serve_jwks(listener, idp.verifier().jwks().to_string());
    let good = idp
        .issuer()
        .issue("ext-user", &["Buyer", "Reader"], &Default::default())
        .unwrap();
    let hs = Tokens::new(
        Config::from_toml(&format!(
            "issuer = \"{url}\"\naudience = \"orders-api\"\nalgorithm = \"HS256\"\nhs_secret = \"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1\""
        ))
        .unwrap(),
    )
    .unwrap()
    .issuer()
    .issue("ext-user", &[], &Default::default())
    .unwrap();
    let stranger =
        Tokens::new(Config::from_toml("issuer = \"https://stranger.example\"\naudience = \"orders-api\"").unwrap())
            .unwrap()
            .issuer()
            .issue("ext-user", &[], &Default::default())
            .unwrap();

    let work = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "issuer": "https://api.example.com",
        "audience": "api",
        "store": { "url": format!("sqlite://{}", work.path().join("jwtauth.db").display()) },
        "log": { "dir": work.path().join("logs") },
        "trusted_issuers": [{ "issuer": url, "audience": "orders-api", "jwks_url": format!("{url}/jwks.json") }],
    });
    let config_file = work.path().join("config.json");
    std::fs::write(&config_file, config.to_string()).unwrap();

    let exe = compile(work.path());
    let mut cmd = Command::new(&exe);
    cmd.arg(&config_file)
        .args([&good.token, &hs.token, &stranger.token, &url])
        .env_remove("LD_LIBRARY_PATH");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JWTAUTH_") {
            cmd.env_remove(k);
        }
    }
    let output = cmd.output().expect("run the C test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles `tests/c/test_trusted.c` (warnings are errors) against the shared library.
fn compile(out: &Path) -> std::path::PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe_path = std::env::current_exe().unwrap();
    let built = exe_path.parent().unwrap().join("libjwtauth.so");
    assert!(built.is_file(), "libjwtauth.so was not built");
    // Laid out as the install script does: link against libjwtauth.so, load its
    // SONAME libjwtauth.so.<major>.
    let lib = &out.join("lib");
    std::fs::create_dir_all(lib).unwrap();
    for name in [
        "libjwtauth.so".to_owned(),
        format!("libjwtauth.so.{}", env!("CARGO_PKG_VERSION_MAJOR")),
    ] {
        std::os::unix::fs::symlink(&built, lib.join(name)).unwrap();
    }
    let exe = out.join("test_trusted");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&cc)
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ])
        .arg("-I")
        .arg(crate_dir.join("../include"))
        .arg(crate_dir.join("tests/c/test_trusted.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib)
        .arg("-ljwtauth")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    exe
}
