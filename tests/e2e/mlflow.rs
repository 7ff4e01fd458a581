//! MLflow's scoring protocol against the serve binary: the four JSON shapes and CSV give
//! the native endpoint's predictions; errors come in MLflow's body; with several models
//! served, `--mlflow-model` picks the one `/invocations` answers for.

use serde_json::{Value, json};

use crate::harness::{Server, train};

fn titanic() -> Value {
    json!([
        {"pclass": 1, "sex": "female", "age": 29.0, "sibsp": 0, "parch": 0, "fare": 211.3375, "embarked": "S"},
        {"pclass": 3, "sex": "male", "age": null, "sibsp": 1, "parch": 2, "fare": 23.45, "embarked": null},
        {"pclass": 2, "sex": "male", "age": 35.0, "sibsp": 0, "parch": 0, "fare": 13.0, "embarked": "Q"}
    ])
}

const COLUMNS: [&str; 7] = ["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked"];

#[test]
fn the_four_json_shapes_and_csv_answer_as_the_native_endpoint() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic.yaml", registry.path());
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &["--mlflow-model", "titanic"]);
    let (status, native) = server.predict("titanic", &json!({ "records": titanic() }));
    assert_eq!(status, 200);
    let labels: Vec<Value> = native["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].clone())
        .collect();
    let expected = json!({ "predictions": labels });

    let records = titanic();
    let rows: Vec<Value> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Value::Array(COLUMNS.iter().map(|c| r[*c].clone()).collect()))
        .collect();
    let columnar: serde_json::Map<String, Value> = COLUMNS
        .iter()
        .map(|c| {
            let column = records
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[*c].clone())
                .collect();
            ((*c).to_owned(), Value::Array(column))
        })
        .collect();
    for body in [
        json!({"dataframe_split": {"columns": COLUMNS, "data": rows}}),
        json!({"dataframe_records": records}),
        json!({"instances": records}),
        json!({"instances": rows}),
        json!({"inputs": records}),
        json!({"inputs": columnar}),
    ] {
        let (status, answer) = server.post(
            "/invocations",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer, expected, "{body}");
    }
    let csv = "pclass,sex,age,sibsp,parch,fare,embarked,name\n\
               1,female,29.0,0,0,211.3375,S,Allen\n\
               3,male,,1,2,23.45,,Smith\n\
               2,male,35.0,0,0,13.0,Q,Jones\n";
    let (status, answer) = server.post("/invocations", "text/csv; charset=utf-8", csv.as_bytes());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, expected);

    // MLflow's error body.
    let (status, answer) = server.post("/invocations", "application/json", b"{\"records\": []}");
    assert_eq!(status, 400);
    assert_eq!(answer["error_code"], "BAD_REQUEST");
    assert_eq!(
        answer["message"],
        "unknown key 'records'; expected one of dataframe_split, dataframe_records, instances or inputs"
    );
    let (status, answer) = server.post("/invocations", "application/json", b"{\"instances\": [");
    assert_eq!(status, 400);
    // As MLflow's scoring server answers unparseable JSON (tests/e2e/mlflow_scoring.rs).
    assert_eq!(answer["error_code"], "BAD_REQUEST");
    let bad = json!({"dataframe_records": [{"pclass": 9, "sex": "female", "age": 1, "sibsp": 0, "parch": 0, "fare": 1, "embarked": "S"}]});
    let (status, answer) = server.post(
        "/invocations",
        "application/json",
        bad.to_string().as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(
        answer["message"].as_str().unwrap().contains("pclass"),
        "{answer}"
    );
    let (status, answer) = server.post("/invocations", "text/plain", b"1,2");
    assert_eq!(status, 415);
    assert_eq!(answer["error_code"], "BAD_REQUEST");
    assert_eq!(server.get("/ping").0, 200);
}

#[test]
fn with_several_models_and_none_named_invocations_says_how_to_pick_one() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic.yaml", registry.path());
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let body = json!({"dataframe_records": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]});
    let (status, answer) = server.post(
        "/invocations",
        "application/json",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("--mlflow-model NAME"),
        "{answer}"
    );
    let only_iris = Server::start(registry.path(), &["--model", "iris"]);
    let (status, answer) = only_iris.post(
        "/invocations",
        "application/json",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"predictions": ["setosa"]}));
}
