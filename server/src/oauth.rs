//! The OAuth 2.0 endpoints for standard clients: token (RFC 6749 §3.2, §5),
//! revocation (RFC 7009), introspection (RFC 7662) and the authorization server
//! metadata (RFC 8414). HTTP mapping only: grants, client authentication and
//! token checks are the core's.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jwtauth_core::clients::{CLIENT_ID_CLAIM, basic_credentials};
use jwtauth_core::users::LoginError;
use jwtauth_core::{ClientError, JwtAuth, SessionError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::RequestCtx;
use crate::error::{ApiError, REALM};
use crate::routes::{blocking, store_work};

/// The parameters of every OAuth endpoint (unknown ones are ignored, RFC 6749 §3.2).
#[derive(Debug, Default, Deserialize)]
pub struct OAuthParams {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

/// An OAuth failure, answered as RFC 6749 §5.2 says.
#[derive(Debug)]
pub enum OAuthError {
    /// 400: the request is malformed.
    InvalidRequest(String),
    /// 401 with `WWW-Authenticate: Basic`: client authentication failed.
    InvalidClient(String),
    /// 400: the grant (refresh token, password) is invalid, expired or revoked.
    InvalidGrant(String),
    /// 400: a grant type this server does not take.
    UnsupportedGrantType(String),
    /// Anything else, answered like the rest of the API.
    Api(ApiError),
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        OAuthError::Api(e)
    }
}

impl From<ClientError> for OAuthError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Auth(a) => OAuthError::InvalidClient(format!("{}: {}", a.reason, a.hint)),
            other => OAuthError::Api(ApiError::from(jwtauth_core::Error::from(other))),
        }
    }
}

fn oauth_body(status: StatusCode, error: &str, description: String) -> Response {
    let mut r = (status, Json(json!({"error": error, "error_description": description}))).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self {
            OAuthError::InvalidRequest(d) => oauth_body(StatusCode::BAD_REQUEST, "invalid_request", d),
            OAuthError::InvalidGrant(d) => oauth_body(StatusCode::BAD_REQUEST, "invalid_grant", d),
            OAuthError::UnsupportedGrantType(d) => oauth_body(StatusCode::BAD_REQUEST, "unsupported_grant_type", d),
            OAuthError::InvalidClient(d) => {
                let mut r = oauth_body(StatusCode::UNAUTHORIZED, "invalid_client", d);
                if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\"")) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r
            }
            OAuthError::Api(e) => e.into_response(),
        }
    }
}

/// The body: `application/x-www-form-urlencoded` as RFC 6749 says, or JSON.
pub struct Params(pub OAuthParams);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = OAuthError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if json {
            Json::<OAuthParams>::from_request(req, state)
                .await
                .map(|Json(p)| Params(p))
                .map_err(|e| OAuthError::InvalidRequest(clipped(e.body_text())))
        } else {
            Form::<OAuthParams>::from_request(req, state)
                .await
                .map(|Form(p)| Params(p))
                .map_err(|e| OAuthError::InvalidRequest(clipped(e.body_text())))
        }
    }
}

fn clipped(mut s: String) -> String {
    s.truncate(300);
    s
}

/// How the client authenticated, if it did.
enum ClientAuth {
    /// No secret anywhere (a public client; a `client_id` alone is tolerated).
    None,
    /// `client_secret_basic` or `client_secret_post`.
    Secret(String, String),
}

fn client_auth(headers: &HeaderMap, p: &OAuthParams) -> Result<ClientAuth, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').filter(|(s, _)| s.eq_ignore_ascii_case("basic")))
        .map(|(_, cred)| cred.trim().to_owned());
    match (basic, &p.client_secret) {
        (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(
            "the client authenticated twice (Basic header and client_secret); use one method".into(),
        )),
        (Some(cred), None) => {
            let (id, secret) = basic_credentials(&cred)
                .ok_or_else(|| OAuthError::InvalidClient("the Basic credentials are not base64 of id:secret".into()))?;
            if p.client_id.as_ref().is_some_and(|body_id| *body_id != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id in the body differs from the Basic credentials".into(),
                ));
            }
            Ok(ClientAuth::Secret(id, secret))
        }
        (None, Some(secret)) => match &p.client_id {
            Some(id) => Ok(ClientAuth::Secret(id.clone(), secret.clone())),
            None => Err(OAuthError::InvalidRequest("client_secret without client_id".into())),
        },
        (None, None) => Ok(ClientAuth::None),
    }
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("the {name} parameter is missing")))
}

fn token_body(auth: &JwtAuth, access: &jwtauth_core::Issued, refresh: Option<(&str, i64)>) -> Response {
    let now = auth.now();
    let mut body = json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": (access.expires_at - now).max(0),
    });
    if let Some((token, expires_at)) = refresh {
        body["refresh_token"] = token.into();
        body["refresh_expires_in"] = (expires_at - now).max(0).into();
    }
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /oauth/token`: `refresh_token`, `client_credentials`, and `password` when enabled.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
        description = "RFC 6749 parameters: grant_type, refresh_token, username, password, client_id, client_secret"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1)", body = Object),
        (status = 400, description = "invalid_request, invalid_grant or unsupported_grant_type", body = Object),
        (status = 401, description = "invalid_client", body = Object),
        (status = 429, description = "Too many password attempts", body = Object),
    ))]
pub async fn token(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Params(p): Params,
) -> Result<Response, OAuthError> {
    let client = client_auth(&headers, &p)?;
    let grant = required(&p.grant_type, "grant_type")?.to_owned();
    match grant.as_str() {
        "client_credentials" => {
            let ClientAuth::Secret(id, secret) = client else {
                return Err(OAuthError::InvalidClient(
                    "client_credentials needs client authentication (client_secret_basic or client_secret_post)".into(),
                ));
            };
            let r = blocking(&state.auth, move |auth| {
                Ok(auth
                    .clients()
                    .token(&id, &secret, &ctx.info())
                    .map(|issued| token_body(auth, &issued, None)))
            })
            .await??;
            metrics::counter!("jwtauth_client_credentials_tokens_total").increment(1);
            Ok(r)
        }
        "refresh_token" => {
            let refresh = required(&p.refresh_token, "refresh_token")?.to_owned();
            let r = store_work(&state.auth, move |auth| {
                if let ClientAuth::Secret(id, secret) = &client
                    && let Err(e) = auth.clients().authenticate(id, secret, &ctx.info())
                {
                    return Ok(Err(OAuthError::from(e)));
                }
                Ok(match auth.sessions().refresh(&refresh, &ctx.info()) {
                    Ok(pair) => Ok(token_body(
                        auth,
                        &pair.access,
                        Some((pair.refresh_token.expose(), pair.refresh_expires_at)),
                    )),
                    Err(SessionError::Auth(a)) => Err(OAuthError::InvalidGrant(format!("{}: {}", a.reason, a.hint))),
                    Err(SessionError::Limited {
                        error,
                        retry_after_secs,
                    }) => Err(OAuthError::Api(ApiError::Limited(error, retry_after_secs))),
                    Err(other) => Err(OAuthError::Api(other.into())),
                })
            })
            .await??;
            metrics::counter!("jwtauth_refresh_rotations_total").increment(1);
            Ok(r)
        }
        "password" if state.auth.config().password_grant() => {
            let username = required(&p.username, "username")?.to_owned();
            let password = required(&p.password, "password")?.to_owned();
            let login = state.login.clone();
            let slot = crate::routes::hash_slot(&login, &password).await?;
            blocking(&state.auth, move |auth| {
                let mut info = ctx.info();
                if let ClientAuth::Secret(id, secret) = &client {
                    if let Err(e) = auth.clients().authenticate(id, secret, &info) {
                        return Ok(Err(OAuthError::from(e)));
                    }
                    // Authenticated: the session remembers which client started it.
                    info.client_id = Some(id);
                }
                Ok(
                    match login.login_in_slot(slot, auth.users(), &username, &password, ctx.client_ip(), &info) {
                        Ok(pair) => Ok(token_body(
                            auth,
                            &pair.access,
                            Some((pair.refresh_token.expose(), pair.refresh_expires_at)),
                        )),
                        Err(LoginError::Failed(a)) => {
                            Err(OAuthError::InvalidGrant(format!("{}: {}", a.reason, a.hint)))
                        }
                        Err(other) => Err(OAuthError::Api(other.into())),
                    },
                )
            })
            .await?
        }
        other => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type '{}' is not taken here; this server takes {}",
            jwtauth_core::error::clip(other),
            grants(state.auth.config()).join(", ")
        ))),
    }
}

/// `POST /oauth/revoke` (RFC 7009): a refresh token ends its session; unknown
/// tokens (and access tokens, which expire by themselves) get 200 too.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
        description = "token, optional token_type_hint, client_id / client_secret"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request", body = Object),
        (status = 401, description = "invalid_client", body = Object),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Params(p): Params,
) -> Result<Response, OAuthError> {
    let client = client_auth(&headers, &p)?;
    let token = required(&p.token, "token")?.to_owned();
    store_work(&state.auth, move |auth| {
        if let ClientAuth::Secret(id, secret) = &client
            && let Err(e) = auth.clients().authenticate(id, secret, &ctx.info())
        {
            return Ok(Err(OAuthError::from(e)));
        }
        auth.sessions().revoke(&token)?;
        Ok(Ok(()))
    })
    .await??;
    Ok(([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response())
}

/// `POST /oauth/introspect` (RFC 7662): registered clients only. An inactive
/// token is `{"active": false}` and nothing more.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
        description = "token, with client_secret_basic or client_secret_post"),
    responses(
        (status = 200, description = "RFC 7662 §2.2 response", body = Object),
        (status = 400, description = "invalid_request", body = Object),
        (status = 401, description = "invalid_client", body = Object),
    ))]
pub async fn introspect(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Params(p): Params,
) -> Result<Response, OAuthError> {
    let ClientAuth::Secret(id, secret) = client_auth(&headers, &p)? else {
        return Err(OAuthError::InvalidClient(
            "introspection needs client authentication (client_secret_basic or client_secret_post)".into(),
        ));
    };
    let token = required(&p.token, "token")?.to_owned();
    let roles_claim = state.auth.config().roles_claim().to_owned();
    let body = blocking(&state.auth, move |auth| {
        if let Err(e) = auth.clients().authenticate(&id, &secret, &ctx.info()) {
            return Ok(Err(OAuthError::from(e)));
        }
        Ok(Ok(match auth.verifier().validate_with(&token, &ctx.info()) {
            Ok(c) => {
                let mut v = json!({
                    "active": true,
                    "token_type": "Bearer",
                    "sub": c.subject(),
                    "iss": c.issuer(),
                    "aud": c.audience(),
                    "exp": c.expires_at(),
                    "iat": c.issued_at(),
                    roles_claim: c.roles(),
                });
                if let Some(client) = c.get(CLIENT_ID_CLAIM) {
                    v["client_id"] = client;
                }
                v
            }
            Err(_) => json!({"active": false}),
        }))
    })
    .await??;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The grant types `/oauth/token` takes with this configuration.
pub fn grants(config: &jwtauth_core::Config) -> Vec<&'static str> {
    let mut g = vec!["refresh_token", "client_credentials"];
    if config.password_grant() {
        g.push("password");
    }
    g
}

/// The metadata document, or why there is none.
fn metadata(state: &AppState) -> Result<Value, ApiError> {
    let c = state.auth.config();
    let Some(base) = c.public_base_url() else {
        return Err(ApiError::NoMetadata);
    };
    let mut algs: Vec<String> = state
        .auth
        .verifier()
        .key_ring()
        .keys()
        .iter()
        .map(|k| k.algorithm().to_string())
        .collect();
    algs.sort();
    algs.dedup();
    Ok(json!({
        "issuer": c.issuer(),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "grant_types_supported": grants(c),
        // RFC 8414 requires the member and clients refuse an empty list; "none"
        // (no credentials from an authorization endpoint) is the truthful value.
        "response_types_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "jti", "client_id", c.roles_claim()],
    }))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses(
        (status = 200, description = "Authorization server metadata", body = Object),
        (status = 404, description = "Neither issuer nor server.public_url is an absolute URL", body = Object),
    ))]
pub async fn authorization_server(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    metadata(&state).map(Json)
}

/// `GET /.well-known/openid-configuration`: the same document, read by clients
/// such as ASP.NET JwtBearer for `issuer` and `jwks_uri`. jwtauth is not an
/// OpenID Provider: no authorization endpoint, no ID tokens.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses(
        (status = 200, description = "Discovery document", body = Object),
        (status = 404, description = "Neither issuer nor server.public_url is an absolute URL", body = Object),
    ))]
pub async fn openid_configuration(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    metadata(&state).map(Json)
}
