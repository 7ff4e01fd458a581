//! The trees of a tree model as plain node arrays, in the shape tools outside Ferry read:
//! shap's `TreeExplainer` takes exactly these arrays as a model dictionary, and they are
//! what a user inspects to see what a model learned (as XGBoost's and LightGBM's tree
//! dumps are).

use serde::Serialize;

use crate::model::explain::{
    Ensemble, ExplainError, ExplanationSpace, MAX_EXPLAIN_DEPTH, ShapTree,
};

/// One tree, nodes in preorder (the root first, a split's left subtree before its right).
/// Node `i` is described by element `i` of every array.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableTree {
    /// The left child of each node; `-1` for a leaf.
    pub children_left: Vec<i64>,
    /// The right child of each node; `-1` for a leaf.
    pub children_right: Vec<i64>,
    /// The child a row with a missing (NaN) value goes to; `-1` for a leaf.
    pub children_default: Vec<i64>,
    /// The matrix column a split reads; `-1` for a leaf.
    pub feature: Vec<i64>,
    /// A row goes left when its value is at most the threshold; NaN (null in JSON) for a
    /// leaf.
    pub threshold: Vec<f64>,
    /// Each node's output, one value per model output: a leaf's as the model adds it
    /// (a forest's already divided by its number of trees), a split's the cover-weighted
    /// mean of its children's.
    pub value: Vec<Vec<f64>>,
    /// The training rows that reached each node.
    pub node_sample_weight: Vec<f64>,
}

/// A tree model's trees: its output for a row is `base_offset` plus the value of the leaf
/// the row reaches in every tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeTable {
    /// Columns of the preprocessed matrix the trees read.
    pub n_columns: usize,
    /// Outputs per row: one for regressors and binary boosting, one per class otherwise.
    pub n_outputs: usize,
    /// What is added before the trees (a boosted model's baseline; zeros for forests).
    pub base_offset: Vec<f64>,
    /// The space the outputs are in.
    pub space: ExplanationSpace,
    /// The trees.
    pub trees: Vec<TableTree>,
}

impl<T: ShapTree> Ensemble<'_, T> {
    /// The ensemble's trees as a [`TreeTable`] of `n_columns` columns.
    pub(crate) fn table(&self, n_columns: usize) -> Result<TreeTable, ExplainError> {
        let depth = self.trees.iter().map(ShapTree::depth).max().unwrap_or(0);
        if depth > MAX_EXPLAIN_DEPTH {
            return Err(ExplainError::TooDeep {
                depth,
                max: MAX_EXPLAIN_DEPTH,
            });
        }
        let trees = self
            .trees
            .iter()
            .enumerate()
            .map(|(at, t)| table_tree(t, at, self.scale, self.n_outputs))
            .collect::<Result<_, _>>()?;
        Ok(TreeTable {
            n_columns,
            n_outputs: self.n_outputs,
            base_offset: self.base.clone(),
            space: self.space,
            trees,
        })
    }
}

fn table_tree<T: ShapTree>(
    tree: &T,
    at: usize,
    scale: f64,
    k: usize,
) -> Result<TableTree, ExplainError> {
    let mut out = TableTree {
        children_left: Vec::new(),
        children_right: Vec::new(),
        children_default: Vec::new(),
        feature: Vec::new(),
        threshold: Vec::new(),
        value: Vec::new(),
        node_sample_weight: Vec::new(),
    };
    // Preorder with an explicit stack: (node in the tree, its parent's row in the table
    // and whether it is that parent's left child).
    let mut stack = vec![(0usize, None::<(usize, bool)>)];
    let mut rows_of_splits = Vec::new();
    while let Some((node, parent)) = stack.pop() {
        let row = out.feature.len();
        if let Some((p, left)) = parent {
            let slot = if left {
                out.children_left.get_mut(p)
            } else {
                out.children_right.get_mut(p)
            };
            if let Some(s) = slot {
                *s = row as i64;
            }
        }
        out.node_sample_weight.push(tree.cover(node));
        match tree.split(node) {
            Some((column, l, r)) => {
                let (threshold, default_left) = tree
                    .threshold(node)
                    .ok_or(ExplainError::NotThreshold { tree: at, node })?;
                out.feature.push(column as i64);
                out.threshold.push(threshold);
                out.children_left.push(-1);
                out.children_right.push(-1);
                out.children_default.push(i64::from(default_left));
                out.value.push(vec![0.0; k]);
                rows_of_splits.push(row);
                stack.push((r, Some((row, false))));
                stack.push((l, Some((row, true))));
            }
            None => {
                out.feature.push(-1);
                out.threshold.push(f64::NAN);
                out.children_left.push(-1);
                out.children_right.push(-1);
                out.children_default.push(-1);
                out.value.push(tree.leaf(node).scaled(k, scale));
            }
        }
    }
    // children_default held whether missing goes left; now the child itself. Splits'
    // values are their children's cover-weighted means, children first (reverse
    // preorder visits every child before its parent).
    for &row in rows_of_splits.iter().rev() {
        let (l, r) = (
            out.children_left.get(row).copied().unwrap_or(-1) as usize,
            out.children_right.get(row).copied().unwrap_or(-1) as usize,
        );
        if let Some(d) = out.children_default.get_mut(row) {
            *d = if *d == 1 { l as i64 } else { r as i64 };
        }
        let wl = out.node_sample_weight.get(l).copied().unwrap_or(0.0);
        let wr = out.node_sample_weight.get(r).copied().unwrap_or(0.0);
        let total = wl + wr;
        let mean: Vec<f64> = match (out.value.get(l), out.value.get(r)) {
            (Some(a), Some(b)) => a
                .iter()
                .zip(b)
                .map(|(a, b)| {
                    if total > 0.0 {
                        (a * wl + b * wr) / total
                    } else {
                        (a + b) / 2.0
                    }
                })
                .collect(),
            _ => vec![0.0; k],
        };
        if let Some(v) = out.value.get_mut(row) {
            *v = mean;
        }
    }
    Ok(out)
}
