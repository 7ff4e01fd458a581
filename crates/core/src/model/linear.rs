//! `type: linear_regression` (ordinary least squares) and `type: ridge_regression`
//! (least squares with an L2 penalty), fitted by smartcore and predicted from their
//! coefficients.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::ridge_regression::{
    RidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName,
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
const RIDGE: &str = "ridge_regression";

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

/// How the penalised normal equations are solved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RidgeSolver {
    /// Cholesky decomposition: fast; the penalty keeps the system positive definite.
    #[default]
    Cholesky,
    /// Singular value decomposition: slower, more tolerant of a tiny `alpha`.
    Svd,
}

/// Hyperparameters of `type: ridge_regression`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RidgeRegressionParams {
    /// Strength of the L2 penalty on the coefficients (not on the intercept), as
    /// scikit-learn's `Ridge(alpha)`; default 1.0.
    pub alpha: f64,
    /// `cholesky` (default) or `svd`.
    pub solver: RidgeSolver,
}

impl Default for RidgeRegressionParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            solver: RidgeSolver::Cholesky,
        }
    }
}

/// Validated [`RidgeRegressionParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRidgeRegressionParams(RidgeRegressionParams);

impl RidgeRegressionParams {
    /// Checks that `alpha` is finite and positive.
    ///
    /// # Errors
    /// The offending field.
    pub fn validate(&self) -> Result<ValidRidgeRegressionParams, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            errors.push(
                "alpha",
                format!("expected a finite number above 0, found {}", self.alpha),
            );
        }
        errors.into_result(ValidRidgeRegressionParams(self.clone()))
    }
}

/// A fitted ridge regression: coefficients and an unpenalised intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RidgeRegressionModel(LinearRegressionModel);

impl Trainer for ValidRidgeRegressionParams {
    type Model = RidgeRegressionModel;

    /// Centres the inputs and the target, solves the penalised system on the centred
    /// data (smartcore's ridge without its own standardisation, which would penalise
    /// rescaled coefficients), and recovers the intercept from the means: the model
    /// scikit-learn's `Ridge(alpha, fit_intercept=True)` fits.
    fn fit(&self, data: &TrainingSet) -> Result<RidgeRegressionModel, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: RIDGE,
                expected: Task::Regression,
            });
        };
        let (n, p) = (data.x.n_rows(), data.x.n_cols());
        if n == 0 || p == 0 {
            return Err(TrainError::NotEnoughData {
                algorithm: RIDGE,
                reason: "the training set has no rows or no input columns".to_owned(),
            });
        }
        let mut x_mean = vec![0.0; p];
        for row in data.x.rows() {
            for (m, v) in x_mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut x_mean {
            *m /= n as f64;
        }
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let centred: Vec<f64> = data
            .x
            .rows()
            .flat_map(|row| row.iter().zip(&x_mean).map(|(v, m)| v - m))
            .collect();
        let x = DenseMatrix::new(n, p, centred, false).map_err(|e| TrainError::Library {
            algorithm: RIDGE,
            message: e.to_string(),
        })?;
        let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let solver = match self.0.solver {
            RidgeSolver::Cholesky => RidgeRegressionSolverName::Cholesky,
            RidgeSolver::Svd => RidgeRegressionSolverName::SVD,
        };
        let fitted: RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> = RidgeRegression::fit(
            &x,
            &yc,
            RidgeRegressionParameters::default()
                .with_alpha(self.0.alpha)
                .with_normalize(false)
                .with_solver(solver),
        )
        .map_err(fit_failed(RIDGE))?;
        let coef = fitted.coefficients();
        let coefficients: Vec<f64> = (0..p).map(|j| *coef.get((j, 0))).collect();
        if let Some(bad) = coefficients.iter().find(|c| !c.is_finite()) {
            return Err(TrainError::Library {
                algorithm: RIDGE,
                message: format!("the solver gave a coefficient of {bad}"),
            });
        }
        let intercept = y_mean
            - coefficients
                .iter()
                .zip(&x_mean)
                .map(|(w, m)| w * m)
                .sum::<f64>();
        Ok(RidgeRegressionModel(LinearRegressionModel {
            coefficients,
            intercept,
        }))
    }
}

impl RidgeRegressionModel {
    /// One weight per input column.
    #[must_use]
    pub fn coefficients(&self) -> &[f64] {
        self.0.coefficients()
    }

    /// The intercept.
    #[must_use]
    pub fn intercept(&self) -> f64 {
        self.0.intercept()
    }
}

impl Model for RidgeRegressionModel {
    fn kind(&self) -> ModelKind {
        ModelKind::RidgeRegression
    }

    fn n_features(&self) -> usize {
        self.0.n_features()
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        self.0.predict(x)
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

    #[test]
    fn ridge_solves_the_centred_penalised_normal_equations() {
        // Two columns on very different scales and an offset: the intercept is not
        // penalised, the coefficients are, as in scikit-learn's Ridge.
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let a = f64::from(i) * 10.0 + 500.0;
            let b = f64::from((i * 7) % 11) * 0.1;
            values.extend([a, b]);
            y.push(0.3 * a - 20.0 * b + 1000.0 + f64::from(i % 3));
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values.clone(), 40, 2).unwrap(),
            y: Target::Values(y.clone()),
            seed: 0,
        };
        let alpha = 5.0;
        let model = RidgeRegressionParams {
            alpha,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        // Independent solution of (Xc'Xc + alpha I) w = Xc'yc by Cramer's rule.
        let n = 40.0;
        let (ma, mb) = (
            values.iter().step_by(2).sum::<f64>() / n,
            values.iter().skip(1).step_by(2).sum::<f64>() / n,
        );
        let my = y.iter().sum::<f64>() / n;
        let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (r, t) in values.chunks(2).zip(&y) {
            let (a, b, t) = (r[0] - ma, r[1] - mb, t - my);
            saa += a * a;
            sab += a * b;
            sbb += b * b;
            say += a * t;
            sby += b * t;
        }
        let (saa, sbb) = (saa + alpha, sbb + alpha);
        let det = saa * sbb - sab * sab;
        let wa = (say * sbb - sab * sby) / det;
        let wb = (saa * sby - sab * say) / det;
        let b0 = my - wa * ma - wb * mb;
        let c = model.coefficients();
        assert!(
            (c[0] - wa).abs() < 1e-9 * wa.abs().max(1.0),
            "{c:?} vs {wa}"
        );
        assert!(
            (c[1] - wb).abs() < 1e-9 * wb.abs().max(1.0),
            "{c:?} vs {wb}"
        );
        assert!(
            (model.intercept() - b0).abs() < 1e-6,
            "{} vs {b0}",
            model.intercept()
        );
        // The penalty shrinks the small-scale column's weight below the OLS one (-20).
        assert!(c[1] > -20.0, "{c:?}");
        let Predictions::Values(pred) = model.predict(&data.x).unwrap() else {
            panic!()
        };
        let row0 = c[0] * values[0] + c[1] * values[1] + model.intercept();
        assert!((pred[0] - row0).abs() < 1e-9);
    }

    #[test]
    fn ridge_alpha_must_be_positive_and_finite() {
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = RidgeRegressionParams {
                alpha,
                ..Default::default()
            }
            .validate()
            .unwrap_err();
            assert_eq!(err.issues[0].path, "alpha");
            assert!(
                err.issues[0]
                    .message
                    .contains("expected a finite number above 0"),
                "{err:?}"
            );
        }
    }
}
