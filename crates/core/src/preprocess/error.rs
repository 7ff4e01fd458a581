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

/// Why stored fitted steps (a `preprocessor.json`) do not make a preprocessor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FittedStepsError {
    /// A step names a feature the input schema does not have.
    #[error("step for unknown feature '{0}'")]
    UnknownFeature(String),
    /// A feature with no column plan (internal fault).
    #[error("feature '{0}' has no plan")]
    NoPlan(String),
    /// A one-hot or code step lists a category twice.
    #[error("duplicate category in the encoding of '{0}'")]
    DuplicateCategory(String),
    /// A categorical feature encoded by two steps.
    #[error("categorical feature '{0}' is encoded twice")]
    EncodedTwice(String),
    /// A step for a feature of another type.
    #[error("step {op} does not apply to the type of '{column}'")]
    WrongType {
        /// The step's `op`.
        op: &'static str,
        /// The feature.
        column: String,
    },
    /// A categorical feature no one-hot or code step encodes.
    #[error("categorical feature '{0}' is not encoded")]
    NotEncoded(String),
    /// The stored output features differ from those the steps produce.
    #[error("stored output features {stored:?} do not match the steps, which produce {built:?}")]
    Output {
        /// As stored.
        stored: Vec<String>,
        /// As the steps produce them.
        built: Vec<String>,
    },
}
