//! `serve`: serve the models of a registry over HTTP.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use ferry_core::{ModelRef, RegistryLocation};
use serve::state::load_models;
use serve::{AppState, ServeConfig};

/// mimalloc: a request allocates a few dozen small blocks (ids, rows, the answer), which
/// its per-thread free lists serve faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serve every model of a Ferry registry (or the ones named) over HTTP.
///
/// Settings come from, in order of precedence: flags, environment variables, the config
/// file, built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "serve", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Serve config file (YAML: registry, bind, models, limits, workers).
    #[arg(long, env = "FERRY_SERVE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Registry: a directory, an object-store URL (s3://BUCKET/PREFIX, gs://...,
    /// az://...) or an MLflow server (mlflow+http://HOST:PORT) [default: artifacts].
    #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR|URL")]
    registry: Option<RegistryLocation>,
    /// Where an object-store registry's versions are cached [default: ferry-cache in
    /// the temporary directory].
    #[arg(long, env = "FERRY_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// The most the cache holds, in bytes [default: 2147483648].
    #[arg(long, env = "FERRY_CACHE_MAX_BYTES", value_name = "BYTES")]
    cache_max_bytes: Option<u64>,
    /// Address to listen on; port 0 picks a free port, printed at startup
    /// [default: 127.0.0.1:8080].
    #[arg(long, env = "FERRY_BIND", value_name = "ADDR")]
    bind: Option<String>,
    /// Models to serve: `name` (its latest), `name@alias` or `name/VERSION`; repeat the
    /// flag or separate with commas [default: the latest of every model in the registry].
    #[arg(
        long = "model",
        env = "FERRY_MODELS",
        value_delimiter = ',',
        value_name = "REF"
    )]
    models: Vec<ModelRef>,
    /// Largest accepted request body, in bytes [default: 8388608].
    #[arg(long, env = "FERRY_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Most records in one batch request [default: 10000].
    #[arg(long, env = "FERRY_MAX_BATCH", value_name = "N")]
    max_batch: Option<usize>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "FERRY_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// The model MLflow's /invocations answers for when several are served.
    #[arg(long, env = "FERRY_MLFLOW_MODEL", value_name = "NAME")]
    mlflow_model: Option<ferry_core::ModelName>,
    /// File of API keys, one `name:scopes:key` per line (the keys may also come from
    /// the FERRY_API_KEYS environment variable; never from a flag).
    #[arg(long, env = "FERRY_API_KEYS_FILE", value_name = "FILE")]
    api_keys_file: Option<PathBuf>,
    /// Turn authentication off: every route open to anyone who can connect.
    #[arg(long, env = "FERRY_NO_AUTH")]
    no_auth: bool,
    /// Re-read the registry every SECS seconds and swap in the versions that changed
    /// (alias moves, new models); with it, serve also starts on an empty registry and
    /// waits for models.
    #[arg(long, env = "FERRY_WATCH_INTERVAL", value_name = "SECS")]
    watch_interval: Option<f64>,
    /// Log a sample of the predictions to FILE (JSON lines, rotated by size).
    #[arg(long, env = "FERRY_PREDICTION_LOG", value_name = "FILE")]
    prediction_log: Option<PathBuf>,
    /// Share of requests the prediction log records, from 0 to 1 [default: 0.01].
    #[arg(long, env = "FERRY_PREDICTION_LOG_SAMPLE_RATE", value_name = "RATE")]
    prediction_log_sample_rate: Option<f64>,
    /// Log format: `text` on stderr or `json` on stdout; `auto` is JSON when stdout is
    /// not a terminal. Filter with RUST_LOG.
    #[arg(long, env = "FERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
}

impl Cli {
    /// The config file (or the defaults) with every given flag applied on top.
    fn resolve(self) -> anyhow::Result<ServeConfig> {
        // A bad flag is reported under its flag, a bad file value under its config key.
        for (flag, value) in [
            ("--max-body-bytes", self.max_body_bytes),
            ("--max-batch", self.max_batch),
            ("--workers", self.workers),
        ] {
            if value == Some(0) {
                anyhow::bail!("{flag}: expected at least 1, found 0");
            }
        }
        if let Some(s) = self.watch_interval
            && !(s > 0.0 && s <= 86_400.0)
        {
            anyhow::bail!(
                "--watch-interval: expected seconds above 0 and at most 86400, found {s}"
            );
        }
        let mut config = match &self.config {
            Some(path) => ServeConfig::from_file(path)?,
            None => ServeConfig::default(),
        };
        if let Some(r) = self.registry {
            config.registry = r;
        }
        if self.cache_dir.is_some() {
            config.cache.dir = self.cache_dir;
        }
        if let Some(n) = self.cache_max_bytes {
            config.cache.max_bytes = n;
        }
        if let Some(b) = self.bind {
            config.bind = b;
        }
        if !self.models.is_empty() {
            config.models = self.models;
        }
        if let Some(n) = self.max_body_bytes {
            config.limits.max_body_bytes = n;
        }
        if let Some(n) = self.max_batch {
            config.limits.max_batch_records = n;
        }
        if self.workers.is_some() {
            config.workers = self.workers;
        }
        if self.mlflow_model.is_some() {
            config.mlflow_model = self.mlflow_model;
        }
        if self.api_keys_file.is_some() {
            config.auth.keys_file = self.api_keys_file;
        }
        if self.no_auth {
            config.auth.disabled = true;
        }
        if self.watch_interval.is_some() {
            config.watch_interval = self.watch_interval;
        }
        if let Some(r) = self.prediction_log_sample_rate {
            if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
                anyhow::bail!(
                    "--prediction-log-sample-rate: expected a number from 0 to 1, found {r}"
                );
            }
            config.prediction_log.sample_rate = r;
        }
        if self.prediction_log.is_some() {
            config.prediction_log.path = self.prediction_log;
        }
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// GET a URL (the container HEALTHCHECK: `serve probe http://127.0.0.1:8080/health`)
    /// and exit 0 on a 2xx answer within 3 seconds, 1 otherwise; images without a shell
    /// or curl need it.
    Probe {
        /// The URL (plain HTTP).
        url: String,
    },
}

/// `serve probe URL`.
fn probe(url: &str) -> ExitCode {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(3)))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(url).call() {
        Ok(res) if res.status().is_success() => ExitCode::SUCCESS,
        Ok(res) => {
            eprintln!("{url}: {}", res.status());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            ExitCode::from(1)
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Auto,
    Text,
    Json,
}

fn init_telemetry(
    format: LogFormat,
) -> Result<ferry_telemetry::Telemetry, ferry_telemetry::TelemetryError> {
    ferry_telemetry::init(&ferry_telemetry::Options {
        service: "ferry-serve",
        version: env!("CARGO_PKG_VERSION"),
        format: match format {
            LogFormat::Auto => ferry_telemetry::LogFormat::Auto,
            LogFormat::Text => ferry_telemetry::LogFormat::Text,
            LogFormat::Json => ferry_telemetry::LogFormat::Json,
        },
        json_stream: ferry_telemetry::LogStream::Stdout,
        // object_store logs each retry at INFO: while a bucket registry is unreachable that
        // is every watch poll; ferry-store says once that it serves from the cache.
        default_filter: "info,object_store=warn",
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Probe { url }) = &cli.command {
        return probe(url);
    }
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let _telemetry = match init_telemetry(cli.log_format) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    // Exit 2: the configuration (flags, file, keys, registry, models) is wrong; 1:
    // serving failed.
    let prepared = cli.resolve().and_then(|config| {
        let keys = config
            .api_keys(std::env::var("FERRY_API_KEYS").ok().as_deref())
            .map_err(anyhow::Error::msg)?;
        prepare(config, keys)
    });
    let (state, bind, workers, watch) = match prepared {
        Ok(p) => p,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    match run(state, &bind, workers, watch) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Loads the models and builds the state; fails fast (exit 2) when nothing could ever be
/// served, unless a registry watcher is configured to wait for models.
fn prepare(
    config: ServeConfig,
    keys: Option<serve::api_keys::ApiKeys>,
) -> anyhow::Result<(AppState, String, Option<usize>, Option<f64>)> {
    let ServeConfig {
        registry: location,
        cache,
        bind,
        models: references,
        limits,
        workers,
        mlflow_model,
        auth: _,
        watch_interval,
        prediction_log,
    } = config;
    let waits = watch_interval.is_some();
    if let Some(root) = location.as_local()
        && !root.is_dir()
        && !waits
    {
        anyhow::bail!(
            "registry {} does not exist: train a model into it first (cargo run -p train -- \
             --config configs/iris.yaml --registry {}), or pass --registry DIR",
            root.display(),
            root.display()
        );
    }
    let options = ferry_store::StoreOptions {
        cache_dir: cache
            .dir
            .unwrap_or_else(ferry_store::StoreOptions::default_cache_dir),
        cache_max_bytes: cache.max_bytes,
        ..ferry_store::StoreOptions::default()
    };
    let registry = ferry_store::open(&location, &options)?;
    let (models, expected, failures) = load_models(registry.as_ref(), &references)
        .with_context(|| format!("cannot list registry {location}"))?;
    if let Some(reason) = registry.offline() {
        tracing::warn!(registry = %location, %reason, "Starting from the local cache.");
    }
    for failure in &failures {
        tracing::error!(model = %failure.reference, error = %failure.error, "Model refused; it is not served.");
    }
    for m in models.defaults() {
        tracing::info!(model = %m.resolved.name, version = %m.resolved.version, kind = %m.bundle.manifest().model_kind, "Model loaded.");
    }
    if models.is_empty() {
        if !waits {
            if references.is_empty() {
                anyhow::bail!(
                    "registry {location} holds no model: train the examples first (just \
                     train-examples, or cargo run -p train -- --config configs/iris.yaml \
                     --registry {location}), or start with --watch-interval SECS to wait for one"
                );
            }
            let reasons: Vec<String> = failures
                .iter()
                .map(|f| format!("{}: {}", f.reference, f.error))
                .collect();
            anyhow::bail!("no model could be loaded: {}", reasons.join("; "));
        }
        tracing::warn!(registry = %location, "No model is loaded yet; /ready answers 503 until the watcher finds one.");
    }
    match &keys {
        Some(keys) => tracing::info!(keys = keys.len(), "API keys loaded."),
        None => tracing::warn!(
            %bind,
            "Authentication is off (--no-auth): every route is open to anyone who can connect."
        ),
    }
    let reloader = serve::state::Reloader::new(registry, references, &failures);
    let state = AppState::new(models, expected, limits);
    let log = match &prediction_log.path {
        Some(path) => {
            tracing::info!(path = %path.display(), sample_rate = prediction_log.sample_rate, "Logging predictions.");
            Some(
                serve::prediction_log::PredictionLog::start(
                    path.clone(),
                    &prediction_log,
                    state.metrics.log_counters(),
                )
                .context("cannot start the prediction log")?,
            )
        }
        None => None,
    };
    let state = state
        .with_prediction_log(log)
        .with_mlflow_model(mlflow_model)
        .with_auth(keys)
        .with_reloader(reloader);
    Ok((state, bind, workers, watch_interval))
}

fn run(
    state: AppState,
    bind: &str,
    workers: Option<usize>,
    watch: Option<f64>,
) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let log = state.prediction_log.clone();
    let system = actix_web::rt::System::new();
    let served = system.block_on(async move {
        if let (Some(seconds), true) = (watch, state.reloader.is_some()) {
            let watched = state.clone();
            actix_web::rt::spawn(async move {
                let period = std::time::Duration::from_secs_f64(seconds);
                loop {
                    actix_web::rt::time::sleep(period).await;
                    let state = watched.clone();
                    let done = actix_web::web::block(move || state.reload()).await;
                    if let Err(e) = done {
                        tracing::error!(error = %e, "The registry watcher's reload failed.");
                    }
                }
            });
            tracing::info!(seconds, "Watching the registry.");
        }
        let server = serve::server::run(listener, workers, state)
            .with_context(|| format!("cannot serve on {addr}"))?;
        // The first stdout line names the address, so scripts and tests using port 0 can
        // find it.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "Listening.");
        server.await.context("server failed")
    });
    // The workers are stopped: the rows they handed over reach the file before exit.
    if let Some(log) = log {
        log.close(std::time::Duration::from_secs(5));
    }
    served
}
