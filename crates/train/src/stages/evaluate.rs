//! Stage `evaluate`: the pipeline's metrics on the test rows, predicted exactly as
//! serve predicts ([`ferry_core::Predictor::predict`]).

use std::collections::BTreeMap;

use ferry_core::Predictor;
use ferry_core::metrics::Metric;
use ferry_core::schema::TargetValue;

use super::Run;
use super::split::SplitFrames;
use crate::error::RunError;
use crate::fitting::score;

/// Scores `predictor` on the test rows of `frames`; records the stage's time.
///
/// # Errors
/// Prediction or metric errors.
pub fn evaluate(
    run: &mut Run<'_>,
    predictor: &Predictor,
    frames: &SplitFrames,
    target: &[TargetValue],
) -> Result<BTreeMap<Metric, f64>, RunError> {
    let _span = super::span("evaluate");
    let values = score(
        run.pipeline,
        predictor,
        &frames.test,
        target,
        &frames.split.test,
    );
    run.record.stages.evaluate = run.lap();
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;
    use crate::stages::split::split_frame;

    #[test]
    fn evaluate_scores_every_configured_metric_on_the_test_rows() {
        let pipeline = fixture::pipeline();
        let (dir, dataset) = fixture::dataset(&pipeline);
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        let predictor = fixture::predictor(&pipeline, &dataset, &frames);
        let mut runner = fixture::Runner::new(&pipeline, dir.path());
        let mut run = runner.run(&pipeline);
        let values = evaluate(&mut run, &predictor, &frames, &dataset.target).unwrap();
        let names: Vec<&str> = values.keys().map(|m| m.as_str()).collect();
        assert_eq!(names, ["accuracy", "roc_auc", "log_loss"]);
        let accuracy = values[&Metric::Accuracy];
        assert!((0.5..=1.0).contains(&accuracy), "{accuracy}");
    }
}
