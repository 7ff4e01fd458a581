use actix_web::{HttpResponse, web};

use super::dto::{ModelDetail, ModelList, ModelSummary};
use crate::API_VERSION;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /models`.
pub(super) async fn list(state: web::Data<AppState>) -> HttpResponse {
    let models = state.models.load();
    let summaries = models
        .defaults()
        .map(|m| ModelSummary::new(m.bundle.manifest(), m.reference.to_string()))
        .collect();
    HttpResponse::Ok().json(ModelList {
        api_version: API_VERSION,
        models: summaries,
    })
}

/// `GET /models/{name}`.
pub(super) async fn detail(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = state.find(&name, None)?;
    let manifest = model.bundle.manifest();
    Ok(HttpResponse::Ok().json(ModelDetail {
        api_version: API_VERSION,
        summary: ModelSummary::new(manifest, model.reference.to_string()),
        features: model.bundle.schema().features(),
        target: &manifest.target,
        classes: model.bundle.classes(),
        rows: manifest.rows,
        git_sha: manifest.git_sha.as_deref(),
        data_sha256: &manifest.data_sha256,
    }))
}
