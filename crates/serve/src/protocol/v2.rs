//! The Open Inference Protocol (KServe V2) over REST, with Triton's binary tensor
//! extension: `/v2/...` routes that KServe, Triton and Seldon MLServer clients call.
//!
//! An inference request carries tensors. Ferry accepts either one input per feature
//! (named after it, shape `[n]` or `[n, 1]`; BYTES for categorical features, BOOL for
//! boolean ones, any numeric type for the others) or one numeric input of shape
//! `[n, k]` with the `k` features in schema order. Tensor data comes as JSON (`data`,
//! flat or nested) or, with the binary extension, as raw little-endian bytes after the
//! JSON header (`Inference-Header-Content-Length`, `binary_data_size` per input). NaN
//! and JSON `null` are missing values. The rows then go through the one inference step
//! every protocol shares. Outputs are `predict` (labels, or values) and, for models that
//! give them, `predict_proba` (`[n, classes]`), in JSON or binary as the client asks.
//! Errors are `{"error": "..."}` with the status of Ferry's error table, 4xx request
//! errors as 400 as the protocol asks.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use ferry_core::schema::{Cell, DType, FeatureSchema, Row};
use ferry_core::{ClassLabel, Model, Predictions};
use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use smallvec::SmallVec;

use super::{ErrorShape, ProtocolError};
use crate::answer::{AnswerText, push_f64, push_list, push_str};
use crate::error::{ApiError, ErrorKind, INTERNAL_MESSAGE};
use crate::infer::Inference;
use crate::state::LoadedModel;

/// The header that gives the length of the JSON part of a binary request or response
/// (a name made once: looking a header up by a `&str` parses and copies the name first).
pub static HEADER_LENGTH: HeaderName = HeaderName::from_static("inference-header-content-length");

/// The protocol's error shape: `{"error": message}`, and 400 for every request error
/// but a few statuses its clients handle themselves.
#[derive(Debug, Clone, Copy)]
pub struct V2;

/// An error answered in the protocol's body shape.
pub type V2Error = ProtocolError<V2>;

/// The protocol's error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = V2Error)]
pub struct ErrorBody {
    /// What is wrong.
    error: String,
}

impl ErrorShape for V2 {
    fn status(error: &ApiError) -> StatusCode {
        let code = error.code();
        match code.kind() {
            ErrorKind::InvalidRequest => match code.status() {
                StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::REQUEST_TIMEOUT => code.status(),
                _ => StatusCode::BAD_REQUEST,
            },
            ErrorKind::NotFound
            | ErrorKind::Unavailable
            | ErrorKind::Unauthorized
            | ErrorKind::Internal => code.status(),
        }
    }

    fn body(error: &ApiError) -> Vec<u8> {
        let error = match error.code().kind() {
            ErrorKind::Internal => INTERNAL_MESSAGE.to_owned(),
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::Unavailable
            | ErrorKind::Unauthorized => error.to_string(),
        };
        // Serialising a string cannot fail; an empty body would still carry the status.
        serde_json::to_vec(&ErrorBody { error }).unwrap_or_default()
    }
}

fn invalid(message: impl Into<String>) -> V2Error {
    V2Error::from(ApiError::InvalidRequest(message.into()))
}

/// `POST .../infer`, as read. Names are borrowed from the body, and each input's
/// elements are read straight into their typed vector ([`InputTensor`]).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InferRequest<'a> {
    /// Echoed in the answer.
    #[serde(default, borrow)]
    #[schema(value_type = Option<String>)]
    id: Option<Cow<'a, str>>,
    /// `binary_data_output: true` asks for every output in binary.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<serde_json::Map<String, Value>>,
    /// One tensor per feature, or one `[n, k]` tensor.
    #[serde(borrow)]
    inputs: Vec<InputTensor<'a>>,
    /// The outputs wanted (`predict`, `predict_proba`); all when absent.
    #[serde(default, borrow)]
    outputs: Option<Vec<RequestedOutput<'a>>>,
}

/// An input tensor. When its `datatype` comes before its `data` (as every client
/// writes them), the elements are read into their typed vector in the one pass over
/// the body; otherwise `data` is kept as JSON text and read once the datatype is known.
#[derive(Debug, utoipa::ToSchema)]
pub struct InputTensor<'a> {
    /// A feature name, or any name for one `[n, k]` tensor.
    #[schema(value_type = String)]
    name: Cow<'a, str>,
    /// `[n]`, `[n, 1]` or `[n, k]`.
    #[schema(value_type = Vec<i64>)]
    shape: Shape,
    /// `FP64`, `FP32`, `INT64`, ..., `BOOL` or `BYTES`.
    #[schema(value_type = String)]
    datatype: Cow<'a, str>,
    /// `binary_data_size` when the data is in the binary part.
    #[schema(value_type = Option<Object>)]
    parameters: Option<serde_json::Map<String, Value>>,
    /// The elements, flat or nested.
    #[schema(value_type = Option<Vec<serde_json::Value>>)]
    data: Option<TensorData<'a>>,
}

/// An input's JSON `data`: read as elements of its datatype, or the JSON text.
#[derive(Debug)]
enum TensorData<'a> {
    /// The elements, or the first element that is not of the datatype.
    Read(Result<Elements, Value>),
    /// `data` came before `datatype`, or the datatype is unknown.
    Text(&'a RawValue),
}

/// A string borrowed from the body when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The keys of an input tensor.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum InputKey {
    Name,
    Shape,
    Datatype,
    Parameters,
    Data,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for InputTensor<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Input<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Input<'a> {
            type Value = InputTensor<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an input tensor")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                use serde::de::Error as _;
                let (mut name, mut shape, mut datatype) = (None, None, None);
                let (mut parameters, mut data) = (None, None);
                while let Some(key) = map.next_key::<InputKey>()? {
                    match key {
                        InputKey::Name if name.is_none() => {
                            name = Some(map.next_value::<Text<'a>>()?.0);
                        }
                        InputKey::Shape if shape.is_none() => {
                            shape = Some(map.next_value::<Shape>()?);
                        }
                        InputKey::Datatype if datatype.is_none() => {
                            datatype = Some(map.next_value::<Text<'a>>()?.0);
                        }
                        InputKey::Parameters if parameters.is_none() => {
                            parameters = Some(map.next_value()?);
                        }
                        InputKey::Data if data.is_none() => {
                            data = Some(match datatype.as_deref().filter(|d| known(d)) {
                                Some(d) => map
                                    .next_value_seed(Optional(ReadElements(d)))?
                                    .map(TensorData::Read),
                                None => map
                                    .next_value::<Option<&'a RawValue>>()?
                                    .map(TensorData::Text),
                            });
                        }
                        InputKey::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        InputKey::Name => return Err(M::Error::duplicate_field("name")),
                        InputKey::Shape => return Err(M::Error::duplicate_field("shape")),
                        InputKey::Datatype => return Err(M::Error::duplicate_field("datatype")),
                        InputKey::Parameters => {
                            return Err(M::Error::duplicate_field("parameters"));
                        }
                        InputKey::Data => return Err(M::Error::duplicate_field("data")),
                    }
                }
                Ok(InputTensor {
                    name: name.ok_or_else(|| M::Error::missing_field("name"))?,
                    shape: shape.ok_or_else(|| M::Error::missing_field("shape"))?,
                    datatype: datatype.ok_or_else(|| M::Error::missing_field("datatype"))?,
                    parameters: parameters.flatten(),
                    data: data.flatten(),
                })
            }
        }
        deserializer.deserialize_struct(
            "InputTensor",
            &["name", "shape", "datatype", "parameters", "data"],
            Input(std::marker::PhantomData),
        )
    }
}

/// An output asked for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RequestedOutput<'a> {
    /// `predict` or `predict_proba`.
    #[serde(borrow)]
    #[schema(value_type = String)]
    name: Cow<'a, str>,
    /// `binary_data: true` asks for this output in binary.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<serde_json::Map<String, Value>>,
}

/// A tensor's shape: one or two dimensions for every input Ferry accepts, so on the
/// stack.
struct Shape(SmallVec<[i64; 2]>);

/// Written as the list it was sent as, `[1, 4]`, in error messages.
impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.as_slice().fmt(f)
    }
}

impl std::ops::Deref for Shape {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Dims;
        impl<'de> Visitor<'de> for Dims {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of integers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut dims = SmallVec::new();
                while let Some(d) = seq.next_element::<i64>()? {
                    dims.push(d);
                }
                Ok(Shape(dims))
            }
        }
        deserializer.deserialize_seq(Dims)
    }
}

/// A tensor's numbers or booleans, one per row for a single-feature input: a single
/// record's element is on the stack. (A string is on the heap anyway: BYTES elements
/// are in a `Vec`.)
type Items<T> = SmallVec<[T; 1]>;

/// A tensor's elements.
#[derive(Debug)]
enum Elements {
    /// Numbers (every numeric datatype); NaN is a missing value.
    Numbers(Items<f64>),
    /// BYTES, as strings; `None` for JSON `null`.
    Bytes(Vec<Option<String>>),
    /// BOOL.
    Bools(Items<bool>),
}

impl Elements {
    fn len(&self) -> usize {
        match self {
            Elements::Numbers(v) => v.len(),
            Elements::Bytes(v) => v.len(),
            Elements::Bools(v) => v.len(),
        }
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            Elements::Numbers(v) => match v.get(i) {
                Some(x) if x.is_nan() => Cell::Null,
                Some(x) => Cell::Number(*x),
                None => Cell::Absent,
            },
            Elements::Bytes(v) => match v.get(i) {
                Some(Some(s)) => Cell::Text(s),
                Some(None) => Cell::Null,
                None => Cell::Absent,
            },
            Elements::Bools(v) => v.get(i).map_or(Cell::Absent, |b| Cell::Bool(*b)),
        }
    }
}

/// Element width in bytes of a fixed-size datatype.
fn width(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return None,
    })
}

/// Decodes `bytes` of `datatype` (little-endian, Triton's binary layout).
fn decode_binary(name: &str, datatype: &str, bytes: &[u8]) -> Result<Elements, V2Error> {
    if datatype == "BYTES" {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| {
                invalid(format!("input '{name}': truncated BYTES element length"))
            })?;
            let len = u32::from_le_bytes(*len) as usize;
            let (value, tail) = tail.split_at_checked(len).ok_or_else(|| {
                invalid(format!(
                    "input '{name}': a BYTES element runs past the data"
                ))
            })?;
            let text = std::str::from_utf8(value)
                .map_err(|_| invalid(format!("input '{name}': a BYTES element is not UTF-8")))?;
            out.push(Some(text.to_owned()));
            rest = tail;
        }
        return Ok(Elements::Bytes(out));
    }
    let size = width(datatype)
        .ok_or_else(|| invalid(format!("input '{name}': unknown datatype '{datatype}'")))?;
    if !bytes.len().is_multiple_of(size) {
        return Err(invalid(format!(
            "input '{name}': {} bytes are not a whole number of {datatype} elements",
            bytes.len()
        )));
    }
    let chunks = bytes.chunks_exact(size);
    if datatype == "BOOL" {
        return Ok(Elements::Bools(chunks.map(|c| c[0] != 0).collect()));
    }
    let number = |c: &[u8]| -> f64 {
        let mut b8 = [0u8; 8];
        b8[..c.len()].copy_from_slice(c);
        match datatype {
            "INT8" => f64::from(c[0] as i8),
            "UINT8" => f64::from(c[0]),
            "INT16" => f64::from(i16::from_le_bytes([c[0], c[1]])),
            "UINT16" => f64::from(u16::from_le_bytes([c[0], c[1]])),
            "FP16" => half_to_f64(u16::from_le_bytes([c[0], c[1]])),
            "INT32" => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "UINT32" => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "FP32" => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "INT64" => i64::from_le_bytes(b8) as f64,
            "UINT64" => u64::from_le_bytes(b8) as f64,
            _ => f64::from_le_bytes(b8),
        }
    };
    Ok(Elements::Numbers(chunks.map(number).collect()))
}

/// An IEEE half-precision value.
fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from((h >> 10) & 0x1f);
    let fraction = f64::from(h & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// One kind of tensor element, as [`Flat`] reads it from JSON.
trait Element: Sized {
    /// Where a tensor's elements of this kind are kept.
    type Items: Default + Extend<Self>;
    /// What a JSON `null` is, if it may be one.
    const NULL: Option<Self>;
    fn number(_: f64) -> Option<Self> {
        None
    }
    fn text(_: &str) -> Option<Self> {
        None
    }
    fn boolean(_: bool) -> Option<Self> {
        None
    }
}

impl Element for f64 {
    type Items = Items<f64>;
    const NULL: Option<Self> = Some(f64::NAN);
    fn number(v: f64) -> Option<Self> {
        Some(v)
    }
}

impl Element for Option<String> {
    type Items = Vec<Option<String>>;
    const NULL: Option<Self> = Some(None);
    fn text(v: &str) -> Option<Self> {
        Some(Some(v.to_owned()))
    }
}

impl Element for bool {
    type Items = Items<bool>;
    const NULL: Option<Self> = None;
    fn boolean(v: bool) -> Option<Self> {
        Some(v)
    }
}

/// Reads JSON elements, flat or nested, into one vector without building JSON values.
/// The first element that is not of the type is kept, as JSON, to name it.
struct Flat<'v, T: Element> {
    out: &'v mut T::Items,
    bad: &'v mut Option<Value>,
}

impl<'de, T: Element> DeserializeSeed<'de> for Flat<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<T: Element> Flat<'_, T> {
    #[expect(clippy::unnecessary_wraps, reason = "every visit returns a Result")]
    fn push<E>(self, v: Option<T>, found: impl FnOnce() -> Value) -> Result<(), E> {
        match v {
            Some(v) => self.out.extend(std::iter::once(v)),
            None if self.bad.is_none() => *self.bad = Some(found()),
            None => {}
        }
        Ok(())
    }
}

impl<'de, T: Element> Visitor<'de> for Flat<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor elements")
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.push(T::number(v), || Value::from(v))
    }
    #[expect(clippy::cast_precision_loss, reason = "as serde_json's as_f64")]
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.push(T::number(v as f64), || Value::from(v))
    }
    #[expect(clippy::cast_precision_loss, reason = "as serde_json's as_f64")]
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.push(T::number(v as f64), || Value::from(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.push(T::text(v), || Value::from(v))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.push(T::boolean(v), || Value::from(v))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.push(T::NULL, || Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Flat::<T> {
                out: &mut *self.out,
                bad: &mut *self.bad,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<(), M::Error> {
        let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.push(None, || v)
    }
}

/// Whether `datatype` is one Ferry reads.
fn known(datatype: &str) -> bool {
    matches!(datatype, "BYTES" | "BOOL") || width(datatype).is_some()
}

/// Reads JSON data as elements of a known datatype: the elements, or the first one that
/// is not of it.
struct ReadElements<'s>(&'s str);

impl<'de> DeserializeSeed<'de> for ReadElements<'_> {
    type Value = Result<Elements, Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        fn read<'de, T: Element, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Result<T::Items, Value>, D::Error> {
            let (mut out, mut bad) = (T::Items::default(), None);
            Flat::<T> {
                out: &mut out,
                bad: &mut bad,
            }
            .deserialize(deserializer)?;
            Ok(bad.map_or(Ok(out), Err))
        }
        Ok(match self.0 {
            "BYTES" => read::<Option<String>, _>(deserializer)?.map(Elements::Bytes),
            "BOOL" => read::<bool, _>(deserializer)?.map(Elements::Bools),
            _ => read::<f64, _>(deserializer)?.map(Elements::Numbers),
        })
    }
}

/// A seed for a value that may be `null` (or absent): `None` then.
struct Optional<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor data or null")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// The elements of an input's JSON `data` (flat or nested arrays) of `datatype`, or
/// an error naming the first element that is not of it.
fn decode_json(name: &str, datatype: &str, data: TensorData<'_>) -> Result<Elements, V2Error> {
    let expected = match datatype {
        "BYTES" => "strings",
        "BOOL" => "booleans",
        d if width(d).is_some() => "numbers",
        other => {
            return Err(invalid(format!(
                "input '{name}': unknown datatype '{other}'"
            )));
        }
    };
    let read = match data {
        TensorData::Read(read) => read,
        TensorData::Text(text) => ReadElements(datatype)
            .deserialize(&mut serde_json::Deserializer::from_str(text.get()))
            .map_err(|e| V2Error::from(ApiError::InvalidJson(e.to_string())))?,
    };
    read.map_err(|v| {
        invalid(format!(
            "input '{name}' ({datatype}): expected {expected}, found {v}"
        ))
    })
}

/// The decoded inputs of a request, as rows.
#[derive(Debug)]
enum Tensors {
    /// One input per feature, by schema position.
    PerFeature {
        columns: Vec<Option<Elements>>,
        rows: usize,
    },
    /// One `[n, k]` numeric input, features in schema order.
    Matrix {
        values: Vec<f64>,
        k: usize,
        rows: usize,
    },
}

/// One row of a request's tensors.
#[derive(Debug, Clone, Copy)]
pub struct TensorRow<'a> {
    tensors: &'a Tensors,
    row: usize,
}

impl Row for TensorRow<'_> {
    fn cell(&self, index: usize, _name: &str) -> Cell<'_> {
        match self.tensors {
            Tensors::PerFeature { columns, .. } => columns
                .get(index)
                .and_then(Option::as_ref)
                .map_or(Cell::Absent, |c| c.cell(self.row)),
            Tensors::Matrix { values, k, .. } => match values.get(self.row * k + index) {
                Some(x) if x.is_nan() => Cell::Null,
                Some(x) => Cell::Number(*x),
                None => Cell::Absent,
            },
        }
    }

    fn unknown_keys(&self, _schema: &FeatureSchema) -> Vec<String> {
        // Input names were checked against the schema when the tensors were decoded.
        Vec::new()
    }
}

impl Tensors {
    fn rows(&self) -> SmallVec<[TensorRow<'_>; 1]> {
        let n = match self {
            Tensors::PerFeature { rows, .. } | Tensors::Matrix { rows, .. } => *rows,
        };
        (0..n).map(|row| TensorRow { tensors: self, row }).collect()
    }
}

/// A parsed inference request: its id, its rows and how to answer.
#[derive(Debug)]
pub struct Decoded {
    id: Option<String>,
    tensors: Tensors,
    /// The outputs asked for, with whether each is wanted in binary.
    outputs: SmallVec<[(Output, bool); 2]>,
}

/// An output tensor a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// `predict`: labels or values.
    Predict,
    /// `predict_proba`: `[n, classes]` probabilities.
    Probabilities,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Output::Predict => "predict",
            Output::Probabilities => "predict_proba",
        }
    }
}

impl Decoded {
    /// The rows, for the inference step (a single row needs no heap).
    #[must_use]
    pub fn rows(&self) -> SmallVec<[TensorRow<'_>; 1]> {
        self.tensors.rows()
    }
}

/// `json` with every bare `NaN` token (outside strings) written as `null`: Python's
/// `json.dumps`, and so tritonclient and KServe's own clients, write a missing float as
/// `NaN`, which is not JSON. `null` is a missing value here, as NaN is in binary data.
fn nan_to_null(json: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // A byte search first: most bodies have no `N` at all.
    if !json.contains(&b'N') || !json.windows(3).any(|w| w == b"NaN") {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if json[i..].starts_with(b"NaN") {
            out.extend_from_slice(b"null");
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn binary_flag(parameters: Option<&serde_json::Map<String, Value>>, key: &str) -> Option<bool> {
    parameters.and_then(|p| p.get(key)).and_then(Value::as_bool)
}

/// Decodes an inference request for `model`: `header_length` is the value of
/// `Inference-Header-Content-Length` when the body has a binary part.
///
/// # Errors
/// An invalid request: unreadable JSON, an unknown input or datatype, shapes that
/// disagree with the data, more rows than `max_rows`.
pub fn decode(
    body: &[u8],
    header_length: Option<usize>,
    model: &LoadedModel,
    max_rows: usize,
) -> Result<Decoded, V2Error> {
    let (json, mut binary) = match header_length {
        Some(n) => body.split_at_checked(n).ok_or_else(|| {
            invalid(format!(
                "Inference-Header-Content-Length is {n} but the body has {} bytes",
                body.len()
            ))
        })?,
        None => (body, &[][..]),
    };
    let json = nan_to_null(json);
    let mut request: InferRequest<'_> = serde_json::from_slice(&json)
        .map_err(|e| V2Error::from(ApiError::InvalidJson(e.to_string())))?;
    let schema = model.bundle.schema();
    let all_binary =
        binary_flag(request.parameters.as_ref(), "binary_data_output").unwrap_or(false);
    let id = request.id.map(Cow::into_owned);
    let mut decoded = Vec::with_capacity(request.inputs.len());
    for input in &mut request.inputs {
        let size = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
            .and_then(Value::as_u64);
        let elements = match (size, input.data.take()) {
            (Some(size), _) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let (bytes, rest) = binary.split_at_checked(size).ok_or_else(|| {
                    invalid(format!(
                        "input '{}': binary_data_size {size} runs past the body",
                        input.name
                    ))
                })?;
                binary = rest;
                decode_binary(&input.name, &input.datatype, bytes)?
            }
            (None, Some(data)) => decode_json(&input.name, &input.datatype, data)?,
            (None, None) => {
                return Err(invalid(format!("input '{}' has no data", input.name)));
            }
        };
        // A shape whose product overflows (or has a negative dimension) holds nothing.
        let expected = input.shape.iter().try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        });
        if expected != Some(elements.len()) {
            return Err(invalid(format!(
                "input '{}': shape {:?} does not hold its {} elements",
                input.name,
                input.shape,
                elements.len()
            )));
        }
        decoded.push((&*input, elements));
    }
    if !binary.is_empty() {
        return Err(invalid(format!(
            "{} bytes of binary data follow the inputs' binary_data_size",
            binary.len()
        )));
    }
    let tensors = to_tensors(decoded, schema)?;
    let rows = match &tensors {
        Tensors::PerFeature { rows, .. } | Tensors::Matrix { rows, .. } => *rows,
    };
    if rows == 0 {
        return Err(invalid("the inputs hold no rows"));
    }
    if rows > max_rows {
        return Err(invalid(format!(
            "{rows} rows in one request; the limit is {max_rows}"
        )));
    }
    let gives_proba = model.bundle.model().kind().gives_probabilities();
    let outputs = match request.outputs {
        Some(asked) => {
            let mut out = SmallVec::with_capacity(asked.len());
            for o in asked {
                let output = match o.name.as_ref() {
                    "predict" => Output::Predict,
                    "predict_proba" if gives_proba => Output::Probabilities,
                    other => {
                        return Err(invalid(format!(
                            "unknown output '{other}'; this model gives {}",
                            if gives_proba {
                                "predict and predict_proba"
                            } else {
                                "predict"
                            }
                        )));
                    }
                };
                let binary =
                    binary_flag(o.parameters.as_ref(), "binary_data").unwrap_or(all_binary);
                out.push((output, binary));
            }
            out
        }
        None => {
            let mut out = smallvec::smallvec![(Output::Predict, all_binary)];
            if gives_proba {
                out.push((Output::Probabilities, all_binary));
            }
            out
        }
    };
    Ok(Decoded {
        id,
        tensors,
        outputs,
    })
}

fn to_tensors(
    decoded: Vec<(&InputTensor<'_>, Elements)>,
    schema: &FeatureSchema,
) -> Result<Tensors, V2Error> {
    let k = schema.features().len();
    // One [n, k] numeric input whose name is not a feature: the features in order.
    if let [(input, _)] = decoded.as_slice()
        && schema.position(&input.name).is_none()
        && input.shape.len() == 2
    {
        let Some((input, elements)) = decoded.into_iter().next() else {
            return Err(invalid("no inputs"));
        };
        if usize::try_from(input.shape[1]).ok() != Some(k) {
            return Err(invalid(format!(
                "input '{}' has shape {:?}; a single input must be [rows, {k}], the features in \
                 order: {}",
                input.name,
                input.shape,
                feature_names(schema)
            )));
        }
        if let Some(f) = schema
            .features()
            .iter()
            .find(|f| matches!(f.dtype, DType::Categorical))
        {
            return Err(invalid(format!(
                "feature '{}' is categorical: send one input per feature (BYTES for \
                 categorical ones) instead of one [rows, {k}] tensor",
                f.name
            )));
        }
        let Elements::Numbers(values) = elements else {
            return Err(invalid(format!(
                "input '{}': a [rows, {k}] input must be numeric (FP64, FP32, INT64, ...)",
                input.name
            )));
        };
        let rows = usize::try_from(input.shape[0]).unwrap_or(0);
        return Ok(Tensors::Matrix {
            values: values.into_vec(),
            k,
            rows,
        });
    }
    let mut columns: Vec<Option<Elements>> = (0..k).map(|_| None).collect();
    let mut rows = None;
    for (input, elements) in decoded {
        let position = schema.position(&input.name).ok_or_else(|| {
            invalid(format!(
                "unknown input '{}'; the inputs are the features ({}), or one [rows, {k}] tensor",
                input.name,
                feature_names(schema)
            ))
        })?;
        let shape_ok = matches!(*input.shape, [_] | [_, 1]);
        if !shape_ok {
            return Err(invalid(format!(
                "input '{}' has shape {:?}; a feature's input is [rows] or [rows, 1]",
                input.name, input.shape
            )));
        }
        let n = elements.len();
        if *rows.get_or_insert(n) != n {
            return Err(invalid(format!(
                "input '{}' has {n} rows, the others {}",
                input.name,
                rows.unwrap_or(0)
            )));
        }
        if columns[position].replace(elements).is_some() {
            return Err(invalid(format!("input '{}' is given twice", input.name)));
        }
    }
    Ok(Tensors::PerFeature {
        columns,
        rows: rows.unwrap_or(0),
    })
}

fn feature_names(schema: &FeatureSchema) -> String {
    schema
        .features()
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One output tensor of an answer ([`InferResponse`]).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputTensor {
    /// `predict` or `predict_proba`.
    pub name: String,
    /// Its datatype.
    pub datatype: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// `binary_data_size` when the data is in the binary part.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<BinaryData>,
    /// The elements, when in JSON.
    #[serde(default)]
    #[schema(value_type = Option<Vec<serde_json::Value>>)]
    pub data: Option<Vec<serde_json::Value>>,
}

/// An output's parameters when its data is in the binary part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryData {
    /// The length of its data in the binary part, in bytes.
    pub binary_data_size: usize,
}

/// An output's elements, written as a JSON array straight from the predictions.
#[derive(Debug, Clone, Copy)]
enum OutputData<'a> {
    /// Values or probabilities (a non-finite one is `null`, as in any JSON answer).
    Numbers(&'a [f64]),
    /// Class indices, written as their labels in `datatype`.
    Labels {
        labels: &'a [usize],
        classes: &'a [ClassLabel],
        datatype: &'static str,
    },
}

impl OutputData<'_> {
    /// The elements as a JSON array: numbers as serde_json writes them, labels from the
    /// model's answer text (numbers for INT64, booleans for BOOL, strings for BYTES).
    fn json(self, out: &mut Vec<u8>, text: &AnswerText) -> Result<(), ApiError> {
        out.push(b'[');
        let written: Result<(), ApiError> = match self {
            OutputData::Numbers(values) => push_list(out, values, |out, &v| {
                push_f64(out, v);
                Ok(())
            }),
            OutputData::Labels {
                labels, datatype, ..
            } => push_list(out, labels, |out, &l| {
                let element = text
                    .class(l, datatype == "BYTES")
                    .ok_or_else(|| ApiError::Internal(format!("label {l} out of range")))?;
                out.extend_from_slice(element);
                Ok(())
            }),
        };
        out.push(b']');
        written
    }

    /// The elements in Triton's binary layout (little-endian; BYTES as a 4-byte length
    /// and the UTF-8 text).
    fn binary(self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        match self {
            OutputData::Numbers(values) => {
                out.reserve(values.len() * 8);
                values
                    .iter()
                    .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
            OutputData::Labels {
                labels,
                classes,
                datatype,
            } => {
                for &l in labels {
                    match (datatype, label(classes, l)?) {
                        ("INT64", ClassLabel::Int(i)) => out.extend_from_slice(&i.to_le_bytes()),
                        ("BOOL", ClassLabel::Bool(b)) => out.push(u8::from(*b)),
                        (_, other) => {
                            let text = other.to_string();
                            let len = u32::try_from(text.len()).map_err(|_| {
                                ApiError::Internal(format!("label {l} is over 4 GiB"))
                            })?;
                            out.extend_from_slice(&len.to_le_bytes());
                            out.extend_from_slice(text.as_bytes());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Class `l` of `classes`.
fn label(classes: &[ClassLabel], l: usize) -> Result<&ClassLabel, ApiError> {
    classes
        .get(l)
        .ok_or_else(|| ApiError::Internal(format!("label {l} out of range")))
}

/// The answer to an inference request, as [`encode`] writes it (the JSON part, when
/// outputs are in binary): its OpenAPI schema, and the type a Rust client reads it into.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferResponse {
    /// The model.
    pub model_name: String,
    /// Its version, as text (the protocol gives versions as strings).
    pub model_version: String,
    /// The request's `id`, when it had one.
    #[serde(default)]
    pub id: Option<String>,
    /// The outputs.
    pub outputs: Vec<OutputTensor>,
}

/// The datatype of a classifier's labels: INT64, BOOL or BYTES, as the labels are.
fn label_datatype(classes: &[ClassLabel]) -> &'static str {
    if classes.iter().all(|c| matches!(c, ClassLabel::Int(_))) {
        "INT64"
    } else if classes.iter().all(|c| matches!(c, ClassLabel::Bool(_))) {
        "BOOL"
    } else {
        "BYTES"
    }
}

/// The `predict` tensor: its datatype and elements.
fn predict_tensor<'a>(
    predictions: &'a Predictions,
    classes: Option<&'a [ClassLabel]>,
) -> Result<(&'static str, OutputData<'a>), ApiError> {
    match (predictions, classes) {
        (Predictions::Values(values), _) => Ok(("FP64", OutputData::Numbers(values))),
        (Predictions::Classes { labels, .. }, Some(classes)) => {
            let datatype = label_datatype(classes);
            Ok((
                datatype,
                OutputData::Labels {
                    labels,
                    classes,
                    datatype,
                },
            ))
        }
        (Predictions::Classes { .. }, None) => Err(ApiError::Internal(
            "a classifier without classes".to_owned(),
        )),
    }
}

/// Encodes the answer: JSON, or JSON header plus binary tensors for the outputs the
/// client asked in binary. The JSON is written straight from the predictions.
///
/// # Errors
/// [`ApiError::Internal`] when the predictions do not fit the model (a bug).
pub fn encode(inference: &Inference<'_>, request: &Decoded) -> Result<HttpResponse, V2Error> {
    let model = inference.model;
    let text = &model.answer;
    let n = inference.predictions.len();
    let n_classes = match &inference.predictions {
        Predictions::Classes { n_classes, .. } => *n_classes,
        Predictions::Values(_) => 0,
    };
    let (one, two) = ([n], [n, n_classes]);
    let mut header = Vec::with_capacity(128 + 24 * n * n_classes.max(1));
    header.extend_from_slice(text.v2_head());
    if let Some(id) = &request.id {
        header.extend_from_slice(b",\"id\":");
        push_str(&mut header, id);
    }
    header.extend_from_slice(b",\"outputs\":[");
    let mut binary = Vec::new();
    push_list(
        &mut header,
        &request.outputs,
        |header, &(output, as_binary)| {
            let (datatype, shape, data) = match output {
                Output::Predict => {
                    let (datatype, data) =
                        predict_tensor(&inference.predictions, model.bundle.classes())?;
                    (datatype, &one[..], data)
                }
                Output::Probabilities => {
                    let Predictions::Classes {
                        probabilities: Some(p),
                        ..
                    } = &inference.predictions
                    else {
                        return Err(V2Error::from(ApiError::Internal(
                            "predict_proba for a model without probabilities".to_owned(),
                        )));
                    };
                    ("FP64", &two[..], OutputData::Numbers(p))
                }
            };
            header.extend_from_slice(b"{\"name\":\"");
            header.extend_from_slice(output.name().as_bytes());
            header.extend_from_slice(b"\",\"datatype\":\"");
            header.extend_from_slice(datatype.as_bytes());
            header.extend_from_slice(b"\",\"shape\":[");
            let mut digits = itoa::Buffer::new();
            push_list(header, shape, |header, &size| {
                header.extend_from_slice(digits.format(size).as_bytes());
                Ok::<_, V2Error>(())
            })?;
            header.push(b']');
            if as_binary {
                let start = binary.len();
                data.binary(&mut binary)?;
                header.extend_from_slice(b",\"parameters\":{\"binary_data_size\":");
                header.extend_from_slice(digits.format(binary.len() - start).as_bytes());
                header.push(b'}');
            } else {
                header.extend_from_slice(b",\"data\":");
                data.json(header, text)?;
            }
            header.push(b'}');
            Ok(())
        },
    )?;
    header.extend_from_slice(b"]}");
    let version = &inference.model.version_header;
    if binary.is_empty() {
        return Ok(super::json_response(header, version));
    }
    let length = header.len();
    let mut body = header;
    body.extend_from_slice(&binary);
    Ok(HttpResponse::Ok()
        .insert_header((
            crate::request::MODEL_VERSION_HEADER.clone(),
            version.clone(),
        ))
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((HEADER_LENGTH.clone(), length.to_string()))
        .body(body))
}

/// The datatype a feature's input takes in metadata.
fn feature_datatype(dtype: DType) -> &'static str {
    match dtype {
        DType::Numeric => "FP64",
        DType::Integer => "INT64",
        DType::Categorical => "BYTES",
        DType::Boolean => "BOOL",
    }
}

/// `GET /v2/models/{name}[/versions/{v}]`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelMetadata {
    /// The model.
    name: String,
    /// Its served versions.
    versions: Vec<String>,
    /// `ferry`.
    platform: &'static str,
    /// One input per feature.
    inputs: Vec<TensorMetadata>,
    /// `predict`, and `predict_proba` for models with probabilities.
    outputs: Vec<TensorMetadata>,
}

/// A tensor's name, datatype and shape (`-1`: any size).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TensorMetadata {
    /// The name.
    name: String,
    /// The datatype.
    datatype: &'static str,
    /// The shape.
    shape: Vec<i64>,
}

/// The metadata of `model`, listing `versions` (every served version of its name).
#[must_use]
pub fn metadata(model: &LoadedModel, versions: Vec<String>) -> ModelMetadata {
    let bundle = &model.bundle;
    let inputs = bundle
        .schema()
        .features()
        .iter()
        .map(|f| TensorMetadata {
            name: f.name.clone(),
            datatype: feature_datatype(f.dtype),
            shape: vec![-1],
        })
        .collect();
    let mut outputs = vec![TensorMetadata {
        name: "predict".to_owned(),
        datatype: bundle.classes().map_or("FP64", label_datatype),
        shape: vec![-1],
    }];
    if bundle.model().kind().gives_probabilities()
        && let Some(classes) = bundle.classes()
    {
        outputs.push(TensorMetadata {
            name: "predict_proba".to_owned(),
            datatype: "FP64",
            shape: vec![-1, i64::try_from(classes.len()).unwrap_or(i64::MAX)],
        });
    }
    ModelMetadata {
        name: bundle.manifest().name.to_string(),
        versions,
        platform: "ferry",
        inputs,
        outputs,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn binary_tensors_decode_as_triton_writes_them() {
        let fp64: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let Elements::Numbers(v) = decode_binary("x", "FP64", &fp64).unwrap() else {
            panic!("numbers")
        };
        assert_eq!(v.as_slice(), [1.5, -2.0]);
        let fp32: Vec<u8> = [0.25f32].iter().flat_map(|v| v.to_le_bytes()).collect();
        let Elements::Numbers(v) = decode_binary("x", "FP32", &fp32).unwrap() else {
            panic!("numbers")
        };
        assert_eq!(v.as_slice(), [0.25]);
        let mut bytes = Vec::new();
        for s in ["male", "female"] {
            bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        let Elements::Bytes(v) = decode_binary("sex", "BYTES", &bytes).unwrap() else {
            panic!("bytes")
        };
        assert_eq!(v, [Some("male".to_owned()), Some("female".to_owned())]);
        assert!(decode_binary("sex", "BYTES", &bytes[..6]).is_err());
        assert!(decode_binary("x", "FP64", &fp64[..7]).is_err());
        assert!(decode_binary("x", "COMPLEX", &fp64).is_err());
        assert_eq!(half_to_f64(0x3c00), 1.0);
        assert_eq!(half_to_f64(0xc000), -2.0);
    }

    #[test]
    fn python_nan_tokens_are_read_as_null_outside_strings() {
        let json = br#"{"data": [NaN, 1.0], "name": "NaN \"NaN\""}"#;
        assert_eq!(
            nan_to_null(json).as_ref(),
            br#"{"data": [null, 1.0], "name": "NaN \"NaN\""}"#
        );
        assert!(matches!(nan_to_null(b"[1]"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn json_data_may_be_nested_and_null_is_missing() {
        let text = |t: &'static str| TensorData::Text(serde_json::from_str(t).unwrap());
        let Elements::Numbers(v) = decode_json("x", "FP64", text("[[1, 2], [3, null]]")).unwrap()
        else {
            panic!("numbers")
        };
        assert_eq!(&v[..3], [1.0, 2.0, 3.0]);
        assert!(v[3].is_nan());
        let err = decode_json("x", "FP64", text(r#"[1, "a", "b"]"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'x' (FP64): expected numbers, found \"a\""
        );
        let err = decode_json("x", "BOOL", text(r#"[[true], [null]]"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'x' (BOOL): expected booleans, found null"
        );
        let err = decode_json("x", "BYTES", text(r#"["a", {"b": 1}]"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'x' (BYTES): expected strings, found {\"b\":1}"
        );
        let err = decode_json("x", "INT128", text("[1]")).unwrap_err();
        assert_eq!(err.to_string(), "input 'x': unknown datatype 'INT128'");
    }

    #[test]
    fn data_is_read_in_one_pass_after_its_datatype_and_later_before_it() {
        let decode = |body: &str| -> InputTensor<'static> {
            serde_json::from_str(Box::leak(body.to_owned().into_boxed_str())).unwrap()
        };
        let after = decode(r#"{"name":"x","shape":[2],"datatype":"FP64","data":[1,null]}"#);
        assert!(matches!(
            after.data,
            Some(TensorData::Read(Ok(Elements::Numbers(_))))
        ));
        let before = decode(r#"{"data":[1,2],"name":"x","shape":[2],"datatype":"FP64"}"#);
        assert!(matches!(before.data, Some(TensorData::Text(_))));
        let null = decode(r#"{"name":"x","shape":[1],"datatype":"FP64","data":null}"#);
        assert!(null.data.is_none());
        let escaped = decode(r#"{"name":"a\u0062","shape":[1],"datatype":"BYTES","data":["é"]}"#);
        assert_eq!(escaped.name, "ab");
        let twice = serde_json::from_str::<InputTensor<'_>>(
            r#"{"name":"x","name":"y","shape":[1],"datatype":"FP64","data":[1]}"#,
        );
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("duplicate field `name`")
        );
    }

    #[test]
    fn a_shape_is_read_on_the_stack_or_the_heap_and_named_when_it_is_not_a_list() {
        let shape = |t: &str| serde_json::from_str::<Shape>(t);
        assert_eq!(*shape("[3]").unwrap(), [3]);
        assert!(!shape("[3, 4]").unwrap().0.spilled());
        let deep = shape("[1, 2, 3, -1]").unwrap();
        assert_eq!(*deep, [1, 2, 3, -1]);
        assert_eq!(format!("{deep:?}"), "[1, 2, 3, -1]");
        let not_a_list = shape(r#""x""#).unwrap_err().to_string();
        assert!(
            not_a_list.contains(r#"invalid type: string "x", expected a sequence of integers"#),
            "{not_a_list}"
        );
        assert!(
            shape("[1.5]")
                .unwrap_err()
                .to_string()
                .contains("expected i64")
        );
    }
}
