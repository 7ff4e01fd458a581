//! The histogram trainer behind both gradient-boosting estimators, in the manner of
//! LightGBM and scikit-learn's `HistGradientBoosting*`:
//!
//! - every column is binned once: at most `max_bins` bins whose upper edges are the
//!   midpoints between consecutive distinct training values (or between quantiles when
//!   there are more distinct values than bins), and one more bin (255) for missing
//!   values;
//! - a tree grows leaf-wise: the leaf whose best split gains most is split next, until
//!   `max_leaf_nodes` leaves, `max_depth` or no split gains;
//! - a leaf's histogram (gradient, hessian and row count per bin and column) is built
//!   for the smaller child only; the larger child's is the parent's minus it;
//! - missing values are tried on both sides of every threshold, and the better side is
//!   the split's default direction (the larger child when the node saw none);
//! - a split's gain is the second-order gain with L2 regularisation, and a leaf's value
//!   `-G / (H + l2) * learning_rate`.
//!
//! Histograms are built column by column on rayon's pool, each column on one thread in
//! row order, so a fit gives the same bits whatever the thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::tree::{BoostPreorder, BoostTree, CATEGORICAL, DEFAULT_LEFT};
use crate::frame::FeatureMatrix;
use crate::model::{FitProgress, TrainError};

/// The bin of missing values.
const MISSING: u8 = 255;
/// Bins per column in a histogram (the missing bin included).
const BINS: usize = 256;
/// Rows sampled to find a column's quantile edges.
const EDGE_SAMPLE: usize = 200_000;
/// Smallest hessian a child may have.
const MIN_HESSIAN: f64 = 1e-3;
/// Smallest gain that counts as an improvement.
const MIN_GAIN: f64 = 1e-10;
/// Below this many (row, column) cells a histogram is built on the calling thread.
const PARALLEL_MIN_CELLS: usize = 1 << 15;

/// The settings of one fit, validated.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_iter: usize,
    pub(crate) learning_rate: f64,
    pub(crate) max_leaf_nodes: usize,
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_samples_leaf: usize,
    pub(crate) l2_regularization: f64,
    pub(crate) max_bins: usize,
    pub(crate) subsample: f64,
    pub(crate) colsample_bytree: f64,
    pub(crate) early_stopping: bool,
    /// Choose the number of iterations by cross-validation on this many folds instead.
    pub(crate) cv_folds: Option<usize>,
    pub(crate) validation_fraction: f64,
    pub(crate) n_iter_no_change: usize,
    pub(crate) tol: f64,
    pub(crate) seed: u64,
}

/// The loss being minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// Half squared error; one output.
    Squared,
    /// Absolute error; one output. Trees are grown on the gradient's sign and each
    /// leaf then takes the median residual of its rows.
    Absolute,
    /// Binary log loss on the logit; one output.
    Logistic,
    /// Multinomial log loss on `k` logits.
    Softmax(usize),
}

impl Loss {
    fn outputs(self) -> usize {
        match self {
            Loss::Squared | Loss::Absolute | Loss::Logistic => 1,
            Loss::Softmax(k) => k,
        }
    }
}

/// The result of a fit: the raw-score baseline per output and the trees, `outputs`
/// per iteration (tree `i` adds to output `i % outputs`).
pub(crate) struct Fitted {
    pub(crate) base: Vec<f64>,
    pub(crate) trees: Vec<BoostTree>,
}

/// The columns, binned.
struct Binned {
    n_rows: usize,
    /// Column-major bin codes.
    bins: Vec<u8>,
    /// Per column, the upper edge of each bin but the last.
    edges: Vec<Vec<f64>>,
    /// Per column, its number of categories when it holds category codes (each code
    /// is its own bin), else 0.
    n_categories: Vec<usize>,
}

/// The categories going left at a categorical split: one bit per bin.
type Cats = [u64; 4];

fn has_cat(cats: &Cats, code: u8) -> bool {
    cats.get(usize::from(code >> 6))
        .is_some_and(|w| w >> (code & 63) & 1 == 1)
}

/// Categories with fewer rows than this in a leaf are not ordered by their gradients
/// and go right (scikit-learn's `MIN_CAT_SUPPORT`); it is also the smoothing added to
/// their hessians when they are ordered.
const MIN_CAT_SUPPORT: u32 = 10;

/// At most this many categories go left at one split (scikit-learn's and LightGBM's
/// `max_cat_threshold`).
const MAX_CAT_THRESHOLD: usize = 32;

impl Binned {
    fn column(&self, f: usize) -> &[u8] {
        self.bins
            .get(f * self.n_rows..(f + 1) * self.n_rows)
            .unwrap_or_default()
    }
}

/// The edges of one column from its values.
fn column_edges(values: &mut Vec<f64>, max_bins: usize) -> Vec<f64> {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    values.dedup();
    let n = values.len();
    let mid = |i: usize| -> f64 {
        let (a, b) = (values[i - 1], values[i]);
        let m = a + (b - a) / 2.0;
        // Keep the edge strictly below b so that b lands in the next bin.
        if m < b { m } else { a }
    };
    if n <= max_bins {
        return (1..n).map(mid).collect();
    }
    let mut edges: Vec<f64> = (1..max_bins)
        .map(|k| mid((k * n / max_bins).max(1)))
        .collect();
    edges.dedup();
    edges
}

fn bin_columns(x: &FeatureMatrix, max_bins: usize, seed: u64) -> Binned {
    let (n_rows, n_cols) = (x.n_rows(), x.n_cols());
    let mut n_categories = vec![0usize; n_cols];
    for &(c, k) in x.categories() {
        if let Some(slot) = n_categories.get_mut(c) {
            *slot = k;
        }
    }
    let sample: Option<Vec<usize>> = (n_rows > EDGE_SAMPLE).then(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6269_6e73);
        let mut idx: Vec<usize> = (0..n_rows).collect();
        for i in 0..EDGE_SAMPLE {
            let j = rng.random_range(i..n_rows);
            idx.swap(i, j);
        }
        idx.truncate(EDGE_SAMPLE);
        idx.sort_unstable();
        idx
    });
    let values = x.values();
    let columns: Vec<(Vec<f64>, Vec<u8>)> = (0..n_cols)
        .into_par_iter()
        .map(|f| {
            let cell = |r: usize| values.get(r * n_cols + f).copied().unwrap_or(f64::NAN);
            let k = n_categories.get(f).copied().unwrap_or(0);
            if k > 0 {
                // Each category code is its bin; anything else is missing.
                let codes = (0..n_rows)
                    .map(|r| {
                        let v = cell(r);
                        if v >= 0.0 && v < k as f64 && v.fract() == 0.0 {
                            v as u8
                        } else {
                            MISSING
                        }
                    })
                    .collect();
                return (Vec::new(), codes);
            }
            let mut vals: Vec<f64> = match &sample {
                Some(idx) => idx.iter().map(|&r| cell(r)).collect(),
                None => (0..n_rows).map(cell).collect(),
            };
            let edges = column_edges(&mut vals, max_bins);
            let codes = (0..n_rows)
                .map(|r| {
                    let v = cell(r);
                    if v.is_nan() {
                        MISSING
                    } else {
                        // The first bin whose upper edge is >= v (the last has none).
                        edges.partition_point(|&e| e < v) as u8
                    }
                })
                .collect();
            (edges, codes)
        })
        .collect();
    let mut bins = Vec::with_capacity(n_rows * n_cols);
    let mut edges = Vec::with_capacity(n_cols);
    for (e, codes) in columns {
        bins.extend(codes);
        edges.push(e);
    }
    Binned {
        n_rows,
        bins,
        edges,
        n_categories,
    }
}

/// Gradient, hessian and row count of a bin (or a node).
#[derive(Debug, Clone, Copy, Default)]
struct Stat {
    g: f64,
    h: f64,
    n: u32,
}

impl Stat {
    fn add(&mut self, o: &Stat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    fn minus(&self, o: &Stat) -> Stat {
        Stat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n.saturating_sub(o.n),
        }
    }
}

/// A candidate split of a leaf.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    /// Rows with bin <= `bin` go left.
    bin: u8,
    default_left: bool,
    /// For a categorical split, the categories going left (missing values go right).
    cats: Option<Cats>,
    left: Stat,
    right: Stat,
}

/// A node of the tree being grown.
#[derive(Debug, Clone, Copy)]
enum GrowNode {
    Split {
        feature: usize,
        bin: u8,
        default_left: bool,
        cats: Option<Cats>,
        left: usize,
        right: usize,
        cover: f64,
    },
    Leaf {
        value: f64,
        cover: f64,
    },
}

/// A leaf that may still be split.
struct Open {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    total: Stat,
    hist: Vec<Stat>,
    best: Option<Split>,
}

/// What every tree of a fit shares.
struct Grower<'a> {
    binned: &'a Binned,
    s: &'a Settings,
    /// The hessian every row has, when the loss makes it constant (squared error: 1).
    const_hessian: Option<f64>,
}

impl Grower<'_> {
    fn score(&self, st: &Stat) -> f64 {
        st.g * st.g / (st.h + self.s.l2_regularization)
    }

    fn leaf_value(&self, st: &Stat) -> f64 {
        let v = -st.g / (st.h + self.s.l2_regularization) * self.s.learning_rate;
        if v.is_finite() { v } else { 0.0 }
    }

    /// The histogram of `rows` (with their gradients in row order) over `features`.
    fn histogram(&self, rows: &[u32], g: &[f64], h: &[f64], features: &[bool]) -> Vec<Stat> {
        let mut hist = vec![Stat::default(); features.len() * BINS];
        let build = |(f, chunk): (usize, &mut [Stat])| {
            if !features.get(f).copied().unwrap_or(false) {
                return;
            }
            let Ok(chunk) = <&mut [Stat; BINS]>::try_from(chunk) else {
                return;
            };
            let col = self.binned.column(f);
            let bin = |r: u32| usize::from(col.get(r as usize).copied().unwrap_or(MISSING));
            if let Some(c) = self.const_hessian {
                // Every hessian is `c`: one stream less to read, and each bin's sum is
                // `n * c`, exactly what adding `c` n times gives for these counts.
                for (&r, &gi) in rows.iter().zip(g) {
                    let st = &mut chunk[bin(r)];
                    st.g += gi;
                    st.n += 1;
                }
                for st in chunk.iter_mut() {
                    st.h = f64::from(st.n) * c;
                }
            } else {
                for ((&r, &gi), &hi) in rows.iter().zip(g).zip(h) {
                    let st = &mut chunk[bin(r)];
                    st.g += gi;
                    st.h += hi;
                    st.n += 1;
                }
            }
        };
        if rows.len().saturating_mul(features.len()) < PARALLEL_MIN_CELLS {
            hist.chunks_mut(BINS).enumerate().for_each(build);
        } else {
            hist.par_chunks_mut(BINS).enumerate().for_each(build);
        }
        hist
    }

    /// The best split of a leaf with `hist` and `total`, if any gains.
    fn best_split(&self, hist: &[Stat], total: &Stat, features: &[bool]) -> Option<Split> {
        let parent = self.score(total);
        let min_n = self.s.min_samples_leaf.max(1) as u32;
        let ok = |st: &Stat| st.n >= min_n && st.h >= MIN_HESSIAN;
        let mut best: Option<Split> = None;
        for (f, chunk) in hist.chunks(BINS).enumerate() {
            if !features.get(f).copied().unwrap_or(false) {
                continue;
            }
            if let Some(&k) = self.binned.n_categories.get(f).filter(|k| **k > 0) {
                self.categorical_split(f, chunk, total, k, &mut best);
                continue;
            }
            let n_bins = self.binned.edges.get(f).map_or(1, |e| e.len() + 1);
            let missing = chunk.get(MISSING as usize).copied().unwrap_or_default();
            let mut left = Stat::default();
            for (b, st) in chunk.iter().take(n_bins).enumerate() {
                left.add(st);
                let last = b + 1 == n_bins;
                if last && missing.n == 0 {
                    break;
                }
                let mut consider = |l: Stat, default_left: bool| {
                    let r = total.minus(&l);
                    if !ok(&l) || !ok(&r) {
                        return;
                    }
                    let gain = self.score(&l) + self.score(&r) - parent;
                    if gain > MIN_GAIN && best.is_none_or(|bs| gain > bs.gain) {
                        best = Some(Split {
                            gain,
                            feature: f,
                            bin: b as u8,
                            default_left,
                            cats: None,
                            left: l,
                            right: r,
                        });
                    }
                };
                if missing.n == 0 {
                    // No missing values here: they follow the larger child.
                    let r = total.minus(&left);
                    consider(left, left.n >= r.n);
                } else {
                    consider(left, false);
                    if !last {
                        let mut with_missing = left;
                        with_missing.add(&missing);
                        consider(with_missing, true);
                    }
                }
            }
        }
        best
    }

    fn goes_left(&self, split_bin: u8, default_left: bool, cats: Option<&Cats>, code: u8) -> bool {
        if let Some(cats) = cats {
            code != MISSING && has_cat(cats, code)
        } else if code == MISSING {
            default_left
        } else {
            code <= split_bin
        }
    }

    /// The best split of categorical column `f` into the categories going left and the
    /// rest, as scikit-learn's HistGradientBoosting searches it: categories with enough
    /// rows ordered by their smoothed gradient ratio, and every prefix of that order
    /// (from either end, at most [`MAX_CAT_THRESHOLD`] categories) tried as the left
    /// set. Missing values and rare categories go right.
    fn categorical_split(
        &self,
        f: usize,
        chunk: &[Stat],
        total: &Stat,
        k: usize,
        best: &mut Option<Split>,
    ) {
        let parent = self.score(total);
        let min_n = self.s.min_samples_leaf.max(1) as u32;
        let ok = |st: &Stat| st.n >= min_n && st.h >= MIN_HESSIAN;
        let mut used: Vec<(f64, u8)> = chunk
            .iter()
            .take(k.min(usize::from(MISSING)))
            .enumerate()
            .filter(|(_, st)| st.n >= MIN_CAT_SUPPORT)
            .map(|(b, st)| (st.g / (st.h + f64::from(MIN_CAT_SUPPORT)), b as u8))
            .collect();
        if used.len() <= 1 {
            return;
        }
        used.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let max_left = MAX_CAT_THRESHOLD.min(used.len().div_ceil(2));
        for reverse in [false, true] {
            let mut left = Stat::default();
            let mut cats: Cats = [0; 4];
            for i in 0..max_left {
                let at = if reverse { used.len() - 1 - i } else { i };
                let Some(&(_, bin)) = used.get(at) else { break };
                if let Some(st) = chunk.get(usize::from(bin)) {
                    left.add(st);
                }
                if let Some(w) = cats.get_mut(usize::from(bin >> 6)) {
                    *w |= 1 << (bin & 63);
                }
                let right = total.minus(&left);
                if !ok(&left) || !ok(&right) {
                    continue;
                }
                let gain = self.score(&left) + self.score(&right) - parent;
                if gain > MIN_GAIN && best.is_none_or(|bs| gain > bs.gain) {
                    *best = Some(Split {
                        gain,
                        feature: f,
                        bin: 0,
                        default_left: false,
                        cats: Some(cats),
                        left,
                        right,
                    });
                }
            }
        }
    }

    /// Grows one tree on `rows` (sorted) with per-row gradients `g`, `h` (indexed by
    /// row), returning its nodes and, for each leaf, its rows in `rows` order.
    fn grow(
        &self,
        rows: &mut [u32],
        g: &[f64],
        h: &[f64],
        features: &[bool],
    ) -> (Vec<GrowNode>, Vec<(usize, usize)>) {
        let gather = |rows: &[u32]| -> (Vec<f64>, Vec<f64>) {
            rows.iter()
                .map(|&r| {
                    (
                        g.get(r as usize).copied().unwrap_or(0.0),
                        h.get(r as usize).copied().unwrap_or(0.0),
                    )
                })
                .unzip()
        };
        let (gr, hr) = gather(rows);
        let total = Stat {
            g: gr.iter().sum(),
            h: hr.iter().sum(),
            n: rows.len() as u32,
        };
        let hist = self.histogram(rows, &gr, &hr, features);
        let can_split = |depth: usize, st: &Stat| {
            self.s.max_depth.is_none_or(|d| depth < d)
                && st.n as usize >= 2 * self.s.min_samples_leaf.max(1)
        };
        let mut nodes = vec![GrowNode::Leaf {
            value: self.leaf_value(&total),
            cover: f64::from(total.n),
        }];
        let best = if can_split(0, &total) {
            self.best_split(&hist, &total, features)
        } else {
            None
        };
        let mut open = vec![Open {
            node: 0,
            start: 0,
            end: rows.len(),
            depth: 0,
            total,
            hist,
            best,
        }];
        let mut done: Vec<(usize, usize, usize)> = Vec::new();
        let mut n_leaves = 1;
        let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
        while n_leaves < self.s.max_leaf_nodes.max(2) {
            // The open leaf whose split gains most (the first on ties).
            let mut pick: Option<(usize, f64)> = None;
            for (i, o) in open.iter().enumerate() {
                if let Some(b) = o.best
                    && pick.is_none_or(|(_, g)| b.gain > g)
                {
                    pick = Some((i, b.gain));
                }
            }
            let Some((i, _)) = pick else { break };
            let leaf = open.swap_remove(i);
            let Some(split) = leaf.best else { break };
            // Stable partition of the leaf's rows.
            let col = self.binned.column(split.feature);
            let span = rows.get_mut(leaf.start..leaf.end).unwrap_or_default();
            scratch.clear();
            let mut n_left = 0;
            for k in 0..span.len() {
                let r = span[k];
                let code = col.get(r as usize).copied().unwrap_or(MISSING);
                if self.goes_left(split.bin, split.default_left, split.cats.as_ref(), code) {
                    span[n_left] = r;
                    n_left += 1;
                } else {
                    scratch.push(r);
                }
            }
            span[n_left..].copy_from_slice(&scratch);
            let mid = leaf.start + n_left;
            let (l_node, r_node) = (nodes.len(), nodes.len() + 1);
            nodes.push(GrowNode::Leaf {
                value: self.leaf_value(&split.left),
                cover: f64::from(split.left.n),
            });
            nodes.push(GrowNode::Leaf {
                value: self.leaf_value(&split.right),
                cover: f64::from(split.right.n),
            });
            if let Some(n) = nodes.get_mut(leaf.node) {
                *n = GrowNode::Split {
                    feature: split.feature,
                    bin: split.bin,
                    default_left: split.default_left,
                    cats: split.cats,
                    left: l_node,
                    right: r_node,
                    cover: f64::from(leaf.total.n),
                };
            }
            n_leaves += 1;
            let depth = leaf.depth + 1;
            let (ls, rs) = (split.left, split.right);
            let (l_split, r_split) = (can_split(depth, &ls), can_split(depth, &rs));
            if !l_split && !r_split {
                done.push((l_node, leaf.start, mid));
                done.push((r_node, mid, leaf.end));
                continue;
            }
            // The smaller child's histogram is built; the larger is the difference.
            let left_smaller = ls.n <= rs.n;
            let s_range = if left_smaller {
                (leaf.start, mid)
            } else {
                (mid, leaf.end)
            };
            let small_rows = rows.get(s_range.0..s_range.1).unwrap_or_default();
            let (gs, hs) = gather(small_rows);
            let small = self.histogram(small_rows, &gs, &hs, features);
            let mut large = leaf.hist;
            for (a, b) in large.iter_mut().zip(&small) {
                *a = a.minus(b);
            }
            let (l_hist, r_hist) = if left_smaller {
                (small, large)
            } else {
                (large, small)
            };
            for (node, start, end, total, hist, splittable) in [
                (l_node, leaf.start, mid, ls, l_hist, l_split),
                (r_node, mid, leaf.end, rs, r_hist, r_split),
            ] {
                let best = if splittable {
                    self.best_split(&hist, &total, features)
                } else {
                    None
                };
                if best.is_some() {
                    open.push(Open {
                        node,
                        start,
                        end,
                        depth,
                        total,
                        hist,
                        best,
                    });
                } else {
                    done.push((node, start, end));
                }
            }
        }
        done.extend(open.into_iter().map(|o| (o.node, o.start, o.end)));
        // Leaf ranges indexed by node.
        let mut ranges = vec![(0, 0); nodes.len()];
        for (node, start, end) in done {
            if let Some(r) = ranges.get_mut(node) {
                *r = (start, end);
            }
        }
        (nodes, ranges)
    }

    /// The leaf node a binned row reaches.
    fn route(&self, nodes: &[GrowNode], row: usize) -> usize {
        let mut i = 0;
        while let Some(GrowNode::Split {
            feature,
            bin,
            default_left,
            cats,
            left,
            right,
            ..
        }) = nodes.get(i)
        {
            let code = self
                .binned
                .column(*feature)
                .get(row)
                .copied()
                .unwrap_or(MISSING);
            i = if self.goes_left(*bin, *default_left, cats.as_ref(), code) {
                *left
            } else {
                *right
            };
        }
        i
    }

    /// The grown tree in Ferry's layout, thresholds read from the bin edges.
    fn to_tree(
        &self,
        nodes: &[GrowNode],
        n_features: usize,
        group: usize,
    ) -> Result<BoostTree, TrainError> {
        let mut preorder = Vec::with_capacity(nodes.len());
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            match nodes.get(i) {
                Some(GrowNode::Split {
                    feature,
                    bin,
                    default_left,
                    cats,
                    left,
                    right,
                    cover,
                }) => {
                    if let Some(cats) = cats {
                        // The left set as category codes: the bins are the codes.
                        preorder.push(BoostPreorder::Split {
                            feature: *feature as u32 | CATEGORICAL,
                            threshold: 0.0,
                            categories: (0..MISSING)
                                .filter(|&c| has_cat(cats, c))
                                .map(u32::from)
                                .collect(),
                            cover: *cover,
                        });
                    } else {
                        let threshold = self
                            .binned
                            .edges
                            .get(*feature)
                            .and_then(|e| e.get(*bin as usize))
                            .copied()
                            .unwrap_or(f64::MAX);
                        let flags = if *default_left { DEFAULT_LEFT } else { 0 };
                        preorder.push(BoostPreorder::Split {
                            feature: *feature as u32 | flags,
                            threshold,
                            categories: Vec::new(),
                            cover: *cover,
                        });
                    }
                    stack.push(*right);
                    stack.push(*left);
                }
                Some(GrowNode::Leaf { value, cover }) => preorder.push(BoostPreorder::Leaf {
                    value: *value,
                    cover: *cover,
                }),
                None => break,
            }
        }
        BoostTree::from_preorder(preorder, n_features, group as u32).map_err(|e| {
            TrainError::Library {
                algorithm: "gradient boosting",
                message: e.to_string(),
            }
        })
    }
}

/// Fills `g` and `h` from the raw scores (`raw` row-major; `g` and `h` output-major:
/// output `c` of row `r` at `c * n + r`).
fn gradients(loss: Loss, y: &[f64], raw: &[f64], g: &mut [f64], h: &mut [f64]) {
    let k = loss.outputs();
    match loss {
        Loss::Squared => {
            for ((gi, hi), (r, t)) in g.iter_mut().zip(h.iter_mut()).zip(raw.iter().zip(y)) {
                *gi = r - t;
                *hi = 1.0;
            }
        }
        Loss::Absolute => {
            for ((gi, hi), (r, t)) in g.iter_mut().zip(h.iter_mut()).zip(raw.iter().zip(y)) {
                *gi = if r > t {
                    1.0
                } else if r < t {
                    -1.0
                } else {
                    0.0
                };
                *hi = 1.0;
            }
        }
        Loss::Logistic => {
            for ((gi, hi), (r, t)) in g.iter_mut().zip(h.iter_mut()).zip(raw.iter().zip(y)) {
                let p = sigmoid(*r);
                *gi = p - t;
                *hi = (p * (1.0 - p)).max(1e-16);
            }
        }
        Loss::Softmax(_) => {
            let mut p = vec![0.0; k];
            for (row, t) in y.iter().enumerate() {
                let r = raw.get(row * k..(row + 1) * k).unwrap_or_default();
                softmax(r, &mut p);
                for (c, pc) in p.iter().enumerate() {
                    // Output-major: each output's gradients are one contiguous slice.
                    let at = c * y.len() + row;
                    let target = if (*t as usize) == c { 1.0 } else { 0.0 };
                    if let (Some(gi), Some(hi)) = (g.get_mut(at), h.get_mut(at)) {
                        *gi = pc - target;
                        *hi = (pc * (1.0 - pc)).max(1e-16);
                    }
                }
            }
        }
    }
}

/// The logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `raw` into `out`.
pub(crate) fn softmax(raw: &[f64], out: &mut [f64]) {
    let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, r) in out.iter_mut().zip(raw) {
        *o = (r - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Mean loss of `raw` scores on `rows`.
fn mean_loss(loss: Loss, y: &[f64], raw: &[f64], rows: &[usize]) -> f64 {
    let k = loss.outputs();
    let mut total = 0.0;
    let mut p = vec![0.0; k];
    for &r in rows {
        let t = y.get(r).copied().unwrap_or(0.0);
        let s = raw.get(r * k..(r + 1) * k).unwrap_or_default();
        total += match loss {
            Loss::Squared => 0.5 * (s[0] - t).powi(2),
            Loss::Absolute => (s[0] - t).abs(),
            Loss::Logistic => {
                let p1 = sigmoid(s[0]).clamp(1e-15, 1.0 - 1e-15);
                -(t * p1.ln() + (1.0 - t) * (1.0 - p1).ln())
            }
            Loss::Softmax(_) => {
                softmax(s, &mut p);
                -p.get(t as usize).copied().unwrap_or(0.0).max(1e-15).ln()
            }
        };
    }
    total / rows.len().max(1) as f64
}

/// The median of `xs` (the mean of the middle two for an even count; 0 for none).
fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The raw-score baseline: the mean target (the median for absolute error), the
/// log-odds of the positive class, or the log of each class's prior.
fn baseline(loss: Loss, y: &[f64], rows: &[usize]) -> Vec<f64> {
    let n = rows.len().max(1) as f64;
    match loss {
        Loss::Squared => vec![rows.iter().map(|&r| y[r]).sum::<f64>() / n],
        Loss::Absolute => vec![median(rows.iter().map(|&r| y[r]).collect())],
        Loss::Logistic => {
            let p = (rows.iter().map(|&r| y[r]).sum::<f64>() / n).clamp(1e-15, 1.0 - 1e-15);
            vec![(p / (1.0 - p)).ln()]
        }
        Loss::Softmax(k) => {
            let mut counts = vec![0.0; k];
            for &r in rows {
                if let Some(c) = counts.get_mut(y[r] as usize) {
                    *c += 1.0;
                }
            }
            counts
                .iter()
                .map(|c| (c / n).clamp(1e-15, 1.0).ln())
                .collect()
        }
    }
}

/// Fits boosted trees to `x` and `y` (regression values, 0/1, or class codes).
pub(crate) fn fit(
    x: &FeatureMatrix,
    y: &[f64],
    loss: Loss,
    s: &Settings,
    progress: &dyn FitProgress,
) -> Result<Fitted, TrainError> {
    let n = x.n_rows();
    let max_bins = s.max_bins.clamp(2, 255);
    if let Some(&(column, n)) = x.categories().iter().find(|(_, n)| *n > max_bins) {
        return Err(TrainError::UnsuitedData {
            algorithm: "gradient boosting",
            reason: format!(
                "input column {column} holds {n} categories; categorical splits take at most \
                 max_bins = {max_bins}: one-hot encode the feature, or raise max_bins (at most 255)"
            ),
        });
    }
    let binned = bin_columns(x, max_bins, s.seed);
    if let Some(folds) = s.cv_folds {
        return fit_cv(&binned, y, loss, s, folds, progress);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);

    // Validation rows for early stopping: a seeded fraction, the rest fits.
    let mut order: Vec<usize> = (0..n).collect();
    let (fit_rows, val_rows): (Vec<usize>, Vec<usize>) = if s.early_stopping {
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let n_val = ((n as f64 * s.validation_fraction).round() as usize).clamp(1, n - 1);
        let (val, fit) = order.split_at(n_val);
        let (mut fit, mut val) = (fit.to_vec(), val.to_vec());
        fit.sort_unstable();
        val.sort_unstable();
        (fit, val)
    } else {
        (order, Vec::new())
    };
    if fit_rows.is_empty() {
        return Err(TrainError::NotEnoughData {
            algorithm: "gradient boosting",
            reason: "no rows to fit".into(),
        });
    }
    let (fitted, _) = boost_rows(
        &binned,
        y,
        loss,
        s,
        &fit_rows,
        &val_rows,
        s.early_stopping,
        rng,
        progress,
    )?;
    Ok(fitted)
}

/// Chooses the number of iterations by `folds`-fold cross-validation on every row (each
/// fold boosted for `max_iter` iterations on the others, its loss on itself recorded
/// after every iteration; the folds in parallel), as XGBoost's `cv` with early stopping
/// does: the first iteration after which the rows' mean held-out loss has not improved
/// by `tol` for `n_iter_no_change` iterations. Then boosts every row for that many.
fn fit_cv(
    binned: &Binned,
    y: &[f64],
    loss: Loss,
    s: &Settings,
    folds: usize,
    progress: &dyn FitProgress,
) -> Result<Fitted, TrainError> {
    let n = binned.n_rows;
    if n < 2 * folds {
        return Err(TrainError::NotEnoughData {
            algorithm: "gradient boosting",
            reason: format!(
                "early_stopping: cv needs at least 2 rows in each of cv_folds = {folds} folds, found {n} rows"
            ),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x6376_666f_6c64);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut fold_of = vec![0usize; n];
    for (i, &r) in order.iter().enumerate() {
        fold_of[r] = i % folds;
    }
    let curves = (0..folds)
        .into_par_iter()
        .map(|f| {
            let (val, fit): (Vec<usize>, Vec<usize>) = (0..n).partition(|&r| fold_of[r] == f);
            let rng = ChaCha8Rng::seed_from_u64(s.seed.wrapping_add(f as u64 + 1));
            let (_, curve) = boost_rows(
                binned,
                y,
                loss,
                s,
                &fit,
                &val,
                false,
                rng,
                &crate::model::NoProgress,
            )?;
            Ok((val.len() as f64, curve))
        })
        .collect::<Result<Vec<_>, TrainError>>()?;
    // The pooled held-out loss after each iteration: folds weighted by their rows.
    let total: f64 = curves.iter().map(|(w, _)| w).sum();
    let mut best = (f64::INFINITY, 1usize);
    for it in 0..s.max_iter {
        let score = curves
            .iter()
            .map(|(w, c)| w * c.get(it).copied().unwrap_or(f64::INFINITY))
            .sum::<f64>()
            / total;
        if score < best.0 - s.tol {
            best = (score, it + 1);
        } else if it + 1 - best.1 >= s.n_iter_no_change {
            break;
        }
    }
    let chosen = Settings {
        max_iter: best.1,
        ..s.clone()
    };
    let all: Vec<usize> = (0..n).collect();
    let rng = ChaCha8Rng::seed_from_u64(s.seed);
    let (fitted, _) = boost_rows(binned, y, loss, &chosen, &all, &[], false, rng, progress)?;
    Ok(fitted)
}

/// Boosts `s.max_iter` iterations on `fit_rows` (sorted), recording the mean loss of
/// `val_rows` after each; with `stop`, stops once it has not improved by `tol` for
/// `n_iter_no_change` iterations and keeps the trees of the best iteration.
#[allow(clippy::too_many_arguments)]
fn boost_rows(
    binned: &Binned,
    y: &[f64],
    loss: Loss,
    s: &Settings,
    fit_rows: &[usize],
    val_rows: &[usize],
    stop: bool,
    mut rng: ChaCha8Rng,
    progress: &dyn FitProgress,
) -> Result<(Fitted, Vec<f64>), TrainError> {
    let n = binned.n_rows;
    let n_features = binned.edges.len();
    let k = loss.outputs();
    let const_hessian = match loss {
        Loss::Squared | Loss::Absolute => Some(1.0),
        Loss::Logistic | Loss::Softmax(_) => None,
    };
    let grower = Grower {
        binned,
        s,
        const_hessian,
    };
    let mut curve = Vec::new();
    let base = baseline(loss, y, fit_rows);
    let mut raw: Vec<f64> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let mut g = vec![0.0; n * k];
    let mut h = vec![0.0; n * k];
    let mut trees = Vec::new();
    let mut best = (f64::INFINITY, 0usize);
    let mut in_sample = vec![false; n];
    progress.start(s.max_iter);
    for iteration in 0..s.max_iter {
        gradients(loss, y, &raw, &mut g, &mut h);
        // Rows and columns this iteration sees.
        let mut rows: Vec<u32> = if s.subsample < 1.0 {
            fit_rows
                .iter()
                .filter(|_| rng.random::<f64>() < s.subsample)
                .map(|&r| r as u32)
                .collect()
        } else {
            fit_rows.iter().map(|&r| r as u32).collect()
        };
        if rows.is_empty() {
            rows = fit_rows.iter().map(|&r| r as u32).collect();
        }
        let mut features = vec![true; n_features];
        if s.colsample_bytree < 1.0 && n_features > 1 {
            let keep = ((n_features as f64 * s.colsample_bytree).ceil() as usize).max(1);
            let mut idx: Vec<usize> = (0..n_features).collect();
            for i in 0..keep {
                let j = rng.random_range(i..n_features);
                idx.swap(i, j);
            }
            features = vec![false; n_features];
            for &f in idx.iter().take(keep) {
                features[f] = true;
            }
        }
        for &r in &rows {
            in_sample[r as usize] = true;
        }
        for out in 0..k {
            let gk = g.get(out * n..(out + 1) * n).unwrap_or_default();
            let hk = h.get(out * n..(out + 1) * n).unwrap_or_default();
            let mut tree_rows = rows.clone();
            let (mut nodes, ranges) = grower.grow(&mut tree_rows, gk, hk, &features);
            if loss == Loss::Absolute {
                // The leaf values of the gradient's sign are only directions: each leaf
                // takes the median residual of its rows (scikit-learn's line search).
                for (node, &(start, end)) in ranges.iter().enumerate() {
                    if let Some(GrowNode::Leaf { value, .. }) = nodes.get_mut(node) {
                        let residuals = tree_rows
                            .get(start..end)
                            .unwrap_or_default()
                            .iter()
                            .map(|&r| {
                                y.get(r as usize).copied().unwrap_or(0.0)
                                    - raw.get(r as usize).copied().unwrap_or(0.0)
                            })
                            .collect::<Vec<f64>>();
                        if !residuals.is_empty() {
                            *value = s.learning_rate * median(residuals);
                        }
                    }
                }
            }
            // Rows the tree was grown on update from their leaf; the others are routed.
            for (node, &(start, end)) in ranges.iter().enumerate() {
                if let Some(GrowNode::Leaf { value, .. }) = nodes.get(node) {
                    for &r in tree_rows.get(start..end).unwrap_or_default() {
                        raw[r as usize * k + out] += value;
                    }
                }
            }
            for r in 0..n {
                if !in_sample[r]
                    && let Some(GrowNode::Leaf { value, .. }) = nodes.get(grower.route(&nodes, r))
                {
                    raw[r * k + out] += value;
                }
            }
            trees.push(grower.to_tree(&nodes, n_features, out)?);
        }
        for &r in &rows {
            in_sample[r as usize] = false;
        }
        progress.step();
        if !val_rows.is_empty() {
            curve.push(mean_loss(loss, y, &raw, val_rows));
        }
        if stop {
            let score = curve.last().copied().unwrap_or(f64::INFINITY);
            if score < best.0 - s.tol {
                best = (score, iteration + 1);
            } else if iteration + 1 - best.1 >= s.n_iter_no_change {
                break;
            }
        }
    }
    let iterations = if stop { best.1.max(1) } else { trees.len() / k };
    trees.truncate(iterations * k);
    Ok((Fitted { base, trees }, curve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NoProgress;

    fn settings() -> Settings {
        Settings {
            max_iter: 50,
            learning_rate: 0.1,
            max_leaf_nodes: 8,
            max_depth: None,
            min_samples_leaf: 2,
            l2_regularization: 0.0,
            max_bins: 255,
            subsample: 1.0,
            colsample_bytree: 1.0,
            early_stopping: false,
            cv_folds: None,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 3,
        }
    }

    #[test]
    fn edges_separate_every_distinct_value_and_quantiles_cap_the_bins() {
        let mut v = vec![3.0, 1.0, 2.0, 2.0, f64::NAN];
        assert_eq!(column_edges(&mut v, 255), vec![1.5, 2.5]);
        let mut many: Vec<f64> = (0..10_000).map(f64::from).collect();
        let e = column_edges(&mut many, 255);
        assert!(e.len() <= 254 && e.len() > 200, "{}", e.len());
        assert!(e.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_step_function_is_learned_and_predictions_match_the_raw_scores() {
        let n = 400;
        let xs: Vec<f64> = (0..n).map(|i| f64::from(i) / 10.0).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|&v| if v < 20.0 { 1.0 } else { 5.0 })
            .collect();
        let x = FeatureMatrix::from_row_major(xs.clone(), n as usize, 1).unwrap();
        let fitted = fit(&x, &y, Loss::Squared, &settings(), &NoProgress).unwrap();
        assert_eq!(fitted.trees.len(), 50);
        for (i, &v) in xs.iter().enumerate() {
            let p = fitted.base[0]
                + fitted
                    .trees
                    .iter()
                    .map(|t| t.predict(&[v]).unwrap())
                    .sum::<f64>();
            assert!((p - y[i]).abs() < 0.05, "{v}: {p}");
        }
    }

    #[test]
    fn missing_values_learn_their_direction() {
        // Missing rows behave like the high group: the default goes right.
        let n = 300;
        let mut xs = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let (v, t) = match i % 3 {
                0 => (1.0, 0.0),
                1 => (9.0, 10.0),
                _ => (f64::NAN, 10.0),
            };
            xs.push(v);
            y.push(t);
        }
        let x = FeatureMatrix::from_row_major(xs, n, 1).unwrap();
        let fitted = fit(&x, &y, Loss::Squared, &settings(), &NoProgress).unwrap();
        let p = |v: f64| {
            fitted.base[0]
                + fitted
                    .trees
                    .iter()
                    .map(|t| t.predict(&[v]).unwrap())
                    .sum::<f64>()
        };
        assert!((p(f64::NAN) - 10.0).abs() < 0.1, "{}", p(f64::NAN));
        assert!(p(1.0) < 0.1);
    }

    #[test]
    fn the_fit_does_not_depend_on_the_thread_count() {
        let n = 3000;
        let mut xs = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = f64::from(i % 97) / 9.0;
            let b = f64::from((i * 31) % 89);
            xs.extend([a, b, (a * b).sin()]);
            y.push(a * 2.0 + (b / 10.0).sin());
        }
        let x = FeatureMatrix::from_row_major(xs, n as usize, 3).unwrap();
        let mut s = settings();
        s.subsample = 0.7;
        s.colsample_bytree = 0.67;
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit(&x, &y, Loss::Squared, &s, &NoProgress).unwrap().trees)
        };
        assert_eq!(run(1), run(4));
    }
}
