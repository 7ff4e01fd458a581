//! Data drift: the reference statistics of a model's training rows, stored in its
//! artifact as `reference.json`, and the comparison of current rows with them.
//!
//! Per feature, a [`FeatureReference`] keeps, for a numeric feature, the decile bin edges
//! of the training rows with the count in each bin, the percentiles, mean, standard
//! deviation and missing count; for a categorical one, the frequency of every category.
//! [`compare`] takes the current rows (a [`Frame`] through [`Observed::from_frame`], or a
//! server's sliding window) and computes, per feature:
//!
//! - the population stability index (PSI) over the reference bins or categories (with
//!   proportions floored at 1e-4, as Evidently does), numeric and categorical;
//! - the two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value, numeric (the
//!   reference distribution is its 101 percentiles);
//! - Pearson's chi-square goodness-of-fit test of the current counts against the
//!   reference proportions, and the Jensen-Shannon distance (base 2), categorical;
//! - the change in missing rate, and the share of current values in categories the
//!   training rows never had ("unseen").
//!
//! A feature drifts when its [`DriftThresholds`] method crosses its threshold, its missing
//! rate moves by more than `missing_rate_change`, or its unseen share exceeds
//! `unseen_rate`. The data set drifts when at least `dataset_share` of the features do
//! (Evidently's rule).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::frame::{Column, Frame};
use crate::schema::FeatureSchema;

/// File name of the reference statistics in an artifact.
pub const REFERENCE_FILE: &str = "reference.json";

/// Smallest proportion used in PSI and the chi-square expectation, so an empty bin on one
/// side gives a large but finite value.
const FLOOR: f64 = 1e-4;

/// Number of quantile bins of a numeric feature (deciles).
const BINS: usize = 10;

/// How a numeric feature's drift is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericMethod {
    /// PSI above `psi`.
    Psi,
    /// Kolmogorov-Smirnov p-value below `ks_p_value`.
    Ks,
}

/// How a categorical feature's drift is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalMethod {
    /// PSI above `psi`.
    Psi,
    /// Chi-square p-value below `chi_square_p_value`.
    ChiSquare,
    /// Jensen-Shannon distance above `jensen_shannon`.
    JensenShannon,
}

/// When a feature, and the data set, count as drifted. The defaults follow common
/// practice: PSI 0.2 (a "significant" shift), p-values 0.05, Jensen-Shannon 0.1 and a
/// dataset share of 0.5 (Evidently's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftThresholds {
    /// The test that decides a numeric feature.
    pub numeric_method: NumericMethod,
    /// The test that decides a categorical feature.
    pub categorical_method: CategoricalMethod,
    /// PSI above which a feature drifts (method `psi`).
    pub psi: f64,
    /// Kolmogorov-Smirnov p-value below which a numeric feature drifts (method `ks`).
    pub ks_p_value: f64,
    /// Chi-square p-value below which a categorical feature drifts (method `chi_square`).
    pub chi_square_p_value: f64,
    /// Jensen-Shannon distance above which a categorical feature drifts (method
    /// `jensen_shannon`).
    pub jensen_shannon: f64,
    /// Change in missing rate (absolute, 0..1) above which a feature drifts.
    pub missing_rate_change: f64,
    /// Share of current values in unseen categories above which a feature drifts.
    pub unseen_rate: f64,
    /// Share of drifted features at or above which the data set drifts.
    pub dataset_share: f64,
    /// Rows of recent requests a server compares with the reference, per model.
    pub window: usize,
    /// Fewest current rows a verdict needs; with fewer, nothing is called drifted.
    pub min_rows: usize,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            numeric_method: NumericMethod::Psi,
            categorical_method: CategoricalMethod::Psi,
            psi: 0.2,
            ks_p_value: 0.05,
            chi_square_p_value: 0.05,
            jensen_shannon: 0.1,
            missing_rate_change: 0.1,
            unseen_rate: 0.05,
            dataset_share: 0.5,
            window: 1000,
            min_rows: 50,
        }
    }
}

impl DriftThresholds {
    /// Every value out of its range, as `(field, message)`.
    #[must_use]
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |field: &'static str, v: f64, lo: f64, hi: f64| {
            if !(v.is_finite() && v >= lo && v <= hi) {
                out.push((
                    field,
                    format!("expected a number from {lo} to {hi}, found {v}"),
                ));
            }
        };
        check("psi", self.psi, 0.0, f64::MAX);
        check("ks_p_value", self.ks_p_value, 0.0, 1.0);
        check("chi_square_p_value", self.chi_square_p_value, 0.0, 1.0);
        check("jensen_shannon", self.jensen_shannon, 0.0, 1.0);
        check("missing_rate_change", self.missing_rate_change, 0.0, 1.0);
        check("unseen_rate", self.unseen_rate, 0.0, 1.0);
        check("dataset_share", self.dataset_share, 0.0, 1.0);
        if !(1..=1_000_000).contains(&self.window) {
            out.push((
                "window",
                format!("expected 1 to 1000000 rows, found {}", self.window),
            ));
        }
        if self.min_rows > self.window {
            out.push((
                "min_rows",
                format!(
                    "expected at most window ({}), found {}",
                    self.window, self.min_rows
                ),
            ));
        }
        out
    }
}

/// The reference statistics of a model's training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceProfile {
    /// Training rows summarised.
    pub rows: u64,
    /// The thresholds the pipeline config set.
    pub thresholds: DriftThresholds,
    /// One entry per input feature, in schema order.
    pub features: Vec<FeatureReference>,
}

/// The reference statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureReference {
    /// The feature.
    pub name: String,
    /// Rows with a missing value.
    pub missing: u64,
    /// Its distribution.
    pub stats: FeatureStats,
}

/// The distribution of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeatureStats {
    /// A numeric, integer or boolean feature.
    Numeric(NumericStats),
    /// A categorical feature.
    Categorical(CategoricalStats),
}

/// The distribution of a numeric feature's present values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericStats {
    /// Bin edges: the distinct deciles strictly between the minimum and the maximum. Bin
    /// `i` holds values `<= edges[i]` and above the previous edge; the last bin the rest.
    pub edges: Vec<f64>,
    /// Present values per bin (`edges.len() + 1` bins).
    pub counts: Vec<u64>,
    /// The 0th to 100th percentiles.
    pub percentiles: Vec<f64>,
    /// Mean of the present values.
    pub mean: f64,
    /// Population standard deviation of the present values.
    pub std: f64,
}

/// The distribution of a categorical feature's present values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalStats {
    /// Rows per category (a declared category the training rows lack counts 0).
    pub frequencies: BTreeMap<String, u64>,
}

/// The `q`-quantile (0..=1) of sorted `values`, linearly interpolated (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let pos = q * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let (a, b) = (sorted[lo.min(n - 1)], sorted[hi.min(n - 1)]);
            a + (b - a) * (pos - lo as f64)
        }
    }
}

/// Index of the bin of `x` for `edges`.
fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

impl ReferenceProfile {
    /// The reference statistics of `frame`, rows validated against `schema`.
    #[must_use]
    pub fn from_frame(schema: &FeatureSchema, frame: &Frame, thresholds: DriftThresholds) -> Self {
        let features = schema
            .features()
            .iter()
            .zip(frame.columns())
            .map(|(feature, column)| match column {
                Column::Numeric(values) => {
                    let mut present: Vec<f64> =
                        values.iter().copied().filter(|v| !v.is_nan()).collect();
                    present.sort_by(f64::total_cmp);
                    let missing = (values.len() - present.len()) as u64;
                    let (min, max) = (
                        present.first().copied().unwrap_or(0.0),
                        present.last().copied().unwrap_or(0.0),
                    );
                    let mut edges: Vec<f64> = (1..BINS)
                        .map(|i| quantile(&present, i as f64 / BINS as f64))
                        .filter(|&e| e >= min && e < max)
                        .collect();
                    edges.dedup();
                    let mut counts = vec![0u64; edges.len() + 1];
                    for &v in &present {
                        counts[bin_of(&edges, v)] += 1;
                    }
                    let n = present.len().max(1) as f64;
                    let mean = present.iter().sum::<f64>() / n;
                    let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                    FeatureReference {
                        name: feature.name.clone(),
                        missing,
                        stats: FeatureStats::Numeric(NumericStats {
                            edges,
                            counts,
                            percentiles: (0..=100)
                                .map(|p| quantile(&present, f64::from(p) / 100.0))
                                .filter(|v| !v.is_nan())
                                .collect(),
                            mean: if present.is_empty() { 0.0 } else { mean },
                            std: var.sqrt(),
                        }),
                    }
                }
                Column::Categorical(values) => {
                    let mut frequencies: BTreeMap<String, u64> = feature
                        .categories
                        .iter()
                        .flatten()
                        .map(|c| (c.clone(), 0))
                        .collect();
                    let mut missing = 0;
                    for v in values {
                        match v {
                            Some(c) => *frequencies.entry(c.clone()).or_default() += 1,
                            None => missing += 1,
                        }
                    }
                    FeatureReference {
                        name: feature.name.clone(),
                        missing,
                        stats: FeatureStats::Categorical(CategoricalStats { frequencies }),
                    }
                }
            })
            .collect();
        Self {
            rows: frame.n_rows() as u64,
            thresholds,
            features,
        }
    }
}

/// The current values of one feature, ready to compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// A numeric feature: its present values (any order) and missing count.
    Numeric {
        /// The present values.
        values: Vec<f64>,
        /// Rows with a missing value.
        missing: u64,
    },
    /// A categorical feature: counts per reference category (in the reference's
    /// order), of values in no reference category, and missing.
    Categorical {
        /// Counts per reference category.
        counts: Vec<u64>,
        /// Values in no reference category.
        unseen: u64,
        /// Rows with a missing value.
        missing: u64,
    },
}

impl Observed {
    /// The observations of every feature of `reference` in `frame` (validated against
    /// the same schema).
    #[must_use]
    pub fn from_frame(reference: &ReferenceProfile, frame: &Frame) -> Vec<Observed> {
        reference
            .features
            .iter()
            .zip(frame.columns())
            .map(|(feature, column)| match (column, &feature.stats) {
                (Column::Categorical(values), FeatureStats::Categorical(stats)) => {
                    let index: HashMap<&str, usize> = stats
                        .frequencies
                        .keys()
                        .enumerate()
                        .map(|(i, k)| (k.as_str(), i))
                        .collect();
                    let mut counts = vec![0; index.len()];
                    let (mut unseen, mut missing) = (0, 0);
                    for v in values {
                        match v.as_deref().map(|c| index.get(c)) {
                            Some(Some(&i)) => counts[i] += 1,
                            Some(None) => unseen += 1,
                            None => missing += 1,
                        }
                    }
                    Observed::Categorical {
                        counts,
                        unseen,
                        missing,
                    }
                }
                (Column::Numeric(values), _) => Observed::Numeric {
                    values: values.iter().copied().filter(|v| !v.is_nan()).collect(),
                    missing: values.iter().filter(|v| v.is_nan()).count() as u64,
                },
                (Column::Categorical(values), FeatureStats::Numeric(_)) => Observed::Numeric {
                    values: Vec::new(),
                    missing: values.len() as u64,
                },
            })
            .collect()
    }
}

/// A statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// The statistic.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
}

/// Reference and current values of a rate or a mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// In the reference.
    pub reference: f64,
    /// In the current rows.
    pub current: f64,
}

/// Reference and current proportions per bin or category, for plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// A label per bin (`≤ 3.5`, `> 7`) or category (`(unseen)` for the rest).
    pub labels: Vec<String>,
    /// Reference proportions (of present values).
    pub reference: Vec<f64>,
    /// Current proportions (of present values).
    pub current: Vec<f64>,
}

/// The drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// The feature.
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// Whether it drifted.
    pub drifted: bool,
    /// Why it drifted (empty when it did not).
    pub reasons: Vec<String>,
    /// The method deciding it (`psi`, `ks`, `chi_square`, `jensen_shannon`).
    pub method: String,
    /// Population stability index.
    pub psi: f64,
    /// Kolmogorov-Smirnov (numeric).
    pub ks: Option<Test>,
    /// Chi-square goodness of fit (categorical).
    pub chi_square: Option<Test>,
    /// Jensen-Shannon distance, base 2 (categorical).
    pub jensen_shannon: Option<f64>,
    /// Missing rates.
    pub missing_rate: Pair,
    /// Share of present current values in categories the reference lacks (categorical).
    pub unseen_rate: Option<f64>,
    /// Means of the present values (numeric).
    pub mean: Option<Pair>,
    /// Proportions per bin or category.
    pub histogram: Histogram,
}

/// The drift of a data set against a model's reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Reference rows.
    pub reference_rows: u64,
    /// Current rows compared.
    pub current_rows: u64,
    /// Whether enough rows were compared for a verdict (`min_rows`).
    pub enough_rows: bool,
    /// Features that drifted.
    pub drifted_features: usize,
    /// Their share of all features.
    pub drifted_share: f64,
    /// Whether the data set drifted (`drifted_share >= dataset_share`, with enough rows
    /// and at least one drifted feature).
    pub dataset_drift: bool,
    /// The thresholds applied.
    pub thresholds: DriftThresholds,
    /// One entry per feature, in schema order.
    pub features: Vec<FeatureDrift>,
}

/// PSI of two proportion vectors, floored at [`FLOOR`].
fn psi(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(FLOOR), c.max(FLOOR));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Jensen-Shannon distance (base 2, 0..=1) of two distributions.
fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let kl = |a: &[f64], m: &[f64]| -> f64 {
        a.iter()
            .zip(m)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, y)| x * (x / y).log2())
            .sum()
    };
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a + b) / 2.0).collect();
    (0.5 * kl(p, &m) + 0.5 * kl(q, &m)).max(0.0).sqrt()
}

/// The asymptotic Kolmogorov distribution's survival function, `Q_KS(lambda)`.
fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = (-2.0 * j * j * lambda * lambda).exp();
        sum += if j as u32 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Two-sample KS of the current `sorted` values against the reference percentiles
/// (read as the reference's empirical distribution), with the asymptotic p-value for
/// `n_ref` and `sorted.len()` rows.
fn ks(percentiles: &[f64], n_ref: u64, sorted: &[f64]) -> Test {
    let (n, m) = (percentiles.len(), sorted.len());
    if n == 0 || m == 0 {
        return Test {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let cdf =
        |values: &[f64], x: f64| values.partition_point(|&v| v <= x) as f64 / values.len() as f64;
    let mut d: f64 = 0.0;
    for &x in percentiles.iter().chain(sorted) {
        d = d.max((cdf(percentiles, x) - cdf(sorted, x)).abs());
    }
    let (a, b) = (n_ref.max(1) as f64, m as f64);
    let en = (a * b / (a + b)).sqrt();
    Test {
        statistic: d,
        p_value: kolmogorov_sf((en + 0.12 + 0.11 / en) * d),
    }
}

/// Pearson's chi-square goodness of fit of `observed` counts to `expected` proportions.
fn chi_square(expected: &[f64], observed: &[u64]) -> Test {
    let total: u64 = observed.iter().sum();
    let bins = expected.len();
    if total == 0 || bins < 2 {
        return Test {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let norm: f64 = expected.iter().map(|p| p.max(FLOOR)).sum();
    let statistic: f64 = expected
        .iter()
        .zip(observed)
        .map(|(&p, &o)| {
            let e = p.max(FLOOR) / norm * total as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let p_value = ChiSquared::new((bins - 1) as f64).map_or(f64::NAN, |d| d.sf(statistic));
    Test { statistic, p_value }
}

fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

fn bin_labels(edges: &[f64]) -> Vec<String> {
    let fmt = |x: f64| {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    let mut labels = Vec::with_capacity(edges.len() + 1);
    for (i, e) in edges.iter().enumerate() {
        labels.push(match i {
            0 => format!("≤ {}", fmt(*e)),
            _ => format!("{}–{}", fmt(edges[i - 1]), fmt(*e)),
        });
    }
    labels.push(match edges.last() {
        Some(e) => format!("> {}", fmt(*e)),
        None => "all".to_owned(),
    });
    labels
}

/// Compares `observed` (one entry per reference feature, as [`Observed::from_frame`]
/// gives) with `reference` under `thresholds`.
#[must_use]
pub fn compare(
    reference: &ReferenceProfile,
    observed: &[Observed],
    thresholds: &DriftThresholds,
) -> DriftReport {
    let current_rows = observed.first().map_or(0, |o| match o {
        Observed::Numeric { values, missing } => values.len() as u64 + missing,
        Observed::Categorical {
            counts,
            unseen,
            missing,
        } => counts.iter().sum::<u64>() + unseen + missing,
    });
    let enough_rows = current_rows >= thresholds.min_rows.max(1) as u64;
    let rate = |part: u64, all: u64| {
        if all == 0 {
            0.0
        } else {
            part as f64 / all as f64
        }
    };
    let features: Vec<FeatureDrift> = reference
        .features
        .iter()
        .zip(observed)
        .map(|(feature, obs)| {
            let mut reasons = Vec::new();
            let ref_missing = rate(feature.missing, reference.rows);
            let mut drift = match (&feature.stats, obs) {
                (FeatureStats::Numeric(stats), Observed::Numeric { values, missing }) => {
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    let mut counts = vec![0u64; stats.counts.len()];
                    for &v in &sorted {
                        if let Some(c) = counts.get_mut(bin_of(&stats.edges, v)) {
                            *c += 1;
                        }
                    }
                    let (r, c) = (proportions(&stats.counts), proportions(&counts));
                    let psi = if sorted.is_empty() { 0.0 } else { psi(&r, &c) };
                    let n_ref: u64 = stats.counts.iter().sum();
                    let ks = ks(&stats.percentiles, n_ref, &sorted);
                    let (method, drifted) = match thresholds.numeric_method {
                        NumericMethod::Psi => ("psi", psi > thresholds.psi),
                        NumericMethod::Ks => ("ks", ks.p_value < thresholds.ks_p_value),
                    };
                    if drifted && !sorted.is_empty() {
                        reasons.push(match thresholds.numeric_method {
                            NumericMethod::Psi => {
                                format!("PSI {psi:.3} > {}", thresholds.psi)
                            }
                            NumericMethod::Ks => {
                                format!("KS p-value {:.3e} < {}", ks.p_value, thresholds.ks_p_value)
                            }
                        });
                    }
                    let current_mean = if sorted.is_empty() {
                        f64::NAN
                    } else {
                        sorted.iter().sum::<f64>() / sorted.len() as f64
                    };
                    FeatureDrift {
                        name: feature.name.clone(),
                        kind: "numeric".to_owned(),
                        drifted: false,
                        reasons: Vec::new(),
                        method: method.to_owned(),
                        psi,
                        ks: Some(ks),
                        chi_square: None,
                        jensen_shannon: None,
                        missing_rate: Pair {
                            reference: ref_missing,
                            current: rate(*missing, sorted.len() as u64 + missing),
                        },
                        unseen_rate: None,
                        mean: Some(Pair {
                            reference: stats.mean,
                            current: current_mean,
                        }),
                        histogram: Histogram {
                            labels: bin_labels(&stats.edges),
                            reference: r,
                            current: c,
                        },
                    }
                }
                (
                    FeatureStats::Categorical(stats),
                    Observed::Categorical {
                        counts,
                        unseen,
                        missing,
                    },
                ) => {
                    let mut ref_counts: Vec<u64> = stats.frequencies.values().copied().collect();
                    ref_counts.push(0);
                    let mut cur_counts = counts.clone();
                    cur_counts.push(*unseen);
                    let (r, c) = (proportions(&ref_counts), proportions(&cur_counts));
                    let present: u64 = cur_counts.iter().sum();
                    let psi = if present == 0 { 0.0 } else { psi(&r, &c) };
                    let chi = chi_square(&r, &cur_counts);
                    let js = if present == 0 {
                        0.0
                    } else {
                        jensen_shannon(&r, &c)
                    };
                    let (method, drifted) = match thresholds.categorical_method {
                        CategoricalMethod::Psi => ("psi", psi > thresholds.psi),
                        CategoricalMethod::ChiSquare => {
                            ("chi_square", chi.p_value < thresholds.chi_square_p_value)
                        }
                        CategoricalMethod::JensenShannon => {
                            ("jensen_shannon", js > thresholds.jensen_shannon)
                        }
                    };
                    if drifted {
                        reasons.push(match thresholds.categorical_method {
                            CategoricalMethod::Psi => {
                                format!("PSI {psi:.3} > {}", thresholds.psi)
                            }
                            CategoricalMethod::ChiSquare => format!(
                                "chi-square p-value {:.3e} < {}",
                                chi.p_value, thresholds.chi_square_p_value
                            ),
                            CategoricalMethod::JensenShannon => {
                                format!("Jensen-Shannon {js:.3} > {}", thresholds.jensen_shannon)
                            }
                        });
                    }
                    let unseen_rate = rate(*unseen, present);
                    if unseen_rate > thresholds.unseen_rate {
                        reasons.push(format!(
                            "unseen categories {:.1}% > {:.1}%",
                            unseen_rate * 100.0,
                            thresholds.unseen_rate * 100.0
                        ));
                    }
                    let mut labels: Vec<String> = stats.frequencies.keys().cloned().collect();
                    labels.push("(unseen)".to_owned());
                    FeatureDrift {
                        name: feature.name.clone(),
                        kind: "categorical".to_owned(),
                        drifted: false,
                        reasons: Vec::new(),
                        method: method.to_owned(),
                        psi,
                        ks: None,
                        chi_square: Some(chi),
                        jensen_shannon: Some(js),
                        missing_rate: Pair {
                            reference: ref_missing,
                            current: rate(*missing, present + missing),
                        },
                        unseen_rate: Some(unseen_rate),
                        mean: None,
                        histogram: Histogram {
                            labels,
                            reference: r,
                            current: c,
                        },
                    }
                }
                // A feature whose reference and observations disagree in kind cannot
                // happen for rows validated against the model's schema; it compares as
                // everything missing.
                (_, other) => {
                    let (present, missing) = match other {
                        Observed::Numeric { values, missing } => (values.len() as u64, *missing),
                        Observed::Categorical {
                            counts,
                            unseen,
                            missing,
                        } => (counts.iter().sum::<u64>() + unseen, *missing),
                    };
                    reasons.push("the reference and the rows disagree on its type".to_owned());
                    FeatureDrift {
                        name: feature.name.clone(),
                        kind: "mismatched".to_owned(),
                        drifted: false,
                        reasons: Vec::new(),
                        method: "none".to_owned(),
                        psi: 0.0,
                        ks: None,
                        chi_square: None,
                        jensen_shannon: None,
                        missing_rate: Pair {
                            reference: ref_missing,
                            current: rate(missing, present + missing),
                        },
                        unseen_rate: None,
                        mean: None,
                        histogram: Histogram {
                            labels: Vec::new(),
                            reference: Vec::new(),
                            current: Vec::new(),
                        },
                    }
                }
            };
            let change = drift.missing_rate.current - drift.missing_rate.reference;
            if change.abs() > thresholds.missing_rate_change {
                reasons.push(format!(
                    "missing rate {:.1}% -> {:.1}%",
                    drift.missing_rate.reference * 100.0,
                    drift.missing_rate.current * 100.0
                ));
            }
            drift.drifted = enough_rows && !reasons.is_empty();
            drift.reasons = if drift.drifted { reasons } else { Vec::new() };
            drift
        })
        .collect();
    let drifted_features = features.iter().filter(|f| f.drifted).count();
    let drifted_share = if features.is_empty() {
        0.0
    } else {
        drifted_features as f64 / features.len() as f64
    };
    DriftReport {
        reference_rows: reference.rows,
        current_rows,
        enough_rows,
        drifted_features,
        drifted_share,
        dataset_drift: enough_rows
            && drifted_features > 0
            && drifted_share >= thresholds.dataset_share,
        thresholds: *thresholds,
        features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.1) - 1.3).abs() < 1e-12);
    }

    #[test]
    fn psi_is_zero_for_equal_distributions_and_grows_with_shift() {
        let r = [0.25, 0.25, 0.25, 0.25];
        assert!(psi(&r, &r).abs() < 1e-12);
        let small = psi(&r, &[0.3, 0.2, 0.25, 0.25]);
        let large = psi(&r, &[0.7, 0.1, 0.1, 0.1]);
        assert!(small > 0.0 && large > small, "{small} {large}");
        // numpy: sum((c - r) * log(c / r)) = 0.020273
        assert!((small - 0.020_273).abs() < 1e-5, "{small}");
    }

    #[test]
    fn jensen_shannon_matches_scipy() {
        // scipy.spatial.distance.jensenshannon([0.5, 0.5], [0.9, 0.1], base=2)
        let d = jensen_shannon(&[0.5, 0.5], &[0.9, 0.1]);
        assert!((d - 0.383_136).abs() < 1e-5, "{d}");
        assert!(jensen_shannon(&[0.2, 0.8], &[0.2, 0.8]).abs() < 1e-12);
        assert!((jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn chi_square_matches_scipy() {
        // scipy.stats.chisquare([30, 70], [50, 50]) -> statistic 16.0, p 6.334e-05
        let t = chi_square(&[0.5, 0.5], &[30, 70]);
        assert!((t.statistic - 16.0).abs() < 1e-9, "{t:?}");
        assert!((t.p_value - 6.334e-5).abs() < 1e-7, "{t:?}");
    }

    #[test]
    fn kolmogorov_survival_matches_known_values() {
        // Q_KS(1.36) ~ 0.049 (the 5% critical value), Q_KS(0.5) ~ 0.964.
        assert!((kolmogorov_sf(1.36) - 0.0494).abs() < 1e-3);
        assert!((kolmogorov_sf(0.5) - 0.9639).abs() < 1e-3);
        assert_eq!(kolmogorov_sf(0.0), 1.0);
    }

    fn profile(values: &[f64]) -> ReferenceProfile {
        let schema: FeatureSchema = serde_json::from_value(serde_json::json!({
            "features": [{"name": "x", "dtype": "numeric", "nullable": true}]
        }))
        .unwrap();
        let frame = Frame::new(vec![Column::Numeric(values.to_vec())]).unwrap();
        ReferenceProfile::from_frame(&schema, &frame, DriftThresholds::default())
    }

    #[test]
    fn the_same_rows_do_not_drift_and_shifted_rows_do() {
        let reference: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
        let p = profile(&reference);
        let FeatureStats::Numeric(stats) = &p.features[0].stats else {
            panic!()
        };
        assert_eq!(stats.counts.len(), 10);
        assert!(stats.counts.iter().all(|&c| c == 100), "{:?}", stats.counts);
        let same = Observed::from_frame(
            &p,
            &Frame::new(vec![Column::Numeric(reference.clone())]).unwrap(),
        );
        let report = compare(&p, &same, &p.thresholds);
        assert!(!report.dataset_drift);
        assert!(report.features[0].psi < 1e-9);
        assert!(report.features[0].ks.unwrap().p_value > 0.9);
        let shifted: Vec<f64> = reference.iter().map(|v| v + 30.0).collect();
        let obs = Observed::from_frame(&p, &Frame::new(vec![Column::Numeric(shifted)]).unwrap());
        let report = compare(&p, &obs, &p.thresholds);
        assert!(report.dataset_drift);
        assert!(report.features[0].drifted);
        assert!((report.features[0].ks.unwrap().statistic - 0.3).abs() < 0.02);
    }

    #[test]
    fn missing_values_and_too_few_rows() {
        let reference: Vec<f64> = (0..200).map(f64::from).collect();
        let p = profile(&reference);
        let mut half_missing: Vec<f64> = (0..200).map(f64::from).collect();
        for v in half_missing.iter_mut().step_by(2) {
            *v = f64::NAN;
        }
        let obs = Observed::from_frame(
            &p,
            &Frame::new(vec![Column::Numeric(half_missing)]).unwrap(),
        );
        let report = compare(&p, &obs, &p.thresholds);
        assert!(report.features[0].drifted);
        assert!(report.features[0].reasons[0].starts_with("missing rate 0.0% -> 50.0%"));
        // Ten rows are too few for a verdict.
        let obs = Observed::from_frame(
            &p,
            &Frame::new(vec![Column::Numeric(vec![1e6; 10])]).unwrap(),
        );
        let report = compare(&p, &obs, &p.thresholds);
        assert!(!report.enough_rows && !report.features[0].drifted && !report.dataset_drift);
    }
}
