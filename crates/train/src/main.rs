//! `train`: run a pipeline config, validate one, or list the model types.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_core::{ModelKind, RegistryLocation};
use tracing_subscriber::EnvFilter;
use train::{ExitKind, Pipeline, RunError};

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
struct Cli {
    /// Pipeline config to run.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Registry (a directory, or a file:// URL); overrides the config's output.registry.
    #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR")]
    registry: Option<RegistryLocation>,
    /// Print the run report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Threads used to fit forests (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a pipeline config (and that its data file exists) without training.
    Validate {
        /// The config.
        config: PathBuf,
    },
    /// List the model types a config can name.
    Models,
}

fn exit_code(err: &RunError) -> ExitCode {
    match err.exit_kind() {
        ExitKind::Usage => ExitCode::from(2),
        ExitKind::Failure => ExitCode::from(1),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match (&cli.command, &cli.config) {
        (Some(Command::Models), _) => {
            for kind in ModelKind::ALL {
                let task = match kind.task() {
                    ferry_core::model::Task::Classification => "classification",
                    ferry_core::model::Task::Regression => "regression",
                };
                let _ = writeln!(out, "{:<26} {task}", kind.as_str());
            }
            return ExitCode::SUCCESS;
        }
        (Some(Command::Validate { config }), _) => Pipeline::from_file(config).map(|p| {
            let _ = writeln!(
                out,
                "{}: valid ({} model '{}')",
                config.display(),
                p.config().model.kind(),
                p.model_name()
            );
        }),
        (None, Some(config)) => run(&cli, config, &mut out),
        (None, None) => {
            let usage = <Cli as clap::CommandFactory>::command().render_usage();
            eprintln!(
                "error: nothing to do: pass --config FILE, or a command (see --help)\n\n{usage}"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            exit_code(&err)
        }
    }
}

fn run(cli: &Cli, config: &std::path::Path, out: &mut impl Write) -> Result<(), RunError> {
    if let Some(n) = cli.threads {
        // Fails only when a global pool already exists, which is not the case at startup.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let pipeline = Pipeline::from_file(config)?;
    let location = train::runner::registry_location(&pipeline, cli.registry.as_ref());
    let report = train::run(&pipeline, &location)?;
    if cli.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        let _ = writeln!(out, "{report}");
    }
    Ok(())
}
