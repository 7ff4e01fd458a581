//! The artifact format: one directory per model version holding a manifest, the fitted
//! model, the fitted preprocessor, the feature schema and the resolved config, every
//! file's sha256 recorded in the manifest.
//!
//! ```text
//! artifacts/<model>/<version>/
//!   manifest.json      format_version, kind, provenance, metrics, sha256 of every other
//!                      file, and manifest_sha256 (the manifest's own checksum)
//!   model.json         a parametric TrainedModel (linear, logistic), or
//!   model.bin          a tree model in Ferry's binary tree encoding
//!   preprocessor.json  FittedPreprocessor
//!   schema.json        FeatureSchema
//!   config.yaml        the resolved pipeline config
//!   reference.json     reference statistics of the training rows, for drift
//!                      (optional: versions trained before drift have none)
//! ```
//!
//! Writers ([`write_version_dir`]) build the directory under a temporary name and rename
//! it into place, so a version is complete or absent. Readers
//! ([`read_version_dir`], behind [`ModelBundle::load`](crate::bundle::ModelBundle::load))
//! check, in order: the manifest parses; its `format_version` is one this build reads
//! (a newer one is refused, a retired one is refused with the advice to retrain); the
//! files that format requires are listed, by plain file names; the manifest's own
//! checksum matches its content; every file is within [`ReadLimits`] and matches its
//! checksum; the parts parse and agree.

mod error;
mod manifest;
mod reader;
mod writer;

pub use error::ArtifactError;
pub use manifest::{Manifest, RowCounts};
pub use reader::read_version_dir;
pub use writer::{ArtifactFiles, write_version_dir};

use sha2::{Digest, Sha256};

pub use crate::model::{MODEL_BIN, MODEL_JSON};

/// The artifact layout version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest layout version this build reads. Format 1 stored trees in smartcore's
/// private layout and had no manifest checksum: its artifacts must be retrained.
pub const OLDEST_FORMAT_VERSION: u32 = 2;

/// Largest file a reader accepts by default.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// File name of the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the fitted preprocessor.
pub const PREPROCESSOR_FILE: &str = "preprocessor.json";
/// File name of the feature schema.
pub const SCHEMA_FILE: &str = "schema.json";
/// File name of the resolved pipeline config.
pub const CONFIG_FILE: &str = "config.yaml";

/// The files a version of layout `format_version` must list besides the manifest and
/// its model file (exactly one of [`MODEL_JSON`] and [`MODEL_BIN`]); `None` for a
/// format this build does not read.
#[must_use]
pub fn required_files(format_version: u32) -> Option<&'static [&'static str]> {
    match format_version {
        2 => Some(&[PREPROCESSOR_FILE, SCHEMA_FILE, CONFIG_FILE]),
        _ => None,
    }
}

/// Limits a reader applies to an artifact. Serve and publishing use the same ones, so
/// a version that publishing accepted is one serve loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: MAX_FILE_BYTES,
        }
    }
}

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
