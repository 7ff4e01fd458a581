//! The contract suite every [`Registry`] implementation must pass.
//!
//! Each check takes a fresh, empty registry and panics with a message naming the broken
//! rule. An implementation's tests run every entry of [`CHECKS`] against a new instance
//! each (the local registry's do so in `registry::tests`); the MLflow registry will run
//! the same list against a real MLflow server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test suite: a failed expectation is a failed check"
)]

use std::collections::BTreeMap;

use super::{AliasName, ModelName, ModelRef, Published, Registry, RegistryError, Version};
use crate::artifact::{ArtifactFiles, FORMAT_VERSION, Manifest, RowCounts};
use crate::frame::{Column, FeatureMatrix, Frame};
use crate::model::{self, Model, ModelKind, ModelSpec, Target, Task, TrainingSet};
use crate::predictor::Predictor;
use crate::preprocess::PreprocessSpec;
use crate::schema::{DType, FeatureSchema, FeatureSpec, TargetSpec};

/// One check: a name and the function that runs it on an empty registry.
pub type Check = (&'static str, fn(&dyn Registry));

/// Every check of the contract.
pub const CHECKS: &[Check] = &[
    (
        "an empty registry lists nothing",
        empty_registry_lists_nothing,
    ),
    (
        "publish numbers versions 1, 2, 3 and moves latest",
        publish_numbers_versions,
    ),
    (
        "concurrent publishes never share a version",
        concurrent_publishes_never_share,
    ),
    (
        "aliases are set, resolved, listed and deleted",
        aliases_round_trip,
    ),
    (
        "unsafe alias names are refused",
        unsafe_alias_names_are_refused,
    ),
    (
        "unknown references are named errors",
        unknown_references_are_named_errors,
    ),
    (
        "a loaded version predicts as published",
        loaded_version_predicts_as_published,
    ),
    (
        "a healthy registry has no garbage to collect",
        healthy_registry_has_no_garbage,
    ),
    (
        "rollback walks an alias back through its history",
        rollback_walks_back,
    ),
    (
        "a version is deleted only when no alias but latest points to it",
        delete_version_respects_aliases,
    ),
    (
        "run records are written, listed and read back",
        run_records_round_trip,
    ),
    (
        "search cells are written, replaced and read back by index",
        search_cells_round_trip,
    ),
];

/// A small linear model `y = 2x + 1` with its manifest draft, ready to publish as
/// `name`.
fn sample(name: &str) -> (Manifest, Predictor, String) {
    let schema = FeatureSchema::new(vec![FeatureSpec {
        name: "x".into(),
        dtype: DType::Numeric,
        nullable: false,
        range: None,
        categories: None,
    }])
    .unwrap();
    let xs = vec![0.0, 1.0, 2.0, 3.0];
    let frame = Frame::new(vec![Column::Numeric(xs.clone())]).unwrap();
    let preprocessor = PreprocessSpec::default().fit(&schema, &frame).unwrap();
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(xs.clone(), 4, 1).unwrap(),
        y: Target::Values(xs.iter().map(|x| 2.0 * x + 1.0).collect()),
        seed: 0,
    };
    let spec = ModelSpec::LinearRegression(Default::default())
        .validate()
        .unwrap();
    let fitted = model::fit(&spec, &data).unwrap();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: name.parse().unwrap(),
        version: Version(0),
        model_kind: fitted.kind(),
        task: Task::Regression,
        created_at: "2026-01-01T00:00:00Z".into(),
        git_sha: None,
        config_sha256: String::new(),
        data_sha256: "0".repeat(64),
        target: TargetSpec {
            name: "y".into(),
            dtype: DType::Numeric,
        },
        classes: None,
        rows: RowCounts::default(),
        metrics: BTreeMap::new(),
        library_versions: BTreeMap::new(),
        files: BTreeMap::new(),
        manifest_sha256: String::new(),
    };
    let predictor = Predictor::new(preprocessor, fitted).unwrap();
    (
        manifest,
        predictor,
        "model: {type: linear_regression}\n".to_owned(),
    )
}

/// Publishes the sample model as `name`.
pub fn publish(registry: &dyn Registry, name: &str) -> Published {
    let (manifest, predictor, config) = sample(name);
    let files = ArtifactFiles {
        model: predictor.model(),
        preprocessor: predictor.preprocessor(),
        config_yaml: &config,
        reference: None,
    };
    registry.publish(manifest, &files).unwrap()
}

fn healthy_registry_has_no_garbage(registry: &dyn Registry) {
    assert!(registry.collect_garbage(true).unwrap().is_empty());
    publish(registry, "gc");
    publish(registry, "gc");
    registry
        .set_alias(&name("gc"), &alias("production"), Version(1))
        .unwrap();
    assert_eq!(registry.collect_garbage(false).unwrap(), []);
    assert_eq!(
        registry.versions(&name("gc")).unwrap(),
        [Version(1), Version(2)]
    );
}

fn rollback_walks_back(registry: &dyn Registry) {
    let (m, prod) = (name("rb"), alias("production"));
    for _ in 0..3 {
        publish(registry, "rb");
    }
    let rollback_err = registry.rollback_alias(&m, &prod).unwrap_err();
    assert!(
        matches!(rollback_err, RegistryError::NoEarlierVersion { .. }),
        "{rollback_err}"
    );
    registry.set_alias(&m, &prod, Version(1)).unwrap();
    registry.set_alias(&m, &prod, Version(3)).unwrap();
    registry.set_alias(&m, &prod, Version(2)).unwrap();
    assert_eq!(
        registry.alias_history(&m, &prod).unwrap(),
        [None, Some(Version(1)), Some(Version(3)), Some(Version(2))]
    );
    assert_eq!(
        registry.rollback_alias(&m, &prod).unwrap(),
        Some(Version(3))
    );
    assert_eq!(registry.aliases(&m).unwrap().get(&prod), Some(&Version(3)));
    assert_eq!(
        registry.rollback_alias(&m, &prod).unwrap(),
        Some(Version(1))
    );
    // Back before the alias existed: it is gone.
    assert_eq!(registry.rollback_alias(&m, &prod).unwrap(), None);
    assert!(!registry.aliases(&m).unwrap().contains_key(&prod));
    assert!(registry.rollback_alias(&m, &prod).is_err());
    // A deletion is a change too.
    registry.set_alias(&m, &prod, Version(2)).unwrap();
    registry.delete_alias(&m, &prod).unwrap();
    assert_eq!(
        registry.rollback_alias(&m, &prod).unwrap(),
        Some(Version(2))
    );
}

fn delete_version_respects_aliases(registry: &dyn Registry) {
    let m = name("del");
    for _ in 0..3 {
        publish(registry, "del");
    }
    registry
        .set_alias(&m, &alias("production"), Version(2))
        .unwrap();
    let err = registry.delete_version(&m, Version(2)).unwrap_err();
    assert!(matches!(err, RegistryError::VersionInUse { .. }), "{err}");
    assert!(err.to_string().contains("'production'"), "{err}");
    assert!(
        registry
            .load(&ModelRef::Version(m.clone(), Version(2)))
            .is_ok()
    );
    // latest moves down instead of blocking.
    registry.delete_version(&m, Version(3)).unwrap();
    assert_eq!(registry.versions(&m).unwrap(), [Version(1), Version(2)]);
    assert_eq!(
        registry.aliases(&m).unwrap().get(&alias("latest")),
        Some(&Version(2))
    );
    let missing = registry.delete_version(&m, Version(3)).unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    // The number is never reused.
    assert_eq!(publish(registry, "del").resolved.version, Version(4));
    assert!(registry.collect_garbage(true).unwrap().is_empty());
}

fn run_records_round_trip(registry: &dyn Registry) {
    let m = name("runs");
    assert!(registry.runs(&m).unwrap().is_empty());
    // A model whose only run failed has a record and no version.
    registry
        .write_run(&m, "20261124T101500Z-2", br#"{"status":"failed"}"#)
        .unwrap();
    registry
        .write_run(&m, "20261124T101400Z-1", br#"{"status":"registered"}"#)
        .unwrap();
    assert_eq!(
        registry.runs(&m).unwrap(),
        ["20261124T101400Z-1", "20261124T101500Z-2"]
    );
    assert_eq!(
        registry.models_with_runs().unwrap(),
        std::slice::from_ref(&m)
    );
    assert!(registry.models().unwrap().is_empty());
    assert_eq!(
        registry.read_run(&m, "20261124T101500Z-2").unwrap(),
        br#"{"status":"failed"}"#
    );
    for bad in ["../x", "", ".hidden", "a/b", "nope"] {
        let err = registry.read_run(&m, bad).unwrap_err();
        assert!(
            matches!(err, RegistryError::RunNotFound { .. }),
            "{bad}: {err}"
        );
    }
    assert!(registry.write_run(&m, "../escape", b"{}").is_err());
    assert!(registry.collect_garbage(true).unwrap().is_empty());
}

fn search_cells_round_trip(registry: &dyn Registry) {
    let m = name("grid");
    assert!(registry.search_cells(&m, "abc123").unwrap().is_empty());
    registry
        .write_search_cell(&m, "abc123", 2, b"{\"cell\":2}")
        .unwrap();
    registry
        .write_search_cell(&m, "abc123", 0, b"{\"old\":0}")
        .unwrap();
    registry
        .write_search_cell(&m, "abc123", 0, b"{\"cell\":0}")
        .unwrap();
    registry.write_search_cell(&m, "other", 1, b"{}").unwrap();
    let cells = registry.search_cells(&m, "abc123").unwrap();
    assert_eq!(
        cells.into_iter().collect::<Vec<_>>(),
        [(0, b"{\"cell\":0}".to_vec()), (2, b"{\"cell\":2}".to_vec())]
    );
    assert!(registry.write_search_cell(&m, "../x", 0, b"{}").is_err());
    assert!(registry.search_cells(&m, "a/b").is_err());
    // Cells are not versions, runs or garbage.
    assert!(registry.models().unwrap().is_empty());
    assert!(registry.runs(&m).unwrap().is_empty());
    assert!(registry.collect_garbage(true).unwrap().is_empty());
}

fn name(s: &str) -> ModelName {
    s.parse().unwrap()
}

fn alias(s: &str) -> AliasName {
    s.parse().unwrap()
}

fn empty_registry_lists_nothing(registry: &dyn Registry) {
    assert!(registry.models().unwrap().is_empty());
    assert!(registry.versions(&name("m")).unwrap().is_empty());
    assert!(registry.aliases(&name("m")).unwrap().is_empty());
}

fn publish_numbers_versions(registry: &dyn Registry) {
    for expected in 1..=3 {
        let published = publish(registry, "m");
        assert_eq!(published.resolved.version, Version(expected));
        assert_eq!(published.manifest.version, Version(expected));
        assert_eq!(published.latest, Version(expected));
        assert!(!published.manifest.manifest_sha256.is_empty());
    }
    publish(registry, "other");
    assert_eq!(registry.models().unwrap(), [name("m"), name("other")]);
    assert_eq!(
        registry.versions(&name("m")).unwrap(),
        [Version(1), Version(2), Version(3)]
    );
    assert_eq!(
        registry.resolve(&"m".parse().unwrap()).unwrap().version,
        Version(3)
    );
    assert_eq!(
        registry.aliases(&name("m")).unwrap()[&AliasName::latest()],
        Version(3)
    );
}

fn concurrent_publishes_never_share(registry: &dyn Registry) {
    let mut versions: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let published = publish(registry, "m");
                    // latest never points below the version just published.
                    assert!(published.latest >= published.resolved.version);
                    published.resolved.version.0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    versions.sort_unstable();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        registry.aliases(&name("m")).unwrap()[&AliasName::latest()],
        Version(6)
    );
    for v in 1..=6 {
        registry
            .load(&ModelRef::Version(name("m"), Version(v)))
            .unwrap();
    }
}

fn aliases_round_trip(registry: &dyn Registry) {
    publish(registry, "m");
    publish(registry, "m");
    let m = name("m");
    registry
        .set_alias(&m, &alias("production"), Version(1))
        .unwrap();
    assert_eq!(
        registry
            .resolve(&"m@production".parse().unwrap())
            .unwrap()
            .version,
        Version(1)
    );
    let listed = registry.aliases(&m).unwrap();
    assert_eq!(listed[&alias("production")], Version(1));
    assert_eq!(listed[&AliasName::latest()], Version(2));
    registry
        .set_alias(&m, &alias("production"), Version(2))
        .unwrap();
    assert_eq!(
        registry.aliases(&m).unwrap()[&alias("production")],
        Version(2)
    );
    assert!(matches!(
        registry.set_alias(&m, &alias("production"), Version(9)),
        Err(RegistryError::VersionNotFound { .. })
    ));
    registry.delete_alias(&m, &alias("production")).unwrap();
    assert!(matches!(
        registry.resolve(&"m@production".parse().unwrap()),
        Err(RegistryError::AliasNotFound { .. })
    ));
    assert!(matches!(
        registry.delete_alias(&m, &alias("production")),
        Err(RegistryError::AliasNotFound { .. })
    ));
}

fn unsafe_alias_names_are_refused(registry: &dyn Registry) {
    publish(registry, "m");
    let too_long = "a".repeat(65);
    for bad in ["../x", "", "..", "a/b", "Prod", ".x", too_long.as_str()] {
        let err = bad.parse::<AliasName>().unwrap_err();
        assert!(err.to_string().contains("invalid alias"), "{bad:?}: {err}");
        assert!(format!("m@{bad}").parse::<ModelRef>().is_err(), "{bad:?}");
    }
    // Nothing outside the registry's own aliases is listed.
    assert_eq!(
        registry
            .aliases(&name("m"))
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [&AliasName::latest()]
    );
}

fn unknown_references_are_named_errors(registry: &dyn Registry) {
    assert!(matches!(
        registry.resolve(&"ghost".parse().unwrap()),
        Err(RegistryError::ModelNotFound(_))
    ));
    publish(registry, "m");
    let err = registry.resolve(&"m/7".parse().unwrap()).unwrap_err();
    assert!(
        matches!(err, RegistryError::VersionNotFound { .. }),
        "{err}"
    );
    assert_eq!(err.to_string(), "model 'm' has no version 7");
    let err = registry.resolve(&"m@staging".parse().unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "model 'm' has no alias 'staging'");
    assert!(err.is_not_found());
    assert!(matches!(
        registry.set_alias(&name("ghost"), &alias("x"), Version(1)),
        Err(RegistryError::VersionNotFound { .. })
    ));
}

fn loaded_version_predicts_as_published(registry: &dyn Registry) {
    let published = publish(registry, "m");
    let (resolved, bundle) = registry.load(&"m@latest".parse().unwrap()).unwrap();
    assert_eq!(resolved, published.resolved);
    assert_eq!(bundle.manifest(), &published.manifest);
    assert_eq!(bundle.manifest().model_kind, ModelKind::LinearRegression);
    let frame = Frame::new(vec![Column::Numeric(vec![10.0])]).unwrap();
    let model::Predictions::Values(v) = bundle.predict(&frame).unwrap() else {
        panic!("a regressor")
    };
    assert!((v[0] - 21.0).abs() < 1e-9, "{v:?}");
}
