//! Stage `fit`: the reference statistics of the training rows (for drift), the
//! preprocessing fitted on them, and the selected model fitted on the result.

use ferry_core::drift::ReferenceProfile;
use ferry_core::model::{self, ValidModelSpec};
use ferry_core::schema::TargetValue;
use ferry_core::{Model, Predictor};

use super::Run;
use super::split::SplitFrames;
use crate::error::RunError;
use crate::fitting::fit_preprocessing;

/// What the fit stage produces.
#[derive(Debug)]
pub struct Fitted {
    /// Preprocessing and model, as serve will hold them.
    pub predictor: Predictor,
    /// The training rows' statistics, stored in the artifact for drift.
    pub reference: ReferenceProfile,
}

/// Fits `spec` on the training rows of `frames`, reporting a forest's trees as they
/// grow; records the preprocessing and fitting times.
///
/// # Errors
/// Preprocessing and fitting errors.
pub fn fit(
    run: &mut Run<'_>,
    spec: &ValidModelSpec,
    frames: &SplitFrames,
    target: &[TargetValue],
) -> Result<Fitted, RunError> {
    let _span = super::span("fit");
    let pipeline = run.pipeline;
    let reference =
        ReferenceProfile::from_frame(pipeline.schema(), &frames.train, pipeline.config.drift);
    let (preprocessor, training) =
        fit_preprocessing(pipeline, &frames.train, target, &frames.split.train)?;
    run.record.stages.prepare += run.lap();
    let fitted = match run.import {
        Some(import) => import.read(&training, pipeline)?,
        None => {
            model::fit_with_progress(spec, &training, &crate::progress::TreeProgress::default())?
        }
    };
    drop(training);
    tracing::info!(kind = %fitted.kind(), rows = frames.split.train.len(), "Fitted model.");
    let predictor = Predictor::new(preprocessor, fitted)?;
    run.record.stages.fit = run.lap();
    Ok(Fitted {
        predictor,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;
    use crate::stages::split::split_frame;

    #[test]
    fn fit_gives_a_predictor_for_the_schema_and_a_reference_of_the_training_rows() {
        let pipeline = fixture::pipeline();
        let (dir, dataset) = fixture::dataset(&pipeline);
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        let mut runner = fixture::Runner::new(&pipeline, dir.path());
        let mut run = runner.run(&pipeline);
        let fitted = fit(&mut run, &pipeline.model, &frames, &dataset.target).unwrap();
        assert_eq!(fitted.predictor.model().kind(), pipeline.model.kind());
        let predictions = fitted.predictor.predict(&frames.test).unwrap();
        assert_eq!(predictions.len(), frames.test.n_rows());
        assert_eq!(fitted.reference.rows, frames.train.n_rows() as u64);
    }
}
