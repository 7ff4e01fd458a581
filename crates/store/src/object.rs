//! [`ObjectStoreRegistry`]: the [`Registry`] contract on an object store.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};
use serde::{Deserialize, Serialize};

use ferry_core::artifact::{ArtifactFiles, MANIFEST_FILE, Manifest, ReadLimits, write_version_dir};
use ferry_core::bundle::ModelBundle;
use ferry_core::registry::{
    Leftover, Published, Registry, RegistryError, Resolved, check_run_id, is_valid_run_id,
};
use ferry_core::{AliasName, ModelName, ModelRef, Version};

use crate::bridge::Bridge;
use crate::layout::{self, Entry};
use crate::remote::{Remote, Unreachable, lock, plain_file_name};

/// Compare-and-swap attempts on one alias before giving up (each retry waits a few
/// milliseconds more; eight writers racing settle in a handful).
const CAS_ATTEMPTS: u32 = 64;

/// An alias and its history, one object so that one conditional write moves both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct AliasRecord {
    /// Where the alias points; `None`: deleted (the record stays for its history).
    version: Option<Version>,
    /// Where it has pointed, oldest first, as changed by set, delete and rollback
    /// (`latest` keeps none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<Option<Version>>,
}

/// An alias object as last read: its record and the tag a conditional write needs.
#[derive(Debug, Clone)]
struct Seen {
    record: AliasRecord,
    tag: UpdateVersion,
}

/// Why an operation failed: the registry's own answer, or the store's.
enum Failure {
    Registry(RegistryError),
    Store {
        path: Path,
        error: object_store::Error,
    },
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::Registry(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Registry(RegistryError::Io(e))
    }
}

impl Unreachable for Failure {
    /// The store did not answer: object_store's generic errors (network, timeouts,
    /// server errors after the retries).
    fn unreachable(&self) -> Option<String> {
        match self {
            Failure::Store {
                error: error @ object_store::Error::Generic { .. },
                ..
            } => Some(error.to_string()),
            Failure::Store { .. } | Failure::Registry(_) => None,
        }
    }
}

fn store_err(path: &Path) -> impl FnOnce(object_store::Error) -> Failure + '_ {
    move |error| Failure::Store {
        path: path.clone(),
        error,
    }
}

/// A model registry in an object store (S3 or S3-compatible, GCS, Azure, or memory),
/// with a local cache of the versions it loads.
///
/// The local registry's guarantees, on a store without rename or locks:
/// - a version is invisible until complete: its files are uploaded first and its
///   `manifest.json` last, and only a version with a manifest is listed or resolved;
/// - version numbers are claimed by creating `<model>/.claims/<n>` if absent
///   (`PutMode::Create`), so two trains on two machines never share one;
/// - an alias and its history are one object, changed by a conditional write on its
///   ETag (`PutMode::Update`) and retried on conflict, so concurrent moves lose none;
/// - what is loaded is downloaded once into the cache, checked like any artifact, and
///   reused while its manifest is unchanged; when the store cannot be reached, reads
///   fall back to the cached copies and [`Registry::offline`] says so.
pub struct ObjectStoreRegistry {
    store: Arc<dyn ObjectStore>,
    remote: Remote,
    bridge: Bridge,
    gc_grace: Duration,
    /// Alias objects as last read, for conditional GETs (a watch poll is a 304).
    seen: Mutex<HashMap<Path, Seen>>,
    /// Versions known complete; versions never change once complete.
    complete: Mutex<HashSet<(ModelName, Version)>>,
}

impl fmt::Debug for ObjectStoreRegistry {
    // The store's own Debug may hold credentials: only the URL is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreRegistry")
            .field("url", &self.remote.url)
            .field("cache", &self.remote.cache.root())
            .finish_non_exhaustive()
    }
}

/// A short, varying pause before retrying a lost compare-and-swap.
async fn backoff(attempt: u32) {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos() % 7));
    let ms = u64::from(attempt.min(10)) * 3 + jitter;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

impl ObjectStoreRegistry {
    /// A registry in `store` (already scoped to the registry's prefix), named `url` in
    /// messages, caching loaded versions under `cache_dir` up to `cache_max_bytes`.
    ///
    /// # Errors
    /// When the cache directory or the I/O runtime cannot be made.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        url: impl Into<String>,
        cache_dir: &FsPath,
        cache_max_bytes: u64,
    ) -> std::io::Result<Self> {
        Ok(Self {
            remote: Remote::new(url.into(), "the store", cache_dir, cache_max_bytes)?,
            store,
            bridge: Bridge::new()?,
            gc_grace: Duration::from_secs(3600),
            seen: Mutex::new(HashMap::new()),
            complete: Mutex::new(HashSet::new()),
        })
    }

    /// The same registry, reading (and verifying what it publishes) with `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.remote.limits = limits;
        self
    }

    /// The same registry, counting an unfinished upload as garbage once nothing has
    /// been written to it for `grace` (default one hour: longer than any upload).
    #[must_use]
    pub fn with_gc_grace(mut self, grace: Duration) -> Self {
        self.gc_grace = grace;
        self
    }

    /// The local directory this registry's copies are cached in.
    #[must_use]
    pub fn cache_dir(&self) -> &FsPath {
        self.remote.cache.root()
    }

    fn url_of(&self, path: &Path) -> String {
        format!("{}/{path}", self.remote.url)
    }

    fn finish<T>(&self, result: Result<T, Failure>) -> Result<T, RegistryError> {
        result.map_err(|f| match f {
            Failure::Registry(e) => e,
            Failure::Store { path, error } => RegistryError::Store {
                location: self.url_of(&path),
                message: error.to_string(),
            },
        })
    }

    async fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>, Failure> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(store_err(prefix))
    }

    /// The complete versions of `name` and the highest number claimed or seen.
    async fn scan(&self, name: &ModelName) -> Result<(Vec<Version>, u64), Failure> {
        let mut versions = BTreeSet::new();
        let mut highest = 0;
        for meta in self.list(&layout::model(name)).await? {
            match layout::entry(name, &meta.location) {
                Entry::VersionFile { version, file } => {
                    highest = highest.max(version);
                    if file == MANIFEST_FILE {
                        versions.insert(Version(version));
                    }
                }
                Entry::Claim(n) => highest = highest.max(n),
                Entry::Other => {}
            }
        }
        let mut complete = lock(&self.complete);
        complete.extend(versions.iter().map(|v| (name.clone(), *v)));
        Ok((versions.into_iter().collect(), highest))
    }

    async fn model_names(&self) -> Result<Vec<ModelName>, Failure> {
        let listed = self
            .store
            .list_with_delimiter(None)
            .await
            .map_err(store_err(&Path::default()))?;
        let mut names: Vec<ModelName> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename()?.parse().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Reads an alias object, with a conditional GET when it was read before.
    async fn read_alias(&self, path: &Path) -> Result<Option<Seen>, Failure> {
        let before = lock(&self.seen).get(path).cloned();
        let options = GetOptions {
            if_none_match: before.as_ref().and_then(|s| s.tag.e_tag.clone()),
            ..GetOptions::default()
        };
        match self.store.get_opts(path, options).await {
            Ok(got) => {
                let tag = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got.bytes().await.map_err(store_err(path))?;
                let record: AliasRecord =
                    serde_json::from_slice(&bytes).map_err(|_| RegistryError::CorruptAlias {
                        path: PathBuf::from(self.url_of(path)),
                    })?;
                let seen = Seen { record, tag };
                lock(&self.seen).insert(path.clone(), seen.clone());
                Ok(Some(seen))
            }
            Err(object_store::Error::NotModified { .. }) => Ok(before),
            Err(object_store::Error::NotFound { .. }) => {
                lock(&self.seen).remove(path);
                Ok(None)
            }
            Err(error) => Err(Failure::Store {
                path: path.clone(),
                error,
            }),
        }
    }

    /// Changes an alias object with compare-and-swap: `change` sees the current record
    /// (`None`: no object) and returns the next one, or `None` to leave it as it is.
    /// Returns the record as it stands afterwards.
    async fn update_alias(
        &self,
        path: &Path,
        change: impl Fn(Option<&AliasRecord>) -> Result<Option<AliasRecord>, RegistryError>,
    ) -> Result<Option<AliasRecord>, Failure> {
        for attempt in 0..CAS_ATTEMPTS {
            let current = self.read_alias(path).await?;
            let Some(next) = change(current.as_ref().map(|s| &s.record))? else {
                return Ok(current.map(|s| s.record));
            };
            let body = serde_json::to_vec(&next)
                .map_err(|e| RegistryError::Io(std::io::Error::other(e)))?;
            let mode = match &current {
                Some(seen) => PutMode::Update(seen.tag.clone()),
                None => PutMode::Create,
            };
            let put = self
                .store
                .put_opts(path, PutPayload::from(body), PutOptions::from(mode))
                .await;
            match put {
                Ok(done) => {
                    let tag = UpdateVersion {
                        e_tag: done.e_tag,
                        version: done.version,
                    };
                    lock(&self.seen).insert(
                        path.clone(),
                        Seen {
                            record: next.clone(),
                            tag,
                        },
                    );
                    return Ok(Some(next));
                }
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::NotFound { .. },
                ) => {
                    // Someone else wrote first: read again and reapply.
                    lock(&self.seen).remove(path);
                    backoff(attempt).await;
                }
                Err(error) => {
                    return Err(Failure::Store {
                        path: path.clone(),
                        error,
                    });
                }
            }
        }
        Err(Failure::Store {
            path: path.clone(),
            error: object_store::Error::Generic {
                store: "ferry",
                source: format!("gave up after {CAS_ATTEMPTS} conflicting writes").into(),
            },
        })
    }

    /// Whether `version` of `name` is complete (its manifest exists).
    async fn exists(&self, name: &ModelName, version: Version) -> Result<bool, Failure> {
        if lock(&self.complete).contains(&(name.clone(), version)) {
            return Ok(true);
        }
        let path = layout::manifest(name, version);
        match self.store.head(&path).await {
            Ok(_) => {
                lock(&self.complete).insert((name.clone(), version));
                Ok(true)
            }
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(Failure::Store { path, error }),
        }
    }

    /// The version `reference` stands for. With `check`, also that it is complete (a
    /// HEAD of its manifest, once per version); without, the caller's next read of the
    /// manifest checks it.
    async fn resolve_remote(&self, reference: &ModelRef, check: bool) -> Result<Version, Failure> {
        let name = reference.name();
        let missing = |found: RegistryError| async move {
            let (versions, _) = self.scan(name).await?;
            Err::<Version, Failure>(if versions.is_empty() {
                RegistryError::ModelNotFound(name.clone()).into()
            } else {
                found.into()
            })
        };
        let version = match reference {
            ModelRef::Version(_, v) => *v,
            ModelRef::Alias(_, alias) => {
                let record = self
                    .read_alias(&layout::alias(name, alias))
                    .await?
                    .and_then(|s| s.record.version);
                match record {
                    Some(v) => v,
                    None if alias.is_latest() => {
                        let (versions, _) = self.scan(name).await?;
                        return versions
                            .last()
                            .copied()
                            .ok_or_else(|| RegistryError::ModelNotFound(name.clone()).into());
                    }
                    None => {
                        return missing(RegistryError::AliasNotFound {
                            name: name.clone(),
                            alias: alias.clone(),
                        })
                        .await;
                    }
                }
            }
        };
        if !check || self.exists(name, version).await? {
            Ok(version)
        } else {
            missing(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            })
            .await
        }
    }

    /// Downloads `version` of `name` into the cache unless an identical copy is there,
    /// and loads it.
    async fn fetch(&self, name: &ModelName, version: Version) -> Result<ModelBundle, Failure> {
        let manifest_path = layout::manifest(name, version);
        let manifest = self
            .store
            .get(&manifest_path)
            .await
            .map_err(store_err(&manifest_path))?
            .bytes()
            .await
            .map_err(store_err(&manifest_path))?;
        if let Some(bundle) = self.remote.cached_copy(name, version, &manifest) {
            return Ok(bundle);
        }
        let parsed: Manifest =
            serde_json::from_slice(&manifest).map_err(|e| RegistryError::Store {
                location: self.url_of(&manifest_path),
                message: format!("not a manifest: {e}"),
            })?;
        let partial = self.remote.cache.partial()?;
        fs_err::create_dir_all(&partial)?;
        let downloaded = self.download(name, version, &parsed, &partial).await;
        if let Err(e) = downloaded {
            self.remote.cache.discard(&partial);
            return Err(e);
        }
        fs_err::write(partial.join(MANIFEST_FILE), &manifest)?;
        Ok(self.remote.install(&partial, name, version)?)
    }

    async fn download(
        &self,
        name: &ModelName,
        version: Version,
        manifest: &Manifest,
        into: &FsPath,
    ) -> Result<(), Failure> {
        let files = manifest.files.keys().map(|file| async move {
            if !plain_file_name(file) {
                return Err(Failure::Registry(RegistryError::Store {
                    location: self.url_of(&layout::manifest(name, version)),
                    message: format!("lists a file named {file:?}: expected a plain file name"),
                }));
            }
            let path = layout::version_file(name, version, file);
            let got = self.store.get(&path).await.map_err(store_err(&path))?;
            if got.meta.size > self.remote.limits.max_file_bytes {
                return Err(RegistryError::Store {
                    location: self.url_of(&path),
                    message: format!(
                        "{} bytes, above the limit of {} bytes",
                        got.meta.size, self.remote.limits.max_file_bytes
                    ),
                }
                .into());
            }
            let bytes = got.bytes().await.map_err(store_err(&path))?;
            fs_err::write(into.join(file), &bytes)?;
            Ok(())
        });
        futures_util::future::try_join_all(files).await?;
        Ok(())
    }

    async fn claim(&self, name: &ModelName) -> Result<Version, Failure> {
        let (_, highest) = self.scan(name).await?;
        let mut candidate = highest + 1;
        loop {
            let path = layout::claim(name, candidate);
            match self
                .store
                .put_opts(&path, PutPayload::new(), PutOptions::from(PutMode::Create))
                .await
            {
                Ok(_) => return Ok(Version(candidate)),
                Err(object_store::Error::AlreadyExists { .. }) => candidate += 1,
                Err(error) => return Err(Failure::Store { path, error }),
            }
        }
    }

    /// Uploads every file of the version in `dir` but its manifest.
    async fn upload_files(
        &self,
        name: &ModelName,
        version: Version,
        manifest: &Manifest,
        dir: &FsPath,
    ) -> Result<(), Failure> {
        let files = manifest.files.keys().map(|file| async move {
            let path = layout::version_file(name, version, file);
            let bytes = fs_err::read(dir.join(file))?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(store_err(&path))?;
            Ok::<(), Failure>(())
        });
        futures_util::future::try_join_all(files).await?;
        Ok(())
    }

    /// Uploads the manifest: the version exists from now on.
    async fn commit(
        &self,
        name: &ModelName,
        version: Version,
        dir: &FsPath,
    ) -> Result<(), Failure> {
        let path = layout::manifest(name, version);
        let bytes = fs_err::read(dir.join(MANIFEST_FILE))?;
        self.store
            .put_opts(
                &path,
                PutPayload::from(bytes),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(store_err(&path))?;
        lock(&self.complete).insert((name.clone(), version));
        Ok(())
    }

    async fn remove_prefix(&self, prefix: &Path) -> Result<(), Failure> {
        for meta in self.list(prefix).await? {
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => {
                    return Err(Failure::Store {
                        path: meta.location,
                        error,
                    });
                }
            }
        }
        Ok(())
    }

    async fn publish_remote(
        &self,
        mut manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, Failure> {
        let name = manifest.name.clone();
        let version = self.claim(&name).await?;
        manifest.version = version;
        let partial = self.remote.cache.partial()?;
        let written = match write_version_dir(&partial, manifest, files) {
            Ok(m) => m,
            Err(e) => {
                self.remote.cache.discard(&partial);
                return Err(RegistryError::Artifact(e).into());
            }
        };
        // Read back exactly as serve will while the files upload; the manifest, which
        // makes the version exist, goes up only once both are done.
        let check = {
            let (dir, limits) = (partial.clone(), self.remote.limits);
            tokio::task::spawn_blocking(move || ModelBundle::load_with(&dir, limits).map(|_| ()))
        };
        let (checked, uploaded) =
            tokio::join!(check, self.upload_files(&name, version, &written, &partial));
        let checked = match checked {
            Ok(result) => result.map_err(|e| Failure::Registry(RegistryError::Artifact(e))),
            Err(join) => Err(Failure::Registry(RegistryError::Io(std::io::Error::other(
                join,
            )))),
        };
        let done = match (checked, uploaded) {
            (Ok(()), Ok(())) => self.commit(&name, version, &partial).await,
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        };
        if let Err(e) = done {
            self.remote.cache.discard(&partial);
            // Best effort: what was uploaded goes; gc finds whatever stays.
            let _ = self
                .remove_prefix(&layout::version_dir(&name, version))
                .await;
            return Err(e);
        }
        // The published copy stays as the cache's (a serve on this machine starts warm),
        // within the cache's bound like any download.
        let path = self.remote.cache.install(&partial, &name, version)?;
        self.remote.cache.evict(&path);
        let latest_path = layout::alias(&name, &AliasName::latest());
        let after = self
            .update_alias(&latest_path, |current| {
                Ok(match current.and_then(|r| r.version) {
                    Some(newer) if newer > version => None,
                    Some(_) | None => Some(AliasRecord {
                        version: Some(version),
                        history: Vec::new(),
                    }),
                })
            })
            .await?;
        let latest = after.and_then(|r| r.version).unwrap_or(version);
        Ok(Published {
            resolved: Resolved {
                name,
                version,
                path,
            },
            manifest: written,
            latest,
        })
    }

    async fn aliases_remote(
        &self,
        name: &ModelName,
    ) -> Result<BTreeMap<AliasName, Version>, Failure> {
        let mut out = BTreeMap::new();
        for meta in self.list(&layout::aliases(name)).await? {
            let Some(Ok(alias)) = meta.location.filename().map(str::parse::<AliasName>) else {
                continue;
            };
            if let Some(v) = self
                .read_alias(&meta.location)
                .await?
                .and_then(|s| s.record.version)
            {
                out.insert(alias, v);
            }
        }
        Ok(out)
    }

    async fn delete_version_remote(
        &self,
        name: &ModelName,
        version: Version,
    ) -> Result<(), Failure> {
        let (versions, _) = self.scan(name).await?;
        if !versions.contains(&version) {
            return Err(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            }
            .into());
        }
        let in_use: Vec<AliasName> = self
            .aliases_remote(name)
            .await?
            .into_iter()
            .filter(|(a, v)| *v == version && !a.is_latest())
            .map(|(a, _)| a)
            .collect();
        if !in_use.is_empty() {
            return Err(RegistryError::VersionInUse {
                name: name.clone(),
                version,
                aliases: in_use,
            }
            .into());
        }
        // The manifest first: the version is gone the moment it is, and a crash after
        // leaves files without one, which gc removes.
        let manifest = layout::manifest(name, version);
        self.store
            .delete(&manifest)
            .await
            .map_err(store_err(&manifest))?;
        lock(&self.complete).remove(&(name.clone(), version));
        self.remove_prefix(&layout::version_dir(name, version))
            .await?;
        let remaining = versions.iter().rev().find(|v| **v != version).copied();
        let latest_path = layout::alias(name, &AliasName::latest());
        match remaining {
            Some(highest) => {
                self.update_alias(&latest_path, |current| {
                    Ok(
                        (current.and_then(|r| r.version) == Some(version)).then(|| AliasRecord {
                            version: Some(highest),
                            history: Vec::new(),
                        }),
                    )
                })
                .await?;
            }
            None => match self.store.delete(&latest_path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    lock(&self.seen).remove(&latest_path);
                }
                Err(error) => {
                    return Err(Failure::Store {
                        path: latest_path,
                        error,
                    });
                }
            },
        }
        Ok(())
    }

    async fn garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, Failure> {
        let now = std::time::SystemTime::now();
        let mut found = Vec::new();
        for name in self.model_names().await? {
            // Per version: its objects, whether it has a manifest, and when last written.
            let mut by_version: BTreeMap<u64, (Vec<ObjectMeta>, bool)> = BTreeMap::new();
            for meta in self.list(&layout::model(&name)).await? {
                if let Entry::VersionFile { version, file } = layout::entry(&name, &meta.location) {
                    let slot = by_version.entry(version).or_default();
                    slot.1 |= file == MANIFEST_FILE;
                    slot.0.push(meta);
                }
            }
            for (version, (objects, complete)) in by_version {
                let newest = objects.iter().map(|m| m.last_modified).max();
                let age = newest
                    .map(std::time::SystemTime::from)
                    .and_then(|t| now.duration_since(t).ok())
                    .unwrap_or_default();
                if complete || age < self.gc_grace {
                    continue;
                }
                let dir = layout::version_dir(&name, Version(version));
                if !dry_run {
                    self.remove_prefix(&dir).await?;
                }
                found.push(Leftover {
                    location: format!("{}/", self.url_of(&dir)),
                    pid: None,
                    age_secs: Some(age.as_secs()),
                    bytes: objects.iter().map(|m| m.size).sum(),
                });
            }
        }
        Ok(found)
    }
}

impl Registry for ObjectStoreRegistry {
    fn location(&self) -> String {
        self.remote.url.clone()
    }

    fn models(&self) -> Result<Vec<ModelName>, RegistryError> {
        let listed = self.bridge.block(async {
            let mut names = Vec::new();
            for name in self.model_names().await? {
                if !self.scan(&name).await?.0.is_empty() {
                    names.push(name);
                }
            }
            Ok::<_, Failure>(names)
        });
        self.finish(self.remote.models(listed))
    }

    fn versions(&self, name: &ModelName) -> Result<Vec<Version>, RegistryError> {
        let scanned = self.bridge.block(self.scan(name));
        self.finish(scanned.map(|(versions, _)| versions))
    }

    fn aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, Version>, RegistryError> {
        let listed = self.bridge.block(self.aliases_remote(name));
        self.finish(listed)
    }

    fn resolve(&self, reference: &ModelRef) -> Result<Resolved, RegistryError> {
        let remote = self.bridge.block(self.resolve_remote(reference, true));
        self.finish(self.remote.resolve(reference, remote))
    }

    fn load(&self, reference: &ModelRef) -> Result<(Resolved, ModelBundle), RegistryError> {
        let name = reference.name();
        // Resolve without the HEAD of the manifest: downloading it proves the version.
        let loaded = self.bridge.block(async {
            let version = self.resolve_remote(reference, false).await?;
            let bundle = self.fetch(name, version).await?;
            Ok::<_, Failure>((version, bundle))
        });
        match self.remote.load(reference, loaded) {
            Ok(loaded) => Ok(loaded),
            Err(Failure::Store {
                error: object_store::Error::NotFound { .. },
                path,
            }) if path.filename() == Some(MANIFEST_FILE) => {
                // An alias to a deleted version, or no such version: resolving says which.
                let resolved = self.resolve(reference)?;
                Err(RegistryError::VersionNotFound {
                    name: resolved.name,
                    version: resolved.version,
                })
            }
            Err(f) => self.finish(Err(f)),
        }
    }

    fn publish(
        &self,
        manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, RegistryError> {
        let published = self.bridge.block(self.publish_remote(manifest, files));
        self.finish(published)
    }

    fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: Version,
    ) -> Result<(), RegistryError> {
        let changed = self.bridge.block(async {
            if !self.exists(name, version).await? {
                return Err(RegistryError::VersionNotFound {
                    name: name.clone(),
                    version,
                }
                .into());
            }
            let keep_history = !alias.is_latest();
            self.update_alias(&layout::alias(name, alias), |current| {
                let mut record = current.cloned().unwrap_or_default();
                if keep_history {
                    if record.history.is_empty() {
                        record.history.push(record.version);
                    }
                    record.history.push(Some(version));
                }
                record.version = Some(version);
                Ok(Some(record))
            })
            .await
            .map(|_| ())
        });
        self.finish(changed)
    }

    fn delete_alias(&self, name: &ModelName, alias: &AliasName) -> Result<(), RegistryError> {
        let path = layout::alias(name, alias);
        let not_found = || RegistryError::AliasNotFound {
            name: name.clone(),
            alias: alias.clone(),
        };
        let deleted = self.bridge.block(async {
            if alias.is_latest() {
                return match self.store.delete(&path).await {
                    Ok(()) => {
                        lock(&self.seen).remove(&path);
                        Ok(())
                    }
                    Err(object_store::Error::NotFound { .. }) => Err(not_found().into()),
                    Err(error) => Err(Failure::Store {
                        path: path.clone(),
                        error,
                    }),
                };
            }
            self.update_alias(&path, |current| {
                let Some(mut record) = current.filter(|r| r.version.is_some()).cloned() else {
                    return Err(not_found());
                };
                if record.history.is_empty() {
                    record.history.push(record.version);
                }
                record.history.push(None);
                record.version = None;
                Ok(Some(record))
            })
            .await
            .map(|_| ())
        });
        self.finish(deleted)
    }

    fn alias_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Vec<Option<Version>>, RegistryError> {
        let read = self
            .bridge
            .block(self.read_alias(&layout::alias(name, alias)));
        self.finish(read.map(|seen| seen.map(|s| s.record.history).unwrap_or_default()))
    }

    fn rollback_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<Version>, RegistryError> {
        let rolled = self.bridge.block(async {
            let (versions, _) = self.scan(name).await?;
            let after = self
                .update_alias(&layout::alias(name, alias), |current| {
                    let mut record = current.cloned().unwrap_or_default();
                    if record.history.len() < 2 {
                        return Err(RegistryError::NoEarlierVersion {
                            name: name.clone(),
                            alias: alias.clone(),
                        });
                    }
                    record.history.pop();
                    let target = record.history.last().copied().flatten();
                    if let Some(v) = target
                        && !versions.contains(&v)
                    {
                        return Err(RegistryError::VersionNotFound {
                            name: name.clone(),
                            version: v,
                        });
                    }
                    record.version = target;
                    Ok(Some(record))
                })
                .await?;
            Ok(after.and_then(|r| r.version))
        });
        self.finish(rolled)
    }

    fn delete_version(&self, name: &ModelName, version: Version) -> Result<(), RegistryError> {
        let deleted = self.bridge.block(self.delete_version_remote(name, version));
        self.finish(deleted)
    }

    fn write_run(
        &self,
        name: &ModelName,
        run_id: &str,
        record: &[u8],
    ) -> Result<String, RegistryError> {
        check_run_id(name, run_id)?;
        let path = layout::run(name, run_id);
        let written = self.bridge.block(async {
            self.store
                .put(&path, PutPayload::from(record.to_vec()))
                .await
                .map_err(store_err(&path))
        });
        self.finish(written.map(|_| self.url_of(&path)))
    }

    fn runs(&self, name: &ModelName) -> Result<Vec<String>, RegistryError> {
        let listed = self.bridge.block(self.list(&layout::runs(name)));
        let mut ids: Vec<String> = self
            .finish(listed)?
            .iter()
            .filter_map(|meta| {
                let parts: Vec<_> = meta.location.parts().collect();
                match parts.as_slice() {
                    [_, _, id, file] if file.as_ref() == layout::RUN_FILE => {
                        Some(id.as_ref().to_owned())
                    }
                    _ => None,
                }
            })
            .filter(|id| is_valid_run_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn models_with_runs(&self) -> Result<Vec<ModelName>, RegistryError> {
        let names = self.bridge.block(self.model_names());
        let mut out = Vec::new();
        for name in self.finish(names)? {
            if !self.runs(&name)?.is_empty() {
                out.push(name);
            }
        }
        Ok(out)
    }

    fn read_run(&self, name: &ModelName, run_id: &str) -> Result<Vec<u8>, RegistryError> {
        let not_found = || RegistryError::RunNotFound {
            name: name.clone(),
            run: run_id.to_owned(),
        };
        if !is_valid_run_id(run_id) {
            return Err(not_found());
        }
        let path = layout::run(name, run_id);
        let read = self.bridge.block(async {
            match self.store.get(&path).await {
                Ok(got) => got
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(store_err(&path)),
                Err(object_store::Error::NotFound { .. }) => Err(not_found().into()),
                Err(error) => Err(Failure::Store {
                    path: path.clone(),
                    error,
                }),
            }
        });
        self.finish(read)
    }

    fn write_search_cell(
        &self,
        name: &ModelName,
        search: &str,
        cell: usize,
        record: &[u8],
    ) -> Result<(), RegistryError> {
        check_run_id(name, search)?;
        let path = layout::search_cell(name, search, cell);
        let written = self.bridge.block(async {
            self.store
                .put(&path, PutPayload::from(record.to_vec()))
                .await
                .map_err(store_err(&path))
        });
        self.finish(written.map(|_| ()))
    }

    fn search_cells(
        &self,
        name: &ModelName,
        search: &str,
    ) -> Result<BTreeMap<usize, Vec<u8>>, RegistryError> {
        check_run_id(name, search)?;
        let read = self.bridge.block(async {
            let mut cells = BTreeMap::new();
            for meta in self.list(&layout::search(name, search)).await? {
                let Some(Ok(cell)) = meta
                    .location
                    .filename()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::parse::<usize>)
                else {
                    continue;
                };
                let got = self
                    .store
                    .get(&meta.location)
                    .await
                    .map_err(store_err(&meta.location))?;
                let bytes = got.bytes().await.map_err(store_err(&meta.location))?;
                cells.insert(cell, bytes.to_vec());
            }
            Ok::<_, Failure>(cells)
        });
        self.finish(read)
    }

    fn collect_garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, RegistryError> {
        let found = self.bridge.block(self.garbage(dry_run));
        self.finish(found)
    }

    fn offline(&self) -> Option<String> {
        self.remote.offline()
    }
}
