//! Compiles the C tests in `tests/c/` with the system C compiler against
//! `include/jwtauth.h`, links them against the shared and the static library that
//! cargo built beside this test, and runs them. With `JWTAUTH_VALGRIND=1` (set by
//! `.ci/run`) the shared build also runs under valgrind memcheck, which must report
//! no error and no leak; with `JWTAUTH_ASAN=1` (set by `scripts/ci/c-asan.sh`) the C
//! tests are also compiled with AddressSanitizer and run with LeakSanitizer on.

// Test helpers outside #[test] functions: failing loudly is their job.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// System libraries the static library needs: the `Libs.private` line of
/// `jwtauth.pc.in`, so what `pkg-config --static` gives is what is tested.
fn native_static_libs() -> Vec<String> {
    let pc = std::fs::read_to_string(crate_dir().join("jwtauth.pc.in")).expect("ffi/jwtauth.pc.in");
    let line = pc
        .lines()
        .find_map(|l| l.strip_prefix("Libs.private:"))
        .expect("jwtauth.pc.in has Libs.private");
    line.split_whitespace().map(str::to_owned).collect()
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`: `cargo test` builds `libjwtauth.so` and `libjwtauth.a`
/// there, beside this test, fresh from the current sources (it does not copy them
/// up to `target/<profile>`, where they may be stale).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("target/<profile>/deps/<test>");
    for lib in ["libjwtauth.so", "libjwtauth.a"] {
        assert!(dir.join(lib).is_file(), "{} was not built", dir.join(lib).display());
    }
    dir.to_path_buf()
}

/// A directory where `libjwtauth.so` and its SONAME `libjwtauth.so.<major>` are
/// symlinks to the library cargo built, as the install script lays them out: programs
/// link against the first and load the second.
fn soname_dir(lib: &Path) -> PathBuf {
    let dir = out_dir().join("lib");
    std::fs::create_dir_all(&dir).expect("create the library dir");
    let target = lib.join("libjwtauth.so");
    for name in [
        "libjwtauth.so".to_owned(),
        format!("libjwtauth.so.{}", env!("CARGO_PKG_VERSION_MAJOR")),
    ] {
        let link = dir.join(name);
        // Tests run in parallel: an existing link to the same file is fine.
        if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
            let tmp = dir.join(format!(".tmp-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&target, &tmp).expect("symlink the library");
            std::fs::rename(&tmp, &link).expect("place the symlink");
        }
    }
    dir
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-tests")
}

enum Link {
    Shared,
    Static,
}

/// Compiles `tests/c/<name>.c` (warnings are errors) into `<name>-<link><tag>` and
/// returns the executable (tests running in parallel use distinct tags).
fn compile(name: &str, link: Link, tag: &str) -> PathBuf {
    compile_with(name, link, tag, &[])
}

/// The C compiler's AddressSanitizer flags (gcc's libasan, with LeakSanitizer).
/// The library itself is not instrumented: Rust allocates with the system
/// malloc, which the sanitizer's runtime, loaded first, replaces for the whole
/// process, so a block the library hands out and C misuses, or that nobody
/// frees, is reported too.
const ASAN_FLAGS: &[&str] = &["-fsanitize=address", "-fno-omit-frame-pointer"];

/// As [`compile`], with `flags` added to the compiler's.
fn compile_with(name: &str, link: Link, tag: &str, flags: &[&str]) -> PathBuf {
    let lib = lib_dir();
    let out = out_dir();
    std::fs::create_dir_all(&out).expect("create the C test output dir");
    let suffix = match link {
        Link::Shared => "shared",
        Link::Static => "static",
    };
    let exe = out.join(format!("{name}-{suffix}{tag}"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c11",
        "-D_POSIX_C_SOURCE=200809L",
        "-g",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-pthread",
    ])
    .args(flags)
    .arg("-I")
    .arg(crate_dir().join("../include"))
    .arg(crate_dir().join(format!("tests/c/{name}.c")))
    .arg("-o")
    .arg(&exe);
    match link {
        Link::Shared => {
            let lib = soname_dir(&lib);
            cmd.arg("-L")
                .arg(&lib)
                .arg("-ljwtauth")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
            cmd.arg("-lpthread");
        }
        Link::Static => {
            cmd.arg(lib.join("libjwtauth.a")).args(native_static_libs());
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        output.status.success(),
        "compiling {name}.c failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Loads the library this test was built with, never a stale copy cargo put on the
/// path; and the tests choose their configuration: no JWTAUTH_* variable may override it.
fn isolate(cmd: &mut Command) {
    cmd.env_remove("LD_LIBRARY_PATH");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("JWTAUTH_") {
            cmd.env_remove(k);
        }
    }
}

/// Whether `.ci/run` asked for the valgrind runs (valgrind must be installed).
fn valgrind_asked() -> bool {
    std::env::var_os("JWTAUTH_VALGRIND").is_some_and(|v| v == "1")
}

/// Whether `scripts/ci/c-asan.sh` asked for the AddressSanitizer runs.
fn asan_asked() -> bool {
    std::env::var_os("JWTAUTH_ASAN").is_some_and(|v| v == "1")
}

/// `exe` compiled with [`ASAN_FLAGS`], run so that any memory error or leak, in it
/// or in a process it forks, makes that process print a report and exit 1.
/// `suppressions`: a LeakSanitizer file of `tests/`, each entry explained there.
fn asan(exe: &Path, suppressions: Option<&str>) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env(
        "ASAN_OPTIONS",
        // Full stacks (the library has no frame pointers), so suppressions match.
        "detect_leaks=1:halt_on_error=1:exitcode=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:fast_unwind_on_malloc=0",
    );
    let mut lsan = String::from("exitcode=1:report_objects=1:use_unaligned=1");
    if let Some(file) = suppressions {
        lsan.push_str(&format!(
            ":suppressions={}",
            crate_dir().join("tests").join(file).display()
        ));
    }
    cmd.env("LSAN_OPTIONS", lsan);
    cmd
}

/// `exe` under valgrind memcheck with `tests/valgrind.supp` and the `extra`
/// suppression files of `tests/`: any error or leak, in it or in a process it
/// forks, makes that process exit 1. Stacks are deep enough to reach `main`.
fn memcheck(exe: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--tool=memcheck",
        "--error-exitcode=1",
        "--leak-check=full",
        "--num-callers=64",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite,indirect,possible",
    ]);
    for supp in std::iter::once("valgrind.supp").chain(extra.iter().copied()) {
        cmd.arg(format!(
            "--suppressions={}",
            crate_dir().join("tests").join(supp).display()
        ));
    }
    cmd.arg(exe);
    cmd
}

/// Every line of the failure log files in `<work>/logs`, which `what` must have written.
fn failure_log(work: &Path, what: &str) -> String {
    let logs = work.join("logs");
    std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("{what} wrote no failure log in {}: {e}", logs.display()))
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// Runs a C test program (`args` after the data file and work dir); it must exit
/// 0 and report no failed check. Returns its standard output.
fn run(mut cmd: Command, what: &str, args: &[&str]) -> String {
    let work = tempfile::tempdir().expect("temp dir");
    cmd.arg(crate_dir().join("tests/data/c_api_tokens.txt"))
        .arg(work.path())
        .args(args);
    isolate(&mut cmd);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(", 0 failed"),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // The library installed the failure log from the handle's config and flushed it.
    let text = failure_log(work.path(), what);
    for expected in [
        r#""reason":"expired""#,
        r#""reason":"insufficient_role""#,
        r#""client":"203.0.113.7:5000""#,
        r#""reason":"missing_token""#,
    ] {
        assert!(
            text.contains(expected),
            "{what}: the failure log lacks {expected}:\n{text}"
        );
    }
    stdout
}

#[test]
fn c_api_tests_pass_linked_against_the_shared_library() {
    let exe = compile("test_api", Link::Shared, "");
    let out = run(Command::new(&exe), "test_api (shared)", &[]);
    let passed: u32 = out
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("the C test prints its count");
    assert!(passed > 200, "only {passed} checks ran:\n{out}");
}

#[test]
fn c_api_tests_pass_linked_against_the_static_library() {
    let exe = compile("test_api", Link::Static, "");
    run(Command::new(&exe), "test_api (static)", &[]);
}

#[test]
fn c_api_tests_are_clean_under_valgrind_when_asked() {
    if !valgrind_asked() {
        return;
    }
    let exe = compile("test_api", Link::Shared, "-valgrind");
    // Fewer validations per thread (valgrind is ~50x slower); the 8 threads still race.
    let out = run(memcheck(&exe, &[]), "test_api under valgrind", &["50"]);
    assert!(out.contains(", 0 failed"));
}

#[test]
fn shared_library_exports_only_the_c_api() {
    let so = lib_dir().join("libjwtauth.so");
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils) runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|name| !name.starts_with('_') || name.starts_with("__rust"))
        .collect();
    let header = std::fs::read_to_string(crate_dir().join("../include/jwtauth.h")).expect("header");
    for name in &exported {
        assert!(name.starts_with("jwtauth_"), "unexpected exported symbol {name}");
        let declared = header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}("));
        assert!(declared, "{name} is exported but not in the header");
    }
    for name in [
        "jwtauth_open",
        "jwtauth_validate",
        "jwtauth_refresh",
        "jwtauth_rotate_key",
        "jwtauth_rotate_key_now",
        "jwtauth_last_error",
    ] {
        assert!(exported.contains(&name), "{name} is not exported");
    }
}

/// Runs `test_errors` in an empty working directory with no `log.dir`: it must pass,
/// print nothing to stderr and leave no file but its store.
fn run_errors_test(exe: &Path, what: &str, iterations: &str) {
    run_errors_test_with(Command::new(exe), what, iterations);
}

/// [`run_errors_test`] with the command given (e.g. with a sanitizer's settings).
fn run_errors_test_with(mut cmd: Command, what: &str, iterations: &str) {
    let work = tempfile::tempdir().expect("temp dir");
    cmd.arg(work.path()).arg(iterations).current_dir(work.path());
    cmd.env_remove("RUST_LOG");
    isolate(&mut cmd);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(", 0 failed") && stdout.contains(": 0 with details not their own"),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stderr.is_empty(), "{what}: the library wrote to stderr:\n{stderr}");
    let mut left: Vec<String> = std::fs::read_dir(work.path())
        .expect("work dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("errors.db"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{what} left files in its working directory: {left:?}");
}

#[test]
fn error_details_of_8_threads_x_10000_failing_calls_belong_to_their_call_shared() {
    let exe = compile("test_errors", Link::Shared, "");
    run_errors_test(&exe, "test_errors (shared)", "10000");
}

#[test]
fn error_details_events_and_guest_manners_hold_linked_statically() {
    let exe = compile("test_errors", Link::Static, "");
    run_errors_test(&exe, "test_errors (static)", "2000");
}

#[test]
fn shared_library_has_the_soname_of_its_major_version() {
    let so = lib_dir().join("libjwtauth.so");
    let output = Command::new("readelf")
        .arg("-d")
        .arg(&so)
        .output()
        .expect("readelf (binutils) runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    assert!(
        text.contains(&format!("Library soname: [libjwtauth.so.{major}]")),
        "no SONAME libjwtauth.so.{major} in:\n{text}"
    );
    // A program linked against it records the SONAME, not the bare name.
    let exe = compile("test_errors", Link::Shared, "-soname");
    let output = Command::new("readelf")
        .arg("-d")
        .arg(&exe)
        .output()
        .expect("readelf runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("Shared library: [libjwtauth.so.{major}]")),
        "the program does not need libjwtauth.so.{major}:\n{text}"
    );
}

/// Runs a handle lifecycle program (`test_close`, `test_fork`) with a fresh work
/// dir and `args`: it, and every process it forks, must pass. Returns the work dir
/// (for its failure log) and the standard output.
fn run_lifecycle(mut cmd: Command, what: &str, args: &[&str]) -> (tempfile::TempDir, String) {
    let work = tempfile::tempdir().expect("temp dir");
    cmd.arg(work.path()).args(args);
    isolate(&mut cmd);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let verdicts: Vec<&str> = stdout.lines().filter(|l| l.contains(" passed, ")).collect();
    assert!(
        output.status.success() && !verdicts.is_empty() && verdicts.iter().all(|l| l.ends_with(", 0 failed")),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    (work, stdout)
}

/// The fork test's own checks, then what only the runner sees: every process
/// reported, and the child's and grandchild's failures reached the failure log
/// (the writer thread of the parent does not exist in a child).
fn check_fork(cmd: Command, what: &str) {
    let (work, stdout) = run_lifecycle(cmd, what, &[]);
    for process in ["parent", "child", "grandchild-use", "grandchild-close"] {
        assert!(
            stdout.contains(&format!("c_fork {process}: ")),
            "{what}: no verdict from the {process}:\n{stdout}"
        );
    }
    let text = failure_log(work.path(), what);
    for request in ["fork-parent", "fork-child", "fork-grandchild"] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!(r#""request_id":"{request}""#)) && l.contains(r#""reason":"revoked""#)),
            "{what}: the failure log lacks the revoked token of {request}:\n{text}"
        );
    }
}

#[test]
fn a_handle_used_across_fork_sees_revocations_and_new_keys_in_the_child_shared() {
    let exe = compile("test_fork", Link::Shared, "");
    check_fork(Command::new(exe), "test_fork (shared)");
}

#[test]
fn a_handle_used_across_fork_sees_revocations_and_new_keys_in_the_child_static() {
    let exe = compile("test_fork", Link::Static, "");
    check_fork(Command::new(exe), "test_fork (static)");
}

#[test]
fn a_handle_used_across_fork_is_clean_under_valgrind_when_asked() {
    if !valgrind_asked() {
        return;
    }
    let exe = compile("test_fork", Link::Shared, "-valgrind");
    check_fork(memcheck(&exe, &["valgrind-fork.supp"]), "test_fork under valgrind");
}

#[test]
fn closing_a_handle_in_use_then_using_and_closing_it_again_is_defined_shared() {
    let exe = compile("test_close", Link::Shared, "");
    run_lifecycle(Command::new(exe), "test_close (shared)", &[]);
}

#[test]
fn closing_a_handle_in_use_then_using_and_closing_it_again_is_defined_static() {
    let exe = compile("test_close", Link::Static, "");
    run_lifecycle(Command::new(exe), "test_close (static)", &[]);
}

#[test]
fn closing_a_handle_in_use_reads_no_freed_memory_under_valgrind_when_asked() {
    if !valgrind_asked() {
        return;
    }
    let exe = compile("test_close", Link::Shared, "-valgrind");
    run_lifecycle(memcheck(&exe, &[]), "test_close under valgrind", &["100000"]);
}

#[test]
fn c_api_tests_are_clean_under_asan_when_asked() {
    if !asan_asked() {
        return;
    }
    let exe = compile_with("test_api", Link::Shared, "-asan", ASAN_FLAGS);
    let out = run(asan(&exe, None), "test_api under AddressSanitizer", &[]);
    assert!(out.contains(", 0 failed"));
}

#[test]
fn error_details_are_clean_under_asan_when_asked() {
    if !asan_asked() {
        return;
    }
    let exe = compile_with("test_errors", Link::Shared, "-asan", ASAN_FLAGS);
    run_errors_test_with(asan(&exe, None), "test_errors under AddressSanitizer", "2000");
}

#[test]
fn closing_a_handle_in_use_is_clean_under_asan_when_asked() {
    if !asan_asked() {
        return;
    }
    let exe = compile_with("test_close", Link::Shared, "-asan", ASAN_FLAGS);
    run_lifecycle(asan(&exe, None), "test_close under AddressSanitizer", &["100000"]);
}

#[test]
fn a_handle_used_across_fork_is_clean_under_asan_when_asked() {
    if !asan_asked() {
        return;
    }
    let exe = compile_with("test_fork", Link::Shared, "-asan", ASAN_FLAGS);
    check_fork(asan(&exe, Some("lsan-fork.supp")), "test_fork under AddressSanitizer");
}
