//! `train drift` on real data: the titanic model's training rows against first-class
//! passengers only, and the HTML report rendered by headless Chromium (Debian's
//! `chromium`, installed by .ci/run).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{bin, train, workspace};

fn drift(registry: &Path, data: &str, out: &Path) -> (Option<i32>, Value) {
    let run = Command::new(bin("train"))
        .args(["drift", "--model", "titanic", "--json", "--data", data])
        .arg("--registry")
        .arg(registry)
        .arg("--out")
        .arg(out)
        .current_dir(workspace())
        .output()
        .unwrap();
    let json = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    (run.status.code(), json)
}

fn drifted(report: &Value) -> Vec<String> {
    report["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn first_class_passengers_drift_on_class_and_fare_and_the_report_renders() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    train("configs/titanic.yaml", &registry);

    // The whole table (the training rows are 80% of it) does not drift.
    let (code, same) = drift(&registry, "data/titanic.csv", &dir.path().join("same"));
    assert_eq!(code, Some(0), "{same:#}");
    assert_eq!(same["dataset_drift"], false);
    assert!(drifted(&same).is_empty(), "{same:#}");

    let out = dir.path().join("shifted");
    let (code, shifted) = drift(&registry, "data/titanic_first_class.csv", &out);
    assert_eq!(code, Some(3), "{shifted:#}");
    assert_eq!(shifted["dataset_drift"], true);
    assert_eq!(shifted["current_rows"], 323);
    let names = drifted(&shifted);
    for feature in ["pclass", "fare"] {
        assert!(names.contains(&feature.to_owned()), "{feature}: {names:?}");
    }
    // Features that do not depend on the class stay put.
    for feature in ["sex", "sibsp", "parch"] {
        assert!(!names.contains(&feature.to_owned()), "{feature}: {names:?}");
    }
    let pclass = &shifted["features"][0];
    assert_eq!(pclass["name"], "pclass");
    assert!(pclass["psi"].as_f64().unwrap() > 1.0, "{pclass:#}");
    assert!(
        pclass["ks"]["p_value"].as_f64().unwrap() < 1e-6,
        "{pclass:#}"
    );
    let embarked = &shifted["features"][6];
    assert!(embarked["chi_square"]["p_value"].as_f64().unwrap() < 0.05);
    assert!(embarked["jensen_shannon"].as_f64().unwrap() > 0.0);
    assert_eq!(embarked["unseen_rate"], 0.0);
    // drift.json holds what --json printed.
    let file: Value =
        serde_json::from_str(&fs_err::read_to_string(out.join("drift.json")).unwrap()).unwrap();
    assert_eq!(file["features"], shifted["features"]);

    // The HTML report is self-contained.
    let html = fs_err::read_to_string(out.join("drift.html")).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("src="), "no external resources");
    assert!(!html.contains("href=\"http"), "no external links");
    assert_eq!(
        html.matches("<svg ").count(),
        7,
        "one histogram per feature"
    );

    // Rendered by headless Chromium: no console message, and not a blank page.
    let png = out.join("drift.png");
    let profile = tempfile::tempdir().unwrap();
    // Without the background-networking flags Chromium tries (and fails) to reach
    // Google's hosts on this closed network.
    let run = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", out.join("drift.html").display()))
        .output()
        .expect("chromium runs (Debian's chromium package; .ci/run installs it)");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    assert!(!log.contains(":CONSOLE"), "console messages: {log}");
    let decoder = png::Decoder::new(std::io::BufReader::new(fs_err::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let non_white = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(
        non_white * 100 > pixels.len(),
        "{non_white} of {} pixels are not white",
        pixels.len()
    );
    // Both bar colours are on the page: the histograms drew.
    for colour in [[0x4c, 0x78, 0xa8], [0xf5, 0x85, 0x18]] {
        let n = pixels.iter().filter(|p| p[..3] == colour).count();
        assert!(n > 500, "{n} pixels of {colour:?}");
    }
}

#[test]
fn a_model_without_reference_statistics_is_a_usage_error() {
    // The committed fixture artifact predates reference statistics.
    let fixture = workspace().join("tests/fixtures/registry");
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(bin("train"))
        .args(["drift", "--model", "tiny", "--data", "data/titanic.csv"])
        .arg("--registry")
        .arg(&fixture)
        .arg("--out")
        .arg(out.path())
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("has no reference statistics"), "{stderr}");
}
