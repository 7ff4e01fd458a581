//! `type: decision_tree_classifier`: a CART tree fitted and evaluated by smartcore.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion as ScCriterion,
};

use super::smartcore_io::{dense_for_fit, dense_for_predict, fit_failed};
use super::{
    Model, ModelKind, PredictError, Predictions, Target, Task, TrainError, Trainer, TrainingSet,
    check_width,
};
use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

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
pub(super) fn check_tree_limits(
    errors: &mut ConfigErrors,
    max_depth: Option<u16>,
    min_samples_leaf: usize,
    min_samples_split: usize,
) {
    if max_depth == Some(0) {
        errors.push("max_depth", "expected at least 1, found 0");
    }
    if min_samples_leaf < 1 {
        errors.push(
            "min_samples_leaf",
            format!("expected at least 1, found {min_samples_leaf}"),
        );
    }
    if min_samples_split < 2 {
        errors.push(
            "min_samples_split",
            format!("expected at least 2, found {min_samples_split}"),
        );
    }
}

impl DecisionTreeClassifierParams {
    /// Checks `max_depth >= 1`, `min_samples_leaf >= 1`, `min_samples_split >= 2`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidDecisionTreeClassifierParams, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        check_tree_limits(
            &mut errors,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        errors.into_result(ValidDecisionTreeClassifierParams(self.clone()))
    }
}

/// A fitted classification tree. smartcore keeps no class counts in its leaves, so the
/// probability is 1 for the predicted class and 0 for the others.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionTreeClassifierModel {
    classes: Vec<ClassLabel>,
    n_features: usize,
    tree: ScTree,
}

impl Trainer for ValidDecisionTreeClassifierParams {
    type Model = DecisionTreeClassifierModel;

    fn fit(&self, data: &TrainingSet) -> Result<DecisionTreeClassifierModel, TrainError> {
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
        let tree = ScTree::fit(&x, &labels.codes().to_vec(), params).map_err(fit_failed(NAME))?;
        Ok(DecisionTreeClassifierModel {
            classes: labels.classes().to_vec(),
            n_features: data.x.n_cols(),
            tree,
        })
    }
}

/// One-hot probabilities and labels from per-row class codes.
pub(super) fn one_hot_predictions(codes: &[u32], n_classes: usize) -> Predictions {
    let mut probabilities = vec![0.0; codes.len() * n_classes];
    let mut labels = Vec::with_capacity(codes.len());
    for (r, &c) in codes.iter().enumerate() {
        let c = c as usize;
        if let Some(p) = probabilities.get_mut(r * n_classes + c) {
            *p = 1.0;
        }
        labels.push(c);
    }
    Predictions::Classes {
        labels,
        probabilities,
        n_classes,
    }
}

impl Model for DecisionTreeClassifierModel {
    fn kind(&self) -> ModelKind {
        ModelKind::DecisionTreeClassifier
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn classes(&self) -> Option<&[ClassLabel]> {
        Some(&self.classes)
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        if x.n_rows() == 0 {
            return Ok(Predictions::Classes {
                labels: vec![],
                probabilities: vec![],
                n_classes: self.classes.len(),
            });
        }
        let codes = self
            .tree
            .predict(&dense_for_predict(x)?)
            .map_err(|e| PredictError::Library(e.to_string()))?;
        Ok(one_hot_predictions(&codes, self.classes.len()))
    }
}
