//! Reading a version directory: every check of the format, in order, each failure with
//! its own [`ArtifactError`] variant.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::{
    ArtifactError, CONFIG_FILE, FORMAT_VERSION, MANIFEST_FILE, MODEL_BIN, MODEL_JSON, Manifest,
    OLDEST_FORMAT_VERSION, PREPROCESSOR_FILE, ReadLimits, SCHEMA_FILE, required_files, sha256_hex,
};
use crate::drift::{REFERENCE_FILE, ReferenceProfile};
use crate::label::ClassLabel;
use crate::model::{Model, TrainedModel};
use crate::predictor::Predictor;
use crate::preprocess::FittedPreprocessor;
use crate::schema::FeatureSchema;

fn read_capped(path: &Path, limits: ReadLimits) -> Result<Vec<u8>, ArtifactError> {
    let size = fs_err::metadata(path)?.len();
    if size > limits.max_file_bytes {
        return Err(ArtifactError::TooLarge {
            path: path.to_owned(),
            size,
            limit: limits.max_file_bytes,
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

/// Reads and verifies the version directory `dir` within `limits`, returning its
/// manifest and predictor.
///
/// # Errors
/// An [`ArtifactError`] variant per failed check: unreadable or invalid manifest, newer
/// or retired format, missing file or bad file name, checksum mismatch (of the manifest
/// or a file), oversized file, unparsable or inconsistent parts.
pub fn read_version_dir(
    dir: &Path,
    limits: ReadLimits,
) -> Result<(Manifest, Predictor, Option<ReferenceProfile>), ArtifactError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let bytes = read_capped(&manifest_path, limits)?;
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
    let Some(required) = required_files(found) else {
        return Err(ArtifactError::RetiredFormat {
            path: dir.to_owned(),
            found,
            oldest: OLDEST_FORMAT_VERSION,
            supported: FORMAT_VERSION,
        });
    };
    let manifest: Manifest = serde_json::from_value(raw).map_err(|e| invalid(e.to_string()))?;

    // The layout: plain file names, every required file, exactly one model file.
    for name in manifest.files.keys() {
        let plain = Path::new(name).file_name().and_then(|f| f.to_str()) == Some(name.as_str());
        if !plain || name == MANIFEST_FILE {
            return Err(ArtifactError::BadFileName {
                path: dir.to_owned(),
                file: name.clone(),
            });
        }
    }
    for file in required {
        if !manifest.files.contains_key(*file) {
            return Err(ArtifactError::MissingFile {
                path: dir.to_owned(),
                file: (*file).to_owned(),
            });
        }
    }
    let model_file = match (
        manifest.files.contains_key(MODEL_JSON),
        manifest.files.contains_key(MODEL_BIN),
    ) {
        (true, false) => MODEL_JSON,
        (false, true) => MODEL_BIN,
        (false, false) => {
            return Err(ArtifactError::MissingFile {
                path: dir.to_owned(),
                file: format!("{MODEL_JSON} or {MODEL_BIN}"),
            });
        }
        (true, true) => {
            return Err(ArtifactError::Inconsistent {
                path: dir.to_owned(),
                message: format!("the manifest lists both {MODEL_JSON} and {MODEL_BIN}"),
            });
        }
    };

    // The manifest's own checksum, before anything it says is trusted.
    let sealed = manifest
        .content_sha256()
        .map_err(|e| invalid(e.to_string()))?;
    if sealed != manifest.manifest_sha256 {
        return Err(ArtifactError::ChecksumMismatch {
            path: manifest_path,
            expected: manifest.manifest_sha256.clone(),
            found: sealed,
        });
    }

    let mut contents = BTreeMap::new();
    for (name, expected) in &manifest.files {
        let path = dir.join(name);
        let bytes = read_capped(&path, limits)?;
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
    let model = TrainedModel::decode(model_file, part(model_file)).map_err(|e| {
        ArtifactError::InvalidFile {
            path: dir.join(model_file),
            message: e.to_string(),
        }
    })?;
    let schema: FeatureSchema = parse(&dir.join(SCHEMA_FILE), part(SCHEMA_FILE))?;
    if std::str::from_utf8(part(CONFIG_FILE)).is_err() {
        return Err(ArtifactError::InvalidFile {
            path: dir.join(CONFIG_FILE),
            message: "not UTF-8".to_owned(),
        });
    }
    let inconsistent = |message: String| ArtifactError::Inconsistent {
        path: dir.to_owned(),
        message,
    };
    if &schema != preprocessor.input() {
        return Err(inconsistent(
            "schema.json differs from the preprocessor's input schema".to_owned(),
        ));
    }
    if model.kind() != manifest.model_kind {
        return Err(inconsistent(format!(
            "manifest says {} but {model_file} holds {}",
            manifest.model_kind,
            model.kind()
        )));
    }
    if model.classes().map(<[ClassLabel]>::to_vec) != manifest.classes {
        return Err(inconsistent(
            "the manifest's classes differ from the model's".to_owned(),
        ));
    }
    // Reference statistics are optional: versions trained before drift had none.
    let reference: Option<ReferenceProfile> = match contents.get(REFERENCE_FILE) {
        Some(bytes) => Some(parse(&dir.join(REFERENCE_FILE), bytes)?),
        None => None,
    };
    if let Some(r) = &reference {
        let names: Vec<&str> = r.features.iter().map(|f| f.name.as_str()).collect();
        let expected: Vec<&str> = schema.features().iter().map(|f| f.name.as_str()).collect();
        if names != expected {
            return Err(inconsistent(format!(
                "{REFERENCE_FILE} describes features {names:?}, the schema {expected:?}"
            )));
        }
    }
    let predictor = Predictor::new(preprocessor, model).map_err(|e| inconsistent(e.to_string()))?;
    Ok((manifest, predictor, reference))
}
