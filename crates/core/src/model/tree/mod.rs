//! `type: decision_tree_classifier`: a CART tree fitted by smartcore, converted into
//! Ferry's flat layout ([`crate::model::tree::flat`]) with each leaf's class counts, and predicted
//! from that layout: the probability of a class is its share of the leaf's training rows,
//! as in scikit-learn.

pub(crate) mod cart;
pub(crate) mod codec;
pub(crate) mod flat;
pub(crate) mod packed;
mod regressor;

pub use regressor::{
    DecisionTreeRegressorModel, DecisionTreeRegressorParams, ValidDecisionTreeRegressorParams,
};

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion as ScCriterion,
};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed, mirror, tree_failed};
use crate::model::tree::flat::{ClassTree, FlatTree, ScNodes, argmax};
use crate::model::tree::packed::Packed;
use crate::model::{
    Model, ModelKind, Parity, PredictError, Predictions, Target, Task, TrainError, Trainer,
    TrainingSet, TreeError, check_width,
};

const NAME: &str = "decision_tree_classifier";

pub(super) type ScTree = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// How a classification tree measures the quality of a split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitCriterion {
    /// Gini impurity.
    #[default]
    Gini,
    /// Information gain (entropy).
    Entropy,
    /// Misclassification rate.
    ClassificationError,
}

impl SplitCriterion {
    pub(super) fn to_smartcore(self) -> ScCriterion {
        match self {
            SplitCriterion::Gini => ScCriterion::Gini,
            SplitCriterion::Entropy => ScCriterion::Entropy,
            SplitCriterion::ClassificationError => ScCriterion::ClassificationError,
        }
    }
}

/// Hyperparameters of `type: decision_tree_classifier`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionTreeClassifierParams {
    /// Split quality measure: `gini` (default), `entropy` or `classification_error`.
    pub criterion: SplitCriterion,
    /// Maximum depth; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u16>,
    /// Minimum rows in a leaf (at least 1).
    pub min_samples_leaf: usize,
    /// Minimum rows to split a node (at least 2).
    pub min_samples_split: usize,
}

impl Default for DecisionTreeClassifierParams {
    fn default() -> Self {
        Self {
            criterion: SplitCriterion::Gini,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
        }
    }
}

/// Validated [`DecisionTreeClassifierParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDecisionTreeClassifierParams(DecisionTreeClassifierParams);

/// Checks the size limits shared by trees and forests.
pub(crate) fn check_tree_limits(
    checks: &mut ParamChecks,
    max_depth: Option<u16>,
    min_samples_leaf: usize,
    min_samples_split: usize,
) {
    if let Some(depth) = max_depth {
        checks.count_at_least("max_depth", usize::from(depth), 1);
    }
    checks
        .count_at_least("min_samples_leaf", min_samples_leaf, 1)
        .count_at_least("min_samples_split", min_samples_split, 2);
}

impl DecisionTreeClassifierParams {
    /// Checks `max_depth >= 1`, `min_samples_leaf >= 1`, `min_samples_split >= 2`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidDecisionTreeClassifierParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        check_tree_limits(
            &mut checks,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        checks.finish(ValidDecisionTreeClassifierParams(self.clone()))
    }
}

/// A fitted classification tree in Ferry's flat layout, with the class counts of each
/// leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeClassifierModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    tree: ClassTree,
    packed: crate::model::tree::packed::LazyPacked,
}

impl DecisionTreeClassifierModel {
    pub(super) fn from_parts(classes: Vec<ClassLabel>, n_features: usize, tree: ClassTree) -> Self {
        Self {
            classes,
            n_features,
            tree,
            packed: Default::default(),
        }
    }

    /// The tree as TreeSHAP sees it.
    pub(crate) fn ensemble(&self) -> crate::model::explain::Ensemble<'_, ClassTree> {
        crate::model::explain::Ensemble {
            trees: std::slice::from_ref(&self.tree),
            scale: 1.0,
            n_outputs: self.classes.len(),
            base: vec![0.0; self.classes.len()],
            space: crate::model::ExplanationSpace::Probability,
        }
    }

    pub(super) fn tree(&self) -> &ClassTree {
        &self.tree
    }
}

impl ValidDecisionTreeClassifierParams {
    /// Fits smartcore's tree and converts it; returns both, so tests can compare them.
    fn fit_pair(
        &self,
        data: &TrainingSet,
    ) -> Result<(DecisionTreeClassifierModel, ScTree), TrainError> {
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Classification,
            });
        };
        let x = dense_for_fit(&data.x, NAME)?;
        let p = &self.0;
        let mut params = DecisionTreeClassifierParameters::default()
            .with_criterion(p.criterion.to_smartcore())
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_min_samples_split(p.min_samples_split);
        if let Some(d) = p.max_depth {
            params = params.with_max_depth(d);
        }
        params.seed = Some(data.seed);
        let codes = labels.codes();
        let sc = ScTree::fit(&x, &codes.to_vec(), params).map_err(fit_failed(NAME))?;
        let k = labels.classes().len();
        let weights = vec![1; codes.len()];
        let tree = convert_class_tree(
            &mirror::<ScNodes<usize>, _>(&sc, NAME)?.nodes,
            k,
            &data.x,
            codes,
            &weights,
            NAME,
        )?;
        Ok((
            DecisionTreeClassifierModel {
                classes: labels.classes().to_vec(),
                n_features: data.x.n_cols(),
                tree,
                packed: Default::default(),
            },
            sc,
        ))
    }

    /// Fits the tree and checks that Ferry's layout predicts exactly what smartcore's
    /// tree predicts on every row of `probe`.
    ///
    /// # Errors
    /// As [`Trainer::fit`], or a prediction failure on `probe`.
    pub fn parity(&self, data: &TrainingSet, probe: &FeatureMatrix) -> Result<Parity, TrainError> {
        let (model, sc) = self.fit_pair(data)?;
        let theirs = sc
            .predict(&dense_for_fit(probe, NAME)?)
            .map_err(fit_failed(NAME))?;
        let mut parity = Parity {
            trees: 1,
            ..Parity::default()
        };
        for (row, theirs) in probe.rows().zip(theirs) {
            let ours = model.tree.proba(row).map(argmax);
            parity.compared += 1;
            if ours != Some(theirs as usize) {
                parity.mismatches += 1;
            }
        }
        Ok(parity)
    }
}

/// Converts smartcore's classification nodes into a [`ClassTree`], counting each leaf's
/// classes over the rows the tree was fitted on (`weights`: 1 each, or the bootstrap
/// counts). The per-leaf totals must equal smartcore's own sample counts, which proves
/// the rows (and, for a forest, the bootstrap sample) are the ones smartcore fitted on.
pub(super) fn convert_class_tree(
    nodes: &[crate::model::tree::flat::ScNode<usize>],
    n_classes: usize,
    x: &FeatureMatrix,
    codes: &[u32],
    weights: &[u32],
    algorithm: &'static str,
) -> Result<ClassTree, TrainError> {
    let failed = tree_failed(algorithm);
    let (flat, leaves) = FlatTree::from_smartcore(nodes, x.n_cols(), |_| 0.0).map_err(failed)?;
    let tree = ClassTree::count(flat, n_classes, x, codes, weights).map_err(failed)?;
    let is_root_leaf = leaves.len() == 1;
    for (leaf, ((_, samples), counts)) in leaves
        .iter()
        .zip(tree.counts().chunks_exact(n_classes))
        .enumerate()
    {
        let ours: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        // smartcore records the root's row count, not its sample total.
        if !is_root_leaf && samples.is_some_and(|n| n as u64 != ours) {
            return Err(failed(TreeError::LeafSamples {
                leaf,
                theirs: *samples,
                ours,
            }));
        }
    }
    Ok(tree)
}

impl Trainer for ValidDecisionTreeClassifierParams {
    type Model = DecisionTreeClassifierModel;

    fn fit(&self, data: &TrainingSet) -> Result<DecisionTreeClassifierModel, TrainError> {
        self.fit_pair(data).map(|(model, _)| model)
    }
}

/// Probabilities and labels of `x` from class trees: the mean of the trees' leaf
/// distributions, and the most probable class (the first on ties).
pub(super) fn predict_class_trees(
    packed: &Packed,
    n_trees: usize,
    n_classes: usize,
    x: &FeatureMatrix,
) -> Result<Predictions, PredictError> {
    let mut probabilities = packed.sum(x, &|_, _| None)?;
    if n_trees > 1 {
        let scale = 1.0 / n_trees as f64;
        for p in &mut probabilities {
            *p *= scale;
        }
    }
    let labels = probabilities
        .chunks_exact(n_classes.max(1))
        .map(argmax)
        .collect();
    Ok(Predictions::Classes {
        labels,
        probabilities: Some(probabilities),
        n_classes,
    })
}

impl Model for DecisionTreeClassifierModel {
    model_shape!(ModelKind::DecisionTreeClassifier, classifier);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.classes.len();
        let packed = self.packed.get_or_build(|| {
            Packed::class_trees(std::slice::from_ref(&self.tree), k, self.n_features)
        });
        predict_class_trees(packed, 1, k, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedLabels;

    #[test]
    fn a_depth_limited_tree_gives_leaf_distributions_and_smartcores_labels() {
        // Two overlapping classes on one feature: a depth-1 tree cannot separate them.
        let xs: Vec<f64> = (0..40).map(f64::from).collect();
        let labels: Vec<ClassLabel> = (0..40)
            .map(|i| ClassLabel::Int(i64::from(i >= 15 && i % 5 != 0)))
            .collect();
        let data = TrainingSet {
            x: FeatureMatrix::from_row_major(xs, 40, 1).unwrap(),
            y: Target::Classes(EncodedLabels::encode(&labels)),
            seed: 1,
        };
        // smartcore counts the root as level 1: max_depth 2 allows exactly one split.
        let params = DecisionTreeClassifierParams {
            max_depth: Some(2),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let model = params.fit(&data).unwrap();
        let Predictions::Classes {
            probabilities,
            labels: predicted,
            ..
        } = model.predict(&data.x).unwrap()
        else {
            panic!("a classifier")
        };
        let probabilities = probabilities.unwrap();
        // Independent computation: the class shares of the training rows on each side
        // of the tree's one split.
        let Some(crate::model::tree::flat::PreorderNode::Split { threshold, .. }) =
            model.tree().tree().preorder().next()
        else {
            panic!("a depth-1 tree splits once")
        };
        let share = |side: &dyn Fn(f64) -> bool| {
            let rows: Vec<usize> = (0..40).filter(|&i| side(f64::from(i as u8))).collect();
            let ones = rows
                .iter()
                .filter(|&&i| labels[i] == ClassLabel::Int(1))
                .count();
            ones as f64 / rows.len() as f64
        };
        let left = share(&|x| x <= threshold);
        let right = share(&|x| x > threshold);
        assert_eq!(probabilities[1], left);
        assert_eq!(probabilities[2 * 39 + 1], right);
        assert!(
            probabilities.iter().any(|p| *p > 0.0 && *p < 1.0),
            "{probabilities:?}"
        );
        assert_eq!(predicted[39], 1);
        let parity = params.parity(&data, &data.x).unwrap();
        assert_eq!((parity.compared, parity.mismatches), (40, 0));
    }
}
