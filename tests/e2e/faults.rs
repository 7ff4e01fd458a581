//! A registry on a misbehaving store: serve reaches the S3-compatible test server (moto),
//! or a real MLflow server, through a proxy the test controls, which forwards, answers every request
//! with 500, or holds each new connection for 4 s before forwarding. Predictions keep
//! being answered at once from what is loaded; while every request gets a 500, `/ready`
//! says the store cannot be reached; when the store behaves again the notice goes and
//! the server picks up a newly published version, without a restart. And `train` killed
//! with SIGKILL mid-run, on each registry backend, leaves nothing half-written.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, train_with};
use crate::s3::{BUCKET, S3Server};

const PASS: u8 = 0;
const FAIL_500: u8 = 1;
const SLOW: u8 = 2;

/// A TCP proxy on 127.0.0.1 in front of `upstream` whose behaviour `mode` switches.
struct FaultProxy {
    endpoint: String,
    mode: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    /// The connections being forwarded: cut when the mode changes, so that clients
    /// holding pooled keep-alive connections meet the new behaviour too.
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let mode = Arc::new(AtomicU8::new(PASS));
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (m, s, l) = (Arc::clone(&mode), Arc::clone(&stop), Arc::clone(&live));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (m, l, upstream) = (Arc::clone(&m), Arc::clone(&l), upstream.clone());
                        std::thread::spawn(move || serve_connection(client, &upstream, &m, &l));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            endpoint,
            mode,
            stop,
            live,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::Relaxed);
        let mut live = self.live.lock().unwrap();
        for conn in live.drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_connection(
    mut client: TcpStream,
    upstream: &str,
    mode: &AtomicU8,
    live: &Mutex<Vec<TcpStream>>,
) {
    client.set_nonblocking(false).unwrap_or(());
    match mode.load(Ordering::Relaxed) {
        FAIL_500 => {
            // Read the request head, then answer 500 and close.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
            while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = client.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/xml\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            let _ = client.shutdown(Shutdown::Both);
        }
        m => {
            if m == SLOW {
                std::thread::sleep(Duration::from_secs(4));
            }
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                live.lock().unwrap().extend([c, s]);
            }
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
                let _ = s2.shutdown(Shutdown::Write);
            });
            let (mut server, mut client) = (server, client);
            let _ = std::io::copy(&mut server, &mut client);
            let _ = client.shutdown(Shutdown::Write);
            let _ = up.join();
        }
    }
}

/// serve on `location` (with `env`), iris only, caching in `cache`, with `extra` flags.
fn serve_iris(
    location: &str,
    env: &[(&str, String)],
    cache: &std::path::Path,
    extra: &[&str],
) -> Server {
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec![
        "--no-auth",
        "--model",
        "iris",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start_with(location, &args, &env_refs, Stdio::null())
}

/// One iris record.
fn iris_record() -> Value {
    json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
}

fn ready(server: &Server) -> Value {
    server.get("/ready").1
}

/// Waits up to `secs` for `/ready` to satisfy `check`, returning it.
fn wait_ready(server: &Server, secs: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = ready(server);
        if check(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// serve on `location` (reached through `proxy`, with `env`), iris/1 published there:
/// rides out 500s and a slow store, recovers, and serves iris/2 once `publish_v2` has
/// published it.
fn rides_out_a_misbehaving_store(
    proxy: &FaultProxy,
    location: &str,
    env: &[(&str, String)],
    publish_v2: &dyn Fn(),
) {
    let cache = tempfile::tempdir().unwrap();
    let server = serve_iris(location, env, cache.path(), &["--watch-interval", "1"]);
    let record = iris_record();
    let (status, before) = server.predict("iris", &record);
    assert_eq!(status, 200, "{before}");
    let label = before["predictions"][0]["label"].clone();

    // Predictions are answered from what is loaded, at once, whatever the store does.
    let predictions_unaffected = |name: &str| {
        for _ in 0..20 {
            let started = Instant::now();
            let (status, answer) = server.predict("iris", &record);
            assert_eq!(status, 200, "{name}: {answer}");
            assert_eq!(answer["predictions"][0]["label"], label);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{name}: {:?}",
                started.elapsed()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(server.get("/ready").0, 200, "{name}");
    };

    // 500 on every request: after the client's retries the store counts as unreachable,
    // and /ready says so (still 200: the loaded models serve).
    proxy.set(FAIL_500);
    let r = wait_ready(&server, 30, "500s", |r| r["registry_offline"].is_string());
    assert!(
        r["registry_offline"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{r}"
    );
    predictions_unaffected("500s");
    proxy.set(PASS);
    wait_ready(&server, 30, "back online", |r| {
        r["registry_offline"].is_null()
    });

    // Slow: every new connection to the store waits 4 s. The watcher's polls stall
    // (within the clients' 30 s request timeout, so the store is slow, not gone); the
    // request path never waits for them.
    proxy.set(SLOW);
    predictions_unaffected("slow store");
    proxy.set(PASS);

    // A version published now is picked up once the store behaves.
    publish_v2();
    let r = wait_ready(&server, 30, "iris/2 served", |r| r["models"]["iris"] == 2);
    assert!(r["registry_offline"].is_null(), "{r}");
    assert_eq!(server.predict("iris", &record).0, 200);
}

#[test]
fn a_store_answering_500_or_slowly_is_ridden_out_and_recovered_from() {
    let s3 = S3Server::start();
    let url = format!("s3://{BUCKET}/faults");
    let train = crate::harness::bin("train");
    train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    let proxy = FaultProxy::start(&s3.endpoint);
    let mut env = s3.env();
    for (k, v) in &mut env {
        if *k == "AWS_ENDPOINT_URL" {
            v.clone_from(&proxy.endpoint);
        }
    }
    rides_out_a_misbehaving_store(&proxy, &url, &env, &|| {
        train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    });
}

#[test]
fn an_mlflow_server_answering_500_or_slowly_is_ridden_out_and_recovered_from() {
    let mlflow = crate::mlflow_server::MlflowServer::start();
    let direct = mlflow.location().to_string();
    let train = crate::harness::bin("train");
    train_with(&train, "configs/iris.yaml", direct.as_ref(), &[]);
    let proxy = FaultProxy::start(direct.trim_start_matches("mlflow+"));
    let proxied = format!("mlflow+{}", proxy.endpoint);
    rides_out_a_misbehaving_store(&proxy, &proxied, &[], &|| {
        train_with(&train, "configs/iris.yaml", direct.as_ref(), &[]);
    });
}

/// Runs `train ARGS` against `location` with `env`; its output.
fn train_at(location: &str, env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::harness::image_bin("train"))
        .args(args)
        .args(["--registry", location])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .current_dir(crate::harness::workspace())
        .output()
        .unwrap()
}

/// kill -9 of `train` (the release binary when .ci/run built one) publishing diamonds
/// boosting to `location`, at six random points of a whole run (measured first), up to
/// the publish at its end: after each kill the
/// registry verifies (no partial version listed, every alias on a complete version);
/// the killed runs stay recorded as crashed; gc leaves nothing; the next run registers.
fn killed_runs_leave_nothing_half_written(location: &str, env: &[(&str, String)]) {
    use std::process::Command;

    let config = "configs/diamonds_boosting.yaml";
    // The shorter of two whole runs (the first also creates the model's places).
    let whole = (0..2)
        .map(|_| {
            let started = Instant::now();
            train_with(
                &crate::harness::image_bin("train"),
                config,
                location.as_ref(),
                env,
            );
            started.elapsed()
        })
        .min()
        .unwrap();
    let mut kills = 0;
    // Six random points of a run (printed, to replay a failure): two in its first half,
    // which always kill, four anywhere, which may find a run already done (then it
    // simply registered: runs vary by tens of percent on a loaded machine).
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos() as u64)
        | 1;
    let mut uniform = || {
        // xorshift64: enough to spread kill points.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let fractions: Vec<f64> = (0..6)
        .map(|i| 0.05 + uniform() * if i < 2 { 0.45 } else { 0.95 })
        .collect();
    eprintln!("{location}: kill points {fractions:.3?} of a {whole:?} run");
    for fraction in fractions {
        let mut child = Command::new(crate::harness::image_bin("train"))
            .args(["--config", config, "--registry", location])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("RUST_LOG")
            .current_dir(crate::harness::workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(fraction));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
        let verify = train_at(location, env, &["registry", "verify"]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "after a kill at {fraction} of a run: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    assert!(kills >= 2, "only {kills} runs could be killed");
    let runs: Value =
        serde_json::from_slice(&train_at(location, env, &["runs", "list", "--json"]).stdout)
            .unwrap();
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, "crashed" | "registered")),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == "crashed").count() >= kills - 1,
        "{statuses:?} after {kills} kills"
    );
    // Every alias resolves to a version that loads with every check serve makes.
    let listed: Value =
        serde_json::from_slice(&train_at(location, env, &["registry", "list", "--json"]).stdout)
            .unwrap();
    for model in listed.as_array().unwrap() {
        for alias in model["aliases"].as_object().unwrap().keys() {
            let reference = format!("{}@{alias}", model["name"].as_str().unwrap());
            let shown = train_at(location, env, &["registry", "show", &reference]);
            assert_eq!(shown.status.code(), Some(0), "{reference}");
        }
    }
    let gc = train_at(location, env, &["registry", "gc", "--grace", "0"]);
    assert_eq!(
        gc.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    let dry: Value = serde_json::from_slice(
        &train_at(
            location,
            env,
            &["registry", "gc", "--dry-run", "--grace", "0", "--json"],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(dry["leftovers"].as_array().map_or(0, Vec::len), 0, "{dry}");
    let report = train_with(
        &crate::harness::image_bin("train"),
        config,
        location.as_ref(),
        env,
    );
    assert_eq!(report["status"], "registered", "{report}");
    eprintln!(
        "{location}: {kills} kills, runs {statuses:?}, then version {}",
        report["version"]
    );
}

#[test]
fn killed_runs_on_s3_leave_nothing_half_written() {
    let s3 = S3Server::start();
    killed_runs_leave_nothing_half_written(&format!("s3://{BUCKET}/kills"), &s3.env());
}

#[test]
fn killed_runs_on_mlflow_leave_nothing_half_written() {
    let mlflow = crate::mlflow_server::MlflowServer::start();
    killed_runs_leave_nothing_half_written(&mlflow.location().to_string(), &[]);
}

#[test]
fn killed_runs_on_a_local_registry_leave_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    killed_runs_leave_nothing_half_written(dir.path().to_str().unwrap(), &[]);
}

#[test]
fn a_version_damaged_on_the_store_is_refused_while_the_last_good_one_serves() {
    let s3 = S3Server::start();
    let url = format!("s3://{BUCKET}/damaged");
    let train = crate::harness::bin("train");
    train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    let cache = tempfile::tempdir().unwrap();
    let server = serve_iris(&url, &s3.env(), cache.path(), &[]);
    let record = iris_record();
    let version = |server: &Server| server.predict("iris", &record).1["model_version"].clone();
    assert_eq!(version(&server), 1);

    // iris/2 is published, then its model file is overwritten on the store before the
    // server loads it: the manifest's checksum no longer matches.
    train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    // A signed PUT through boto3 (moto checks signatures), as a writer that bypasses
    // Ferry would do it.
    let put =
        std::process::Command::new(crate::harness::workspace().join("tests/.venv/bin/python"))
            .args([
                "-c",
                "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], \
             aws_access_key_id='ferry-test', aws_secret_access_key='ferry-test-secret', \
             region_name='us-east-1').put_object(Bucket=sys.argv[2], Key=sys.argv[3], \
             Body=b'{\"not\": \"the model\"}')",
                &s3.endpoint,
                BUCKET,
                "damaged/iris/2/model.json",
            ])
            .output()
            .unwrap();
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let (status, reload) = server.post("/admin/reload", "application/json", b"");
    assert_eq!(status, 200, "{reload}");
    assert_eq!(reload["changed"], json!([]), "{reload}");
    let failed = reload["failed"][0]["error"].as_str().unwrap_or_default();
    assert!(failed.contains("model.json"), "{reload}");
    assert_eq!(version(&server), 1, "the last good version serves");
    let (_, details) = server.get("/models/iris");
    assert!(details["last_reload_error"].is_object(), "{details}");

    // A good iris/3 replaces it at the next reload, and the error clears.
    train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    let (status, reload) = server.post("/admin/reload", "application/json", b"");
    assert_eq!(status, 200, "{reload}");
    assert_eq!(reload["changed"][0]["to"], 3, "{reload}");
    assert_eq!(version(&server), 3);
    let (_, details) = server.get("/models/iris");
    assert!(details["last_reload_error"].is_null(), "{details}");
}
