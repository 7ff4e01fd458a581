//! Gradient-boosted models imported from the real XGBoost and LightGBM packages
//! (`tests/python/boosting_models.py`, one model per objective), published with
//! `train import` and served: every row's served prediction equals the library's, and
//! the served explanations of the one-output models equal the library's own TreeSHAP
//! (XGBoost's `pred_contribs`, LightGBM's `pred_contrib`) with the bias as base value.

use std::process::Command;

use serde_json::{Map, Value, json};

use crate::harness::{Server, bin, workspace};

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
}
