//! What the remote registries (a bucket, an MLflow server) share: where they are, their
//! cache of verified copies, and answering from it while the remote cannot be reached.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferry_core::artifact::ReadLimits;
use ferry_core::bundle::ModelBundle;
use ferry_core::registry::{RegistryError, Resolved};
use ferry_core::{ModelName, ModelRef, Version};

use crate::cache::Cache;

/// A failure that may mean the remote did not answer.
pub(crate) trait Unreachable {
    /// What went wrong, when the remote could not be reached (network, timeouts,
    /// server errors after the retries): the case where a cached copy may stand in.
    fn unreachable(&self) -> Option<String>;
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `name` is a plain file name a manifest may list (no separators, not hidden).
pub(crate) fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A remote registry's location, cache and reachability.
#[derive(Debug)]
pub(crate) struct Remote {
    /// The registry's URL, for messages.
    pub(crate) url: String,
    /// What the remote is called in messages (`the store`, `MLflow`).
    kind: &'static str,
    pub(crate) cache: Cache,
    pub(crate) limits: ReadLimits,
    offline: Mutex<Option<String>>,
}

impl Remote {
    /// The remote at `url`, caching under `cache_dir` up to `cache_max_bytes`.
    pub(crate) fn new(
        url: String,
        kind: &'static str,
        cache_dir: &Path,
        cache_max_bytes: u64,
    ) -> std::io::Result<Self> {
        Ok(Self {
            cache: Cache::new(cache_dir, &url, cache_max_bytes)?,
            url,
            kind,
            limits: ReadLimits::default(),
            offline: Mutex::new(None),
        })
    }

    /// Why answers come from the cache, while they do.
    pub(crate) fn offline(&self) -> Option<String> {
        lock(&self.offline).clone()
    }

    fn went_offline(&self, error: &str) {
        let reason = format!(
            "{} {} cannot be reached ({error}); serving the verified copies cached in {}",
            self.kind,
            self.url,
            self.cache.root().display()
        );
        let mut offline = lock(&self.offline);
        if offline.is_none() {
            tracing::warn!(registry = %self.url, error, "Registry unreachable: answering from the local cache.");
        }
        *offline = Some(reason);
    }

    fn back_online(&self) {
        if lock(&self.offline).take().is_some() {
            tracing::info!(registry = %self.url, "Registry reachable again.");
        }
    }

    pub(crate) fn resolved(&self, name: &ModelName, version: Version) -> Resolved {
        Resolved {
            name: name.clone(),
            version,
            path: self.cache.version_dir(name, version),
        }
    }

    /// The version `reference` stood for when last resolved here, from the cache.
    fn resolve_cached(&self, reference: &ModelRef) -> Option<Version> {
        let name = reference.name();
        let cached = self.cache.versions(name);
        let version = match reference {
            ModelRef::Version(_, v) => *v,
            ModelRef::Alias(_, alias) => self
                .cache
                .alias(name, alias)
                .or_else(|| alias.is_latest().then(|| cached.last().copied()).flatten())?,
        };
        cached.contains(&version).then_some(version)
    }

    /// The remote's model list, or the cached models while it cannot be reached.
    pub(crate) fn models<F: Unreachable>(
        &self,
        listed: Result<Vec<ModelName>, F>,
    ) -> Result<Vec<ModelName>, F> {
        match listed {
            Ok(names) => {
                self.back_online();
                Ok(names)
            }
            Err(f) => match f.unreachable() {
                Some(error) => {
                    let cached = self.cache.models();
                    if cached.is_empty() {
                        return Err(f);
                    }
                    self.went_offline(&error);
                    Ok(cached)
                }
                None => Err(f),
            },
        }
    }

    /// The remote's answer to resolving `reference`, or the version it last stood for
    /// while the remote cannot be reached.
    pub(crate) fn resolve<F: Unreachable>(
        &self,
        reference: &ModelRef,
        remote: Result<Version, F>,
    ) -> Result<Resolved, F> {
        let name = reference.name();
        match remote {
            Ok(version) => {
                self.back_online();
                if let ModelRef::Alias(_, alias) = reference {
                    self.cache.remember_alias(name, alias, version);
                }
                Ok(self.resolved(name, version))
            }
            Err(f) => match (f.unreachable(), self.resolve_cached(reference)) {
                (Some(error), Some(version)) => {
                    self.went_offline(&error);
                    Ok(self.resolved(name, version))
                }
                (Some(_) | None, _) => Err(f),
            },
        }
    }

    /// The remote's answer to loading `reference`, or the cached copy it last stood for
    /// while the remote cannot be reached.
    pub(crate) fn load<F: Unreachable>(
        &self,
        reference: &ModelRef,
        remote: Result<(Version, ModelBundle), F>,
    ) -> Result<(Resolved, ModelBundle), F> {
        let name = reference.name();
        match remote {
            Ok((version, bundle)) => {
                self.back_online();
                if let ModelRef::Alias(_, alias) = reference {
                    self.cache.remember_alias(name, alias, version);
                }
                Ok((self.resolved(name, version), bundle))
            }
            Err(f) => {
                let Some(error) = f.unreachable() else {
                    return Err(f);
                };
                let Some(resolved) = self
                    .resolve_cached(reference)
                    .map(|v| self.resolved(name, v))
                else {
                    return Err(f);
                };
                match ModelBundle::load_with(&resolved.path, self.limits) {
                    Ok(bundle) => {
                        self.went_offline(&error);
                        Ok((resolved, bundle))
                    }
                    Err(_) => Err(f),
                }
            }
        }
    }

    /// The cached copy of `name`/`version` when its manifest is byte for byte
    /// `manifest` and it passes every check; a copy that fails them is removed.
    pub(crate) fn cached_copy(
        &self,
        name: &ModelName,
        version: Version,
        manifest: &[u8],
    ) -> Option<ModelBundle> {
        if !self.cache.holds(name, version, manifest) {
            return None;
        }
        let dir = self.cache.version_dir(name, version);
        match ModelBundle::load_with(&dir, self.limits) {
            Ok(bundle) => {
                self.cache.touch(&dir);
                Some(bundle)
            }
            Err(error) => {
                tracing::warn!(copy = %dir.display(), %error, "Cached copy refused; downloading again.");
                self.cache.discard(&dir);
                None
            }
        }
    }

    /// Moves a finished download into the cache as `name`/`version` and loads it with
    /// every check; a copy that fails them is removed and the error returned.
    pub(crate) fn install(
        &self,
        partial: &Path,
        name: &ModelName,
        version: Version,
    ) -> Result<ModelBundle, RegistryError> {
        let dir = self.cache.install(partial, name, version)?;
        match ModelBundle::load_with(&dir, self.limits) {
            Ok(bundle) => {
                self.cache.evict(&dir);
                Ok(bundle)
            }
            Err(error) => {
                self.cache.discard(&dir);
                Err(RegistryError::Artifact(error))
            }
        }
    }
}
