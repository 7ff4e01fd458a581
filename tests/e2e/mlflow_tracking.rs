//! train tracked in a real MLflow server, and serve from MLflow's registry: the run's
//! params, metrics (folds as steps), tags and artifacts as MLflow's REST API (and the
//! API its UI calls) shows them, the registered version and its alias; serve on
//! `mlflow+http://...` answers as serve on the local registry and follows the alias
//! when it moves in MLflow. Twice: the artifact proxy writing to a directory, and to a
//! bucket of the S3-compatible server (as teams deploy MLflow).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, agent, bin, workspace};
use crate::mlflow_server::MlflowServer;
use crate::parity::test_records;
use crate::s3::{BUCKET, S3Server};

const CONFIG: &str = "configs/mlflow/iris.yaml";

/// Runs `train` on the tracked iris config against `mlflow`, the local artifact into
/// `local`; the JSON report.
fn train_tracked(mlflow: &MlflowServer, local: &std::path::Path) -> Value {
    let out = std::process::Command::new(bin("train"))
        .args(["--config", CONFIG, "--json", "--registry"])
        .arg(local)
        .env("MLFLOW_TRACKING_URI", &mlflow.base)
        .current_dir(workspace())
        .output()
        .expect("train runs");
    assert!(
        out.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn by_key(list: &Value) -> serde_json::Map<String, Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["key"].as_str().unwrap().to_owned(), e["value"].clone()))
        .collect()
}

fn predictions(server: &Server, records: &[Value]) -> Value {
    let (status, body) = server.predict("iris", &json!({ "records": records }));
    assert_eq!(status, 200, "{body}");
    body["predictions"].clone()
}

/// The whole round trip against `mlflow`; `files_in_store` says where the artifact
/// proxy's files are, to check that the model's files arrived there.
fn tracked_round_trip(mlflow: &MlflowServer, files_in_store: &dyn Fn(&str) -> Vec<String>) {
    let local = tempfile::tempdir().unwrap();
    let report = train_tracked(mlflow, local.path());
    let tracking = &report["tracking"];
    assert!(tracking["error"].is_null(), "{report}");
    assert_eq!(tracking["model_version"], 1, "{report}");
    assert_eq!(tracking["alias"], "champion");
    let run_id = tracking["run_id"].as_str().unwrap().to_owned();

    // The run, through MLflow's REST API.
    let (status, got) = mlflow.get("runs/get", &[("run_id", &run_id)]);
    assert_eq!(status, 200, "{got}");
    let run = &got["run"];
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["run_name"], report["run_id"]);
    let params = by_key(&run["data"]["params"]);
    assert_eq!(params["type"], "logistic_regression");
    assert_eq!(params["alpha"], "1.0");
    assert_eq!(params["cv_folds"], "5");
    let metrics = by_key(&run["data"]["metrics"]);
    for (name, value) in report["metrics"].as_object().unwrap() {
        let logged = metrics[name].as_f64().unwrap();
        assert!((logged - value.as_f64().unwrap()).abs() < 1e-12, "{name}");
    }
    assert!(metrics.contains_key("cv_accuracy_mean"));
    let tags = by_key(&run["data"]["tags"]);
    let manifest: Value =
        serde_json::from_slice(&fs_err::read(local.path().join("iris/1/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(tags["ferry.data_sha256"], manifest["data_sha256"]);
    assert_eq!(tags["ferry.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(tags["ferry.model_kind"], "logistic_regression");
    assert_eq!(tags["ferry.status"], "registered");
    if let Some(sha) = manifest["git_sha"].as_str() {
        assert_eq!(tags["ferry.git_sha"], sha);
        assert_eq!(tags["mlflow.source.git.commit"], sha);
    }
    // Each cross-validation fold is a step of one metric.
    let (status, history) = mlflow.get(
        "metrics/get-history",
        &[("run_id", &run_id), ("metric_key", "cv_accuracy")],
    );
    assert_eq!(status, 200, "{history}");
    let mut steps: Vec<i64> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, [0, 1, 2, 3, 4]);

    // The artifacts: the Ferry artifact under model/, the run record beside it.
    let (status, listed) = mlflow.get("artifacts/list", &[("run_id", &run_id), ("path", "model")]);
    assert_eq!(status, 200, "{listed}");
    let mut files: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    let mut expected: Vec<String> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(|f| format!("model/{f}"))
        .collect();
    expected.push("model/manifest.json".to_owned());
    expected.sort();
    assert_eq!(files, expected);
    let (_, root) = mlflow.get("artifacts/list", &[("run_id", &run_id)]);
    assert!(root.to_string().contains("\"run.json\""), "{root}");
    let stored = files_in_store(&run_id);
    for file in &expected {
        assert!(
            stored.iter().any(|s| s.ends_with(file.as_str())),
            "{file} not in the store: {stored:?}"
        );
    }

    // The registered version, its lineage and its alias.
    let (status, version) = mlflow.get("model-versions/get", &[("name", "iris"), ("version", "1")]);
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["model_version"]["run_id"], run_id.as_str());
    assert!(
        version.to_string().contains("ferry.manifest_sha256"),
        "{version}"
    );
    let (status, alias) = mlflow.get(
        "registered-models/alias",
        &[("name", "iris"), ("alias", "champion")],
    );
    assert_eq!(status, 200, "{alias}");
    assert_eq!(alias["model_version"]["version"], "1");

    // What MLflow's UI shows: its page, and the calls it makes for the run.
    let mut page = agent().get(format!("{}/", mlflow.base)).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.body_mut()
            .read_to_string()
            .unwrap()
            .contains("<div id=\"root\"")
    );
    for (endpoint, query) in [
        ("runs/get", vec![("run_id", run_id.as_str())]),
        (
            "metrics/get-history",
            vec![("run_id", run_id.as_str()), ("metric_key", "accuracy")],
        ),
        (
            "artifacts/list",
            vec![("run_id", run_id.as_str()), ("path", "model")],
        ),
    ] {
        let mut request = agent().get(format!("{}/ajax-api/2.0/mlflow/{endpoint}", mlflow.base));
        for (k, v) in query {
            request = request.query(k, v);
        }
        let mut response = request.call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{endpoint}");
        let body: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert!(!body.as_object().unwrap().is_empty(), "{endpoint}: {body}");
    }

    // serve on MLflow's registry answers as serve on the local one.
    let records = test_records("configs/iris.yaml");
    let from_local = Server::start(local.path(), &[]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let location = mlflow.location().to_string();
    let from_mlflow = Server::start_with(
        &location,
        &[
            "--no-auth",
            "--model",
            "iris@champion",
            "--watch-interval",
            "0.5",
        ],
        &[("FERRY_CACHE_DIR", cache_dir)],
        std::process::Stdio::null(),
    );
    assert_eq!(
        predictions(&from_mlflow, &records),
        predictions(&from_local, &records)
    );
    let (_, ready) = from_mlflow.get("/ready");
    assert_eq!(ready["models"]["iris"], 1, "{ready}");

    // A second run registers version 2 and moves the alias: serve follows; moving it
    // back in MLflow (as its UI does) takes serve back.
    let second = train_tracked(mlflow, local.path());
    assert_eq!(second["tracking"]["model_version"], 2, "{second}");
    wait_for_version(&from_mlflow, 2);
    let (status, moved) = mlflow.post(
        "registered-models/alias",
        &json!({"name": "iris", "alias": "champion", "version": "1"}),
    );
    assert_eq!(status, 200, "{moved}");
    wait_for_version(&from_mlflow, 1);
}

fn wait_for_version(server: &Server, version: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ready) = server.get("/ready");
        if ready["models"]["iris"] == version {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not follow the alias to version {version}: {ready}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn train_tracks_in_mlflow_and_serve_follows_its_alias() {
    let mlflow = MlflowServer::start();
    let dir = mlflow.artifacts_dir();
    tracked_round_trip(&mlflow, &|run_id| {
        let mut files = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in fs_err::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().contains(run_id) {
                    files.push(path.to_string_lossy().into_owned());
                }
            }
        }
        files
    });
}

/// `configs/mlflow/iris.yaml` with `edit` applied, written into `dir`.
fn tracked_config(dir: &std::path::Path, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = fs_err::read_to_string(workspace().join(CONFIG)).unwrap();
    let data = workspace().join("data/iris.csv");
    let path = dir.join("iris.yaml");
    fs_err::write(
        &path,
        edit(text.replace("../../data/iris.csv", data.to_str().unwrap())),
    )
    .unwrap();
    path
}

#[test]
fn a_failed_gate_ends_the_mlflow_run_failed_and_a_refusal_is_named() {
    let mlflow = MlflowServer::start();
    let dir = tempfile::tempdir().unwrap();
    let strict = tracked_config(dir.path(), |t| t.replace("min: 0.85", "min: 0.999"));
    let out = std::process::Command::new(bin("train"))
        .arg("--config")
        .arg(&strict)
        .args(["--json", "--registry"])
        .arg(dir.path().join("registry"))
        .env("MLFLOW_TRACKING_URI", &mlflow.base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a failed gate exits 1");
    let (status, runs) = mlflow.post(
        "runs/search",
        &json!({"experiment_ids": ["1"], "max_results": 10}),
    );
    assert_eq!(status, 200, "{runs}");
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["info"]["status"], "FAILED");
    let tags = by_key(&runs[0]["data"]["tags"]);
    assert_eq!(tags["ferry.status"], "gates_failed");
    assert!(
        tags["ferry.failure"].as_str().unwrap().contains("accuracy"),
        "{tags:?}"
    );
    // The metrics are there; no model was registered.
    assert!(by_key(&runs[0]["data"]["metrics"]).contains_key("accuracy"));
    let (status, _) = mlflow.get("registered-models/get", &[("name", "iris")]);
    assert_eq!(status, 404);

    // MLflow refusing the run (its experiment deleted) is reported, and the model stands.
    let (status, body) = mlflow.post("experiments/delete", &json!({"experiment_id": "1"}));
    assert_eq!(status, 200, "{body}");
    let ok = tracked_config(dir.path(), |t| t);
    let out = std::process::Command::new(bin("train"))
        .arg("--config")
        .arg(&ok)
        .args(["--json", "--registry"])
        .arg(dir.path().join("registry"))
        .env("MLFLOW_TRACKING_URI", &mlflow.base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = report["tracking"]["error"].as_str().unwrap();
    assert!(
        error.contains("experiment 'iris' is deleted in MLflow"),
        "{error}"
    );
    assert!(dir.path().join("registry/iris/1/manifest.json").is_file());
}

#[test]
fn with_its_artifacts_in_a_bucket_behind_the_proxy() {
    let s3 = S3Server::start();
    let mut env = s3.env();
    // MLflow's S3 client (boto3) reads its endpoint from here.
    env.push(("MLFLOW_S3_ENDPOINT_URL", s3.endpoint.clone()));
    let mlflow = MlflowServer::start_with(Some(&format!("s3://{BUCKET}/mlflow")), &env);
    let endpoint = s3.endpoint.clone();
    tracked_round_trip(&mlflow, &|run_id| {
        let mut listed = agent()
            .get(format!("{endpoint}/{BUCKET}"))
            .query("list-type", "2")
            .query("prefix", "mlflow/")
            .call()
            .unwrap();
        let body = listed.body_mut().read_to_string().unwrap();
        body.split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next())
            .filter(|k| k.contains(run_id))
            .map(str::to_owned)
            .collect()
    });
}
