//! The README's C blocks, compiled as written (warnings are errors) against
//! `include/jwtauth.h`, linked against the library cargo built beside this test, and
//! run: with no header, a bare token, and a valid `Bearer` token. Under
//! `JWTAUTH_VALGRIND=1` each run is also checked by valgrind memcheck (no error on
//! any path, which is what an uninitialised read on the failure path would break).

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `target/<profile>/deps`, where `cargo test` builds `libjwtauth.so` fresh.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("libjwtauth.so").is_file(),
        "libjwtauth.so was not built in {}",
        dir.display()
    );
    dir
}

/// The text of every ```c block of the README.
fn c_blocks() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line) {
            (None, "```c") => cur = Some(String::new()),
            (Some(_), "```") => out.push(cur.take().unwrap()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn the_readme_c_program_compiles_and_answers_like_the_server() {
    let blocks = c_blocks();
    assert!(!blocks.is_empty(), "the README has a C block");
    let work = tempfile::tempdir().unwrap();
    // Laid out as the install script does: programs link against libjwtauth.so and
    // load its SONAME, libjwtauth.so.<major>.
    let built = lib_dir().join("libjwtauth.so");
    let lib = work.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for name in [
        "libjwtauth.so".to_owned(),
        format!("libjwtauth.so.{}", env!("CARGO_PKG_VERSION_MAJOR")),
    ] {
        std::os::unix::fs::symlink(&built, lib.join(name)).unwrap();
    }
    let store = format!("sqlite://{}", work.path().join("jwtauth.db").display());
    let logs = work.path().join("logs");

    // A token from the same store, as the server would have issued it.
    let config =
        jwtauth_core::Config::from_toml(&format!("store.url = \"{store}\"\nlog.dir = \"{}\"\n", logs.display()))
            .unwrap();
    let auth = jwtauth_core::JwtAuth::open(config).unwrap();
    let token = auth.issuer().issue("alice", &[], &Default::default()).unwrap().token;
    drop(auth);

    let valgrind = std::env::var("JWTAUTH_VALGRIND").is_ok_and(|v| v == "1");
    for (i, source) in blocks.iter().enumerate() {
        let src = work.path().join(format!("readme-{i}.c"));
        let exe = work.path().join(format!("readme-{i}"));
        std::fs::write(&src, source).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(root().join("include"))
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(&lib)
            .arg("-ljwtauth")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
        assert!(
            out.status.success(),
            "README C block {i} does not compile:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bearer = format!("Bearer {token}");
        let cases: [(&[&str], i32, &str); 3] = [
            (&[], 2, "401 missing_token"),
            (&[token.as_str()], 2, "401 bad_scheme"),
            (&[bearer.as_str()], 0, "200 hello alice"),
        ];
        for (args, code, says) in cases {
            let mut cmd = if valgrind {
                let mut c = Command::new("valgrind");
                c.args(["--error-exitcode=99", "--errors-for-leak-kinds=none", "-q"])
                    .arg(&exe);
                c
            } else {
                Command::new(&exe)
            };
            cmd.args(args).env_remove("LD_LIBRARY_PATH");
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("JWTAUTH_") {
                    cmd.env_remove(k);
                }
            }
            let out = cmd
                .env("JWTAUTH_STORE__URL", &store)
                .env("JWTAUTH_LOG__DIR", &logs)
                .current_dir(work.path())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{args:?}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.starts_with(says), "{args:?}: {stdout}");
        }
    }
}
