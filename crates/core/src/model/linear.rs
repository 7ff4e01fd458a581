//! `type: linear_regression`: ordinary least squares fitted by smartcore, predicted from
//! its coefficients.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};

use super::smartcore_io::{dense_for_fit, fit_failed};
use super::{
    Model, ModelKind, PredictError, Predictions, Target, Task, TrainError, Trainer, TrainingSet,
    check_width,
};
use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

const NAME: &str = "linear_regression";

/// How the least-squares system is solved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearSolver {
    /// Singular value decomposition: stable with collinear inputs (one-hot columns).
    #[default]
    Svd,
    /// QR decomposition: faster, needs full-rank inputs.
    Qr,
}

/// Hyperparameters of `type: linear_regression`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearRegressionParams {
    /// `svd` (default) or `qr`.
    pub solver: LinearSolver,
}

/// Validated [`LinearRegressionParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidLinearRegressionParams(LinearRegressionParams);

impl LinearRegressionParams {
    /// Every solver is valid; present for the uniform params -> valid params flow.
    ///
    /// # Errors
    /// None today.
    pub fn validate(&self) -> Result<ValidLinearRegressionParams, ConfigErrors> {
        Ok(ValidLinearRegressionParams(self.clone()))
    }
}

/// A fitted linear regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRegressionModel {
    coefficients: Vec<f64>,
    intercept: f64,
}

impl Trainer for ValidLinearRegressionParams {
    type Model = LinearRegressionModel;

    fn fit(&self, data: &TrainingSet) -> Result<LinearRegressionModel, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Regression,
            });
        };
        let x = dense_for_fit(&data.x, NAME)?;
        let solver = match self.0.solver {
            LinearSolver::Svd => LinearRegressionSolverName::SVD,
            LinearSolver::Qr => LinearRegressionSolverName::QR,
        };
        let fitted: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> = LinearRegression::fit(
            &x,
            y,
            LinearRegressionParameters::default().with_solver(solver),
        )
        .map_err(fit_failed(NAME))?;
        let coef = fitted.coefficients();
        let coefficients = (0..data.x.n_cols()).map(|j| *coef.get((j, 0))).collect();
        Ok(LinearRegressionModel {
            coefficients,
            intercept: *fitted.intercept(),
        })
    }
}

impl LinearRegressionModel {
    /// One weight per input column.
    #[must_use]
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// The intercept.
    #[must_use]
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
}

impl Model for LinearRegressionModel {
    fn kind(&self) -> ModelKind {
        ModelKind::LinearRegression
    }

    fn n_features(&self) -> usize {
        self.coefficients.len()
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.coefficients.len())?;
        let values = x
            .rows()
            .map(|row| {
                row.iter()
                    .zip(&self.coefficients)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    + self.intercept
            })
            .collect();
        Ok(Predictions::Values(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_relation() {
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..30 {
            let a = f64::from(i);
            let b = f64::from((i * 7) % 11);
            values.extend([a, b]);
            y.push(3.0 * a - 2.0 * b + 5.0);
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, 30, 2).unwrap(),
            y: Target::Values(y.clone()),
            seed: 0,
        };
        let model = LinearRegressionParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        assert!((model.coefficients()[0] - 3.0).abs() < 1e-9);
        assert!((model.coefficients()[1] + 2.0).abs() < 1e-9);
        assert!((model.intercept() - 5.0).abs() < 1e-9);
        let Predictions::Values(pred) = model.predict(&data.x).unwrap() else {
            panic!()
        };
        for (p, t) in pred.iter().zip(&y) {
            assert!((p - t).abs() < 1e-8);
        }
    }

    #[test]
    fn wrong_width_is_an_error() {
        let model = LinearRegressionModel {
            coefficients: vec![1.0, 2.0],
            intercept: 0.0,
        };
        let x = FeatureMatrix::from_row_major(vec![1.0], 1, 1).unwrap();
        assert_eq!(
            model.predict(&x),
            Err(PredictError::WidthMismatch {
                expected: 2,
                found: 1
            })
        );
    }
}
