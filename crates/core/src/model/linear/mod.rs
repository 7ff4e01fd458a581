//! `type: linear_regression` (ordinary least squares) and `type: ridge_regression`
//! (least squares with an L2 penalty), fitted by smartcore and predicted from their
//! coefficients.

mod gram;
mod logistic;

pub use logistic::{
    LogisticRegressionModel, LogisticRegressionParams, ValidLogisticRegressionParams,
};

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::linear::gram::Centred;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed};
use crate::model::{
    Model, ModelKind, PredictError, Predictions, Target, Task, TrainError, Trainer, TrainingSet,
    check_width,
};

const NAME: &str = "linear_regression";
const RIDGE: &str = "ridge_regression";

/// How the least-squares system is solved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearSolver {
    /// The minimum-norm solution through the SVD of the centred `p x p` Gram matrix,
    /// built in one parallel pass over the rows: stable with collinear inputs (one-hot
    /// columns), and a million rows cost a read of the matrix.
    #[default]
    Svd,
    /// smartcore's QR decomposition of the whole matrix: needs full-rank inputs.
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
        if self.0.solver == LinearSolver::Svd {
            if data.x.n_rows() == 0 || data.x.n_cols() == 0 {
                return Err(TrainError::NotEnoughData {
                    algorithm: NAME,
                    reason: "the training set has no rows or no input columns".to_owned(),
                });
            }
            let system = Centred::new(&data.x, y);
            let coefficients = system.solve_svd(0.0).map_err(fit_failed(NAME))?;
            let intercept = system.intercept(&coefficients);
            return finite(NAME, coefficients, intercept);
        }
        let x = dense_for_fit(&data.x, NAME)?;
        let fitted: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> = LinearRegression::fit(
            &x,
            y,
            LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::QR),
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

/// The model, or an error naming the first coefficient that is not finite.
fn finite(
    algorithm: &'static str,
    coefficients: Vec<f64>,
    intercept: f64,
) -> Result<LinearRegressionModel, TrainError> {
    if let Some(bad) = coefficients
        .iter()
        .chain(std::iter::once(&intercept))
        .find(|c| !c.is_finite())
    {
        return Err(TrainError::Library {
            algorithm,
            message: format!("the solver gave a coefficient of {bad}"),
        });
    }
    Ok(LinearRegressionModel {
        coefficients,
        intercept,
    })
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
        let mut checks = ParamChecks::new();
        checks.positive("alpha", self.alpha);
        checks.finish(ValidRidgeRegressionParams(self.clone()))
    }
}

/// A fitted ridge regression: coefficients and an unpenalised intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RidgeRegressionModel(LinearRegressionModel);

impl Trainer for ValidRidgeRegressionParams {
    type Model = RidgeRegressionModel;

    /// Centres the inputs and the target, solves `(Xc'Xc + alpha I) w = Xc'yc` (by
    /// Cholesky or SVD), and recovers the intercept from the means: the model
    /// scikit-learn's `Ridge(alpha, fit_intercept=True)` fits. (smartcore's ridge either
    /// fits no intercept or penalises standardised coefficients.)
    fn fit(&self, data: &TrainingSet) -> Result<RidgeRegressionModel, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: RIDGE,
                expected: Task::Regression,
            });
        };
        if data.x.n_rows() == 0 || data.x.n_cols() == 0 {
            return Err(TrainError::NotEnoughData {
                algorithm: RIDGE,
                reason: "the training set has no rows or no input columns".to_owned(),
            });
        }
        let system = Centred::new(&data.x, y);
        let coefficients = match self.0.solver {
            RidgeSolver::Cholesky => system.solve_cholesky(self.0.alpha),
            RidgeSolver::Svd => system.solve_svd(self.0.alpha),
        }
        .map_err(fit_failed(RIDGE))?;
        let intercept = system.intercept(&coefficients);
        finite(RIDGE, coefficients, intercept).map(RidgeRegressionModel)
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

/// Hyperparameters of `type: lasso` and `type: elastic_net`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElasticNetParams {
    /// Strength of the penalty, as scikit-learn's `alpha` (the squared error is averaged
    /// over the rows and halved); default 1.0.
    pub alpha: f64,
    /// Share of the penalty that is L1 (the rest is L2), from 0 to 1; `lasso` is 1.
    pub l1_ratio: f64,
    /// Coordinate-descent sweeps at most; default 1000.
    pub max_iter: usize,
    /// Stop when no coefficient moves by more than `tol` times the largest; default 1e-4.
    pub tol: f64,
}

impl ElasticNetParams {
    fn with_ratio(l1_ratio: f64) -> Self {
        Self {
            alpha: 1.0,
            l1_ratio,
            max_iter: 1000,
            tol: 1e-4,
        }
    }

    /// Checks `alpha > 0`, `0 <= l1_ratio <= 1`, `max_iter >= 1`, `tol > 0`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidElasticNetParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks
            .positive("alpha", self.alpha)
            .fraction("l1_ratio", self.l1_ratio)
            .count_at_least("max_iter", self.max_iter, 1)
            .positive("tol", self.tol);
        checks.finish(ValidElasticNetParams(self.clone()))
    }
}

/// Hyperparameters of `type: lasso`: [`ElasticNetParams`] without `l1_ratio` (always 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LassoParams {
    /// Strength of the L1 penalty, as scikit-learn's `Lasso(alpha)`; default 1.0.
    pub alpha: f64,
    /// Coordinate-descent sweeps at most; default 1000.
    pub max_iter: usize,
    /// Stop when no coefficient moves by more than `tol` times the largest; default 1e-4.
    pub tol: f64,
}

impl Default for LassoParams {
    fn default() -> Self {
        let e = ElasticNetParams::with_ratio(1.0);
        Self {
            alpha: e.alpha,
            max_iter: e.max_iter,
            tol: e.tol,
        }
    }
}

impl Default for ElasticNetParams {
    fn default() -> Self {
        Self::with_ratio(0.5)
    }
}

impl LassoParams {
    /// As [`ElasticNetParams::validate`].
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidElasticNetParams, ConfigErrors> {
        ElasticNetParams {
            alpha: self.alpha,
            l1_ratio: 1.0,
            max_iter: self.max_iter,
            tol: self.tol,
        }
        .validate()
    }
}

/// Validated [`ElasticNetParams`] (or [`LassoParams`], with `l1_ratio` 1).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidElasticNetParams(ElasticNetParams);

/// A fitted lasso or elastic net: coefficients (some exactly 0) and an unpenalised
/// intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticNetModel {
    #[serde(flatten)]
    linear: LinearRegressionModel,
    /// Whether it was fitted as `lasso` (its kind) rather than `elastic_net`.
    lasso: bool,
}

impl Trainer for ValidElasticNetParams {
    type Model = ElasticNetModel;

    /// Cyclic coordinate descent on the centred Gram matrix: scikit-learn's objective,
    /// in one pass over the rows and sweeps over `p` coefficients.
    fn fit(&self, data: &TrainingSet) -> Result<ElasticNetModel, TrainError> {
        let p = &self.0;
        let algorithm = if p.l1_ratio == 1.0 {
            "lasso"
        } else {
            "elastic_net"
        };
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm,
                expected: Task::Regression,
            });
        };
        if data.x.n_rows() == 0 || data.x.n_cols() == 0 {
            return Err(TrainError::NotEnoughData {
                algorithm,
                reason: "the training set has no rows or no input columns".to_owned(),
            });
        }
        let system = Centred::new(&data.x, y);
        let (coefficients, sweeps) =
            system.solve_elastic_net(data.x.n_rows(), p.alpha, p.l1_ratio, p.tol, p.max_iter);
        if sweeps >= p.max_iter {
            return Err(TrainError::NotConverged {
                algorithm,
                max_iter: p.max_iter,
            });
        }
        let intercept = system.intercept(&coefficients);
        Ok(ElasticNetModel {
            linear: finite(algorithm, coefficients, intercept)?,
            lasso: p.l1_ratio == 1.0,
        })
    }
}

impl ElasticNetModel {
    /// One weight per input column.
    #[must_use]
    pub fn coefficients(&self) -> &[f64] {
        self.linear.coefficients()
    }

    /// The intercept.
    #[must_use]
    pub fn intercept(&self) -> f64 {
        self.linear.intercept()
    }
}

impl Model for ElasticNetModel {
    fn kind(&self) -> ModelKind {
        if self.lasso {
            ModelKind::Lasso
        } else {
            ModelKind::ElasticNet
        }
    }

    fn n_features(&self) -> usize {
        self.linear.n_features()
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        self.linear.predict(x)
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

    #[test]
    fn gram_svd_predicts_as_smartcores_svd_on_collinear_one_hot_inputs() {
        // A numeric column and a three-way one-hot whose columns sum to 1 (collinear
        // with the intercept): the minimum-norm solutions predict the same.
        let n = 300;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i as f64 * 0.37).sin() * 4.0;
            let k = i % 3;
            values.extend([
                a,
                f64::from(u8::from(k == 0)),
                f64::from(u8::from(k == 1)),
                f64::from(u8::from(k == 2)),
            ]);
            y.push(2.5 * a + [10.0, -3.0, 0.5][k] + ((i * 7) % 5) as f64 * 0.1);
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, n, 4).unwrap(),
            y: Target::Values(y.clone()),
            seed: 0,
        };
        let ours = LinearRegressionParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        let x = dense_for_fit(&data.x, NAME).unwrap();
        let theirs: LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> = LinearRegression::fit(
            &x,
            &y,
            LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::SVD),
        )
        .unwrap();
        let Predictions::Values(p) = ours.predict(&data.x).unwrap() else {
            panic!()
        };
        let q = theirs.predict(&x).unwrap();
        for (a, b) in p.iter().zip(&q) {
            assert!((a - b).abs() < 1e-8 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert!((ours.coefficients()[0] - 2.5).abs() < 0.05);
    }

    #[test]
    fn lasso_matches_smartcores_lasso_and_zeroes_a_useless_column() {
        use smartcore::linear::lasso::{Lasso, LassoParameters};
        let n = 200;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i as f64 * 0.37).sin() * 2.0;
            let b = (i as f64 * 0.11).cos();
            let noise = ((i * 13) % 7) as f64 * 0.01;
            values.extend([a, b, noise]);
            y.push(3.0 * a - 1.5 * b + 4.0 + ((i * 7) % 5) as f64 * 0.05);
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, n, 3).unwrap(),
            y: Target::Values(y.clone()),
            seed: 0,
        };
        let alpha = 0.1;
        let ours = LassoParams {
            alpha,
            tol: 1e-10,
            max_iter: 100_000,
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        assert_eq!(ours.kind(), ModelKind::Lasso);
        // smartcore minimises (1/n)|r|^2 + a|w|_1: scikit-learn's alpha times 2.
        let x = dense_for_fit(&data.x, "lasso").unwrap();
        let theirs: Lasso<f64, f64, DenseMatrix<f64>, Vec<f64>> = Lasso::fit(
            &x,
            &y,
            LassoParameters::default()
                .with_alpha(2.0 * alpha)
                .with_normalize(false)
                .with_tol(1e-10)
                .with_max_iter(10_000),
        )
        .unwrap();
        // smartcore's interior-point coefficients are approximate: agree to 2e-3. (Its
        // intercept without normalisation is not the centred one; the KKT check below
        // pins ours.)
        let coef = theirs.coefficients();
        for j in 0..3 {
            let t = *coef.get((j, 0));
            assert!(
                (ours.coefficients()[j] - t).abs() < 2e-3,
                "{j}: {:?} vs {t}",
                ours.coefficients()
            );
        }
        // Ours is the exact optimum: the optimality (KKT) conditions, computed here from
        // the residuals, hold to 1e-8.
        let Predictions::Values(pred) = ours.predict(&data.x).unwrap() else {
            panic!()
        };
        let residual: Vec<f64> = y.iter().zip(&pred).map(|(t, p)| t - p).collect();
        for j in 0..3 {
            let grad = data
                .x
                .rows()
                .zip(&residual)
                .map(|(row, r)| row[j] * r)
                .sum::<f64>()
                / n as f64;
            let w = ours.coefficients()[j];
            if w == 0.0 {
                assert!(grad.abs() <= alpha + 1e-8, "{j}: {grad}");
            } else {
                assert!((grad - alpha * w.signum()).abs() < 1e-8, "{j}: {grad}");
            }
        }
        assert!(residual.iter().sum::<f64>().abs() < 1e-8);
        // The noise column is dropped exactly.
        assert_eq!(ours.coefficients()[2], 0.0, "{:?}", ours.coefficients());
        // An elastic net with l1_ratio 1 is the lasso; with 0 it is ridge with
        // alpha * n on the diagonal.
        let ridge_like = ElasticNetParams {
            alpha,
            l1_ratio: 0.0,
            tol: 1e-12,
            max_iter: 100_000,
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        assert_eq!(ridge_like.kind(), ModelKind::ElasticNet);
        let ridge = RidgeRegressionParams {
            alpha: alpha * n as f64,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        for (a, b) in ridge_like.coefficients().iter().zip(ridge.coefficients()) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
    }

    #[test]
    fn stopping_at_max_iter_is_an_error_naming_it() {
        let values: Vec<f64> = (0..40)
            .flat_map(|i| [f64::from(i), f64::from(i % 3)])
            .collect();
        let y: Vec<f64> = (0..40)
            .map(|i| f64::from(i) * 2.0 + f64::from(i % 3))
            .collect();
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, 40, 2).unwrap(),
            y: Target::Values(y),
            seed: 0,
        };
        let err = LassoParams {
            alpha: 0.01,
            max_iter: 1,
            tol: 1e-12,
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "lasso did not converge in max_iter = 1 iterations; raise max_iter or tol"
        );
        assert!(err.is_caller_error());
    }

    #[test]
    fn elastic_net_params_are_checked() {
        let err = ElasticNetParams {
            alpha: 0.0,
            l1_ratio: 1.5,
            max_iter: 0,
            tol: -1.0,
        }
        .validate()
        .unwrap_err();
        let paths: Vec<_> = err.issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["alpha", "l1_ratio", "max_iter", "tol"]);
    }
}
