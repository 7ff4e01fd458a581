//! `train --config FILE`: one run from the command line.

use std::io::Write;
use std::path::Path;

use ferry_core::RegistryLocation;

use super::ShowAndSerialize;
use crate::config::Pipeline;
use crate::error::RunError;
use crate::report::FailedRun;
use crate::shard::Shard;
use crate::stages::SearchFrom;

/// Scores shard `shard` of the grid search of `config` and records it in `registry` (or
/// the config's own), printing what it scored.
///
/// # Errors
/// The shard's error.
pub fn shard(
    config: &Path,
    registry: Option<&RegistryLocation>,
    shard: Shard,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let pipeline = Pipeline::from_file(config)?;
    let location = crate::runner::registry_location(&pipeline, registry);
    crate::shard::run_shard(&pipeline, &location, shard)?.write(out, json);
    Ok(())
}

/// Runs the pipeline `config` into `registry` (or the config's own), printing the
/// report as a summary or, with `json`, as JSON (a failed run's too). With `finish`, the
/// grid search's scores are the cells its shards recorded (waiting up to that long for
/// missing ones).
///
/// # Errors
/// The run's error, after its JSON report when `json`.
pub fn run(
    config: &Path,
    registry: Option<&RegistryLocation>,
    finish: Option<std::time::Duration>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let search_from = if let Some(wait) = finish {
        SearchFrom::Shards(wait)
    } else {
        SearchFrom::Grid
    };
    let (model, result) = match Pipeline::from_file(config) {
        Ok(pipeline) if finish.is_some() && pipeline.search().is_none() => (
            Some(pipeline.model_name().to_string()),
            Err(RunError::Search(
                "--finish needs a config with a `search:` section".to_owned(),
            )),
        ),
        Ok(pipeline) => {
            let location = crate::runner::registry_location(&pipeline, registry);
            (
                Some(pipeline.model_name().to_string()),
                crate::runner::run_with(&pipeline, &location, search_from),
            )
        }
        Err(err) => (None, Err(err)),
    };
    write_report(model, result, json, out)
}

/// `train import`: imports the model file through the pipeline `config` into `registry`
/// (or the config's own), printing the report as `run` does.
///
/// # Errors
/// The import's error, after its JSON report when `json`.
pub fn import(
    config: &Path,
    registry: Option<&RegistryLocation>,
    import: &crate::import::Import,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let (model, result) = match Pipeline::from_file(config) {
        Ok(pipeline) => {
            let location = crate::runner::registry_location(&pipeline, registry);
            (
                Some(pipeline.model_name().to_string()),
                crate::runner::run_import(&pipeline, &location, import),
            )
        }
        Err(err) => (None, Err(err)),
    };
    write_report(model, result, json, out)
}

fn write_report(
    model: Option<String>,
    result: Result<crate::report::RunReport, RunError>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), RunError> {
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
    report.write(out, json);
    Ok(())
}
