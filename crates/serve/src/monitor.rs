//! Live drift: per served model version, a sliding window of the rows its recent
//! requests carried, compared with the reference statistics of its training rows (the
//! artifact's `reference.json`) on demand: by `GET /models/{name}/drift` and at each
//! Prometheus scrape.
//!
//! Recording a request costs one uncontended lock and a store per value: numeric
//! values as they are, categories as their index among the reference's categories.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ferry_core::drift::{DriftReport, FeatureStats, Observed, ReferenceProfile, compare};
use ferry_core::{Column, Frame};

/// A category code for a missing value.
const MISSING: u32 = u32::MAX;
/// A category code for a value the reference never had.
const UNSEEN: u32 = u32::MAX - 1;

/// One feature's window.
#[derive(Debug)]
enum Slots {
    Numeric(Vec<f64>),
    Categorical {
        codes: Vec<u32>,
        index: HashMap<String, u32>,
        categories: usize,
    },
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
    features: Vec<Slots>,
}

/// The drift window of one served model version.
#[derive(Debug)]
pub struct DriftWindow {
    reference: Arc<ReferenceProfile>,
    ring: Mutex<Ring>,
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

impl DriftWindow {
    /// An empty window for `reference`, holding its `thresholds.window` rows.
    #[must_use]
    pub fn new(reference: Arc<ReferenceProfile>) -> Self {
        let capacity = reference.thresholds.window.max(1);
        let features = reference
            .features
            .iter()
            .map(|f| match &f.stats {
                FeatureStats::Numeric(_) => Slots::Numeric(vec![f64::NAN; capacity]),
                FeatureStats::Categorical(stats) => Slots::Categorical {
                    codes: vec![MISSING; capacity],
                    index: stats
                        .frequencies
                        .keys()
                        .enumerate()
                        .map(|(i, k)| (k.clone(), u32::try_from(i).unwrap_or(UNSEEN)))
                        .collect(),
                    categories: stats.frequencies.len(),
                },
            })
            .collect();
        Self {
            reference,
            ring: Mutex::new(Ring {
                capacity,
                next: 0,
                len: 0,
                seen: 0,
                features,
            }),
        }
    }

    /// Adds the rows of `frame` (validated against the model's schema); a batch larger
    /// than the window keeps its last rows.
    pub fn observe(&self, frame: &Frame) {
        let n = frame.n_rows();
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = ring.capacity;
        let skip = n.saturating_sub(capacity);
        let start = ring.next;
        for (slots, column) in ring.features.iter_mut().zip(frame.columns()) {
            let mut at = start;
            match (slots, column) {
                (Slots::Numeric(values), Column::Numeric(column)) => {
                    for &v in column.iter().skip(skip) {
                        values[at] = v;
                        at = (at + 1) % capacity;
                    }
                }
                (Slots::Categorical { codes, index, .. }, Column::Categorical(column)) => {
                    for v in column.iter().skip(skip) {
                        codes[at] = match v {
                            Some(c) => index.get(c.as_str()).copied().unwrap_or(UNSEEN),
                            None => MISSING,
                        };
                        at = (at + 1) % capacity;
                    }
                }
                // Rows validated against the model's schema match its reference.
                (Slots::Numeric(_) | Slots::Categorical { .. }, _) => {}
            }
        }
        let added = n - skip;
        ring.next = (start + added) % capacity;
        ring.len = (ring.len + added).min(capacity);
        ring.seen += n as u64;
    }

    /// Compares the rows in the window with the reference.
    #[must_use]
    pub fn report(&self) -> WindowReport {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let held = |i: usize| i < ring.len;
        let observed: Vec<Observed> = ring
            .features
            .iter()
            .map(|slots| match slots {
                Slots::Numeric(values) => {
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
                Slots::Categorical {
                    codes, categories, ..
                } => {
                    let mut counts = vec![0u64; *categories];
                    let (mut unseen, mut missing) = (0, 0);
                    for (_, &code) in codes.iter().enumerate().filter(|(i, _)| held(*i)) {
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
}
