//! Starting, killing and restarting the server binary; a private PostgreSQL
//! cluster; small filesystems. Everything started here is stopped by its `Drop`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_jwtauth-server");
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const PASSWORD: &str = "fault test password";

/// Held by every test for its whole run: they kill, stop and fill things and
/// measure latencies, so they never overlap, whatever `--test-threads` says.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether skips are failures (`JWTAUTH_REQUIRE_FAULTS=1`).
pub fn required() -> bool {
    std::env::var("JWTAUTH_REQUIRE_FAULTS").is_ok_and(|v| v == "1")
}

/// Says why a test did not run; a failure when skips are not allowed.
pub fn skip(test: &str, why: &str) {
    assert!(
        !required(),
        "{test} is required (JWTAUTH_REQUIRE_FAULTS=1) but cannot run: {why}"
    );
    eprintln!("NOTE: {test} did not run: {why}");
}

pub fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and printed,
/// for kill instants: a failing run can be told apart from another.
pub struct Dice(u64);

impl Dice {
    pub fn new() -> Dice {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        Dice(seed)
    }

    pub fn seed(&self) -> u64 {
        self.0
    }

    /// A number in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo).max(1)
    }
}

/// The environment of one server: its store, its log folder, its settings.
pub struct Env {
    pub dir: PathBuf,
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new(dir: &Path, store_url: &str, extra: &[(&str, &str)]) -> Env {
        let mut vars: Vec<(String, String)> = [
            ("JWTAUTH_STORE__URL", store_url),
            ("JWTAUTH_SERVER__LISTEN", "127.0.0.1:0"),
            ("JWTAUTH_MASTER_KEY", MASTER_KEY),
            // The load refreshes one session many times a second: no throttle in the way.
            ("JWTAUTH_REFRESH_LIMITS__FAMILY_BURST", "10000"),
            ("JWTAUTH_REFRESH_LIMITS__CLIENT_BURST", "10000"),
            ("JWTAUTH_LOGIN__USER_BURST", "10000"),
            ("JWTAUTH_LOGIN__CLIENT_BURST", "10000"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        vars.push(("JWTAUTH_LOG__DIR".into(), dir.join("logs").display().to_string()));
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Env {
            dir: dir.to_path_buf(),
            vars,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(&self.dir);
        // Only what this test sets reaches the server.
        for (k, _) in std::env::vars() {
            if k.starts_with("JWTAUTH_") {
                c.env_remove(k);
            }
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Runs a subcommand to its end: (exit code, stderr).
    pub fn run(&self, args: &[&str], stdin: &str) -> (i32, String) {
        let (code, _, err) = crate::binary::run(&mut self.command(args), stdin);
        (code, err)
    }

    /// `init`, then a user `alice` with [`PASSWORD`].
    pub fn prepare(&self) {
        let (code, err) = self.run(&["init"], "");
        assert_eq!(code, 0, "{err}");
        let (code, err) = self.run(&["user", "add", "alice"], &format!("{PASSWORD}\n"));
        assert_eq!(code, 0, "{err}");
    }

    /// Starts serving: its address, or its exit code and stderr when it exits first.
    pub fn start(&self) -> Result<Server, (i32, String)> {
        let l = crate::binary::spawn(&mut self.command(&[]))?;
        Ok(Server {
            child: l.child,
            base: l.base,
            stderr: l.stderr,
        })
    }

    pub fn serve(&self) -> Server {
        self.start()
            .unwrap_or_else(|(code, err)| panic!("the server did not start (exit {code}): {err}"))
    }
}

pub struct Server {
    child: Child,
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and the exit code of a graceful stop.
    pub fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap().code().unwrap_or(-1)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Status and JSON body (`Null` when there is none).
pub fn answer(r: reqwest::blocking::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

pub fn login(c: &reqwest::blocking::Client, base: &str) -> reqwest::Result<(u16, Value)> {
    c.post(format!("{base}/auth/login"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .map(answer)
}

pub fn refresh(c: &reqwest::blocking::Client, base: &str, token: &str) -> reqwest::Result<(u16, Value)> {
    c.post(format!("{base}/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .map(answer)
}

pub fn me(c: &reqwest::blocking::Client, base: &str, access: &str) -> reqwest::Result<(u16, Value)> {
    c.get(format!("{base}/auth/me")).bearer_auth(access).send().map(answer)
}

/// Logs in (it must succeed): (access token, refresh token).
pub fn signed_in(c: &reqwest::blocking::Client, base: &str) -> (String, String) {
    let (status, body) = login(c, base).unwrap();
    assert_eq!(status, 200, "{body}");
    tokens_of(&body)
}

/// (access token, refresh token) of a token response.
pub fn tokens_of(body: &Value) -> (String, String) {
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// The reason prefix of an error body's description.
pub fn reason(body: &Value) -> &str {
    body["error_description"]
        .as_str()
        .and_then(|d| d.split(':').next())
        .unwrap_or("")
}

/// The sum of a counter in a Prometheus text page.
pub fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A fresh schema on the shared PostgreSQL, dropped on `Drop`; `None` with a note
/// when it is unreachable.
pub struct SharedPgSchema {
    base: String,
    name: String,
    pub url: String,
}

impl SharedPgSchema {
    pub fn create(test: &str) -> Option<SharedPgSchema> {
        let base =
            std::env::var("JWTAUTH_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut client = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                skip(test, &format!("PostgreSQL at {base} is unreachable ({e})"));
                return None;
            }
        };
        let name = format!(
            "jwtauth_faults_{}_{}",
            std::process::id(),
            Dice::new().seed() % 1_000_000
        );
        client.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(SharedPgSchema {
            url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
            base,
            name,
        })
    }
}

impl Drop for SharedPgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A PostgreSQL cluster of this test's own, on a free port, run as the `postgres`
/// OS user (PostgreSQL refuses to run as root). Stopped and removed on `Drop`.
pub struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// `Err` says why no cluster can be made here.
    pub fn create() -> Result<PrivateCluster, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no PostgreSQL server binaries in /usr/lib/postgresql ({e})"))?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .find(|b| b.join("initdb").is_file())
            .ok_or("no initdb under /usr/lib/postgresql/*/bin")?;
        if !is_root() {
            return Err("making a cluster as the postgres user needs root (runuser)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let chown = Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        if !chown.success() {
            return Err("no postgres OS user to own the cluster".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let cluster = PrivateCluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        let out = cluster
            .as_postgres("initdb", &["-A", "trust", "-U", "postgres", "-D"], true)
            .map_err(|e| format!("initdb failed: {e}"))?;
        let _ = out;
        cluster
            .start()
            .map_err(|e| format!("the private cluster did not start: {e}"))?;
        Ok(cluster)
    }

    fn as_postgres(&self, tool: &str, args: &[&str], with_data: bool) -> Result<String, String> {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool)).args(args);
        if with_data {
            c.arg(&self.data);
        }
        let out = c.current_dir("/").output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster and waits until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self._dir.path().display()
        );
        let log = self._dir.path().join("postgres.log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &["-w", "-t", "30", "-l", &log, "-o", &opts, "start", "-D"],
            true,
        )
        .map(|_| ())
    }

    /// `pg_ctl stop -m immediate`: every backend killed at once, as on a crash.
    pub fn stop_immediate(&self) {
        self.as_postgres("pg_ctl", &["-w", "-m", "immediate", "stop", "-D"], true)
            .unwrap();
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.as_postgres("pg_ctl", &["-w", "-m", "immediate", "stop", "-D"], true);
    }
}

/// A small tmpfs mounted at `path` (root only), unmounted on `Drop`.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        if !is_root() {
            return Err("mounting a small tmpfs needs root".into());
        }
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Tmpfs(path.to_path_buf()))
    }

    /// Remounts it read-only.
    pub fn read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Fills it: a file grown until the filesystem refuses more. Returns the file.
    pub fn fill(&self) -> PathBuf {
        let file = self.0.join("filler");
        let mut f = std::fs::File::create(&file).unwrap();
        let block = [0u8; 4096];
        for _ in 0..1_000_000 {
            if f.write_all(&block).and_then(|()| f.sync_all()).is_err() {
                break;
            }
        }
        file
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn within<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
