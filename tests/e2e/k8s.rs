//! deploy/k8s rendered by `kubectl kustomize` (each overlay), every object parsed, and what
//! the manifests promise checked against the real binaries: the serve container started
//! with the Deployment's args, env (the dev overlay's Secret) and ConfigMap answers its
//! probes and the scrape path on the port the Service targets; the Job's command trains
//! the ConfigMap's pipeline into the registry volume. `.ci/run` also checks the rendered
//! objects against the Kubernetes schemas (kubernetes-validate --strict).

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::harness::{image_bin, spawn_listening, workspace};

fn render(overlay: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(workspace().join("deploy/k8s/overlays").join(overlay))
        .output()
        .expect("kubectl (the machine's google-cloud-sdk) renders the overlays");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split("\n---\n")
        .map(|doc| ferry_core::config::from_yaml_str::<Value>(doc).unwrap())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, prefix: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {kind} {prefix}"))
}

/// Every container of every pod template: non-root, read-only root, no privilege.
fn check_security(objects: &[Value]) {
    for o in objects {
        let spec = match o["kind"].as_str() {
            Some("Deployment" | "Job") => &o["spec"]["template"]["spec"],
            Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            _ => continue,
        };
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{o}");
        for c in spec["containers"].as_array().unwrap() {
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{c}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{c}");
            assert!(c["resources"]["requests"].is_object(), "{c}");
            assert!(c["resources"]["limits"].is_object(), "{c}");
        }
    }
}

fn get(base: &str, path: &str) -> u16 {
    let agent = crate::harness::agent();
    agent
        .get(format!("{base}{path}"))
        .call()
        .map_or(0, |r| r.status().as_u16())
}

#[test]
fn both_overlays_render_and_agree_with_the_binaries() {
    let prod = render("prod");
    check_security(&prod);
    assert_eq!(
        find(&prod, "Deployment", "ferry-serve")["spec"]["replicas"],
        3
    );
    assert_eq!(
        find(&prod, "HorizontalPodAutoscaler", "ferry-serve")["spec"]["minReplicas"],
        3
    );

    let objects = render("dev");
    check_security(&objects);
    let deployment = find(&objects, "Deployment", "ferry-serve");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(deployment["metadata"]["namespace"], "ferry-dev");
    // The Service, HPA and PDB point at this Deployment and its pods.
    let service = find(&objects, "Service", "ferry-serve");
    let labels = &pod["metadata"]["labels"];
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "service selector {k}");
    }
    let pdb = find(&objects, "PodDisruptionBudget", "ferry-serve");
    for (k, v) in pdb["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "pdb selector {k}");
    }
    let hpa = find(&objects, "HorizontalPodAutoscaler", "ferry-serve");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    let port = &container["ports"][0];
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let container_port = port["containerPort"].as_u64().unwrap();

    // The pod's files: the serve ConfigMap, the Secret, the registry volume.
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("artifacts");
    fs_err::create_dir_all(&registry).unwrap();
    let mounts = |path: &str| -> String {
        path.replace("/var/lib/ferry/artifacts", registry.to_str().unwrap())
            .replace("/etc/ferry", dir.path().join("etc").to_str().unwrap())
    };
    let serve_config = find(&objects, "ConfigMap", "ferry-serve-config");
    let config_dir = dir.path().join("etc/serve");
    fs_err::create_dir_all(&config_dir).unwrap();
    let serve_yaml = serve_config["data"]["serve.yaml"].as_str().unwrap();
    // The config binds the port the container declares.
    assert!(
        serve_yaml.contains(&format!("bind: 0.0.0.0:{container_port}")),
        "{serve_yaml}"
    );
    // Its registry is where the Deployment mounts the volume.
    let registry_mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "registry")
        .unwrap();
    assert!(serve_yaml.contains(&format!(
        "registry: {}",
        registry_mount["mountPath"].as_str().unwrap()
    )));
    // The test's one change: an ephemeral loopback port for the pod's 8080.
    fs_err::write(
        config_dir.join("serve.yaml"),
        mounts(serve_yaml).replace(
            &format!("bind: 0.0.0.0:{container_port}"),
            "bind: 127.0.0.1:0",
        ),
    )
    .unwrap();
    let secret = find(&objects, "Secret", "ferry-api-keys");
    let env = &container["env"][0];
    assert_eq!(env["name"], "FERRY_API_KEYS");
    let key_ref = &env["valueFrom"]["secretKeyRef"];
    assert!(
        secret["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with(key_ref["name"].as_str().unwrap())
    );
    let keys = base64::engine::general_purpose::STANDARD
        .decode(
            secret["data"][key_ref["key"].as_str().unwrap()]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let keys = String::from_utf8(keys).unwrap();
    let admin_key = keys.rsplit(':').next().unwrap().to_owned();

    // The Job: its args, the pipelines ConfigMap, the registry volume.
    let job = find(&objects, "Job", "ferry-train");
    let train_container = &job["spec"]["template"]["spec"]["containers"][0];
    let pipelines = find(&objects, "ConfigMap", "ferry-pipelines");
    let pipelines_dir = dir.path().join("etc/pipelines");
    fs_err::create_dir_all(&pipelines_dir).unwrap();
    for (name, text) in pipelines["data"].as_object().unwrap() {
        fs_err::write(pipelines_dir.join(name), text.as_str().unwrap()).unwrap();
    }
    let cron = find(&objects, "CronJob", "ferry-retrain");
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"],
        train_container["args"]
    );

    // serve as the Deployment starts it, on the empty volume.
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| mounts(a.as_str().unwrap()))
        .collect();
    let (mut child, base) = spawn_listening(
        Command::new(image_bin("serve"))
            .args(&args)
            .env_clear()
            .env("FERRY_API_KEYS", &keys)
            .env("FERRY_LOG_FORMAT", "text"),
        "the Deployment's args",
    );
    let probe = |name: &str| {
        container[name]["httpGet"]["path"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let result = std::panic::catch_unwind(|| {
        assert_eq!(get(&base, &probe("livenessProbe")), 200);
        assert_eq!(get(&base, &probe("startupProbe")), 200);
        // Nothing trained yet: not ready, so no traffic.
        assert_eq!(get(&base, &probe("readinessProbe")), 503);
        let scrape = pod["metadata"]["annotations"]["prometheus.io/path"]
            .as_str()
            .unwrap();
        assert_eq!(get(&base, scrape), 200, "the scrape path is open");

        // The Job trains into the volume.
        let train_args: Vec<String> = train_container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| mounts(a.as_str().unwrap()))
            .collect();
        let out = Command::new(image_bin("train"))
            .args(&train_args)
            .env_clear()
            .env("FERRY_REGISTRY", &registry)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The watcher's reload, without waiting for its interval.
        let agent = crate::harness::agent();
        let res = agent
            .post(format!("{base}/admin/reload"))
            .header("Authorization", &format!("Bearer {admin_key}"))
            .send_empty()
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&base, &probe("readinessProbe")) != 200 {
            assert!(Instant::now() < deadline, "not ready after the Job");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
