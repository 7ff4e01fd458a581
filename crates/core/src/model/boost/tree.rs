//! The tree of a boosted model, in Ferry's flat preorder layout with what boosting adds:
//! a learned direction for missing values, categorical splits, and each node's cover
//! (the training rows, or hessian mass for imported XGBoost models, that reached it),
//! which explanations weigh paths by.
//!
//! A node is 16 bytes: `feature` (with flag bits), `right` and `value`. The left child
//! of a split is the next node; `right == 0` marks a leaf (no child can be the root).
//! A numeric split sends a row left when `x <= value`; a missing value (NaN) goes the
//! learned default way. Imported LightGBM trees bring two more missing-value rules
//! (NaN read as 0, and 0 itself treated as missing) and categorical splits (a category
//! code in the node's set goes left), all decided on a slower path that native numeric
//! splits never take.

use crate::model::TreeError;
use crate::model::tree::flat::{PreorderLinks, shape};

/// Missing values go left (else right).
pub(crate) const DEFAULT_LEFT: u32 = 1 << 31;
/// A categorical split: `value` is the index of the node's category set.
pub(crate) const CATEGORICAL: u32 = 1 << 30;
/// LightGBM's `missing_type: None`: a NaN is read as 0 before the comparison.
pub(crate) const NAN_AS_ZERO: u32 = 1 << 29;
/// LightGBM's `missing_type: Zero`: NaN is read as 0, and 0 goes the default way.
pub(crate) const ZERO_MISSING: u32 = 1 << 28;
/// The bits of `feature` that are the column.
pub(crate) const FEATURE_MASK: u32 = (1 << 28) - 1;
/// Flags that need the slow path.
const SLOW: u32 = CATEGORICAL | NAN_AS_ZERO | ZERO_MISSING;
/// LightGBM's `kZeroThreshold`: values this close to 0 are zero for `ZERO_MISSING`.
const ZERO_THRESHOLD: f64 = 1e-35;

/// One node of a [`BoostTree`]; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BoostNode {
    /// Split column and flags; for a leaf, its leaf index.
    pub(crate) feature: u32,
    /// Right child of a split; 0 for a leaf.
    pub(crate) right: u32,
    /// Threshold (numeric split), category-set index (categorical split) or leaf value.
    pub(crate) value: f64,
}

impl BoostNode {
    /// Whether this node is a leaf.
    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.right == 0
    }

    /// The split column.
    #[inline]
    pub(crate) fn column(&self) -> usize {
        (self.feature & FEATURE_MASK) as usize
    }

    /// Whether a missing value (NaN) goes left at this numeric split: the learned
    /// default, or, where NaN is read as 0, the side 0 goes to.
    pub(crate) fn nan_goes_left(&self) -> bool {
        if self.feature & NAN_AS_ZERO != 0 {
            0.0 <= self.value
        } else {
            self.feature & DEFAULT_LEFT != 0
        }
    }
}

/// One node as the encoding and the importers describe it, in preorder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoostPreorder {
    /// A split; its left subtree follows, then its right subtree.
    Split {
        /// Column and flags ([`DEFAULT_LEFT`], [`CATEGORICAL`], [`NAN_AS_ZERO`],
        /// [`ZERO_MISSING`]).
        feature: u32,
        /// Threshold of a numeric split (left when `x <= threshold`).
        threshold: f64,
        /// Category codes that go left, for a categorical split.
        categories: Vec<u32>,
        /// Training cover of the node.
        cover: f64,
    },
    /// A leaf with its value and cover.
    Leaf {
        /// Added to the model's raw output for rows that end here.
        value: f64,
        /// Training cover of the leaf.
        cover: f64,
    },
}

/// A fitted boosted tree; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoostTree {
    nodes: Vec<BoostNode>,
    covers: Vec<f64>,
    /// Category sets of the categorical splits: bitsets of 32-bit words.
    sets: Vec<Vec<u32>>,
    /// The output (class) this tree adds to: 0 except in multi-class models.
    group: u32,
    /// The cover-weighted mean leaf value: the tree's part of an explanation's base.
    expected: f64,
    /// Edges from the root to the deepest leaf.
    depth: usize,
}

impl BoostTree {
    /// Builds a tree from its preorder, checking it forms one complete binary tree over
    /// `n_features` columns with finite numbers and non-negative covers.
    pub(crate) fn from_preorder(
        preorder: impl IntoIterator<Item = BoostPreorder>,
        n_features: usize,
        group: u32,
    ) -> Result<Self, TreeError> {
        let mut nodes: Vec<BoostNode> = Vec::new();
        let mut covers = Vec::new();
        let mut sets: Vec<Vec<u32>> = Vec::new();
        let mut links = PreorderLinks::new();
        let mut n_leaves: u32 = 0;
        for node in preorder {
            let split = matches!(node, BoostPreorder::Split { .. });
            let (index, parent) = links.next(nodes.len(), split)?;
            if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
                p.right = index;
            }
            match node {
                BoostPreorder::Split {
                    feature,
                    threshold,
                    categories,
                    cover,
                } => {
                    let column = feature & FEATURE_MASK;
                    if column as usize >= n_features {
                        return Err(TreeError::Feature {
                            node: index,
                            feature: column,
                            n_features,
                        });
                    }
                    check_cover(index, cover)?;
                    let value = if feature & CATEGORICAL != 0 {
                        let mut words = Vec::new();
                        for &c in &categories {
                            let word = (c / 32) as usize;
                            if word >= MAX_CATEGORY_WORDS {
                                return Err(TreeError::Category {
                                    node: index,
                                    category: c,
                                });
                            }
                            if words.len() <= word {
                                words.resize(word + 1, 0);
                            }
                            if let Some(w) = words.get_mut(word) {
                                *w |= 1 << (c % 32);
                            }
                        }
                        sets.push(words);
                        (sets.len() - 1) as f64
                    } else {
                        if !threshold.is_finite() {
                            return Err(TreeError::Threshold {
                                node: index,
                                threshold,
                            });
                        }
                        threshold
                    };
                    nodes.push(BoostNode {
                        feature,
                        right: 0,
                        value,
                    });
                    covers.push(cover);
                }
                BoostPreorder::Leaf { value, cover } => {
                    if !value.is_finite() {
                        return Err(TreeError::LeafValue {
                            leaf: n_leaves,
                            value,
                        });
                    }
                    check_cover(index, cover)?;
                    nodes.push(BoostNode {
                        feature: n_leaves,
                        right: 0,
                        value,
                    });
                    covers.push(cover);
                    n_leaves += 1;
                }
            }
        }
        links.finish()?;
        // A split covers exactly what its children cover. XGBoost keeps each node's
        // hessian sum rounded to f32 on its own, so a parent can differ from the sum of
        // its children in the last bits; TreeSHAP's contributions add up to the output
        // only when the covers are consistent. Children follow their parents.
        for i in (0..nodes.len()).rev() {
            if let Some(node) = nodes.get(i).filter(|n| !n.is_leaf()) {
                let right = node.right as usize;
                let sum = covers.get(i + 1).copied().unwrap_or(0.0)
                    + covers.get(right).copied().unwrap_or(0.0);
                if let Some(c) = covers.get_mut(i) {
                    *c = sum;
                }
            }
        }
        let (expected, depth) = shape(
            &nodes,
            &covers,
            |n| n.is_leaf(),
            |n| n.right as usize,
            |n| n.value,
        );
        Ok(Self {
            nodes,
            covers,
            sets,
            group,
            expected,
            depth,
        })
    }

    /// The nodes in preorder, as [`Self::from_preorder`] takes them.
    pub(crate) fn preorder(&self) -> impl Iterator<Item = BoostPreorder> + '_ {
        self.nodes.iter().zip(&self.covers).map(|(n, &cover)| {
            if n.is_leaf() {
                BoostPreorder::Leaf {
                    value: n.value,
                    cover,
                }
            } else {
                let categories = if n.feature & CATEGORICAL != 0 {
                    self.set(n).map(set_members).unwrap_or_default()
                } else {
                    Vec::new()
                };
                BoostPreorder::Split {
                    feature: n.feature,
                    threshold: if n.feature & CATEGORICAL != 0 {
                        0.0
                    } else {
                        n.value
                    },
                    categories,
                    cover,
                }
            }
        })
    }

    /// The nodes.
    pub(crate) fn nodes(&self) -> &[BoostNode] {
        &self.nodes
    }

    /// The output this tree adds to.
    pub(crate) fn group(&self) -> usize {
        self.group as usize
    }

    fn set(&self, node: &BoostNode) -> Option<&[u32]> {
        self.sets.get(node.value as usize).map(Vec::as_slice)
    }

    /// The child of split `node` that `row` goes to. `None` when the row is narrower
    /// than the column.
    #[inline]
    pub(crate) fn child(&self, i: usize, node: &BoostNode, row: &[f64]) -> Option<usize> {
        let x = *row.get(node.column())?;
        let left = if node.feature & SLOW == 0 {
            if node.feature & DEFAULT_LEFT == 0 {
                x <= node.value
            } else {
                x <= node.value || x.is_nan()
            }
        } else {
            self.slow_left(node, x)
        };
        Some(if left { i + 1 } else { node.right as usize })
    }

    #[cold]
    fn slow_left(&self, node: &BoostNode, x: f64) -> bool {
        let default_left = node.feature & DEFAULT_LEFT != 0;
        if node.feature & CATEGORICAL != 0 {
            // LightGBM: NaN and negative codes (after truncation toward 0) go right;
            // otherwise the set decides.
            let t = x.trunc();
            if x.is_nan() || t < 0.0 {
                return false;
            }
            let code = t as u64;
            let word = (code / 32) as usize;
            return self
                .set(node)
                .and_then(|s| s.get(word))
                .is_some_and(|w| w & (1 << (code % 32)) != 0);
        }
        let x = if x.is_nan() { 0.0 } else { x };
        if node.feature & ZERO_MISSING != 0 && x > -ZERO_THRESHOLD && x <= ZERO_THRESHOLD {
            return default_left;
        }
        x <= node.value
    }

    /// Whether a split is categorical or treats zero as missing: the rules a plain
    /// threshold with a side for NaN cannot express.
    pub(crate) fn needs_slow_path(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| !n.is_leaf() && n.feature & (CATEGORICAL | ZERO_MISSING) != 0)
    }

    /// The number (in preorder) of the leaf `row` reaches. `None` only when `row` is
    /// narrower than a column the tree splits on.
    pub(crate) fn leaf_number(&self, row: &[f64]) -> Option<u32> {
        let mut i = 0usize;
        loop {
            let node = self.nodes.get(i)?;
            if node.is_leaf() {
                return Some(node.feature);
            }
            i = self.child(i, node, row)?;
        }
    }

    /// The value of the leaf `row` reaches. `None` only when `row` is narrower than a
    /// column the tree splits on.
    #[cfg(test)]
    pub(crate) fn predict(&self, row: &[f64]) -> Option<f64> {
        let mut i = 0usize;
        loop {
            let node = self.nodes.get(i)?;
            if node.is_leaf() {
                return Some(node.value);
            }
            // Children point forward (checked when built), so this terminates.
            i = self.child(i, node, row)?;
        }
    }
}

impl crate::model::explain::ShapTree for BoostTree {
    fn split(&self, i: usize) -> Option<(usize, usize, usize)> {
        let node = self.nodes.get(i)?;
        (!node.is_leaf()).then_some((node.column(), i + 1, node.right as usize))
    }

    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        self.nodes
            .get(i)
            .and_then(|n| self.child(i, n, row))
            .is_some_and(|c| c == i + 1)
    }

    fn threshold(&self, i: usize) -> Option<(f64, bool)> {
        let node = self.nodes.get(i)?;
        (!node.is_leaf() && node.feature & SLOW == 0)
            .then_some((node.value, node.feature & DEFAULT_LEFT != 0))
    }

    fn cover(&self, i: usize) -> f64 {
        self.covers.get(i).copied().unwrap_or(0.0)
    }

    fn depth(&self) -> usize {
        self.depth
    }

    fn add_expected(&self, scale: f64, base: &mut [f64]) {
        if let Some(b) = base.get_mut(self.group as usize) {
            *b += scale * self.expected;
        }
    }

    fn leaf(&self, i: usize) -> crate::model::explain::LeafOut<'_> {
        crate::model::explain::LeafOut::One(
            self.group as usize,
            self.nodes.get(i).map_or(0.0, |n| n.value),
        )
    }
}

/// Category codes above `32 * MAX_CATEGORY_WORDS` are refused (LightGBM's own limit on
/// categories is far below).
const MAX_CATEGORY_WORDS: usize = 1 << 16;

fn check_cover(node: u32, cover: f64) -> Result<(), TreeError> {
    if cover.is_finite() && cover >= 0.0 {
        Ok(())
    } else {
        Err(TreeError::Cover { node, cover })
    }
}

/// The codes in a bitset, ascending.
fn set_members(words: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, &bits) in words.iter().enumerate() {
        for b in 0..32 {
            if bits & (1 << b) != 0 {
                out.push(w as u32 * 32 + b);
            }
        }
    }
    out
}

/// The largest `f64` threshold `t'` such that `x <= t'` exactly when `(x as f32) < t`:
/// XGBoost compares features rounded to `f32` with a strict `<`, Ferry compares `f64`
/// values with `<=`, and this makes the two agree on every input without rounding at
/// prediction time.
pub(crate) fn xgboost_threshold(t: f32) -> f64 {
    // (x as f32) < t  <=>  (x as f32) <= below, the f32 just below t.
    let below = t.next_down();
    let up = below.next_up();
    if !below.is_finite() || !up.is_finite() {
        return f64::from(below);
    }
    // x rounds to a value <= below when x is under the midpoint of below and the next
    // f32 up, or on it when ties-to-even picks below (even last mantissa bit).
    let mid = (f64::from(below) + f64::from(up)) / 2.0;
    if below.to_bits() & 1 == 0 {
        mid
    } else {
        mid.next_down()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, threshold: f64) -> BoostPreorder {
        BoostPreorder::Split {
            feature,
            threshold,
            categories: Vec::new(),
            cover: 10.0,
        }
    }

    fn leaf(value: f64) -> BoostPreorder {
        BoostPreorder::Leaf { value, cover: 5.0 }
    }

    #[test]
    fn missing_values_follow_the_default_direction() {
        let right = BoostTree::from_preorder([split(0, 1.0), leaf(1.0), leaf(2.0)], 1, 0).unwrap();
        let left = BoostTree::from_preorder([split(DEFAULT_LEFT, 1.0), leaf(1.0), leaf(2.0)], 1, 0)
            .unwrap();
        for t in [&right, &left] {
            assert_eq!(t.predict(&[1.0]), Some(1.0));
            assert_eq!(t.predict(&[1.5]), Some(2.0));
        }
        assert_eq!(right.predict(&[f64::NAN]), Some(2.0));
        assert_eq!(left.predict(&[f64::NAN]), Some(1.0));
        assert_eq!(
            BoostTree::from_preorder(left.preorder(), 1, 0).unwrap(),
            left
        );
    }

    #[test]
    fn lightgbm_missing_rules_and_category_sets() {
        // NaN read as 0: 0 <= 1 goes left whatever the default.
        let t = BoostTree::from_preorder([split(NAN_AS_ZERO, 1.0), leaf(1.0), leaf(2.0)], 1, 0)
            .unwrap();
        assert_eq!(t.predict(&[f64::NAN]), Some(1.0));
        // Zero is missing and goes right (default right) although 0 <= 1.
        let t = BoostTree::from_preorder([split(ZERO_MISSING, 1.0), leaf(1.0), leaf(2.0)], 1, 0)
            .unwrap();
        assert_eq!(t.predict(&[0.0]), Some(2.0));
        assert_eq!(t.predict(&[f64::NAN]), Some(2.0));
        assert_eq!(t.predict(&[0.5]), Some(1.0));
        let cat = BoostTree::from_preorder(
            [
                BoostPreorder::Split {
                    feature: CATEGORICAL,
                    threshold: 0.0,
                    categories: vec![1, 40],
                    cover: 3.0,
                },
                leaf(1.0),
                leaf(2.0),
            ],
            1,
            0,
        )
        .unwrap();
        for (x, v) in [
            (1.0, 1.0),
            (1.7, 1.0),
            (40.0, 1.0),
            (0.0, 2.0),
            (-1.0, 2.0),
            (f64::NAN, 2.0),
        ] {
            assert_eq!(cat.predict(&[x]), Some(v), "{x}");
        }
        assert_eq!(BoostTree::from_preorder(cat.preorder(), 1, 0).unwrap(), cat);
    }

    #[test]
    fn bad_trees_are_refused() {
        assert!(BoostTree::from_preorder([split(2, 1.0), leaf(1.0), leaf(2.0)], 1, 0).is_err());
        assert!(BoostTree::from_preorder([split(0, 1.0), leaf(1.0)], 1, 0).is_err());
        assert!(BoostTree::from_preorder([leaf(f64::NAN)], 1, 0).is_err());
        let negative = BoostPreorder::Leaf {
            value: 1.0,
            cover: -1.0,
        };
        assert!(BoostTree::from_preorder([negative], 1, 0).is_err());
    }

    #[test]
    fn xgboost_thresholds_agree_with_f32_strict_comparisons() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let t = f32::from_bits((next() as u32) & 0x7F7F_FFFF)
                * if next() % 2 == 0 { 1.0 } else { -1.0 };
            if !t.is_finite() {
                continue;
            }
            let converted = xgboost_threshold(t);
            let base = f64::from(t);
            for x in [
                base,
                base.next_down(),
                base.next_up(),
                converted,
                converted.next_up(),
                converted.next_down(),
                f64::from(t.next_down()),
            ] {
                assert_eq!(((x as f32) < t), x <= converted, "t={t} x={x}");
            }
        }
    }
}
