//! A bare axum + jsonwebtoken server: the comparison for jwtauth-server in
//! `scripts/bench.sh`. `GET /api/products` validates a Bearer token in an extractor
//! (HS256 with `SECRET`, or ES256 with the P-256 point `EC_X`, `EC_Y` from a JWKS;
//! `ISS` and `AUD` checked, `exp` required) and answers `BODY`;
//! `GET /bench/unprotected-products` answers `BODY` without a token. Two tokio
//! workers, like jwtauth-server on this machine. Prints `listening on http://ADDR`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

struct App {
    key: DecodingKey,
    validation: Validation,
    body: &'static str,
}

#[derive(Deserialize)]
#[allow(dead_code)] // decoded as a handler would, not read
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

struct Authed(#[allow(dead_code)] Claims);

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, StatusCode> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        decode::<Claims>(token, &app.key, &app.validation)
            .map(|t| Authed(t.claims))
            .map_err(|_| StatusCode::UNAUTHORIZED)
    }
}

async fn products(_: Authed, State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.body).into_response()
}

async fn unprotected(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.body).into_response()
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn app() -> Result<App, String> {
    let (alg, key) = match env("ALG")?.as_str() {
        "HS256" => (Algorithm::HS256, DecodingKey::from_secret(env("SECRET")?.as_bytes())),
        "ES256" => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(&env("EC_X")?, &env("EC_Y")?),
        ),
        other => return Err(format!("ALG {other} is not HS256 or ES256")),
    };
    let key = key.map_err(|e| e.to_string())?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[env("ISS")?]);
    validation.set_audience(&[env("AUD")?]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(App {
        key,
        validation,
        body: Box::leak(env("BODY")?.into_boxed_str()),
    })
}

fn main() -> Result<(), String> {
    let app = Arc::new(app()?);
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{addr}");
        let router = Router::new()
            .route("/api/products", get(products))
            .route("/bench/unprotected-products", get(unprotected))
            .with_state(app);
        axum::serve(listener, router).await.map_err(|e| e.to_string())
    })
}
