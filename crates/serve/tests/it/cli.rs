use std::process::Command;

fn serve(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_serve"));
    for var in [
        "FERRY_REGISTRY",
        "FERRY_BIND",
        "FERRY_MODELS",
        "FERRY_MAX_BODY_BYTES",
        "FERRY_MAX_BATCH",
        "FERRY_WORKERS",
        "FERRY_LOG_FORMAT",
        "FERRY_MLFLOW_MODEL",
        "FERRY_API_KEYS",
        "FERRY_API_KEYS_FILE",
        "FERRY_NO_AUTH",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn help_documents_every_option() {
    let out = serve(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("serve_help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn an_invalid_model_reference_is_a_usage_error() {
    let out = serve(&["--model", "Iris!"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'Iris!' for '--model <REF>'"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let registry = crate::fixture_registry();
    let out = serve(&[
        "--bind",
        &addr,
        "--registry",
        registry.to_str().unwrap(),
        "--no-auth",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn flags_override_the_config_file() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yaml");
    let registry = crate::fixture_registry();
    // Port 1 is privileged: if the file's bind were used, startup would fail.
    let text = format!(
        "registry: {}\nbind: 127.0.0.1:1\nmodels: [tiny/1]\n",
        registry.display()
    );
    fs_err::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
            "--no-auth",
        ])
        .env_remove("FERRY_BIND")
        .env_remove("FERRY_REGISTRY")
        .env_remove("FERRY_MODELS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Off a terminal the logs are JSON lines on stdout; the address line is among them.
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .inspect(|l| {
            if !l.starts_with("listening on ") {
                let log: serde_json::Value = serde_json::from_str(l).unwrap();
                assert!(log["fields"]["message"].is_string(), "{l}");
            }
        })
        .find(|l| l.starts_with("listening on "))
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(!line.trim().ends_with(":1"), "{line:?}");
}

#[test]
fn without_keys_or_no_auth_serve_refuses_to_start() {
    let registry = crate::fixture_registry();
    let out = serve(&[
        "--bind",
        "127.0.0.1:0",
        "--registry",
        registry.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: no API keys: set FERRY_API_KEYS or --api-keys-file FILE"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    fs_err::write(
        &keys,
        "ci:predict:sk-0123456789abcdef-secret\nops:root:sk-0123456789abcdef-other\n",
    )
    .unwrap();
    let out = serve(&[
        "--registry",
        registry.to_str().unwrap(),
        "--api-keys-file",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: unknown scope 'root', expected predict, admin or predict+admin"),
        "{stderr}"
    );
    assert!(!stderr.contains("sk-0123456789abcdef"), "{stderr}");
}

#[test]
fn serve_fails_fast_when_nothing_could_ever_be_served() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = serve(&["--no-auth", "--registry", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not exist: train a model into it first"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().unwrap();
    let out = serve(&["--no-auth", "--registry", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds no model: train the examples first")
            && stderr.contains("cargo run -p train -- --config configs/iris.yaml"),
        "{stderr}"
    );

    let registry = crate::fixture_registry();
    let out = serve(&[
        "--no-auth",
        "--registry",
        registry.to_str().unwrap(),
        "--model",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no model could be loaded: nope@latest: "),
        "{stderr}"
    );

    let out = serve(&[
        "--no-auth",
        "--registry",
        registry.to_str().unwrap(),
        "--watch-interval",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--watch-interval: expected seconds above 0"),
        "{stderr}"
    );

    // A bad flag is named as the flag, a bad file value by its key.
    let out = serve(&["--no-auth", "--max-batch", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: --max-batch: expected at least 1, found 0"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yaml");
    fs_err::write(&config, "limits: {max_batch_records: 0}\n").unwrap();
    let out = serve(&["--no-auth", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("limits.max_batch_records: expected at least 1"),
        "{stderr}"
    );
}
