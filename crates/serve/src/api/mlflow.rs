//! MLflow's scoring routes: `/ping`, `/version` and `/invocations`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::infer::infer;
use crate::protocol::mlflow::{self, MlflowError};
use crate::protocol::read_body;
use crate::state::AppState;

/// `GET /ping`: 200 while the process answers, as MLflow's.
#[utoipa::path(get, path = "/ping", tag = "mlflow", security(()),
    responses((status = 200, description = "Alive")))]
pub(super) async fn ping() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body("\n")
}

/// `GET /version`: the server's version.
#[utoipa::path(get, path = "/version", tag = "mlflow",
    responses((status = 200, description = "The server version", body = String, content_type = "text/plain"),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::mlflow::ErrorBody)))]
pub(super) async fn version() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body(concat!("ferry ", env!("CARGO_PKG_VERSION")))
}

/// `POST /invocations`: the configured model (`--mlflow-model`), or the only one served.
#[utoipa::path(post, path = "/invocations", tag = "mlflow",
    request_body(content(
        (Object = "application/json"),
        (String = "text/csv")),
        description = "dataframe_split, dataframe_records, instances or inputs; or CSV with a header"),
    responses((status = 200, description = "Each row's label or value", body = crate::protocol::mlflow::PredictionsBody),
        (status = 400, description = "A bad request", body = crate::protocol::mlflow::ErrorBody),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::mlflow::ErrorBody),
        (status = 403, description = "The key lacks the predict scope", body = crate::protocol::mlflow::ErrorBody),
        (status = 404, description = "The configured model is not served", body = crate::protocol::mlflow::ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = crate::protocol::mlflow::ErrorBody),
        (status = 413, description = "The body is over the limit", body = crate::protocol::mlflow::ErrorBody),
        (status = 415, description = "Neither JSON nor CSV", body = crate::protocol::mlflow::ErrorBody),
        (status = 503, description = "The model failed to load", body = crate::protocol::mlflow::ErrorBody)))]
pub(super) async fn invocations(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, MlflowError> {
    let body = read_body(&req, payload, &state.limits).await?;
    let models = state.models.load();
    let model = state.mlflow_model_in(&models)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let rows = mlflow::decode(
        &body,
        content_type,
        model.bundle.schema(),
        state.limits.max_batch_records,
    )?;
    let inference = infer(
        &state,
        model,
        &rows.rows(),
        crate::request::current(&req).as_str(),
    )?;
    mlflow::encode(&inference)
}
