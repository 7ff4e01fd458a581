//! Stage `select`: the grid search (the best candidate becomes the model) and
//! `evaluation.cv` on the training rows, when configured.

use ferry_core::model::ValidModelSpec;
use ferry_core::schema::TargetValue;

use super::split::SplitFrames;
use super::{Run, SearchFrom};
use crate::config::Pipeline;
use crate::cv::{self, CvTable, SearchTable, TrainingRows};
use crate::error::RunError;
use crate::fitting::pick;

/// What a run's training rows cross-validation and search left: the model to fit (the
/// search's best, else the config's) and the tables.
#[derive(Debug)]
pub struct Selection {
    /// The model to fit.
    pub spec: ValidModelSpec,
    /// The search's best model section, when there was a search.
    pub model_section: Option<ferry_core::ModelSpec>,
    /// The cross-validated metrics, when configured.
    pub cv: Option<CvTable>,
    /// The grid search's table, when configured.
    pub search: Option<SearchTable>,
}

impl Selection {
    /// The config's own model, with nothing cross-validated.
    #[must_use]
    pub fn configured(pipeline: &Pipeline) -> Self {
        Self {
            spec: pipeline.model.clone(),
            model_section: None,
            cv: None,
            search: None,
        }
    }
}

/// Runs the grid search and `evaluation.cv` on the training rows, as configured.
///
/// # Errors
/// Fitting or scoring errors of a fold or a candidate.
pub fn select_model(pipeline: &Pipeline, rows: TrainingRows<'_>) -> Result<Selection, RunError> {
    select_with(pipeline, rows, |search| {
        cv::grid_search(pipeline, search, rows)
    })
}

/// As [`select_model`], the search's table made by `table` (scored here, or gathered
/// from shards).
fn select_with(
    pipeline: &Pipeline,
    rows: TrainingRows<'_>,
    table: impl FnOnce(&crate::config::Search) -> Result<SearchTable, RunError>,
) -> Result<Selection, RunError> {
    let mut selection = Selection::configured(pipeline);
    if let Some(search) = pipeline.search() {
        let table = table(search)?;
        if let Some(best) = search.candidates.get(table.best) {
            tracing::info!(
                params = %serde_json::to_string(&table.best().map(|b| &b.params)).unwrap_or_default(),
                metric = %search.metric,
                "Grid search picked the best candidate."
            );
            selection.spec = best.valid.clone();
            selection.model_section = Some(best.spec.clone());
            // The search already cross-validated the best candidate on these folds.
            if pipeline.cv_folds() == Some(search.folds) {
                selection.cv = table.best().map(|b| CvTable {
                    folds: search.folds,
                    stratified: pipeline.stratify,
                    scores: b.scores.clone(),
                });
            }
        }
        selection.search = Some(table);
    }
    if let (Some(folds), None) = (pipeline.cv_folds(), &selection.cv) {
        selection.cv = Some(cv::cross_validate(pipeline, &selection.spec, rows, folds)?);
    }
    Ok(selection)
}

/// The stage: selects the model on the training rows when a search or cross-validation
/// is configured (else the config's model), recording the tables, the search's best
/// params and the stage's time.
///
/// # Errors
/// As [`select_model`].
pub fn select(
    run: &mut Run<'_>,
    frames: &SplitFrames,
    target: &[TargetValue],
) -> Result<Selection, RunError> {
    let pipeline = run.pipeline;
    if pipeline.search().is_none() && pipeline.cv_folds().is_none() {
        return Ok(Selection::configured(pipeline));
    }
    let _span = super::span(if pipeline.search().is_some() {
        "search"
    } else {
        "cross_validate"
    });
    let target = pick(target, &frames.split.train);
    let rows = TrainingRows {
        frame: &frames.train,
        target: &target,
    };
    let selection = match run.search_from {
        SearchFrom::Grid => select_model(pipeline, rows),
        SearchFrom::Shards(wait) => {
            let key = crate::shard::search_key(run.record);
            let registry = run.registry;
            select_with(pipeline, rows, |search| {
                crate::shard::recorded_table(registry, pipeline, search, &key, wait)
            })
        }
    };
    run.record.stages.cv = run.lap();
    let selection = selection?;
    run.record.cv.clone_from(&selection.cv);
    run.record.search.clone_from(&selection.search);
    if let Some(section) = &selection.model_section {
        run.record.params = serde_json::to_value(section).unwrap_or_default();
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;
    use crate::stages::split::split_frame;

    #[test]
    fn without_search_or_cv_the_configured_model_is_kept_and_with_cv_it_is_scored() {
        let pipeline = fixture::pipeline();
        let (_dir, dataset) = fixture::dataset(&pipeline);
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        let target = pick(&dataset.target, &frames.split.train);
        let rows = TrainingRows {
            frame: &frames.train,
            target: &target,
        };
        let kept = select_model(&pipeline, rows).unwrap();
        assert_eq!(kept.spec, pipeline.model);
        assert!(kept.cv.is_none() && kept.search.is_none());

        let table = cv::cross_validate(&pipeline, &pipeline.model, rows, 3).unwrap();
        assert_eq!(table.folds, 3);
        assert!(!table.scores.is_empty());
        for score in table.scores.values() {
            assert_eq!(score.folds.len(), 3);
            assert!(score.mean.is_finite());
        }
    }
}
