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
    // Oldest first, though the three started within a second or two.
    assert_eq!(statuses, ["registered", "gates_failed", "failed"]);
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

    // The start of a run id will do when no other run's id starts alike: the shortest
    // such start of the registered run's id shows its record.
    let ids: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    let unique = (1..=id.len())
        .map(|n| &id[..n])
        .find(|start| ids.iter().filter(|other| other.starts_with(start)).count() == 1)
        .unwrap();
    assert!(unique.len() < id.len(), "{ids:?}");
    let shown = json(&train(
        &["runs", "show", "iris", unique, "--json"],
        &registry,
    ));
    assert_eq!(shown, record);
    // One character shorter, another run's id starts alike: refused, naming the runs.
    let shared = &id[..unique.len() - 1];
    let out = train(&["runs", "show", "iris", shared], &registry);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("runs whose id starts with '{shared}'")),
        "{stderr}"
    );
    assert!(stderr.contains(id), "{stderr}");
}
