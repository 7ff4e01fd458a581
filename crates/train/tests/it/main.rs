//! train's integration tests: the real binary on the shipped configs and data.

// Test helpers outside #[test] functions may panic: a failed helper is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod data;
mod registry;
mod roundtrip;
mod runs;
mod select;
mod trees;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn train(args: &[&str], registry: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .env("FERRY_REGISTRY", registry)
        .env_remove("RUST_LOG")
        .current_dir(workspace())
        .output()
        .expect("the train binary runs")
}

pub(crate) fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "train failed with {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints the report")
}

/// Writes `text` as a config in `dir`, with `DATA` replaced by the absolute path of the
/// workspace's data directory.
pub(crate) fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let data = workspace().join("data");
    fs_err::write(&path, text.replace("DATA", data.to_str().unwrap())).unwrap();
    path
}

/// The JSON a command printed on stdout, whatever its exit code.
pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
