//! Ferry's own CART fitting for regression forests.
//!
//! smartcore grows each tree of a forest from row indices: for every split candidate it
//! reads the feature value and the target of each row at random places in the training
//! matrix, and every one-tree forest sorts every column again. This module sorts the
//! columns once per forest ([`SortedColumns`]) and replaces each value by its rank among
//! the column's distinct values. A tree then works on 8-byte elements (rank, row) per
//! column, with the rows' weighted targets in one small array indexed by the tree's own
//! row numbering, so that scanning a node and partitioning it move a third of the bytes
//! and stay in cache.
//!
//! The algorithm is smartcore's, step for step, so that the trees are identical to the
//! ones smartcore fits with the same seed (the tests here and [`crate::model::forest`]'s
//! `parity` check it on every probe row): the same bootstrap draws and per-node feature
//! shuffles from the tree's `SmallRng`, the same column order (smartcore's own argsort),
//! the same traversal order, the same split score and tie-breaking (a later candidate
//! replaces the best only when strictly better), the same midpoint thresholds and the
//! same summation order for every leaf value. Comparing ranks is comparing values: two
//! values share a rank exactly when they are equal, and a row goes left of a split
//! exactly when its rank is at most the rank below the threshold.

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use smartcore::linalg::basic::arrays::MutArrayView1;

use crate::frame::FeatureMatrix;
use crate::model::TreeError;
use crate::model::tree::flat::{FlatTree, PreorderNode};

/// One column of the training matrix, sorted.
struct SortedColumn {
    /// Row indices in ascending order of value.
    order: Vec<u32>,
    /// The rank of each of those rows' values among the column's distinct values, in
    /// the same order.
    ranks: Vec<u32>,
    /// The distinct values, ascending: `distinct[rank]`.
    distinct: Vec<f64>,
}

/// The training matrix by column, each column in value order. Computed once per forest
/// and shared by its trees.
pub(crate) struct SortedColumns {
    columns: Vec<SortedColumn>,
    n_rows: usize,
}

impl SortedColumns {
    /// Sorts every column of `x`. Rows beyond `u32::MAX` are refused.
    pub(crate) fn new(x: &FeatureMatrix) -> Result<Self, TreeError> {
        let n_rows = x.n_rows();
        if u32::try_from(n_rows).is_err() {
            return Err(TreeError::TooManyRows(n_rows));
        }
        let columns = (0..x.n_cols())
            .map(|j| {
                let mut col: Vec<f64> = x
                    .rows()
                    .map(|row| row.get(j).copied().unwrap_or(f64::NAN))
                    .collect();
                // smartcore's argsort, so that rows with equal values come in the order
                // smartcore sees them and every sum is taken in the same order. It
                // sorts `col` in place as well.
                let order: Vec<u32> = col.argsort_mut().into_iter().map(|i| i as u32).collect();
                let mut ranks = Vec::with_capacity(n_rows);
                let mut distinct: Vec<f64> = Vec::new();
                for &v in &col {
                    if distinct.last() != Some(&v) {
                        distinct.push(v);
                    }
                    ranks.push((distinct.len() - 1) as u32);
                }
                SortedColumn {
                    order,
                    ranks,
                    distinct,
                }
            })
            .collect();
        Ok(Self { columns, n_rows })
    }

    fn n_cols(&self) -> usize {
        self.columns.len()
    }
}

/// The growth limits of one tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeLimits {
    /// Maximum depth, counting the root as 1; `u16::MAX` for unlimited.
    pub(crate) max_depth: u16,
    /// Minimum bootstrap-weighted rows in a leaf.
    pub(crate) min_samples_leaf: usize,
    /// Minimum bootstrap-weighted rows to split a node.
    pub(crate) min_samples_split: usize,
    /// Columns drawn as split candidates at each node.
    pub(crate) mtry: usize,
}

/// The bootstrap sample smartcore's forest draws for a tree seeded with `seed`: `n`
/// draws with replacement from `SmallRng::seed_from_u64(seed)`, as counts per row.
pub(crate) fn bootstrap_counts(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        let pick: usize = rng.random_range(0..n);
        if let Some(c) = counts.get_mut(pick) {
            *c += 1;
        }
    }
    counts
}

/// A row of a node in one column's order: the rank of its value in that column and the
/// row's index in the tree's numbering (rows with a positive count, in row order).
#[derive(Debug, Clone, Copy, Default)]
struct Element {
    rank: u32,
    id: u32,
}

/// Weighted sum of targets and total weight (the bootstrap count, an exact integer).
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    sum: f64,
    mass: f64,
}

impl Stats {
    #[inline]
    fn add(&mut self, row: Stats) {
        self.mass += row.mass;
        self.sum += row.sum;
    }

    fn mean(self) -> f64 {
        if self.mass > 0.0 {
            self.sum / self.mass
        } else {
            0.0
        }
    }
}

/// smartcore's proxy for the reduction of squared error (the reduction times the
/// parent's weight).
#[inline]
fn proxy(t: Stats, f: Stats) -> f64 {
    if t.mass <= 0.0 || f.mass <= 0.0 {
        return 0.0;
    }
    let d = t.sum * f.mass - f.sum * t.mass;
    (d * d) / (t.mass * f.mass)
}

/// A node's best split so far: the column, the rank of the largest value going left
/// and of the smallest going right, and its score.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    left_rank: u32,
    right_rank: u32,
    score: f64,
}

/// A node while the tree grows, children by index as smartcore stores them.
#[derive(Debug, Clone, Copy)]
struct GrowNode {
    value: f64,
    split: Option<Split>,
    children: Option<(usize, usize)>,
}

impl GrowNode {
    fn leaf(value: f64) -> Self {
        Self {
            value,
            split: None,
            children: None,
        }
    }
}

/// A node waiting to be split: its range in every column, depth and stats.
#[derive(Debug, Clone, Copy)]
struct Visit {
    node: usize,
    start: usize,
    end: usize,
    level: u16,
    stats: Stats,
}

struct Grower<'a> {
    sorted: &'a SortedColumns,
    limits: TreeLimits,
    /// Per tree row: its weighted target and count.
    rows: Vec<Stats>,
    columns: Vec<Vec<Element>>,
    scratch: Vec<Element>,
    in_true: Vec<bool>,
    variables: Vec<usize>,
    rng: SmallRng,
    nodes: Vec<GrowNode>,
}

impl Grower<'_> {
    /// Draws the node's candidate columns and records its best split, if any.
    fn find_best_cutoff(&mut self, visit: &Visit, n: f64) -> bool {
        self.variables.shuffle(&mut self.rng);
        for k in 0..self.limits.mtry.min(self.variables.len()) {
            let j = self.variables.get(k).copied().unwrap_or(0);
            self.find_best_split(visit, n, j);
        }
        self.nodes
            .get(visit.node)
            .is_some_and(|node| node.split.is_some())
    }

    fn find_best_split(&mut self, visit: &Visit, n: f64, j: usize) {
        let Some(slice) = self
            .columns
            .get(j)
            .and_then(|c| c.get(visit.start..visit.end))
        else {
            return;
        };
        let (Some(first), Some(last)) = (slice.first(), slice.last()) else {
            return;
        };
        if first.rank == last.rank {
            // A constant column has no boundary to split at.
            return;
        }
        let Some(node) = self.nodes.get_mut(visit.node) else {
            return;
        };
        let min_leaf = self.limits.min_samples_leaf as f64;
        let mut best = node.split;
        let mut t = Stats::default();
        let mut prev = first.rank;
        for &e in slice {
            if e.rank != prev {
                if t.mass >= min_leaf && n - t.mass >= min_leaf {
                    let f = Stats {
                        mass: visit.stats.mass - t.mass,
                        sum: visit.stats.sum - t.sum,
                    };
                    let score = proxy(t, f);
                    if best.is_none_or(|b| score > b.score) {
                        best = Some(Split {
                            feature: j,
                            left_rank: prev,
                            right_rank: e.rank,
                            score,
                        });
                    }
                }
                prev = e.rank;
            }
            t.add(self.rows.get(e.id as usize).copied().unwrap_or_default());
        }
        node.split = best;
    }

    /// The threshold of a split: smartcore's midpoint between the two values, or the
    /// lower value when the midpoint rounds up to the higher one.
    fn threshold(&self, split: Split) -> f64 {
        let distinct = self
            .sorted
            .columns
            .get(split.feature)
            .map_or(&[][..], |c| &c.distinct[..]);
        let prev = distinct
            .get(split.left_rank as usize)
            .copied()
            .unwrap_or(f64::NAN);
        let next = distinct
            .get(split.right_rank as usize)
            .copied()
            .unwrap_or(f64::NAN);
        let mid = prev + (next - prev) / 2.0;
        if mid < next { mid } else { prev }
    }

    /// Splits a node with a recorded split, adds its children, and queues those that
    /// can split further.
    fn split(&mut self, visit: Visit, stack: &mut Vec<Visit>) {
        let Some(split) = self.nodes.get(visit.node).and_then(|n| n.split) else {
            return;
        };
        let Some(col) = self
            .columns
            .get(split.feature)
            .and_then(|c| c.get(visit.start..visit.end))
        else {
            return;
        };
        let mut t = Stats::default();
        let mut f = Stats::default();
        let mut n_true = 0usize;
        for &e in col {
            let goes_left = e.rank <= split.left_rank;
            if let Some(flag) = self.in_true.get_mut(e.id as usize) {
                *flag = goes_left;
            }
            let row = self.rows.get(e.id as usize).copied().unwrap_or_default();
            if goes_left {
                t.add(row);
                n_true += 1;
            } else {
                f.add(row);
            }
        }
        let limits = self.limits;
        let (min_leaf, min_split) = (
            limits.min_samples_leaf as f64,
            limits.min_samples_split as f64,
        );
        if t.mass < min_leaf || f.mass < min_leaf {
            if let Some(node) = self.nodes.get_mut(visit.node) {
                node.split = None;
            }
            return;
        }
        let left = self.nodes.len();
        self.nodes.push(GrowNode::leaf(t.mean()));
        self.nodes.push(GrowNode::leaf(f.mean()));
        if let Some(node) = self.nodes.get_mut(visit.node) {
            node.children = Some((left, left + 1));
        }
        let level = visit.level + 1;
        let true_can_split = level < limits.max_depth && t.mass >= min_split;
        let false_can_split = level < limits.max_depth && f.mass >= min_split;
        if !true_can_split && !false_can_split {
            return;
        }
        for column in &mut self.columns {
            if let Some(range) = column.get_mut(visit.start..visit.end) {
                stable_partition(range, &mut self.scratch, &self.in_true);
            }
        }
        let mid = visit.start + n_true;
        let true_visit = Visit {
            node: left,
            start: visit.start,
            end: mid,
            level,
            stats: t,
        };
        if true_can_split && self.find_best_cutoff(&true_visit, t.mass) {
            stack.push(true_visit);
        }
        let false_visit = Visit {
            node: left + 1,
            start: mid,
            end: visit.end,
            level,
            stats: f,
        };
        if false_can_split && self.find_best_cutoff(&false_visit, f.mass) {
            stack.push(false_visit);
        }
    }

    /// The grown tree in preorder.
    fn preorder(&self) -> Result<Vec<PreorderNode>, TreeError> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let node = self.nodes.get(i).ok_or(TreeError::MissingNode(i))?;
            match (node.children, node.split) {
                (Some((left, right)), Some(split)) => {
                    let feature = u32::try_from(split.feature)
                        .map_err(|_| TreeError::ColumnTooLarge(split.feature))?;
                    out.push(PreorderNode::Split {
                        feature,
                        threshold: self.threshold(split),
                    });
                    stack.push(right);
                    stack.push(left);
                }
                _ => out.push(PreorderNode::Leaf(node.value)),
            }
        }
        Ok(out)
    }
}

/// Moves the rows that go left to the front of `slice`, keeping the order on each side.
/// Branch-free in the loop: which side a row goes to is unpredictable, so each element
/// is written to both places and only one cursor advances.
fn stable_partition(slice: &mut [Element], scratch: &mut [Element], in_true: &[bool]) {
    let n = slice.len();
    let Some(scratch) = scratch.get_mut(..n) else {
        return;
    };
    let (mut w, mut f) = (0usize, 0usize);
    for i in 0..n {
        let Some(&e) = slice.get(i) else { break };
        let left = in_true.get(e.id as usize).copied().unwrap_or(false);
        // w <= i and f <= i: both writes are in bounds and never clobber an unread row.
        if let Some(dst) = slice.get_mut(w) {
            *dst = e;
        }
        if let Some(dst) = scratch.get_mut(f) {
            *dst = e;
        }
        w += usize::from(left);
        f += usize::from(!left);
    }
    if let (Some(rest), Some(right)) = (slice.get_mut(w..), scratch.get(..f)) {
        rest.copy_from_slice(right);
    }
}

/// Fits one regression tree on the rows with a positive bootstrap count (`counts`),
/// drawing each node's candidate columns from `SmallRng::seed_from_u64(seed)`.
pub(crate) fn fit_regression_tree(
    sorted: &SortedColumns,
    y: &[f64],
    counts: &[u32],
    limits: TreeLimits,
    seed: u64,
) -> Result<FlatTree, TreeError> {
    if y.len() != sorted.n_rows || counts.len() != sorted.n_rows {
        return Err(TreeError::Lengths {
            rows: sorted.n_rows,
            targets: y.len(),
            counts: counts.len(),
        });
    }
    let n_cols = sorted.n_cols();
    // Root statistics over every row in row order, as smartcore sums them; the tree's
    // own numbering of the rows with a positive count.
    let mut root = Stats::default();
    let mut rows = Vec::new();
    let mut ids = vec![u32::MAX; sorted.n_rows];
    for ((&target, &c), id) in y.iter().zip(counts).zip(&mut ids) {
        let mass = f64::from(c);
        let weighted = target * mass;
        root.mass += mass;
        root.sum += weighted;
        if c > 0 {
            *id = rows.len() as u32;
            rows.push(Stats {
                sum: weighted,
                mass,
            });
        }
    }
    let n_kept = rows.len();
    let columns: Vec<Vec<Element>> = sorted
        .columns
        .iter()
        .map(|column| {
            // Branch-free: about a third of the rows are out of the bag, unpredictably,
            // so every row is written and the cursor advances only for the kept ones.
            let mut col = vec![Element::default(); n_kept + 1];
            let mut w = 0usize;
            for (&row, &rank) in column.order.iter().zip(&column.ranks) {
                let id = ids.get(row as usize).copied().unwrap_or(u32::MAX);
                if let Some(slot) = col.get_mut(w) {
                    *slot = Element { rank, id };
                }
                w += usize::from(id != u32::MAX);
            }
            col.truncate(n_kept);
            col
        })
        .collect();
    let mut grower = Grower {
        sorted,
        limits,
        rows,
        columns,
        scratch: vec![Element::default(); n_kept],
        in_true: vec![false; n_kept],
        variables: (0..n_cols).collect(),
        rng: SmallRng::seed_from_u64(seed),
        nodes: vec![GrowNode::leaf(root.mean())],
    };
    let root_visit = Visit {
        node: 0,
        start: 0,
        end: n_kept,
        level: 1,
        stats: root,
    };
    let mut stack = Vec::new();
    if limits.max_depth > 1
        && n_kept > 0
        && root.mass >= limits.min_samples_split as f64
        && grower.find_best_cutoff(&root_visit, root.mass)
    {
        stack.push(root_visit);
    }
    // Only nodes above the depth limit are queued (root and children alike).
    while let Some(visit) = stack.pop() {
        grower.split(visit, &mut stack);
    }
    FlatTree::from_preorder(grower.preorder()?, n_cols)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use smartcore::ensemble::random_forest_regressor::{
        RandomForestRegressor, RandomForestRegressorParameters,
    };
    use smartcore::linalg::basic::matrix::DenseMatrix;

    use super::*;

    type ScForest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

    /// smartcore's one-tree forest and Ferry's tree for the same seed and limits give
    /// the same bits on every row of `probe`.
    fn assert_same_as_smartcore(
        x: &FeatureMatrix,
        y: &[f64],
        probe: &FeatureMatrix,
        limits: TreeLimits,
        seed: u64,
    ) {
        let sorted = SortedColumns::new(x).unwrap();
        let counts = bootstrap_counts(x.n_rows(), seed);
        let ours = fit_regression_tree(&sorted, y, &counts, limits, seed).unwrap();
        let mut params = RandomForestRegressorParameters::default()
            .with_n_trees(1)
            .with_m(limits.mtry)
            .with_min_samples_leaf(limits.min_samples_leaf)
            .with_min_samples_split(limits.min_samples_split)
            .with_seed(seed);
        if limits.max_depth < u16::MAX {
            params = params.with_max_depth(limits.max_depth);
        }
        let dense = DenseMatrix::new(x.n_rows(), x.n_cols(), x.values().to_vec(), false).unwrap();
        let sc = ScForest::fit(&dense, &y.to_vec(), params).unwrap();
        let probe_dense = DenseMatrix::new(
            probe.n_rows(),
            probe.n_cols(),
            probe.values().to_vec(),
            false,
        )
        .unwrap();
        let theirs = sc.predict(&probe_dense).unwrap();
        for (r, (row, t)) in probe.rows().zip(&theirs).enumerate() {
            let (_, v) = ours.leaf(row).unwrap();
            assert_eq!(v.to_bits(), t.to_bits(), "row {r}: ours {v}, smartcore {t}");
        }
    }

    fn dataset(values: &[(u8, u8, u8, i16)]) -> (FeatureMatrix, Vec<f64>) {
        // Few distinct values per column, so ties in value and in split score are common.
        let x: Vec<f64> = values
            .iter()
            .flat_map(|&(a, b, c, _)| [f64::from(a % 7), f64::from(b % 3), f64::from(c) * 0.25])
            .collect();
        let y = values.iter().map(|&(.., t)| f64::from(t) / 8.0).collect();
        (
            FeatureMatrix::from_row_major(x, values.len(), 3).unwrap(),
            y,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn grows_the_tree_smartcore_grows(
            rows in prop::collection::vec(any::<(u8, u8, u8, i16)>(), 2..120),
            max_depth in prop::option::of(1u16..8),
            min_samples_leaf in 1usize..4,
            min_samples_split in 2usize..6,
            mtry in 1usize..=3,
            seed in any::<u64>(),
        ) {
            let (x, y) = dataset(&rows);
            let limits = TreeLimits {
                max_depth: max_depth.unwrap_or(u16::MAX),
                min_samples_leaf,
                min_samples_split,
                mtry,
            };
            assert_same_as_smartcore(&x, &y, &x, limits, seed);
        }
    }

    #[test]
    fn grows_smartcores_tree_on_a_larger_table_with_unseen_probe_rows() {
        let n = 3_000;
        let mut values = Vec::with_capacity(n * 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f64;
            let (a, b, c, d) = (
                (t * 0.731).sin() * 3.0,
                ((i * 7) % 11) as f64,
                (t * 0.013).cos(),
                f64::from(u8::from(i % 5 == 0)),
            );
            values.extend([a, b, c, d]);
            y.push(a * 2.0 + b - c * 4.0 + d * 10.0 + ((i * 13) % 17) as f64 * 0.1);
        }
        let x = FeatureMatrix::from_row_major(values, n, 4).unwrap();
        let probe: Vec<f64> = (0..500)
            .flat_map(|i| {
                let t = f64::from(i) * 0.37;
                [t.sin() * 3.0, f64::from(i % 12), t.cos(), f64::from(i % 2)]
            })
            .collect();
        let probe = FeatureMatrix::from_row_major(probe, 500, 4).unwrap();
        for (mtry, seed) in [(4, 1), (2, 99), (1, 12_345)] {
            let limits = TreeLimits {
                max_depth: u16::MAX,
                min_samples_leaf: 1,
                min_samples_split: 2,
                mtry,
            };
            assert_same_as_smartcore(&x, &y, &x, limits, seed);
            assert_same_as_smartcore(&x, &y, &probe, limits, seed);
        }
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let x = FeatureMatrix::from_row_major(vec![1.0, 2.0], 2, 1).unwrap();
        let sorted = SortedColumns::new(&x).unwrap();
        let limits = TreeLimits {
            max_depth: 3,
            min_samples_leaf: 1,
            min_samples_split: 2,
            mtry: 1,
        };
        let err = fit_regression_tree(&sorted, &[1.0], &[1, 1], limits, 0).unwrap_err();
        assert_eq!(err.to_string(), "2 rows, 1 targets and 2 counts");
    }
}
