//! [`Predictor`]: a fitted preprocessor and a fitted model, the one function that turns
//! validated rows into predictions. Training evaluates with it (and cross-validation
//! folds will), serve answers every protocol with it, and a [`ModelBundle`] is a
//! manifest around one.
//!
//! [`ModelBundle`]: crate::bundle::ModelBundle

use crate::frame::{Column, FeatureMatrix, Frame};
use crate::label::ClassLabel;
use crate::model::{
    ExplainError, ExplanationSpace, Model, PredictError, Predictions, TrainedModel,
};
use crate::preprocess::FittedPreprocessor;
use crate::schema::{FeatureSchema, RowErrors, SchemaError};

/// Explanations of a batch of rows in terms of the input features.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureExplanation {
    /// The input features, in schema order.
    pub features: Vec<String>,
    /// What each output is: a class label, or `value` for a regressor.
    pub outputs: Vec<String>,
    /// The space of the outputs (value, probability or raw score).
    pub space: ExplanationSpace,
    /// The base value of each output.
    pub base: Vec<f64>,
    /// Rows explained.
    pub n_rows: usize,
    /// `contributions[(row * outputs.len() + output) * features.len() + feature]`.
    pub contributions: Vec<f64>,
}

impl FeatureExplanation {
    /// The contributions of `row` to `output`, one per feature.
    #[must_use]
    pub fn row(&self, row: usize, output: usize) -> &[f64] {
        let n = self.features.len();
        let at = (row * self.outputs.len() + output) * n;
        self.contributions.get(at..at + n).unwrap_or_default()
    }
}

/// A fitted preprocessor and the model fitted on its output.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictor {
    preprocessor: FittedPreprocessor,
    model: TrainedModel,
}

impl Predictor {
    /// Pairs `preprocessor` with `model`.
    ///
    /// # Errors
    /// [`PredictError::WidthMismatch`] when the preprocessor's output width differs from
    /// the model's input width.
    pub fn new(
        preprocessor: FittedPreprocessor,
        model: TrainedModel,
    ) -> Result<Self, PredictError> {
        if preprocessor.output().len() != model.n_features() {
            return Err(PredictError::WidthMismatch {
                expected: model.n_features(),
                found: preprocessor.output().len(),
            });
        }
        Ok(Self {
            preprocessor,
            model,
        })
    }

    /// The input schema: what a row must contain.
    #[must_use]
    pub fn schema(&self) -> &FeatureSchema {
        self.preprocessor.input()
    }

    /// The fitted preprocessor.
    #[must_use]
    pub fn preprocessor(&self) -> &FittedPreprocessor {
        &self.preprocessor
    }

    /// The fitted model.
    #[must_use]
    pub fn model(&self) -> &TrainedModel {
        &self.model
    }

    /// Class labels in output order, for classifiers.
    #[must_use]
    pub fn classes(&self) -> Option<&[ClassLabel]> {
        self.model.classes()
    }

    /// Preprocesses `rows` (validated against [`Self::schema`]) and predicts them.
    ///
    /// # Errors
    /// [`PredictError::InvalidValues`] naming every record whose values the model cannot
    /// use: unseen categories, values too large to scale, and inputs whose prediction
    /// overflows (finite inputs can still overflow a model's arithmetic; such an output
    /// is refused for every model kind here, never returned as NaN or infinity). Other
    /// [`PredictError`] variants for internal failures.
    pub fn predict(&self, rows: &Frame) -> Result<Predictions, PredictError> {
        let x = self.preprocessor.transform(rows)?;
        let predictions = self.model.predict(&x)?;
        let bad_rows: Vec<usize> = match &predictions {
            Predictions::Classes {
                probabilities: Some(p),
                n_classes,
                ..
            } => p
                .chunks((*n_classes).max(1))
                .enumerate()
                .filter(|(_, p)| p.iter().any(|v| !v.is_finite()))
                .map(|(r, _)| r)
                .collect(),
            Predictions::Classes {
                probabilities: None,
                ..
            } => Vec::new(),
            Predictions::Values(values) => values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_finite())
                .map(|(r, _)| r)
                .collect(),
        };
        if bad_rows.is_empty() {
            return Ok(predictions);
        }
        Err(PredictError::InvalidValues(
            bad_rows
                .into_iter()
                .map(|row| RowErrors {
                    row,
                    errors: vec![self.overflow_culprit(rows, &x, row)],
                })
                .collect(),
        ))
    }

    /// Preprocesses `rows` and explains the model's output for each: TreeSHAP
    /// contributions per model input ([`TrainedModel::explain`]), summed back to the
    /// input features they came from (the one-hot columns of a categorical feature add
    /// up to that feature's contribution).
    ///
    /// # Errors
    /// [`ExplainError`] when the model cannot be explained or the rows cannot be
    /// preprocessed.
    pub fn explain(&self, rows: &Frame) -> Result<FeatureExplanation, ExplainError> {
        let x = self
            .preprocessor
            .transform(rows)
            .map_err(PredictError::from)?;
        let e = self.model.explain(&x)?;
        let features: Vec<String> = self
            .schema()
            .features()
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let n_features = features.len();
        let sources: Vec<usize> = (0..e.n_columns)
            .map(|c| self.preprocessor.source_feature(c).unwrap_or(0))
            .collect();
        let mut contributions = vec![0.0; e.n_rows * e.n_outputs * n_features];
        for (out, chunk) in contributions
            .chunks_exact_mut(n_features.max(1))
            .zip(e.contributions.chunks_exact(e.n_columns.max(1)))
        {
            for (c, v) in chunk.iter().enumerate() {
                if let Some(slot) = sources.get(c).and_then(|&f| out.get_mut(f)) {
                    *slot += v;
                }
            }
        }
        let classes = self.classes().unwrap_or_default();
        let outputs = match (e.space, e.n_outputs) {
            (ExplanationSpace::Value, _) => vec!["value".to_owned()],
            // A binary boosted classifier explains the log-odds of its second class.
            (ExplanationSpace::RawScore, 1) => {
                vec![classes.get(1).map(ToString::to_string).unwrap_or_default()]
            }
            (ExplanationSpace::RawScore | ExplanationSpace::Probability, _) => {
                classes.iter().map(ToString::to_string).collect()
            }
        };
        Ok(FeatureExplanation {
            features,
            outputs,
            space: e.space,
            base: e.base,
            n_rows: e.n_rows,
            contributions,
        })
    }

    /// The input to blame for an overflowing prediction of `row`: the feature behind
    /// the model input of largest magnitude, with its value as sent.
    fn overflow_culprit(&self, rows: &Frame, x: &FeatureMatrix, row: usize) -> SchemaError {
        let inputs = x.row(row);
        let mut column = 0;
        for (j, v) in inputs.iter().enumerate() {
            if inputs.get(column).is_some_and(|c| v.abs() > c.abs()) {
                column = j;
            }
        }
        let feature = self.preprocessor.source_feature(column).unwrap_or(0);
        let name = self
            .schema()
            .features()
            .get(feature)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let found = match rows.columns().get(feature) {
            Some(Column::Numeric(v)) => v.get(row).copied(),
            Some(Column::Categorical(_)) | None => None,
        }
        .or_else(|| inputs.get(column).copied())
        .unwrap_or(f64::NAN);
        SchemaError::TooLarge { name, found }
    }
}
