//! The `train` command line: clap types only, no logic (the binary dispatches them to
//! [`crate::runner`], [`crate::commands`] and [`crate::registry_cmd`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ferry_core::{AliasName, ModelName, ModelRef, RegistryLocation};

/// Train a model from a YAML pipeline config and register it.
///
/// Exit codes: 0 success, 1 a quality gate failed or an internal error, 2 the config or
/// the data is invalid.
#[derive(Debug, Parser)]
#[command(
    name = "train",
    version,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Pipeline config to run.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Registry: a directory, a file:// URL, an object-store URL (s3://BUCKET/PREFIX,
    /// gs://..., az://...) or an MLflow server (mlflow+http://HOST:PORT); overrides the
    /// config's output.registry.
    #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
    pub registry: Option<RegistryLocation>,
    /// Score only this shard's cells of the config's grid search and record them in the
    /// registry (INDEX/COUNT, INDEX from 0 as Kubernetes' JOB_COMPLETION_INDEX); nothing
    /// is published. Run every shard, then --finish.
    #[arg(
        long,
        value_name = "INDEX/COUNT",
        conflicts_with = "finish",
        requires = "config"
    )]
    pub shard: Option<crate::shard::Shard>,
    /// Rank the grid cells the shards recorded, then fit, gate and publish the best,
    /// exactly as a single run would.
    #[arg(long, requires = "config")]
    pub finish: bool,
    /// With --finish: wait up to SECS for cells whose shards are still running (polling
    /// the registry), instead of failing at once; lets a finishing Job start with its
    /// shards.
    #[arg(long, value_name = "SECS", requires = "finish", default_value_t = 0)]
    pub wait: u64,
    /// Print the run report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Threads used to fit forests (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Log format on stderr: `text`, `json`, or `auto` (JSON when stderr is not a
    /// terminal). Filter with RUST_LOG (default `warn`).
    #[arg(
        long,
        global = true,
        env = "FERRY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The log format on stderr.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON when stderr is not a terminal, else text.
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a pipeline config (and that its data file exists) without training.
    Validate {
        /// The config.
        config: PathBuf,
    },
    /// List the model types a config can name, with their hyperparameters and defaults.
    Models,
    /// Import a model trained by XGBoost (JSON model) or LightGBM (text model): the
    /// config's data is validated, split, the model evaluated and gated on the test rows,
    /// and published as a versioned artifact. The config's `model.type` names the kind
    /// (gradient_boosting_classifier or gradient_boosting_regressor).
    #[command(group(clap::ArgGroup::new("file").required(true).args(["xgboost", "lightgbm"])))]
    Import {
        /// The pipeline config: data, schema (the model's features, in order), split,
        /// evaluation and output.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// An XGBoost JSON model (gbtree; binary:logistic, multi:softprob,
        /// reg:squarederror).
        #[arg(long, value_name = "MODEL.json")]
        xgboost: Option<PathBuf>,
        /// A LightGBM text model (gbdt; binary, multiclass, regression).
        #[arg(long, value_name = "MODEL.txt")]
        lightgbm: Option<PathBuf>,
        /// Registry (a directory or a file://, s3://, gs://, az:// or mlflow+http:// URL);
        /// overrides the config's output.registry.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
        registry: Option<RegistryLocation>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Train every pipeline config in a directory (the examples in `configs/` by default)
    /// into the registry, one after the other; exit 1 if any failed.
    Examples {
        /// The directory of pipeline configs (`*.yaml`; `serve.yaml` is skipped).
        #[arg(long, default_value = "configs", value_name = "DIR")]
        dir: PathBuf,
        /// Registry (a directory or a file://, s3://, gs:// or az:// URL); overrides each
        /// config's output.registry.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
        registry: Option<RegistryLocation>,
    },
    /// Compare a data file (CSV, Parquet, or serve's JSON-lines prediction log) with the
    /// reference statistics of a registered model's training rows; write drift.json and
    /// drift.html. Exit 3 when the data set drifted.
    Drift {
        /// The model: `name`, `name@alias` or `name/VERSION`.
        #[arg(long, value_name = "REF")]
        model: ModelRef,
        /// The current data.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Registry (a directory or a file://, s3://, gs:// or az:// URL) [default:
        /// artifacts].
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
        registry: Option<RegistryLocation>,
        /// Directory for drift.json, drift.html and rejected rows.
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: PathBuf,
        /// Print the report as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Explain a registered tree model's predictions for every row of a data file (CSV
    /// or Parquet): each row's base value and per-feature TreeSHAP contributions, as
    /// `POST /models/{name}/explain` gives them. Rows failing the model's schema go to
    /// explain_rejected.csv next to the output.
    Explain {
        /// The model: `name`, `name@alias` or `name/VERSION`.
        #[arg(long, value_name = "REF")]
        model: ModelRef,
        /// The rows to explain.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Registry (a directory or a file://, s3://, gs:// or az:// URL) [default:
        /// artifacts].
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
        registry: Option<RegistryLocation>,
        /// Write the explanations to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// CSV (one line per row and output) or JSON lines (one line per row).
        #[arg(long, value_enum, default_value = "csv")]
        format: crate::explain::ExplainFormat,
        /// Threads explaining rows (default: one per core).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Cross-validate a config's model (and run its grid search) on its training split,
    /// without registering anything.
    Cv {
        /// The pipeline config.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Registry for the default dead-letter location; overrides output.registry.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
        registry: Option<RegistryLocation>,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Threads for folds and candidates (default: one per core).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Also write each training row's fold to FILE (CSV `row,fold`; `row` is the
        /// 0-based index among the valid data rows), to score the same folds elsewhere.
        #[arg(long, value_name = "FILE")]
        folds_out: Option<PathBuf>,
    },
    /// The record every training run leaves in the registry, failed runs too.
    Runs {
        /// Registry: a directory, a file:// URL, an object-store URL (s3://BUCKET/PREFIX,
        /// gs://..., az://...) or an MLflow server (mlflow+http://HOST:PORT); default
        /// `artifacts`.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL", global = true)]
        registry: Option<RegistryLocation>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        verb: RunsVerb,
    },
    /// Read and tidy a registry: list, show, verify, gc.
    Registry {
        /// Registry: a directory, a file:// URL, an object-store URL (s3://BUCKET/PREFIX,
        /// gs://..., az://...) or an MLflow server (mlflow+http://HOST:PORT); default
        /// `artifacts`.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL", global = true)]
        registry: Option<RegistryLocation>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        verb: RegistryVerb,
    },
}

/// `train runs` verbs.
#[derive(Debug, Subcommand)]
pub enum RunsVerb {
    /// Every recorded run (of MODEL, or of every model), oldest first.
    List {
        /// Only this model's runs.
        model: Option<ModelName>,
    },
    /// One run's whole record: config, data, params, metrics, timings, git, host.
    Show {
        /// The model.
        model: ModelName,
        /// The run id, as `runs list` prints it, or its start when no other run of the
        /// model starts alike.
        run: String,
    },
}

/// `train registry` verbs.
#[derive(Debug, Subcommand)]
pub enum RegistryVerb {
    /// Every model with its versions and aliases.
    List,
    /// A version's manifest: metrics, rows, lineage (config, data, git, libraries).
    Show {
        /// `name` (its latest), `name/version` or `name@alias`.
        reference: ModelRef,
    },
    /// Read back every version (or one) with every check serve makes; exit 1 when any is
    /// damaged, naming each.
    Verify {
        /// `name`, `name/version` or `name@alias`; every version when absent.
        reference: Option<ModelRef>,
    },
    /// Remove what killed runs left behind (half-written versions and aliases).
    Gc {
        /// Report without removing.
        #[arg(long)]
        dry_run: bool,
        /// On an object store or MLflow: remove incomplete versions untouched for this
        /// many seconds (default 3600: a writer may still be uploading). A local registry
        /// checks whether the writer process still runs instead.
        #[arg(long, value_name = "SECONDS")]
        grace: Option<u64>,
    },
    /// Set or delete an alias.
    Alias {
        #[command(subcommand)]
        op: AliasOp,
    },
    /// Point an alias (default `production`) at the version REF names.
    Promote {
        /// `name/version`, `name@alias` or `name` (its latest).
        reference: ModelRef,
        /// The alias to move.
        #[arg(long, default_value = "production")]
        alias: AliasName,
    },
    /// Move an alias back to where it pointed before its last change.
    Rollback {
        /// The model.
        name: ModelName,
        /// The alias.
        alias: AliasName,
    },
    /// Delete a version (refused while an alias other than latest points to it).
    Delete {
        /// `name/version`.
        reference: ModelRef,
    },
    /// Two versions' hyperparameters, metrics and row counts side by side.
    Diff {
        /// The first version.
        left: ModelRef,
        /// The second version.
        right: ModelRef,
    },
}

/// `train registry alias` operations.
#[derive(Debug, Subcommand)]
pub enum AliasOp {
    /// Point ALIAS of NAME at VERSION.
    Set {
        /// The model.
        name: ModelName,
        /// The alias.
        alias: AliasName,
        /// The version number.
        version: u64,
    },
    /// Remove ALIAS of NAME.
    Delete {
        /// The model.
        name: ModelName,
        /// The alias.
        alias: AliasName,
    },
}
