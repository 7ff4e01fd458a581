use crate::config::ConfigErrors;

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
    /// A category not seen during training, with `handle_unknown: error` (caller's fault).
    #[error("row {row}: feature '{column}': unknown category {found:?}, expected one of {known:?}")]
    UnknownCategory {
        /// Zero-based row in the batch.
        row: usize,
        /// The column.
        column: String,
        /// The value.
        found: String,
        /// The categories seen during training.
        known: Vec<String>,
    },
    /// A value is still missing after every step (a feature that is nullable in the
    /// schema but has no impute step).
    #[error("row {row}: feature '{column}' is missing and no impute step fills it")]
    MissingValue {
        /// Zero-based row in the batch.
        row: usize,
        /// The column.
        column: String,
    },
    /// Scaling a value overflowed: it is too large for the model (caller's fault).
    #[error("row {row}: feature '{column}': {value} is too large to scale")]
    NonFinite {
        /// Zero-based row in the batch.
        row: usize,
        /// The column.
        column: String,
        /// The value.
        value: f64,
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
            | PreprocessError::UnknownCategory { .. }
            | PreprocessError::MissingValue { .. }
            | PreprocessError::NonFinite { .. } => true,
            PreprocessError::FrameMismatch { .. } | PreprocessError::Internal(_) => false,
        }
    }
}
