//! [`RunReport`]: what a run did, printed as a summary or as JSON (`--json`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ferry_core::ModelKind;
use ferry_core::artifact::RowCounts;
use ferry_core::metrics::Metric;
use serde::Serialize;

use crate::cv::{CvTable, SearchTable};
use crate::error::RunError;
use crate::stages::gate::GateResult;

/// Wall time of each stage of a run, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stages {
    /// Reading the data file and validating every row.
    pub load: f64,
    /// Splitting and fitting the preprocessing.
    pub prepare: f64,
    /// Cross-validation and grid search on the training split (0 when neither is
    /// configured).
    pub cv: f64,
    /// Fitting the model.
    pub fit: f64,
    /// Predicting the test rows and computing the metrics and gates.
    pub evaluate: f64,
    /// Writing, verifying and registering the artifact.
    pub publish: f64,
}

/// What `promote:` did with the new version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promotion {
    /// The alias.
    pub alias: String,
    /// Whether the alias now points to the new version.
    pub promoted: bool,
    /// The version the alias pointed to before the run, if any.
    pub previous: Option<u64>,
    /// The metric compared.
    pub metric: Metric,
    /// The new version's value on the test rows.
    pub candidate: f64,
    /// The previous version's value on the same test rows, when it was compared.
    pub current: Option<f64>,
    /// Why it did or did not promote.
    pub reason: String,
}

impl fmt::Display for Promotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.promoted {
            "promoted to"
        } else {
            "not promoted to"
        };
        write!(f, "{verb} {}: {}", self.alias, self.reason)
    }
}

/// How a run ended, as `--json` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The model passed its gates and was registered.
    Registered,
    /// The model was evaluated and a quality gate failed; nothing was registered.
    GatesFailed,
    /// The run stopped on an error (config, data, fitting, registry).
    Failed,
    /// The run has started and not ended: what its record says while it runs, and
    /// forever if its process is killed (`train runs list` then shows it as `crashed`).
    Running,
}

/// What a run that did not register a model reports with `--json`: its status, the
/// reason, the exit code, and the metrics and gates when it got as far as evaluating.
#[derive(Debug, Clone, Serialize)]
pub struct FailedRun {
    /// [`RunStatus::GatesFailed`] or [`RunStatus::Failed`].
    pub status: RunStatus,
    /// The error, as printed on stderr.
    pub reason: String,
    /// The process exit code (1 or 2).
    pub exit_code: u8,
    /// The model name, when the config was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Test-set metrics, when the run evaluated the model.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Gate outcomes, when the run evaluated the model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
}

impl FailedRun {
    /// The report of a run of `model` (when its config was read) that stopped on `err`.
    #[must_use]
    pub fn new(model: Option<String>, err: &RunError) -> Self {
        let (status, metrics, gates) = if let RunError::GateFailed(failed) = err {
            (
                RunStatus::GatesFailed,
                failed.metrics.clone(),
                failed.gates.clone(),
            )
        } else {
            (RunStatus::Failed, BTreeMap::new(), Vec::new())
        };
        Self {
            status,
            reason: err.to_string(),
            exit_code: err.exit_code(),
            model,
            metrics,
            gates,
        }
    }
}

/// What a successful run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always [`RunStatus::Registered`].
    pub status: RunStatus,
    /// Registry name.
    pub model: String,
    /// The new version.
    pub version: u64,
    /// The version `latest` points to after the run (higher than `version` when a
    /// concurrent run registered a newer one).
    pub latest: u64,
    /// Where the version was written: its directory, or its URL in a bucket.
    pub path: PathBuf,
    /// The algorithm.
    pub kind: ModelKind,
    /// Row counts.
    pub rows: RowCounts,
    /// The dead-letter file, when rows were rejected.
    pub dead_letter: Option<PathBuf>,
    /// Test-set metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Gate outcomes.
    pub gates: Vec<GateResult>,
    /// sha256 of the model file (`model.json` or `model.bin`).
    pub model_sha256: String,
    /// Wall time of the run.
    pub seconds: f64,
    /// Wall time of each stage.
    pub stages: Stages,
    /// The run record's id (`train runs show MODEL ID`), when it was written.
    pub run_id: Option<String>,
    /// `evaluation.cv` on the training split, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvTable>,
    /// The grid search, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchTable>,
    /// What `promote:` did, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
    /// What MLflow tracking did, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingReport>,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Trained {} ({}) in {:.2}s",
            self.model, self.kind, self.seconds
        )?;
        let r = &self.rows;
        writeln!(
            f,
            "  rows     {} read, {} valid, {} invalid; {} train, {} test",
            r.read, r.valid, r.invalid, r.train, r.test
        )?;
        if let Some(d) = &self.dead_letter {
            writeln!(f, "  rejected rows written to {}", d.display())?;
        }
        if let Some(search) = &self.search {
            write!(f, "{search}")?;
        }
        if let Some(cv) = &self.cv {
            write!(f, "{cv}")?;
        }
        let metrics: Vec<String> = self
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        writeln!(f, "  metrics  {}", metrics.join(", "))?;
        for g in &self.gates {
            writeln!(f, "  gate     {g}")?;
        }
        writeln!(f, "  model    sha256 {}", self.model_sha256)?;
        let s = &self.stages;
        writeln!(
            f,
            "  time     load {:.2}s, prepare {:.2}s, cv {:.2}s, fit {:.2}s, evaluate {:.2}s, publish {:.2}s",
            s.load, s.prepare, s.cv, s.fit, s.evaluate, s.publish
        )?;
        if let Some(id) = &self.run_id {
            writeln!(f, "  run      {id}")?;
        }
        if let Some(t) = &self.tracking {
            writeln!(f, "  mlflow   {t}")?;
        }
        write!(
            f,
            "Registered {} version {} at {} (latest)",
            self.model,
            self.version,
            self.path.display()
        )?;
        if let Some(p) = &self.promotion {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

/// What tracking did, in the run's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrackingReport {
    /// The MLflow server.
    pub server: String,
    /// The experiment's name.
    pub experiment: String,
    /// The experiment's id, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    /// MLflow's run id, once created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run's page in MLflow's UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The version MLflow's registry gave the model, when registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u64>,
    /// The alias set on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Why tracking failed, when it did (the run and its local artifact stand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl std::fmt::Display for TrackingReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.run_url, &self.error) {
            (_, Some(error)) => write!(f, "tracking FAILED ({}): {error}", self.server),
            (Some(url), None) => {
                write!(f, "run {url}")?;
                if let Some(v) = self.model_version {
                    write!(f, "; registered version {v}")?;
                }
                if let Some(a) = &self.alias {
                    write!(f, " as @{a}")?;
                }
                Ok(())
            }
            (None, None) => write!(f, "not tracked"),
        }
    }
}
