//! Ferry's own tree layout, shared by decision trees and forests.
//!
//! smartcore fits a tree; [`FlatTree::from_smartcore`] converts it into flat arrays that
//! Ferry stores and predicts with, so an artifact never depends on another crate's
//! private struct layout:
//!
//! - nodes in depth-first preorder; an internal node holds its split feature, its
//!   threshold (a row goes left when `x[feature] <= threshold`, as in smartcore and
//!   scikit-learn) and the index of its right child (its left child is the next node);
//! - a leaf holds its index among the leaves; a regression leaf also holds its value, a
//!   classification leaf's class counts live beside the tree ([`ClassTree`]).
//!
//! Everything read from outside (a smartcore tree, an artifact) is checked when the
//! tree is built: children point forward and inside the tree, features are below the
//! model's width, thresholds and values are finite. Prediction then only follows
//! indices that were checked.

use serde::Deserialize;

use crate::model::TreeError;

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;

/// One node; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// Split feature of an internal node, [`LEAF`] for a leaf.
    feature: u32,
    /// Right child of an internal node; leaf index of a leaf.
    next: u32,
    /// Threshold of an internal node; value of a regression leaf (0 for a
    /// classification leaf).
    value: f64,
}

/// A fitted tree in Ferry's flat layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FlatTree {
    nodes: Vec<Node>,
    n_leaves: u32,
}

/// One node as the binary encoding and the smartcore conversion describe it: a split
/// or a leaf, in preorder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PreorderNode {
    /// An internal node; its left subtree follows, then its right subtree.
    Split {
        /// Input column.
        feature: u32,
        /// Rows with `x[feature] <= threshold` go left.
        threshold: f64,
    },
    /// A leaf with its value (regression) or 0 (classification).
    Leaf(f64),
}

/// The bookkeeping of reading a tree in preorder, shared by Ferry's tree layouts: the
/// split each node is the right child of, and whether the nodes form exactly one
/// complete binary tree.
#[derive(Debug)]
pub(crate) struct PreorderLinks {
    /// Splits whose right child is still to come.
    open: Vec<usize>,
    /// Subtrees still missing: 1 for the root, +1 per split, -1 per leaf.
    missing: usize,
    /// The next node is the right child of the innermost open split.
    pending_right: bool,
}

impl PreorderLinks {
    /// Before the root.
    pub(crate) fn new() -> Self {
        Self {
            open: Vec::new(),
            missing: 1,
            pending_right: false,
        }
    }

    /// Node `index` (a split or a leaf) comes next: its index as stored, and the split
    /// whose right child it is, if any.
    pub(crate) fn next(
        &mut self,
        index: usize,
        split: bool,
    ) -> Result<(u32, Option<usize>), TreeError> {
        if self.missing == 0 {
            return Err(TreeError::NodesAfterEnd);
        }
        let stored = u32::try_from(index).map_err(|_| TreeError::TooManyNodes)?;
        let parent = if self.pending_right {
            Some(self.open.pop().ok_or(TreeError::Orphan)?)
        } else {
            None
        };
        if split {
            self.open.push(index);
            self.missing += 1;
        } else {
            self.missing -= 1;
        }
        self.pending_right = !split;
        Ok((stored, parent))
    }

    /// Checks that every split got both children.
    pub(crate) fn finish(&self) -> Result<(), TreeError> {
        if self.missing != 0 || !self.open.is_empty() {
            return Err(TreeError::Incomplete(self.missing));
        }
        Ok(())
    }
}

/// What explanations need of a tree in preorder (left child next, right child by
/// `right`), computed once when the tree is built: its cover-weighted mean leaf value
/// (each split the mean of its children weighted by their covers) and its depth (edges
/// from the root to the deepest leaf).
pub(crate) fn shape<N>(
    nodes: &[N],
    covers: &[f64],
    is_leaf: impl Fn(&N) -> bool,
    right: impl Fn(&N) -> usize,
    value: impl Fn(&N) -> f64,
) -> (f64, usize) {
    let cover = |i: usize| covers.get(i).copied().unwrap_or(0.0);
    // Children follow their parents: means from the end, depths from the start.
    let mut mean = vec![0.0; nodes.len()];
    for (i, node) in nodes.iter().enumerate().rev() {
        let m = if is_leaf(node) {
            value(node)
        } else {
            let (l, r) = (i + 1, right(node));
            let (ml, mr) = (
                mean.get(l).copied().unwrap_or(0.0),
                mean.get(r).copied().unwrap_or(0.0),
            );
            let total = cover(l) + cover(r);
            if total > 0.0 {
                (ml * cover(l) + mr * cover(r)) / total
            } else {
                (ml + mr) / 2.0
            }
        };
        if let Some(slot) = mean.get_mut(i) {
            *slot = m;
        }
    }
    let mut depth = vec![0usize; nodes.len()];
    let mut deepest = 0;
    for (i, node) in nodes.iter().enumerate() {
        let d = depth.get(i).copied().unwrap_or(0);
        deepest = deepest.max(d);
        if !is_leaf(node) {
            for child in [i + 1, right(node)] {
                if let Some(slot) = depth.get_mut(child) {
                    *slot = d + 1;
                }
            }
        }
    }
    (mean.first().copied().unwrap_or(0.0), deepest)
}

impl FlatTree {
    /// Builds a tree from its nodes in preorder, checking that they form exactly one
    /// complete binary tree over `n_features` input columns.
    pub(crate) fn from_preorder(
        preorder: impl IntoIterator<Item = PreorderNode>,
        n_features: usize,
    ) -> Result<Self, TreeError> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut links = PreorderLinks::new();
        let mut n_leaves: u32 = 0;
        for node in preorder {
            let split = matches!(node, PreorderNode::Split { .. });
            let (index, parent) = links.next(nodes.len(), split)?;
            if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
                p.next = index;
            }
            match node {
                PreorderNode::Split { feature, threshold } => {
                    if feature as usize >= n_features || feature == LEAF {
                        return Err(TreeError::Feature {
                            node: index,
                            feature,
                            n_features,
                        });
                    }
                    if !threshold.is_finite() {
                        return Err(TreeError::Threshold {
                            node: index,
                            threshold,
                        });
                    }
                    nodes.push(Node {
                        feature,
                        next: 0,
                        value: threshold,
                    });
                }
                PreorderNode::Leaf(value) => {
                    if !value.is_finite() {
                        return Err(TreeError::LeafValue {
                            leaf: n_leaves,
                            value,
                        });
                    }
                    nodes.push(Node {
                        feature: LEAF,
                        next: n_leaves,
                        value,
                    });
                    n_leaves += 1;
                }
            }
        }
        links.finish()?;
        Ok(Self { nodes, n_leaves })
    }

    /// The nodes in preorder, as [`Self::from_preorder`] takes them.
    pub(crate) fn preorder(&self) -> impl Iterator<Item = PreorderNode> + '_ {
        self.nodes.iter().map(|n| {
            if n.feature == LEAF {
                PreorderNode::Leaf(n.value)
            } else {
                PreorderNode::Split {
                    feature: n.feature,
                    threshold: n.value,
                }
            }
        })
    }

    /// Number of nodes.
    pub(crate) fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Number of leaves.
    pub(crate) fn n_leaves(&self) -> usize {
        self.n_leaves as usize
    }

    /// Split `i` as (column, threshold, right child); `None` for a leaf.
    pub(crate) fn split(&self, i: usize) -> Option<(u32, f64, u32)> {
        let node = self.nodes.get(i)?;
        (node.feature != LEAF).then_some((node.feature, node.value, node.next))
    }

    /// The leaves' values, in leaf order (preorder).
    pub(crate) fn leaf_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.feature == LEAF)
            .map(|n| n.value)
    }

    /// Split `i` as (column, left child, right child); `None` for a leaf.
    fn split_at(&self, i: usize) -> Option<(usize, usize, usize)> {
        let node = self.nodes.get(i)?;
        (node.feature != LEAF).then_some((node.feature as usize, i + 1, node.next as usize))
    }

    /// Whether `row` goes left at split `i`: `x <= threshold`, so NaN goes right.
    fn goes_left_at(&self, i: usize, row: &[f64]) -> bool {
        self.nodes
            .get(i)
            .and_then(|n| row.get(n.feature as usize).map(|x| *x <= n.value))
            .unwrap_or(false)
    }

    /// Split `i`'s threshold; missing values go right.
    fn threshold_at(&self, i: usize) -> Option<(f64, bool)> {
        let node = self.nodes.get(i)?;
        (node.feature != LEAF).then_some((node.value, false))
    }

    /// The leaf `row` falls into: its leaf index and value. `None` only when `row` is
    /// narrower than the tree's features (callers check the width first).
    #[inline]
    pub(crate) fn leaf(&self, row: &[f64]) -> Option<(usize, f64)> {
        let mut i = 0usize;
        loop {
            let node = self.nodes.get(i)?;
            if node.feature == LEAF {
                return Some((node.next as usize, node.value));
            }
            // Children point forward (checked when built), so this terminates.
            i = if *row.get(node.feature as usize)? <= node.value {
                i + 1
            } else {
                node.next as usize
            };
        }
    }

    /// Converts smartcore's node list (root first, children by index) into preorder,
    /// returning the tree and, in leaf order, each leaf's smartcore output and sample
    /// count (classification trees record it).
    pub(crate) fn from_smartcore<O: Copy>(
        nodes: &[ScNode<O>],
        n_features: usize,
        leaf_value: impl Fn(O) -> f64,
    ) -> Result<(Self, Vec<ScLeaf<O>>), TreeError> {
        let mut preorder = Vec::with_capacity(nodes.len());
        let mut outputs = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if preorder.len() > nodes.len() {
                return Err(TreeError::Cycle);
            }
            let node = nodes.get(i).ok_or(TreeError::MissingNode(i))?;
            match (node.true_child, node.false_child, node.split_value) {
                (Some(left), Some(right), Some(threshold)) => {
                    let feature = u32::try_from(node.split_feature)
                        .map_err(|_| TreeError::ColumnTooLarge(node.split_feature))?;
                    preorder.push(PreorderNode::Split { feature, threshold });
                    stack.push(right);
                    stack.push(left);
                }
                (None, None, _) => {
                    preorder.push(PreorderNode::Leaf(leaf_value(node.output)));
                    outputs.push((node.output, node.n_node_samples));
                }
                _ => return Err(TreeError::OneChild(i)),
            }
        }
        Ok((Self::from_preorder(preorder, n_features)?, outputs))
    }
}

/// A leaf of a converted smartcore tree: smartcore's output and, for classification
/// trees, the sample count it recorded.
pub(crate) type ScLeaf<O> = (O, Option<usize>);

/// The fields of a smartcore tree node that the conversion reads (smartcore's serde
/// names; the others are ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct ScNode<O> {
    output: O,
    #[serde(default)]
    n_node_samples: Option<usize>,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

impl<O: Copy> ScNodes<O> {
    /// The output of the leaf `row` reaches in smartcore's own node list (`<=` goes to
    /// the true child, as smartcore predicts): an independent check of the conversion.
    pub(crate) fn leaf_output(&self, row: &[f64]) -> Option<O> {
        let mut i = 0;
        for _ in 0..=self.nodes.len() {
            let node = self.nodes.get(i)?;
            match (node.true_child, node.false_child, node.split_value) {
                (Some(t), Some(f), Some(v)) => {
                    i = if *row.get(node.split_feature)? <= v {
                        t
                    } else {
                        f
                    };
                }
                _ => return Some(node.output),
            }
        }
        None
    }
}

/// The node list of a smartcore tree.
#[derive(Debug, Deserialize)]
pub(crate) struct ScNodes<O> {
    pub(crate) nodes: Vec<ScNode<O>>,
}

/// A classification tree: the flat tree and, per leaf, the count of each class among
/// the (bootstrap-weighted) rows it was fitted on. Probabilities are the leaf's class
/// shares, computed once when the tree is built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassTree {
    tree: FlatTree,
    n_classes: usize,
    counts: Vec<u32>,
    proba: Vec<f64>,
    /// Rows (bootstrap-weighted) that reached each node: what explanations weigh
    /// paths by.
    covers: Vec<f64>,
    /// The class distribution of all the tree's rows: its cover-weighted mean leaf
    /// distribution, the tree's part of an explanation's base.
    expected: Vec<f64>,
    /// Edges from the root to the deepest leaf.
    depth: usize,
}

impl ClassTree {
    /// The tree's nodes.
    pub(crate) fn flat(&self) -> &FlatTree {
        &self.tree
    }

    /// The class distribution of each leaf, `n_classes` values per leaf in leaf order.
    pub(crate) fn leaf_probabilities(&self) -> &[f64] {
        &self.proba
    }

    /// Checks that `counts` has `n_classes` entries per leaf, each leaf with at least
    /// one row, and computes the leaf probabilities.
    pub(crate) fn new(
        tree: FlatTree,
        n_classes: usize,
        counts: Vec<u32>,
    ) -> Result<Self, TreeError> {
        if n_classes == 0 || counts.len() != tree.n_leaves() * n_classes {
            return Err(TreeError::Counts {
                counts: counts.len(),
                leaves: tree.n_leaves(),
                classes: n_classes,
            });
        }
        let mut proba = Vec::with_capacity(counts.len());
        for (leaf, c) in counts.chunks_exact(n_classes).enumerate() {
            let total: u64 = c.iter().map(|&v| u64::from(v)).sum();
            if total == 0 {
                return Err(TreeError::EmptyLeaf(leaf));
            }
            proba.extend(c.iter().map(|&v| f64::from(v) / total as f64));
        }
        // Children follow their parents, so one pass from the end fills every cover.
        let mut covers = vec![0.0; tree.nodes.len()];
        for i in (0..tree.nodes.len()).rev() {
            let node = tree.nodes[i];
            covers[i] = if node.feature == LEAF {
                let leaf = node.next as usize;
                counts
                    .get(leaf * n_classes..(leaf + 1) * n_classes)
                    .map_or(0.0, |c| c.iter().map(|&v| f64::from(v)).sum())
            } else {
                covers.get(i + 1).copied().unwrap_or(0.0)
                    + covers.get(node.next as usize).copied().unwrap_or(0.0)
            };
        }
        let mut expected = vec![0.0; n_classes];
        for leaf in counts.chunks_exact(n_classes) {
            for (e, &c) in expected.iter_mut().zip(leaf) {
                *e += f64::from(c);
            }
        }
        let total: f64 = expected.iter().sum();
        expected.iter_mut().for_each(|e| *e /= total.max(1.0));
        let (_, depth) = shape(
            &tree.nodes,
            &covers,
            |n| n.feature == LEAF,
            |n| n.next as usize,
            |_| 0.0,
        );
        Ok(Self {
            tree,
            n_classes,
            counts,
            proba,
            covers,
            expected,
            depth,
        })
    }

    /// Routes the training rows (with their weights: bootstrap counts, or 1) through
    /// `tree` and counts each leaf's classes.
    pub(crate) fn count(
        tree: FlatTree,
        n_classes: usize,
        x: &crate::frame::FeatureMatrix,
        codes: &[u32],
        weights: &[u32],
    ) -> Result<Self, TreeError> {
        let mut counts = vec![0u32; tree.n_leaves() * n_classes];
        for ((row, &code), &w) in x.rows().zip(codes).zip(weights) {
            if w == 0 {
                continue;
            }
            let (leaf, _) = tree.leaf(row).ok_or(TreeError::NarrowRow)?;
            let slot = counts
                .get_mut(leaf * n_classes + code as usize)
                .ok_or(TreeError::ClassCode)?;
            *slot += w;
        }
        Self::new(tree, n_classes, counts)
    }

    /// The flat tree.
    pub(crate) fn tree(&self) -> &FlatTree {
        &self.tree
    }

    /// The class counts, leaf by leaf.
    pub(crate) fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// The class probabilities of the leaf `row` falls into.
    #[inline]
    pub(crate) fn proba(&self, row: &[f64]) -> Option<&[f64]> {
        let (leaf, _) = self.tree.leaf(row)?;
        self.proba
            .get(leaf * self.n_classes..(leaf + 1) * self.n_classes)
    }
}

/// A regression tree with, when known, the training rows that reached each leaf: what
/// explanations weigh paths by. Files written before the counts were kept have none.
#[derive(Debug, Clone)]
pub(crate) struct ValueTree {
    tree: FlatTree,
    /// Rows per leaf, in leaf order.
    counts: Option<Vec<u32>>,
    /// What explanations need, computed from the counts by the first explanation: a
    /// server that never explains does not hold a cover per node.
    shap: std::sync::OnceLock<ValueShape>,
}

/// A [`ValueTree`]'s node covers, cover-weighted mean and depth.
#[derive(Debug, Clone)]
struct ValueShape {
    covers: Vec<f64>,
    expected: f64,
    depth: usize,
}

impl PartialEq for ValueTree {
    fn eq(&self, other: &Self) -> bool {
        self.tree == other.tree && self.counts == other.counts
    }
}

impl ValueTree {
    /// The tree's nodes.
    pub(crate) fn flat(&self) -> &FlatTree {
        &self.tree
    }

    /// Checks that `counts`, when given, has one entry per leaf.
    pub(crate) fn new(tree: FlatTree, counts: Option<Vec<u32>>) -> Result<Self, TreeError> {
        if let Some(c) = &counts
            && c.len() != tree.n_leaves()
        {
            return Err(TreeError::Counts {
                counts: c.len(),
                leaves: tree.n_leaves(),
                classes: 1,
            });
        }
        Ok(Self {
            tree,
            counts,
            shap: std::sync::OnceLock::new(),
        })
    }

    /// The covers, mean and depth; all zero without counts.
    fn shape(&self) -> &ValueShape {
        self.shap.get_or_init(|| {
            let nodes = &self.tree.nodes;
            let Some(counts) = &self.counts else {
                return ValueShape {
                    covers: Vec::new(),
                    expected: 0.0,
                    depth: 0,
                };
            };
            // Children follow their parents, so one pass from the end fills every cover.
            let mut covers = vec![0.0; nodes.len()];
            for i in (0..nodes.len()).rev() {
                let node = nodes[i];
                covers[i] = if node.feature == LEAF {
                    counts
                        .get(node.next as usize)
                        .map_or(0.0, |&c| f64::from(c))
                } else {
                    covers.get(i + 1).copied().unwrap_or(0.0)
                        + covers.get(node.next as usize).copied().unwrap_or(0.0)
                };
            }
            let (expected, depth) = shape(
                nodes,
                &covers,
                |n| n.feature == LEAF,
                |n| n.next as usize,
                |n| n.value,
            );
            ValueShape {
                covers,
                expected,
                depth,
            }
        })
    }

    /// Routes the training rows (with their weights: bootstrap counts; every row once
    /// when `None`) through `tree` and counts each leaf's rows.
    pub(crate) fn count(
        tree: FlatTree,
        x: &crate::frame::FeatureMatrix,
        weights: Option<&[u32]>,
    ) -> Result<Self, TreeError> {
        let mut counts = vec![0u32; tree.n_leaves()];
        for (i, row) in x.rows().enumerate() {
            let w = weights.map_or(1, |w| w.get(i).copied().unwrap_or(0));
            if w == 0 {
                continue;
            }
            let (leaf, _) = tree.leaf(row).ok_or(TreeError::NarrowRow)?;
            if let Some(c) = counts.get_mut(leaf) {
                *c = c.saturating_add(w);
            }
        }
        Self::new(tree, Some(counts))
    }

    /// The flat tree.
    pub(crate) fn tree(&self) -> &FlatTree {
        &self.tree
    }

    /// Rows per leaf, when the tree keeps them.
    pub(crate) fn counts(&self) -> Option<&[u32]> {
        self.counts.as_deref()
    }

    /// Whether explanations can weigh this tree's paths.
    pub(crate) fn has_covers(&self) -> bool {
        self.counts.is_some()
    }

    /// The leaf `row` falls into: its leaf index and value.
    #[inline]
    pub(crate) fn leaf(&self, row: &[f64]) -> Option<(usize, f64)> {
        self.tree.leaf(row)
    }
}

impl crate::model::explain::ShapTree for ValueTree {
    fn split(&self, i: usize) -> Option<(usize, usize, usize)> {
        self.tree.split_at(i)
    }

    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        self.tree.goes_left_at(i, row)
    }

    fn threshold(&self, i: usize) -> Option<(f64, bool)> {
        self.tree.threshold_at(i)
    }

    fn cover(&self, i: usize) -> f64 {
        self.shape().covers.get(i).copied().unwrap_or(0.0)
    }

    fn depth(&self) -> usize {
        self.shape().depth
    }

    fn add_expected(&self, scale: f64, base: &mut [f64]) {
        if let Some(b) = base.first_mut() {
            *b += scale * self.shape().expected;
        }
    }

    fn leaf(&self, i: usize) -> crate::model::explain::LeafOut<'_> {
        crate::model::explain::LeafOut::One(0, self.tree.nodes.get(i).map_or(0.0, |n| n.value))
    }
}

impl crate::model::explain::ShapTree for ClassTree {
    fn split(&self, i: usize) -> Option<(usize, usize, usize)> {
        self.tree.split_at(i)
    }

    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        self.tree.goes_left_at(i, row)
    }

    fn threshold(&self, i: usize) -> Option<(f64, bool)> {
        self.tree.threshold_at(i)
    }

    fn cover(&self, i: usize) -> f64 {
        self.covers.get(i).copied().unwrap_or(0.0)
    }

    fn depth(&self) -> usize {
        self.depth
    }

    fn add_expected(&self, scale: f64, base: &mut [f64]) {
        for (b, e) in base.iter_mut().zip(&self.expected) {
            *b += scale * e;
        }
    }

    fn leaf(&self, i: usize) -> crate::model::explain::LeafOut<'_> {
        let leaf = self.tree.nodes.get(i).map_or(0, |n| n.next as usize);
        crate::model::explain::LeafOut::All(
            self.proba
                .get(leaf * self.n_classes..(leaf + 1) * self.n_classes)
                .unwrap_or_default(),
        )
    }
}

/// Trees whose outputs are summed together before the groups' sums are added.
pub(crate) const TREES_PER_GROUP: usize = 8;

/// The sum over `trees` of `visit(tree, out)`, where `visit` adds one tree's output for
/// every row into `out` (`len` values), in the order every ensemble's prediction keeps:
/// trees summed in groups of [`TREES_PER_GROUP`] from 0, then the groups' sums in order.
/// The packed layout ([`super::packed`]) must give exactly these bits; this is the
/// tree-by-tree reference its tests compare with.
#[cfg(test)]
pub(crate) fn sum_trees<T>(trees: &[T], len: usize, visit: impl Fn(&T, &mut [f64])) -> Vec<f64> {
    let mut total: Option<Vec<f64>> = None;
    for group in trees.chunks(TREES_PER_GROUP) {
        let mut partial = vec![0.0; len];
        for tree in group {
            visit(tree, &mut partial);
        }
        match &mut total {
            None => total = Some(partial),
            Some(t) => {
                for (t, p) in t.iter_mut().zip(partial) {
                    *t += p;
                }
            }
        }
    }
    total.unwrap_or_else(|| vec![0.0; len])
}

/// Index of the largest value, the first on ties (scikit-learn's `argmax`).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if v.get(best).is_some_and(|b| x > b) {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, threshold: f64) -> PreorderNode {
        PreorderNode::Split { feature, threshold }
    }

    #[test]
    fn preorder_builds_and_routes_left_on_less_or_equal() {
        // x0 <= 1 ? (x1 <= 5 ? 10 : 20) : 30
        let tree = FlatTree::from_preorder(
            [
                split(0, 1.0),
                split(1, 5.0),
                PreorderNode::Leaf(10.0),
                PreorderNode::Leaf(20.0),
                PreorderNode::Leaf(30.0),
            ],
            2,
        )
        .unwrap();
        assert_eq!(tree.n_leaves(), 3);
        assert_eq!(tree.leaf(&[1.0, 5.0]), Some((0, 10.0)));
        assert_eq!(tree.leaf(&[0.0, 6.0]), Some((1, 20.0)));
        assert_eq!(tree.leaf(&[1.5, 0.0]), Some((2, 30.0)));
        assert_eq!(tree.leaf(&[f64::NAN, 0.0]), Some((2, 30.0)));
        assert_eq!(
            FlatTree::from_preorder(tree.preorder(), 2).unwrap(),
            tree,
            "preorder round trip"
        );
    }

    #[test]
    fn malformed_preorders_are_refused() {
        let cases: Vec<(Vec<PreorderNode>, &str)> = vec![
            (vec![], "ends early"),
            (vec![split(0, 1.0), PreorderNode::Leaf(1.0)], "ends early"),
            (
                vec![PreorderNode::Leaf(1.0), PreorderNode::Leaf(2.0)],
                "after the tree is complete",
            ),
            (
                vec![
                    split(3, 1.0),
                    PreorderNode::Leaf(1.0),
                    PreorderNode::Leaf(1.0),
                ],
                "splits on column 3",
            ),
            (
                vec![
                    split(0, f64::NAN),
                    PreorderNode::Leaf(1.0),
                    PreorderNode::Leaf(1.0),
                ],
                "threshold NaN",
            ),
            (vec![PreorderNode::Leaf(f64::INFINITY)], "value inf"),
        ];
        for (nodes, expected) in cases {
            let err = FlatTree::from_preorder(nodes.clone(), 2).unwrap_err();
            assert!(err.to_string().contains(expected), "{nodes:?}: {err}");
        }
    }

    #[test]
    fn class_trees_need_rows_in_every_leaf() {
        let tree = FlatTree::from_preorder(
            [
                split(0, 0.5),
                PreorderNode::Leaf(0.0),
                PreorderNode::Leaf(0.0),
            ],
            1,
        )
        .unwrap();
        let t = ClassTree::new(tree.clone(), 2, vec![3, 1, 0, 2]).unwrap();
        assert_eq!(t.proba(&[0.0]).unwrap(), &[0.75, 0.25]);
        assert_eq!(t.proba(&[1.0]).unwrap(), &[0.0, 1.0]);
        assert!(ClassTree::new(tree.clone(), 2, vec![3, 1, 0, 0]).is_err());
        assert!(ClassTree::new(tree, 2, vec![3, 1]).is_err());
    }

    #[test]
    fn ties_go_to_the_first_class() {
        assert_eq!(argmax(&[0.5, 0.5]), 0);
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
    }
}
