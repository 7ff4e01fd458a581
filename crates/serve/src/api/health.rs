use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::dto::{Health, Readiness};
use crate::request::API_VERSION;
use crate::state::AppState;

/// `GET /health`: the process is alive.
#[utoipa::path(get, path = "/health", tag = "native", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub(super) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        api_version: API_VERSION,
    })
}

/// `GET /ready`: 200 when at least one model is loaded and every expected model is,
/// else 503 naming the missing ones.
#[utoipa::path(get, path = "/ready", tag = "native", security(()),
    responses(
        (status = 200, description = "Every configured model is loaded", body = Readiness),
        (status = 503, description = "A configured model is missing", body = Readiness)))]
pub(super) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let missing = state.missing();
    let models: std::collections::BTreeMap<String, u64> = state
        .models
        .load()
        .defaults()
        .map(|m| (m.resolved.name.to_string(), m.resolved.version.0))
        .collect();
    let registry_offline = state.reloader.as_ref().and_then(|r| r.offline());
    if missing.is_empty() && !models.is_empty() {
        HttpResponse::Ok().json(Readiness {
            status: "ready",
            api_version: API_VERSION,
            models,
            missing,
            registry_offline,
        })
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "30"))
            .json(Readiness {
                status: "not_ready",
                api_version: API_VERSION,
                models,
                missing,
                registry_offline,
            })
    }
}
