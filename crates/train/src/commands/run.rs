//! `train --config FILE`: one run from the command line.

use std::io::Write;
use std::path::Path;

use ferry_core::RegistryLocation;

use crate::config::Pipeline;
use crate::error::RunError;
use crate::report::FailedRun;

/// Runs the pipeline `config` into `registry` (or the config's own), printing the
/// report as a summary or, with `json`, as JSON (a failed run's too).
///
/// # Errors
/// The run's error, after its JSON report when `json`.
pub fn run(
    config: &Path,
    registry: Option<&RegistryLocation>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let (model, result) = match Pipeline::from_file(config) {
        Ok(pipeline) => {
            let location = crate::runner::registry_location(&pipeline, registry);
            (
                Some(pipeline.model_name().to_string()),
                crate::runner::run(&pipeline, &location),
            )
        }
        Err(err) => (None, Err(err)),
    };
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            if json {
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
    if json {
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
