//! The local model registry: `<root>/<model>/<version>/` artifact directories with
//! integer versions per model, and aliases (`latest`, `production`, any name) that point
//! at versions.
//!
//! Versions are claimed with an atomic exclusive create of `<model>/.claims/<n>`, never
//! by counting directories, so concurrent writers (processes or machines sharing the
//! directory) never get the same number; the artifact is then built under a temporary
//! name, read back with the reader serve uses, and renamed into place, so a version
//! directory is complete, verified or absent. A crash between claim and rename leaves a
//! gap in the numbering, never a partial version.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{
    AliasName, ModelName, ModelRef, Published, Registry, RegistryError, Resolved, Version,
};
use crate::artifact::{ArtifactFiles, Manifest, ReadLimits, write_version_dir};
use crate::bundle::ModelBundle;

const CLAIMS_DIR: &str = ".claims";
const ALIASES_DIR: &str = "aliases";
const LOCK_FILE: &str = ".lock";

/// A registry rooted at a local directory (`artifacts/` by default).
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    root: PathBuf,
    limits: ReadLimits,
}

impl LocalRegistry {
    /// A registry at `root` reading artifacts with the default limits; the directory is
    /// created on the first publish.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            limits: ReadLimits::default(),
        }
    }

    /// The same registry, reading (and verifying what it publishes) with `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn model_dir(&self, name: &ModelName) -> PathBuf {
        self.root.join(name.as_str())
    }

    fn alias_path(&self, name: &ModelName, alias: &AliasName) -> PathBuf {
        // AliasName's charset makes it a single, safe path component.
        self.model_dir(name).join(ALIASES_DIR).join(alias.as_str())
    }

    fn write_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: Version,
    ) -> Result<(), RegistryError> {
        let dir = self.model_dir(name).join(ALIASES_DIR);
        fs_err::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{alias}.{}.tmp", std::process::id()));
        let mut f = fs_err::File::create(&tmp)?;
        writeln!(f, "{version}")?;
        f.sync_all()?;
        fs_err::rename(&tmp, self.alias_path(name, alias))?;
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
}

fn read_dir_or_empty(dir: &Path) -> Result<Option<fs_err::ReadDir>, RegistryError> {
    match fs_err::read_dir(dir) {
        Ok(e) => Ok(Some(e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn read_alias(path: &Path) -> Result<Option<Version>, RegistryError> {
    match fs_err::read_to_string(path) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(v) if v > 0 => Ok(Some(Version(v))),
            Ok(_) | Err(_) => Err(RegistryError::CorruptAlias {
                path: path.to_owned(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Registry for LocalRegistry {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn models(&self) -> Result<Vec<ModelName>, RegistryError> {
        let Some(entries) = read_dir_or_empty(&self.root)? else {
            return Ok(Vec::new());
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

    fn versions(&self, name: &ModelName) -> Result<Vec<Version>, RegistryError> {
        let Some(entries) = read_dir_or_empty(&self.model_dir(name))? else {
            return Ok(Vec::new());
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

    fn aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, Version>, RegistryError> {
        let Some(entries) = read_dir_or_empty(&self.model_dir(name).join(ALIASES_DIR))? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for entry in entries {
            let entry = entry?;
            // Temporary files (`.x.tmp`) and anything else that is not an alias name are
            // not aliases.
            let Some(Ok(alias)) = entry.file_name().to_str().map(AliasName::from_str) else {
                continue;
            };
            if let Some(v) = read_alias(&entry.path())? {
                out.insert(alias, v);
            }
        }
        Ok(out)
    }

    fn resolve(&self, reference: &ModelRef) -> Result<Resolved, RegistryError> {
        let name = reference.name();
        let versions = self.versions(name)?;
        let Some(&highest) = versions.last() else {
            return Err(RegistryError::ModelNotFound(name.clone()));
        };
        let version = match reference {
            ModelRef::Version(_, v) => *v,
            ModelRef::Alias(_, alias) => match read_alias(&self.alias_path(name, alias))? {
                Some(v) => v,
                None if alias.is_latest() => highest,
                None => {
                    return Err(RegistryError::AliasNotFound {
                        name: name.clone(),
                        alias: alias.clone(),
                    });
                }
            },
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

    fn load(&self, reference: &ModelRef) -> Result<(Resolved, ModelBundle), RegistryError> {
        let resolved = self.resolve(reference)?;
        let bundle = ModelBundle::load_with(&resolved.path, self.limits)?;
        Ok((resolved, bundle))
    }

    fn publish(
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
        // Write, then read back exactly as serve will: a version a reader would refuse
        // (too large, unreadable) never gets a final name, so no alias can reach it.
        let written = write_version_dir(&tmp, manifest, files)
            .and_then(|m| ModelBundle::load_with(&tmp, self.limits).map(|_| m));
        let written = match written {
            Ok(m) => m,
            Err(e) => {
                // Best effort: the claim stays (a gap in the numbering), the directory goes.
                let _ = fs_err::remove_dir_all(&tmp);
                return Err(e.into());
            }
        };
        let path = model_dir.join(version.to_string());
        fs_err::rename(&tmp, &path)?;
        fs_err::File::open(&model_dir)?.sync_all()?;
        let latest_alias = AliasName::latest();
        let latest = {
            let _lock = self.lock(&name)?;
            match read_alias(&self.alias_path(&name, &latest_alias))? {
                Some(newer) if newer > version => newer,
                Some(_) | None => {
                    self.write_alias(&name, &latest_alias, version)?;
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

    fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
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

    fn delete_alias(&self, name: &ModelName, alias: &AliasName) -> Result<(), RegistryError> {
        let _lock = self.lock(name)?;
        match fs_err::remove_file(self.alias_path(name, alias)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(RegistryError::AliasNotFound {
                    name: name.clone(),
                    alias: alias.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_corrupt_alias_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(dir.path());
        let name: ModelName = "m".parse().unwrap();
        fs_err::create_dir_all(dir.path().join("m/1")).unwrap();
        fs_err::create_dir_all(dir.path().join("m/aliases")).unwrap();
        fs_err::write(dir.path().join("m/aliases/latest"), "zero\n").unwrap();
        let err = reg.resolve(&ModelRef::latest(name)).unwrap_err();
        assert!(matches!(err, RegistryError::CorruptAlias { .. }), "{err}");
        assert!(err.to_string().contains("aliases/latest"), "{err}");
    }
}
