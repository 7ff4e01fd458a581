//! The Open Inference Protocol (KServe V2) routes: server and model health, metadata and
//! inference, each model reachable with or without `/versions/{version}`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::error::ApiError;
use crate::infer::infer;
use crate::protocol::read_body;
use crate::protocol::v2::{self, HEADER_LENGTH, V2Error};
use crate::state::{AppState, LoadedModel, Pick};

/// `GET /v2`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ServerMetadata {
    /// `ferry`.
    name: &'static str,
    /// The server version.
    version: &'static str,
    /// `binary_tensor_data`.
    #[schema(value_type = Vec<String>)]
    extensions: [&'static str; 1],
}

/// `GET /v2`.
#[utoipa::path(get, path = "/v2", tag = "kserve-v2",
    responses((status = 200, description = "Server metadata", body = ServerMetadata),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::v2::ErrorBody)))]
pub(super) async fn server_metadata() -> HttpResponse {
    HttpResponse::Ok().json(ServerMetadata {
        name: "ferry",
        version: env!("CARGO_PKG_VERSION"),
        extensions: ["binary_tensor_data"],
    })
}

/// `GET /v2/health/live`.
#[utoipa::path(get, path = "/v2/health/live", tag = "kserve-v2", security(()),
    responses((status = 200, description = "Alive", body = Object)))]
pub(super) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"live": true}))
}

/// `GET /v2/health/ready`: as `/ready`, every expected model loaded.
#[utoipa::path(get, path = "/v2/health/ready", tag = "kserve-v2", security(()),
    responses((status = 200, description = "Ready", body = Object),
        (status = 503, description = "Not ready", body = Object)))]
pub(super) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.missing().is_empty() && !state.models.load().is_empty();
    let body = serde_json::json!({ "ready": ready });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The version a `/v2/models/{name}[/versions/{version}]` path asks for.
fn pick(name: &str, version: Option<&str>) -> Result<Pick, V2Error> {
    Ok(match version {
        None => Pick::Default,
        Some(v) => super::version_pick(name, v)?,
    })
}

/// The model a `/v2/models/{name}[/versions/{version}]` path names.
fn find(
    state: &AppState,
    name: &str,
    version: Option<&str>,
) -> Result<std::sync::Arc<LoadedModel>, V2Error> {
    Ok(state.find(name, &pick(name, version)?)?)
}

fn metadata(state: &AppState, name: &str, version: Option<&str>) -> Result<HttpResponse, V2Error> {
    let model = find(state, name, version)?;
    let versions = state
        .models
        .load()
        .versions(name)
        .map(|v| v.all().map(|m| m.resolved.version.to_string()).collect())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(v2::metadata(&model, versions)))
}

/// The errors every V2 route about one model can answer, in the protocol's body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "only documents the responses")]
enum ModelErrors {
    /// A bad request.
    #[response(status = 400, description = "A bad request")]
    BadRequest(crate::protocol::v2::ErrorBody),
    /// No key.
    #[response(status = 401, description = "No API key, or an unknown one")]
    Unauthorized(crate::protocol::v2::ErrorBody),
    /// A key without the scope.
    #[response(status = 403, description = "The key lacks the predict scope")]
    Forbidden(crate::protocol::v2::ErrorBody),
    /// Unknown model or version.
    #[response(status = 404, description = "No such model or version")]
    NotFound(crate::protocol::v2::ErrorBody),
    /// A configured model that did not load.
    #[response(status = 503, description = "The model failed to load")]
    Unavailable(crate::protocol::v2::ErrorBody),
}

/// `GET /v2/models/{name}`.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model")),
    responses((status = 200, description = "Model metadata", body = crate::protocol::v2::ModelMetadata),
        ModelErrors))]
pub(super) async fn model_metadata(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, V2Error> {
    metadata(&state, &name, None)
}

/// `GET /v2/models/{name}/versions/{version}`.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model"), ("version" = String, Path, description = "The version")),
    responses((status = 200, description = "Model metadata", body = crate::protocol::v2::ModelMetadata),
        ModelErrors))]
pub(super) async fn version_metadata(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, V2Error> {
    metadata(&state, &path.0, Some(&path.1))
}

fn model_ready_answer(
    state: &AppState,
    name: &str,
    version: Option<&str>,
) -> Result<HttpResponse, V2Error> {
    let model = find(state, name, version)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "name": model.resolved.name.as_str(),
        "version": model.resolved.version.to_string(),
        "ready": true,
    })))
}

/// `GET /v2/models/{name}/ready`.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model")),
    responses((status = 200, description = "The model is ready", body = Object),
        ModelErrors))]
pub(super) async fn model_ready(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, V2Error> {
    model_ready_answer(&state, &name, None)
}

/// `GET /v2/models/{name}/versions/{version}/ready`.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model"), ("version" = String, Path, description = "The version")),
    responses((status = 200, description = "The version is ready", body = Object),
        ModelErrors))]
pub(super) async fn version_ready(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, V2Error> {
    model_ready_answer(&state, &path.0, Some(&path.1))
}

async fn infer_answer(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    version: Option<&str>,
    payload: web::Payload,
) -> Result<HttpResponse, V2Error> {
    let body = read_body(req, payload, &state.limits).await?;
    let header_length = match req.headers().get(&HEADER_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    V2Error::from(ApiError::InvalidRequest(format!(
                        "{HEADER_LENGTH} must be a byte count, found {v:?}"
                    )))
                })?,
        ),
    };
    let models = state.models.load();
    let model = state.find_in(&models, name, &pick(name, version)?)?;
    let decoded = v2::decode(&body, header_length, model, state.limits.max_batch_records)?;
    let inference = infer(
        state,
        model,
        &decoded.rows(),
        crate::request::current(req).as_str(),
    )?;
    v2::encode(&inference, &decoded)
}

/// `POST /v2/models/{name}/infer`.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model")),
    request_body(content = crate::protocol::v2::InferRequest<'_>, content_type = "application/json"),
    responses((status = 200, description = "The outputs", body = crate::protocol::v2::InferResponse),
        (status = 408, description = "The body did not arrive in time", body = crate::protocol::v2::ErrorBody),
        (status = 413, description = "The body is over the limit", body = crate::protocol::v2::ErrorBody),
        ModelErrors))]
pub(super) async fn model_infer(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, V2Error> {
    infer_answer(&req, &state, &name, None, payload).await
}

/// `POST /v2/models/{name}/infer` through a model's own literal path (see
/// [`super::configure`]).
pub(super) async fn infer_route_model(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, V2Error> {
    let name = super::RouteModel::of(&req);
    infer_answer(&req, &state, name, None, payload).await
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "kserve-v2",
    params(("name" = String, Path, description = "The model"), ("version" = String, Path, description = "The version")),
    request_body(content = crate::protocol::v2::InferRequest<'_>, content_type = "application/json"),
    responses((status = 200, description = "The outputs", body = crate::protocol::v2::InferResponse),
        (status = 408, description = "The body did not arrive in time", body = crate::protocol::v2::ErrorBody),
        (status = 413, description = "The body is over the limit", body = crate::protocol::v2::ErrorBody),
        ModelErrors))]
pub(super) async fn version_infer(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, V2Error> {
    infer_answer(&req, &state, &path.0, Some(&path.1), payload).await
}
