use ferry_core::model::Task;
use ferry_core::schema::{DType, TargetValue};
use ferry_core::{Column, Frame, ModelBundle, Predictions};
use serde_json::{Map, Value, json};
use train::Pipeline;

use crate::harness::{Server, train, workspace};

/// The test-set rows of `config` as JSON records, their in-process predictions and their
/// true targets, rebuilt with train's own loader and split.
fn test_set(config: &str, bundle: &ModelBundle) -> (Vec<Value>, Predictions, Vec<TargetValue>) {
    let (frame, records, truth) = test_frame(config);
    (records, bundle.predict(&frame).unwrap(), truth)
}

/// The test-set rows of `config` as JSON records.
pub(crate) fn test_records(config: &str) -> Vec<Value> {
    test_frame(config).1
}

fn test_frame(config: &str) -> (Frame, Vec<Value>, Vec<TargetValue>) {
    let pipeline = Pipeline::from_file(&workspace().join(config)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dataset = train::data::load(&pipeline, &scratch.path().join("dead.csv")).unwrap();
    let split = train::stages::split::split_rows(&pipeline, &dataset);
    let frame = dataset.frame.select_rows(&split.test);
    let records = to_json(&frame, pipeline.schema());
    let truth = split
        .test
        .iter()
        .map(|&i| dataset.target[i].clone())
        .collect();
    (frame, records, truth)
}

fn to_json(frame: &Frame, schema: &ferry_core::FeatureSchema) -> Vec<Value> {
    (0..frame.n_rows())
        .map(|r| {
            let mut record = Map::new();
            for (spec, column) in schema.features().iter().zip(frame.columns()) {
                let value = match column {
                    Column::Numeric(v) if v[r].is_nan() => Value::Null,
                    Column::Numeric(v) => match spec.dtype {
                        DType::Integer => json!(v[r] as i64),
                        DType::Boolean => json!(v[r] == 1.0),
                        DType::Numeric | DType::Categorical => json!(v[r]),
                    },
                    Column::Categorical(v) => v[r].clone().map_or(Value::Null, Value::String),
                };
                record.insert(spec.name.clone(), value);
            }
            Value::Object(record)
        })
        .collect()
}

/// The served prediction of one record equals the in-process one exactly.
fn assert_same(served: &Value, predictions: &Predictions, bundle: &ModelBundle, r: usize) {
    match predictions {
        Predictions::Classes {
            labels,
            probabilities,
            n_classes,
        } => {
            let classes = bundle.classes().unwrap();
            assert_eq!(
                served["label"],
                serde_json::to_value(&classes[labels[r]]).unwrap(),
                "row {r}"
            );
            let Some(probabilities) = probabilities else {
                assert!(served.get("probabilities").is_none(), "row {r}");
                return;
            };
            for (c, label) in classes.iter().enumerate() {
                let got = served["probabilities"][label.to_string()].as_f64().unwrap();
                assert_eq!(
                    got,
                    probabilities[r * n_classes + c],
                    "row {r}, class {label}"
                );
            }
        }
        Predictions::Values(values) => {
            assert_eq!(served["value"].as_f64().unwrap(), values[r], "row {r}")
        }
    }
}

fn check_parity(server: &Server, registry: &std::path::Path, config: &str, name: &str) {
    let bundle = ModelBundle::load(&registry.join(name).join("1")).unwrap();
    let (records, predictions, truth) = test_set(config, &bundle);
    assert!(!records.is_empty());
    // One request per test row.
    let mut served_labels = Vec::new();
    for (r, record) in records.iter().enumerate() {
        let (status, body) = server.predict(name, record);
        assert_eq!(status, 200, "row {r}: {body}");
        assert_eq!(body["model"], name);
        assert_eq!(body["model_version"], 1);
        assert_eq!(body["api_version"], "v1");
        assert!(!body["request_id"].as_str().unwrap().is_empty());
        let served = &body["predictions"][0];
        assert_same(served, &predictions, &bundle, r);
        served_labels.push(served["label"].clone());
    }
    // And all of them in one batch.
    let (status, body) = server.predict(name, &json!({ "records": records }));
    assert_eq!(status, 200, "{body}");
    let batch = body["predictions"].as_array().unwrap();
    assert_eq!(batch.len(), records.len());
    for (r, served) in batch.iter().enumerate() {
        assert_same(served, &predictions, &bundle, r);
    }
    // The served labels reproduce the accuracy training recorded.
    if bundle.manifest().task == Task::Classification {
        let correct = served_labels
            .iter()
            .zip(&truth)
            .filter(|(s, t)| match t {
                TargetValue::Label(l) => **s == serde_json::to_value(l).unwrap(),
                TargetValue::Number(_) => false,
            })
            .count();
        let accuracy = correct as f64 / truth.len() as f64;
        let recorded = bundle.manifest().metrics[&ferry_core::metrics::Metric::Accuracy];
        assert_eq!(accuracy, recorded, "{name}");
    }
}

#[test]
fn served_predictions_equal_in_process_predictions() {
    // One example per algorithm.
    let examples = [
        ("configs/iris.yaml", "iris"),
        ("configs/titanic.yaml", "titanic"),
        ("configs/diabetes.yaml", "diabetes"),
        ("configs/diabetes_forest.yaml", "diabetes-forest"),
        ("configs/diabetes_ridge.yaml", "diabetes-ridge"),
        ("configs/diabetes_lasso.yaml", "diabetes-lasso"),
        ("configs/diabetes_elastic_net.yaml", "diabetes-elastic-net"),
        ("configs/diabetes_tree.yaml", "diabetes-tree"),
        ("configs/wine.yaml", "wine"),
        ("configs/iris_knn.yaml", "iris-knn"),
        ("configs/diabetes_knn.yaml", "diabetes-knn"),
        ("configs/diabetes_extra_trees.yaml", "diabetes-extra-trees"),
        ("configs/breast_cancer.yaml", "breast-cancer"),
        ("configs/wine_gaussian_nb.yaml", "wine-gaussian-nb"),
        (
            "configs/titanic_multinomial_nb.yaml",
            "titanic-multinomial-nb",
        ),
        ("configs/titanic_bernoulli_nb.yaml", "titanic-bernoulli-nb"),
        (
            "configs/titanic_categorical_nb.yaml",
            "titanic-categorical-nb",
        ),
        ("configs/iris_svc.yaml", "iris-svc"),
        ("configs/diabetes_svr.yaml", "diabetes-svr"),
    ];
    let registry = tempfile::tempdir().unwrap();
    for (config, _) in examples {
        train(config, registry.path());
    }
    let server = Server::start(registry.path(), &[]);
    let (status, body) = server.get("/models");
    assert_eq!(status, 200);
    let names: Vec<&str> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "breast-cancer",
            "diabetes",
            "diabetes-elastic-net",
            "diabetes-extra-trees",
            "diabetes-forest",
            "diabetes-knn",
            "diabetes-lasso",
            "diabetes-ridge",
            "diabetes-svr",
            "diabetes-tree",
            "iris",
            "iris-knn",
            "iris-svc",
            "titanic",
            "titanic-bernoulli-nb",
            "titanic-categorical-nb",
            "titanic-multinomial-nb",
            "wine",
            "wine-gaussian-nb"
        ]
    );
    assert_eq!(server.get("/ready").0, 200);
    for (config, name) in examples {
        check_parity(&server, registry.path(), config, name);
    }
}

#[test]
fn the_quick_start_request_is_answered() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let (status, body) = server.predict(
        "iris",
        &json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}),
    );
    assert_eq!(status, 200);
    assert_eq!(body["predictions"][0]["label"], "setosa");
    assert!(
        body["predictions"][0]["probabilities"]["setosa"]
            .as_f64()
            .unwrap()
            > 0.9
    );
}

#[test]
fn a_regressor_with_an_integer_target_trains_and_serves() {
    // diamonds' price is `dtype: integer`: a regressor reads it as a number.
    let registry = tempfile::tempdir().unwrap();
    let report = train("configs/diamonds_linear.yaml", registry.path());
    assert!(report["metrics"]["r2"].as_f64().unwrap() > 0.9, "{report}");
    let server = Server::start(registry.path(), &[]);
    let bundle = ModelBundle::load(&registry.path().join("diamonds_linear/1")).unwrap();
    let (records, predictions, truth) = test_set("configs/diamonds_linear.yaml", &bundle);
    assert!(matches!(truth[0], TargetValue::Number(_)));
    // The first 200 test rows, one request each, then as one batch.
    let records = &records[..200];
    for (r, record) in records.iter().enumerate() {
        let (status, body) = server.predict("diamonds_linear", record);
        assert_eq!(status, 200, "row {r}: {body}");
        assert_same(&body["predictions"][0], &predictions, &bundle, r);
    }
    let (status, body) = server.predict("diamonds_linear", &json!({ "records": records }));
    assert_eq!(status, 200, "{body}");
    for (r, served) in body["predictions"].as_array().unwrap().iter().enumerate() {
        assert_same(served, &predictions, &bundle, r);
    }
}
