//! A second jwtauth-server as a trusted issuer: its tokens are accepted on `/api`
//! routes (roles included), `/auth/me` shows them, and `/readyz` and `/metrics`
//! report the issuer, reachable or not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PW, TestServer, start_with};
use serde_json::{Value, json};

/// A jwtauth-server whose `issuer` is its own loopback URL, as a real one's is.
async fn issuer_server() -> TestServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    start_with(
        &format!("issuer = \"{url}\"\naudience = \"orders-api\""),
        &format!("listen = \"127.0.0.1:{port}\""),
        reqwest::Client::new(),
    )
    .await
}

fn trusting(issuer: &str) -> String {
    format!(
        "issuer = \"https://api.example.com\"\n[[trusted_issuers]]\nissuer = \"{issuer}\"\naudience = \"orders-api\"\ndiscovery_url = \"{issuer}/.well-known/openid-configuration\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_another_jwtauth_server_are_accepted_on_api_routes() {
    let idp = issuer_server().await;
    let api = start_with(&trusting(&idp.base), "", reqwest::Client::new()).await;
    let (token, _) = idp.tokens("root", ADMIN_PW).await;

    let r = api.get("/api/products", Some(&token)).await;
    assert_eq!(r.status(), 200);
    let me: Value = api.get("/auth/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["sub"], "root");
    assert_eq!(me["iss"], idp.base.as_str());
    assert_eq!(me["roles"], json!(["Admin"]));
    // Role checks use the external token's roles.
    let r = api
        .client
        .post(api.url("/api/products"))
        .bearer_auth(&token)
        .json(&json!({"name": "lamp", "price_cents": 1200}))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 401);
    assert_ne!(r.status(), 403);

    let ready: Value = api.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(ready["trusted_issuers"][0]["issuer"], idp.base.as_str());
    assert_eq!(ready["trusted_issuers"][0]["usable"], true);

    // A token of an issuer that is neither: wrong_issuer, naming the accepted ones.
    let stranger = issuer_server().await;
    let (other, _) = stranger.tokens("root", ADMIN_PW).await;
    let (status, _, body) = common::error_of(api.get("/api/products", Some(&other)).await).await;
    assert_eq!(status, 401);
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("wrong_issuer"), "{description}");
    assert!(description.contains(&idp.base), "{description}");

    // Failures are counted by the issuer that judged them: the trusted one for its
    // tampered token, none for the stranger's.
    let tampered = format!("{}A", &token[..token.len() - 1]);
    let tampered = if tampered == token {
        format!("{}B", &token[..token.len() - 1])
    } else {
        tampered
    };
    assert_eq!(api.get("/api/products", Some(&tampered)).await.status(), 401);
    let metrics = api.get("/metrics", None).await.text().await.unwrap();
    let failures = |issuer: &str| {
        metrics
            .lines()
            .any(|l| l.starts_with("jwtauth_auth_failures_total{") && l.contains(&format!("issuer=\"{issuer}\"")))
    };
    assert!(failures(&idp.base), "{metrics}");
    assert!(failures(""), "{metrics}");
    assert!(!failures(&stranger.base), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_issuer_is_reported_by_readyz_and_metrics() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("http://127.0.0.1:{port}");
    let api = start_with(&trusting(&gone), "", reqwest::Client::new()).await;
    let mut ready = Value::Null;
    for _ in 0..100 {
        ready = api.get("/readyz", None).await.json().await.unwrap();
        if !ready["trusted_issuers"][0]["last_error"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["trusted_issuers"][0]["usable"], false, "{ready}");
    assert!(
        ready["trusted_issuers"][0]["last_error"]["error"].is_string(),
        "{ready}"
    );
    let metrics = api.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jwtauth_trusted_issuer_up") && l.contains(&gone) && l.ends_with(" 0")),
        "{metrics}"
    );
}
