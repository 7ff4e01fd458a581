//! Live drift: per served model version, a sliding window of the rows its recent
//! requests carried, compared with the reference statistics of its training rows (the
//! artifact's `reference.json`) on demand: by `GET /models/{name}/drift` and at each
//! Prometheus scrape.
//!
//! Recording a request does not touch what other threads write: each worker thread
//! stages its rows in its own shard (numeric values as they are, categories as their
//! index among the reference's categories) and folds them into the shared window every
//! [`STAGE_ROWS`] rows, one lock of the window for many requests. A report folds every
//! shard first, so it sees every row recorded before it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ferry_core::drift::{DriftReport, FeatureStats, Observed, ReferenceProfile, compare};
use ferry_core::{Column, Frame};

/// A category code for a missing value.
const MISSING: u32 = u32::MAX;
/// A category code for a value the reference never had.
const UNSEEN: u32 = u32::MAX - 1;
/// Rows a thread stages before folding them into the window.
pub const STAGE_ROWS: usize = 32;
/// Most shards a window has (threads beyond share them).
const MAX_SHARDS: usize = 16;

/// One feature's values: numbers as they are, categories as codes.
#[derive(Debug)]
enum Values {
    Numeric(Vec<f64>),
    Codes(Vec<u32>),
}

/// The ring of the last `capacity` rows.
#[derive(Debug)]
struct Ring {
    capacity: usize,
    /// Where the next row goes.
    next: usize,
    /// Rows held (up to `capacity`).
    len: usize,
    /// Rows seen since the window was made.
    seen: u64,
    features: Vec<Values>,
}

impl Ring {
    /// Adds a shard's staged rows (the last `capacity` of them when there are more).
    fn fold(&mut self, stage: &mut Stage) {
        let rows = stage.rows;
        let skip = rows.saturating_sub(self.capacity);
        let start = self.next;
        for (slots, staged) in self.features.iter_mut().zip(&mut stage.features) {
            match (slots, staged) {
                (Values::Numeric(to), Values::Numeric(from)) => drain_into(to, from, skip, start),
                (Values::Codes(to), Values::Codes(from)) => drain_into(to, from, skip, start),
                // Stages and the ring are made from the same reference.
                (Values::Numeric(_) | Values::Codes(_), _) => {}
            }
        }
        let added = rows - skip;
        self.next = (start + added) % self.capacity;
        self.len = (self.len + added).min(self.capacity);
        self.seen += stage.seen;
        stage.rows = 0;
        stage.seen = 0;
    }
}

/// Moves the values of `from` after its first `skip` into the ring `to` from `start` on,
/// leaving `from` empty (and giving back the room a large batch took).
fn drain_into<T: Copy>(to: &mut [T], from: &mut Vec<T>, skip: usize, start: usize) {
    copy_around(to, from.get(skip..).unwrap_or_default(), start);
    from.clear();
    if from.capacity() > 4 * STAGE_ROWS {
        from.shrink_to(STAGE_ROWS);
    }
}

/// Copies `from` (at most `to.len()` values) into the ring `to` from `start` on,
/// wrapping around its end.
fn copy_around<T: Copy>(to: &mut [T], from: &[T], start: usize) {
    let (tail, head) = to.split_at_mut(start.min(to.len()));
    let first = head.len().min(from.len());
    let (now, wrapped) = from.split_at(first);
    if let (Some(a), Some(b)) = (head.get_mut(..first), tail.get_mut(..wrapped.len())) {
        a.copy_from_slice(now);
        b.copy_from_slice(wrapped);
    }
}

/// One shard's rows not yet in the ring.
#[derive(Debug)]
struct Stage {
    /// Rows staged (of the last batches, at most the ring's capacity of each).
    rows: usize,
    /// Rows seen, staged or not.
    seen: u64,
    features: Vec<Values>,
}

/// A shard on a cache line of its own, so that neighbours' writes do not move it.
#[derive(Debug)]
#[repr(align(128))]
struct Padded(Mutex<Stage>);

/// The drift window of one served model version.
#[derive(Debug)]
pub struct DriftWindow {
    reference: Arc<ReferenceProfile>,
    /// Rows the window holds.
    capacity: usize,
    /// Per feature, the code of each reference category (`None` for numeric features).
    codes: Vec<Option<HashMap<String, u32>>>,
    ring: Mutex<Ring>,
    stages: Box<[Padded]>,
}

/// A window's comparison, as `GET /models/{name}/drift` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WindowReport {
    /// Rows the window holds at most (`drift.window` of the pipeline config).
    pub window: usize,
    /// Rows predicted since the version was loaded.
    pub rows_seen: u64,
    /// The comparison of the rows in the window with the training rows.
    #[serde(flatten)]
    pub report: DriftReport,
}

/// The shard the current thread records in: threads take the next one as they first
/// record, round the shard count.
fn shard(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|s| *s) % shards.max(1)
}

impl DriftWindow {
    /// An empty window for `reference`, holding its `thresholds.window` rows.
    #[must_use]
    pub fn new(reference: Arc<ReferenceProfile>) -> Self {
        let threads = std::thread::available_parallelism().map_or(4, std::num::NonZero::get);
        Self::with_shards(reference, threads.clamp(2, MAX_SHARDS))
    }

    /// An empty window for `reference` recording in `shards` shards.
    fn with_shards(reference: Arc<ReferenceProfile>, shards: usize) -> Self {
        let capacity = reference.thresholds.window.max(1);
        let codes: Vec<Option<HashMap<String, u32>>> = reference
            .features
            .iter()
            .map(|f| match &f.stats {
                FeatureStats::Numeric(_) => None,
                FeatureStats::Categorical(stats) => Some(
                    stats
                        .frequencies
                        .keys()
                        .enumerate()
                        .map(|(i, k)| (k.clone(), u32::try_from(i).unwrap_or(UNSEEN)))
                        .collect(),
                ),
            })
            .collect();
        let values = |len: usize, with_capacity: bool| {
            codes
                .iter()
                .map(|c| match (c, with_capacity) {
                    (None, false) => Values::Numeric(vec![f64::NAN; len]),
                    (Some(_), false) => Values::Codes(vec![MISSING; len]),
                    (None, true) => Values::Numeric(Vec::with_capacity(len)),
                    (Some(_), true) => Values::Codes(Vec::with_capacity(len)),
                })
                .collect::<Vec<_>>()
        };
        let stages = (0..shards.max(1))
            .map(|_| {
                Padded(Mutex::new(Stage {
                    rows: 0,
                    seen: 0,
                    features: values(STAGE_ROWS, true),
                }))
            })
            .collect();
        Self {
            ring: Mutex::new(Ring {
                capacity,
                next: 0,
                len: 0,
                seen: 0,
                features: values(capacity, false),
            }),
            reference,
            capacity,
            codes,
            stages,
        }
    }

    /// Adds the rows of `frame` (validated against the model's schema); a batch larger
    /// than the window keeps its last rows.
    pub fn observe(&self, frame: &Frame) {
        let n = frame.n_rows();
        let Some(Padded(stage)) = self.stages.get(shard(self.stages.len())) else {
            return;
        };
        let mut stage = stage.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = n.saturating_sub(self.capacity);
        for ((values, column), codes) in stage
            .features
            .iter_mut()
            .zip(frame.columns())
            .zip(&self.codes)
        {
            match (values, column, codes) {
                (Values::Numeric(to), Column::Numeric(column), None) => {
                    to.extend_from_slice(column.get(skip..).unwrap_or_default());
                }
                (Values::Codes(to), Column::Categorical(column), Some(codes)) => {
                    to.extend(column.iter().skip(skip).map(|v| match v {
                        Some(c) => codes.get(c.as_str()).copied().unwrap_or(UNSEEN),
                        None => MISSING,
                    }));
                }
                // Rows validated against the model's schema match its reference.
                (Values::Numeric(_) | Values::Codes(_), _, _) => {}
            }
        }
        stage.rows += n - skip;
        stage.seen += n as u64;
        if stage.rows >= STAGE_ROWS {
            self.ring
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .fold(&mut stage);
        }
    }

    /// Compares the rows in the window (every row recorded so far included) with the
    /// reference.
    #[must_use]
    pub fn report(&self) -> WindowReport {
        for Padded(stage) in &self.stages {
            let mut stage = stage.lock().unwrap_or_else(PoisonError::into_inner);
            if stage.seen > 0 {
                self.ring
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .fold(&mut stage);
            }
        }
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let held = |i: usize| i < ring.len;
        let observed: Vec<Observed> = ring
            .features
            .iter()
            .zip(&self.codes)
            .map(|(values, codes)| match values {
                Values::Numeric(values) => {
                    let window: Vec<f64> = values
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| held(*i))
                        .map(|(_, v)| *v)
                        .collect();
                    Observed::Numeric {
                        missing: window.iter().filter(|v| v.is_nan()).count() as u64,
                        values: window.into_iter().filter(|v| !v.is_nan()).collect(),
                    }
                }
                Values::Codes(codes_held) => {
                    let mut counts = vec![0u64; codes.as_ref().map_or(0, HashMap::len)];
                    let (mut unseen, mut missing) = (0, 0);
                    for (_, &code) in codes_held.iter().enumerate().filter(|(i, _)| held(*i)) {
                        match code {
                            MISSING => missing += 1,
                            UNSEEN => unseen += 1,
                            c => {
                                if let Some(n) = counts.get_mut(c as usize) {
                                    *n += 1;
                                }
                            }
                        }
                    }
                    Observed::Categorical {
                        counts,
                        unseen,
                        missing,
                    }
                }
            })
            .collect();
        let (window, seen) = (ring.capacity, ring.seen);
        drop(ring);
        WindowReport {
            window,
            rows_seen: seen,
            report: compare(&self.reference, &observed, &self.reference.thresholds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::drift::DriftThresholds;
    use ferry_core::schema::FeatureSchema;

    fn reference(window: usize) -> Arc<ReferenceProfile> {
        let schema: FeatureSchema = serde_json::from_value(serde_json::json!({"features": [
            {"name": "x", "dtype": "numeric"},
            {"name": "c", "dtype": "categorical", "nullable": true}
        ]}))
        .unwrap();
        let frame = Frame::new(vec![
            Column::Numeric((0..1000).map(f64::from).collect()),
            Column::Categorical(
                (0..1000)
                    .map(|i| Some(if i % 2 == 0 { "a" } else { "b" }.to_owned()))
                    .collect(),
            ),
        ])
        .unwrap();
        let thresholds = DriftThresholds {
            window,
            min_rows: 10,
            ..DriftThresholds::default()
        };
        Arc::new(ReferenceProfile::from_frame(&schema, &frame, thresholds))
    }

    fn batch(xs: impl Iterator<Item = f64>, c: &str) -> Frame {
        let xs: Vec<f64> = xs.collect();
        let n = xs.len();
        Frame::new(vec![
            Column::Numeric(xs),
            Column::Categorical(vec![Some(c.to_owned()); n]),
        ])
        .unwrap()
    }

    #[test]
    fn the_window_keeps_the_last_rows_and_detects_a_shift() {
        let w = DriftWindow::new(reference(100));
        // In distribution: spread over the range, both categories.
        for i in 0..5 {
            w.observe(&batch((0..20).map(|j| f64::from(j * 50 + i * 7)), "a"));
            w.observe(&batch((0..20).map(|j| f64::from(j * 50 + i * 3)), "b"));
        }
        let calm = w.report();
        assert_eq!(calm.rows_seen, 200);
        assert_eq!(calm.report.current_rows, 100);
        assert!(!calm.report.dataset_drift, "{:#?}", calm.report.features);
        // A shifted batch larger than the window replaces it whole.
        w.observe(&batch((0..150).map(|j| 5000.0 + f64::from(j)), "z"));
        let shifted = w.report();
        assert_eq!(shifted.report.current_rows, 100);
        assert!(shifted.report.dataset_drift);
        let c = &shifted.report.features[1];
        assert_eq!(c.unseen_rate, Some(1.0));
        assert!(shifted.report.features[0].psi > 1.0);
    }

    /// The numeric values the ring holds, sorted.
    fn held(w: &DriftWindow) -> Vec<f64> {
        let ring = w.ring.lock().unwrap();
        let Values::Numeric(values) = &ring.features[0] else {
            panic!("the first feature is numeric");
        };
        let mut held: Vec<f64> = values[..ring.len].to_vec();
        held.sort_by(f64::total_cmp);
        held
    }

    #[test]
    fn the_window_holds_exactly_the_last_rows_across_wraps_and_stages() {
        let w = DriftWindow::with_shards(reference(100), 1);
        let mut next = 0u32;
        // Batch sizes below, at and above the stage and the window, so that folds
        // start anywhere in the ring and wrap its end.
        for size in [1, 5, 31, 32, 33, 7, 99, 100, 101, 3, 250, 1, 64, 17] {
            w.observe(&batch((next..next + size).map(f64::from), "a"));
            next += size;
            let report = w.report();
            assert_eq!(report.rows_seen, u64::from(next));
            let expected: Vec<f64> = (next.saturating_sub(100)..next).map(f64::from).collect();
            assert_eq!(held(&w), expected, "after a batch of {size}");
        }
    }

    #[test]
    fn rows_from_many_threads_are_all_counted() {
        let w = DriftWindow::with_shards(reference(100), 3);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let w = &w;
                scope.spawn(move || {
                    for i in 0..250 {
                        w.observe(&batch(std::iter::once(f64::from(t * 1000 + i)), "a"));
                    }
                });
            }
        });
        let report = w.report();
        assert_eq!(report.rows_seen, 1000);
        assert_eq!(report.report.current_rows, 100);
        // Fewer rows than a stage reach the report too.
        let few = DriftWindow::with_shards(reference(100), 2);
        few.observe(&batch([1.0, 2.0, 3.0].into_iter(), "b"));
        assert_eq!(few.report().report.current_rows, 3);
        assert_eq!(held(&few), vec![1.0, 2.0, 3.0]);
    }
}
