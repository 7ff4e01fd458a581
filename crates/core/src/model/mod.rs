//! Models: the algorithms a pipeline can train ([`ModelSpec`], tagged by `type`), the
//! fitted models stored in artifacts ([`TrainedModel`], with the same tags) and the two
//! traits that connect them.
//!
//! The serde tag is the registry of algorithms: adding one is a params type, a fitted
//! type, one variant in each enum and one arm in [`fit`]. The matches are exhaustive, so
//! the compiler lists every place a new algorithm must be handled.

mod error;
mod forest;
mod linear;
mod logistic;
mod smartcore_io;
mod target;
mod tree;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

pub use error::{PredictError, TrainError};
pub use forest::{
    ForestClassifierModel, ForestClassifierParams, ForestRegressorModel, ForestRegressorParams,
    ValidForestClassifierParams, ValidForestRegressorParams,
};
pub use linear::{
    LinearRegressionModel, LinearRegressionParams, LinearSolver, ValidLinearRegressionParams,
};
pub use logistic::{
    LogisticRegressionModel, LogisticRegressionParams, ValidLogisticRegressionParams,
};
pub use target::{EncodedLabels, Target, TrainingSet};
pub use tree::{
    DecisionTreeClassifierModel, DecisionTreeClassifierParams, SplitCriterion,
    ValidDecisionTreeClassifierParams,
};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class label, with a probability per class.
    Classification,
    /// A number.
    Regression,
}

/// The algorithms, by their `type` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Multinomial (or binary) logistic regression, L2-regularised.
    LogisticRegression,
    /// Ordinary least squares.
    LinearRegression,
    /// A CART classification tree.
    DecisionTreeClassifier,
    /// A bagged forest of CART classification trees with per-split feature sampling.
    RandomForestClassifier,
    /// A bagged forest of CART regression trees with per-split feature sampling.
    RandomForestRegressor,
}

impl ModelKind {
    /// Every algorithm, in documentation order.
    pub const ALL: &'static [ModelKind] = &[
        ModelKind::LogisticRegression,
        ModelKind::LinearRegression,
        ModelKind::DecisionTreeClassifier,
        ModelKind::RandomForestClassifier,
        ModelKind::RandomForestRegressor,
    ];

    /// The `type` tag.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::LinearRegression => "linear_regression",
            ModelKind::DecisionTreeClassifier => "decision_tree_classifier",
            ModelKind::RandomForestClassifier => "random_forest_classifier",
            ModelKind::RandomForestRegressor => "random_forest_regressor",
        }
    }

    /// Classification or regression.
    #[must_use]
    pub fn task(self) -> Task {
        match self {
            ModelKind::LogisticRegression
            | ModelKind::DecisionTreeClassifier
            | ModelKind::RandomForestClassifier => Task::Classification,
            ModelKind::LinearRegression | ModelKind::RandomForestRegressor => Task::Regression,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown model type '{s}'"))
    }
}

/// Model outputs for a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Classifier outputs.
    Classes {
        /// Index (into the model's classes) of the predicted class of each row.
        labels: Vec<usize>,
        /// Row-major `n_rows x n_classes` class probabilities.
        probabilities: Vec<f64>,
        /// Number of classes.
        n_classes: usize,
    },
    /// Regressor outputs, one per row.
    Values(Vec<f64>),
}

impl Predictions {
    /// Number of rows predicted.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Predictions::Classes { labels, .. } => labels.len(),
            Predictions::Values(v) => v.len(),
        }
    }

    /// True when no row was predicted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fitted model.
///
/// Object-safe and non-generic on purpose: serve holds models of every kind behind one
/// type and shares them across worker threads, so the trait fixes `f64` inputs (our
/// [`FeatureMatrix`]) and requires `Send + Sync`.
pub trait Model: Send + Sync + fmt::Debug {
    /// The algorithm.
    fn kind(&self) -> ModelKind;
    /// Number of input columns the model expects.
    fn n_features(&self) -> usize;
    /// The class labels, in output order, for classifiers; `None` for regressors.
    fn classes(&self) -> Option<&[ClassLabel]>;
    /// Predicts every row of `x`.
    ///
    /// # Errors
    /// [`PredictError`] when `x` has the wrong width or the underlying library fails.
    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError>;
}

/// Fits a model. Implemented on the *validated* params of each algorithm, so an unchecked
/// configuration cannot be fitted (linfa's `ParamGuard` discipline).
pub trait Trainer {
    /// The fitted model.
    type Model: Model;
    /// Fits on `data`.
    ///
    /// # Errors
    /// [`TrainError`] when the data does not suit the algorithm or the library fails.
    fn fit(&self, data: &TrainingSet) -> Result<Self::Model, TrainError>;
}

/// The `model` section of a pipeline, chosen by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelSpec {
    /// `type: logistic_regression`.
    LogisticRegression(LogisticRegressionParams),
    /// `type: linear_regression`.
    LinearRegression(LinearRegressionParams),
    /// `type: decision_tree_classifier`.
    DecisionTreeClassifier(DecisionTreeClassifierParams),
    /// `type: random_forest_classifier`.
    RandomForestClassifier(ForestClassifierParams),
    /// `type: random_forest_regressor`.
    RandomForestRegressor(ForestRegressorParams),
}

/// A [`ModelSpec`] whose hyperparameters passed validation.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidModelSpec {
    /// See [`ModelSpec::LogisticRegression`].
    LogisticRegression(ValidLogisticRegressionParams),
    /// See [`ModelSpec::LinearRegression`].
    LinearRegression(ValidLinearRegressionParams),
    /// See [`ModelSpec::DecisionTreeClassifier`].
    DecisionTreeClassifier(ValidDecisionTreeClassifierParams),
    /// See [`ModelSpec::RandomForestClassifier`].
    RandomForestClassifier(ValidForestClassifierParams),
    /// See [`ModelSpec::RandomForestRegressor`].
    RandomForestRegressor(ValidForestRegressorParams),
}

impl ModelSpec {
    /// The algorithm.
    #[must_use]
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::LogisticRegression(_) => ModelKind::LogisticRegression,
            ModelSpec::LinearRegression(_) => ModelKind::LinearRegression,
            ModelSpec::DecisionTreeClassifier(_) => ModelKind::DecisionTreeClassifier,
            ModelSpec::RandomForestClassifier(_) => ModelKind::RandomForestClassifier,
            ModelSpec::RandomForestRegressor(_) => ModelKind::RandomForestRegressor,
        }
    }

    /// Validates the hyperparameters; paths are relative to the `model` section.
    ///
    /// # Errors
    /// Every out-of-range hyperparameter.
    pub fn validate(&self) -> Result<ValidModelSpec, ConfigErrors> {
        Ok(match self {
            ModelSpec::LogisticRegression(p) => ValidModelSpec::LogisticRegression(p.validate()?),
            ModelSpec::LinearRegression(p) => ValidModelSpec::LinearRegression(p.validate()?),
            ModelSpec::DecisionTreeClassifier(p) => {
                ValidModelSpec::DecisionTreeClassifier(p.validate()?)
            }
            ModelSpec::RandomForestClassifier(p) => {
                ValidModelSpec::RandomForestClassifier(p.validate()?)
            }
            ModelSpec::RandomForestRegressor(p) => {
                ValidModelSpec::RandomForestRegressor(p.validate()?)
            }
        })
    }
}

impl ValidModelSpec {
    /// The algorithm.
    #[must_use]
    pub fn kind(&self) -> ModelKind {
        match self {
            ValidModelSpec::LogisticRegression(_) => ModelKind::LogisticRegression,
            ValidModelSpec::LinearRegression(_) => ModelKind::LinearRegression,
            ValidModelSpec::DecisionTreeClassifier(_) => ModelKind::DecisionTreeClassifier,
            ValidModelSpec::RandomForestClassifier(_) => ModelKind::RandomForestClassifier,
            ValidModelSpec::RandomForestRegressor(_) => ModelKind::RandomForestRegressor,
        }
    }
}

/// A fitted model of any kind, as stored in `model.json` (tagged by `type`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrainedModel {
    /// See [`ModelKind::LogisticRegression`].
    LogisticRegression(LogisticRegressionModel),
    /// See [`ModelKind::LinearRegression`].
    LinearRegression(LinearRegressionModel),
    /// See [`ModelKind::DecisionTreeClassifier`].
    DecisionTreeClassifier(DecisionTreeClassifierModel),
    /// See [`ModelKind::RandomForestClassifier`].
    RandomForestClassifier(ForestClassifierModel),
    /// See [`ModelKind::RandomForestRegressor`].
    RandomForestRegressor(ForestRegressorModel),
}

impl TrainedModel {
    fn inner(&self) -> &dyn Model {
        match self {
            TrainedModel::LogisticRegression(m) => m,
            TrainedModel::LinearRegression(m) => m,
            TrainedModel::DecisionTreeClassifier(m) => m,
            TrainedModel::RandomForestClassifier(m) => m,
            TrainedModel::RandomForestRegressor(m) => m,
        }
    }
}

impl Model for TrainedModel {
    fn kind(&self) -> ModelKind {
        self.inner().kind()
    }
    fn n_features(&self) -> usize {
        self.inner().n_features()
    }
    fn classes(&self) -> Option<&[ClassLabel]> {
        self.inner().classes()
    }
    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        self.inner().predict(x)
    }
}

/// Fits the model `spec` describes: the one dispatch point from config to algorithm.
///
/// # Errors
/// [`TrainError`] from the algorithm, or when the target does not suit its task.
pub fn fit(spec: &ValidModelSpec, data: &TrainingSet) -> Result<TrainedModel, TrainError> {
    Ok(match spec {
        ValidModelSpec::LogisticRegression(p) => TrainedModel::LogisticRegression(p.fit(data)?),
        ValidModelSpec::LinearRegression(p) => TrainedModel::LinearRegression(p.fit(data)?),
        ValidModelSpec::DecisionTreeClassifier(p) => {
            TrainedModel::DecisionTreeClassifier(p.fit(data)?)
        }
        ValidModelSpec::RandomForestClassifier(p) => {
            TrainedModel::RandomForestClassifier(p.fit(data)?)
        }
        ValidModelSpec::RandomForestRegressor(p) => {
            TrainedModel::RandomForestRegressor(p.fit(data)?)
        }
    })
}

/// Checks the width of `x` against the model's.
fn check_width(x: &FeatureMatrix, expected: usize) -> Result<(), PredictError> {
    if x.n_cols() == expected {
        Ok(())
    } else {
        Err(PredictError::WidthMismatch {
            expected,
            found: x.n_cols(),
        })
    }
}

#[cfg(test)]
mod tests;
