//! The container images' contract, tested without a Docker engine: the binaries run as
//! `Dockerfile.serve` and `Dockerfile.train` start them (their ENTRYPOINT, CMD, ENV and
//! WORKDIR, read from the Dockerfiles), with the image's paths mapped to temporary
//! directories standing in for the mounts, and a working directory nobody may write to
//! (the read-only root filesystem). Only the published port differs: the tests bind an
//! ephemeral loopback port where the image binds 0.0.0.0:8080. `.ci/run` runs them on the
//! release binaries (`FERRY_TEST_RELEASE_BINARIES=1`), the ones the images ship (the serve
//! image adds a profile-guided pass, deploy/pgo.sh, which changes code layout only).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{image_bin, image_profile, workspace};

/// What the final stage of a Dockerfile says about how the binary runs.
#[derive(Debug, Default)]
pub(crate) struct Image {
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) workdir: String,
    pub(crate) user: String,
    pub(crate) expose: Vec<String>,
    pub(crate) healthcheck: Vec<String>,
}

/// A JSON array of strings (exec form), as ENTRYPOINT and CMD must be.
fn exec_form(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not the exec form (a JSON array): {text}: {e}"))
}

pub(crate) fn image(dockerfile: &str) -> Image {
    let text = fs_err::read_to_string(workspace().join(dockerfile)).unwrap();
    // Logical lines: continuations joined, comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let last_stage = joined
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .unwrap();
    let mut image = Image::default();
    for line in last_stage.lines().map(str::trim) {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        match instruction {
            "ENTRYPOINT" => image.entrypoint = exec_form(rest),
            "CMD" => image.cmd = exec_form(rest),
            "WORKDIR" => image.workdir = rest.trim().to_owned(),
            "USER" => image.user = rest.trim().to_owned(),
            "EXPOSE" => image.expose.push(rest.trim().to_owned()),
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').unwrap();
                    image.env.insert(k.to_owned(), v.to_owned());
                }
            }
            "HEALTHCHECK" => {
                let (_, cmd) = rest.split_once("CMD ").unwrap();
                image.healthcheck = exec_form(cmd);
            }
            _ => {}
        }
    }
    image
}

/// The image's user: when the tests run as root (CI here), the binaries run as the
/// Dockerfile's `USER` (65532), who can write only where the mounts were given to it;
/// otherwise as the current user.
fn as_image_user(cmd: &mut Command, user: &str) {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;
    let root = fs_err::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        let (uid, gid) = user.split_once(':').unwrap();
        cmd.uid(uid.parse().unwrap()).gid(gid.parse().unwrap());
    }
}

/// Hands `path` to the image's user (a writable mount), when the tests run as root.
fn own(path: &Path, user: &str) {
    use std::os::unix::fs::MetadataExt as _;
    if fs_err::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        let (uid, gid) = user.split_once(':').unwrap();
        std::os::unix::fs::chown(path, uid.parse().ok(), gid.parse().ok()).unwrap();
    }
}

/// A directory nobody may write to, standing in for the read-only root filesystem.
fn read_only_dir(path: &Path) {
    fs_err::create_dir_all(path).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// The image's value with its paths mapped to `mounts` (image path -> host path).
fn mapped(value: &str, mounts: &[(&str, &Path)]) -> String {
    mounts
        .iter()
        .fold(value.to_owned(), |v, (inside, outside)| {
            v.replace(inside, &outside.display().to_string())
        })
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(
    serve: &Image,
    mounts: &[(&str, &Path)],
    workdir: &Path,
    keys: &str,
) -> (Running, Vec<Value>) {
    assert_eq!(serve.entrypoint, ["/usr/local/bin/serve"]);
    let mut cmd = Command::new(image_bin("serve"));
    as_image_user(&mut cmd, &serve.user);
    cmd.args(serve.cmd.iter().map(|a| mapped(a, mounts)))
        .env_clear()
        .envs(serve.env.iter().map(|(k, v)| (k, mapped(v, mounts))))
        // The one difference: an ephemeral loopback port for the published 8080.
        .env("FERRY_BIND", "127.0.0.1:0")
        .env("FERRY_API_KEYS", keys)
        .current_dir(workdir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut logs = Vec::new();
    let mut base = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_owned());
            break;
        }
        // The image asks for JSON logs: every other stdout line is one.
        logs.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
    }
    let base = base.unwrap_or_else(|| {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
        panic!("serve did not start: {err}")
    });
    (Running { child, base }, logs)
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let agent = crate::harness::agent();
    let mut res = agent.get(format!("{base}{path}")).call().unwrap();
    (
        res.status().as_u16(),
        res.body_mut().read_json().unwrap_or(Value::Null),
    )
}

/// Runs train as Dockerfile.train's ENTRYPOINT with `args` (a Job's args).
fn run_train(train: &Image, args: &[&str], mounts: &[(&str, &Path)], workdir: &Path) {
    assert_eq!(train.entrypoint, ["/usr/local/bin/train"]);
    let mut cmd = Command::new(image_bin("train"));
    as_image_user(&mut cmd, &train.user);
    let out = cmd
        .args(args.iter().map(|a| mapped(a, mounts)))
        .env_clear()
        .envs(train.env.iter().map(|(k, v)| (k, mapped(v, mounts))))
        .current_dir(workdir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JSON logs on stderr (the image's FERRY_LOG_FORMAT), when there are any.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

struct Layout {
    _dir: tempfile::TempDir,
    registry: PathBuf,
    configs: PathBuf,
    workdir: PathBuf,
}

/// The mounts of the deploy: the registry volume (writable), configs and data (read
/// only, side by side as in the repository), and a read-only working directory.
fn layout() -> Layout {
    let dir = tempfile::tempdir().unwrap();
    // Traversable by the image's user; writable only where a mount says so.
    fs_err::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let registry = dir.path().join("artifacts");
    fs_err::create_dir_all(&registry).unwrap();
    own(&registry, "65532:65532");
    let etc = dir.path().join("etc");
    for sub in ["configs", "data"] {
        let to = etc.join(sub);
        fs_err::create_dir_all(&to).unwrap();
        for file in ["iris.yaml", "iris.csv"] {
            let from = workspace().join(sub).join(file);
            if from.exists() {
                fs_err::copy(&from, to.join(file)).unwrap();
            }
        }
        read_only_dir(&to);
    }
    let workdir = dir.path().join("root");
    read_only_dir(&workdir);
    Layout {
        registry,
        configs: etc,
        workdir,
        _dir: dir,
    }
}

#[test]
fn each_image_builds_its_binary_with_the_profile_these_tests_run() {
    for name in ["serve", "train"] {
        let text = fs_err::read_to_string(workspace().join(format!("Dockerfile.{name}"))).unwrap();
        // The profile these tests run (`image_bin`) is read from the Dockerfile's build:
        // it must be an optimised one, and the binary shipped must be the one it builds.
        let profile = image_profile(name);
        assert_ne!(
            profile, "debug",
            "Dockerfile.{name} builds without a release profile"
        );
        assert!(
            text.contains(&format!("target/{profile}/{name} /out/{name}")),
            "Dockerfile.{name} does not ship target/{profile}/{name}"
        );
        // With PGO (the serve image's default) the binary comes from deploy/pgo.sh:
        // both of its builds must be of the same profile.
        if text.contains("deploy/pgo.sh --out /out") {
            let script = fs_err::read_to_string(workspace().join("deploy/pgo.sh")).unwrap();
            let builds: Vec<&str> = script
                .lines()
                .filter(|l| l.contains("cargo build "))
                .collect();
            assert_eq!(
                builds.len(),
                2,
                "deploy/pgo.sh: the instrumented and final builds"
            );
            for build in builds {
                assert!(
                    build.contains(&format!("cargo build --profile {profile} ")),
                    "deploy/pgo.sh builds other than the {profile} profile: {build}"
                );
            }
            assert!(
                script.contains(&format!("/{profile}/$1\" \"$out/$1\"")),
                "deploy/pgo.sh does not install the {profile} build"
            );
        }
    }
}

#[test]
fn the_serve_image_runs_as_its_entrypoint_and_cmd_say_and_becomes_ready() {
    let serve = image("Dockerfile.serve");
    let train = image("Dockerfile.train");
    assert_eq!(serve.expose, ["8080"]);
    assert_eq!(serve.env["FERRY_BIND"], "0.0.0.0:8080");
    assert_eq!(serve.user, "65532:65532", "non-root");
    assert_eq!(train.user, "65532:65532", "non-root");
    let l = layout();
    let mounts: [(&str, &Path); 3] = [
        ("/var/lib/ferry/artifacts", &l.registry),
        ("/etc/ferry", &l.configs),
        (serve.workdir.as_str(), &l.workdir),
    ];
    // A model in the mounted registry, trained as the Job does it.
    run_train(
        &train,
        &["--config", "/etc/ferry/configs/iris.yaml"],
        &mounts,
        &l.workdir,
    );
    let (server, logs) = start_serve(
        &serve,
        &mounts,
        &l.workdir,
        "app:predict:k-0123456789abcdef",
    );
    assert!(
        logs.iter()
            .any(|l| l["fields"]["message"] == "Model loaded." && l["fields"]["model"] == "iris"),
        "{logs:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&server.base, "/ready").0 != 200 {
        assert!(Instant::now() < deadline, "not ready within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The HEALTHCHECK command, against the published port.
    let port = server.base.rsplit(':').next().unwrap();
    let probe: Vec<String> = serve
        .healthcheck
        .iter()
        .map(|a| a.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}")))
        .collect();
    assert_eq!(probe[0], "/usr/local/bin/serve");
    let status = Command::new(image_bin("serve"))
        .args(&probe[1..])
        .status()
        .unwrap();
    assert!(status.success(), "{probe:?}");
    // Nothing was written outside the mounts.
    assert_eq!(fs_err::read_dir(&l.workdir).unwrap().count(), 0);
}

#[test]
fn train_as_the_job_runs_it_lands_in_the_registry_and_serve_picks_it_up() {
    let serve = image("Dockerfile.serve");
    let train = image("Dockerfile.train");
    let l = layout();
    let mounts: [(&str, &Path); 3] = [
        ("/var/lib/ferry/artifacts", &l.registry),
        ("/etc/ferry", &l.configs),
        (serve.workdir.as_str(), &l.workdir),
    ];
    // serve first, on the empty shared volume: its CMD watches the registry, so it starts
    // and waits (not ready).
    let (server, _) = start_serve(
        &serve,
        &mounts,
        &l.workdir,
        "ops:predict+admin:k-ops-0123456789abcdef",
    );
    assert_eq!(get(&server.base, "/health").0, 200);
    assert_eq!(get(&server.base, "/ready").0, 503);
    // The Job (or a CronJob run) trains into the volume.
    run_train(
        &train,
        &["--config", "/etc/ferry/configs/iris.yaml"],
        &mounts,
        &l.workdir,
    );
    let manifest = l.registry.join("iris/1/manifest.json");
    assert!(manifest.is_file());
    {
        use std::os::unix::fs::MetadataExt as _;
        if fs_err::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            // Written by the image's user, not root.
            assert_eq!(fs_err::metadata(&manifest).unwrap().uid(), 65532);
        }
    }
    // The watcher finds it at its next pass; an admin reload (what the watcher runs)
    // saves the test the interval.
    let agent = crate::harness::agent();
    let res = agent
        .post(format!("{}/admin/reload", server.base))
        .header("Authorization", "Bearer k-ops-0123456789abcdef")
        .send_empty()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(get(&server.base, "/ready").0, 200);
    let (status, model) = get(&server.base, "/models/iris");
    assert_eq!(status, 401, "the models need a key: {model}");
    assert_eq!(fs_err::read_dir(&l.workdir).unwrap().count(), 0);
}
