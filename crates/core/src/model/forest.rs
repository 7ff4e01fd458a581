//! `type: random_forest_classifier` and `type: random_forest_regressor`.
//!
//! Each tree is a one-tree smartcore forest (bootstrap sample plus per-split feature
//! sampling) with its own seed derived from the forest's seed, so the trees are fitted
//! in parallel with rayon and the result does not depend on the number of threads. The
//! forest keeps every tree, so a classifier reports real per-class probabilities: the
//! share of trees voting for each class.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use super::smartcore_io::{dense_for_fit, dense_for_predict, fit_failed};
use super::tree::check_tree_limits;
use super::{
    Model, ModelKind, PredictError, Predictions, SplitCriterion, Target, Task, TrainError, Trainer,
    TrainingSet, check_width,
};
use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

const CLASSIFIER: &str = "random_forest_classifier";
const REGRESSOR: &str = "random_forest_regressor";

type ScClassTree = RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;
type ScRegTree = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// The seed of tree `i`: SplitMix64 of the forest seed and the index, so neighbouring
/// trees get unrelated streams.
fn tree_seed(seed: u64, i: usize) -> u64 {
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn check_forest(errors: &mut ConfigErrors, n_trees: usize, max_features: Option<usize>) {
    if n_trees == 0 {
        errors.push("n_trees", "expected at least 1, found 0");
    }
    if n_trees > usize::from(u16::MAX) {
        errors.push(
            "n_trees",
            format!("expected at most {}, found {n_trees}", u16::MAX),
        );
    }
    if max_features == Some(0) {
        errors.push("max_features", "expected at least 1, found 0");
    }
}

fn resolve_max_features(
    algorithm: &'static str,
    max_features: Option<usize>,
    default: usize,
    n: usize,
) -> Result<usize, TrainError> {
    let m = max_features.unwrap_or(default).max(1);
    if m > n {
        return Err(TrainError::NotEnoughData {
            algorithm,
            reason: format!("max_features is {m} but the model has {n} input columns"),
        });
    }
    Ok(m)
}

/// Hyperparameters of `type: random_forest_classifier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestClassifierParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Split quality measure: `gini` (default), `entropy` or `classification_error`.
    pub criterion: SplitCriterion,
    /// Maximum depth of each tree; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u16>,
    /// Minimum rows in a leaf.
    pub min_samples_leaf: usize,
    /// Minimum rows to split a node.
    pub min_samples_split: usize,
    /// Input columns drawn as split candidates at each split; `floor(sqrt(columns))`
    /// when absent, as scikit-learn's classifier does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_features: Option<usize>,
    /// Seed of the bootstrap and feature sampling; the pipeline's split seed when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for ForestClassifierParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            criterion: SplitCriterion::Gini,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: None,
            seed: None,
        }
    }
}

/// Validated [`ForestClassifierParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidForestClassifierParams(ForestClassifierParams);

impl ForestClassifierParams {
    /// Checks the tree limits, `1 <= n_trees <= 65535` and `max_features >= 1`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidForestClassifierParams, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        check_tree_limits(
            &mut errors,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        check_forest(&mut errors, self.n_trees, self.max_features);
        errors.into_result(ValidForestClassifierParams(self.clone()))
    }
}

/// A fitted classification forest.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestClassifierModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    trees: Vec<ScClassTree>,
}

impl Trainer for ValidForestClassifierParams {
    type Model = ForestClassifierModel;

    fn fit(&self, data: &TrainingSet) -> Result<ForestClassifierModel, TrainError> {
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: CLASSIFIER,
                expected: Task::Classification,
            });
        };
        if labels.classes().len() < 2 {
            return Err(TrainError::NotEnoughData {
                algorithm: CLASSIFIER,
                reason: "the training set has fewer than 2 classes".to_owned(),
            });
        }
        let p = &self.0;
        let n = data.x.n_cols();
        let default_m = ((n as f64).sqrt().floor() as usize).max(1);
        let m = resolve_max_features(CLASSIFIER, p.max_features, default_m, n)?;
        let x = dense_for_fit(&data.x, CLASSIFIER)?;
        let y = labels.codes().to_vec();
        let seed = p.seed.unwrap_or(data.seed);
        let mut base = RandomForestClassifierParameters::default()
            .with_n_trees(1)
            .with_criterion(p.criterion.to_smartcore())
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_min_samples_split(p.min_samples_split)
            .with_m(m)
            .with_keep_samples(false);
        if let Some(d) = p.max_depth {
            base = base.with_max_depth(d);
        }
        let trees = (0..p.n_trees)
            .into_par_iter()
            .map(|i| {
                ScClassTree::fit(&x, &y, base.clone().with_seed(tree_seed(seed, i)))
                    .map_err(fit_failed(CLASSIFIER))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ForestClassifierModel {
            classes: labels.classes().to_vec(),
            n_features: n,
            trees,
        })
    }
}

impl Model for ForestClassifierModel {
    fn kind(&self) -> ModelKind {
        ModelKind::RandomForestClassifier
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        Some(&self.classes)
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let n = x.n_rows();
        let mut votes = vec![0u32; n * k];
        if n > 0 {
            let dm = dense_for_predict(x)?;
            for tree in &self.trees {
                let codes = tree
                    .predict(&dm)
                    .map_err(|e| PredictError::Library(e.to_string()))?;
                for (r, c) in codes.iter().enumerate() {
                    if let Some(v) = votes.get_mut(r * k + *c as usize) {
                        *v += 1;
                    }
                }
            }
        }
        let total = self.trees.len().max(1) as f64;
        let mut labels = Vec::with_capacity(n);
        for row in votes.chunks_exact(k.max(1)) {
            // The first class with the most votes wins, as in smartcore's own forests.
            let mut best = 0;
            for (c, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = c;
                }
            }
            labels.push(best);
        }
        let probabilities = votes.iter().map(|&v| f64::from(v) / total).collect();
        Ok(Predictions::Classes {
            labels,
            probabilities,
            n_classes: k,
        })
    }
}

impl ForestClassifierModel {
    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Each tree's predicted class index for every row of `x`, tree by tree: the votes
    /// behind [`Model::predict`], exposed so the probabilities can be checked.
    ///
    /// # Errors
    /// [`PredictError`] as for [`Model::predict`].
    pub fn tree_votes(&self, x: &FeatureMatrix) -> Result<Vec<Vec<u32>>, PredictError> {
        check_width(x, self.n_features)?;
        let dm = dense_for_predict(x)?;
        self.trees
            .iter()
            .map(|t| {
                t.predict(&dm)
                    .map_err(|e| PredictError::Library(e.to_string()))
            })
            .collect()
    }
}

/// Hyperparameters of `type: random_forest_regressor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestRegressorParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth of each tree; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u16>,
    /// Minimum rows in a leaf.
    pub min_samples_leaf: usize,
    /// Minimum rows to split a node.
    pub min_samples_split: usize,
    /// Input columns drawn as split candidates at each split; all columns when absent,
    /// as scikit-learn's regressor does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_features: Option<usize>,
    /// Seed of the bootstrap and feature sampling; the pipeline's split seed when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for ForestRegressorParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: None,
            seed: None,
        }
    }
}

/// Validated [`ForestRegressorParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidForestRegressorParams(ForestRegressorParams);

impl ForestRegressorParams {
    /// Checks the tree limits, `1 <= n_trees <= 65535` and `max_features >= 1`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidForestRegressorParams, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        check_tree_limits(
            &mut errors,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        check_forest(&mut errors, self.n_trees, self.max_features);
        errors.into_result(ValidForestRegressorParams(self.clone()))
    }
}

/// A fitted regression forest: the mean of its trees.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestRegressorModel {
    n_features: usize,
    trees: Vec<ScRegTree>,
}

impl Trainer for ValidForestRegressorParams {
    type Model = ForestRegressorModel;

    fn fit(&self, data: &TrainingSet) -> Result<ForestRegressorModel, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: REGRESSOR,
                expected: Task::Regression,
            });
        };
        let p = &self.0;
        let n = data.x.n_cols();
        let m = resolve_max_features(REGRESSOR, p.max_features, n, n)?;
        let x = dense_for_fit(&data.x, REGRESSOR)?;
        let seed = p.seed.unwrap_or(data.seed);
        let mut base = RandomForestRegressorParameters::default()
            .with_n_trees(1)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_min_samples_split(p.min_samples_split)
            .with_m(m)
            .with_keep_samples(false);
        if let Some(d) = p.max_depth {
            base = base.with_max_depth(d);
        }
        let trees = (0..p.n_trees)
            .into_par_iter()
            .map(|i| {
                ScRegTree::fit(&x, y, base.clone().with_seed(tree_seed(seed, i)))
                    .map_err(fit_failed(REGRESSOR))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ForestRegressorModel {
            n_features: n,
            trees,
        })
    }
}

impl Model for ForestRegressorModel {
    fn kind(&self) -> ModelKind {
        ModelKind::RandomForestRegressor
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let n = x.n_rows();
        let mut sums = vec![0.0; n];
        if n > 0 {
            let dm = dense_for_predict(x)?;
            for tree in &self.trees {
                let values = tree
                    .predict(&dm)
                    .map_err(|e| PredictError::Library(e.to_string()))?;
                for (s, v) in sums.iter_mut().zip(values) {
                    *s += v;
                }
            }
        }
        let total = self.trees.len().max(1) as f64;
        Ok(Predictions::Values(
            sums.into_iter().map(|s| s / total).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedLabels;

    fn two_moons_ish() -> TrainingSet {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..80 {
            let t = f64::from(i) / 80.0;
            let class = i % 2;
            let x0 = t * 6.0;
            let x1 = if class == 0 {
                (x0).sin()
            } else {
                (x0).sin() + 0.8
            } + f64::from(i % 7) * 0.05;
            values.extend([x0, x1, f64::from(i % 3)]);
            labels.push(ClassLabel::Int(i64::from(class)));
        }
        TrainingSet {
            x: FeatureMatrix::from_row_major(values, 80, 3).unwrap(),
            y: Target::Classes(EncodedLabels::encode(&labels)),
            seed: 7,
        }
    }

    #[test]
    fn probabilities_are_the_share_of_tree_votes() {
        let data = two_moons_ish();
        let params = ForestClassifierParams {
            n_trees: 15,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let model = params.fit(&data).unwrap();
        assert_eq!(model.n_trees(), 15);
        let Predictions::Classes {
            labels,
            probabilities,
            n_classes,
        } = model.predict(&data.x).unwrap()
        else {
            panic!()
        };
        assert_eq!(n_classes, 2);
        // Independent computation: count each tree's vote.
        let votes = model.tree_votes(&data.x).unwrap();
        for r in 0..data.x.n_rows() {
            let ones = votes.iter().filter(|v| v[r] == 1).count();
            let p1 = ones as f64 / 15.0;
            assert_eq!(probabilities[r * 2 + 1], p1);
            assert_eq!(probabilities[r * 2], (15 - ones) as f64 / 15.0);
            assert_eq!(labels[r], usize::from(ones > 15 - ones));
        }
        // Some rows must get a non-degenerate probability, else this is not a forest.
        assert!(probabilities.iter().any(|p| *p > 0.0 && *p < 1.0));
    }

    #[test]
    fn fitting_is_deterministic_and_thread_independent() {
        let data = two_moons_ish();
        let params = ForestClassifierParams {
            n_trees: 8,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let a = serde_json::to_string(&params.fit(&data).unwrap()).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| serde_json::to_string(&params.fit(&data).unwrap()).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn regressor_is_the_mean_of_its_trees_and_fits_a_step() {
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let x = f64::from(i);
            values.push(x);
            y.push(if i < 30 { 1.0 } else { 5.0 });
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, 60, 1).unwrap(),
            y: Target::Values(y),
            seed: 3,
        };
        let model = ForestRegressorParams {
            n_trees: 10,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        let x = FeatureMatrix::from_row_major(vec![5.0, 55.0], 2, 1).unwrap();
        let Predictions::Values(v) = model.predict(&x).unwrap() else {
            panic!()
        };
        assert!(
            (v[0] - 1.0).abs() < 1e-9 && (v[1] - 5.0).abs() < 1e-9,
            "{v:?}"
        );
    }

    #[test]
    fn bad_params_are_reported_with_their_keys() {
        let err = ForestClassifierParams {
            n_trees: 0,
            min_samples_split: 1,
            max_features: Some(0),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let paths: Vec<_> = err.issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["min_samples_split", "n_trees", "max_features"]);
    }
}
