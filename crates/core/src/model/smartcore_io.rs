//! Conversions between Ferry's types and smartcore's.

use smartcore::linalg::basic::matrix::DenseMatrix;

use super::error::TrainError;
use crate::frame::FeatureMatrix;

/// Copies `x` into a row-major smartcore matrix.
pub(super) fn dense(x: &FeatureMatrix) -> Result<DenseMatrix<f64>, String> {
    DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).map_err(|e| e.to_string())
}

pub(super) fn dense_for_fit(
    x: &FeatureMatrix,
    algorithm: &'static str,
) -> Result<DenseMatrix<f64>, TrainError> {
    dense(x).map_err(|message| TrainError::Library { algorithm, message })
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
