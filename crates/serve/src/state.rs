//! Shared server state: the served models behind an atomic swap, the models the server
//! is expected to serve, and request limits. Passed to handlers explicitly (no globals).

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ferry_core::registry::{RegistryError, Resolved};
use ferry_core::{AliasName, ModelBundle, ModelName, ModelRef, Registry, Version};

use crate::config::Limits;
use crate::error::ApiError;

/// A model version being served.
#[derive(Debug)]
pub struct LoadedModel {
    /// What was asked for (`iris`, `iris@production`, `iris/3`).
    pub reference: ModelRef,
    /// The version it resolved to.
    pub resolved: Resolved,
    /// The verified bundle.
    pub bundle: ModelBundle,
}

/// Which served version of a model a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// The model's default version (the first `--model` given for its name).
    Default,
    /// An explicit version number.
    Version(Version),
    /// The version loaded for `--model name@alias` (`name` alone is `name@latest`).
    Alias(AliasName),
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::Default => f.write_str("its default version"),
            Pick::Version(v) => write!(f, "version {v}"),
            Pick::Alias(a) => write!(f, "alias '{a}'"),
        }
    }
}

/// The served versions of one model and the one a request without a version gets.
#[derive(Debug, Clone)]
pub struct ServedVersions {
    default: Version,
    versions: BTreeMap<Version, Arc<LoadedModel>>,
}

impl ServedVersions {
    /// The version a request that names no version gets.
    #[must_use]
    pub fn default_model(&self) -> Option<&Arc<LoadedModel>> {
        self.versions.get(&self.default)
    }

    /// Every served version, in version order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.versions.values()
    }

    /// The version a request picks.
    #[must_use]
    pub fn pick(&self, pick: &Pick) -> Option<&Arc<LoadedModel>> {
        match pick {
            Pick::Default => self.default_model(),
            Pick::Version(v) => self.versions.get(v),
            Pick::Alias(alias) => self
                .versions
                .values()
                .find(|m| matches!(&m.reference, ModelRef::Alias(_, a) if a == alias)),
        }
    }
}

/// The served models, keyed by name and version: several versions of a model can be
/// served at once, one of them the default for requests that name no version.
#[derive(Debug, Clone, Default)]
pub struct ModelSet {
    models: BTreeMap<ModelName, ServedVersions>,
}

impl ModelSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `model` under its name and resolved version; the first version added for a
    /// name, or one added with `default`, becomes the name's default. Replaces a version
    /// already present.
    pub fn insert(&mut self, model: LoadedModel, default: bool) {
        let name = model.resolved.name.clone();
        let version = model.resolved.version;
        let entry = self.models.entry(name).or_insert_with(|| ServedVersions {
            default: version,
            versions: BTreeMap::new(),
        });
        if default {
            entry.default = version;
        }
        entry.versions.insert(version, Arc::new(model));
    }

    /// The model `name` at the version `pick` asks for.
    #[must_use]
    pub fn get(&self, name: &str, pick: &Pick) -> Option<&Arc<LoadedModel>> {
        self.models.get(name)?.pick(pick)
    }

    /// The served versions of `name`.
    #[must_use]
    pub fn versions(&self, name: &str) -> Option<&ServedVersions> {
        self.models.get(name)
    }

    /// True when some version of `name` is served.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.models.contains_key(name)
    }

    /// The default version of every served model, by name.
    pub fn defaults(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.models
            .values()
            .filter_map(ServedVersions::default_model)
    }

    /// True when nothing is served.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

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
    pub auth: Option<Arc<crate::auth::ApiKeys>>,
}

impl AppState {
    /// State serving `models`, ready when every name in `expected` is among them.
    #[must_use]
    pub fn new(models: ModelSet, expected: Vec<ModelName>, limits: Limits) -> Self {
        Self {
            models: Arc::new(ArcSwap::from_pointee(models)),
            expected: Arc::new(expected),
            limits,
            mlflow_model: None,
            auth: None,
        }
    }

    /// The same state, with requests checked against `keys` (`None`: no check).
    #[must_use]
    pub fn with_auth(mut self, keys: Option<crate::auth::ApiKeys>) -> Self {
        self.auth = keys.map(Arc::new);
        self
    }

    /// The same state, with MLflow's `/invocations` answering for `model`.
    #[must_use]
    pub fn with_mlflow_model(mut self, model: Option<ModelName>) -> Self {
        self.mlflow_model = model;
        self
    }

    /// The model MLflow's `/invocations` answers for: the configured one, else the only
    /// model served.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] when several models are served and none is
    /// configured, or the lookup's errors.
    pub fn mlflow_model(&self) -> Result<Arc<LoadedModel>, ApiError> {
        if let Some(name) = &self.mlflow_model {
            return self.find(name.as_str(), &Pick::Default);
        }
        let models = self.models.load();
        let mut defaults = models.defaults();
        match (defaults.next(), defaults.next()) {
            (Some(only), None) => Ok(Arc::clone(only)),
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
    /// refused at load (503).
    ///
    /// # Errors
    /// [`ApiError::ModelNotFound`], [`ApiError::VersionNotFound`] or
    /// [`ApiError::ModelNotLoaded`].
    pub fn find(&self, name: &str, pick: &Pick) -> Result<Arc<LoadedModel>, ApiError> {
        let models = self.models.load();
        if let Some(m) = models.get(name, pick) {
            return Ok(Arc::clone(m));
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
            Ok((resolved, bundle)) => models.insert(
                LoadedModel {
                    reference,
                    resolved,
                    bundle,
                },
                first,
            ),
            Err(error) => failures.push(LoadFailure { reference, error }),
        }
    }
    Ok((models, expected, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
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
            LoadedModel {
                reference,
                resolved,
                bundle,
            }
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
