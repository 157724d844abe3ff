//! A read-only or full disk under the SQLite file or the failure log: clear
//! errors, and token validation keeps working.

use std::time::Duration;

use crate::harness::{Env, Tmpfs, client, is_root, login, me, metric, refresh, signed_in, skip, within};

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("jwtauth.db").display())
}

#[test]
fn a_read_only_sqlite_store_is_refused_at_start_with_a_clear_error_and_no_panic() {
    let _one_at_a_time = crate::harness::serial();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let env = Env::new(dir.path(), &sqlite_url(&store), &[]);
    // Root writes through file permissions: a read-only mount is what stops it.
    let mount = if is_root() {
        Some(Tmpfs::mount(&store, "4m").unwrap())
    } else {
        std::fs::create_dir_all(&store).unwrap();
        None
    };
    env.prepare();
    match &mount {
        Some(m) => m.read_only(),
        None => {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &std::path::Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
            mode(&store.join("jwtauth.db"), 0o400);
            mode(&store, 0o500);
        }
    }
    let Err((code, err)) = env.start() else {
        panic!("the server started on a read-only store");
    };
    eprintln!("FAULTS read-only SQLite store: exit {code}: {}", err.trim());
    assert_ne!(code, 0);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("read-only") && err.contains("jwtauth.db"), "{err}");
}

#[test]
fn a_full_log_disk_keeps_serving_says_so_once_and_counts_the_lost_lines() {
    let _one_at_a_time = crate::harness::serial();
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), &sqlite_url(dir.path()), &[]);
    env.prepare();
    let logs = match Tmpfs::mount(&dir.path().join("logs"), "256k") {
        Ok(m) => m,
        Err(why) => return skip("the full-log-disk test", &why),
    };
    logs.fill();
    let server = env.serve();
    let c = client();
    let (access, _) = signed_in(&c, &server.base);
    let fail = |n: usize| {
        for _ in 0..n {
            let r = c
                .get(server.url("/api/products"))
                .bearer_auth("not.a.token")
                .send()
                .unwrap();
            assert_eq!(r.status(), 401);
        }
    };
    let lost = || {
        let page = c.get(server.url("/metrics")).send().unwrap().text().unwrap();
        metric(&page, "jwtauth_failure_log_lost_lines_total")
    };
    fail(3);
    let first = within(Duration::from_secs(10), || Some(lost()).filter(|n| *n > 0)).unwrap_or(0);
    fail(3);
    let second = within(Duration::from_secs(10), || Some(lost()).filter(|n| *n > first)).unwrap_or(first);
    let (status, _) = me(&c, &server.base, &access).unwrap();
    let err = server.stderr();
    let said = err.matches("cannot write the failure log").count();
    eprintln!("FAULTS full log disk: lost lines {first} then {second}, validation {status}, said {said} time(s)");
    assert!(first > 0 && second > first, "lost lines counted: {first}, {second}");
    assert_eq!(status, 200, "validation keeps working");
    assert_eq!(said, 1, "said loudly, once: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(server.terminate(), 0);
}

#[test]
fn sqlite_on_a_full_disk_refuses_writes_with_503_keeps_validating_and_recovers() {
    let _one_at_a_time = crate::harness::serial();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let disk = match Tmpfs::mount(&store, "2m") {
        Ok(m) => m,
        Err(why) => return skip("the full-SQLite-disk test", &why),
    };
    let env = Env::new(dir.path(), &sqlite_url(&store), &[]);
    env.prepare();
    let server = env.serve();
    let c = client();
    let (access, refresh_token) = signed_in(&c, &server.base);
    let filler = disk.fill();
    // The first write that needs a new page fails; pages already allocated may
    // take a few more (bounded).
    let refused = (0..50).find_map(|_| {
        let (status, body) = login(&c, &server.base).unwrap();
        (status != 200).then_some((status, body))
    });
    let (refreshed, refresh_body) = refresh(&c, &server.base, &refresh_token).unwrap();
    let (validated, _) = me(&c, &server.base, &access).unwrap();
    std::fs::remove_file(filler).unwrap();
    let (after_login, _) = login(&c, &server.base).unwrap();
    let (after_refresh, body) = refresh(&c, &server.base, &refresh_token).unwrap();
    let err = server.stderr();
    eprintln!(
        "FAULTS full SQLite disk: login {:?}, refresh {refreshed}, validation {validated}; with room again: login {after_login}, refresh {after_refresh}",
        refused.as_ref().map(|r| r.0)
    );
    let (status, refused_body) = refused.expect("a login on a full disk was refused");
    assert_eq!(status, 503, "{refused_body}");
    assert_eq!(refused_body["error"], "unavailable");
    assert_eq!(refreshed, 503, "{refresh_body}");
    assert_eq!(validated, 200, "validation keeps working");
    assert!(err.contains("full"), "the server log says why: {err}");
    assert_eq!((after_login, after_refresh), (200, 200), "{body}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(server.terminate(), 0);
}
