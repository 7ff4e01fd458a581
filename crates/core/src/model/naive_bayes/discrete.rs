//! `type: multinomial_nb`, `type: bernoulli_nb` and `type: categorical_nb`: naive Bayes
//! for counts, binary indicators and category codes, as smartcore's `MultinomialNB`,
//! `BernoulliNB` and `CategoricalNB` fit them (the same smoothing and the same decision
//! rule; tests compare labels with smartcore's). Fitting checks that every value suits
//! the model and names the first that does not. Probabilities are the normalised joint
//! likelihoods.

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::naive_bayes::{class_counts, decide};
use crate::model::params::ParamChecks;
use crate::model::{
    Model, ModelKind, PredictError, Predictions, TableError, Target, Task, TrainError, TrainingSet,
    check_width,
};

/// The most categories a `categorical_nb` column may have.
const MAX_CATEGORIES: f64 = 65_536.0;

/// Hyperparameters of `type: multinomial_nb` and `type: categorical_nb`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscreteNbParams {
    /// Additive (Laplace) smoothing of the counts; 0 for none.
    pub alpha: f64,
}

impl Default for DiscreteNbParams {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

/// Validated [`DiscreteNbParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDiscreteNbParams(DiscreteNbParams);

impl DiscreteNbParams {
    /// Checks `alpha >= 0`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidDiscreteNbParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks.at_least("alpha", self.alpha, 0.0);
        checks.finish(ValidDiscreteNbParams(self.clone()))
    }
}

/// Hyperparameters of `type: bernoulli_nb`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BernoulliNbParams {
    /// Additive (Laplace) smoothing of the counts; 0 for none.
    pub alpha: f64,
    /// Values above this threshold are 1, the others 0; `null` when the inputs already
    /// are 0 or 1 (anything else is then refused when fitting).
    pub binarize: Option<f64>,
}

impl Default for BernoulliNbParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            binarize: Some(0.0),
        }
    }
}

/// Validated [`BernoulliNbParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBernoulliNbParams(BernoulliNbParams);

impl BernoulliNbParams {
    /// Checks `alpha >= 0` and a finite threshold.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidBernoulliNbParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        checks.at_least("alpha", self.alpha, 0.0);
        if let Some(t) = self.binarize {
            checks.finite("binarize", t);
        }
        checks.finish(ValidBernoulliNbParams(self.clone()))
    }
}

/// The class target of a naive Bayes fit.
fn class_codes<'a>(
    data: &'a TrainingSet,
    algorithm: &'static str,
) -> Result<&'a crate::model::EncodedLabels, TrainError> {
    match &data.y {
        Target::Classes(labels) => Ok(labels),
        Target::Values(_) => Err(TrainError::WrongTask {
            algorithm,
            expected: Task::Classification,
        }),
    }
}

/// The first value of `x` that `ok` refuses, as an [`TrainError::UnsuitedData`].
fn check_values(
    x: &FeatureMatrix,
    algorithm: &'static str,
    expected: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<(), TrainError> {
    for (r, row) in x.rows().enumerate() {
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !ok(**v)) {
            return Err(TrainError::UnsuitedData {
                algorithm,
                reason: format!(
                    "input column {c} (0-based, after preprocessing) of training row {r}: \
                     expected {expected}, found {v}"
                ),
            });
        }
    }
    Ok(())
}

/// A fitted multinomial naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultinomialNbModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    /// Share of the training rows in each class.
    priors: Vec<f64>,
    /// Row-major `classes x n_features` log probability of each column given the class.
    feature_log_prob: Vec<f64>,
}

impl ValidDiscreteNbParams {
    /// Fits multinomial naive Bayes: per class, the smoothed share of each column in
    /// the class's summed counts.
    ///
    /// # Errors
    /// A numeric target, or a negative or non-finite value.
    pub fn fit_multinomial(&self, data: &TrainingSet) -> Result<MultinomialNbModel, TrainError> {
        const NAME: &str = "multinomial_nb";
        let labels = class_codes(data, NAME)?;
        check_values(&data.x, NAME, "a count (a number >= 0)", |v| {
            v >= 0.0 && v.is_finite()
        })?;
        let (k, m) = (labels.classes().len(), data.x.n_cols());
        let mut counts = vec![0.0; k * m];
        for (row, &c) in data.x.rows().zip(labels.codes()) {
            let c = c as usize;
            for (s, v) in counts[c * m..(c + 1) * m].iter_mut().zip(row) {
                *s += v;
            }
        }
        let alpha = self.0.alpha;
        let mut feature_log_prob = Vec::with_capacity(k * m);
        for class in counts.chunks_exact(m.max(1)).take(k) {
            let total: f64 = class.iter().sum();
            feature_log_prob.extend(
                class
                    .iter()
                    .map(|&count| ((count + alpha) / (total + alpha * m as f64)).ln()),
            );
        }
        Ok(MultinomialNbModel {
            classes: labels.classes().to_vec(),
            n_features: m,
            priors: priors(&class_counts(labels), data.x.n_rows()),
            feature_log_prob,
        })
    }

    /// Fits categorical naive Bayes: per column and class, the smoothed share of each
    /// category code (0, 1, 2, ... up to the largest code seen in the column).
    ///
    /// # Errors
    /// A numeric target, or a value that is not a whole number from 0 to 65535.
    pub fn fit_categorical(&self, data: &TrainingSet) -> Result<CategoricalNbModel, TrainError> {
        const NAME: &str = "categorical_nb";
        let labels = class_codes(data, NAME)?;
        check_values(
            &data.x,
            NAME,
            "a category code (a whole number from 0 to 65535)",
            |v| (0.0..MAX_CATEGORIES).contains(&v) && v.fract() == 0.0,
        )?;
        let (k, m) = (labels.classes().len(), data.x.n_cols());
        let class_count = class_counts(labels);
        let mut n_categories = vec![1usize; m];
        for row in data.x.rows() {
            for (n, &v) in n_categories.iter_mut().zip(row) {
                *n = (*n).max(v as usize + 1);
            }
        }
        let alpha = self.0.alpha;
        let mut log_prob = Vec::new();
        let mut unseen = Vec::with_capacity(m * k);
        for (j, &n_cat) in n_categories.iter().enumerate() {
            let mut counts = vec![0usize; k * n_cat];
            for (row, &c) in data.x.rows().zip(labels.codes()) {
                counts[c as usize * n_cat + row[j] as usize] += 1;
            }
            for (c, &label_count) in class_count.iter().enumerate() {
                let denominator = label_count as f64 + n_cat as f64 * alpha;
                log_prob.extend(
                    counts[c * n_cat..(c + 1) * n_cat]
                        .iter()
                        .map(|&count| ((count as f64 + alpha) / denominator).ln()),
                );
                unseen.push((alpha / denominator).ln());
            }
        }
        Ok(CategoricalNbModel {
            classes: labels.classes().to_vec(),
            n_features: m,
            priors: priors(&class_count, data.x.n_rows()),
            n_categories,
            log_prob,
            unseen,
        })
    }
}

fn priors(class_count: &[usize], n: usize) -> Vec<f64> {
    class_count
        .iter()
        .map(|&c| c as f64 / n.max(1) as f64)
        .collect()
}

/// A fitted Bernoulli naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BernoulliNbModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    /// The threshold above which an input is 1, if the model binarises.
    binarize: Option<f64>,
    /// Share of the training rows in each class.
    priors: Vec<f64>,
    /// Row-major `classes x n_features` log probability that the column is 1.
    feature_log_prob: Vec<f64>,
}

impl ValidBernoulliNbParams {
    /// Fits Bernoulli naive Bayes: per class, the smoothed share of rows where each
    /// column is 1 (after binarising).
    ///
    /// # Errors
    /// A numeric target, or, without `binarize`, a value other than 0 or 1.
    pub fn fit(&self, data: &TrainingSet) -> Result<BernoulliNbModel, TrainError> {
        const NAME: &str = "bernoulli_nb";
        let labels = class_codes(data, NAME)?;
        let binarize = self.0.binarize;
        if binarize.is_none() {
            check_values(&data.x, NAME, "0 or 1 (or set binarize)", |v| {
                v == 0.0 || v == 1.0
            })?;
        }
        let (k, m) = (labels.classes().len(), data.x.n_cols());
        let class_count = class_counts(labels);
        let mut ones = vec![0usize; k * m];
        for (row, &c) in data.x.rows().zip(labels.codes()) {
            let c = c as usize;
            for (s, &v) in ones[c * m..(c + 1) * m].iter_mut().zip(row) {
                *s += usize::from(is_one(v, binarize));
            }
        }
        let alpha = self.0.alpha;
        let mut feature_log_prob = Vec::with_capacity(k * m);
        for (c, &n) in class_count.iter().enumerate() {
            feature_log_prob.extend(
                ones[c * m..(c + 1) * m]
                    .iter()
                    .map(|&count| ((count as f64 + alpha) / (n as f64 + alpha * 2.0)).ln()),
            );
        }
        Ok(BernoulliNbModel {
            classes: labels.classes().to_vec(),
            n_features: m,
            binarize,
            priors: priors(&class_count, data.x.n_rows()),
            feature_log_prob,
        })
    }
}

/// Whether `v` counts as 1: above the threshold when binarising, else exactly 1.
fn is_one(v: f64, binarize: Option<f64>) -> bool {
    match binarize {
        Some(t) => v > t,
        None => v == 1.0,
    }
}

/// A fitted categorical naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalNbModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    /// Share of the training rows in each class.
    priors: Vec<f64>,
    /// Number of category codes of each column (its largest code + 1).
    n_categories: Vec<usize>,
    /// Per column, a `classes x n_categories` block of log probabilities.
    log_prob: Vec<f64>,
    /// Per column and class, the log probability of a code the column never had in
    /// training (the smoothing share; minus infinity without smoothing).
    unseen: Vec<f64>,
}

/// Checks the tables every naive Bayes model holds.
fn check_tables(
    classes: usize,
    priors: &[f64],
    table: usize,
    expected: usize,
) -> Result<(), TableError> {
    if classes == 0 {
        return Err(TableError::NoClasses);
    }
    if priors.len() != classes {
        return Err(TableError::Size {
            what: "priors",
            found: priors.len(),
            expected: classes,
        });
    }
    if priors.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return Err(TableError::Value("a prior is not a probability"));
    }
    if table != expected {
        return Err(TableError::Size {
            what: "log probabilities",
            found: table,
            expected,
        });
    }
    Ok(())
}

/// Checks a decoded multinomial or Bernoulli model: one prior per class and one log
/// probability per class and column.
macro_rules! check_per_column {
    ($($model:ty),+) => {$(
        impl $model {
            /// Checks a decoded model's tables.
            ///
            /// # Errors
            /// What is inconsistent.
            pub fn check(&self) -> Result<(), TableError> {
                let k = self.classes.len();
                check_tables(k, &self.priors, self.feature_log_prob.len(), k * self.n_features)
            }
        }
    )+};
}

check_per_column!(MultinomialNbModel, BernoulliNbModel);

impl CategoricalNbModel {
    /// Checks a decoded model's tables.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        let k = self.classes.len();
        for (what, found, expected) in [
            ("category counts", self.n_categories.len(), self.n_features),
            ("unseen entries", self.unseen.len(), k * self.n_features),
        ] {
            if found != expected {
                return Err(TableError::Size {
                    what,
                    found,
                    expected,
                });
            }
        }
        let expected = self.n_categories.iter().map(|n| n * k).sum();
        check_tables(k, &self.priors, self.log_prob.len(), expected)
    }
}

/// Predictions from a log-likelihood function: labels by smartcore's rule, and
/// probabilities.
fn predict_with(
    x: &FeatureMatrix,
    priors: &[f64],
    log_likelihood: impl Fn(usize, &[f64]) -> f64,
) -> Predictions {
    let k = priors.len();
    let mut labels = Vec::with_capacity(x.n_rows());
    let mut probabilities = Vec::with_capacity(x.n_rows() * k);
    let mut joint = Vec::with_capacity(k);
    for row in x.rows() {
        joint.clear();
        joint.extend(
            priors
                .iter()
                .enumerate()
                .map(|(c, p)| log_likelihood(c, row) + p.ln()),
        );
        decide(&joint, &mut labels, &mut probabilities);
    }
    Predictions::Classes {
        labels,
        probabilities: Some(probabilities),
        n_classes: k,
    }
}

impl Model for MultinomialNbModel {
    model_shape!(ModelKind::MultinomialNb, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let m = self.n_features;
        Ok(predict_with(x, &self.priors, |c, row| {
            row.iter()
                .zip(&self.feature_log_prob[c * m..(c + 1) * m])
                .map(|(v, lp)| v * lp)
                .sum()
        }))
    }
}

impl Model for BernoulliNbModel {
    model_shape!(ModelKind::BernoulliNb, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let m = self.n_features;
        Ok(predict_with(x, &self.priors, |c, row| {
            row.iter()
                .zip(&self.feature_log_prob[c * m..(c + 1) * m])
                .map(|(&v, &lp)| {
                    if is_one(v, self.binarize) {
                        lp
                    } else {
                        (1.0 - lp.exp()).ln()
                    }
                })
                .sum()
        }))
    }
}

impl Model for CategoricalNbModel {
    model_shape!(ModelKind::CategoricalNb, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let offsets: Vec<usize> = self
            .n_categories
            .iter()
            .scan(0, |at, n| {
                let start = *at;
                *at += n * k;
                Some(start)
            })
            .collect();
        Ok(predict_with(x, &self.priors, |c, row| {
            row.iter()
                .enumerate()
                .map(|(j, &v)| {
                    let n_cat = self.n_categories[j];
                    // A code the column never had (or not a code at all) gets the
                    // smoothing share, as an unseen count of 0.
                    if v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_cat {
                        self.log_prob[offsets[j] + c * n_cat + v as usize]
                    } else {
                        self.unseen[j * k + c]
                    }
                })
                .sum()
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::naive_bayes::bernoulli::{BernoulliNB, BernoulliNBParameters};
    use smartcore::naive_bayes::categorical::{CategoricalNB, CategoricalNBParameters};
    use smartcore::naive_bayes::multinomial::{MultinomialNB, MultinomialNBParameters};

    use super::*;
    use crate::model::EncodedLabels;

    /// Small whole numbers (0 to 4) whose distribution depends on the class.
    fn counts(n: usize, m: usize, seed: u64) -> (FeatureMatrix, EncodedLabels, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(n * m);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            for j in 0..m {
                let top = 2 + (c + j) % 3;
                values.push(f64::from(rng.random_range(0..=top as u32)));
            }
            labels.push(ClassLabel::Int(c as i64));
        }
        let encoded = EncodedLabels::encode(&labels);
        let codes = encoded.codes().to_vec();
        (
            FeatureMatrix::from_row_major(values, n, m).unwrap(),
            encoded,
            codes,
        )
    }

    fn labels_of(p: Predictions) -> Vec<u32> {
        let Predictions::Classes {
            labels,
            probabilities,
            n_classes,
        } = p
        else {
            panic!("a classifier predicts classes")
        };
        for row in probabilities.unwrap().chunks(n_classes) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{row:?}");
        }
        labels.iter().map(|&l| l as u32).collect()
    }

    #[test]
    fn the_three_models_predict_as_smartcore_does() {
        let (x, labels, y) = counts(240, 5, 11);
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(labels),
            seed: 1,
        };
        let whole: Vec<u32> = x.values().iter().map(|&v| v as u32).collect();
        let dense_u = DenseMatrix::new(x.n_rows(), x.n_cols(), whole, false).unwrap();
        let dense_f = DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).unwrap();
        for alpha in [1.0, 0.5] {
            let params = DiscreteNbParams { alpha }.validate().unwrap();
            let ours = labels_of(params.fit_multinomial(&data).unwrap().predict(&x).unwrap());
            let theirs = MultinomialNB::fit(
                &dense_u,
                &y,
                MultinomialNBParameters::default().with_alpha(alpha),
            )
            .unwrap()
            .predict(&dense_u)
            .unwrap();
            assert_eq!(ours, theirs, "multinomial alpha {alpha}");

            let ours = labels_of(params.fit_categorical(&data).unwrap().predict(&x).unwrap());
            let theirs = CategoricalNB::fit(
                &dense_u,
                &y,
                CategoricalNBParameters::default().with_alpha(alpha),
            )
            .unwrap()
            .predict(&dense_u)
            .unwrap();
            assert_eq!(ours, theirs, "categorical alpha {alpha}");

            let bernoulli = BernoulliNbParams {
                alpha,
                binarize: Some(1.5),
            };
            let ours = labels_of(
                bernoulli
                    .validate()
                    .unwrap()
                    .fit(&data)
                    .unwrap()
                    .predict(&x)
                    .unwrap(),
            );
            let theirs = BernoulliNB::fit(
                &dense_f,
                &y,
                BernoulliNBParameters::default()
                    .with_alpha(alpha)
                    .with_binarize(1.5),
            )
            .unwrap()
            .predict(&dense_f)
            .unwrap();
            assert_eq!(ours, theirs, "bernoulli alpha {alpha}");
        }
    }

    #[test]
    fn values_a_model_cannot_take_are_named() {
        let x = FeatureMatrix::from_row_major(vec![1.0, 0.0, 2.5, -1.0], 2, 2).unwrap();
        let data = TrainingSet {
            x,
            y: Target::Classes(EncodedLabels::encode(&[
                ClassLabel::Int(0),
                ClassLabel::Int(1),
            ])),
            seed: 1,
        };
        let params = DiscreteNbParams::default().validate().unwrap();
        let err = params.fit_multinomial(&data).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multinomial_nb cannot be fitted on this data: input column 1 (0-based, after \
             preprocessing) of training row 1: expected a count (a number >= 0), found -1"
        );
        let err = params.fit_categorical(&data).unwrap_err();
        assert!(
            err.to_string().contains("row 1: expected a category code"),
            "{err}"
        );
        let strict = BernoulliNbParams {
            alpha: 1.0,
            binarize: None,
        };
        let err = strict.validate().unwrap().fit(&data).unwrap_err();
        assert!(err.to_string().contains("found 2.5"), "{err}");
        assert!(err.is_caller_error());
    }

    #[test]
    fn an_unseen_category_gets_the_smoothing_share() {
        let (x, labels, _) = counts(60, 2, 3);
        let data = TrainingSet {
            x,
            y: Target::Classes(labels),
            seed: 1,
        };
        let model = DiscreteNbParams::default()
            .validate()
            .unwrap()
            .fit_categorical(&data)
            .unwrap();
        let probe = FeatureMatrix::from_row_major(vec![9.0, 1.0, 0.5, 1.0], 2, 2).unwrap();
        let Predictions::Classes { probabilities, .. } = model.predict(&probe).unwrap() else {
            panic!("classes")
        };
        assert!(
            probabilities
                .unwrap()
                .iter()
                .all(|p| p.is_finite() && *p > 0.0)
        );
    }
}
