//! Tracking a run in MLflow (`tracking.mlflow` in the config): the run is created when
//! training starts; when it ends, its params, metrics (each cross-validation fold a
//! step), tags and record are logged in a few batched calls, the model is registered in
//! MLflow's model registry with its files uploaded through the artifact proxy (when the
//! gates pass), the configured alias is set, and the run ends FINISHED or FAILED.
//!
//! Tracking never costs a run its model: the local artifact is written first, and a
//! tracking failure is reported (`tracking.error` in the report, a warning in the log)
//! without failing the run.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use ferry_core::artifact::{ArtifactFiles, Manifest};
use ferry_core::registry::{Published, Registry};
use ferry_store::StoreOptions;
use ferry_store::mlflow::{
    BoundRun, ClientOptions, MlflowClient, MlflowError, MlflowRegistry, create_run, end_run,
    experiment_id,
};

use crate::config::{MlflowTracking, Pipeline};
use crate::record::RunRecord;
use crate::report::{RunStatus, TrackingReport};

/// A run being tracked in MLflow.
pub struct Tracker {
    config: MlflowTracking,
    /// Whether the pipeline publishes to this very registry (see [`Tracker::publish_here`]).
    shared: std::sync::atomic::AtomicBool,
    client: MlflowClient,
    registry: Arc<MlflowRegistry>,
    run: BoundRun,
    report: Mutex<TrackingReport>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("server", &self.config.url.base())
            .field("run", &self.run.run_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts tracking `record`'s run of `pipeline` when the config asks for it: `None`
/// when it does not; the report of the failure when the server cannot take the run.
pub fn start(pipeline: &Pipeline, record: &RunRecord) -> Option<Result<Tracker, TrackingReport>> {
    let config = pipeline.tracking()?.clone();
    let mut report = TrackingReport {
        server: config.url.base().to_owned(),
        experiment: config.experiment.clone(),
        ..TrackingReport::default()
    };
    let client = MlflowClient::new(config.url.base(), ClientOptions::default());
    let started = experiment_id(&client, &config.experiment).and_then(|id| {
        report.experiment_id = Some(id.clone());
        let tags = [
            ("ferry.run_id", record.run_id.as_str()),
            ("ferry.model", record.model.as_str()),
            ("mlflow.source.type", "JOB"),
            ("mlflow.source.name", "ferry train"),
        ];
        create_run(&client, &id, &record.run_id, &tags)
    });
    let run = match started {
        Ok(run) => run,
        Err(e) => {
            tracing::warn!(server = %config.url.base(), error = %e, "MLflow tracking failed; the run goes on without it.");
            report.error = Some(e.to_string());
            return Some(Err(report));
        }
    };
    report.run_url = Some(format!(
        "{}/#/experiments/{}/runs/{}",
        config.url.base(),
        report.experiment_id.as_deref().unwrap_or("0"),
        run.run_id
    ));
    report.run_id = Some(run.run_id.clone());
    let registry = match ferry_store::mlflow_registry(&config.url, &StoreOptions::default()) {
        Ok(r) => Arc::new(r.with_experiment(config.experiment.clone())),
        Err(e) => {
            report.error = Some(e.to_string());
            return Some(Err(report));
        }
    };
    tracing::info!(run = %run.run_id, server = %config.url.base(), "Tracking the run in MLflow.");
    Some(Ok(Tracker {
        config,
        shared: std::sync::atomic::AtomicBool::new(false),
        client,
        registry,
        run,
        report: Mutex::new(report),
    }))
}

impl Tracker {
    /// For a pipeline that publishes to this very MLflow server: the tracker's registry,
    /// bound to this run, to publish into; the run's publish is then its registration
    /// ([`Tracker::register`] registers nothing again).
    #[must_use]
    pub fn publish_here(&self) -> Arc<MlflowRegistry> {
        self.registry.bind_run(self.run.clone());
        self.shared
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Arc::clone(&self.registry)
    }

    /// Whether `location` is the MLflow server this run is tracked in.
    #[must_use]
    pub fn is_server(&self, location: &ferry_core::RegistryLocation) -> bool {
        matches!(location, ferry_core::RegistryLocation::Mlflow(url) if *url == self.config.url)
    }

    fn fail(&self, what: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(run = %self.run.run_id, %error, "MLflow tracking failed to {what}; the run and its local artifact stand.");
        let mut report = lock(&self.report);
        if report.error.is_none() {
            report.error = Some(format!("could not {what}: {error}"));
        }
    }

    /// After the publish (`published`): registers the model in MLflow's registry (its
    /// files into this run's `model/`) unless that publish was the registration (the
    /// pipeline publishes to this very server), then sets the configured alias.
    pub fn register(&self, manifest: Manifest, files: &ArtifactFiles<'_>, published: &Published) {
        let shared = self.shared.load(std::sync::atomic::Ordering::Relaxed);
        if !self.config.register && !shared {
            self.upload_dir(&published.resolved.path);
            return;
        }
        let published = match shared {
            true => published.clone(),
            false => {
                self.registry.bind_run(self.run.clone());
                match self.registry.publish(manifest, files) {
                    Ok(p) => p,
                    Err(e) => return self.fail("register the model", &e),
                }
            }
        };
        let version = published.resolved.version;
        lock(&self.report).model_version = Some(version.0);
        if let Some(alias) = &self.config.alias {
            match self
                .registry
                .set_alias(&published.resolved.name, alias, version)
            {
                Ok(()) => lock(&self.report).alias = Some(alias.to_string()),
                Err(e) => self.fail(&format!("set alias '{alias}'"), &e),
            }
        }
    }

    /// Uploads a local artifact directory into this run's `model/` (when the model is
    /// not registered, so the run still carries it).
    fn upload_dir(&self, dir: &Path) {
        let Some(root) = ferry_store::mlflow::proxy_path(&self.run.artifact_uri) else {
            return self.fail(
                "upload the artifact",
                &format!(
                    "the run's artifact location {} is not behind MLflow's artifact proxy",
                    self.run.artifact_uri
                ),
            );
        };
        let entries = match fs_err::read_dir(dir) {
            Ok(e) => e,
            Err(e) => return self.fail("upload the artifact", &e),
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let uploaded = fs_err::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    self.client
                        .put_artifact(&format!("{root}/model/{name}"), &bytes)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = uploaded {
                return self.fail("upload the artifact", &e);
            }
        }
    }

    /// Logs the run's params, metrics, tags and record, and ends it with its status.
    #[must_use]
    pub fn finish(self, record: &RunRecord) -> TrackingReport {
        if let Err(e) = self.log(record) {
            self.fail("log the run", &e);
        }
        let status = match record.status {
            RunStatus::Registered => "FINISHED",
            RunStatus::Failed | RunStatus::GatesFailed => "FAILED",
            RunStatus::Running => "RUNNING",
        };
        if let Err(e) = end_run(&self.client, &self.run.run_id, status) {
            self.fail("end the run", &e);
        }
        let report = lock(&self.report).clone();
        if report.error.is_none() {
            tracing::info!(run = %self.run.run_id, status, "Tracked the run in MLflow.");
        }
        report
    }

    fn log(&self, record: &RunRecord) -> Result<(), MlflowError> {
        let (params, metrics, tags) = batch(record);
        // MLflow takes at most 100 params and 100 tags per call, 1000 entries in all.
        let mut params = params.chunks(100);
        let mut metrics = metrics.chunks(900);
        let mut tags = tags.chunks(100);
        loop {
            let (p, m, t) = (params.next(), metrics.next(), tags.next());
            if p.is_none() && m.is_none() && t.is_none() {
                break;
            }
            self.client.post::<Value>(
                "runs/log-batch",
                &json!({
                    "run_id": self.run.run_id,
                    "params": p.unwrap_or_default(),
                    "metrics": m.unwrap_or_default(),
                    "tags": t.unwrap_or_default(),
                }),
            )?;
        }
        if let Some(root) = ferry_store::mlflow::proxy_path(&self.run.artifact_uri) {
            let json = serde_json::to_vec_pretty(record).unwrap_or_default();
            self.client
                .put_artifact(&format!("{root}/run.json"), &json)?;
        }
        Ok(())
    }
}

/// A JSON value as an MLflow param value (strings bare, `null` as `None`, as MLflow's
/// Python client writes Python's `None`).
fn param_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        other @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => {
            other.to_string()
        }
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The params, metrics and tags of `record`, in `runs/log-batch`'s shapes.
fn batch(record: &RunRecord) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let truncate = |s: String, n: usize| s.chars().take(n).collect::<String>();
    // The model section as configured; after a grid search, with the chosen
    // candidate's values: the hyperparameters of the model the run registered.
    let mut model = record.params.as_object().cloned().unwrap_or_default();
    if let Some(search) = &record.search {
        if let Some(Value::Object(best)) = search.best().map(|b| &b.params) {
            model.extend(best.clone());
        }
        model.insert(
            "search_candidates".to_owned(),
            json!(search.candidates.len()),
        );
        model.insert("search_metric".to_owned(), json!(search.metric.as_str()));
    }
    let mut params = Vec::new();
    for (key, value) in &model {
        params.push(
            json!({"key": truncate(key.clone(), 250), "value": truncate(param_value(value), 6000)}),
        );
    }
    if let Some(cv) = &record.cv {
        params.push(json!({"key": "cv_folds", "value": cv.folds.to_string()}));
    }
    let at = now_millis();
    let metric = |key: String, value: f64, step: usize| json!({"key": key, "value": value, "timestamp": at, "step": step});
    let mut metrics: Vec<Value> = record
        .metrics
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| metric(k.clone(), *v, 0))
        .collect();
    if let Some(cv) = &record.cv {
        for (name, score) in &cv.scores {
            for (fold, value) in score.folds.iter().enumerate() {
                if value.is_finite() {
                    metrics.push(metric(format!("cv_{}", name.as_str()), *value, fold));
                }
            }
            if score.mean.is_finite() {
                metrics.push(metric(format!("cv_{}_mean", name.as_str()), score.mean, 0));
                metrics.push(metric(format!("cv_{}_std", name.as_str()), score.std, 0));
            }
        }
    }
    if let Some(rows) = &record.rows {
        for (key, n) in [
            ("rows_train", rows.train),
            ("rows_test", rows.test),
            ("rows_invalid", rows.invalid),
        ] {
            #[allow(clippy::cast_precision_loss, reason = "row counts far below 2^52")]
            metrics.push(metric(key.to_owned(), n as f64, 0));
        }
    }
    metrics.push(metric("train_seconds".to_owned(), record.seconds, 0));
    let mut tags = vec![
        (
            "ferry.status",
            // As the report and the run record spell it (`gates_failed`).
            serde_json::to_value(record.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        ),
        ("ferry.config_sha256", record.config_sha256.clone()),
        (
            "ferry.version",
            record.versions.get("train").cloned().unwrap_or_default(),
        ),
        (
            "ferry.model_kind",
            record
                .params
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        ("ferry.data_path", record.data_path.display().to_string()),
    ];
    if let Some(sha) = &record.data_sha256 {
        tags.push(("ferry.data_sha256", sha.clone()));
    }
    if let Some(sha) = &record.git_sha {
        tags.push(("ferry.git_sha", sha.clone()));
        // MLflow's UI shows this one as the run's source commit.
        tags.push(("mlflow.source.git.commit", sha.clone()));
    }
    if let Some(v) = record.version {
        tags.push(("ferry.registry_version", v.to_string()));
    }
    if let Some(reason) = &record.reason {
        tags.push(("ferry.failure", truncate(reason.clone(), 5000)));
    }
    let tags = tags
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    (params, metrics, tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_params_metrics_with_a_step_per_fold_and_tags() {
        use std::collections::BTreeMap;

        use ferry_core::metrics::Metric;

        use crate::cv::{CandidateResult, CvTable, Score, SearchTable};

        let pipeline = crate::stages::fixture::pipeline();
        let mut record =
            RunRecord::start(&pipeline, crate::stages::fixture::started(), String::new());
        assert_eq!(record.status, RunStatus::Running);
        record.status = RunStatus::Failed;
        record.metrics = BTreeMap::from([("accuracy".to_owned(), 0.75)]);
        let score = Score {
            mean: 0.8,
            std: 0.1,
            folds: vec![0.7, 0.9],
        };
        record.cv = Some(CvTable {
            folds: 2,
            stratified: true,
            scores: BTreeMap::from([(Metric::Accuracy, score.clone())]),
        });
        record.search = Some(SearchTable {
            metric: Metric::Accuracy,
            higher_is_better: true,
            folds: 2,
            best: 1,
            candidates: [json!({"max_depth": 2}), json!({"max_depth": 5})]
                .into_iter()
                .enumerate()
                .map(|(i, params)| CandidateResult {
                    params,
                    rank: Some(2 - i),
                    scores: BTreeMap::from([(Metric::Accuracy, score.clone())]),
                    error: None,
                })
                .collect(),
        });
        let (params, metrics, tags) = batch(&record);
        let find = |list: &[Value], key: &str| -> Vec<Value> {
            list.iter().filter(|e| e["key"] == key).cloned().collect()
        };
        assert_eq!(
            find(&params, "max_depth")[0]["value"],
            "5",
            "the chosen candidate's"
        );
        assert_eq!(find(&params, "search_candidates")[0]["value"], "2");
        assert_eq!(find(&params, "cv_folds")[0]["value"], "2");
        let folds = find(&metrics, "cv_accuracy");
        assert_eq!(folds.len(), 2);
        assert_eq!(
            (folds[0]["step"].clone(), folds[0]["value"].clone()),
            (json!(0), json!(0.7))
        );
        assert_eq!(
            (folds[1]["step"].clone(), folds[1]["value"].clone()),
            (json!(1), json!(0.9))
        );
        assert_eq!(find(&metrics, "accuracy")[0]["value"], 0.75);
        assert_eq!(find(&metrics, "cv_accuracy_mean")[0]["value"], 0.8);
        assert_eq!(find(&tags, "ferry.status")[0]["value"], "failed");
        assert_eq!(
            find(&tags, "ferry.model_kind")[0]["value"],
            pipeline.config().model.kind().as_str()
        );
    }

    #[test]
    fn params_are_written_as_mlflow_writes_python_values() {
        assert_eq!(param_value(&json!("gini")), "gini");
        assert_eq!(param_value(&Value::Null), "None");
        assert_eq!(param_value(&json!(3)), "3");
        assert_eq!(param_value(&json!([1, 2])), "[1,2]");
    }
}
