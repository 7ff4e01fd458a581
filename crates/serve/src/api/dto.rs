//! Wire types of the HTTP API. Responses borrow from the served bundle, so answering a
//! request copies no schema or label.

use std::collections::BTreeMap;

use ferry_core::artifact::{Manifest, RowCounts};
use ferry_core::model::Task;
use ferry_core::schema::{FeatureSpec, TargetSpec};
use ferry_core::{ClassLabel, ModelKind};
use serde::Serialize;

/// `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` while the process answers.
    pub status: &'static str,
    /// The API version.
    pub api_version: &'static str,
}

/// `GET /ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// The API version.
    pub api_version: &'static str,
    /// Served models and their versions.
    pub models: BTreeMap<String, u64>,
    /// Expected models that are not loaded.
    pub missing: Vec<String>,
    /// Present while a remote registry (a bucket, an MLflow server) cannot be reached: why, and that the
    /// models are served from the verified local cache meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_offline: Option<String>,
}

/// One entry of `GET /models`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelSummary<'a> {
    /// Registry name.
    pub name: &'a str,
    /// Served version.
    pub version: u64,
    /// What was asked for (`iris@latest`).
    pub reference: String,
    /// The algorithm.
    #[schema(value_type = String)]
    pub kind: ModelKind,
    /// Classification or regression.
    #[schema(value_type = String)]
    pub task: Task,
    /// When the artifact was written.
    pub created_at: &'a str,
    /// Test-set metrics.
    pub metrics: BTreeMap<&'static str, f64>,
}

/// `GET /models`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList<'a> {
    /// The API version.
    pub api_version: &'static str,
    /// The served models, by name.
    pub models: Vec<ModelSummary<'a>>,
}

/// `GET /models/{name}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelDetail<'a> {
    /// The API version.
    pub api_version: &'static str,
    /// Summary fields.
    #[serde(flatten)]
    pub summary: ModelSummary<'a>,
    /// Every version of the model this server serves.
    pub served_versions: Vec<ServedVersion>,
    /// The last (re)load of this model that failed, while the version above kept
    /// serving; `null` once a reload succeeds.
    pub last_reload_error: Option<crate::state::ReloadFailure>,
    /// The input features a request must provide.
    #[schema(value_type = Vec<Object>)]
    pub features: Vec<FeatureSpec>,
    /// The target column the model predicts.
    #[schema(value_type = Object)]
    pub target: &'a TargetSpec,
    /// Class labels in output order, for classifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<serde_json::Value>>)]
    pub classes: Option<&'a [ClassLabel]>,
    /// Training row counts.
    #[schema(value_type = Object)]
    pub rows: RowCounts,
    /// Commit of the config's repository at training time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<&'a str>,
    /// sha256 of the training data.
    pub data_sha256: &'a str,
}

/// One served version of a model, in `GET /models/{name}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServedVersion {
    /// The version.
    pub version: u64,
    /// What was asked for (`iris@production`, `iris/3`).
    pub reference: String,
    /// Whether requests that name no version get it.
    pub default: bool,
}

impl<'a> ModelSummary<'a> {
    /// The summary of a loaded model.
    #[must_use]
    pub fn new(manifest: &'a Manifest, reference: String) -> Self {
        Self {
            name: manifest.name.as_str(),
            version: manifest.version.0,
            reference,
            kind: manifest.model_kind,
            task: manifest.task,
            created_at: &manifest.created_at,
            metrics: manifest
                .metrics
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect(),
        }
    }
}
