//! The server's configuration: [`ServeConfig`] mirrors `configs/serve.yaml`; command-line
//! flags and environment variables override it field by field, and [`Default`] holds
//! every default in one place.

use std::path::{Path, PathBuf};

use ferry_core::config::{YamlError, from_yaml_str};
use ferry_core::{ModelName, ModelRef, RegistryLocation};
use serde::{Deserialize, Serialize};

use crate::api_keys::{ApiKeys, ApiKeysError, PublicRoute};
use crate::prediction_log::PredictionLogConfig;

/// `serve --config FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Registry: a directory (relative paths are resolved against the config file), an
    /// object-store URL (`s3://bucket/prefix`, `gs://...`, `az://...`) or an MLflow server
    /// (`mlflow+http://host:5000`).
    pub registry: RegistryLocation,
    /// The local cache of a remote registry's versions (a bucket, an MLflow server).
    pub cache: CacheConfig,
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// Models to serve (`name`, `name@alias`, `name/3`); empty serves the latest of
    /// every model in the registry.
    #[serde(with = "refs")]
    pub models: Vec<ModelRef>,
    /// Request limits.
    pub limits: Limits,
    /// HTTP worker threads; one per core when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// The model MLflow's `/invocations` answers for when several are served (MLflow's
    /// endpoint names no model); with one model served, that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlflow_model: Option<ModelName>,
    /// API keys.
    pub auth: AuthConfig,
    /// Seconds between two registry reloads; no watcher when absent (`POST
    /// /admin/reload` still reloads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch_interval: Option<f64>,
    /// A sampled log of predictions (JSON lines), written off the request path.
    pub prediction_log: PredictionLogConfig,
}

/// `cache:` of [`ServeConfig`]: where a remote registry's versions (a bucket, an MLflow server) are kept once
/// downloaded (a restart, or a store that is briefly unreachable, serves from here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// The directory; `FERRY_CACHE_DIR`, else `ferry-cache` in the temporary
    /// directory, when absent. Relative paths are resolved against the config file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// The most it holds, in bytes; the least recently used versions go first.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 2 << 30,
        }
    }
}

/// `auth:` of [`ServeConfig`]. The keys themselves come from `keys_file` or the
/// `FERRY_API_KEYS` environment variable, never from a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Turn authentication off (every route open): for a trusted network only; serve
    /// warns at start-up.
    pub disabled: bool,
    /// File of `name:scopes:key` lines; relative paths are resolved against the config
    /// file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_file: Option<PathBuf>,
    /// Routes open without a key: `health` (`/health`, `/ping`, `/v2/health/live`),
    /// `ready` (`/ready`, `/v2/health/ready`), `docs` (`/openapi.json`, `/docs`) and
    /// `metrics` (`/metrics`).
    pub public: Vec<PublicRoute>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            disabled: false,
            keys_file: None,
            public: vec![
                PublicRoute::Health,
                PublicRoute::Ready,
                PublicRoute::Docs,
                PublicRoute::Metrics,
            ],
        }
    }
}

/// Request limits: `limits:` of [`ServeConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most records in one batch request.
    pub max_batch_records: usize,
    /// Milliseconds a client has to send a request's line and headers (408 after).
    pub head_timeout_ms: u64,
    /// Milliseconds a client has to send a request's whole body once its headers
    /// arrived (408 after): a client sending a byte a second cannot hold a worker.
    pub body_timeout_ms: u64,
    /// Milliseconds an idle keep-alive connection stays open.
    pub keep_alive_ms: u64,
}

impl Limits {
    /// [`Limits::body_timeout_ms`] as a duration.
    #[must_use]
    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_timeout_ms)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // 10,000 records (the batch limit) of up to ~800 bytes of JSON each: the
            // widest example, diamonds, writes about 160.
            max_body_bytes: 8 << 20,
            max_batch_records: 10_000,
            head_timeout_ms: 5_000,
            body_timeout_ms: 30_000,
            keep_alive_ms: 5_000,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            registry: RegistryLocation::Local(PathBuf::from("artifacts")),
            cache: CacheConfig::default(),
            bind: "127.0.0.1:8080".to_owned(),
            models: Vec::new(),
            limits: Limits::default(),
            workers: None,
            mlflow_model: None,
            prediction_log: PredictionLogConfig::default(),
            auth: AuthConfig::default(),
            watch_interval: None,
        }
    }
}

/// Why a serve config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ServeConfigError {
    /// The file cannot be read.
    #[error("cannot read serve config: {0}")]
    Read(#[from] std::io::Error),
    /// The YAML does not fit [`ServeConfig`].
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The config file.
        path: PathBuf,
        /// The parser's error, with key path and line.
        source: YamlError,
    },
    /// A value is out of range.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key and what is wrong with its value.
        source: ConfigValueError,
    },
}

/// A config value out of its range: the key, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigValueError {
    /// The key (`limits.max_body_bytes`).
    pub key: String,
    /// What was expected and what was found.
    pub problem: String,
}

impl ConfigValueError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Why the API keys a config asks for cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Auth is on and no keys are given.
    #[error(
        "no API keys: set FERRY_API_KEYS or --api-keys-file FILE (auth.keys_file) to \
         lines of name:scopes:key, or run with --no-auth (auth.disabled: true) on a \
         trusted network"
    )]
    Missing,
    /// The keys file cannot be read.
    #[error("auth.keys_file: {0}")]
    Read(std::io::Error),
    /// The keys do not parse.
    #[error(transparent)]
    Parse(#[from] ApiKeysError),
}

impl ServeConfig {
    /// The API keys this config asks for: `None` when auth is disabled, else the keys
    /// of `env_keys` (the `FERRY_API_KEYS` variable) or of `auth.keys_file`.
    ///
    /// # Errors
    /// [`KeysError`] when auth is on and no keys are given, or they do not parse.
    pub fn api_keys(&self, env_keys: Option<&str>) -> Result<Option<ApiKeys>, KeysError> {
        if self.auth.disabled {
            return Ok(None);
        }
        let public = self.auth.public.clone();
        match (env_keys, &self.auth.keys_file) {
            (Some(text), _) => Ok(Some(ApiKeys::parse(text, "FERRY_API_KEYS", public)?)),
            (None, Some(file)) => {
                let text = fs_err::read_to_string(file).map_err(KeysError::Read)?;
                Ok(Some(ApiKeys::parse(
                    &text,
                    &file.display().to_string(),
                    public,
                )?))
            }
            (None, None) => Err(KeysError::Missing),
        }
    }

    /// Reads `path`, resolving a relative `registry` against the file's directory.
    ///
    /// # Errors
    /// [`ServeConfigError`] naming the file, the key and the problem.
    pub fn from_file(path: &Path) -> Result<Self, ServeConfigError> {
        let text = fs_err::read_to_string(path)?;
        let mut config: ServeConfig =
            from_yaml_str(&text).map_err(|source| ServeConfigError::Yaml {
                path: path.to_owned(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new(""));
        if let RegistryLocation::Local(dir) = &mut config.registry
            && dir.is_relative()
        {
            *dir = base.join(&*dir);
        }
        if let Some(dir) = &mut config.cache.dir
            && dir.is_relative()
        {
            *dir = base.join(&*dir);
        }
        if let Some(keys) = &mut config.auth.keys_file
            && keys.is_relative()
        {
            *keys = base.join(&*keys);
        }
        if let Some(log) = &mut config.prediction_log.path
            && log.is_relative()
        {
            *log = base.join(&*log);
        }
        config
            .validate()
            .map_err(|source| ServeConfigError::Invalid {
                path: path.to_owned(),
                source,
            })?;
        Ok(config)
    }

    /// Checks the limits and the worker count.
    ///
    /// # Errors
    /// [`ConfigValueError`] naming the key and the value.
    pub fn validate(&self) -> Result<(), ConfigValueError> {
        if self.limits.max_body_bytes == 0 {
            return Err(ConfigValueError::new(
                "limits.max_body_bytes",
                "expected at least 1",
            ));
        }
        if self.limits.max_batch_records == 0 {
            return Err(ConfigValueError::new(
                "limits.max_batch_records",
                "expected at least 1",
            ));
        }
        for (key, ms) in [
            ("limits.head_timeout_ms", self.limits.head_timeout_ms),
            ("limits.body_timeout_ms", self.limits.body_timeout_ms),
            ("limits.keep_alive_ms", self.limits.keep_alive_ms),
        ] {
            if !(1..=3_600_000).contains(&ms) {
                return Err(ConfigValueError::new(
                    key,
                    format!("expected milliseconds from 1 to 3600000, found {ms}"),
                ));
            }
        }
        if self.cache.max_bytes == 0 {
            return Err(ConfigValueError::new(
                "cache.max_bytes",
                "expected at least 1",
            ));
        }
        if self.workers == Some(0) {
            return Err(ConfigValueError::new("workers", "expected at least 1"));
        }
        if let Some((key, problem)) = self.prediction_log.problems().into_iter().next() {
            return Err(ConfigValueError::new(key, problem));
        }
        if let Some(s) = self.watch_interval
            && !(s > 0.0 && s <= 86_400.0)
        {
            return Err(ConfigValueError::new(
                "watch_interval",
                format!("expected seconds above 0 and at most 86400, found {s}"),
            ));
        }
        // Several versions of a model may be served (`iris@production`, `iris/3`); the
        // same reference twice is a mistake.
        if let Some(name) = &self.mlflow_model
            && !self.models.is_empty()
            && !self.models.iter().any(|r| r.name() == name)
        {
            return Err(ConfigValueError::new(
                "mlflow_model",
                format!("'{name}' is not among the served models"),
            ));
        }
        let mut refs: Vec<String> = self.models.iter().map(ToString::to_string).collect();
        refs.sort_unstable();
        if let Some(pair) = refs.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigValueError::new(
                "models",
                format!("'{}' is named twice", pair[0]),
            ));
        }
        Ok(())
    }
}

/// Model references as strings in YAML.
mod refs {
    use ferry_core::ModelRef;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(refs: &[ModelRef], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(refs.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ModelRef>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_shipped_serve_config_parses() {
        let path = workspace().join("configs/serve.yaml");
        let config = ServeConfig::from_file(&path).unwrap();
        assert_eq!(
            config.registry,
            RegistryLocation::Local(workspace().join("configs/../artifacts"))
        );
        assert_eq!(config.bind, "127.0.0.1:8080");
        let names: Vec<String> = config.models.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["iris@latest", "titanic@latest", "diabetes@latest"]);
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.yaml");
        fs_err::write(&path, "limits:\n  max_body: 10\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("limits: unknown field `max_body`"), "{err}");
        fs_err::write(&path, "models: [Iris]\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("invalid model name \"Iris\""), "{err}");
        // Several versions of one model are fine; the same reference twice is not.
        fs_err::write(&path, "models: [tiny, tiny/2]\n").unwrap();
        assert!(ServeConfig::from_file(&path).is_ok());
        fs_err::write(&path, "models: [tiny/2, tiny@production, tiny/2]\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.ends_with("models: 'tiny/2' is named twice"), "{err}");
        fs_err::write(&path, "workers: 0\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.ends_with("workers: expected at least 1"), "{err}");
    }

    #[test]
    fn a_registry_may_be_a_bucket_with_a_cache_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.yaml");
        fs_err::write(
            &path,
            "registry: s3://models/prod\ncache: {dir: cache, max_bytes: 1000}\n",
        )
        .unwrap();
        let config = ServeConfig::from_file(&path).unwrap();
        assert_eq!(config.registry.to_string(), "s3://models/prod");
        assert!(config.registry.as_local().is_none());
        assert_eq!(config.cache.dir, Some(dir.path().join("cache")));
        assert_eq!(config.cache.max_bytes, 1000);
        fs_err::write(&path, "registry: ftp://models/prod\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("registry: unsupported registry location"),
            "{err}"
        );
        fs_err::write(&path, "cache: {max_bytes: 0}\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("cache.max_bytes: expected at least 1"),
            "{err}"
        );
        fs_err::write(&path, "prediction_log: {flush_interval_ms: 0}\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("prediction_log.flush_interval_ms: expected 1 to 60000, found 0"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.yaml");
        fs_err::write(&path, "{}\n").unwrap();
        let config = ServeConfig::from_file(&path).unwrap();
        assert_eq!(
            config,
            ServeConfig {
                registry: RegistryLocation::Local(dir.path().join("artifacts")),
                ..ServeConfig::default()
            }
        );
    }
}
