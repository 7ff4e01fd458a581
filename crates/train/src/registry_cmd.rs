//! `train registry ...`: reading and tidying a registry from the command line. Each
//! verb returns a value that prints as text or, with `--json`, as JSON.

use std::collections::BTreeMap;
use std::fmt;

use ferry_core::artifact::Manifest;
use ferry_core::registry::{Leftover, Registry, RegistryError};
use ferry_core::{AliasName, ModelName, ModelRef, Version};
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
            let by = match (l.pid, l.age_secs) {
                (Some(pid), _) => format!("left by process {pid}"),
                (None, Some(age)) => format!("unfinished for {age} s"),
                (None, None) => "unfinished".to_owned(),
            };
            writeln!(f, "{verb} {} ({} bytes, {by})", l.location, l.bytes)?;
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

/// What a verb that moves an alias or deletes a version did.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    /// The model.
    pub model: String,
    /// The alias moved, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The version the alias points to now (`None`: removed), or the version deleted.
    pub version: Option<u64>,
    /// What was done, in words.
    pub message: String,
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Points `alias` of `name` at `version`.
///
/// # Errors
/// The registry's errors.
pub fn alias_set(
    registry: &dyn Registry,
    name: &ModelName,
    alias: &AliasName,
    version: Version,
) -> Result<Changed, RegistryError> {
    registry.set_alias(name, alias, version)?;
    Ok(Changed {
        model: name.to_string(),
        alias: Some(alias.to_string()),
        version: Some(version.0),
        message: format!("{name}@{alias} -> {version}"),
    })
}

/// Removes `alias` of `name`.
///
/// # Errors
/// The registry's errors.
pub fn alias_delete(
    registry: &dyn Registry,
    name: &ModelName,
    alias: &AliasName,
) -> Result<Changed, RegistryError> {
    registry.delete_alias(name, alias)?;
    Ok(Changed {
        model: name.to_string(),
        alias: Some(alias.to_string()),
        version: None,
        message: format!("{name}@{alias} removed"),
    })
}

/// Points `alias` at the version `reference` resolves to.
///
/// # Errors
/// The registry's errors.
pub fn promote(
    registry: &dyn Registry,
    reference: &ModelRef,
    alias: &AliasName,
) -> Result<Changed, RegistryError> {
    let resolved = registry.resolve(reference)?;
    let before = registry.aliases(&resolved.name)?.get(alias).copied();
    let mut changed = alias_set(registry, &resolved.name, alias, resolved.version)?;
    changed.message = match before {
        Some(v) => format!("{} (was {v})", changed.message),
        None => format!("{} (new alias)", changed.message),
    };
    Ok(changed)
}

/// Moves `alias` back to where it pointed before its last change.
///
/// # Errors
/// The registry's errors; [`RegistryError::NoEarlierVersion`] without history.
pub fn rollback(
    registry: &dyn Registry,
    name: &ModelName,
    alias: &AliasName,
) -> Result<Changed, RegistryError> {
    let now = registry.rollback_alias(name, alias)?;
    Ok(Changed {
        model: name.to_string(),
        alias: Some(alias.to_string()),
        version: now.map(|v| v.0),
        message: match now {
            Some(v) => format!("{name}@{alias} rolled back to {v}"),
            None => format!("{name}@{alias} rolled back to before it existed: removed"),
        },
    })
}

/// Deletes one version.
///
/// # Errors
/// The registry's errors; [`RegistryError::VersionInUse`] while an alias points to it.
pub fn delete(
    registry: &dyn Registry,
    name: &ModelName,
    version: Version,
) -> Result<Changed, RegistryError> {
    registry.delete_version(name, version)?;
    Ok(Changed {
        model: name.to_string(),
        alias: None,
        version: Some(version.0),
        message: format!("deleted {name}/{version}"),
    })
}

/// One row of `train registry diff`.
#[derive(Debug, Clone, Serialize)]
pub struct DiffRow {
    /// `model.<param>`, `metric.<name>` or `rows.<count>`.
    pub key: String,
    /// The first version's value, as text (`-` when absent).
    pub left: String,
    /// The second version's value.
    pub right: String,
    /// Whether they differ.
    pub differs: bool,
}

/// `train registry diff A B`: the two versions' hyperparameters, metrics and row counts
/// side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The first version, `name/version`.
    pub left: String,
    /// The second.
    pub right: String,
    /// Every key either has.
    pub rows: Vec<DiffRow>,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(|r| r.key.len())
            .max()
            .unwrap_or(0)
            .max(3);
        writeln!(f, "  {:<width$}  {:<20} {}", "key", self.left, self.right)?;
        for (i, r) in self.rows.iter().enumerate() {
            let mark = if r.differs { '*' } else { ' ' };
            write!(f, "{mark} {:<width$}  {:<20} {}", r.key, r.left, r.right)?;
            if i + 1 < self.rows.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// The hyperparameters (`model` section of the stored config, defaults filled in),
/// metrics and row counts of a version, as flat text keys.
fn facts(
    registry: &dyn Registry,
    reference: &ModelRef,
) -> Result<(String, BTreeMap<String, String>), RegistryError> {
    let (resolved, bundle) = registry.load(reference)?;
    let m = bundle.manifest();
    let mut out = BTreeMap::new();
    let config = fs_err::read_to_string(resolved.path.join("config.yaml"))?;
    let config: serde_yaml::Value = serde_yaml::from_str(&config).unwrap_or_default();
    if let Some(model) = config.get("model").and_then(serde_yaml::Value::as_mapping) {
        for (k, v) in model {
            let key = k.as_str().unwrap_or_default();
            let value = if let serde_yaml::Value::String(s) = v {
                s.clone()
            } else {
                serde_yaml::to_string(v)
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            out.insert(format!("model.{key}"), value);
        }
    }
    for (k, v) in &m.metrics {
        out.insert(format!("metric.{k}"), format!("{v:.6}"));
    }
    let r = &m.rows;
    for (k, v) in [("train", r.train), ("test", r.test), ("invalid", r.invalid)] {
        out.insert(format!("rows.{k}"), v.to_string());
    }
    Ok((format!("{}/{}", resolved.name, resolved.version), out))
}

/// Compares two versions.
///
/// # Errors
/// The registry's errors.
pub fn diff(
    registry: &dyn Registry,
    left: &ModelRef,
    right: &ModelRef,
) -> Result<Diff, RegistryError> {
    let (l_name, l) = facts(registry, left)?;
    let (r_name, r) = facts(registry, right)?;
    let keys: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
    let rows = keys
        .into_iter()
        .map(|k| {
            let a = l.get(k).cloned().unwrap_or_else(|| "-".to_owned());
            let b = r.get(k).cloned().unwrap_or_else(|| "-".to_owned());
            DiffRow {
                key: k.clone(),
                differs: a != b,
                left: a,
                right: b,
            }
        })
        .collect();
    Ok(Diff {
        left: l_name,
        right: r_name,
        rows,
    })
}

/// One line of `train runs list`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The model.
    pub model: String,
    /// The run id.
    pub run_id: String,
    /// `registered`, `gates_failed`, `failed`, `running`, or `crashed` for a run
    /// recorded as running whose process is gone (on this machine).
    pub status: String,
    /// The version registered, if any.
    pub version: Option<u64>,
    /// Wall time.
    pub seconds: f64,
    /// The test-set metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `train runs list [MODEL]`.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Runs(pub Vec<RunSummary>);

impl fmt::Display for Runs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no runs");
        }
        // As wide as the longest run id (a start time to the microsecond and a pid).
        let width = self.0.iter().map(|r| r.run_id.len()).max().unwrap_or(0);
        writeln!(
            f,
            "{:<16} {:<width$} {:<13} {:>7} {:>8}  metrics",
            "model", "run", "status", "version", "seconds"
        )?;
        for (i, r) in self.0.iter().enumerate() {
            let metrics: Vec<String> = r
                .metrics
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect();
            let version = r.version.map_or_else(|| "-".to_owned(), |v| v.to_string());
            write!(
                f,
                "{:<16} {:<width$} {:<13} {:>7} {:>8.2}  {}",
                r.model,
                r.run_id,
                r.status,
                version,
                r.seconds,
                metrics.join(", ")
            )?;
            if i + 1 < self.0.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// A record's status, with `running` turned into `crashed` when the record was written
/// on this machine and its process (the run id ends with its pid) no longer runs
/// `train`. Records from other machines keep `running`: their processes cannot be seen.
fn status_of(record: &serde_json::Value) -> String {
    let status = record["status"].as_str().unwrap_or("unknown");
    if status != "running" || record["host"].as_str() != Some(crate::record::host().as_str()) {
        return status.to_owned();
    }
    let pid = record["run_id"]
        .as_str()
        .and_then(|id| id.rsplit('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if !runs_train(pid) => "crashed".to_owned(),
        Some(_) | None => status.to_owned(),
    }
}

/// Whether process `pid` exists and is a `train` (a reused pid of another program is
/// not the run). Where `/proc` is missing, every process counts as running.
fn runs_train(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    fs_err::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim().starts_with("train"))
}

fn read_record(
    registry: &dyn Registry,
    name: &ModelName,
    run_id: &str,
) -> Result<serde_json::Value, RegistryError> {
    let bytes = registry.read_run(name, run_id)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        RegistryError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("run record {name}/{run_id} is not JSON: {e}"),
        ))
    })
}

/// Lists the runs of `model`, or of every model, oldest first per model.
///
/// # Errors
/// The registry's errors, or a record that is not JSON.
pub fn runs(registry: &dyn Registry, model: Option<&ModelName>) -> Result<Runs, RegistryError> {
    let names = match model {
        Some(m) => vec![m.clone()],
        None => registry.models_with_runs()?,
    };
    let mut out = Vec::new();
    for name in names {
        for id in registry.runs(&name)? {
            let r = read_record(registry, &name, &id)?;
            out.push(RunSummary {
                model: name.to_string(),
                status: status_of(&r),
                version: r["version"].as_u64(),
                seconds: r["seconds"].as_f64().unwrap_or(0.0),
                metrics: serde_json::from_value(r["metrics"].clone()).unwrap_or_default(),
                reason: r["reason"].as_str().map(str::to_owned),
                run_id: id,
            });
        }
    }
    Ok(Runs(out))
}

/// `train runs show MODEL RUN`: the whole record.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RunShown(pub serde_json::Value);

impl fmt::Display for RunShown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        let text = |v: &serde_json::Value| {
            if let Some(s) = v.as_str() {
                s.to_owned()
            } else if v.is_null() {
                "-".to_owned()
            } else {
                v.to_string()
            }
        };
        writeln!(
            f,
            "run {} of {}: {}",
            text(&r["run_id"]),
            text(&r["model"]),
            status_of(r)
        )?;
        if let Some(reason) = r["reason"].as_str() {
            writeln!(f, "  reason   {reason}")?;
        }
        for key in [
            "version",
            "started_at",
            "seconds",
            "params",
            "rows",
            "metrics",
            "stages",
            "config_sha256",
            "data_path",
            "data_sha256",
            "git_sha",
            "git_dirty",
            "host",
            "versions",
        ] {
            writeln!(f, "  {key:<13} {}", text(&r[key]))?;
        }
        write!(f, "  config\n{}", text(&r["config"]).trim_end())
    }
}

/// Reads one run record: the run `run_id` names, or else the one run whose id starts
/// with it (as `git` takes a commit's shortened hash).
///
/// # Errors
/// [`RegistryError::RunNotFound`] when no run's id is or starts with `run_id`,
/// [`RegistryError::RunAmbiguous`] when several start with it, or the registry's errors.
pub fn run_show(
    registry: &dyn Registry,
    model: &ModelName,
    run_id: &str,
) -> Result<RunShown, RegistryError> {
    let not_found = match read_record(registry, model, run_id) {
        Err(err @ RegistryError::RunNotFound { .. }) => err,
        found => return found.map(RunShown),
    };
    if run_id.is_empty() {
        return Err(not_found);
    }
    let matches: Vec<String> = match registry.runs(model) {
        Ok(ids) => ids
            .into_iter()
            .filter(|id| id.starts_with(run_id))
            .collect(),
        Err(err) if err.is_not_found() => return Err(not_found),
        Err(err) => return Err(err),
    };
    match matches.as_slice() {
        [] => Err(not_found),
        [one] => read_record(registry, model, one).map(RunShown),
        _ => Err(RegistryError::RunAmbiguous {
            name: model.clone(),
            prefix: run_id.to_owned(),
            matches,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `runs show` takes a run's whole id, or the start of it when only that run's id
    /// starts alike; a start several ids share is refused with their names.
    #[test]
    fn runs_show_takes_the_start_of_one_run_id() {
        let dir = tempfile::tempdir().unwrap();
        let registry = ferry_core::registry::LocalRegistry::new(dir.path());
        let iris: ModelName = "iris".parse().unwrap();
        let ids = [
            "20261208T010202.157234Z-17933",
            "20261208T010202.981000Z-17940",
            "20261208T020000.000001Z-18000",
        ];
        for id in ids {
            let record = serde_json::json!({"run_id": id, "model": "iris", "status": "registered"});
            registry
                .write_run(&iris, id, record.to_string().as_bytes())
                .unwrap();
        }
        let shown = |run: &str| run_show(&registry, &iris, run).map(|r| r.0["run_id"].clone());

        assert_eq!(shown(ids[0]).unwrap(), ids[0]);
        assert_eq!(shown("20261208T02").unwrap(), ids[2]);
        assert_eq!(shown("20261208T010202.9").unwrap(), ids[1]);

        let err = shown("20261208T0102").unwrap_err();
        assert!(err.is_caller_error());
        assert_eq!(
            err.to_string(),
            "model 'iris' has 2 runs whose id starts with '20261208T0102': \
             20261208T010202.157234Z-17933, 20261208T010202.981000Z-17940; give more of the id"
        );
        for missing in ["2027", "", "17933"] {
            let err = shown(missing).unwrap_err();
            assert!(
                matches!(&err, RegistryError::RunNotFound { run, .. } if run == missing),
                "{missing}: {err}"
            );
        }
        let other: ModelName = "titanic".parse().unwrap();
        assert!(matches!(
            run_show(&registry, &other, "2026").unwrap_err(),
            RegistryError::RunNotFound { .. }
        ));
    }

    /// Run ids of both forms (to the second, from before; to the microsecond) keep the
    /// columns after them aligned.
    #[test]
    fn runs_list_columns_fit_the_longest_run_id() {
        let run = |run_id: &str, status: &str| RunSummary {
            model: "iris".to_owned(),
            run_id: run_id.to_owned(),
            status: status.to_owned(),
            version: Some(1),
            seconds: 0.5,
            metrics: BTreeMap::from([("accuracy".to_owned(), 0.9)]),
            reason: None,
        };
        let text = Runs(vec![
            run("20261205T063115Z-9411", "registered"),
            run("20261208T010202.157234Z-4194303", "failed"),
        ])
        .to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let status_at = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(
            status_at(lines[0], "status"),
            status_at(lines[1], "registered")
        );
        assert_eq!(status_at(lines[0], "status"), status_at(lines[2], "failed"));
        assert!(
            lines[2].contains("20261208T010202.157234Z-4194303 failed"),
            "{text}"
        );
    }
}
