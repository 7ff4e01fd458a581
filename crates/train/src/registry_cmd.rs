//! `train registry ...`: reading and tidying a registry from the command line. Each
//! verb returns a value that prints as text or, with `--json`, as JSON.

use std::collections::BTreeMap;
use std::fmt;

use ferry_core::artifact::Manifest;
use ferry_core::registry::{Leftover, Registry, RegistryError};
use ferry_core::{ModelRef, Version};
use serde::Serialize;

/// One model in `train registry list`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    /// The model name.
    pub name: String,
    /// Its versions, ascending.
    pub versions: Vec<u64>,
    /// Its aliases and the version each points to.
    pub aliases: BTreeMap<String, u64>,
}

/// `train registry list`: every model with its versions and aliases.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Listing(pub Vec<ModelEntry>);

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no models");
        }
        writeln!(f, "{:<24} {:<16} aliases", "model", "versions")?;
        for (i, m) in self.0.iter().enumerate() {
            let versions = match (m.versions.first(), m.versions.last()) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}..{b} ({})", m.versions.len()),
                _ => "-".to_owned(),
            };
            let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
            write!(f, "{:<24} {:<16} {}", m.name, versions, aliases.join(" "))?;
            if i + 1 < self.0.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// Lists every model.
///
/// # Errors
/// The registry's errors.
pub fn list(registry: &dyn Registry) -> Result<Listing, RegistryError> {
    let mut out = Vec::new();
    for name in registry.models()? {
        let versions = registry.versions(&name)?.iter().map(|v| v.0).collect();
        let aliases = registry
            .aliases(&name)?
            .into_iter()
            .map(|(a, v)| (a.to_string(), v.0))
            .collect();
        out.push(ModelEntry {
            name: name.to_string(),
            versions,
            aliases,
        });
    }
    Ok(Listing(out))
}

/// `train registry show REF`: a version's manifest (checked on read) and the aliases
/// that point to it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// The aliases pointing at this version.
    pub aliases: Vec<String>,
    /// The manifest.
    pub manifest: Manifest,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let task = format!("{:?}", m.task).to_lowercase();
        writeln!(
            f,
            "{} version {} ({}, {task})",
            m.name, m.version, m.model_kind
        )?;
        if !self.aliases.is_empty() {
            writeln!(f, "  aliases   {}", self.aliases.join(", "))?;
        }
        writeln!(f, "  created   {}", m.created_at)?;
        writeln!(f, "  git       {}", m.git_sha.as_deref().unwrap_or("-"))?;
        let r = &m.rows;
        writeln!(
            f,
            "  rows      {} read, {} valid, {} invalid; {} train, {} test",
            r.read, r.valid, r.invalid, r.train, r.test
        )?;
        let metrics: Vec<String> = m
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        writeln!(f, "  metrics   {}", metrics.join(", "))?;
        writeln!(f, "  config    sha256 {}", m.config_sha256)?;
        writeln!(f, "  data      sha256 {}", m.data_sha256)?;
        let libs: Vec<String> = m
            .library_versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        write!(f, "  libraries {}", libs.join(", "))
    }
}

/// Shows one version.
///
/// # Errors
/// The registry's errors, among them a damaged artifact.
pub fn show(registry: &dyn Registry, reference: &ModelRef) -> Result<Shown, RegistryError> {
    let (resolved, bundle) = registry.load(reference)?;
    let aliases = registry
        .aliases(&resolved.name)?
        .into_iter()
        .filter(|(_, v)| *v == resolved.version)
        .map(|(a, _)| a.to_string())
        .collect();
    Ok(Shown {
        aliases,
        manifest: bundle.manifest().clone(),
    })
}

/// The outcome of reading one version back.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The model.
    pub model: String,
    /// The version.
    pub version: u64,
    /// Whether every checksum and every file checked out.
    pub ok: bool,
    /// What is wrong, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `train registry verify [REF]`: every version read back with every check serve makes.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Verified(pub Vec<Checked>);

impl Verified {
    /// The versions that failed.
    pub fn damaged(&self) -> impl Iterator<Item = &Checked> {
        self.0.iter().filter(|c| !c.ok)
    }
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.0 {
            match &c.error {
                None => writeln!(f, "ok       {}/{}", c.model, c.version)?,
                Some(e) => writeln!(f, "DAMAGED  {}/{}: {e}", c.model, c.version)?,
            }
        }
        let damaged = self.damaged().count();
        write!(f, "{} versions checked, {damaged} damaged", self.0.len())
    }
}

/// Reads back `reference`'s version, or every version of every model.
///
/// # Errors
/// The registry's errors while listing or resolving; a damaged version is reported in
/// the result, not as an error.
pub fn verify(
    registry: &dyn Registry,
    reference: Option<&ModelRef>,
) -> Result<Verified, RegistryError> {
    let targets: Vec<(ferry_core::ModelName, Version)> = match reference {
        Some(r) => {
            let resolved = registry.resolve(r)?;
            vec![(resolved.name, resolved.version)]
        }
        None => {
            let mut all = Vec::new();
            for name in registry.models()? {
                for v in registry.versions(&name)? {
                    all.push((name.clone(), v));
                }
            }
            all
        }
    };
    let checked = targets
        .into_iter()
        .map(|(name, version)| {
            let result = registry.load(&ModelRef::Version(name.clone(), version));
            Checked {
                model: name.to_string(),
                version: version.0,
                ok: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
            }
        })
        .collect();
    Ok(Verified(checked))
}

/// `train registry gc`: what killed runs left behind.
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    /// Whether anything was removed (false for `--dry-run`).
    pub removed: bool,
    /// The leftovers.
    pub leftovers: Vec<Leftover>,
}

impl fmt::Display for Collected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.removed {
            "removed"
        } else {
            "would remove"
        };
        for l in &self.leftovers {
            writeln!(
                f,
                "{verb} {} ({} bytes, left by process {})",
                l.location, l.bytes, l.pid
            )?;
        }
        let bytes: u64 = self.leftovers.iter().map(|l| l.bytes).sum();
        write!(
            f,
            "{} leftovers, {bytes} bytes{}",
            self.leftovers.len(),
            if self.removed { " freed" } else { "" }
        )
    }
}

/// Finds (and unless `dry_run`, removes) the leftovers of killed runs.
///
/// # Errors
/// The registry's errors.
pub fn gc(registry: &dyn Registry, dry_run: bool) -> Result<Collected, RegistryError> {
    Ok(Collected {
        removed: !dry_run,
        leftovers: registry.collect_garbage(dry_run)?,
    })
}
