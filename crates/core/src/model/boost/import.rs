//! Readers of the model formats of XGBoost (the JSON model, `Booster.save_model("m.json")`)
//! and LightGBM (the text model, `Booster.save_model("m.txt")`) into a
//! [`GradientBoostingModel`].
//!
//! Both are untrusted input: every array length, index and number is checked, the trees
//! through the same checks as Ferry's own files, and whatever the reader does not
//! implement (another booster, objective, linear trees, categorical splits in XGBoost) is
//! refused by name rather than read approximately.
//!
//! XGBoost compares features rounded to `f32` with `x < threshold`; each threshold is
//! converted once into the `f64` threshold that gives the same decision under Ferry's
//! `x <= threshold` ([`xgboost_threshold`]). Its `base_score` is stored in output space
//! (a probability for `binary:logistic`) and becomes the raw-score baseline.
//! LightGBM's leaf values already include shrinkage and the initial score, and its
//! missing-value rules (`missing_type` None, Zero, NaN) and categorical bitsets are kept
//! per node.

use serde::Deserialize;

use super::tree::{
    BoostPreorder, BoostTree, CATEGORICAL, DEFAULT_LEFT, NAN_AS_ZERO, ZERO_MISSING,
    xgboost_threshold,
};
use super::{GradientBoostingModel, Objective, Source};
use crate::label::ClassLabel;
use crate::model::{ModelKind, TreeError};

/// Why a model file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The XGBoost file is not JSON of the expected shape.
    #[error("not an XGBoost JSON model: {0}")]
    Json(#[from] serde_json::Error),
    /// A field has a value Ferry does not implement.
    #[error("unsupported {what}: {found:?} (supported: {supported})")]
    Unsupported {
        /// The field.
        what: &'static str,
        /// Its value in the file.
        found: String,
        /// What Ferry reads.
        supported: &'static str,
    },
    /// A field the format requires is absent.
    #[error("missing field `{0}`")]
    Missing(String),
    /// A field is present but malformed.
    #[error("field `{field}`: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A tree is not a valid tree.
    #[error("tree {tree}: {source}")]
    Tree {
        /// The tree's index in the file.
        tree: usize,
        /// What is wrong.
        source: TreeError,
    },
    /// The class list given does not match the model's outputs.
    #[error("the model has {outputs} classes but {given} class labels were given")]
    Classes {
        /// Classes in the model.
        outputs: usize,
        /// Labels given.
        given: usize,
    },
    /// The parts do not make one model.
    #[error("{0}")]
    Model(String),
}

/// A model read from another library's file.
#[derive(Debug, Clone)]
pub struct ImportedModel {
    /// The model.
    pub model: GradientBoostingModel,
    /// The feature names the file records (empty when it records none).
    pub feature_names: Vec<String>,
    /// Columns the file marks categorical.
    pub categorical: Vec<usize>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The class labels of a classifier with `k` classes: the given ones, or 0..k.
fn class_labels(k: usize, given: Option<Vec<ClassLabel>>) -> Result<Vec<ClassLabel>, ImportError> {
    match given {
        Some(c) if c.len() == k => Ok(c),
        Some(c) => Err(ImportError::Classes {
            outputs: k,
            given: c.len(),
        }),
        None => Ok((0..k as i64).map(ClassLabel::Int).collect()),
    }
}

fn build(
    objective: Objective,
    n_features: usize,
    classes: Option<Vec<ClassLabel>>,
    base: Vec<f64>,
    trees: Vec<BoostTree>,
    source: Source,
) -> Result<GradientBoostingModel, ImportError> {
    let kind = if objective == Objective::SquaredError {
        ModelKind::GradientBoostingRegressor
    } else {
        ModelKind::GradientBoostingClassifier
    };
    GradientBoostingModel::from_parts(kind, n_features, classes, objective, base, trees, source)
        .map_err(ImportError::Model)
}

// ---------------------------------------------------------------- XGBoost

#[derive(Deserialize)]
struct XgbFile {
    learner: XgbLearner,
}

#[derive(Deserialize)]
struct XgbLearner {
    #[serde(default)]
    feature_names: Vec<String>,
    #[serde(default)]
    feature_types: Vec<String>,
    gradient_booster: XgbBooster,
    learner_model_param: XgbLearnerParam,
    objective: XgbObjective,
}

#[derive(Deserialize)]
struct XgbLearnerParam {
    base_score: String,
    #[serde(default)]
    num_class: Option<String>,
    num_feature: String,
    #[serde(default)]
    num_target: Option<String>,
}

#[derive(Deserialize)]
struct XgbObjective {
    name: String,
}

#[derive(Deserialize)]
struct XgbBooster {
    name: String,
    #[serde(default)]
    model: Option<XgbModel>,
}

#[derive(Deserialize)]
struct XgbModel {
    trees: Vec<XgbTree>,
    tree_info: Vec<i64>,
}

#[derive(Deserialize)]
struct XgbTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    split_conditions: Vec<f32>,
    default_left: Vec<u8>,
    sum_hessian: Vec<f32>,
    #[serde(default)]
    split_type: Vec<u8>,
}

fn parse_count(field: &str, s: &str) -> Result<usize, ImportError> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| invalid(field, format!("expected a count, found {s:?}")))
}

/// XGBoost writes `base_score` as `"5E-1"` (before 3.0) or `"[5E-1]"` (one per output).
fn parse_base_score(s: &str) -> Result<Vec<f64>, ImportError> {
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    invalid(
                        "learner_model_param.base_score",
                        format!("expected numbers, found {s:?}"),
                    )
                })
        })
        .collect()
}

/// Reads an XGBoost JSON model (gbtree booster; `binary:logistic`, `multi:softprob` or
/// `reg:squarederror`). A classifier's labels are `classes` when given, else 0, 1, ...
///
/// # Errors
/// [`ImportError`] naming the field that is missing, malformed or not supported.
pub fn import_xgboost(
    bytes: &[u8],
    classes: Option<Vec<ClassLabel>>,
) -> Result<ImportedModel, ImportError> {
    let file: XgbFile = serde_json::from_slice(bytes)?;
    let l = file.learner;
    if l.gradient_booster.name != "gbtree" {
        return Err(ImportError::Unsupported {
            what: "booster",
            found: l.gradient_booster.name,
            supported: "gbtree",
        });
    }
    if let Some(t) = &l.learner_model_param.num_target
        && parse_count("learner_model_param.num_target", t)? > 1
    {
        return Err(ImportError::Unsupported {
            what: "num_target",
            found: t.clone(),
            supported: "1",
        });
    }
    let categorical: Vec<usize> = l
        .feature_types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.as_str() == "c")
        .map(|(i, _)| i)
        .collect();
    let n_features = parse_count(
        "learner_model_param.num_feature",
        &l.learner_model_param.num_feature,
    )?;
    let num_class = match &l.learner_model_param.num_class {
        Some(s) => parse_count("learner_model_param.num_class", s)?,
        None => 0,
    };
    let base_scores = parse_base_score(&l.learner_model_param.base_score)?;
    let (objective, outputs, classes, base) = match l.objective.name.as_str() {
        "binary:logistic" => {
            let p = *base_scores
                .first()
                .ok_or_else(|| ImportError::Missing("learner_model_param.base_score".into()))?;
            if !(p > 0.0 && p < 1.0) {
                return Err(invalid(
                    "learner_model_param.base_score",
                    format!("expected a probability strictly between 0 and 1, found {p}"),
                ));
            }
            (
                Objective::Logistic,
                1,
                Some(class_labels(2, classes)?),
                vec![(p / (1.0 - p)).ln()],
            )
        }
        "multi:softprob" | "multi:softmax" => {
            if num_class < 2 {
                return Err(invalid(
                    "learner_model_param.num_class",
                    format!("expected at least 2, found {num_class}"),
                ));
            }
            let base = if base_scores.len() == num_class {
                base_scores
            } else if base_scores.len() == 1 {
                vec![base_scores[0]; num_class]
            } else {
                return Err(invalid(
                    "learner_model_param.base_score",
                    format!(
                        "expected 1 or {num_class} values, found {}",
                        base_scores.len()
                    ),
                ));
            };
            (
                Objective::Softmax,
                num_class,
                Some(class_labels(num_class, classes)?),
                base,
            )
        }
        "reg:squarederror" => {
            let b = *base_scores
                .first()
                .ok_or_else(|| ImportError::Missing("learner_model_param.base_score".into()))?;
            (Objective::SquaredError, 1, None, vec![b])
        }
        other => {
            return Err(ImportError::Unsupported {
                what: "objective",
                found: other.to_owned(),
                supported: "binary:logistic, multi:softprob, reg:squarederror",
            });
        }
    };
    let model = l
        .gradient_booster
        .model
        .ok_or_else(|| ImportError::Missing("gradient_booster.model".into()))?;
    if model.tree_info.len() != model.trees.len() {
        return Err(invalid(
            "gradient_booster.model.tree_info",
            format!(
                "{} entries for {} trees",
                model.tree_info.len(),
                model.trees.len()
            ),
        ));
    }
    let mut trees = Vec::with_capacity(model.trees.len());
    for (i, (t, &group)) in model.trees.iter().zip(&model.tree_info).enumerate() {
        let group = u32::try_from(group)
            .ok()
            .filter(|&g| (g as usize) < outputs)
            .ok_or_else(|| {
                invalid(
                    format!("gradient_booster.model.tree_info[{i}]"),
                    format!("expected an output below {outputs}, found {group}"),
                )
            })?;
        trees.push(xgboost_tree(i, t, n_features, group)?);
    }
    Ok(ImportedModel {
        model: build(objective, n_features, classes, base, trees, Source::Xgboost)?,
        feature_names: l.feature_names,
        categorical,
    })
}

fn xgboost_tree(
    index: usize,
    t: &XgbTree,
    n_features: usize,
    group: u32,
) -> Result<BoostTree, ImportError> {
    let n = t.left_children.len();
    let field = |name: &str| format!("trees[{index}].{name}");
    for (name, len) in [
        ("right_children", t.right_children.len()),
        ("split_indices", t.split_indices.len()),
        ("split_conditions", t.split_conditions.len()),
        ("default_left", t.default_left.len()),
        ("sum_hessian", t.sum_hessian.len()),
    ] {
        if len != n {
            return Err(invalid(field(name), format!("{len} entries for {n} nodes")));
        }
    }
    if n == 0 {
        return Err(invalid(
            field("left_children"),
            "a tree needs at least one node",
        ));
    }
    if t.split_type.iter().any(|&s| s != 0) {
        return Err(ImportError::Unsupported {
            what: "split type",
            found: format!("categorical split in tree {index}"),
            supported: "numeric splits",
        });
    }
    // Preorder walk from the root; each node is visited at most once.
    let mut preorder = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    let mut seen = vec![false; n];
    while let Some(i) = stack.pop() {
        if i >= n || std::mem::replace(&mut seen[i], true) {
            return Err(invalid(
                field("left_children"),
                format!("node {i} is out of range or reached twice"),
            ));
        }
        let (left, right) = (t.left_children[i], t.right_children[i]);
        let cover = f64::from(t.sum_hessian[i]);
        if left == -1 && right == -1 {
            preorder.push(BoostPreorder::Leaf {
                value: f64::from(t.split_conditions[i]),
                cover,
            });
            continue;
        }
        let (Ok(left), Ok(right)) = (usize::try_from(left), usize::try_from(right)) else {
            return Err(invalid(
                field("right_children"),
                format!("node {i} has one child"),
            ));
        };
        let feature = u32::try_from(t.split_indices[i])
            .ok()
            .filter(|&f| (f as usize) < n_features)
            .ok_or_else(|| {
                invalid(
                    field("split_indices"),
                    format!(
                        "node {i} splits on {} of {n_features} features",
                        t.split_indices[i]
                    ),
                )
            })?;
        let flags = if t.default_left[i] != 0 {
            DEFAULT_LEFT
        } else {
            0
        };
        preorder.push(BoostPreorder::Split {
            feature: feature | flags,
            threshold: xgboost_threshold(t.split_conditions[i]),
            categories: Vec::new(),
            cover,
        });
        stack.push(right);
        stack.push(left);
    }
    BoostTree::from_preorder(preorder, n_features, group).map_err(|source| ImportError::Tree {
        tree: index,
        source,
    })
}

// ---------------------------------------------------------------- LightGBM

/// The `key=value` lines of one block of a LightGBM text model.
struct Block<'a> {
    name: String,
    lines: Vec<(&'a str, &'a str)>,
}

impl<'a> Block<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.lines.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn req(&self, key: &str) -> Result<&'a str, ImportError> {
        self.get(key)
            .ok_or_else(|| ImportError::Missing(format!("{}{key}", self.name)))
    }

    fn list<T: std::str::FromStr>(
        &self,
        key: &str,
        expected: usize,
    ) -> Result<Vec<T>, ImportError> {
        let raw = self.req(key)?;
        let values: Vec<T> = raw
            .split_whitespace()
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    invalid(format!("{}{key}", self.name), format!("cannot read {v:?}"))
                })
            })
            .collect::<Result<_, _>>()?;
        if values.len() != expected {
            return Err(invalid(
                format!("{}{key}", self.name),
                format!("expected {expected} values, found {}", values.len()),
            ));
        }
        Ok(values)
    }
}

/// Reads a LightGBM text model (`gbdt` boosting; `binary`, `multiclass` or `regression`
/// objectives). A classifier's labels are `classes` when given, else 0, 1, ...
///
/// # Errors
/// [`ImportError`] naming the field that is missing, malformed or not supported.
pub fn import_lightgbm(
    text: &str,
    classes: Option<Vec<ClassLabel>>,
) -> Result<ImportedModel, ImportError> {
    // Blocks: the header, then one per `Tree=i`, until `end of trees`.
    let mut blocks: Vec<Block<'_>> = vec![Block {
        name: String::new(),
        lines: Vec::new(),
    }];
    for line in text.lines() {
        let line = line.trim();
        if line == "end of trees" {
            break;
        }
        if let Some(i) = line.strip_prefix("Tree=") {
            blocks.push(Block {
                name: format!("Tree={i}: "),
                lines: Vec::new(),
            });
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && let Some(b) = blocks.last_mut()
        {
            b.lines.push((k, v));
        }
    }
    let header = blocks.remove(0);
    if text.lines().next().map(str::trim) != Some("tree") {
        return Err(invalid(
            "the first line",
            "a LightGBM text model starts with `tree`",
        ));
    }
    let n_features = parse_count("max_feature_idx", header.req("max_feature_idx")?)? + 1;
    let per_iter = parse_count(
        "num_tree_per_iteration",
        header.req("num_tree_per_iteration")?,
    )?;
    if let Some(b) = header.get("boosting")
        && b != "gbdt"
    {
        return Err(ImportError::Unsupported {
            what: "boosting",
            found: b.to_owned(),
            supported: "gbdt",
        });
    }
    if header.get("average_output").is_some() {
        return Err(ImportError::Unsupported {
            what: "average_output",
            found: "present (random forest mode)".into(),
            supported: "gbdt models",
        });
    }
    let objective_line = header.req("objective")?;
    let mut words = objective_line.split_whitespace();
    let name = words.next().unwrap_or_default();
    let mut sigmoid = 1.0;
    let mut num_class = 1;
    for w in words {
        if let Some(v) = w.strip_prefix("sigmoid:") {
            sigmoid = v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| invalid("objective", format!("bad sigmoid {v:?}")))?;
        } else if let Some(v) = w.strip_prefix("num_class:") {
            num_class = parse_count("objective", v)?;
        }
    }
    let (objective, outputs, classes, scale) = match name {
        "binary" => (
            Objective::Logistic,
            1,
            Some(class_labels(2, classes)?),
            sigmoid,
        ),
        "multiclass" | "softmax" => {
            if num_class < 2 {
                return Err(invalid("objective", format!("num_class {num_class}")));
            }
            (
                Objective::Softmax,
                num_class,
                Some(class_labels(num_class, classes)?),
                1.0,
            )
        }
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" => {
            (Objective::SquaredError, 1, None, 1.0)
        }
        other => {
            return Err(ImportError::Unsupported {
                what: "objective",
                found: other.to_owned(),
                supported: "binary, multiclass, regression",
            });
        }
    };
    if per_iter != outputs {
        return Err(invalid(
            "num_tree_per_iteration",
            format!("expected {outputs} for objective {name}, found {per_iter}"),
        ));
    }
    let names: Vec<String> = header
        .get("feature_names")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut trees = Vec::with_capacity(blocks.len());
    let mut categorical = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let group = (i % outputs) as u32;
        trees.push(lightgbm_tree(
            i,
            block,
            n_features,
            group,
            scale,
            &mut categorical,
        )?);
    }
    if trees.is_empty() {
        return Err(ImportError::Missing("Tree=0".into()));
    }
    categorical.sort_unstable();
    categorical.dedup();
    let base = vec![0.0; outputs];
    Ok(ImportedModel {
        model: build(
            objective,
            n_features,
            classes,
            base,
            trees,
            Source::Lightgbm,
        )?,
        feature_names: names,
        categorical,
    })
}

fn lightgbm_tree(
    index: usize,
    b: &Block<'_>,
    n_features: usize,
    group: u32,
    scale: f64,
    categorical: &mut Vec<usize>,
) -> Result<BoostTree, ImportError> {
    if b.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err(ImportError::Unsupported {
            what: "tree type",
            found: format!("linear tree {index}"),
            supported: "constant leaves",
        });
    }
    let n_leaves = parse_count("num_leaves", b.req("num_leaves")?)?;
    if n_leaves == 0 {
        return Err(invalid(
            format!("{}num_leaves", b.name),
            "expected at least 1",
        ));
    }
    let leaf_value: Vec<f64> = b.list("leaf_value", n_leaves)?;
    let leaf_count: Vec<f64> = if n_leaves == 1 {
        b.list("leaf_count", 1).unwrap_or_else(|_| vec![0.0])
    } else {
        b.list("leaf_count", n_leaves)?
    };
    let into_tree = |source| ImportError::Tree {
        tree: index,
        source,
    };
    if n_leaves == 1 {
        return BoostTree::from_preorder(
            [BoostPreorder::Leaf {
                value: leaf_value[0] * scale,
                cover: leaf_count[0],
            }],
            n_features,
            group,
        )
        .map_err(into_tree);
    }
    let m = n_leaves - 1;
    let split_feature: Vec<u32> = b.list("split_feature", m)?;
    let threshold: Vec<f64> = b.list("threshold", m)?;
    let decision_type: Vec<u32> = b.list("decision_type", m)?;
    let left: Vec<i64> = b.list("left_child", m)?;
    let right: Vec<i64> = b.list("right_child", m)?;
    let internal_count: Vec<f64> = b.list("internal_count", m)?;
    let num_cat = parse_count("num_cat", b.get("num_cat").unwrap_or("0"))?;
    let (cat_boundaries, cat_threshold): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let bounds: Vec<usize> = b.list("cat_boundaries", num_cat + 1)?;
        let words = bounds.last().copied().unwrap_or(0);
        (bounds, b.list("cat_threshold", words)?)
    } else {
        (Vec::new(), Vec::new())
    };
    // Preorder walk; negative children are leaves (~leaf index).
    enum At {
        Node(usize),
        Leaf(usize),
    }
    let mut preorder = Vec::with_capacity(2 * n_leaves);
    let mut stack = vec![At::Node(0)];
    let mut steps = 0;
    let child = |c: i64| -> Result<At, ImportError> {
        if c < 0 {
            let leaf = usize::try_from(!c).unwrap_or(usize::MAX);
            if leaf < n_leaves {
                return Ok(At::Leaf(leaf));
            }
        } else if (c as usize) < m {
            return Ok(At::Node(c as usize));
        }
        Err(invalid(
            format!("{}left_child", b.name),
            format!("child {c} out of range"),
        ))
    };
    while let Some(at) = stack.pop() {
        steps += 1;
        if steps > 2 * n_leaves {
            return Err(invalid(
                format!("{}left_child", b.name),
                "the children form a cycle",
            ));
        }
        match at {
            At::Leaf(l) => preorder.push(BoostPreorder::Leaf {
                value: leaf_value[l] * scale,
                cover: leaf_count[l],
            }),
            At::Node(i) => {
                let dt = decision_type[i];
                let f = split_feature[i];
                if f as usize >= n_features {
                    return Err(invalid(
                        format!("{}split_feature", b.name),
                        format!("node {i} splits on {f} of {n_features} features"),
                    ));
                }
                let mut flags = if dt & 2 != 0 { DEFAULT_LEFT } else { 0 };
                let mut categories = Vec::new();
                match (dt >> 2) & 3 {
                    0 => flags |= NAN_AS_ZERO,
                    1 => flags |= ZERO_MISSING,
                    _ => {}
                }
                if dt & 1 != 0 {
                    flags = CATEGORICAL;
                    categorical.push(f as usize);
                    let cat = threshold[i];
                    let ci = cat as usize;
                    if cat < 0.0 || cat.fract() != 0.0 || ci >= num_cat {
                        return Err(invalid(
                            format!("{}threshold", b.name),
                            format!("node {i}: category set {cat} of {num_cat}"),
                        ));
                    }
                    let (lo, hi) = (cat_boundaries[ci], cat_boundaries[ci + 1]);
                    let words = cat_threshold.get(lo..hi).ok_or_else(|| {
                        invalid(format!("{}cat_boundaries", b.name), "out of range")
                    })?;
                    for (w, &bits) in words.iter().enumerate() {
                        for bit in 0..32 {
                            if bits & (1 << bit) != 0 {
                                categories.push(w as u32 * 32 + bit);
                            }
                        }
                    }
                }
                preorder.push(BoostPreorder::Split {
                    feature: f | flags,
                    threshold: if flags & CATEGORICAL != 0 {
                        0.0
                    } else {
                        threshold[i]
                    },
                    categories,
                    cover: internal_count[i],
                });
                stack.push(child(right[i])?);
                stack.push(child(left[i])?);
            }
        }
    }
    BoostTree::from_preorder(preorder, n_features, group).map_err(into_tree)
}
