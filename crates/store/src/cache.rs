//! The local copies of a remote registry's versions:
//!
//! ```text
//! <dir>/<store-hash>/<model>/<version>/      a verified copy, files as in the store
//! <dir>/<store-hash>/<model>/.aliases/<a>    the version alias `a` last resolved to
//! <dir>/<store-hash>/.partial-<pid>-<n>/     a download or publish in progress
//! ```
//!
//! A copy is used only when its `manifest.json` is byte for byte the store's (so keyed by
//! the manifest's checksum) and it passes the same checks as any artifact read. The
//! cache is bounded: after each new copy the least recently used ones go until the rest
//! fit. Several processes may share one directory: copies are built under a private name
//! and renamed into place.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use ferry_core::artifact::MANIFEST_FILE;
use ferry_core::{AliasName, ModelName, Version};

const PARTIAL: &str = ".partial-";
const ALIASES: &str = ".aliases";
/// A partial directory older than this belongs to a process that died.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

static NEXT: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(crate) struct Cache {
    root: PathBuf,
    max_bytes: u64,
}

impl Cache {
    /// The cache of the store at `url` inside `dir`, holding at most `max_bytes`.
    pub(crate) fn new(dir: &Path, url: &str, max_bytes: u64) -> std::io::Result<Self> {
        let hash = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
        let root = dir.join(hash);
        fs_err::create_dir_all(&root)?;
        let cache = Self { root, max_bytes };
        cache.remove_stale_partials();
        Ok(cache)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn version_dir(&self, name: &ModelName, version: Version) -> PathBuf {
        self.root.join(name.as_str()).join(version.to_string())
    }

    /// A new, empty private directory to build a copy in.
    pub(crate) fn partial(&self) -> std::io::Result<PathBuf> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .root
            .join(format!("{PARTIAL}{}-{n}", std::process::id()));
        if dir.exists() {
            fs_err::remove_dir_all(&dir)?;
        }
        Ok(dir)
    }

    /// Whether the copy of `name`/`version` has exactly `manifest` as its manifest.
    pub(crate) fn holds(&self, name: &ModelName, version: Version, manifest: &[u8]) -> bool {
        fs_err::read(self.version_dir(name, version).join(MANIFEST_FILE))
            .is_ok_and(|cached| cached == manifest)
    }

    /// Moves the finished copy `partial` into place as `name`/`version`, replacing an
    /// older copy; the directory it now lives in.
    pub(crate) fn install(
        &self,
        partial: &Path,
        name: &ModelName,
        version: Version,
    ) -> std::io::Result<PathBuf> {
        let dest = self.version_dir(name, version);
        fs_err::create_dir_all(self.root.join(name.as_str()))?;
        if dest.exists() {
            // A stale copy (another store's version under the same number, or damaged):
            // out of the way first. Another process installing the same version at once
            // is harmless: the loser's copy is removed and the winner's is read.
            let doomed = self.partial()?;
            if fs_err::rename(&dest, &doomed).is_ok() {
                let _ = fs_err::remove_dir_all(&doomed);
            }
        }
        if fs_err::rename(partial, &dest).is_err() {
            let _ = fs_err::remove_dir_all(partial);
        }
        Ok(dest)
    }

    /// Marks a copy as just used (the eviction order).
    pub(crate) fn touch(&self, dir: &Path) {
        if let Ok(file) = fs_err::File::options()
            .write(true)
            .open(dir.join(MANIFEST_FILE))
        {
            let _ = file.file().set_modified(SystemTime::now());
        }
    }

    /// Removes a copy that failed its checks.
    pub(crate) fn discard(&self, dir: &Path) {
        let _ = fs_err::remove_dir_all(dir);
    }

    /// Remembers that `alias` of `name` resolved to `version` (for starting offline).
    pub(crate) fn remember_alias(&self, name: &ModelName, alias: &AliasName, version: Version) {
        let dir = self.root.join(name.as_str()).join(ALIASES);
        let tmp = dir.join(format!(
            ".{alias}.{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs_err::create_dir_all(&dir)
            .and_then(|()| fs_err::write(&tmp, version.to_string()))
            .and_then(|()| fs_err::rename(&tmp, dir.join(alias.as_str())));
        if written.is_err() {
            let _ = fs_err::remove_file(&tmp);
        }
    }

    /// The version `alias` of `name` last resolved to, when remembered.
    pub(crate) fn alias(&self, name: &ModelName, alias: &AliasName) -> Option<Version> {
        let text = fs_err::read_to_string(
            self.root
                .join(name.as_str())
                .join(ALIASES)
                .join(alias.as_str()),
        )
        .ok()?;
        text.trim().parse().ok().map(Version)
    }

    /// The versions of `name` with a copy, ascending.
    pub(crate) fn versions(&self, name: &ModelName) -> Vec<Version> {
        let mut versions: Vec<Version> = fs_err::read_dir(self.root.join(name.as_str()))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
            .map(Version)
            .filter(|v| self.version_dir(name, *v).join(MANIFEST_FILE).is_file())
            .collect();
        versions.sort();
        versions
    }

    /// The models with at least one copy, by name.
    pub(crate) fn models(&self) -> Vec<ModelName> {
        let mut names = self.model_dirs();
        names.retain(|n| !self.versions(n).is_empty());
        names
    }

    /// Every directory named like a model, copies or not, by name.
    fn model_dirs(&self) -> Vec<ModelName> {
        let mut names: Vec<ModelName> = fs_err::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<ModelName>().ok())
            .collect();
        names.sort();
        names
    }

    /// Removes the least recently used copies, never `keep`, until the rest fit.
    pub(crate) fn evict(&self, keep: &Path) {
        let mut copies: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for name in self.model_dirs() {
            for version in self.versions(&name) {
                let dir = self.version_dir(&name, version);
                let used = fs_err::metadata(dir.join(MANIFEST_FILE))
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                copies.push((used, dir_size(&dir), dir));
            }
        }
        let mut total: u64 = copies.iter().map(|c| c.1).sum();
        copies.sort();
        for (_, bytes, dir) in copies {
            if total <= self.max_bytes {
                break;
            }
            if dir == keep {
                continue;
            }
            tracing::info!(copy = %dir.display(), bytes, "Cache full: removing the least recently used copy.");
            if fs_err::remove_dir_all(&dir).is_ok() {
                total = total.saturating_sub(bytes);
            }
        }
    }

    fn remove_stale_partials(&self) {
        for entry in fs_err::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(PARTIAL))
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_PARTIAL);
            if stale {
                let _ = fs_err::remove_dir_all(entry.path());
            }
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
