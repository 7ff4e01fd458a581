use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ModelName, Version};
use crate::label::ClassLabel;
use crate::metrics::Metric;
use crate::model::{ModelKind, Task};
use crate::schema::TargetSpec;

/// Row counts of the training run that produced an artifact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCounts {
    /// Rows read from the data file.
    pub read: usize,
    /// Rows that passed schema validation.
    pub valid: usize,
    /// Rows sent to the dead-letter file.
    pub invalid: usize,
    /// Rows fitted on.
    pub train: usize,
    /// Rows evaluated on.
    pub test: usize,
}

/// `manifest.json`: what an artifact is, where it came from, how good it is, and the
/// checksum of each of its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Layout version of the artifact (see [`FORMAT_VERSION`](super::FORMAT_VERSION)).
    pub format_version: u32,
    /// Model name in the registry.
    pub name: ModelName,
    /// Version number in the registry.
    pub version: Version,
    /// The algorithm.
    pub model_kind: ModelKind,
    /// Classification or regression.
    pub task: Task,
    /// When the artifact was written (RFC 3339, UTC).
    pub created_at: String,
    /// Commit of the repository holding the config, when it is a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    /// sha256 of `config.yaml`.
    pub config_sha256: String,
    /// sha256 of the training data file.
    pub data_sha256: String,
    /// The target column.
    pub target: TargetSpec,
    /// Class labels in output order, for classifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<ClassLabel>>,
    /// Row counts of the run.
    pub rows: RowCounts,
    /// Test-set metrics.
    pub metrics: BTreeMap<Metric, f64>,
    /// Versions of the crates that wrote the artifact (`ferry-core`, `smartcore`).
    pub library_versions: BTreeMap<String, String>,
    /// sha256 of every other file in the directory, by file name.
    pub files: BTreeMap<String, String>,
    /// sha256 of this manifest's compact JSON with this field empty
    /// ([`Manifest::content_sha256`]): an edited metric or checksum is refused.
    #[serde(default)]
    pub manifest_sha256: String,
}

impl Manifest {
    /// The checksum of the manifest's content: sha256 of its compact JSON (fields in
    /// declared order, maps sorted by key) with `manifest_sha256` empty.
    ///
    /// # Errors
    /// [`serde_json::Error`] when serialisation fails.
    pub fn content_sha256(&self) -> Result<String, serde_json::Error> {
        let mut unsealed = self.clone();
        unsealed.manifest_sha256 = String::new();
        serde_json::to_vec(&unsealed).map(|bytes| super::sha256_hex(&bytes))
    }
}
