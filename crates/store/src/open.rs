//! [`open`]: a registry location to a registry.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;

use ferry_core::artifact::ReadLimits;
use ferry_core::registry::{
    LocalRegistry, MlflowUrl, Registry, RegistryLocation, StoreScheme, StoreUrl,
};

#[cfg(feature = "mlflow")]
use crate::mlflow::MlflowRegistry;

use crate::object::ObjectStoreRegistry;

/// How to open a registry: the artifact limits, and for an object store its local cache
/// and network timeouts. Credentials are not here: each store reads its own from the
/// environment (see [`open`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    /// Limits every artifact read (and every publish's read-back) is held to.
    pub limits: ReadLimits,
    /// Where an object-store registry keeps its verified local copies.
    pub cache_dir: PathBuf,
    /// The most the cache holds, in bytes; the least recently used copies go first.
    pub cache_max_bytes: u64,
    /// The longest one request to the store may take.
    pub request_timeout: Duration,
    /// Retries of a failed request (with backoff) before the store counts as
    /// unreachable.
    pub max_retries: usize,
    /// How long an incomplete version must have been left untouched before `gc` of an
    /// object store or MLflow removes it (its writer may still be uploading: one hour
    /// by default, longer than any upload). A local registry asks whether the writer
    /// process still runs instead.
    pub gc_grace: Duration,
    /// Client settings on top of the environment's, by `object_store`'s key names
    /// (`aws_endpoint`, `aws_allow_http`, `aws_region`, `google_service_account`,
    /// `azure_storage_account_name`, ...): for programs that configure a store without
    /// environment variables. Empty for train and serve, which read the environment.
    pub settings: Vec<(String, String)>,
}

impl StoreOptions {
    /// `FERRY_CACHE_DIR`, else `ferry-cache` in the system's temporary directory.
    #[must_use]
    pub fn default_cache_dir() -> PathBuf {
        std::env::var_os("FERRY_CACHE_DIR")
            .map_or_else(|| std::env::temp_dir().join("ferry-cache"), PathBuf::from)
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            limits: ReadLimits::default(),
            cache_dir: Self::default_cache_dir(),
            cache_max_bytes: 2 << 30,
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            gc_grace: Duration::from_secs(3600),
            settings: Vec::new(),
        }
    }
}

/// Why a registry could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The location names a store this build has no client for.
    #[error(
        "registry {url}: this build has no {scheme}:// client; build with the cargo \
         feature `{feature}` (cargo build -p serve -p train --features {feature})"
    )]
    NotBuilt {
        /// The location.
        url: String,
        /// Its scheme.
        scheme: &'static str,
        /// The feature that adds it.
        feature: &'static str,
    },
    /// The store's client refused its configuration (a bad region, endpoint, or
    /// credentials setting).
    #[error("registry {url}: {message}")]
    Config {
        /// The location.
        url: String,
        /// The client's message.
        message: String,
    },
    /// The local cache directory or the I/O runtime could not be made.
    #[error("registry {url}: cannot prepare the local cache: {source}")]
    Cache {
        /// The location.
        url: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The `memory://` stores of this process, by bucket: every open of one name reaches
/// the same store, as every open of one bucket does.
static MEMORY: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> = LazyLock::new(Mutex::default);

/// Opens the registry at `location`.
///
/// A directory is a [`LocalRegistry`]. An object-store URL is an
/// [`ObjectStoreRegistry`], whose client is configured from the environment like the
/// clouds' own tools:
/// - `s3://`: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, or web identity
///   (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`: IRSA), or the instance's metadata;
///   `AWS_REGION`; `AWS_ENDPOINT_URL` (+ `AWS_ALLOW_HTTP=true` for plain HTTP) for an
///   S3-compatible server;
/// - `gs://`: `GOOGLE_SERVICE_ACCOUNT` (a key file), else workload identity / the
///   metadata server;
/// - `az://`: `AZURE_STORAGE_ACCOUNT_NAME` with a key, a SAS token, or workload
///   identity (`AZURE_FEDERATED_TOKEN_FILE`).
///
/// `mlflow+http://HOST:PORT` (or `mlflow+https://`) is an [`MlflowRegistry`]
/// (feature `mlflow`, on by default), authenticated with `MLFLOW_TRACKING_TOKEN` (or
/// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`).
///
/// Nothing is contacted here: an unreachable store shows at the first request.
///
/// # Errors
/// [`OpenError`] when the scheme's client is not built in, its configuration is
/// refused, or the cache directory cannot be made.
pub fn open(
    location: &RegistryLocation,
    options: &StoreOptions,
) -> Result<Arc<dyn Registry>, OpenError> {
    match location {
        RegistryLocation::Local(root) => Ok(Arc::new(
            LocalRegistry::new(root).with_limits(options.limits),
        )),
        RegistryLocation::Object(url) => Ok(Arc::new(open_object(url, options)?)),
        RegistryLocation::Mlflow(url) => open_mlflow(url, options),
    }
}

#[cfg(feature = "mlflow")]
fn open_mlflow(url: &MlflowUrl, options: &StoreOptions) -> Result<Arc<dyn Registry>, OpenError> {
    Ok(Arc::new(mlflow_registry(url, options)?))
}

#[cfg(not(feature = "mlflow"))]
fn open_mlflow(url: &MlflowUrl, _: &StoreOptions) -> Result<Arc<dyn Registry>, OpenError> {
    Err(OpenError::NotBuilt {
        url: url.to_string(),
        scheme: "mlflow+http",
        feature: "mlflow",
    })
}

/// Opens an MLflow registry (for callers that need its concrete type: train's tracking
/// binds its run to it).
///
/// # Errors
/// As [`open`].
#[cfg(feature = "mlflow")]
pub fn mlflow_registry(
    url: &MlflowUrl,
    options: &StoreOptions,
) -> Result<MlflowRegistry, OpenError> {
    let client = crate::mlflow::ClientOptions {
        timeout: options.request_timeout,
        max_retries: u32::try_from(options.max_retries).unwrap_or(u32::MAX),
        ..crate::mlflow::ClientOptions::default()
    };
    MlflowRegistry::new(url, client, &options.cache_dir, options.cache_max_bytes)
        .map(|r| {
            r.with_limits(options.limits)
                .with_gc_grace(options.gc_grace)
        })
        .map_err(|source| OpenError::Cache {
            url: url.to_string(),
            source,
        })
}

/// Opens an object-store registry (for callers that need its concrete type).
///
/// # Errors
/// As [`open`].
pub fn open_object(
    url: &StoreUrl,
    options: &StoreOptions,
) -> Result<ObjectStoreRegistry, OpenError> {
    let bucket_store = client(url, options)?;
    let store: Arc<dyn ObjectStore> = if url.prefix().is_empty() {
        bucket_store
    } else {
        Arc::new(PrefixStore::new(bucket_store, url.prefix()))
    };
    ObjectStoreRegistry::new(
        store,
        url.to_string(),
        &options.cache_dir,
        options.cache_max_bytes,
    )
    .map(|r| {
        r.with_limits(options.limits)
            .with_gc_grace(options.gc_grace)
    })
    .map_err(|source| OpenError::Cache {
        url: url.to_string(),
        source,
    })
}

/// The retry policy, and the timeouts as client settings: set key by key on top of what
/// the environment configured (a whole `ClientOptions` would drop, say,
/// `AWS_ALLOW_HTTP`).
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn network(
    options: &StoreOptions,
) -> (
    object_store::RetryConfig,
    [(object_store::ClientConfigKey, String); 2],
) {
    // The HTTP client's TLS needs a process-wide crypto provider; the first open
    // installs ring's (an error only says one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = object_store::RetryConfig {
        max_retries: options.max_retries,
        retry_timeout: options.request_timeout,
        backoff: object_store::BackoffConfig::default(),
    };
    let timeouts = [
        (
            object_store::ClientConfigKey::Timeout,
            format!("{}ms", options.request_timeout.as_millis()),
        ),
        (
            object_store::ClientConfigKey::ConnectTimeout,
            "5s".to_owned(),
        ),
    ];
    (retry, timeouts)
}

/// The part of each cloud's client builder [`cloud`] uses.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
trait CloudBuilder: Sized {
    /// The builder's setting keys, parsed from their names (`aws_endpoint`, ...).
    type Key: std::str::FromStr<Err = object_store::Error>;
    fn from_env() -> Self;
    fn client(self, key: object_store::ClientConfigKey, value: String) -> Self;
    fn set(self, key: Self::Key, value: &str) -> Self;
    fn finish(
        self,
        retry: object_store::RetryConfig,
        bucket: &str,
    ) -> object_store::Result<Arc<dyn ObjectStore>>;
}

/// A cloud's client: the environment's settings, then the timeouts and retries, then
/// `options.settings`, for the bucket `url` names.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn cloud<B: CloudBuilder>(
    url: &StoreUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, OpenError> {
    let (retry, timeouts) = network(options);
    let mut builder = timeouts
        .into_iter()
        .fold(B::from_env(), |b, (key, value)| b.client(key, value));
    for (key, value) in &options.settings {
        builder = builder.set(key.parse().map_err(config_error(url))?, value);
    }
    builder
        .finish(retry, url.bucket())
        .map_err(config_error(url))
}

#[cfg(feature = "s3")]
impl CloudBuilder for object_store::aws::AmazonS3Builder {
    type Key = object_store::aws::AmazonS3ConfigKey;
    fn from_env() -> Self {
        Self::from_env()
    }
    fn client(self, key: object_store::ClientConfigKey, value: String) -> Self {
        self.with_config(Self::Key::Client(key), value)
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn finish(
        self,
        retry: object_store::RetryConfig,
        bucket: &str,
    ) -> object_store::Result<Arc<dyn ObjectStore>> {
        let store = self.with_retry(retry).with_bucket_name(bucket).build()?;
        Ok(Arc::new(store))
    }
}

#[cfg(feature = "gcs")]
impl CloudBuilder for object_store::gcp::GoogleCloudStorageBuilder {
    type Key = object_store::gcp::GoogleConfigKey;
    fn from_env() -> Self {
        Self::from_env()
    }
    fn client(self, key: object_store::ClientConfigKey, value: String) -> Self {
        self.with_config(Self::Key::Client(key), value)
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn finish(
        self,
        retry: object_store::RetryConfig,
        bucket: &str,
    ) -> object_store::Result<Arc<dyn ObjectStore>> {
        let store = self.with_retry(retry).with_bucket_name(bucket).build()?;
        Ok(Arc::new(store))
    }
}

#[cfg(feature = "azure")]
impl CloudBuilder for object_store::azure::MicrosoftAzureBuilder {
    type Key = object_store::azure::AzureConfigKey;
    fn from_env() -> Self {
        Self::from_env()
    }
    fn client(self, key: object_store::ClientConfigKey, value: String) -> Self {
        self.with_config(Self::Key::Client(key), value)
    }
    fn set(self, key: Self::Key, value: &str) -> Self {
        self.with_config(key, value)
    }
    fn finish(
        self,
        retry: object_store::RetryConfig,
        container: &str,
    ) -> object_store::Result<Arc<dyn ObjectStore>> {
        let store = self
            .with_retry(retry)
            .with_container_name(container)
            .build()?;
        Ok(Arc::new(store))
    }
}

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn config_error(url: &StoreUrl) -> impl FnOnce(object_store::Error) -> OpenError + '_ {
    move |e| OpenError::Config {
        url: url.to_string(),
        message: e.to_string(),
    }
}

#[cfg_attr(
    all(feature = "s3", feature = "gcs", feature = "azure"),
    expect(dead_code, reason = "every client is built in")
)]
fn not_built(url: &StoreUrl, feature: &'static str) -> OpenError {
    OpenError::NotBuilt {
        url: url.to_string(),
        scheme: url.scheme().as_str(),
        feature,
    }
}

#[cfg_attr(
    not(any(feature = "s3", feature = "gcs", feature = "azure")),
    expect(unused_variables, reason = "only the cloud clients have options")
)]
fn client(url: &StoreUrl, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>, OpenError> {
    match url.scheme() {
        StoreScheme::Memory => {
            let mut stores = MEMORY.lock().unwrap_or_else(PoisonError::into_inner);
            let store = stores.entry(url.bucket().to_owned()).or_default();
            Ok(Arc::clone(store) as Arc<dyn ObjectStore>)
        }
        #[cfg(feature = "s3")]
        StoreScheme::S3 => cloud::<object_store::aws::AmazonS3Builder>(url, options),
        #[cfg(feature = "gcs")]
        StoreScheme::Gcs => cloud::<object_store::gcp::GoogleCloudStorageBuilder>(url, options),
        #[cfg(feature = "azure")]
        StoreScheme::Azure => cloud::<object_store::azure::MicrosoftAzureBuilder>(url, options),
        #[cfg(not(feature = "s3"))]
        StoreScheme::S3 => Err(not_built(url, "s3")),
        #[cfg(not(feature = "gcs"))]
        StoreScheme::Gcs => Err(not_built(url, "gcs")),
        #[cfg(not(feature = "azure"))]
        StoreScheme::Azure => Err(not_built(url, "azure")),
    }
}
