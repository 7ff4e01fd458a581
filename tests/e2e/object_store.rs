//! The object-store registry against a real S3-compatible server (moto, on loopback):
//! core's registry contract; eight processes publishing and moving an alias at once; and
//! end to end, train publishing to the bucket and two serve processes with their own
//! caches serving what the local registry serves, following a promotion under load, and
//! riding out the server's loss, one of them restarting from its cache alone.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_core::registry::contract;
use ferry_core::{ModelName, Version};
use serde_json::{Value, json};

use crate::harness::{Server, bin, image_bin, train_with};
use crate::parity::test_records;
use crate::reload::load;
use crate::s3::{BUCKET, S3Server};

/// The watch interval of the servers in these tests, in seconds.
const WATCH: f64 = 1.0;

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Runs `train ARGS` against the store, expecting success.
fn train_cli(s3: &S3Server, args: &[&str]) -> String {
    let out = Command::new(bin("train"))
        .args(args)
        .envs(s3.env())
        .output()
        .expect("train runs");
    assert!(
        out.status.success(),
        "train {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_registry_contract_holds_on_a_real_s3_server() {
    let s3 = S3Server::start();
    for (i, (name, check)) in contract::CHECKS.iter().enumerate() {
        let cache = tempfile::tempdir().unwrap();
        let registry = s3.registry(&format!("contract/{i}"), cache.path());
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(registry.as_ref())));
        assert!(outcome.is_ok(), "contract check '{name}' failed on S3");
    }
}

#[test]
fn eight_processes_publishing_and_moving_an_alias_at_once_lose_nothing() {
    let s3 = S3Server::start();
    let url = format!("s3://{BUCKET}/race");
    let spawn_all = |args: &dyn Fn(usize) -> Vec<String>| {
        let children: Vec<_> = (0..8)
            .map(|i| {
                Command::new(bin("train"))
                    .args(args(i))
                    .envs(s3.env())
                    .current_dir(crate::harness::workspace())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    spawn_all(&|_| {
        ["--config", "configs/iris.yaml", "--registry", url.as_str()]
            .map(str::to_owned)
            .to_vec()
    });
    let cache = tempfile::tempdir().unwrap();
    let registry = s3.registry("race", cache.path());
    let iris: ModelName = "iris".parse().unwrap();
    let versions = registry.versions(&iris).unwrap();
    assert_eq!(versions, (1..=8).map(Version).collect::<Vec<_>>());
    let latest = registry.aliases(&iris).unwrap()[&ferry_core::AliasName::latest()];
    assert!(versions.contains(&latest), "latest is {latest}");

    spawn_all(&|i| {
        let version = (i + 1).to_string();
        [
            "registry",
            "alias",
            "set",
            "iris",
            "production",
            version.as_str(),
            "--registry",
            url.as_str(),
        ]
        .map(str::to_owned)
        .to_vec()
    });
    let history = registry
        .alias_history(&iris, &"production".parse().unwrap())
        .unwrap();
    // The alias did not exist before the first move, then every move is recorded once.
    assert_eq!(history.len(), 9, "{history:?}");
    assert_eq!(history[0], None);
    let mut moved: Vec<u64> = history[1..].iter().map(|v| v.unwrap().0).collect();
    moved.sort_unstable();
    assert_eq!(moved, (1..=8).collect::<Vec<_>>());
    assert_eq!(
        registry.aliases(&iris).unwrap()["production"],
        history[8].unwrap()
    );

    // Every registry verb works on the bucket as on a directory.
    let verify = train_cli(&s3, &["registry", "verify", "--registry", url.as_str()]);
    assert!(
        verify.ends_with("8 versions checked, 0 damaged\n"),
        "{verify}"
    );
    let list = train_cli(&s3, &["registry", "list", "--registry", url.as_str()]);
    assert!(
        list.contains("iris") && list.contains("production="),
        "{list}"
    );
    let show = train_cli(
        &s3,
        &["registry", "show", "iris/3", "--registry", url.as_str()],
    );
    assert!(show.contains("logistic_regression"), "{show}");
    let diff = train_cli(
        &s3,
        &[
            "registry",
            "diff",
            "iris/1",
            "iris/2",
            "--registry",
            url.as_str(),
        ],
    );
    assert!(diff.contains("accuracy"), "{diff}");
    let before = history[7].unwrap().0.to_string();
    let rolled = train_cli(
        &s3,
        &[
            "registry",
            "rollback",
            "iris",
            "production",
            "--registry",
            url.as_str(),
            "--json",
        ],
    );
    assert!(
        rolled.contains(&format!("\"version\": {before}")),
        "{rolled}"
    );
    let gc = train_cli(
        &s3,
        &["registry", "gc", "--dry-run", "--registry", url.as_str()],
    );
    assert!(gc.ends_with("0 leftovers, 0 bytes\n"), "{gc}");
    let runs = train_cli(&s3, &["runs", "list", "--registry", url.as_str(), "--json"]);
    assert_eq!(runs.matches("\"registered\"").count(), 8, "{runs}");
    let production = registry.aliases(&iris).unwrap()["production"];
    let doomed = if production == Version(8) { 7 } else { 8 };
    let deleted = train_cli(
        &s3,
        &[
            "registry",
            "delete",
            &format!("iris/{doomed}"),
            "--registry",
            url.as_str(),
        ],
    );
    assert!(deleted.contains("deleted"), "{deleted}");
    assert_eq!(registry.versions(&iris).unwrap().len(), 7);
}

/// The served answers of `records` (their `predictions`), as JSON.
fn answers(server: &Server, model: &str, records: &[Value]) -> Value {
    let (status, body) = server.predict(model, &json!({ "records": records }));
    assert_eq!(status, 200, "{model} on {}: {body}", server.base);
    body["predictions"].clone()
}

fn version_served(server: &Server, model: &str) -> u64 {
    server.get(&format!("/models/{model}")).1["version"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn two_servers_on_s3_serve_as_the_local_registry_follow_a_promotion_and_survive_an_outage() {
    let s3 = S3Server::start();
    let url = format!("s3://{BUCKET}/e2e");
    let local = tempfile::tempdir().unwrap();
    // The release binary when .ci/run built one: the forest trains in seconds.
    let train = image_bin("train");
    for config in ["configs/iris.yaml", "configs/diamonds_forest.yaml"] {
        train_with(&train, config, url.as_ref(), &s3.env());
        train_with(&train, config, local.path().as_os_str(), &[]);
    }
    train_with(&train, "configs/iris.yaml", url.as_ref(), &s3.env());
    train_cli(
        &s3,
        &["registry", "promote", "iris/1", "--registry", url.as_str()],
    );

    let env = s3.env();
    let (cache_a, cache_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let watch = WATCH.to_string();
    let start = |cache: &std::path::Path| {
        let cache = cache.to_str().unwrap();
        Server::start_with(
            &url,
            &[
                "--no-auth",
                "--model",
                "iris@production,diamonds_forest",
                "--watch-interval",
                watch.as_str(),
                "--cache-dir",
                cache,
            ],
            &env_refs(&env),
            Stdio::null(),
        )
    };
    let a = start(cache_a.path());
    let b = start(cache_b.path());
    let reference = Server::start(local.path(), &["--model", "iris,diamonds_forest"]);

    // Bit for bit what the local registry serves (JSON numbers round-trip exactly).
    for (config, model) in [
        ("configs/iris.yaml", "iris"),
        ("configs/diamonds_forest.yaml", "diamonds_forest"),
    ] {
        let records = test_records(config);
        let records = &records[..records.len().min(500)];
        let expected = answers(&reference, model, records);
        assert_eq!(answers(&a, model, records), expected, "{model} on A");
        assert_eq!(answers(&b, model, records), expected, "{model} on B");
    }
    assert_eq!(
        (version_served(&a, "iris"), version_served(&b, "iris")),
        (1, 1)
    );

    // A promotion under load: both switch within two watch intervals, nothing fails.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = [&a, &b, &a, &b]
        .iter()
        .map(|server| {
            let (base, stop, seen) = (server.base.clone(), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || load(&base, &stop, &seen))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    train_cli(
        &s3,
        &["registry", "promote", "iris/2", "--registry", url.as_str()],
    );
    let promoted = Instant::now();
    let mut switched = [None, None];
    while switched.iter().any(Option::is_none) && promoted.elapsed() < Duration::from_secs(10) {
        for (slot, server) in switched.iter_mut().zip([&a, &b]) {
            if slot.is_none() && version_served(server, "iris") == 2 {
                *slot = Some(promoted.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let limit = Duration::from_secs_f64(2.0 * WATCH);
    for (name, at) in ["A", "B"].iter().zip(switched) {
        let at = at.unwrap_or_else(|| panic!("server {name} never switched to iris/2"));
        assert!(at <= limit, "server {name} switched after {at:?}");
    }
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 50, "only {} requests", seen.len());
    assert!(
        seen.iter().all(|(status, _)| *status == 200),
        "a request failed"
    );
    assert!(seen.iter().all(|(_, v)| *v == 1 || *v == 2));
    drop(seen);

    // The store goes away: both keep serving, and say where from.
    let iris_records = test_records("configs/iris.yaml");
    let before = answers(&a, "iris", &iris_records);
    let mut s3 = s3;
    s3.stop();
    for server in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, ready) = server.get("/ready");
            assert_eq!(status, 200, "{ready}");
            if ready["registry_offline"].is_string() {
                break;
            }
            assert!(Instant::now() < deadline, "no offline notice: {ready}");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(answers(server, "iris", &iris_records), before);
    }

    // A restart with the store still down starts from the cache.
    drop(a);
    let restarted = start(cache_a.path());
    let (status, ready) = restarted.get("/ready");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["models"], json!({"iris": 2, "diamonds_forest": 1}));
    assert!(
        ready["registry_offline"]
            .as_str()
            .is_some_and(|r| r.contains("cannot be reached")),
        "{ready}"
    );
    assert_eq!(answers(&restarted, "iris", &iris_records), before);
}

#[test]
fn three_shards_and_a_finish_on_s3_publish_what_one_process_publishes() {
    let s3 = S3Server::start();
    let url = format!("s3://{BUCKET}/sharded");
    let local = tempfile::tempdir().unwrap();
    let config = "configs/titanic_search.yaml";
    let single = crate::harness::train(config, local.path());

    let shard = |i: usize| {
        let spec = format!("{i}/3");
        Command::new(bin("train"))
            .args(["--config", config, "--registry", url.as_str(), "--shard"])
            .arg(spec)
            .envs(s3.env())
            .current_dir(crate::harness::workspace())
            .output()
            .unwrap()
    };
    let finish = || {
        Command::new(bin("train"))
            .args([
                "--config",
                config,
                "--registry",
                url.as_str(),
                "--finish",
                "--json",
            ])
            .envs(s3.env())
            .current_dir(crate::harness::workspace())
            .output()
            .unwrap()
    };
    // Two shards in parallel, then a finish too early: refused, naming what is missing.
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| shard(0));
        let b = s.spawn(|| shard(1));
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [&first, &second] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let early = finish();
    assert_eq!(early.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(
        stderr.contains("no result yet for cell(s) 2, 5 of 6"),
        "{stderr}"
    );

    // A finish that waits, started before the last shard: it publishes once that is in.
    let waiting = Command::new(bin("train"))
        .args(["--config", config, "--registry", url.as_str()])
        .args(["--finish", "--wait", "120", "--json"])
        .envs(s3.env())
        .current_dir(crate::harness::workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let last = shard(2);
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let finished = waiting.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let sharded: Value = serde_json::from_slice(&finished.stdout).unwrap();
    assert_eq!(sharded["search"], single["search"]);
    assert_eq!(sharded["search"]["best"], single["search"]["best"]);
    assert_eq!(sharded["model_sha256"], single["model_sha256"]);
    assert_eq!(sharded["metrics"], single["metrics"]);
    assert_eq!(sharded["version"], 1);
}
