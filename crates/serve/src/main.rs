//! `serve`: serve the models of a registry over HTTP.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::HttpServer;
use anyhow::Context;
use clap::{Parser, ValueEnum};
use ferry_core::{LocalRegistry, ModelRef};
use serve::state::load_models;
use serve::{AppState, Limits};
use tracing_subscriber::EnvFilter;

/// Serve every model of a Ferry registry (or the ones named) over HTTP.
#[derive(Debug, Parser)]
#[command(name = "serve", version)]
struct Cli {
    /// Registry directory.
    #[arg(
        long,
        env = "FERRY_REGISTRY",
        default_value = "artifacts",
        value_name = "DIR"
    )]
    registry: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed at startup).
    #[arg(
        long,
        env = "FERRY_BIND",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    bind: String,
    /// Models to serve: `name` (its latest), `name@alias` or `name/VERSION`; repeat the
    /// flag or separate with commas. Default: the latest of every model in the registry.
    #[arg(
        long = "model",
        env = "FERRY_MODELS",
        value_delimiter = ',',
        value_name = "REF"
    )]
    models: Vec<ModelRef>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "FERRY_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Most records in one batch request.
    #[arg(long, env = "FERRY_MAX_BATCH", default_value_t = Limits::default().max_batch_records, value_name = "N")]
    max_batch: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "FERRY_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// Log format: `text` on stderr or `json` on stdout. Filter with RUST_LOG.
    #[arg(long, env = "FERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stdout)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let registry = LocalRegistry::new(&cli.registry);
    let (models, expected, failures) = load_models(&registry, &cli.models)
        .with_context(|| format!("cannot list registry {}", cli.registry.display()))?;
    for failure in &failures {
        tracing::error!(model = %failure.reference, error = %failure.error, "Model refused; it is not served.");
    }
    for (name, m) in &models {
        tracing::info!(model = name, version = %m.resolved.version, kind = %m.bundle.manifest().model_kind, "Model loaded.");
    }
    if models.is_empty() {
        tracing::warn!(registry = %cli.registry.display(), "No model is loaded; /ready answers 503 until one is.");
    }
    let limits = Limits {
        max_body_bytes: cli.max_body_bytes,
        max_batch_records: cli.max_batch,
    };
    let state = AppState::new(models, expected, limits);
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app_state = state.clone();
        let mut server = HttpServer::new(move || serve::app(app_state.clone()));
        if let Some(w) = cli.workers {
            server = server.workers(w);
        }
        let server = server
            .bind(&cli.bind)
            .with_context(|| format!("cannot listen on {}", cli.bind))?;
        for addr in server.addrs() {
            // The first stdout line names the address, so scripts and tests using port 0
            // can find it.
            println!("listening on http://{addr}");
            tracing::info!(%addr, "Listening.");
        }
        server.run().await.context("server failed")
    })
}
