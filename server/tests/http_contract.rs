//! The HTTP contract, over real sockets on 127.0.0.1:0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ADMIN_PW, USER_PW, error_of, start, start_with};
use serde_json::{Value, json};

#[tokio::test]
async fn login_gives_an_oauth_token_pair_that_works() {
    let s = start().await;
    let r = s.login("alice", USER_PW).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_i64().unwrap() > 0);
    assert!(v["refresh_expires_in"].as_i64().unwrap() > 0);
    let access = v["access_token"].as_str().unwrap();
    let me: Value = s.get("/auth/me", Some(access)).await.json().await.unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["roles"], json!(["User"]));
    // The session the token belongs to; revoking it revokes the token.
    assert!(me["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "{me}");
}

#[tokio::test]
async fn bad_credentials_and_malformed_bodies_are_told_apart() {
    let s = start().await;
    for (user, pw) in [("alice", "wrong password"), ("nobody", "wrong password")] {
        let (status, challenge, body) = error_of(s.login(user, pw).await).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_grant");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("bad_credentials:")
        );
        assert!(challenge.unwrap().starts_with("Bearer realm=\"jwtauth\""));
    }
    for raw in [
        "{\"username\": \"alice\"}",
        "not json",
        "{\"username\": \"a\", \"password\": \"b\", \"extra\": 1}",
    ] {
        let r = s
            .client
            .post(s.url("/auth/login"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, _, body) = error_of(r).await;
        assert_eq!(status, 400, "{raw}");
        assert_eq!(body["error"], "invalid_request");
        assert!(body["error_description"].is_string());
    }
}

#[tokio::test]
async fn too_many_attempts_for_one_username_get_429_with_retry_after() {
    let s = start().await;
    let mut limited = None;
    for _ in 0..8 {
        let r = s.login("alice", "wrong password").await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 401);
    }
    let r = limited.expect("throttled within 8 attempts");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Even the right password is refused while throttled.
    assert_eq!(s.login("alice", USER_PW).await.status(), 429);
}

#[tokio::test]
async fn correct_passwords_log_in_often_without_429() {
    let s = start().await;
    // Six times the username's failure burst, from one address, in any spelling.
    for i in 0..30 {
        let user = if i % 2 == 0 { "alice" } else { "ALICE" };
        let r = s.login(user, USER_PW).await;
        assert_eq!(r.status(), 200, "login {i}");
        let body: Value = r.json().await.unwrap();
        assert!(body["access_token"].is_string());
    }
    // Failures are still counted: 5, then 429 with Retry-After.
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..6 {
            v.push(s.login("Alice", "wrong password").await.status().as_u16());
        }
        v
    };
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_cannot_dodge_the_client_limit() {
    let s = start_with(
        "[login]\nclient_burst = 2\nclient_period = \"1h\"\nuser_burst = 100",
        "",
        reqwest::Client::new(),
    )
    .await;
    let mut statuses = Vec::new();
    for (i, user) in ["alice", "root", "nobody"].iter().enumerate() {
        let r = s
            .client
            .post(s.url("/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"username": user, "password": "a wrong guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429], "every request came from 127.0.0.1");
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_refresh_token_revokes_the_family() {
    let s = start().await;
    let (_, r1) = s.tokens("alice", USER_PW).await;
    let refresh = |t: String| {
        s.client
            .post(s.url("/auth/refresh"))
            .json(&json!({ "refresh_token": t }))
            .send()
    };
    let r = refresh(r1.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let r2 = v["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert!(
        s.get("/auth/me", v["access_token"].as_str())
            .await
            .status()
            .is_success()
    );

    let (status, _, body) = error_of(refresh(r1).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("refresh_reused:")
    );
    // The family is gone: the newest token is dead too.
    assert_eq!(refresh(r2).await.unwrap().status(), 401);
    assert_eq!(refresh("x".repeat(43)).await.unwrap().status(), 401);
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_every_session_and_token() {
    let s = start().await;
    let (a1, r1) = s.tokens("alice", USER_PW).await;
    let r = s
        .client
        .post(s.url("/auth/logout"))
        .json(&json!({ "refresh_token": r1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // The session's access token ends with it.
    let (status, _, body) = error_of(s.get("/auth/me", Some(&a1)).await).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"].as_str().unwrap().starts_with("revoked:"),
        "{body}"
    );
    let r = s
        .client
        .post(s.url("/auth/refresh"))
        .json(&json!({ "refresh_token": r1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (a2, r2) = s.tokens("alice", USER_PW).await;
    let (a3, _) = s.tokens("alice", USER_PW).await;
    let r = s
        .client
        .post(s.url("/auth/logout-all"))
        .bearer_auth(&a2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, challenge, body) = error_of(s.get("/auth/me", Some(&a3)).await).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().starts_with("revoked:"));
    assert!(challenge.unwrap().contains("error=\"invalid_token\""));
    let r = s
        .client
        .post(s.url("/auth/refresh"))
        .json(&json!({ "refresh_token": r2 }))
        .send()
        .await
        .unwrap();
    let (status, _, body) = error_of(r).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"].as_str().unwrap().starts_with("revoked:"),
        "{body}"
    );
}

/// Every route that needs a token, walked anonymously and with a broken token.
#[tokio::test]
async fn every_protected_route_refuses_anonymous_and_invalid_callers() {
    let s = start().await;
    let routes = [
        ("GET", "/api/products"),
        ("POST", "/api/products"),
        ("DELETE", "/api/products/abc"),
        ("GET", "/auth/me"),
        ("POST", "/auth/logout-all"),
    ];
    for (method, path) in routes {
        let m: reqwest::Method = method.parse().unwrap();
        let r = s
            .client
            .request(m.clone(), s.url(path))
            .json(&json!({"name": "x", "price": 1}))
            .send()
            .await
            .unwrap();
        let (status, challenge, body) = error_of(r).await;
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(
            challenge.as_deref(),
            Some("Bearer realm=\"jwtauth\""),
            "{method} {path}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("missing_token:")
        );

        let r = s
            .client
            .request(m, s.url(path))
            .header("authorization", "Bearer abc.def.ghi")
            .send()
            .await
            .unwrap();
        let (status, challenge, _) = error_of(r).await;
        assert_eq!(status, 401, "{method} {path}");
        let c = challenge.unwrap();
        assert!(
            c.starts_with("Bearer realm=\"jwtauth\", error=\"invalid_token\", error_description=\"malformed:"),
            "{c}"
        );
    }
    // The OpenAPI document lists no secured operation that the walk above missed.
    let doc: Value = s.get("/openapi.json", None).await.json().await.unwrap();
    let mut secured = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_some() {
                secured.push((method.to_uppercase(), path.replace("{id}", "abc")));
            }
        }
    }
    secured.sort();
    let mut walked: Vec<(String, String)> = routes.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    walked.sort();
    assert_eq!(secured, walked);
}

#[tokio::test]
async fn a_bare_token_without_bearer_is_refused_as_bad_scheme() {
    let s = start().await;
    let (access, _) = s.tokens("alice", USER_PW).await;
    let r = s
        .client
        .get(s.url("/api/products"))
        .header("authorization", access)
        .send()
        .await
        .unwrap();
    let (status, challenge, body) = error_of(r).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().starts_with("bad_scheme:"));
    assert!(challenge.unwrap().contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn products_need_a_token_to_read_and_the_admin_role_to_change() {
    let s = start().await;
    let (user, _) = s.tokens("alice", USER_PW).await;
    let (admin, _) = s.tokens("root", ADMIN_PW).await;
    let list: Value = s.get("/api/products", Some(&user)).await.json().await.unwrap();
    assert_eq!(list, json!([]));

    let post = |token: &str, body: Value| {
        s.client
            .post(s.url("/api/products"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let (status, challenge, body) = error_of(post(&user, json!({"name": "Tea", "price": 2})).await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    let c = challenge.unwrap();
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("insufficient_role:"), "{c}");

    let r = post(&admin, json!({"name": "Tea", "price": 2.5})).await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["name"], "Tea");
    assert_eq!(created["price"], 2.5);

    let (status, _, body) = error_of(
        post(&admin, json!({"name": "", "price": -1, "colour": "red"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["colour", "name", "price"]);
    let (status, _, _) = error_of(
        post(&admin, json!({"name": "x".repeat(201), "price": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);

    let list: Value = s.get("/api/products", Some(&user)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = created["id"].as_str().unwrap();
    let del = |token: &str| {
        s.client
            .delete(s.url(&format!("/api/products/{id}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(del(&user).await.unwrap().status(), 403);
    assert_eq!(del(&admin).await.unwrap().status(), 204);
    assert_eq!(del(&admin).await.unwrap().status(), 404);
}

#[tokio::test]
async fn discovery_and_jwks_let_a_client_verify_tokens_without_a_shared_secret() {
    let s = start().await;
    let (access, _) = s.tokens("alice", USER_PW).await;
    let oidc: Value = s
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], s.auth.config().issuer());
    assert!(oidc["jwks_uri"].as_str().unwrap().ends_with("/.well-known/jwks.json"));
    assert!(oidc["token_endpoint"].as_str().unwrap().ends_with("/oauth/token"));
    assert!(
        oidc.get("id_token_signing_alg_values_supported").is_none(),
        "no ID tokens: {oidc}"
    );

    let jwks: Value = s.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    let kid = header.kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published");
    assert!(jwk.get("d").is_none(), "no private material");
    let key: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_issuer(&[s.auth.config().issuer()]);
    v.set_audience(s.auth.config().audience());
    let data = jsonwebtoken::decode::<Value>(&access, &jsonwebtoken::DecodingKey::from_jwk(&key).unwrap(), &v).unwrap();
    assert_eq!(data.claims["sub"], "alice");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let s = start().await;
    assert_eq!(s.get("/healthz", None).await.status(), 200);
    assert_eq!(s.get("/readyz", None).await.status(), 200);
    let _ = s.get("/api/products", None).await;
    let (access, _) = s.tokens("alice", USER_PW).await;
    for _ in 0..3 {
        assert_eq!(s.get("/api/products", Some(&access)).await.status(), 200);
    }
    let text = s.get("/metrics", None).await.text().await.unwrap();
    // The token was verified once and served from the cache twice.
    let value = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("jwtauth_validation_cache_misses_total "), 1, "{text}");
    assert_eq!(value("jwtauth_validation_cache_hits_total "), 2, "{text}");
    assert_eq!(value("jwtauth_validation_cache_entries "), 1, "{text}");
    assert!(text.contains("jwtauth_http_requests_total"), "{text}");
    assert!(
        text.contains("jwtauth_auth_failures_total{reason=\"missing_token\",issuer=\"\"}"),
        "{text}"
    );
    assert!(text.contains("jwtauth_http_request_duration_seconds_bucket"), "{text}");
    let doc: Value = s.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in [
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/logout-all",
        "/auth/me",
        "/api/products",
        "/api/products/{id}",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from the OpenAPI document");
    }
    assert_eq!(
        s.get("/bench/unprotected-products", None).await.status(),
        404,
        "the benchmark baseline is off by default"
    );
    let (status, _, body) = error_of(s.get("/nope", None).await).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = start().await;
    let big = "x".repeat(jwtauth_server::BODY_LIMIT + 10);
    let r = s
        .client
        .post(s.url("/auth/login"))
        .json(&json!({"username": big, "password": "p"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 413 || r.status() == 400, "{}", r.status());
    assert!(!r.status().is_server_error());
}

#[tokio::test]
async fn a_login_finding_every_hashing_slot_busy_gets_503_with_retry_after() {
    let s = start_with(
        "[login]\nconcurrent_hashes = 2\nhash_wait = \"1ms\"\n[oauth]\npassword_grant = true",
        "",
        reqwest::Client::new(),
    )
    .await;
    let busy_total = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("jwtauth_login_busy_total "))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let before = busy_total(&s.get("/metrics", None).await.text().await.unwrap());
    // Two logins hold both slots (N = 2); the third finds none within hash_wait.
    let slots = s.login.hash_slots();
    let held = (slots.try_acquire().unwrap(), slots.try_acquire().unwrap());
    let r = s.login("alice", USER_PW).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let grant = s
        .client
        .post(s.url("/oauth/token"))
        .form(&[("grant_type", "password"), ("username", "alice"), ("password", USER_PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 503);
    assert_eq!(grant.headers()["retry-after"], "1");
    // An over-long password needs no slot: refused as bad credentials at once.
    let long = "x".repeat(jwtauth_core::users::MAX_PASSWORD_BYTES + 1);
    assert_eq!(s.login("alice", &long).await.status(), 401);
    let after = busy_total(&s.get("/metrics", None).await.text().await.unwrap());
    assert_eq!(after - before, 2, "each busy refusal is counted");
    drop(held);
    assert_eq!(s.login("alice", USER_PW).await.status(), 200);
}
