//! `/invocations` against MLflow's own scoring server: a scikit-learn model on the iris
//! data saved with MLflow (`tests/python/mlflow_scoring_model.py`) and served by
//! `mlflow models serve`, and Ferry's iris model served by `serve`, get the same table of
//! requests, good and malformed; each answer's status and `error_code` must be MLflow's.
//! The few places Ferry answers otherwise on purpose are listed with MLflow's answer, so
//! that a change on either side shows.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Server, agent, train, workspace};

/// `mlflow models serve` on a loopback port, killed (with its uvicorn) on drop.
struct Scoring {
    child: Child,
    base: String,
}

impl Drop for Scoring {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_scoring(model: &std::path::Path) -> Scoring {
    let venv = workspace().join("tests/.venv/bin");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new(venv.join("mlflow"))
        .args([
            "models",
            "serve",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
        ])
        .args(["-p", &port.to_string(), "-m"])
        .arg(model)
        .env("PATH", path)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mlflow models serve starts");
    let scoring = Scoring {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let up = agent()
            .get(format!("{}/ping", scoring.base))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 200);
        if up {
            return scoring;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("mlflow models serve did not answer /ping");
}

/// Status, `error_code` (when the body is MLflow's JSON error) and the body.
fn invoke(base: &str, content_type: &str, body: &str) -> (u16, Option<String>, String) {
    let mut request = agent().post(format!("{base}/invocations"));
    if !content_type.is_empty() {
        request = request.header("Content-Type", content_type);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error_code"].as_str().map(str::to_owned));
    (status, code, text)
}

const ROW: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;

#[test]
fn invocations_answers_malformed_requests_as_mlflow_models_serve_does() {
    let scratch = tempfile::tempdir().unwrap();
    let model = scratch.path().join("sklearn-iris");
    let saved = Command::new(workspace().join("tests/.venv/bin/python"))
        .arg(workspace().join("tests/python/mlflow_scoring_model.py"))
        .arg(workspace().join("data/iris.csv"))
        .arg(&model)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let mlflow = start_scoring(&model);
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let ferry = Server::start(registry.path(), &[]);

    let json = "application/json";
    let same: Vec<(&str, &str, String)> = vec![
        ("a good record", json, format!(r#"{{"dataframe_records":[{ROW}]}}"#)),
        ("a column the model does not read", json, r#"{"dataframe_records":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"x":1}]}"#.into()),
        ("not JSON", json, "not json".into()),
        ("an empty body", json, String::new()),
        ("a JSON array", json, "[1,2]".into()),
        ("JSON null", json, "null".into()),
        ("no input key", json, "{}".into()),
        ("an unknown input key", json, r#"{"foo":[]}"#.into()),
        ("two input keys", json, format!(r#"{{"dataframe_records":[{ROW}],"instances":[{ROW}]}}"#)),
        ("records that are not a list", json, r#"{"dataframe_records":"x"}"#.into()),
        ("records that are numbers", json, r#"{"dataframe_records":[1,2]}"#.into()),
        ("no records", json, r#"{"dataframe_records":[]}"#.into()),
        ("split without data", json, r#"{"dataframe_split":{"columns":["sepal_length"]}}"#.into()),
        ("split without columns", json, r#"{"dataframe_split":{"data":[[5.1,3.5,1.4,0.2]]}}"#.into()),
        ("split rows shorter than the columns", json, r#"{"dataframe_split":{"columns":["sepal_length","sepal_width","petal_length","petal_width"],"data":[[1,2,3]]}}"#.into()),
        ("a missing feature", json, r#"{"dataframe_records":[{"sepal_length":5.1}]}"#.into()),
        ("a string for a number", json, r#"{"dataframe_records":[{"sepal_length":"abc","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#.into()),
        ("a null feature", json, r#"{"dataframe_records":[{"sepal_length":null,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#.into()),
        ("instances that are numbers", json, r#"{"instances":[1,2]}"#.into()),
        ("an instance of too few values", json, r#"{"instances":[[1,2,3]]}"#.into()),
        ("inputs of too few values", json, r#"{"inputs":[[1,2,3]]}"#.into()),
        ("columns of different lengths", json, r#"{"inputs":{"sepal_length":[1,2],"sepal_width":[1],"petal_length":[1,2],"petal_width":[1,2]}}"#.into()),
        ("unreadable CSV", "text/csv", "sepal_length,sepal_width\n\"unterminated".into()),
        ("CSV missing a feature", "text/csv", "sepal_length\n5.1".into()),
        ("an empty CSV body", "text/csv", String::new()),
        ("a CSV header without rows", "text/csv", "sepal_length,sepal_width,petal_length,petal_width\n".into()),
        ("another content type", "text/plain", "x".into()),
        ("a charset other than UTF-8", "application/json; charset=latin-1", format!(r#"{{"dataframe_records":[{ROW}]}}"#)),
        ("an unknown content-type parameter", "application/json; foo=bar", format!(r#"{{"dataframe_records":[{ROW}]}}"#)),
    ];
    let mut differ = Vec::new();
    for (what, content_type, body) in &same {
        let (m_status, m_code, m_body) = invoke(&mlflow.base, content_type, body);
        let (f_status, f_code, f_body) = invoke(&ferry.base, content_type, body);
        // MLflow's 415s are text/plain without an error_code; Ferry's carry BAD_REQUEST.
        let codes_agree = m_code.is_none() || m_code == f_code;
        if m_status != f_status || !codes_agree {
            differ.push(format!(
                "{what}: MLflow {m_status} {m_code:?} ({m_body}); Ferry {f_status} {f_code:?} ({f_body})"
            ));
        }
        if m_status == 200 {
            assert_eq!(
                serde_json::from_str::<Value>(&m_body).unwrap(),
                serde_json::from_str::<Value>(&f_body).unwrap(),
                "{what}"
            );
        }
    }
    assert!(differ.is_empty(), "answers differ:\n{}", differ.join("\n"));

    // Where Ferry answers otherwise on purpose, with what MLflow answers.
    let stricter = [
        // The model's schema declares ranges (0 to 100 cm); MLflow's signature has none.
        (
            r#"{"dataframe_records":[{"sepal_length":500,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#,
            json,
            200,
            400,
        ),
        // pandas turns true into 1.0; Ferry refuses a boolean for a numeric feature.
        (
            r#"{"dataframe_records":[{"sepal_length":true,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#,
            json,
            200,
            400,
        ),
        // No content type: MLflow's server fails (500); a client error is a 415.
        ("{}", "", 500, 415),
    ];
    for (body, content_type, m_expected, f_expected) in stricter {
        let (m_status, _, m_body) = invoke(&mlflow.base, content_type, body);
        assert_eq!(m_status, m_expected, "MLflow on {body}: {m_body}");
        let (f_status, f_code, f_body) = invoke(&ferry.base, content_type, body);
        assert_eq!(f_status, f_expected, "Ferry on {body}: {f_body}");
        assert_eq!(f_code.as_deref(), Some("BAD_REQUEST"), "{f_body}");
    }
}
