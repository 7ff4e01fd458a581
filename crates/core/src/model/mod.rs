//! Models: the algorithms a pipeline can train ([`ModelSpec`], tagged by `type`), the
//! fitted models stored in artifacts ([`TrainedModel`], with the same tags) and the two
//! traits that connect them.
//!
//! The algorithms are listed once, in the table in `kinds.rs`; the enums and every
//! dispatch over them are generated from it (`table.rs`). Each family lives in its own
//! folder (`linear/`, `tree/`, `forest/`, `naive_bayes/`, `knn/`, `svm/`) with its params,
//! validated params and fitted types. Adding an algorithm is a file (or folder) with
//! those types, one row in the table and one example config under `configs/`.

/// The [`Model`] methods a model with `n_features` (and, for a classifier, `classes`)
/// fields writes the same way: `model_shape!(ModelKind::Svc, classifier)` inside its
/// `impl Model`.
macro_rules! model_shape {
    ($kind:expr, classifier) => {
        fn kind(&self) -> ModelKind {
            $kind
        }
        fn n_features(&self) -> usize {
            self.n_features
        }
        fn classes(&self) -> Option<&[ClassLabel]> {
            Some(&self.classes)
        }
    };
    ($kind:expr, regressor) => {
        fn kind(&self) -> ModelKind {
            $kind
        }
        fn n_features(&self) -> usize {
            self.n_features
        }
        fn classes(&self) -> Option<&[ClassLabel]> {
            None
        }
    };
}

#[macro_use]
mod table;

mod boost;
mod error;
mod explain;
mod forest;
mod kinds;
mod knn;
mod linear;
mod naive_bayes;
mod params;
mod smartcore_io;
mod svm;
mod target;
mod tree;
mod tree_table;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

pub use boost::import::{ImportError, ImportedModel, import_lightgbm, import_xgboost};
pub use boost::{
    BoostLoss, EarlyStopping, GradientBoostingModel, GradientBoostingParams, Objective, Source,
    StopRule, ValidGradientBoostingParams,
};
pub use error::{
    ModelFileError, PredictError, TableError, TrainError, TreeError, UnknownModelKind,
};
pub use explain::{ExplainError, Explanation, ExplanationSpace, MAX_EXPLAIN_DEPTH};
pub use forest::{
    ForestClassifierModel, ForestClassifierParams, ForestRegressorModel, ForestRegressorParams,
    ValidForestClassifierParams, ValidForestRegressorParams,
};
pub use kinds::{ModelKind, ModelSpec, TrainedModel, ValidModelSpec, fit_with_progress, parity};
pub use knn::{
    KnnClassifierModel, KnnMetric, KnnParams, KnnRegressorModel, KnnWeights, ValidKnnParams,
};
pub use linear::{
    ElasticNetModel, ElasticNetParams, LassoParams, LinearRegressionModel, LinearRegressionParams,
    LinearSolver, RidgeRegressionModel, RidgeRegressionParams, RidgeSolver, ValidElasticNetParams,
    ValidLinearRegressionParams, ValidRidgeRegressionParams,
};
pub use linear::{
    LogisticRegressionModel, LogisticRegressionParams, ValidLogisticRegressionParams,
};
pub use naive_bayes::{
    BernoulliNbModel, BernoulliNbParams, CategoricalNbModel, DiscreteNbParams, MultinomialNbModel,
    ValidBernoulliNbParams, ValidDiscreteNbParams,
};
pub use naive_bayes::{GaussianNbModel, GaussianNbParams, ValidGaussianNbParams};
pub use svm::{KernelKind, SvcModel, SvmParams, SvrModel, ValidSvmParams};
pub use target::{EncodedLabels, Target, TrainingSet};
pub use tree::{
    DecisionTreeClassifierModel, DecisionTreeClassifierParams, SplitCriterion,
    ValidDecisionTreeClassifierParams,
};
pub use tree::{
    DecisionTreeRegressorModel, DecisionTreeRegressorParams, ValidDecisionTreeRegressorParams,
};
pub use tree_table::{TableTree, TreeTable};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class label, with a probability per class when the model gives them.
    Classification,
    /// A number.
    Regression,
}

impl ModelKind {
    /// What the model takes besides finite numbers: gradient-boosted models route
    /// missing values and split on category codes themselves, so their features need no
    /// impute or one-hot step.
    #[must_use]
    pub fn inputs(self) -> crate::preprocess::ModelInputs {
        match self {
            ModelKind::GradientBoostingClassifier | ModelKind::GradientBoostingRegressor => {
                crate::preprocess::ModelInputs {
                    missing: true,
                    category_codes: true,
                }
            }
            ModelKind::LogisticRegression
            | ModelKind::LinearRegression
            | ModelKind::RidgeRegression
            | ModelKind::Lasso
            | ModelKind::ElasticNet
            | ModelKind::DecisionTreeClassifier
            | ModelKind::DecisionTreeRegressor
            | ModelKind::RandomForestClassifier
            | ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor
            | ModelKind::KnnClassifier
            | ModelKind::KnnRegressor
            | ModelKind::GaussianNb
            | ModelKind::MultinomialNb
            | ModelKind::BernoulliNb
            | ModelKind::CategoricalNb
            | ModelKind::Svc
            | ModelKind::Svr => crate::preprocess::ModelInputs::ENCODED,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = UnknownModelKind;
    fn from_str(s: &str) -> Result<Self, UnknownModelKind> {
        ModelKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownModelKind(s.to_owned()))
    }
}

/// Model outputs for a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Classifier outputs.
    Classes {
        /// Index (into the model's classes) of the predicted class of each row.
        labels: Vec<usize>,
        /// Row-major `n_rows x n_classes` class probabilities, for models that give
        /// them ([`ModelKind::gives_probabilities`]).
        probabilities: Option<Vec<f64>>,
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

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ModelSpecVisitor)
    }
}

/// Reads a `model` section: `type` first, then the params of that kind straight from
/// the YAML; or, with `type` later, the section whole first.
struct ModelSpecVisitor;

impl<'de> serde::de::Visitor<'de> for ModelSpecVisitor {
    type Value = ModelSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a model section: `type` and its hyperparameters")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ModelSpec, A::Error> {
        use serde::de::Error as _;
        use serde::de::value::MapAccessDeserializer;
        let Some(first) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("type"));
        };
        if first == "type" {
            let kind: ModelKind = map.next_value()?;
            return ModelSpec::deserialize_params(kind, MapAccessDeserializer::new(map));
        }
        // `type` comes later: read the section whole, then pick the params.
        let mut rest = serde_yaml::Mapping::new();
        rest.insert(first.into(), map.next_value::<serde_yaml::Value>()?);
        while let Some((key, value)) = map.next_entry::<String, serde_yaml::Value>()? {
            rest.insert(key.into(), value);
        }
        let kind = rest
            .remove("type")
            .ok_or_else(|| A::Error::missing_field("type"))?;
        let kind = ModelKind::deserialize(kind).map_err(A::Error::custom)?;
        ModelSpec::deserialize_params(kind, serde_yaml::Value::Mapping(rest))
            .map_err(A::Error::custom)
    }
}

/// The file name of a JSON-encoded model.
pub const MODEL_JSON: &str = "model.json";
/// The file name of a binary-encoded (tree) model.
pub const MODEL_BIN: &str = "model.bin";

/// Comparison of Ferry's tree layout with the smartcore trees it was converted from,
/// from [`parity`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Parity {
    /// Trees compared.
    pub trees: usize,
    /// (tree, row) predictions compared.
    pub compared: usize,
    /// Predictions where Ferry's tree and smartcore's differ.
    pub mismatches: usize,
    /// Largest difference between the model's output and the mean of its trees'
    /// outputs computed independently (forests; 0 for a single tree).
    pub max_abs_diff: f64,
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

/// Receives the progress of a long fit (a forest's trees): [`FitProgress::start`] once
/// with the number of steps, then [`FitProgress::step`] as each finishes, from any
/// thread.
pub trait FitProgress: Sync {
    /// The fit has `total` steps.
    fn start(&self, total: usize);
    /// One step finished.
    fn step(&self);
}

/// A [`FitProgress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl FitProgress for NoProgress {
    fn start(&self, _total: usize) {}
    fn step(&self) {}
}

/// Fits the model `spec` describes: the one dispatch point from config to algorithm.
///
/// # Errors
/// [`TrainError`] from the algorithm, or when the target does not suit its task.
pub fn fit(spec: &ValidModelSpec, data: &TrainingSet) -> Result<TrainedModel, TrainError> {
    fit_with_progress(spec, data, &NoProgress)
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
