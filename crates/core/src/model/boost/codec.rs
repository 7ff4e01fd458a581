//! `model.bin` of a gradient-boosted model.
//!
//! ```text
//! magic      8 bytes   "FERRYGBT"
//! encoding   u32       1
//! header     u32 n, then n bytes of UTF-8 JSON:
//!            {"type": "gradient_boosting_classifier", "n_features": 4, "classes": [...],
//!             "n_trees": 300, "objective": "softmax", "base_score": [...], "source": "ferry"}
//! n_trees times:
//!   n_nodes  u32
//!   group    u32       the output the tree adds to
//!   n_nodes nodes in depth-first preorder, each:
//!     feature u32      column and flags (bit 31 missing goes left, 30 categorical,
//!                      29 NaN read as 0, 28 zero is missing), or 0xFFFFFFFF for a leaf
//!     numeric split:      threshold f64, cover f64
//!     categorical split:  u32 m, m category codes u32 (they go left), cover f64
//!     leaf:               value f64, cover f64
//! ```
//!
//! Little-endian. Every length is checked against the bytes left before anything is
//! allocated, every tree through [`BoostTree::from_preorder`] and the whole model
//! through [`GradientBoostingModel::from_parts`].

use serde::{Deserialize, Serialize};

use super::tree::{BoostPreorder, BoostTree, CATEGORICAL};
use super::{GradientBoostingModel, Objective, Source};
use crate::label::ClassLabel;
use crate::model::tree::codec::{Cursor, Header, TreeFile, Trees, begin_file, read_prelude};
use crate::model::{MODEL_BIN, Model, ModelFileError, ModelKind};

/// The magic number of a boosted model's file.
pub(crate) const MAGIC: &[u8; 8] = b"FERRYGBT";
const ENCODING: u32 = 1;
const LEAF: u32 = u32::MAX;

/// The JSON header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoostHeader {
    #[serde(rename = "type")]
    kind: ModelKind,
    n_features: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<ClassLabel>>,
    n_trees: usize,
    objective: Objective,
    base_score: Vec<f64>,
    source: Source,
}

/// What a boosted file holds besides the common header.
#[derive(Debug)]
pub(crate) struct BoostParts {
    objective: Objective,
    base: Vec<f64>,
    source: Source,
    trees: Vec<BoostTree>,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Decodes a boosted model's file (its magic already matched).
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, Trees), ModelFileError> {
    let mut c = Cursor::new(bytes);
    let header: BoostHeader = serde_json::from_slice(read_prelude(&mut c, MAGIC, &[ENCODING])?.1)
        .map_err(ModelFileError::Header)?;
    // A tree takes at least 8 + 20 bytes.
    if header.n_trees == 0 || header.n_trees > c.remaining() / 28 {
        return Err(ModelFileError::TreeCount {
            n_trees: header.n_trees,
            bytes: c.remaining(),
        });
    }
    let mut trees = Vec::with_capacity(header.n_trees);
    for t in 0..header.n_trees {
        let n_nodes = c.u32("a node count")? as usize;
        let group = c.u32("a tree's output")?;
        if n_nodes == 0 || n_nodes > c.remaining() / 20 {
            return Err(ModelFileError::NodeCount {
                tree: t,
                n_nodes,
                bytes: c.remaining(),
            });
        }
        let mut preorder = Vec::with_capacity(n_nodes);
        for _ in 0..n_nodes {
            let feature = c.u32("a node")?;
            if feature == LEAF {
                let value = c.f64("a leaf value")?;
                let cover = c.f64("a cover")?;
                preorder.push(BoostPreorder::Leaf { value, cover });
            } else if feature & CATEGORICAL != 0 {
                let m = c.u32("a category count")? as usize;
                if m > c.remaining() / 4 {
                    return Err(ModelFileError::TooLarge("category set"));
                }
                let mut categories = Vec::with_capacity(m);
                for _ in 0..m {
                    categories.push(c.u32("a category")?);
                }
                let cover = c.f64("a cover")?;
                preorder.push(BoostPreorder::Split {
                    feature,
                    threshold: 0.0,
                    categories,
                    cover,
                });
            } else {
                let threshold = c.f64("a threshold")?;
                let cover = c.f64("a cover")?;
                preorder.push(BoostPreorder::Split {
                    feature,
                    threshold,
                    categories: Vec::new(),
                    cover,
                });
            }
        }
        let tree = BoostTree::from_preorder(preorder, header.n_features, group)
            .map_err(|source| ModelFileError::Tree { tree: t, source })?;
        trees.push(tree);
    }
    if c.remaining() != 0 {
        return Err(ModelFileError::TrailingBytes(c.remaining()));
    }
    let common = Header {
        kind: header.kind,
        n_features: header.n_features,
        classes: header.classes,
        n_trees: header.n_trees,
    };
    Ok((
        common,
        Trees::Boosted(BoostParts {
            objective: header.objective,
            base: header.base_score,
            source: header.source,
            trees,
        }),
    ))
}

impl TreeFile for GradientBoostingModel {
    fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
        let header = BoostHeader {
            kind: self.kind(),
            n_features: self.n_features(),
            classes: self.classes().map(<[ClassLabel]>::to_vec),
            n_trees: self.trees.len(),
            objective: self.objective,
            base_score: self.base.clone(),
            source: self.source,
        };
        let mut out = begin_file(MAGIC, ENCODING, &header)?;
        for tree in &self.trees {
            let n =
                u32::try_from(tree.nodes().len()).map_err(|_| ModelFileError::TooLarge("tree"))?;
            put_u32(&mut out, n);
            put_u32(&mut out, tree.group() as u32);
            for node in tree.preorder() {
                match node {
                    BoostPreorder::Leaf { value, cover } => {
                        put_u32(&mut out, LEAF);
                        put_f64(&mut out, value);
                        put_f64(&mut out, cover);
                    }
                    BoostPreorder::Split {
                        feature,
                        threshold,
                        categories,
                        cover,
                    } => {
                        put_u32(&mut out, feature);
                        if feature & CATEGORICAL != 0 {
                            put_u32(
                                &mut out,
                                u32::try_from(categories.len())
                                    .map_err(|_| ModelFileError::TooLarge("category set"))?,
                            );
                            for c in categories {
                                put_u32(&mut out, c);
                            }
                        } else {
                            put_f64(&mut out, threshold);
                        }
                        put_f64(&mut out, cover);
                    }
                }
            }
        }
        Ok(out)
    }

    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError> {
        let Trees::Boosted(parts) = trees else {
            return Err(ModelFileError::WrongFile {
                file: MODEL_BIN,
                kind: header.kind,
            });
        };
        GradientBoostingModel::from_parts(
            header.kind,
            header.n_features,
            header.classes,
            parts.objective,
            parts.base,
            parts.trees,
            parts.source,
        )
        .map_err(ModelFileError::Boosted)
    }
}
