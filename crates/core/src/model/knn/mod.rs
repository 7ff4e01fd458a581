//! `type: knn_classifier` and `type: knn_regressor`: k nearest neighbours, as smartcore's
//! `KNNClassifier` and `KNNRegressor` define them (the same weights, the same vote and
//! the same tie rule; tests compare predictions with smartcore's). Fitting keeps the
//! training rows; a prediction is an exact search over them (brute force, which is
//! what smartcore's `LinearSearch` does).

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::{
    Model, ModelKind, PredictError, Predictions, TableError, Target, Task, TrainError, TrainingSet,
    check_width,
};

/// How the k neighbours' votes (or values) are weighted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnWeights {
    /// Every neighbour counts the same.
    #[default]
    Uniform,
    /// A neighbour counts 1 / distance; neighbours at distance 0, when there are any,
    /// count 1 and the others 0.
    Distance,
}

/// The distance between rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnMetric {
    /// Square root of the summed squared differences.
    #[default]
    Euclidean,
    /// Summed absolute differences.
    Manhattan,
}

/// Hyperparameters of `type: knn_classifier` and `type: knn_regressor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnnParams {
    /// Number of neighbours, at least 1 and at most the number of training rows.
    pub k: usize,
    /// `uniform` or `distance`.
    pub weights: KnnWeights,
    /// `euclidean` or `manhattan`.
    pub metric: KnnMetric,
}

impl Default for KnnParams {
    fn default() -> Self {
        // scikit-learn's default number of neighbours.
        Self {
            k: 5,
            weights: KnnWeights::Uniform,
            metric: KnnMetric::Euclidean,
        }
    }
}

/// Validated [`KnnParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidKnnParams(KnnParams);

impl KnnParams {
    /// Checks `k >= 1` (and at most 10,000).
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidKnnParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        if !(1..=10_000).contains(&self.k) {
            checks.push(
                "k",
                format!(
                    "expected a number of neighbours from 1 to 10000, found {}",
                    self.k
                ),
            );
        }
        checks.finish(ValidKnnParams(self.clone()))
    }
}

/// The training rows a k-nearest-neighbours model searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Neighbours {
    k: usize,
    weights: KnnWeights,
    metric: KnnMetric,
    n_features: usize,
    /// Row-major `rows x n_features` training rows.
    points: Vec<f64>,
}

impl Neighbours {
    fn new(
        params: &KnnParams,
        x: &FeatureMatrix,
        algorithm: &'static str,
    ) -> Result<Self, TrainError> {
        if x.n_rows() < params.k {
            return Err(TrainError::NotEnoughData {
                algorithm,
                reason: format!(
                    "k is {} but the training set has {} rows",
                    params.k,
                    x.n_rows()
                ),
            });
        }
        Ok(Self {
            k: params.k,
            weights: params.weights,
            metric: params.metric,
            n_features: x.n_cols(),
            points: x.values().to_vec(),
        })
    }

    fn n_points(&self) -> usize {
        self.points.len().checked_div(self.n_features).unwrap_or(0)
    }

    /// Checks what a decoded model holds.
    fn check(&self, labels: usize) -> Result<(), TableError> {
        if self.n_features == 0 || !self.points.len().is_multiple_of(self.n_features) {
            return Err(TableError::Size {
                what: "training values (not whole rows)",
                found: self.points.len(),
                expected: self.n_points().saturating_add(1) * self.n_features.max(1),
            });
        }
        if labels != self.n_points() {
            return Err(TableError::Size {
                what: "targets",
                found: labels,
                expected: self.n_points(),
            });
        }
        if self.k == 0 || self.k > self.n_points() {
            return Err(TableError::K {
                k: self.k,
                rows: self.n_points(),
            });
        }
        Ok(())
    }

    fn distance(&self, a: &[f64], b: &[f64]) -> f64 {
        match self.metric {
            KnnMetric::Euclidean => a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt(),
            KnnMetric::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
        }
    }

    /// The k nearest training rows to `row` with their weights, nearest first (ties by
    /// training order).
    fn nearest(&self, row: &[f64], scratch: &mut Vec<(f64, usize)>) -> Vec<(usize, f64)> {
        scratch.clear();
        scratch.extend(
            self.points
                .chunks_exact(self.n_features)
                .enumerate()
                .map(|(i, p)| (self.distance(row, p), i)),
        );
        let by_distance =
            |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let k = self.k.min(scratch.len());
        if k < scratch.len() {
            scratch.select_nth_unstable_by(k - 1, by_distance);
        }
        let nearest = &mut scratch[..k];
        nearest.sort_unstable_by(by_distance);
        let any_zero = nearest.iter().any(|&(d, _)| d == 0.0);
        nearest
            .iter()
            .map(|&(d, i)| {
                let w = match (self.weights, any_zero) {
                    (KnnWeights::Uniform, _) => 1.0,
                    (KnnWeights::Distance, true) => f64::from(u8::from(d == 0.0)),
                    (KnnWeights::Distance, false) => 1.0 / d,
                };
                (i, w)
            })
            .collect()
    }
}

/// A fitted k-nearest-neighbours classifier: the training rows and their classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnClassifierModel {
    classes: Vec<ClassLabel>,
    #[serde(flatten)]
    neighbours: Neighbours,
    /// The class index of each training row.
    labels: Vec<u32>,
}

/// A fitted k-nearest-neighbours regressor: the training rows and their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnRegressorModel {
    #[serde(flatten)]
    neighbours: Neighbours,
    /// The target of each training row.
    values: Vec<f64>,
}

impl ValidKnnParams {
    /// Fits a classifier: keeps the rows and their class codes.
    ///
    /// # Errors
    /// [`TrainError::WrongTask`] for a numeric target, [`TrainError::NotEnoughData`] for
    /// fewer rows than `k`.
    pub fn fit_classifier(&self, data: &TrainingSet) -> Result<KnnClassifierModel, TrainError> {
        const NAME: &str = "knn_classifier";
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Classification,
            });
        };
        Ok(KnnClassifierModel {
            classes: labels.classes().to_vec(),
            neighbours: Neighbours::new(&self.0, &data.x, NAME)?,
            labels: labels.codes().to_vec(),
        })
    }

    /// Fits a regressor: keeps the rows and their values.
    ///
    /// # Errors
    /// [`TrainError::WrongTask`] for a class target, [`TrainError::NotEnoughData`] for
    /// fewer rows than `k`.
    pub fn fit_regressor(&self, data: &TrainingSet) -> Result<KnnRegressorModel, TrainError> {
        const NAME: &str = "knn_regressor";
        let Target::Values(values) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Regression,
            });
        };
        Ok(KnnRegressorModel {
            neighbours: Neighbours::new(&self.0, &data.x, NAME)?,
            values: values.clone(),
        })
    }
}

impl KnnClassifierModel {
    /// Checks a decoded model: rows, labels and `k` agree, every label is a class.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        self.neighbours.check(self.labels.len())?;
        if self.classes.is_empty() {
            return Err(TableError::NoClasses);
        }
        match self
            .labels
            .iter()
            .find(|&&l| l as usize >= self.classes.len())
        {
            Some(&l) => Err(TableError::Class {
                what: "label",
                index: l as usize,
                classes: self.classes.len(),
            }),
            None => Ok(()),
        }
    }
}

impl KnnRegressorModel {
    /// Checks a decoded model: rows, values and `k` agree.
    ///
    /// # Errors
    /// What is inconsistent.
    pub fn check(&self) -> Result<(), TableError> {
        self.neighbours.check(self.values.len())
    }
}

impl Model for KnnClassifierModel {
    fn kind(&self) -> ModelKind {
        ModelKind::KnnClassifier
    }

    fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        Some(&self.classes)
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.neighbours.n_features)?;
        let n_classes = self.classes.len();
        let mut labels = Vec::with_capacity(x.n_rows());
        let mut probabilities = Vec::with_capacity(x.n_rows() * n_classes);
        let mut scratch = Vec::new();
        for row in x.rows() {
            let mut votes = vec![0.0; n_classes];
            for (i, w) in self.neighbours.nearest(row, &mut scratch) {
                votes[self.labels[i] as usize] += w;
            }
            let total: f64 = votes.iter().sum();
            if total > 0.0 {
                votes.iter_mut().for_each(|v| *v /= total);
            }
            // The first most voted class, as smartcore picks it.
            let best = votes
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                })
                .0;
            labels.push(best);
            probabilities.extend_from_slice(&votes);
        }
        Ok(Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            n_classes,
        })
    }
}

impl Model for KnnRegressorModel {
    fn kind(&self) -> ModelKind {
        ModelKind::KnnRegressor
    }

    fn n_features(&self) -> usize {
        self.neighbours.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.neighbours.n_features)?;
        let mut scratch = Vec::new();
        let values = x
            .rows()
            .map(|row| {
                let nearest = self.neighbours.nearest(row, &mut scratch);
                let total: f64 = nearest.iter().map(|&(_, w)| w).sum();
                nearest
                    .iter()
                    .map(|&(i, w)| self.values[i] * (w / total))
                    .sum()
            })
            .collect();
        Ok(Predictions::Values(values))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::metrics::distance::{Distances, euclidian::Euclidian, manhattan::Manhattan};
    use smartcore::neighbors::KNNWeightFunction;
    use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
    use smartcore::neighbors::knn_regressor::{KNNRegressor, KNNRegressorParameters};

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::EncodedLabels;

    /// `n` rows of `m` columns, rounded to one decimal when `round` (so that some
    /// distances tie), and a target from their sum.
    fn numbers(n: usize, m: usize, seed: u64, round: bool) -> (FeatureMatrix, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<f64> = (0..n * m)
            .map(|_| rng.random_range(0.0..10.0_f64))
            .map(|v| if round { (v * 10.0).round() / 10.0 } else { v })
            .collect();
        let y = values
            .chunks(m)
            .map(|r| r.iter().sum::<f64>() + r[0] * r[0])
            .collect();
        (FeatureMatrix::from_row_major(values, n, m).unwrap(), y)
    }

    /// Three overlapping classes on four columns.
    fn iris() -> (FeatureMatrix, Vec<ClassLabel>) {
        let (x, y) = numbers(150, 4, 3, true);
        let labels = y
            .iter()
            .map(|v| ClassLabel::Int((*v as i64 / 12).clamp(0, 2)))
            .collect();
        (x, labels)
    }

    fn sc_weights(w: KnnWeights) -> KNNWeightFunction {
        match w {
            KnnWeights::Uniform => KNNWeightFunction::Uniform,
            KnnWeights::Distance => KNNWeightFunction::Distance,
        }
    }

    #[test]
    fn the_classifier_votes_as_smartcore_does() {
        let (x, labels) = iris();
        let encoded = EncodedLabels::encode(&labels);
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Classes(encoded.clone()),
            seed: 1,
        };
        let dense = DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).unwrap();
        let y: Vec<u32> = encoded.codes().to_vec();
        for (k, weights) in [
            (1, KnnWeights::Uniform),
            (5, KnnWeights::Uniform),
            (7, KnnWeights::Distance),
        ] {
            let params = KnnParams {
                k,
                weights,
                metric: KnnMetric::Euclidean,
            };
            let ours = params.validate().unwrap().fit_classifier(&data).unwrap();
            let theirs = KNNClassifier::fit(
                &dense,
                &y,
                KNNClassifierParameters::default()
                    .with_k(k)
                    .with_weight(sc_weights(weights))
                    .with_distance(Distances::euclidian()),
            )
            .unwrap();
            let expected: Vec<u32> = theirs.predict(&dense).unwrap();
            let Predictions::Classes {
                labels,
                probabilities,
                ..
            } = ours.predict(&x).unwrap()
            else {
                panic!("a classifier predicts classes")
            };
            let got: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
            assert_eq!(got, expected, "k {k} {weights:?}");
            let proba = theirs.predict_proba(&dense).unwrap();
            let ours_p = probabilities.unwrap();
            for (r, row) in proba.iter().enumerate() {
                for (c, p) in row.iter().enumerate() {
                    assert!((ours_p[r * 3 + c] - p).abs() < 1e-12, "row {r} class {c}");
                }
            }
        }
    }

    #[test]
    fn the_regressor_averages_as_smartcore_does() {
        // Distinct distances: which of two equidistant rows smartcore's cover tree returns is
        // its own business.
        let (x, values) = numbers(200, 4, 9, false);
        let data = TrainingSet {
            x: x.clone(),
            y: Target::Values(values.clone()),
            seed: 1,
        };
        let dense = DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).unwrap();
        for (k, weights, metric) in [
            (3, KnnWeights::Uniform, KnnMetric::Euclidean),
            (5, KnnWeights::Distance, KnnMetric::Euclidean),
            (4, KnnWeights::Uniform, KnnMetric::Manhattan),
        ] {
            let params = KnnParams { k, weights, metric };
            let ours = params.validate().unwrap().fit_regressor(&data).unwrap();
            let expected: Vec<f64> = match metric {
                KnnMetric::Euclidean => KNNRegressor::fit(
                    &dense,
                    &values,
                    KNNRegressorParameters::default()
                        .with_k(k)
                        .with_weight(sc_weights(weights))
                        .with_distance(Euclidian::new()),
                )
                .unwrap()
                .predict(&dense)
                .unwrap(),
                KnnMetric::Manhattan => KNNRegressor::fit(
                    &dense,
                    &values,
                    KNNRegressorParameters::default()
                        .with_k(k)
                        .with_weight(sc_weights(weights))
                        .with_distance(Manhattan::new()),
                )
                .unwrap()
                .predict(&dense)
                .unwrap(),
            };
            let Predictions::Values(got) = ours.predict(&x).unwrap() else {
                panic!("a regressor predicts values")
            };
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-9 * e.abs().max(1.0), "{g} vs {e}");
            }
        }
    }

    #[test]
    fn k_above_the_rows_is_refused() {
        let (x, values) = numbers(4, 2, 1, false);
        let data = TrainingSet {
            x,
            y: Target::Values(values),
            seed: 1,
        };
        let params = KnnParams {
            k: 5,
            ..KnnParams::default()
        };
        let err = params.validate().unwrap().fit_regressor(&data).unwrap_err();
        assert!(
            err.to_string()
                .contains("k is 5 but the training set has 4 rows"),
            "{err}"
        );
        assert!(
            KnnParams {
                k: 0,
                ..KnnParams::default()
            }
            .validate()
            .is_err()
        );
    }
}
