//! The route table, in one function.

pub mod dto;
mod health;
mod models;
mod predict;

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

/// One path with its one route; any other method gets a JSON 405.
fn resource(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(method_not_allowed))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    // Resources are tried in order: the hot route first.
    cfg.app_data(web::Data::new(state.clone()))
        .service(resource(
            "/models/{name}/predict",
            web::post().to(predict::predict),
        ))
        .service(resource("/health", web::get().to(health::health)))
        .service(resource("/ready", web::get().to(health::ready)))
        .service(resource("/models", web::get().to(models::list)))
        .service(resource("/models/{name}", web::get().to(models::detail)))
        .default_service(web::to(route_not_found));
}
