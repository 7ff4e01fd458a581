//! Ferry's native JSON protocol (`POST /models/{name}/predict`).
//!
//! A body is one record (an object of features) or `{"records": [...]}`. The decoder
//! reads the body bytes once, straight into borrowed records: field names and strings
//! point into the body unless they contain escapes, numbers are read as `f64`, and all
//! records of a batch share one field array. No `serde_json::Value` tree is built.
//! Arrays and objects inside a record are kept only as their kind, which every feature
//! type rejects with a message naming it.

use std::borrow::Cow;
use std::fmt;

use actix_web::HttpResponse;
use ferry_core::schema::{Cell, FeatureSchema, Row, RowErrors};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::{ErrorShape, ProtocolError, respond};
use crate::error::{ApiError, ErrorKind, INTERNAL_MESSAGE};
use crate::infer::Inference;
use crate::request::RequestId;

/// The value of one record field.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array => "an array",
            Value::Object => "an object",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Field<'a> {
    key: Cow<'a, str>,
    value: Value<'a>,
}

/// The decoded records of a request, borrowing from its body.
#[derive(Debug, Default)]
pub struct Records<'a> {
    fields: Vec<Field<'a>>,
    /// End (exclusive) in `fields` of each record (a single record needs no heap).
    ends: SmallVec<[usize; 1]>,
}

impl<'a> Records<'a> {
    /// One view per record, in request order (a single record needs no heap).
    #[must_use]
    pub fn rows(&self) -> SmallVec<[Record<'_, 'a>; 1]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let fields = self.fields.get(start..end).unwrap_or_default();
                start = end;
                Record { fields }
            })
            .collect()
    }

    /// Number of records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// One record: its fields in body order.
#[derive(Debug, Clone, Copy)]
pub struct Record<'r, 'a> {
    fields: &'r [Field<'a>],
}

impl Row for Record<'_, '_> {
    fn cell(&self, _index: usize, name: &str) -> Cell<'_> {
        // Keys are unique: decode refuses a record that repeats one.
        match self.fields.iter().rev().find(|f| f.key == name) {
            None => Cell::Absent,
            Some(f) => match &f.value {
                Value::Null => Cell::Null,
                Value::Bool(b) => Cell::Bool(*b),
                Value::Number(n) => Cell::Number(*n),
                Value::Str(s) => Cell::Text(s),
                Value::Array => Cell::Text("<array>"),
                Value::Object => Cell::Text("<object>"),
            },
        }
    }

    fn unknown_keys(&self, schema: &FeatureSchema) -> Vec<String> {
        let mut keys: Vec<String> = self
            .fields
            .iter()
            .filter(|f| schema.position(&f.key).is_none())
            .map(|f| f.key.clone().into_owned())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// Decodes a request body into its records, at most `max_records` of them.
///
/// # Errors
/// [`ApiError::InvalidJson`] when the body is not JSON; [`ApiError::InvalidRequest`]
/// when it is JSON of the wrong shape (not an object, `records` not an array of
/// objects, empty, or over the limit).
pub fn decode(body: &[u8], max_records: usize) -> Result<Records<'_>, ApiError> {
    let records = decode_shape(body, max_records)?;
    records.check_duplicate_keys()?;
    Ok(records)
}

impl Records<'_> {
    /// Refuses a record that repeats a key: JSON readers disagree on which value wins,
    /// so Ferry takes neither.
    fn check_duplicate_keys(&self) -> Result<(), ApiError> {
        let single = self.ends.len() == 1;
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            let fields = self.fields.get(start..end).unwrap_or_default();
            start = end;
            for (j, field) in fields.iter().enumerate() {
                if fields[..j].iter().any(|f| f.key == field.key) {
                    let at = if single {
                        "the record".to_owned()
                    } else {
                        format!("records[{i}]")
                    };
                    return Err(ApiError::InvalidRequest(format!(
                        "{at} has the key '{}' twice",
                        field.key
                    )));
                }
            }
        }
        Ok(())
    }
}

/// [`decode`] without the duplicate-key check.
fn decode_shape(body: &[u8], max_records: usize) -> Result<Records<'_>, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let shape = de
        .deserialize_any(BodyVisitor { max_records })
        .and_then(|shape| de.end().map(|()| shape))
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    match shape {
        Body::NotAnObject(kind) => Err(ApiError::InvalidRequest(format!(
            "expected a JSON object (one record) or {{\"records\": [...]}}, found {kind}"
        ))),
        Body::Batch(batch) => batch.into_records(max_records),
        Body::RecordsNotArray(kind) => Err(ApiError::InvalidRequest(format!(
            "'records' must be an array of objects, found {kind}"
        ))),
        Body::Single(fields) => {
            let end = fields.len();
            Ok(Records {
                fields,
                ends: smallvec::smallvec![end],
            })
        }
    }
}

/// Writes the answer: request id, model, version, API version and one prediction per
/// record, with the `X-Model-Version` header.
///
/// # Errors
/// [`ApiError::Internal`] when the predictions do not fit the model (a bug).
pub fn encode(inference: &Inference<'_>, request_id: &RequestId) -> Result<HttpResponse, ApiError> {
    let model = inference.model;
    // Room for the common answer, so that writing it does not grow the buffer.
    let classes = model.bundle.classes().map_or(0, <[_]>::len);
    let rows = inference.predictions.len();
    let mut body = Vec::with_capacity(192 + rows * (48 + 40 * classes));
    model
        .answer
        .write_native(&mut body, request_id.as_str(), &inference.predictions)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(super::json_response(body, &model.version_header))
}

/// The native JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// The error code (`invalid_features`, `model_not_found`, ...).
    code: &'static str,
    /// What is wrong, naming the field, the expected and the found value.
    message: String,
    /// The broad class: `invalid_request`, `not_found`, `unavailable`, `unauthorized`,
    /// `internal`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Every bad field of every record, when there are some.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    errors: Option<&'a [RowErrors]>,
}

/// The answer of `POST /models/{name}/predict`, as [`encode`] writes it from the model's
/// [`AnswerText`](crate::answer::AnswerText): its OpenAPI schema, and the type a Rust
/// client reads it into.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictResponse {
    /// The request id (from `X-Request-Id`, or generated).
    pub request_id: String,
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: u64,
    /// The API version.
    pub api_version: String,
    /// One prediction per record, in request order: `label` and `probabilities` for a
    /// classifier, `value` for a regressor.
    #[schema(value_type = Vec<Object>)]
    pub predictions: Vec<serde_json::Value>,
}

/// Ferry's native error shape.
#[derive(Debug, Clone, Copy)]
pub struct Native;

/// An error answered in the native shape.
pub type NativeError = ProtocolError<Native>;

impl ErrorShape for Native {
    fn body(error: &ApiError) -> Vec<u8> {
        error_body(error)
    }
}

/// Every route outside a protocol, and every native route, answers an [`ApiError`] in
/// the native shape.
impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        Native::status(self)
    }

    fn error_response(&self) -> HttpResponse {
        respond::<Native>(self)
    }
}

/// The native error body for `error`, from the [`ErrorCode`](crate::error::ErrorCode)
/// table: `code`, a message (a fixed one for 5xx: the details stay in the log), `type`,
/// and `errors` with every bad field of every record when there are some.
#[must_use]
pub fn error_body(error: &ApiError) -> Vec<u8> {
    let code = error.code();
    let message = match code.kind() {
        ErrorKind::Internal => INTERNAL_MESSAGE.to_owned(),
        ErrorKind::InvalidRequest
        | ErrorKind::NotFound
        | ErrorKind::Unavailable
        | ErrorKind::Unauthorized => error.to_string(),
    };
    let errors = error.row_errors();
    let body = ErrorBody {
        code: code.as_str(),
        message,
        kind: code.kind().as_str(),
        errors,
    };
    // Serialising plain strings and numbers cannot fail; an empty body would still
    // carry the status.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// What the body turned out to be.
enum Body<'a> {
    /// Any JSON but an object: its kind.
    NotAnObject(&'static str),
    /// `{"records": [...]}`.
    Batch(Batch<'a>),
    /// `{"records": x}` with `x` not an array: its kind.
    RecordsNotArray(&'static str),
    /// One record.
    Single(Vec<Field<'a>>),
}

#[derive(Default)]
struct Batch<'a> {
    records: Records<'a>,
    /// Elements in the array, stored or not.
    count: usize,
    /// The first element that is not an object, with its kind.
    first_non_object: Option<(usize, &'static str)>,
}

impl<'a> Batch<'a> {
    fn into_records(self, max: usize) -> Result<Records<'a>, ApiError> {
        if self.count == 0 {
            return Err(ApiError::InvalidRequest(
                "'records' is empty: send at least one record".to_owned(),
            ));
        }
        if self.count > max {
            return Err(ApiError::InvalidRequest(format!(
                "'records' has {} records, the limit is {max} per request",
                self.count
            )));
        }
        if let Some((i, kind)) = self.first_non_object {
            return Err(ApiError::InvalidRequest(format!(
                "records[{i}] must be an object of features, found {kind}"
            )));
        }
        Ok(self.records)
    }
}

/// A string borrowed from the body when it has no escapes.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Any JSON value, as a field value: scalars kept, arrays and objects skipped.
struct AnyValue;

impl<'de> DeserializeSeed<'de> for AnyValue {
    type Value = Value<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyValue {
    type Value = Value<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Number(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object)
    }
}

/// Reads the fields of one record object into `out`.
fn read_fields<'de, A: MapAccess<'de>>(
    map: &mut A,
    out: &mut Vec<Field<'de>>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key_seed(Text)? {
        let value = map.next_value_seed(AnyValue)?;
        out.push(Field { key, value });
    }
    Ok(())
}

/// The top level of a body.
struct BodyVisitor {
    max_records: usize,
}

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        let mut batch = None;
        let mut records_kind = None;
        while let Some(key) = map.next_key_seed(Text)? {
            if key == "records" {
                match map.next_value_seed(RecordsSeed {
                    max_records: self.max_records,
                })? {
                    RecordsValue::Array(b) => {
                        records_kind = Some("an array");
                        batch = Some(b);
                        fields.push(Field {
                            key,
                            value: Value::Array,
                        });
                    }
                    RecordsValue::Other(value) => {
                        records_kind = Some(value.kind());
                        fields.push(Field { key, value });
                    }
                }
            } else {
                let value = map.next_value_seed(AnyValue)?;
                fields.push(Field { key, value });
            }
        }
        // `records` alone is a batch; with other keys the object is one record (whose
        // `records` key is then an unknown feature).
        Ok(match (fields.len(), batch, records_kind) {
            (1, Some(batch), _) => Body::Batch(batch),
            (1, None, Some(kind)) => Body::RecordsNotArray(kind),
            _ => Body::Single(fields),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_seq(seq).map(|v| Body::NotAnObject(v.kind()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("null"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Body::NotAnObject("a string"))
    }
}

enum RecordsValue<'a> {
    Array(Batch<'a>),
    Other(Value<'a>),
}

/// The value of `records`: an array of record objects, or anything else.
struct RecordsSeed {
    max_records: usize,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = RecordsValue<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = RecordsValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut batch = Batch::default();
        loop {
            // Records past the limit are read (the body must still be valid JSON, and
            // the error says how many there were) but not kept.
            let keep = batch.count < self.max_records && batch.first_non_object.is_none();
            let element = seq.next_element_seed(Element {
                records: &mut batch.records,
                keep,
            })?;
            match element {
                None => break,
                Some(None) => {}
                Some(Some(kind)) => {
                    if batch.first_non_object.is_none() {
                        batch.first_non_object = Some((batch.count, kind));
                    }
                }
            }
            batch.count += 1;
        }
        Ok(RecordsValue::Array(batch))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_map(map).map(RecordsValue::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RecordsValue::Other(Value::Null))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(RecordsValue::Other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        AnyValue.visit_i64(v).map(RecordsValue::Other)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        AnyValue.visit_u64(v).map(RecordsValue::Other)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(RecordsValue::Other(Value::Number(v)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(RecordsValue::Other(Value::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(RecordsValue::Other(Value::Str(Cow::Owned(v.to_owned()))))
    }
}

/// One element of `records`: an object is read into the shared field array (when
/// `keep`); anything else gives its kind.
struct Element<'b, 'de> {
    records: &'b mut Records<'de>,
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for Element<'_, 'de> {
    type Value = Option<&'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Element<'_, 'de> {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.keep {
            read_fields(&mut map, &mut self.records.fields)?;
            self.records.ends.push(self.records.fields.len());
        } else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        }
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_seq(seq).map(|v| Some(v.kind()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some("null"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some("a string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(records: &Records<'_>, names: &[&str]) -> Vec<Vec<String>> {
        records
            .rows()
            .iter()
            .map(|r| names.iter().map(|n| r.cell(0, n).to_string()).collect())
            .collect()
    }

    #[test]
    fn one_record_and_batches_decode_into_borrowed_cells() {
        let body = br#"{"a": 1.5, "b": "x", "c": null, "d": true, "e": [1], "f": {"g": 2}}"#;
        let records = decode(body, 10).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            cells(&records, &["a", "b", "c", "d", "e", "f", "z"]),
            [[
                "number 1.5",
                "string \"x\"",
                "null",
                "boolean true",
                "string \"<array>\"",
                "string \"<object>\"",
                "nothing"
            ]]
        );
        let Some(Field {
            key: Cow::Borrowed(_),
            value: Value::Str(Cow::Borrowed(_)),
        }) = records.fields.get(1)
        else {
            panic!("unescaped text borrows from the body")
        };

        let body = br#"{"records": [{"a": 1}, {"a": 2, "b": "\u00e9"}, {}]}"#;
        let records = decode(body, 3).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            cells(&records, &["a", "b"]),
            [
                ["number 1", "nothing"],
                ["number 2", "string \"é\""],
                ["nothing", "nothing"]
            ]
        );
    }

    #[test]
    fn a_repeated_key_is_refused() {
        // Issue 16 changed this: the last value used to win silently.
        let err = decode(br#"{"a": 1, "a": 2}"#, 1).unwrap_err();
        assert_eq!(err.to_string(), "the record has the key 'a' twice");
        let records = decode(br#"{"a": 1, "b": 2}"#, 1).unwrap();
        assert_eq!(cells(&records, &["a", "b"]), [["number 1", "number 2"]]);
    }

    #[test]
    fn records_beside_other_keys_is_one_record() {
        let records = decode(br#"{"records": [], "a": 1}"#, 1).unwrap();
        assert_eq!(records.len(), 1);
        let schema = FeatureSchema::new(vec![ferry_core::schema::FeatureSpec {
            name: "a".into(),
            dtype: ferry_core::schema::DType::Numeric,
            nullable: false,
            range: None,
            categories: None,
        }])
        .unwrap();
        assert_eq!(records.rows()[0].unknown_keys(&schema), ["records"]);
    }

    #[test]
    fn shapes_and_syntax_errors_are_told_apart() {
        let message = |body: &[u8]| match decode(body, 2) {
            Err(ApiError::InvalidRequest(m)) => format!("422 {m}"),
            Err(ApiError::InvalidJson(m)) => format!("400 {m}"),
            Err(other) => format!("other {other}"),
            Ok(r) => format!("ok {}", r.len()),
        };
        assert_eq!(
            message(b"[1, 2]"),
            "422 expected a JSON object (one record) or {\"records\": [...]}, found an array"
        );
        assert_eq!(
            message(b"[1, 2"),
            "400 EOF while parsing a list at line 1 column 5"
        );
        assert_eq!(
            message(b"{} x"),
            "400 trailing characters at line 1 column 4"
        );
        assert_eq!(
            message(br#"{"records": [{}, 3]}"#),
            "422 records[1] must be an object of features, found a number"
        );
        assert_eq!(
            message(br#"{"records": [{}, {}, {}, "#),
            "400 EOF while parsing a value at line 1 column 25"
        );
        assert_eq!(
            message(br#"{"records": [1, {}, {}]}"#),
            "422 'records' has 3 records, the limit is 2 per request"
        );
        assert_eq!(
            message(br#"{"records": "x"}"#),
            "422 'records' must be an array of objects, found a string"
        );
    }
}
