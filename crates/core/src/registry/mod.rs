//! Model registries: where versions of a model are published, listed, resolved and
//! loaded, and where aliases (`latest`, `production`, ...) point.
//!
//! [`Registry`] is the contract; train and serve hold a `Arc<dyn Registry>` chosen from
//! configuration ([`RegistryLocation`]) and never name an implementation. The local
//! directory ([`LocalRegistry`]) is the embedded default; other stores (MLflow's model
//! registry) implement the same trait and must pass the same contract suite
//! (`registry::contract`, compiled for tests and with the `contract-suite` feature).
//!
//! Every implementation keeps these rules:
//! - versions are increasing integers per model, claimed atomically, never reused;
//! - a version is complete and verified (read back with the same reader and limits serve
//!   uses) before any alias points to it, so publishing cannot lose a served model;
//! - `latest` only moves forward on publish; a bare name resolves through it.

mod local;

#[cfg(any(test, feature = "contract-suite"))]
pub mod contract;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use local::LocalRegistry;

use crate::artifact::{ArtifactError, ArtifactFiles, Manifest};
use crate::bundle::ModelBundle;
pub use crate::ids::{AliasName, LATEST, ModelName, ModelRef, Version};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A filesystem operation failed; the message names the path.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The registry has no model of that name (caller's fault).
    #[error("model '{0}' is not in the registry")]
    ModelNotFound(ModelName),
    /// The model has no such version (caller's fault).
    #[error("model '{name}' has no version {version}")]
    VersionNotFound {
        /// The model.
        name: ModelName,
        /// The version asked for.
        version: Version,
    },
    /// The model has no such alias (caller's fault).
    #[error("model '{name}' has no alias '{alias}'")]
    AliasNotFound {
        /// The model.
        name: ModelName,
        /// The alias asked for.
        alias: AliasName,
    },
    /// A remote store failed a request (unreachable, refused, or answered an error); the
    /// message names the object.
    #[error("{location}: {message}")]
    Store {
        /// The object or prefix (`s3://bucket/prefix/iris/3/manifest.json`).
        location: String,
        /// The store's error.
        message: String,
    },
    /// An alias record does not hold a version number.
    #[error("alias file {path} does not hold a version number")]
    CorruptAlias {
        /// The alias file.
        path: PathBuf,
    },
    /// The artifact failed to write or to load.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A version cannot be deleted while aliases point to it (caller's fault).
    #[error("model '{name}' version {version} is in use by alias {}; move or delete the alias first", aliases.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", "))]
    VersionInUse {
        /// The model.
        name: ModelName,
        /// The version asked to delete.
        version: Version,
        /// The aliases pointing to it.
        aliases: Vec<AliasName>,
    },
    /// The model has no run record of that id (caller's fault).
    #[error("model '{name}' has no run '{run}'")]
    RunNotFound {
        /// The model.
        name: ModelName,
        /// The run id asked for.
        run: String,
    },
    /// A shortened run id matches more than one run of the model (caller's fault).
    #[error("model '{name}' has {} runs whose id starts with '{prefix}': {}; give more of the id", matches.len(), list_some(matches))]
    RunAmbiguous {
        /// The model.
        name: ModelName,
        /// The start of a run id, as asked for.
        prefix: String,
        /// The ids of the runs it matches, oldest first.
        matches: Vec<String>,
    },
    /// An alias has no earlier target to roll back to (caller's fault).
    #[error("alias '{alias}' of model '{name}' has no earlier version to roll back to")]
    NoEarlierVersion {
        /// The model.
        name: ModelName,
        /// The alias.
        alias: AliasName,
    },
}

impl RegistryError {
    /// True when the request cannot be carried out as asked (a caller's fault: something
    /// that does not exist, a version in use, no history to roll back to), false for
    /// storage and artifact failures.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        self.is_not_found()
            || matches!(
                self,
                RegistryError::VersionInUse { .. }
                    | RegistryError::NoEarlierVersion { .. }
                    | RegistryError::RunAmbiguous { .. }
            )
    }

    /// True when the request named something that does not exist (a caller's fault),
    /// false for storage and artifact failures.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        match self {
            RegistryError::ModelNotFound(_)
            | RegistryError::VersionNotFound { .. }
            | RegistryError::AliasNotFound { .. }
            | RegistryError::RunNotFound { .. } => true,
            RegistryError::Io(_)
            | RegistryError::Store { .. }
            | RegistryError::CorruptAlias { .. }
            | RegistryError::Artifact(_)
            | RegistryError::VersionInUse { .. }
            | RegistryError::NoEarlierVersion { .. }
            | RegistryError::RunAmbiguous { .. } => false,
        }
    }
}

/// The first five of `ids`, comma-separated, and how many more there are.
fn list_some(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids[..ids.len().min(SHOWN)].join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

/// Whether `id` is a run id [`Registry::write_run`] accepts: 1 to 64 characters of
/// `A-Z`, `a-z`, `0-9`, `-`, `_`, `.`, not starting with `.` (one safe path component or
/// object-key segment).
#[must_use]
pub fn is_valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `Ok` for a run id (or search key) [`is_valid_run_id`] accepts, else
/// [`RegistryError::RunNotFound`] naming it under `name`.
///
/// # Errors
/// [`RegistryError::RunNotFound`].
pub fn check_run_id(name: &ModelName, id: &str) -> Result<(), RegistryError> {
    if is_valid_run_id(id) {
        Ok(())
    } else {
        Err(RegistryError::RunNotFound {
            name: name.clone(),
            run: id.to_owned(),
        })
    }
}

/// A resolved reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The model.
    pub name: ModelName,
    /// The version the reference points to.
    pub version: Version,
    /// The local directory holding the version (for a remote registry, its verified
    /// local copy).
    pub path: PathBuf,
}

/// What [`Registry::publish`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The new version and its directory.
    pub resolved: Resolved,
    /// The manifest as written, with the version and checksums filled in.
    pub manifest: Manifest,
    /// Where `latest` points now: the new version, or a newer one a concurrent publish
    /// registered first.
    pub latest: Version,
}

/// A store of versioned model artifacts with aliases.
///
/// Object-safe and `Send + Sync` on purpose: train and serve pick an implementation
/// from configuration at run time and share it across threads, so they hold an
/// `Arc<dyn Registry>` and the rules above are the trait's contract, checked for every
/// implementation by the same suite (`registry::contract`).
pub trait Registry: Send + Sync + fmt::Debug {
    /// Where the registry lives, for messages (`artifacts`, `/srv/models`).
    fn location(&self) -> String;

    /// The models that have at least one version, sorted by name. A registry that does
    /// not exist yet is empty.
    ///
    /// # Errors
    /// [`RegistryError::Io`] when the store cannot be listed.
    fn models(&self) -> Result<Vec<ModelName>, RegistryError>;

    /// The complete versions of `name`, ascending; empty for an unknown model.
    ///
    /// # Errors
    /// [`RegistryError::Io`] when the store cannot be listed.
    fn versions(&self, name: &ModelName) -> Result<Vec<Version>, RegistryError>;

    /// The aliases of `name` and the versions they point to.
    ///
    /// # Errors
    /// [`RegistryError::Io`], or [`RegistryError::CorruptAlias`] for an unreadable alias.
    fn aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, Version>, RegistryError>;

    /// Resolves `reference` to an existing version. `name@latest` falls back to the
    /// highest version when the alias was never written.
    ///
    /// # Errors
    /// [`RegistryError::ModelNotFound`], [`RegistryError::VersionNotFound`] or
    /// [`RegistryError::AliasNotFound`].
    fn resolve(&self, reference: &ModelRef) -> Result<Resolved, RegistryError>;

    /// Resolves and loads `reference`, verifying the artifact.
    ///
    /// # Errors
    /// As [`Registry::resolve`], or [`RegistryError::Artifact`] when the artifact is refused.
    fn load(&self, reference: &ModelRef) -> Result<(Resolved, ModelBundle), RegistryError>;

    /// Publishes a new version of `manifest.name`: claims the next version number,
    /// writes the artifact, reads it back with the reader and limits serve uses, and
    /// only then makes it visible and moves `latest` to it (unless `latest` already
    /// points higher). `manifest.version`, `manifest.files`, `manifest.config_sha256`
    /// and the manifest checksum are filled in here.
    ///
    /// # Errors
    /// IO or serialisation errors, or [`RegistryError::Artifact`] when the written
    /// version would be refused by a reader; nothing becomes visible then.
    fn publish(
        &self,
        manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, RegistryError>;

    /// Points `alias` of `name` at `version`.
    ///
    /// # Errors
    /// [`RegistryError::VersionNotFound`] for a version that does not exist, or IO errors.
    fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: Version,
    ) -> Result<(), RegistryError>;

    /// Removes `alias` of `name`.
    ///
    /// # Errors
    /// [`RegistryError::AliasNotFound`] when there is no such alias, or IO errors.
    fn delete_alias(&self, name: &ModelName, alias: &AliasName) -> Result<(), RegistryError>;

    /// Where `alias` of `name` has pointed, oldest first, as changed by
    /// [`Registry::set_alias`], [`Registry::delete_alias`] and
    /// [`Registry::rollback_alias`] (`None`: removed). Empty when never changed that
    /// way (`latest` moves with publishing and keeps no history).
    ///
    /// # Errors
    /// IO errors.
    fn alias_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Vec<Option<Version>>, RegistryError>;

    /// Points `alias` back where it pointed before its last change (removing it if it
    /// did not exist then), and forgets that change: rolling back twice goes two
    /// changes back. Returns the version it points to now.
    ///
    /// # Errors
    /// [`RegistryError::NoEarlierVersion`] when no earlier target is recorded, or IO
    /// errors.
    fn rollback_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<Version>, RegistryError>;

    /// Deletes a version. Refused while an alias other than `latest` points to it;
    /// `latest` moves to the highest remaining version. Its number is never reused.
    ///
    /// # Errors
    /// [`RegistryError::VersionNotFound`], [`RegistryError::VersionInUse`], or IO errors.
    fn delete_version(&self, name: &ModelName, version: Version) -> Result<(), RegistryError>;

    /// Stores the record of one training run of `name` (JSON), successful or not, under
    /// `run_id` (1 to 64 characters of `A-Z`, `a-z`, `0-9`, `-`, `_`, `.`, not starting
    /// with `.`); returns where it went.
    ///
    /// # Errors
    /// IO errors; [`RegistryError::RunNotFound`] for an id outside that charset.
    fn write_run(
        &self,
        name: &ModelName,
        run_id: &str,
        record: &[u8],
    ) -> Result<String, RegistryError>;

    /// The run ids of `name`, oldest first (ids sort by time).
    ///
    /// # Errors
    /// IO errors.
    fn runs(&self, name: &ModelName) -> Result<Vec<String>, RegistryError>;

    /// Every model with run records, by name (also models with no version yet, whose
    /// runs all failed).
    ///
    /// # Errors
    /// IO errors.
    fn models_with_runs(&self) -> Result<Vec<ModelName>, RegistryError>;

    /// The record of one run.
    ///
    /// # Errors
    /// [`RegistryError::RunNotFound`], or IO errors.
    fn read_run(&self, name: &ModelName, run_id: &str) -> Result<Vec<u8>, RegistryError>;

    /// Stores the result of cell `cell` of a grid search of `name` that several
    /// processes share (JSON), under `search`, a key every process of that search
    /// derives alike (same charset as a run id); writing a cell again replaces it.
    ///
    /// # Errors
    /// IO errors; [`RegistryError::RunNotFound`] for a key outside the charset.
    fn write_search_cell(
        &self,
        name: &ModelName,
        search: &str,
        cell: usize,
        record: &[u8],
    ) -> Result<(), RegistryError>;

    /// The cells of search `search` of `name` recorded so far, by cell index; empty
    /// when none is.
    ///
    /// # Errors
    /// IO errors; [`RegistryError::RunNotFound`] for a key outside the charset.
    fn search_cells(
        &self,
        name: &ModelName,
        search: &str,
    ) -> Result<BTreeMap<usize, Vec<u8>>, RegistryError>;

    /// Finds the leftovers of publishes and alias writes whose process is gone (killed
    /// mid-way), and removes them unless `dry_run`. Work in progress of a live process
    /// is never touched.
    ///
    /// # Errors
    /// IO errors while listing or removing.
    fn collect_garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, RegistryError>;

    /// Why this registry answers from a local copy instead of its store, while it does
    /// (a remote store unreachable, the last verified copies served meanwhile); `None`
    /// when its answers are current. A local directory is never offline.
    fn offline(&self) -> Option<String> {
        None
    }
}

/// A leftover of an interrupted publish or alias write, from
/// [`Registry::collect_garbage`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leftover {
    /// Where it is (a path or URL).
    pub location: String,
    /// The process that left it, when the store records one (a local directory does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Seconds since it was last written, when the store records no writer (an object
    /// store: a leftover is whatever is older than the grace period).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Where a registry lives, as configured (`--registry`, `FERRY_REGISTRY`, a config's
/// `registry` key): a local directory (a path or a `file://` URL), an object store
/// (`s3://BUCKET/PREFIX`, `gs://`, `az://`, or `memory://` for one process's tests), or
/// an MLflow tracking server (`mlflow+http://HOST:PORT`, `mlflow+https://...`).
///
/// Parsing only reads the text; `ferry_store::open` turns a location into a
/// [`Registry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryLocation {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket (and a prefix in it) of an object store.
    Object(StoreUrl),
    /// An MLflow tracking server's model registry (`mlflow+http://HOST:PORT`).
    Mlflow(MlflowUrl),
}

/// An MLflow tracking server, as a registry location: `mlflow+http://HOST[:PORT][/PATH]`
/// or `mlflow+https://...`; the server is reached at the URL without `mlflow+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MlflowUrl {
    base: String,
}

impl MlflowUrl {
    /// Parses an MLflow tracking URI (`http://HOST:PORT`, `https://...`), as
    /// `MLFLOW_TRACKING_URI` holds it.
    ///
    /// # Errors
    /// [`LocationError`] for another scheme or a URL without a host.
    pub fn from_tracking_uri(uri: &str) -> Result<Self, LocationError> {
        let refuse = |problem: &str| LocationError {
            found: uri.to_owned(),
            problem: problem.to_owned(),
        };
        let rest = uri
            .strip_prefix("http://")
            .or_else(|| uri.strip_prefix("https://"))
            .ok_or_else(|| refuse("expected an http:// or https:// URL of an MLflow server"))?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(refuse("expected a host after the scheme"));
        }
        if rest.contains(['?', '#']) {
            return Err(refuse("expected no query or fragment"));
        }
        Ok(Self {
            base: uri.trim_end_matches('/').to_owned(),
        })
    }

    /// The server's base URL (`http://127.0.0.1:5000`), without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl fmt::Display for MlflowUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mlflow+{}", self.base)
    }
}

/// The object stores a registry can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreScheme {
    /// Amazon S3 and S3-compatible servers (`s3://`).
    S3,
    /// Google Cloud Storage (`gs://`).
    Gcs,
    /// Azure Blob Storage (`az://`).
    Azure,
    /// A store in this process's memory (`memory://`), gone when it exits: for tests.
    Memory,
}

impl StoreScheme {
    /// The URL scheme (`s3`, `gs`, `az`, `memory`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StoreScheme::S3 => "s3",
            StoreScheme::Gcs => "gs",
            StoreScheme::Azure => "az",
            StoreScheme::Memory => "memory",
        }
    }
}

/// An object-store registry location: `SCHEME://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreUrl {
    scheme: StoreScheme,
    bucket: String,
    prefix: String,
}

impl StoreUrl {
    /// The store.
    #[must_use]
    pub fn scheme(&self) -> StoreScheme {
        self.scheme
    }

    /// The bucket (S3, GCS) or container (Azure).
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix the registry lives under, without leading or trailing `/`; empty
    /// for the bucket's root.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// A registry location that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported registry location {found:?}: {problem}")]
pub struct LocationError {
    /// The refused text.
    pub found: String,
    /// What was expected instead.
    pub problem: String,
}

const EXPECTED_LOCATION: &str = "expected a directory path, a file:// URL, an object-store \
     URL (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX) or an MLflow server \
     (mlflow+http://HOST:PORT, mlflow+https://HOST)";

impl FromStr for RegistryLocation {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Self, LocationError> {
        let refuse = |problem: &str| LocationError {
            found: s.to_owned(),
            problem: problem.to_owned(),
        };
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(RegistryLocation::Local(PathBuf::from(path)));
        }
        if s.is_empty() {
            return Err(refuse(EXPECTED_LOCATION));
        }
        if let Some(uri) = s.strip_prefix("mlflow+") {
            return MlflowUrl::from_tracking_uri(uri)
                .map(RegistryLocation::Mlflow)
                .map_err(|e| refuse(&e.problem));
        }
        // A path never contains `://` in practice: refuse an unknown scheme rather than
        // create a directory called `mlflow:`.
        let Some((scheme, rest)) = s.split_once("://") else {
            return Ok(RegistryLocation::Local(PathBuf::from(s)));
        };
        let scheme = match scheme {
            "s3" | "s3a" => StoreScheme::S3,
            "gs" => StoreScheme::Gcs,
            "az" | "azure" => StoreScheme::Azure,
            "memory" => StoreScheme::Memory,
            _ => return Err(refuse(EXPECTED_LOCATION)),
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = !bucket.is_empty()
            && bucket.len() <= 255
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !bucket_ok {
            return Err(refuse(
                "expected a bucket name of letters, digits, '-', '_' and '.' after the scheme",
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix
            .split('/')
            .all(|part| prefix.is_empty() || (!part.is_empty() && part != "." && part != ".."))
            && !prefix.contains(['?', '#', '\\']);
        if !prefix_ok {
            return Err(refuse(
                "expected a prefix of non-empty segments without '.', '..', '?', '#' or '\\'",
            ));
        }
        Ok(RegistryLocation::Object(StoreUrl {
            scheme,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }))
    }
}

impl serde::Serialize for RegistryLocation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parsed inside the visitor, so that a config reader reports a refused location under
/// its key.
struct LocationVisitor;

impl serde::de::Visitor<'_> for LocationVisitor {
    type Value = RegistryLocation;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a directory path, an s3://, gs://, az:// or file:// URL, or mlflow+http://")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RegistryLocation, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for RegistryLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(LocationVisitor)
    }
}

impl From<&Path> for RegistryLocation {
    fn from(path: &Path) -> Self {
        RegistryLocation::Local(path.to_owned())
    }
}

impl fmt::Display for RegistryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryLocation::Local(p) => write!(f, "{}", p.display()),
            RegistryLocation::Object(url) => write!(f, "{url}"),
            RegistryLocation::Mlflow(url) => write!(f, "{url}"),
        }
    }
}

impl RegistryLocation {
    /// The local directory, for a local registry.
    #[must_use]
    pub fn as_local(&self) -> Option<&Path> {
        match self {
            RegistryLocation::Local(p) => Some(p),
            RegistryLocation::Object(_) | RegistryLocation::Mlflow(_) => None,
        }
    }

    /// Whether the registry lives on another machine (an object store or an MLflow
    /// server), so that versions are read through a local cache.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        !matches!(self, RegistryLocation::Local(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ambiguous run id names the first five runs it matches and counts the rest.
    #[test]
    fn an_ambiguous_run_id_names_five_matches_and_counts_the_rest() {
        let err = RegistryError::RunAmbiguous {
            name: "iris".parse().unwrap(),
            prefix: "2026".to_owned(),
            matches: (1..=7).map(|i| format!("2026120{i}T000000Z-1")).collect(),
        };
        assert_eq!(
            err.to_string(),
            "model 'iris' has 7 runs whose id starts with '2026': 20261201T000000Z-1, \
             20261202T000000Z-1, 20261203T000000Z-1, 20261204T000000Z-1, 20261205T000000Z-1 \
             and 2 more; give more of the id"
        );
        assert!(err.is_caller_error() && !err.is_not_found());
    }

    #[test]
    fn locations_parse_paths_and_file_urls_and_refuse_other_schemes() {
        assert_eq!(
            "artifacts".parse::<RegistryLocation>().unwrap(),
            RegistryLocation::Local("artifacts".into())
        );
        assert_eq!(
            "file:///srv/models".parse::<RegistryLocation>().unwrap(),
            RegistryLocation::Local("/srv/models".into())
        );
        let err = "mlflow://host:5000"
            .parse::<RegistryLocation>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported registry location \"mlflow://host:5000\": expected a directory path, \
             a file:// URL, an object-store URL (s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, \
             az://CONTAINER/PREFIX) or an MLflow server (mlflow+http://HOST:PORT, \
             mlflow+https://HOST)"
        );
        let RegistryLocation::Mlflow(url) = "mlflow+http://127.0.0.1:5000/".parse().unwrap() else {
            panic!("an MLflow server")
        };
        assert_eq!(url.base(), "http://127.0.0.1:5000");
        assert_eq!(url.to_string(), "mlflow+http://127.0.0.1:5000");
        for bad in ["mlflow+ftp://h", "mlflow+http://", "mlflow+http://h?x=1"] {
            assert!(bad.parse::<RegistryLocation>().is_err(), "{bad}");
        }
        assert!("".parse::<RegistryLocation>().is_err());
        for bad in [
            "s3://",
            "s3://bu cket/x",
            "s3://b/../x",
            "gs://b/a//c",
            "s3://b/x?y",
        ] {
            assert!(bad.parse::<RegistryLocation>().is_err(), "{bad}");
        }
    }

    #[test]
    fn object_store_urls_parse_into_scheme_bucket_and_prefix() {
        let RegistryLocation::Object(url) = "s3://models/team/prod/".parse().unwrap() else {
            panic!("an object store")
        };
        assert_eq!(
            (url.scheme(), url.bucket(), url.prefix()),
            (StoreScheme::S3, "models", "team/prod")
        );
        assert_eq!(url.to_string(), "s3://models/team/prod");
        for (text, scheme) in [
            ("gs://b", StoreScheme::Gcs),
            ("az://c/p", StoreScheme::Azure),
            ("memory://t", StoreScheme::Memory),
        ] {
            let RegistryLocation::Object(url) = text.parse().unwrap() else {
                panic!("{text}")
            };
            assert_eq!(url.scheme(), scheme);
            assert_eq!(url.to_string(), text);
        }
    }

    #[test]
    fn the_local_registry_passes_the_contract_suite() {
        for (name, check) in contract::CHECKS {
            let dir = tempfile::tempdir().unwrap();
            let registry = LocalRegistry::new(dir.path());
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(&registry);
            }));
            assert!(outcome.is_ok(), "contract check '{name}' failed");
        }
    }
}
