//! Shared server state: the served models behind an atomic swap, the models the server
//! is expected to serve, and request limits. Passed to handlers explicitly (no globals).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use ferry_core::registry::RegistryError;
use ferry_core::{ModelName, ModelRef, Registry};

use crate::api_keys::ApiKeys;
use crate::config::Limits;
use crate::error::ApiError;
use crate::metrics::{Metrics, unix_now};
pub use crate::model_set::{LoadedModel, ModelSet, Pick, ServedVersions};
use crate::prediction_log::PredictionLog;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The served models; swapped whole, read without locks.
    pub models: Arc<ArcSwap<ModelSet>>,
    /// Names of the models the server must serve to be ready.
    pub expected: Arc<Vec<ModelName>>,
    /// Request limits.
    pub limits: Limits,
    /// The model MLflow's `/invocations` answers for, when configured.
    pub mlflow_model: Option<ModelName>,
    /// The API keys; `None` when authentication is off.
    pub auth: Option<Arc<ApiKeys>>,
    /// Where reloads read from and what they re-resolve; `None` for a fixed set.
    pub reloader: Option<Arc<Reloader>>,
    /// The Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The prediction log, when configured.
    pub prediction_log: Option<Arc<PredictionLog>>,
}

/// A reference that could not be (re)loaded, as `GET /models/{name}` shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadFailure {
    /// What was asked for.
    pub reference: String,
    /// Why it failed.
    pub error: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// What a reload did.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// Versions newly served: reference, previous version (if any) and new version.
    pub changed: Vec<ReloadChange>,
    /// References that failed to load; the version served before (if any) stays.
    pub failed: Vec<ReloadFailure>,
    /// References whose version did not change.
    pub unchanged: usize,
}

/// One model version swapped in by a reload.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadChange {
    /// What was asked for.
    pub reference: String,
    /// The version served before, if any.
    pub from: Option<u64>,
    /// The version served now.
    pub to: u64,
}

/// Re-resolves the served references against the registry and swaps in what changed.
pub struct Reloader {
    registry: Arc<dyn Registry>,
    /// The references to serve; empty: the `latest` of every model in the registry.
    references: Vec<ModelRef>,
    /// One reload at a time.
    lock: Mutex<()>,
    /// The last failure of each model, cleared when it loads again.
    failures: Mutex<BTreeMap<String, ReloadFailure>>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("registry", &self.registry.location())
            .field("references", &self.references)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader of `references` (empty: every model's `latest`) from `registry`,
    /// remembering the failures of the initial load.
    #[must_use]
    pub fn new(
        registry: Arc<dyn Registry>,
        references: Vec<ModelRef>,
        initial_failures: &[LoadFailure],
    ) -> Self {
        let failures = initial_failures
            .iter()
            .map(|f| {
                (
                    f.reference.name().to_string(),
                    ReloadFailure {
                        reference: f.reference.to_string(),
                        error: f.error.to_string(),
                        at: now(),
                    },
                )
            })
            .collect();
        Self {
            registry,
            references,
            lock: Mutex::new(()),
            failures: Mutex::new(failures),
        }
    }

    /// Why the registry answers from its local cache instead of its store, while it
    /// does (see [`Registry::offline`]).
    #[must_use]
    pub fn offline(&self) -> Option<String> {
        self.registry.offline()
    }

    /// The last failure of model `name`, if its latest (re)load failed.
    #[must_use]
    pub fn failure(&self, name: &str) -> Option<ReloadFailure> {
        self.failures.lock().ok().and_then(|f| f.get(name).cloned())
    }

    /// Re-resolves every reference, loads and verifies each version that changed (off
    /// the request path: call it from a blocking thread), and swaps the new set into
    /// `models` at once. A version that fails to load is logged and reported, and the
    /// one served before keeps serving. Requests in flight finish on the models they
    /// started with.
    pub fn reload(&self, models: &ArcSwap<ModelSet>) -> ReloadReport {
        let _one_at_a_time = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut report = ReloadReport::default();
        let references = if self.references.is_empty() {
            match self.registry.models() {
                Ok(names) => names.into_iter().map(ModelRef::latest).collect(),
                Err(e) => {
                    report.failed.push(ReloadFailure {
                        reference: "(every model)".to_owned(),
                        error: format!("cannot list the registry: {e}"),
                        at: now(),
                    });
                    return report;
                }
            }
        } else {
            self.references.clone()
        };
        let current = models.load_full();
        let mut next = ModelSet::new();
        let mut seen: Vec<ModelName> = Vec::new();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for reference in references {
            let first = !seen.contains(reference.name());
            if first {
                seen.push(reference.name().clone());
            }
            let old = current.by_reference(&reference).cloned();
            let unchanged = match (&old, self.registry.resolve(&reference)) {
                (Some(old), Ok(resolved)) => old.resolved.version == resolved.version,
                (None, Ok(_)) | (Some(_) | None, Err(_)) => false,
            };
            if let (true, Some(old)) = (unchanged, &old) {
                next.insert_shared(Arc::clone(old), first);
                report.unchanged += 1;
                continue;
            }
            match self.registry.load(&reference) {
                Ok((resolved, bundle)) => {
                    tracing::info!(model = %reference, version = %resolved.version, "Reloaded model.");
                    report.changed.push(ReloadChange {
                        reference: reference.to_string(),
                        from: old.as_ref().map(|m| m.resolved.version.0),
                        to: resolved.version.0,
                    });
                    failures.remove(reference.name().as_str());
                    next.insert(LoadedModel::new(reference, resolved, bundle), first);
                }
                Err(error) => {
                    tracing::error!(model = %reference, %error, "Reload refused; the version served before keeps serving.");
                    let failure = ReloadFailure {
                        reference: reference.to_string(),
                        error: error.to_string(),
                        at: now(),
                    };
                    failures.insert(reference.name().to_string(), failure.clone());
                    report.failed.push(failure);
                    if let Some(old) = old {
                        next.insert_shared(old, first);
                    }
                }
            }
        }
        // Unchanged models keep their Arc: swapping the whole set is one pointer store.
        models.store(Arc::new(next));
        report
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl AppState {
    /// State serving `models`, ready when every name in `expected` is among them.
    #[must_use]
    pub fn new(models: ModelSet, expected: Vec<ModelName>, limits: Limits) -> Self {
        let metrics = Metrics::new();
        metrics.models(&models, unix_now());
        Self {
            models: Arc::new(ArcSwap::from_pointee(models)),
            expected: Arc::new(expected),
            limits,
            mlflow_model: None,
            auth: None,
            reloader: None,
            metrics: Arc::new(metrics),
            prediction_log: None,
        }
    }

    /// Runs a reload and records it in the metrics.
    ///
    /// # Errors
    /// None from the reload itself (its failures are in the report); `None` when the
    /// state has no reloader.
    #[must_use]
    pub fn reload(&self) -> Option<ReloadReport> {
        let reloader = self.reloader.as_ref()?;
        let report = reloader.reload(&self.models);
        self.metrics
            .reload(report.changed.len(), report.failed.len());
        if !report.changed.is_empty() {
            self.metrics.models(&self.models.load(), unix_now());
        }
        Some(report)
    }

    /// The same state, reloadable by `reloader` (`POST /admin/reload`, the watcher).
    #[must_use]
    pub fn with_reloader(mut self, reloader: Reloader) -> Self {
        self.reloader = Some(Arc::new(reloader));
        self
    }

    /// The same state, logging a sample of its predictions to `log`.
    #[must_use]
    pub fn with_prediction_log(mut self, log: Option<PredictionLog>) -> Self {
        self.prediction_log = log.map(Arc::new);
        self
    }

    /// The same state, with requests checked against `keys` (`None`: no check).
    #[must_use]
    pub fn with_auth(mut self, keys: Option<ApiKeys>) -> Self {
        self.auth = keys.map(Arc::new);
        self
    }

    /// The same state, with MLflow's `/invocations` answering for `model`.
    #[must_use]
    pub fn with_mlflow_model(mut self, model: Option<ModelName>) -> Self {
        self.mlflow_model = model;
        self
    }

    /// The model MLflow's `/invocations` answers for in `models` (the set [`Self::models`]
    /// holds, loaded once for the request): the configured one, else the only model
    /// served.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] when several models are served and none is
    /// configured, or the lookup's errors.
    pub fn mlflow_model_in<'s>(
        &self,
        models: &'s ModelSet,
    ) -> Result<&'s Arc<LoadedModel>, ApiError> {
        if let Some(name) = &self.mlflow_model {
            return self.find_in(models, name.as_str(), &Pick::Default);
        }
        let mut defaults = models.defaults();
        match (defaults.next(), defaults.next()) {
            (Some(only), None) => Ok(only),
            (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
                "several models are served and MLflow's /invocations names none: start serve \
                 with --mlflow-model NAME (config key mlflow_model), or use \
                 /models/{name}/predict"
                    .to_owned(),
            )),
            (None, _) => Err(ApiError::ModelNotLoaded("(the MLflow model)".to_owned())),
        }
    }

    /// The expected models that are not loaded.
    #[must_use]
    pub fn missing(&self) -> Vec<String> {
        let models = self.models.load();
        self.expected
            .iter()
            .filter(|n| !models.contains(n.as_str()))
            .map(ToString::to_string)
            .collect()
    }

    /// The served model `name` at the version `pick` asks for, or why there is none:
    /// not served at all (404), not at that version or alias (404), or expected but
    /// refused at load (503). A shared handle, for answers that keep the model beyond
    /// the lookup; the prediction routes borrow it instead ([`Self::find_in`]).
    ///
    /// # Errors
    /// As [`Self::find_in`].
    pub fn find(&self, name: &str, pick: &Pick) -> Result<Arc<LoadedModel>, ApiError> {
        self.find_in(&self.models.load(), name, pick)
            .map(Arc::clone)
    }

    /// As [`Self::find`], in `models`: the set [`Self::models`] holds, loaded once by the
    /// request (`state.models.load()`, an `arc_swap` guard, which keeps that set alive
    /// through a reload without writing anything the other workers read). Borrowing the
    /// model from it spares the request an `Arc` clone and drop, whose reference count
    /// every worker thread writes: that cache line would move between the cores on every
    /// request.
    ///
    /// # Errors
    /// [`ApiError::ModelNotFound`], [`ApiError::VersionNotFound`] or
    /// [`ApiError::ModelNotLoaded`].
    pub fn find_in<'s>(
        &self,
        models: &'s ModelSet,
        name: &str,
        pick: &Pick,
    ) -> Result<&'s Arc<LoadedModel>, ApiError> {
        if let Some(m) = models.get(name, pick) {
            return Ok(m);
        }
        match pick {
            Pick::Version(_) | Pick::Alias(_) if models.contains(name) => {
                Err(ApiError::VersionNotFound {
                    name: name.to_owned(),
                    pick: pick.to_string(),
                })
            }
            Pick::Default | Pick::Version(_) | Pick::Alias(_) => {
                if self.expected.iter().any(|n| n.as_str() == name) {
                    Err(ApiError::ModelNotLoaded(name.to_owned()))
                } else {
                    Err(ApiError::ModelNotFound(name.to_owned()))
                }
            }
        }
    }
}

/// A model that could not be loaded.
#[derive(Debug)]
pub struct LoadFailure {
    /// What was asked for.
    pub reference: ModelRef,
    /// Why it failed.
    pub error: RegistryError,
}

/// Loads `references` from `registry`, or the `latest` of every model when `references`
/// is empty. Returns the loaded models, the names the server is expected to serve and
/// the failures; a failed model is left out and the others are still served.
///
/// # Errors
/// [`RegistryError`] only when the registry itself cannot be listed.
pub fn load_models(
    registry: &dyn Registry,
    references: &[ModelRef],
) -> Result<(ModelSet, Vec<ModelName>, Vec<LoadFailure>), RegistryError> {
    let references: Vec<ModelRef> = if references.is_empty() {
        registry
            .models()?
            .into_iter()
            .map(ModelRef::latest)
            .collect()
    } else {
        references.to_vec()
    };
    let mut models = ModelSet::new();
    let mut failures = Vec::new();
    let mut expected: Vec<ModelName> = Vec::new();
    for reference in references {
        // The first reference given for a name is its default version.
        let first = !expected.contains(reference.name());
        if first {
            expected.push(reference.name().clone());
        }
        match registry.load(&reference) {
            Ok((resolved, bundle)) => {
                models.insert(LoadedModel::new(reference, resolved, bundle), first)
            }
            Err(error) => failures.push(LoadFailure { reference, error }),
        }
    }
    Ok((models, expected, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::Version;
    use ferry_core::registry::contract;

    #[test]
    fn several_versions_of_a_model_are_served_with_one_default() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ferry_core::LocalRegistry::new(dir.path());
        contract::CHECKS
            .iter()
            .find(|(name, _)| name.starts_with("publish numbers"))
            .map(|(_, check)| check(&registry))
            .unwrap();
        let load = |v: u64| {
            let reference = ModelRef::Version("m".parse().unwrap(), Version(v));
            let (resolved, bundle) = registry.load(&reference).unwrap();
            LoadedModel::new(reference, resolved, bundle)
        };
        let mut set = ModelSet::new();
        set.insert(load(3), true);
        set.insert(load(1), false);
        let state = AppState::new(set, vec!["m".parse().unwrap()], Limits::default());
        assert_eq!(
            state.find("m", &Pick::Default).unwrap().resolved.version,
            Version(3)
        );
        assert_eq!(
            state
                .find("m", &Pick::Version(Version(1)))
                .unwrap()
                .resolved
                .version,
            Version(1)
        );
        assert!(matches!(
            state.find("m", &Pick::Version(Version(2))),
            Err(ApiError::VersionNotFound { .. })
        ));
        assert!(matches!(
            state.find("m", &Pick::Alias("production".parse().unwrap())),
            Err(ApiError::VersionNotFound { .. })
        ));
        assert!(matches!(
            state.find("other", &Pick::Default),
            Err(ApiError::ModelNotFound(_))
        ));
        assert_eq!(state.models.load().defaults().count(), 1);
        assert!(state.missing().is_empty());
    }
}
