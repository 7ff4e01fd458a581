//! Models: the algorithms a pipeline can train ([`ModelSpec`], tagged by `type`), the
//! fitted models stored in artifacts ([`TrainedModel`], with the same tags) and the two
//! traits that connect them.
//!
//! The serde tag is the registry of algorithms: adding one is a params type, a fitted
//! type, one variant in each enum and one arm in [`fit`]. The matches are exhaustive, so
//! the compiler lists every place a new algorithm must be handled.

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

mod cart;
mod codec;
mod discrete_nb;
mod error;
mod flat;
mod forest;
mod gram;
mod knn;
mod linear;
mod logistic;
mod naive_bayes;
mod smartcore_io;
mod svm;
mod target;
mod tree;
mod tree_regressor;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;

pub use discrete_nb::{
    BernoulliNbModel, BernoulliNbParams, CategoricalNbModel, DiscreteNbParams, MultinomialNbModel,
    ValidBernoulliNbParams, ValidDiscreteNbParams,
};
pub use error::{PredictError, TrainError};
pub use forest::{
    ForestClassifierModel, ForestClassifierParams, ForestRegressorModel, ForestRegressorParams,
    ValidForestClassifierParams, ValidForestRegressorParams,
};
pub use knn::{
    KnnClassifierModel, KnnMetric, KnnParams, KnnRegressorModel, KnnWeights, ValidKnnParams,
};
pub use linear::{
    ElasticNetModel, ElasticNetParams, LassoParams, LinearRegressionModel, LinearRegressionParams,
    LinearSolver, RidgeRegressionModel, RidgeRegressionParams, RidgeSolver, ValidElasticNetParams,
    ValidLinearRegressionParams, ValidRidgeRegressionParams,
};
pub use logistic::{
    LogisticRegressionModel, LogisticRegressionParams, ValidLogisticRegressionParams,
};
pub use naive_bayes::{GaussianNbModel, GaussianNbParams, ValidGaussianNbParams};
pub use svm::{KernelKind, SvcModel, SvmParams, SvrModel, ValidSvmParams};
pub use target::{EncodedLabels, Target, TrainingSet};
pub use tree::{
    DecisionTreeClassifierModel, DecisionTreeClassifierParams, SplitCriterion,
    ValidDecisionTreeClassifierParams,
};
pub use tree_regressor::{
    DecisionTreeRegressorModel, DecisionTreeRegressorParams, ValidDecisionTreeRegressorParams,
};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class label, with a probability per class when the model gives them.
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
    /// Least squares with an L2 penalty on the coefficients.
    RidgeRegression,
    /// Least squares with an L1 penalty (sparse coefficients).
    Lasso,
    /// Least squares with a mix of L1 and L2 penalties.
    ElasticNet,
    /// A CART classification tree.
    DecisionTreeClassifier,
    /// A CART regression tree.
    DecisionTreeRegressor,
    /// A bagged forest of CART classification trees with per-split feature sampling.
    RandomForestClassifier,
    /// A bagged forest of CART regression trees with per-split feature sampling.
    RandomForestRegressor,
    /// Extremely randomised trees: every tree on all rows, each split at a random
    /// threshold of each drawn column, the best of those kept.
    ExtraTreesRegressor,
    /// The majority (or distance-weighted) class of the k nearest training rows.
    KnnClassifier,
    /// The mean (or distance-weighted mean) target of the k nearest training rows.
    KnnRegressor,
    /// Gaussian naive Bayes: a normal distribution per class and column.
    GaussianNb,
    /// Multinomial naive Bayes, for counts.
    MultinomialNb,
    /// Bernoulli naive Bayes, for binary (or binarised) columns.
    BernoulliNb,
    /// Categorical naive Bayes, for columns of category codes 0, 1, 2, ...
    CategoricalNb,
    /// Support vector classifier (one-vs-one for more than two classes); no
    /// probabilities.
    Svc,
    /// Epsilon-support vector regression.
    Svr,
}

impl ModelKind {
    /// Every algorithm, in documentation order.
    pub const ALL: &'static [ModelKind] = &[
        ModelKind::LogisticRegression,
        ModelKind::LinearRegression,
        ModelKind::RidgeRegression,
        ModelKind::Lasso,
        ModelKind::ElasticNet,
        ModelKind::DecisionTreeClassifier,
        ModelKind::DecisionTreeRegressor,
        ModelKind::RandomForestClassifier,
        ModelKind::RandomForestRegressor,
        ModelKind::ExtraTreesRegressor,
        ModelKind::KnnClassifier,
        ModelKind::KnnRegressor,
        ModelKind::GaussianNb,
        ModelKind::MultinomialNb,
        ModelKind::BernoulliNb,
        ModelKind::CategoricalNb,
        ModelKind::Svc,
        ModelKind::Svr,
    ];

    /// The `type` tag.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::LinearRegression => "linear_regression",
            ModelKind::RidgeRegression => "ridge_regression",
            ModelKind::Lasso => "lasso",
            ModelKind::ElasticNet => "elastic_net",
            ModelKind::DecisionTreeClassifier => "decision_tree_classifier",
            ModelKind::DecisionTreeRegressor => "decision_tree_regressor",
            ModelKind::RandomForestClassifier => "random_forest_classifier",
            ModelKind::RandomForestRegressor => "random_forest_regressor",
            ModelKind::ExtraTreesRegressor => "extra_trees_regressor",
            ModelKind::KnnClassifier => "knn_classifier",
            ModelKind::KnnRegressor => "knn_regressor",
            ModelKind::GaussianNb => "gaussian_nb",
            ModelKind::MultinomialNb => "multinomial_nb",
            ModelKind::BernoulliNb => "bernoulli_nb",
            ModelKind::CategoricalNb => "categorical_nb",
            ModelKind::Svc => "svc",
            ModelKind::Svr => "svr",
        }
    }

    /// Whether the model gives class probabilities (classifiers that do; never
    /// regressors). Metrics and responses that need them are refused for the others.
    #[must_use]
    pub fn gives_probabilities(self) -> bool {
        match self {
            ModelKind::LogisticRegression
            | ModelKind::DecisionTreeClassifier
            | ModelKind::RandomForestClassifier
            | ModelKind::KnnClassifier
            | ModelKind::GaussianNb
            | ModelKind::MultinomialNb
            | ModelKind::BernoulliNb
            | ModelKind::CategoricalNb => true,
            ModelKind::Svc | ModelKind::Svr => false,
            ModelKind::LinearRegression
            | ModelKind::RidgeRegression
            | ModelKind::Lasso
            | ModelKind::ElasticNet
            | ModelKind::DecisionTreeRegressor
            | ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor
            | ModelKind::KnnRegressor => false,
        }
    }

    /// The artifact file the fitted model is stored in: `model.json` for parametric
    /// models and neighbour sets, `model.bin` (the binary tree encoding) for trees and
    /// forests.
    #[must_use]
    pub fn model_file(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression
            | ModelKind::LinearRegression
            | ModelKind::RidgeRegression
            | ModelKind::Lasso
            | ModelKind::ElasticNet
            | ModelKind::KnnClassifier
            | ModelKind::KnnRegressor
            | ModelKind::GaussianNb
            | ModelKind::MultinomialNb
            | ModelKind::BernoulliNb
            | ModelKind::CategoricalNb
            | ModelKind::Svc
            | ModelKind::Svr => MODEL_JSON,
            ModelKind::DecisionTreeClassifier
            | ModelKind::DecisionTreeRegressor
            | ModelKind::RandomForestClassifier
            | ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor => MODEL_BIN,
        }
    }

    /// Every hyperparameter of the algorithm and its default, as `train models` lists
    /// them (a test checks that this table and the params structs agree).
    #[must_use]
    pub fn hyperparameters(self) -> &'static [(&'static str, &'static str)] {
        const TREE: [(&str, &str); 3] = [
            ("max_depth", "unlimited (the root is depth 1)"),
            ("min_samples_leaf", "1"),
            ("min_samples_split", "2"),
        ];
        match self {
            ModelKind::LogisticRegression => &[("alpha", "1.0")],
            ModelKind::LinearRegression => &[("solver", "svd (or qr)")],
            ModelKind::RidgeRegression => &[("alpha", "1.0"), ("solver", "cholesky (or svd)")],
            ModelKind::Lasso => &[("alpha", "1.0"), ("max_iter", "1000"), ("tol", "0.0001")],
            ModelKind::ElasticNet => &[
                ("alpha", "1.0"),
                ("l1_ratio", "0.5"),
                ("max_iter", "1000"),
                ("tol", "0.0001"),
            ],
            ModelKind::DecisionTreeClassifier => &[
                ("criterion", "gini (or entropy, classification_error)"),
                TREE[0],
                TREE[1],
                TREE[2],
            ],
            ModelKind::DecisionTreeRegressor => &TREE,
            ModelKind::RandomForestClassifier => &[
                ("n_trees", "100"),
                ("criterion", "gini (or entropy, classification_error)"),
                TREE[0],
                TREE[1],
                TREE[2],
                ("max_features", "floor(sqrt(columns))"),
                ("seed", "the split seed"),
            ],
            ModelKind::RandomForestRegressor | ModelKind::ExtraTreesRegressor => &[
                ("n_trees", "100"),
                TREE[0],
                TREE[1],
                TREE[2],
                ("max_features", "all columns"),
                ("seed", "the split seed"),
            ],
            ModelKind::KnnClassifier | ModelKind::KnnRegressor => &[
                ("k", "5"),
                ("weights", "uniform (or distance)"),
                ("metric", "euclidean (or manhattan)"),
            ],
            ModelKind::GaussianNb => &[("var_smoothing", "1e-9")],
            ModelKind::MultinomialNb | ModelKind::CategoricalNb => &[("alpha", "1.0")],
            ModelKind::Svc => &[
                ("c", "1.0"),
                ("kernel", "rbf (or linear, polynomial, sigmoid)"),
                ("gamma", "1 / (columns * input variance)"),
                ("degree", "3.0"),
                ("coef0", "0.0"),
                ("tol", "0.001"),
                ("epochs", "2"),
            ],
            ModelKind::Svr => &[
                ("c", "1.0"),
                ("kernel", "rbf (or linear, polynomial, sigmoid)"),
                ("gamma", "1 / (columns * input variance)"),
                ("degree", "3.0"),
                ("coef0", "0.0"),
                ("tol", "0.001"),
                ("epsilon", "0.1"),
            ],
            ModelKind::BernoulliNb => &[
                ("alpha", "1.0"),
                ("binarize", "0.0 (null: the inputs are 0 or 1)"),
            ],
        }
    }

    /// Classification or regression.
    #[must_use]
    pub fn task(self) -> Task {
        match self {
            ModelKind::LogisticRegression
            | ModelKind::DecisionTreeClassifier
            | ModelKind::RandomForestClassifier
            | ModelKind::KnnClassifier
            | ModelKind::GaussianNb
            | ModelKind::MultinomialNb
            | ModelKind::BernoulliNb
            | ModelKind::CategoricalNb
            | ModelKind::Svc => Task::Classification,
            ModelKind::LinearRegression
            | ModelKind::RidgeRegression
            | ModelKind::Lasso
            | ModelKind::ElasticNet
            | ModelKind::DecisionTreeRegressor
            | ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor
            | ModelKind::KnnRegressor
            | ModelKind::Svr => Task::Regression,
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

/// The `model` section of a pipeline, chosen by `type`.
///
/// Read with `type` first (as every example writes it), the hyperparameters are read
/// straight from the YAML, so an unknown or mistyped one is reported at its own path
/// (`model.alpah`) and line. With `type` later in the section the section is read whole
/// first and errors carry the path only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelSpec {
    /// `type: logistic_regression`.
    LogisticRegression(LogisticRegressionParams),
    /// `type: linear_regression`.
    LinearRegression(LinearRegressionParams),
    /// `type: ridge_regression`.
    RidgeRegression(RidgeRegressionParams),
    /// `type: lasso`.
    Lasso(LassoParams),
    /// `type: elastic_net`.
    ElasticNet(ElasticNetParams),
    /// `type: decision_tree_classifier`.
    DecisionTreeClassifier(DecisionTreeClassifierParams),
    /// `type: decision_tree_regressor`.
    DecisionTreeRegressor(DecisionTreeRegressorParams),
    /// `type: random_forest_classifier`.
    RandomForestClassifier(ForestClassifierParams),
    /// `type: random_forest_regressor`.
    RandomForestRegressor(ForestRegressorParams),
    /// `type: extra_trees_regressor`.
    ExtraTreesRegressor(ForestRegressorParams),
    /// `type: knn_classifier`.
    KnnClassifier(KnnParams),
    /// `type: knn_regressor`.
    KnnRegressor(KnnParams),
    /// `type: gaussian_nb`.
    GaussianNb(GaussianNbParams),
    /// `type: multinomial_nb`.
    MultinomialNb(DiscreteNbParams),
    /// `type: bernoulli_nb`.
    BernoulliNb(BernoulliNbParams),
    /// `type: categorical_nb`.
    CategoricalNb(DiscreteNbParams),
    /// `type: svc`.
    Svc(SvmParams),
    /// `type: svr`.
    Svr(SvmParams),
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ModelSpecVisitor)
    }
}

struct ModelSpecVisitor;

impl ModelSpecVisitor {
    /// The params of `kind` from the rest of the section.
    fn params<'de, D: serde::Deserializer<'de>>(
        kind: ModelKind,
        rest: D,
    ) -> Result<ModelSpec, D::Error> {
        Ok(match kind {
            ModelKind::LogisticRegression => {
                ModelSpec::LogisticRegression(LogisticRegressionParams::deserialize(rest)?)
            }
            ModelKind::LinearRegression => {
                ModelSpec::LinearRegression(LinearRegressionParams::deserialize(rest)?)
            }
            ModelKind::RidgeRegression => {
                ModelSpec::RidgeRegression(RidgeRegressionParams::deserialize(rest)?)
            }
            ModelKind::Lasso => ModelSpec::Lasso(LassoParams::deserialize(rest)?),
            ModelKind::ElasticNet => ModelSpec::ElasticNet(ElasticNetParams::deserialize(rest)?),
            ModelKind::DecisionTreeClassifier => {
                ModelSpec::DecisionTreeClassifier(DecisionTreeClassifierParams::deserialize(rest)?)
            }
            ModelKind::DecisionTreeRegressor => {
                ModelSpec::DecisionTreeRegressor(DecisionTreeRegressorParams::deserialize(rest)?)
            }
            ModelKind::RandomForestClassifier => {
                ModelSpec::RandomForestClassifier(ForestClassifierParams::deserialize(rest)?)
            }
            ModelKind::RandomForestRegressor => {
                ModelSpec::RandomForestRegressor(ForestRegressorParams::deserialize(rest)?)
            }
            ModelKind::ExtraTreesRegressor => {
                ModelSpec::ExtraTreesRegressor(ForestRegressorParams::deserialize(rest)?)
            }
            ModelKind::KnnClassifier => ModelSpec::KnnClassifier(KnnParams::deserialize(rest)?),
            ModelKind::KnnRegressor => ModelSpec::KnnRegressor(KnnParams::deserialize(rest)?),
            ModelKind::GaussianNb => ModelSpec::GaussianNb(GaussianNbParams::deserialize(rest)?),
            ModelKind::MultinomialNb => {
                ModelSpec::MultinomialNb(DiscreteNbParams::deserialize(rest)?)
            }
            ModelKind::BernoulliNb => ModelSpec::BernoulliNb(BernoulliNbParams::deserialize(rest)?),
            ModelKind::CategoricalNb => {
                ModelSpec::CategoricalNb(DiscreteNbParams::deserialize(rest)?)
            }
            ModelKind::Svc => ModelSpec::Svc(SvmParams::deserialize(rest)?),
            ModelKind::Svr => ModelSpec::Svr(SvmParams::deserialize(rest)?),
        })
    }
}

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
            return Self::params(kind, MapAccessDeserializer::new(map));
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
        Self::params(kind, serde_yaml::Value::Mapping(rest)).map_err(A::Error::custom)
    }
}

/// A [`ModelSpec`] whose hyperparameters passed validation.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidModelSpec {
    /// See [`ModelSpec::LogisticRegression`].
    LogisticRegression(ValidLogisticRegressionParams),
    /// See [`ModelSpec::LinearRegression`].
    LinearRegression(ValidLinearRegressionParams),
    /// See [`ModelSpec::RidgeRegression`].
    RidgeRegression(ValidRidgeRegressionParams),
    /// See [`ModelSpec::Lasso`].
    Lasso(ValidElasticNetParams),
    /// See [`ModelSpec::ElasticNet`].
    ElasticNet(ValidElasticNetParams),
    /// See [`ModelSpec::DecisionTreeClassifier`].
    DecisionTreeClassifier(ValidDecisionTreeClassifierParams),
    /// See [`ModelSpec::DecisionTreeRegressor`].
    DecisionTreeRegressor(ValidDecisionTreeRegressorParams),
    /// See [`ModelSpec::RandomForestClassifier`].
    RandomForestClassifier(ValidForestClassifierParams),
    /// See [`ModelSpec::RandomForestRegressor`].
    RandomForestRegressor(ValidForestRegressorParams),
    /// See [`ModelSpec::ExtraTreesRegressor`].
    ExtraTreesRegressor(ValidForestRegressorParams),
    /// See [`ModelSpec::KnnClassifier`].
    KnnClassifier(ValidKnnParams),
    /// See [`ModelSpec::KnnRegressor`].
    KnnRegressor(ValidKnnParams),
    /// See [`ModelSpec::GaussianNb`].
    GaussianNb(ValidGaussianNbParams),
    /// See [`ModelSpec::MultinomialNb`].
    MultinomialNb(ValidDiscreteNbParams),
    /// See [`ModelSpec::BernoulliNb`].
    BernoulliNb(ValidBernoulliNbParams),
    /// See [`ModelSpec::CategoricalNb`].
    CategoricalNb(ValidDiscreteNbParams),
    /// See [`ModelSpec::Svc`].
    Svc(ValidSvmParams),
    /// See [`ModelSpec::Svr`].
    Svr(ValidSvmParams),
}

impl ModelSpec {
    /// The algorithm.
    #[must_use]
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::LogisticRegression(_) => ModelKind::LogisticRegression,
            ModelSpec::LinearRegression(_) => ModelKind::LinearRegression,
            ModelSpec::RidgeRegression(_) => ModelKind::RidgeRegression,
            ModelSpec::Lasso(_) => ModelKind::Lasso,
            ModelSpec::ElasticNet(_) => ModelKind::ElasticNet,
            ModelSpec::DecisionTreeClassifier(_) => ModelKind::DecisionTreeClassifier,
            ModelSpec::DecisionTreeRegressor(_) => ModelKind::DecisionTreeRegressor,
            ModelSpec::RandomForestClassifier(_) => ModelKind::RandomForestClassifier,
            ModelSpec::RandomForestRegressor(_) => ModelKind::RandomForestRegressor,
            ModelSpec::ExtraTreesRegressor(_) => ModelKind::ExtraTreesRegressor,
            ModelSpec::KnnClassifier(_) => ModelKind::KnnClassifier,
            ModelSpec::KnnRegressor(_) => ModelKind::KnnRegressor,
            ModelSpec::GaussianNb(_) => ModelKind::GaussianNb,
            ModelSpec::MultinomialNb(_) => ModelKind::MultinomialNb,
            ModelSpec::BernoulliNb(_) => ModelKind::BernoulliNb,
            ModelSpec::CategoricalNb(_) => ModelKind::CategoricalNb,
            ModelSpec::Svc(_) => ModelKind::Svc,
            ModelSpec::Svr(_) => ModelKind::Svr,
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
            ModelSpec::RidgeRegression(p) => ValidModelSpec::RidgeRegression(p.validate()?),
            ModelSpec::Lasso(p) => ValidModelSpec::Lasso(p.validate()?),
            ModelSpec::ElasticNet(p) => ValidModelSpec::ElasticNet(p.validate()?),
            ModelSpec::DecisionTreeClassifier(p) => {
                ValidModelSpec::DecisionTreeClassifier(p.validate()?)
            }
            ModelSpec::DecisionTreeRegressor(p) => {
                ValidModelSpec::DecisionTreeRegressor(p.validate()?)
            }
            ModelSpec::RandomForestClassifier(p) => {
                ValidModelSpec::RandomForestClassifier(p.validate()?)
            }
            ModelSpec::RandomForestRegressor(p) => {
                ValidModelSpec::RandomForestRegressor(p.validate()?)
            }
            ModelSpec::ExtraTreesRegressor(p) => ValidModelSpec::ExtraTreesRegressor(p.validate()?),
            ModelSpec::KnnClassifier(p) => ValidModelSpec::KnnClassifier(p.validate()?),
            ModelSpec::KnnRegressor(p) => ValidModelSpec::KnnRegressor(p.validate()?),
            ModelSpec::GaussianNb(p) => ValidModelSpec::GaussianNb(p.validate()?),
            ModelSpec::MultinomialNb(p) => ValidModelSpec::MultinomialNb(p.validate()?),
            ModelSpec::BernoulliNb(p) => ValidModelSpec::BernoulliNb(p.validate()?),
            ModelSpec::CategoricalNb(p) => ValidModelSpec::CategoricalNb(p.validate()?),
            ModelSpec::Svc(p) => ValidModelSpec::Svc(p.validate(false)?),
            ModelSpec::Svr(p) => ValidModelSpec::Svr(p.validate(true)?),
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
            ValidModelSpec::RidgeRegression(_) => ModelKind::RidgeRegression,
            ValidModelSpec::Lasso(_) => ModelKind::Lasso,
            ValidModelSpec::ElasticNet(_) => ModelKind::ElasticNet,
            ValidModelSpec::DecisionTreeClassifier(_) => ModelKind::DecisionTreeClassifier,
            ValidModelSpec::DecisionTreeRegressor(_) => ModelKind::DecisionTreeRegressor,
            ValidModelSpec::RandomForestClassifier(_) => ModelKind::RandomForestClassifier,
            ValidModelSpec::RandomForestRegressor(_) => ModelKind::RandomForestRegressor,
            ValidModelSpec::ExtraTreesRegressor(_) => ModelKind::ExtraTreesRegressor,
            ValidModelSpec::KnnClassifier(_) => ModelKind::KnnClassifier,
            ValidModelSpec::KnnRegressor(_) => ModelKind::KnnRegressor,
            ValidModelSpec::GaussianNb(_) => ModelKind::GaussianNb,
            ValidModelSpec::MultinomialNb(_) => ModelKind::MultinomialNb,
            ValidModelSpec::BernoulliNb(_) => ModelKind::BernoulliNb,
            ValidModelSpec::CategoricalNb(_) => ModelKind::CategoricalNb,
            ValidModelSpec::Svc(_) => ModelKind::Svc,
            ValidModelSpec::Svr(_) => ModelKind::Svr,
        }
    }
}

/// A fitted model of any kind. Parametric models are stored as JSON in `model.json`
/// (tagged by `type`), trees and forests in Ferry's binary tree encoding in `model.bin`
/// ([`TrainedModel::encode`], [`TrainedModel::decode`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TrainedModel {
    /// See [`ModelKind::LogisticRegression`].
    LogisticRegression(LogisticRegressionModel),
    /// See [`ModelKind::LinearRegression`].
    LinearRegression(LinearRegressionModel),
    /// See [`ModelKind::RidgeRegression`].
    RidgeRegression(RidgeRegressionModel),
    /// See [`ModelKind::Lasso`] and [`ModelKind::ElasticNet`].
    ElasticNet(ElasticNetModel),
    /// See [`ModelKind::DecisionTreeClassifier`].
    DecisionTreeClassifier(DecisionTreeClassifierModel),
    /// See [`ModelKind::DecisionTreeRegressor`].
    DecisionTreeRegressor(DecisionTreeRegressorModel),
    /// See [`ModelKind::RandomForestClassifier`].
    RandomForestClassifier(ForestClassifierModel),
    /// See [`ModelKind::RandomForestRegressor`] and [`ModelKind::ExtraTreesRegressor`].
    RandomForestRegressor(ForestRegressorModel),
    /// See [`ModelKind::KnnClassifier`].
    KnnClassifier(KnnClassifierModel),
    /// See [`ModelKind::KnnRegressor`].
    KnnRegressor(KnnRegressorModel),
    /// See [`ModelKind::GaussianNb`].
    GaussianNb(GaussianNbModel),
    /// See [`ModelKind::MultinomialNb`].
    MultinomialNb(MultinomialNbModel),
    /// See [`ModelKind::BernoulliNb`].
    BernoulliNb(BernoulliNbModel),
    /// See [`ModelKind::CategoricalNb`].
    CategoricalNb(CategoricalNbModel),
    /// See [`ModelKind::Svc`].
    Svc(SvcModel),
    /// See [`ModelKind::Svr`].
    Svr(SvrModel),
}

/// The file name of a JSON-encoded model.
pub const MODEL_JSON: &str = "model.json";
/// The file name of a binary-encoded (tree) model.
pub const MODEL_BIN: &str = "model.bin";

/// The JSON form of parametric models, as written.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsonModelRef<'a> {
    LogisticRegression(&'a LogisticRegressionModel),
    LinearRegression(&'a LinearRegressionModel),
    RidgeRegression(&'a RidgeRegressionModel),
    ElasticNet(&'a ElasticNetModel),
    KnnClassifier(&'a KnnClassifierModel),
    KnnRegressor(&'a KnnRegressorModel),
    GaussianNb(&'a GaussianNbModel),
    MultinomialNb(&'a MultinomialNbModel),
    BernoulliNb(&'a BernoulliNbModel),
    CategoricalNb(&'a CategoricalNbModel),
    Svc(&'a SvcModel),
    Svr(&'a SvrModel),
}

/// The JSON form of parametric models, as read.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsonModel {
    LogisticRegression(LogisticRegressionModel),
    LinearRegression(LinearRegressionModel),
    RidgeRegression(RidgeRegressionModel),
    ElasticNet(ElasticNetModel),
    KnnClassifier(KnnClassifierModel),
    KnnRegressor(KnnRegressorModel),
    GaussianNb(GaussianNbModel),
    MultinomialNb(MultinomialNbModel),
    BernoulliNb(BernoulliNbModel),
    CategoricalNb(CategoricalNbModel),
    Svc(SvcModel),
    Svr(SvrModel),
}

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

/// Fits the tree model `spec` describes (as [`fit`] does, with the same trees) and
/// compares every tree's prediction on every row of `probe` with smartcore's own tree.
/// `None` for models that are not trees.
///
/// # Errors
/// As [`fit`].
pub fn parity(
    spec: &ValidModelSpec,
    data: &TrainingSet,
    probe: &FeatureMatrix,
) -> Result<Option<Parity>, TrainError> {
    Ok(match spec {
        ValidModelSpec::LogisticRegression(_)
        | ValidModelSpec::LinearRegression(_)
        | ValidModelSpec::RidgeRegression(_)
        | ValidModelSpec::Lasso(_)
        | ValidModelSpec::ElasticNet(_)
        | ValidModelSpec::KnnClassifier(_)
        | ValidModelSpec::KnnRegressor(_)
        | ValidModelSpec::GaussianNb(_)
        | ValidModelSpec::MultinomialNb(_)
        | ValidModelSpec::BernoulliNb(_)
        | ValidModelSpec::CategoricalNb(_)
        | ValidModelSpec::Svc(_)
        | ValidModelSpec::Svr(_) => None,
        ValidModelSpec::DecisionTreeClassifier(p) => Some(p.parity(data, probe)?),
        ValidModelSpec::DecisionTreeRegressor(p) => Some(p.parity(data, probe)?),
        ValidModelSpec::RandomForestClassifier(p) => Some(p.parity(data, probe)?),
        ValidModelSpec::RandomForestRegressor(p) => Some(p.parity(data, probe)?),
        ValidModelSpec::ExtraTreesRegressor(p) => Some(p.extra_trees_parity(data, probe)?),
    })
}

impl TrainedModel {
    /// Encodes the model for its artifact file ([`ModelKind::model_file`]).
    ///
    /// # Errors
    /// A message when serialisation fails.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let json = |m: JsonModelRef<'_>| serde_json::to_vec(&m).map_err(|e| e.to_string());
        let header = |classes: Option<&[ClassLabel]>, n_trees: usize| codec::Header {
            kind: self.kind(),
            n_features: self.n_features(),
            classes: classes.map(<[ClassLabel]>::to_vec),
            n_trees,
        };
        match self {
            TrainedModel::LogisticRegression(m) => json(JsonModelRef::LogisticRegression(m)),
            TrainedModel::LinearRegression(m) => json(JsonModelRef::LinearRegression(m)),
            TrainedModel::RidgeRegression(m) => json(JsonModelRef::RidgeRegression(m)),
            TrainedModel::ElasticNet(m) => json(JsonModelRef::ElasticNet(m)),
            TrainedModel::KnnClassifier(m) => json(JsonModelRef::KnnClassifier(m)),
            TrainedModel::KnnRegressor(m) => json(JsonModelRef::KnnRegressor(m)),
            TrainedModel::GaussianNb(m) => json(JsonModelRef::GaussianNb(m)),
            TrainedModel::MultinomialNb(m) => json(JsonModelRef::MultinomialNb(m)),
            TrainedModel::BernoulliNb(m) => json(JsonModelRef::BernoulliNb(m)),
            TrainedModel::CategoricalNb(m) => json(JsonModelRef::CategoricalNb(m)),
            TrainedModel::Svc(m) => json(JsonModelRef::Svc(m)),
            TrainedModel::Svr(m) => json(JsonModelRef::Svr(m)),
            TrainedModel::DecisionTreeClassifier(m) => codec::encode_class_trees(
                &header(m.classes(), 1),
                m.classes().map_or(0, <[ClassLabel]>::len),
                std::slice::from_ref(m.tree()),
            ),
            TrainedModel::RandomForestClassifier(m) => codec::encode_class_trees(
                &header(m.classes(), m.n_trees()),
                m.classes().map_or(0, <[ClassLabel]>::len),
                m.trees(),
            ),
            TrainedModel::DecisionTreeRegressor(m) => {
                codec::encode_value_trees(&header(None, 1), std::slice::from_ref(m.tree()))
            }
            TrainedModel::RandomForestRegressor(m) => {
                codec::encode_value_trees(&header(None, m.trees().len()), m.trees())
            }
        }
    }

    /// Decodes a model from its artifact file `file` ([`MODEL_JSON`] or [`MODEL_BIN`]),
    /// checking everything it reads.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn decode(file: &str, bytes: &[u8]) -> Result<Self, String> {
        match file {
            MODEL_JSON => {
                let model =
                    match serde_json::from_slice::<JsonModel>(bytes).map_err(|e| e.to_string())? {
                        JsonModel::LogisticRegression(m) => TrainedModel::LogisticRegression(m),
                        JsonModel::LinearRegression(m) => TrainedModel::LinearRegression(m),
                        JsonModel::RidgeRegression(m) => TrainedModel::RidgeRegression(m),
                        JsonModel::ElasticNet(m) => TrainedModel::ElasticNet(m),
                        JsonModel::KnnClassifier(m) => TrainedModel::KnnClassifier(m),
                        JsonModel::KnnRegressor(m) => TrainedModel::KnnRegressor(m),
                        JsonModel::GaussianNb(m) => TrainedModel::GaussianNb(m),
                        JsonModel::MultinomialNb(m) => TrainedModel::MultinomialNb(m),
                        JsonModel::BernoulliNb(m) => TrainedModel::BernoulliNb(m),
                        JsonModel::CategoricalNb(m) => TrainedModel::CategoricalNb(m),
                        JsonModel::Svc(m) => TrainedModel::Svc(m),
                        JsonModel::Svr(m) => TrainedModel::Svr(m),
                    };
                model.check_tables()?;
                Ok(model)
            }
            MODEL_BIN => {
                let (header, trees) = codec::decode(bytes)?;
                let single = |mut trees: Vec<flat::ClassTree>| match (trees.pop(), trees.is_empty())
                {
                    (Some(t), true) => Ok(t),
                    (Some(_) | None, _) => Err("a decision tree holds exactly one tree".to_owned()),
                };
                match (header.kind, header.classes, trees) {
                    (
                        ModelKind::DecisionTreeClassifier,
                        Some(classes),
                        codec::Trees::Classes(t),
                    ) => Ok(TrainedModel::DecisionTreeClassifier(
                        DecisionTreeClassifierModel::from_parts(
                            classes,
                            header.n_features,
                            single(t)?,
                        ),
                    )),
                    (
                        ModelKind::RandomForestClassifier,
                        Some(classes),
                        codec::Trees::Classes(t),
                    ) => Ok(TrainedModel::RandomForestClassifier(
                        ForestClassifierModel::from_parts(classes, header.n_features, t),
                    )),
                    (ModelKind::DecisionTreeRegressor, None, codec::Trees::Values(mut t)) => {
                        match (t.pop(), t.is_empty()) {
                            (Some(tree), true) => Ok(TrainedModel::DecisionTreeRegressor(
                                DecisionTreeRegressorModel::from_parts(header.n_features, tree),
                            )),
                            (Some(_) | None, _) => {
                                Err("a decision tree holds exactly one tree".to_owned())
                            }
                        }
                    }
                    (
                        kind @ (ModelKind::RandomForestRegressor | ModelKind::ExtraTreesRegressor),
                        None,
                        codec::Trees::Values(t),
                    ) => Ok(TrainedModel::RandomForestRegressor(
                        ForestRegressorModel::from_parts(kind, header.n_features, t),
                    )),
                    (kind, _, _) => Err(format!("model.bin cannot hold a {kind} model")),
                }
            }
            other => Err(format!("unknown model file {other:?}")),
        }
    }

    /// Checks that a decoded model's tables agree with each other (row and column
    /// counts, class indices), for the models whose JSON could hold tables that do not.
    fn check_tables(&self) -> Result<(), String> {
        match self {
            TrainedModel::KnnClassifier(m) => m.check(),
            TrainedModel::KnnRegressor(m) => m.check(),
            TrainedModel::GaussianNb(m) => m.check(),
            TrainedModel::MultinomialNb(m) => m.check(),
            TrainedModel::BernoulliNb(m) => m.check(),
            TrainedModel::CategoricalNb(m) => m.check(),
            TrainedModel::Svc(m) => m.check(),
            TrainedModel::Svr(m) => m.check(),
            TrainedModel::LogisticRegression(_)
            | TrainedModel::LinearRegression(_)
            | TrainedModel::RidgeRegression(_)
            | TrainedModel::ElasticNet(_)
            | TrainedModel::DecisionTreeClassifier(_)
            | TrainedModel::DecisionTreeRegressor(_)
            | TrainedModel::RandomForestClassifier(_)
            | TrainedModel::RandomForestRegressor(_) => Ok(()),
        }
    }

    fn inner(&self) -> &dyn Model {
        match self {
            TrainedModel::LogisticRegression(m) => m,
            TrainedModel::LinearRegression(m) => m,
            TrainedModel::RidgeRegression(m) => m,
            TrainedModel::ElasticNet(m) => m,
            TrainedModel::DecisionTreeClassifier(m) => m,
            TrainedModel::DecisionTreeRegressor(m) => m,
            TrainedModel::RandomForestClassifier(m) => m,
            TrainedModel::RandomForestRegressor(m) => m,
            TrainedModel::KnnClassifier(m) => m,
            TrainedModel::KnnRegressor(m) => m,
            TrainedModel::GaussianNb(m) => m,
            TrainedModel::MultinomialNb(m) => m,
            TrainedModel::BernoulliNb(m) => m,
            TrainedModel::CategoricalNb(m) => m,
            TrainedModel::Svc(m) => m,
            TrainedModel::Svr(m) => m,
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

/// [`fit`], reporting the trees of a random forest to `progress` as they are grown.
///
/// # Errors
/// As [`fit`].
pub fn fit_with_progress(
    spec: &ValidModelSpec,
    data: &TrainingSet,
    progress: &dyn FitProgress,
) -> Result<TrainedModel, TrainError> {
    Ok(match spec {
        ValidModelSpec::LogisticRegression(p) => TrainedModel::LogisticRegression(p.fit(data)?),
        ValidModelSpec::LinearRegression(p) => TrainedModel::LinearRegression(p.fit(data)?),
        ValidModelSpec::RidgeRegression(p) => TrainedModel::RidgeRegression(p.fit(data)?),
        ValidModelSpec::Lasso(p) | ValidModelSpec::ElasticNet(p) => {
            TrainedModel::ElasticNet(p.fit(data)?)
        }
        ValidModelSpec::DecisionTreeClassifier(p) => {
            TrainedModel::DecisionTreeClassifier(p.fit(data)?)
        }
        ValidModelSpec::DecisionTreeRegressor(p) => {
            TrainedModel::DecisionTreeRegressor(p.fit(data)?)
        }
        ValidModelSpec::RandomForestClassifier(p) => {
            TrainedModel::RandomForestClassifier(p.fit_observed(data, progress)?)
        }
        ValidModelSpec::RandomForestRegressor(p) => {
            TrainedModel::RandomForestRegressor(p.fit_observed(data, progress)?)
        }
        ValidModelSpec::ExtraTreesRegressor(p) => {
            TrainedModel::RandomForestRegressor(p.fit_extra_trees(data)?)
        }
        ValidModelSpec::KnnClassifier(p) => TrainedModel::KnnClassifier(p.fit_classifier(data)?),
        ValidModelSpec::KnnRegressor(p) => TrainedModel::KnnRegressor(p.fit_regressor(data)?),
        ValidModelSpec::GaussianNb(p) => TrainedModel::GaussianNb(p.fit(data)?),
        ValidModelSpec::MultinomialNb(p) => TrainedModel::MultinomialNb(p.fit_multinomial(data)?),
        ValidModelSpec::BernoulliNb(p) => TrainedModel::BernoulliNb(p.fit(data)?),
        ValidModelSpec::CategoricalNb(p) => TrainedModel::CategoricalNb(p.fit_categorical(data)?),
        ValidModelSpec::Svc(p) => TrainedModel::Svc(p.fit_svc(data)?),
        ValidModelSpec::Svr(p) => TrainedModel::Svr(p.fit_svr(data)?),
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
