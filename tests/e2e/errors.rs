use serde_json::json;

use crate::harness::{Server, train};

const GOOD: &str = r#"{"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"}"#;

#[test]
fn bad_requests_get_their_4xx_and_the_server_keeps_serving() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic.yaml", registry.path());
    let server = Server::start(registry.path(), &["--max-body-bytes", "65536"]);
    let huge = format!(r#"{{"records": [{}]}}"#, vec![GOOD; 4000].join(","));
    assert!(huge.len() > 65536);
    let cases: Vec<(&str, &str, String, u16, &str, &str)> = vec![
        (
            "not JSON",
            "application/json",
            r#"{"pclass": 3,"#.to_owned(),
            400,
            "invalid_json",
            "not valid JSON",
        ),
        (
            "wrong content type",
            "text/plain",
            GOOD.to_owned(),
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            "missing feature",
            "application/json",
            GOOD.replace(r#""sex": "male", "#, ""),
            422,
            "invalid_features",
            "missing feature 'sex'",
        ),
        (
            "string for a number",
            "application/json",
            GOOD.replace(r#""fare": 7.25"#, r#""fare": "cheap""#),
            422,
            "invalid_features",
            "feature 'fare': expected a number, found string \"cheap\"",
        ),
        (
            "unknown category, policy error",
            "application/json",
            GOOD.replace(r#""embarked": "S""#, r#""embarked": "X""#),
            422,
            "unknown_category",
            "feature 'embarked': unknown category \"X\"",
        ),
        (
            "huge body",
            "application/json",
            huge,
            413,
            "payload_too_large",
            "limit of 65536 bytes",
        ),
    ];
    for (what, content_type, body, status, code, needle) in cases {
        let (got, error) = server.post("/models/titanic/predict", content_type, body.as_bytes());
        assert_eq!(got, status, "{what}: {error}");
        assert_eq!(error["code"], code, "{what}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{what}: {message:?} does not contain {needle:?}"
        );
        // The server is still serving.
        let (ok, body) = server.post(
            "/models/titanic/predict",
            "application/json",
            GOOD.as_bytes(),
        );
        assert_eq!(ok, 200, "after {what}: {body}");
    }
    let (status, error) = server.predict("nope", &json!({}));
    assert_eq!(status, 404);
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["message"], "model 'nope' is not served here");
}

#[test]
fn a_corrupt_artifact_is_refused_while_the_good_one_serves() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    train("configs/titanic.yaml", registry.path());
    let model = registry.path().join("titanic/1/model.bin");
    let mut bytes = fs_err::read(&model).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'1' { b'2' } else { b'1' };
    fs_err::write(&model, bytes).unwrap();

    let server = Server::start(registry.path(), &[]);
    let (status, ready) = server.get("/ready");
    assert_eq!(status, 503);
    assert_eq!(ready["missing"], json!(["titanic"]));
    let (status, error) = server.post(
        "/models/titanic/predict",
        "application/json",
        GOOD.as_bytes(),
    );
    assert_eq!(status, 503);
    assert_eq!(error["code"], "model_not_loaded");
    let (status, body) = server.predict(
        "iris",
        &json!({"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"][0]["label"], "virginica");
}

#[test]
fn values_too_large_for_the_model_are_422_not_500() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/diabetes.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let record = json!({"age": 59, "sex": 2, "bmi": 1e308, "bp": 101, "s1": 157, "s2": 93.2, "s3": 38, "s4": 4, "s5": 4.8598, "s6": 87});
    let (status, error) = server.predict("diabetes", &record);
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["code"], "invalid_features");
    assert!(
        error["message"].as_str().unwrap().contains("too large"),
        "{error}"
    );
    // Like every other 422: the record, the field and the value.
    assert_eq!(
        error["errors"],
        json!([{"row": 0, "errors": [{"error": "too_large", "name": "bmi", "found": 1e308}]}])
    );
    assert_eq!(
        error["message"],
        "record 0: feature 'bmi': 1e308 is too large for the model"
    );
}

/// Sends `request` as raw bytes and reads the answer (the server closes the connection
/// after a protocol error). When the server closes with part of an oversized request
/// unread, the kernel may reset the connection before the answer is read: such a try is
/// repeated, a few times at most.
fn raw(server: &Server, request: &[u8]) -> (String, serde_json::Value) {
    use std::io::{Read, Write};
    let addr = server.base.trim_start_matches("http://");
    for _ in 0..10 {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // A reset can also cut the write short; the read below tells.
        let _ = stream.write_all(request);
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n")
            && let Ok(json) = serde_json::from_str(body)
        {
            return (head.to_owned(), json);
        }
    }
    panic!("no complete answer in 10 tries")
}

#[test]
fn requests_the_http_layer_refuses_get_the_json_error_shape() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let long_url = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: {}\r\n\r\n",
        "b".repeat(140_000)
    );
    for (what, request, status, code) in [
        (
            "no Host header",
            "GET /health HTTP/1.1\r\n\r\n".to_owned(),
            "400",
            "malformed_request",
        ),
        ("a 70 kB URL", long_url, "400", "malformed_request"),
        ("a 140 kB header", huge_header, "431", "headers_too_large"),
    ] {
        let (head, body) = raw(&server, request.as_bytes());
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{what}: {head}"
        );
        assert!(head.contains("\r\nx-request-id: "), "{what}: {head}");
        assert!(
            head.contains("\r\ncontent-type: application/json"),
            "{what}: {head}"
        );
        assert_eq!(body["code"], code, "{what}: {body}");
        assert_eq!(body["type"], "invalid_request", "{what}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // The server keeps serving.
    assert_eq!(server.get("/ready").0, 200);
}
