//! `train registry ...` against a registry the real binary filled.

use std::path::Path;

use crate::{report, train};

/// Above Linux's largest possible pid (2^22): never a live process.
const DEAD_PID: u32 = 4_194_399;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn filled(registry: &Path) {
    for config in [
        "configs/iris.yaml",
        "configs/iris.yaml",
        "configs/diabetes.yaml",
    ] {
        report(&train(&["--config", config, "--json"], registry));
    }
}

#[test]
fn list_and_show_read_what_runs_registered() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    let out = train(&["registry", "list", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let listing = json(&out);
    assert_eq!(listing[0]["name"], "diabetes");
    assert_eq!(listing[1]["name"], "iris");
    assert_eq!(listing[1]["versions"], serde_json::json!([1, 2]));
    assert_eq!(listing[1]["aliases"]["latest"], 2);

    let out = train(&["registry", "show", "iris/1", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let shown = json(&out);
    assert_eq!(shown["manifest"]["version"], 1);
    assert_eq!(shown["manifest"]["model_kind"], "logistic_regression");
    assert!(shown["manifest"]["metrics"]["accuracy"].as_f64().unwrap() > 0.9);
    assert_eq!(shown["aliases"], serde_json::json!([]));
    let text = train(&["registry", "show", "iris"], dir.path());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with(
            "iris version 2 (logistic_regression, classification)\n  aliases   latest"
        ),
        "{text}"
    );

    let out = train(&["registry", "show", "nope"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("model 'nope' is not in the registry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn verify_names_each_damaged_version_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    let out = train(&["registry", "verify"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("3 versions checked, 0 damaged\n"));

    let model = dir.path().join("iris/2/model.json");
    let mut bytes = fs_err::read(&model).unwrap();
    bytes.push(b' ');
    fs_err::write(&model, bytes).unwrap();
    let out = train(&["registry", "verify", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let checked = json(&out);
    let damaged: Vec<_> = checked
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(damaged.len(), 1, "{checked}");
    assert_eq!(
        (damaged[0]["model"].as_str(), damaged[0]["version"].as_u64()),
        (Some("iris"), Some(2))
    );
    assert!(
        damaged[0]["error"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{checked}"
    );
    // One reference: only that version.
    let out = train(&["registry", "verify", "iris/1"], dir.path());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn gc_reports_then_removes_what_killed_runs_left() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    let leftover = dir.path().join(format!("iris/.tmp-3-{DEAD_PID}"));
    fs_err::create_dir_all(&leftover).unwrap();
    fs_err::write(leftover.join("model.json"), "{}").unwrap();

    let out = train(&["registry", "gc", "--dry-run", "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let dry = json(&out);
    assert_eq!(dry["removed"], false);
    assert_eq!(dry["leftovers"][0]["pid"], DEAD_PID);
    assert_eq!(dry["leftovers"][0]["bytes"], 2);
    assert!(leftover.exists());

    let out = train(&["registry", "gc"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("1 leftovers, 2 bytes freed\n"));
    assert!(!leftover.exists());
    // The registered versions are untouched.
    let out = train(&["registry", "verify"], dir.path());
    assert_eq!(out.status.code(), Some(0));
}
