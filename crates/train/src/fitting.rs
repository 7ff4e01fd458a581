//! The fit and score helpers that a run, each cross-validation fold and each grid
//! candidate share: fit the preprocessing and the model on some rows, and score a
//! predictor on others exactly as serve predicts ([`Predictor::predict`]).

use std::collections::BTreeMap;

use ferry_core::metrics::{self, Metric, Truth};
use ferry_core::model::{self, EncodedLabels, Target, Task, TrainingSet, ValidModelSpec};
use ferry_core::schema::TargetValue;
use ferry_core::{ClassLabel, FittedPreprocessor, Frame, Predictor};

use crate::config::Pipeline;
use crate::error::RunError;

/// The class labels of `rows` (a classification target holds only labels).
pub(crate) fn labels_at(target: &[TargetValue], rows: &[usize]) -> Vec<ClassLabel> {
    rows.iter()
        .filter_map(|&r| match target.get(r) {
            Some(TargetValue::Label(l)) => Some(l.clone()),
            Some(TargetValue::Number(_)) | None => None,
        })
        .collect()
}

/// The values of `rows` (a regression target holds only numbers).
pub(crate) fn values_at(target: &[TargetValue], rows: &[usize]) -> Vec<f64> {
    rows.iter()
        .filter_map(|&r| match target.get(r) {
            Some(TargetValue::Number(v)) => Some(*v),
            Some(TargetValue::Label(_)) | None => None,
        })
        .collect()
}

/// The values at `rows`.
pub(crate) fn pick<T: Clone>(all: &[T], rows: &[usize]) -> Vec<T> {
    rows.iter().filter_map(|&r| all.get(r).cloned()).collect()
}

/// Fits the preprocessing on `frame` (the rows `rows` of `target`) and transforms it
/// into the model's training set.
pub(crate) fn fit_preprocessing(
    pipeline: &Pipeline,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<(FittedPreprocessor, TrainingSet), RunError> {
    let preprocessor = pipeline.config.preprocessing.fit_for(
        &pipeline.schema,
        frame,
        pipeline.config.model.kind().inputs(),
    )?;
    let x = preprocessor.transform(frame)?;
    let y = match pipeline.task {
        Task::Classification => Target::Classes(EncodedLabels::encode(&labels_at(target, rows))),
        Task::Regression => Target::Values(values_at(target, rows)),
    };
    let training = TrainingSet {
        x,
        y,
        seed: pipeline.config.split.seed,
    };
    Ok((preprocessor, training))
}

/// Fits the preprocessing and the model `spec` on `frame` (the rows `rows` of
/// `target`): the predictor a run, a cross-validation fold or a grid candidate scores.
pub(crate) fn fit_predictor(
    pipeline: &Pipeline,
    spec: &ValidModelSpec,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<Predictor, RunError> {
    let (preprocessor, training) = fit_preprocessing(pipeline, frame, target, rows)?;
    let fitted = model::fit(spec, &training)?;
    Ok(Predictor::new(preprocessor, fitted)?)
}

/// The pipeline's metrics for `predictor` on `frame`, whose true values are the rows
/// `rows` of `target`, predicted exactly as serve predicts.
pub(crate) fn score(
    pipeline: &Pipeline,
    predictor: &Predictor,
    frame: &Frame,
    target: &[TargetValue],
    rows: &[usize],
) -> Result<BTreeMap<Metric, f64>, RunError> {
    let predictions = predictor.predict(frame)?;
    Ok(match pipeline.task {
        Task::Classification => {
            let known = predictor.classes().unwrap_or_default();
            let truth: Vec<Option<usize>> = labels_at(target, rows)
                .iter()
                .map(|l| known.iter().position(|k| k == l))
                .collect();
            metrics::compute(&pipeline.metrics, Truth::Classes(&truth), &predictions)?
        }
        Task::Regression => {
            let truth = values_at(target, rows);
            metrics::compute(&pipeline.metrics, Truth::Values(&truth), &predictions)?
        }
    })
}
