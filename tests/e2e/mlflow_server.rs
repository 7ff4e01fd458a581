//! A real MLflow tracking server for the MLflow tests: `mlflow server` from PyPI (in
//! tests/.venv, installed by .ci/run) on an ephemeral loopback port, with a temporary
//! sqlite store and its artifact proxy writing to a temporary directory or to a bucket
//! of the S3-compatible server; killed on drop.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_core::registry::{Registry, RegistryLocation};
use serde_json::{Value, json};

use crate::harness::{agent, workspace};

#[derive(Debug)]
pub(crate) struct MlflowServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl MlflowServer {
    /// A server whose artifact proxy writes to a temporary directory.
    pub(crate) fn start() -> MlflowServer {
        Self::start_with(None, &[])
    }

    /// A server whose artifact proxy writes to `destination` (`s3://ferry/mlflow`), with
    /// `env` (the S3 server's endpoint and keys) set for it.
    pub(crate) fn start_with(destination: Option<&str>, env: &[(&str, String)]) -> MlflowServer {
        let mlflow = workspace().join("tests/.venv/bin/mlflow");
        assert!(
            mlflow.exists(),
            "{} is missing: run .ci/run, or python3 -m venv tests/.venv && \
             tests/.venv/bin/pip install -r tests/python/requirements.txt",
            mlflow.display()
        );
        let mut dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("artifacts").display().to_string();
        let destination = destination.map_or(local, str::to_owned);
        // A few tries: another process may take the port between its probe and the bind.
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&mlflow);
            cmd.arg("server")
                .arg("--backend-store-uri")
                .arg(format!(
                    "sqlite:///{}",
                    dir.path().join("mlflow.db").display()
                ))
                .arg("--artifacts-destination")
                .arg(&destination)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--workers", "1"])
                .current_dir(dir.path())
                // No background job runner (a handful of huey processes) for a test.
                .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
                .env("MLFLOW_DISABLE_TELEMETRY", "true")
                // Its own process group: `mlflow server` runs uvicorn as a child, and
                // stopping means stopping both.
                .process_group(0)
                .env("DO_NOT_TRACK", "true")
                .stdout(Stdio::null())
                .stderr(
                    fs_err::File::create(dir.path().join("server.log"))
                        .unwrap()
                        .into_parts()
                        .0,
                );
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("mlflow server starts");
            let mut server = MlflowServer {
                child: Some(child),
                base: format!("http://127.0.0.1:{port}"),
                dir,
            };
            if server.wait_healthy(Duration::from_secs(90)) {
                return server;
            }
            server.stop();
            dir = server.take_dir();
        }
        panic!("mlflow server did not become healthy");
    }

    fn take_dir(mut self) -> tempfile::TempDir {
        self.stop();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    fn wait_healthy(&mut self, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = &mut self.child
                && child.try_wait().ok().flatten().is_some()
            {
                return false;
            }
            let healthy = agent()
                .get(format!("{}/health", self.base))
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200);
            if healthy {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        fs_err::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `mlflow+http://127.0.0.1:PORT`.
    pub(crate) fn location(&self) -> RegistryLocation {
        format!("mlflow+{}", self.base).parse().unwrap()
    }

    /// An in-process registry on this server, caching in `cache`.
    pub(crate) fn registry(&self, cache: &std::path::Path) -> Arc<dyn Registry> {
        let options = ferry_store::StoreOptions {
            cache_dir: cache.to_owned(),
            ..ferry_store::StoreOptions::default()
        };
        ferry_store::open(&self.location(), &options).unwrap()
    }

    /// `GET /api/2.0/mlflow/<endpoint>`: status and JSON body.
    pub(crate) fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let mut request = agent().get(format!("{}/api/2.0/mlflow/{endpoint}", self.base));
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub(crate) fn post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        let mut response = agent()
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.base))
            .send_json(body)
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Empties the registry as Ferry sees it: every registered model (with its
    /// versions) and the run records under the artifact proxy's `ferry-registry/`.
    pub(crate) fn wipe(&self) {
        let (status, found) = self.get("registered-models/search", &[("max_results", "1000")]);
        assert_eq!(status, 200, "{found}");
        for model in found["registered_models"].as_array().into_iter().flatten() {
            let name = model["name"].as_str().unwrap();
            let response = agent()
                .delete(format!(
                    "{}/api/2.0/mlflow/registered-models/delete",
                    self.base
                ))
                .force_send_body()
                .header("Content-Type", "application/json")
                .send(json!({ "name": name }).to_string())
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
        }
        let response = agent()
            .delete(format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/ferry-registry",
                self.base
            ))
            .call()
            .unwrap();
        assert!(
            [200, 404].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }

    /// The local directory the artifact proxy writes to (when not a bucket).
    pub(crate) fn artifacts_dir(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The whole group: the server and the uvicorn process it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}
