//! API keys against the serve binary: no key, a wrong key, a key without the route's
//! scope and the right keys each get their status, in every protocol's body; health and
//! readiness stay open; no key ever reaches the log.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Server, train};

const CLIENT_KEY: &str = "sk-client-7f3a9c1e5b2d4f60";
const OPS_KEY: &str = "sk-ops-0e9d8c7b6a5f4e3d";

fn call(
    server: &Server,
    method: &str,
    path: &str,
    header: Option<(&str, &str)>,
    body: &str,
) -> (u16, Value, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("{}{path}", server.base);
    let result = if method == "GET" {
        let mut req = agent.get(&url);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        req.call()
    } else {
        let mut req = agent.post(&url).content_type("application/json");
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        req.send(body.as_bytes())
    };
    let mut res = result.unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        res.status().as_u16(),
        res.body_mut().read_json().unwrap_or(Value::Null),
        challenge,
    )
}

#[test]
fn keys_scopes_and_open_routes() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let keys = format!("client:predict:{CLIENT_KEY}\nops:predict+admin:{OPS_KEY}\n");
    let server = Server::start_with(
        registry.path(),
        &[],
        &[("FERRY_API_KEYS", &keys), ("RUST_LOG", "debug")],
        Stdio::piped(),
    );
    let record =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
            .to_string();
    let predict = "/models/iris/predict";
    let bearer = |key: &str| format!("Bearer {key}");

    // No key, a wrong key: 401 with a challenge, in the native body.
    let (status, body, challenge) = call(&server, "POST", predict, None, &record);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    let wrong = bearer("sk-client-7f3a9c1e5b2d4f61");
    let (status, body, _) = call(
        &server,
        "POST",
        predict,
        Some(("authorization", &wrong)),
        &record,
    );
    assert_eq!(status, 401);
    assert_eq!(body["message"], "the API key is not valid");
    // The right keys, either header.
    let client = bearer(CLIENT_KEY);
    let (status, body, _) = call(
        &server,
        "POST",
        predict,
        Some(("authorization", &client)),
        &record,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"][0]["label"], "setosa");
    let (status, _, _) = call(
        &server,
        "POST",
        predict,
        Some(("x-api-key", OPS_KEY)),
        &record,
    );
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &server,
        "GET",
        "/models",
        Some(("x-api-key", CLIENT_KEY)),
        "",
    );
    assert_eq!(status, 200);
    // A predict key on an admin route: 403 naming the scopes; the admin key passes the
    // check.
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/reload",
        Some(("authorization", &client)),
        "{}",
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    assert_eq!(
        body["message"],
        "the API key 'client' has scope predict; this route needs admin"
    );
    let (status, body, _) = call(
        &server,
        "POST",
        "/admin/reload",
        Some(("x-api-key", OPS_KEY)),
        "{}",
    );
    assert_ne!(status, 401, "{body}");
    assert_ne!(status, 403, "{body}");
    // Each protocol's own body.
    let (status, body, _) = call(&server, "POST", "/v2/models/iris/infer", None, "{}");
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("needs an API key"),
        "{body}"
    );
    let (status, body, _) = call(&server, "POST", "/invocations", None, "{}");
    assert_eq!(status, 401);
    assert_eq!(body["error_code"], "UNAUTHENTICATED");
    // Health and readiness are open by default.
    for path in [
        "/health",
        "/ready",
        "/v2/health/live",
        "/v2/health/ready",
        "/ping",
    ] {
        assert_eq!(call(&server, "GET", path, None, "").0, 200, "{path}");
    }

    let log = server.stop_and_read_stderr();
    assert!(log.contains("API keys loaded"), "{log}");
    for secret in [CLIENT_KEY, OPS_KEY, "sk-client-7f3a9c1e5b2d4f61"] {
        assert!(!log.contains(secret), "the log holds a key: {log}");
    }
}
