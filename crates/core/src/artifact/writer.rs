use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{
    ArtifactError, CONFIG_FILE, MANIFEST_FILE, Manifest, PREPROCESSOR_FILE, SCHEMA_FILE, sha256_hex,
};
use crate::drift::{REFERENCE_FILE, ReferenceProfile};
use crate::model::{Model, TrainedModel};
use crate::preprocess::FittedPreprocessor;

/// The parts of a version directory, before serialisation.
#[derive(Debug)]
pub struct ArtifactFiles<'a> {
    /// The fitted model.
    pub model: &'a TrainedModel,
    /// The fitted preprocessor (its input schema becomes `schema.json`).
    pub preprocessor: &'a FittedPreprocessor,
    /// The resolved pipeline config, as YAML.
    pub config_yaml: &'a str,
    /// The reference statistics of the training rows, for drift (`reference.json`).
    pub reference: Option<&'a ReferenceProfile>,
}

fn json<T: serde::Serialize>(file: &str, value: &T) -> Result<Vec<u8>, ArtifactError> {
    serde_json::to_vec_pretty(value).map_err(|e| ArtifactError::Serialize {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let mut f = fs_err::File::create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Writes every file into `dir` (which must not exist), filling `manifest.files` with
/// their checksums, `manifest.config_sha256` and the manifest's own checksum, then
/// writes the manifest last and syncs. Returns the manifest as written. The caller
/// renames `dir` into place.
///
/// # Errors
/// [`ArtifactError::Io`] naming the path, or [`ArtifactError::Serialize`].
pub fn write_version_dir(
    dir: &Path,
    mut manifest: Manifest,
    files: &ArtifactFiles<'_>,
) -> Result<Manifest, ArtifactError> {
    fs_err::create_dir(dir)?;
    let model_file = files.model.kind().model_file();
    let model = files.model.encode().map_err(|e| ArtifactError::Serialize {
        file: model_file.to_owned(),
        message: e.to_string(),
    })?;
    let mut sums = BTreeMap::new();
    let reference = match files.reference {
        Some(r) => Some((REFERENCE_FILE, json(REFERENCE_FILE, r)?)),
        None => None,
    };
    for (name, bytes) in [
        (model_file, model),
        (
            PREPROCESSOR_FILE,
            json(PREPROCESSOR_FILE, files.preprocessor)?,
        ),
        (SCHEMA_FILE, json(SCHEMA_FILE, files.preprocessor.input())?),
        (CONFIG_FILE, files.config_yaml.as_bytes().to_vec()),
    ]
    .into_iter()
    .chain(reference)
    {
        write_synced(&dir.join(name), &bytes)?;
        sums.insert(name.to_owned(), sha256_hex(&bytes));
    }
    manifest.config_sha256 = sha256_hex(files.config_yaml.as_bytes());
    manifest.files = sums;
    manifest.manifest_sha256 = manifest
        .content_sha256()
        .map_err(|e| ArtifactError::Serialize {
            file: MANIFEST_FILE.to_owned(),
            message: e.to_string(),
        })?;
    write_synced(&dir.join(MANIFEST_FILE), &json(MANIFEST_FILE, &manifest)?)?;
    fs_err::File::open(dir)?.sync_all()?;
    Ok(manifest)
}
