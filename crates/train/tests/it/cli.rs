use std::process::Command;

use crate::{report, train, workspace, write_config};

#[test]
fn titanic_twice_gives_versions_1_and_2_with_identical_model_bytes() {
    let registry = tempfile::tempdir().unwrap();
    let first = report(&train(
        &["--config", "configs/titanic.yaml", "--json"],
        registry.path(),
    ));
    let second = report(&train(
        &["--config", "configs/titanic.yaml", "--json"],
        registry.path(),
    ));
    assert_eq!(first["version"], 1);
    assert_eq!(second["version"], 2);
    assert_eq!(first["model_sha256"], second["model_sha256"]);
    assert_eq!(first["metrics"], second["metrics"]);
    let latest = fs_err::read_to_string(registry.path().join("titanic/aliases/latest")).unwrap();
    assert_eq!(latest.trim(), "2");
    let a = fs_err::read(registry.path().join("titanic/1/model.bin")).unwrap();
    let b = fs_err::read(registry.path().join("titanic/2/model.bin")).unwrap();
    assert!(a == b, "model.bin differs between identical runs");
    assert!(
        first["metrics"]["accuracy"].as_f64().unwrap() > 0.75,
        "{first}"
    );
}

#[test]
fn concurrent_runs_get_different_versions() {
    let registry = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_train"))
            .args(["--config", "configs/iris.yaml", "--json"])
            .env("FERRY_REGISTRY", registry.path())
            .current_dir(workspace())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    let mut versions: Vec<u64> = children
        .into_iter()
        .map(|c| {
            report(&c.wait_with_output().unwrap())["version"]
                .as_u64()
                .unwrap()
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [1, 2, 3]);
    let latest = fs_err::read_to_string(registry.path().join("iris/aliases/latest")).unwrap();
    assert_eq!(latest.trim(), "3");
}

#[test]
fn every_example_config_trains() {
    let registry = tempfile::tempdir().unwrap();
    for (config, metric, floor) in [
        ("configs/iris.yaml", "accuracy", 0.9),
        ("configs/titanic.yaml", "roc_auc", 0.8),
        ("configs/diabetes.yaml", "r2", 0.4),
        ("configs/diabetes_forest.yaml", "r2", 0.4),
        ("configs/diabetes_tree.yaml", "r2", 0.2),
        ("configs/diabetes_ridge.yaml", "r2", 0.4),
        ("configs/diabetes_lasso.yaml", "r2", 0.4),
        ("configs/diabetes_elastic_net.yaml", "r2", 0.4),
        ("configs/diabetes_knn.yaml", "r2", 0.3),
        ("configs/diabetes_extra_trees.yaml", "r2", 0.4),
        ("configs/wine.yaml", "accuracy", 0.85),
        ("configs/wine_logistic.yaml", "accuracy", 0.9),
        ("configs/wine_forest.yaml", "accuracy", 0.9),
        ("configs/iris_forest.yaml", "accuracy", 0.9),
        ("configs/iris_knn.yaml", "accuracy", 0.9),
        ("configs/wine_gaussian_nb.yaml", "accuracy", 0.9),
        ("configs/titanic_multinomial_nb.yaml", "roc_auc", 0.75),
        ("configs/titanic_bernoulli_nb.yaml", "roc_auc", 0.75),
        ("configs/titanic_categorical_nb.yaml", "roc_auc", 0.75),
        ("configs/breast_cancer_svc.yaml", "accuracy", 0.9),
        ("configs/iris_svc.yaml", "accuracy", 0.9),
        ("configs/diabetes_svr.yaml", "r2", 0.4),
        ("configs/breast_cancer.yaml", "roc_auc", 0.95),
        ("configs/breast_cancer_forest.yaml", "roc_auc", 0.95),
        ("configs/titanic_logistic.yaml", "roc_auc", 0.8),
        ("configs/diamonds_linear.yaml", "r2", 0.9),
        ("configs/diamonds_ridge.yaml", "r2", 0.9),
    ] {
        let r = report(&train(&["--config", config, "--json"], registry.path()));
        let value = r["metrics"][metric].as_f64().unwrap();
        assert!(value > floor, "{config}: {metric} = {value}");
    }
    // configs/diamonds_forest.yaml (100 fully grown trees on 43,152 rows) is trained by
    // the parity tests with fewer trees and measured by bench/; it validates here.
    let out = train(
        &["validate", "configs/diamonds_forest.yaml"],
        registry.path(),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_titanic_forest_gives_calibrated_probabilities() {
    // scikit-learn's forest with the same hyperparameters: log loss 0.44 +- 0.06 (5-fold
    // CV) at the same accuracy. Averaging leaf class distributions (not hard votes)
    // must land within 0.1 of it.
    let registry = tempfile::tempdir().unwrap();
    let r = report(&train(
        &["--config", "configs/titanic.yaml", "--json"],
        registry.path(),
    ));
    let log_loss = r["metrics"]["log_loss"].as_f64().unwrap();
    assert!(log_loss < 0.54, "log_loss = {log_loss}");
    assert!(r["metrics"]["accuracy"].as_f64().unwrap() > 0.75, "{r}");
}

#[test]
fn a_misspelled_key_exits_2_naming_the_key_and_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs_err::read_to_string(workspace().join("configs/iris.yaml"))
        .unwrap()
        .replace("../data/", "DATA/");
    let config = write_config(
        dir.path(),
        "bad.yaml",
        &text.replace("  seed: 42", "  sead: 42"),
    );
    let out = train(&["--config", config.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("split: unknown field `sead`"), "{stderr}");
    assert!(stderr.contains("line 20"), "{stderr}");
    // Said once, not again as its own cause.
    assert_eq!(
        stderr.matches("unknown field `sead`").count(),
        1,
        "{stderr}"
    );
    // validate says the same, with the same code.
    let out = train(&["validate", config.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `sead`"));
}

#[test]
fn validate_accepts_the_examples_and_trains_nothing() {
    let registry = tempfile::tempdir().unwrap();
    let out = train(&["validate", "configs/titanic.yaml"], registry.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configs/titanic.yaml: valid (random_forest_classifier model 'titanic')\n"
    );
    // Failed runs are recorded, never registered.
    assert!(!registry.path().join("xgboost-binary/1").exists());
}

#[test]
fn a_failed_gate_exits_1_and_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs_err::read_to_string(workspace().join("configs/iris.yaml"))
        .unwrap()
        .replace("../data/", "DATA/")
        .replace(
            "{metric: accuracy, min: 0.85}",
            "{metric: accuracy, min: 0.999}",
        );
    let config = write_config(dir.path(), "strict.yaml", &text);
    let registry = dir.path().join("registry");
    let out = train(&["--config", config.to_str().unwrap()], &registry);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("quality gates failed"), "{stderr}");
    assert!(
        stderr.contains("accuracy = 0.9667, min 0.999: FAILED"),
        "{stderr}"
    );
    assert!(!registry.join("iris/1").exists());

    // --json reports the failed run too: status, reason, metrics and gates.
    let out = train(&["--config", config.to_str().unwrap(), "--json"], &registry);
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status"], "gates_failed", "{r}");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["model"], "iris");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("accuracy = 0.9667, min 0.999: FAILED"),
        "{r}"
    );
    assert!((r["metrics"]["accuracy"].as_f64().unwrap() - 0.9667).abs() < 1e-4);
    assert_eq!(r["gates"][0]["passed"], false);
    assert!(!registry.join("iris/1").exists());
}

#[test]
fn json_reports_every_run_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    // A run that registers.
    let ok = report(&train(
        &["--config", "configs/iris.yaml", "--json"],
        &dir.path().join("registry"),
    ));
    assert_eq!(ok["status"], "registered");
    assert_eq!(ok["version"], 1);
    // A run that stops on bad config: status failed, exit code 2, no model name.
    let config = write_config(dir.path(), "bad.yaml", "data: {path: nowhere.csv}\n");
    let out = train(
        &["--config", config.to_str().unwrap(), "--json"],
        &dir.path().join("registry"),
    );
    assert_eq!(out.status.code(), Some(2));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["exit_code"], 2);
    assert!(
        r["reason"].as_str().unwrap().contains("missing field"),
        "{r}"
    );
    assert!(r.get("model").is_none(), "{r}");
}

#[test]
fn models_lists_every_kind() {
    let out = train(&["models"], &workspace().join("artifacts"));
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout), @r"
    logistic_regression          classification  probabilities: yes
        alpha                1.0
    linear_regression            regression      probabilities: no
        solver               svd (or qr)
    ridge_regression             regression      probabilities: no
        alpha                1.0
        solver               cholesky (or svd)
    lasso                        regression      probabilities: no
        alpha                1.0
        max_iter             1000
        tol                  0.0001
    elastic_net                  regression      probabilities: no
        alpha                1.0
        l1_ratio             0.5
        max_iter             1000
        tol                  0.0001
    decision_tree_classifier     classification  probabilities: yes
        criterion            gini (or entropy, classification_error)
        max_depth            unlimited (the root is depth 1)
        min_samples_leaf     1
        min_samples_split    2
    decision_tree_regressor      regression      probabilities: no
        max_depth            unlimited (the root is depth 1)
        min_samples_leaf     1
        min_samples_split    2
    random_forest_classifier     classification  probabilities: yes
        n_trees              100
        criterion            gini (or entropy, classification_error)
        max_depth            unlimited (the root is depth 1)
        min_samples_leaf     1
        min_samples_split    2
        max_features         floor(sqrt(columns))
        seed                 the split seed
    random_forest_regressor      regression      probabilities: no
        n_trees              100
        max_depth            unlimited (the root is depth 1)
        min_samples_leaf     1
        min_samples_split    2
        max_features         all columns
        seed                 the split seed
    extra_trees_regressor        regression      probabilities: no
        n_trees              100
        max_depth            unlimited (the root is depth 1)
        min_samples_leaf     1
        min_samples_split    2
        max_features         all columns
        seed                 the split seed
    gradient_boosting_classifier classification  probabilities: yes
        max_iter             100
        learning_rate        0.1
        max_leaf_nodes       31
        max_depth            unlimited (edges from the root)
        min_samples_leaf     20
        l2_regularization    0.0
        max_bins             255
        subsample            1.0
        colsample_bytree     1.0
        early_stopping       auto (on above 10,000 rows; true, false, cv)
        cv_folds             5 (with early_stopping: cv)
        validation_fraction  0.1
        n_iter_no_change     10
        tol                  1e-7
        seed                 the split seed
        loss                 squared_error (regressor; or absolute_error), log_loss (classifier)
    gradient_boosting_regressor  regression      probabilities: no
        max_iter             100
        learning_rate        0.1
        max_leaf_nodes       31
        max_depth            unlimited (edges from the root)
        min_samples_leaf     20
        l2_regularization    0.0
        max_bins             255
        subsample            1.0
        colsample_bytree     1.0
        early_stopping       auto (on above 10,000 rows; true, false, cv)
        cv_folds             5 (with early_stopping: cv)
        validation_fraction  0.1
        n_iter_no_change     10
        tol                  1e-7
        seed                 the split seed
        loss                 squared_error (regressor; or absolute_error), log_loss (classifier)
    knn_classifier               classification  probabilities: yes
        k                    5
        weights              uniform (or distance)
        metric               euclidean (or manhattan)
    knn_regressor                regression      probabilities: no
        k                    5
        weights              uniform (or distance)
        metric               euclidean (or manhattan)
    gaussian_nb                  classification  probabilities: yes
        var_smoothing        1e-9
    multinomial_nb               classification  probabilities: yes
        alpha                1.0
    bernoulli_nb                 classification  probabilities: yes
        alpha                1.0
        binarize             0.0 (null: the inputs are 0 or 1)
    categorical_nb               classification  probabilities: yes
        alpha                1.0
    svc                          classification  probabilities: no
        c                    1.0
        kernel               rbf (or linear, polynomial, sigmoid)
        gamma                1 / (columns * input variance)
        degree               3.0
        coef0                0.0
        tol                  0.001
        epochs               2
    svr                          regression      probabilities: no
        c                    1.0
        kernel               rbf (or linear, polynomial, sigmoid)
        gamma                1 / (columns * input variance)
        degree               3.0
        coef0                0.0
        tol                  0.001
        epsilon              0.1
    ");
}

#[test]
fn no_arguments_prints_help_and_fails() {
    let out = train(&[], &workspace().join("artifacts"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: train"));
}

#[test]
fn off_a_terminal_progress_is_logged_a_tenth_at_a_time() {
    let registry = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["--config", "configs/titanic_search.yaml"])
        .env("FERRY_REGISTRY", registry.path())
        .env("RUST_LOG", "info")
        .env("FERRY_LOG_FORMAT", "text")
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 6 candidates x 5 folds, then the best refitted: 50 trees.
    for stage in [
        r#"stage="grid search" done=30 total=30"#,
        r#"stage="trees" done=50 total=50"#,
    ] {
        assert!(stderr.contains(stage), "{stage}: {stderr}");
    }
    let lines = stderr.matches(r#"stage="grid search""#).count();
    assert_eq!(lines, 10, "{stderr}");
}

#[test]
fn examples_trains_every_config_of_a_directory() {
    let registry = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["iris.yaml", "diabetes.yaml", "serve.yaml"] {
        let text = fs_err::read_to_string(workspace().join("configs").join(name)).unwrap();
        let text = text.replace(
            "../data/",
            &format!("{}/", workspace().join("data").display()),
        );
        fs_err::write(dir.path().join(name), text).unwrap();
    }
    let out = train(
        &["examples", "--dir", dir.path().to_str().unwrap()],
        registry.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("diabetes version 1 (linear_regression"),
        "{text}"
    );
    assert!(
        text.contains("iris version 1 (logistic_regression"),
        "{text}"
    );
    assert!(text.ends_with("2 of 2 configs trained\n"), "{text}");
    // A config that fails is reported and the exit code says so.
    fs_err::write(
        dir.path().join("broken.yaml"),
        "data: {path: nowhere.csv}\n",
    )
    .unwrap();
    let out = train(
        &["examples", "--dir", dir.path().to_str().unwrap()],
        registry.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILED  "), "{text}");
    assert!(text.ends_with("2 of 3 configs trained\n"), "{text}");
}

#[test]
fn import_refuses_what_it_cannot_read_by_name() {
    let registry = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let not_lightgbm = scratch.path().join("model.txt");
    fs_err::write(&not_lightgbm, "{\"learner\": {}}").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--xgboost".into(),
                scratch.path().join("absent.json").display().to_string(),
            ],
            "absent.json",
        ),
        (
            vec!["--lightgbm".into(), not_lightgbm.display().to_string()],
            "a LightGBM text model starts with `tree`",
        ),
    ];
    for (file, expected) in cases {
        let mut args = vec![
            "import".to_owned(),
            "--config".to_owned(),
            "tests/fixtures/import/xgboost_binary.yaml".to_owned(),
        ];
        args.extend(file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = train(&args, registry.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // A config whose model is not a boosted kind.
    let out = train(
        &[
            "import",
            "--config",
            "configs/iris.yaml",
            "--xgboost",
            "Cargo.toml",
        ],
        registry.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("found logistic_regression"));
    // Failed runs are recorded, never registered.
    assert!(!registry.path().join("xgboost-binary/1").exists());
}
