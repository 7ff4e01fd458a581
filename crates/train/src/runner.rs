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
use ferry_core::metrics::{self, Metric, Truth};
use ferry_core::model::{self, EncodedLabels, Target, Task, TrainingSet};
use ferry_core::schema::TargetValue;
use ferry_core::split::{Split, train_test_split};
use ferry_core::{
    ClassLabel, FittedPreprocessor, Frame, Model, Predictor, RegistryLocation, Version,
};

use crate::config::Pipeline;
use crate::data::{self, Dataset};
use crate::error::RunError;
use crate::record::RunRecord;
use crate::report::{GateResult, RunReport, RunStatus};

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
fn labels_at(target: &[TargetValue], rows: &[usize]) -> Vec<ClassLabel> {
    rows.iter()
        .filter_map(|&r| match target.get(r) {
            Some(TargetValue::Label(l)) => Some(l.clone()),
            Some(TargetValue::Number(_)) | None => None,
        })
        .collect()
}

/// The values of `rows` (a regression target holds only numbers).
fn values_at(target: &[TargetValue], rows: &[usize]) -> Vec<f64> {
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
    let split = split_rows(pipeline, dataset);
    if split.test.is_empty() || split.train.len() < 2 {
        return Err(RunError::NotEnoughRows(format!(
            "the split leaves {} training and {} test rows",
            split.train.len(),
            split.test.len()
        )));
    }
    let (train_frame, test_frame) = frame.split_rows(&split.train, &split.test);
    let preprocessor = pipeline
        .config
        .preprocessing
        .fit(&pipeline.schema, &train_frame)?;
    let x_train = preprocessor.transform(&train_frame)?;
    let y_train = match pipeline.task {
        Task::Classification => Target::Classes(EncodedLabels::encode(&labels_at(
            &dataset.target,
            &split.train,
        ))),
        Task::Regression => Target::Values(values_at(&dataset.target, &split.train)),
    };
    let training = TrainingSet {
        x: x_train,
        y: y_train,
        seed: pipeline.config.split.seed,
    };
    Ok(Prepared {
        split,
        preprocessor,
        training,
        test_frame,
    })
}

/// Runs `pipeline`, registering the model in the registry at `location` when every gate
/// passes.
///
/// # Errors
/// Any [`RunError`]; [`RunError::GateFailed`] when a gate fails (nothing is registered).
pub fn run(pipeline: &Pipeline, location: &RegistryLocation) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let registry = location.open(ReadLimits::default());
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let config = to_yaml_string(pipeline.config()).map_err(RunError::SerializeConfig)?;
    let mut record = RunRecord::start(pipeline, &stamp, config);
    let mut result = run_recorded(pipeline, location, registry.as_ref(), &stamp, &mut record);
    record.finish(&result, started.elapsed().as_secs_f64());
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
    let mut clock = |slot: &mut f64| {
        *slot = lap.elapsed().as_secs_f64();
        lap = Instant::now();
    };
    let mut dataset = data::load(pipeline, &default_dead_letter)?;
    clock(&mut record.stages.load);
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

    let Prepared {
        split,
        preprocessor,
        training,
        test_frame,
    } = {
        let frame = std::mem::take(&mut dataset.frame);
        prepare_frame(pipeline, &dataset, frame)?
    };
    clock(&mut record.stages.prepare);
    if let Some(rows) = &mut record.rows {
        rows.train = split.train.len();
        rows.test = split.test.len();
    }
    let fitted = model::fit(&pipeline.model, &training)?;
    tracing::info!(kind = %fitted.kind(), rows = split.train.len(), "Fitted model.");
    let predictor = Predictor::new(preprocessor, fitted)?;
    clock(&mut record.stages.fit);

    // Evaluate exactly as serve predicts.
    let predictions = predictor.predict(&test_frame)?;
    let classes = predictor.classes().map(<[ClassLabel]>::to_vec);
    let values = match pipeline.task {
        Task::Classification => {
            let known = classes.as_deref().unwrap_or_default();
            let truth: Vec<Option<usize>> = labels_at(&dataset.target, &split.test)
                .iter()
                .map(|l| known.iter().position(|k| k == l))
                .collect();
            metrics::compute(&pipeline.metrics, Truth::Classes(&truth), &predictions)?
        }
        Task::Regression => {
            let truth = values_at(&dataset.target, &split.test);
            metrics::compute(&pipeline.metrics, Truth::Values(&truth), &predictions)?
        }
    };
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
    let config_yaml = record.config.clone();
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
        metrics: values,
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
    };
    clock(&mut record.stages.evaluate);
    let published = registry.publish(manifest, &files)?;
    clock(&mut record.stages.publish);
    let (resolved, written) = (published.resolved, published.manifest);
    tracing::info!(model = %resolved.name, version = %resolved.version, "Registered model.");
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
    })
}
