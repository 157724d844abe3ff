//! A real server on an ephemeral loopback port, with a fresh SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::sync::Arc;

use jwtauth_core::users::{HashCost, Login};
use jwtauth_core::{Config, JwtAuth};
use jwtauth_server::{Shared, app, metrics_handle, serve};
use serde_json::{Value, json};

pub const ADMIN_PW: &str = "admin password 1";
pub const USER_PW: &str = "user password 1";

pub struct TestServer {
    pub base: String,
    pub auth: Arc<JwtAuth>,
    pub login: Arc<Login>,
    pub client: reqwest::Client,
    pub handle: jwtauth_server::accept::Handle,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

pub fn config(dir: &std::path::Path, extra: &str, server: &str) -> Config {
    let db = dir.join("jwtauth.db");
    let listen = if server.contains("listen =") {
        ""
    } else {
        "listen = \"127.0.0.1:0\"\n"
    };
    Config::from_toml(&format!(
        "{extra}\n[store]\nurl = \"sqlite://{}\"\n[log]\ndir = \"{}\"\n[server]\n{listen}{server}\n",
        db.display(),
        dir.join("logs").display()
    ))
    .unwrap()
}

pub async fn start_with(extra: &str, server_toml: &str, client: reqwest::Client) -> TestServer {
    start_with_api(extra, server_toml, client, app).await
}

/// A server for the API `make` builds from the state.
pub async fn start_with_api(
    extra: &str,
    server_toml: &str,
    client: reqwest::Client,
    make: impl FnOnce(Arc<Shared>) -> jwtauth_server::observe::Api,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), extra, server_toml);
    let server_cfg = cfg.server().clone();
    let auth = tokio::task::spawn_blocking(move || {
        let auth = JwtAuth::open(cfg).unwrap();
        jwtauth_server::products::migrate(auth.store()).unwrap();
        auth.users().add("root", ADMIN_PW, &["Admin"]).unwrap();
        auth.users().add("alice", USER_PW, &["User"]).unwrap();
        auth
    })
    .await
    .unwrap();
    let auth = Arc::new(auth);
    let (limits, hashing) = (auth.config().login(), auth.config().login_hashing());
    let login = tokio::task::spawn_blocking(move || Login::configured(limits, hashing, HashCost::OWASP).unwrap())
        .await
        .unwrap();
    let tls = server_cfg.tls_cert.is_some();
    let login = Arc::new(login);
    let state = Arc::new(Shared {
        auth: auth.clone(),
        login: login.clone(),
        catalog: jwtauth_server::catalog::Catalog::default(),
        metrics: metrics_handle(),
        tls,
        bench_route: false,
    });
    let running = serve::start(&server_cfg, make(state)).await.unwrap();
    let scheme = if tls { "https" } else { "http" };
    let host = if tls { "localhost" } else { "127.0.0.1" };
    TestServer {
        base: format!("{scheme}://{host}:{}", running.addr.port()),
        auth,
        login,
        client,
        handle: running.handle,
        _dir: dir,
    }
}

pub async fn start() -> TestServer {
    start_with("", "", reqwest::Client::new()).await
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, user: &str, pw: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns (access token, refresh token).
    pub async fn tokens(&self, user: &str, pw: &str) -> (String, String) {
        let r = self.login(user, pw).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        (
            v["access_token"].as_str().unwrap().to_owned(),
            v["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }
}

pub async fn error_of(r: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = r.json().await.unwrap();
    (status, challenge, body)
}
