//! The feature schema: which inputs a model takes, their types and constraints, and the
//! row validation that turns raw records (CSV fields, JSON values) into a [`Frame`].
//!
//! Every validation error names the feature, the expected and the found value, so a
//! dead-letter line or a 422 response tells the user exactly what to fix.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::{Column, Frame};
use crate::label::ClassLabel;

/// The type of a feature or target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// A real number.
    Numeric,
    /// A whole number (stored as `f64`).
    Integer,
    /// A string from a set of categories.
    Categorical,
    /// `true` or `false` (stored as 1 or 0).
    Boolean,
}

impl DType {
    /// The snake_case name used in configs and errors.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Numeric => "numeric",
            DType::Integer => "integer",
            DType::Categorical => "categorical",
            DType::Boolean => "boolean",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            DType::Numeric => "a number",
            DType::Integer => "a whole number",
            DType::Categorical => "a string",
            DType::Boolean => "a boolean",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Inclusive bounds for a numeric or integer feature; either side may be open.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueRange {
    /// Smallest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ValueRange {
    fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

impl fmt::Display for ValueRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) => write!(f, "between {a} and {b}"),
            (Some(a), None) => write!(f, "at least {a}"),
            (None, Some(b)) => write!(f, "at most {b}"),
            (None, None) => f.write_str("any value"),
        }
    }
}

/// One input feature of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Column name in the data and key in a prediction request.
    pub name: String,
    /// The feature's type.
    pub dtype: DType,
    /// Whether a value may be missing (null, absent, or a null token in CSV).
    #[serde(default)]
    pub nullable: bool,
    /// Allowed interval, for numeric and integer features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<ValueRange>,
    /// Allowed categories, for categorical features; any string is accepted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

/// The target column of a training set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Column name in the data.
    pub name: String,
    /// `categorical`, `integer` or `boolean` labels for classification; `numeric` or
    /// `integer` values for regression.
    pub dtype: DType,
}

/// The ordered input features of a model; validated on construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SchemaRepr", into = "SchemaRepr")]
pub struct FeatureSchema {
    features: Vec<FeatureSpec>,
    index: HashMap<String, usize>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaRepr {
    features: Vec<FeatureSpec>,
}

impl TryFrom<SchemaRepr> for FeatureSchema {
    type Error = ConfigErrors;
    fn try_from(repr: SchemaRepr) -> Result<Self, ConfigErrors> {
        FeatureSchema::new(repr.features)
    }
}

impl From<FeatureSchema> for SchemaRepr {
    fn from(schema: FeatureSchema) -> Self {
        SchemaRepr {
            features: schema.features,
        }
    }
}

impl FeatureSchema {
    /// Validates and builds a schema. Paths in the errors are relative to the feature list
    /// (`[2].range`).
    ///
    /// # Errors
    /// Every problem: no features, duplicate or empty names, a range on a non-numeric
    /// feature or with `min > max`, categories on a non-categorical feature or empty.
    pub fn new(features: Vec<FeatureSpec>) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if features.is_empty() {
            errors.push("", "at least one feature is required");
        }
        let mut index = HashMap::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            let at = format!("[{i}]");
            if f.name.trim().is_empty() {
                errors.push(format!("{at}.name"), "must not be empty");
            } else if index.insert(f.name.clone(), i).is_some() {
                errors.push(
                    format!("{at}.name"),
                    format!("duplicate feature '{}'", f.name),
                );
            }
            if let Some(range) = f.range {
                if !matches!(f.dtype, DType::Numeric | DType::Integer) {
                    errors.push(
                        format!("{at}.range"),
                        format!(
                            "only numeric and integer features have a range, '{}' is {}",
                            f.name, f.dtype
                        ),
                    );
                }
                if let (Some(a), Some(b)) = (range.min, range.max)
                    && a > b
                {
                    errors.push(
                        format!("{at}.range"),
                        format!("min {a} is greater than max {b}"),
                    );
                }
            }
            if let Some(cats) = &f.categories {
                if f.dtype != DType::Categorical {
                    errors.push(
                        format!("{at}.categories"),
                        format!(
                            "only categorical features have categories, '{}' is {}",
                            f.name, f.dtype
                        ),
                    );
                }
                if cats.is_empty() {
                    errors.push(
                        format!("{at}.categories"),
                        "must list at least one category",
                    );
                }
            }
        }
        errors.into_result(Self { features, index })
    }

    /// The features, in order.
    #[must_use]
    pub fn features(&self) -> &[FeatureSpec] {
        &self.features
    }

    /// Number of features.
    #[must_use]
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Always false for a validated schema; present for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Position of the feature called `name`.
    #[must_use]
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Validates `rows` and builds a [`Frame`]; on failure returns the errors of every bad
    /// row (a batch is accepted whole or not at all).
    ///
    /// # Errors
    /// [`RowErrors`] for each row with at least one [`SchemaError`].
    pub fn validate_rows<R: Row>(&self, rows: &[R]) -> Result<Frame, Vec<RowErrors>> {
        let mut builder = FrameBuilder::new(self, rows.len());
        let mut failures = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if let Err(errors) = builder.push(row) {
                failures.push(RowErrors { row: i, errors });
            }
        }
        if failures.is_empty() {
            Ok(builder.finish())
        } else {
            Err(failures)
        }
    }
}

/// A value as it arrives, before validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// The key is not present in the record.
    Absent,
    /// An explicit null (JSON `null`, an empty CSV field or a configured null token).
    Null,
    /// A typed boolean (JSON).
    Bool(bool),
    /// A typed number (JSON).
    Number(f64),
    /// A typed string (JSON): only categorical features accept it.
    Text(&'a str),
    /// An untyped field (CSV, or any column read as text): parsed according to the
    /// feature's type.
    Raw(&'a str),
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Absent => f.write_str("nothing"),
            Cell::Null => f.write_str("null"),
            Cell::Bool(b) => write!(f, "boolean {b}"),
            Cell::Number(n) => write!(f, "number {n}"),
            Cell::Text(s) => write!(f, "string {s:?}"),
            Cell::Raw(s) => write!(f, "{s:?}"),
        }
    }
}

/// A record that can be validated against a schema.
pub trait Row {
    /// The cell for feature `name` (at position `index` in the schema).
    fn cell(&self, index: usize, name: &str) -> Cell<'_>;
    /// Keys of the record that are not features of `schema`; empty for sources that
    /// select columns by name (CSV).
    fn unknown_keys(&self, schema: &FeatureSchema) -> Vec<String>;
}

impl Row for serde_json::Map<String, serde_json::Value> {
    fn cell(&self, _index: usize, name: &str) -> Cell<'_> {
        json_cell(self.get(name))
    }

    fn unknown_keys(&self, schema: &FeatureSchema) -> Vec<String> {
        self.keys()
            .filter(|k| schema.position(k).is_none())
            .cloned()
            .collect()
    }
}

impl<T: Row> Row for &T {
    fn cell(&self, index: usize, name: &str) -> Cell<'_> {
        (**self).cell(index, name)
    }

    fn unknown_keys(&self, schema: &FeatureSchema) -> Vec<String> {
        (**self).unknown_keys(schema)
    }
}

/// Converts an optional JSON value into a [`Cell`]; arrays and objects become a typed
/// string cell describing them, which every feature type rejects with a clear message.
#[must_use]
pub fn json_cell(value: Option<&serde_json::Value>) -> Cell<'_> {
    use serde_json::Value;
    match value {
        None => Cell::Absent,
        Some(Value::Null) => Cell::Null,
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Number(n)) => n
            .as_f64()
            .map_or(Cell::Text("<number out of range>"), Cell::Number),
        Some(Value::String(s)) => Cell::Text(s),
        Some(Value::Array(_)) => Cell::Text("<array>"),
        Some(Value::Object(_)) => Cell::Text("<object>"),
    }
}

/// One field of one record that failed validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum SchemaError {
    /// A required feature is absent from the record.
    #[error("missing feature '{name}'")]
    MissingFeature {
        /// The feature.
        name: String,
    },
    /// The record has a key that is not a feature of the model.
    #[error("unknown feature '{name}'")]
    UnknownFeature {
        /// The key.
        name: String,
    },
    /// A non-nullable feature is null.
    #[error("feature '{name}' is not nullable, found null")]
    NullNotAllowed {
        /// The feature.
        name: String,
    },
    /// The value has the wrong type or does not parse.
    #[error("feature '{name}': expected {expected}, found {found}")]
    WrongType {
        /// The feature.
        name: String,
        /// What the feature's type accepts.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A numeric value lies outside the feature's range.
    #[error("feature '{name}': expected a value {expected}, found {found}")]
    OutOfRange {
        /// The feature.
        name: String,
        /// The allowed range.
        expected: String,
        /// The value.
        found: f64,
    },
    /// A category not in the feature's allowed list.
    #[error("feature '{name}': expected one of {expected:?}, found {found:?}")]
    UnknownCategory {
        /// The feature.
        name: String,
        /// The allowed categories.
        expected: Vec<String>,
        /// The value.
        found: String,
    },
}

/// The errors of one record, by its position in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowErrors {
    /// Zero-based position of the record in the batch or file.
    pub row: usize,
    /// Everything wrong with it.
    pub errors: Vec<SchemaError>,
}

impl fmt::Display for RowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

enum Parsed<'a> {
    Num(f64),
    Cat(&'a str),
    Missing,
}

/// Builds a [`Frame`] row by row; a row with errors is not added, so rejected rows can be
/// dead-lettered while the valid ones are kept.
#[derive(Debug)]
pub struct FrameBuilder<'s> {
    schema: &'s FeatureSchema,
    columns: Vec<Column>,
}

impl<'s> FrameBuilder<'s> {
    /// An empty builder with room for `capacity` rows.
    #[must_use]
    pub fn new(schema: &'s FeatureSchema, capacity: usize) -> Self {
        let columns = schema
            .features
            .iter()
            .map(|f| match f.dtype {
                DType::Categorical => Column::Categorical(Vec::with_capacity(capacity)),
                DType::Numeric | DType::Integer | DType::Boolean => {
                    Column::Numeric(Vec::with_capacity(capacity))
                }
            })
            .collect();
        Self { schema, columns }
    }

    /// Validates `row` and appends it.
    ///
    /// # Errors
    /// Every [`SchemaError`] of the row; the row is then not added.
    pub fn push<R: Row + ?Sized>(&mut self, row: &R) -> Result<(), Vec<SchemaError>> {
        let parsed = self.parse_row(row)?;
        for (column, value) in self.columns.iter_mut().zip(parsed) {
            match (column, value) {
                (Column::Numeric(v), Parsed::Num(x)) => v.push(x),
                (Column::Numeric(v), Parsed::Missing) => v.push(f64::NAN),
                (Column::Categorical(v), Parsed::Cat(s)) => v.push(Some(s.to_owned())),
                (Column::Categorical(v), Parsed::Missing) => v.push(None),
                // parse_cell yields Num only for numeric columns and Cat only for
                // categorical ones, so these pairs cannot occur.
                (Column::Numeric(v), Parsed::Cat(_)) => v.push(f64::NAN),
                (Column::Categorical(v), Parsed::Num(_)) => v.push(None),
            }
        }
        Ok(())
    }

    /// Validates `row` without adding it (for a row rejected for another reason, whose
    /// feature errors should still be reported).
    ///
    /// # Errors
    /// Every [`SchemaError`] of the row.
    pub fn check<R: Row + ?Sized>(&self, row: &R) -> Result<(), Vec<SchemaError>> {
        self.parse_row(row).map(drop)
    }

    fn parse_row<'r, R: Row + ?Sized>(
        &self,
        row: &'r R,
    ) -> Result<Vec<Parsed<'r>>, Vec<SchemaError>> {
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(self.schema.features.len());
        for (i, spec) in self.schema.features.iter().enumerate() {
            match parse_cell(spec, row.cell(i, &spec.name)) {
                Ok(p) => parsed.push(p),
                Err(e) => errors.push(e),
            }
        }
        for name in row.unknown_keys(self.schema) {
            errors.push(SchemaError::UnknownFeature { name });
        }
        if errors.is_empty() {
            Ok(parsed)
        } else {
            Err(errors)
        }
    }

    /// Number of rows added so far.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// The frame of every accepted row.
    #[must_use]
    pub fn finish(self) -> Frame {
        // Every push adds one value to every column, so the lengths agree.
        let n_rows = self.n_rows();
        Frame::from_aligned(self.columns, n_rows)
    }
}

fn wrong_type(spec: &FeatureSpec, cell: Cell<'_>) -> SchemaError {
    SchemaError::WrongType {
        name: spec.name.clone(),
        expected: spec.dtype.expected().to_owned(),
        found: cell.to_string(),
    }
}

fn parse_cell<'a>(spec: &FeatureSpec, cell: Cell<'a>) -> Result<Parsed<'a>, SchemaError> {
    let missing = match cell {
        Cell::Absent if !spec.nullable => {
            return Err(SchemaError::MissingFeature {
                name: spec.name.clone(),
            });
        }
        Cell::Null if !spec.nullable => {
            return Err(SchemaError::NullNotAllowed {
                name: spec.name.clone(),
            });
        }
        Cell::Raw(s) if s.trim().is_empty() => {
            if spec.nullable {
                true
            } else {
                return Err(SchemaError::NullNotAllowed {
                    name: spec.name.clone(),
                });
            }
        }
        Cell::Absent | Cell::Null => true,
        Cell::Bool(_) | Cell::Number(_) | Cell::Text(_) | Cell::Raw(_) => false,
    };
    if missing {
        return Ok(Parsed::Missing);
    }
    match spec.dtype {
        DType::Numeric | DType::Integer => {
            let v = match cell {
                Cell::Number(v) => v,
                Cell::Raw(s) => match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    Ok(_) | Err(_) => return Err(wrong_type(spec, cell)),
                },
                Cell::Absent | Cell::Null | Cell::Bool(_) | Cell::Text(_) => {
                    return Err(wrong_type(spec, cell));
                }
            };
            if spec.dtype == DType::Integer && v.fract() != 0.0 {
                return Err(wrong_type(spec, cell));
            }
            if let Some(range) = spec.range
                && !range.contains(v)
            {
                return Err(SchemaError::OutOfRange {
                    name: spec.name.clone(),
                    expected: range.to_string(),
                    found: v,
                });
            }
            Ok(Parsed::Num(v))
        }
        DType::Boolean => match cell {
            Cell::Bool(b) => Ok(Parsed::Num(f64::from(u8::from(b)))),
            Cell::Raw(s) => parse_bool(s)
                .map(|b| Parsed::Num(f64::from(u8::from(b))))
                .ok_or_else(|| wrong_type(spec, cell)),
            Cell::Absent | Cell::Null | Cell::Number(_) | Cell::Text(_) => {
                Err(wrong_type(spec, cell))
            }
        },
        DType::Categorical => {
            let s = match cell {
                Cell::Text(s) | Cell::Raw(s) => s,
                Cell::Absent | Cell::Null | Cell::Bool(_) | Cell::Number(_) => {
                    return Err(wrong_type(spec, cell));
                }
            };
            if let Some(allowed) = &spec.categories
                && !allowed.iter().any(|c| c == s)
            {
                return Err(SchemaError::UnknownCategory {
                    name: spec.name.clone(),
                    expected: allowed.clone(),
                    found: s.to_owned(),
                });
            }
            Ok(Parsed::Cat(s))
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// The target value of one training row.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetValue {
    /// A class label (classification).
    Label(ClassLabel),
    /// A number (regression).
    Number(f64),
}

/// Why a target field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The target is empty or null.
    #[error("target '{name}' is missing")]
    Missing {
        /// The target column.
        name: String,
    },
    /// The target does not parse as its type.
    #[error("target '{name}': expected {expected}, found {found:?}")]
    WrongType {
        /// The target column.
        name: String,
        /// What its type accepts.
        expected: String,
        /// The field.
        found: String,
    },
}

impl TargetSpec {
    /// Parses one target field (text, as read from a data file).
    ///
    /// # Errors
    /// [`TargetError`] when the field is empty or does not parse as the target's type.
    pub fn parse(&self, raw: Option<&str>) -> Result<TargetValue, TargetError> {
        let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(TargetError::Missing {
                name: self.name.clone(),
            });
        };
        let wrong = || TargetError::WrongType {
            name: self.name.clone(),
            expected: self.dtype.expected().to_owned(),
            found: s.to_owned(),
        };
        match self.dtype {
            DType::Numeric => match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(TargetValue::Number(v)),
                Ok(_) | Err(_) => Err(wrong()),
            },
            DType::Integer => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(TargetValue::Label(ClassLabel::Int(v as i64)))
                }
                Ok(_) | Err(_) => Err(wrong()),
            },
            DType::Boolean => parse_bool(s)
                .map(|b| TargetValue::Label(ClassLabel::Bool(b)))
                .ok_or_else(wrong),
            DType::Categorical => Ok(TargetValue::Label(ClassLabel::Str(s.to_owned()))),
        }
    }
}

#[cfg(test)]
mod tests;
