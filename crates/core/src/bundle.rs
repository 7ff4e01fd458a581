//! [`ModelBundle`]: the unit that is saved, loaded and asked for predictions. Train's
//! evaluation and serve's `/predict` both call [`ModelBundle::predict`].

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::artifact::{
    ArtifactError, CONFIG_FILE, FORMAT_VERSION, MANIFEST_FILE, MAX_FILE_BYTES, MODEL_FILE,
    Manifest, PREPROCESSOR_FILE, REQUIRED_FILES, SCHEMA_FILE, sha256_hex,
};
use crate::frame::Frame;
use crate::label::ClassLabel;
use crate::model::{Model, PredictError, Predictions, TrainedModel};
use crate::preprocess::FittedPreprocessor;
use crate::schema::FeatureSchema;

/// A loaded model version: manifest, fitted preprocessor and fitted model.
#[derive(Debug)]
pub struct ModelBundle {
    manifest: Manifest,
    preprocessor: FittedPreprocessor,
    model: TrainedModel,
}

fn read_capped(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    let size = fs_err::metadata(path)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ArtifactError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(fs_err::read(path)?)
}

fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, ArtifactError> {
    serde_json::from_slice(bytes).map_err(|e| ArtifactError::InvalidFile {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

impl ModelBundle {
    /// Assembles a bundle from its parts, checking that they agree.
    ///
    /// # Errors
    /// [`ArtifactError::Inconsistent`] when the model's kind differs from the manifest's,
    /// or the preprocessor's output width from the model's input width.
    pub fn new(
        manifest: Manifest,
        preprocessor: FittedPreprocessor,
        model: TrainedModel,
    ) -> Result<Self, ArtifactError> {
        let inconsistent = |message: String| ArtifactError::Inconsistent {
            path: manifest.name.as_str().into(),
            message,
        };
        if model.kind() != manifest.model_kind {
            return Err(inconsistent(format!(
                "manifest says {} but model.json holds {}",
                manifest.model_kind,
                model.kind()
            )));
        }
        if preprocessor.output().len() != model.n_features() {
            return Err(inconsistent(format!(
                "preprocessor produces {} columns but the model takes {}",
                preprocessor.output().len(),
                model.n_features()
            )));
        }
        Ok(Self {
            manifest,
            preprocessor,
            model,
        })
    }

    /// Loads and verifies the version directory `dir`.
    ///
    /// # Errors
    /// An [`ArtifactError`] variant per failed check: unreadable or invalid manifest,
    /// newer format, missing or oversized file, checksum mismatch, unparsable or
    /// inconsistent parts.
    pub fn load(dir: &Path) -> Result<Self, ArtifactError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let bytes = read_capped(&manifest_path)?;
        let invalid = |message: String| ArtifactError::InvalidManifest {
            path: manifest_path.clone(),
            message,
        };
        let raw: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let found = raw
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid("missing or non-integer format_version".to_owned()))?;
        let found = u32::try_from(found).unwrap_or(u32::MAX);
        if found > FORMAT_VERSION {
            return Err(ArtifactError::UnsupportedFormat {
                path: dir.to_owned(),
                found,
                supported: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = serde_json::from_value(raw).map_err(|e| invalid(e.to_string()))?;
        for required in REQUIRED_FILES {
            if !manifest.files.contains_key(*required) {
                return Err(ArtifactError::MissingFile {
                    path: dir.to_owned(),
                    file: (*required).to_owned(),
                });
            }
        }
        let mut contents = std::collections::BTreeMap::new();
        for (name, expected) in &manifest.files {
            let plain = Path::new(name).file_name().and_then(|f| f.to_str()) == Some(name.as_str());
            if !plain || name == MANIFEST_FILE {
                return Err(ArtifactError::BadFileName {
                    path: dir.to_owned(),
                    file: name.clone(),
                });
            }
            let path = dir.join(name);
            let bytes = read_capped(&path)?;
            let found = sha256_hex(&bytes);
            if &found != expected {
                return Err(ArtifactError::ChecksumMismatch {
                    path,
                    expected: expected.clone(),
                    found,
                });
            }
            contents.insert(name.as_str(), bytes);
        }
        let part = |name: &str| contents.get(name).map(Vec::as_slice).unwrap_or_default();
        let preprocessor: FittedPreprocessor =
            parse(&dir.join(PREPROCESSOR_FILE), part(PREPROCESSOR_FILE))?;
        let model: TrainedModel = parse(&dir.join(MODEL_FILE), part(MODEL_FILE))?;
        let schema: FeatureSchema = parse(&dir.join(SCHEMA_FILE), part(SCHEMA_FILE))?;
        if std::str::from_utf8(part(CONFIG_FILE)).is_err() {
            return Err(ArtifactError::InvalidFile {
                path: dir.join(CONFIG_FILE),
                message: "not UTF-8".to_owned(),
            });
        }
        if &schema != preprocessor.input() {
            return Err(ArtifactError::Inconsistent {
                path: dir.to_owned(),
                message: "schema.json differs from the preprocessor's input schema".to_owned(),
            });
        }
        if model.classes().map(<[ClassLabel]>::to_vec) != manifest.classes {
            return Err(ArtifactError::Inconsistent {
                path: dir.to_owned(),
                message: "the manifest's classes differ from the model's".to_owned(),
            });
        }
        Self::new(manifest, preprocessor, model).map_err(|e| match e {
            ArtifactError::Inconsistent { message, .. } => ArtifactError::Inconsistent {
                path: dir.to_owned(),
                message,
            },
            other @ (ArtifactError::Io(_)
            | ArtifactError::InvalidManifest { .. }
            | ArtifactError::UnsupportedFormat { .. }
            | ArtifactError::MissingFile { .. }
            | ArtifactError::BadFileName { .. }
            | ArtifactError::TooLarge { .. }
            | ArtifactError::ChecksumMismatch { .. }
            | ArtifactError::InvalidFile { .. }
            | ArtifactError::Serialize { .. }) => other,
        })
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The input schema: what a prediction request must contain.
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
    /// [`PredictError::Preprocess`] for rows preprocessing rejects (an unknown category),
    /// other [`PredictError`] variants for internal failures.
    pub fn predict(&self, rows: &Frame) -> Result<Predictions, PredictError> {
        let x = self.preprocessor.transform(rows)?;
        let predictions = self.model.predict(&x)?;
        // Finite inputs can still overflow a model's arithmetic (huge values times
        // weights); such an output is refused for every model kind here, not returned as
        // NaN or infinity.
        let bad_row = match &predictions {
            Predictions::Classes {
                probabilities,
                n_classes,
                ..
            } => probabilities
                .chunks(*n_classes.max(&1))
                .position(|p| p.iter().any(|v| !v.is_finite())),
            Predictions::Values(values) => values.iter().position(|v| !v.is_finite()),
        };
        match bad_row {
            Some(row) => Err(PredictError::NonFinite { row }),
            None => Ok(predictions),
        }
    }
}
