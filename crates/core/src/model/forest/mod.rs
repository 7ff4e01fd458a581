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
use crate::model::tree::flat::{ClassTree, FlatTree, ScNodes, argmax, sum_trees};
use crate::model::tree::{check_tree_limits, convert_class_tree, predict_class_trees};
use crate::model::{
    FitProgress, Model, ModelKind, NoProgress, Parity, PredictError, Predictions, SplitCriterion,
    Target, Task, TrainError, Trainer, TrainingSet, TreeError, check_width,
};

const CLASSIFIER: &str = "random_forest_classifier";
const REGRESSOR: &str = "random_forest_regressor";
const EXTRA_TREES: &str = "extra_trees_regressor";

/// The parts of smartcore's fitted `ExtraTreesRegressor` Ferry reads.
#[derive(Deserialize)]
struct ScExtraTrees {
    forest_regressor: Option<ScBaseForest>,
}

#[derive(Deserialize)]
struct ScBaseForest {
    trees: Option<Vec<ScNodes<f64>>>,
}

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
        let mut checks = ParamChecks::new();
        check_tree_limits(
            &mut checks,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        check_forest(&mut checks, self.n_trees, self.max_features);
        checks.finish(ValidForestClassifierParams(self.clone()))
    }
}

/// A fitted classification forest in Ferry's flat layout.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestClassifierModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    trees: Vec<ClassTree>,
}

/// smartcore's node list of a one-tree classification forest.
#[derive(serde::Deserialize)]
struct ScClassForest {
    trees: Option<Vec<ScNodes<usize>>>,
}

/// The one tree of a one-tree smartcore forest.
fn only_tree<T>(trees: Option<Vec<T>>, algorithm: &'static str) -> Result<T, TrainError> {
    match trees.map(Vec::into_iter).as_mut().and_then(Iterator::next) {
        Some(t) => Ok(t),
        None => Err(TrainError::Library {
            algorithm,
            message: "smartcore's forest holds no tree".to_owned(),
        }),
    }
}

/// The bootstrap sample smartcore's classification forest draws for a tree with
/// `seed`: for each class in turn, as many draws with replacement among that class's
/// rows as it has rows, from `SmallRng::seed_from_u64(seed)`.
fn class_bootstrap(codes: &[u32], n_classes: usize, seed: u64) -> Vec<u32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = vec![0u32; codes.len()];
    for class in 0..n_classes {
        let rows: Vec<usize> = (0..codes.len())
            .filter(|&i| codes.get(i).is_some_and(|&c| c as usize == class))
            .collect();
        let n = rows.len();
        for _ in 0..n {
            let pick: usize = rng.random_range(0..n);
            if let Some(c) = rows.get(pick).and_then(|&r| counts.get_mut(r)) {
                *c += 1;
            }
        }
    }
    counts
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

struct ClassForestFit<'a> {
    params: &'a ValidForestClassifierParams,
    data: &'a TrainingSet,
    x: DenseMatrix<f64>,
    y: Vec<u32>,
    n_classes: usize,
    base: RandomForestClassifierParameters,
    seed: u64,
}

impl<'a> ClassForestFit<'a> {
    fn new(
        params: &'a ValidForestClassifierParams,
        data: &'a TrainingSet,
    ) -> Result<Self, TrainError> {
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
        let p = &params.0;
        let n = data.x.n_cols();
        let default_m = ((n as f64).sqrt().floor() as usize).max(1);
        let m = resolve_max_features(CLASSIFIER, p.max_features, default_m, n)?;
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
        Ok(Self {
            params,
            data,
            x: dense_for_fit(&data.x, CLASSIFIER)?,
            y: labels.codes().to_vec(),
            n_classes: labels.classes().len(),
            base,
            seed: p.seed.unwrap_or(data.seed),
        })
    }

    /// Fits tree `i` with smartcore and converts it, returning both.
    fn tree_pair(&self, i: usize) -> Result<(ClassTree, ScClassTree), TrainError> {
        let seed = tree_seed(self.seed, i);
        let sc = ScClassTree::fit(&self.x, &self.y, self.base.clone().with_seed(seed))
            .map_err(fit_failed(CLASSIFIER))?;
        let nodes = only_tree(
            mirror::<ScClassForest, _>(&sc, CLASSIFIER)?.trees,
            CLASSIFIER,
        )?;
        let weights = class_bootstrap(&self.y, self.n_classes, seed);
        let tree = convert_class_tree(
            &nodes.nodes,
            self.n_classes,
            &self.data.x,
            &self.y,
            &weights,
            CLASSIFIER,
        )?;
        Ok((tree, sc))
    }
}

impl ForestFit for ClassForestFit<'_> {
    type Tree = ClassTree;
    type Model = ForestClassifierModel;

    fn n_trees(&self) -> usize {
        self.params.0.n_trees
    }

    fn tree(&self, i: usize) -> Result<ClassTree, TrainError> {
        self.tree_pair(i).map(|(tree, _)| tree)
    }

    fn model(&self, trees: Vec<ClassTree>) -> ForestClassifierModel {
        let classes = match &self.data.y {
            Target::Classes(labels) => labels.classes().to_vec(),
            Target::Values(_) => Vec::new(),
        };
        ForestClassifierModel {
            classes,
            n_features: self.data.x.n_cols(),
            trees,
        }
    }
}

impl Trainer for ValidForestClassifierParams {
    type Model = ForestClassifierModel;

    fn fit(&self, data: &TrainingSet) -> Result<ForestClassifierModel, TrainError> {
        self.fit_observed(data, &NoProgress)
    }
}

impl ValidForestClassifierParams {
    /// [`Trainer::fit`], reporting each tree to `progress` as it is grown.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn fit_observed(
        &self,
        data: &TrainingSet,
        progress: &dyn FitProgress,
    ) -> Result<ForestClassifierModel, TrainError> {
        grow(&ClassForestFit::new(self, data)?, progress)
    }

    /// Fits the forest and checks, tree by tree, that Ferry's layout predicts exactly
    /// the class smartcore's tree predicts on every row of `probe`, and that the
    /// forest's probabilities are the mean of its trees' leaf distributions.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn parity(&self, data: &TrainingSet, probe: &FeatureMatrix) -> Result<Parity, TrainError> {
        let fit = ClassForestFit::new(self, data)?;
        let probe_dense = dense_for_fit(probe, CLASSIFIER)?;
        let per_tree = (0..fit.n_trees())
            .into_par_iter()
            .map(|i| {
                let (tree, sc) = fit.tree_pair(i)?;
                let theirs = sc.predict(&probe_dense).map_err(fit_failed(CLASSIFIER))?;
                let mismatches = probe
                    .rows()
                    .zip(&theirs)
                    .filter(|(row, t)| tree.proba(row).map(argmax) != Some(**t as usize))
                    .count();
                Ok((tree, mismatches))
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let (trees, mismatches): (Vec<_>, Vec<_>) = per_tree.into_iter().unzip();
        let mut parity = tree_parity(mismatches.into_iter(), probe.n_rows());
        let model = fit.model(trees);
        // The forest's output against the trees' mean, computed here independently.
        let k = fit.n_classes;
        let Predictions::Classes {
            probabilities: Some(forest),
            ..
        } = predict_probe(&model, probe, CLASSIFIER)?
        else {
            return Err(TrainError::Library {
                algorithm: CLASSIFIER,
                message: "a forest without probabilities".to_owned(),
            });
        };
        for (r, row) in probe.rows().enumerate() {
            for c in 0..k {
                let mean = model
                    .trees
                    .iter()
                    .filter_map(|t| t.proba(row).and_then(|p| p.get(c)))
                    .sum::<f64>()
                    / model.trees.len() as f64;
                let got = forest.get(r * k + c).copied().unwrap_or(f64::NAN);
                parity.max_abs_diff = parity.max_abs_diff.max((got - mean).abs());
            }
        }
        Ok(parity)
    }
}

impl Model for ForestClassifierModel {
    model_shape!(ModelKind::RandomForestClassifier, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        predict_class_trees(&self.trees, self.classes.len(), x)
    }
}

impl ForestClassifierModel {
    pub(super) fn from_parts(
        classes: Vec<ClassLabel>,
        n_features: usize,
        trees: Vec<ClassTree>,
    ) -> Self {
        Self {
            classes,
            n_features,
            trees,
        }
    }

    pub(super) fn trees(&self) -> &[ClassTree] {
        &self.trees
    }

    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.trees.len()
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
        let mut checks = ParamChecks::new();
        check_tree_limits(
            &mut checks,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        check_forest(&mut checks, self.n_trees, self.max_features);
        checks.finish(ValidForestRegressorParams(self.clone()))
    }
}

/// A fitted regression forest in Ferry's flat layout: the mean of its trees.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRegressorModel {
    kind: ModelKind,
    n_features: usize,
    trees: Vec<FlatTree>,
}

struct RegForestFit<'a> {
    params: &'a ValidForestRegressorParams,
    data: &'a TrainingSet,
    sorted: SortedColumns,
    y: &'a [f64],
    limits: TreeLimits,
    seed: u64,
}

impl<'a> RegForestFit<'a> {
    fn new(
        params: &'a ValidForestRegressorParams,
        data: &'a TrainingSet,
    ) -> Result<Self, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: REGRESSOR,
                expected: Task::Regression,
            });
        };
        let p = &params.0;
        let n = data.x.n_cols();
        if data.x.n_rows() == 0 || n == 0 {
            return Err(TrainError::NotEnoughData {
                algorithm: REGRESSOR,
                reason: "the training set has no rows or no input columns".to_owned(),
            });
        }
        let mtry = resolve_max_features(REGRESSOR, p.max_features, n, n)?;
        let sorted = SortedColumns::new(&data.x).map_err(tree_failed(REGRESSOR))?;
        Ok(Self {
            params,
            data,
            sorted,
            y,
            limits: TreeLimits {
                max_depth: p.max_depth.unwrap_or(u16::MAX),
                min_samples_leaf: p.min_samples_leaf,
                min_samples_split: p.min_samples_split,
                mtry,
            },
            seed: p.seed.unwrap_or(data.seed),
        })
    }

    /// smartcore's one-tree forest for tree `i`: the reference [`Self::tree`] is
    /// checked against.
    fn smartcore_tree(&self, x: &DenseMatrix<f64>, i: usize) -> Result<ScRegTree, TrainError> {
        let p = &self.params.0;
        let mut base = RandomForestRegressorParameters::default()
            .with_n_trees(1)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_min_samples_split(p.min_samples_split)
            .with_m(self.limits.mtry)
            .with_keep_samples(false)
            .with_seed(tree_seed(self.seed, i));
        if let Some(d) = p.max_depth {
            base = base.with_max_depth(d);
        }
        ScRegTree::fit(x, &self.y.to_vec(), base).map_err(fit_failed(REGRESSOR))
    }
}

impl ForestFit for RegForestFit<'_> {
    type Tree = FlatTree;
    type Model = ForestRegressorModel;

    fn n_trees(&self) -> usize {
        self.params.0.n_trees
    }

    /// Fits tree `i` with Ferry's CART on the bootstrap sample and seed smartcore's
    /// forest would use for it.
    fn tree(&self, i: usize) -> Result<FlatTree, TrainError> {
        let seed = tree_seed(self.seed, i);
        let counts = bootstrap_counts(self.y.len(), seed);
        fit_regression_tree(&self.sorted, self.y, &counts, self.limits, seed)
            .map_err(tree_failed(REGRESSOR))
    }

    fn model(&self, trees: Vec<FlatTree>) -> ForestRegressorModel {
        ForestRegressorModel {
            kind: ModelKind::RandomForestRegressor,
            n_features: self.data.x.n_cols(),
            trees,
        }
    }
}

impl Trainer for ValidForestRegressorParams {
    type Model = ForestRegressorModel;

    fn fit(&self, data: &TrainingSet) -> Result<ForestRegressorModel, TrainError> {
        self.fit_observed(data, &NoProgress)
    }
}

impl ValidForestRegressorParams {
    /// [`Trainer::fit`], reporting each tree to `progress` as it is grown.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn fit_observed(
        &self,
        data: &TrainingSet,
        progress: &dyn FitProgress,
    ) -> Result<ForestRegressorModel, TrainError> {
        grow(&RegForestFit::new(self, data)?, progress)
    }

    /// Fits the forest and checks, tree by tree, that the tree Ferry's CART grows
    /// predicts exactly the value smartcore's tree, fitted with the same seed, predicts
    /// on every row of `probe`, and that the forest predicts the mean of smartcore's
    /// trees (`max_abs_diff`).
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn parity(&self, data: &TrainingSet, probe: &FeatureMatrix) -> Result<Parity, TrainError> {
        let fit = RegForestFit::new(self, data)?;
        let x = dense_for_fit(&data.x, REGRESSOR)?;
        let probe_dense = dense_for_fit(probe, REGRESSOR)?;
        let per_tree = (0..fit.n_trees())
            .into_par_iter()
            .map(|i| {
                let tree = fit.tree(i)?;
                let sc = fit.smartcore_tree(&x, i)?;
                let theirs = sc.predict(&probe_dense).map_err(fit_failed(REGRESSOR))?;
                let mismatches = probe
                    .rows()
                    .zip(&theirs)
                    .filter(|(row, t)| tree.leaf(row).map(|(_, v)| v) != Some(**t))
                    .count();
                Ok((tree, theirs, mismatches))
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let mut sums = vec![0.0; probe.n_rows()];
        let mut trees = Vec::with_capacity(per_tree.len());
        let mut mismatches = Vec::with_capacity(per_tree.len());
        for (tree, theirs, m) in per_tree {
            mismatches.push(m);
            for (s, t) in sums.iter_mut().zip(theirs) {
                *s += t;
            }
            trees.push(tree);
        }
        let mut parity = tree_parity(mismatches.into_iter(), probe.n_rows());
        let n = trees.len() as f64;
        let model = fit.model(trees);
        let Predictions::Values(ours) = predict_probe(&model, probe, REGRESSOR)? else {
            return Err(TrainError::Library {
                algorithm: REGRESSOR,
                message: "a regressor without values".to_owned(),
            });
        };
        for (o, s) in ours.iter().zip(&sums) {
            parity.max_abs_diff = parity.max_abs_diff.max((o - s / n).abs());
        }
        Ok(parity)
    }
}

impl ValidForestRegressorParams {
    /// Fits `type: extra_trees_regressor` with smartcore's `ExtraTreesRegressor` (every
    /// tree on all rows, no bootstrap; each split the best of one random threshold per
    /// drawn column) and converts its trees into Ferry's flat layout; returns smartcore's
    /// model too, for the parity check.
    fn fit_extra_pair(
        &self,
        data: &TrainingSet,
    ) -> Result<(ForestRegressorModel, ScExtra, Vec<ScNodes<f64>>), TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: EXTRA_TREES,
                expected: Task::Regression,
            });
        };
        let p = &self.0;
        let n = data.x.n_cols();
        let m = resolve_max_features(EXTRA_TREES, p.max_features, n, n)?;
        let x = dense_for_fit(&data.x, EXTRA_TREES)?;
        let mut params = ExtraTreesRegressorParameters::default()
            .with_n_trees(p.n_trees)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_min_samples_split(p.min_samples_split)
            .with_m(m)
            .with_seed(p.seed.unwrap_or(data.seed));
        if let Some(d) = p.max_depth {
            params = params.with_max_depth(d);
        }
        let sc: ScExtra =
            ExtraTreesRegressor::fit(&x, y, params).map_err(fit_failed(EXTRA_TREES))?;
        let failed = tree_failed(EXTRA_TREES);
        let nodes = mirror::<ScExtraTrees, _>(&sc, EXTRA_TREES)?
            .forest_regressor
            .and_then(|f| f.trees)
            .ok_or_else(|| failed(TreeError::NoTrees))?;
        let trees = nodes
            .iter()
            .map(|t| FlatTree::from_smartcore(&t.nodes, n, |v| v).map(|(tree, _)| tree))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        Ok((
            ForestRegressorModel {
                kind: ModelKind::ExtraTreesRegressor,
                n_features: n,
                trees,
            },
            sc,
            nodes,
        ))
    }

    /// Fits `type: extra_trees_regressor`; see [`ModelKind::ExtraTreesRegressor`].
    ///
    /// # Errors
    /// A class target, `max_features` above the number of columns, or smartcore's
    /// failure.
    pub fn fit_extra_trees(&self, data: &TrainingSet) -> Result<ForestRegressorModel, TrainError> {
        self.fit_extra_pair(data).map(|(model, _, _)| model)
    }

    /// Fits extra trees and compares every converted tree's prediction on every row of
    /// `probe` with the same tree walked in smartcore's own node list, and the forest's
    /// output with smartcore's `ExtraTreesRegressor::predict`.
    ///
    /// # Errors
    /// As [`ValidForestRegressorParams::fit_extra_trees`].
    pub fn extra_trees_parity(
        &self,
        data: &TrainingSet,
        probe: &FeatureMatrix,
    ) -> Result<Parity, TrainError> {
        let (model, sc, nodes) = self.fit_extra_pair(data)?;
        let mut parity = Parity {
            trees: model.trees.len(),
            ..Parity::default()
        };
        for (ours, theirs) in model.trees.iter().zip(&nodes) {
            for row in probe.rows() {
                parity.compared += 1;
                if ours.leaf(row).map(|(_, v)| v) != theirs.leaf_output(row) {
                    parity.mismatches += 1;
                }
            }
        }
        let theirs = sc
            .predict(&dense_for_fit(probe, EXTRA_TREES)?)
            .map_err(fit_failed(EXTRA_TREES))?;
        if let Ok(Predictions::Values(ours)) = model.predict(probe) {
            for (a, b) in ours.iter().zip(&theirs) {
                parity.max_abs_diff = parity.max_abs_diff.max((a - b).abs());
            }
        } else {
            parity.mismatches += probe.n_rows();
        }
        Ok(parity)
    }
}

type ScExtra = ExtraTreesRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

impl ForestRegressorModel {
    /// A forest of `kind` (a random forest or extra trees regressor) from its parts.
    pub(super) fn from_parts(kind: ModelKind, n_features: usize, trees: Vec<FlatTree>) -> Self {
        Self {
            kind,
            n_features,
            trees,
        }
    }

    pub(super) fn trees(&self) -> &[FlatTree] {
        &self.trees
    }
}

impl Model for ForestRegressorModel {
    fn kind(&self) -> ModelKind {
        self.kind
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        None
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let sums = sum_trees(&self.trees, x.n_rows(), x.n_rows(), |tree, sums| {
            for (row, s) in x.rows().zip(sums.iter_mut()) {
                let (_, v) = tree.leaf(row).ok_or_else(|| {
                    PredictError::Library("row narrower than the tree".to_owned())
                })?;
                *s += v;
            }
            Ok(())
        })?;
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
