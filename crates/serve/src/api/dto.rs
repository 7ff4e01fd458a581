//! Wire types of the HTTP API. Responses borrow from the served bundle, so answering a
//! request copies no schema or label.

use std::collections::BTreeMap;

use ferry_core::artifact::{Manifest, RowCounts};
use ferry_core::model::Task;
use ferry_core::schema::{FeatureSpec, TargetSpec};
use ferry_core::{ClassLabel, ModelKind, Predictions};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

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

/// One prediction.
#[derive(Debug)]
pub enum Prediction<'a> {
    /// A classifier's label, and its class probabilities when the model gives them.
    Class {
        /// Predicted label.
        label: &'a ClassLabel,
        /// Every class with its probability, in the model's class order.
        classes: &'a [ClassLabel],
        /// The probabilities.
        probabilities: Option<&'a [f64]>,
    },
    /// A regressor's value.
    Value(f64),
}

impl<'a> Prediction<'a> {
    /// One prediction per row of `predictions`, labelled with the model's `classes`.
    ///
    /// # Errors
    /// A message when the predictions do not match the model's task or classes (a bug).
    pub fn batch(
        predictions: &'a Predictions,
        classes: Option<&'a [ClassLabel]>,
    ) -> Result<Vec<Prediction<'a>>, String> {
        match (predictions, classes) {
            (
                Predictions::Classes {
                    labels,
                    probabilities,
                    n_classes,
                },
                Some(classes),
            ) => labels
                .iter()
                .enumerate()
                .map(|(r, &c)| {
                    let label = classes
                        .get(c)
                        .ok_or_else(|| format!("class index {c} out of range"))?;
                    let probabilities = match probabilities {
                        Some(p) => Some(
                            p.get(r * n_classes..(r + 1) * n_classes)
                                .ok_or("probabilities shorter than the batch")?,
                        ),
                        None => None,
                    };
                    Ok(Prediction::Class {
                        label,
                        classes,
                        probabilities,
                    })
                })
                .collect(),
            (Predictions::Values(values), None) => {
                Ok(values.iter().map(|v| Prediction::Value(*v)).collect())
            }
            (Predictions::Classes { .. }, None) | (Predictions::Values(_), Some(_)) => {
                Err("model output does not match its task".to_owned())
            }
        }
    }
}

struct Probabilities<'a>(&'a [ClassLabel], &'a [f64]);

impl Serialize for Probabilities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (label, p) in self.0.iter().zip(self.1) {
            map.serialize_entry(&label.to_string(), p)?;
        }
        map.end()
    }
}

impl Serialize for Prediction<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Prediction::Class {
                label,
                classes,
                probabilities,
            } => {
                let mut map = s.serialize_map(Some(1 + usize::from(probabilities.is_some())))?;
                map.serialize_entry("label", label)?;
                if let Some(p) = probabilities {
                    map.serialize_entry("probabilities", &Probabilities(classes, p))?;
                }
                map.end()
            }
            Prediction::Value(v) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("value", v)?;
                map.end()
            }
        }
    }
}

/// `POST /models/{name}/predict`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PredictResponse<'a> {
    /// The request id (from `X-Request-Id`, or generated).
    pub request_id: &'a str,
    /// Model name.
    pub model: &'a str,
    /// Model version.
    pub model_version: u64,
    /// The API version.
    pub api_version: &'static str,
    /// One prediction per record, in request order: `label` and `probabilities` for a
    /// classifier, `value` for a regressor.
    #[schema(value_type = Vec<Object>)]
    pub predictions: Vec<Prediction<'a>>,
}
