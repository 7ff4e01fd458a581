use std::path::{Path, PathBuf};

use super::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // configs/serve.yaml is the server's config, parsed by serve's tests.
        .filter(|p| p.file_name().is_some_and(|n| n != "serve.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_config_validates() {
    let mut files = yaml_files(&workspace().join("configs"));
    files.extend(yaml_files(&workspace().join("tests/fixtures/pipelines")));
    assert!(files.len() >= 4, "{files:?}");
    let mut kinds = Vec::new();
    for file in files {
        let pipeline =
            Pipeline::from_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        kinds.push(pipeline.config().model.kind());
    }
    // The issue's three examples: logistic regression, a random forest, a regression.
    for kind in [
        ModelKind::LogisticRegression,
        ModelKind::RandomForestClassifier,
        ModelKind::LinearRegression,
    ] {
        assert!(kinds.contains(&kind), "no example config for {kind}");
    }
}

fn iris_with(edit: impl FnOnce(String) -> String) -> Result<Pipeline, RunError> {
    let text = fs_err::read_to_string(workspace().join("configs/iris.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iris.yaml");
    let data = workspace().join("data/iris.csv");
    let text = edit(text.replace("../data/iris.csv", data.to_str().unwrap()));
    fs_err::write(&path, text).unwrap();
    Pipeline::from_file(&path)
}

#[test]
fn a_misspelled_key_names_the_key_its_path_and_line() {
    let err = iris_with(|t| t.replace("  test_fraction: 0.2", "  test_fracton: 0.2")).unwrap_err();
    let RunError::Yaml { source, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(source.path, "split");
    assert!(
        source
            .message
            .starts_with("unknown field `test_fracton`, expected one of"),
        "{}",
        source.message
    );
    assert_eq!(source.location.map(|l| l.0), Some(19));
}

#[test]
fn a_misspelled_hyperparameter_names_its_section_and_its_own_line() {
    let err = iris_with(|t| t.replace("  alpha: 1.0", "  alpah: 1.0")).unwrap_err();
    let RunError::Yaml { source, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(source.path, "model");
    assert_eq!(
        source.message, "unknown field `alpah`, expected `alpha`",
        "{source:?}"
    );
    let line = fs_err::read_to_string(workspace().join("configs/iris.yaml"))
        .unwrap()
        .lines()
        .position(|l| l == "  alpha: 1.0")
        .unwrap()
        + 1;
    assert_eq!(source.location.map(|l| l.0), Some(line));
}

#[test]
fn a_hyperparameter_of_the_wrong_type_names_its_path_with_type_written_last() {
    let err = iris_with(|t| {
        t.replace(
            "  type: logistic_regression\n  alpha: 1.0",
            "  alpha: lots\n  type: logistic_regression",
        )
    })
    .unwrap_err();
    let RunError::Yaml { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(source.path.starts_with("model"), "{source:?}");
    assert!(source.message.contains("invalid type"), "{source:?}");
    assert!(source.message.contains("lots"), "{source:?}");
}

#[test]
fn every_invalid_value_is_reported_at_once_with_its_path() {
    let err = iris_with(|t| {
        t.replace("model_name: iris", "model_name: Iris!")
            .replace("test_fraction: 0.2", "test_fraction: 1.5")
            .replace(
                "columns: [sepal_length, sepal_width, petal_length, petal_width]",
                "columns: [sepal_length, petal]",
            )
            .replace("alpha: 1.0", "alpha: -2")
            .replace("metrics: [accuracy,", "metrics: [rmse, accuracy,")
            .replace(
                "target: {name: species, dtype: categorical}",
                "target: {name: species, dtype: numeric}",
            )
            .replace(
                "{metric: accuracy, min: 0.85}",
                "{metric: accuracy, min: 0.85, max: 0.8}",
            )
    })
    .unwrap_err();
    let RunError::Config { errors, .. } = err else {
        panic!("{err}")
    };
    insta::assert_snapshot!(errors.to_string(), @r#"
    7 configuration errors
      - output.model_name: invalid model name "Iris!": expected 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit
      - schema.target.dtype: logistic_regression needs a categorical, integer or boolean target, found numeric
      - preprocessing.steps[0].columns[1]: unknown feature 'petal'
      - model.alpha: expected a finite number >= 0, found -2
      - split.test_fraction: expected a number strictly between 0 and 1, found 1.5
      - evaluation.metrics[0]: rmse does not apply to logistic_regression
      - evaluation.gates[0]: min 0.85 is greater than max 0.8
    "#);
}

#[test]
fn a_grid_builds_every_combination_in_order() {
    let pipeline = iris_with(|t| {
        t.replace(
            "output:",
            "search:\n  grid: {alpha: [0.1, 1.0, 10.0]}\n  metric: f1_macro\n  folds: 3\noutput:",
        )
    })
    .unwrap();
    let search = pipeline.search().unwrap();
    assert_eq!(search.candidates.len(), 3);
    assert_eq!(search.folds, 3);
    assert_eq!(search.metric, Metric::F1Macro);
    let alphas: Vec<String> = search
        .candidates
        .iter()
        .map(|c| serde_json::to_string(&c.spec).unwrap())
        .collect();
    assert_eq!(
        alphas,
        [
            r#"{"type":"logistic_regression","alpha":0.1}"#,
            r#"{"type":"logistic_regression","alpha":1.0}"#,
            r#"{"type":"logistic_regression","alpha":10.0}"#,
        ]
    );
    assert!(pipeline.metrics().contains(&Metric::F1Macro));
}

#[test]
fn grid_promote_and_cv_mistakes_are_reported_at_their_paths() {
    let err = iris_with(|t| {
        t.replace(
            "output:",
            "search:\n  grid: {alpah: [1.0], alpha: [1.0, -3], type: [lasso]}\n  \
             metric: rmse\n  folds: 1\npromote: {alias: latest}\noutput:",
        )
        .replace(
            "    - {metric: accuracy, min: 0.85}",
            "    - {metric: accuracy, min: 0.85}\n  cv: {folds: 500}",
        )
    })
    .unwrap_err();
    let RunError::Config { errors, .. } = err else {
        panic!("{err}")
    };
    insta::assert_snapshot!(errors.to_string(), @r"
    8 configuration errors
      - evaluation.cv.folds: expected a number of folds from 2 to 100, found 500
      - search.folds: expected a number of folds from 2 to 100, found 1
      - search.metric: rmse does not apply to logistic_regression
      - search.grid.type: a search varies the hyperparameters of one model type
      - search.grid.alpah: unknown field `alpah`, expected `alpha`
      - search.grid.alpha: expected a finite number >= 0, found -3
      - promote.metric: rmse does not apply to logistic_regression
      - promote.alias: every registered version moves latest; name another alias (production)
    ");
}

#[test]
fn the_output_registry_is_a_directory_beside_the_config_or_a_bucket() {
    let local = iris_with(|t| {
        t.replace(
            "  model_name: iris",
            "  model_name: iris\n  registry: models",
        )
    })
    .unwrap();
    // Resolved against the config file's directory (a temporary one here).
    assert!(
        matches!(local.registry(), Some(RegistryLocation::Local(p)) if p.ends_with("models") && p.is_absolute()),
        "{:?}",
        local.registry()
    );
    let bucket = iris_with(|t| {
        t.replace(
            "  model_name: iris",
            "  model_name: iris\n  registry: s3://models/prod",
        )
    })
    .unwrap();
    assert_eq!(bucket.registry().unwrap().to_string(), "s3://models/prod");
    let err = iris_with(|t| {
        t.replace(
            "  model_name: iris",
            "  model_name: iris\n  registry: mlflow://host:5000",
        )
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("output.registry: unsupported registry location \"mlflow://host:5000\""),
        "{err}"
    );
}

#[test]
fn tracking_names_an_mlflow_server_an_experiment_and_an_alias_mlflow_accepts() {
    let tracked = iris_with(|t| {
        format!("{t}\ntracking:\n  mlflow: {{uri: http://127.0.0.1:5000/, alias: champion}}\n")
    })
    .unwrap();
    let tracking = tracked.tracking().unwrap();
    assert_eq!(tracking.url.base(), "http://127.0.0.1:5000");
    assert_eq!(tracking.experiment, "iris", "the model name by default");
    assert!(tracking.register);
    assert_eq!(tracking.alias.as_ref().unwrap().as_str(), "champion");
    let registry = iris_with(|t| {
        t.replace(
            "  model_name: iris",
            "  model_name: iris\n  registry: mlflow+http://127.0.0.1:5000",
        )
    })
    .unwrap();
    assert_eq!(
        registry.registry().unwrap().to_string(),
        "mlflow+http://127.0.0.1:5000"
    );
    for (section, expected) in [
        (
            "{uri: ftp://h, experiment: x}",
            "tracking.mlflow.uri: unsupported registry location \"ftp://h\"",
        ),
        (
            "{uri: http://h, alias: latest}",
            "tracking.mlflow.alias: MLflow reserves 'latest'",
        ),
        (
            "{uri: http://h, alias: v2}",
            "tracking.mlflow.alias: MLflow reserves aliases of the form v<number> ('v2')",
        ),
        (
            "{uri: http://h, experiment: ' '}",
            "tracking.mlflow.experiment: expected a name",
        ),
        ("{uri: http://h, token: x}", "unknown field `token`"),
    ] {
        let err = iris_with(|t| format!("{t}\ntracking:\n  mlflow: {section}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{section}: {err}");
    }
}
