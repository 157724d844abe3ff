//! The OAuth 2.0 endpoints over a real loopback socket: RFC 6749 token responses
//! and errors, RFC 7009 revocation, RFC 7662 introspection, RFC 8414 metadata, CORS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{USER_PW, start_with};
use serde_json::Value;

async fn form(s: &common::TestServer, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    s.client.post(s.url(path)).form(fields).send().await.unwrap()
}

async fn oauth_error(r: reqwest::Response) -> (u16, Option<String>, String, String) {
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    (
        status,
        challenge,
        v["error"].as_str().unwrap().to_owned(),
        v["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

fn add_client(s: &common::TestServer, name: &str, roles: &[&str]) -> String {
    s.auth.clients().add(name, roles).unwrap().secret.expose().to_owned()
}

#[tokio::test]
async fn form_encoded_refresh_rotates_and_revocation_then_refresh_is_invalid_grant() {
    let s = start_with("", "", reqwest::Client::new()).await;
    let (_, refresh) = s.tokens("alice", USER_PW).await;
    let r = form(
        &s,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "spa"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_i64().unwrap() > 0);
    let access = v["access_token"].as_str().unwrap();
    assert_eq!(s.get("/api/products", Some(access)).await.status(), 200);
    let next = v["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);

    // Spending the old one again is reuse: 400 invalid_grant, and the family ends.
    let (status, _, error, description) = oauth_error(
        form(
            &s,
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(description.starts_with("refresh_reused"), "{description}");

    // A fresh session, revoked through RFC 7009, then refreshed.
    let (_, refresh) = s.tokens("alice", USER_PW).await;
    let r = form(
        &s,
        "/oauth/revoke",
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = form(&s, "/oauth/revoke", &[("token", "never-issued")]).await;
    assert_eq!(r.status(), 200);
    let (status, _, error, _) = oauth_error(
        form(
            &s,
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn every_token_error_has_its_rfc_6749_status_and_body() {
    let s = start_with("", "", reqwest::Client::new()).await;
    let secret = add_client(&s, "billing", &["Reader"]);
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], 400, "invalid_request"),
        (vec![("grant_type", "refresh_token")], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "password"), ("username", "alice"), ("password", USER_PW)],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "nope")],
            400,
            "invalid_grant",
        ),
        (vec![("grant_type", "client_credentials")], 401, "invalid_client"),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "billing"),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", &secret),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_secret", &secret)],
            400,
            "invalid_request",
        ),
    ];
    for (fields, status, error) in cases {
        let (got, challenge, e, _) = oauth_error(form(&s, "/oauth/token", &fields).await).await;
        assert_eq!((got, e.as_str()), (status, error), "{fields:?}");
        if status == 401 {
            assert!(challenge.unwrap().starts_with("Basic "), "{fields:?}");
        }
    }
    // Wrong Basic credentials: 401 with the Basic challenge.
    let r = s
        .client
        .post(s.url("/oauth/token"))
        .basic_auth("billing", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, challenge, error, _) = oauth_error(r).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(challenge.unwrap().starts_with("Basic realm="));
    // Neither a form nor JSON.
    let r = s
        .client
        .post(s.url("/oauth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r).await.2, "invalid_request");
}

#[tokio::test]
async fn client_credentials_tokens_work_on_the_api_and_introspect_honestly() {
    let s = start_with("access_ttl = \"2s\"\nleeway = 0", "", reqwest::Client::new()).await;
    let secret = add_client(&s, "billing", &["Admin"]);
    let probe = add_client(&s, "gateway", &[]);
    // client_secret_basic
    let r = s
        .client
        .post(s.url("/oauth/token"))
        .basic_auth("billing", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    let access = v["access_token"].as_str().unwrap().to_owned();
    let me: Value = s.get("/auth/me", Some(&access)).await.json().await.unwrap();
    assert_eq!(me["sub"], "billing");
    assert_eq!(me["client_id"], "billing");
    assert!(me.get("sid").is_none(), "a client's token belongs to no session: {me}");
    let r = s
        .client
        .post(s.url("/api/products"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"name": "svc", "price": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let introspect = |token: String, secret: Option<String>| {
        let s = &s;
        async move {
            let mut fields = vec![("token", token)];
            if let Some(sec) = secret {
                fields.push(("client_id", "gateway".to_owned()));
                fields.push(("client_secret", sec));
            }
            s.client
                .post(s.url("/oauth/introspect"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    // Active (client_secret_post)
    let v: Value = introspect(access.clone(), Some(probe.clone()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "billing");
    assert_eq!(v["client_id"], "billing");
    assert_eq!(v["roles"], serde_json::json!(["Admin"]));
    assert!(v["exp"].as_i64().unwrap() > v["iat"].as_i64().unwrap());
    // Without client authentication: 401.
    assert_eq!(introspect(access.clone(), None).await.status(), 401);
    // Foreign: a token signed by another key is just inactive.
    let foreign = jwtauth_core::Tokens::new(jwtauth_core::Config::default())
        .unwrap()
        .issuer()
        .issue("billing", &[], &Default::default())
        .unwrap()
        .token;
    let v: Value = introspect(foreign, Some(probe.clone())).await.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));
    // Revoked: a user's token after logout everywhere.
    let (user_access, _) = s.tokens("alice", USER_PW).await;
    let r = s
        .client
        .post(s.url("/auth/logout-all"))
        .bearer_auth(&user_access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let v: Value = introspect(user_access, Some(probe.clone())).await.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));
    // Expired: the 2 s client token, once its time has passed.
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let v: Value = introspect(access, Some(probe.clone())).await.json().await.unwrap();
    assert_eq!(v, serde_json::json!({"active": false}));

    // A disabled client gets no token; a rotated secret replaces the old one.
    let new = s.auth.clients().rotate_secret("gateway").unwrap();
    let old = form(
        &s,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "gateway"),
            ("client_secret", &probe),
        ],
    )
    .await;
    assert_eq!(old.status(), 401);
    let fresh = form(
        &s,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "gateway"),
            ("client_secret", new.expose()),
        ],
    )
    .await;
    assert_eq!(fresh.status(), 200);
    s.auth.clients().disable("gateway").unwrap();
    let disabled = form(
        &s,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "gateway"),
            ("client_secret", new.expose()),
        ],
    )
    .await;
    assert_eq!(disabled.status(), 401);
}

#[tokio::test]
async fn password_grant_only_when_enabled() {
    let s = start_with("[oauth]\npassword_grant = true", "", reqwest::Client::new()).await;
    let r = form(
        &s,
        "/oauth/token",
        &[("grant_type", "password"), ("username", "alice"), ("password", USER_PW)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["refresh_token"].is_string());
    let (status, _, error, description) = oauth_error(
        form(
            &s,
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong pw 1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(description.starts_with("bad_credentials"), "{description}");
    let meta: Value = s
        .get("/.well-known/oauth-authorization-server", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&"password".into())
    );
}

#[tokio::test]
async fn metadata_lists_only_what_exists_with_absolute_urls() {
    let s = start_with("issuer = \"https://auth.example.com\"", "", reqwest::Client::new()).await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let v: Value = s.get(path, None).await.json().await.unwrap();
        assert_eq!(v["issuer"], "https://auth.example.com");
        assert_eq!(v["token_endpoint"], "https://auth.example.com/oauth/token");
        assert_eq!(v["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");
        assert_eq!(v["revocation_endpoint"], "https://auth.example.com/oauth/revoke");
        assert_eq!(v["introspection_endpoint"], "https://auth.example.com/oauth/introspect");
        assert_eq!(
            v["grant_types_supported"],
            serde_json::json!(["refresh_token", "client_credentials"])
        );
        assert!(v.get("authorization_endpoint").is_none());
    }
    // A non-URL issuer and no public_url: 404 with the reason.
    let s = start_with("issuer = \"yourdomain.com\"", "", reqwest::Client::new()).await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = s.get(path, None).await;
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error_description"].as_str().unwrap().contains("server.public_url"),
            "{v}"
        );
    }
    // The same issuer with a public URL: the URLs come from it.
    let s = start_with(
        "issuer = \"yourdomain.com\"",
        "public_url = \"https://auth.yourdomain.com/\"",
        reqwest::Client::new(),
    )
    .await;
    let v: Value = s
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["token_endpoint"], "https://auth.yourdomain.com/oauth/token");
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let s = start_with(
        "",
        "cors_allowed_origins = [\"https://app.example.com\"]",
        reqwest::Client::new(),
    )
    .await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/oauth/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(ok.headers().get("access-control-allow-credentials").is_none());
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    let r = s
        .client
        .get(s.url("/.well-known/jwks.json"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    // Closed by default.
    let s = start_with("", "", reqwest::Client::new()).await;
    let r = s
        .client
        .get(s.url("/.well-known/jwks.json"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn sessions_remember_the_user_agent_and_the_authenticated_client_of_their_login() {
    let s = start_with("[oauth]\npassword_grant = true", "", reqwest::Client::new()).await;
    let secret = add_client(&s, "mobile-app", &[]);
    let r = s
        .client
        .post(s.url("/oauth/token"))
        .header("user-agent", "Orders/4.2 (iPhone; iOS 19.1)")
        .basic_auth("mobile-app", Some(&secret))
        .form(&[("grant_type", "password"), ("username", "alice"), ("password", USER_PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let phone: Value = r.json().await.unwrap();
    let r = s
        .client
        .post(s.url("/auth/login"))
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .json(&serde_json::json!({"username": "alice", "password": USER_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let sessions = s.auth.sessions().list(Some("alice"), 10).unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let by_agent = |prefix: &str| {
        sessions
            .iter()
            .find(|x| x.user_agent.as_deref().is_some_and(|ua| ua.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no session from {prefix}: {sessions:?}"))
    };
    assert_eq!(by_agent("Orders/4.2").client_id.as_deref(), Some("mobile-app"));
    assert_eq!(by_agent("Mozilla/5.0").client_id, None);
    // A refresh through the token endpoint keeps where the session came from.
    let r = form(
        &s,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", phone["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let after = s.auth.sessions().list(Some("alice"), 10).unwrap();
    assert!(
        after
            .iter()
            .any(|x| x.client_id.as_deref() == Some("mobile-app") && x.generation == 1),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_session_refreshed_too_often_gets_429_with_retry_after_on_both_endpoints() {
    let s = start_with(
        "[refresh_limits]\nfamily_burst = 1\nfamily_period = \"1h\"",
        "",
        reqwest::Client::new(),
    )
    .await;
    let (_, refresh) = s.tokens("alice", USER_PW).await;
    let r = form(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let next: Value = r.json().await.unwrap();
    let next = next["refresh_token"].as_str().unwrap();
    let r = form(
        &s,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
    )
    .await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let r = s
        .client
        .post(s.url("/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": next}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error_description"].as_str().unwrap().contains("refreshed too often"),
        "{v}"
    );
}
