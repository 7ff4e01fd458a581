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
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn help_documents_every_option() {
    let out = serve(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout), @r"
    Serve every model of a Ferry registry (or the ones named) over HTTP

    Usage: serve [OPTIONS]

    Options:
          --registry <DIR>           Registry directory [env: FERRY_REGISTRY=] [default: artifacts]
          --bind <ADDR>              Address to listen on; port 0 picks a free port (printed at startup) [env: FERRY_BIND=] [default: 127.0.0.1:8080]
          --model <REF>              Models to serve: `name` (its latest), `name@alias` or `name/VERSION`; repeat the flag or separate with commas. Default: the latest of every model in the registry [env: FERRY_MODELS=]
          --max-body-bytes <BYTES>   Largest accepted request body, in bytes [env: FERRY_MAX_BODY_BYTES=] [default: 1048576]
          --max-batch <N>            Most records in one batch request [env: FERRY_MAX_BATCH=] [default: 10000]
          --workers <N>              HTTP worker threads (default: one per core) [env: FERRY_WORKERS=]
          --log-format <LOG_FORMAT>  Log format: `text` on stderr or `json` on stdout. Filter with RUST_LOG [env: FERRY_LOG_FORMAT=] [default: text] [possible values: text, json]
      -h, --help                     Print help
      -V, --version                  Print version
    ");
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
    let out = serve(&["--bind", &addr, "--registry", registry.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
