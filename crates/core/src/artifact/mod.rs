//! The artifact format: one directory per model version holding a manifest, the fitted
//! model, the fitted preprocessor, the feature schema and the resolved config, every
//! file's sha256 recorded in the manifest.
//!
//! ```text
//! artifacts/<model>/<version>/
//!   manifest.json      format_version, kind, provenance, metrics, sha256 of every file
//!   model.json         TrainedModel
//!   preprocessor.json  FittedPreprocessor
//!   schema.json        FeatureSchema
//!   config.yaml        the resolved pipeline config
//! ```
//!
//! Writers ([`write_version_dir`]) build the directory under a temporary name and rename
//! it into place, so a version is complete or absent. Readers
//! ([`ModelBundle::load`](crate::bundle::ModelBundle::load)) check, in order: the
//! manifest parses, its `format_version` is not newer than [`FORMAT_VERSION`], every file
//! is under [`MAX_FILE_BYTES`] and matches its checksum, and the parts agree.

mod error;
mod manifest;
mod writer;

pub use error::ArtifactError;
pub use manifest::{Manifest, RowCounts};
pub use writer::{ArtifactFiles, write_version_dir};

use sha2::{Digest, Sha256};

/// The artifact layout version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Largest file a reader accepts.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// File name of the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the fitted model.
pub const MODEL_FILE: &str = "model.json";
/// File name of the fitted preprocessor.
pub const PREPROCESSOR_FILE: &str = "preprocessor.json";
/// File name of the feature schema.
pub const SCHEMA_FILE: &str = "schema.json";
/// File name of the resolved pipeline config.
pub const CONFIG_FILE: &str = "config.yaml";

/// The files every version must have besides the manifest.
pub const REQUIRED_FILES: &[&str] = &[MODEL_FILE, PREPROCESSOR_FILE, SCHEMA_FILE, CONFIG_FILE];

/// Lower-case hex sha256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex sha256 of the file at `path`, read in a streaming fashion.
///
/// # Errors
/// The IO error, naming the path.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
