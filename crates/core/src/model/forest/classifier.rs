//! `random_forest_classifier`: smartcore's trees on class-balanced bootstrap samples,
//! converted into Ferry's flat layout with their leaf class counts.

use super::*;

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
    packed: crate::model::tree::packed::LazyPacked,
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
pub(super) fn class_bootstrap(codes: &[u32], n_classes: usize, seed: u64) -> Vec<u32> {
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
            packed: Default::default(),
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
        let k = self.classes.len();
        let packed = self
            .packed
            .get_or_build(|| Packed::class_trees(&self.trees, k, self.n_features));
        predict_class_trees(packed, self.trees.len(), k, x)
    }
}

impl ForestClassifierModel {
    pub(crate) fn from_parts(
        classes: Vec<ClassLabel>,
        n_features: usize,
        trees: Vec<ClassTree>,
    ) -> Self {
        Self {
            classes,
            n_features,
            trees,
            packed: Default::default(),
        }
    }

    /// The forest as TreeSHAP sees it: the mean of its trees' class distributions.
    pub(crate) fn ensemble(&self) -> crate::model::explain::Ensemble<'_, ClassTree> {
        crate::model::explain::Ensemble {
            trees: &self.trees,
            scale: 1.0 / self.trees.len().max(1) as f64,
            n_outputs: self.classes.len(),
            base: vec![0.0; self.classes.len()],
            space: crate::model::ExplanationSpace::Probability,
        }
    }

    pub(crate) fn trees(&self) -> &[ClassTree] {
        &self.trees
    }

    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
}
