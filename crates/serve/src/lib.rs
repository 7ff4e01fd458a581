//! serve: Ferry's model server. Serves every registered model (or the ones named) over
//! HTTP with actix-web: health and readiness, model metadata, single and batch
//! prediction through `ModelBundle::predict` (the same call training evaluates with),
//! and one error table ([`error::ApiError`]) so bad input always gets a JSON 4xx naming
//! the problem.
//!
//! [`app`] builds the application for a given [`AppState`]; the binary and the tests
//! both use it.

pub mod api;
pub mod config;
pub mod error;
pub mod request_id;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

pub use config::{Limits, ServeConfig};
pub use error::{ApiError, ErrorCode};
pub use state::AppState;

/// The header carrying the served model version on prediction responses.
pub static MODEL_VERSION_HEADER: HeaderName = HeaderName::from_static("x-model-version");

/// The JSON extractor's config: the body limit, and every payload error turned into an
/// [`ApiError`] (413, 415 or 400) so clients get the same JSON error body.
#[must_use]
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, req| {
            #[allow(
                clippy::wildcard_enum_match_arm,
                reason = "JsonPayloadError is non_exhaustive"
            )]
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge { limit },
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                    req.headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map_or_else(|| "no content-type".to_owned(), |v| format!("'{v}'")),
                ),
                JsonPayloadError::Deserialize(e) => ApiError::InvalidJson(e.to_string()),
                JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
                    ApiError::PayloadTooLarge { limit }
                }
                JsonPayloadError::Payload(e) => {
                    ApiError::InvalidRequest(format!("cannot read the request body: {e}"))
                }
                other => ApiError::Internal(other.to_string()),
            };
            api.into()
        })
}

/// The application: the request-id middleware around the route table.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(from_fn(request_id::middleware))
        .configure(move |cfg| api::configure(cfg, &state))
}
