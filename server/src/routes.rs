//! Handlers: short, no authentication logic (the layers did it), store work off the
//! async workers.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwtauth_core::store::Store;
use jwtauth_core::users::Login;
use jwtauth_core::users::slots::HashSlot;
use jwtauth_core::{JwtAuth, SessionError, TokenPair};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, RequestCtx};
use crate::error::{ApiError, ErrorBody};
use crate::products::{self, NewProduct};

/// A JSON body whose rejection (bad syntax, wrong shape, wrong content type) is our
/// `400 invalid_request`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::TooLarge),
            Err(e) => Err(ApiError::InvalidRequest(rejection_text(&e))),
        }
    }
}

fn rejection_text(e: &JsonRejection) -> String {
    // axum's text names the offending field and position. Where serde quotes a value
    // (a number sent for a string field), it is the caller's own input, sent back to
    // the caller alone: this text is never logged.
    let mut s = e.body_text();
    s.truncate(300);
    s
}

/// Runs blocking core work (store, argon2) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    auth: &std::sync::Arc<JwtAuth>,
    f: impl FnOnce(&JwtAuth) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let auth = auth.clone();
    tokio::task::spawn_blocking(move || f(&auth))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
}

/// Runs short store work (a refresh, a logout) where it costs least. On a SQLite
/// store, on this worker thread: the transaction is a few writes to a local file,
/// cheaper than the two thread hops to the blocking pool and back that a chained
/// refresh otherwise waits for, and any wait inside it (for the write lock, for a
/// checkpoint) is handed off with `block_in_place`. On the blocking pool when the
/// store is PostgreSQL (a network round trip per statement), when another call
/// holds the SQLite connection now, or off a multi-threaded runtime (where
/// `block_in_place` is not available).
pub async fn store_work<T: Send + 'static>(
    auth: &std::sync::Arc<JwtAuth>,
    f: impl FnOnce(&JwtAuth) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = auth.store();
    let on_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_worker && store.runs_inline() && !store.busy() {
        // A panic is answered as the blocking pool's would be, not by dropping the connection.
        let inline = || Store::inline(|wait| tokio::task::block_in_place(wait), || f(auth));
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(inline))
            .unwrap_or_else(|_| Err(ApiError::Internal("store work panicked".into())));
    }
    blocking(auth, f).await
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// A token response (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWS).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token: spend it once on `/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until the refresh token expires unless used.
    pub refresh_expires_in: i64,
}

fn token_response(auth: &JwtAuth, pair: &TokenPair) -> TokenResponse {
    let now = auth.now();
    TokenResponse {
        access_token: pair.access.token.clone(),
        token_type: "Bearer",
        expires_in: (pair.access.expires_at - now).max(0),
        refresh_token: pair.refresh_token.expose().to_owned(),
        refresh_expires_in: (pair.refresh_expires_at - now).max(0),
    }
}

fn no_store(json: impl Serialize) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(json)).into_response()
}

/// A hashing slot for a login with `password`, waited for on the async side so
/// that a storm of logins queues here rather than filling the blocking pool (which
/// refreshes and store calls share). `None` when the password is refused without
/// hashing; [`ApiError::Busy`] after `login.hash_wait` without a free slot.
pub async fn hash_slot(login: &Login, password: &str) -> Result<Option<HashSlot>, ApiError> {
    if !login.needs_slot(password) {
        return Ok(None);
    }
    let slots = login.hash_slots();
    tokio::time::timeout(slots.limits().hash_wait, slots.acquire_async())
        .await
        .map(Some)
        .map_err(|_| ApiError::Busy)
}

/// Logs in with a username and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Bad credentials (`invalid_grant`)", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store is unavailable (`unavailable`), or every password hashing slot stayed busy (`temporarily_unavailable`); see Retry-After",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let login = state.login.clone();
    let slot = hash_slot(&login, &body.password).await?;
    let response = blocking(&state.auth, move |auth| {
        let pair = login.login_in_slot(
            slot,
            auth.users(),
            &body.username,
            &body.password,
            ctx.client_ip(),
            &ctx.info(),
        )?;
        Ok(token_response(auth, &pair))
    })
    .await?;
    Ok(no_store(response))
}

/// Spends a refresh token for a new pair (rotation; a replayed token revokes its session).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = ErrorBody),
        (status = 503, description = "The store is unavailable (`unavailable`); nothing was spent; retry after Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ctx: RequestCtx,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let response = store_work(&state.auth, move |auth| {
        let pair = auth
            .sessions()
            .refresh(&body.refresh_token, &ctx.info())
            .map_err(|e| match e {
                // Every refresh failure, a revoked session included, is a dead grant.
                SessionError::Auth(a) => ApiError::Grant(a),
                SessionError::Limited {
                    error,
                    retry_after_secs,
                } => ApiError::Limited(error, retry_after_secs),
                other => other.into(),
            })?;
        Ok(token_response(auth, &pair))
    })
    .await?;
    metrics::counter!("jwtauth_refresh_rotations_total").increment(1);
    Ok(no_store(response))
}

/// Ends the session of a refresh token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out (also when the token was unknown)"),
        (status = 400, description = "Malformed body", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    store_work(&state.auth, move |auth| {
        Ok(auth.sessions().revoke(&body.refresh_token)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller; its access tokens stop validating.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn logout_all(State(state): State<AppState>, Caller(claims): Caller) -> Result<StatusCode, ApiError> {
    blocking(&state.auth, move |auth| {
        Ok(auth.sessions().revoke_subject(claims.subject())?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's verified claims.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims of the access token", body = Object),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn me(State(state): State<AppState>, Caller(claims): Caller) -> Json<Value> {
    Json(claims.to_json(state.auth.config().roles_claim()))
}

/// A product.
#[derive(Serialize, ToSchema)]
pub struct ProductBody {
    /// Id.
    pub id: String,
    /// Name (1–200 characters).
    pub name: String,
    /// Price (≥ 0).
    pub price: f64,
}

/// A product to create. Unknown members are refused.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the request body; the core checks the JSON itself
pub struct NewProductBody {
    /// Name, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Price, ≥ 0.
    #[schema(minimum = 0)]
    price: f64,
}

impl From<products::Product> for ProductBody {
    fn from(p: products::Product) -> Self {
        ProductBody {
            id: p.id,
            name: p.name,
            price: p.price,
        }
    }
}

/// Lists products (any valid token).
#[utoipa::path(get, path = "/api/products", tag = "api", security(("bearer" = [])),
    responses(
        (status = 200, description = "Products", body = Vec<ProductBody>),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn list_products(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = state.catalog.body(&state.auth).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Creates a product (role Admin).
#[utoipa::path(post, path = "/api/products", tag = "api", security(("bearer" = [])),
    request_body = NewProductBody,
    responses(
        (status = 201, description = "Created", body = ProductBody),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Role Admin required", body = ErrorBody),
        (status = 422, description = "Invalid fields, one error each", body = ErrorBody),
    ))]
pub async fn create_product(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<ProductBody>), ApiError> {
    let new = NewProduct::from_json(&input).map_err(ApiError::Invalid)?;
    let p = blocking(&state.auth, move |auth| {
        Ok(products::add(auth.store(), &new, auth.now())?)
    })
    .await;
    state.catalog.changed();
    let p = p?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// Deletes a product (role Admin).
#[utoipa::path(delete, path = "/api/products/{id}", tag = "api", security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Role Admin required", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
pub async fn delete_product(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let deleted = blocking(&state.auth, move |auth| Ok(products::delete(auth.store(), &id)?)).await;
    state.catalog.changed();
    if deleted? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The public keys (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        // Short enough that a key published by a rotation is fetched before it signs.
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.auth.config().jwks_max_age().as_secs()),
        )],
        Json(state.auth.verifier().jwks()),
    )
        .into_response()
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store answers. The body also reports each trusted external
/// issuer (usable or not, its keys, last fetch, next refresh, last error): an
/// unreachable issuer fails only its own tokens, so it does not make this unready.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready (with the state of each trusted issuer)", body = Object),
        (status = 503, description = "The store is unreachable", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    blocking(&state.auth, |auth| {
        auth.store().ping().map_err(|_| ApiError::Unavailable)
    })
    .await?;
    let issuers = trusted_issuer_gauges(&state);
    if issuers.is_empty() {
        return Ok(Json(serde_json::json!({"status": "ready"})));
    }
    Ok(Json(serde_json::json!({"status": "ready", "trusted_issuers": issuers})))
}

/// Sets the trusted-issuer gauges from what the core knows now, and returns it as JSON.
fn trusted_issuer_gauges(state: &AppState) -> Vec<Value> {
    state
        .auth
        .verifier()
        .trusted_issuers()
        .iter()
        .map(|s| {
            metrics::gauge!("jwtauth_trusted_issuer_up", "issuer" => s.issuer.clone()).set(if s.usable {
                1.0
            } else {
                0.0
            });
            metrics::gauge!("jwtauth_trusted_issuer_keys", "issuer" => s.issuer.clone()).set(s.keys.len() as f64);
            s.to_json()
        })
        .collect()
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    trusted_issuer_gauges(&state);
    metrics::counter!("jwtauth_failure_log_suppressed_lines_total").absolute(jwtauth_core::audit::suppressed_lines());
    metrics::counter!("jwtauth_failure_log_lost_lines_total").absolute(jwtauth_core::audit::lost_lines());
    if let Some(c) = state.auth.verifier().cache_stats() {
        metrics::counter!("jwtauth_validation_cache_hits_total").absolute(c.hits);
        metrics::counter!("jwtauth_validation_cache_misses_total").absolute(c.misses);
        metrics::gauge!("jwtauth_validation_cache_entries").set(c.entries as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
