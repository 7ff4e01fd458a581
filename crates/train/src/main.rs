//! `train`: the command line (argument types in [`train::cli`]) and its dispatch to the
//! library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use ferry_core::{ModelRef, RegistryLocation, Version};
use train::cli::{AliasOp, Cli, Command, LogFormat, RegistryVerb, RunsVerb};
use train::commands::{
    self, ShowAndSerialize, exit_code, set_threads, with_registry, with_registry_options,
};
use train::{Pipeline, registry_cmd, runner};

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
            commands::models::list(&mut out);
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
                let location = runner::registry_location(&pipeline, registry.as_ref());
                let report =
                    runner::cross_validate_only(&pipeline, &location, folds_out.as_deref())?;
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
        ) => {
            return commands::drift::drift_command(
                model,
                data,
                registry.as_ref(),
                dir,
                *json,
                &mut out,
            );
        }
        (
            Some(Command::Explain {
                model,
                data,
                registry,
                out: out_file,
                format,
                threads,
            }),
            _,
        ) => {
            set_threads(*threads);
            return commands::explain::explain_command(
                model,
                data,
                registry.as_ref(),
                out_file.as_deref(),
                *format,
                &mut out,
            );
        }
        (
            Some(Command::Import {
                config,
                xgboost,
                lightgbm,
                registry,
                json,
            }),
            _,
        ) => {
            let import = match (xgboost, lightgbm) {
                (Some(path), _) => train::import::Import {
                    format: train::import::ImportFormat::Xgboost,
                    path: path.clone(),
                },
                (None, Some(path)) => train::import::Import {
                    format: train::import::ImportFormat::Lightgbm,
                    path: path.clone(),
                },
                (None, None) => {
                    eprintln!("error: pass --xgboost MODEL.json or --lightgbm MODEL.txt");
                    return ExitCode::from(2);
                }
            };
            commands::run::import(config, registry.as_ref(), &import, *json, &mut out)
        }
        (Some(Command::Examples { dir, registry }), _) => {
            return commands::examples::train_examples(dir, registry.as_ref(), &mut out);
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
        (None, Some(config)) => {
            set_threads(cli.threads);
            match cli.shard {
                Some(shard) => {
                    commands::run::shard(config, cli.registry.as_ref(), shard, cli.json, &mut out)
                }
                None => commands::run::run(
                    config,
                    cli.registry.as_ref(),
                    cli.finish
                        .then_some(std::time::Duration::from_secs(cli.wait)),
                    cli.json,
                    &mut out,
                ),
            }
        }
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
    let mut options = ferry_store::StoreOptions::default();
    if let RegistryVerb::Gc {
        grace: Some(seconds),
        ..
    } = verb
    {
        options.gc_grace = std::time::Duration::from_secs(*seconds);
    }
    with_registry_options(location, &options, |registry| {
        let shown: Box<dyn ShowAndSerialize> = match verb {
            RegistryVerb::List => Box::new(registry_cmd::list(registry)?),
            RegistryVerb::Show { reference } => Box::new(registry_cmd::show(registry, reference)?),
            RegistryVerb::Verify { reference } => {
                let verified = registry_cmd::verify(registry, reference.as_ref())?;
                verified.write(out, json);
                let damaged = verified.damaged().next().is_some();
                return Ok(ExitCode::from(u8::from(damaged)));
            }
            RegistryVerb::Gc { dry_run, .. } => Box::new(registry_cmd::gc(registry, *dry_run)?),
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
