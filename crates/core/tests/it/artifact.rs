use std::path::{Path, PathBuf};

use ferry_core::artifact::ArtifactError;
use ferry_core::registry::RegistryError;
use ferry_core::{LocalRegistry, ModelBundle, ModelRef, Predictions, Registry, Version};
use serde_json::{Map, Value, json};

fn fixture_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/registry")
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), target).unwrap();
        }
    }
}

/// A writable copy of the fixture registry, its version 1 loaded, and that version's
/// config: what a test needs to publish more versions.
fn fixture_copy() -> (tempfile::TempDir, ModelBundle, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_registry(), dir.path());
    let bundle = ModelBundle::load(&dir.path().join("tiny/1")).unwrap();
    let config = fs_err::read_to_string(dir.path().join("tiny/1/config.yaml")).unwrap();
    (dir, bundle, config)
}

fn rows() -> Vec<Map<String, Value>> {
    [
        json!({"pclass": 1, "sex": "female", "age": 29.0, "embarked": "S"}),
        json!({"pclass": 3, "sex": "male", "age": null, "embarked": null}),
        json!({"pclass": 2, "sex": "male", "age": 4, "embarked": "C"}),
    ]
    .into_iter()
    .map(|v| v.as_object().cloned().unwrap())
    .collect()
}

#[test]
fn golden_predictions_of_the_committed_artifact() {
    let registry = LocalRegistry::new(fixture_registry());
    let (resolved, bundle) = registry
        .load(&"tiny@latest".parse::<ModelRef>().unwrap())
        .unwrap();
    assert_eq!(resolved.version, Version(1));
    let frame = bundle.schema().validate_rows(&rows()).unwrap();
    let Predictions::Classes {
        labels,
        probabilities,
        n_classes,
    } = bundle.predict(&frame).unwrap()
    else {
        panic!("a classifier")
    };
    assert_eq!(n_classes, 2);
    let rendered: Vec<String> = labels
        .iter()
        .zip(probabilities.unwrap().chunks(2))
        .map(|(l, p)| format!("{l} {:.12} {:.12}", p[0], p[1]))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"), @r"
    1 0.073008718853 0.926991281147
    0 0.767669744245 0.232330255755
    1 0.416951452603 0.583048547397
    ");
}

fn damaged(edit: impl FnOnce(&Path)) -> ArtifactError {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_registry(), dir.path());
    let version = dir.path().join("tiny/1");
    edit(&version);
    ModelBundle::load(&version).unwrap_err()
}

/// Replaces `from` with `to` in the file at `path`, checking that `from` occurs.
fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs_err::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    fs_err::write(path, text.replace(from, to)).unwrap();
}

/// Rewrites the manifest of version directory `v` through `edit`.
fn edit_manifest(v: &Path, edit: impl FnOnce(&mut Value)) {
    let path = v.join("manifest.json");
    let mut m: Value = serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    edit(&mut m);
    fs_err::write(path, serde_json::to_string(&m).unwrap()).unwrap();
}

#[test]
fn a_modified_file_fails_its_checksum() {
    let err = damaged(|v| replace_in(&v.join("model.json"), "0.6487", "0.6488"));
    assert!(
        matches!(err, ArtifactError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("model.json"), "{err}");
}

#[test]
fn a_newer_format_is_refused() {
    let err = damaged(|v| {
        replace_in(
            &v.join("manifest.json"),
            "\"format_version\": 2",
            "\"format_version\": 99",
        );
    });
    assert!(
        matches!(
            err,
            ArtifactError::UnsupportedFormat {
                found: 99,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_edited_manifest_fails_its_own_checksum() {
    let err = damaged(|v| edit_manifest(v, |m| m["metrics"]["accuracy"] = json!(0.99)));
    assert!(
        matches!(err, ArtifactError::ChecksumMismatch { ref path, .. } if path.ends_with("manifest.json")),
        "{err}"
    );
}

#[test]
fn a_format_1_artifact_is_refused_with_the_advice_to_retrain() {
    let err = damaged(|v| {
        replace_in(
            &v.join("manifest.json"),
            "\"format_version\": 2",
            "\"format_version\": 1",
        );
    });
    assert!(
        matches!(
            err,
            ArtifactError::RetiredFormat {
                found: 1,
                oldest: 2,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("retrain the model with this build's train"),
        "{err}"
    );
}

#[test]
fn a_manifest_with_two_model_files_is_refused() {
    let err = damaged(|v| edit_manifest(v, |m| m["files"]["model.bin"] = json!("00")));
    assert!(matches!(err, ArtifactError::Inconsistent { .. }), "{err}");
}

#[test]
fn publishing_never_makes_visible_what_a_reader_would_refuse() {
    let (dir, bundle, config) = fixture_copy();
    let files = ferry_core::artifact::ArtifactFiles {
        model: bundle.model(),
        preprocessor: bundle.preprocessor(),
        config_yaml: &config,
        reference: None,
    };
    // The fixture's preprocessor.json is larger than 1000 bytes: a registry whose
    // readers stop at 1000 bytes must refuse to publish it, and keep serving version 1.
    let strict = LocalRegistry::new(dir.path()).with_limits(ferry_core::artifact::ReadLimits {
        max_file_bytes: 1000,
    });
    let err = strict
        .publish(bundle.manifest().clone(), &files)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Artifact(ArtifactError::TooLarge { .. })),
        "{err}"
    );
    let registry = LocalRegistry::new(dir.path());
    assert_eq!(
        registry.versions(&"tiny".parse().unwrap()).unwrap(),
        [Version(1)]
    );
    assert_eq!(
        registry.resolve(&"tiny".parse().unwrap()).unwrap().version,
        Version(1)
    );
    let leftovers: Vec<_> = fs_err::read_dir(dir.path().join("tiny"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_missing_file_is_refused() {
    let err = damaged(|v| fs_err::remove_file(v.join("preprocessor.json")).unwrap());
    assert!(matches!(err, ArtifactError::Io(_)), "{err}");
    assert!(err.to_string().contains("preprocessor.json"), "{err}");
}

#[test]
fn a_manifest_without_a_required_file_is_refused() {
    let err = damaged(|v| {
        edit_manifest(v, |m| {
            m["files"].as_object_mut().unwrap().remove("schema.json");
        });
    });
    assert!(
        matches!(err, ArtifactError::MissingFile { ref file, .. } if file == "schema.json"),
        "{err}"
    );
}

#[test]
fn a_path_in_the_manifest_is_refused() {
    let err = damaged(|v| edit_manifest(v, |m| m["files"]["../../etc/passwd"] = json!("00")));
    assert!(matches!(err, ArtifactError::BadFileName { .. }), "{err}");
}

#[test]
fn registry_resolves_aliases_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_registry(), dir.path());
    let registry = LocalRegistry::new(dir.path());
    assert_eq!(
        registry
            .models()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["tiny"]
    );
    let name = "tiny".parse().unwrap();
    registry
        .set_alias(&name, &"production".parse().unwrap(), Version(1))
        .unwrap();
    assert_eq!(
        registry
            .resolve(&"tiny@production".parse().unwrap())
            .unwrap()
            .version,
        Version(1)
    );
    assert_eq!(
        registry
            .resolve(&"tiny/1".parse().unwrap())
            .unwrap()
            .version,
        Version(1)
    );
    assert!(matches!(
        registry.resolve(&"tiny/2".parse().unwrap()),
        Err(RegistryError::VersionNotFound { .. })
    ));
    assert!(matches!(
        registry.resolve(&"tiny@staging".parse().unwrap()),
        Err(RegistryError::AliasNotFound { .. })
    ));
    assert!(matches!(
        registry.set_alias(&name, &"x".parse().unwrap(), Version(5)),
        Err(RegistryError::VersionNotFound { .. })
    ));
}

#[test]
fn publish_never_reuses_a_version_and_moves_latest_forward() {
    let (dir, bundle, config) = fixture_copy();
    let registry = LocalRegistry::new(dir.path());
    let files = ferry_core::artifact::ArtifactFiles {
        model: bundle.model(),
        preprocessor: bundle.preprocessor(),
        config_yaml: &config,
        reference: None,
    };
    let versions: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let published = registry.publish(bundle.manifest().clone(), &files).unwrap();
                    // latest never points below the version just published.
                    assert!(published.latest >= published.resolved.version);
                    published.resolved.version.0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [2, 3, 4, 5]);
    assert_eq!(
        registry.aliases(&"tiny".parse().unwrap()).unwrap()["latest"],
        Version(5)
    );
    // Every published version loads and verifies.
    for v in 2..=5 {
        ModelBundle::load(&dir.path().join(format!("tiny/{v}"))).unwrap();
    }
}

#[test]
fn an_overflowing_prediction_is_refused_for_any_model_kind() {
    use ferry_core::frame::{Column, Frame};
    use ferry_core::model::{ModelKind, Task, TrainingSet, fit};
    use ferry_core::schema::{DType, FeatureSchema, FeatureSpec};
    use ferry_core::{FeatureMatrix, PreprocessSpec};

    let schema = FeatureSchema::new(vec![FeatureSpec {
        name: "x".into(),
        dtype: DType::Numeric,
        nullable: false,
        range: None,
        categories: None,
    }])
    .unwrap();
    let train = Frame::new(vec![Column::Numeric(vec![1.0, 2.0, 3.0, 4.0])]).unwrap();
    let preprocessor = PreprocessSpec::default().fit(&schema, &train).unwrap();
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(vec![1.0, 2.0, 3.0, 4.0], 4, 1).unwrap(),
        y: ferry_core::model::Target::Values(vec![10.0, 20.0, 30.0, 40.0]),
        seed: 0,
    };
    let spec = ferry_core::ModelSpec::LinearRegression(Default::default())
        .validate()
        .unwrap();
    let model = fit(&spec, &data).unwrap();
    let mut manifest = ModelBundle::load(&fixture_registry().join("tiny/1"))
        .unwrap()
        .manifest()
        .clone();
    manifest.model_kind = ModelKind::LinearRegression;
    manifest.task = Task::Regression;
    manifest.classes = None;
    let bundle = ModelBundle::new(
        manifest,
        ferry_core::Predictor::new(preprocessor, model).unwrap(),
    )
    .unwrap();

    let ok = Frame::new(vec![Column::Numeric(vec![5.0])]).unwrap();
    assert!(
        matches!(bundle.predict(&ok).unwrap(), Predictions::Values(v) if (v[0] - 50.0).abs() < 1e-9)
    );
    let huge = Frame::new(vec![Column::Numeric(vec![5.0, f64::MAX])]).unwrap();
    let err = bundle.predict(&huge).unwrap_err();
    assert_eq!(
        err,
        ferry_core::model::PredictError::InvalidValues(vec![ferry_core::schema::RowErrors {
            row: 1,
            errors: vec![ferry_core::schema::SchemaError::TooLarge {
                name: "x".into(),
                found: f64::MAX
            }]
        }])
    );
    assert!(err.is_caller_error());
}
