use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The newest modification time among the sources cargo recorded for `binary` in its
/// dep-info file (`<binary>.d`, which lists every local source the binary was built from).
fn newest_source(binary: &Path) -> std::time::SystemTime {
    let dep_info = binary.with_extension("d");
    let text = fs_err::read_to_string(&dep_info).unwrap_or_default();
    let sources = text.split_once(": ").map_or("", |(_, deps)| deps);
    sources
        .replace("\\ ", "\u{0}")
        .split_whitespace()
        .map(|p| PathBuf::from(p.replace('\u{0}', " ")))
        .filter_map(|p| fs_err::metadata(p).and_then(|m| m.modified()).ok())
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

/// A binary of this workspace from the target directory this test runs from. This package
/// does not depend on the binaries, so `cargo nextest run --workspace` (the documented
/// command) builds them but `-p ferry-tests` alone does not: a binary older than its
/// sources fails the test instead of silently testing stale code.
pub(crate) fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    checked(dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// The directory under `target/` where the image of `name` builds its binary, read from
/// its Dockerfile's `cargo build` line (a `RUN` of its own, or a branch of one, as the
/// serve image's build without PGO is): `release` for `--release`, the profile's name
/// for `--profile NAME`, `debug` for neither (as Cargo does).
pub(crate) fn image_profile(name: &str) -> String {
    let path = workspace().join(format!("Dockerfile.{name}"));
    let text = fs_err::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let build = text
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("RUN ")
                .unwrap_or(l)
                .strip_prefix("cargo build ")
        })
        .unwrap_or_else(|| panic!("{} has no `cargo build`", path.display()));
    let mut words = build.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            "--release" => return "release".to_owned(),
            "--profile" => {
                if let Some(profile) = words.next() {
                    return profile.to_owned();
                }
            }
            _ => {}
        }
    }
    "debug".to_owned()
}

/// The binary the container images ship: the build of the image's profile
/// ([`image_profile`]) when `FERRY_TEST_RELEASE_BINARIES=1` (`.ci/run` builds it first,
/// so the image-contract tests run what the images would, less the serve image's PGO
/// pass, which changes code layout, not behaviour), else the test profile's, as
/// [`bin`].
pub(crate) fn image_bin(name: &str) -> PathBuf {
    if std::env::var("FERRY_TEST_RELEASE_BINARIES").is_ok_and(|v| v == "1") {
        checked(
            workspace()
                .join("target")
                .join(image_profile(name))
                .join(format!("{name}{}", std::env::consts::EXE_SUFFIX)),
        )
    } else {
        bin(name)
    }
}

/// `path`, after checking that it exists and is not older than its sources.
fn checked(path: PathBuf) -> PathBuf {
    let built = fs_err::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is not built: run `cargo nextest run --workspace`",
                path.display()
            )
        });
    assert!(
        built >= newest_source(&path),
        "{} is older than its sources: run `cargo nextest run --workspace` (or `cargo build --workspace`)",
        path.display()
    );
    path
}

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Trains `config` (relative to the workspace) into `registry`, returning the JSON report.
pub(crate) fn train(config: &str, registry: &Path) -> Value {
    train_with(&bin("train"), config, registry.as_os_str(), &[])
}

/// Trains `config` with the `train` binary at `exe` into `registry` (a directory or a
/// URL) with `env` added, returning the JSON report.
pub(crate) fn train_with(
    exe: &Path,
    config: &str,
    registry: &std::ffi::OsStr,
    env: &[(&str, String)],
) -> Value {
    let out = Command::new(exe)
        .args(["--config", config, "--json", "--registry"])
        .arg(registry)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workspace())
        .output()
        .expect("train runs");
    assert!(
        out.status.success(),
        "train {config} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// An HTTP client that returns 4xx and 5xx answers instead of errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Spawns `cmd` (a serve command line) with stdout piped and stderr discarded, and
/// returns the process with the base URL from its `listening on` line.
pub(crate) fn spawn_listening(cmd: &mut Command, what: &str) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("listening on "))
        .unwrap_or_else(|| panic!("serve did not start with {what}"));
    let base = line.trim_start_matches("listening on ").to_owned();
    (child, base)
}

/// A running `serve` process on 127.0.0.1 with an ephemeral port, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    agent: ureq::Agent,
}

impl Server {
    /// Serves `registry` with authentication off (`--no-auth`).
    pub(crate) fn start(registry: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["--no-auth"];
        args.extend_from_slice(extra);
        Self::start_with(registry, &args, &[], Stdio::null())
    }

    /// Serves `registry` (a directory or a URL) with `extra` flags and `env` variables,
    /// stderr to `stderr`.
    pub(crate) fn start_with(
        registry: impl AsRef<std::ffi::OsStr>,
        extra: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Server {
        let mut child = Command::new(bin("serve"))
            .args(["--bind", "127.0.0.1:0", "--workers", "2", "--registry"])
            .arg(registry)
            .args(extra)
            .env("RUST_LOG", "warn")
            .env("FERRY_LOG_FORMAT", "text")
            .env_remove("FERRY_API_KEYS")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        // JSON logs (when a test asks for them) may come before the address line.
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("listening on "))
            .expect("serve prints its address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let server = Server { child, base, agent };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.get("/health").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "serve did not answer /health within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Sends SIGTERM (as Kubernetes does to stop a pod) and waits up to 30 s for the
    /// server to exit; returns its exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        // Idle keep-alive connections would hold the graceful shutdown until they time out.
        self.agent = agent();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's peak resident memory so far (`VmHWM`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        let status = fs_err::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        match self.agent.get(format!("{}{path}", self.base)).call() {
            Ok(mut res) => (
                res.status().as_u16(),
                res.body_mut().read_json().unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        }
    }

    /// POSTs `body` with `content_type`; returns the status, the JSON body and the
    /// response headers that matter here.
    pub(crate) fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let mut res = self
            .agent
            .post(format!("{}{path}", self.base))
            .content_type(content_type)
            .send(body)
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}"));
        let status = res.status().as_u16();
        assert_eq!(
            res.headers()
                .get("x-ferry-api-version")
                .map(|v| v.to_str().unwrap()),
            Some("v1")
        );
        (
            status,
            res.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_json()
                .unwrap_or(Value::Null),
        )
    }

    pub(crate) fn predict(&self, model: &str, body: &Value) -> (u16, Value) {
        self.post(
            &format!("/models/{model}/predict"),
            "application/json",
            body.to_string().as_bytes(),
        )
    }
}

impl Server {
    /// Stops the server and returns what it wrote on stderr (when started with
    /// `Stdio::piped()` for it).
    pub(crate) fn stop_and_read_stderr(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
