//! The one error type of the HTTP API: each core failure becomes its status, its
//! RFC 6750 `WWW-Authenticate` header and its JSON body here, and nowhere else.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwtauth_core::users::LoginError;
use jwtauth_core::{AuthError, Error, KeyAdminError, Reason, SessionError, StoreError, UserError};

use crate::products::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// Why the metadata routes answer 404 (also said once at start).
pub const NO_METADATA: &str = "no metadata: neither `issuer` nor `server.public_url` is an absolute URL (https://..., or http:// on loopback), so no endpoint URL can be given. Set server.public_url, e.g. \"https://auth.example.com\"";

/// The realm named in every `WWW-Authenticate` challenge.
pub const REALM: &str = "jwtauth";

/// An error body: `{"error": …, "error_description": …}` (RFC 6749 §5.2, RFC 6750 §3).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `invalid_token`, `insufficient_scope`, `invalid_grant`,
    /// `invalid_request`, `rate_limited`, `not_found`, `server_error`, `unavailable`,
    /// `temporarily_unavailable`.
    pub error: String,
    /// `<reason>: <hint>` for authentication failures; a sentence otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// One entry per rejected input field (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorBody>>,
}

/// A rejected input field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// JSON member name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// An authentication failure from the core (token, role, credentials, refresh).
    Auth(AuthError),
    /// A failure at a token endpoint (refresh): RFC 6749 `invalid_grant` whatever the reason.
    Grant(AuthError),
    /// Too many login attempts.
    Limited(AuthError, u64),
    /// The request body is not what the endpoint takes.
    InvalidRequest(String),
    /// The request body is over the size limit (413).
    TooLarge,
    /// Input fields failed validation.
    Invalid(Vec<FieldError>),
    /// No such resource.
    NotFound,
    /// The metadata routes, when no absolute URL is configured to build them from.
    NoMetadata,
    /// The store cannot be reached.
    Unavailable,
    /// Every password hashing slot stayed busy for `login.hash_wait`.
    Busy,
    /// Anything else; details go to the server log, never to the client.
    Internal(String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Auth(a) => ApiError::Auth(a),
            Error::Store(s) => {
                tracing::error!(error = %s, "store failure");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The service errors of the core, each handled like the same case of [`Error`].
macro_rules! via_core_error {
    ($($t:ty),*) => {
        $(impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                Error::from(e).into()
            }
        })*
    };
}

via_core_error!(StoreError, SessionError, UserError, KeyAdminError);

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Limited {
                error,
                retry_after_secs,
            } => ApiError::Limited(error, retry_after_secs),
            LoginError::Failed(e) => e.into(),
            // A store failure among them is a 503 like everywhere else.
            LoginError::Error(e) => e.into(),
            LoginError::Busy(_) => ApiError::Busy,
        }
    }
}

/// A header-safe rendering of a hint (RFC 7235 quoted-string, bounded).
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .take(300)
        .collect()
}

fn body(status: StatusCode, error: &str, description: Option<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: error.into(),
            error_description: description,
            errors: None,
        }),
    )
        .into_response()
}

/// Counts a failure by reason and by the issuer that judged it (configured
/// issuers only, so the label's values are bounded; empty when none was chosen).
fn count_failure(e: &AuthError) {
    let issuer = e.issuer.clone().unwrap_or_default();
    metrics::counter!("jwtauth_auth_failures_total", "reason" => e.reason.as_str(), "issuer" => issuer).increment(1);
}

fn with_challenge(mut r: Response, challenge: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Auth(e) => {
                count_failure(&e);
                let description = format!("{}: {}", e.reason.as_str(), e.hint);
                match e.reason {
                    // RFC 6750 §3.1: no token at all gets a bare challenge.
                    Reason::MissingToken => with_challenge(
                        body(StatusCode::UNAUTHORIZED, "invalid_token", Some(description)),
                        format!("Bearer realm=\"{REALM}\""),
                    ),
                    Reason::InsufficientRole => with_challenge(
                        body(StatusCode::FORBIDDEN, "insufficient_scope", Some(description.clone())),
                        format!(
                            "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", error_description=\"{}\"",
                            quoted(&description)
                        ),
                    ),
                    Reason::BadCredentials
                    | Reason::RefreshInvalid
                    | Reason::RefreshExpired
                    | Reason::RefreshReused => with_challenge(
                        body(StatusCode::UNAUTHORIZED, "invalid_grant", Some(description)),
                        format!("Bearer realm=\"{REALM}\""),
                    ),
                    Reason::RateLimited => body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", Some(description)),
                    _ => with_challenge(
                        body(StatusCode::UNAUTHORIZED, "invalid_token", Some(description.clone())),
                        format!(
                            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                            quoted(&description)
                        ),
                    ),
                }
            }
            ApiError::Grant(e) => {
                count_failure(&e);
                with_challenge(
                    body(
                        StatusCode::UNAUTHORIZED,
                        "invalid_grant",
                        Some(format!("{}: {}", e.reason.as_str(), e.hint)),
                    ),
                    format!("Bearer realm=\"{REALM}\""),
                )
            }
            ApiError::Limited(e, secs) => {
                count_failure(&e);
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    Some(format!("{}: {}", e.reason.as_str(), e.hint)),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            ApiError::InvalidRequest(d) => body(StatusCode::BAD_REQUEST, "invalid_request", Some(d)),
            ApiError::TooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                Some(format!("the request body is larger than {} bytes", crate::BODY_LIMIT)),
            ),
            ApiError::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ErrorBody {
                    error: "invalid_request".into(),
                    error_description: Some("the input has invalid fields".into()),
                    errors: Some(
                        fields
                            .into_iter()
                            .map(|f| FieldErrorBody {
                                field: f.field,
                                message: f.message,
                            })
                            .collect(),
                    ),
                }),
            )
                .into_response(),
            ApiError::NotFound => body(StatusCode::NOT_FOUND, "not_found", None),
            ApiError::NoMetadata => body(StatusCode::NOT_FOUND, "not_found", Some(NO_METADATA.into())),
            ApiError::Unavailable => {
                let mut r = body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    Some("the store is unavailable; retry later".into()),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
                r
            }
            ApiError::Busy => {
                // Not an authentication failure (nothing was checked): counted apart.
                metrics::counter!("jwtauth_login_busy_total").increment(1);
                let mut r = body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    Some("every password hashing slot is busy; retry in 1 s".into()),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
                r
            }
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                body(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_text_cannot_break_out_of_its_quotes() {
        assert_eq!(quoted("a\"b\\c\nd"), "abcd");
    }

    #[test]
    fn a_store_failure_is_503_whichever_service_reports_it() {
        let down = || StoreError::Query("connection refused".into());
        let status = |e: ApiError| e.into_response().status();
        assert_eq!(status(down().into()), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            status(LoginError::from(down()).into()),
            StatusCode::SERVICE_UNAVAILABLE,
            "a login whose session cannot be written"
        );
        assert_eq!(
            status(SessionError::Store(down()).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(LoginError::Error(UserError::Session(SessionError::Store(down()))).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let r = ApiError::Unavailable.into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        // Not a store failure: still a 500 that says nothing to the client.
        assert_eq!(
            status(LoginError::Error(UserError::Hashing("bad params".into())).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn each_reason_maps_to_its_status() {
        let status = |r: Reason| ApiError::Auth(AuthError::new(r, "h")).into_response().status();
        assert_eq!(status(Reason::MissingToken), StatusCode::UNAUTHORIZED);
        assert_eq!(status(Reason::Expired), StatusCode::UNAUTHORIZED);
        assert_eq!(status(Reason::InsufficientRole), StatusCode::FORBIDDEN);
        assert_eq!(status(Reason::RefreshReused), StatusCode::UNAUTHORIZED);
        assert_eq!(status(Reason::RateLimited), StatusCode::TOO_MANY_REQUESTS);
        for &r in Reason::ALL {
            assert!(status(r).is_client_error(), "{r}");
        }
    }
}
