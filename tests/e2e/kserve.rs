//! The Open Inference Protocol (KServe V2) driven by NVIDIA's real Python client,
//! `tritonclient[http]` (in tests/.venv, installed by .ci/run), against the serve binary:
//! health, metadata, inference with JSON and with binary tensors (the client's default),
//! one tensor per feature and one [n, k] tensor; every answer equal to the native
//! endpoint's for the same rows.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Server, train, workspace};

/// The virtual environment's Python with tritonclient installed.
pub(crate) fn python() -> PathBuf {
    let python = workspace().join("tests/.venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run .ci/run, or python3 -m venv tests/.venv && \
         tests/.venv/bin/pip install -r tests/python/requirements.txt",
        python.display()
    );
    python
}

fn titanic_records() -> Value {
    json!([
        {"pclass": 1, "sex": "female", "age": 29.0, "sibsp": 0, "parch": 0, "fare": 211.3375, "embarked": "S"},
        {"pclass": 3, "sex": "male", "age": null, "sibsp": 1, "parch": 2, "fare": 23.45, "embarked": "S"},
        {"pclass": 2, "sex": "male", "age": 35.0, "sibsp": 0, "parch": 0, "fare": 13.0, "embarked": "Q"},
        {"pclass": 3, "sex": "female", "age": 4.0, "sibsp": 1, "parch": 1, "fare": 16.7, "embarked": "C"}
    ])
}

/// The native endpoint's labels and class-ordered probabilities for `records`.
fn native(
    server: &Server,
    model: &str,
    records: &Value,
    classes: &[&str],
) -> (Vec<Value>, Vec<Vec<f64>>) {
    let (status, body) = server.predict(model, &json!({ "records": records }));
    assert_eq!(status, 200, "{body}");
    let predictions = body["predictions"].as_array().unwrap();
    let labels = predictions.iter().map(|p| p["label"].clone()).collect();
    let proba = predictions
        .iter()
        .map(|p| {
            classes
                .iter()
                .map(|c| p["probabilities"][*c].as_f64().unwrap())
                .collect()
        })
        .collect();
    (labels, proba)
}

#[test]
fn tritonclient_gets_the_native_answers_over_json_and_binary_tensors() {
    let registry = tempfile::tempdir().unwrap();
    for config in [
        "configs/titanic.yaml",
        "configs/iris.yaml",
        "configs/diabetes.yaml",
    ] {
        train(config, registry.path());
    }
    let server = Server::start(registry.path(), &[]);
    let iris: Vec<[f64; 4]> = vec![
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
        [5.9, 3.0, 4.2, 1.5],
    ];
    let diabetes: Vec<[f64; 10]> = vec![
        [59.0, 2.0, 32.1, 101.0, 157.0, 93.2, 38.0, 4.0, 4.8598, 87.0],
        [48.0, 1.0, 21.6, 87.0, 183.0, 103.2, 70.0, 3.0, 3.8918, 69.0],
    ];
    let out = Command::new(python())
        .arg(workspace().join("tests/python/tritonclient_check.py"))
        .arg(server.base.trim_start_matches("http://"))
        .arg(titanic_records().to_string())
        .arg(json!(iris).to_string())
        .arg(json!(diabetes).to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(got["live"], true);
    assert_eq!(got["ready"], true);
    assert_eq!(got["server"]["name"], "ferry");
    assert_eq!(got["server"]["extensions"], json!(["binary_tensor_data"]));
    assert_eq!(got["titanic_ready"], true);
    assert_eq!(got["titanic_v1_ready"], true);
    let meta = &got["titanic_meta"];
    assert_eq!(meta["versions"], json!(["1"]));
    assert_eq!(
        meta["inputs"][1],
        json!({"name": "sex", "datatype": "BYTES", "shape": [-1]})
    );
    assert_eq!(
        meta["outputs"],
        json!([
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}
        ])
    );

    // Titanic: one tensor per feature, BYTES for the categorical ones, NaN for a missing
    // age; binary and JSON give exactly the native answers.
    let (labels, proba) = native(&server, "titanic", &titanic_records(), &["0", "1"]);
    for key in ["titanic_binary", "titanic_json"] {
        assert_eq!(got[key]["predict"], json!(labels), "{key}");
        assert_eq!(got[key]["predict_proba"], json!(proba), "{key}");
    }
    assert_eq!(got["titanic_binary_version"], "1");
    assert_eq!(got["titanic_json_outputs"], json!([true, true]));

    // Iris as one [n, 4] FP32 tensor: the same labels; probabilities as close as FP32
    // inputs allow.
    let records: Vec<Value> = iris
        .iter()
        .map(|r| json!({"sepal_length": r[0], "sepal_width": r[1], "petal_length": r[2], "petal_width": r[3]}))
        .collect();
    let classes = ["setosa", "versicolor", "virginica"];
    let (labels, proba) = native(&server, "iris", &json!(records), &classes);
    assert_eq!(got["iris_matrix"]["predict"], json!(labels));
    for (row, expected) in got["iris_matrix"]["predict_proba"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&proba)
    {
        for (p, e) in row.as_array().unwrap().iter().zip(expected) {
            assert!((p.as_f64().unwrap() - e).abs() < 1e-5, "{p} vs {e}");
        }
    }

    // Diabetes as one [n, 10] FP64 tensor: exactly the native values.
    let names = [
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
    ];
    let records: Vec<Value> = diabetes
        .iter()
        .map(|r| {
            Value::Object(
                names
                    .iter()
                    .zip(r)
                    .map(|(n, v)| ((*n).to_owned(), json!(v)))
                    .collect(),
            )
        })
        .collect();
    let (status, body) = server.predict("diabetes", &json!({ "records": records }));
    assert_eq!(status, 200);
    let values: Vec<Value> = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].clone())
        .collect();
    assert_eq!(got["diabetes_matrix"]["predict"], json!(values));

    // Errors carry the server's message and the protocol's status.
    let unknown = &got["errors"]["unknown_input"];
    assert_eq!(unknown["status"], "400");
    assert!(
        unknown["message"].as_str().unwrap().starts_with("unknown input 'petal'; the inputs are the features (sepal_length, sepal_width, petal_length, petal_width)"),
        "{unknown}"
    );
    assert_eq!(got["errors"]["unknown_model"]["status"], "404");
}

#[test]
fn v2_errors_are_json_with_the_protocol_status() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let infer = |body: &Value| {
        server.post(
            "/v2/models/iris/infer",
            "application/json",
            body.to_string().as_bytes(),
        )
    };
    let (status, body) = infer(
        &json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("a single input must be [rows, 4]"),
        "{body}"
    );
    let (status, body) = infer(
        &json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3]}]}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "input 'input': shape [1, 4] does not hold its 3 elements"
    );
    let (status, body) = infer(
        &json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5.1, -3.5, 1.4, 0.2]}]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("sepal_width"),
        "{body}"
    );
    let (status, body) = infer(
        &json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}], "outputs": [{"name": "predict_log_proba"}]}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "unknown output 'predict_log_proba'; this model gives predict and predict_proba"
    );
    // A shape whose element count overflows is a 400, not a panic.
    let (status, body) = infer(
        &json!({"inputs": [{"name": "input", "shape": [4294967296i64, 4294967296i64, 4294967296i64], "datatype": "FP64", "data": [1]}]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("does not hold its 1 elements"),
        "{body}"
    );
    let (status, body) = server.post(
        "/v2/models/iris/versions/7/infer",
        "application/json",
        b"{}",
    );
    assert_eq!(status, 404);
    assert_eq!(body["error"], "model 'iris' is not served at version 7");
}
