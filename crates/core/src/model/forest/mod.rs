//! `type: random_forest_classifier` and `type: random_forest_regressor`.
//!
//! Each tree has its own seed derived from the forest's seed, so the trees are fitted
//! in parallel with rayon and the result does not depend on the number of threads.
//! A classification tree is a one-tree smartcore forest (bootstrap sample plus
//! per-split feature sampling), converted into Ferry's flat layout
//! ([`crate::model::tree::flat`]) at once and smartcore's copy dropped, which keeps training memory
//! near the size of the result. A regression tree is grown by Ferry's own CART
//! ([`crate::model::tree::cart`]) from columns sorted once per forest: the tree smartcore would fit
//! with the same seed, several times faster; `parity` checks it against smartcore's.
//!
//! A classification tree keeps, per leaf, the class counts of the bootstrap sample it
//! was fitted on. smartcore does not expose that sample, so Ferry draws it itself with
//! smartcore's documented algorithm and seed (per class, with replacement, from the
//! tree's seeded `SmallRng`), and checks every leaf's total against the sample count
//! smartcore recorded: a forest whose samples disagree fails to fit instead of giving
//! wrong probabilities. A forest's class probabilities are the mean of its trees' leaf
//! distributions and its label the most probable class, as scikit-learn computes them;
//! a regression forest predicts the mean of its trees' leaf values.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::extra_trees_regressor::{
    ExtraTreesRegressor, ExtraTreesRegressorParameters,
};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed, mirror, tree_failed};
use crate::model::tree::cart::{SortedColumns, TreeLimits, bootstrap_counts, fit_regression_tree};
use crate::model::tree::flat::{ClassTree, FlatTree, ScNodes, ValueTree, argmax};
use crate::model::tree::packed::Packed;
use crate::model::tree::{check_tree_limits, convert_class_tree, predict_class_trees};
use crate::model::{
    FitProgress, Model, ModelKind, NoProgress, Parity, PredictError, Predictions, SplitCriterion,
    Target, Task, TrainError, Trainer, TrainingSet, TreeError, check_width,
};

const CLASSIFIER: &str = "random_forest_classifier";
const REGRESSOR: &str = "random_forest_regressor";
const EXTRA_TREES: &str = "extra_trees_regressor";

/// The seed of tree `i`: SplitMix64 of the forest seed and the index, so neighbouring
/// trees get unrelated streams.
fn tree_seed(seed: u64, i: usize) -> u64 {
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Checks what both forests take besides the tree limits.
fn check_forest(checks: &mut ParamChecks, n_trees: usize, max_features: Option<usize>) {
    checks.count_at_least("n_trees", n_trees, 1).count_at_most(
        "n_trees",
        n_trees,
        usize::from(u16::MAX),
    );
    if let Some(m) = max_features {
        checks.count_at_least("max_features", m, 1);
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

/// One forest being grown, tree by tree: the part of a fit that differs between the
/// classifier and the regressor. [`grow`] is the rest, shared by both.
trait ForestFit: Sync {
    /// A grown tree.
    type Tree: Send;
    /// The fitted forest.
    type Model;
    /// Trees to grow.
    fn n_trees(&self) -> usize;
    /// Grows tree `i` (its seed and sample follow from `i` alone, so the forest does not
    /// depend on the thread count).
    fn tree(&self, i: usize) -> Result<Self::Tree, TrainError>;
    /// The forest of `trees`, in order.
    fn model(&self, trees: Vec<Self::Tree>) -> Self::Model;
}

/// Grows every tree of `fit` on rayon's pool, reporting each to `progress`.
fn grow<F: ForestFit>(fit: &F, progress: &dyn FitProgress) -> Result<F::Model, TrainError> {
    progress.start(fit.n_trees());
    let trees = (0..fit.n_trees())
        .into_par_iter()
        .map(|i| {
            let tree = fit.tree(i);
            progress.step();
            tree
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fit.model(trees))
}

/// The per-tree part of a [`Parity`]: `mismatches` of each tree over `rows` probe rows.
fn tree_parity(mismatches: impl ExactSizeIterator<Item = usize>, rows: usize) -> Parity {
    let trees = mismatches.len();
    Parity {
        trees,
        compared: trees * rows,
        mismatches: mismatches.sum(),
        max_abs_diff: 0.0,
    }
}

/// Predicts `probe` with a forest built for a parity check; a failure is internal.
fn predict_probe(
    model: &dyn Model,
    probe: &FeatureMatrix,
    algorithm: &'static str,
) -> Result<Predictions, TrainError> {
    model.predict(probe).map_err(|e| TrainError::Library {
        algorithm,
        message: e.to_string(),
    })
}

/// smartcore's one-tree forest, the reference a classifier's tree is converted from.
type ScClassTree = RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

mod classifier;
mod regressor;

#[cfg(test)]
use classifier::class_bootstrap;
pub use classifier::{ForestClassifierModel, ForestClassifierParams, ValidForestClassifierParams};
pub use regressor::{ForestRegressorModel, ForestRegressorParams, ValidForestRegressorParams};

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
    fn probabilities_are_the_mean_leaf_distribution_and_trees_match_smartcore() {
        let data = two_moons_ish();
        let params = ForestClassifierParams {
            n_trees: 15,
            max_depth: Some(3),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let model = params.fit(&data).unwrap();
        assert_eq!(model.n_trees(), 15);
        let Predictions::Classes {
            labels,
            probabilities: Some(probabilities),
            n_classes,
        } = model.predict(&data.x).unwrap()
        else {
            panic!()
        };
        assert_eq!(n_classes, 2);
        // Independent computation: average each tree's leaf shares by hand.
        for r in 0..data.x.n_rows() {
            let row = data.x.row(r);
            let p1: f64 = model
                .trees()
                .iter()
                .map(|t| t.proba(row).unwrap()[1])
                .sum::<f64>()
                / 15.0;
            assert!((probabilities[r * 2 + 1] - p1).abs() < 1e-12);
            assert_eq!(
                labels[r],
                usize::from(probabilities[r * 2 + 1] > probabilities[r * 2])
            );
        }
        // Leaf distributions, not hard votes: some probabilities are not multiples of 1/15.
        assert!(
            probabilities
                .iter()
                .any(|p| ((p * 15.0) - (p * 15.0).round()).abs() > 1e-9),
            "{probabilities:?}"
        );
        let parity = params.parity(&data, &data.x).unwrap();
        assert_eq!(parity.trees, 15);
        assert_eq!(parity.compared, 15 * 80);
        assert_eq!(parity.mismatches, 0);
        assert!(parity.max_abs_diff < 1e-12, "{parity:?}");
    }

    #[test]
    fn the_bootstrap_is_the_one_smartcore_fits_on() {
        // smartcore keeps the in-bag rows when asked: they must be exactly the rows our
        // replica of its sampler draws at least once.
        let data = two_moons_ish();
        let Target::Classes(labels) = &data.y else {
            panic!()
        };
        let y = labels.codes().to_vec();
        let x = dense_for_fit(&data.x, CLASSIFIER).unwrap();
        for seed in [0, 7, tree_seed(7, 3)] {
            let sc = ScClassTree::fit(
                &x,
                &y,
                RandomForestClassifierParameters::default()
                    .with_n_trees(1)
                    .with_m(1)
                    .with_keep_samples(true)
                    .with_seed(seed),
            )
            .unwrap();
            let kept: serde_json::Value = serde_json::to_value(&sc).unwrap();
            let in_bag: Vec<bool> = serde_json::from_value(kept["samples"][0].clone()).unwrap();
            let ours: Vec<bool> = class_bootstrap(&y, 2, seed)
                .iter()
                .map(|&c| c > 0)
                .collect();
            assert_eq!(ours, in_bag, "seed {seed}");
        }
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
        let a = params.fit(&data).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| params.fit(&data).unwrap());
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
        let params = ForestRegressorParams {
            n_trees: 10,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let model = params.fit(&data).unwrap();
        let x = FeatureMatrix::from_row_major(vec![5.0, 55.0], 2, 1).unwrap();
        let Predictions::Values(v) = model.predict(&x).unwrap() else {
            panic!()
        };
        assert!(
            (v[0] - 1.0).abs() < 1e-9 && (v[1] - 5.0).abs() < 1e-9,
            "{v:?}"
        );
        let parity = params.parity(&data, &data.x).unwrap();
        assert_eq!(
            (parity.trees, parity.compared, parity.mismatches),
            (10, 600, 0)
        );
        assert!(parity.max_abs_diff < 1e-9, "{parity:?}");
    }

    #[test]
    fn a_row_gets_the_same_bits_alone_in_a_batch_and_on_any_thread_count() {
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let x = f64::from(i) * 0.37;
            values.extend([x, (x * 1.3).sin()]);
            y.push(x.sin() * 10.0 + f64::from(i % 7));
        }
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(values, 200, 2).unwrap(),
            y: Target::Values(y),
            seed: 5,
        };
        let model = ForestRegressorParams {
            n_trees: 20,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        // 14,000 rows x 20 trees: large enough to be summed in parallel.
        let big: Vec<f64> = (0..14_000)
            .flat_map(|i| {
                let x = f64::from(i) * 0.0051;
                [x, x.cos()]
            })
            .collect();
        let big = FeatureMatrix::from_row_major(big, 14_000, 2).unwrap();
        let Predictions::Values(batch) = model.predict(&big).unwrap() else {
            panic!()
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let Predictions::Values(one_thread) = pool.install(|| model.predict(&big).unwrap()) else {
            panic!()
        };
        assert_eq!(batch, one_thread);
        for r in (0..14_000).step_by(997) {
            let row = FeatureMatrix::from_row_major(big.row(r).to_vec(), 1, 2).unwrap();
            let Predictions::Values(alone) = model.predict(&row).unwrap() else {
                panic!()
            };
            assert_eq!(alone[0].to_bits(), batch[r].to_bits(), "row {r}");
        }
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
