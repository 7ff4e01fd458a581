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

/// The pod template of a workload.
fn pod_spec(o: &Value) -> &Value {
    match o["kind"].as_str() {
        Some("CronJob") => &o["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &o["spec"]["template"]["spec"],
    }
}

/// The args of a workload's first container, with `index` for the Job's completion
/// index and the pod's paths moved under `dir`.
fn pod_args(o: &Value, dir: &std::path::Path, index: Option<usize>) -> Vec<String> {
    pod_spec(o)["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a
                .as_str()
                .unwrap()
                .replace("/etc/ferry", dir.join("etc").to_str().unwrap());
            match index {
                Some(i) => a.replace("$(JOB_COMPLETION_INDEX)", &i.to_string()),
                None => a,
            }
        })
        .collect()
}

#[test]
fn the_prod_overlay_keeps_its_registry_in_a_bucket_and_its_jobs_run_against_one() {
    let objects = render("prod");
    check_security(&objects);
    assert!(
        objects.iter().all(|o| o["kind"] != "PersistentVolumeClaim"),
        "prod needs no shared volume"
    );
    let account = find(&objects, "ServiceAccount", "ferry");
    assert!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws:iam::")),
        "{account}"
    );
    let registry_config = find(&objects, "ConfigMap", "ferry-registry");
    let url = registry_config["data"]["url"].as_str().unwrap();
    assert!(
        matches!(
            url.parse::<ferry_core::RegistryLocation>(),
            Ok(ferry_core::RegistryLocation::Object(_))
        ),
        "{url}"
    );
    let workloads: Vec<&Value> = objects
        .iter()
        .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "Job" | "CronJob")))
        .collect();
    assert_eq!(workloads.len(), 5, "serve, train, retrain, search, finish");
    for o in &workloads {
        let spec = pod_spec(o);
        assert_eq!(
            spec["serviceAccountName"], account["metadata"]["name"],
            "{o}"
        );
        let volumes = spec["volumes"].as_array().unwrap();
        assert!(
            volumes.iter().all(|v| v["persistentVolumeClaim"].is_null()),
            "{o}"
        );
        let container = &spec["containers"][0];
        let env = container["env"].as_array().unwrap();
        let var = |name: &str| env.iter().find(|e| e["name"] == name);
        let registry = var("FERRY_REGISTRY").unwrap_or_else(|| panic!("{o}"));
        let key_ref = &registry["valueFrom"]["configMapKeyRef"];
        assert!(
            registry_config["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with(key_ref["name"].as_str().unwrap())
        );
        assert_eq!(key_ref["key"], "url");
        // The cache is an emptyDir mounted where FERRY_CACHE_DIR says.
        let cache_dir = var("FERRY_CACHE_DIR").unwrap()["value"].as_str().unwrap();
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == cache_dir)
            .unwrap_or_else(|| panic!("no mount at {cache_dir}: {o}"));
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
        assert!(volume["emptyDir"].is_object(), "{volume}");
    }

    // The Indexed Job: one shard per completion index.
    let search = find(&objects, "Job", "ferry-search");
    assert_eq!(search["spec"]["completionMode"], "Indexed");
    let completions = search["spec"]["completions"].as_u64().unwrap() as usize;
    let args = pod_args(search, std::path::Path::new("/"), None);
    assert!(
        args.contains(&format!("$(JOB_COMPLETION_INDEX)/{completions}")),
        "{args:?}"
    );
    let index_env = pod_spec(search)["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "JOB_COMPLETION_INDEX")
        .unwrap();
    assert!(
        index_env["valueFrom"]["fieldRef"]["fieldPath"]
            .as_str()
            .unwrap()
            .contains("job-completion-index")
    );

    // The Jobs as the cluster would run them, against a real S3 server: the finish
    // started with the shards, then serve as the Deployment starts it.
    let s3 = crate::s3::S3Server::start();
    let bucket_url = format!("s3://{}/k8s", crate::s3::BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let pipelines = find(&objects, "ConfigMap", "ferry-pipelines");
    let pipelines_dir = dir.path().join("etc/pipelines");
    fs_err::create_dir_all(&pipelines_dir).unwrap();
    for (name, text) in pipelines["data"].as_object().unwrap() {
        fs_err::write(pipelines_dir.join(name), text.as_str().unwrap()).unwrap();
    }
    let pod = |o: &Value, index: Option<usize>| {
        let work = tempfile::tempdir_in(dir.path()).unwrap().keep();
        let mut cmd = Command::new(image_bin("train"));
        cmd.args(pod_args(o, dir.path(), index))
            .env_clear()
            .envs(s3.env())
            .env("FERRY_REGISTRY", &bucket_url)
            .env("FERRY_CACHE_DIR", &work)
            .current_dir(&work)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let finish = find(&objects, "Job", "ferry-search-finish");
    let finishing = pod(finish, None).spawn().unwrap();
    let shards: Vec<_> = (0..completions)
        .map(|i| pod(search, Some(i)).spawn().unwrap())
        .collect();
    for child in shards.into_iter().chain([finishing]) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let deployment = find(&objects, "Deployment", "ferry-serve");
    let serve_config = find(&objects, "ConfigMap", "ferry-serve-config");
    let config_dir = dir.path().join("etc/serve");
    fs_err::create_dir_all(&config_dir).unwrap();
    let serve_yaml = serve_config["data"]["serve.yaml"]
        .as_str()
        .unwrap()
        .replace("bind: 0.0.0.0:8080", "bind: 127.0.0.1:0");
    fs_err::write(config_dir.join("serve.yaml"), serve_yaml).unwrap();
    let cache = dir.path().join("serve-cache");
    let (mut child, base) = spawn_listening(
        Command::new(image_bin("serve"))
            .args(pod_args(deployment, dir.path(), None))
            .env_clear()
            .envs(s3.env())
            .env("FERRY_REGISTRY", &bucket_url)
            .env("FERRY_CACHE_DIR", &cache)
            .env("FERRY_NO_AUTH", "true")
            .env("FERRY_LOG_FORMAT", "text"),
        "the prod Deployment's args",
    );
    let ready = crate::harness::agent()
        .get(format!("{base}/ready"))
        .call()
        .map(|mut r| (r.status().as_u16(), r.body_mut().read_json::<Value>().ok()));
    let _ = child.kill();
    let _ = child.wait();
    let (status, body) = ready.unwrap();
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body.unwrap()["models"], serde_json::json!({"iris": 1}));
}
