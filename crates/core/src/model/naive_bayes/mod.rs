//! `type: gaussian_nb`: Gaussian naive Bayes, as smartcore's `GaussianNB` fits and
//! predicts it (class priors from the class frequencies, a mean and a population
//! variance per class and column, the class with the largest log joint likelihood; the
//! tests compare labels with smartcore's). Ferry adds scikit-learn's `var_smoothing`, a
//! share of the largest column variance added to every variance, so that a column that is
//! constant within a class (a one-hot column, say) does not make every likelihood
//! infinite; `var_smoothing: 0` is smartcore's model exactly. Probabilities are the
//! normalised joint likelihoods, as scikit-learn's `predict_proba` computes them.

mod discrete;

pub use discrete::{
    BernoulliNbModel, BernoulliNbParams, CategoricalNbModel, DiscreteNbParams, MultinomialNbModel,
    ValidBernoulliNbParams, ValidDiscreteNbParams,
};

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::{
    Model, ModelKind, PredictError, Predictions, TableError, Target, Task, TrainError, TrainingSet,
    check_width,
};

const NAME: &str = "gaussian_nb";

/// Hyperparameters of `type: gaussian_nb`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianNbParams {
    /// Share of the largest column variance added to every variance (scikit-learn's
    /// default, 1e-9); 0 gives smartcore's model.
    pub var_smoothing: f64,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        Self {
            var_smoothing: 1e-9,
        }
    }
}

/// Validated [`GaussianNbParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGaussianNbParams(GaussianNbParams);

impl GaussianNbParams {
    /// Checks `var_smoothing >= 0`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidGaussianNbParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks.at_least("var_smoothing", self.var_smoothing, 0.0);
        checks.finish(ValidGaussianNbParams(self.clone()))
    }
}

/// A fitted Gaussian naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianNbModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    /// Share of the training rows in each class.
    priors: Vec<f64>,
    /// Row-major `classes x n_features` means.
    means: Vec<f64>,
    /// Row-major `classes x n_features` variances, smoothing included.
    variances: Vec<f64>,
}

impl ValidGaussianNbParams {
    /// Fits the per-class means and variances.
    ///
    /// # Errors
    /// [`TrainError::WrongTask`] for a numeric target.
    pub fn fit(&self, data: &TrainingSet) -> Result<GaussianNbModel, TrainError> {
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Classification,
            });
        };
        let (k, m) = (labels.classes().len(), data.x.n_cols());
        let counts = class_counts(labels);
        let mut means = vec![0.0; k * m];
        for (row, &c) in data.x.rows().zip(labels.codes()) {
            let c = c as usize;
            for (s, v) in means[c * m..(c + 1) * m].iter_mut().zip(row) {
                *s += v;
            }
        }
        for (c, &n) in counts.iter().enumerate() {
            means[c * m..(c + 1) * m]
                .iter_mut()
                .for_each(|s| *s /= n.max(1) as f64);
        }
        let mut variances = vec![0.0; k * m];
        for (row, &c) in data.x.rows().zip(labels.codes()) {
            let c = c as usize;
            for ((s, v), mean) in variances[c * m..(c + 1) * m]
                .iter_mut()
                .zip(row)
                .zip(&means[c * m..(c + 1) * m])
            {
                *s += (v - mean) * (v - mean);
            }
        }
        for (c, &n) in counts.iter().enumerate() {
            variances[c * m..(c + 1) * m]
                .iter_mut()
                .for_each(|s| *s /= n.max(1) as f64);
        }
        if self.0.var_smoothing > 0.0 {
            let epsilon = self.0.var_smoothing * column_variance_max(&data.x);
            variances.iter_mut().for_each(|v| *v += epsilon);
        }
        let n = data.x.n_rows().max(1) as f64;
        Ok(GaussianNbModel {
            classes: labels.classes().to_vec(),
            n_features: m,
            priors: counts.iter().map(|&c| c as f64 / n).collect(),
            means,
            variances,
        })
    }
}

/// The number of training rows of each class.
pub(super) fn class_counts(labels: &crate::model::EncodedLabels) -> Vec<usize> {
    let mut counts = vec![0usize; labels.classes().len()];
    for &c in labels.codes() {
        counts[c as usize] += 1;
    }
    counts
}

/// Appends the label and probabilities for one row's log joint likelihoods (one per
/// class). The label follows smartcore's rule: the first class with the largest log
/// likelihood that is not NaN, the first class when none is. The probabilities are the
/// normalised likelihoods; when no class has a finite one (a value far outside every
/// class), all the weight goes to the label.
pub(super) fn decide(joint: &[f64], labels: &mut Vec<usize>, probabilities: &mut Vec<f64>) {
    let mut best = (0, f64::NEG_INFINITY);
    for (c, &lp) in joint.iter().enumerate() {
        if !lp.is_nan() && lp > best.1 {
            best = (c, lp);
        }
    }
    labels.push(best.0);
    if best.1.is_finite() {
        let start = probabilities.len();
        probabilities.extend(joint.iter().map(|&lp| {
            if lp.is_nan() {
                0.0
            } else {
                (lp - best.1).exp()
            }
        }));
        let total: f64 = probabilities[start..].iter().sum();
        probabilities[start..].iter_mut().for_each(|p| *p /= total);
    } else {
        probabilities.extend((0..joint.len()).map(|c| f64::from(u8::from(c == best.0))));
    }
}

/// The largest population variance of a column of `x`.
fn column_variance_max(x: &FeatureMatrix) -> f64 {
    let (n, m) = (x.n_rows().max(1) as f64, x.n_cols());
    let mut sums = vec![0.0; m];
    for row in x.rows() {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let mut squares = vec![0.0; m];
    for row in x.rows() {
        for ((s, v), mean) in squares.iter_mut().zip(row).zip(&means) {
            *s += (v - mean) * (v - mean);
        }
    }
    squares.iter().map(|s| s / n).fold(0.0, f64::max)
}

impl GaussianNbModel {
    /// Checks a decoded model: every table has one entry per class (and column), the
    /// priors are probabilities and the variances are not negative.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        let (k, m) = (self.classes.len(), self.n_features);
        if k == 0 {
            return Err(TableError::NoClasses);
        }
        for (what, found, expected) in [
            ("priors", self.priors.len(), k),
            ("means", self.means.len(), k * m),
            ("variances", self.variances.len(), k * m),
        ] {
            if found != expected {
                return Err(TableError::Size {
                    what,
                    found,
                    expected,
                });
            }
        }
        if self.priors.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(TableError::Value("a prior is not a probability"));
        }
        if self.variances.iter().any(|v| v.is_nan() || *v < 0.0) {
            return Err(TableError::Value("a variance is negative"));
        }
        Ok(())
    }

    /// The log joint likelihood of each class for `row`, summed as smartcore does.
    fn log_joint(&self, row: &[f64], out: &mut Vec<f64>) {
        let m = self.n_features;
        let half_log_two_pi = (2.0 * std::f64::consts::PI).ln() / 2.0;
        out.clear();
        out.extend(self.priors.iter().enumerate().map(|(c, prior)| {
            let mut likelihood = 0.0;
            for ((v, mean), var) in row
                .iter()
                .zip(&self.means[c * m..(c + 1) * m])
                .zip(&self.variances[c * m..(c + 1) * m])
            {
                likelihood +=
                    -((v - mean).powf(2.0) / (2.0 * var)) - half_log_two_pi - var.ln() / 2.0;
            }
            likelihood + prior.ln()
        }));
    }
}

impl Model for GaussianNbModel {
    model_shape!(ModelKind::GaussianNb, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let mut labels = Vec::with_capacity(x.n_rows());
        let mut probabilities = Vec::with_capacity(x.n_rows() * k);
        let mut joint = Vec::with_capacity(k);
        for row in x.rows() {
            self.log_joint(row, &mut joint);
            decide(&joint, &mut labels, &mut probabilities);
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
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::naive_bayes::gaussian::{GaussianNB, GaussianNBParameters};

    use super::*;
    use crate::model::EncodedLabels;

    /// Three classes with different means and spreads on `m` columns.
    fn blobs(n: usize, m: usize, seed: u64) -> (FeatureMatrix, EncodedLabels) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(n * m);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            for j in 0..m {
                let spread = 1.0 + c as f64 * 0.5 + j as f64 * 0.1;
                values.push(c as f64 * 1.5 + j as f64 + rng.random_range(-spread..spread));
            }
            labels.push(ClassLabel::Int(c as i64));
        }
        (
            FeatureMatrix::from_row_major(values, n, m).unwrap(),
            EncodedLabels::encode(&labels),
        )
    }

    #[test]
    fn without_smoothing_it_predicts_as_smartcore_does() {
        let (x, labels) = blobs(300, 4, 5);
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(labels.clone()),
            seed: 1,
        };
        let ours = GaussianNbParams { var_smoothing: 0.0 }
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        let dense = DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).unwrap();
        let y: Vec<u32> = labels.codes().to_vec();
        let theirs = GaussianNB::fit(&dense, &y, GaussianNBParameters::default()).unwrap();
        let expected: Vec<u32> = theirs.predict(&dense).unwrap();
        let Predictions::Classes {
            labels: got,
            probabilities,
            ..
        } = ours.predict(&x).unwrap()
        else {
            panic!("a classifier predicts classes")
        };
        let got: Vec<u32> = got.iter().map(|&l| l as u32).collect();
        assert_eq!(got, expected);
        // Probabilities sum to 1 and their argmax is the label.
        for (row, &label) in probabilities.unwrap().chunks(3).zip(&got) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let top = row.iter().copied().fold(f64::MIN, f64::max);
            assert_eq!(row[label as usize], top);
        }
    }

    #[test]
    fn smoothing_keeps_a_column_constant_within_a_class_usable() {
        // Column 1 is 0 for class 0 and 1 for class 1: zero variance within each class.
        let x = FeatureMatrix::from_row_major(
            vec![0.1, 0.0, 0.3, 0.0, 0.2, 0.0, 0.9, 1.0, 0.7, 1.0, 0.8, 1.0],
            6,
            2,
        )
        .unwrap();
        let labels = EncodedLabels::encode(&[0, 0, 0, 1, 1, 1].map(ClassLabel::Int));
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(labels),
            seed: 1,
        };
        let model = GaussianNbParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        let Predictions::Classes {
            labels,
            probabilities,
            ..
        } = model.predict(&x).unwrap()
        else {
            panic!("a classifier predicts classes")
        };
        assert_eq!(labels, [0, 0, 0, 1, 1, 1]);
        assert!(probabilities.unwrap().iter().all(|p| p.is_finite()));
        assert!(
            GaussianNbParams {
                var_smoothing: -1.0
            }
            .validate()
            .is_err()
        );
    }
}
