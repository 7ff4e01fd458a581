//! Stage `load`: reads the data file, validates every row against the schema (rejected
//! rows to the dead-letter file), and refuses data with too many rejected rows or too
//! few valid ones.

use ferry_core::artifact::{RowCounts, sha256_file};

use super::Run;
use crate::data::{self, Dataset};
use crate::error::RunError;

/// Loads and checks the pipeline's data; records the row counts, the data's checksum
/// and the stage's time.
///
/// # Errors
/// Reading errors, [`RunError::TooManyInvalid`] past `data.max_invalid_fraction`,
/// [`RunError::NotEnoughRows`] under 4 valid rows.
pub fn load(run: &mut Run<'_>) -> Result<Dataset, RunError> {
    let _span = super::span("load");
    let pipeline = run.pipeline;
    let spinner =
        crate::progress::Spinner::new(format!("reading {}", pipeline.data_path().display()));
    let dataset = data::load(pipeline, &run.dead_letter)?;
    drop(spinner);
    run.record.stages.load = run.lap();
    let valid = dataset.frame.n_rows();
    run.record.rows = Some(RowCounts {
        read: dataset.read,
        valid,
        invalid: dataset.invalid,
        train: 0,
        test: 0,
    });
    run.record.data_sha256 = sha256_file(pipeline.data_path()).ok();
    tracing::info!(
        read = dataset.read,
        valid,
        invalid = dataset.invalid,
        "Loaded data."
    );
    check(run, dataset)
}

/// Refuses data with too many rejected rows or too few valid ones.
fn check(run: &Run<'_>, dataset: Dataset) -> Result<Dataset, RunError> {
    let max_invalid = run.pipeline.config.data.max_invalid_fraction;
    if dataset.invalid as f64 > max_invalid * dataset.read as f64 {
        return Err(RunError::TooManyInvalid {
            invalid: dataset.invalid,
            read: dataset.read,
            limit: max_invalid,
            dead_letter: dataset
                .dead_letter
                .clone()
                .unwrap_or_else(|| run.dead_letter.clone()),
        });
    }
    let valid = dataset.frame.n_rows();
    if valid < 4 {
        return Err(RunError::NotEnoughRows(format!(
            "{valid} valid rows, at least 4 are needed"
        )));
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;

    #[test]
    fn load_records_rows_and_refuses_too_many_invalid_ones() {
        let pipeline = fixture::pipeline();
        let dir = tempfile::tempdir().unwrap();
        let mut runner = fixture::Runner::new(&pipeline, dir.path());
        let mut run = runner.run(&pipeline);
        let dataset = load(&mut run).unwrap();
        let rows = run.record.rows.unwrap();
        assert_eq!(rows.valid, dataset.frame.n_rows());
        assert_eq!(rows.read, dataset.read);
        assert!(rows.valid >= 4);
        assert!(run.record.data_sha256.is_some());

        let mut bad = dataset;
        bad.invalid = bad.read;
        let err = check(&run, bad).unwrap_err();
        assert!(matches!(err, RunError::TooManyInvalid { .. }), "{err}");
    }
}
