//! Where each object lives under the registry's prefix:
//!
//! ```text
//! <model>/<version>/<file>            the artifact's files; manifest.json last
//! <model>/.claims/<version>           empty; created-if-absent to claim a number
//! <model>/aliases/<alias>             {"version": 3, "history": [null, 1, 3]}
//! <model>/runs/<run-id>/run.json      a training run's record
//! <model>/searches/<key>/<cell>.json  one grid cell's scores of a sharded search
//! ```
//!
//! A version exists when its `manifest.json` does: readers ignore a version directory
//! without one (an upload in progress, or one that died: `gc`'s business).

use object_store::path::Path;

use ferry_core::artifact::MANIFEST_FILE;
use ferry_core::{AliasName, ModelName, Version};

pub(crate) const CLAIMS: &str = ".claims";
pub(crate) const ALIASES: &str = "aliases";
pub(crate) const RUNS: &str = "runs";
pub(crate) const RUN_FILE: &str = "run.json";
pub(crate) const SEARCHES: &str = "searches";

pub(crate) fn model(name: &ModelName) -> Path {
    Path::from(name.as_str())
}

pub(crate) fn version_dir(name: &ModelName, version: Version) -> Path {
    model(name).join(version.to_string())
}

pub(crate) fn version_file(name: &ModelName, version: Version, file: &str) -> Path {
    version_dir(name, version).join(file)
}

pub(crate) fn manifest(name: &ModelName, version: Version) -> Path {
    version_file(name, version, MANIFEST_FILE)
}

pub(crate) fn claim(name: &ModelName, version: u64) -> Path {
    model(name).join(CLAIMS).join(version.to_string())
}

pub(crate) fn aliases(name: &ModelName) -> Path {
    model(name).join(ALIASES)
}

pub(crate) fn alias(name: &ModelName, alias: &AliasName) -> Path {
    aliases(name).join(alias.as_str())
}

pub(crate) fn runs(name: &ModelName) -> Path {
    model(name).join(RUNS)
}

pub(crate) fn run(name: &ModelName, run_id: &str) -> Path {
    runs(name).join(run_id).join(RUN_FILE)
}

pub(crate) fn search(name: &ModelName, key: &str) -> Path {
    model(name).join(SEARCHES).join(key)
}

pub(crate) fn search_cell(name: &ModelName, key: &str, cell: usize) -> Path {
    search(name, key).join(format!("{cell}.json"))
}

/// What one object under a model's prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A file of a version (`file` is `manifest.json` for the one that completes it).
    VersionFile { version: u64, file: String },
    /// A claimed version number.
    Claim(u64),
    /// Anything else (aliases, runs, objects Ferry did not write).
    Other,
}

/// Reads `location` (a full path under the registry) as an object of model `name`.
pub(crate) fn entry(name: &ModelName, location: &Path) -> Entry {
    let mut parts = location.parts();
    if parts.next().as_ref().map(AsRef::as_ref) != Some(name.as_str()) {
        return Entry::Other;
    }
    let rest: Vec<String> = parts.map(|p| p.as_ref().to_owned()).collect();
    match rest.as_slice() {
        [claims, n] if claims == CLAIMS => n.parse().map_or(Entry::Other, Entry::Claim),
        [v, file] => match v.parse::<u64>() {
            Ok(version) if version > 0 => Entry::VersionFile {
                version,
                file: file.clone(),
            },
            Ok(_) | Err(_) => Entry::Other,
        },
        _ => Entry::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_read_back_as_what_they_are() {
        let m: ModelName = "iris".parse().unwrap();
        assert_eq!(
            entry(&m, &manifest(&m, Version(3))),
            Entry::VersionFile {
                version: 3,
                file: MANIFEST_FILE.to_owned()
            }
        );
        assert_eq!(entry(&m, &claim(&m, 4)), Entry::Claim(4));
        assert_eq!(entry(&m, &alias(&m, &AliasName::latest())), Entry::Other);
        assert_eq!(entry(&m, &run(&m, "r1")), Entry::Other);
        assert_eq!(entry(&m, &Path::from("iris/0/manifest.json")), Entry::Other);
        assert_eq!(
            entry(&m, &Path::from("other/1/manifest.json")),
            Entry::Other
        );
    }
}
