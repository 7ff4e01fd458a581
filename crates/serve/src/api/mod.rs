//! The route table, in one function.

mod admin;
pub mod dto;
mod health;
mod mlflow;
mod models;
mod predict;
mod v2;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::state::{AppState, Pick};

/// The version a `/versions/{version}` path segment asks for.
fn version_pick(name: &str, version: &str) -> Result<Pick, ApiError> {
    version
        .parse::<u64>()
        .map(|v| Pick::Version(ferry_core::Version(v)))
        .map_err(|_| ApiError::VersionNotFound {
            name: name.to_owned(),
            pick: format!("version '{version}' (a version is a whole number)"),
        })
}

/// The alias an `/aliases/{alias}` path segment asks for.
fn alias_pick(name: &str, alias: &str) -> Result<Pick, ApiError> {
    alias
        .parse()
        .map(Pick::Alias)
        .map_err(|_| ApiError::VersionNotFound {
            name: name.to_owned(),
            pick: format!("alias '{alias}'"),
        })
}

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
        .service(resource(
            "/models/{name}/versions/{version}/predict",
            web::post().to(predict::predict_version),
        ))
        .service(resource(
            "/models/{name}/aliases/{alias}/predict",
            web::post().to(predict::predict_alias),
        ))
        .service(resource(
            "/v2/models/{name}/infer",
            web::post().to(v2::model_infer),
        ))
        .service(resource(
            "/v2/models/{name}/versions/{version}/infer",
            web::post().to(v2::version_infer),
        ))
        .service(resource(
            "/invocations",
            web::post().to(mlflow::invocations),
        ))
        .service(resource("/ping", web::get().to(mlflow::ping)))
        .service(resource("/version", web::get().to(mlflow::version)))
        .service(resource("/v2", web::get().to(v2::server_metadata)))
        .service(resource("/v2/health/live", web::get().to(v2::live)))
        .service(resource("/v2/health/ready", web::get().to(v2::ready)))
        .service(resource(
            "/v2/models/{name}",
            web::get().to(v2::model_metadata),
        ))
        .service(resource(
            "/v2/models/{name}/ready",
            web::get().to(v2::model_ready),
        ))
        .service(resource(
            "/v2/models/{name}/versions/{version}",
            web::get().to(v2::version_metadata),
        ))
        .service(resource(
            "/v2/models/{name}/versions/{version}/ready",
            web::get().to(v2::version_ready),
        ))
        .service(resource("/admin/reload", web::post().to(admin::reload)))
        .service(resource("/health", web::get().to(health::health)))
        .service(resource("/ready", web::get().to(health::ready)))
        .service(resource("/models", web::get().to(models::list)))
        .service(resource("/models/{name}", web::get().to(models::detail)))
        .service(resource(
            "/models/{name}/versions/{version}",
            web::get().to(models::detail_version),
        ))
        .service(resource(
            "/models/{name}/aliases/{alias}",
            web::get().to(models::detail_alias),
        ))
        .default_service(web::to(route_not_found));
}
