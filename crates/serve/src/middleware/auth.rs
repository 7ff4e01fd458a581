//! The API-key check of every request (the keys and which routes need which scope are
//! [`crate::api_keys`]): lets through open routes and requests with a key of the
//! route's scope, and refuses the others in the body shape of the route's protocol.

use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};

use crate::api_keys::{Scope, public_route, required_scope};
use crate::error::ApiError;
use crate::protocol::mlflow::MlflowError;
use crate::protocol::native::NativeError;
use crate::protocol::v2::V2Error;
use crate::state::AppState;

/// The key a request presents: `Authorization: Bearer KEY` or `X-API-Key: KEY`.
fn presented(req: &ServiceRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Renders `error` in the body shape of the protocol `path` belongs to.
fn rejection(path: &str, error: ApiError) -> actix_web::HttpResponse {
    if path == "/v2" || path.starts_with("/v2/") {
        V2Error::from(error).error_response()
    } else if path == "/invocations" {
        MlflowError::from(error).error_response()
    } else {
        NativeError::from(error).error_response()
    }
}

/// The API-key check of a request: `None` lets it through (no keys configured, an open
/// route, or a key of the route's scope), `Some` is the refusal to answer instead, in
/// the body shape of the route's protocol (a 401 carries `WWW-Authenticate: Bearer`). The
/// request middleware ([`crate::middleware::trace`]) runs it inside the request's span,
/// so refusals get a request id, are counted and traced like every answer.
pub(crate) fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    let keys = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.auth.as_ref())?;
    if keys.is_public(public_route(req.path())) {
        return None;
    }
    let scope = required_scope(req.path());
    let error = match presented(req).map(|p| keys.find(p)) {
        None => ApiError::Unauthorized(
            "this route needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY"
                .to_owned(),
        ),
        Some(None) => ApiError::Unauthorized("the API key is not valid".to_owned()),
        Some(Some(key)) => {
            let allowed = match scope {
                Scope::Predict => key.scopes.predict,
                Scope::Admin => key.scopes.admin,
            };
            if allowed {
                return None;
            }
            ApiError::Forbidden(format!(
                "the API key '{}' has scope {}; this route needs {scope}",
                key.name, key.scopes
            ))
        }
    };
    let path = req.path();
    tracing::debug!(%path, error = %error, "Request refused.");
    let mut response = rejection(path, error);
    if response.status() == actix_web::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    Some(response)
}
