//! The local model registry: `<root>/<model>/<version>/` artifact directories with
//! integer versions per model, and aliases (`latest`, `production`, any name) that point
//! at versions.
//!
//! Versions are claimed with an atomic exclusive create of `<model>/.claims/<n>`, never
//! by counting directories, so concurrent writers (processes or machines sharing the
//! directory) never get the same number; the artifact is then built under a temporary
//! name and renamed into place, so a version directory is complete or absent. A crash
//! between claim and rename leaves a gap in the numbering, never a partial version.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::artifact::{ArtifactError, ArtifactFiles, Manifest, write_version_dir};
use crate::bundle::ModelBundle;

/// The alias every successful publish moves forward.
pub const LATEST: &str = "latest";

const CLAIMS_DIR: &str = ".claims";
const ALIASES_DIR: &str = "aliases";
const LOCK_FILE: &str = ".lock";

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A model name: 1 to 64 characters of `[a-z0-9_-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelName(String);

impl ModelName {
    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ModelName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if valid_name(&s) {
            Ok(Self(s))
        } else {
            Err(format!(
                "invalid model name {s:?}: expected 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
            ))
        }
    }
}

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<ModelName> for String {
    fn from(n: ModelName) -> String {
        n.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A model version number, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which version of a model: `name` (its `latest`), `name@alias` or `name/3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelRef {
    /// A model by alias; a bare name means `@latest`.
    Alias(ModelName, String),
    /// A model at an explicit version.
    Version(ModelName, Version),
}

impl ModelRef {
    /// The model name.
    #[must_use]
    pub fn name(&self) -> &ModelName {
        match self {
            ModelRef::Alias(n, _) | ModelRef::Version(n, _) => n,
        }
    }
}

impl FromStr for ModelRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some((name, alias)) = s.split_once('@') {
            if !valid_name(alias) {
                return Err(format!("invalid alias {alias:?} in {s:?}"));
            }
            Ok(ModelRef::Alias(name.parse()?, alias.to_owned()))
        } else if let Some((name, version)) = s.split_once('/') {
            let v: u64 = version.parse().map_err(|_| {
                format!("invalid version {version:?} in {s:?}: expected a positive integer")
            })?;
            if v == 0 {
                return Err(format!("invalid version 0 in {s:?}: versions start at 1"));
            }
            Ok(ModelRef::Version(name.parse()?, Version(v)))
        } else {
            Ok(ModelRef::Alias(s.parse()?, LATEST.to_owned()))
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Alias(n, a) => write!(f, "{n}@{a}"),
            ModelRef::Version(n, v) => write!(f, "{n}/{v}"),
        }
    }
}

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
        alias: String,
    },
    /// An alias file does not hold a version number.
    #[error("alias file {path} does not hold a version number")]
    CorruptAlias {
        /// The alias file.
        path: PathBuf,
    },
    /// The artifact failed to write or to load.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// A resolved reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The model.
    pub name: ModelName,
    /// The version the reference points to.
    pub version: Version,
    /// Its directory.
    pub path: PathBuf,
}

/// What [`LocalRegistry::publish`] wrote.
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

/// A registry rooted at a local directory (`artifacts/` by default).
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    root: PathBuf,
}

impl LocalRegistry {
    /// A registry at `root`; the directory is created on the first publish.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn model_dir(&self, name: &ModelName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// The models that have at least one version, sorted by name. A missing root is an
    /// empty registry.
    ///
    /// # Errors
    /// [`RegistryError::Io`] when the root cannot be listed.
    pub fn models(&self) -> Result<Vec<ModelName>, RegistryError> {
        let entries = match fs_err::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(Ok(name)) = entry.file_name().to_str().map(ModelName::from_str) else {
                continue;
            };
            if entry.file_type()?.is_dir() && !self.versions(&name)?.is_empty() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The complete versions of `name`, ascending; empty for an unknown model.
    ///
    /// # Errors
    /// [`RegistryError::Io`] when the model directory cannot be listed.
    pub fn versions(&self, name: &ModelName) -> Result<Vec<Version>, RegistryError> {
        let entries = match fs_err::read_dir(self.model_dir(name)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(Ok(v)) = entry.file_name().to_str().map(str::parse::<u64>) else {
                continue;
            };
            if v > 0 && entry.file_type()?.is_dir() {
                versions.push(Version(v));
            }
        }
        versions.sort();
        Ok(versions)
    }

    /// The aliases of `name` and the versions they point to.
    ///
    /// # Errors
    /// [`RegistryError::Io`], or [`RegistryError::CorruptAlias`] for an unreadable alias.
    pub fn aliases(&self, name: &ModelName) -> Result<BTreeMap<String, Version>, RegistryError> {
        let dir = self.model_dir(name).join(ALIASES_DIR);
        let entries = match fs_err::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = BTreeMap::new();
        for entry in entries {
            let entry = entry?;
            let Some(alias) = entry
                .file_name()
                .to_str()
                .filter(|a| valid_name(a))
                .map(str::to_owned)
            else {
                continue;
            };
            if let Some(v) = read_alias(&entry.path())? {
                out.insert(alias, v);
            }
        }
        Ok(out)
    }

    /// Resolves `reference` to an existing version. `name@latest` falls back to the
    /// highest version when the alias was never written.
    ///
    /// # Errors
    /// [`RegistryError::ModelNotFound`], [`RegistryError::VersionNotFound`] or
    /// [`RegistryError::AliasNotFound`].
    pub fn resolve(&self, reference: &ModelRef) -> Result<Resolved, RegistryError> {
        let name = reference.name();
        let versions = self.versions(name)?;
        if versions.is_empty() {
            return Err(RegistryError::ModelNotFound(name.clone()));
        }
        let version = match reference {
            ModelRef::Version(_, v) => *v,
            ModelRef::Alias(_, alias) => {
                match read_alias(&self.model_dir(name).join(ALIASES_DIR).join(alias))? {
                    Some(v) => v,
                    None if alias == LATEST => versions.last().copied().unwrap_or(Version(1)),
                    None => {
                        return Err(RegistryError::AliasNotFound {
                            name: name.clone(),
                            alias: alias.clone(),
                        });
                    }
                }
            }
        };
        if !versions.contains(&version) {
            return Err(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            });
        }
        Ok(Resolved {
            name: name.clone(),
            version,
            path: self.model_dir(name).join(version.to_string()),
        })
    }

    /// Resolves and loads `reference`, verifying the artifact.
    ///
    /// # Errors
    /// As [`Self::resolve`], or [`RegistryError::Artifact`] when the artifact is refused.
    pub fn load(&self, reference: &ModelRef) -> Result<(Resolved, ModelBundle), RegistryError> {
        let resolved = self.resolve(reference)?;
        let bundle = ModelBundle::load(&resolved.path)?;
        Ok((resolved, bundle))
    }

    /// Points `alias` of `name` at `version` (atomically: write, then rename).
    ///
    /// # Errors
    /// [`RegistryError::VersionNotFound`] for a version that does not exist, or IO errors.
    pub fn set_alias(
        &self,
        name: &ModelName,
        alias: &str,
        version: Version,
    ) -> Result<(), RegistryError> {
        if !self.versions(name)?.contains(&version) {
            return Err(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            });
        }
        let _lock = self.lock(name)?;
        self.write_alias(name, alias, version)
    }

    fn write_alias(
        &self,
        name: &ModelName,
        alias: &str,
        version: Version,
    ) -> Result<(), RegistryError> {
        let dir = self.model_dir(name).join(ALIASES_DIR);
        fs_err::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{alias}.{}.tmp", std::process::id()));
        let mut f = fs_err::File::create(&tmp)?;
        writeln!(f, "{version}")?;
        f.sync_all()?;
        fs_err::rename(&tmp, dir.join(alias))?;
        Ok(())
    }

    /// An exclusive lock on the model's alias updates, released on drop.
    fn lock(&self, name: &ModelName) -> Result<fs_err::File, RegistryError> {
        let dir = self.model_dir(name);
        fs_err::create_dir_all(&dir)?;
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        file.file().lock()?;
        Ok(file)
    }

    /// Claims the next free version number of `name` with an exclusive create.
    fn claim(&self, name: &ModelName) -> Result<Version, RegistryError> {
        let claims = self.model_dir(name).join(CLAIMS_DIR);
        fs_err::create_dir_all(&claims)?;
        let mut highest = self.versions(name)?.last().map_or(0, |v| v.0);
        for entry in fs_err::read_dir(&claims)? {
            if let Some(Ok(v)) = entry?.file_name().to_str().map(str::parse::<u64>) {
                highest = highest.max(v);
            }
        }
        let mut candidate = highest + 1;
        loop {
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(claims.join(candidate.to_string()))
            {
                Ok(_) => return Ok(Version(candidate)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => candidate += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Publishes a new version of `manifest.name`: claims a version number, writes the
    /// artifact under a temporary name, renames it into place and moves `latest` to it
    /// unless `latest` already points to a higher version. `manifest.version`,
    /// `manifest.files` and `manifest.config_sha256` are filled in here.
    ///
    /// # Errors
    /// IO or serialisation errors; nothing is left under the version's final name.
    pub fn publish(
        &self,
        mut manifest: Manifest,
        files: &ArtifactFiles<'_>,
    ) -> Result<Published, RegistryError> {
        let name = manifest.name.clone();
        let version = self.claim(&name)?;
        manifest.version = version;
        let model_dir = self.model_dir(&name);
        let tmp = model_dir.join(format!(".tmp-{version}-{}", std::process::id()));
        if tmp.exists() {
            fs_err::remove_dir_all(&tmp)?;
        }
        let written = match write_version_dir(&tmp, manifest, files) {
            Ok(m) => m,
            Err(e) => {
                // Best effort: the claim stays, the partial directory goes.
                let _ = fs_err::remove_dir_all(&tmp);
                return Err(e.into());
            }
        };
        let path = model_dir.join(version.to_string());
        fs_err::rename(&tmp, &path)?;
        fs_err::File::open(&model_dir)?.sync_all()?;
        let latest = {
            let _lock = self.lock(&name)?;
            match read_alias(&model_dir.join(ALIASES_DIR).join(LATEST))? {
                Some(newer) if newer > version => newer,
                Some(_) | None => {
                    self.write_alias(&name, LATEST, version)?;
                    version
                }
            }
        };
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
}

fn read_alias(path: &Path) -> Result<Option<Version>, RegistryError> {
    match fs_err::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(|v| Some(Version(v)))
            .map_err(|_| RegistryError::CorruptAlias {
                path: path.to_owned(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            "iris".parse::<ModelRef>().unwrap(),
            ModelRef::Alias("iris".parse().unwrap(), "latest".into())
        );
        assert_eq!(
            "iris@production".parse::<ModelRef>().unwrap(),
            ModelRef::Alias("iris".parse().unwrap(), "production".into())
        );
        assert_eq!(
            "iris/3".parse::<ModelRef>().unwrap(),
            ModelRef::Version("iris".parse().unwrap(), Version(3))
        );
        for bad in [
            "",
            "Iris",
            "iris/0",
            "iris/x",
            "iris@",
            "../etc",
            "a b",
            "iris@Prod",
        ] {
            assert!(
                bad.parse::<ModelRef>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn empty_or_missing_registry_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(dir.path().join("absent"));
        assert!(reg.models().unwrap().is_empty());
        let err = reg.resolve(&"iris".parse().unwrap()).unwrap_err();
        assert!(matches!(err, RegistryError::ModelNotFound(_)));
    }

    #[test]
    fn claims_are_exclusive_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(dir.path());
        let name: ModelName = "m".parse().unwrap();
        let mut claimed: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| reg.claim(&name).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        claimed.sort_unstable();
        assert_eq!(claimed, (1..=8).collect::<Vec<_>>());
    }
}
