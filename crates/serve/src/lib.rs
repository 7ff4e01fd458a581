//! serve: Ferry's model server. Serves every registered model (or the ones named) over
//! HTTP with actix-web: health and readiness, model metadata, single and batch
//! prediction, and one error table ([`error::ErrorCode`]) so bad input always gets a
//! JSON 4xx naming the problem.
//!
//! A prediction goes through one seam: a protocol module decodes the request bytes into
//! rows ([`protocol::native`] for Ferry's own JSON), the one inference step
//! (`AppState::find` by name and version, then [`infer::infer`]) calls
//! `Predictor::predict` (the same call training evaluates with), and the protocol
//! encodes the answer, or renders the error from the shared table.
//!
//! [`app`] builds the application for a given [`AppState`]; the binary and the tests
//! both use it.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod infer;
pub mod metrics;
pub mod monitor;
pub mod prediction_log;
pub mod protocol;
pub mod request_id;
pub mod server;
pub mod state;

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::from_fn;

pub use config::{Limits, ServeConfig};
pub use error::{ApiError, ErrorCode};
pub use state::AppState;

/// The API version in every response.
pub const API_VERSION: &str = "v1";

/// The header carrying the served model version on prediction responses.
pub static MODEL_VERSION_HEADER: HeaderName = HeaderName::from_static("x-model-version");

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
    // The last wrap is the outermost: every answer, refusals too, gets a request id.
    App::new()
        .wrap(from_fn(auth::middleware))
        .wrap(from_fn(request_id::middleware))
        .configure(move |cfg| api::configure(cfg, &state))
}
