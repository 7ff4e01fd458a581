//! The object-store registry on `object_store`'s in-memory store: core's contract suite,
//! and what only a remote registry has (the cache, starting offline, gc of unfinished
//! uploads). The same suite runs against a real S3-compatible server in
//! `tests/e2e/object_store.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use ferry_core::registry::contract;
use ferry_core::{ModelRef, Registry, Version};
use ferry_store::ObjectStoreRegistry;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn registry(store: &Arc<InMemory>, url: &str, cache: &std::path::Path) -> ObjectStoreRegistry {
    ObjectStoreRegistry::new(
        Arc::clone(store) as Arc<dyn ObjectStore>,
        url,
        cache,
        1 << 30,
    )
    .unwrap()
}

#[test]
fn the_object_store_registry_passes_the_contract_suite_in_memory() {
    for (name, check) in contract::CHECKS {
        let cache = tempfile::tempdir().unwrap();
        let store = Arc::new(InMemory::new());
        let reg = registry(&store, "memory://contract", cache.path());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&reg)));
        assert!(outcome.is_ok(), "contract check '{name}' failed");
    }
}

#[test]
fn a_second_registry_on_the_same_store_sees_what_the_first_published() {
    let store = Arc::new(InMemory::new());
    let (c1, c2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let writer = registry(&store, "memory://shared", c1.path());
    let reader = registry(&store, "memory://shared", c2.path());
    let published = contract::publish(&writer, "iris");
    let (resolved, bundle) = reader.load(&"iris".parse().unwrap()).unwrap();
    assert_eq!(resolved.version, Version(1));
    assert_eq!(bundle.manifest(), &published.manifest);
    // The reader's copy is in its own cache, verified.
    assert!(resolved.path.starts_with(reader.cache_dir()));
    assert!(resolved.path.join("manifest.json").is_file());
    // An alias moved by the writer is seen by the reader's next resolve.
    contract::publish(&writer, "iris");
    writer
        .set_alias(
            &"iris".parse().unwrap(),
            &"production".parse().unwrap(),
            Version(2),
        )
        .unwrap();
    let prod: ModelRef = "iris@production".parse().unwrap();
    assert_eq!(reader.resolve(&prod).unwrap().version, Version(2));
    assert!(reader.offline().is_none());
}

#[test]
fn a_damaged_cached_copy_is_downloaded_again() {
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let reg = registry(&store, "memory://damaged", cache.path());
    contract::publish(&reg, "m");
    let reference: ModelRef = "m".parse().unwrap();
    let (resolved, _) = reg.load(&reference).unwrap();
    let model = resolved.path.join("model.json");
    fs_err::write(&model, b"{}").unwrap();
    let (_, bundle) = reg.load(&reference).unwrap();
    assert_eq!(bundle.manifest().version, Version(1));
    assert_ne!(fs_err::read(&model).unwrap(), b"{}");
}

#[test]
fn a_damaged_object_in_the_store_is_refused_with_its_checksum_error() {
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let reg = registry(&store, "memory://tampered", cache.path());
    contract::publish(&reg, "m");
    let reader_cache = tempfile::tempdir().unwrap();
    let reader = registry(&store, "memory://tampered", reader_cache.path());
    futures_block(store.put(
        &Path::from("m/1/model.json"),
        PutPayload::from_static(b"{}"),
    ))
    .unwrap();
    let err = reader.load(&"m".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("model.json"), "{err}");
    // Nothing refused stays in the cache.
    assert!(!reader.cache_dir().join("m/1").exists());
}

#[test]
fn unfinished_uploads_are_garbage_after_the_grace_period() {
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let reg = registry(&store, "memory://gc", cache.path()).with_gc_grace(Duration::ZERO);
    contract::publish(&reg, "m");
    // A publish killed before its manifest: version 2 claimed, a file, no manifest.
    futures_block(store.put(&Path::from("m/.claims/2"), PutPayload::new())).unwrap();
    futures_block(store.put(
        &Path::from("m/2/model.json"),
        PutPayload::from_static(b"{}"),
    ))
    .unwrap();
    assert_eq!(reg.versions(&"m".parse().unwrap()).unwrap(), [Version(1)]);
    let found = reg.collect_garbage(true).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].location, "memory://gc/m/2/");
    assert_eq!((found[0].bytes, found[0].pid), (2, None));
    assert_eq!(reg.collect_garbage(false).unwrap(), found);
    assert!(reg.collect_garbage(true).unwrap().is_empty());
    // Its number stays claimed: never reused.
    assert_eq!(contract::publish(&reg, "m").resolved.version, Version(3));
    // Within the grace period, an upload in progress is left alone.
    let patient = registry(&store, "memory://gc", cache.path());
    futures_block(store.put(
        &Path::from("m/9/model.json"),
        PutPayload::from_static(b"{}"),
    ))
    .unwrap();
    assert!(patient.collect_garbage(true).unwrap().is_empty());
}

#[test]
fn the_cache_keeps_to_its_bound_and_keeps_the_copy_just_loaded() {
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let writer_cache = tempfile::tempdir().unwrap();
    let writer = registry(&store, "memory://bounded", writer_cache.path());
    for _ in 0..3 {
        contract::publish(&writer, "m");
    }
    // Room for about one copy.
    let reader = ObjectStoreRegistry::new(
        Arc::clone(&store) as Arc<dyn ObjectStore>,
        "memory://bounded",
        cache.path(),
        2_000,
    )
    .unwrap();
    for v in 1..=3 {
        reader
            .load(&ModelRef::Version("m".parse().unwrap(), Version(v)))
            .unwrap();
    }
    let kept: Vec<_> = fs_err::read_dir(reader.cache_dir().join("m"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse::<u64>().ok())
        .collect();
    assert_eq!(kept, [3]);
}

/// Starts offline: the store is unreachable (nothing listens), and the cache holds
/// what a registry of the same URL loaded before.
#[test]
fn an_unreachable_store_is_answered_from_the_cache_and_says_so() {
    let url = "s3://models/prod";
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let before = registry(&store, url, cache.path());
    contract::publish(&before, "iris");
    before.load(&"iris".parse().unwrap()).unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("models")
        .with_region("us-east-1")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            retry_timeout: Duration::from_secs(1),
            backoff: object_store::BackoffConfig::default(),
        })
        .build()
        .unwrap();
    let after = ObjectStoreRegistry::new(
        Arc::new(object_store::prefix::PrefixStore::new(unreachable, "prod")),
        url,
        cache.path(),
        1 << 30,
    )
    .unwrap();
    assert!(after.offline().is_none());
    assert_eq!(after.models().unwrap(), ["iris".parse().unwrap()]);
    let (resolved, bundle) = after.load(&"iris".parse().unwrap()).unwrap();
    assert_eq!(
        (resolved.version, bundle.manifest().version),
        (Version(1), Version(1))
    );
    let reason = after.offline().expect("offline");
    assert!(
        reason.contains("s3://models/prod cannot be reached"),
        "{reason}"
    );
    // What the cache never held is an error naming the store.
    let err = after.load(&"ghost".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("s3://models/prod"), "{err}");
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn what_a_train_publishes_stays_cached_within_the_bound() {
    let store = Arc::new(InMemory::new());
    let cache = tempfile::tempdir().unwrap();
    let writer = ObjectStoreRegistry::new(
        Arc::clone(&store) as Arc<dyn ObjectStore>,
        "memory://published",
        cache.path(),
        2_000,
    )
    .unwrap();
    for _ in 0..3 {
        contract::publish(&writer, "m");
    }
    let kept: Vec<_> = fs_err::read_dir(writer.cache_dir().join("m"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse::<u64>().ok())
        .collect();
    assert_eq!(kept, [3]);
}
