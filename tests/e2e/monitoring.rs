//! Live drift and the prediction log of the serve binary: drift gauges that stay low for
//! in-distribution traffic and rise for shifted traffic, a log that `train drift` reads,
//! and a log that never holds a request when its writer is stuck.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, bin, train, workspace};

/// The titanic rows as prediction records, in a fixed interleaved order (the file is
/// sorted by class).
fn titanic_records(only_first_class: bool) -> Vec<Value> {
    let mut reader = csv::Reader::from_path(workspace().join("data/titanic.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (pclass, sex, age, sibsp, parch, fare, embarked) = (
        col("pclass"),
        col("sex"),
        col("age"),
        col("sibsp"),
        col("parch"),
        col("fare"),
        col("embarked"),
    );
    let num = |s: &str| -> Value {
        if s == "?" {
            Value::Null
        } else {
            json!(s.parse::<f64>().unwrap())
        }
    };
    let rows: Vec<Value> = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| !only_first_class || &r[pclass] == "1")
        .map(|r| {
            json!({
                "pclass": r[pclass].parse::<i64>().unwrap(),
                "sex": &r[sex],
                "age": num(&r[age]),
                "sibsp": r[sibsp].parse::<i64>().unwrap(),
                "parch": r[parch].parse::<i64>().unwrap(),
                "fare": num(&r[fare]),
                "embarked": if &r[embarked] == "?" { Value::Null } else { json!(&r[embarked]) },
            })
        })
        .collect();
    let n = rows.len();
    // 379 is prime and does not divide 1309 or 323: a permutation.
    (0..n).map(|i| rows[(i * 379) % n].clone()).collect()
}

fn scrape(server: &Server) -> String {
    let agent = crate::harness::agent();
    agent
        .get(format!("{}/metrics", server.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The value of the series whose line starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn send(server: &Server, records: &[Value]) {
    for chunk in records.chunks(100) {
        let (status, body) = server.predict("titanic", &json!({ "records": chunk }));
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
fn live_drift_stays_low_in_distribution_and_rises_for_shifted_traffic() {
    let registry = tempfile::tempdir().unwrap();
    train("configs/titanic.yaml", registry.path());
    let server = Server::start(registry.path(), &[]);

    // Before any traffic: an empty window, no verdict.
    let (status, empty) = server.get("/models/titanic/drift");
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["drift"]["current_rows"], 0);
    assert_eq!(empty["drift"]["enough_rows"], false);

    // The whole table, interleaved: the window holds 1,000 rows like the training ones.
    send(&server, &titanic_records(false));
    let (_, calm) = server.get("/models/titanic/drift");
    let drift = &calm["drift"];
    assert_eq!(drift["window"], 1000);
    assert_eq!(drift["rows_seen"], 1309);
    assert_eq!(drift["current_rows"], 1000);
    assert_eq!(drift["dataset_drift"], false, "{drift:#}");
    assert_eq!(drift["drifted_features"], 0, "{drift:#}");
    let metrics = scrape(&server);
    let psi = |m: &str, f: &str| {
        sample(
            m,
            &format!("ferry_drift_psi{{feature=\"{f}\",model=\"titanic\",version=\"1\"}}"),
        )
        .unwrap_or_else(|| panic!("no psi for {f}: {m}"))
    };
    for f in ["pclass", "sex", "age", "fare"] {
        assert!(psi(&metrics, f) < 0.1, "{f}: {}", psi(&metrics, f));
    }
    assert_eq!(
        sample(
            &metrics,
            "ferry_drift_detected{model=\"titanic\",version=\"1\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "ferry_drift_window_rows{model=\"titanic\",version=\"1\"}"
        ),
        Some(1000.0)
    );

    // First-class passengers only, three times over: the window fills with them.
    let shifted = titanic_records(true);
    for _ in 0..4 {
        send(&server, &shifted);
    }
    let (_, hot) = server.get("/models/titanic/drift");
    let drift = &hot["drift"];
    assert_eq!(drift["dataset_drift"], true, "{drift:#}");
    let drifted: Vec<&str> = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        drifted.contains(&"pclass") && drifted.contains(&"fare"),
        "{drifted:?}"
    );
    let metrics = scrape(&server);
    assert!(psi(&metrics, "pclass") > 1.0);
    assert!(psi(&metrics, "fare") > 1.0);
    assert!(psi(&metrics, "sibsp") < 0.2);
    assert_eq!(
        sample(
            &metrics,
            "ferry_drift_detected{model=\"titanic\",version=\"1\"}"
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &metrics,
            "ferry_drift_share{model=\"titanic\",version=\"1\"}"
        )
        .unwrap()
            >= 0.5
    );
}

#[test]
fn the_prediction_log_records_sampled_requests_and_train_drift_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    train("configs/titanic.yaml", &registry);
    let log = dir.path().join("predictions.jsonl");
    let server = Server::start(
        &registry,
        &[
            "--prediction-log",
            log.to_str().unwrap(),
            "--prediction-log-sample-rate",
            "1",
        ],
    );
    let records = titanic_records(true);
    send(&server, &records);
    // The writer flushes whenever it is idle.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = fs_err::read_to_string(&log).unwrap_or_default();
        if text.lines().count() == records.len() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), records.len());
    let first = &lines[0];
    assert_eq!(first["model"], "titanic");
    assert_eq!(first["version"], 1);
    assert_eq!(first["row"], 0);
    assert!(first["request_id"].as_str().unwrap().len() >= 8);
    assert!(first["latency_us"].as_u64().is_some());
    assert_eq!(first["inputs"]["pclass"], 1.0);
    assert_eq!(first["inputs"]["sex"], records[0]["sex"]);
    assert!(first["output"]["prediction"].is_number(), "{first}");
    assert!(first["output"]["probabilities"].is_object(), "{first}");
    let metrics = scrape(&server);
    assert_eq!(
        sample(
            &metrics,
            "ferry_prediction_log_rows_total{outcome=\"written\"}"
        ),
        Some(records.len() as f64)
    );

    // The log is a data source for train drift.
    let out = dir.path().join("report");
    let run = Command::new(bin("train"))
        .args(["drift", "--model", "titanic", "--json", "--data"])
        .arg(&log)
        .arg("--registry")
        .arg(&registry)
        .arg("--out")
        .arg(&out)
        .current_dir(workspace())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["current_rows"], records.len());
    assert_eq!(report["rows_rejected"], 0);
}

#[test]
fn rows_handed_to_the_prediction_log_are_written_before_the_server_exits_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    train("configs/titanic.yaml", &registry);
    let log = dir.path().join("predictions.jsonl");
    // A writer that drains every 10 s: every row is still queued at SIGTERM.
    let config = dir.path().join("serve.yaml");
    fs_err::write(
        &config,
        format!(
            "prediction_log:\n  path: {}\n  sample_rate: 1\n  flush_interval_ms: 10000\n",
            log.display()
        ),
    )
    .unwrap();
    let server = Server::start(&registry, &["--config", config.to_str().unwrap()]);
    let records = titanic_records(false);
    send(&server, &records);
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let text = fs_err::read_to_string(&log).unwrap();
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["request_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), records.len());
    // One request's rows are one batch, so its lines are together.
    ids.dedup();
    assert_eq!(ids.len(), records.chunks(100).count());
}

#[test]
fn a_stuck_prediction_log_never_holds_a_request_and_counts_its_drops() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    train("configs/iris.yaml", &registry);
    // A FIFO nobody reads: opening it for writing blocks until a reader comes.
    let fifo = dir.path().join("stuck.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let config = dir.path().join("serve.yaml");
    fs_err::write(
        &config,
        format!(
            "prediction_log:\n  path: {}\n  sample_rate: 1\n  channel_capacity: 2\n",
            fifo.display()
        ),
    )
    .unwrap();
    let server = Server::start_with(
        &registry,
        &["--no-auth", "--config", config.to_str().unwrap()],
        &[],
        Stdio::null(),
    );
    // A bounded load: 4 clients, 50 requests each.
    let body =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let (status, answer) = server.predict("iris", &body);
                    assert_eq!(status, 200, "{answer}");
                }
            });
        }
    });
    // Every request was answered while the writer was stuck (the client's own timeout
    // is 10 s; a blocked request would have failed it).
    assert!(started.elapsed() < Duration::from_secs(60));
    let metrics = scrape(&server);
    let count = |outcome: &str| {
        sample(
            &metrics,
            &format!("ferry_prediction_log_rows_total{{outcome=\"{outcome}\"}}"),
        )
        .unwrap_or(0.0)
    };
    // Two requests wait in the channel; every other one was dropped and counted.
    assert_eq!(count("dropped"), 198.0, "{metrics}");
    assert_eq!(count("written"), 0.0);

    // A reader unblocks the writer: the two queued rows arrive.
    let reader = std::thread::spawn(move || {
        let file = fs_err::File::open(&fifo).unwrap();
        let mut lines = BufReader::new(file).lines();
        (0..2)
            .map(|_| lines.next().unwrap().unwrap())
            .collect::<Vec<_>>()
    });
    let lines = reader.join().unwrap();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["model"], "iris");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(
        &scrape(&server),
        "ferry_prediction_log_rows_total{outcome=\"written\"}",
    ) != Some(2.0)
    {
        assert!(
            Instant::now() < deadline,
            "the queued rows were not written"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
