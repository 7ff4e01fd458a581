//! Administration routes (the `admin` scope).

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

/// `POST /admin/reload`: re-resolve every served reference and swap in the versions
/// that changed; 200 with what changed and what failed (a failed version leaves the one
/// served before in place).
#[utoipa::path(post, path = "/admin/reload", tag = "admin",
    responses((status = 200, description = "What changed and what failed", body = crate::state::ReloadReport),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::native::ErrorBody<'_>),
        (status = 403, description = "The key lacks the admin scope", body = crate::protocol::native::ErrorBody<'_>),
        (status = 422, description = "The server has no registry to reload from", body = crate::protocol::native::ErrorBody<'_>)))]
pub(super) async fn reload(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.get_ref().clone();
    let report = web::block(move || state.reload())
        .await
        .map_err(|e| ApiError::Internal(format!("the reload task failed: {e}")))?
        .ok_or_else(|| {
            ApiError::InvalidRequest(
                "this server was started without a registry to reload from".to_owned(),
            )
        })?;
    Ok(HttpResponse::Ok().json(report))
}
