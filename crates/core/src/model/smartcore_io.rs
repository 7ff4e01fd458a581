//! Conversions between Ferry's types and smartcore's.

use smartcore::linalg::basic::matrix::DenseMatrix;

use super::error::{PredictError, TrainError};
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

pub(super) fn dense_for_predict(x: &FeatureMatrix) -> Result<DenseMatrix<f64>, PredictError> {
    dense(x).map_err(PredictError::Library)
}

pub(super) fn fit_failed(
    algorithm: &'static str,
) -> impl Fn(smartcore::error::Failed) -> TrainError {
    move |e| TrainError::Library {
        algorithm,
        message: e.to_string(),
    }
}
