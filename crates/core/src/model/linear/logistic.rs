//! `type: logistic_regression`: fitted by smartcore (L-BFGS), predicted from its
//! coefficients so that every row gets class probabilities (smartcore 0.7 has no
//! `predict_proba` for this model).

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed};
use crate::model::{
    Model, ModelKind, PredictError, Predictions, Target, Task, TrainError, Trainer, TrainingSet,
    check_width,
};

const NAME: &str = "logistic_regression";

/// Hyperparameters of `type: logistic_regression`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogisticRegressionParams {
    /// L2 penalty on the weights, `0.5 * alpha * |w|^2` added to the summed log loss.
    /// `1.0` matches scikit-learn's default `C = 1.0`.
    pub alpha: f64,
}

impl Default for LogisticRegressionParams {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

/// Validated [`LogisticRegressionParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidLogisticRegressionParams(LogisticRegressionParams);

impl LogisticRegressionParams {
    /// Checks `alpha >= 0`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidLogisticRegressionParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks.at_least("alpha", self.alpha, 0.0);
        checks.finish(ValidLogisticRegressionParams(self.clone()))
    }
}

/// A fitted logistic regression: one weight row per class (one row in total for two
/// classes, for the second class, as smartcore fits it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticRegressionModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    /// Row-major `rows x n_features` weights; `rows` is 1 for binary models, else the
    /// number of classes.
    weights: Vec<f64>,
    /// One intercept per weight row.
    intercepts: Vec<f64>,
}

impl Trainer for ValidLogisticRegressionParams {
    type Model = LogisticRegressionModel;

    fn fit(&self, data: &TrainingSet) -> Result<LogisticRegressionModel, TrainError> {
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Classification,
            });
        };
        let k = labels.classes().len();
        if k < 2 {
            return Err(TrainError::NotEnoughData {
                algorithm: NAME,
                reason: format!("the training set has {k} class, at least 2 are needed"),
            });
        }
        let x = dense_for_fit(&data.x, NAME)?;
        let y: Vec<u32> = labels.codes().to_vec();
        let params = LogisticRegressionParameters::default().with_alpha(self.0.alpha);
        let fitted: LogisticRegression<f64, u32, DenseMatrix<f64>, Vec<u32>> =
            LogisticRegression::fit(&x, &y, params).map_err(fit_failed(NAME))?;
        let m = data.x.n_cols();
        let rows = if k == 2 { 1 } else { k };
        let coef = fitted.coefficients();
        let icpt = fitted.intercept();
        let mut weights = Vec::with_capacity(rows * m);
        let mut intercepts = Vec::with_capacity(rows);
        for r in 0..rows {
            for j in 0..m {
                weights.push(*coef.get((r, j)));
            }
            intercepts.push(*icpt.get((r, 0)));
        }
        Ok(LogisticRegressionModel {
            classes: labels.classes().to_vec(),
            n_features: m,
            weights,
            intercepts,
        })
    }
}

impl LogisticRegressionModel {
    /// The row-major weights (one row per class, or one row for a binary model).
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The intercepts, one per weight row.
    #[must_use]
    pub fn intercepts(&self) -> &[f64] {
        &self.intercepts
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Model for LogisticRegressionModel {
    model_shape!(ModelKind::LogisticRegression, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let n = x.n_rows();
        let mut labels = Vec::with_capacity(n);
        let mut probabilities = Vec::with_capacity(n * k);
        let m = self.n_features;
        let logit = |row: &[f64], r: usize| -> f64 {
            let w = self
                .weights
                .as_slice()
                .get(r * m..(r + 1) * m)
                .unwrap_or(&[]);
            row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
                + self.intercepts.as_slice().get(r).copied().unwrap_or(0.0)
        };
        for row in x.rows() {
            if self.intercepts.len() == 1 {
                // Binary: smartcore predicts the second class when sigmoid(z) > 0.5.
                let p1 = sigmoid(logit(row, 0));
                probabilities.push(1.0 - p1);
                probabilities.push(p1);
                labels.push(usize::from(p1 > 0.5));
            } else {
                let start = probabilities.len();
                let mut max = f64::NEG_INFINITY;
                for r in 0..k {
                    let z = logit(row, r);
                    max = max.max(z);
                    probabilities.push(z);
                }
                let probs = &mut probabilities[start..];
                let mut best = 0;
                let mut best_z = f64::NEG_INFINITY;
                for (c, z) in probs.iter().enumerate() {
                    if *z > best_z {
                        best_z = *z;
                        best = c;
                    }
                }
                let mut sum = 0.0;
                for p in probs.iter_mut() {
                    *p = (*p - max).exp();
                    sum += *p;
                }
                for p in probs.iter_mut() {
                    *p /= sum;
                }
                labels.push(best);
            }
        }
        Ok(Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            n_classes: k,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedLabels;

    fn blobs() -> TrainingSet {
        // Three well-separated clusters in two dimensions.
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let centers = [(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)];
        for (c, (cx, cy)) in centers.iter().enumerate() {
            for i in 0..20 {
                let dx = f64::from(i % 5) * 0.2 - 0.4;
                let dy = f64::from(i / 5) * 0.2 - 0.3;
                values.extend([cx + dx, cy + dy]);
                labels.push(ClassLabel::Str(format!("c{c}")));
            }
        }
        TrainingSet {
            x: FeatureMatrix::from_row_major(values, 60, 2).unwrap(),
            y: Target::Classes(EncodedLabels::encode(&labels)),
            seed: 1,
        }
    }

    #[test]
    fn probabilities_are_the_softmax_of_the_fitted_logits_and_labels_match_smartcore() {
        let data = blobs();
        let model = LogisticRegressionParams { alpha: 0.1 }
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        let Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            n_classes,
        } = model.predict(&data.x).unwrap()
        else {
            panic!("classifier")
        };
        assert_eq!(n_classes, 3);
        // Independent computation: refit with smartcore and compare its labels, and
        // recompute the softmax by hand from the stored weights.
        let x = crate::model::smartcore_io::dense(&data.x).unwrap();
        let Target::Classes(enc) = &data.y else {
            panic!()
        };
        let sc: LogisticRegression<f64, u32, DenseMatrix<f64>, Vec<u32>> = LogisticRegression::fit(
            &x,
            &enc.codes().to_vec(),
            LogisticRegressionParameters::default().with_alpha(0.1),
        )
        .unwrap();
        let sc_labels = sc.predict(&x).unwrap();
        for (i, row) in data.x.rows().enumerate() {
            assert_eq!(labels[i] as u32, sc_labels[i], "row {i}");
            let z: Vec<f64> = (0..3)
                .map(|c| {
                    model.weights()[c * 2] * row[0]
                        + model.weights()[c * 2 + 1] * row[1]
                        + model.intercepts()[c]
                })
                .collect();
            let denom: f64 = z.iter().map(|v| v.exp()).sum();
            for c in 0..3 {
                let expected = z[c].exp() / denom;
                assert!(
                    (probabilities[i * 3 + c] - expected).abs() < 1e-12,
                    "row {i} class {c}"
                );
            }
            let sum: f64 = probabilities[i * 3..i * 3 + 3].iter().sum();
            assert!((sum - 1.0).abs() < 1e-12);
        }
        assert!(
            labels
                .iter()
                .zip(enc.codes())
                .filter(|(a, b)| **a as u32 == **b)
                .count()
                >= 58
        );
    }

    #[test]
    fn binary_probabilities_are_the_sigmoid() {
        let mut data = blobs();
        let codes: Vec<ClassLabel> = (0..60)
            .map(|i| ClassLabel::Int(i64::from(i >= 20)))
            .collect();
        data.y = Target::Classes(EncodedLabels::encode(&codes));
        let model = LogisticRegressionParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        assert_eq!(model.intercepts().len(), 1);
        let Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            ..
        } = model.predict(&data.x).unwrap()
        else {
            panic!()
        };
        for (i, row) in data.x.rows().enumerate() {
            let z =
                model.weights()[0] * row[0] + model.weights()[1] * row[1] + model.intercepts()[0];
            let p1 = 1.0 / (1.0 + (-z).exp());
            assert!((probabilities[i * 2 + 1] - p1).abs() < 1e-12);
            assert_eq!(labels[i], usize::from(p1 > 0.5));
        }
    }

    #[test]
    fn negative_alpha_is_rejected() {
        let err = LogisticRegressionParams { alpha: -1.0 }
            .validate()
            .unwrap_err();
        assert_eq!(err.issues[0].path, "alpha");
    }
}
