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
    AliasName, Leftover, ModelName, ModelRef, Published, Registry, RegistryError, Resolved,
    Version, check_run_id, is_valid_run_id,
};
use crate::artifact::{ArtifactFiles, Manifest, ReadLimits, write_version_dir};
use crate::bundle::ModelBundle;

const CLAIMS_DIR: &str = ".claims";
const ALIASES_DIR: &str = "aliases";
const LOCK_FILE: &str = ".lock";
/// Per alias, one line per change: the version it pointed to after it, or `-`.
const HISTORY_DIR: &str = ".history";
/// `<model>/runs/<run-id>/run.json`.
const RUNS_DIR: &str = "runs";
/// `<model>/searches/<search>/<cell>.json`.
const SEARCHES_DIR: &str = "searches";
const RUN_FILE: &str = "run.json";

/// The process that wrote a temporary entry: `.tmp-<version>-<pid>` (a version being
/// published) or `.<alias>.<pid>.tmp` (an alias being rewritten).
fn leftover_pid(file_name: &str) -> Option<u32> {
    if let Some(rest) = file_name.strip_prefix(".tmp-") {
        return rest.rsplit_once('-').and_then(|(_, pid)| pid.parse().ok());
    }
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    rest.rsplit_once('.').and_then(|(_, pid)| pid.parse().ok())
}

/// Whether process `pid` is gone. Where `/proc` is not available, an entry counts as
/// gone only when nothing has touched it for a day.
fn writer_gone(pid: u32, path: &Path) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if Path::new("/proc/self").exists() {
        return !Path::new("/proc").join(pid.to_string()).exists();
    }
    fs_err::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 24 * 3600)
}

/// Bytes under `path` (a file or a directory tree).
fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = fs_err::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs_err::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| disk_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// The leftovers of dead writers directly in `dir`, removed unless `dry_run`.
fn collect_in(dir: &Path, dry_run: bool) -> Result<Vec<Leftover>, RegistryError> {
    let Some(entries) = read_dir_or_empty(dir)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let Some(pid) = entry.file_name().to_str().and_then(leftover_pid) else {
            continue;
        };
        if !writer_gone(pid, &path) {
            continue;
        }
        let bytes = disk_size(&path);
        if !dry_run {
            if path.is_dir() {
                fs_err::remove_dir_all(&path)?;
            } else {
                fs_err::remove_file(&path)?;
            }
        }
        found.push(Leftover {
            location: path.display().to_string(),
            pid: Some(pid),
            age_secs: None,
            bytes,
        });
    }
    Ok(found)
}

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

    /// Every directory under the root named like a model, whatever it holds.
    fn model_dirs(&self) -> Result<Vec<(ModelName, PathBuf)>, RegistryError> {
        let Some(entries) = read_dir_or_empty(&self.root)? else {
            return Ok(Vec::new());
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(Ok(name)) = entry.file_name().to_str().map(ModelName::from_str) else {
                continue;
            };
            if entry.file_type()?.is_dir() {
                dirs.push((name, entry.path()));
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    fn history_path(&self, name: &ModelName, alias: &AliasName) -> PathBuf {
        self.model_dir(name)
            .join(ALIASES_DIR)
            .join(HISTORY_DIR)
            .join(alias.as_str())
    }

    fn read_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Vec<Option<Version>>, RegistryError> {
        let path = self.history_path(name, alias);
        let text = match fs_err::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        text.lines()
            .map(|line| match line.trim() {
                "-" => Ok(None),
                v => v
                    .parse::<u64>()
                    .map(|v| Some(Version(v)))
                    .map_err(|_| RegistryError::CorruptAlias { path: path.clone() }),
            })
            .collect()
    }

    fn write_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
        history: &[Option<Version>],
    ) -> Result<(), RegistryError> {
        let path = self.history_path(name, alias);
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        fs_err::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{alias}.{}.tmp", std::process::id()));
        let mut f = fs_err::File::create(&tmp)?;
        for entry in history {
            match entry {
                Some(v) => writeln!(f, "{v}")?,
                None => writeln!(f, "-")?,
            }
        }
        f.sync_all()?;
        fs_err::rename(&tmp, &path)?;
        Ok(())
    }

    /// Records a change of `alias` to `target` (under the model's lock), starting the
    /// history with the alias's current target when it has none yet.
    fn record(
        &self,
        name: &ModelName,
        alias: &AliasName,
        target: Option<Version>,
    ) -> Result<(), RegistryError> {
        let mut history = self.read_history(name, alias)?;
        if history.is_empty() {
            history.push(read_alias(&self.alias_path(name, alias))?);
        }
        history.push(target);
        self.write_history(name, alias, &history)
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
        let mut names = Vec::new();
        for (name, _) in self.model_dirs()? {
            if !self.versions(&name)?.is_empty() {
                names.push(name);
            }
        }
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
        // Best effort: what killed runs left behind here goes before this run adds more.
        let _ = collect_in(&model_dir, false);
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
        if !alias.is_latest() {
            self.record(name, alias, Some(version))?;
        }
        self.write_alias(name, alias, version)
    }

    fn delete_alias(&self, name: &ModelName, alias: &AliasName) -> Result<(), RegistryError> {
        let _lock = self.lock(name)?;
        if !alias.is_latest() && self.alias_path(name, alias).exists() {
            self.record(name, alias, None)?;
        }
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

    fn alias_history(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Vec<Option<Version>>, RegistryError> {
        self.read_history(name, alias)
    }

    fn rollback_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<Version>, RegistryError> {
        let _lock = self.lock(name)?;
        let mut history = self.read_history(name, alias)?;
        if history.len() < 2 {
            return Err(RegistryError::NoEarlierVersion {
                name: name.clone(),
                alias: alias.clone(),
            });
        }
        history.pop();
        let target = history.last().copied().flatten();
        match target {
            Some(v) if self.versions(name)?.contains(&v) => self.write_alias(name, alias, v)?,
            Some(v) => {
                return Err(RegistryError::VersionNotFound {
                    name: name.clone(),
                    version: v,
                });
            }
            None => match fs_err::remove_file(self.alias_path(name, alias)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            },
        }
        self.write_history(name, alias, &history)?;
        Ok(target)
    }

    fn delete_version(&self, name: &ModelName, version: Version) -> Result<(), RegistryError> {
        let _lock = self.lock(name)?;
        let versions = self.versions(name)?;
        if !versions.contains(&version) {
            return Err(RegistryError::VersionNotFound {
                name: name.clone(),
                version,
            });
        }
        let aliases = self.aliases(name)?;
        let in_use: Vec<AliasName> = aliases
            .iter()
            .filter(|(a, v)| **v == version && !a.is_latest())
            .map(|(a, _)| a.clone())
            .collect();
        if !in_use.is_empty() {
            return Err(RegistryError::VersionInUse {
                name: name.clone(),
                version,
                aliases: in_use,
            });
        }
        // Out of sight in one rename, then removed; a crash in between leaves a
        // leftover that gc removes.
        let dir = self.model_dir(name);
        let doomed = dir.join(format!(".tmp-deleted{version}-{}", std::process::id()));
        fs_err::rename(dir.join(version.to_string()), &doomed)?;
        fs_err::remove_dir_all(&doomed)?;
        let latest = AliasName::latest();
        if aliases.get(&latest) == Some(&version) {
            match versions.iter().rev().find(|v| **v != version) {
                Some(&v) => self.write_alias(name, &latest, v)?,
                None => fs_err::remove_file(self.alias_path(name, &latest))?,
            }
        }
        Ok(())
    }

    fn write_run(
        &self,
        name: &ModelName,
        run_id: &str,
        record: &[u8],
    ) -> Result<String, RegistryError> {
        check_run_id(name, run_id)?;
        let dir = self.model_dir(name).join(RUNS_DIR).join(run_id);
        fs_err::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{RUN_FILE}.{}.tmp", std::process::id()));
        let mut f = fs_err::File::create(&tmp)?;
        f.write_all(record)?;
        f.sync_all()?;
        let path = dir.join(RUN_FILE);
        fs_err::rename(&tmp, &path)?;
        Ok(path.display().to_string())
    }

    fn runs(&self, name: &ModelName) -> Result<Vec<String>, RegistryError> {
        let Some(entries) = read_dir_or_empty(&self.model_dir(name).join(RUNS_DIR))? else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry?;
            if let Some(id) = entry.file_name().to_str()
                && is_valid_run_id(id)
                && entry.path().join(RUN_FILE).is_file()
            {
                ids.push(id.to_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn models_with_runs(&self) -> Result<Vec<ModelName>, RegistryError> {
        let mut names = Vec::new();
        for (name, _) in self.model_dirs()? {
            if !self.runs(&name)?.is_empty() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read_run(&self, name: &ModelName, run_id: &str) -> Result<Vec<u8>, RegistryError> {
        let not_found = || RegistryError::RunNotFound {
            name: name.clone(),
            run: run_id.to_owned(),
        };
        if !is_valid_run_id(run_id) {
            return Err(not_found());
        }
        let path = self
            .model_dir(name)
            .join(RUNS_DIR)
            .join(run_id)
            .join(RUN_FILE);
        match fs_err::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
            Err(e) => Err(e.into()),
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
        let dir = self.model_dir(name).join(SEARCHES_DIR).join(search);
        fs_err::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{cell}.json.{}.tmp", std::process::id()));
        let mut f = fs_err::File::create(&tmp)?;
        f.write_all(record)?;
        f.sync_all()?;
        fs_err::rename(&tmp, dir.join(format!("{cell}.json")))?;
        Ok(())
    }

    fn search_cells(
        &self,
        name: &ModelName,
        search: &str,
    ) -> Result<BTreeMap<usize, Vec<u8>>, RegistryError> {
        check_run_id(name, search)?;
        let dir = self.model_dir(name).join(SEARCHES_DIR).join(search);
        let Some(entries) = read_dir_or_empty(&dir)? else {
            return Ok(BTreeMap::new());
        };
        let mut cells = BTreeMap::new();
        for entry in entries {
            let entry = entry?;
            let Some(Ok(cell)) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::parse::<usize>)
            else {
                continue;
            };
            cells.insert(cell, fs_err::read(entry.path())?);
        }
        Ok(cells)
    }

    fn collect_garbage(&self, dry_run: bool) -> Result<Vec<Leftover>, RegistryError> {
        let mut found = Vec::new();
        // Every model directory, also one whose first publish was killed (no versions).
        for (_, dir) in self.model_dirs()? {
            let aliases = dir.join(ALIASES_DIR);
            for place in [dir.clone(), aliases.join(HISTORY_DIR), aliases] {
                found.extend(collect_in(&place, dry_run)?);
            }
        }
        found.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above Linux's largest possible pid (2^22): never a live process.
    const DEAD_PID: u32 = 4_194_399;

    #[test]
    fn garbage_of_dead_writers_is_found_and_removed_and_live_work_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(dir.path());
        let dead_version = dir.path().join(format!("iris/.tmp-3-{DEAD_PID}"));
        fs_err::create_dir_all(&dead_version).unwrap();
        fs_err::write(dead_version.join("model.bin"), vec![0u8; 1000]).unwrap();
        let dead_alias = dir
            .path()
            .join(format!("iris/aliases/.production.{DEAD_PID}.tmp"));
        fs_err::create_dir_all(dead_alias.parent().unwrap()).unwrap();
        fs_err::write(&dead_alias, "2\n").unwrap();
        let live = dir
            .path()
            .join(format!("iris/.tmp-4-{}", std::process::id()));
        fs_err::create_dir_all(&live).unwrap();
        let unrelated = dir.path().join("iris/.claims");
        fs_err::create_dir_all(&unrelated).unwrap();

        let found = reg.collect_garbage(true).unwrap();
        let names: Vec<(&str, u32, u64)> = found
            .iter()
            .map(|l| {
                let name = Path::new(&l.location)
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap();
                (name, l.pid.unwrap(), l.bytes)
            })
            .collect();
        let dead_version_name = format!(".tmp-3-{DEAD_PID}");
        let dead_alias_name = format!(".production.{DEAD_PID}.tmp");
        assert_eq!(
            names,
            [
                (dead_version_name.as_str(), DEAD_PID, 1000),
                (dead_alias_name.as_str(), DEAD_PID, 2)
            ]
        );
        assert!(
            dead_version.exists() && dead_alias.exists(),
            "a dry run removes nothing"
        );

        assert_eq!(reg.collect_garbage(false).unwrap(), found);
        assert!(!dead_version.exists() && !dead_alias.exists());
        assert!(live.exists() && unrelated.exists());
        assert!(reg.collect_garbage(false).unwrap().is_empty());
    }

    #[test]
    fn publishing_removes_what_killed_publishes_left_in_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(dir.path());
        let dead = dir.path().join(format!("lin/.tmp-9-{DEAD_PID}"));
        fs_err::create_dir_all(&dead).unwrap();
        let other_model = dir.path().join(format!("other/.tmp-1-{DEAD_PID}"));
        fs_err::create_dir_all(&other_model).unwrap();
        super::super::contract::publish(&reg, "lin");
        assert!(!dead.exists());
        // Only the model being published is swept; gc does the rest.
        assert!(other_model.exists());
    }

    #[test]
    fn leftover_names_give_their_writer() {
        assert_eq!(leftover_pid(".tmp-12-345"), Some(345));
        assert_eq!(leftover_pid(".production.77.tmp"), Some(77));
        assert_eq!(leftover_pid(".my-alias.77.tmp"), Some(77));
        assert_eq!(leftover_pid(".claims"), None);
        assert_eq!(leftover_pid(".lock"), None);
        assert_eq!(leftover_pid("3"), None);
        assert_eq!(leftover_pid(".tmp-12-x"), None);
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
