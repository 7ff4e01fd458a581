//! Run records: every run that got as far as reading its config leaves one.

use crate::{json, report, train, workspace, write_config};

#[test]
fn every_run_is_recorded_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let iris = fs_err::read_to_string(workspace().join("configs/iris.yaml"))
        .unwrap()
        .replace("../data/", "DATA/");
    // Registered.
    let ok = report(&train(
        &["--config", "configs/iris.yaml", "--json"],
        &registry,
    ));
    // A gate fails.
    let strict = write_config(
        dir.path(),
        "strict.yaml",
        &iris.replace(
            "{metric: accuracy, min: 0.85}",
            "{metric: accuracy, min: 0.999}",
        ),
    );
    assert_eq!(
        train(&["--config", strict.to_str().unwrap()], &registry)
            .status
            .code(),
        Some(1)
    );
    // The data lacks a column.
    let missing = write_config(
        dir.path(),
        "missing.yaml",
        &iris.replace("petal_width", "petal_wide"),
    );
    assert_eq!(
        train(&["--config", missing.to_str().unwrap()], &registry)
            .status
            .code(),
        Some(2)
    );

    let runs = json(&train(&["runs", "list", "--json"], &registry));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["failed", "gates_failed", "registered"]);
    let registered = runs.iter().find(|r| r["status"] == "registered").unwrap();
    assert_eq!(registered["run_id"], ok["run_id"]);
    assert_eq!(registered["version"], 1);
    let failed = runs.iter().find(|r| r["status"] == "failed").unwrap();
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("has no column 'petal_wide'"),
        "{failed}"
    );

    // The whole record of the registered run agrees with the artifact it made.
    let id = ok["run_id"].as_str().unwrap();
    let record = json(&train(&["runs", "show", "iris", id, "--json"], &registry));
    let manifest: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(registry.join("iris/1/manifest.json")).unwrap(),
    )
    .unwrap();
    for key in ["config_sha256", "data_sha256", "git_sha"] {
        assert_eq!(record[key], manifest[key], "{key}");
    }
    assert_eq!(record["rows"], manifest["rows"]);
    assert_eq!(record["metrics"], manifest["metrics"]);
    assert_eq!(record["params"]["type"], "logistic_regression");
    assert_eq!(record["params"]["alpha"], 1.0);
    assert!(record["stages"]["fit"].as_f64().unwrap() > 0.0);
    assert!(
        record["config"]
            .as_str()
            .unwrap()
            .contains("model_name: iris")
    );
    assert_eq!(
        record["versions"]["ferry-core"],
        manifest["library_versions"]["ferry-core"]
    );
    assert!(record["host"].as_str().is_some_and(|h| !h.is_empty()));
    // The gate failure kept its metrics and split.
    let gated = runs.iter().find(|r| r["status"] == "gates_failed").unwrap();
    let gated = json(&train(
        &[
            "runs",
            "show",
            "iris",
            gated["run_id"].as_str().unwrap(),
            "--json",
        ],
        &registry,
    ));
    assert_eq!(gated["rows"]["test"], 30);
    assert_eq!(gated["gates"][0]["passed"], false);
    assert!(gated["version"].is_null());

    // Unknown runs are a caller's error.
    let out = train(&["runs", "show", "iris", "nope"], &registry);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no run 'nope'"));
}

/// kill -9 of `train` at three points of a diamonds boosting run (it takes seconds in a
/// test build): no partial version is ever listed, the registry verifies after each kill,
/// each killed run stays in `train runs list` as `crashed`, `gc` removes what they left,
/// and the next run registers.
#[test]
fn killed_runs_show_as_crashed_and_leave_nothing_half_written() {
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let mut kills = 0;
    for delay_ms in [300u64, 900, 1800] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_train"))
            .args(["--config", "configs/diamonds_boosting.yaml"])
            .env("FERRY_REGISTRY", &registry)
            .env_remove("RUST_LOG")
            .current_dir(workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
        let verify = train(&["registry", "verify"], &registry);
        assert!(
            verify.status.code() == Some(0),
            "after a kill at {delay_ms} ms: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    assert!(kills >= 2, "the run ended before it could be killed");
    let runs = json(&train(&["runs", "list", "--json"], &registry));
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == "crashed" || *s == "registered"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == "crashed").count() >= kills - 1,
        "{statuses:?} after {kills} kills"
    );
    let listed = json(&train(&["registry", "list", "--json"], &registry));
    let gc = train(&["registry", "gc"], &registry);
    assert_eq!(gc.status.code(), Some(0));
    let dry = json(&train(
        &["registry", "gc", "--dry-run", "--json"],
        &registry,
    ));
    assert_eq!(dry["leftovers"].as_array().unwrap().len(), 0, "{dry}");
    let done = report(&train(
        &["--config", "configs/diamonds_boosting.yaml", "--json"],
        &registry,
    ));
    assert_eq!(done["status"], "registered");
    eprintln!("{kills} kills; runs {statuses:?}; listed before the last run: {listed}");
}
