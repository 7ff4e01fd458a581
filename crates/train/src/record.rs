//! [`RunRecord`]: what every training run leaves in the registry, failed runs too, at
//! `<registry>/<model>/runs/<run-id>/run.json` for a local registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ferry_core::artifact::RowCounts;
use ferry_core::registry::{Registry, RegistryError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Pipeline;
use crate::cv::{CvTable, SearchTable};
use crate::error::RunError;
use crate::report::{FailedRun, Promotion, RunReport, RunStatus, Stages};
use crate::stages::gate::GateResult;

/// One run, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// `<UTC time>-<pid>`: unique per registry, sorts by start time.
    pub run_id: String,
    /// How the run ended.
    pub status: RunStatus,
    /// The error, when it did not register a model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The model name.
    pub model: ferry_core::ModelName,
    /// The version registered, when one was.
    pub version: Option<u64>,
    /// Start time (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time of the run.
    pub seconds: f64,
    /// Wall time of each stage reached.
    pub stages: Stages,
    /// The resolved config (defaults filled in), as stored in an artifact.
    pub config: String,
    /// sha256 of `config`.
    pub config_sha256: String,
    /// The data file.
    pub data_path: PathBuf,
    /// sha256 of the data file, when it was read.
    pub data_sha256: Option<String>,
    /// Row counts, as far as the run got (`train` and `test` 0 before the split).
    pub rows: Option<RowCounts>,
    /// The model section: `type` and every hyperparameter, defaults filled in.
    pub params: serde_json::Value,
    /// Test-set metrics, when the run evaluated.
    pub metrics: BTreeMap<String, f64>,
    /// Gate outcomes, when the run evaluated.
    pub gates: Vec<GateResult>,
    /// `evaluation.cv` on the training split, when it ran.
    pub cv: Option<CvTable>,
    /// The grid search with every candidate's scores, when it ran.
    pub search: Option<SearchTable>,
    /// What `promote:` did, when configured and reached.
    pub promotion: Option<Promotion>,
    /// The commit of the config's directory, when it is in a git work tree.
    pub git_sha: Option<String>,
    /// Whether that work tree had uncommitted changes to tracked files.
    pub git_dirty: Option<bool>,
    /// The machine.
    pub host: String,
    /// Versions of train, ferry-core and smartcore.
    pub versions: BTreeMap<String, String>,
}

/// `git -C dir ARGS`'s trimmed output, when git runs and succeeds there.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// This machine's name, as run records store it.
pub(crate) fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            fs_err::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

impl RunRecord {
    /// A record for a run of `pipeline` that started at `started`, with its resolved
    /// config as YAML (the text the artifact stores). Its id is the start time, UTC, to
    /// the microsecond, then the process id: ids sort in the order runs started (to the
    /// second, runs of one test or script would sort by process id).
    #[must_use]
    pub fn start(pipeline: &Pipeline, started: SystemTime, config: String) -> Self {
        let config_sha256 = hex(&Sha256::digest(config.as_bytes()));
        let stamp = humantime::format_rfc3339_seconds(started).to_string();
        let compact: String = humantime::format_rfc3339_micros(started)
            .to_string()
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let git_sha = git(&pipeline.base_dir, &["rev-parse", "HEAD"]).filter(|s| !s.is_empty());
        let git_dirty = git_sha.as_ref().and_then(|_| {
            git(
                &pipeline.base_dir,
                &["status", "--porcelain", "--untracked-files=no"],
            )
            .map(|s| !s.is_empty())
        });
        Self {
            run_id: format!("{compact}-{}", std::process::id()),
            status: RunStatus::Running,
            reason: None,
            model: pipeline.model_name().clone(),
            version: None,
            started_at: stamp,
            seconds: 0.0,
            stages: Stages::default(),
            config,
            config_sha256,
            data_path: pipeline.data_path().to_owned(),
            data_sha256: None,
            rows: None,
            params: serde_json::to_value(&pipeline.config().model).unwrap_or_default(),
            metrics: BTreeMap::new(),
            gates: Vec::new(),
            cv: None,
            search: None,
            promotion: None,
            git_sha,
            git_dirty,
            host: host(),
            versions: BTreeMap::from([
                ("train".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
                ("ferry-core".to_owned(), ferry_core::VERSION.to_owned()),
                (
                    "smartcore".to_owned(),
                    ferry_core::SMARTCORE_VERSION.to_owned(),
                ),
            ]),
        }
    }

    /// Fills in how the run ended.
    pub fn finish(&mut self, result: &Result<RunReport, RunError>, seconds: f64) {
        self.seconds = seconds;
        match result {
            Ok(report) => {
                self.status = RunStatus::Registered;
                self.version = Some(report.version);
                self.metrics.clone_from(&report.metrics);
                self.gates.clone_from(&report.gates);
                self.rows = Some(report.rows);
                self.promotion.clone_from(&report.promotion);
            }
            Err(err) => {
                let failed = FailedRun::new(None, err);
                self.status = failed.status;
                self.reason = Some(failed.reason);
                self.metrics = failed.metrics;
                self.gates = failed.gates;
            }
        }
    }

    /// Stores the record in `registry`; where it went.
    ///
    /// # Errors
    /// The registry's errors.
    pub fn write(&self, registry: &dyn Registry) -> Result<String, RegistryError> {
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        registry.write_run(&self.model, &self.run_id, &json)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Runs started within one second (a script's, a test's) list in the order they
    /// started, whatever their process ids.
    #[test]
    fn run_ids_sort_in_the_order_runs_started() {
        let pipeline = crate::stages::fixture::pipeline();
        let t = crate::stages::fixture::started();
        let starts = [
            t,
            t + Duration::from_micros(1),
            t + Duration::from_millis(999),
            t + Duration::from_secs(1),
            t + Duration::from_secs(86_400),
        ];
        let ids: Vec<String> = starts
            .iter()
            .map(|&s| RunRecord::start(&pipeline, s, String::new()).run_id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let pid = std::process::id();
        assert_eq!(ids[1], format!("20261204T000000.000001Z-{pid}"));
        assert!(
            ids.iter()
                .all(|id| ferry_core::registry::is_valid_run_id(id))
        );
        // The start time shown stays to the second.
        let record = RunRecord::start(&pipeline, starts[2], String::new());
        assert_eq!(record.started_at, "2026-12-04T00:00:00Z");
    }
}
