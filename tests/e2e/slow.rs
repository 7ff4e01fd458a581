//! Slow clients against the serve binary: a body trickling in a byte at a time is cut
//! off with a 408 when its time is up, and other clients are served meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Server, train};

#[test]
fn a_body_sent_a_byte_at_a_time_is_timed_out_and_others_are_served() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yaml");
    fs_err::write(&config, "limits: {body_timeout_ms: 1000}\n").unwrap();
    let server = Server::start(registry.path(), &["--config", config.to_str().unwrap()]);
    let addr = server.base.trim_start_matches("http://").to_owned();

    let started = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
            .to_string();
    write!(
        slow,
        "POST /models/iris/predict HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // One byte every 200 ms: the whole body would take over 15 s.
    let trickle = {
        let mut writer = slow.try_clone().unwrap();
        let bytes = body.into_bytes();
        std::thread::spawn(move || {
            for b in bytes {
                if writer.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    // Meanwhile another client is answered at once.
    let (status, answer) = server.predict(
        "iris",
        &json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(started.elapsed() < Duration::from_millis(900));

    let mut response = String::new();
    let _ = slow.read_to_string(&mut response);
    let elapsed = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.contains("\"message\":\"the request body did not arrive within 1000 ms\""),
        "{response}"
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    drop(slow);
    let _ = trickle.join();
}
