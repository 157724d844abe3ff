//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{error, oauth, routes};

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "jwtauth-server", description = "JWT authentication runtime: login, refresh, JWKS and a sample secured API."),
    paths(
        routes::login, routes::refresh, routes::logout, routes::logout_all, routes::me,
        routes::list_products, routes::create_product, routes::delete_product,
        routes::jwks, oauth::openid_configuration, oauth::authorization_server,
        oauth::token, oauth::revoke, oauth::introspect, routes::healthz, routes::readyz, routes::metrics,
    ),
    components(schemas(error::ErrorBody, error::FieldErrorBody, routes::TokenResponse, routes::ProductBody)),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
