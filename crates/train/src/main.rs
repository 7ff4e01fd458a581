//! `train`: run a pipeline config, validate one, or list the model types.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_core::artifact::ReadLimits;
use ferry_core::registry::RegistryError;
use ferry_core::{AliasName, ModelKind, ModelName, ModelRef, RegistryLocation, Version};
use serde::Serialize;
use train::registry_cmd;
use train::report::FailedRun;
use train::{Pipeline, RunError};

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
    /// Log format on stderr: `text`, `json`, or `auto` (JSON when stderr is not a
    /// terminal). Filter with RUST_LOG (default `warn`).
    #[arg(
        long,
        global = true,
        env = "FERRY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Auto,
    Text,
    Json,
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
    /// Train every pipeline config in a directory (the examples in `configs/` by default)
    /// into the registry, one after the other; exit 1 if any failed.
    Examples {
        /// The directory of pipeline configs (`*.yaml`; `serve.yaml` is skipped).
        #[arg(long, default_value = "configs", value_name = "DIR")]
        dir: PathBuf,
        /// Registry (a directory, or a file:// URL); overrides each config's
        /// output.registry.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR")]
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
        /// Registry (a directory, or a file:// URL) [default: artifacts].
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR")]
        registry: Option<RegistryLocation>,
        /// Directory for drift.json, drift.html and rejected rows.
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: PathBuf,
        /// Print the report as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Cross-validate a config's model (and run its grid search) on its training split,
    /// without registering anything.
    Cv {
        /// The pipeline config.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Registry for the default dead-letter location; overrides output.registry.
        #[arg(long, env = "FERRY_REGISTRY", value_name = "DIR")]
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

/// Opens the registry at `location` (default `artifacts`), runs `verb` on it, and turns
/// its error into a message and exit code: 2 for a caller's error, 1 otherwise.
fn with_registry(
    location: Option<&RegistryLocation>,
    verb: impl FnOnce(&dyn ferry_core::Registry) -> Result<ExitCode, RegistryError>,
) -> ExitCode {
    let location = location
        .cloned()
        .unwrap_or_else(train::runner::default_registry);
    let registry = location.open(ReadLimits::default());
    match verb(registry.as_ref()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: registry {location}: {err}");
            ExitCode::from(if err.is_caller_error() { 2 } else { 1 })
        }
    }
}

/// Runs a `train runs` verb; the exit code.
fn runs_command(
    location: Option<&RegistryLocation>,
    json: bool,
    verb: &RunsVerb,
    out: &mut dyn Write,
) -> ExitCode {
    with_registry(location, |registry| {
        match verb {
            RunsVerb::List { model } => {
                registry_cmd::runs(registry, model.as_ref())?.write(out, json)
            }
            RunsVerb::Show { model, run } => {
                registry_cmd::run_show(registry, model, run)?.write(out, json);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs a `train registry` verb; the exit code.
fn registry_command(
    location: Option<&RegistryLocation>,
    json: bool,
    verb: &RegistryVerb,
    out: &mut dyn Write,
) -> ExitCode {
    with_registry(location, |registry| {
        let shown: Box<dyn ShowAndSerialize> = match verb {
            RegistryVerb::List => Box::new(registry_cmd::list(registry)?),
            RegistryVerb::Show { reference } => Box::new(registry_cmd::show(registry, reference)?),
            RegistryVerb::Verify { reference } => {
                let verified = registry_cmd::verify(registry, reference.as_ref())?;
                verified.write(out, json);
                let damaged = verified.damaged().next().is_some();
                return Ok(ExitCode::from(u8::from(damaged)));
            }
            RegistryVerb::Gc { dry_run } => Box::new(registry_cmd::gc(registry, *dry_run)?),
            RegistryVerb::Alias {
                op:
                    AliasOp::Set {
                        name,
                        alias,
                        version,
                    },
            } => Box::new(registry_cmd::alias_set(
                registry,
                name,
                alias,
                Version(*version),
            )?),
            RegistryVerb::Alias {
                op: AliasOp::Delete { name, alias },
            } => Box::new(registry_cmd::alias_delete(registry, name, alias)?),
            RegistryVerb::Promote { reference, alias } => {
                Box::new(registry_cmd::promote(registry, reference, alias)?)
            }
            RegistryVerb::Rollback { name, alias } => {
                Box::new(registry_cmd::rollback(registry, name, alias)?)
            }
            RegistryVerb::Delete { reference } => match reference {
                ModelRef::Version(name, version) => {
                    Box::new(registry_cmd::delete(registry, name, *version)?)
                }
                ModelRef::Alias(..) => {
                    eprintln!("error: delete takes NAME/VERSION, found {reference}");
                    return Ok(ExitCode::from(2));
                }
            },
            RegistryVerb::Diff { left, right } => {
                Box::new(registry_cmd::diff(registry, left, right)?)
            }
        };
        shown.write(out, json);
        Ok(ExitCode::SUCCESS)
    })
}

fn exit_code(err: &RunError) -> ExitCode {
    ExitCode::from(err.exit_code())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let telemetry = ferry_telemetry::init(&ferry_telemetry::Options {
        service: "ferry-train",
        version: env!("CARGO_PKG_VERSION"),
        format: match cli.log_format {
            LogFormat::Auto => ferry_telemetry::LogFormat::Auto,
            LogFormat::Text => ferry_telemetry::LogFormat::Text,
            LogFormat::Json => ferry_telemetry::LogFormat::Json,
        },
        json_stream: ferry_telemetry::LogStream::Stderr,
        default_filter: "warn",
    });
    let _telemetry = match telemetry {
        Ok(t) => t,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
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
        (
            Some(Command::Cv {
                config,
                registry,
                json,
                threads,
                folds_out,
            }),
            _,
        ) => {
            set_threads(*threads);
            Pipeline::from_file(config).and_then(|pipeline| {
                let location = train::runner::registry_location(&pipeline, registry.as_ref());
                let report =
                    train::runner::cross_validate_only(&pipeline, &location, folds_out.as_deref())?;
                report.write(&mut out, *json);
                Ok(())
            })
        }
        (
            Some(Command::Drift {
                model,
                data,
                registry,
                out: dir,
                json,
            }),
            _,
        ) => return drift_command(model, data, registry.as_ref(), dir, *json, &mut out),
        (Some(Command::Examples { dir, registry }), _) => {
            return train_examples(dir, registry.as_ref(), &mut out);
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

/// `train drift`: exit 0 without dataset drift, 3 with it, 2 for bad input, 1 when the
/// report cannot be written.
fn drift_command(
    model: &ModelRef,
    data: &std::path::Path,
    registry: Option<&RegistryLocation>,
    dir: &std::path::Path,
    json: bool,
    out: &mut impl Write,
) -> ExitCode {
    let location = registry
        .cloned()
        .unwrap_or_else(train::runner::default_registry);
    let opened = location.open(ReadLimits::default());
    let done = train::drift::drift(opened.as_ref(), model, data, dir).and_then(|file| {
        let paths = train::drift::write(&file, dir)?;
        Ok((file, paths))
    });
    let (file, (json_path, html_path)) = match done {
        Ok(done) => done,
        Err(err) => {
            eprintln!("error: {err}");
            return exit_code(&err);
        }
    };
    let r = &file.report;
    if json {
        let _ = serde_json::to_writer_pretty(&mut *out, &file);
        let _ = writeln!(out);
    } else {
        let _ = writeln!(
            out,
            "{}/{} vs {}: {} rows ({} rejected) against {} training rows",
            file.model,
            file.version,
            file.data.display(),
            r.current_rows,
            file.rows_rejected,
            r.reference_rows
        );
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>8} {:>9}  reasons",
            "feature", "type", "PSI", "drifted"
        );
        for f in &r.features {
            let _ = writeln!(
                out,
                "{:<24} {:<12} {:>8.3} {:>9}  {}",
                f.name,
                f.kind,
                f.psi,
                if f.drifted { "yes" } else { "no" },
                f.reasons.join("; ")
            );
        }
        let _ = writeln!(
            out,
            "{}: {} of {} features drifted ({:.0}%, threshold {:.0}%)",
            if r.dataset_drift {
                "DRIFT"
            } else {
                "no dataset drift"
            },
            r.drifted_features,
            r.features.len(),
            r.drifted_share * 100.0,
            r.thresholds.dataset_share * 100.0
        );
        let _ = writeln!(
            out,
            "wrote {} and {}",
            json_path.display(),
            html_path.display()
        );
    }
    if r.dataset_drift {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// `train examples`: every pipeline config of `dir`, in name order.
fn train_examples(
    dir: &std::path::Path,
    registry: Option<&RegistryLocation>,
    out: &mut impl Write,
) -> ExitCode {
    let mut configs: Vec<PathBuf> = match fs_err::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|p| p.file_name().is_some_and(|n| n != "serve.yaml"))
            .collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    configs.sort();
    if configs.is_empty() {
        eprintln!("error: {} holds no pipeline config", dir.display());
        return ExitCode::from(2);
    }
    let mut failed = 0;
    for config in &configs {
        let result = Pipeline::from_file(config).and_then(|pipeline| {
            let location = train::runner::registry_location(&pipeline, registry);
            train::run(&pipeline, &location)
        });
        match result {
            Ok(report) => {
                let _ = writeln!(
                    out,
                    "ok      {:<40} {} version {} ({}, {:.1}s)",
                    config.display(),
                    report.model,
                    report.version,
                    report.kind,
                    report.seconds
                );
            }
            Err(err) => {
                failed += 1;
                let _ = writeln!(out, "FAILED  {:<40} {err}", config.display());
            }
        }
    }
    let _ = writeln!(
        out,
        "{} of {} configs trained",
        configs.len() - failed,
        configs.len()
    );
    ExitCode::from(u8::from(failed > 0))
}

/// Sizes rayon's global pool (forest trees, folds, grid candidates).
fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        // Fails only when a global pool already exists, which is not the case at startup.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}

fn run(cli: &Cli, config: &std::path::Path, out: &mut impl Write) -> Result<(), RunError> {
    set_threads(cli.threads);
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
                let failed = FailedRun::new(model, &err);
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
