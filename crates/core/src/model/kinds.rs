//! The table of algorithms: the one place that lists them. Everything that enumerates
//! the algorithms ([`ModelKind`] and its names and properties, [`ModelSpec`] and its
//! parsing, [`ValidModelSpec`], [`TrainedModel`], the artifact encoding, and the fit and
//! parity dispatch) is generated from it by [`model_table!`](super::table).
//!
//! A row of `kinds`:
//! - the doc line and `Variant = "type_tag"` (the tag is the config's `type` and the
//!   artifact's `model_kind`: renaming one breaks old artifacts);
//! - `task`: `Classification` or `Regression`; `probabilities`: whether it gives class
//!   probabilities;
//! - `params: Params => ValidParams`, and `validate`, the call that checks one into the
//!   other;
//! - `fit`: the call that fits validated params on the training set (with a progress
//!   sink for long fits), wrapped in the [`TrainedModel`] variant it produces;
//! - `hyperparameters`: what `train models` lists (a test checks it against the params
//!   struct);
//! - `parity` (trees only): the check of Ferry's trees against smartcore's own.
//!
//! `fitted_json` and `fitted_bin` list the fitted types by how they are stored:
//! `model.json` (serde, tagged by the variant's snake_case name, with an optional
//! `check` of its tables after reading) or `model.bin` (Ferry's binary tree encoding,
//! through [`tree::codec::TreeFile`](super::tree::codec)).

use serde::{Deserialize, Serialize};

use super::tree;
use super::*;
use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;

/// The limits every tree, and every tree of a forest, takes.
const TREE: [(&str, &str); 3] = [
    ("max_depth", "unlimited (the root is depth 1)"),
    ("min_samples_leaf", "1"),
    ("min_samples_split", "2"),
];

/// What both forests of regression trees take.
const FOREST_REGRESSOR: [(&str, &str); 6] = [
    ("n_trees", "100"),
    TREE[0],
    TREE[1],
    TREE[2],
    ("max_features", "all columns"),
    ("seed", "the split seed"),
];

/// What both gradient-boosting models take.
const BOOSTING: [(&str, &str); 16] = [
    ("max_iter", "100"),
    ("learning_rate", "0.1"),
    ("max_leaf_nodes", "31"),
    ("max_depth", "unlimited (edges from the root)"),
    ("min_samples_leaf", "20"),
    ("l2_regularization", "0.0"),
    ("max_bins", "255"),
    ("subsample", "1.0"),
    ("colsample_bytree", "1.0"),
    (
        "early_stopping",
        "auto (on above 10,000 rows; true, false, cv)",
    ),
    ("cv_folds", "5 (with early_stopping: cv)"),
    ("validation_fraction", "0.1"),
    ("n_iter_no_change", "10"),
    ("tol", "1e-7"),
    ("seed", "the split seed"),
    (
        "loss",
        "squared_error (regressor; or absolute_error), log_loss (classifier)",
    ),
];

/// What both nearest-neighbour models take.
const KNN: [(&str, &str); 3] = [
    ("k", "5"),
    ("weights", "uniform (or distance)"),
    ("metric", "euclidean (or manhattan)"),
];

/// The kernel settings of both support vector machines.
const SVM: [(&str, &str); 6] = [
    ("c", "1.0"),
    ("kernel", "rbf (or linear, polynomial, sigmoid)"),
    ("gamma", "1 / (columns * input variance)"),
    ("degree", "3.0"),
    ("coef0", "0.0"),
    ("tol", "0.001"),
];

model_table! {
    kinds {
        /// Multinomial (or binary) logistic regression, L2-regularised.
        LogisticRegression = "logistic_regression" {
            task: Classification,
            probabilities: true,
            params: LogisticRegressionParams => ValidLogisticRegressionParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| LogisticRegression(p.fit(data)),
            hyperparameters: &[("alpha", "1.0")],
        }
        /// Ordinary least squares.
        LinearRegression = "linear_regression" {
            task: Regression,
            probabilities: false,
            params: LinearRegressionParams => ValidLinearRegressionParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| LinearRegression(p.fit(data)),
            hyperparameters: &[("solver", "svd (or qr)")],
        }
        /// Least squares with an L2 penalty on the coefficients.
        RidgeRegression = "ridge_regression" {
            task: Regression,
            probabilities: false,
            params: RidgeRegressionParams => ValidRidgeRegressionParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| RidgeRegression(p.fit(data)),
            hyperparameters: &[("alpha", "1.0"), ("solver", "cholesky (or svd)")],
        }
        /// Least squares with an L1 penalty (sparse coefficients).
        Lasso = "lasso" {
            task: Regression,
            probabilities: false,
            params: LassoParams => ValidElasticNetParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| ElasticNet(p.fit(data)),
            hyperparameters: &[("alpha", "1.0"), ("max_iter", "1000"), ("tol", "0.0001")],
        }
        /// Least squares with a mix of L1 and L2 penalties.
        ElasticNet = "elastic_net" {
            task: Regression,
            probabilities: false,
            params: ElasticNetParams => ValidElasticNetParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| ElasticNet(p.fit(data)),
            hyperparameters: &[
                ("alpha", "1.0"),
                ("l1_ratio", "0.5"),
                ("max_iter", "1000"),
                ("tol", "0.0001"),
            ],
        }
        /// A CART classification tree.
        DecisionTreeClassifier = "decision_tree_classifier" {
            task: Classification,
            probabilities: true,
            params: DecisionTreeClassifierParams => ValidDecisionTreeClassifierParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| DecisionTreeClassifier(p.fit(data)),
            hyperparameters: &[
                ("criterion", "gini (or entropy, classification_error)"),
                TREE[0],
                TREE[1],
                TREE[2],
            ],
            parity: |p, data, probe| p.parity(data, probe),
        }
        /// A CART regression tree.
        DecisionTreeRegressor = "decision_tree_regressor" {
            task: Regression,
            probabilities: false,
            params: DecisionTreeRegressorParams => ValidDecisionTreeRegressorParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| DecisionTreeRegressor(p.fit(data)),
            hyperparameters: &TREE,
            parity: |p, data, probe| p.parity(data, probe),
        }
        /// A bagged forest of CART classification trees with per-split feature sampling.
        RandomForestClassifier = "random_forest_classifier" {
            task: Classification,
            probabilities: true,
            params: ForestClassifierParams => ValidForestClassifierParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| RandomForestClassifier(p.fit_observed(data, progress)),
            hyperparameters: &[
                ("n_trees", "100"),
                ("criterion", "gini (or entropy, classification_error)"),
                TREE[0],
                TREE[1],
                TREE[2],
                ("max_features", "floor(sqrt(columns))"),
                ("seed", "the split seed"),
            ],
            parity: |p, data, probe| p.parity(data, probe),
        }
        /// A bagged forest of CART regression trees with per-split feature sampling.
        RandomForestRegressor = "random_forest_regressor" {
            task: Regression,
            probabilities: false,
            params: ForestRegressorParams => ValidForestRegressorParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| RandomForestRegressor(p.fit_observed(data, progress)),
            hyperparameters: &FOREST_REGRESSOR,
            parity: |p, data, probe| p.parity(data, probe),
        }
        /// Extremely randomised trees: every tree on all rows, each split at a random
        /// threshold of each drawn column, the best of those kept.
        ExtraTreesRegressor = "extra_trees_regressor" {
            task: Regression,
            probabilities: false,
            params: ForestRegressorParams => ValidForestRegressorParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| RandomForestRegressor(p.fit_extra_trees(data)),
            hyperparameters: &FOREST_REGRESSOR,
            parity: |p, data, probe| p.extra_trees_parity(data, probe),
        }
        /// Histogram gradient-boosted trees on the log loss (binary or softmax).
        GradientBoostingClassifier = "gradient_boosting_classifier" {
            task: Classification,
            probabilities: true,
            params: GradientBoostingParams => ValidGradientBoostingParams,
            validate: |p| p.validate_classifier(),
            fit: |p, data, progress| GradientBoosting(p.fit_classifier(data, progress)),
            hyperparameters: &BOOSTING,
        }
        /// Histogram gradient-boosted trees on the squared (or absolute) error.
        GradientBoostingRegressor = "gradient_boosting_regressor" {
            task: Regression,
            probabilities: false,
            params: GradientBoostingParams => ValidGradientBoostingParams,
            validate: |p| p.validate_regressor(),
            fit: |p, data, progress| GradientBoosting(p.fit_regressor(data, progress)),
            hyperparameters: &BOOSTING,
        }
        /// The majority (or distance-weighted) class of the k nearest training rows.
        KnnClassifier = "knn_classifier" {
            task: Classification,
            probabilities: true,
            params: KnnParams => ValidKnnParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| KnnClassifier(p.fit_classifier(data)),
            hyperparameters: &KNN,
        }
        /// The mean (or distance-weighted mean) target of the k nearest training rows.
        KnnRegressor = "knn_regressor" {
            task: Regression,
            probabilities: false,
            params: KnnParams => ValidKnnParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| KnnRegressor(p.fit_regressor(data)),
            hyperparameters: &KNN,
        }
        /// Gaussian naive Bayes: a normal distribution per class and column.
        GaussianNb = "gaussian_nb" {
            task: Classification,
            probabilities: true,
            params: GaussianNbParams => ValidGaussianNbParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| GaussianNb(p.fit(data)),
            hyperparameters: &[("var_smoothing", "1e-9")],
        }
        /// Multinomial naive Bayes, for counts.
        MultinomialNb = "multinomial_nb" {
            task: Classification,
            probabilities: true,
            params: DiscreteNbParams => ValidDiscreteNbParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| MultinomialNb(p.fit_multinomial(data)),
            hyperparameters: &[("alpha", "1.0")],
        }
        /// Bernoulli naive Bayes, for binary (or binarised) columns.
        BernoulliNb = "bernoulli_nb" {
            task: Classification,
            probabilities: true,
            params: BernoulliNbParams => ValidBernoulliNbParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| BernoulliNb(p.fit(data)),
            hyperparameters: &[
                ("alpha", "1.0"),
                ("binarize", "0.0 (null: the inputs are 0 or 1)"),
            ],
        }
        /// Categorical naive Bayes, for columns of category codes 0, 1, 2, ...
        CategoricalNb = "categorical_nb" {
            task: Classification,
            probabilities: true,
            params: DiscreteNbParams => ValidDiscreteNbParams,
            validate: |p| p.validate(),
            fit: |p, data, progress| CategoricalNb(p.fit_categorical(data)),
            hyperparameters: &[("alpha", "1.0")],
        }
        /// Support vector classifier (one-vs-one for more than two classes); no
        /// probabilities.
        Svc = "svc" {
            task: Classification,
            probabilities: false,
            params: SvmParams => ValidSvmParams,
            validate: |p| p.validate(false),
            fit: |p, data, progress| Svc(p.fit_svc(data)),
            hyperparameters: &[SVM[0], SVM[1], SVM[2], SVM[3], SVM[4], SVM[5], ("epochs", "2")],
        }
        /// Epsilon-support vector regression.
        Svr = "svr" {
            task: Regression,
            probabilities: false,
            params: SvmParams => ValidSvmParams,
            validate: |p| p.validate(true),
            fit: |p, data, progress| Svr(p.fit_svr(data)),
            hyperparameters: &[SVM[0], SVM[1], SVM[2], SVM[3], SVM[4], SVM[5], ("epsilon", "0.1")],
        }
    }
    fitted_json {
        LogisticRegression(LogisticRegressionModel);
        LinearRegression(LinearRegressionModel);
        RidgeRegression(RidgeRegressionModel);
        ElasticNet(ElasticNetModel);
        KnnClassifier(KnnClassifierModel), check: check;
        KnnRegressor(KnnRegressorModel), check: check;
        GaussianNb(GaussianNbModel), check: check;
        MultinomialNb(MultinomialNbModel), check: check;
        BernoulliNb(BernoulliNbModel), check: check;
        CategoricalNb(CategoricalNbModel), check: check;
        Svc(SvcModel), check: check;
        Svr(SvrModel), check: check;
    }
    fitted_bin {
        DecisionTreeClassifier(DecisionTreeClassifierModel);
        DecisionTreeRegressor(DecisionTreeRegressorModel);
        RandomForestClassifier(ForestClassifierModel);
        RandomForestRegressor(ForestRegressorModel);
        GradientBoosting(GradientBoostingModel);
    }
}
