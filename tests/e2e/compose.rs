//! deploy/compose/compose.yaml, parsed and cross-checked (no Docker engine or compose
//! client runs on the build machine): every host path it mounts exists, the services
//! agree with the images (commands, ports, healthcheck, registry path) and with the
//! Prometheus scrape config, and the train and serve services run as compose would start
//! them: train's command puts a model into the shared volume, then serve, with its
//! command and environment, becomes ready on it.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{image_bin, spawn_listening, workspace};
use crate::image::image;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_compose_file_agrees_with_the_images_and_runs_train_then_serve() {
    let dir = workspace().join("deploy/compose");
    let compose: Value = ferry_core::config::from_yaml_str(
        &fs_err::read_to_string(dir.join("compose.yaml")).unwrap(),
    )
    .unwrap();
    let services = &compose["services"];
    // Every bind-mounted host path exists (relative to the compose file).
    for (name, service) in services.as_object().unwrap() {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let host = volume.as_str().unwrap().split(':').next().unwrap();
            if host.starts_with('.') {
                assert!(dir.join(host).exists(), "{name}: {host} does not exist");
            }
        }
    }
    let serve_image = image("Dockerfile.serve");
    let train_image = image("Dockerfile.train");
    let serve = &services["ferry-serve"];
    let train = &services["ferry-train"];
    assert_eq!(serve["read_only"], true);
    assert_eq!(train["read_only"], true);
    assert_eq!(
        serve["depends_on"]["ferry-train"]["condition"],
        "service_completed_successfully"
    );
    // The published port is the one the image exposes and binds.
    let published = serve["ports"][0].as_str().unwrap();
    assert_eq!(published.rsplit(':').next().unwrap(), serve_image.expose[0]);
    assert!(serve_image.env["FERRY_BIND"].ends_with(&format!(":{}", serve_image.expose[0])));
    // The healthcheck is the image's.
    let test = strings(&serve["healthcheck"]["test"]);
    assert_eq!(test[0], "CMD");
    assert_eq!(test[1..], serve_image.healthcheck[..]);
    // Both mount the registry volume where the images look for it.
    for (service, img) in [(serve, &serve_image), (train, &train_image)] {
        let registry = &img.env["FERRY_REGISTRY"];
        assert!(
            service["volumes"].as_array().unwrap().iter().any(|v| v
                .as_str()
                .unwrap()
                .starts_with(&format!("registry:{registry}"))),
            "{service}"
        );
    }
    // Prometheus scrapes the serve service on its port.
    let prometheus =
        fs_err::read_to_string(workspace().join("deploy/prometheus/prometheus.yml")).unwrap();
    assert!(prometheus.contains(&format!("ferry-serve:{}", serve_image.expose[0])));

    // train then serve, as compose starts them: mounts mapped to a temporary volume.
    let tmp = tempfile::tempdir().unwrap();
    let volume = tmp.path().join("registry");
    fs_err::create_dir_all(&volume).unwrap();
    let map = |s: &str| -> String {
        s.replace(
            "/etc/ferry/configs",
            workspace().join("configs").to_str().unwrap(),
        )
        .replace(
            "/etc/ferry/data",
            workspace().join("data").to_str().unwrap(),
        )
        .replace("/var/lib/ferry/artifacts", volume.to_str().unwrap())
    };
    let out = Command::new(image_bin("train"))
        .args(strings(&train["command"]).iter().map(|a| map(a)))
        .env_clear()
        .envs(train_image.env.iter().map(|(k, v)| (k, map(v))))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut child, base) = spawn_listening(
        Command::new(image_bin("serve"))
            .args(strings(&serve["command"]).iter().map(|a| map(a)))
            .env_clear()
            .envs(serve_image.env.iter().map(|(k, v)| (k, map(v))))
            .env("FERRY_BIND", "127.0.0.1:0")
            .env("FERRY_LOG_FORMAT", "text")
            .env("FERRY_API_KEYS", "app:predict:compose-key-0123456789"),
        "the compose command",
    );
    let agent = crate::harness::agent();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let status = agent
            .get(format!("{base}/ready"))
            .call()
            .map_or(0, |r| r.status().as_u16());
        if status == 200 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ready, 200);
}
