//! The target column: its spec, and parsing a field according to the model's task.

use serde::{Deserialize, Serialize};

use super::DType;
use super::row::parse_bool;
use crate::label::ClassLabel;
use crate::model::Task;

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
    /// Parses one target field (text, as read from a data file) for `task`: a class
    /// label for classification, a number for regression (an `integer` target of a
    /// regressor is a whole number, not a label).
    ///
    /// # Errors
    /// [`TargetError`] when the field is empty or does not parse as the target's type.
    pub fn parse(&self, raw: Option<&str>, task: Task) -> Result<TargetValue, TargetError> {
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
        let number = || match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) | Err(_) => Err(wrong()),
        };
        match (self.dtype, task) {
            (DType::Numeric, Task::Regression | Task::Classification) => {
                number().map(TargetValue::Number)
            }
            (DType::Integer, Task::Regression) => match number()? {
                v if v.fract() == 0.0 => Ok(TargetValue::Number(v)),
                _ => Err(wrong()),
            },
            (DType::Integer, Task::Classification) => match number()? {
                v if v.fract() == 0.0 && v.abs() < 9.0e15 =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(TargetValue::Label(ClassLabel::Int(v as i64)))
                }
                _ => Err(wrong()),
            },
            (DType::Boolean, Task::Regression | Task::Classification) => parse_bool(s)
                .map(|b| TargetValue::Label(ClassLabel::Bool(b)))
                .ok_or_else(wrong),
            (DType::Categorical, Task::Regression | Task::Classification) => {
                Ok(TargetValue::Label(ClassLabel::Str(s.to_owned())))
            }
        }
    }
}
