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

/// Sends `head` and then `len` bytes of `fill` in 64 KiB writes (never holding them all),
/// stopping when the server closes, and returns what it answered.
fn stream(addr: &str, head: &str, len: usize, fill: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let chunk: Vec<u8> = fill.iter().copied().cycle().take(64 * 1024).collect();
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        if conn.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
}

#[test]
fn huge_bodies_and_batches_are_refused_without_the_memory_growing() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/iris.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let record =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    assert_eq!(server.predict("iris", &record).0, 200);
    let before = server.peak_rss_kib();

    // 100 MB announced and sent: 413 from the announcement, the body never buffered.
    let started = Instant::now();
    let answer = stream(
        &addr,
        &format!(
            "POST /models/iris/predict HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            100_000_000
        ),
        100_000_000,
        b"{\"records\": [",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let refused_in = started.elapsed();
    // 100 MB chunked (no length announced): cut off at the limit.
    let answer = stream(
        &addr,
        &format!(
            "POST /models/iris/predict HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        ),
        100_000_000,
        b"10000\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");

    // 100,000 records in one body under the byte limit: refused for the record count
    // while they are read, not after every one is held.
    let one = record.to_string();
    let mut batch = String::from("{\"records\": [");
    for i in 0..100_000 {
        if i > 0 {
            batch.push(',');
        }
        batch.push_str(&one);
    }
    batch.push_str("]}");
    assert!(batch.len() < 8 * 1024 * 1024, "{} bytes", batch.len());
    let (status, body) = server.post("/models/iris/predict", "application/json", batch.as_bytes());
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("10000"),
        "{body}"
    );

    // The server still answers, and its peak memory grew by less than the 8 MiB body
    // limit plus the batch it had to read (about 8 MiB): nothing like 100 MB.
    assert_eq!(server.predict("iris", &record).0, 200);
    let grown = server.peak_rss_kib().saturating_sub(before);
    eprintln!(
        "peak RSS {before} KiB before, grown by {grown} KiB; 100 MB body refused in {refused_in:?}"
    );
    assert!(grown < 24 * 1024, "peak RSS grew by {grown} KiB");
}
