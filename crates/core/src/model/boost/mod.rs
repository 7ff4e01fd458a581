//! `type: gradient_boosting_classifier` and `type: gradient_boosting_regressor`:
//! histogram gradient-boosted trees fitted by Ferry ([`hist`]), and the same fitted type
//! for models imported from XGBoost and LightGBM ([`import`]).
//!
//! A model is a raw-score baseline per output plus trees in Ferry's boosted layout
//! ([`tree`]), each adding to one output: one output for regression (the value) and
//! binary classification (the log-odds of the second class), one per class for more
//! classes (softmax over the outputs). Predictions walk the trees packed for inference
//! ([`crate::model::tree::packed`]), summed in fixed groups, so a row gets the same bits
//! alone or in a batch, on any thread count.

pub(crate) mod codec;
pub(crate) mod hist;
pub(crate) mod import;
pub(crate) mod tree;

use serde::{Deserialize, Serialize};

use crate::config::ConfigErrors;
use crate::frame::FeatureMatrix;
use crate::label::ClassLabel;
use crate::model::params::ParamChecks;
use crate::model::tree::flat::argmax;
use crate::model::tree::packed::Packed;
use crate::model::{
    FitProgress, Model, ModelKind, PredictError, Predictions, Target, Task, TrainError,
    TrainingSet, check_width,
};
use hist::{Loss, Settings, sigmoid, softmax};
use tree::BoostTree;

/// Hyperparameters of both gradient-boosting estimators (scikit-learn's
/// `HistGradientBoosting*` names and defaults, except where noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientBoostingParams {
    /// Boosting iterations (one tree per iteration, one per class and iteration for
    /// more than two classes).
    pub max_iter: usize,
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Leaves per tree; trees grow leaf-wise, the best split first.
    pub max_leaf_nodes: usize,
    /// Edges from the root to the deepest leaf; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Minimum training rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values (added to the hessian sum).
    pub l2_regularization: f64,
    /// Bins per column, at most 255 (missing values have one more of their own).
    pub max_bins: usize,
    /// Fraction of the rows each iteration is fitted on (1: all).
    pub subsample: f64,
    /// Fraction of the columns each tree may split on (1: all).
    pub colsample_bytree: f64,
    /// Stop when the loss on a held-out fraction stops improving: `auto` (on above
    /// 10,000 rows), `true` or `false`; or `cv`: choose the number of iterations by
    /// cross-validation on the training rows, then fit on all of them.
    pub early_stopping: EarlyStopping,
    /// Folds of `early_stopping: cv`.
    pub cv_folds: usize,
    /// The held-out fraction for early stopping.
    pub validation_fraction: f64,
    /// Iterations without improvement before stopping.
    pub n_iter_no_change: usize,
    /// Smallest loss decrease that counts as improvement.
    pub tol: f64,
    /// Seed of the sampling; the pipeline's split seed when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The loss: `squared_error` (the regressor's default) or `absolute_error` for the
    /// regressor, `log_loss` (the only one) for the classifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<BoostLoss>,
}

/// The losses `loss` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoostLoss {
    /// Half the squared error (regressor).
    SquaredError,
    /// The absolute error (regressor): trees are grown on the gradient's sign and each
    /// leaf takes the median residual of its rows, as scikit-learn's
    /// `HistGradientBoostingRegressor(loss="absolute_error")` does; robust to outliers.
    AbsoluteError,
    /// The log loss (classifier: binary or softmax).
    LogLoss,
}

/// When a gradient-boosting fit stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EarlyStopping {
    /// `true` or `false`: on a held-out fraction, or never.
    Fixed(bool),
    /// `auto` or `cv`.
    Rule(StopRule),
}

/// The words `early_stopping` takes besides `true` and `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopRule {
    /// `auto`: on a held-out fraction when the training set has more than 10,000 rows.
    Auto,
    /// `cv`: the number of iterations chosen by `cv_folds`-fold cross-validation on the
    /// training rows (every fold boosted, the pooled held-out loss watched as with a
    /// held-out fraction), then the model fitted on every training row with that many.
    Cv,
}

impl Default for GradientBoostingParams {
    fn default() -> Self {
        Self {
            max_iter: 100,
            learning_rate: 0.1,
            max_leaf_nodes: 31,
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            subsample: 1.0,
            colsample_bytree: 1.0,
            early_stopping: EarlyStopping::Rule(StopRule::Auto),
            cv_folds: 5,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: None,
            loss: None,
        }
    }
}

/// Validated [`GradientBoostingParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGradientBoostingParams(GradientBoostingParams);

impl GradientBoostingParams {
    /// Checks every range: `1 <= max_iter <= 100000`, `learning_rate > 0`,
    /// `max_leaf_nodes >= 2`, `max_depth >= 1`, `min_samples_leaf >= 1`,
    /// `l2_regularization >= 0`, `2 <= max_bins <= 255`, `subsample` and
    /// `colsample_bytree` in (0, 1], `validation_fraction` in (0, 1),
    /// `n_iter_no_change >= 1`, `tol >= 0`, `2 <= cv_folds <= 20`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate(&self) -> Result<ValidGradientBoostingParams, ConfigErrors> {
        let mut c = ParamChecks::new();
        c.count_at_least("max_iter", self.max_iter, 1)
            .count_at_most("max_iter", self.max_iter, 100_000)
            .positive("learning_rate", self.learning_rate)
            .count_at_least("max_leaf_nodes", self.max_leaf_nodes, 2)
            .count_at_most("max_leaf_nodes", self.max_leaf_nodes, 1 << 16)
            .count_at_least("min_samples_leaf", self.min_samples_leaf, 1)
            .at_least("l2_regularization", self.l2_regularization, 0.0)
            .count_at_least("max_bins", self.max_bins, 2)
            .count_at_most("max_bins", self.max_bins, 255)
            .count_at_least("n_iter_no_change", self.n_iter_no_change, 1)
            .count_at_least("cv_folds", self.cv_folds, 2)
            .count_at_most("cv_folds", self.cv_folds, 20)
            .at_least("tol", self.tol, 0.0);
        if let Some(d) = self.max_depth {
            c.count_at_least("max_depth", d, 1);
        }
        for (field, v) in [
            ("subsample", self.subsample),
            ("colsample_bytree", self.colsample_bytree),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                c.push(
                    field,
                    format!("expected a number above 0 and at most 1, found {v}"),
                );
            }
        }
        let v = self.validation_fraction;
        if !(v > 0.0 && v < 1.0) {
            c.push(
                "validation_fraction",
                format!("expected a number above 0 and below 1, found {v}"),
            );
        }
        c.finish(ValidGradientBoostingParams(self.clone()))
    }

    /// [`GradientBoostingParams::validate`] for `gradient_boosting_classifier`: `loss`,
    /// when given, is `log_loss`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate_classifier(&self) -> Result<ValidGradientBoostingParams, ConfigErrors> {
        self.validate_losses(&[BoostLoss::LogLoss], "log_loss")
    }

    /// [`GradientBoostingParams::validate`] for `gradient_boosting_regressor`: `loss`,
    /// when given, is `squared_error` or `absolute_error`.
    ///
    /// # Errors
    /// The offending fields.
    pub fn validate_regressor(&self) -> Result<ValidGradientBoostingParams, ConfigErrors> {
        self.validate_losses(
            &[BoostLoss::SquaredError, BoostLoss::AbsoluteError],
            "squared_error or absolute_error",
        )
    }

    fn validate_losses(
        &self,
        allowed: &[BoostLoss],
        expected: &str,
    ) -> Result<ValidGradientBoostingParams, ConfigErrors> {
        let loss_error = self.loss.filter(|l| !allowed.contains(l)).map(|l| {
            let found = serde_json::to_value(l)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("expected {expected}, found {found}")
        });
        match (self.validate(), loss_error) {
            (Ok(valid), None) => Ok(valid),
            (Ok(_), Some(message)) => {
                let mut errors = ConfigErrors::new();
                errors.push("loss", message);
                Err(errors)
            }
            (Err(mut errors), Some(message)) => {
                errors.push("loss", message);
                Err(errors)
            }
            (Err(errors), None) => Err(errors),
        }
    }
}

const CLASSIFIER: &str = "gradient_boosting_classifier";
const REGRESSOR: &str = "gradient_boosting_regressor";

impl ValidGradientBoostingParams {
    fn settings(&self, n_rows: usize, seed: u64) -> Settings {
        let p = &self.0;
        Settings {
            max_iter: p.max_iter,
            learning_rate: p.learning_rate,
            max_leaf_nodes: p.max_leaf_nodes,
            max_depth: p.max_depth,
            min_samples_leaf: p.min_samples_leaf,
            l2_regularization: p.l2_regularization,
            max_bins: p.max_bins,
            subsample: p.subsample,
            colsample_bytree: p.colsample_bytree,
            early_stopping: match p.early_stopping {
                EarlyStopping::Fixed(b) => b,
                EarlyStopping::Rule(StopRule::Auto) => n_rows > 10_000,
                EarlyStopping::Rule(StopRule::Cv) => false,
            } && n_rows >= 2,
            cv_folds: (p.early_stopping == EarlyStopping::Rule(StopRule::Cv)).then_some(p.cv_folds),
            validation_fraction: p.validation_fraction,
            n_iter_no_change: p.n_iter_no_change,
            tol: p.tol,
            seed: p.seed.unwrap_or(seed),
        }
    }

    /// Fits `y` (class codes or values) with `loss` into a model of `kind`.
    #[allow(clippy::too_many_arguments)]
    fn boost(
        &self,
        kind: ModelKind,
        data: &TrainingSet,
        y: &[f64],
        loss: Loss,
        objective: Objective,
        classes: Option<Vec<ClassLabel>>,
        progress: &dyn FitProgress,
    ) -> Result<GradientBoostingModel, TrainError> {
        if data.x.n_rows() == 0 || data.x.n_cols() == 0 {
            return Err(TrainError::NotEnoughData {
                algorithm: kind.as_str(),
                reason: "the training set has no rows or no input columns".to_owned(),
            });
        }
        let s = self.settings(data.x.n_rows(), data.seed);
        let fitted = hist::fit(&data.x, y, loss, &s, progress)?;
        Ok(GradientBoostingModel {
            kind,
            n_features: data.x.n_cols(),
            classes,
            objective,
            base: fitted.base,
            trees: fitted.trees,
            source: Source::Ferry,
            packed: Default::default(),
        })
    }

    /// Fits a classifier (binary log loss for two classes, softmax for more).
    ///
    /// # Errors
    /// [`TrainError`] for a regression target or an empty training set.
    pub fn fit_classifier(
        &self,
        data: &TrainingSet,
        progress: &dyn FitProgress,
    ) -> Result<GradientBoostingModel, TrainError> {
        let Target::Classes(labels) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: CLASSIFIER,
                expected: Task::Classification,
            });
        };
        let classes = labels.classes().to_vec();
        if classes.len() < 2 {
            return Err(TrainError::NotEnoughData {
                algorithm: CLASSIFIER,
                reason: format!(
                    "the training set has {} class; a classifier needs at least 2",
                    classes.len()
                ),
            });
        }
        let y: Vec<f64> = labels.codes().iter().map(|&c| f64::from(c)).collect();
        let (loss, objective) = if classes.len() == 2 {
            (Loss::Logistic, Objective::Logistic)
        } else {
            (Loss::Softmax(classes.len()), Objective::Softmax)
        };
        self.boost(
            ModelKind::GradientBoostingClassifier,
            data,
            &y,
            loss,
            objective,
            Some(classes),
            progress,
        )
    }

    /// Fits a regressor (squared error).
    ///
    /// # Errors
    /// [`TrainError`] for a classification target or an empty training set.
    pub fn fit_regressor(
        &self,
        data: &TrainingSet,
        progress: &dyn FitProgress,
    ) -> Result<GradientBoostingModel, TrainError> {
        let Target::Values(y) = &data.y else {
            return Err(TrainError::WrongTask {
                algorithm: REGRESSOR,
                expected: Task::Regression,
            });
        };
        let (loss, objective) = match self.0.loss {
            Some(BoostLoss::AbsoluteError) => (Loss::Absolute, Objective::AbsoluteError),
            Some(BoostLoss::SquaredError | BoostLoss::LogLoss) | None => {
                (Loss::Squared, Objective::SquaredError)
            }
        };
        self.boost(
            ModelKind::GradientBoostingRegressor,
            data,
            y,
            loss,
            objective,
            None,
            progress,
        )
    }
}

/// How a boosted model's raw scores become its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Regression: the raw score is the prediction.
    SquaredError,
    /// Regression fitted on the absolute error: the raw score is the prediction.
    AbsoluteError,
    /// Two classes: the raw score is the log-odds of the second.
    Logistic,
    /// Two or more classes: one raw score per class, softmax gives the probabilities.
    Softmax,
}

/// Who fitted a boosted model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Ferry's own trainer.
    Ferry,
    /// Imported from an XGBoost JSON model.
    Xgboost,
    /// Imported from a LightGBM text model.
    Lightgbm,
}

/// A fitted gradient-boosted model (trained by Ferry or imported).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientBoostingModel {
    kind: ModelKind,
    n_features: usize,
    classes: Option<Vec<ClassLabel>>,
    objective: Objective,
    base: Vec<f64>,
    trees: Vec<BoostTree>,
    source: Source,
    packed: crate::model::tree::packed::LazyPacked,
}

impl GradientBoostingModel {
    /// Checks that the parts make one model: the objective suits the kind and the
    /// classes, one baseline per output, every tree adds to an existing output.
    pub(crate) fn from_parts(
        kind: ModelKind,
        n_features: usize,
        classes: Option<Vec<ClassLabel>>,
        objective: Objective,
        base: Vec<f64>,
        trees: Vec<BoostTree>,
        source: Source,
    ) -> Result<Self, String> {
        let outputs = match (kind, objective, &classes) {
            (
                ModelKind::GradientBoostingRegressor,
                Objective::SquaredError | Objective::AbsoluteError,
                None,
            ) => 1,
            (ModelKind::GradientBoostingClassifier, Objective::Logistic, Some(c))
                if c.len() == 2 =>
            {
                1
            }
            (ModelKind::GradientBoostingClassifier, Objective::Softmax, Some(c))
                if c.len() >= 2 =>
            {
                c.len()
            }
            _ => {
                return Err(format!(
                    "a {kind} cannot have objective {objective:?} with {} classes",
                    classes.as_ref().map_or(0, Vec::len)
                ));
            }
        };
        if base.len() != outputs || base.iter().any(|b| !b.is_finite()) {
            return Err(format!(
                "expected {outputs} finite baseline scores, found {base:?}"
            ));
        }
        if trees.is_empty() {
            return Err("the model has no trees".into());
        }
        if let Some((i, t)) = trees.iter().enumerate().find(|(_, t)| t.group() >= outputs) {
            return Err(format!(
                "tree {i} adds to output {} but the model has {outputs}",
                t.group()
            ));
        }
        Ok(Self {
            kind,
            n_features,
            classes,
            objective,
            base,
            trees,
            source,
            packed: Default::default(),
        })
    }

    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// How raw scores become outputs.
    #[must_use]
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// Who fitted the model.
    #[must_use]
    pub fn source(&self) -> Source {
        self.source
    }

    /// The raw-score baseline per output.
    #[must_use]
    pub fn base_score(&self) -> &[f64] {
        &self.base
    }

    #[cfg(test)]
    pub(crate) fn trees(&self) -> &[BoostTree] {
        &self.trees
    }

    /// The model as TreeSHAP sees it.
    pub(crate) fn ensemble(&self) -> crate::model::explain::Ensemble<'_, BoostTree> {
        crate::model::explain::Ensemble {
            trees: &self.trees,
            scale: 1.0,
            n_outputs: self.base.len(),
            base: self.base.clone(),
            space: match self.objective {
                Objective::SquaredError | Objective::AbsoluteError => {
                    crate::model::ExplanationSpace::Value
                }
                Objective::Logistic | Objective::Softmax => {
                    crate::model::ExplanationSpace::RawScore
                }
            },
        }
    }

    /// Raw scores per output (before the sigmoid or softmax), row-major.
    ///
    /// # Errors
    /// [`PredictError::WidthMismatch`] for a matrix of the wrong width.
    pub fn raw_scores(&self, x: &FeatureMatrix) -> Result<Vec<f64>, PredictError> {
        check_width(x, self.n_features)?;
        let k = self.base.len();
        let packed = self
            .packed
            .get_or_build(|| Packed::boost_trees(&self.trees, k, self.n_features));
        let mut out = packed.sum(x, &|t, row| self.trees.get(t)?.leaf_number(row))?;
        for row in out.chunks_exact_mut(k) {
            for (s, b) in row.iter_mut().zip(&self.base) {
                *s += b;
            }
        }
        Ok(out)
    }
}

impl Model for GradientBoostingModel {
    fn kind(&self) -> ModelKind {
        self.kind
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn classes(&self) -> Option<&[ClassLabel]> {
        self.classes.as_deref()
    }

    fn predict(&self, x: &FeatureMatrix) -> Result<Predictions, PredictError> {
        let raw = self.raw_scores(x)?;
        match self.objective {
            Objective::SquaredError | Objective::AbsoluteError => Ok(Predictions::Values(raw)),
            Objective::Logistic => {
                let mut proba = Vec::with_capacity(raw.len() * 2);
                let mut labels = Vec::with_capacity(raw.len());
                for r in raw {
                    let p = sigmoid(r);
                    proba.extend([1.0 - p, p]);
                    labels.push(usize::from(p > 0.5));
                }
                Ok(Predictions::Classes {
                    labels,
                    probabilities: Some(proba),
                    n_classes: 2,
                })
            }
            Objective::Softmax => {
                let k = self.base.len();
                let mut proba = vec![0.0; raw.len()];
                let mut labels = Vec::with_capacity(raw.len() / k.max(1));
                for (r, p) in raw.chunks_exact(k).zip(proba.chunks_exact_mut(k)) {
                    softmax(r, p);
                    labels.push(argmax(p));
                }
                Ok(Predictions::Classes {
                    labels,
                    probabilities: Some(proba),
                    n_classes: k,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
