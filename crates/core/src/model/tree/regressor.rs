//! `type: decision_tree_regressor`: one CART regression tree on every training row,
//! grown by Ferry's CART ([`crate::model::tree::cart`]): the tree smartcore's `DecisionTreeRegressor`
//! fits with the same seed, which `parity` checks.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::smartcore_io::{dense_for_fit, fit_failed, tree_failed};
use crate::model::tree::cart::{SortedColumns, TreeLimits, fit_regression_tree};
use crate::model::tree::check_tree_limits;
use crate::model::tree::flat::ValueTree;
use crate::model::{
    Model, ModelKind, Parity, PredictError, Predictions, Target, Task, TrainError, Trainer,
    TrainingSet, check_width,
};

const NAME: &str = "decision_tree_regressor";

/// Hyperparameters of `type: decision_tree_regressor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionTreeRegressorParams {
    /// Maximum depth, counting the root as 1; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u16>,
    /// Minimum rows in a leaf.
    pub min_samples_leaf: usize,
    /// Minimum rows to split a node (at least 2).
    pub min_samples_split: usize,
}

impl Default for DecisionTreeRegressorParams {
    fn default() -> Self {
        Self {
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
        }
    }
}

/// Validated [`DecisionTreeRegressorParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidDecisionTreeRegressorParams(DecisionTreeRegressorParams);

impl DecisionTreeRegressorParams {
    /// Checks `max_depth >= 1`, `min_samples_leaf >= 1`, `min_samples_split >= 2`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidDecisionTreeRegressorParams, ConfigErrors> {
        let mut checks = ParamChecks::new();
        check_tree_limits(
            &mut checks,
            self.max_depth,
            self.min_samples_leaf,
            self.min_samples_split,
        );
        checks.finish(ValidDecisionTreeRegressorParams(self.clone()))
    }
}

/// A fitted regression tree in Ferry's flat layout.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeRegressorModel {
    n_features: usize,
    tree: ValueTree,
}

impl DecisionTreeRegressorModel {
    pub(super) fn from_parts(n_features: usize, tree: ValueTree) -> Self {
        Self { n_features, tree }
    }

    pub(super) fn tree(&self) -> &ValueTree {
        &self.tree
    }

    /// The tree as explanations walk it, when it keeps its leaf counts.
    pub(crate) fn ensemble(&self) -> Option<crate::model::explain::Ensemble<'_, ValueTree>> {
        self.tree
            .has_covers()
            .then(|| crate::model::explain::Ensemble {
                trees: std::slice::from_ref(&self.tree),
                scale: 1.0,
                n_outputs: 1,
                base: vec![0.0],
                space: crate::model::ExplanationSpace::Value,
            })
    }
}

impl ValidDecisionTreeRegressorParams {
    fn targets<'a>(&self, data: &'a TrainingSet) -> Result<&'a [f64], TrainError> {
        match &data.y {
            Target::Values(y) if !y.is_empty() && data.x.n_cols() > 0 => Ok(y),
            Target::Values(_) => Err(TrainError::NotEnoughData {
                algorithm: NAME,
                reason: "the training set has no rows or no input columns".to_owned(),
            }),
            Target::Classes(_) => Err(TrainError::WrongTask {
                algorithm: NAME,
                expected: Task::Regression,
            }),
        }
    }

    /// smartcore's tree for the same data, limits and seed: the reference.
    fn smartcore(
        &self,
        data: &TrainingSet,
    ) -> Result<DecisionTreeRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>, TrainError> {
        let y = self.targets(data)?;
        let p = &self.0;
        let params = DecisionTreeRegressorParameters {
            max_depth: p.max_depth,
            min_samples_leaf: p.min_samples_leaf,
            min_samples_split: p.min_samples_split,
            seed: Some(data.seed),
        };
        DecisionTreeRegressor::fit(&dense_for_fit(&data.x, NAME)?, &y.to_vec(), params)
            .map_err(fit_failed(NAME))
    }

    /// Fits the tree and checks that it predicts exactly smartcore's value on every row
    /// of `probe`.
    ///
    /// # Errors
    /// As [`Trainer::fit`], or a prediction failure on `probe`.
    pub fn parity(&self, data: &TrainingSet, probe: &FeatureMatrix) -> Result<Parity, TrainError> {
        let model = self.fit(data)?;
        let theirs = self
            .smartcore(data)?
            .predict(&dense_for_fit(probe, NAME)?)
            .map_err(fit_failed(NAME))?;
        let mut parity = Parity {
            trees: 1,
            ..Parity::default()
        };
        for (row, theirs) in probe.rows().zip(theirs) {
            parity.compared += 1;
            if model.tree.leaf(row).map(|(_, v)| v) != Some(theirs) {
                parity.mismatches += 1;
            }
        }
        Ok(parity)
    }
}

impl Trainer for ValidDecisionTreeRegressorParams {
    type Model = DecisionTreeRegressorModel;

    fn fit(&self, data: &TrainingSet) -> Result<DecisionTreeRegressorModel, TrainError> {
        let y = self.targets(data)?;
        let p = &self.0;
        let n = data.x.n_cols();
        let library = tree_failed(NAME);
        let sorted = SortedColumns::new(&data.x).map_err(&library)?;
        let limits = TreeLimits {
            max_depth: p.max_depth.unwrap_or(u16::MAX),
            min_samples_leaf: p.min_samples_leaf,
            min_samples_split: p.min_samples_split,
            mtry: n,
        };
        let counts = vec![1; y.len()];
        let tree = fit_regression_tree(&sorted, y, &counts, limits, data.seed).map_err(&library)?;
        let tree = ValueTree::count(tree, &data.x, None).map_err(library)?;
        Ok(DecisionTreeRegressorModel {
            n_features: n,
            tree,
        })
    }
}

impl Model for DecisionTreeRegressorModel {
    model_shape!(ModelKind::DecisionTreeRegressor, regressor);

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        check_width(x, self.n_features)?;
        x.rows()
            .map(|row| {
                self.tree
                    .leaf(row)
                    .map(|(_, v)| v)
                    .ok_or_else(|| PredictError::Library("row narrower than the tree".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Predictions::Values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wavy(n: usize) -> TrainingSet {
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let t = i as f64 * 0.1;
            values.extend([t, (i % 4) as f64, (t * 3.0).sin()]);
            y.push(t.sin() * 5.0 + (i % 4) as f64);
        }
        TrainingSet {
            x: FeatureMatrix::from_row_major(values, n, 3).unwrap(),
            y: Target::Values(y),
            seed: 11,
        }
    }

    #[test]
    fn is_smartcores_tree_on_every_row() {
        let data = wavy(400);
        for max_depth in [None, Some(3), Some(7)] {
            let params = DecisionTreeRegressorParams {
                max_depth,
                min_samples_leaf: 2,
                ..Default::default()
            }
            .validate()
            .unwrap();
            let parity = params.parity(&data, &data.x).unwrap();
            assert_eq!(
                (parity.compared, parity.mismatches),
                (400, 0),
                "{max_depth:?}"
            );
        }
    }

    #[test]
    fn a_depth_two_tree_has_one_split_and_two_values() {
        let data = wavy(200);
        let model = DecisionTreeRegressorParams {
            max_depth: Some(2),
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
        assert_eq!(model.tree().tree().n_leaves(), 2);
        let Predictions::Values(v) = model.predict(&data.x).unwrap() else {
            panic!()
        };
        let mut distinct: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 2);
    }

    #[test]
    fn a_classification_target_is_the_wrong_task() {
        let data = TrainingSet {
            y: Target::Classes(crate::model::EncodedLabels::encode(&[
                ClassLabel::Int(0),
                ClassLabel::Int(1),
            ])),
            x: FeatureMatrix::from_row_major(vec![1.0, 2.0], 2, 1).unwrap(),
            seed: 0,
        };
        let err = DecisionTreeRegressorParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap_err();
        assert!(matches!(err, TrainError::WrongTask { .. }), "{err:?}");
    }
}
