use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::infer::infer;
use crate::protocol::{native, read_json_body};
use crate::request_id::RequestId;
use crate::state::AppState;

/// `POST /models/{name}/predict`: decode (native JSON) -> infer -> encode.
pub(super) async fn predict(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&req, payload, state.limits.max_body_bytes).await?;
    // Errors in the order a client fixes them: unreadable body, unparsable JSON, unknown
    // model, then the shape and content of the records.
    let records = native::decode(&body, state.limits.max_batch_records);
    if let Err(e @ ApiError::InvalidJson(_)) = records {
        return Err(e);
    }
    let model = state.find(&name, None)?;
    let records = records?;
    let inference = infer(model, &records.rows())?;
    native::encode(&inference, &request_id)
}
