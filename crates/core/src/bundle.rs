//! [`ModelBundle`]: the unit that is saved and loaded, a manifest around a
//! [`Predictor`]. Train's evaluation and serve's `/predict` both predict through
//! [`Predictor::predict`].

use std::path::Path;

use std::sync::Arc;

use crate::artifact::{ArtifactError, Manifest, ReadLimits, read_version_dir};
use crate::drift::ReferenceProfile;
use crate::frame::Frame;
use crate::label::ClassLabel;
use crate::model::{Model, PredictError, Predictions, TrainedModel};
use crate::predictor::Predictor;
use crate::preprocess::FittedPreprocessor;
use crate::schema::FeatureSchema;

/// A loaded model version: its manifest and its predictor.
#[derive(Debug)]
pub struct ModelBundle {
    manifest: Manifest,
    predictor: Predictor,
    reference: Option<Arc<ReferenceProfile>>,
}

impl ModelBundle {
    /// Assembles a bundle, checking that the manifest describes the predictor's model.
    ///
    /// # Errors
    /// [`ArtifactError::Inconsistent`] when the model's kind or classes differ from the
    /// manifest's.
    pub fn new(manifest: Manifest, predictor: Predictor) -> Result<Self, ArtifactError> {
        let inconsistent = |message: String| ArtifactError::Inconsistent {
            path: manifest.name.as_str().into(),
            message,
        };
        if predictor.model().kind() != manifest.model_kind {
            return Err(inconsistent(format!(
                "manifest says {} but the model is {}",
                manifest.model_kind,
                predictor.model().kind()
            )));
        }
        if predictor.classes().map(<[ClassLabel]>::to_vec) != manifest.classes {
            return Err(inconsistent(
                "the manifest's classes differ from the model's".to_owned(),
            ));
        }
        Ok(Self {
            manifest,
            predictor,
            reference: None,
        })
    }

    /// The bundle with `reference` as its reference statistics.
    #[must_use]
    pub fn with_reference(mut self, reference: Option<ReferenceProfile>) -> Self {
        self.reference = reference.map(Arc::new);
        self
    }

    /// The reference statistics of the training rows, when the artifact has them.
    #[must_use]
    pub fn reference(&self) -> Option<&Arc<ReferenceProfile>> {
        self.reference.as_ref()
    }

    /// Loads and verifies the version directory `dir` with the default [`ReadLimits`].
    ///
    /// # Errors
    /// As [`read_version_dir`].
    pub fn load(dir: &Path) -> Result<Self, ArtifactError> {
        Self::load_with(dir, ReadLimits::default())
    }

    /// Loads and verifies the version directory `dir` within `limits`.
    ///
    /// # Errors
    /// As [`read_version_dir`].
    pub fn load_with(dir: &Path, limits: ReadLimits) -> Result<Self, ArtifactError> {
        let (manifest, predictor, reference) = read_version_dir(dir, limits)?;
        Ok(Self {
            manifest,
            predictor,
            reference: reference.map(Arc::new),
        })
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The predictor.
    #[must_use]
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// The input schema: what a prediction request must contain.
    #[must_use]
    pub fn schema(&self) -> &FeatureSchema {
        self.predictor.schema()
    }

    /// The fitted preprocessor.
    #[must_use]
    pub fn preprocessor(&self) -> &FittedPreprocessor {
        self.predictor.preprocessor()
    }

    /// The fitted model.
    #[must_use]
    pub fn model(&self) -> &TrainedModel {
        self.predictor.model()
    }

    /// Class labels in output order, for classifiers.
    #[must_use]
    pub fn classes(&self) -> Option<&[ClassLabel]> {
        self.predictor.classes()
    }

    /// Predicts `rows` with the bundle's predictor ([`Predictor::predict`]).
    ///
    /// # Errors
    /// As [`Predictor::predict`].
    pub fn predict(&self, rows: &Frame) -> Result<Predictions, PredictError> {
        self.predictor.predict(rows)
    }

    /// Explains `rows` with the bundle's predictor ([`Predictor::explain`]).
    ///
    /// # Errors
    /// As [`Predictor::explain`].
    pub fn explain(
        &self,
        rows: &Frame,
    ) -> Result<crate::predictor::FeatureExplanation, crate::model::ExplainError> {
        self.predictor.explain(rows)
    }
}
