//! MLflow's scoring routes: `/ping`, `/version` and `/invocations`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::infer::infer;
use crate::protocol::mlflow::{self, MlflowError};
use crate::protocol::read_body;
use crate::state::AppState;

/// `GET /ping`: 200 while the process answers, as MLflow's.
pub(super) async fn ping() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body("\n")
}

/// `GET /version`: the server's version.
pub(super) async fn version() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body(concat!("ferry ", env!("CARGO_PKG_VERSION")))
}

/// `POST /invocations`: the configured model (`--mlflow-model`), or the only one served.
pub(super) async fn invocations(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, MlflowError> {
    let body = read_body(&req, payload, &state.limits).await?;
    let model = state.mlflow_model()?;
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
    let inference = infer(model, &rows.rows())?;
    mlflow::encode(&inference)
}
