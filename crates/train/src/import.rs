//! `train import`: a model trained by XGBoost or LightGBM, read into Ferry's boosted
//! model ([`ferry_core::model::import_xgboost`], [`ferry_core::model::import_lightgbm`])
//! and run through the rest of a pipeline: the config's data is loaded and validated,
//! split, the model evaluated on the test rows and gated, the training rows' statistics
//! kept for drift, and the artifact published, checksummed and versioned, as a trained
//! model would be.
//!
//! The config is a pipeline config whose `model` section names the kind the file holds
//! (`gradient_boosting_classifier` or `gradient_boosting_regressor`; its hyperparameters
//! are not used). The model reads the features as the library did: in schema order, raw
//! (only `impute` steps are allowed), numeric, integer or boolean. A classifier's classes
//! are the target's classes in Ferry's order (sorted, as scikit-learn's `LabelEncoder`
//! and XGBoost's and LightGBM's scikit-learn wrappers number them).

use std::path::PathBuf;

use ferry_core::model::{
    ImportError, ModelKind, Target, TrainingSet, import_lightgbm, import_xgboost,
};
use ferry_core::preprocess::StepSpec;
use ferry_core::schema::DType;
use ferry_core::{Model, TrainedModel};

use crate::config::Pipeline;
use crate::error::RunError;

/// The library a model file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// XGBoost's JSON model (`Booster.save_model("model.json")`).
    Xgboost,
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    Lightgbm,
}

/// A model file to import.
#[derive(Debug, Clone)]
pub struct Import {
    /// The library.
    pub format: ImportFormat,
    /// The file.
    pub path: PathBuf,
}

impl Import {
    fn error(&self, message: impl Into<String>) -> RunError {
        RunError::Import {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    /// Checks that the file exists and `pipeline` suits an import: a boosted model kind, raw features (no
    /// step but `impute`), no categorical features, no grid search.
    ///
    /// # Errors
    /// [`RunError::Import`] naming the config's problem.
    pub fn check_config(&self, pipeline: &Pipeline) -> Result<(), RunError> {
        // Before the data is loaded: a missing file is the cheapest mistake to report.
        if let Err(e) = fs_err::metadata(&self.path) {
            return Err(self.error(e.to_string()));
        }
        let kind = pipeline.config().model.kind();
        if !matches!(
            kind,
            ModelKind::GradientBoostingClassifier | ModelKind::GradientBoostingRegressor
        ) {
            return Err(self.error(format!(
                "model.type: expected gradient_boosting_classifier or gradient_boosting_regressor for an imported model, found {kind}"
            )));
        }
        if pipeline.search().is_some() {
            return Err(self.error("search: an imported model is not searched; remove the section"));
        }
        if let Some(step) = pipeline
            .config()
            .preprocessing
            .steps
            .iter()
            .find(|s| !matches!(s, StepSpec::Impute(_)))
        {
            return Err(self.error(format!(
                "preprocessing.steps: expected only impute steps (the imported model reads raw features), found op {}",
                step.op()
            )));
        }
        if let Some(f) = pipeline
            .schema()
            .features()
            .iter()
            .find(|f| f.dtype == DType::Categorical)
        {
            return Err(self.error(format!(
                "schema.features.{}: expected numeric, integer or boolean (pass category codes as integers), found categorical",
                f.name
            )));
        }
        Ok(())
    }

    /// Reads the file into a model for `training` (its width, and its classes for a
    /// classifier) and checks it against the config.
    ///
    /// # Errors
    /// [`RunError::Import`] when the file cannot be read or does not fit the config.
    pub fn read(
        &self,
        training: &TrainingSet,
        pipeline: &Pipeline,
    ) -> Result<TrainedModel, RunError> {
        let bytes = fs_err::read(&self.path).map_err(|e| self.error(e.to_string()))?;
        let classes = match &training.y {
            Target::Classes(labels) => Some(labels.classes().to_vec()),
            Target::Values(_) => None,
        };
        let imported = match self.format {
            ImportFormat::Xgboost => import_xgboost(&bytes, classes),
            ImportFormat::Lightgbm => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| self.error("a LightGBM text model is UTF-8 text"))?;
                import_lightgbm(&text, classes)
            }
        }
        .map_err(|e: ImportError| self.error(e.to_string()))?;
        let model = imported.model;
        let kind = pipeline.config().model.kind();
        if model.kind() != kind {
            return Err(self.error(format!(
                "model.type: the file holds a {}, the config names {kind}",
                model.kind()
            )));
        }
        let names: Vec<&str> = pipeline
            .schema()
            .features()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        if model.n_features() != names.len() || training.x.n_cols() != names.len() {
            return Err(self.error(format!(
                "schema.features: the model reads {} features, the schema lists {}",
                model.n_features(),
                names.len()
            )));
        }
        // Names are compared when the file records real ones (not the libraries'
        // placeholders f0, f1, ... or Column_0, Column_1, ...).
        let placeholder = |i: usize, n: &str| n == format!("f{i}") || n == format!("Column_{i}");
        let recorded = &imported.feature_names;
        let real_names =
            !recorded.is_empty() && !recorded.iter().enumerate().all(|(i, n)| placeholder(i, n));
        let mismatch = recorded
            .iter()
            .zip(&names)
            .enumerate()
            .find(|(_, (a, b))| a.as_str() != **b);
        if real_names && let Some((i, (file, schema))) = mismatch {
            return Err(self.error(format!(
                "schema.features[{i}]: expected {file:?} (the model's feature {i}), found {schema:?}"
            )));
        }
        // Columns the library split on as categories carry category codes: integers.
        let features = pipeline.schema().features();
        if let Some(f) = imported
            .categorical
            .iter()
            .filter_map(|&c| features.get(c))
            .find(|f| f.dtype != DType::Integer)
        {
            return Err(self.error(format!(
                "schema.features.{}: the model splits on it as a category, expected dtype integer (category codes), found {}",
                f.name, f.dtype
            )));
        }
        tracing::info!(
            kind = %model.kind(),
            trees = model.n_trees(),
            source = ?model.source(),
            "Imported model."
        );
        Ok(TrainedModel::GradientBoosting(model))
    }
}
