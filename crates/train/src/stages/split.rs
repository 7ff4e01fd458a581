//! Stage `split`: the seeded (stratified, for classification) train/test split of the
//! valid rows, and the preprocessing fitted on the training rows for callers that want
//! the prepared training set ([`prepare`]).

use ferry_core::artifact::RowCounts;
use ferry_core::model::{EncodedLabels, TrainingSet};
use ferry_core::split::{Split, train_test_split};
use ferry_core::{FittedPreprocessor, Frame};

use super::Run;
use crate::config::Pipeline;
use crate::data::Dataset;
use crate::error::RunError;
use crate::fitting::{fit_preprocessing, labels_at};

/// The split of a dataset's valid rows, exactly as a run with this pipeline makes it.
/// Exposed so tests can rebuild the test set of a trained model.
#[must_use]
pub fn split_rows(pipeline: &Pipeline, dataset: &Dataset) -> Split {
    let split = &pipeline.config.split;
    let strata = if pipeline.stratify {
        let all: Vec<usize> = (0..dataset.target.len()).collect();
        Some(
            EncodedLabels::encode(&labels_at(&dataset.target, &all))
                .codes()
                .to_vec(),
        )
    } else {
        None
    };
    // One target per valid row: the row count, also once the frame was taken out.
    train_test_split(
        dataset.target.len(),
        split.test_fraction,
        split.seed,
        strata.as_deref(),
    )
}

/// A dataset split into its training and test rows.
#[derive(Debug)]
pub struct SplitFrames {
    /// Row indices of each side.
    pub split: Split,
    /// The training rows' features.
    pub train: Frame,
    /// The test rows' features.
    pub test: Frame,
}

/// Splits `frame` (the dataset's rows, moved out of it so that a large table is not
/// copied) into training and test rows.
///
/// # Errors
/// [`RunError::NotEnoughRows`] when a side is empty (or the training side has one row).
pub fn split_frame(
    pipeline: &Pipeline,
    dataset: &Dataset,
    frame: Frame,
) -> Result<SplitFrames, RunError> {
    let split = split_rows(pipeline, dataset);
    if split.test.is_empty() || split.train.len() < 2 {
        return Err(RunError::NotEnoughRows(format!(
            "the split leaves {} training and {} test rows",
            split.train.len(),
            split.test.len()
        )));
    }
    let (train, test) = frame.split_rows(&split.train, &split.test);
    Ok(SplitFrames { split, train, test })
}

impl SplitFrames {
    /// The row counts of `dataset` split into these frames, as the manifest records them.
    #[must_use]
    pub fn row_counts(&self, dataset: &Dataset) -> RowCounts {
        RowCounts {
            read: dataset.read,
            valid: dataset.target.len(),
            invalid: dataset.invalid,
            train: self.split.train.len(),
            test: self.split.test.len(),
        }
    }
}

/// The stage: splits the dataset's rows (taking them out of it) and records the sizes.
///
/// # Errors
/// As [`split_frame`].
pub fn split(run: &mut Run<'_>, dataset: &mut Dataset) -> Result<SplitFrames, RunError> {
    let _span = super::span("split");
    let frame = std::mem::take(&mut dataset.frame);
    let frames = split_frame(run.pipeline, dataset, frame)?;
    if let Some(rows) = &mut run.record.rows {
        rows.train = frames.split.train.len();
        rows.test = frames.split.test.len();
    }
    run.record.stages.prepare = run.lap();
    Ok(frames)
}

/// A split dataset with its preprocessing fitted: what the model is fitted on and
/// evaluated with.
#[derive(Debug)]
pub struct Prepared {
    /// Row indices of the training and test sets.
    pub split: Split,
    /// The preprocessing fitted on the training rows.
    pub preprocessor: FittedPreprocessor,
    /// The preprocessed training rows and their target.
    pub training: TrainingSet,
    /// The test rows, validated but not preprocessed (the predictor preprocesses them).
    pub test_frame: Frame,
}

/// Splits `dataset` as `pipeline` says and fits its preprocessing on the training rows,
/// exactly as a run does. Exposed so tests can refit a run's model.
///
/// # Errors
/// [`RunError::NotEnoughRows`] when the split leaves a side empty, or a
/// preprocessing error.
pub fn prepare(pipeline: &Pipeline, dataset: &Dataset) -> Result<Prepared, RunError> {
    let frames = split_frame(pipeline, dataset, dataset.frame.clone())?;
    let (preprocessor, training) = fit_preprocessing(
        pipeline,
        &frames.train,
        &dataset.target,
        &frames.split.train,
    )?;
    Ok(Prepared {
        split: frames.split,
        preprocessor,
        training,
        test_frame: frames.test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;

    #[test]
    fn the_split_is_seeded_disjoint_and_complete() {
        let pipeline = fixture::pipeline();
        let (_dir, dataset) = fixture::dataset(&pipeline);
        let n = dataset.frame.n_rows();
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        assert_eq!(frames.train.n_rows() + frames.test.n_rows(), n);
        let mut all: Vec<usize> = frames.split.train.clone();
        all.extend(&frames.split.test);
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        assert_eq!(split_rows(&pipeline, &dataset), frames.split);
        // test_fraction 0.25
        let expected = (n as f64 * 0.25).round() as usize;
        assert!(
            frames.split.test.len().abs_diff(expected) <= 2,
            "{}",
            frames.split.test.len()
        );

        let prepared = prepare(&pipeline, &dataset).unwrap();
        assert_eq!(prepared.training.x.n_rows(), frames.split.train.len());
        assert_eq!(prepared.test_frame.n_rows(), frames.split.test.len());
    }

    #[test]
    fn a_split_that_leaves_no_test_rows_is_refused() {
        let pipeline = fixture::pipeline();
        let (_dir, mut dataset) = fixture::dataset(&pipeline);
        dataset.target.truncate(1);
        let err = split_frame(&pipeline, &dataset, Frame::default()).unwrap_err();
        assert!(matches!(err, RunError::NotEnoughRows(_)), "{err}");
    }
}
