//! Row validation: records from any source ([`Row`]) checked field by field against a
//! [`FeatureSchema`] into a [`Frame`], every problem reported as a [`SchemaError`] that
//! names the feature, the expected and the found value.

use std::fmt;

use serde::Serialize;

use super::{DType, FeatureSchema, FeatureSpec};
use crate::frame::{Column, Frame};

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
    /// A category not in the feature's allowed list (the schema's `categories`).
    #[error("feature '{name}': expected one of {expected:?}, found {found:?}")]
    UnknownCategory {
        /// The feature.
        name: String,
        /// The allowed categories.
        expected: Vec<String>,
        /// The value.
        found: String,
    },
    /// A category the model's `one_hot` step never saw in training, under
    /// `handle_unknown: error`. Serialised with the same `unknown_category` tag.
    #[serde(rename = "unknown_category")]
    #[error("feature '{name}': unknown category {found:?}, expected one of {expected:?}")]
    UnseenCategory {
        /// The feature.
        name: String,
        /// The categories seen in training.
        expected: Vec<String>,
        /// The value.
        found: String,
    },
    /// A value so large that scaling it or the model's arithmetic overflows.
    #[error("feature '{name}': {found:e} is too large for the model")]
    TooLarge {
        /// The feature.
        name: String,
        /// The value.
        found: f64,
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

/// "record 0: ...; record 3: ..." for the first few rows, then how many more: the one
/// wording of every multi-record error.
#[must_use]
pub fn describe_rows(rows: &[RowErrors]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = rows
        .iter()
        .take(SHOWN)
        .map(|r| format!("record {}: {r}", r.row))
        .collect();
    if rows.len() > SHOWN {
        parts.push(format!("and {} more invalid records", rows.len() - SHOWN));
    }
    parts.join("; ")
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
        // Each value goes straight into its column; a row with errors is taken back out.
        let n_rows = self.n_rows();
        let result = visit_row(self.schema, row, |i, value| {
            if let Some(column) = self.columns.get_mut(i) {
                push_value(column, value);
            }
        });
        if result.is_err() {
            for column in &mut self.columns {
                column.truncate(n_rows);
            }
        }
        result
    }

    /// Validates `row` without adding it (for a row rejected for another reason, whose
    /// feature errors should still be reported).
    ///
    /// # Errors
    /// Every [`SchemaError`] of the row.
    pub fn check<R: Row + ?Sized>(&self, row: &R) -> Result<(), Vec<SchemaError>> {
        visit_row(self.schema, row, |_, _| {})
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

/// Parses every feature of `row` in schema order, handing each valid value to `accept`
/// with its feature's index.
///
/// # Errors
/// Every error of the row: the features' in schema order, then one per key the schema
/// does not know.
fn visit_row<'r, R: Row + ?Sized>(
    schema: &FeatureSchema,
    row: &'r R,
    mut accept: impl FnMut(usize, Parsed<'r>),
) -> Result<(), Vec<SchemaError>> {
    let mut errors = Vec::new();
    for (i, spec) in schema.features.iter().enumerate() {
        match parse_cell(spec, row.cell(i, &spec.name)) {
            Ok(p) => accept(i, p),
            Err(e) => errors.push(e),
        }
    }
    for name in row.unknown_keys(schema) {
        errors.push(SchemaError::UnknownFeature { name });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[inline]
fn push_value(column: &mut Column, value: Parsed<'_>) {
    match (column, value) {
        (Column::Numeric(v), Parsed::Num(x)) => v.push(x),
        (Column::Numeric(v), Parsed::Missing) => v.push(f64::NAN),
        (Column::Categorical(v), Parsed::Cat(s)) => v.push(Some(s.to_owned())),
        (Column::Categorical(v), Parsed::Missing) => v.push(None),
        // parse_cell yields Num only for numeric columns and Cat only for categorical
        // ones, so these pairs cannot occur.
        (Column::Numeric(v), Parsed::Cat(_)) => v.push(f64::NAN),
        (Column::Categorical(v), Parsed::Num(_)) => v.push(None),
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

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "f" | "n" => Some(false),
        _ => None,
    }
}
