//! Slow and greedy clients over real loopback sockets: half-sent headers, idle
//! keep-alive and silent connections, a connection flood, a TLS handshake never
//! begun, made-up methods and paths that must not mint metrics series, a handler
//! slower than the request timeout, and a graceful shutdown with a request in
//! flight. Every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any single wait may take before the test gives up on it.
const BOUND: Duration = Duration::from_secs(15);

fn addr(s: &common::TestServer) -> String {
    s.base.rsplit('/').next().unwrap().replace("localhost", "127.0.0.1")
}

/// Reads until the server closes the connection (true), or `bound` passes with
/// the connection still open (false).
async fn closed_by_server(stream: &mut TcpStream, bound: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(bound, read_to_end).await.is_ok()
}

#[tokio::test]
async fn half_sent_headers_and_idle_keep_alive_connections_are_cut_off() {
    let s = common::start_with("", "header_read_timeout = \"1s\"", reqwest::Client::new()).await;
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        c.write_all(format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{i}: ").as_bytes())
            .await
            .unwrap();
        slow.push(c);
    }
    for c in &mut slow {
        assert!(closed_by_server(c, BOUND).await, "a half-sent request is held open");
    }
    // A whole request is answered, then the idle keep-alive connection is closed.
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(BOUND, c.read(&mut buf)).await.unwrap().unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(
        closed_by_server(&mut c, BOUND).await,
        "an idle keep-alive connection is held open"
    );
    assert_eq!(s.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn a_connection_flood_is_capped_and_the_server_stays_up() {
    let s = common::start_with(
        "",
        "header_read_timeout = \"60s\"\nmax_connections = 8",
        reqwest::Client::new(),
    )
    .await;
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    let mut closed = 0;
    for c in &mut flood {
        if closed_by_server(c, Duration::from_millis(1500)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 32,
        "only {closed} of 40 idle connections were refused over a cap of 8"
    );
    drop(flood);
    // The flood's connections end, their places free up, and requests are served again.
    let mut status = None;
    for _ in 0..50 {
        if let Ok(r) = s.client.get(s.url("/healthz")).send().await {
            status = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(200));
    let metrics = s.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("jwtauth_connections_refused_total"), "{metrics}");
}

#[tokio::test]
async fn a_tls_handshake_never_begun_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    let s = common::start_with(
        "",
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\nheader_read_timeout = \"1s\"",
            cert.display(),
            key.display()
        ),
        reqwest::Client::new(),
    )
    .await;
    assert!(s.base.starts_with("https://"));
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    for c in &mut idle {
        assert!(
            closed_by_server(c, BOUND).await,
            "a TLS connection with no handshake is held open"
        );
    }
}

#[tokio::test]
async fn made_up_methods_do_not_become_metrics_series() {
    let s = common::start().await;
    for i in 0..30 {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        c.write_all(format!("XMETHOD{i} /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        assert!(closed_by_server(&mut c, BOUND).await);
    }
    let metrics = s.get("/metrics", None).await.text().await.unwrap();
    assert!(!metrics.contains("XMETHOD"), "a client-chosen method became a label");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jwtauth_http_requests_total") && l.contains("method=\"other\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn responses_are_not_sniffed_tokens_are_not_cached_and_an_oversized_body_is_413() {
    let s = common::start().await;
    let health = s.get("/healthz", None).await;
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    let login = s.login("alice", common::USER_PW).await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert_eq!(login.headers()["x-content-type-options"], "nosniff");
    let (access, _) = s.tokens("alice", common::USER_PW).await;
    let me = s.get("/auth/me", Some(&access)).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["cache-control"], "no-store");
    let missing = s.get("/nowhere", None).await;
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
    let big = format!(
        "{{\"username\":\"alice\",\"password\":\"{}\"}}",
        "x".repeat(jwtauth_server::BODY_LIMIT + 1)
    );
    let r = s
        .client
        .post(s.url("/auth/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn metrics_label_a_request_with_its_route_template_never_its_path() {
    let s = common::start().await;
    let c = &s.client;
    assert_eq!(
        c.delete(s.url("/api/products/4242")).send().await.unwrap().status(),
        401
    );
    assert_eq!(s.get("/no/such/route-7e1", None).await.status(), 404);
    assert_eq!(s.get("/.well-known/jwks.json", None).await.status(), 200);
    let metrics = s.get("/metrics", None).await.text().await.unwrap();
    let series = |route: &str, method: &str, status: u16| {
        metrics.lines().any(|l| {
            l.starts_with("jwtauth_http_requests_total")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains(&format!("method=\"{method}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(series("/api/products/{id}", "DELETE", 401), "{metrics}");
    assert!(series("unmatched", "GET", 404), "{metrics}");
    assert!(series("/.well-known/jwks.json", "GET", 200), "{metrics}");
    assert!(
        !metrics.contains("4242") && !metrics.contains("route-7e1"),
        "a path became a label"
    );
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_the_request_in_flight_then_refuses_connections() {
    let s = common::start().await;
    let body = r#"{"username":"root","password":"admin password 1"}"#;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(
        format!(
            "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The password hash takes longer than this: the login is in flight.
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.handle.graceful_shutdown(Some(BOUND));
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, c.read_to_end(&mut answer))
        .await
        .expect("the connection is closed once the login is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"), "the response was cut short");
    assert!(
        TcpStream::connect(addr(&s)).await.is_err(),
        "a draining server still accepts connections"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed() {
    let s = common::start_with("", "header_read_timeout = \"1s\"", reqwest::Client::new()).await;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_by_server(&mut c, BOUND).await,
        "a silent connection is held open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before its deadline"
    );
}

#[tokio::test]
async fn a_handler_slower_than_the_request_timeout_is_answered_408() {
    use axum::routing::get;
    use jwtauth_server::observe::{Api, Routes};
    let timeout = Duration::from_millis(300);
    let s = common::start_with_api("", "", reqwest::Client::new(), |state| {
        let mut routes = Routes::default();
        let slow = async || {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        };
        let router = axum::Router::new()
            .route(routes.add("/slow"), get(slow))
            .with_state(state.clone());
        Api::new(router, routes, state, timeout)
    })
    .await;
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(BOUND, s.get("/slow", None)).await.unwrap();
    assert_eq!(r.status(), 408);
    assert!(started.elapsed() >= timeout, "answered before the timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the handler was waited for"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().contains_key("x-request-id"));
}
