//! Hot reload against the serve binary: under a bounded load, a new `latest` is swapped in
//! with no failed request; a corrupt version is refused while the old one keeps serving
//! and the error shows; the registry watcher picks up a model trained after start-up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Server, train};

/// Bounded load: until `stop` (or 30 s, or 50,000 requests), POSTs an iris record and
/// keeps each answer's status and model version.
pub(crate) fn load(server_base: &str, stop: &AtomicBool, seen: &Mutex<Vec<(u16, u64)>>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let body =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
            .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..50_000 {
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        let answer = agent
            .post(format!("{server_base}/models/iris/predict"))
            .content_type("application/json")
            .send(body.as_bytes());
        let entry = match answer {
            Ok(mut res) => {
                let status = res.status().as_u16();
                let version = res
                    .body_mut()
                    .read_json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v["model_version"].as_u64())
                    .unwrap_or(0);
                (status, version)
            }
            Err(_) => (0, 0),
        };
        seen.lock().unwrap().push(entry);
    }
}

#[test]
fn reload_under_load_swaps_a_new_version_and_refuses_a_corrupt_one() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, stop, seen) = (server.base.clone(), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || load(&base, &stop, &seen))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // A new latest: swapped in.
    train("configs/iris.yaml", registry.path());
    let (status, report) = server.post("/admin/reload", "application/json", b"{}");
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["changed"],
        json!([{"reference": "iris@latest", "from": 1, "to": 2}])
    );
    assert_eq!(report["failed"], json!([]));
    let switched = seen.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));

    // A corrupt latest: refused, version 2 keeps serving, the error is visible.
    train("configs/iris.yaml", registry.path());
    let model = registry.path().join("iris/3/model.json");
    let mut bytes = fs_err::read(&model).unwrap();
    bytes[20] ^= 0x20;
    fs_err::write(&model, bytes).unwrap();
    let (status, report) = server.post("/admin/reload", "application/json", b"{}");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], json!([]));
    assert_eq!(report["failed"][0]["reference"], "iris@latest");
    assert!(
        report["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("checksum"),
        "{report}"
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let seen = seen.lock().unwrap();
    assert!(seen.len() > 100, "only {} requests", seen.len());
    assert!(
        seen.iter().all(|(status, _)| *status == 200),
        "a request failed"
    );
    assert!(seen.iter().any(|(_, v)| *v == 1));
    assert!(
        seen.iter().all(|(_, v)| *v == 1 || *v == 2),
        "version 3 answered"
    );
    // Once the reload answered, every request started after it got version 2 (requests
    // in flight at the swap may still finish on 1: skip a margin of 4, one per client).
    assert!(
        seen.iter().skip(switched + 4).all(|(_, v)| *v == 2),
        "an answer from version 1 after the swap"
    );
    let (status, detail) = server.get("/models/iris");
    assert_eq!(status, 200);
    assert_eq!(detail["version"], 2);
    assert_eq!(detail["last_reload_error"]["reference"], "iris@latest");
}

#[test]
fn the_watcher_serves_a_model_trained_after_start_up() {
    let registry = tempfile::tempdir().unwrap();
    let server = Server::start(registry.path(), &["--watch-interval", "0.1"]);
    assert_eq!(server.get("/ready").0, 503);
    train("configs/iris.yaml", registry.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/models/iris").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the watcher did not load iris within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, answer) = server.predict(
        "iris",
        &json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}),
    );
    assert_eq!(status, 200);
    assert_eq!(answer["model_version"], 1);
}
