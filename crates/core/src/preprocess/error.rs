use crate::config::ConfigErrors;
use crate::schema::{RowErrors, describe_rows};

/// Why preprocessing could not be fitted or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreprocessError {
    /// The steps do not fit the schema (caller's fault: a config error).
    #[error("invalid preprocessing: {0}")]
    Invalid(ConfigErrors),
    /// A step needs at least one value to fit and the column has none.
    #[error("cannot fit {op} on column '{column}': it has no values")]
    NoValues {
        /// The step.
        op: &'static str,
        /// The column.
        column: String,
    },
    /// Values the fitted steps cannot take (caller's fault): categories not seen in
    /// training under `handle_unknown: error`
    /// ([`SchemaError::UnseenCategory`](crate::schema::SchemaError::UnseenCategory)),
    /// values too large to scale
    /// ([`SchemaError::TooLarge`](crate::schema::SchemaError::TooLarge)). Every bad value
    /// of the batch, by record.
    #[error("{}", describe_rows(.0))]
    InvalidValues(Vec<RowErrors>),
    /// A value is still missing after every step (a feature that is nullable in the
    /// schema but has no impute step).
    #[error("row {row}: feature '{column}' is missing and no impute step fills it")]
    MissingValue {
        /// Zero-based row in the batch.
        row: usize,
        /// The column.
        column: String,
    },
    /// A state validation rules out was reached (internal fault: a bug).
    #[error("internal preprocessing error: {0}")]
    Internal(String),
    /// The frame's columns do not match the preprocessor's input schema (internal fault).
    #[error("frame column {index} does not match the preprocessor's input schema")]
    FrameMismatch {
        /// The first mismatching column.
        index: usize,
    },
}

impl PreprocessError {
    /// True when the caller (the config or the request) is at fault, false for internal faults.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            PreprocessError::Invalid(_)
            | PreprocessError::NoValues { .. }
            | PreprocessError::InvalidValues(_)
            | PreprocessError::MissingValue { .. } => true,
            PreprocessError::FrameMismatch { .. } | PreprocessError::Internal(_) => false,
        }
    }
}
