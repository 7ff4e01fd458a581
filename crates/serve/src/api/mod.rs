//! The route table, in one function.

pub mod dto;
mod health;
mod models;
mod predict;

pub use dto::API_VERSION;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// Registers every route and the JSON extractor's error mapping.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    let limit = state.limits.max_body_bytes;
    cfg.app_data(web::Data::new(state.clone()))
        .app_data(crate::json_config(limit))
        .service(
            web::resource("/health")
                .route(web::get().to(health::health))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/ready")
                .route(web::get().to(health::ready))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/models")
                .route(web::get().to(models::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/models/{name}")
                .route(web::get().to(models::detail))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/models/{name}/predict")
                .route(web::post().to(predict::predict))
                .default_service(web::to(method_not_allowed)),
        )
        .default_service(web::to(route_not_found));
}
