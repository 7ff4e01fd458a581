//! Shared server state: the served models behind an atomic swap, the models the server
//! is expected to serve, and request limits. Passed to handlers explicitly (no globals).

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ferry_core::registry::{RegistryError, Resolved};
use ferry_core::{LocalRegistry, ModelBundle, ModelName, ModelRef};

use crate::config::Limits;

/// A model being served.
#[derive(Debug)]
pub struct LoadedModel {
    /// What was asked for (`iris`, `iris@production`, `iris/3`).
    pub reference: ModelRef,
    /// The version it resolved to.
    pub resolved: Resolved,
    /// The verified bundle.
    pub bundle: ModelBundle,
}

/// The served models by name.
pub type ModelSet = BTreeMap<String, Arc<LoadedModel>>;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The served models; swapped whole, read without locks.
    pub models: Arc<ArcSwap<ModelSet>>,
    /// Names of the models the server must serve to be ready.
    pub expected: Arc<Vec<ModelName>>,
    /// Request limits.
    pub limits: Limits,
}

impl AppState {
    /// State serving `models`, ready when every name in `expected` is among them.
    #[must_use]
    pub fn new(models: ModelSet, expected: Vec<ModelName>, limits: Limits) -> Self {
        Self {
            models: Arc::new(ArcSwap::from_pointee(models)),
            expected: Arc::new(expected),
            limits,
        }
    }

    /// The expected models that are not loaded.
    #[must_use]
    pub fn missing(&self) -> Vec<String> {
        let models = self.models.load();
        self.expected
            .iter()
            .filter(|n| !models.contains_key(n.as_str()))
            .map(ToString::to_string)
            .collect()
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
    registry: &LocalRegistry,
    references: &[ModelRef],
) -> Result<(ModelSet, Vec<ModelName>, Vec<LoadFailure>), RegistryError> {
    let references: Vec<ModelRef> = if references.is_empty() {
        registry
            .models()?
            .into_iter()
            .map(|n| ModelRef::Alias(n, ferry_core::registry::LATEST.to_owned()))
            .collect()
    } else {
        references.to_vec()
    };
    let mut models = ModelSet::new();
    let mut failures = Vec::new();
    let expected = references.iter().map(|r| r.name().clone()).collect();
    for reference in references {
        match registry.load(&reference) {
            Ok((resolved, bundle)) => {
                models.insert(
                    reference.name().to_string(),
                    Arc::new(LoadedModel {
                        reference,
                        resolved,
                        bundle,
                    }),
                );
            }
            Err(error) => failures.push(LoadFailure { reference, error }),
        }
    }
    Ok((models, expected, failures))
}
