//! `train explain`: a data file's explanations by a registered tree model, to a file or
//! standard output, with a one-line summary on standard error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ferry_core::{ModelRef, RegistryLocation};

use super::exit_code;
use crate::error::RunError;
use crate::explain::ExplainFormat;

/// `train explain`: exit 0 when every valid row was explained, 2 for bad input (not a
/// tree model, no usable row, bad data), 1 when the output cannot be written.
pub fn explain_command(
    model: &ModelRef,
    data: &Path,
    registry: Option<&RegistryLocation>,
    out_file: Option<&Path>,
    format: ExplainFormat,
    stdout: &mut impl Write,
) -> ExitCode {
    let location = registry
        .cloned()
        .unwrap_or_else(crate::runner::default_registry);
    // Rejected rows go next to the output (the working directory for standard output).
    let dir = out_file
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let dead_letter = dir.join("explain_rejected.csv");
    let done = ferry_store::open(&location, &ferry_store::StoreOptions::default())
        .map_err(RunError::from)
        .and_then(|opened| match out_file {
            Some(path) => {
                let file = fs_err::File::create(path).map_err(|e| RunError::WriteReport {
                    path: path.to_owned(),
                    source: e,
                })?;
                let mut w = std::io::BufWriter::new(file);
                crate::explain::explain(
                    opened.as_ref(),
                    model,
                    data,
                    &dead_letter,
                    format,
                    &mut w,
                    path,
                )
            }
            None => crate::explain::explain(
                opened.as_ref(),
                model,
                data,
                &dead_letter,
                format,
                stdout,
                Path::new("standard output"),
            ),
        });
    match done {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            exit_code(&err)
        }
    }
}
