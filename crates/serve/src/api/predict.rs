use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};

use super::dto::{API_VERSION, PredictResponse, Prediction};
use super::models::find;
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// The records of a request body: one record (a JSON object of features), or
/// `{"records": [ ... ]}`.
fn records(body: &Value, max: usize) -> Result<Vec<&Map<String, Value>>, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::InvalidRequest(format!(
            "expected a JSON object (one record) or {{\"records\": [...]}}, found {}",
            json_kind(body)
        )));
    };
    let batch = match object.get("records") {
        Some(Value::Array(items)) if object.len() == 1 => items,
        Some(other) if object.len() == 1 => {
            return Err(ApiError::InvalidRequest(format!(
                "'records' must be an array of objects, found {}",
                json_kind(other)
            )));
        }
        Some(_) | None => return Ok(vec![object]),
    };
    if batch.is_empty() {
        return Err(ApiError::InvalidRequest(
            "'records' is empty: send at least one record".to_owned(),
        ));
    }
    if batch.len() > max {
        return Err(ApiError::InvalidRequest(format!(
            "'records' has {} records, the limit is {max} per request",
            batch.len()
        )));
    }
    batch
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.as_object().ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "records[{i}] must be an object of features, found {}",
                    json_kind(r)
                ))
            })
        })
        .collect()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /models/{name}/predict`.
pub(super) async fn predict(
    state: web::Data<AppState>,
    name: web::Path<String>,
    request_id: RequestId,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let model = find(&state, &name)?;
    let rows = records(&body, state.limits.max_batch_records)?;
    let bundle = &model.bundle;
    let frame = bundle
        .schema()
        .validate_rows(&rows)
        .map_err(ApiError::InvalidFeatures)?;
    let predictions = bundle.predict(&frame)?;
    let out = Prediction::batch(&predictions, bundle.classes()).map_err(ApiError::Internal)?;
    let manifest = bundle.manifest();
    let mut response = HttpResponse::Ok().json(PredictResponse {
        request_id: request_id.as_str(),
        model: manifest.name.as_str(),
        model_version: manifest.version.0,
        api_version: API_VERSION,
        predictions: out,
    });
    if let Ok(v) = HeaderValue::from_str(&manifest.version.to_string()) {
        response
            .headers_mut()
            .insert(crate::MODEL_VERSION_HEADER.clone(), v);
    }
    Ok(response)
}
