//! `train`: run a pipeline config, validate one, or list the model types.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_core::artifact::ReadLimits;
use ferry_core::{AliasName, ModelKind, ModelName, ModelRef, RegistryLocation, Version};
use serde::Serialize;
use tracing_subscriber::EnvFilter;
use train::registry_cmd;
use train::report::{FailedRun, RunStatus};
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
    /// List the model types a config can name, with their hyperparameters and defaults.
    Models,
    /// The record every training run leaves in the registry, failed runs too.
    Runs {
        /// Registry (a directory, or a file:// URL); default `artifacts`.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR", global = true)]
        registry: Option<RegistryLocation>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        verb: RunsVerb,
    },
    /// Read and tidy a registry: list, show, verify, gc.
    Registry {
        /// Registry (a directory, or a file:// URL); default `artifacts`.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR", global = true)]
        registry: Option<RegistryLocation>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        verb: RegistryVerb,
    },
}

#[derive(Debug, Subcommand)]
enum RunsVerb {
    /// Every recorded run (of MODEL, or of every model), oldest first.
    List {
        /// Only this model's runs.
        model: Option<ModelName>,
    },
    /// One run's whole record: config, data, params, metrics, timings, git, host.
    Show {
        /// The model.
        model: ModelName,
        /// The run id, as `runs list` prints it.
        run: String,
    },
}

#[derive(Debug, Subcommand)]
enum RegistryVerb {
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

#[derive(Debug, Subcommand)]
enum AliasOp {
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

/// A verb's result: printed as text or JSON.
trait ShowAndSerialize {
    fn write(&self, out: &mut dyn Write, json: bool);
}

impl<T: Serialize + std::fmt::Display> ShowAndSerialize for T {
    fn write(&self, out: &mut dyn Write, json: bool) {
        let _ = if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(self).unwrap_or_default()
            )
        } else {
            writeln!(out, "{self}")
        };
    }
}

fn open_registry(location: Option<&RegistryLocation>) -> RegistryLocation {
    location
        .cloned()
        .unwrap_or_else(|| RegistryLocation::Local(PathBuf::from("artifacts")))
}

/// Runs a `train runs` verb; the exit code.
fn runs_command(
    location: Option<&RegistryLocation>,
    json: bool,
    verb: &RunsVerb,
    out: &mut dyn Write,
) -> ExitCode {
    let location = open_registry(location);
    let registry = location.open(ReadLimits::default());
    let registry = registry.as_ref();
    let result = match verb {
        RunsVerb::List { model } => {
            registry_cmd::runs(registry, model.as_ref()).map(|v| v.write(out, json))
        }
        RunsVerb::Show { model, run } => {
            registry_cmd::run_show(registry, model, run).map(|v| v.write(out, json))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: registry {location}: {err}");
            ExitCode::from(if err.is_caller_error() { 2 } else { 1 })
        }
    }
}

/// Runs a `train registry` verb; the exit code.
fn registry_command(
    location: Option<&RegistryLocation>,
    json: bool,
    verb: &RegistryVerb,
    out: &mut dyn Write,
) -> ExitCode {
    let location = location
        .cloned()
        .unwrap_or_else(|| RegistryLocation::Local(PathBuf::from("artifacts")));
    let registry = location.open(ReadLimits::default());
    let registry = registry.as_ref();
    let mut printed = |v: &dyn ShowAndSerialize| {
        v.write(out, json);
        ExitCode::SUCCESS
    };
    let result = match verb {
        RegistryVerb::List => registry_cmd::list(registry).map(|v| printed(&v)),
        RegistryVerb::Show { reference } => {
            registry_cmd::show(registry, reference).map(|v| printed(&v))
        }
        RegistryVerb::Verify { reference } => registry_cmd::verify(registry, reference.as_ref())
            .map(|v| {
                printed(&v);
                if v.damaged().next().is_some() {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }),
        RegistryVerb::Gc { dry_run } => registry_cmd::gc(registry, *dry_run).map(|v| printed(&v)),
        RegistryVerb::Alias {
            op:
                AliasOp::Set {
                    name,
                    alias,
                    version,
                },
        } => registry_cmd::alias_set(registry, name, alias, Version(*version)).map(|v| printed(&v)),
        RegistryVerb::Alias {
            op: AliasOp::Delete { name, alias },
        } => registry_cmd::alias_delete(registry, name, alias).map(|v| printed(&v)),
        RegistryVerb::Promote { reference, alias } => {
            registry_cmd::promote(registry, reference, alias).map(|v| printed(&v))
        }
        RegistryVerb::Rollback { name, alias } => {
            registry_cmd::rollback(registry, name, alias).map(|v| printed(&v))
        }
        RegistryVerb::Delete { reference } => match reference {
            ModelRef::Version(name, version) => {
                registry_cmd::delete(registry, name, *version).map(|v| printed(&v))
            }
            ModelRef::Alias(..) => {
                eprintln!("error: delete takes NAME/VERSION, found {reference}");
                return ExitCode::from(2);
            }
        },
        RegistryVerb::Diff { left, right } => {
            registry_cmd::diff(registry, left, right).map(|v| printed(&v))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: registry {location}: {err}");
            ExitCode::from(if err.is_caller_error() { 2 } else { 1 })
        }
    }
}

fn exit_status(err: &RunError) -> u8 {
    match err.exit_kind() {
        ExitKind::Usage => 2,
        ExitKind::Failure => 1,
    }
}

fn exit_code(err: &RunError) -> ExitCode {
    ExitCode::from(exit_status(err))
}

/// The `--json` report of a run that registered nothing.
fn failed_run(model: Option<String>, err: &RunError) -> FailedRun {
    let (status, metrics, gates) = if let RunError::GateFailed { metrics, gates, .. } = err {
        (RunStatus::GatesFailed, metrics.clone(), gates.clone())
    } else {
        (RunStatus::Failed, Default::default(), Vec::new())
    };
    FailedRun {
        status,
        reason: err.to_string(),
        exit_code: exit_status(err),
        model,
        metrics,
        gates,
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
                let probabilities = if kind.gives_probabilities() {
                    "yes"
                } else {
                    "no"
                };
                let _ = writeln!(
                    out,
                    "{:<26} {task:<15} probabilities: {probabilities}",
                    kind.as_str()
                );
                for (key, default) in kind.hyperparameters() {
                    let _ = writeln!(out, "    {key:<20} {default}");
                }
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
        (
            Some(Command::Registry {
                registry,
                json,
                verb,
            }),
            _,
        ) => return registry_command(registry.as_ref(), *json, verb, &mut out),
        (
            Some(Command::Runs {
                registry,
                json,
                verb,
            }),
            _,
        ) => return runs_command(registry.as_ref(), *json, verb, &mut out),
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
            let mut shown = err.to_string();
            eprintln!("error: {shown}");
            // Print each cause once: many errors already embed their cause's message.
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                let text = s.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                    shown.push_str(&text);
                }
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
    let (model, result) = match Pipeline::from_file(config) {
        Ok(pipeline) => {
            let location = train::runner::registry_location(&pipeline, cli.registry.as_ref());
            (
                Some(pipeline.model_name().to_string()),
                train::run(&pipeline, &location),
            )
        }
        Err(err) => (None, Err(err)),
    };
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            if cli.json {
                let failed = failed_run(model, &err);
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&failed).unwrap_or_default()
                );
            }
            return Err(err);
        }
    };
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
