//! The pipeline runner: [`run`] takes a validated pipeline through the stages
//! ([`crate::stages`]: load, split, select, fit, evaluate, gate, publish, promote),
//! records the run in the registry, failed runs too, and traces it as one span with a
//! child span per stage. [`cross_validate_only`] is `train cv`: the same load, split and
//! selection, without fitting the final model.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use ferry_core::RegistryLocation;
use ferry_core::config::to_yaml_string;
use ferry_store::StoreOptions;

use crate::config::Pipeline;
use crate::cv::{self, CvTable, SearchTable, TrainingRows};
use crate::data;
use crate::error::RunError;
use crate::fitting::pick;
use crate::record::RunRecord;
use crate::report::{RunReport, RunStatus};
use crate::stages::split::{SplitFrames, split_frame};
use crate::stages::{self, Run, SearchFrom, default_dead_letter};
use crate::tracking;

/// Where a run registers its model: `--registry`/`FERRY_REGISTRY`, else the config's
/// `output.registry`, else `artifacts` in the working directory.
#[must_use]
pub fn registry_location(pipeline: &Pipeline, cli: Option<&RegistryLocation>) -> RegistryLocation {
    cli.cloned()
        .or_else(|| pipeline.registry().cloned())
        .unwrap_or_else(default_registry)
}

/// The registry used when none is configured: `artifacts` in the working directory.
#[must_use]
pub fn default_registry() -> RegistryLocation {
    RegistryLocation::Local(PathBuf::from("artifacts"))
}

/// Runs `pipeline`, registering the model in the registry at `location` when every gate
/// passes.
///
/// # Errors
/// Any [`RunError`]; [`RunError::GateFailed`] when a gate fails (nothing is registered).
pub fn run(pipeline: &Pipeline, location: &RegistryLocation) -> Result<RunReport, RunError> {
    run_with(pipeline, location, SearchFrom::Grid)
}

/// As [`run`], with the grid search's scores taken from `search_from`: with
/// [`SearchFrom::Shards`], the cells the `--shard` processes recorded (`--finish`).
///
/// # Errors
/// As [`run`]; [`RunError::Search`] when a shard's cells are missing.
pub fn run_with(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    search_from: SearchFrom,
) -> Result<RunReport, RunError> {
    run_inner(pipeline, location, search_from, None)
}

/// As [`run`], with the model read from `import` instead of fitted: the same load,
/// validation, split, evaluation, gates, reference statistics and publication.
///
/// # Errors
/// As [`run`]; [`RunError::Import`] when the file cannot be imported for this config.
pub fn run_import(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    import: &crate::import::Import,
) -> Result<RunReport, RunError> {
    import.check_config(pipeline)?;
    run_inner(pipeline, location, SearchFrom::Grid, Some(import))
}

fn run_inner(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    search_from: SearchFrom,
    import: Option<&crate::import::Import>,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let span = tracing::info_span!(
        target: "ferry::trace",
        "train",
        otel.name = "train",
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
        ferry.model = pipeline.model_name().as_str(),
        ferry.model_kind = pipeline.model.kind().as_str(),
        ferry.model_version = tracing::field::Empty,
        ferry.run_id = tracing::field::Empty,
    )
    .entered();
    let mut registry = ferry_store::open(location, &StoreOptions::default())?;
    let config = to_yaml_string(pipeline.config()).map_err(RunError::SerializeConfig)?;
    let mut record = RunRecord::start(pipeline, SystemTime::now(), config);
    let stamp = record.started_at.clone();
    // Recorded as running before any work, so that a run whose process is killed
    // leaves its record (`train runs list` shows it crashed) instead of vanishing.
    if let Err(e) = record.write(registry.as_ref()) {
        tracing::warn!(run = %record.run_id, error = %e, "Could not record the run's start.");
    }
    let (tracker, mut tracking) = match tracking::start(pipeline, &record) {
        None => (None, None),
        Some(Ok(tracker)) => (Some(tracker), None),
        Some(Err(report)) => (None, Some(report)),
    };
    if let Some(tracker) = tracker.as_ref().filter(|t| t.is_server(location)) {
        // Publishing to the server the run is tracked in: one registration, in the run.
        registry = tracker.publish_here();
    }
    let mut result = {
        let mut stages = Run::new(pipeline, registry.as_ref(), location, &stamp, &mut record);
        stages.search_from = search_from;
        stages.tracking = tracker.as_ref();
        stages.import = import;
        run_stages(&mut stages)
    };
    record.finish(&result, started.elapsed().as_secs_f64());
    span.record("ferry.run_id", record.run_id.as_str());
    match &result {
        Ok(report) => {
            span.record("ferry.model_version", report.version);
        }
        Err(e) => {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", e.to_string());
        }
    }
    // Every run is recorded; a record that cannot be written is reported, and does not
    // undo a registered model.
    match record.write(registry.as_ref()) {
        Ok(path) => {
            tracing::info!(run = %record.run_id, %path, "Recorded the run.");
            if let Ok(report) = &mut result {
                report.run_id = Some(record.run_id.clone());
            }
        }
        Err(e) => tracing::warn!(run = %record.run_id, error = %e, "Could not record the run."),
    }
    if let Some(tracker) = tracker {
        tracking = Some(tracker.finish(&record));
    }
    if let Ok(report) = &mut result {
        report.tracking = tracking;
    }
    result
}

/// The stages of a run, in order; the report of a registered model.
fn run_stages(run: &mut Run<'_>) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let mut dataset = stages::load::load(run)?;
    let frames = stages::split::split(run, &mut dataset)?;
    let selection = stages::select::select(run, &frames, &dataset.target)?;
    let fitted = stages::fit::fit(run, &selection.spec, &frames, &dataset.target)?;
    let values = stages::evaluate::evaluate(run, &fitted.predictor, &frames, &dataset.target)?;
    let gates = stages::gate::gate(&run.pipeline.config.evaluation.gates, &values)?;
    let rows = frames.row_counts(&dataset);
    let published = stages::publish::publish(run, &fitted, &selection, rows, &values)?;
    let (resolved, written) = (published.resolved, published.manifest);
    let promotion = {
        let _span = stages::span("promote");
        let promotion = stages::promote::promote(
            run.pipeline,
            run.registry,
            resolved.version,
            &values,
            &frames.test,
            &dataset.target,
            &frames.split.test,
        );
        run.record.stages.publish += run.lap();
        promotion
    };
    Ok(RunReport {
        status: RunStatus::Registered,
        model: resolved.name.to_string(),
        version: resolved.version.0,
        latest: published.latest.0,
        path: match run.registry_url.as_deref() {
            // A bucket's version is named by its URL; the local copy is a cache detail.
            Some(url) => format!("{url}/{}/{}", resolved.name, resolved.version).into(),
            None => resolved.path,
        },
        kind: written.model_kind,
        rows: written.rows,
        dead_letter: dataset.dead_letter,
        metrics: written
            .metrics
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), *v))
            .collect(),
        gates,
        model_sha256: written
            .files
            .get(written.model_kind.model_file())
            .cloned()
            .unwrap_or_default(),
        seconds: started.elapsed().as_secs_f64(),
        stages: run.record.stages,
        run_id: None,
        cv: selection.cv,
        search: selection.search,
        promotion,
        tracking: None,
    })
}

/// Cross-validation (and the grid search, when configured) on the training split of
/// `pipeline`'s data, without fitting the final model or publishing: `train cv`. Rows
/// that fail validation go to the dead-letter file a run would write (`location` gives
/// the default one).
///
/// # Errors
/// Loading, splitting or fitting errors, as a run reports them.
pub fn cross_validate_only(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    folds_out: Option<&std::path::Path>,
) -> Result<CvReport, RunError> {
    let started = Instant::now();
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut dataset = data::load(pipeline, &default_dead_letter(pipeline, location, &stamp))?;
    let frame = std::mem::take(&mut dataset.frame);
    let SplitFrames { split, train, .. } = split_frame(pipeline, &dataset, frame)?;
    let target = pick(&dataset.target, &split.train);
    let rows = TrainingRows {
        frame: &train,
        target: &target,
    };
    let folds = pipeline
        .cv_folds()
        .or_else(|| pipeline.search().map(|s| s.folds))
        .unwrap_or(5);
    if let Some(path) = folds_out {
        write_folds(
            path,
            &split.train,
            &cv::fold_of_each_row(pipeline, rows, folds),
        )?;
    }
    let mut selection = stages::select::select_model(pipeline, rows)?;
    let cv = match selection.cv.take() {
        Some(cv) => cv,
        None => cv::cross_validate(pipeline, &selection.spec, rows, folds)?,
    };
    Ok(CvReport {
        model: pipeline.model_name().to_string(),
        kind: pipeline.model.kind(),
        rows: split.train.len(),
        invalid: dataset.invalid,
        dead_letter: dataset.dead_letter.clone(),
        params: serde_json::to_value(
            selection
                .model_section
                .as_ref()
                .unwrap_or(&pipeline.config.model),
        )
        .unwrap_or_default(),
        cv,
        search: selection.search,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes `row,fold` for each training row: its 0-based index among the data's valid
/// rows (its data row when none was rejected) and its cross-validation fold, so that
/// another tool can score exactly the same folds.
fn write_folds(path: &std::path::Path, rows: &[usize], folds: &[usize]) -> Result<(), RunError> {
    use std::fmt::Write as _;
    let mut text = String::from("row,fold\n");
    for (row, fold) in rows.iter().zip(folds) {
        let _ = writeln!(text, "{row},{fold}");
    }
    fs_err::write(path, text).map_err(RunError::WriteFolds)
}

/// What `train cv` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CvReport {
    /// Registry name of the model.
    pub model: String,
    /// The algorithm.
    pub kind: ferry_core::ModelKind,
    /// Training rows the folds were drawn from.
    pub rows: usize,
    /// Rows that failed validation.
    pub invalid: usize,
    /// Where they were written, when there were any.
    pub dead_letter: Option<PathBuf>,
    /// The model section cross-validated (the search's best, when there is a search).
    pub params: serde_json::Value,
    /// Its cross-validated metrics.
    pub cv: CvTable,
    /// The grid search, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchTable>,
    /// Wall time.
    pub seconds: f64,
}

impl std::fmt::Display for CvReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Cross-validated {} ({}) on {} training rows in {:.2}s",
            self.model, self.kind, self.rows, self.seconds
        )?;
        if let Some(search) = &self.search {
            write!(f, "{search}")?;
        }
        write!(f, "{}", self.cv)
    }
}
