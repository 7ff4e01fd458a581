//! Gradient-boosted models imported from the real XGBoost and LightGBM packages
//! (`tests/python/boosting_models.py`, one model per objective), published with
//! `train import` and served: every row's served prediction equals the library's, and
//! the served explanations of the one-output models equal the library's own TreeSHAP
//! (XGBoost's `pred_contribs`, LightGBM's `pred_contrib`) with the bias as base value.
//! Ferry's own forest and boosted models, and the imported XGBoost ones, are explained
//! as the `shap` package's TreeExplainer explains the same trees
//! (`tests/python/shap_values.py`, given `TrainedModel::tree_table`).

use std::path::Path;
use std::process::Command;

use ferry_core::model::GradientBoostingModel;
use ferry_core::{FeatureMatrix, Model, Predictions, Registry, TrainedModel};
use serde_json::{Map, Value, json};

use crate::harness::{Server, bin, train, workspace};

/// The libraries compute in `f32` (XGBoost) or print 17 digits (LightGBM): agreement to
/// 1e-6 of the value's magnitude (at least 1).
fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 1e-6 * ours.abs().max(theirs.abs()).max(1.0)
}

/// The feature columns of a committed table (all but `target`, in file order) and its
/// rows as native records.
fn table(file: &str, target: &str) -> (Vec<String>, Vec<Value>) {
    let text = fs_err::read_to_string(workspace().join("data").join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let features = header
        .iter()
        .filter(|k| **k != target)
        .map(|k| (*k).to_owned())
        .collect();
    let records = lines
        .map(|l| {
            let mut m = Map::new();
            for (k, v) in header.iter().zip(l.split(',')) {
                if *k != target {
                    m.insert((*k).to_owned(), json!(v.parse::<f64>().unwrap()));
                }
            }
            Value::Object(m)
        })
        .collect();
    (features, records)
}

#[test]
fn imported_models_serve_the_librarys_predictions_and_explanations() {
    let scratch = tempfile::tempdir().unwrap();
    let made = Command::new(workspace().join("tests/.venv/bin/python"))
        .arg(workspace().join("tests/python/boosting_models.py"))
        .arg(workspace().join("data"))
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let registry = tempfile::tempdir().unwrap();
    let tasks = [
        ("binary", "breast_cancer.csv", "diagnosis"),
        ("multiclass", "iris.csv", "species"),
        ("regression", "diabetes.csv", "progression"),
    ];
    for (lib, ext) in [("xgboost", "json"), ("lightgbm", "txt")] {
        for (task, _, _) in tasks {
            let out = Command::new(bin("train"))
                .arg("import")
                .arg("--config")
                .arg(workspace().join(format!("tests/fixtures/import/{lib}_{task}.yaml")))
                .arg(format!("--{lib}"))
                .arg(scratch.path().join(format!("{lib}_{task}.{ext}")))
                .arg("--registry")
                .arg(registry.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{lib} {task}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let server = Server::start(registry.path(), &[]);
    let mut worst = 0.0_f64;
    let mut worst_shap = 0.0_f64;
    for (lib, _) in [("xgboost", "json"), ("lightgbm", "txt")] {
        for (task, file, target) in tasks {
            let (names, rows) = table(file, target);
            let expected: Value = serde_json::from_str(
                &fs_err::read_to_string(scratch.path().join(format!("{lib}_{task}.expected.json")))
                    .unwrap(),
            )
            .unwrap();
            let name = format!("{lib}-{task}");
            let (status, body) = server.predict(&name, &json!({ "records": rows }));
            assert_eq!(status, 200, "{name}: {body}");
            let predictions = body["predictions"].as_array().unwrap();
            assert_eq!(predictions.len(), rows.len());
            for (i, p) in predictions.iter().enumerate() {
                let theirs = &expected["prediction"][i];
                let pairs: Vec<(f64, f64)> = match task {
                    "regression" => vec![(p["value"].as_f64().unwrap(), theirs.as_f64().unwrap())],
                    "binary" => {
                        let probs: Vec<f64> = p["probabilities"]
                            .as_object()
                            .unwrap()
                            .values()
                            .map(|v| v.as_f64().unwrap())
                            .collect();
                        vec![(probs[1], theirs.as_f64().unwrap())]
                    }
                    _ => {
                        let probs: Vec<f64> = p["probabilities"]
                            .as_object()
                            .unwrap()
                            .values()
                            .map(|v| v.as_f64().unwrap())
                            .collect();
                        probs
                            .iter()
                            .zip(theirs.as_array().unwrap())
                            .map(|(a, b)| (*a, b.as_f64().unwrap()))
                            .collect()
                    }
                };
                for (a, b) in pairs {
                    worst = worst.max((a - b).abs());
                    assert!(close(a, b), "{name} row {i}: Ferry {a}, {lib} {b}");
                }
            }
            // Explanations of the one-output models (binary and regression).
            if task == "multiclass" {
                continue;
            }
            let (status, body) = server.post(
                &format!("/models/{name}/explain"),
                "application/json",
                json!({ "records": rows }).to_string().as_bytes(),
            );
            assert_eq!(status, 200, "{name}: {body}");
            let explanations = body["explanations"].as_array().unwrap();
            assert_eq!(explanations.len(), rows.len());
            for (i, e) in explanations.iter().enumerate() {
                let theirs = expected["contributions"][i].as_array().unwrap();
                assert_eq!(names.len() + 1, theirs.len(), "{name}");
                let out = &e[0];
                let mut total = out["base"].as_f64().unwrap();
                for (j, f) in names.iter().enumerate() {
                    let a = out["contributions"][f.as_str()].as_f64().unwrap();
                    let b = theirs[j].as_f64().unwrap();
                    total += a;
                    worst_shap = worst_shap.max((a - b).abs());
                    // XGBoost sums contributions in f32: their rounding is relative to
                    // the row's output, not to each (possibly tiny) contribution.
                    let scale = expected["raw"][i].as_f64().unwrap().abs().max(1.0);
                    assert!(
                        (a - b).abs() <= 1e-6 * scale,
                        "{name} row {i} {f}: Ferry {a}, {lib} {b}"
                    );
                }
                let base = out["base"].as_f64().unwrap();
                let bias = theirs[names.len()].as_f64().unwrap();
                assert!(
                    close(base, bias),
                    "{name} row {i}: base {base}, {lib} {bias}"
                );
                let raw = expected["raw"][i].as_f64().unwrap();
                assert!(close(total, raw), "{name} row {i}: sum {total}, raw {raw}");
            }
        }
    }
    eprintln!("largest differences: predictions {worst:e}, contributions {worst_shap:e}");
    for (task, file, target) in [tasks[0], tasks[2]] {
        against_shap(
            registry.path(),
            &format!("xgboost-{task}"),
            file,
            target,
            scratch.path(),
        );
    }
}

/// Each row's raw outputs (row-major): what explanations add up to.
fn raw_outputs(model: &TrainedModel, x: &FeatureMatrix) -> Vec<f64> {
    if let TrainedModel::GradientBoosting(m) = model {
        return GradientBoostingModel::raw_scores(m, x).unwrap();
    }
    match model.predict(x).unwrap() {
        Predictions::Classes { probabilities, .. } => probabilities.unwrap(),
        Predictions::Values(v) => v,
    }
}

/// Explains every row of `file` with model `name` of `registry` and checks the result
/// against shap's TreeExplainer on the model's tree table (within 1e-6 of the row's
/// output) and against the raw prediction (contributions plus base within 1e-9).
fn against_shap(registry: &Path, name: &str, file: &str, target: &str, scratch: &Path) {
    let (_, bundle) = ferry_core::LocalRegistry::new(registry.to_path_buf())
        .load(&name.parse().unwrap())
        .unwrap();
    let (_, records) = table(file, target);
    let rows: Vec<Map<String, Value>> = records
        .into_iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect();
    let frame = bundle.schema().validate_rows(&rows).unwrap();
    let x = bundle.preprocessor().transform(&frame).unwrap();
    let model = bundle.model();
    let ours = model.explain(&x).unwrap();
    let raw = raw_outputs(model, &x);
    let k = ours.n_outputs;
    assert_eq!(raw.len(), x.n_rows() * k, "{name}");
    let table_file = scratch.join(format!("{name}.table.json"));
    let matrix_file = scratch.join(format!("{name}.matrix.json"));
    let out_file = scratch.join(format!("{name}.shap.json"));
    fs_err::write(
        &table_file,
        serde_json::to_vec(&model.tree_table().unwrap()).unwrap(),
    )
    .unwrap();
    let matrix: Vec<&[f64]> = x.rows().collect();
    fs_err::write(&matrix_file, serde_json::to_vec(&matrix).unwrap()).unwrap();
    let made = Command::new(workspace().join("tests/.venv/bin/python"))
        .arg(workspace().join("tests/python/shap_values.py"))
        .args([&table_file, &matrix_file, &out_file])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let theirs: Value = serde_json::from_slice(&fs_err::read(&out_file).unwrap()).unwrap();
    let (mut worst_shap, mut worst_sum) = (0.0_f64, 0.0_f64);
    for o in 0..k {
        let base = ours.base[o];
        let expected = theirs["expected_value"][o].as_f64().unwrap();
        assert!(
            (base - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{name} output {o}: base {base}, shap {expected}"
        );
    }
    for i in 0..x.n_rows() {
        for o in 0..k {
            let row = ours.row(i, o);
            let output = raw[i * k + o];
            let sum = ours.base[o] + row.iter().sum::<f64>();
            worst_sum = worst_sum.max((sum - output).abs());
            assert!(
                (sum - output).abs() <= 1e-9 * output.abs().max(1.0),
                "{name} row {i} output {o}: sum {sum}, raw {output}"
            );
            for (c, a) in row.iter().enumerate() {
                let b = theirs["shap_values"][i][o][c].as_f64().unwrap();
                worst_shap = worst_shap.max((a - b).abs());
                assert!(
                    (a - b).abs() <= 1e-6 * output.abs().max(1.0),
                    "{name} row {i} output {o} column {c}: Ferry {a}, shap {b}"
                );
            }
        }
    }
    eprintln!(
        "{name}: {} rows x {k} outputs; largest differences from shap {worst_shap:e}, from the raw output {worst_sum:e}",
        x.n_rows()
    );
}

#[test]
fn ferry_forests_and_boosted_models_are_explained_as_shap_explains_them() {
    // A classification forest, boosted classifiers (binary and three classes), a
    // boosted regressor and a regression forest, each on every row of its table.
    let scratch = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let models = [
        (
            "breast_cancer_forest",
            "breast-cancer-forest",
            "breast_cancer.csv",
            "diagnosis",
        ),
        (
            "breast_cancer_boosting",
            "breast-cancer-boosting",
            "breast_cancer.csv",
            "diagnosis",
        ),
        ("iris_boosting", "iris-boosting", "iris.csv", "species"),
        (
            "diabetes_boosting",
            "diabetes-boosting",
            "diabetes.csv",
            "progression",
        ),
        (
            "diabetes_forest",
            "diabetes-forest",
            "diabetes.csv",
            "progression",
        ),
    ];
    for (config, name, file, target) in models {
        train(&format!("configs/{config}.yaml"), registry.path());
        against_shap(registry.path(), name, file, target, scratch.path());
    }
}

#[test]
fn train_explain_writes_what_the_server_answers_and_sets_bad_rows_aside() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    for config in ["breast_cancer_boosting", "breast_cancer"] {
        train(&format!("configs/{config}.yaml"), registry.path());
    }
    // The table with one bad row (the fourth): it goes to the dead-letter file and
    // the other rows keep their places.
    let text = fs_err::read_to_string(workspace().join("data/breast_cancer.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let rest = lines[4].split_once(',').unwrap().1.to_owned();
    lines[4] = format!("not-a-number,{rest}");
    let data = scratch.path().join("rows.csv");
    fs_err::write(&data, lines.join("\n") + "\n").unwrap();
    let out_file = scratch.path().join("explained.jsonl");
    let run = Command::new(bin("train"))
        .args([
            "explain",
            "--model",
            "breast-cancer-boosting",
            "--format",
            "jsonl",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--registry")
        .arg(registry.path())
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("explained 568 of 569 rows") && stderr.contains("1 rejected"),
        "{stderr}"
    );
    let rejected = fs_err::read_to_string(scratch.path().join("explain_rejected.csv")).unwrap();
    assert!(rejected.contains("not-a-number"), "{rejected}");
    let explained: Vec<Value> = fs_err::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(explained.len(), 568);
    assert_eq!(explained[2]["row"], 2);
    assert_eq!(
        explained[3]["row"], 4,
        "the bad row 3 is skipped, not renumbered"
    );

    // The server explains the same rows the same way.
    let (_, records) = table("breast_cancer.csv", "diagnosis");
    let good: Vec<Value> = records
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, r)| r)
        .collect();
    let server = Server::start(registry.path(), &[]);
    let (status, body) = server.post(
        "/models/breast-cancer-boosting/explain",
        "application/json",
        json!({ "records": good }).to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    for (ours, served) in explained
        .iter()
        .zip(body["explanations"].as_array().unwrap())
    {
        let (a, b) = (&ours["explanations"][0], &served[0]);
        assert_eq!(a["output"], b["output"]);
        assert_eq!(a["base"], b["base"]);
        assert_eq!(
            a["contributions"], b["contributions"],
            "row {}",
            ours["row"]
        );
    }

    // CSV: a header, then one line per row and output.
    let csv_run = Command::new(bin("train"))
        .args(["explain", "--model", "breast-cancer-boosting"])
        .arg("--data")
        .arg(workspace().join("data/breast_cancer.csv"))
        .arg("--registry")
        .arg(registry.path())
        .current_dir(scratch.path())
        .output()
        .unwrap();
    assert!(csv_run.status.success());
    let csv = String::from_utf8(csv_run.stdout).unwrap();
    let mut csv_lines = csv.lines();
    assert!(
        csv_lines
            .next()
            .unwrap()
            .starts_with("row,output,base,mean_radius,")
    );
    assert_eq!(csv_lines.count(), 569);

    // A model that is not a tree is refused by name before any row is read.
    let refused = Command::new(bin("train"))
        .args(["explain", "--model", "breast-cancer"])
        .arg("--data")
        .arg(scratch.path().join("missing.csv"))
        .arg("--registry")
        .arg(registry.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("cannot be explained"), "{message}");
}

#[test]
fn native_categories_and_missing_values_serve_and_explain() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic_boosting_native.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    // Missing age, fare and port; a port never seen in training; ordinary rows.
    let records = json!({ "records": [
        {"pclass": 3, "sex": "male", "age": null, "sibsp": 0, "parch": 0, "fare": null, "embarked": null},
        {"pclass": 1, "sex": "female", "age": 38, "sibsp": 1, "parch": 0, "fare": 71.28, "embarked": "X"},
        {"pclass": 1, "sex": "female", "age": 38, "sibsp": 1, "parch": 0, "fare": 71.28, "embarked": "C"},
        {"pclass": 2, "sex": "male", "age": 30, "sibsp": 0, "parch": 0, "fare": 13.0, "embarked": "S"}
    ]});
    let (status, body) = server.predict("titanic-boosting-native", &records);
    assert_eq!(status, 200, "{body}");
    let predictions = body["predictions"].as_array().unwrap();
    let p1: Vec<f64> = predictions
        .iter()
        .map(|p| p["probabilities"]["1"].as_f64().unwrap())
        .collect();
    assert!(p1.iter().all(|p| (0.0..=1.0).contains(p)), "{p1:?}");
    assert!(p1[2] > 0.5 && p1[3] < 0.5, "{p1:?}");
    // Explanations of the same rows add up to the log-odds the probabilities come from.
    let (status, body) = server.post(
        "/models/titanic-boosting-native/explain",
        "application/json",
        records.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    for (e, p) in body["explanations"].as_array().unwrap().iter().zip(&p1) {
        let out = &e[0];
        let contributions = out["contributions"].as_object().unwrap();
        assert_eq!(contributions.len(), 7);
        let total = out["base"].as_f64().unwrap()
            + contributions
                .values()
                .map(|v| v.as_f64().unwrap())
                .sum::<f64>();
        let logit = (p / (1.0 - p)).ln();
        assert!((total - logit).abs() < 1e-9, "{total} vs {logit}");
    }
}
