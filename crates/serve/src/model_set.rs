//! The served models: each loaded version ([`LoadedModel`]), the versions of one name
//! ([`ServedVersions`]) and the whole set ([`ModelSet`]) that the server swaps at a
//! reload. Below the server state so that metrics and protocols can read the set
//! without depending on the state that owns it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use actix_web::http::header::HeaderValue;

use ferry_core::registry::Resolved;
use ferry_core::{AliasName, ModelBundle, ModelName, ModelRef, Version};

use crate::answer::AnswerText;
use crate::monitor::DriftWindow;

/// A model version being served.
#[derive(Debug)]
pub struct LoadedModel {
    /// What was asked for (`iris`, `iris@production`, `iris/3`).
    pub reference: ModelRef,
    /// The version it resolved to.
    pub resolved: Resolved,
    /// The verified bundle.
    pub bundle: ModelBundle,
    /// Its live drift window; `None` for artifacts without reference statistics.
    pub drift: Option<DriftWindow>,
    /// Its version as the `X-Model-Version` value of its answers, made once over static
    /// text: a clone per answer copies a pointer and writes no reference count that the
    /// worker threads share.
    pub version_header: HeaderValue,
    /// The JSON text its native, KServe V2 and MLflow answers repeat (name, version,
    /// classes), made once here.
    pub answer: AnswerText,
}

impl LoadedModel {
    /// A loaded version, with an empty drift window when its artifact has reference
    /// statistics.
    #[must_use]
    pub fn new(reference: ModelRef, resolved: Resolved, bundle: ModelBundle) -> Self {
        let drift = bundle.reference().map(|r| DriftWindow::new(Arc::clone(r)));
        let manifest = bundle.manifest();
        let version_header = HeaderValue::from_static(static_version_text(manifest.version.0));
        let answer = AnswerText::new(manifest.name.as_str(), manifest.version.0, bundle.classes());
        Self {
            reference,
            resolved,
            bundle,
            drift,
            version_header,
            answer,
        }
    }

    /// Its version as text (`"3"`), as the KServe V2 answers give it.
    #[must_use]
    pub fn version_text(&self) -> &str {
        // Made from a number: always ASCII digits.
        self.version_header.to_str().unwrap_or_default()
    }
}

/// The decimal text of `version`, made once per version number for the life of the
/// process.
///
/// Every answer carries its model's version header, a clone of the one value the model
/// holds. Over static text that clone copies a pointer; over text made at run time it
/// would add to (and, once the answer is written, take from) a reference count that
/// every worker thread writes, and that cache line would move between the cores on
/// every request. A process keeps one short string per distinct version number it has
/// loaded, reloads included.
fn static_version_text(version: u64) -> &'static str {
    static TEXTS: LazyLock<Mutex<HashMap<u64, &'static str>>> = LazyLock::new(Mutex::default);
    TEXTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(version)
        .or_insert_with(|| Box::leak(version.to_string().into_boxed_str()))
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
        self.insert_shared(Arc::new(model), default);
    }

    /// [`ModelSet::insert`] for a model already shared (kept across a reload).
    pub fn insert_shared(&mut self, model: Arc<LoadedModel>, default: bool) {
        let name = model.resolved.name.clone();
        let version = model.resolved.version;
        let entry = self.models.entry(name).or_insert_with(|| ServedVersions {
            default: version,
            versions: BTreeMap::new(),
        });
        if default {
            entry.default = version;
        }
        entry.versions.insert(version, model);
    }

    /// The loaded model that was asked for as `reference`, if any.
    #[must_use]
    pub fn by_reference(&self, reference: &ModelRef) -> Option<&Arc<LoadedModel>> {
        self.models
            .get(reference.name().as_str())?
            .versions
            .values()
            .find(|m| &m.reference == reference)
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

    /// Every served version of every model.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.models.values().flat_map(ServedVersions::all)
    }

    /// The default version of every served model, by name.
    pub fn defaults(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.models
            .values()
            .filter_map(ServedVersions::default_model)
    }

    /// The name of every served model, once each.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(ModelName::as_str)
    }

    /// True when nothing is served.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::static_version_text;

    #[test]
    fn a_version_text_is_made_once_per_version_number() {
        let first = static_version_text(12);
        assert_eq!(first, "12");
        assert!(std::ptr::eq(first, static_version_text(12)));
        assert_eq!(static_version_text(u64::MAX), u64::MAX.to_string());
    }
}
