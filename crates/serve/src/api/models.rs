use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::dto::{API_VERSION, ModelDetail, ModelList, ModelSummary};
use crate::error::ApiError;
use crate::state::{AppState, LoadedModel};

/// The served model called `name`, or why there is none.
pub(super) fn find(state: &AppState, name: &str) -> Result<Arc<LoadedModel>, ApiError> {
    if let Some(m) = state.models.load().get(name) {
        return Ok(Arc::clone(m));
    }
    if state.expected.iter().any(|n| n.as_str() == name) {
        Err(ApiError::ModelNotLoaded(name.to_owned()))
    } else {
        Err(ApiError::ModelNotFound(name.to_owned()))
    }
}

/// `GET /models`.
pub(super) async fn list(state: web::Data<AppState>) -> HttpResponse {
    let models = state.models.load();
    let summaries = models
        .values()
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
    let model = find(&state, &name)?;
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
