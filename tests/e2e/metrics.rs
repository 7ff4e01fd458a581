//! `/metrics` of the serve binary, checked by Prometheus' own `promtool check metrics`
//! (Debian's prometheus package, installed by .ci/run) and read back series by series.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::harness::{Server, train, workspace};

fn scrape(server: &Server) -> String {
    let agent = crate::harness::agent();
    let mut res = agent
        .get(format!("{}/metrics", server.base))
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let content_type = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    res.body_mut().read_to_string().unwrap()
}

/// `promtool check metrics` on `text`: its exit status and what it said.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (.ci/run installs Debian's prometheus package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn metrics_pass_promtool_and_count_requests_predictions_and_reloads() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    train("configs/diabetes.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let setosa =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    let virginica =
        json!({"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3});
    assert_eq!(server.predict("iris", &setosa).0, 200);
    assert_eq!(server.predict("iris", &setosa).0, 200);
    assert_eq!(
        server
            .predict("iris", &json!({"records": [setosa, virginica]}))
            .0,
        200
    );
    let patient = json!({"age": 59, "sex": 2, "bmi": 32.1, "bp": 101, "s1": 157, "s2": 93.2, "s3": 38, "s4": 4, "s5": 4.8598, "s6": 87});
    assert_eq!(server.predict("diabetes", &patient).0, 200);
    assert_eq!(server.predict("iris", &json!({"sepal_length": "x"})).0, 422);
    assert_eq!(server.get("/no/such/route").0, 404);
    train("configs/iris.yaml", registry.path());
    assert_eq!(
        server.post("/admin/reload", "application/json", b"{}").0,
        200
    );

    let text = scrape(&server);
    let (ok, said) = promtool(&text);
    assert!(ok, "promtool check metrics: {said}\n{text}");
    for series in [
        r#"ferry_predictions_total{class="setosa",model="iris",version="1"} 3"#,
        r#"ferry_predictions_total{class="virginica",model="iris",version="1"} 1"#,
        r#"ferry_predictions_total{class="",model="diabetes",version="1"} 1"#,
        r#"ferry_http_requests_total{method="POST",route="/models/{name}/predict",status="200"} 4"#,
        r#"ferry_http_requests_total{method="POST",route="/models/{name}/predict",status="422"} 1"#,
        r#"ferry_http_requests_total{method="GET",route="<unmatched>",status="404"} 1"#,
        r#"ferry_records_per_request_count{model="iris"} 3"#,
        r#"ferry_model_reloads_total{outcome="success"} 1"#,
        r#"ferry_model_reloads_total{outcome="failure"} 0"#,
        r#"ferry_build_info{version="0.1.0"} 1"#,
        r#"ferry_prediction_log_rows_total{outcome="dropped"} 0"#,
        "# TYPE ferry_drift_psi gauge",
        "# TYPE ferry_drift_detected gauge",
    ] {
        assert!(text.contains(series), "missing {series}\n{text}");
    }
    // The reload swapped iris to version 2: the model info follows it.
    assert!(text.contains(r#"ferry_model_loaded_timestamp_seconds{kind="logistic_regression",model="iris",reference="iris@latest",version="2"}"#), "{text}");
    assert!(
        !text.contains(r#"model="iris",reference="iris@latest",version="1"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ferry_model_seconds_count{model="iris",version="1"} 3"#),
        "{text}"
    );

    // deploy/: promtool accepts the scrape config and the rules, and every metric they and
    // the Grafana dashboard query is one the server exports.
    let deploy = workspace().join("deploy");
    for (what, file) in [
        ("config", "prometheus/prometheus.yml"),
        ("rules", "prometheus/ferry-rules.yml"),
    ] {
        let out = Command::new("promtool")
            .args(["check", what])
            .arg(deploy.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check {what} {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(deploy.join("grafana/ferry-serve.json")).unwrap(),
    )
    .unwrap();
    let mut queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["expr"].as_str().unwrap().to_owned())
        })
        .collect();
    queries.push(fs_err::read_to_string(deploy.join("prometheus/ferry-rules.yml")).unwrap());
    let mut used = 0;
    for query in &queries {
        for name in query
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("ferry_"))
        {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {base} ")),
                "{name} is not exported"
            );
            used += 1;
        }
    }
    assert!(used >= 10, "{used}");
}
