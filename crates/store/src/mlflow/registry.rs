//! [`MlflowRegistry`]: the [`Registry`] contract on an MLflow tracking server's model
//! registry, its artifacts carried by MLflow's artifact proxy.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use ferry_core::artifact::{ArtifactFiles, MANIFEST_FILE, Manifest, ReadLimits, write_version_dir};
use ferry_core::bundle::ModelBundle;
use ferry_core::registry::{
    Leftover, MlflowUrl, Published, Registry, RegistryError, Resolved, check_run_id,
    is_valid_run_id,
};
use ferry_core::{AliasName, Model as _, ModelName, ModelRef, Version};

use super::client::{ClientOptions, MlflowClient, MlflowError, proxy_path};
use crate::remote::{Remote, Unreachable, lock, plain_file_name};

/// Registered-model tag: the model was published by Ferry.
const TAG_REGISTRY: &str = "ferry.registry";
/// Registered-model tag prefix: an alias's history, a JSON list (`[null, 1, 3]`).
const TAG_HISTORY: &str = "ferry.alias_history.";
/// Model-version tag: when Ferry started publishing the version (Unix seconds).
const TAG_PUBLISHING: &str = "ferry.publishing";
/// Model-version tag: the manifest's checksum; set last, it makes the version complete.
const TAG_MANIFEST: &str = "ferry.manifest_sha256";
/// Model-version tag: the algorithm (for people browsing MLflow's UI).
const TAG_KIND: &str = "ferry.model_kind";
/// Where, under the artifact proxy's root, run records and search cells live.
const RECORDS_ROOT: &str = "ferry-registry";
/// The directory of a run's artifacts a version's files go to.
const MODEL_DIR: &str = "model";
/// Entries of an alias's history kept (older ones drop off).
const HISTORY_KEPT: usize = 200;
/// The experiment of the runs a publish makes when no run is bound.
pub const DEFAULT_EXPERIMENT: &str = "ferry";

/// A run that publishes land in: its id and artifact root on the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundRun {
    /// MLflow's run id.
    pub run_id: String,
    /// The run's `artifact_uri` (`mlflow-artifacts:/1/<run>/artifacts`).
    pub artifact_uri: String,
}

/// A model registry in an MLflow tracking server, with a local cache of the versions it
/// loads.
///
/// Names, versions and aliases are MLflow's own (a Ferry model is a registered model,
/// a Ferry version a model version, an alias an alias), so MLflow's UI and clients see
/// them as any others. The local registry's rules hold this way:
/// - MLflow numbers versions (per model, never reused: deleted versions keep their
///   number); a version is created tagged `ferry.publishing`, its files go up through
///   the artifact proxy into its run's `model/` directory, are read back with serve's
///   reader, and only then the tag `ferry.manifest_sha256` makes it complete: Ferry
///   lists and resolves complete versions only;
/// - MLflow reserves the alias `latest` (it always means the highest version): here too
///   it is the highest complete version, and cannot be set;
/// - an alias's history, which MLflow does not keep, is a registered-model tag
///   `ferry.alias_history.<alias>`, updated after each move; a move made elsewhere
///   (MLflow's UI) is noticed and recorded before the next one;
/// - loaded versions are downloaded once into the cache, checked against the
///   manifest's checksums and the version's tag, reused while unchanged, and served
///   from there while MLflow cannot be reached ([`Registry::offline`]).
///
/// Run records and grid-search cells go to the artifact proxy under `ferry-registry/`.
pub struct MlflowRegistry {
    client: MlflowClient,
    remote: Remote,
    gc_grace: Duration,
    experiment: String,
    bound: Mutex<Option<BoundRun>>,
}

impl fmt::Debug for MlflowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowRegistry")
            .field("url", &self.remote.url)
            .field("cache", &self.remote.cache.root())
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Deserialize)]
struct Tag {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct ModelVersion {
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

impl ModelVersion {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    fn number(&self) -> Option<Version> {
        self.version.parse().ok().map(Version)
    }

    fn complete(&self) -> bool {
        self.tag(TAG_MANIFEST).is_some() && self.status != "FAILED_REGISTRATION"
    }
}

#[derive(Debug, Deserialize)]
struct AliasEntry {
    alias: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct RegisteredModel {
    name: String,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    aliases: Vec<AliasEntry>,
}

impl RegisteredModel {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

/// Why an operation failed: the registry's answer, or MLflow's.
enum Failure {
    Registry(RegistryError),
    Mlflow(MlflowError),
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::Registry(e)
    }
}

impl From<MlflowError> for Failure {
    fn from(e: MlflowError) -> Self {
        Failure::Mlflow(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Registry(RegistryError::Io(e))
    }
}

impl Unreachable for Failure {
    fn unreachable(&self) -> Option<String> {
        match self {
            Failure::Mlflow(e @ MlflowError::Unreachable { .. }) => Some(e.to_string()),
            Failure::Mlflow(_) | Failure::Registry(_) => None,
        }
    }
}

fn into_registry(f: Failure) -> RegistryError {
    match f {
        Failure::Registry(e) => e,
        Failure::Mlflow(e) => RegistryError::Store {
            location: e.url().to_owned(),
            message: match &e {
                MlflowError::Unreachable { message, .. } | MlflowError::Invalid { message, .. } => {
                    message.clone()
                }
                MlflowError::Api {
                    status,
                    code,
                    message,
                    ..
                } => format!("MLflow answered {status} {code}: {message}"),
            },
        },
    }
}

impl MlflowRegistry {
    /// The registry of the MLflow server at `url`, caching loaded versions under
    /// `cache_dir` up to `cache_max_bytes`.
    ///
    /// # Errors
    /// When the cache directory cannot be made.
    pub fn new(
        url: &MlflowUrl,
        options: ClientOptions,
        cache_dir: &Path,
        cache_max_bytes: u64,
    ) -> std::io::Result<Self> {
        Ok(Self {
            client: MlflowClient::new(url.base(), options),
            remote: Remote::new(url.to_string(), "MLflow at", cache_dir, cache_max_bytes)?,
            gc_grace: Duration::from_secs(3600),
            experiment: DEFAULT_EXPERIMENT.to_owned(),
            bound: Mutex::new(None),
        })
    }

    /// The same registry, reading (and verifying what it publishes) with `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.remote.limits = limits;
        self
    }

    /// The same registry, counting a version whose publish never finished as garbage
    /// once it is `grace` old (default one hour).
    #[must_use]
    pub fn with_gc_grace(mut self, grace: Duration) -> Self {
        self.gc_grace = grace;
        self
    }

    /// The same registry, creating the runs of unbound publishes in `experiment`
    /// (default `ferry`).
    #[must_use]
    pub fn with_experiment(mut self, experiment: impl Into<String>) -> Self {
        self.experiment = experiment.into();
        self
    }

    /// Makes the next publish upload into `run` (a tracked training run) instead of a
    /// run of its own; the publish after it makes its own again.
    pub fn bind_run(&self, run: BoundRun) {
        *lock(&self.bound) = Some(run);
    }

    /// The client this registry talks to MLflow with.
    #[must_use]
    pub fn client(&self) -> &MlflowClient {
        &self.client
    }

    /// The local directory this registry's copies are cached in.
    #[must_use]
    pub fn cache_dir(&self) -> &Path {
        self.remote.cache.root()
    }

    fn finish<T>(&self, result: Result<T, Failure>) -> Result<T, RegistryError> {
        result.map_err(into_registry)
    }

    fn version_url(&self, name: &ModelName, version: Version) -> String {
        format!("{}/{name}/{version}", self.remote.url)
    }

    // ---- MLflow calls -------------------------------------------------------------

    fn registered_model(&self, name: &ModelName) -> Result<Option<RegisteredModel>, Failure> {
        #[derive(Deserialize)]
        struct Got {
            registered_model: RegisteredModel,
        }
        match self
            .client
            .get::<Got>("registered-models/get", &[("name", name.as_str())])
        {
            Ok(got) => Ok(Some(got.registered_model)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn model_version(
        &self,
        name: &ModelName,
        version: Version,
    ) -> Result<Option<ModelVersion>, Failure> {
        #[derive(Deserialize)]
        struct Got {
            model_version: ModelVersion,
        }
        let v = version.to_string();
        match self.client.get::<Got>(
            "model-versions/get",
            &[("name", name.as_str()), ("version", &v)],
        ) {
            Ok(got) => Ok(Some(got.model_version)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every model version of `name` MLflow lists (Ferry's or not).
    fn all_versions(&self, name: &ModelName) -> Result<Vec<ModelVersion>, Failure> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            model_versions: Vec<ModelVersion>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let filter = format!("name='{name}'");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "10000")];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let page: Page = self.client.get("model-versions/search", &query)?;
            out.extend(page.model_versions);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    fn complete_versions(&self, name: &ModelName) -> Result<Vec<Version>, Failure> {
        let mut versions: Vec<Version> = self
            .all_versions(name)?
            .iter()
            .filter(|v| v.complete())
            .filter_map(ModelVersion::number)
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// The complete Ferry version `version` of `name`, or the error that says why not.
    fn ferry_version(&self, name: &ModelName, version: Version) -> Result<ModelVersion, Failure> {
        let Some(found) = self.model_version(name, version)? else {
            let absent = RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            };
            return Err(self.missing(name, absent)?.into());
        };
        if found.complete() {
            return Ok(found);
        }
        if found.tag(TAG_PUBLISHING).is_some() {
            // Still being published (or abandoned): not a version yet.
            return Err(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            }
            .into());
        }
        Err(RegistryError::Store {
            location: self.version_url(name, version),
            message: format!(
                "version {version} of '{name}' in MLflow is not a Ferry artifact (source {}, \
                 no '{TAG_MANIFEST}' tag): serve and train load only versions Ferry published",
                if found.source.is_empty() {
                    "unknown"
                } else {
                    &found.source
                }
            ),
        }
        .into())
    }

    /// The error for a version MLflow does not have: of the model, or of the version.
    /// `absent` (a missing version or alias) when the model exists in MLflow, else
    /// [`RegistryError::ModelNotFound`].
    fn missing(&self, name: &ModelName, absent: RegistryError) -> Result<RegistryError, Failure> {
        Ok(if self.registered_model(name)?.is_some() {
            absent
        } else {
            RegistryError::ModelNotFound(name.clone())
        })
    }

    fn resolve_remote(&self, reference: &ModelRef) -> Result<(Version, ModelVersion), Failure> {
        let name = reference.name();
        let version = match reference {
            ModelRef::Version(_, v) => *v,
            ModelRef::Alias(_, alias) if alias.is_latest() => {
                // The search answers with each version's tags: no second GET.
                let newest = self
                    .all_versions(name)?
                    .into_iter()
                    .filter(ModelVersion::complete)
                    .filter_map(|v| Some((v.number()?, v)))
                    .max_by_key(|(number, _)| *number);
                return newest.ok_or_else(|| RegistryError::ModelNotFound(name.clone()).into());
            }
            ModelRef::Alias(_, alias) => {
                #[derive(Deserialize)]
                struct Got {
                    model_version: ModelVersion,
                }
                let got = self.client.get::<Got>(
                    "registered-models/alias",
                    &[("name", name.as_str()), ("alias", alias.as_str())],
                );
                match got {
                    Ok(got) => {
                        let number =
                            got.model_version
                                .number()
                                .ok_or_else(|| MlflowError::Invalid {
                                    url: self.remote.url.clone(),
                                    message: format!(
                                        "alias '{alias}' of '{name}' names no version number"
                                    ),
                                })?;
                        // The alias answers with the version and its tags; only a version
                        // that is not (yet) complete needs the GET that says why.
                        if got.model_version.complete() {
                            return Ok((number, got.model_version));
                        }
                        number
                    }
                    Err(e) if e.is_not_found() => {
                        return Err(RegistryError::ModelNotFound(name.clone()).into());
                    }
                    // MLflow answers INVALID_PARAMETER_VALUE for a missing alias.
                    Err(MlflowError::Api { status: 400, .. }) => {
                        let absent = RegistryError::AliasNotFound {
                            name: name.clone(),
                            alias: alias.clone(),
                        };
                        return Err(self.missing(name, absent)?.into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let found = self.ferry_version(name, version)?;
        Ok((version, found))
    }

    /// The artifact-proxy directory of a version's files, from its `source`.
    fn source_dir(&self, name: &ModelName, found: &ModelVersion) -> Result<String, Failure> {
        let version = found.number().unwrap_or(Version(0));
        if let Some(path) = proxy_path(&found.source) {
            return Ok(path);
        }
        if let Some(rest) = found.source.strip_prefix("runs:/") {
            let (run_id, sub) = rest.split_once('/').unwrap_or((rest, ""));
            let root = self.run_artifact_root(run_id)?;
            return Ok(format!("{root}/{}", sub.trim_matches('/')));
        }
        Err(RegistryError::Store {
            location: self.version_url(name, version),
            message: format!(
                "its source {:?} is not behind MLflow's artifact proxy (mlflow-artifacts:/ or \
                 runs:/): Ferry reads artifacts through the server, started with \
                 --serve-artifacts (the default) and --artifacts-destination",
                found.source
            ),
        }
        .into())
    }

    fn run_artifact_root(&self, run_id: &str) -> Result<String, Failure> {
        #[derive(Deserialize)]
        struct Info {
            artifact_uri: String,
        }
        #[derive(Deserialize)]
        struct Run {
            info: Info,
        }
        #[derive(Deserialize)]
        struct Got {
            run: Run,
        }
        let got: Got = self.client.get("runs/get", &[("run_id", run_id)])?;
        proxy_path(&got.run.info.artifact_uri).ok_or_else(|| {
            RegistryError::Store {
                location: format!("{}/runs/{run_id}", self.remote.url),
                message: format!(
                    "the run's artifact location {:?} is not behind MLflow's artifact proxy \
                     (mlflow-artifacts:/): start the server with --serve-artifacts (the \
                     default) and put buckets behind it with --artifacts-destination",
                    got.run.info.artifact_uri
                ),
            }
            .into()
        })
    }

    /// Downloads `version` of `name` into the cache unless an identical copy is there,
    /// and loads it.
    fn fetch(
        &self,
        name: &ModelName,
        version: Version,
        found: &ModelVersion,
    ) -> Result<ModelBundle, Failure> {
        let dir_path = self.source_dir(name, found)?;
        let manifest_bytes = self.client.get_artifact(
            &format!("{dir_path}/{MANIFEST_FILE}"),
            self.remote.limits.max_file_bytes,
        )?;
        if let Some(bundle) = self.remote.cached_copy(name, version, &manifest_bytes) {
            return Ok(bundle);
        }
        let location = self.version_url(name, version);
        let parsed: Manifest =
            serde_json::from_slice(&manifest_bytes).map_err(|e| RegistryError::Store {
                location: location.clone(),
                message: format!("{dir_path}/{MANIFEST_FILE} is not a Ferry manifest: {e}"),
            })?;
        if Some(parsed.manifest_sha256.as_str()) != found.tag(TAG_MANIFEST)
            || parsed.name != *name
            || parsed.version != version
        {
            return Err(RegistryError::Store {
                location,
                message: format!(
                    "the manifest at {dir_path} (model '{}' version {}, checksum {}) is not the \
                     one registered (checksum {})",
                    parsed.name,
                    parsed.version,
                    parsed.manifest_sha256,
                    found.tag(TAG_MANIFEST).unwrap_or("none")
                ),
            }
            .into());
        }
        let partial = self.remote.cache.partial()?;
        fs_err::create_dir_all(&partial)?;
        let downloaded = self.download(&location, &dir_path, &parsed, &partial);
        if let Err(e) = downloaded {
            self.remote.cache.discard(&partial);
            return Err(e);
        }
        fs_err::write(partial.join(MANIFEST_FILE), &manifest_bytes)?;
        Ok(self.remote.install(&partial, name, version)?)
    }

    fn download(
        &self,
        location: &str,
        dir_path: &str,
        manifest: &Manifest,
        into: &Path,
    ) -> Result<(), Failure> {
        for file in manifest.files.keys() {
            if !plain_file_name(file) {
                return Err(RegistryError::Store {
                    location: location.to_owned(),
                    message: format!(
                        "its manifest lists a file named {file:?}: expected a plain file name"
                    ),
                }
                .into());
            }
            let bytes = self.client.get_artifact(
                &format!("{dir_path}/{file}"),
                self.remote.limits.max_file_bytes,
            )?;
            fs_err::write(into.join(file), &bytes)?;
        }
        Ok(())
    }

    fn experiment_id(&self) -> Result<String, Failure> {
        experiment_id(&self.client, &self.experiment).map_err(Failure::from)
    }

    /// The run a publish uploads into: the bound one, else a new run of its own.
    fn publish_run(&self, name: &ModelName) -> Result<(BoundRun, bool), Failure> {
        if let Some(bound) = lock(&self.bound).take() {
            return Ok((bound, false));
        }
        let experiment = self.experiment_id()?;
        let run = create_run(
            &self.client,
            &experiment,
            &format!("publish-{name}"),
            &[("ferry.model", name.as_str())],
        )?;
        Ok((run, true))
    }

    fn ensure_registered(&self, name: &ModelName) -> Result<(), Failure> {
        match self.client.post::<Value>(
            "registered-models/create",
            &json!({"name": name.as_str(), "tags": [{"key": TAG_REGISTRY, "value": "1"}]}),
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.already_exists() => {
                // A model made elsewhere (MLflow's UI, another client): mark it.
                let model = self.registered_model(name)?;
                if model.is_some_and(|m| m.tag(TAG_REGISTRY).is_none()) {
                    self.client.post::<Value>(
                        "registered-models/set-tag",
                        &json!({"name": name.as_str(), "key": TAG_REGISTRY, "value": "1"}),
                    )?;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn publish_remote(
        &self,
        mut manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, Failure> {
        let name = manifest.name.clone();
        self.ensure_registered(&name)?;
        let (run, own_run) = self.publish_run(&name)?;
        let outcome = self.publish_in(&run, &mut manifest, files, &name);
        if own_run {
            let status = if outcome.is_ok() {
                "FINISHED"
            } else {
                "FAILED"
            };
            if let Err(e) = end_run(&self.client, &run.run_id, status) {
                tracing::warn!(run = %run.run_id, error = %e, "Could not end the publish's MLflow run.");
            }
        }
        outcome
    }

    fn publish_in(
        &self,
        run: &BoundRun,
        manifest: &mut Manifest,
        files: &ArtifactFiles<'_>,
        name: &ModelName,
    ) -> Result<Published, Failure> {
        let root = proxy_path(&run.artifact_uri).ok_or_else(|| RegistryError::Store {
            location: format!("{}/runs/{}", self.remote.url, run.run_id),
            message: format!(
                "the run's artifact location {:?} is not behind MLflow's artifact proxy \
                 (mlflow-artifacts:/): start the server with --serve-artifacts (the default) \
                 and put buckets behind it with --artifacts-destination",
                run.artifact_uri
            ),
        })?;
        let dir_path = format!("{root}/{MODEL_DIR}");
        #[derive(Deserialize)]
        struct Created {
            model_version: ModelVersion,
        }
        let created: Created = self.client.post(
            "model-versions/create",
            &json!({
                "name": name.as_str(),
                "source": format!("{}/{MODEL_DIR}", run.artifact_uri.trim_end_matches('/')),
                "run_id": run.run_id,
                "tags": [
                    {"key": TAG_PUBLISHING, "value": now_secs().to_string()},
                    {"key": TAG_KIND, "value": files.model.kind().as_str()},
                ],
            }),
        )?;
        let version = created
            .model_version
            .number()
            .ok_or_else(|| MlflowError::Invalid {
                url: self.remote.url.clone(),
                message: format!(
                    "model-versions/create answered version {:?}",
                    created.model_version.version
                ),
            })?;
        let done = self.upload_version(name, version, manifest, files, &dir_path);
        match done {
            Ok((written, path)) => {
                let latest = self
                    .complete_versions(name)?
                    .last()
                    .copied()
                    .unwrap_or(version)
                    .max(version);
                Ok(Published {
                    resolved: Resolved {
                        name: name.clone(),
                        version,
                        path,
                    },
                    manifest: written,
                    latest,
                })
            }
            Err(e) => {
                // Best effort: the incomplete version goes; gc finds it otherwise.
                let _ = self.client.delete(
                    "model-versions/delete",
                    &json!({"name": name.as_str(), "version": version.to_string()}),
                );
                Err(e)
            }
        }
    }

    /// Writes, checks and uploads the version's files, the manifest last, then tags the
    /// version complete; the manifest as written and the cached copy's directory.
    fn upload_version(
        &self,
        name: &ModelName,
        version: Version,
        manifest: &mut Manifest,
        files: &ArtifactFiles<'_>,
        dir_path: &str,
    ) -> Result<(Manifest, PathBuf), Failure> {
        manifest.version = version;
        let partial = self.remote.cache.partial()?;
        let result = (|| {
            let written = write_version_dir(&partial, manifest.clone(), files)
                .map_err(RegistryError::Artifact)?;
            ModelBundle::load_with(&partial, self.remote.limits)
                .map_err(RegistryError::Artifact)?;
            for file in written.files.keys() {
                let bytes = fs_err::read(partial.join(file))?;
                self.client
                    .put_artifact(&format!("{dir_path}/{file}"), &bytes)?;
            }
            let manifest_bytes = fs_err::read(partial.join(MANIFEST_FILE))?;
            self.client
                .put_artifact(&format!("{dir_path}/{MANIFEST_FILE}"), &manifest_bytes)?;
            self.client.post::<Value>(
                "model-versions/set-tag",
                &json!({
                    "name": name.as_str(),
                    "version": version.to_string(),
                    "key": TAG_MANIFEST,
                    "value": written.manifest_sha256,
                }),
            )?;
            Ok::<_, Failure>(written)
        })();
        match result {
            Ok(written) => {
                let path = self.remote.cache.install(&partial, name, version)?;
                self.remote.cache.evict(&path);
                Ok((written, path))
            }
            Err(e) => {
                self.remote.cache.discard(&partial);
                Err(e)
            }
        }
    }

    fn history(&self, model: Option<&RegisteredModel>, alias: &AliasName) -> Vec<Option<Version>> {
        model
            .and_then(|m| m.tag(&format!("{TAG_HISTORY}{alias}")))
            .and_then(|text| serde_json::from_str::<Vec<Option<u64>>>(text).ok())
            .map(|h| h.into_iter().map(|v| v.map(Version)).collect())
            .unwrap_or_default()
    }

    fn write_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
        mut history: Vec<Option<Version>>,
    ) -> Result<(), Failure> {
        if history.len() > HISTORY_KEPT {
            history.drain(..history.len() - HISTORY_KEPT);
        }
        let values: Vec<Option<u64>> = history.iter().map(|v| v.map(|v| v.0)).collect();
        self.client.post::<Value>(
            "registered-models/set-tag",
            &json!({
                "name": name.as_str(),
                "key": format!("{TAG_HISTORY}{alias}"),
                "value": serde_json::to_string(&values).unwrap_or_default(),
            }),
        )?;
        Ok(())
    }

    /// The alias's current target and its history, with a move made outside Ferry (or
    /// a first change) recorded at its end.
    fn current_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<(Option<Version>, Vec<Option<Version>>), Failure> {
        let model = self.registered_model(name)?;
        let current = model.as_ref().and_then(|m| {
            m.aliases
                .iter()
                .find(|a| a.alias == alias.as_str())
                .and_then(|a| a.version.parse().ok().map(Version))
        });
        let mut history = self.history(model.as_ref(), alias);
        if history.last() != Some(&current) {
            history.push(current);
        }
        Ok((current, history))
    }

    fn refuse_latest(name: &ModelName, alias: &AliasName) -> Result<(), RegistryError> {
        if alias.is_latest() {
            return Err(RegistryError::Store {
                location: format!("{name}@{alias}"),
                message: "MLflow reserves the alias 'latest': it always points to the highest \
                          version and cannot be set, moved or deleted"
                    .to_owned(),
            });
        }
        Ok(())
    }

    fn point(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<Version>,
    ) -> Result<(), Failure> {
        match to {
            Some(version) => {
                self.client.post::<Value>(
                    "registered-models/alias",
                    &json!({"name": name.as_str(), "alias": alias.as_str(), "version": version.to_string()}),
                )?;
            }
            None => {
                self.client.delete(
                    "registered-models/alias",
                    &json!({"name": name.as_str(), "alias": alias.as_str()}),
                )?;
            }
        }
        Ok(())
    }

    fn record_path(name: &ModelName, kind: &str, id: &str) -> String {
        format!("{RECORDS_ROOT}/{name}/{kind}/{id}")
    }

    fn list_dir(&self, path: &str) -> Result<Vec<super::client::ArtifactEntry>, Failure> {
        match self.client.list_artifacts(path) {
            Ok(entries) => Ok(entries),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    fn garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, Failure> {
        let mut out = Vec::new();
        let now = now_secs();
        for name in self.ferry_models()? {
            for found in self.all_versions(&name)? {
                let (Some(version), Some(started)) = (
                    found.number(),
                    found
                        .tag(TAG_PUBLISHING)
                        .and_then(|t| t.parse::<u64>().ok()),
                ) else {
                    continue;
                };
                let age = now.saturating_sub(started);
                if found.complete() || age < self.gc_grace.as_secs() {
                    continue;
                }
                if !dry_run {
                    self.client.delete(
                        "model-versions/delete",
                        &json!({"name": name.as_str(), "version": version.to_string()}),
                    )?;
                }
                out.push(Leftover {
                    location: self.version_url(&name, version),
                    pid: None,
                    age_secs: Some(age),
                    bytes: 0,
                });
            }
        }
        Ok(out)
    }

    /// Registered models Ferry published to, by name.
    fn ferry_models(&self) -> Result<Vec<ModelName>, Failure> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            registered_models: Vec<RegisteredModel>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("max_results", "1000")];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let page: Page = self.client.get("registered-models/search", &query)?;
            names.extend(
                page.registered_models
                    .iter()
                    .filter(|m| m.tag(TAG_REGISTRY).is_some())
                    .filter_map(|m| m.name.parse::<ModelName>().ok()),
            );
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The id of experiment `name`, created when missing.
///
/// # Errors
/// [`MlflowError`].
pub fn experiment_id(client: &MlflowClient, name: &str) -> Result<String, MlflowError> {
    #[derive(Deserialize)]
    struct Experiment {
        experiment_id: String,
        #[serde(default)]
        lifecycle_stage: String,
    }
    #[derive(Deserialize)]
    struct Got {
        experiment: Experiment,
    }
    #[derive(Deserialize)]
    struct Created {
        experiment_id: String,
    }
    for _ in 0..2 {
        match client.get::<Got>("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(got) if got.experiment.lifecycle_stage == "deleted" => {
                return Err(MlflowError::Api {
                    url: client.base().to_owned(),
                    status: 400,
                    code: "INVALID_STATE".to_owned(),
                    message: format!(
                        "experiment '{name}' is deleted in MLflow: restore it \
                         (mlflow experiments restore) or name another"
                    ),
                });
            }
            Ok(got) => return Ok(got.experiment.experiment_id),
            Err(e) if e.is_not_found() => {
                match client.post::<Created>("experiments/create", &json!({"name": name})) {
                    Ok(created) => return Ok(created.experiment_id),
                    // Another process created it meanwhile: read it again.
                    Err(e) if e.already_exists() => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(MlflowError::Invalid {
        url: client.base().to_owned(),
        message: format!("experiment '{name}' neither exists nor can be created"),
    })
}

/// Creates a run named `run_name` in `experiment_id`, with `tags`.
///
/// # Errors
/// [`MlflowError`].
pub fn create_run(
    client: &MlflowClient,
    experiment_id: &str,
    run_name: &str,
    tags: &[(&str, &str)],
) -> Result<BoundRun, MlflowError> {
    #[derive(Deserialize)]
    struct Info {
        run_id: String,
        artifact_uri: String,
    }
    #[derive(Deserialize)]
    struct Run {
        info: Info,
    }
    #[derive(Deserialize)]
    struct Created {
        run: Run,
    }
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let created: Created = client.post(
        "runs/create",
        &json!({
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": now_millis(),
            "tags": tags,
        }),
    )?;
    Ok(BoundRun {
        run_id: created.run.info.run_id,
        artifact_uri: created.run.info.artifact_uri,
    })
}

/// Ends run `run_id` with `status` (`FINISHED`, `FAILED`, `KILLED`).
///
/// # Errors
/// [`MlflowError`].
pub fn end_run(client: &MlflowClient, run_id: &str, status: &str) -> Result<(), MlflowError> {
    client.post::<Value>(
        "runs/update",
        &json!({"run_id": run_id, "status": status, "end_time": now_millis()}),
    )?;
    Ok(())
}

impl Registry for MlflowRegistry {
    fn location(&self) -> String {
        self.remote.url.clone()
    }

    fn models(&self) -> Result<Vec<ModelName>, RegistryError> {
        let listed = (|| {
            let mut names = Vec::new();
            for name in self.ferry_models()? {
                if !self.complete_versions(&name)?.is_empty() {
                    names.push(name);
                }
            }
            Ok::<_, Failure>(names)
        })();
        self.finish(self.remote.models(listed))
    }

    fn versions(&self, name: &ModelName) -> Result<Vec<Version>, RegistryError> {
        self.finish(self.complete_versions(name))
    }

    fn aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, Version>, RegistryError> {
        let listed = (|| {
            let Some(model) = self.registered_model(name)? else {
                return Ok(BTreeMap::new());
            };
            let mut out: BTreeMap<AliasName, Version> = model
                .aliases
                .iter()
                .filter_map(|a| Some((a.alias.parse().ok()?, Version(a.version.parse().ok()?))))
                .collect();
            if let Some(latest) = self.complete_versions(name)?.last() {
                out.insert(AliasName::latest(), *latest);
            }
            Ok::<_, Failure>(out)
        })();
        self.finish(listed)
    }

    fn resolve(&self, reference: &ModelRef) -> Result<Resolved, RegistryError> {
        let remote = self.resolve_remote(reference).map(|(version, _)| version);
        self.finish(self.remote.resolve(reference, remote))
    }

    fn load(&self, reference: &ModelRef) -> Result<(Resolved, ModelBundle), RegistryError> {
        let name = reference.name();
        let loaded = self
            .resolve_remote(reference)
            .and_then(|(version, found)| Ok((version, self.fetch(name, version, &found)?)));
        self.finish(self.remote.load(reference, loaded))
    }

    fn publish(
        &self,
        manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, RegistryError> {
        self.finish(self.publish_remote(manifest, files))
    }

    fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: Version,
    ) -> Result<(), RegistryError> {
        Self::refuse_latest(name, alias)?;
        let moved = (|| {
            match self.ferry_version(name, version) {
                Ok(_) => {}
                Err(Failure::Registry(RegistryError::ModelNotFound(_))) => {
                    return Err(RegistryError::VersionNotFound {
                        name: name.clone(),
                        version,
                    }
                    .into());
                }
                Err(e) => return Err(e),
            }
            let (_, mut history) = self.current_history(name, alias)?;
            self.point(name, alias, Some(version))?;
            history.push(Some(version));
            self.write_history(name, alias, history)
        })();
        self.finish(moved)
    }

    fn delete_alias(&self, name: &ModelName, alias: &AliasName) -> Result<(), RegistryError> {
        Self::refuse_latest(name, alias)?;
        let deleted = (|| {
            let (current, mut history) = self.current_history(name, alias)?;
            if current.is_none() {
                let absent = RegistryError::AliasNotFound {
                    name: name.clone(),
                    alias: alias.clone(),
                };
                return Err(self.missing(name, absent)?.into());
            }
            self.point(name, alias, None)?;
            history.push(None);
            self.write_history(name, alias, history)
        })();
        self.finish(deleted)
    }

    fn alias_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Vec<Option<Version>>, RegistryError> {
        let read = self
            .registered_model(name)
            .map(|model| self.history(model.as_ref(), alias));
        self.finish(read)
    }

    fn rollback_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<Version>, RegistryError> {
        Self::refuse_latest(name, alias)?;
        let rolled = (|| {
            let (_, mut history) = self.current_history(name, alias)?;
            if history.len() < 2 {
                return Err(RegistryError::NoEarlierVersion {
                    name: name.clone(),
                    alias: alias.clone(),
                }
                .into());
            }
            history.pop();
            let target = history.last().copied().flatten();
            self.point(name, alias, target)?;
            self.write_history(name, alias, history)?;
            Ok::<_, Failure>(target)
        })();
        self.finish(rolled)
    }

    fn delete_version(&self, name: &ModelName, version: Version) -> Result<(), RegistryError> {
        let deleted = (|| {
            self.ferry_version(name, version)?;
            let in_use: Vec<AliasName> = self
                .registered_model(name)?
                .map(|m| {
                    m.aliases
                        .iter()
                        .filter(|a| a.version == version.to_string())
                        .filter_map(|a| a.alias.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            if !in_use.is_empty() {
                return Err(RegistryError::VersionInUse {
                    name: name.clone(),
                    version,
                    aliases: in_use,
                }
                .into());
            }
            self.client.delete(
                "model-versions/delete",
                &json!({"name": name.as_str(), "version": version.to_string()}),
            )?;
            self.remote
                .cache
                .discard(&self.remote.cache.version_dir(name, version));
            Ok::<_, Failure>(())
        })();
        self.finish(deleted)
    }

    fn write_run(
        &self,
        name: &ModelName,
        run_id: &str,
        record: &[u8],
    ) -> Result<String, RegistryError> {
        check_run_id(name, run_id)?;
        let path = Self::record_path(name, "runs", &format!("{run_id}.json"));
        self.finish(
            self.client
                .put_artifact(&path, record)
                .map_err(Failure::from),
        )?;
        Ok(format!("{}/artifacts/{path}", self.remote.url))
    }

    fn runs(&self, name: &ModelName) -> Result<Vec<String>, RegistryError> {
        let listed = self.list_dir(&Self::record_path(name, "runs", ""));
        let mut ids: Vec<String> = self
            .finish(listed)?
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| {
                let file = e.path.rsplit('/').next().unwrap_or(&e.path).to_owned();
                file.strip_suffix(".json")
                    .filter(|id| is_valid_run_id(id))
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn models_with_runs(&self) -> Result<Vec<ModelName>, RegistryError> {
        let listed = self.finish(self.list_dir(RECORDS_ROOT))?;
        let mut names = Vec::new();
        for entry in listed.into_iter().filter(|e| e.is_dir) {
            let dir = entry.path.rsplit('/').next().unwrap_or(&entry.path);
            if let Ok(name) = dir.parse::<ModelName>()
                && !self.runs(&name)?.is_empty()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_run(&self, name: &ModelName, run_id: &str) -> Result<Vec<u8>, RegistryError> {
        check_run_id(name, run_id)?;
        let path = Self::record_path(name, "runs", &format!("{run_id}.json"));
        match self
            .client
            .get_artifact(&path, self.remote.limits.max_file_bytes)
        {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.is_not_found() => Err(RegistryError::RunNotFound {
                name: name.clone(),
                run: run_id.to_owned(),
            }),
            Err(e) => self.finish(Err(e.into())),
        }
    }

    fn write_search_cell(
        &self,
        name: &ModelName,
        search: &str,
        cell: usize,
        record: &[u8],
    ) -> Result<(), RegistryError> {
        check_run_id(name, search)?;
        let path = Self::record_path(name, "search", &format!("{search}/{cell}.json"));
        self.finish(
            self.client
                .put_artifact(&path, record)
                .map_err(Failure::from),
        )
    }

    fn search_cells(
        &self,
        name: &ModelName,
        search: &str,
    ) -> Result<BTreeMap<usize, Vec<u8>>, RegistryError> {
        check_run_id(name, search)?;
        let dir = Self::record_path(name, "search", search);
        let listed = self.finish(self.list_dir(&dir))?;
        let mut cells = BTreeMap::new();
        for entry in listed.into_iter().filter(|e| !e.is_dir) {
            let file = entry.path.rsplit('/').next().unwrap_or(&entry.path);
            let Some(index) = file
                .strip_suffix(".json")
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            let bytes = self.finish(
                self.client
                    .get_artifact(&format!("{dir}/{file}"), self.remote.limits.max_file_bytes)
                    .map_err(Failure::from),
            )?;
            cells.insert(index, bytes);
        }
        Ok(cells)
    }

    fn collect_garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, RegistryError> {
        self.finish(self.garbage(dry_run))
    }

    fn offline(&self) -> Option<String> {
        self.remote.offline()
    }
}
