//! Stage `promote`: moves the configured alias (`output.promote`) to the new version
//! when asked and deserved, comparing it with the alias's current version on this run's
//! test rows when `require_better` says so. A promotion that cannot happen is reported,
//! never an error: the version is registered either way.

use std::collections::BTreeMap;

use ferry_core::metrics::Metric;
use ferry_core::schema::TargetValue;
use ferry_core::{Frame, ModelRef, Version};

use crate::config::Pipeline;
use crate::fitting::score;
use crate::report::Promotion;

/// Moves the `promote` alias to `version` when asked and deserved: always when there is
/// no current version or no comparison is required, else when the new version beats the
/// current one on the promotion metric, both scored on `test_frame`. `None` when the
/// config asks for no promotion.
pub fn promote(
    pipeline: &Pipeline,
    registry: &dyn ferry_core::Registry,
    version: Version,
    candidate: &BTreeMap<Metric, f64>,
    test_frame: &Frame,
    target: &[TargetValue],
    test_rows: &[usize],
) -> Option<Promotion> {
    let config = pipeline.promote()?;
    let name = pipeline.model_name();
    let metric = config.metric;
    let value = candidate.get(&metric).copied().unwrap_or(f64::NAN);
    let mut outcome = Promotion {
        alias: config.alias.to_string(),
        promoted: false,
        previous: None,
        metric,
        candidate: value,
        current: None,
        reason: String::new(),
    };
    let previous = match registry.aliases(name) {
        Ok(aliases) => aliases.get(&config.alias).copied(),
        Err(e) => {
            outcome.reason = format!("cannot read the aliases of {name}: {e}");
            return Some(outcome);
        }
    };
    outcome.previous = previous.map(|v| v.0);
    // Whether the new version deserves the alias, and why (or why not).
    let (deserved, why) = match previous {
        None => (true, format!("{} had no version", config.alias)),
        Some(_) if !config.require_better => (true, "no comparison required".to_owned()),
        Some(current) => match registry.load(&ModelRef::Version(name.clone(), current)) {
            Err(e) => (false, unscored(current, &e)),
            Ok((_, bundle)) => {
                match score(pipeline, bundle.predictor(), test_frame, target, test_rows) {
                    Err(e) => (false, unscored(current, &e)),
                    Ok(values) => {
                        let old = values.get(&metric).copied().unwrap_or(f64::NAN);
                        outcome.current = Some(old);
                        let beats = metric.better(value, old);
                        let verb = if beats { "beats" } else { "does not beat" };
                        (
                            beats,
                            format!(
                                "{metric} {value:.4} {verb} version {current}'s {old:.4} on the same {} test rows",
                                test_rows.len()
                            ),
                        )
                    }
                }
            }
        },
    };
    outcome.reason = if !deserved {
        why
    } else {
        match registry.set_alias(name, &config.alias, version) {
            Ok(()) => {
                outcome.promoted = true;
                why
            }
            Err(e) => format!("{why}, but the alias could not be moved: {e}"),
        }
    };
    tracing::info!(
        alias = %config.alias,
        promoted = outcome.promoted,
        reason = %outcome.reason,
        "Promotion."
    );
    Some(outcome)
}

/// Why version `current` could not be compared.
fn unscored(current: Version, error: &dyn std::fmt::Display) -> String {
    format!("version {current} cannot be scored on this run's test rows: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fixture;
    use crate::stages::split::split_frame;
    use ferry_core::Registry;
    use ferry_core::artifact::{ArtifactFiles, Manifest};

    #[test]
    fn without_a_promote_section_nothing_moves_and_with_one_the_first_version_is_promoted() {
        let mut pipeline = fixture::pipeline();
        let (dir, dataset) = fixture::dataset(&pipeline);
        let frames = split_frame(&pipeline, &dataset, dataset.frame.clone()).unwrap();
        let registry = ferry_core::LocalRegistry::new(dir.path().join("registry"));
        let values = BTreeMap::from([(Metric::Accuracy, 0.8)]);
        let promote_now = |pipeline: &Pipeline, version| {
            promote(
                pipeline,
                &registry,
                version,
                &values,
                &frames.test,
                &dataset.target,
                &frames.split.test,
            )
        };
        assert!(promote_now(&pipeline, Version(1)).is_none());

        // A real version to point at: the fixture artifact's manifest with this model.
        let predictor = fixture::predictor(&pipeline, &dataset, &frames);
        let fixture_manifest = ferry_core::ModelBundle::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/registry/tiny/1"),
        )
        .unwrap()
        .manifest()
        .clone();
        let manifest = Manifest {
            version: Version(0),
            ..fixture_manifest
        };
        let files = ArtifactFiles {
            model: predictor.model(),
            preprocessor: predictor.preprocessor(),
            config_yaml: "{}",
            reference: None,
        };
        let published = registry.publish(manifest, &files).unwrap();
        pipeline.promote = Some(crate::config::Promote {
            alias: "production".parse().unwrap(),
            require_better: false,
            metric: Metric::Accuracy,
        });
        let outcome = promote_now(&pipeline, published.resolved.version).unwrap();
        assert!(outcome.promoted, "{}", outcome.reason);
        assert_eq!(outcome.reason, "production had no version");
        let aliases = registry.aliases(&published.resolved.name).unwrap();
        assert_eq!(
            aliases.get(&"production".parse::<ferry_core::AliasName>().unwrap()),
            Some(&published.resolved.version)
        );
    }
}
