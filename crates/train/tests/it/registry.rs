//! `train registry ...` against a registry the real binary filled.

use std::path::Path;

use crate::{json, report, train};

/// Above Linux's largest possible pid (2^22): never a live process.
const DEAD_PID: u32 = 4_194_399;

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

#[test]
fn promote_rollback_delete_and_alias_verbs() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path());
    report(&train(
        &["--config", "configs/iris.yaml", "--json"],
        dir.path(),
    ));
    let run = |args: &[&str]| {
        let mut all = vec!["registry"];
        all.extend_from_slice(args);
        let out = train(&all, dir.path());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    };
    assert_eq!(
        run(&["promote", "iris/1"]).1,
        "iris@production -> 1 (new alias)"
    );
    assert_eq!(run(&["promote", "iris"]).1, "iris@production -> 3 (was 1)");
    assert_eq!(
        run(&["alias", "set", "iris", "staging", "2"]).1,
        "iris@staging -> 2"
    );
    // Rollback restores the version production pointed to before.
    assert_eq!(
        run(&["rollback", "iris", "production"]).1,
        "iris@production rolled back to 1"
    );
    let shown = json(&train(
        &["registry", "show", "iris@production", "--json"],
        dir.path(),
    ));
    assert_eq!(shown["manifest"]["version"], 1);
    // A version an alias points to is not deleted.
    let (code, _, stderr) = run(&["delete", "iris/1"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("in use by alias 'production'"), "{stderr}");
    assert_eq!(run(&["alias", "delete", "iris", "production"]).0, Some(0));
    assert_eq!(run(&["delete", "iris/1"]).1, "deleted iris/1");
    let listing = json(&train(&["registry", "list", "--json"], dir.path()));
    assert_eq!(listing[1]["versions"], serde_json::json!([2, 3]));
    // Only NAME/VERSION can be deleted; nothing to roll back is a caller's error.
    assert_eq!(run(&["delete", "iris@staging"]).0, Some(2));
    let (code, _, stderr) = run(&["rollback", "iris", "canary"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no earlier version to roll back to"),
        "{stderr}"
    );
}

#[test]
fn diff_puts_params_and_metrics_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    report(&train(
        &["--config", "configs/iris.yaml", "--json"],
        dir.path(),
    ));
    let text = fs_err::read_to_string(crate::workspace().join("configs/iris.yaml"))
        .unwrap()
        .replace("../data/", "DATA/")
        .replace("  alpha: 1.0", "  alpha: 50.0");
    let config = crate::write_config(dir.path(), "strong.yaml", &text);
    report(&train(
        &["--config", config.to_str().unwrap(), "--json"],
        dir.path(),
    ));
    let diff = json(&train(
        &["registry", "diff", "iris/1", "iris/2", "--json"],
        dir.path(),
    ));
    let row = |key: &str| {
        diff["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {diff}"))
            .clone()
    };
    assert_eq!(row("model.alpha")["left"], "1.0");
    assert_eq!(row("model.alpha")["right"], "50.0");
    assert_eq!(row("model.alpha")["differs"], true);
    assert_eq!(row("model.type")["differs"], false);
    assert_eq!(row("rows.train")["differs"], false);
    assert_eq!(row("metric.log_loss")["differs"], true);
}
