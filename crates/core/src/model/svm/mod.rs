//! `type: svc` and `type: svr`: support vector machines fitted by smartcore's SMO
//! solvers (`SVC`, `SVR`), stored as their support vectors, weights and bias and
//! predicted by Ferry with the same kernel arithmetic (tests compare with smartcore's
//! predictions). A classifier with more than two classes is one-vs-one: a smartcore
//! binary SVC per pair of classes, each fitted on that pair's rows, and the class with
//! the most votes (the first on ties; smartcore's own multiclass SVC breaks ties in hash
//! map order). SVC gives no class probabilities: smartcore has none and Ferry does not
//! invent them, so `roc_auc` and `log_loss` are refused for it.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::svm::Kernels;
use smartcore::svm::svc::{SVC, SVCParameters};
use smartcore::svm::svr::{SVR, SVRParameters};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed, mirror};
use crate::model::{
    Model, ModelKind, PredictError, Predictions, TableError, Target, Task, TrainError, TrainingSet,
    check_width,
};

/// The kernel of a support vector machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelKind {
    /// `x . y`.
    Linear,
    /// `exp(-gamma |x - y|^2)`.
    #[default]
    Rbf,
    /// `(gamma x . y + coef0)^degree`.
    Polynomial,
    /// `tanh(gamma x . y + coef0)`.
    Sigmoid,
}

/// A kernel with every constant resolved, as stored in the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kernel {
    kind: KernelKind,
    gamma: f64,
    degree: f64,
    coef0: f64,
}

impl Kernel {
    fn smartcore(self) -> Kernels {
        match self.kind {
            KernelKind::Linear => Kernels::linear(),
            KernelKind::Rbf => Kernels::rbf().with_gamma(self.gamma),
            KernelKind::Polynomial => Kernels::polynomial()
                .with_gamma(self.gamma)
                .with_degree(self.degree)
                .with_coef0(self.coef0),
            KernelKind::Sigmoid => Kernels::sigmoid()
                .with_gamma(self.gamma)
                .with_coef0(self.coef0),
        }
    }

    /// The kernel of `a` and `b`, computed as smartcore computes it.
    fn apply(&self, a: &[f64], b: &[f64]) -> f64 {
        let dot = || a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        match self.kind {
            KernelKind::Linear => dot(),
            KernelKind::Rbf => {
                let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
                (-self.gamma * d).exp()
            }
            KernelKind::Polynomial => (self.gamma * dot() + self.coef0).powf(self.degree),
            KernelKind::Sigmoid => (self.gamma * dot() + self.coef0).tanh(),
        }
    }
}

/// The kernel hyperparameters shared by `svc` and `svr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SvmParams {
    /// Penalty of a margin violation.
    pub c: f64,
    /// `linear`, `rbf` (default), `polynomial` or `sigmoid`.
    pub kernel: KernelKind,
    /// Kernel coefficient of `rbf`, `polynomial` and `sigmoid`; by default
    /// `1 / (columns * variance of the training inputs)`, scikit-learn's `"scale"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Degree of the `polynomial` kernel.
    pub degree: f64,
    /// Constant term of the `polynomial` and `sigmoid` kernels.
    pub coef0: f64,
    /// Stopping tolerance of the solver.
    pub tol: f64,
    /// `svr` only: the half-width of the tube inside which errors cost nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// `svc` only: passes of the solver over the rows (smartcore's `epoch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
}

impl Default for SvmParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            kernel: KernelKind::Rbf,
            gamma: None,
            degree: 3.0,
            coef0: 0.0,
            tol: 1e-3,
            epsilon: None,
            epochs: None,
        }
    }
}

/// Validated [`SvmParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSvmParams(SvmParams);

impl SvmParams {
    /// Checks `c > 0`, `gamma > 0`, `degree >= 1`, `tol > 0`, `epsilon >= 0`,
    /// `epochs >= 1`, and that `epsilon` is given to `svr` only and `epochs` to `svc`
    /// only (`regression`: which of the two these params are for).
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self, regression: bool) -> Result<ValidSvmParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks
            .positive("c", self.c)
            .positive("tol", self.tol)
            .at_least("degree", self.degree, 1.0)
            .finite("coef0", self.coef0);
        if let Some(g) = self.gamma {
            checks.positive("gamma", g);
        }
        match (regression, self.epsilon, self.epochs) {
            (true, Some(e), _) if !(e >= 0.0 && e.is_finite()) => {
                checks.at_least("epsilon", e, 0.0);
            }
            (false, Some(_), _) => {
                checks.push("epsilon", "applies to svr only");
            }
            (true, _, Some(_)) => {
                checks.push("epochs", "applies to svc only");
            }
            (false, _, Some(e)) => {
                checks.count_at_least("epochs", e, 1);
            }
            _ => {}
        }
        checks.finish(ValidSvmParams(self.clone()))
    }
}

/// `1 / (columns * variance of all of x's values)`, scikit-learn's `gamma="scale"`
/// (1 when the values do not vary).
fn scale_gamma(x: &FeatureMatrix) -> f64 {
    let values = x.values();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    if var > 0.0 {
        1.0 / (x.n_cols().max(1) as f64 * var)
    } else {
        1.0
    }
}

impl ValidSvmParams {
    fn kernel(&self, x: &FeatureMatrix) -> Kernel {
        let p = &self.0;
        Kernel {
            kind: p.kernel,
            gamma: p.gamma.unwrap_or_else(|| scale_gamma(x)),
            degree: p.degree,
            coef0: p.coef0,
        }
    }
}

/// The parts of smartcore's fitted `SVC` and `SVR` Ferry reads.
#[derive(Deserialize)]
struct ScMachine {
    instances: Option<Vec<Vec<f64>>>,
    w: Option<Vec<f64>>,
    b: Option<f64>,
}

/// One fitted decision function: `b + sum_i weights[i] K(vectors[i], x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Machine {
    b: f64,
    weights: Vec<f64>,
    /// Row-major support vectors.
    vectors: Vec<f64>,
}

impl Machine {
    fn from_smartcore(sc: ScMachine, algorithm: &'static str) -> Result<Self, TrainError> {
        let failed = |message: &str| TrainError::Library {
            algorithm,
            message: format!("cannot read smartcore's fitted model: {message}"),
        };
        let (Some(instances), Some(weights), Some(b)) = (sc.instances, sc.w, sc.b) else {
            return Err(failed("no support vectors"));
        };
        if instances.len() != weights.len() {
            return Err(failed("support vectors and weights differ in number"));
        }
        Ok(Self {
            b,
            weights,
            vectors: instances.into_iter().flatten().collect(),
        })
    }

    fn decision(&self, kernel: &Kernel, n_features: usize, row: &[f64]) -> f64 {
        let mut f = self.b;
        for (w, v) in self
            .weights
            .iter()
            .zip(self.vectors.chunks_exact(n_features.max(1)))
        {
            f += w * kernel.apply(row, v);
        }
        f
    }

    fn check(&self, n_features: usize) -> Result<(), TableError> {
        if self.vectors.len() != self.weights.len() * n_features {
            return Err(TableError::Size {
                what: "support vector values",
                found: self.vectors.len(),
                expected: self.weights.len() * n_features,
            });
        }
        Ok(())
    }
}

/// A fitted support vector classifier: one machine per pair of classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvcModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    kernel: Kernel,
    /// `(negative class, positive class, machine)`: a positive decision votes for the
    /// second class.
    machines: Vec<(u32, u32, Machine)>,
}

/// A fitted support vector regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvrModel {
    n_features: usize,
    kernel: Kernel,
    machine: Machine,
}

impl ValidSvmParams {
    /// Fits `type: svc`: smartcore's binary SVC for two classes, one per pair of
    /// classes otherwise.
    ///
    /// # Errors
    /// A numeric target, fewer than two classes, or smartcore's failure.
    pub fn fit_svc(&self, data: &TrainingSet) -> Result<SvcModel, TrainError> {
        const NAME: &str = "svc";
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
        let kernel = self.kernel(&data.x);
        let p = &self.0;
        let params = SVCParameters::default()
            .with_c(p.c)
            .with_tol(p.tol)
            .with_epoch(p.epochs.unwrap_or(2))
            .with_kernel(kernel.smartcore())
            .with_seed(Some(data.seed));
        let codes = labels.codes();
        let mut machines = Vec::with_capacity(k * (k - 1) / 2);
        for a in 0..k as u32 {
            for b in a + 1..k as u32 {
                let rows: Vec<usize> = (0..codes.len())
                    .filter(|&r| codes[r] == a || codes[r] == b)
                    .collect();
                let values: Vec<f64> = rows.iter().flat_map(|&r| data.x.row(r)).copied().collect();
                let x = FeatureMatrix::from_row_major(values, rows.len(), data.x.n_cols())
                    .ok_or_else(|| TrainError::Library {
                        algorithm: NAME,
                        message: "cannot select the rows of a pair of classes".to_owned(),
                    })?;
                let y: Vec<u32> = rows.iter().map(|&r| codes[r]).collect();
                let dense = dense_for_fit(&x, NAME)?;
                let sc: SVC<'_, f64, u32, DenseMatrix<f64>, Vec<u32>> =
                    SVC::fit(&dense, &y, &params).map_err(fit_failed(NAME))?;
                let machine = Machine::from_smartcore(mirror::<ScMachine, _>(&sc, NAME)?, NAME)?;
                machines.push((a, b, machine));
            }
        }
        Ok(SvcModel {
            classes: labels.classes().to_vec(),
            n_features: data.x.n_cols(),
            kernel,
            machines,
        })
    }

    /// Fits `type: svr` with smartcore's epsilon-SVR.
    ///
    /// # Errors
    /// A class target, or smartcore's failure.
    pub fn fit_svr(&self, data: &TrainingSet) -> Result<SvrModel, TrainError> {
        const NAME: &str = "svr";
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Regression,
            });
        };
        let kernel = self.kernel(&data.x);
        let p = &self.0;
        let params = SVRParameters::default()
            .with_c(p.c)
            .with_tol(p.tol)
            .with_eps(p.epsilon.unwrap_or(0.1))
            .with_kernel(kernel.smartcore());
        let dense = dense_for_fit(&data.x, NAME)?;
        let sc: SVR<'_, f64, DenseMatrix<f64>, Vec<f64>> =
            SVR::fit(&dense, y, &params).map_err(fit_failed(NAME))?;
        let machine = Machine::from_smartcore(mirror::<ScMachine, _>(&sc, NAME)?, NAME)?;
        Ok(SvrModel {
            n_features: data.x.n_cols(),
            kernel,
            machine,
        })
    }
}

impl SvcModel {
    /// Checks a decoded model: one machine per pair of classes, support vectors as wide
    /// as the inputs.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        let k = self.classes.len();
        if k < 2 || self.machines.len() != k * (k - 1) / 2 {
            return Err(TableError::Size {
                what: "one-vs-one machines",
                found: self.machines.len(),
                expected: k * k.saturating_sub(1) / 2,
            });
        }
        for (a, b, m) in &self.machines {
            if let Some(&index) = [a, b].into_iter().find(|&&c| c as usize >= k) {
                return Err(TableError::Class {
                    what: "machine class",
                    index: index as usize,
                    classes: k,
                });
            }
            m.check(self.n_features)?;
        }
        Ok(())
    }
}

impl SvrModel {
    /// Checks a decoded model: support vectors as wide as the inputs.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        self.machine.check(self.n_features)
    }
}

impl Model for SvcModel {
    model_shape!(ModelKind::Svc, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let mut votes = vec![0u32; k];
        let labels = x
            .rows()
            .map(|row| {
                votes.iter_mut().for_each(|v| *v = 0);
                for (a, b, machine) in &self.machines {
                    let winner = if machine.decision(&self.kernel, self.n_features, row) > 0.0 {
                        b
                    } else {
                        a
                    };
                    votes[*winner as usize] += 1;
                }
                // The first class with the most votes.
                votes
                    .iter()
                    .enumerate()
                    .fold(
                        (0, 0),
                        |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
                    )
                    .0
            })
            .collect();
        Ok(Predictions::Classes {
            labels,
            probabilities: None,
            n_classes: k,
        })
    }
}

impl Model for SvrModel {
    model_shape!(ModelKind::Svr, regressor);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        Ok(Predictions::Values(
            x.rows()
                .map(|row| self.machine.decision(&self.kernel, self.n_features, row))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::EncodedLabels;

    fn points(n: usize, m: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * m).map(|_| rng.random_range(-2.0..2.0)).collect()
    }

    #[test]
    fn a_binary_svc_predicts_as_smartcore_does() {
        let (n, m) = (120, 3);
        let values = points(n, m, 4);
        let labels: Vec<ClassLabel> = values
            .chunks(m)
            .map(|r| ClassLabel::Int(i64::from(r[0] * r[0] + r[1] > 1.0)))
            .collect();
        let x = FeatureMatrix::from_row_major(values, n, m).unwrap();
        let encoded = EncodedLabels::encode(&labels);
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(encoded.clone()),
            seed: 3,
        };
        for kernel in [KernelKind::Rbf, KernelKind::Linear, KernelKind::Polynomial] {
            let params = SvmParams {
                kernel,
                ..SvmParams::default()
            }
            .validate(false)
            .unwrap();
            let ours = params.fit_svc(&data).unwrap();
            let sc_params = SVCParameters::default()
                .with_kernel(params.kernel(&x).smartcore())
                .with_seed(Some(3));
            let dense = dense_for_fit(&x, "svc").unwrap();
            let y = encoded.codes().to_vec();
            let theirs: Vec<f64> = SVC::fit(&dense, &y, &sc_params)
                .unwrap()
                .predict(&dense)
                .unwrap();
            let Predictions::Classes {
                labels,
                probabilities,
                ..
            } = ours.predict(&x).unwrap()
            else {
                panic!("classes")
            };
            assert!(probabilities.is_none());
            let got: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
            assert_eq!(got, theirs, "{kernel:?}");
        }
    }

    #[test]
    fn svr_predicts_as_smartcore_does_and_three_classes_vote() {
        let (n, m) = (100, 2);
        let values = points(n, m, 8);
        let y: Vec<f64> = values.chunks(m).map(|r| 2.0 * r[0] - r[1] + 0.5).collect();
        let x = FeatureMatrix::from_row_major(values.clone(), n, m).unwrap();
        let params = SvmParams {
            kernel: KernelKind::Linear,
            c: 10.0,
            ..SvmParams::default()
        }
        .validate(true)
        .unwrap();
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Values(y.clone()),
            seed: 1,
        };
        let ours = params.fit_svr(&data).unwrap();
        let dense = dense_for_fit(&x, "svr").unwrap();
        let sc_params = SVRParameters::default()
            .with_c(10.0)
            .with_kernel(Kernels::linear());
        let theirs: Vec<f64> = SVR::fit(&dense, &y, &sc_params)
            .unwrap()
            .predict(&dense)
            .unwrap();
        let Predictions::Values(got) = ours.predict(&x).unwrap() else {
            panic!("values")
        };
        for (g, t) in got.iter().zip(&theirs) {
            assert!((g - t).abs() < 1e-9, "{g} vs {t}");
        }
        // A linear target fitted closely.
        let worst = got
            .iter()
            .zip(&y)
            .map(|(g, t)| (g - t).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.5, "{worst}");

        // Three classes by angle: one machine per pair, most rows right.
        let labels: Vec<ClassLabel> = values
            .chunks(m)
            .map(|r| ClassLabel::Int(((r[1].atan2(r[0]) + 3.2) / 2.14) as i64))
            .collect();
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(EncodedLabels::encode(&labels)),
            seed: 1,
        };
        let model = SvmParams::default()
            .validate(false)
            .unwrap()
            .fit_svc(&data)
            .unwrap();
        assert_eq!(model.machines.len(), 3);
        model.check().unwrap();
        let Predictions::Classes { labels: got, .. } = model.predict(&x).unwrap() else {
            panic!("classes")
        };
        let Target::Classes(truth) = &data.y else {
            panic!("classes")
        };
        let right = got
            .iter()
            .zip(truth.codes())
            .filter(|(g, t)| **g == **t as usize)
            .count();
        assert!(right * 10 >= n * 8, "{right} of {n}");
    }

    #[test]
    fn params_for_the_other_machine_are_refused() {
        let svr_only = SvmParams {
            epsilon: Some(0.2),
            ..SvmParams::default()
        };
        assert!(svr_only.validate(true).is_ok());
        let err = svr_only.validate(false).unwrap_err();
        assert!(
            err.to_string().contains("epsilon: applies to svr only"),
            "{err}"
        );
        let bad = SvmParams {
            c: 0.0,
            ..SvmParams::default()
        };
        assert!(bad.validate(false).is_err());
    }
}
