//! Running the API on a socket: plain HTTP or rustls (certificates reloaded when their
//! files change), graceful shutdown on SIGTERM and Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use jwtauth_core::Config;
use jwtauth_core::config::ServerConfig;
use tokio::task::JoinHandle;

use crate::accept::{self, Handle, Serving};

/// How often the certificate files are checked for changes.
pub const CERT_POLL: Duration = Duration::from_secs(2);
/// How long in-flight requests get after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Parses `server.listen` and refuses plain HTTP on a non-loopback address unless
/// a TLS-terminating proxy is declared: tokens and passwords would cross the network
/// in clear text.
pub fn listen_addr(server: &ServerConfig) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = server.listen.parse().with_context(|| {
        format!(
            "server.listen = {:?} is not an address like 127.0.0.1:8080",
            server.listen
        )
    })?;
    let tls = server.tls_cert.is_some() && server.tls_key.is_some();
    if !addr.ip().is_loopback() && !tls && !server.behind_tls_proxy {
        bail!(
            "refusing to serve plain HTTP on {addr}: passwords and tokens would travel unencrypted. \
             Set server.tls_cert and server.tls_key, or server.behind_tls_proxy = true when a proxy in front terminates TLS"
        );
    }
    Ok(addr)
}

/// A started server.
pub struct Running {
    /// The bound address (the real port when `:0` was asked).
    pub addr: SocketAddr,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Stops it (gracefully with `graceful_shutdown`).
    pub handle: Handle,
    /// Ends when the server has stopped.
    pub task: JoinHandle<std::io::Result<()>>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn watch_certificates(tls: RustlsConfig, cert: PathBuf, key: PathBuf) {
    tokio::spawn(async move {
        let mut seen = (mtime(&cert), mtime(&key));
        loop {
            tokio::time::sleep(CERT_POLL).await;
            let now = (mtime(&cert), mtime(&key));
            if now == seen {
                continue;
            }
            match tls.reload_from_pem_file(&cert, &key).await {
                Ok(()) => {
                    seen = now;
                    tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
                }
                // A half-written pair is common during renewal: keep the old one and retry.
                Err(e) => tracing::warn!(error = %e, "TLS certificate reload failed; keeping the current one"),
            }
        }
    });
}

/// Binds and starts serving `api` as `server` says; returns once listening.
///
/// Slow clients are bounded: `server.header_read_timeout` closes a connection that,
/// with no request in flight, has not sent its first request, a request's headers,
/// or its next request (keep-alive) in time, and bounds the TLS handshake;
/// `server.max_connections` caps the connections served at once. Over TLS, ALPN may
/// choose HTTP/2; plain HTTP is HTTP/1.1.
pub async fn start(server: &ServerConfig, api: crate::observe::Api) -> anyhow::Result<Running> {
    let addr = listen_addr(server)?;
    let handle = Handle::default();
    let timeout = server.header_read_timeout;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (tls, task) = match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => {
            let config = RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key {}", cert.display(), key.display()))?;
            watch_certificates(config.clone(), cert.clone(), key.clone());
            let serving = Serving {
                acceptor: RustlsAcceptor::new(config).handshake_timeout(timeout),
                http2: true,
                header_read_timeout: timeout,
                max_connections: server.max_connections,
            };
            (
                true,
                tokio::spawn(accept::serve(listener, serving, api, handle.clone())),
            )
        }
        _ => {
            let serving = Serving {
                acceptor: DefaultAcceptor::new(),
                http2: false,
                header_read_timeout: timeout,
                max_connections: server.max_connections,
            };
            (
                false,
                tokio::spawn(accept::serve(listener, serving, api, handle.clone())),
            )
        }
    };
    Ok(Running {
        addr,
        tls,
        handle,
        task,
    })
}

/// SIGTERM and Ctrl-C, listened to from the moment this is made (so a signal that
/// arrives right after startup is not lost to the default action).
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening. Needs a running tokio runtime.
    pub fn listen() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for one of them.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn shutdown_on_signal(signals: Signals, handle: Handle) {
    signals.recv().await;
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(GRACE));
}

/// Where the first admin's password goes when stderr is not a terminal.
pub const FIRST_PASSWORD_FILE: &str = "first-admin-password";

/// Shows the first admin's password once: on the terminal, never through the logger;
/// when stderr is not a terminal (journald, docker, a log collector), in an owner-only
/// file in the failure-log folder, saying where.
pub fn show_first_password(log_dir: &Path, password: &str) -> anyhow::Result<()> {
    use std::io::{IsTerminal, Write};
    let (user, role) = (jwtauth_core::users::FIRST_ADMIN, jwtauth_core::users::ADMIN_ROLE);
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = writeln!(
            err,
            "\nFirst start: created user '{user}' (role {role}) with password\n\n    {password}\n\nIt is shown only this once. Change it with `jwtauth-server user passwd {user}`.\n"
        );
        return Ok(());
    }
    let path = log_dir.join(FIRST_PASSWORD_FILE);
    let write = || -> std::io::Result<()> {
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(log_dir)?;
        let _ = std::fs::remove_file(&path);
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&path)?;
        writeln!(f, "{password}")?;
        f.sync_all()
    };
    write().with_context(|| format!("writing the first admin's password to {}", path.display()))?;
    let _ = writeln!(
        err,
        "First start: created user '{user}' (role {role}); stderr is not a terminal, so its password is in {} (readable by this user only). Read it, then delete the file.",
        path.display()
    );
    Ok(())
}

/// The whole `serve` command: open the core, bootstrap the first admin, serve until
/// a shutdown signal. Returns the state so the caller drops it outside the runtime
/// (the synchronous PostgreSQL pool must not be dropped on an async worker).
pub async fn run(config: Config, bench_route: bool) -> anyhow::Result<crate::AppState> {
    let server_cfg = config.server().clone();
    let addr = listen_addr(&server_cfg)?;
    // Before anything is created (the store, the first admin and its password): a
    // port another process holds would leave a password shown for a server that
    // never ran.
    drop(std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?);
    let auth = tokio::task::spawn_blocking(move || {
        let auth = jwtauth_core::JwtAuth::open(config)?;
        crate::products::migrate(auth.store())?;
        Ok::<_, anyhow::Error>(auth)
    })
    .await?
    .context("opening jwtauth")?;
    let auth = std::sync::Arc::new(auth);
    let (login, first) = {
        let auth = auth.clone();
        tokio::task::spawn_blocking(move || {
            let first = auth.users().bootstrap_admin()?;
            let login = jwtauth_core::users::Login::configured(
                auth.config().login(),
                auth.config().login_hashing(),
                jwtauth_core::users::HashCost::OWASP,
            )?;
            Ok::<_, jwtauth_core::Error>((login, first))
        })
        .await??
    };
    if let Some(password) = first {
        show_first_password(&auth.config().log().dir, password.expose())?;
    }
    if auth.config().public_base_url().is_none() {
        tracing::warn!("{}", crate::error::NO_METADATA);
    }
    let tls = server_cfg.tls_cert.is_some();
    let state = std::sync::Arc::new(crate::Shared {
        auth: auth.clone(),
        login: std::sync::Arc::new(login),
        catalog: crate::catalog::Catalog::default(),
        metrics: crate::metrics_handle(),
        tls,
        bench_route,
    });
    let signals = Signals::listen().context("listening for SIGTERM and Ctrl-C")?;
    let running = start(&server_cfg, crate::app(state.clone())).await?;
    let scheme = if running.tls { "https" } else { "http" };
    // One line on stdout that scripts and tests can wait for.
    println!("jwtauth-server listening on {scheme}://{}", running.addr);
    tracing::info!(addr = %running.addr, tls = running.tls, "listening");
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                state.login.limiter().sweep();
            }
        })
    };
    tokio::spawn(shutdown_on_signal(signals, running.handle.clone()));
    running.task.await??;
    sweeper.abort();
    tracing::info!("stopped");
    drop(auth);
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(listen: &str, tls: bool, proxy: bool) -> ServerConfig {
        ServerConfig {
            listen: listen.into(),
            tls_cert: tls.then(|| "c.pem".into()),
            tls_key: tls.then(|| "k.pem".into()),
            behind_tls_proxy: proxy,
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 16,
            public_url: None,
            cors_allowed_origins: Vec::new(),
            cors_allow_credentials: false,
        }
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_tls_or_a_proxy_is_declared() {
        assert!(listen_addr(&server("127.0.0.1:8080", false, false)).is_ok());
        assert!(listen_addr(&server("[::1]:8080", false, false)).is_ok());
        let e = listen_addr(&server("0.0.0.0:8080", false, false)).unwrap_err();
        assert!(e.to_string().contains("behind_tls_proxy"), "{e}");
        assert!(listen_addr(&server("0.0.0.0:8080", true, false)).is_ok());
        assert!(listen_addr(&server("0.0.0.0:8080", false, true)).is_ok());
        assert!(listen_addr(&server("localhost", false, false)).is_err());
    }
}
