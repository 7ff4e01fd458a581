//! Several versions of one model served at once, reached by version number and by alias.

use serde_json::json;

use crate::harness::{Server, bin, train, workspace};

#[test]
fn versions_and_aliases_have_their_own_routes() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    train("configs/iris.yaml", registry.path());
    let out = std::process::Command::new(bin("train"))
        .args([
            "registry",
            "alias",
            "set",
            "iris",
            "production",
            "1",
            "--registry",
        ])
        .arg(registry.path())
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(out.status.success());
    // The first --model of a name is its default.
    let server = Server::start(
        registry.path(),
        &["--model", "iris@production", "--model", "iris/2"],
    );
    let record =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    let body = record.to_string();
    let post = |path: &str| server.post(path, "application/json", body.as_bytes());
    for (path, version) in [
        ("/models/iris/predict", 1),
        ("/models/iris/versions/2/predict", 2),
        ("/models/iris/versions/1/predict", 1),
        ("/models/iris/aliases/production/predict", 1),
    ] {
        let (status, answer) = post(path);
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["model_version"], version, "{path}");
        assert_eq!(answer["predictions"][0]["label"], "setosa");
    }
    for (path, message) in [
        (
            "/models/iris/versions/3/predict",
            "model 'iris' is not served at version 3",
        ),
        (
            "/models/iris/versions/three/predict",
            "model 'iris' is not served at version 'three' (a version is a whole number)",
        ),
        (
            "/models/iris/aliases/canary/predict",
            "model 'iris' is not served at alias 'canary'",
        ),
    ] {
        let (status, answer) = post(path);
        assert_eq!(status, 404, "{path}");
        assert_eq!(answer["code"], "version_not_found");
        assert_eq!(answer["message"], message);
    }
    let (status, detail) = server.get("/models/iris");
    assert_eq!(status, 200);
    assert_eq!(detail["version"], 1);
    assert_eq!(
        detail["served_versions"],
        json!([
            {"version": 1, "reference": "iris@production", "default": true},
            {"version": 2, "reference": "iris/2", "default": false}
        ])
    );
    assert_eq!(server.get("/models/iris/versions/2").1["version"], 2);
    assert_eq!(
        server.get("/models/iris/aliases/production").1["version"],
        1
    );
    assert_eq!(server.get("/models/iris/aliases/latest").0, 404);
}
