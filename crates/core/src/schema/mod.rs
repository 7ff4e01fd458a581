//! The feature schema: which inputs a model takes, their types and constraints, and the
//! row validation that turns raw records (CSV fields, JSON values) into a [`Frame`].
//!
//! Every validation error names the feature, the expected and the found value, so a
//! dead-letter line or a 422 response tells the user exactly what to fix.

mod row;
mod target;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use row::{Cell, FrameBuilder, Row, RowErrors, SchemaError, describe_rows, json_cell};
pub use target::{TargetError, TargetSpec, TargetValue};

use crate::config::ConfigErrors;
use crate::frame::Frame;

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

    pub(crate) fn expected(self) -> &'static str {
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
    pub(crate) fn contains(&self, v: f64) -> bool {
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

/// The ordered input features of a model; validated on construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SchemaRepr", into = "SchemaRepr")]
pub struct FeatureSchema {
    features: Vec<FeatureSpec>,
    /// Each feature's position by name, for every request's lookups: foldhash (the
    /// names are the model's own, and lookups never insert).
    index: HashMap<String, usize, foldhash::fast::RandomState>,
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
        let mut index = HashMap::with_capacity_and_hasher(features.len(), Default::default());
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

#[cfg(test)]
mod tests;
