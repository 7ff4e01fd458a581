//! What the `train` subcommands do and print, for the binary to dispatch to: the model
//! table ([`models`]), drift reports ([`drift`]), explanations ([`explain`]), every example config ([`examples`]),
//! a run from the command line ([`run`]), and the output helpers the registry verbs
//! share.

pub mod drift;
pub mod examples;
pub mod explain;
pub mod models;
pub mod run;

use std::io::Write;
use std::process::ExitCode;

use ferry_core::RegistryLocation;
use ferry_core::registry::RegistryError;
use serde::Serialize;

use crate::error::RunError;

/// A verb's result: printed as text or JSON.
pub trait ShowAndSerialize {
    /// Writes the result to `out`: pretty JSON when `json`, else its text form.
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
pub fn with_registry(
    location: Option<&RegistryLocation>,
    verb: impl FnOnce(&dyn ferry_core::Registry) -> Result<ExitCode, RegistryError>,
) -> ExitCode {
    with_registry_options(location, &ferry_store::StoreOptions::default(), verb)
}

/// [`with_registry`] with the store opened with `options`.
pub fn with_registry_options(
    location: Option<&RegistryLocation>,
    options: &ferry_store::StoreOptions,
    verb: impl FnOnce(&dyn ferry_core::Registry) -> Result<ExitCode, RegistryError>,
) -> ExitCode {
    let location = location
        .cloned()
        .unwrap_or_else(crate::runner::default_registry);
    let registry = match ferry_store::open(&location, options) {
        Ok(registry) => registry,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match verb(registry.as_ref()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: registry {location}: {err}");
            ExitCode::from(if err.is_caller_error() { 2 } else { 1 })
        }
    }
}

/// The exit code of a failed run or command: 2 for the caller's config or data, 1
/// otherwise (see [`RunError::exit_code`]).
#[must_use]
pub fn exit_code(err: &RunError) -> ExitCode {
    ExitCode::from(err.exit_code())
}

/// Sizes rayon's global pool (forest trees, folds, grid candidates).
pub fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        // Fails only when a global pool already exists, which is not the case at startup.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
