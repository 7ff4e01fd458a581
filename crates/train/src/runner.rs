//! The pipeline runner: load -> validate -> split -> fit preprocessing -> fit model ->
//! evaluate through [`Predictor::predict`] (the call serve makes) -> gates -> manifest ->
//! publish into the configured [`Registry`](ferry_core::Registry).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use ferry_core::artifact::{
    ArtifactFiles, FORMAT_VERSION, Manifest, ReadLimits, RowCounts, sha256_file,
};
use ferry_core::config::to_yaml_string;
use ferry_core::drift::ReferenceProfile;
use ferry_core::metrics::{self, Metric, Truth};
use ferry_core::model::{self, EncodedLabels, Target, Task, TrainingSet, ValidModelSpec};
use ferry_core::schema::TargetValue;
use ferry_core::split::{Split, train_test_split};
use ferry_core::{
    ClassLabel, FittedPreprocessor, Frame, Model, ModelRef, Predictor, RegistryLocation, Version,
};

use crate::config::Pipeline;
use crate::cv::{self, CvTable, SearchTable, TrainingRows};
use crate::data::{self, Dataset};
use crate::error::RunError;
use crate::record::RunRecord;
use crate::report::{GateResult, Promotion, RunReport, RunStatus};

/// Where a run registers its model: `--registry`/`FERRY_REGISTRY`, else the config's
/// `output.registry`, else `artifacts` in the working directory.
#[must_use]
pub fn registry_location(pipeline: &Pipeline, cli: Option<&RegistryLocation>) -> RegistryLocation {
    cli.cloned()
        .or_else(|| pipeline.registry().map(RegistryLocation::from))
        .unwrap_or_else(default_registry)
}

/// The registry used when none is configured: `artifacts` in the working directory.
#[must_use]
pub fn default_registry() -> RegistryLocation {
    RegistryLocation::Local(PathBuf::from("artifacts"))
}

/// Where rejected rows go when the config names no dead-letter file:
/// `<registry>/<model>/dead-letter/<time>-<pid>.csv` for a local registry.
fn default_dead_letter(pipeline: &Pipeline, location: &RegistryLocation, stamp: &str) -> PathBuf {
    let file = format!("{}-{}.csv", stamp.replace(':', ""), std::process::id());
    match location {
        RegistryLocation::Local(root) => root
            .join(pipeline.model_name().as_str())
            .join("dead-letter")
            .join(file),
    }
}

/// The split of a dataset's valid rows, exactly as a run with this pipeline makes it.
/// Exposed so tests can rebuild the test set of a trained model.
#[must_use]
pub fn split_rows(pipeline: &Pipeline, dataset: &Dataset) -> Split {
    let split = &pipeline.config.split;
    let strata = if pipeline.stratify {
        let all: Vec<usize> = (0..dataset.target.len()).collect();
        Some(
            EncodedLabels::encode(&labels_at(&dataset.target, &all))
                .codes()
                .to_vec(),
        )
    } else {
        None
    };
    // One target per valid row: the row count, also once the frame was taken out.
    train_test_split(
        dataset.target.len(),
        split.test_fraction,
        split.seed,
        strata.as_deref(),
    )
}

/// The class labels of `rows` (a classification target holds only labels).
pub(crate) fn labels_at(target: &[TargetValue], rows: &[usize]) -> Vec<ClassLabel> {
    rows.iter()
        .filter_map(|&r| match target.get(r) {
            Some(TargetValue::Label(l)) => Some(l.clone()),
            Some(TargetValue::Number(_)) | None => None,
        })
        .collect()
}

/// The values of `rows` (a regression target holds only numbers).
pub(crate) fn values_at(target: &[TargetValue], rows: &[usize]) -> Vec<f64> {
    rows.iter()
        .filter_map(|&r| match target.get(r) {
            Some(TargetValue::Number(v)) => Some(*v),
            Some(TargetValue::Label(_)) | None => None,
        })
        .collect()
}

fn check_gates(pipeline: &Pipeline, values: &BTreeMap<Metric, f64>) -> Vec<GateResult> {
    pipeline
        .config
        .evaluation
        .gates
        .iter()
        .map(|g| {
            let value = values.get(&g.metric).copied().unwrap_or(f64::NAN);
            let passed = g.min.is_none_or(|m| value >= m) && g.max.is_none_or(|m| value <= m);
            GateResult {
                metric: g.metric,
                min: g.min,
                max: g.max,
                value,
                passed,
            }
        })
        .collect()
}

/// A split dataset with its preprocessing fitted: what the model is fitted on and
/// evaluated with.
#[derive(Debug)]
pub struct Prepared {
    /// Row indices of the training and test sets.
    pub split: Split,
    /// The preprocessing fitted on the training rows.
    pub preprocessor: FittedPreprocessor,
    /// The preprocessed training rows and their target.
    pub training: TrainingSet,
    /// The test rows, validated but not preprocessed (the predictor preprocesses them).
    pub test_frame: Frame,
}

/// Splits `dataset` as `pipeline` says and fits its preprocessing on the training rows,
/// exactly as a run does. Exposed so tests can refit a run's model.
///
/// # Errors
/// [`RunError::NotEnoughRows`] when the split leaves a side empty, or a
/// preprocessing error.
pub fn prepare(pipeline: &Pipeline, dataset: &Dataset) -> Result<Prepared, RunError> {
    prepare_frame(pipeline, dataset, dataset.frame.clone())
}

/// [`prepare`] on `frame` (the dataset's rows, taken out of it so that the split moves
/// them instead of copying a large table).
fn prepare_frame(
    pipeline: &Pipeline,
    dataset: &Dataset,
    frame: Frame,
) -> Result<Prepared, RunError> {
    let (split, train_frame, test_frame) = split_frame(pipeline, dataset, frame)?;
    let (preprocessor, training) =
        fit_preprocessing(pipeline, &train_frame, &dataset.target, &split.train)?;
    Ok(Prepared {
        split,
        preprocessor,
        training,
        test_frame,
    })
}

/// Splits `frame` (the dataset's rows) into training and test rows.
fn split_frame(
    pipeline: &Pipeline,
    dataset: &Dataset,
    frame: Frame,
) -> Result<(Split, Frame, Frame), RunError> {
    let split = split_rows(pipeline, dataset);
    if split.test.is_empty() || split.train.len() < 2 {
        return Err(RunError::NotEnoughRows(format!(
            "the split leaves {} training and {} test rows",
            split.train.len(),
            split.test.len()
        )));
    }
    let (train_frame, test_frame) = frame.split_rows(&split.train, &split.test);
    Ok((split, train_frame, test_frame))
}

/// Fits the preprocessing on `frame` (the rows `rows` of `target`) and transforms it
/// into the model's training set.
fn fit_preprocessing(
    pipeline: &Pipeline,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<(FittedPreprocessor, TrainingSet), RunError> {
    let preprocessor = pipeline.config.preprocessing.fit(&pipeline.schema, frame)?;
    let x = preprocessor.transform(frame)?;
    let y = match pipeline.task {
        Task::Classification => Target::Classes(EncodedLabels::encode(&labels_at(target, rows))),
        Task::Regression => Target::Values(values_at(target, rows)),
    };
    let training = TrainingSet {
        x,
        y,
        seed: pipeline.config.split.seed,
    };
    Ok((preprocessor, training))
}

/// Fits the preprocessing and the model `spec` on `frame` (the rows `rows` of
/// `target`): the predictor a run, a cross-validation fold or a grid candidate scores.
pub(crate) fn fit_predictor(
    pipeline: &Pipeline,
    spec: &ValidModelSpec,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<Predictor, RunError> {
    let (preprocessor, training) = fit_preprocessing(pipeline, frame, target, rows)?;
    let fitted = model::fit(spec, &training)?;
    Ok(Predictor::new(preprocessor, fitted)?)
}

/// The pipeline's metrics for `predictor` on `frame`, whose true values are the rows
/// `rows` of `target`, predicted exactly as serve predicts.
pub(crate) fn score(
    pipeline: &Pipeline,
    predictor: &Predictor,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<BTreeMap<Metric, f64>, RunError> {
    let predictions = predictor.predict(frame)?;
    Ok(match pipeline.task {
        Task::Classification => {
            let known = predictor.classes().unwrap_or_default();
            let truth: Vec<Option<usize>> = labels_at(target, rows)
                .iter()
                .map(|l| known.iter().position(|k| k == l))
                .collect();
            metrics::compute(&pipeline.metrics, Truth::Classes(&truth), &predictions)?
        }
        Task::Regression => {
            let truth = values_at(target, rows);
            metrics::compute(&pipeline.metrics, Truth::Values(&truth), &predictions)?
        }
    })
}

/// What a run's training rows cross-validation and search left: the model to fit (the
/// search's best, else the config's) and the tables.
struct Selection {
    spec: ValidModelSpec,
    model_section: Option<ferry_core::ModelSpec>,
    cv: Option<CvTable>,
    search: Option<SearchTable>,
}

/// Runs the grid search and `evaluation.cv` on the training rows, as configured.
fn select_model(pipeline: &Pipeline, rows: TrainingRows<'_>) -> Result<Selection, RunError> {
    let mut selection = Selection {
        spec: pipeline.model.clone(),
        model_section: None,
        cv: None,
        search: None,
    };
    if let Some(search) = pipeline.search() {
        let table = cv::grid_search(pipeline, search, rows)?;
        if let Some(best) = search.candidates.get(table.best) {
            tracing::info!(
                params = %serde_json::to_string(&table.best().map(|b| &b.params)).unwrap_or_default(),
                metric = %search.metric,
                "Grid search picked the best candidate."
            );
            selection.spec = best.valid.clone();
            selection.model_section = Some(best.spec.clone());
            // The search already cross-validated the best candidate on these folds.
            if pipeline.cv_folds() == Some(search.folds) {
                selection.cv = table.best().map(|b| CvTable {
                    folds: search.folds,
                    stratified: pipeline.stratify,
                    scores: b.scores.clone(),
                });
            }
        }
        selection.search = Some(table);
    }
    if let (Some(folds), None) = (pipeline.cv_folds(), &selection.cv) {
        selection.cv = Some(cv::cross_validate(pipeline, &selection.spec, rows, folds)?);
    }
    Ok(selection)
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
    let (split, train_frame, _test_frame) = split_frame(pipeline, &dataset, frame)?;
    let target = pick(&dataset.target, &split.train);
    let rows = TrainingRows {
        frame: &train_frame,
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
    let mut selection = select_model(pipeline, rows)?;
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

/// The values at `rows`.
fn pick<T: Clone>(all: &[T], rows: &[usize]) -> Vec<T> {
    rows.iter().filter_map(|&r| all.get(r).cloned()).collect()
}

/// Moves the `promote` alias to `version` when asked and deserved: always when there is
/// no current version or no comparison is required, else when the new version beats the
/// current one on the promotion metric, both scored on `test_frame`.
fn promote(
    pipeline: &Pipeline,
    registry: &dyn ferry_core::Registry,
    version: Version,
    candidate: &BTreeMap<Metric, f64>,
    test_frame: &Frame,
    target: &[TargetValue],
    test_rows: &[usize],
) -> Option<Promotion> {
    let config = pipeline.promote()?;
    let name = pipeline.model_name();
    let metric = config.metric;
    let value = candidate.get(&metric).copied().unwrap_or(f64::NAN);
    let mut outcome = Promotion {
        alias: config.alias.to_string(),
        promoted: false,
        previous: None,
        metric,
        candidate: value,
        current: None,
        reason: String::new(),
    };
    let previous = match registry.aliases(name) {
        Ok(aliases) => aliases.get(&config.alias).copied(),
        Err(e) => {
            outcome.reason = format!("cannot read the aliases of {name}: {e}");
            return Some(outcome);
        }
    };
    outcome.previous = previous.map(|v| v.0);
    let deserved = match previous {
        None => Ok(format!("{} had no version", config.alias)),
        Some(_) if !config.require_better => Ok("no comparison required".to_owned()),
        Some(current) => {
            let scored = registry
                .load(&ModelRef::Version(name.clone(), current))
                .map_err(|e| e.to_string())
                .and_then(|(_, bundle)| {
                    score(pipeline, bundle.predictor(), test_frame, target, test_rows)
                        .map_err(|e| e.to_string())
                });
            match scored {
                Err(why) => Err(format!(
                    "version {current} cannot be scored on this run's test rows: {why}"
                )),
                Ok(values) => {
                    let old = values.get(&metric).copied().unwrap_or(f64::NAN);
                    outcome.current = Some(old);
                    if metric.better(value, old) {
                        Ok(format!(
                            "{metric} {value:.4} beats version {current}'s {old:.4} on the same {} test rows",
                            test_rows.len()
                        ))
                    } else {
                        Err(format!(
                            "{metric} {value:.4} does not beat version {current}'s {old:.4} on the same {} test rows",
                            test_rows.len()
                        ))
                    }
                }
            }
        }
    };
    match deserved {
        Ok(why) => match registry.set_alias(name, &config.alias, version) {
            Ok(()) => {
                outcome.promoted = true;
                outcome.reason = why;
            }
            Err(e) => outcome.reason = format!("{why}, but the alias could not be moved: {e}"),
        },
        Err(why) => outcome.reason = why,
    }
    tracing::info!(
        alias = %config.alias,
        promoted = outcome.promoted,
        reason = %outcome.reason,
        "Promotion."
    );
    Some(outcome)
}

/// Runs `pipeline`, registering the model in the registry at `location` when every gate
/// passes.
///
/// # Errors
/// Any [`RunError`]; [`RunError::GateFailed`] when a gate fails (nothing is registered).
pub fn run(pipeline: &Pipeline, location: &RegistryLocation) -> Result<RunReport, RunError> {
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
    let registry = location.open(ReadLimits::default());
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let config = to_yaml_string(pipeline.config()).map_err(RunError::SerializeConfig)?;
    let mut record = RunRecord::start(pipeline, &stamp, config);
    let mut result = run_recorded(pipeline, location, registry.as_ref(), &stamp, &mut record);
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
    result
}

/// Opens the span of one pipeline stage (exported when spans are, see ferry-telemetry),
/// a child of the run's span; it ends when the returned guard drops.
fn stage(name: &'static str) -> tracing::span::EnteredSpan {
    tracing::info_span!(
        target: "ferry::trace",
        "stage",
        otel.name = name,
        ferry.stage = name
    )
    .entered()
}

fn run_recorded(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    registry: &dyn ferry_core::Registry,
    stamp: &str,
    record: &mut RunRecord,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let default_dead_letter = default_dead_letter(pipeline, location, stamp);
    let mut lap = Instant::now();
    // Seconds since the previous call.
    let mut clock = move || {
        let seconds = lap.elapsed().as_secs_f64();
        lap = Instant::now();
        seconds
    };
    let span = stage("load");
    let spinner =
        crate::progress::Spinner::new(format!("reading {}", pipeline.data_path().display()));
    let mut dataset = data::load(pipeline, &default_dead_letter)?;
    drop(spinner);
    record.stages.load = clock();
    let valid = dataset.frame.n_rows();
    record.rows = Some(RowCounts {
        read: dataset.read,
        valid,
        invalid: dataset.invalid,
        train: 0,
        test: 0,
    });
    record.data_sha256 = sha256_file(pipeline.data_path()).ok();
    tracing::info!(
        read = dataset.read,
        valid,
        invalid = dataset.invalid,
        "Loaded data."
    );
    let max_invalid = pipeline.config.data.max_invalid_fraction;
    if dataset.invalid as f64 > max_invalid * dataset.read as f64 {
        return Err(RunError::TooManyInvalid {
            invalid: dataset.invalid,
            read: dataset.read,
            limit: max_invalid,
            dead_letter: dataset.dead_letter.clone().unwrap_or(default_dead_letter),
        });
    }
    if valid < 4 {
        return Err(RunError::NotEnoughRows(format!(
            "{valid} valid rows, at least 4 are needed"
        )));
    }

    drop(span);

    let span = stage("split");
    let frame = std::mem::take(&mut dataset.frame);
    let (split, train_frame, test_frame) = split_frame(pipeline, &dataset, frame)?;
    if let Some(rows) = &mut record.rows {
        rows.train = split.train.len();
        rows.test = split.test.len();
    }
    record.stages.prepare = clock();
    drop(span);
    let selection = if pipeline.search().is_some() || pipeline.cv_folds().is_some() {
        let _span = stage(if pipeline.search().is_some() {
            "search"
        } else {
            "cross_validate"
        });
        let target = pick(&dataset.target, &split.train);
        let rows = TrainingRows {
            frame: &train_frame,
            target: &target,
        };
        let selection = select_model(pipeline, rows);
        record.stages.cv = clock();
        let selection = selection?;
        record.cv.clone_from(&selection.cv);
        record.search.clone_from(&selection.search);
        if let Some(section) = &selection.model_section {
            record.params = serde_json::to_value(section).unwrap_or_default();
        }
        selection
    } else {
        Selection {
            spec: pipeline.model.clone(),
            model_section: None,
            cv: None,
            search: None,
        }
    };
    let span = stage("fit");
    let reference =
        ReferenceProfile::from_frame(pipeline.schema(), &train_frame, pipeline.config.drift);
    let (preprocessor, training) =
        fit_preprocessing(pipeline, &train_frame, &dataset.target, &split.train)?;
    drop(train_frame);
    record.stages.prepare += clock();
    let fitted = model::fit_with_progress(
        &selection.spec,
        &training,
        &crate::progress::TreeProgress::default(),
    )?;
    drop(training);
    tracing::info!(kind = %fitted.kind(), rows = split.train.len(), "Fitted model.");
    let predictor = Predictor::new(preprocessor, fitted)?;
    record.stages.fit = clock();
    drop(span);

    // Evaluate exactly as serve predicts.
    let span = stage("evaluate");
    let classes = predictor.classes().map(<[ClassLabel]>::to_vec);
    let values = score(
        pipeline,
        &predictor,
        &test_frame,
        &dataset.target,
        &split.test,
    )?;
    let gates = check_gates(pipeline, &values);
    let failures: Vec<String> = gates
        .iter()
        .filter(|g| !g.passed)
        .map(ToString::to_string)
        .collect();
    if !failures.is_empty() {
        return Err(RunError::GateFailed {
            failures,
            gates,
            metrics: values
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
        });
    }
    // The artifact's config is the one that reproduces its model: after a search, its
    // model section is the best candidate's.
    let config_yaml = match &selection.model_section {
        Some(section) => {
            let mut config = pipeline.config.clone();
            config.model = section.clone();
            to_yaml_string(&config).map_err(RunError::SerializeConfig)?
        }
        None => record.config.clone(),
    };
    let data_sha256 = match record.data_sha256.clone() {
        Some(sha) => sha,
        None => sha256_file(pipeline.data_path()).map_err(|e| RunError::ReadData {
            path: pipeline.data_path().to_owned(),
            message: e.to_string(),
        })?,
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: pipeline.model_name().clone(),
        // The registry assigns the version and fills in the checksums.
        version: Version(0),
        model_kind: predictor.model().kind(),
        task: pipeline.task,
        created_at: stamp.to_owned(),
        git_sha: record.git_sha.clone(),
        config_sha256: String::new(),
        data_sha256,
        target: pipeline.config.schema.target.clone(),
        classes,
        rows: RowCounts {
            read: dataset.read,
            valid,
            invalid: dataset.invalid,
            train: split.train.len(),
            test: split.test.len(),
        },
        metrics: values.clone(),
        library_versions: BTreeMap::from([
            ("ferry-core".to_owned(), ferry_core::VERSION.to_owned()),
            (
                "smartcore".to_owned(),
                ferry_core::SMARTCORE_VERSION.to_owned(),
            ),
        ]),
        files: BTreeMap::new(),
        manifest_sha256: String::new(),
    };
    let files = ArtifactFiles {
        model: predictor.model(),
        preprocessor: predictor.preprocessor(),
        config_yaml: &config_yaml,
        reference: Some(&reference),
    };
    record.stages.evaluate = clock();
    drop(span);
    let span = stage("publish");
    let published = registry.publish(manifest, &files)?;
    record.stages.publish = clock();
    drop(span);
    let (resolved, written) = (published.resolved, published.manifest);
    tracing::info!(model = %resolved.name, version = %resolved.version, "Registered model.");
    let span = stage("promote");
    let promotion = promote(
        pipeline,
        registry,
        resolved.version,
        &values,
        &test_frame,
        &dataset.target,
        &split.test,
    );
    record.stages.publish += clock();
    drop(span);
    Ok(RunReport {
        status: RunStatus::Registered,
        model: resolved.name.to_string(),
        version: resolved.version.0,
        latest: published.latest.0,
        path: resolved.path,
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
        stages: record.stages,
        run_id: None,
        cv: selection.cv,
        search: selection.search,
        promotion,
    })
}
