use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::infer::infer;
use crate::protocol::{native, read_json_body};
use crate::request::RequestId;
use crate::state::{AppState, LoadedModel, ModelSet, Pick};

/// `POST /models/{name}/predict`: the model's default version.
#[utoipa::path(post, path = "/models/{name}/predict", tag = "native",
    params(("name" = String, Path, description = "The model")),
    request_body(content = Object, content_type = "application/json", description = "One record (an object of features) or {\"records\": [...]}"),
    responses((status = 200, description = "One prediction per record", body = crate::protocol::native::PredictResponse),
        super::ModelErrors,
        super::BodyErrors,))]
pub(super) async fn predict(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    predict_pick(&req, &state, &name, Ok(Pick::Default), &request_id, payload).await
}

/// `POST /models/{name}/predict` through a model's own literal path (see
/// [`super::configure`]).
pub(super) async fn predict_route_model(
    req: HttpRequest,
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = super::RouteModel::of(&req);
    predict_pick(&req, &state, name, Ok(Pick::Default), &request_id, payload).await
}

/// `POST /models/{name}/versions/{version}/predict`.
#[utoipa::path(post, path = "/models/{name}/versions/{version}/predict", tag = "native",
    params(("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "A served version number")),
    request_body(content = Object, content_type = "application/json", description = "One record (an object of features) or {\"records\": [...]}"),
    responses((status = 200, description = "One prediction per record", body = crate::protocol::native::PredictResponse),
        super::ModelErrors,
        super::BodyErrors,))]
pub(super) async fn predict_version(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let pick = super::version_pick(&name, &version);
    predict_pick(&req, &state, &name, pick, &request_id, payload).await
}

/// `POST /models/{name}/aliases/{alias}/predict`.
#[utoipa::path(post, path = "/models/{name}/aliases/{alias}/predict", tag = "native",
    params(("name" = String, Path, description = "The model"),
        ("alias" = String, Path, description = "An alias the server loaded")),
    request_body(content = Object, content_type = "application/json", description = "One record (an object of features) or {\"records\": [...]}"),
    responses((status = 200, description = "One prediction per record", body = crate::protocol::native::PredictResponse),
        super::ModelErrors,
        super::BodyErrors,))]
pub(super) async fn predict_alias(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    let pick = super::alias_pick(&name, &alias);
    predict_pick(&req, &state, &name, pick, &request_id, payload).await
}

/// Decodes a native body of at most `max_records` records and finds the model in
/// `models` (see [`AppState::find_in`]), with errors in the order a client fixes them:
/// unparsable JSON, unknown model or version, then the shape and content of the records.
pub(super) fn decode_and_find<'b, 's>(
    body: &'b [u8],
    state: &AppState,
    models: &'s ModelSet,
    name: &str,
    pick: Result<Pick, ApiError>,
    max_records: usize,
) -> Result<(&'s Arc<LoadedModel>, native::Records<'b>), ApiError> {
    let records = native::decode(body, max_records);
    if let Err(e @ ApiError::InvalidJson(_)) = records {
        return Err(e);
    }
    let model = state.find_in(models, name, &pick?)?;
    Ok((model, records?))
}

/// Decode (native JSON) -> find the version -> infer -> encode.
async fn predict_pick(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    pick: Result<Pick, ApiError>,
    request_id: &RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(req, payload, &state.limits).await?;
    let models = state.models.load();
    let (model, records) = decode_and_find(
        &body,
        state,
        &models,
        name,
        pick,
        state.limits.max_batch_records,
    )?;
    let inference = infer(state, model, &records.rows(), request_id.as_str())?;
    native::encode(&inference, request_id)
}
