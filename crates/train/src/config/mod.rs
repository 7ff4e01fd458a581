//! The pipeline config: [`PipelineConfig`] mirrors the YAML (no logic), and
//! [`PipelineConfig::validate`] turns it into a [`Pipeline`], the only type the runner
//! accepts, reporting every problem at once with its path.

use std::path::{Path, PathBuf};

use ferry_core::config::{ConfigErrors, from_yaml_str};
use ferry_core::drift::DriftThresholds;
use ferry_core::metrics::Metric;
use ferry_core::model::{ModelKind, Task, ValidModelSpec};
use ferry_core::schema::{DType, FeatureSchema, FeatureSpec, TargetSpec};
use ferry_core::{ModelName, ModelSpec, PreprocessSpec, RegistryLocation};
use serde::{Deserialize, Serialize};

use crate::error::RunError;
pub use crate::stages::gate::GateConfig;

/// A pipeline config file: what to read, how to validate and preprocess it, which model
/// to fit, how to evaluate it and where to register it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The training data.
    pub data: DataConfig,
    /// The features and the target.
    pub schema: SchemaConfig,
    /// Preprocessing steps, fitted on the training split.
    #[serde(default)]
    pub preprocessing: PreprocessSpec,
    /// The algorithm and its hyperparameters (`type: ...`).
    pub model: ModelSpec,
    /// How rows are split into training and test sets.
    #[serde(default)]
    pub split: SplitConfig,
    /// Test-set metrics and quality gates.
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    /// Where the model is registered.
    pub output: OutputConfig,
    /// A grid search over hyperparameters, scored by cross-validation on the training
    /// split; the best candidate is refitted on the whole training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchConfig>,
    /// Move an alias to the new version when it passes its gates (and, if asked, beats
    /// the version the alias points to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote: Option<PromoteConfig>,
    /// When current data counts as drifted from the training rows: stored with the
    /// artifact's reference statistics, used by `train drift` and serve's live drift.
    #[serde(default, skip_serializing_if = "is_default_drift")]
    pub drift: DriftThresholds,
    /// Where the run is also tracked: an MLflow tracking server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingConfig>,
}

/// `tracking:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    /// An MLflow tracking server the run, its metrics and its model go to.
    pub mlflow: MlflowTrackingConfig,
}

/// `tracking.mlflow:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlflowTrackingConfig {
    /// The server (`http://mlflow:5000`); `MLFLOW_TRACKING_URI` when absent. The token
    /// comes from `MLFLOW_TRACKING_TOKEN` only, never from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The experiment runs are logged to, created when missing; the model name when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Register the model in MLflow's model registry when the gates pass (default true).
    #[serde(default = "default_true")]
    pub register: bool,
    /// The alias the registered version gets (`champion`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A validated `tracking.mlflow` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlflowTracking {
    /// The server.
    pub url: ferry_core::registry::MlflowUrl,
    /// The experiment's name.
    pub experiment: String,
    /// Whether to register the model.
    pub register: bool,
    /// The alias to set on the registered version.
    pub alias: Option<ferry_core::AliasName>,
}

fn is_default_drift(d: &DriftThresholds) -> bool {
    *d == DriftThresholds::default()
}

/// `evaluation.cv:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvConfig {
    /// Number of folds, at least 2.
    #[serde(default = "default_folds")]
    pub folds: usize,
}

fn default_folds() -> usize {
    5
}

/// The most folds (and grid candidates) a config may ask for.
const MAX_FOLDS: usize = 100;
const MAX_CANDIDATES: usize = 10_000;

/// `search:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Hyperparameter name to the values to try; every combination is a candidate.
    /// `null` stands for the hyperparameter's default (`max_depth: null` is unlimited).
    pub grid: serde_yaml::Mapping,
    /// The metric candidates are ranked by (mean over the folds); by default the first
    /// evaluation metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Number of cross-validation folds, at least 2.
    #[serde(default = "default_folds")]
    pub folds: usize,
}

/// `promote:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteConfig {
    /// The alias to move (`production`).
    pub alias: String,
    /// Move it only when the new version beats the alias's current version on `metric`,
    /// both scored on this run's test rows.
    #[serde(default)]
    pub require_better_than_current: bool,
    /// The metric compared; by default the search metric, else the first evaluation
    /// metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

/// One grid point of a search: the hyperparameters it sets and the model it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The grid's values for this candidate, in grid order.
    pub params: serde_yaml::Mapping,
    /// The model section with those values set.
    pub spec: ModelSpec,
    /// `spec`, validated.
    pub valid: ValidModelSpec,
}

/// A validated `search` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// Every grid point, in grid order (the last hyperparameter varies fastest).
    pub candidates: Vec<Candidate>,
    /// The ranking metric.
    pub metric: Metric,
    /// Cross-validation folds.
    pub folds: usize,
}

/// A validated `promote` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Promote {
    /// The alias to move.
    pub alias: ferry_core::AliasName,
    /// Whether the new version must beat the current one.
    pub require_better: bool,
    /// The metric compared.
    pub metric: Metric,
}

/// `data:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// CSV or Parquet file, relative to the config file.
    pub path: PathBuf,
    /// `csv` or `parquet`; taken from the file extension when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DataFormat>,
    /// CSV reading options.
    #[serde(default)]
    pub csv: CsvOptions,
    /// Field values that mean "missing", in addition to empty fields (`["?", "NA"]`).
    #[serde(default)]
    pub null_values: Vec<String>,
    /// Where rows that fail validation are written, relative to the config file; by
    /// default `<registry>/<model>/dead-letter/<timestamp>.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<PathBuf>,
    /// The run fails when more than this share of rows is invalid.
    #[serde(default = "default_max_invalid_fraction")]
    pub max_invalid_fraction: f64,
}

fn default_max_invalid_fraction() -> f64 {
    0.1
}

/// Data file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// Comma (or `csv.separator`) separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// `data.csv:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvOptions {
    /// Field separator, one ASCII character.
    pub separator: char,
    /// Quote character, one ASCII character.
    pub quote: char,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            separator: ',',
            quote: '"',
        }
    }
}

/// `schema:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    /// The column to predict.
    pub target: TargetSpec,
    /// The model inputs, in order. Other columns of the data are ignored.
    pub features: Vec<FeatureSpec>,
}

/// `split:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Share of rows held out for evaluation, strictly between 0 and 1.
    pub test_fraction: f64,
    /// Seed of the shuffle (and of models that draw random numbers).
    pub seed: u64,
    /// Split each class separately (classification only); on by default for classifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stratify: Option<bool>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            test_fraction: 0.2,
            seed: 42,
            stratify: None,
        }
    }
}

/// `evaluation:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Metrics computed on the test set; defaults depend on the task.
    pub metrics: Vec<Metric>,
    /// Bounds the metrics must meet for the model to be registered.
    pub gates: Vec<GateConfig>,
    /// Cross-validation on the training split, reported beside the test metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvConfig>,
}

/// `output:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Registry name of the model: `[a-z0-9_-]+`.
    pub model_name: String,
    /// Registry: a directory (relative to the config file) or an object-store URL
    /// (`s3://bucket/prefix`, `gs://...`, `az://...`) or an MLflow server
    /// (`mlflow+http://host:5000`). `--registry` and
    /// `FERRY_REGISTRY` override it; `artifacts` in the working directory by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// A validated pipeline, with paths resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub(crate) config: PipelineConfig,
    pub(crate) base_dir: PathBuf,
    pub(crate) data_path: PathBuf,
    pub(crate) format: DataFormat,
    pub(crate) schema: FeatureSchema,
    pub(crate) model: ValidModelSpec,
    pub(crate) model_name: ModelName,
    pub(crate) task: Task,
    pub(crate) stratify: bool,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) registry: Option<RegistryLocation>,
    pub(crate) dead_letter: Option<PathBuf>,
    pub(crate) search: Option<Search>,
    pub(crate) promote: Option<Promote>,
    pub(crate) tracking: Option<MlflowTracking>,
}

impl Pipeline {
    /// Reads, parses and validates the config file at `path`.
    ///
    /// # Errors
    /// [`RunError::ReadConfig`], [`RunError::Yaml`] or [`RunError::Config`].
    pub fn from_file(path: &Path) -> Result<Self, RunError> {
        let text = fs_err::read_to_string(path).map_err(RunError::ReadConfig)?;
        let config: PipelineConfig = from_yaml_str(&text).map_err(|source| RunError::Yaml {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config
            .validate(&base_dir)
            .map_err(|errors| RunError::Config {
                path: path.to_owned(),
                errors,
            })
    }

    /// The config with defaults filled in, as stored in the artifact.
    #[must_use]
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The model's registry name.
    #[must_use]
    pub fn model_name(&self) -> &ModelName {
        &self.model_name
    }

    /// The feature schema.
    #[must_use]
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// The data file.
    #[must_use]
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// The registry the config names (a directory resolved against the config file).
    #[must_use]
    pub fn registry(&self) -> Option<&RegistryLocation> {
        self.registry.as_ref()
    }

    /// Classification or regression.
    #[must_use]
    pub fn task(&self) -> Task {
        self.task
    }

    /// The validated model section.
    #[must_use]
    pub fn model(&self) -> &ValidModelSpec {
        &self.model
    }

    /// The metrics every evaluation computes: `evaluation.metrics`, then any other
    /// metric a gate, the search or the promotion needs.
    #[must_use]
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// The validated grid search, when the config has one.
    #[must_use]
    pub fn search(&self) -> Option<&Search> {
        self.search.as_ref()
    }

    /// The validated promotion, when the config has one.
    #[must_use]
    pub fn promote(&self) -> Option<&Promote> {
        self.promote.as_ref()
    }

    /// The MLflow server the run is tracked in, when configured.
    #[must_use]
    pub fn tracking(&self) -> Option<&MlflowTracking> {
        self.tracking.as_ref()
    }

    /// Cross-validation folds of `evaluation.cv`, when set.
    #[must_use]
    pub fn cv_folds(&self) -> Option<usize> {
        self.config.evaluation.cv.map(|cv| cv.folds)
    }
}

fn check_folds(errors: &mut ConfigErrors, path: &str, folds: usize) {
    if !(2..=MAX_FOLDS).contains(&folds) {
        errors.push(
            path,
            format!("expected a number of folds from 2 to {MAX_FOLDS}, found {folds}"),
        );
    }
}

/// Every grid point of `config` over the model section `model`, each validated; errors
/// at `search.grid.<name>` for a hyperparameter the model does not have or a value it
/// does not accept.
fn grid_candidates(
    errors: &mut ConfigErrors,
    config: &SearchConfig,
    model: &ModelSpec,
) -> Vec<Candidate> {
    let Ok(serde_yaml::Value::Mapping(base)) = serde_yaml::to_value(model) else {
        errors.push("model", "the model section cannot be written as a mapping");
        return Vec::new();
    };
    let mut axes: Vec<(String, Vec<serde_yaml::Value>)> = Vec::new();
    for (key, values) in &config.grid {
        let Some(name) = key.as_str() else {
            errors.push(
                "search.grid",
                format!("expected hyperparameter names, found {key:?}"),
            );
            continue;
        };
        let at = format!("search.grid.{name}");
        if name == "type" {
            errors.push(at, "a search varies the hyperparameters of one model type");
            continue;
        }
        match values.as_sequence() {
            Some(v) if !v.is_empty() => axes.push((name.to_owned(), v.clone())),
            Some(_) => errors.push(at, "expected at least one value"),
            None => errors.push(at, format!("expected a list of values, found {values:?}")),
        }
    }
    if axes.is_empty() {
        if config.grid.is_empty() {
            errors.push("search.grid", "expected at least one hyperparameter");
        }
        return Vec::new();
    }
    let total = axes.iter().map(|(_, v)| v.len()).product::<usize>();
    if total > MAX_CANDIDATES {
        errors.push(
            "search.grid",
            format!("{total} candidates; at most {MAX_CANDIDATES} are allowed"),
        );
        return Vec::new();
    }
    // Each value alone first, so that a bad value is reported at its own name.
    let mut bad = false;
    for (name, values) in &axes {
        for value in values {
            let mut section = base.clone();
            section.insert(name.as_str().into(), value.clone());
            match ModelSpec::deserialize(serde_yaml::Value::Mapping(section)) {
                Ok(spec) => {
                    if let Err(e) = spec.validate() {
                        errors.extend_prefixed("search.grid", e);
                        bad = true;
                    }
                }
                Err(e) => {
                    errors.push(format!("search.grid.{name}"), e.to_string());
                    bad = true;
                    // An unknown name fails for every value: report it once.
                    break;
                }
            }
        }
    }
    if bad {
        return Vec::new();
    }
    let mut candidates = Vec::with_capacity(total);
    for index in 0..total {
        let mut params = serde_yaml::Mapping::new();
        let mut rest = index;
        let mut picks = vec![0; axes.len()];
        for (slot, (_, values)) in picks.iter_mut().zip(&axes).rev() {
            *slot = rest % values.len();
            rest /= values.len();
        }
        let mut section = base.clone();
        for (&pick, (name, values)) in picks.iter().zip(&axes) {
            params.insert(name.as_str().into(), values[pick].clone());
            section.insert(name.as_str().into(), values[pick].clone());
        }
        let spec = match ModelSpec::deserialize(serde_yaml::Value::Mapping(section)) {
            Ok(spec) => spec,
            Err(why) => {
                errors.push("search.grid", format!("candidate {params:?}: {why}"));
                return Vec::new();
            }
        };
        match spec.validate() {
            Ok(valid) => candidates.push(Candidate {
                params,
                spec,
                valid,
            }),
            Err(why) => {
                errors.push("search.grid", format!("candidate {params:?}: {why}"));
                return Vec::new();
            }
        }
    }
    candidates
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

fn single_ascii(errors: &mut ConfigErrors, path: &str, c: char) {
    if !c.is_ascii() || c == '\n' || c == '\r' {
        errors.push(
            path,
            format!("expected one ASCII character other than a line break, found {c:?}"),
        );
    }
}

impl PipelineConfig {
    /// Validates every section and resolves paths against `base_dir` (the config file's
    /// directory). Fills in defaults that depend on the task (metrics, stratify).
    ///
    /// # Errors
    /// Every problem found, each with its YAML path.
    pub fn validate(mut self, base_dir: &Path) -> Result<Pipeline, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        for (field, message) in self.drift.problems() {
            errors.push(format!("drift.{field}"), message);
        }

        let model_name = match self.output.model_name.parse::<ModelName>() {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push("output.model_name", e.to_string());
                None
            }
        };

        let data_path = resolve(base_dir, &self.data.path);
        if !data_path.is_file() {
            errors.push(
                "data.path",
                format!("no such file: {}", data_path.display()),
            );
        }
        let by_extension = match data_path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv" | "tsv" | "txt") => Some(DataFormat::Csv),
            Some("parquet" | "pq") => Some(DataFormat::Parquet),
            Some(_) | None => None,
        };
        let format = self.data.format.or(by_extension);
        if format.is_none() {
            errors.push(
                "data.format",
                "cannot tell the format from the file extension: set csv or parquet",
            );
        }
        single_ascii(&mut errors, "data.csv.separator", self.data.csv.separator);
        single_ascii(&mut errors, "data.csv.quote", self.data.csv.quote);
        if !(0.0..=1.0).contains(&self.data.max_invalid_fraction) {
            errors.push(
                "data.max_invalid_fraction",
                format!(
                    "expected a number from 0 to 1, found {}",
                    self.data.max_invalid_fraction
                ),
            );
        }

        let kind = self.model.kind();
        let task = kind.task();
        let schema = match FeatureSchema::new(self.schema.features.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.extend_prefixed("schema.features", e);
                None
            }
        };
        let target = &self.schema.target;
        if self.schema.features.iter().any(|f| f.name == target.name) {
            errors.push(
                "schema.target.name",
                format!(
                    "'{}' is the target and cannot also be a feature",
                    target.name
                ),
            );
        }
        let target_ok = match task {
            Task::Classification => matches!(
                target.dtype,
                DType::Categorical | DType::Integer | DType::Boolean
            ),
            Task::Regression => matches!(target.dtype, DType::Numeric | DType::Integer),
        };
        if !target_ok {
            errors.push(
                "schema.target.dtype",
                format!(
                    "{kind} needs a {} target, found {}",
                    expected_target(kind),
                    target.dtype
                ),
            );
        }

        if let Some(schema) = &schema
            && let Err(e) = self.preprocessing.validate_for(schema, kind.inputs())
        {
            errors.extend_prefixed("preprocessing", e);
        }
        let model = match self.model.validate() {
            Ok(m) => Some(m),
            Err(e) => {
                errors.extend_prefixed("model", e);
                None
            }
        };

        if !(self.split.test_fraction > 0.0 && self.split.test_fraction < 1.0) {
            errors.push(
                "split.test_fraction",
                format!(
                    "expected a number strictly between 0 and 1, found {}",
                    self.split.test_fraction
                ),
            );
        }
        if task == Task::Regression && self.split.stratify == Some(true) {
            errors.push(
                "split.stratify",
                format!("{kind} is a regressor: only classification splits can be stratified"),
            );
        }
        let stratify = self.split.stratify.unwrap_or(task == Task::Classification);
        self.split.stratify = Some(stratify);

        if self.evaluation.metrics.is_empty() {
            self.evaluation.metrics = Metric::defaults(kind);
        }
        for (i, m) in self.evaluation.metrics.iter().enumerate() {
            if let Some(why) = m.unsuited_to(kind) {
                errors.push(format!("evaluation.metrics[{i}]"), why);
            }
        }
        let mut metrics = self.evaluation.metrics.clone();
        for (i, gate) in self.evaluation.gates.iter().enumerate() {
            let at = format!("evaluation.gates[{i}]");
            if let Some(why) = gate.metric.unsuited_to(kind) {
                errors.push(format!("{at}.metric"), why);
            }
            match (gate.min, gate.max) {
                (None, None) => errors.push(at, "set min, max or both"),
                (Some(a), Some(b)) if a > b => {
                    errors.push(at, format!("min {a} is greater than max {b}"))
                }
                (Some(_) | None, Some(_) | None) => {}
            }
            if !metrics.contains(&gate.metric) {
                metrics.push(gate.metric);
            }
        }

        if let Some(cv) = &self.evaluation.cv {
            check_folds(&mut errors, "evaluation.cv.folds", cv.folds);
        }
        let search = self.search.as_ref().map(|config| {
            check_folds(&mut errors, "search.folds", config.folds);
            let metric = config
                .metric
                .or_else(|| self.evaluation.metrics.first().copied())
                .unwrap_or(Metric::Accuracy);
            if let Some(why) = metric.unsuited_to(kind) {
                errors.push("search.metric", why);
            }
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
            Search {
                candidates: grid_candidates(&mut errors, config, &self.model),
                metric,
                folds: config.folds,
            }
        });
        let promote = self.promote.as_ref().and_then(|config| {
            let metric = config
                .metric
                .or_else(|| search.as_ref().map(|s| s.metric))
                .or_else(|| self.evaluation.metrics.first().copied())
                .unwrap_or(Metric::Accuracy);
            if let Some(why) = metric.unsuited_to(kind) {
                errors.push("promote.metric", why);
            }
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
            match config.alias.parse::<ferry_core::AliasName>() {
                Ok(alias) if alias.is_latest() => {
                    errors.push(
                        "promote.alias",
                        "every registered version moves latest; name another alias (production)",
                    );
                    None
                }
                Ok(alias) => Some(Promote {
                    alias,
                    require_better: config.require_better_than_current,
                    metric,
                }),
                Err(e) => {
                    errors.push("promote.alias", e.to_string());
                    None
                }
            }
        });

        let tracking = self
            .tracking
            .as_ref()
            .and_then(|t| validate_tracking(&mut errors, &t.mlflow, model_name.as_ref()));

        let registry = match self.output.registry.as_deref().map(str::parse) {
            None => None,
            Some(Ok(RegistryLocation::Local(dir))) => {
                Some(RegistryLocation::Local(resolve(base_dir, &dir)))
            }
            Some(Ok(remote)) => Some(remote),
            Some(Err(e)) => {
                errors.push("output.registry", e.to_string());
                None
            }
        };
        let dead_letter = self
            .data
            .dead_letter
            .as_deref()
            .map(|d| resolve(base_dir, d));

        match (errors.is_empty(), format, schema, model, model_name) {
            (true, Some(format), Some(schema), Some(model), Some(model_name)) => Ok(Pipeline {
                config: self,
                base_dir: base_dir.to_owned(),
                data_path,
                format,
                schema,
                model,
                model_name,
                task,
                stratify,
                metrics,
                registry,
                dead_letter,
                search,
                promote,
                tracking,
            }),
            _ => Err(errors),
        }
    }
}

/// Checks `tracking.mlflow`, taking the server from `MLFLOW_TRACKING_URI` when the
/// config names none.
fn validate_tracking(
    errors: &mut ConfigErrors,
    config: &MlflowTrackingConfig,
    model_name: Option<&ModelName>,
) -> Option<MlflowTracking> {
    let from_env = std::env::var("MLFLOW_TRACKING_URI")
        .ok()
        .filter(|u| !u.is_empty());
    let url = match config.uri.clone().or(from_env) {
        None => {
            errors.push(
                "tracking.mlflow.uri",
                "no MLflow server: set uri (http://HOST:PORT) or MLFLOW_TRACKING_URI",
            );
            None
        }
        Some(uri) => match ferry_core::registry::MlflowUrl::from_tracking_uri(&uri) {
            Ok(url) => Some(url),
            Err(e) => {
                errors.push("tracking.mlflow.uri", e.to_string());
                None
            }
        },
    };
    let experiment = match &config.experiment {
        Some(e) if e.trim().is_empty() => {
            errors.push(
                "tracking.mlflow.experiment",
                "expected a name, found an empty one",
            );
            None
        }
        Some(e) => Some(e.clone()),
        None => model_name.map(ToString::to_string),
    };
    let alias = match config
        .alias
        .as_deref()
        .map(str::parse::<ferry_core::AliasName>)
    {
        None => Ok(None),
        Some(Ok(alias)) if alias.is_latest() => Err(
            "MLflow reserves 'latest' (the highest version); name another alias (champion)"
                .to_owned(),
        ),
        Some(Ok(alias))
            if alias.as_str().len() > 1
                && alias.as_str().starts_with('v')
                && alias.as_str()[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Err(format!(
                "MLflow reserves aliases of the form v<number> ('{alias}'); name another"
            ))
        }
        Some(Ok(alias)) => Ok(Some(alias)),
        Some(Err(e)) => Err(e.to_string()),
    };
    let alias = alias
        .map_err(|why| errors.push("tracking.mlflow.alias", why))
        .ok()?;
    Some(MlflowTracking {
        url: url?,
        experiment: experiment?,
        register: config.register,
        alias,
    })
}

fn expected_target(kind: ModelKind) -> &'static str {
    match kind.task() {
        Task::Classification => "categorical, integer or boolean",
        Task::Regression => "numeric or integer",
    }
}

#[cfg(test)]
mod tests;
