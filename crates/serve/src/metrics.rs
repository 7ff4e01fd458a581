//! Prometheus metrics, served at `/metrics` in the text format. Every label has a bounded
//! set of values: route templates (not paths), status codes, known HTTP methods, served
//! models and versions, and a classifier's own classes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::sharded::{ShardedCounter, ShardedHistogram, ShardedVec};

/// A distinct id per [`Metrics`], so that the per-thread handle caches of two servers
/// (tests run several in one process) never mix.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A request series: (metrics id, route template, method, status).
type RequestKey = (u64, Cow<'static, str>, &'static str, u16);

/// The series handles a worker thread already resolved: a hit costs one hash lookup in a
/// map no other thread touches, instead of a label lookup in a vector every worker
/// shares. The keys are route templates and served models' names, not client input, so
/// the maps use foldhash rather than the DoS-resistant (and slower) SipHash.
#[derive(Default)]
struct Handles {
    requests: foldhash::HashMap<RequestKey, (ShardedCounter, ShardedHistogram)>,
    /// By (metrics id, version), then model name (looked up by `&str`).
    models: foldhash::HashMap<(u64, u64), foldhash::HashMap<String, ModelSeries>>,
}

/// The series of one served model version.
struct ModelSeries {
    records: ShardedHistogram,
    seconds: ShardedHistogram,
    /// One counter per class, in class order (one unlabelled counter for a regressor).
    classes: Vec<ShardedCounter>,
}

impl ModelSeries {
    /// One inference of `elapsed` that gave `counts[c]` rows of class `c`.
    fn observe(&self, elapsed: Duration, counts: &[u64]) {
        let rows: u64 = counts.iter().sum();
        self.records.observe(rows as f64);
        self.seconds.observe(elapsed.as_secs_f64());
        for (counter, &n) in self.classes.iter().zip(counts) {
            if n > 0 {
                counter.inc_by(n);
            }
        }
    }
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::new(Handles::default());
}

use crate::model_set::ModelSet;

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    id: u64,
    registry: Registry,
    requests: ShardedVec,
    latency: ShardedVec,
    predictions: ShardedVec,
    model_seconds: ShardedVec,
    records: ShardedVec,
    model_info: IntGaugeVec,
    reloads: IntCounterVec,
    drift_psi: GaugeVec,
    drift_share: GaugeVec,
    drift_rows: IntGaugeVec,
    drift_detected: IntGaugeVec,
    log_lines: IntCounterVec,
}

/// Methods kept as themselves in labels; any other becomes `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

fn must<T>(result: prometheus::Result<T>) -> T {
    // The metric definitions are constants: a failure is a bug caught by every test.
    #[allow(clippy::expect_used, reason = "constant metric definitions")]
    result.expect("a valid metric definition")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered, with `ferry_build_info` set.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        // The per-request series: sharded per worker thread (crate::sharded).
        let requests = must(ShardedVec::counter(
            "ferry_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            &["route", "method", "status"],
        ));
        let latency = must(ShardedVec::histogram(
            "ferry_http_request_duration_seconds",
            "Time from the request's arrival to its answer, by route template and method.",
            &["route", "method"],
            vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ],
        ));
        let predictions = must(ShardedVec::counter(
            "ferry_predictions_total",
            "Rows predicted, by model, version and predicted class (empty for regressors).",
            &["model", "version", "class"],
        ));
        let model_seconds = must(ShardedVec::histogram(
            "ferry_model_seconds",
            "Time inside the model (validation, preprocessing and prediction) per request.",
            &["model", "version"],
            vec![
                0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.5, 1.0,
            ],
        ));
        let records = must(ShardedVec::histogram(
            "ferry_records_per_request",
            "Rows in one prediction request.",
            &["model"],
            vec![
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
                10000.0,
            ],
        ));
        let model_info = must(IntGaugeVec::new(
            Opts::new(
                "ferry_model_loaded_timestamp_seconds",
                "When each served model version was loaded (Unix time), with its kind and reference.",
            ),
            &["model", "version", "kind", "reference"],
        ));
        let reloads = must(IntCounterVec::new(
            Opts::new(
                "ferry_model_reloads_total",
                "Model versions (re)loaded by reloads, by outcome.",
            ),
            &["outcome"],
        ));
        let drift_psi = must(GaugeVec::new(
            Opts::new(
                "ferry_drift_psi",
                "Population stability index of each feature over the live drift window, by model and version.",
            ),
            &["model", "version", "feature"],
        ));
        let drift_share = must(GaugeVec::new(
            Opts::new(
                "ferry_drift_share",
                "Share of features that drifted over the live drift window.",
            ),
            &["model", "version"],
        ));
        let drift_rows = must(IntGaugeVec::new(
            Opts::new("ferry_drift_window_rows", "Rows in the live drift window."),
            &["model", "version"],
        ));
        let drift_detected = must(IntGaugeVec::new(
            Opts::new(
                "ferry_drift_detected",
                "1 when the live drift window shows dataset drift, else 0.",
            ),
            &["model", "version"],
        ));
        let log_lines = must(IntCounterVec::new(
            Opts::new(
                "ferry_prediction_log_rows_total",
                "Rows offered to the prediction log, by outcome (written, dropped when the queue was full, failed).",
            ),
            &["outcome"],
        ));
        // Counters start at 0: a rate over them works from the first scrape.
        for outcome in ["written", "dropped", "failed"] {
            log_lines.with_label_values(&[outcome]);
        }
        let build = must(IntGaugeVec::new(
            Opts::new(
                "ferry_build_info",
                "Always 1, labelled with the server's version.",
            ),
            &["version"],
        ));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(predictions.clone()),
            Box::new(model_seconds.clone()),
            Box::new(records.clone()),
            Box::new(model_info.clone()),
            Box::new(reloads.clone()),
            Box::new(drift_psi.clone()),
            Box::new(drift_share.clone()),
            Box::new(drift_rows.clone()),
            Box::new(drift_detected.clone()),
            Box::new(log_lines.clone()),
            Box::new(build),
        ] {
            must(registry.register(c));
        }
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            latency,
            predictions,
            model_seconds,
            records,
            model_info,
            reloads,
            drift_psi,
            drift_share,
            drift_rows,
            drift_detected,
            log_lines,
        }
    }

    /// The prediction log's counters.
    #[must_use]
    pub fn log_counters(&self) -> crate::prediction_log::LogCounters {
        crate::prediction_log::LogCounters {
            written: self.log_lines.with_label_values(&["written"]),
            dropped: self.log_lines.with_label_values(&["dropped"]),
            failed: self.log_lines.with_label_values(&["failed"]),
        }
    }

    /// Sets the drift gauges from the live window of every served version (at each
    /// scrape).
    pub fn drift(&self, models: &ModelSet) {
        for vec in [&self.drift_psi, &self.drift_share] {
            vec.reset();
        }
        self.drift_rows.reset();
        self.drift_detected.reset();
        for m in models.all() {
            let Some(window) = &m.drift else { continue };
            let report = window.report().report;
            let (name, version) = (m.resolved.name.as_str(), m.resolved.version.to_string());
            for f in &report.features {
                self.drift_psi
                    .with_label_values(&[name, &version, &f.name])
                    .set(f.psi);
            }
            self.drift_share
                .with_label_values(&[name, &version])
                .set(report.drifted_share);
            self.drift_rows
                .with_label_values(&[name, &version])
                .set(i64::try_from(report.current_rows).unwrap_or(i64::MAX));
            self.drift_detected
                .with_label_values(&[name, &version])
                .set(i64::from(report.dataset_drift));
        }
    }

    /// One answered request, by its route template (borrowed for the route table's own
    /// templates, so the common case allocates nothing).
    pub fn request(&self, route: Cow<'static, str>, method: &str, status: u16, elapsed: Duration) {
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        HANDLES.with_borrow_mut(|h| {
            let (count, latency) = h
                .requests
                .entry((self.id, route, method, status))
                .or_insert_with_key(|(_, route, method, status)| {
                    (
                        self.requests.counter_handle(&[
                            route.as_ref(),
                            method,
                            &status.to_string(),
                        ]),
                        self.latency.histogram_handle(&[route.as_ref(), method]),
                    )
                });
            count.inc();
            latency.observe(elapsed.as_secs_f64());
        });
    }

    /// One inference of `model` at `version`: its rows, the time inside the model, and
    /// how many rows got each class (`counts[c]` for class `classes[c]`; for a regressor,
    /// `classes` is empty and `counts` holds the row count once, recorded with an empty
    /// class). Resolves each series once per worker thread; a request allocates nothing.
    pub fn inference(
        &self,
        model: &str,
        version: u64,
        elapsed: Duration,
        classes: &[ferry_core::ClassLabel],
        counts: &[u64],
    ) {
        HANDLES.with_borrow_mut(|h| {
            let per_model = h.models.entry((self.id, version)).or_default();
            // One lookup on the common path; the series are made on a thread's first
            // inference of the version.
            if let Some(series) = per_model.get(model) {
                series.observe(elapsed, counts);
                return;
            }
            let v = version.to_string();
            let classes = if classes.is_empty() {
                vec![self.predictions.counter_handle(&[model, &v, ""])]
            } else {
                classes
                    .iter()
                    .map(|c| {
                        self.predictions
                            .counter_handle(&[model, &v, &c.to_string()])
                    })
                    .collect()
            };
            let series = ModelSeries {
                records: self.records.histogram_handle(&[model]),
                seconds: self.model_seconds.histogram_handle(&[model, &v]),
                classes,
            };
            series.observe(elapsed, counts);
            per_model.insert(model.to_owned(), series);
        });
    }

    /// The served versions, after start-up or a reload: replaces the model info series.
    pub fn models(&self, models: &ModelSet, loaded_at: i64) {
        self.model_info.reset();
        for m in models.all() {
            self.model_info
                .with_label_values(&[
                    m.resolved.name.as_str(),
                    &m.resolved.version.to_string(),
                    m.bundle.manifest().model_kind.as_str(),
                    &m.reference.to_string(),
                ])
                .set(loaded_at);
        }
    }

    /// Versions a reload loaded and refused.
    pub fn reload(&self, loaded: usize, refused: usize) {
        self.reloads
            .with_label_values(&["success"])
            .inc_by(loaded as u64);
        self.reloads
            .with_label_values(&["failure"])
            .inc_by(refused as u64);
    }

    /// The text exposition of every metric.
    #[must_use]
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding plain metrics into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Seconds since the Unix epoch, now.
#[must_use]
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
