use crate::model::Task;
use crate::preprocess::PreprocessError;

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The target's kind does not match the algorithm (caller's fault).
    #[error("{algorithm} needs a {expected:?} target")]
    WrongTask {
        /// The algorithm.
        algorithm: &'static str,
        /// The task it performs.
        expected: Task,
    },
    /// Too few rows or classes to fit (caller's fault).
    #[error("cannot fit {algorithm}: {reason}")]
    NotEnoughData {
        /// The algorithm.
        algorithm: &'static str,
        /// What is missing.
        reason: String,
    },
    /// smartcore reported a failure.
    #[error("{algorithm} failed to fit: {message}")]
    Library {
        /// The algorithm.
        algorithm: &'static str,
        /// smartcore's message.
        message: String,
    },
}

impl TrainError {
    /// True when the data or config is at fault, false for library failures.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            TrainError::WrongTask { .. } | TrainError::NotEnoughData { .. } => true,
            TrainError::Library { .. } => false,
        }
    }
}

/// Why a prediction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// Preprocessing rejected the rows (an unknown category is the caller's fault).
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// The input matrix has the wrong number of columns (internal fault: the
    /// preprocessor and model of a bundle disagree).
    #[error("model expects {expected} input columns, got {found}")]
    WidthMismatch {
        /// Columns the model was trained on.
        expected: usize,
        /// Columns given.
        found: usize,
    },
    /// smartcore reported a failure (internal fault).
    #[error("prediction failed: {0}")]
    Library(String),
    /// The model's output overflowed for this input (caller's fault: extreme values).
    #[error("row {row}: the input values are too large for the model")]
    NonFinite {
        /// Zero-based row in the batch.
        row: usize,
    },
}

impl PredictError {
    /// True when the request is at fault, false for internal faults.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            PredictError::Preprocess(e) => e.is_caller_error(),
            PredictError::NonFinite { .. } => true,
            PredictError::WidthMismatch { .. } | PredictError::Library(_) => false,
        }
    }
}
