//! Stage `publish`: the manifest (lineage, rows, metrics, library versions) and the
//! artifact's files, published into the registry, which assigns the version, writes
//! the files atomically and checks them with serve's own reader.

use std::collections::BTreeMap;

use ferry_core::artifact::{ArtifactFiles, FORMAT_VERSION, Manifest, RowCounts, sha256_file};
use ferry_core::config::to_yaml_string;
use ferry_core::metrics::Metric;
use ferry_core::registry::Published;
use ferry_core::{ClassLabel, Model, Version};

use super::Run;
use super::fit::Fitted;
use super::select::Selection;
use crate::error::RunError;

/// Publishes `fitted` with its `metrics` and the dataset's `rows`; records the stage's
/// time.
///
/// # Errors
/// [`RunError::SerializeConfig`], [`RunError::ReadData`] (for the data's checksum), or
/// the registry's refusal.
pub fn publish(
    run: &mut Run<'_>,
    fitted: &Fitted,
    selection: &Selection,
    rows: RowCounts,
    metrics: &BTreeMap<Metric, f64>,
) -> Result<Published, RunError> {
    let _span = super::span("publish");
    let pipeline = run.pipeline;
    // The artifact's config is the one that reproduces its model: after a search, its
    // model section is the best candidate's.
    let config_yaml = match &selection.model_section {
        Some(section) => {
            let mut config = pipeline.config.clone();
            config.model = section.clone();
            to_yaml_string(&config).map_err(RunError::SerializeConfig)?
        }
        None => run.record.config.clone(),
    };
    let data_sha256 = match run.record.data_sha256.clone() {
        Some(sha) => sha,
        None => sha256_file(pipeline.data_path()).map_err(|e| RunError::ReadData {
            path: pipeline.data_path().to_owned(),
            message: e.to_string(),
        })?,
    };
    let predictor = &fitted.predictor;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: pipeline.model_name().clone(),
        // The registry assigns the version and fills in the checksums.
        version: Version(0),
        model_kind: predictor.model().kind(),
        task: pipeline.task,
        created_at: run.stamp.to_owned(),
        git_sha: run.record.git_sha.clone(),
        config_sha256: String::new(),
        data_sha256,
        target: pipeline.config.schema.target.clone(),
        classes: predictor.classes().map(<[ClassLabel]>::to_vec),
        rows,
        metrics: metrics.clone(),
        library_versions: BTreeMap::from([
            ("ferry-core".to_owned(), ferry_core::VERSION.to_owned()),
            (
                "smartcore".to_owned(),
                ferry_core::SMARTCORE_VERSION.to_owned(),
            ),
        ]),
        files: BTreeMap::new(),
        manifest_sha256: String::new(),
    };
    let files = ArtifactFiles {
        model: predictor.model(),
        preprocessor: predictor.preprocessor(),
        config_yaml: &config_yaml,
        reference: Some(&fitted.reference),
    };
    run.record.stages.evaluate += run.lap();
    let draft = run.tracking.is_some().then(|| manifest.clone());
    let published = run.registry.publish(manifest, &files)?;
    if let (Some(tracker), Some(draft)) = (run.tracking, draft) {
        tracker.register(draft, &files, &published);
    }
    run.record.stages.publish = run.lap();
    tracing::info!(
        model = %published.resolved.name,
        version = %published.resolved.version,
        "Registered model."
    );
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;
    use crate::stages::split::split_frame;

    #[test]
    fn publish_registers_a_version_that_loads_with_the_run_lineage() {
        let pipeline = fixture::pipeline();
        let (dir, dataset) = fixture::dataset(&pipeline);
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        let mut runner = fixture::Runner::new(&pipeline, dir.path());
        let mut run = runner.run(&pipeline);
        let fitted =
            super::super::fit::fit(&mut run, &pipeline.model, &frames, &dataset.target).unwrap();
        let rows = frames.row_counts(&dataset);
        let metrics = BTreeMap::from([(Metric::Accuracy, 0.75)]);
        let selection = Selection::configured(&pipeline);
        let published = publish(&mut run, &fitted, &selection, rows, &metrics).unwrap();
        assert_eq!(published.resolved.version, Version(1));
        assert_eq!(published.manifest.rows, rows);
        assert_eq!(published.manifest.metrics, metrics);
        assert_eq!(published.manifest.created_at, fixture::STAMP);
        let (_, bundle) = runner
            .registry
            .load(&ferry_core::ModelRef::Version(
                pipeline.model_name().clone(),
                Version(1),
            ))
            .unwrap();
        assert!(bundle.reference().is_some());
    }
}
