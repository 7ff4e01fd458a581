//! Criterion benches of the serving path, below HTTP:
//!
//! - `predict/<model>/<rows>`: a native JSON body of 1, 100 or 10,000 records decoded,
//!   validated against the schema, preprocessed and predicted (`protocol::native::decode`
//!   then `infer::infer`), for iris (logistic regression), titanic (100-tree forest) and
//!   diamonds (100-tree forest, fully grown; 100 boosted 31-leaf trees);
//! - `v2/<model>/<rows>`: the same records for iris and titanic as a KServe V2 body of 1
//!   or 100 rows (one input per feature), through `protocol::v2::decode` and the same step;
//! - `model/<model>/10000`: the diamonds models alone on 10,000 preprocessed rows;
//! - `load/<model>`: `ModelBundle::load` of a small model and of the diamonds forest.
//!
//! The models come from a registry trained by the release `train` binary:
//! `just bench-predict` trains configs/{iris,titanic,diamonds_forest,diamonds_boosting}.yaml into
//! target/bench/registry and runs this with `FERRY_BENCH_REGISTRY` pointing there. The
//! records are the first rows of each model's data file.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry_core::schema::DType;
use ferry_core::{Model, ModelBundle, ModelRef, Registry};
use serde_json::{Map, Value};
use serve::infer::infer;
use serve::protocol::{native, v2};
use serve::state::{LoadedModel, ModelSet};

fn registry() -> PathBuf {
    match std::env::var_os("FERRY_BENCH_REGISTRY") {
        Some(p) => PathBuf::from(p),
        None => {
            eprintln!(
                "set FERRY_BENCH_REGISTRY to a registry with iris, titanic, diamonds_forest and diamonds-boosting (`just bench-predict` does)"
            );
            std::process::exit(2);
        }
    }
}

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(file)
}

fn load(name: &str) -> Arc<LoadedModel> {
    let registry = ferry_core::LocalRegistry::new(registry());
    let reference: ModelRef = name.parse().unwrap();
    let (resolved, bundle) = registry.load(&reference).unwrap();
    let mut set = ModelSet::new();
    set.insert(LoadedModel::new(reference, resolved, bundle), true);
    Arc::clone(set.get(name, &serve::state::Pick::Default).unwrap())
}

/// `n` records: the first rows of `file` (repeated when it has fewer), typed by the
/// model's schema, `?` and empty fields as null.
fn records(bundle: &ModelBundle, file: &str, n: usize) -> Vec<Map<String, Value>> {
    let mut reader = csv::Reader::from_path(data(file)).unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    (0..n)
        .map(|i| {
            let row = &rows[i % rows.len()];
            let mut record = Map::new();
            for spec in bundle.schema().features() {
                let at = headers.iter().position(|h| h == spec.name).unwrap();
                let raw = &row[at];
                let value = if raw.is_empty() || raw == "?" {
                    Value::Null
                } else {
                    match spec.dtype {
                        DType::Numeric | DType::Integer => {
                            serde_json::from_str(raw).unwrap_or(Value::Null)
                        }
                        DType::Boolean => Value::Bool(raw == "1" || raw == "true"),
                        DType::Categorical => Value::String(raw.to_owned()),
                    }
                };
                record.insert(spec.name.clone(), value);
            }
            record
        })
        .collect()
}

/// A native body of `n` records ([`records`]).
fn body(bundle: &ModelBundle, file: &str, n: usize) -> Vec<u8> {
    let records: Vec<Value> = records(bundle, file, n)
        .into_iter()
        .map(Value::Object)
        .collect();
    let body = if records.len() == 1 {
        records.into_iter().next().unwrap()
    } else {
        serde_json::json!({ "records": records })
    };
    serde_json::to_vec(&body).unwrap()
}

/// A server state without models or a prediction log: `infer` counts into its metrics.
fn state() -> serve::AppState {
    serve::AppState::new(
        serve::state::ModelSet::new(),
        Vec::new(),
        serve::Limits::default(),
    )
}

fn predict(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict");
    let state = state();
    for (name, file) in [
        ("iris", "iris.csv"),
        ("titanic", "titanic.csv"),
        ("diamonds_forest", "diamonds.csv"),
        ("diamonds-boosting", "diamonds.csv"),
    ] {
        let model = load(name);
        for n in [1, 100, 10_000] {
            let bytes = body(&model.bundle, file, n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &bytes, |b, bytes| {
                b.iter(|| {
                    let records = native::decode(black_box(bytes), 10_000).unwrap();
                    black_box(infer(&state, &model, &records.rows(), "bench").unwrap())
                });
            });
        }
    }
    group.finish();
}

/// A KServe V2 body of `n` records ([`records`]): one `[n]` input per feature, FP64 for
/// numbers, BOOL for booleans and BYTES for categories, as tritonclient sends them.
fn v2_body(bundle: &ModelBundle, file: &str, n: usize) -> Vec<u8> {
    let records = records(bundle, file, n);
    let inputs: Vec<Value> = bundle
        .schema()
        .features()
        .iter()
        .map(|spec| {
            let datatype = match spec.dtype {
                DType::Numeric | DType::Integer => "FP64",
                DType::Boolean => "BOOL",
                DType::Categorical => "BYTES",
            };
            let data: Vec<Value> = records.iter().map(|r| r[&spec.name].clone()).collect();
            serde_json::json!({"name": spec.name, "shape": [n], "datatype": datatype, "data": data})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "inputs": inputs })).unwrap()
}

/// `v2/<model>/<rows>`: the same records as `predict`, as a KServe V2 body, through
/// `protocol::v2::decode` and the same inference step.
fn predict_v2(c: &mut Criterion) {
    let mut group = c.benchmark_group("v2");
    let state = state();
    for (name, file) in [("iris", "iris.csv"), ("titanic", "titanic.csv")] {
        let model = load(name);
        for n in [1, 100] {
            let bytes = v2_body(&model.bundle, file, n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &bytes, |b, bytes| {
                b.iter(|| {
                    let decoded = v2::decode(black_box(bytes), None, &model, 10_000).unwrap();
                    black_box(infer(&state, &model, &decoded.rows(), "bench").unwrap())
                });
            });
        }
    }
    group.finish();
}

/// The model alone on 10,000 preprocessed rows (`TrainedModel::predict` of the feature
/// matrix), what scikit-learn's `predict` does on its encoded array: bench/boosting.sh
/// compares `model/diamonds-boosting` with HistGradientBoostingRegressor's.
fn model_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("model");
    for name in ["diamonds_forest", "diamonds-boosting"] {
        let model = load(name);
        let bytes = body(&model.bundle, "diamonds.csv", 10_000);
        let records = native::decode(&bytes, 10_000).unwrap();
        let frame = model
            .bundle
            .schema()
            .validate_rows(&records.rows())
            .unwrap();
        let x = model.bundle.preprocessor().transform(&frame).unwrap();
        group.throughput(Throughput::Elements(x.n_rows() as u64));
        group.bench_with_input(BenchmarkId::new(name, x.n_rows()), &x, |b, x| {
            b.iter(|| black_box(model.bundle.model().predict(black_box(x)).unwrap()));
        });
    }
    group.finish();
}

fn load_bundle(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for name in ["iris", "diamonds_forest"] {
        let dir = registry().join(name).join("1");
        group.bench_function(name, |b| {
            b.iter_batched(
                || dir.clone(),
                |dir| black_box(ModelBundle::load(&dir).unwrap()),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, predict, predict_v2, model_only, load_bundle);
criterion_main!(benches);
