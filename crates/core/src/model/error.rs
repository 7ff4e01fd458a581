use crate::model::Task;
use crate::preprocess::PreprocessError;
use crate::schema::{RowErrors, describe_rows};

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
    /// An iterative fit stopped at its iteration limit (caller's fault: the limit or
    /// the tolerance is too tight for the data).
    #[error(
        "{algorithm} did not converge in max_iter = {max_iter} iterations; raise max_iter or tol"
    )]
    NotConverged {
        /// The algorithm.
        algorithm: &'static str,
        /// The limit it hit.
        max_iter: usize,
    },
    /// The training data has values the algorithm cannot take (a negative count for
    /// multinomial naive Bayes, say): the caller's data or preprocessing.
    #[error("{algorithm} cannot be fitted on this data: {reason}")]
    UnsuitedData {
        /// The algorithm.
        algorithm: &'static str,
        /// Which value, where, and what was expected.
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
            TrainError::WrongTask { .. }
            | TrainError::NotEnoughData { .. }
            | TrainError::NotConverged { .. }
            | TrainError::UnsuitedData { .. } => true,
            TrainError::Library { .. } => false,
        }
    }
}

/// Why a prediction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// Values the model cannot use (caller's fault), every one of the batch by record:
    /// categories its `one_hot` steps never saw, values too large to scale, inputs so
    /// large the model's output overflows (attributed to the record's largest input).
    #[error("{}", describe_rows(.0))]
    InvalidValues(Vec<RowErrors>),
    /// Preprocessing failed for another reason (a value no step fills is the caller's
    /// fault; the others are internal).
    #[error(transparent)]
    Preprocess(PreprocessError),
    /// The input matrix has the wrong number of columns (internal fault: the
    /// preprocessor and model of a bundle disagree).
    #[error("model expects {expected} input columns, got {found}")]
    WidthMismatch {
        /// Columns the model was trained on.
        expected: usize,
        /// Columns given.
        found: usize,
    },
    /// The model failed (internal fault).
    #[error("prediction failed: {0}")]
    Library(String),
}

impl From<PreprocessError> for PredictError {
    fn from(e: PreprocessError) -> Self {
        match e {
            PreprocessError::InvalidValues(rows) => PredictError::InvalidValues(rows),
            other @ (PreprocessError::Invalid(_)
            | PreprocessError::NoValues { .. }
            | PreprocessError::MissingValue { .. }
            | PreprocessError::Internal(_)
            | PreprocessError::FrameMismatch { .. }) => PredictError::Preprocess(other),
        }
    }
}

impl PredictError {
    /// True when the request is at fault, false for internal faults.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            PredictError::Preprocess(e) => e.is_caller_error(),
            PredictError::InvalidValues(_) => true,
            PredictError::WidthMismatch { .. } | PredictError::Library(_) => false,
        }
    }
}
