//! Explanations of tree models: exact path-dependent TreeSHAP (Lundberg et al., "Consistent
//! individualized feature attribution for tree ensembles", algorithm 2), the Shapley
//! values of each input column for one row's output, with the covers recorded at
//! training time as the background distribution.
//!
//! For every row and output, the contributions plus the base value (the cover-weighted
//! mean output) add up to the model's raw output: the value of a regressor, the class
//! probability of a forest or decision tree, the log-odds (or per-class score) of a
//! boosted classifier. The cost is O(leaves x depth^2) per tree and row, with no
//! allocation once the path buffer has grown to the deepest tree.

use crate::frame::FeatureMatrix;
use crate::model::{Model, ModelKind, PredictError, TrainedModel, check_width};

/// What a tree offers TreeSHAP.
pub(crate) trait ShapTree {
    /// The split of node `i` (column, left child, right child), `None` for a leaf.
    fn split(&self, i: usize) -> Option<(usize, usize, usize)>;
    /// Whether `row` goes left at split `i`.
    fn goes_left(&self, i: usize, row: &[f64]) -> bool;
    /// Split `i` as a plain threshold: `Some((t, default_left))` when a row goes left
    /// exactly when its value is at most `t`, a missing (NaN) value going left when
    /// `default_left`; `None` for category sets and LightGBM's zero-as-missing rules.
    fn threshold(&self, i: usize) -> Option<(f64, bool)>;
    /// The training cover of node `i`.
    fn cover(&self, i: usize) -> f64;
    /// The output of leaf node `i`.
    fn leaf(&self, i: usize) -> LeafOut<'_>;
    /// Edges from the root to the deepest leaf.
    fn depth(&self) -> usize;
    /// Adds `scale` times the tree's expected output (leaves weighted by cover, as
    /// [`expected_value`] computes it, kept from when the tree was built) into `base`.
    fn add_expected(&self, scale: f64, base: &mut [f64]);
}

/// Trees deeper than this are not explained: the path walk recurses once per level.
pub const MAX_EXPLAIN_DEPTH: usize = 1024;

/// A leaf's output: one value for one output, or one per output.
pub(crate) enum LeafOut<'a> {
    /// `value` adds to output `output`.
    One(usize, f64),
    /// One value per output.
    All(&'a [f64]),
}

impl LeafOut<'_> {
    /// The leaf's output times `scale` as one value per output (`k` of them).
    pub(crate) fn scaled(&self, k: usize, scale: f64) -> Vec<f64> {
        let mut v = vec![0.0; k];
        match self {
            LeafOut::One(o, x) => {
                if let Some(s) = v.get_mut(*o) {
                    *s = scale * x;
                }
            }
            LeafOut::All(xs) => {
                for (s, x) in v.iter_mut().zip(*xs) {
                    *s = scale * x;
                }
            }
        }
        v
    }
}

/// The space explanations are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationSpace {
    /// A regressor's value.
    Value,
    /// Class probabilities (forests and decision trees).
    Probability,
    /// Raw scores before the sigmoid or softmax (boosted classifiers): the log-odds of
    /// the second class for two classes, each class's score for more.
    RawScore,
}

/// Per-column contributions of a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Rows explained.
    pub n_rows: usize,
    /// Outputs explained per row (1 for regressors and binary boosted classifiers, one
    /// per class otherwise).
    pub n_outputs: usize,
    /// Columns (model inputs) per output.
    pub n_columns: usize,
    /// `contributions[(row * n_outputs + output) * n_columns + column]`.
    pub contributions: Vec<f64>,
    /// The base value of each output: the output expected over the training covers.
    pub base: Vec<f64>,
    /// What the outputs are.
    pub space: ExplanationSpace,
}

impl Explanation {
    /// The contributions of `row` to `output`, one per column.
    #[must_use]
    pub fn row(&self, row: usize, output: usize) -> &[f64] {
        let at = (row * self.n_outputs + output) * self.n_columns;
        self.contributions
            .get(at..at + self.n_columns)
            .unwrap_or_default()
    }
}

/// Why a model cannot be explained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExplainError {
    /// Explanations are computed for tree models only.
    #[error(
        "{0} models cannot be explained: explanations are for decision trees, forests and \
         gradient-boosted models"
    )]
    NotTrees(ModelKind),
    /// A regression tree or forest stored without the row counts explanations weigh
    /// paths by (trained before Ferry kept them).
    #[error(
        "this {0} model was trained before Ferry kept the training rows of each leaf, which \
         explanations weigh paths by: train it again to explain it"
    )]
    NoCovers(ModelKind),
    /// A tree too deep to explain within a bounded stack.
    #[error("a tree of the model is {depth} levels deep; explanations walk at most {max}")]
    TooDeep {
        /// The deepest tree's depth.
        depth: usize,
        /// [`MAX_EXPLAIN_DEPTH`].
        max: usize,
    },
    /// A split that is not a plain threshold (a category set, LightGBM's zero-as-missing
    /// rule), which a [`crate::model::TreeTable`] cannot describe.
    #[error("split {node} of tree {tree} is not a threshold a tree table can describe")]
    NotThreshold {
        /// The tree, counted from 0.
        tree: usize,
        /// The node within the tree.
        node: usize,
    },
    /// The rows do not suit the model.
    #[error(transparent)]
    Predict(#[from] PredictError),
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathElement {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Reusable state of one explanation pass.
pub(crate) struct Shap<'a> {
    row: &'a [f64],
    /// `phi[column * n_outputs + output]`.
    phi: &'a mut [f64],
    n_outputs: usize,
    scale: f64,
    buf: &'a mut Vec<PathElement>,
}

/// Marks the empty root element of a path.
const NO_FEATURE: usize = usize::MAX;

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: usize) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / d1;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next * d1 / ((i + 1) as f64 * one);
            next = tmp - path[i].weight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].weight = path[i].weight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// `1 / k` for every path length an explanation reaches: the inner loop of
/// [`unwound_sum`] multiplies instead of dividing.
const RECIPROCALS: [f64; MAX_EXPLAIN_DEPTH + 3] = {
    let mut table = [0.0; MAX_EXPLAIN_DEPTH + 3];
    let mut k = 1;
    while k < table.len() {
        table[k] = 1.0 / k as f64;
        k += 1;
    }
    table
};

#[inline]
fn recip(k: usize) -> f64 {
    RECIPROCALS.get(k).copied().unwrap_or(1.0 / k as f64)
}

/// The total weight of the path without element `index` (the hot loop of TreeSHAP:
/// most of an explanation's time is spent here).
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (path[index].one, path[index].zero);
    let d1 = (depth + 1) as f64;
    let mut total = 0.0;
    if one != 0.0 {
        let scale = d1 / one;
        let zero_share = zero / d1;
        let mut next = path[depth].weight;
        for i in (0..depth).rev() {
            let tmp = next * scale * recip(i + 1);
            total += tmp;
            next = path[i].weight - tmp * zero_share * (depth - i) as f64;
        }
    } else if zero != 0.0 {
        let scale = d1 / zero;
        for i in (0..depth).rev() {
            total += path[i].weight * scale * recip(depth - i);
        }
    }
    total
}

impl Shap<'_> {
    #[allow(clippy::too_many_arguments)]
    fn recurse<T: ShapTree>(
        &mut self,
        tree: &T,
        node: usize,
        parent: usize,
        mut depth: usize,
        zero: f64,
        one: f64,
        feature: usize,
    ) {
        // This node's path is a copy of the parent's, right after it in the buffer.
        let at = parent + depth + 1;
        if self.buf.len() < at + depth + 2 {
            self.buf.resize(at + depth + 2, PathElement::default());
        }
        self.buf.copy_within(parent..parent + depth + 1, at);
        let path = &mut self.buf[at..];
        extend(path, depth, zero, one, feature);
        let Some((column, left, right)) = tree.split(node) else {
            let k = self.n_outputs;
            for i in 1..=depth {
                let el = path[i];
                let w = unwound_sum(path, depth, i) * (el.one - el.zero) * self.scale;
                let base = el.feature * k;
                match tree.leaf(node) {
                    LeafOut::One(o, v) => {
                        if let Some(p) = self.phi.get_mut(base + o) {
                            *p += w * v;
                        }
                    }
                    LeafOut::All(values) => {
                        for (o, v) in values.iter().enumerate() {
                            if let Some(p) = self.phi.get_mut(base + o) {
                                *p += w * v;
                            }
                        }
                    }
                }
            }
            return;
        };
        let (hot, cold) = if tree.goes_left(node, self.row) {
            (left, right)
        } else {
            (right, left)
        };
        let w = tree.cover(node);
        let (hot_zero, cold_zero) = if w > 0.0 {
            (tree.cover(hot) / w, tree.cover(cold) / w)
        } else {
            (0.5, 0.5)
        };
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == column) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, depth, k);
            depth -= 1;
        }
        self.recurse(tree, hot, at, depth + 1, hot_zero * in_zero, in_one, column);
        self.recurse(tree, cold, at, depth + 1, cold_zero * in_zero, 0.0, column);
    }
}

/// Adds `scale` times the SHAP values of `tree` for `row` into `phi`
/// (`phi[column * n_outputs + output]`).
pub(crate) fn tree_shap<T: ShapTree>(
    tree: &T,
    row: &[f64],
    scale: f64,
    n_outputs: usize,
    phi: &mut [f64],
    buf: &mut Vec<PathElement>,
) {
    if buf.is_empty() {
        buf.resize(64, PathElement::default());
    }
    let mut s = Shap {
        row,
        phi,
        n_outputs,
        scale,
        buf,
    };
    s.recurse(tree, 0, 0, 0, 1.0, 1.0, NO_FEATURE);
}

/// Adds `scale` times the tree's expected output (leaves weighted by cover) into `base`:
/// the reference the trees' kept [`ShapTree::add_expected`] values are checked against.
#[cfg(test)]
pub(crate) fn expected_value<T: ShapTree>(tree: &T, scale: f64, base: &mut [f64]) {
    // The mean of a subtree: its children's means weighted by their covers.
    fn mean<T: ShapTree>(tree: &T, node: usize, k: usize) -> Vec<f64> {
        match tree.split(node) {
            None => tree.leaf(node).scaled(k, 1.0),
            Some((_, l, r)) => {
                let (wl, wr) = (tree.cover(l), tree.cover(r));
                let (ml, mr) = (mean(tree, l, k), mean(tree, r, k));
                let total = wl + wr;
                ml.iter()
                    .zip(&mr)
                    .map(|(a, b)| {
                        if total > 0.0 {
                            (a * wl + b * wr) / total
                        } else {
                            (a + b) / 2.0
                        }
                    })
                    .collect()
            }
        }
    }
    let m = mean(tree, 0, base.len());
    for (b, v) in base.iter_mut().zip(m) {
        *b += scale * v;
    }
}

/// Trees of one model as TreeSHAP sees them.
pub(crate) struct Ensemble<'a, T> {
    pub(crate) trees: &'a [T],
    pub(crate) scale: f64,
    pub(crate) n_outputs: usize,
    pub(crate) base: Vec<f64>,
    pub(crate) space: ExplanationSpace,
}

impl<T: ShapTree + Sync> Ensemble<'_, T> {
    pub(crate) fn explain(&self, x: &FeatureMatrix) -> Result<Explanation, ExplainError> {
        let depth = self.trees.iter().map(ShapTree::depth).max().unwrap_or(0);
        if depth > MAX_EXPLAIN_DEPTH {
            return Err(ExplainError::TooDeep {
                depth,
                max: MAX_EXPLAIN_DEPTH,
            });
        }
        let k = self.n_outputs;
        let n_columns = x.n_cols();
        let mut base = self.base.clone();
        for t in self.trees {
            t.add_expected(self.scale, &mut base);
        }
        let mut contributions = vec![0.0; x.n_rows() * k * n_columns];
        let mut phi = vec![0.0; n_columns * k];
        let mut buf = Vec::new();
        for (row, out) in x.rows().zip(contributions.chunks_exact_mut(k * n_columns)) {
            phi.iter_mut().for_each(|p| *p = 0.0);
            for t in self.trees {
                tree_shap(t, row, self.scale, k, &mut phi, &mut buf);
            }
            // phi is column-major by output; the explanation is output-major.
            for o in 0..k {
                for c in 0..n_columns {
                    if let (Some(dst), Some(src)) =
                        (out.get_mut(o * n_columns + c), phi.get(c * k + o))
                    {
                        *dst = *src;
                    }
                }
            }
        }
        Ok(Explanation {
            n_rows: x.n_rows(),
            n_outputs: k,
            n_columns,
            contributions,
            base,
            space: self.space,
        })
    }
}

/// What an explainable model's trees offer, whatever their node type.
trait Trees {
    fn explain(&self, x: &FeatureMatrix) -> Result<Explanation, ExplainError>;
    fn table(&self, n_columns: usize) -> Result<crate::model::TreeTable, ExplainError>;
}

impl<T: ShapTree + Sync> Trees for Ensemble<'_, T> {
    fn explain(&self, x: &FeatureMatrix) -> Result<Explanation, ExplainError> {
        Ensemble::explain(self, x)
    }

    fn table(&self, n_columns: usize) -> Result<crate::model::TreeTable, ExplainError> {
        Ensemble::table(self, n_columns)
    }
}

impl TrainedModel {
    /// The model's trees as TreeSHAP walks them.
    fn trees(&self) -> Result<Box<dyn Trees + '_>, ExplainError> {
        match self {
            TrainedModel::GradientBoosting(m) => Ok(Box::new(m.ensemble())),
            TrainedModel::RandomForestClassifier(m) => Ok(Box::new(m.ensemble())),
            TrainedModel::DecisionTreeClassifier(m) => Ok(Box::new(m.ensemble())),
            TrainedModel::RandomForestRegressor(m) => match m.ensemble() {
                Some(e) => Ok(Box::new(e)),
                None => Err(ExplainError::NoCovers(self.kind())),
            },
            TrainedModel::DecisionTreeRegressor(m) => match m.ensemble() {
                Some(e) => Ok(Box::new(e)),
                None => Err(ExplainError::NoCovers(self.kind())),
            },
            TrainedModel::LogisticRegression(_)
            | TrainedModel::LinearRegression(_)
            | TrainedModel::RidgeRegression(_)
            | TrainedModel::ElasticNet(_)
            | TrainedModel::KnnClassifier(_)
            | TrainedModel::KnnRegressor(_)
            | TrainedModel::GaussianNb(_)
            | TrainedModel::MultinomialNb(_)
            | TrainedModel::BernoulliNb(_)
            | TrainedModel::CategoricalNb(_)
            | TrainedModel::Svc(_)
            | TrainedModel::Svr(_) => Err(ExplainError::NotTrees(self.kind())),
        }
    }

    /// The TreeSHAP explanation of every row of `x`.
    ///
    /// # Errors
    /// [`ExplainError::NotTrees`] for models that are not trees,
    /// [`ExplainError::NoCovers`] for regression trees and forests trained before leaf
    /// counts were kept, [`ExplainError::Predict`] for a matrix of the wrong width.
    pub fn explain(&self, x: &FeatureMatrix) -> Result<Explanation, ExplainError> {
        check_width(x, self.n_features())?;
        self.trees()?.explain(x)
    }

    /// The model's trees as node arrays over the preprocessed matrix's columns.
    ///
    /// # Errors
    /// As [`TrainedModel::explain`] for models without covered trees, and
    /// [`ExplainError::NotThreshold`] for imported LightGBM models with category or
    /// zero-as-missing splits.
    pub fn tree_table(&self) -> Result<crate::model::TreeTable, ExplainError> {
        self.trees()?.table(self.n_features())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made tree: x0 <= 0.5 ? (x1 <= 0.5 ? 1 : 2) : 4, covers 10 / 6 / 3 / 3 / 4.
    struct Toy;

    impl ShapTree for Toy {
        fn split(&self, i: usize) -> Option<(usize, usize, usize)> {
            match i {
                0 => Some((0, 1, 4)),
                1 => Some((1, 2, 3)),
                _ => None,
            }
        }
        fn goes_left(&self, i: usize, row: &[f64]) -> bool {
            row[if i == 0 { 0 } else { 1 }] <= 0.5
        }
        fn threshold(&self, i: usize) -> Option<(f64, bool)> {
            self.split(i).map(|_| (0.5, false))
        }
        fn cover(&self, i: usize) -> f64 {
            [10.0, 6.0, 3.0, 3.0, 4.0][i]
        }
        fn leaf(&self, i: usize) -> LeafOut<'_> {
            LeafOut::One(0, [0.0, 0.0, 1.0, 2.0, 4.0][i])
        }
        fn depth(&self) -> usize {
            2
        }
        fn add_expected(&self, scale: f64, base: &mut [f64]) {
            expected_value(self, scale, base);
        }
    }

    /// Brute-force Shapley values of the path-dependent value function.
    fn brute(row: &[f64]) -> Vec<f64> {
        // E[f | x_S]: follow known features, average unknown ones by cover.
        fn cond(node: usize, row: &[f64], known: &[bool]) -> f64 {
            let t = Toy;
            match t.split(node) {
                None => match t.leaf(node) {
                    LeafOut::One(_, v) => v,
                    LeafOut::All(_) => unreachable!(),
                },
                Some((c, l, r)) => {
                    if known[c] {
                        cond(if t.goes_left(node, row) { l } else { r }, row, known)
                    } else {
                        (t.cover(l) * cond(l, row, known) + t.cover(r) * cond(r, row, known))
                            / t.cover(node)
                    }
                }
            }
        }
        let v = |s: [bool; 2]| cond(0, row, &s);
        let phi0 = 0.5 * (v([true, false]) - v([false, false]))
            + 0.5 * (v([true, true]) - v([false, true]));
        let phi1 = 0.5 * (v([false, true]) - v([false, false]))
            + 0.5 * (v([true, true]) - v([true, false]));
        vec![phi0, phi1]
    }

    #[test]
    fn treeshap_matches_brute_force_shapley_values_and_sums_to_the_output() {
        for row in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] {
            let mut phi = vec![0.0; 2];
            let mut buf = Vec::new();
            tree_shap(&Toy, &row, 1.0, 1, &mut phi, &mut buf);
            let expected = brute(&row);
            for (a, b) in phi.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-12, "{row:?}: {phi:?} vs {expected:?}");
            }
            let mut base = vec![0.0];
            expected_value(&Toy, 1.0, &mut base);
            let output = if row[0] <= 0.5 {
                if row[1] <= 0.5 { 1.0 } else { 2.0 }
            } else {
                4.0
            };
            assert!((base[0] + phi.iter().sum::<f64>() - output).abs() < 1e-12);
        }
    }

    #[test]
    fn a_tree_table_lists_nodes_in_preorder_with_cover_weighted_means() {
        let trees = [Toy, Toy];
        let ensemble = Ensemble {
            trees: &trees,
            scale: 0.5,
            n_outputs: 1,
            base: vec![0.25],
            space: ExplanationSpace::Value,
        };
        let table = ensemble.table(2).unwrap();
        assert_eq!((table.n_columns, table.n_outputs), (2, 1));
        assert_eq!(table.base_offset, vec![0.25]);
        let t = &table.trees[1];
        assert_eq!(t.children_left, vec![1, 2, -1, -1, -1]);
        assert_eq!(t.children_right, vec![4, 3, -1, -1, -1]);
        assert_eq!(t.children_default, vec![4, 3, -1, -1, -1]);
        assert_eq!(t.feature, vec![0, 1, -1, -1, -1]);
        assert_eq!(t.threshold[..2], [0.5, 0.5]);
        assert!(t.threshold[2..].iter().all(|v| v.is_nan()));
        assert_eq!(t.node_sample_weight, vec![10.0, 6.0, 3.0, 3.0, 4.0]);
        // Leaves scaled by 0.5; splits are cover-weighted means: (0.5 * 3 + 1 * 3) / 6
        // and (0.75 * 6 + 2 * 4) / 10, the root being the tree's expected output.
        let values: Vec<f64> = t.value.iter().map(|v| v[0]).collect();
        assert_eq!(values, vec![1.25, 0.75, 0.5, 1.0, 2.0]);
        let mut base = vec![0.0];
        expected_value(&Toy, 0.5, &mut base);
        assert_eq!(base[0], values[0]);
    }
}
