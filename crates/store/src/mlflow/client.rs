//! A blocking client of MLflow's REST API (`/api/2.0/mlflow/...`) and of its artifact
//! proxy (`/api/2.0/mlflow-artifacts/artifacts/...`): the calls Ferry's tracking and
//! its MLflow registry make, with retries and backoff for transient failures, the
//! token from `MLFLOW_TRACKING_TOKEN` (or `MLFLOW_TRACKING_USERNAME` and
//! `MLFLOW_TRACKING_PASSWORD`), never logged.
//!
//! Blocking on purpose: the [`Registry`](ferry_core::Registry) trait is synchronous and
//! serve calls it from blocking threads; the client holds no runtime.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a call to MLflow failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MlflowError {
    /// The server did not answer (connection refused, timeout, or 5xx after retries).
    #[error("{url}: MLflow cannot be reached: {message}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered an error.
    #[error("{url}: MLflow answered {status} {code}: {message}")]
    Api {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's `error_code` (`RESOURCE_DOES_NOT_EXIST`, ...), or `HTTP_<status>`.
        code: String,
        /// MLflow's message.
        message: String,
    },
    /// The server answered something that is not what its API documents.
    #[error("{url}: unexpected answer from MLflow: {message}")]
    Invalid {
        /// The URL called.
        url: String,
        /// What was wrong with it.
        message: String,
    },
}

impl MlflowError {
    /// MLflow's error code, for an error it answered.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            MlflowError::Api { code, .. } => Some(code),
            MlflowError::Unreachable { .. } | MlflowError::Invalid { .. } => None,
        }
    }

    /// True for `RESOURCE_DOES_NOT_EXIST` (or a 404).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, MlflowError::Api { status: 404, .. })
            || self.code() == Some("RESOURCE_DOES_NOT_EXIST")
    }

    /// True for `RESOURCE_ALREADY_EXISTS`.
    #[must_use]
    pub fn already_exists(&self) -> bool {
        self.code() == Some("RESOURCE_ALREADY_EXISTS")
    }

    /// The URL the failed call went to.
    #[must_use]
    pub fn url(&self) -> &str {
        match self {
            MlflowError::Unreachable { url, .. }
            | MlflowError::Api { url, .. }
            | MlflowError::Invalid { url, .. } => url,
        }
    }
}

/// How the client reaches the server.
#[derive(Clone)]
pub struct ClientOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of a request that failed transiently (no answer, 429, 5xx).
    pub max_retries: u32,
    /// The first wait before a retry; doubled for each further one.
    pub backoff: Duration,
    /// `Authorization` header value, from the environment by default.
    pub authorization: Option<String>,
}

impl fmt::Debug for ClientOptions {
    // The token stays out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 4,
            backoff: Duration::from_millis(200),
            authorization: authorization_from_env(),
        }
    }
}

/// The `Authorization` header MLflow's own client sends: `Bearer $MLFLOW_TRACKING_TOKEN`,
/// else Basic from `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
#[must_use]
pub fn authorization_from_env() -> Option<String> {
    use base64::Engine as _;
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
        return Some(format!("Bearer {token}"));
    }
    let user = var("MLFLOW_TRACKING_USERNAME")?;
    let password = var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

/// A blocking MLflow REST client for one server.
#[derive(Clone)]
pub struct MlflowClient {
    base: String,
    agent: ureq::Agent,
    options: ClientOptions,
}

impl fmt::Debug for MlflowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowClient")
            .field("base", &self.base)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// MLflow's error body.
#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<String>,
    message: Option<String>,
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One attempt's outcome: an answer (any status) or no answer.
enum Attempt {
    Answer(u16, Vec<u8>),
    NoAnswer(String),
}

impl MlflowClient {
    /// A client of the server at `base` (`http://127.0.0.1:5000`).
    #[must_use]
    pub fn new(base: &str, options: ClientOptions) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .timeout_connect(Some(Duration::from_secs(5).min(options.timeout)))
            .http_status_as_error(false)
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent: config.into(),
            options,
        }
    }

    /// The server's base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    fn attempt(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
        limit: u64,
    ) -> Attempt {
        macro_rules! finish {
            ($request:expr) => {{
                let mut request = $request;
                for (k, v) in query {
                    request = request.query(*k, *v);
                }
                if let Some(auth) = &self.options.authorization {
                    request = request.header("Authorization", auth);
                }
                request
            }};
        }
        let sent = match method {
            Method::Get => finish!(self.agent.get(url)).call(),
            Method::Delete => match body {
                // MLflow's DELETE endpoints read a JSON body.
                Some((ctype, bytes)) => finish!(self.agent.delete(url))
                    .force_send_body()
                    .header("Content-Type", ctype)
                    .send(bytes),
                None => finish!(self.agent.delete(url)).call(),
            },
            Method::Post | Method::Put => {
                let (ctype, bytes) = body.unwrap_or(("application/json", b"{}"));
                let request = match method {
                    Method::Post => self.agent.post(url),
                    Method::Get | Method::Put | Method::Delete => self.agent.put(url),
                };
                finish!(request).header("Content-Type", ctype).send(bytes)
            }
        };
        match sent {
            Ok(mut response) => {
                let status = response.status().as_u16();
                match response.body_mut().with_config().limit(limit).read_to_vec() {
                    Ok(bytes) => Attempt::Answer(status, bytes),
                    Err(e) => Attempt::NoAnswer(format!("reading the answer: {e}")),
                }
            }
            Err(e) => Attempt::NoAnswer(e.to_string()),
        }
    }

    /// Sends a request, retrying transient failures; the answer's body on a 2xx.
    fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
        limit: u64,
    ) -> Result<Vec<u8>, MlflowError> {
        let mut wait = self.options.backoff;
        let mut attempt = 0;
        loop {
            let outcome = self.attempt(&method, url, query, body, limit);
            let transient = match &outcome {
                Attempt::Answer(status, _) => *status == 429 || *status >= 500,
                Attempt::NoAnswer(_) => true,
            };
            if transient && attempt < self.options.max_retries {
                attempt += 1;
                tracing::debug!(url, attempt, "MLflow call failed transiently; retrying.");
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
                continue;
            }
            return match outcome {
                Attempt::Answer(status, bytes) if (200..300).contains(&status) => Ok(bytes),
                Attempt::Answer(status, bytes) => {
                    let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
                    let text = String::from_utf8_lossy(&bytes);
                    let message = parsed
                        .as_ref()
                        .and_then(|b| b.message.clone())
                        .unwrap_or_else(|| text.chars().take(300).collect());
                    let code = parsed
                        .and_then(|b| b.error_code)
                        .unwrap_or_else(|| format!("HTTP_{status}"));
                    if status >= 500 || status == 429 {
                        Err(MlflowError::Unreachable {
                            url: url.to_owned(),
                            message: format!(
                                "{} {code} after {} attempts: {message}",
                                method.as_str(),
                                attempt + 1
                            ),
                        })
                    } else {
                        Err(MlflowError::Api {
                            url: url.to_owned(),
                            status,
                            code,
                            message,
                        })
                    }
                }
                Attempt::NoAnswer(message) => Err(MlflowError::Unreachable {
                    url: url.to_owned(),
                    message: format!("{message} (after {} attempts)", attempt + 1),
                }),
            };
        }
    }

    fn api_url(&self, endpoint: &str) -> String {
        format!("{}/api/2.0/mlflow/{endpoint}", self.base)
    }

    fn decode<T: DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<T, MlflowError> {
        serde_json::from_slice(bytes).map_err(|e| MlflowError::Invalid {
            url: url.to_owned(),
            message: e.to_string(),
        })
    }

    /// `GET /api/2.0/mlflow/<endpoint>?query`.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<T, MlflowError> {
        let url = self.api_url(endpoint);
        let bytes = self.send(Method::Get, &url, query, None, JSON_LIMIT)?;
        Self::decode(&url, &bytes)
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn post<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &Value,
    ) -> Result<T, MlflowError> {
        let url = self.api_url(endpoint);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let answer = self.send(
            Method::Post,
            &url,
            &[],
            Some(("application/json", &bytes)),
            JSON_LIMIT,
        )?;
        Self::decode(&url, &answer)
    }

    /// `DELETE /api/2.0/mlflow/<endpoint>` with a JSON body.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn delete(&self, endpoint: &str, body: &Value) -> Result<(), MlflowError> {
        let url = self.api_url(endpoint);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.send(
            Method::Delete,
            &url,
            &[],
            Some(("application/json", &bytes)),
            JSON_LIMIT,
        )?;
        Ok(())
    }

    fn artifact_url(&self, path: &str) -> String {
        let encoded: Vec<String> = path.split('/').map(encode_segment).collect();
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encoded.join("/")
        )
    }

    /// Uploads `bytes` to `path` of the artifact proxy (relative to its root:
    /// `1/<run>/artifacts/model/model.json`).
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn put_artifact(&self, path: &str, bytes: &[u8]) -> Result<(), MlflowError> {
        let url = self.artifact_url(path);
        self.send(
            Method::Put,
            &url,
            &[],
            Some(("application/octet-stream", bytes)),
            JSON_LIMIT,
        )?;
        Ok(())
    }

    /// Downloads `path` of the artifact proxy, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn get_artifact(&self, path: &str, limit: u64) -> Result<Vec<u8>, MlflowError> {
        let url = self.artifact_url(path);
        self.send(Method::Get, &url, &[], None, limit)
    }

    /// Deletes `path` (a file or a directory) of the artifact proxy.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn delete_artifact(&self, path: &str) -> Result<(), MlflowError> {
        let url = self.artifact_url(path);
        self.send(Method::Delete, &url, &[], None, JSON_LIMIT)?;
        Ok(())
    }

    /// The entries directly under `path` of the artifact proxy; empty when there is none.
    ///
    /// # Errors
    /// [`MlflowError`].
    pub fn list_artifacts(&self, path: &str) -> Result<Vec<ArtifactEntry>, MlflowError> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default)]
            files: Vec<ArtifactEntry>,
        }
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base);
        let bytes = self.send(Method::Get, &url, &[("path", path)], None, JSON_LIMIT)?;
        let listing: Listing = Self::decode(&url, &bytes)?;
        Ok(listing.files)
    }
}

/// The most a JSON answer (or an upload's answer) may hold.
const JSON_LIMIT: u64 = 64 << 20;

/// One entry of an artifact listing.
#[derive(Debug, Clone, Deserialize)]
pub struct ArtifactEntry {
    /// Its name under the listed directory.
    pub path: String,
    /// Whether it is a directory.
    #[serde(default)]
    pub is_dir: bool,
    /// Its size, for a file.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The proxy path of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/<run>/artifacts`
/// or `mlflow-artifacts://host:port/1/...`), `None` for another scheme.
#[must_use]
pub fn proxy_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_come_from_both_forms_of_the_uri() {
        assert_eq!(
            proxy_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxy_path("mlflow-artifacts://h:5000/1/abc/artifacts/model").as_deref(),
            Some("1/abc/artifacts/model")
        );
        assert_eq!(proxy_path("s3://b/1/abc"), None);
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let options = ClientOptions {
            authorization: Some("Bearer secret-token".into()),
            ..ClientOptions::default()
        };
        let client = MlflowClient::new("http://127.0.0.1:1", options);
        assert!(!format!("{client:?}").contains("secret"));
    }

    /// A loopback server answering each connection with the next of `answers` (status,
    /// body); the requests' heads, as received.
    fn scripted(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut request_body = vec![0; length];
                reader.read_exact(&mut request_body).unwrap();
                heads.push(head);
                let mut stream = reader.into_inner();
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            heads
        });
        (base, handle)
    }

    fn quick(authorization: Option<&str>) -> ClientOptions {
        ClientOptions {
            max_retries: 2,
            backoff: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
            authorization: authorization.map(str::to_owned),
        }
    }

    #[test]
    fn transient_answers_are_retried_and_the_token_is_sent_each_time() {
        let (base, server) = scripted(vec![
            (
                503,
                r#"{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}"#,
            ),
            (200, r#"{"experiment":{"experiment_id":"7"}}"#),
        ]);
        let client = MlflowClient::new(&base, quick(Some("Bearer tok-123")));
        let got: Value = client
            .get("experiments/get-by-name", &[("experiment_name", "iris x")])
            .unwrap();
        assert_eq!(got["experiment"]["experiment_id"], "7");
        let heads = server.join().unwrap();
        assert_eq!(heads.len(), 2, "one retry");
        for head in &heads {
            assert!(
                head.starts_with(
                    "GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=iris%20x"
                ),
                "{head}"
            );
            assert!(
                head.contains("authorization: Bearer tok-123")
                    || head.contains("Authorization: Bearer tok-123"),
                "{head}"
            );
        }
    }

    #[test]
    fn an_error_answer_names_the_url_the_status_and_mlflows_code() {
        let (base, server) = scripted(vec![(
            403,
            r#"{"error_code":"PERMISSION_DENIED","message":"Permission denied"}"#,
        )]);
        let client = MlflowClient::new(&base, quick(None));
        let err = client
            .post::<Value>("runs/create", &serde_json::json!({"experiment_id": "1"}))
            .unwrap_err();
        assert_eq!(err.code(), Some("PERMISSION_DENIED"));
        assert_eq!(
            err.to_string(),
            format!(
                "{base}/api/2.0/mlflow/runs/create: MLflow answered 403 PERMISSION_DENIED: Permission denied"
            )
        );
        assert_eq!(server.join().unwrap().len(), 1, "a 403 is not retried");
    }

    #[test]
    fn an_unreachable_server_is_named_after_the_retries() {
        let options = ClientOptions {
            max_retries: 1,
            backoff: Duration::from_millis(1),
            timeout: Duration::from_secs(2),
            authorization: None,
        };
        // A port just released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = MlflowClient::new(&format!("http://127.0.0.1:{port}"), options);
        let err = client
            .get::<Value>("experiments/get", &[("experiment_id", "0")])
            .unwrap_err();
        assert!(matches!(err, MlflowError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("after 2 attempts"), "{err}");
    }
}
