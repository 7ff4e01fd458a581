//! The MLflow registry against a real MLflow tracking server (`mlflow server`, sqlite
//! store, artifact proxy on loopback): core's registry contract, MLflow's own view of
//! what Ferry wrote, and clear refusals of what Ferry cannot serve.

use ferry_core::registry::contract;
use serde_json::{Value, json};

use std::time::{Duration, Instant};

use crate::harness::{Server, bin, workspace};
use crate::mlflow_server::MlflowServer;

#[test]
fn the_registry_contract_holds_on_a_real_mlflow_server() {
    let mlflow = MlflowServer::start();
    for (name, check) in contract::CHECKS {
        mlflow.wipe();
        let cache = tempfile::tempdir().unwrap();
        let registry = mlflow.registry(cache.path());
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(registry.as_ref())));
        assert!(
            outcome.is_ok(),
            "contract check '{name}' failed on MLflow; server log:\n{}",
            mlflow.log()
        );
    }
}

/// Runs `train ARGS` in the workspace; (exit code, stdout, stderr).
fn train_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(bin("train"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace())
        .output()
        .expect("train runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn train_registry_verbs_work_on_mlflow_and_refuse_what_it_cannot_do() {
    let mlflow = MlflowServer::start();
    let url = mlflow.location().to_string();
    let cache = tempfile::tempdir().unwrap();
    let env = [("FERRY_CACHE_DIR", cache.path().to_str().unwrap())];
    for expected in [1, 2] {
        let (code, out, err) = train_cli(
            &[
                "--config",
                "configs/iris.yaml",
                "--json",
                "--registry",
                &url,
            ],
            &env,
        );
        assert_eq!(code, 0, "{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["version"], expected);
        assert_eq!(report["path"], format!("{url}/iris/{expected}"));
    }
    let registry = |args: &[&str]| {
        let mut all = vec!["registry", "--registry", url.as_str()];
        all.extend_from_slice(args);
        train_cli(&all, &env)
    };
    let (code, out, err) = registry(&["promote", "iris/1", "--alias", "production"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = registry(&["promote", "iris/2", "--alias", "production"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = registry(&["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"production\""), "{out}");
    // MLflow itself sees the alias.
    let (_, alias) = mlflow.get(
        "registered-models/alias",
        &[("name", "iris"), ("alias", "production")],
    );
    assert_eq!(alias["model_version"]["version"], "2");
    let (code, out, err) = registry(&["rollback", "iris", "production"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, alias) = mlflow.get(
        "registered-models/alias",
        &[("name", "iris"), ("alias", "production")],
    );
    assert_eq!(alias["model_version"]["version"], "1");
    let (code, out, err) = registry(&["show", "iris@production", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"data_sha256\""), "{out}");
    let (code, _, err) = registry(&["verify"]);
    assert_eq!(code, 0, "{err}");
    // What MLflow cannot do is refused, naming why.
    let (code, _, err) = registry(&["alias", "set", "iris", "latest", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("MLflow reserves the alias 'latest'"), "{err}");
    let (code, _, err) = registry(&["delete", "iris/1"]);
    assert_ne!(code, 0);
    assert!(err.contains("'production'"), "{err}");
    let (code, out, err) = registry(&["delete", "iris/2"]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = mlflow.get("model-versions/get", &[("name", "iris"), ("version", "2")]);
    assert_eq!(status, 404);
    let (code, out, err) = registry(&["gc", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_version_that_is_not_a_ferry_artifact_is_refused_by_name() {
    let mlflow = MlflowServer::start();
    // A model registered by another tool: a source Ferry never wrote, no Ferry tags.
    let (status, body) = mlflow.post("registered-models/create", &json!({"name": "sk"}));
    assert_eq!(status, 200, "{body}");
    let (status, run) = mlflow.post("runs/create", &json!({"experiment_id": "0"}));
    assert_eq!(status, 200, "{run}");
    let info = &run["run"]["info"];
    let source = format!("{}/model", info["artifact_uri"].as_str().unwrap());
    let (status, body) = mlflow.post(
        "model-versions/create",
        &json!({"name": "sk", "source": source, "run_id": info["run_id"]}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = mlflow.post(
        "registered-models/alias",
        &json!({"name": "sk", "alias": "prod", "version": "1"}),
    );
    assert_eq!(status, 200, "{body}");
    let url = mlflow.location().to_string();
    let (code, _, err) = train_cli(&["registry", "--registry", &url, "show", "sk@prod"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("is not a Ferry artifact"), "{err}");
    let cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin("serve"))
        .args(["--no-auth", "--bind", "127.0.0.1:0", "--registry", &url])
        .args(["--model", "sk@prod"])
        .env("FERRY_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a Ferry artifact"), "{stderr}");
    // Ferry does not list it among the models it serves.
    let (code, out, err) = train_cli(&["registry", "--registry", &url, "list", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("\"sk\""), "{out}");
}

#[test]
fn a_run_whose_tracking_fails_still_registers_locally_and_says_so() {
    // A port nothing listens on: the tracking server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = tempfile::tempdir().unwrap();
    let uri = format!("http://127.0.0.1:{port}");
    let (code, out, err) = train_cli(
        &[
            "--config",
            "configs/mlflow/iris.yaml",
            "--json",
            "--registry",
            local.path().to_str().unwrap(),
        ],
        &[("MLFLOW_TRACKING_URI", &uri)],
    );
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let error = report["tracking"]["error"].as_str().unwrap();
    assert!(error.contains("MLflow cannot be reached"), "{error}");
    assert!(error.contains(&uri), "{error}");
    assert!(local.path().join("iris/1/manifest.json").is_file());
    assert!(err.contains("MLflow tracking failed"), "{err}");
}

#[test]
fn serve_rides_out_an_mlflow_outage_on_its_verified_cache() {
    let mut mlflow = MlflowServer::start();
    let url = mlflow.location().to_string();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap().to_owned();
    let env = [("FERRY_CACHE_DIR", cache_dir.as_str())];
    let (code, _, err) = train_cli(
        &[
            "--config",
            "configs/iris.yaml",
            "--json",
            "--registry",
            &url,
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = train_cli(
        &[
            "registry",
            "--registry",
            &url,
            "promote",
            "iris/1",
            "--alias",
            "production",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    let server = Server::start_with(
        &url,
        &[
            "--no-auth",
            "--model",
            "iris@production",
            "--watch-interval",
            "0.3",
        ],
        &env,
        std::process::Stdio::null(),
    );
    let row = json!({"records": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]});
    let (status, before) = server.predict("iris", &row);
    assert_eq!(status, 200, "{before}");

    mlflow.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let (status, ready) = server.get("/ready");
        if ready["registry_offline"].is_string() {
            assert_eq!(status, 200, "{ready}");
            break ready;
        }
        assert!(Instant::now() < deadline, "never offline: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let reason = ready["registry_offline"].as_str().unwrap();
    assert!(
        reason.contains("MLflow") && reason.contains(&url),
        "{reason}"
    );
    let (status, during) = server.predict("iris", &row);
    assert_eq!(
        (status, &during["predictions"]),
        (200, &before["predictions"])
    );

    // A restart while MLflow is down starts from the cached copy alone.
    let restarted = Server::start_with(
        &url,
        &["--no-auth", "--model", "iris@production"],
        &env,
        std::process::Stdio::null(),
    );
    let (status, after) = restarted.predict("iris", &row);
    assert_eq!(
        (status, &after["predictions"]),
        (200, &before["predictions"])
    );
}
