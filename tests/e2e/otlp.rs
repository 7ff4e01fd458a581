//! OpenTelemetry export, received by a real OTLP/HTTP receiver started by the test: an
//! actix-web endpoint at `/v1/traces` on a loopback port that decodes each export
//! request with the opentelemetry-proto types (what the OpenTelemetry Collector's OTLP
//! receiver does), answered the way the Collector answers.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;

use crate::harness::{Server, bin, train, workspace};

/// One received span, with its resource's attributes.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: BTreeMap<String, String>,
    resource: BTreeMap<String, String>,
}

fn text(kv: &[KeyValue]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// The OTLP/HTTP receiver, stopped on drop.
struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn export(
    req: HttpRequest,
    body: web::Bytes,
    spans: web::Data<Mutex<Vec<Received>>>,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type != "application/x-protobuf" {
        return HttpResponse::UnsupportedMediaType().finish();
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body.as_ref()) else {
        return HttpResponse::BadRequest().finish();
    };
    let mut got = spans.lock().unwrap();
    for rs in request.resource_spans {
        let resource = text(&rs.resource.map(|r| r.attributes).unwrap_or_default());
        for ss in rs.scope_spans {
            for span in ss.spans {
                got.push(Received {
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: text(&span.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .body(ExportTraceServiceResponse::default().encode_to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::from(spans.clone());
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(16 << 20))
                        .route("/v1/traces", web::post().to(export))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let server = rx.recv().unwrap();
        Receiver {
            endpoint,
            spans,
            server,
            thread: Some(thread),
        }
    }

    /// Waits up to 15 s for spans matching `pick`, returning all that match.
    fn wait_for(&self, what: &str, pick: impl Fn(&Received) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found: Vec<Received> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| pick(s))
                .cloned()
                .collect();
            if !found.is_empty() {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} span within 15 s; received: {:#?}",
                self.spans.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // The stop command is sent when called; the future only waits for it.
        drop(self.server.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[test]
fn serve_exports_one_span_per_request_under_the_callers_trace() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let receiver = Receiver::start();
    let server = Server::start_with(
        registry.path(),
        &["--no-auth"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=e2e"),
        ],
        Stdio::null(),
    );
    let agent = crate::harness::agent();
    let body =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    let res = agent
        .post(format!("{}/models/iris/predict", server.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("x-request-id", "otlp-e2e-1")
        .send_json(&body)
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // The answer names the server span, in the caller's trace.
    let answered = res
        .headers()
        .get("traceparent")
        .expect("a traceparent on the response")
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = answered.split('-').collect();
    assert_eq!(parts.len(), 4, "{answered}");
    assert_eq!(parts[1], TRACE_ID, "{answered}");
    assert_ne!(parts[2], PARENT_ID, "{answered}");
    // A request without trace context starts a trace; an unknown model is a 404 span.
    let res = agent
        .post(format!("{}/models/nope/predict", server.base))
        .header("x-request-id", "otlp-e2e-2")
        .send_json(&body)
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);

    let span = receiver
        .wait_for("predict", |s| {
            s.attributes.get("ferry.request_id").map(String::as_str) == Some("otlp-e2e-1")
        })
        .remove(0);
    assert_eq!(span.name, "POST /models/{name}/predict");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.parent_span_id, PARENT_ID);
    assert_eq!(span.span_id, parts[2]);
    let a = &span.attributes;
    assert_eq!(a["http.route"], "/models/{name}/predict");
    assert_eq!(a["http.request.method"], "POST");
    assert_eq!(a["http.response.status_code"], "200");
    assert_eq!(a["url.path"], "/models/iris/predict");
    assert_eq!(a["ferry.model"], "iris");
    assert_eq!(a["ferry.model_version"], "1");
    let micros: u64 = a["ferry.latency_us"].parse().unwrap();
    assert!(micros > 0, "{a:?}");
    let r = &span.resource;
    assert_eq!(r["service.name"], "ferry-serve");
    assert_eq!(r["service.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["deployment.environment"], "e2e");

    let missing = receiver
        .wait_for("404", |s| {
            s.attributes.get("ferry.request_id").map(String::as_str) == Some("otlp-e2e-2")
        })
        .remove(0);
    assert_eq!(missing.attributes["http.response.status_code"], "404");
    assert!(missing.parent_span_id.is_empty(), "{missing:?}");
    assert_ne!(missing.trace_id, TRACE_ID);
    assert!(
        !missing.attributes.contains_key("ferry.model"),
        "{missing:?}"
    );
}

#[test]
fn without_an_endpoint_nothing_is_traced() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let agent = crate::harness::agent();
    let res = agent
        .get(format!("{}/health", server.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers().get("traceparent").is_none());
}

#[test]
fn train_exports_one_span_per_pipeline_stage() {
    let registry = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let out = Command::new(bin("train"))
        .args(["--config", "configs/titanic.yaml", "--json", "--registry"])
        .arg(registry.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // train flushes its spans before it exits: they are all there already.
    let root = receiver.wait_for("train", |s| s.name == "train").remove(0);
    assert!(root.parent_span_id.is_empty(), "{root:?}");
    assert_eq!(root.attributes["ferry.model"], "titanic");
    assert_eq!(root.attributes["ferry.model_version"], "1");
    assert_eq!(root.resource["service.name"], "ferry-train");
    let stages = receiver.wait_for("stage", |s| s.attributes.contains_key("ferry.stage"));
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    for stage in ["load", "split", "fit", "evaluate", "publish", "promote"] {
        assert!(names.contains(&stage), "{stage} missing from {names:?}");
    }
    for s in &stages {
        assert_eq!(s.trace_id, root.trace_id, "{s:?}");
        assert_eq!(s.parent_span_id, root.span_id, "{s:?}");
    }
}
