//! Per-request counters and histograms that worker threads update without sharing a
//! cache line, folded when Prometheus scrapes.
//!
//! A `prometheus` counter or histogram is one set of atomics every worker increments:
//! under load the cache lines holding them move between cores on every request, and a
//! histogram's observation takes several read-modify-write operations. Here each worker
//! thread gets its own shard of a series (cached in [`crate::metrics`]' per-thread
//! handles), which only that thread writes, with plain loads and stores; a scrape adds
//! up every shard of every series. The exposition is the same as the `prometheus`
//! types': label pairs sorted by name, cumulative buckets, `+Inf` equal to the count.
//!
//! `prometheus::local`'s thread-local counters and histograms are not enough: they hold
//! their counts until their own thread flushes them, so a scrape would miss what an
//! idle worker holds; here the scrape reads the shards itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// One thread's cells of one series: bucket counts then the sum's bits (histograms), or
/// the count (counters). Only the owning thread writes them.
#[derive(Debug)]
struct Shard {
    cells: Box<[AtomicU64]>,
}

impl Shard {
    fn new(n: usize) -> Self {
        Self {
            cells: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Adds `n` to cell `i`. A load and a store, not a read-modify-write: the owning
    /// thread is the only writer, and a scrape reads a value either side of the store.
    #[inline]
    fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.cells.get(i) {
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
        }
    }

    #[inline]
    fn add_f64(&self, i: usize, v: f64) {
        if let Some(c) = self.cells.get(i) {
            let sum = f64::from_bits(c.load(Ordering::Relaxed)) + v;
            c.store(sum.to_bits(), Ordering::Release);
        }
    }

    fn get(&self, i: usize) -> u64 {
        self.cells.get(i).map_or(0, |c| c.load(Ordering::Acquire))
    }
}

/// What a [`ShardedVec`] counts.
#[derive(Debug)]
enum Kind {
    Counter,
    /// Upper bounds of the buckets, ascending, without `+Inf`.
    Histogram(Arc<[f64]>),
}

#[derive(Debug)]
struct Inner {
    desc: Desc,
    kind: Kind,
    /// Every shard of every series, by label values (in label-name order).
    series: Mutex<BTreeMap<Vec<String>, Vec<Arc<Shard>>>>,
}

/// A counter or histogram family with variable labels, kept in per-thread shards; see
/// the module docs. Registered in a `prometheus::Registry` like the crate's own vectors.
#[derive(Debug, Clone)]
pub struct ShardedVec(Arc<Inner>);

/// One thread's handle on a counter series.
#[derive(Debug, Clone)]
pub struct ShardedCounter(Arc<Shard>);

impl ShardedCounter {
    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.add(0, n);
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }
}

/// One thread's handle on a histogram series.
#[derive(Debug, Clone)]
pub struct ShardedHistogram {
    shard: Arc<Shard>,
    bounds: Arc<[f64]>,
}

impl ShardedHistogram {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        // The first bucket whose upper bound is at least `v`; `+Inf` past the last.
        let bucket = self.bounds.partition_point(|b| *b < v);
        self.shard.add(bucket, 1);
        self.shard.add_f64(self.bounds.len() + 1, v);
    }
}

impl ShardedVec {
    fn new(name: &str, help: &str, labels: &[&str], kind: Kind) -> prometheus::Result<Self> {
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            labels.iter().map(|l| (*l).to_owned()).collect(),
            std::collections::HashMap::new(),
        )?;
        Ok(Self(Arc::new(Inner {
            desc,
            kind,
            series: Mutex::new(BTreeMap::new()),
        })))
    }

    /// A counter family.
    ///
    /// # Errors
    /// An invalid metric or label name.
    pub fn counter(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<Self> {
        Self::new(name, help, labels, Kind::Counter)
    }

    /// A histogram family with the given bucket upper bounds (ascending).
    ///
    /// # Errors
    /// An invalid metric or label name.
    pub fn histogram(
        name: &str,
        help: &str,
        labels: &[&str],
        bounds: Vec<f64>,
    ) -> prometheus::Result<Self> {
        Self::new(name, help, labels, Kind::Histogram(bounds.into()))
    }

    /// A new shard of the series `values` (label values in label order), which exists
    /// from now on, at 0 until counted.
    fn shard(&self, values: &[&str]) -> Arc<Shard> {
        let cells = match &self.0.kind {
            Kind::Counter => 1,
            Kind::Histogram(bounds) => bounds.len() + 2,
        };
        let shard = Arc::new(Shard::new(cells));
        self.0
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(values.iter().map(|v| (*v).to_owned()).collect())
            .or_default()
            .push(Arc::clone(&shard));
        shard
    }

    /// The calling thread's handle on a counter series; callers keep it per thread.
    pub fn counter_handle(&self, values: &[&str]) -> ShardedCounter {
        ShardedCounter(self.shard(values))
    }

    /// The calling thread's handle on a histogram series; callers keep it per thread.
    pub fn histogram_handle(&self, values: &[&str]) -> ShardedHistogram {
        let bounds = match &self.0.kind {
            Kind::Histogram(bounds) => Arc::clone(bounds),
            Kind::Counter => Arc::from(Vec::new()),
        };
        ShardedHistogram {
            shard: self.shard(values),
            bounds,
        }
    }

    /// The label pairs of a series, sorted by label name.
    fn labels(&self, values: &[String]) -> Vec<proto::LabelPair> {
        let mut pairs: Vec<proto::LabelPair> = self
            .0
            .desc
            .variable_labels
            .iter()
            .zip(values)
            .map(|(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name(name.clone());
                pair.set_value(value.clone());
                pair
            })
            .collect();
        pairs.sort_by(|a, b| a.name().cmp(b.name()));
        pairs
    }
}

impl Collector for ShardedVec {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let series = self.0.series.lock().unwrap_or_else(PoisonError::into_inner);
        let metrics = series
            .iter()
            .map(|(values, shards)| {
                let mut metric = proto::Metric::default();
                metric.set_label(self.labels(values));
                match &self.0.kind {
                    Kind::Counter => {
                        let mut c = proto::Counter::default();
                        c.set_value(shards.iter().map(|s| s.get(0)).sum::<u64>() as f64);
                        metric.set_counter(c);
                    }
                    Kind::Histogram(bounds) => {
                        let mut h = proto::Histogram::default();
                        let mut cumulative = 0u64;
                        let mut buckets = Vec::with_capacity(bounds.len());
                        for (i, &bound) in bounds.iter().enumerate() {
                            cumulative += shards.iter().map(|s| s.get(i)).sum::<u64>();
                            let mut b = proto::Bucket::default();
                            b.set_upper_bound(bound);
                            b.set_cumulative_count(cumulative);
                            buckets.push(b);
                        }
                        cumulative += shards.iter().map(|s| s.get(bounds.len())).sum::<u64>();
                        h.set_bucket(buckets);
                        h.set_sample_count(cumulative);
                        h.set_sample_sum(
                            shards
                                .iter()
                                .map(|s| f64::from_bits(s.get(bounds.len() + 1)))
                                .sum(),
                        );
                        metric.set_histogram(h);
                    }
                }
                metric
            })
            .collect();
        let mut family = proto::MetricFamily::default();
        family.set_name(self.0.desc.fq_name.clone());
        family.set_help(self.0.desc.help.clone());
        family.set_field_type(match self.0.kind {
            Kind::Counter => proto::MetricType::COUNTER,
            Kind::Histogram(_) => proto::MetricType::HISTOGRAM,
        });
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_of_every_thread_add_up_at_scrape() {
        let hist = ShardedVec::histogram("h_seconds", "help", &["route", "method"], vec![0.1, 1.0])
            .unwrap();
        let count = ShardedVec::counter("c_total", "help", &["model"]).unwrap();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let h = hist.histogram_handle(&["/p", "POST"]);
                    let c = count.counter_handle(&["iris"]);
                    for v in [0.05, 0.1, 0.5, 3.0] {
                        h.observe(v);
                        c.inc();
                    }
                });
            }
        });
        let registry = prometheus::Registry::new();
        registry.register(Box::new(hist.clone())).unwrap();
        registry.register(Box::new(count.clone())).unwrap();
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            r#"h_seconds_bucket{method="POST",route="/p",le="0.1"} 6"#,
            r#"h_seconds_bucket{method="POST",route="/p",le="1"} 9"#,
            r#"h_seconds_bucket{method="POST",route="/p",le="+Inf"} 12"#,
            r#"h_seconds_sum{method="POST",route="/p"} 10.95"#,
            r#"h_seconds_count{method="POST",route="/p"} 12"#,
            r#"c_total{model="iris"} 12"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
