//! A run as stages: [`load`], [`split`], [`select`] (cross-validation and grid
//! search), [`fit`], [`evaluate`], [`gate`], [`publish`] and [`promote`], each a
//! function over a small [`Run`] context, each tested on its own. [`crate::runner::run`]
//! calls them in that order and records the run.

pub mod evaluate;
pub mod fit;
pub mod gate;
pub mod load;
pub mod promote;
pub mod publish;
pub mod select;
pub mod split;

use std::path::PathBuf;
use std::time::Instant;

use ferry_core::{Registry, RegistryLocation};

use crate::config::Pipeline;
use crate::record::RunRecord;

/// What the stages of one run share: the pipeline, the registry it publishes to, the
/// run's record (which each stage fills in: rows, timings, cross-validation) and the
/// clock that times each stage.
pub struct Run<'a> {
    /// The validated pipeline.
    pub pipeline: &'a Pipeline,
    /// The registry the model is published to.
    pub registry: &'a dyn Registry,
    /// When the run started, as the artifact and the dead-letter file name it.
    pub stamp: &'a str,
    /// Where rejected rows go when the config names no file.
    pub dead_letter: PathBuf,
    /// The run's record.
    pub record: &'a mut RunRecord,
    /// Where the grid search's scores come from: scored here, or recorded by shards.
    pub search_from: SearchFrom,
    /// The registry's URL when it is remote (an object store or an MLflow server):
    /// reports name versions by it.
    pub registry_url: Option<String>,
    /// The MLflow run this run is tracked in, when `tracking.mlflow` is configured.
    pub tracking: Option<&'a crate::tracking::Tracker>,
    /// The model file imported instead of fitting one (`train import`).
    pub import: Option<&'a crate::import::Import>,
    lap: Instant,
}

/// Where a run's grid search scores come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchFrom {
    /// Every cell scored by this process.
    #[default]
    Grid,
    /// Every cell recorded in the registry by `--shard` processes (`--finish`), waiting
    /// up to this long for cells still missing.
    Shards(std::time::Duration),
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("model", &self.pipeline.model_name())
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

impl<'a> Run<'a> {
    /// A run of `pipeline` into `registry` (found at `location`), started at `stamp`.
    pub fn new(
        pipeline: &'a Pipeline,
        registry: &'a dyn Registry,
        location: &RegistryLocation,
        stamp: &'a str,
        record: &'a mut RunRecord,
    ) -> Self {
        Self {
            pipeline,
            registry,
            stamp,
            dead_letter: default_dead_letter(pipeline, location, stamp),
            record,
            search_from: SearchFrom::Grid,
            registry_url: location.is_remote().then(|| location.to_string()),
            tracking: None,
            import: None,
            lap: Instant::now(),
        }
    }

    /// Seconds since the previous call (or the start): the time of the stage just done.
    pub fn lap(&mut self) -> f64 {
        let seconds = self.lap.elapsed().as_secs_f64();
        self.lap = Instant::now();
        seconds
    }
}

/// Where rejected rows go when the config names no dead-letter file:
/// `<registry>/<model>/dead-letter/<time>-<pid>.csv` for a local registry, and
/// `dead-letter/<model>/<time>-<pid>.csv` in the working directory for an object store
/// or an MLflow server (rows are data, not artifacts: they stay on the machine that read them).
pub(crate) fn default_dead_letter(
    pipeline: &Pipeline,
    location: &RegistryLocation,
    stamp: &str,
) -> PathBuf {
    let file = format!("{}-{}.csv", stamp.replace(':', ""), std::process::id());
    match location {
        RegistryLocation::Local(root) => root
            .join(pipeline.model_name().as_str())
            .join("dead-letter")
            .join(file),
        RegistryLocation::Object(_) | RegistryLocation::Mlflow(_) => PathBuf::from("dead-letter")
            .join(pipeline.model_name().as_str())
            .join(file),
    }
}

/// Opens the span of one pipeline stage (exported when spans are, see ferry-telemetry),
/// a child of the run's span; it ends when the returned guard drops.
pub(crate) fn span(name: &'static str) -> tracing::span::EnteredSpan {
    tracing::info_span!(
        target: "ferry::trace",
        "stage",
        otel.name = name,
        ferry.stage = name
    )
    .entered()
}

/// A small pipeline and its data for the stages' tests: every 20th titanic passenger
/// (`tests/fixtures`), loaded and validated.
#[cfg(test)]
pub(crate) mod fixture {
    use std::path::{Path, PathBuf};

    use ferry_core::config::to_yaml_string;
    use ferry_core::{Registry, RegistryLocation};

    use crate::config::Pipeline;
    use crate::data::Dataset;
    use crate::record::RunRecord;
    use crate::stages::Run;

    /// The start time of the fixture runs.
    pub(crate) const STAMP: &str = "2026-12-04T00:00:00Z";

    /// [`STAMP`] as a time, for [`RunRecord::start`].
    pub(crate) fn started() -> std::time::SystemTime {
        humantime::parse_rfc3339(STAMP).expect("an RFC 3339 time")
    }

    /// What a [`Run`] borrows: a registry under a temporary directory and a record.
    pub(crate) struct Runner {
        location: RegistryLocation,
        pub(crate) registry: std::sync::Arc<dyn Registry>,
        record: RunRecord,
    }

    impl Runner {
        /// A registry under `dir` and a record of a run of `pipeline`.
        pub(crate) fn new(pipeline: &Pipeline, dir: &Path) -> Self {
            let location = RegistryLocation::Local(dir.join("registry"));
            let registry = ferry_store::open(&location, &ferry_store::StoreOptions::default())
                .expect("a local registry opens");
            let config = to_yaml_string(pipeline.config()).unwrap();
            Self {
                location,
                registry,
                record: RunRecord::start(pipeline, started(), config),
            }
        }

        /// The run context of `pipeline`.
        pub(crate) fn run<'a>(&'a mut self, pipeline: &'a Pipeline) -> Run<'a> {
            Run::new(
                pipeline,
                self.registry.as_ref(),
                &self.location,
                STAMP,
                &mut self.record,
            )
        }
    }

    /// `tests/fixtures/pipelines/tiny.yaml`, validated.
    pub(crate) fn pipeline() -> Pipeline {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/tiny.yaml");
        Pipeline::from_file(&path).unwrap()
    }

    /// The configured model fitted on the training rows of `frames`.
    pub(crate) fn predictor(
        pipeline: &Pipeline,
        dataset: &Dataset,
        frames: &super::split::SplitFrames,
    ) -> ferry_core::Predictor {
        crate::fitting::fit_predictor(
            pipeline,
            &pipeline.model,
            &frames.train,
            &dataset.target,
            &frames.split.train,
        )
        .unwrap()
    }

    /// Its data, loaded (rejected rows to a temporary dead-letter file).
    pub(crate) fn dataset(pipeline: &Pipeline) -> (tempfile::TempDir, Dataset) {
        let dir = tempfile::tempdir().unwrap();
        let dead: PathBuf = dir.path().join("dead.csv");
        let dataset = crate::data::load(pipeline, &dead).unwrap();
        (dir, dataset)
    }
}
