//! Cross-validation, grid search and promotion through the real binary.

use std::path::Path;

use crate::{json, report, train, workspace, write_config};

/// configs/iris.yaml with `model` as its model section, `promote` to production
/// (requiring a better model) and a gate every model here passes.
fn iris_promoting(dir: &Path, name: &str, model: &str) -> String {
    let text = fs_err::read_to_string(workspace().join("configs/iris.yaml")).unwrap();
    let text = text
        .replace("../data/iris.csv", "DATA/iris.csv")
        .replace("  type: logistic_regression\n  alpha: 1.0\n", model)
        .replace("{metric: accuracy, min: 0.85}", "{metric: accuracy, min: 0.3}")
        .replace(
            "output:",
            "promote: {alias: production, require_better_than_current: true, metric: f1_macro}\noutput:",
        );
    let path = write_config(dir, name, &text);
    path.to_str().unwrap().to_owned()
}

fn production(registry: &Path) -> serde_json::Value {
    let shown = json(&train(
        &["registry", "show", "iris@production", "--json"],
        registry,
    ));
    shown["manifest"]["version"].clone()
}

#[test]
fn production_moves_only_to_a_better_model_and_rollback_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let medium = iris_promoting(
        dir.path(),
        "medium.yaml",
        "  type: decision_tree_classifier\n  max_depth: 2\n",
    );
    let worse = iris_promoting(
        dir.path(),
        "worse.yaml",
        "  type: decision_tree_classifier\n  max_depth: 1\n",
    );
    let better = iris_promoting(
        dir.path(),
        "better.yaml",
        "  type: logistic_regression\n  alpha: 0.1\n",
    );

    // The first version is promoted: production had none.
    let first = report(&train(&["--config", &medium, "--json"], &registry));
    assert_eq!(first["promotion"]["promoted"], true, "{first}");
    assert_eq!(first["promotion"]["previous"], serde_json::Value::Null);
    assert_eq!(production(&registry), 1);
    let medium_f1 = first["metrics"]["f1_macro"].as_f64().unwrap();

    // A worse model is registered (latest moves) but production stays.
    let second = report(&train(&["--config", &worse, "--json"], &registry));
    assert_eq!(second["version"], 2);
    let promotion = &second["promotion"];
    assert_eq!(promotion["promoted"], false, "{second}");
    assert_eq!(promotion["previous"], 1);
    assert_eq!(promotion["current"].as_f64(), Some(medium_f1));
    assert!(promotion["candidate"].as_f64().unwrap() < medium_f1);
    let reason = promotion["reason"].as_str().unwrap();
    assert!(reason.contains("does not beat version 1's"), "{reason}");
    assert_eq!(production(&registry), 1);

    // A better one moves it, compared on the same test rows.
    let third = report(&train(&["--config", &better, "--json"], &registry));
    let promotion = &third["promotion"];
    assert_eq!(promotion["promoted"], true, "{third}");
    assert!(promotion["candidate"].as_f64().unwrap() > medium_f1);
    assert_eq!(promotion["current"].as_f64(), Some(medium_f1));
    assert_eq!(production(&registry), 3);

    // The run record keeps the decision.
    let runs = json(&train(&["runs", "list", "iris", "--json"], &registry));
    let last = runs.as_array().unwrap().last().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = json(&train(
        &["runs", "show", "iris", &last, "--json"],
        &registry,
    ));
    assert_eq!(record["promotion"]["promoted"], true);

    // Rollback restores the previous production version.
    let out = train(&["registry", "rollback", "iris", "production"], &registry);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(production(&registry), 1);
}

#[test]
fn a_titanic_grid_search_scores_every_candidate_and_refits_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(&train(
        &["--config", "configs/titanic_search.yaml", "--json"],
        dir.path(),
    ));
    let search = &out["search"];
    assert_eq!(search["metric"], "f1_macro");
    assert_eq!(search["folds"], 5);
    let candidates = search["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 6);
    let mean = |c: &serde_json::Value| c["scores"]["f1_macro"]["mean"].as_f64().unwrap();
    for c in candidates {
        for metric in ["accuracy", "f1_macro", "roc_auc", "log_loss"] {
            let folds = c["scores"][metric]["folds"].as_array().unwrap();
            assert_eq!(folds.len(), 5, "{c}");
        }
    }
    // The best has rank 1 and the highest mean f1_macro; ranks follow the means.
    let best = &candidates[search["best"].as_u64().unwrap() as usize];
    assert_eq!(best["rank"], 1);
    let top = candidates.iter().map(mean).fold(f64::MIN, f64::max);
    assert_eq!(mean(best), top);
    let mut by_rank: Vec<&serde_json::Value> = candidates.iter().collect();
    by_rank.sort_by_key(|c| c["rank"].as_u64().unwrap());
    assert!(by_rank.windows(2).all(|w| mean(w[0]) >= mean(w[1])));
    // evaluation.cv reports the best's cross-validation (same folds).
    assert_eq!(out["cv"]["scores"]["f1_macro"], best["scores"]["f1_macro"]);

    // The artifact's config holds the chosen hyperparameters.
    let config: serde_yaml::Value = serde_yaml::from_str(
        &fs_err::read_to_string(dir.path().join("titanic-search/1/config.yaml")).unwrap(),
    )
    .unwrap();
    for (key, value) in best["params"].as_object().unwrap() {
        let chosen = &config["model"][key.as_str()];
        let expected: serde_yaml::Value = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(chosen, &expected, "model.{key}");
    }
    // The run record keeps the whole table.
    let runs = json(&train(
        &["runs", "list", "titanic-search", "--json"],
        dir.path(),
    ));
    let id = runs[0]["run_id"].as_str().unwrap().to_owned();
    let record = json(&train(
        &["runs", "show", "titanic-search", &id, "--json"],
        dir.path(),
    ));
    assert_eq!(record["search"], *search);
    assert_eq!(record["params"]["type"], "random_forest_classifier");
}

#[test]
fn train_cv_cross_validates_without_registering() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = train(
            &["cv", "--config", "configs/iris.yaml", "--json"],
            dir.path(),
        );
        json(&out)
    };
    let first = run();
    assert_eq!(first["cv"]["folds"], 5);
    assert_eq!(first["cv"]["stratified"], true);
    assert_eq!(first["rows"], 120);
    let accuracy = &first["cv"]["scores"]["accuracy"];
    assert!(accuracy["mean"].as_f64().unwrap() > 0.9, "{first}");
    assert_eq!(accuracy["folds"].as_array().unwrap().len(), 5);
    // Seeded: the same folds and scores every time.
    assert_eq!(run()["cv"], first["cv"]);
    assert!(!dir.path().join("iris").join("1").exists());

    // --folds-out writes every training row's fold: 5 stratified folds of 24 rows.
    let folds = dir.path().join("folds.csv");
    let out = train(
        &[
            "cv",
            "--config",
            "configs/iris.yaml",
            "--folds-out",
            folds.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = fs_err::read_to_string(&folds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("row,fold"));
    let mut sizes = [0; 5];
    let mut rows = Vec::new();
    for line in lines {
        let (row, fold) = line.split_once(',').unwrap();
        rows.push(row.parse::<usize>().unwrap());
        sizes[fold.parse::<usize>().unwrap()] += 1;
    }
    assert_eq!(sizes, [24; 5]);
    assert_eq!(rows.len(), 120);
    assert!(rows.windows(2).all(|w| w[0] < w[1] && w[1] < 150));

    let text = train(&["cv", "--config", "configs/diabetes.yaml"], dir.path());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("5-fold cross-validation:\n  rmse"), "{text}");
}
