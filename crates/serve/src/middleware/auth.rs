//! The API-key check of every request (the keys and which routes need which scope are
//! [`crate::api_keys`]): lets through open routes and requests with a key of the
//! route's scope, and refuses the others in the body shape of the route's protocol.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

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

/// The middleware: lets through open routes and requests with a key of the route's
/// scope; answers 401 or 403 otherwise. With auth disabled, lets everything through.
///
/// # Errors
/// The inner service's errors.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let keys = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.auth.clone());
    let Some(keys) = keys else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if keys.is_public(public_route(req.path())) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let scope = required_scope(req.path());
    let verdict = match presented(&req).map(|p| keys.find(p)) {
        None => Err(ApiError::Unauthorized(
            "this route needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY"
                .to_owned(),
        )),
        Some(None) => Err(ApiError::Unauthorized(
            "the API key is not valid".to_owned(),
        )),
        Some(Some(key)) => {
            let allowed = match scope {
                Scope::Predict => key.scopes.predict,
                Scope::Admin => key.scopes.admin,
            };
            if allowed {
                Ok(())
            } else {
                Err(ApiError::Forbidden(format!(
                    "the API key '{}' has scope {}; this route needs {scope}",
                    key.name, key.scopes
                )))
            }
        }
    };
    match verdict {
        Ok(()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(error) => {
            let path = req.path().to_owned();
            tracing::debug!(%path, error = %error, "Request refused.");
            let (req, _) = req.into_parts();
            let mut response = rejection(&path, error);
            if response.status() == actix_web::http::StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            Ok(ServiceResponse::new(req, response).map_into_right_body())
        }
    }
}
