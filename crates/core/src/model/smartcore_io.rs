//! Conversions between Ferry's types and smartcore's.

use smartcore::linalg::basic::matrix::DenseMatrix;

use super::error::{TrainError, TreeError};
use crate::frame::FeatureMatrix;

/// Copies `x` into a row-major smartcore matrix.
pub(super) fn dense(x: &FeatureMatrix) -> Result<DenseMatrix<f64>, smartcore::error::Failed> {
    DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false)
}

pub(super) fn dense_for_fit(
    x: &FeatureMatrix,
    algorithm: &'static str,
) -> Result<DenseMatrix<f64>, TrainError> {
    dense(x).map_err(fit_failed(algorithm))
}

/// Turns a tree that could not be built into the [`TrainError`] of `algorithm`: an
/// internal fault (Ferry's or smartcore's tree is malformed).
pub(super) fn tree_failed(algorithm: &'static str) -> impl Fn(TreeError) -> TrainError + Copy {
    move |e| TrainError::Library {
        algorithm,
        message: e.to_string(),
    }
}

pub(super) fn fit_failed(
    algorithm: &'static str,
) -> impl Fn(smartcore::error::Failed) -> TrainError {
    move |e| TrainError::Library {
        algorithm,
        message: e.to_string(),
    }
}

/// Reads the parts of a fitted smartcore model that Ferry converts (its node lists) by
/// round-tripping it through smartcore's serde representation, in MessagePack with field
/// names, into `T`, a mirror that names only the fields it needs. smartcore offers no
/// accessors for its nodes; a change of its layout makes this fail loudly at training
/// time, and stored artifacts never depend on it.
pub(super) fn mirror<T: serde::de::DeserializeOwned, S: serde::Serialize>(
    model: &S,
    algorithm: &'static str,
) -> Result<T, TrainError> {
    let failed = |message: String| TrainError::Library {
        algorithm,
        message: format!("cannot read smartcore's fitted model: {message}"),
    };
    let bytes = rmp_serde::to_vec_named(model).map_err(|e| failed(e.to_string()))?;
    rmp_serde::from_slice(&bytes).map_err(|e| failed(e.to_string()))
}
