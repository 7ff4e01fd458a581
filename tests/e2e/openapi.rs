//! The OpenAPI document and Swagger UI, and Schemathesis (in tests/.venv, installed by
//! .ci/run) fuzzing every documented operation of the serve binary with bounded examples:
//! no 5xx, and every documented response matches its schema.

use std::process::Command;

use crate::harness::{Server, train};

#[test]
fn schemathesis_finds_no_server_error_and_no_response_off_the_schema() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic.yaml", registry.path());
    train("configs/diabetes.yaml", registry.path());
    let key = "sk-schemathesis-0123456789";
    let keys = format!("fuzz:predict+admin:{key}");
    let server = Server::start_with(
        registry.path(),
        &["--mlflow-model", "titanic"],
        &[("FERRY_API_KEYS", &keys)],
        std::process::Stdio::null(),
    );

    // The document and the docs page come from the binary, with no key.
    let (status, doc) = server.get("/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/models/{name}/predict",
        "/models/{name}/explain",
        "/v2/models/{name}/infer",
        "/invocations",
        "/admin/reload",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let scratch = tempfile::tempdir().unwrap();
    let python = crate::kserve::python();
    let schemathesis = python.with_file_name("schemathesis");
    let out = Command::new(&schemathesis)
        .args(["run", &format!("{}/openapi.json", server.base)])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        // The stateful phase chains operations along the links schemathesis infers from
        // the document (a model's name from GET /models into its predict, explain,
        // versions and V2 routes).
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args([
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--request-timeout",
            "10",
        ])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every documented operation: 23, and the two explain routes.
    assert!(stdout.contains("Tested: 25"), "{stdout}");
    assert!(stdout.contains("✅ Stateful"), "{stdout}");
    let links = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("API Links:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(links >= 5, "only {links} links covered:\n{stdout}");
    eprintln!("stateful: {links} links covered");
}

#[test]
fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let res = agent.get(format!("{}/docs", server.base)).call().unwrap();
    assert_eq!(res.status().as_u16(), 308);
    for (path, kind) in [
        ("/docs/", "text/html"),
        ("/docs/swagger-ui-bundle.js", "javascript"),
        ("/docs/swagger-ui.css", "text/css"),
    ] {
        let mut res = agent.get(format!("{}{path}", server.base)).call().unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let content_type = res
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.contains(kind), "{path}: {content_type}");
        assert!(res.body_mut().read_to_vec().unwrap().len() > 500, "{path}");
    }
    let mut res = agent
        .get(format!("{}/docs/swagger-initializer.js", server.base))
        .call()
        .unwrap();
    assert!(
        res.body_mut()
            .read_to_string()
            .unwrap()
            .contains("/openapi.json")
    );
}
