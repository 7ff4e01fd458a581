//! MLflow's scoring protocol (`mlflow models serve`): `POST /invocations` with a
//! pandas-style JSON body (`dataframe_split`, `dataframe_records`, `instances` or
//! `inputs`) or CSV, answered `{"predictions": [...]}`, errors as MLflow writes them
//! (`{"error_code", "message"}`), so clients and curl recipes written for MLflow work
//! unchanged. The rows go through the one inference step every protocol shares.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use ferry_core::schema::{Cell, FeatureSchema, Row};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smallvec::SmallVec;

use super::{ErrorShape, ProtocolError};
use crate::answer::Shape;
use crate::error::{ApiError, ErrorCode, ErrorKind, INTERNAL_MESSAGE};
use crate::infer::Inference;

/// MLflow's error shape: `{"error_code", "message"}`, and 400 for every request error
/// but a few statuses its clients handle themselves.
#[derive(Debug, Clone, Copy)]
pub struct Mlflow;

/// An error answered in MLflow's body shape.
pub type MlflowError = ProtocolError<Mlflow>;

/// MLflow's error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MlflowError)]
pub struct ErrorBody {
    /// `BAD_REQUEST`, `INVALID_PARAMETER_VALUE`, `UNAUTHENTICATED`, ...
    error_code: &'static str,
    /// What is wrong.
    message: String,
}

impl ErrorShape for Mlflow {
    fn status(error: &ApiError) -> StatusCode {
        let code = error.code();
        match code.kind() {
            ErrorKind::InvalidRequest => match code.status() {
                s @ (StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::REQUEST_TIMEOUT) => s,
                _ => StatusCode::BAD_REQUEST,
            },
            ErrorKind::NotFound
            | ErrorKind::Unavailable
            | ErrorKind::Unauthorized
            | ErrorKind::Internal => code.status(),
        }
    }

    fn body(error: &ApiError) -> Vec<u8> {
        let code = error.code();
        let (error_code, message) = match code.kind() {
            // MLflow's scoring server: a body it cannot read is BAD_REQUEST, data that
            // its schema enforcement refuses (missing columns, no rows) is
            // INVALID_PARAMETER_VALUE, a value it cannot convert is BAD_REQUEST.
            ErrorKind::InvalidRequest if schema_enforcement(error) => {
                ("INVALID_PARAMETER_VALUE", error.to_string())
            }
            ErrorKind::Internal => ("INTERNAL_ERROR", INTERNAL_MESSAGE.to_owned()),
            ErrorKind::NotFound => ("RESOURCE_DOES_NOT_EXIST", error.to_string()),
            ErrorKind::Unavailable => ("TEMPORARILY_UNAVAILABLE", error.to_string()),
            ErrorKind::Unauthorized if code == ErrorCode::Forbidden => {
                ("PERMISSION_DENIED", error.to_string())
            }
            ErrorKind::Unauthorized => ("UNAUTHENTICATED", error.to_string()),
            ErrorKind::InvalidRequest => ("BAD_REQUEST", error.to_string()),
        };
        // Serialising strings cannot fail; an empty body would still carry the status.
        serde_json::to_vec(&ErrorBody {
            error_code,
            message,
        })
        .unwrap_or_default()
    }
}

/// Whether MLflow's scoring server refuses what `error` refuses in its schema
/// enforcement (INVALID_PARAMETER_VALUE) rather than while reading the body.
fn schema_enforcement(error: &ApiError) -> bool {
    matches!(error, ApiError::SchemaMismatch(_))
        || error.row_errors().is_some_and(|rows| {
            rows.iter()
                .flat_map(|r| &r.errors)
                .any(|e| matches!(e, ferry_core::schema::SchemaError::MissingFeature { .. }))
        })
}

/// A request MLflow's schema enforcement would refuse.
fn mismatch(message: impl Into<String>) -> MlflowError {
    MlflowError::from(ApiError::SchemaMismatch(message.into()))
}

fn invalid(message: impl Into<String>) -> MlflowError {
    MlflowError::from(ApiError::InvalidRequest(message.into()))
}

/// The rows of an `/invocations` request.
#[derive(Debug)]
pub enum Rows {
    /// JSON records, one object of features each.
    Records(Vec<Map<String, Value>>),
    /// CSV: the header and the records.
    Csv {
        /// Column names.
        headers: Vec<String>,
        /// The records.
        records: Vec<csv::StringRecord>,
    },
}

/// One row of an `/invocations` request.
#[derive(Debug, Clone, Copy)]
pub enum MlflowRow<'a> {
    /// A JSON record.
    Record(&'a Map<String, Value>),
    /// A CSV record with the header.
    Csv(&'a [String], &'a csv::StringRecord),
}

impl Row for MlflowRow<'_> {
    fn cell(&self, index: usize, name: &str) -> Cell<'_> {
        match self {
            MlflowRow::Record(map) => map.cell(index, name),
            MlflowRow::Csv(headers, record) => match headers.iter().position(|h| h == name) {
                None => Cell::Absent,
                Some(i) => match record.get(i) {
                    None | Some("") => Cell::Null,
                    Some(v) => Cell::Raw(v),
                },
            },
        }
    }

    fn unknown_keys(&self, _: &FeatureSchema) -> Vec<String> {
        // pandas frames often carry more columns than the model reads; MLflow's own
        // schema enforcement drops them, in JSON and CSV alike.
        Vec::new()
    }
}

impl Rows {
    /// One view per row, in request order.
    #[must_use]
    pub fn rows(&self) -> SmallVec<[MlflowRow<'_>; 1]> {
        match self {
            Rows::Records(records) => records.iter().map(MlflowRow::Record).collect(),
            Rows::Csv { headers, records } => {
                records.iter().map(|r| MlflowRow::Csv(headers, r)).collect()
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Rows::Records(r) => r.len(),
            Rows::Csv { records, .. } => records.len(),
        }
    }
}

/// The four JSON shapes MLflow accepts.
const SHAPES: &str = "dataframe_split, dataframe_records, instances or inputs";

/// Decodes an `/invocations` body of `content_type` (`application/json` or `text/csv`)
/// into rows, for a model with `schema`, at most `max_rows` of them.
///
/// # Errors
/// 415 for another content type; 400 for unreadable JSON or CSV, a body of none of the
/// four shapes, rows that do not fit the shape or more than `max_rows` rows.
pub fn decode(
    body: &[u8],
    content_type: Option<&str>,
    schema: &FeatureSchema,
    max_rows: usize,
) -> Result<Rows, MlflowError> {
    let mut parts = content_type.unwrap_or_default().split(';');
    let mime = content_type
        .and(parts.next())
        .map(|c| c.trim().to_ascii_lowercase());
    // As MLflow's scoring server: UTF-8 only, and no parameter but charset.
    for param in parts.map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let value = value.trim().trim_matches('"');
        if !key.trim().eq_ignore_ascii_case("charset") {
            return Err(MlflowError::from(ApiError::UnsupportedMediaType(format!(
                "a content-type parameter '{}'; /invocations takes only charset=utf-8",
                key.trim()
            ))));
        }
        if !value.eq_ignore_ascii_case("utf-8") {
            return Err(MlflowError::from(ApiError::UnsupportedMediaType(format!(
                "charset '{value}'; /invocations takes UTF-8 only"
            ))));
        }
    }
    let rows = match mime.as_deref() {
        Some("application/json") => decode_json(body, schema)?,
        Some("text/csv") => decode_csv(body)?,
        other => {
            return Err(MlflowError::from(ApiError::UnsupportedMediaType(format!(
                "{}; /invocations takes application/json ({SHAPES}) or text/csv",
                other.map_or_else(|| "no content-type".to_owned(), |c| format!("'{c}'"))
            ))));
        }
    };
    if rows.len() == 0 {
        // MLflow's schema enforcement refuses an empty frame from JSON; pandas already
        // fails on a CSV body without rows.
        return Err(match rows {
            Rows::Records(_) => mismatch("the request holds no rows"),
            Rows::Csv { .. } => invalid("the CSV body holds no rows"),
        });
    }
    if rows.len() > max_rows {
        return Err(invalid(format!(
            "{} rows in one request; the limit is {max_rows}",
            rows.len()
        )));
    }
    Ok(rows)
}

fn decode_csv(body: &[u8]) -> Result<Rows, MlflowError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| invalid(format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let records = reader
        .records()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| invalid(format!("CSV record {}: {e}", i + 1))))
        .collect::<Result<_, _>>()?;
    Ok(Rows::Csv { headers, records })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A record from a list of values in schema order.
fn positional(
    values: Vec<Value>,
    schema: &FeatureSchema,
    at: &str,
) -> Result<Map<String, Value>, MlflowError> {
    let features = schema.features();
    if values.len() != features.len() {
        return Err(mismatch(format!(
            "{at} has {} values; a row of values has one per feature, in order: {}",
            values.len(),
            features
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(features
        .iter()
        .map(|f| f.name.clone())
        .zip(values)
        .collect())
}

/// Records from a list of objects, or of lists of values in schema order.
fn records(
    items: Vec<Value>,
    schema: &FeatureSchema,
    key: &str,
) -> Result<Vec<Map<String, Value>>, MlflowError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => Ok(map),
            Value::Array(values) => positional(values, schema, &format!("{key}[{i}]")),
            other @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
                Err(mismatch(format!(
                    "{key}[{i}] must be an object of features or a list of values, found {}",
                    kind(&other)
                )))
            }
        })
        .collect()
}

fn decode_json(body: &[u8], schema: &FeatureSchema) -> Result<Rows, MlflowError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| MlflowError::from(ApiError::InvalidJson(e.to_string())))?;
    let Value::Object(mut top) = value else {
        return Err(invalid(format!(
            "expected a JSON object with one of {SHAPES}, found {}",
            kind(&value)
        )));
    };
    let keys: Vec<String> = top.keys().cloned().collect();
    let key = match keys.as_slice() {
        [key] => key.clone(),
        _ => {
            return Err(invalid(format!(
                "expected exactly one of {SHAPES}, found keys {keys:?}"
            )));
        }
    };
    let payload = top.remove(&key).unwrap_or(Value::Null);
    let records = match (key.as_str(), payload) {
        ("dataframe_records", Value::Array(items)) => records(items, schema, &key)?,
        ("dataframe_split", Value::Object(mut split)) => {
            let columns: Vec<String> = match split.remove("columns") {
                Some(Value::Array(c)) => c
                    .into_iter()
                    .map(|c| match c {
                        Value::String(s) => Ok(s),
                        other @ (Value::Null
                        | Value::Bool(_)
                        | Value::Number(_)
                        | Value::Array(_)
                        | Value::Object(_)) => Err(invalid(format!(
                            "dataframe_split.columns must hold strings, found {}",
                            kind(&other)
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
                // pandas numbers the columns then, which the schema never matches.
                None => {
                    return Err(mismatch(
                        "dataframe_split needs columns: the feature names, in the order of each row's values",
                    ));
                }
                Some(_) => return Err(invalid("dataframe_split.columns must be a list of names")),
            };
            let Some(Value::Array(data)) = split.remove("data") else {
                return Err(invalid("dataframe_split needs data: a list of rows"));
            };
            data.into_iter()
                .enumerate()
                .map(|(i, row)| match row {
                    Value::Array(values) if values.len() == columns.len() => {
                        Ok(columns.iter().cloned().zip(values).collect())
                    }
                    Value::Array(values) => Err(invalid(format!(
                        "dataframe_split.data[{i}] has {} values for {} columns",
                        values.len(),
                        columns.len()
                    ))),
                    other @ (Value::Null
                    | Value::Bool(_)
                    | Value::Number(_)
                    | Value::String(_)
                    | Value::Object(_)) => Err(invalid(format!(
                        "dataframe_split.data[{i}] must be a list, found {}",
                        kind(&other)
                    ))),
                })
                .collect::<Result<_, _>>()?
        }
        ("instances" | "inputs", Value::Array(items)) => records(items, schema, &key)?,
        ("inputs", Value::Object(columns)) => {
            // Columnar: {"feature": [values...], ...}.
            let mut n = None;
            let mut lists = Vec::with_capacity(columns.len());
            for (name, values) in columns {
                let Value::Array(values) = values else {
                    return Err(invalid(format!(
                        "inputs.{name} must be a list of values, found {}",
                        kind(&values)
                    )));
                };
                if *n.get_or_insert(values.len()) != values.len() {
                    return Err(mismatch(format!(
                        "inputs.{name} has {} values, the other columns {}",
                        values.len(),
                        n.unwrap_or(0)
                    )));
                }
                lists.push((name, values.into_iter()));
            }
            (0..n.unwrap_or(0))
                .map(|_| {
                    lists
                        .iter_mut()
                        .map(|(name, values)| (name.clone(), values.next().unwrap_or(Value::Null)))
                        .collect()
                })
                .collect()
        }
        ("dataframe_records" | "dataframe_split" | "instances" | "inputs", other) => {
            return Err(invalid(format!(
                "{key} has the wrong shape: found {}",
                kind(&other)
            )));
        }
        (other, _) => {
            return Err(invalid(format!(
                "unknown key '{other}'; expected one of {SHAPES}"
            )));
        }
    };
    Ok(Rows::Records(records))
}

/// MLflow's answer, as [`encode`] writes it: its OpenAPI schema, and the type a Rust
/// client reads it into.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictionsBody {
    /// Each row's label or value.
    #[schema(value_type = Vec<serde_json::Value>)]
    pub predictions: Vec<serde_json::Value>,
}

/// `{"predictions": [...]}`: each row's label (classifiers) or value (regressors), as
/// a scikit-learn model served by MLflow answers.
///
/// # Errors
/// [`ApiError::Internal`] when the predictions do not fit the model (a bug).
pub fn encode(inference: &Inference<'_>) -> Result<HttpResponse, MlflowError> {
    let mut body = Vec::with_capacity(24 + 16 * inference.predictions.len());
    body.extend_from_slice(b"{\"predictions\":[");
    inference
        .model
        .answer
        .write_predictions(&mut body, &inference.predictions, Shape::Mlflow)
        .map_err(|e| MlflowError::from(ApiError::Internal(e.to_string())))?;
    body.extend_from_slice(b"]}");
    Ok(super::json_response(body, &inference.model.version_header))
}
