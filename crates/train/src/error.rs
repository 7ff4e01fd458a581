//! [`RunError`]: everything a training run can fail with, each classified for the exit code.

use std::path::PathBuf;

use ferry_core::artifact::ArtifactError;
use ferry_core::config::{ConfigErrors, YamlError};
use ferry_core::metrics::MetricError;
use ferry_core::model::{PredictError, TrainError};
use ferry_core::preprocess::PreprocessError;
use ferry_core::registry::RegistryError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A model file that cannot be imported with this config.
    #[error("import {path}: {message}")]
    Import {
        /// The model file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The config file cannot be read.
    #[error("cannot read config: {0}")]
    ReadConfig(#[source] std::io::Error),
    /// The config file is not valid YAML for a pipeline (an unknown key, a wrong type).
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The config file.
        path: PathBuf,
        /// The parser's error, with the key path and line.
        source: YamlError,
    },
    /// The config parses but has invalid values.
    #[error("{}: {errors}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// Every problem found.
        errors: ConfigErrors,
    },
    /// The data file cannot be read or parsed.
    #[error("cannot read data {}: {message}", path.display())]
    ReadData {
        /// The data file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A column the schema needs is not in the data.
    #[error("data {} has no column '{column}' (columns: {available}){hint}", path.display())]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The columns the file has.
        available: String,
        /// Advice when the header looks separated by another character, starting with
        /// "; "; empty otherwise.
        hint: String,
    },
    /// Too many rows failed validation.
    #[error(
        "{invalid} of {read} rows are invalid ({:.1}%, the limit is {:.1}%); see the dead-letter file {}",
        100.0 * *invalid as f64 / (*read).max(1) as f64,
        limit * 100.0,
        dead_letter.display()
    )]
    TooManyInvalid {
        /// Invalid rows.
        invalid: usize,
        /// Rows read.
        read: usize,
        /// `data.max_invalid_fraction`.
        limit: f64,
        /// Where the invalid rows were written.
        dead_letter: PathBuf,
    },
    /// Too few valid rows to split and fit.
    #[error("not enough valid rows: {0}")]
    NotEnoughRows(String),
    /// `train cv --folds-out` could not write its file.
    #[error("cannot write the folds file: {0}")]
    WriteFolds(#[source] std::io::Error),
    /// No grid search candidate could be scored.
    #[error("grid search: {0}")]
    Search(String),
    /// The dead-letter file cannot be written.
    #[error("cannot write dead-letter file {}: {source}", path.display())]
    DeadLetter {
        /// The dead-letter file.
        path: PathBuf,
        /// The error.
        source: csv::Error,
    },
    /// Preprocessing could not be fitted.
    #[error("preprocessing: {0}")]
    Preprocess(#[from] PreprocessError),
    /// The model could not be fitted.
    #[error("training: {0}")]
    Train(#[from] TrainError),
    /// The test set could not be predicted.
    #[error("evaluation: {0}")]
    Predict(#[from] PredictError),
    /// A metric could not be computed.
    #[error("evaluation: {0}")]
    Metric(#[from] MetricError),
    /// One or more quality gates failed; nothing was registered.
    #[error(transparent)]
    GateFailed(#[from] crate::stages::gate::GatesFailed),
    /// The artifact could not be assembled.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The registry refused the artifact.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// The registry cannot be opened (a store client not built in, its settings
    /// refused, no cache directory).
    #[error(transparent)]
    OpenRegistry(#[from] ferry_store::OpenError),
    /// A drift comparison is impossible (no reference statistics, no usable row).
    #[error("drift: {0}")]
    Drift(String),
    /// Explanations are impossible (not a tree model, no usable row).
    #[error("explain: {0}")]
    Explain(String),
    /// A report file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteReport {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The resolved config could not be serialised.
    #[error("cannot serialise the resolved config: {0}")]
    SerializeConfig(YamlError),
}

/// How a failed run exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Exit 2: the config or the data is wrong.
    Usage,
    /// Exit 1: a gate failed or something broke.
    Failure,
}

impl RunError {
    /// The process exit code: 2 for bad config or data, 1 for failed gates and internal
    /// failures.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self.exit_kind() {
            ExitKind::Usage => 2,
            ExitKind::Failure => 1,
        }
    }

    /// Exit 2 for bad config or data, 1 for failed gates and internal failures.
    #[must_use]
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            RunError::ReadConfig(_)
            | RunError::Import { .. }
            | RunError::Yaml { .. }
            | RunError::Config { .. }
            | RunError::ReadData { .. }
            | RunError::MissingColumn { .. }
            | RunError::TooManyInvalid { .. }
            | RunError::NotEnoughRows(_)
            | RunError::Search(_)
            | RunError::OpenRegistry(_)
            | RunError::Drift(_)
            | RunError::Explain(_)
            | RunError::WriteFolds(_) => ExitKind::Usage,
            RunError::Preprocess(e) if e.is_caller_error() => ExitKind::Usage,
            RunError::Train(e) if e.is_caller_error() => ExitKind::Usage,
            RunError::Metric(
                MetricError::NotBinary(_)
                | MetricError::WrongTask { .. }
                | MetricError::NoProbabilities(_)
                | MetricError::Empty,
            ) => ExitKind::Usage,
            RunError::WriteReport { .. }
            | RunError::Preprocess(_)
            | RunError::Train(_)
            | RunError::Predict(_)
            | RunError::Metric(_)
            | RunError::DeadLetter { .. }
            | RunError::GateFailed(_)
            | RunError::Artifact(_)
            | RunError::Registry(_)
            | RunError::SerializeConfig(_) => ExitKind::Failure,
        }
    }
}
