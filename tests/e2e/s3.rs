//! A real S3-compatible server for the object-store tests: moto's S3
//! (`tests/python/s3_server.py`, in tests/.venv, installed by .ci/run), started on an
//! ephemeral loopback port, with one bucket, `ferry`, and killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use ferry_core::registry::{Registry, RegistryLocation};

use crate::harness::{agent, workspace};

/// The bucket every test uses (prefixes keep tests apart).
pub(crate) const BUCKET: &str = "ferry";

#[derive(Debug)]
pub(crate) struct S3Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) endpoint: String,
}

impl S3Server {
    /// Starts a server and creates the bucket.
    pub(crate) fn start() -> S3Server {
        let python = workspace().join("tests/.venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run .ci/run, or python3 -m venv tests/.venv && \
             tests/.venv/bin/pip install -r tests/python/requirements.txt",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(workspace().join("tests/python/s3_server.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the S3 server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("listening on "))
            .expect("the S3 server prints its address");
        let endpoint = line.trim_start_matches("listening on ").to_owned();
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
        let created = agent()
            .put(format!("{endpoint}/{BUCKET}"))
            .send_empty()
            .expect("create the bucket");
        assert_eq!(created.status().as_u16(), 200);
        S3Server {
            child: Some(child),
            endpoint,
        }
    }

    /// The environment train and serve read the store's settings from.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "ferry-test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "ferry-test-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// The same settings for an in-process registry.
    pub(crate) fn options(&self, cache: &std::path::Path) -> ferry_store::StoreOptions {
        ferry_store::StoreOptions {
            cache_dir: cache.to_owned(),
            settings: vec![
                ("aws_endpoint".to_owned(), self.endpoint.clone()),
                ("aws_allow_http".to_owned(), "true".to_owned()),
                ("aws_access_key_id".to_owned(), "ferry-test".to_owned()),
                (
                    "aws_secret_access_key".to_owned(),
                    "ferry-test-secret".to_owned(),
                ),
                ("aws_region".to_owned(), "us-east-1".to_owned()),
            ],
            ..ferry_store::StoreOptions::default()
        }
    }

    /// An in-process registry at `s3://ferry/<prefix>`, caching in `cache`.
    pub(crate) fn registry(&self, prefix: &str, cache: &std::path::Path) -> Arc<dyn Registry> {
        let location: RegistryLocation = format!("s3://{BUCKET}/{prefix}").parse().unwrap();
        ferry_store::open(&location, &self.options(cache)).unwrap()
    }

    /// Stops the server (its objects are gone with it).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
