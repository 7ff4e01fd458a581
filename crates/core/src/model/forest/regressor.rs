//! `random_forest_regressor` (Ferry's CART on bootstrap samples, bit for bit smartcore's
//! trees) and `extra_trees_regressor` (smartcore's extremely randomised trees, converted).

use super::*;

/// The parts of smartcore's fitted `ExtraTreesRegressor` Ferry reads.
#[derive(Deserialize)]
struct ScExtraTrees {
    forest_regressor: Option<ScBaseForest>,
}

#[derive(Deserialize)]
struct ScBaseForest {
    trees: Option<Vec<ScNodes<f64>>>,
}

type ScRegTree = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

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
    trees: Vec<ValueTree>,
    packed: crate::model::tree::packed::LazyPacked,
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
    type Tree = ValueTree;
    type Model = ForestRegressorModel;

    fn n_trees(&self) -> usize {
        self.params.0.n_trees
    }

    /// Fits tree `i` with Ferry's CART on the bootstrap sample and seed smartcore's
    /// forest would use for it.
    fn tree(&self, i: usize) -> Result<ValueTree, TrainError> {
        let seed = tree_seed(self.seed, i);
        let counts = bootstrap_counts(self.y.len(), seed);
        let tree = fit_regression_tree(&self.sorted, self.y, &counts, self.limits, seed)
            .map_err(tree_failed(REGRESSOR))?;
        // The in-bag rows, each as often as drawn, cover the tree's nodes.
        ValueTree::count(tree, &self.data.x, Some(&counts)).map_err(tree_failed(REGRESSOR))
    }

    fn model(&self, trees: Vec<ValueTree>) -> ForestRegressorModel {
        ForestRegressorModel {
            kind: ModelKind::RandomForestRegressor,
            n_features: self.data.x.n_cols(),
            trees,
            packed: Default::default(),
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
            .map(|t| {
                FlatTree::from_smartcore(&t.nodes, n, |v| v)
                    .and_then(|(tree, _)| ValueTree::count(tree, &data.x, None))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        Ok((
            ForestRegressorModel {
                kind: ModelKind::ExtraTreesRegressor,
                n_features: n,
                trees,
                packed: Default::default(),
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
    pub(crate) fn from_parts(kind: ModelKind, n_features: usize, trees: Vec<ValueTree>) -> Self {
        Self {
            kind,
            n_features,
            trees,
            packed: Default::default(),
        }
    }

    pub(crate) fn trees(&self) -> &[ValueTree] {
        &self.trees
    }

    /// The trees as explanations walk them, when every tree keeps its leaf counts.
    pub(crate) fn ensemble(&self) -> Option<crate::model::explain::Ensemble<'_, ValueTree>> {
        self.trees
            .iter()
            .all(ValueTree::has_covers)
            .then(|| crate::model::explain::Ensemble {
                trees: &self.trees,
                scale: 1.0 / self.trees.len().max(1) as f64,
                n_outputs: 1,
                base: vec![0.0],
                space: crate::model::ExplanationSpace::Value,
            })
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
        let packed = self
            .packed
            .get_or_build(|| Packed::value_trees(&self.trees, self.n_features));
        let sums = packed.sum(x, &|_, _| None)?;
        let total = self.trees.len().max(1) as f64;
        Ok(Predictions::Values(
            sums.into_iter().map(|s| s / total).collect(),
        ))
    }
}
