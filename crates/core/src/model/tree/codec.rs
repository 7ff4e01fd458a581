//! `model.bin`: the compact binary encoding of tree models (decision trees and forests).
//!
//! ```text
//! magic      8 bytes   "FERRYTRE"
//! encoding   u32       1, or 2 for regressors that keep their leaves' row counts
//! header     u32 n, then n bytes of UTF-8 JSON:
//!            {"type": "random_forest_classifier", "n_features": 10, "classes": [0, 1], "n_trees": 100}
//!            ("classes" only for classifiers)
//! n_trees times:
//!   n_nodes  u32
//!   n_nodes nodes in depth-first preorder, each:
//!     feature u32          the split column, or 0xFFFFFFFF for a leaf
//!     split:  threshold f64   (a row goes left when x[feature] <= threshold; the left
//!                              subtree follows, then the right one)
//!     leaf of a regressor:  value f64, then (encoding 2) u32 count: the training rows
//!                           in the leaf (in-bag rows as often as drawn, for forests)
//!     leaf of a classifier: one u32 count per class (rows of each class in the leaf)
//! ```
//!
//! Integers and floats are little-endian. The reader checks every length against the
//! bytes that are left before allocating, every node through [`FlatTree::from_preorder`]
//! (one complete tree, columns below `n_features`, finite numbers), every leaf's counts,
//! and that nothing follows the last tree.

use serde::{Deserialize, Serialize};

use crate::label::ClassLabel;
use crate::model::tree::flat::{ClassTree, FlatTree, PreorderNode, ValueTree};
use crate::model::{
    DecisionTreeClassifierModel, DecisionTreeRegressorModel, ForestClassifierModel,
    ForestRegressorModel, MODEL_BIN, Model, ModelFileError, ModelKind, TreeError,
};

const MAGIC: &[u8; 8] = b"FERRYTRE";
/// Classifiers, and regressors without leaf counts (written before they were kept).
const ENCODING: u32 = 1;
/// Regressors with leaf counts.
const ENCODING_COUNTS: u32 = 2;
const LEAF: u32 = u32::MAX;

/// The JSON header of `model.bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    #[serde(rename = "type")]
    pub(crate) kind: ModelKind,
    pub(crate) n_features: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) classes: Option<Vec<ClassLabel>>,
    pub(crate) n_trees: usize,
}

/// The trees of a decoded file.
#[derive(Debug)]
pub(crate) enum Trees {
    /// Regression trees (no classes in the header).
    Values(Vec<ValueTree>),
    /// Classification trees with their leaf counts.
    Classes(Vec<ClassTree>),
    /// A gradient-boosted model's trees and the rest of its file.
    Boosted(crate::model::boost::codec::BoostParts),
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn begin(header: &Header, encoding: u32) -> Result<Vec<u8>, ModelFileError> {
    begin_file(MAGIC, encoding, header)
}

/// The start of a binary model file: `magic`, the `encoding` version and the JSON
/// `header` with its length.
pub(crate) fn begin_file(
    magic: &[u8; 8],
    encoding: u32,
    header: &impl Serialize,
) -> Result<Vec<u8>, ModelFileError> {
    let json = serde_json::to_vec(header)?;
    let len = u32::try_from(json.len()).map_err(|_| ModelFileError::TooLarge("header"))?;
    let mut out = Vec::new();
    out.extend_from_slice(magic);
    put_u32(&mut out, encoding);
    put_u32(&mut out, len);
    out.extend_from_slice(&json);
    Ok(out)
}

/// Reads what [`begin_file`] wrote, checking the magic number and that the encoding is
/// one of `encodings` (oldest first), and returns the encoding and the header's bytes.
pub(crate) fn read_prelude<'a>(
    c: &mut Cursor<'a>,
    magic: &[u8; 8],
    encodings: &[u32],
) -> Result<(u32, &'a [u8]), ModelFileError> {
    if c.take(8, "the magic number")? != magic {
        return Err(ModelFileError::BadMagic);
    }
    let found = c.u32("the encoding version")?;
    if !encodings.contains(&found) {
        return Err(ModelFileError::Encoding {
            found,
            supported: encodings.last().copied().unwrap_or(0),
        });
    }
    let header_len = c.u32("the header length")? as usize;
    Ok((found, c.take(header_len, "the header")?))
}

fn put_tree(
    out: &mut Vec<u8>,
    tree: &FlatTree,
    mut leaf: impl FnMut(&mut Vec<u8>, usize, f64),
) -> Result<(), ModelFileError> {
    put_u32(
        out,
        u32::try_from(tree.n_nodes()).map_err(|_| ModelFileError::TooLarge("tree"))?,
    );
    let mut leaf_index = 0;
    for node in tree.preorder() {
        match node {
            PreorderNode::Split { feature, threshold } => {
                put_u32(out, feature);
                out.extend_from_slice(&threshold.to_le_bytes());
            }
            PreorderNode::Leaf(value) => {
                put_u32(out, LEAF);
                leaf(out, leaf_index, value);
                leaf_index += 1;
            }
        }
    }
    Ok(())
}

/// Encodes regression trees, with their leaf counts when every tree has them.
pub(crate) fn encode_value_trees(
    header: &Header,
    trees: &[ValueTree],
) -> Result<Vec<u8>, ModelFileError> {
    let counted = trees.iter().all(ValueTree::has_covers);
    let mut out = begin(header, if counted { ENCODING_COUNTS } else { ENCODING })?;
    for tree in trees {
        let counts = tree.counts().filter(|_| counted);
        put_tree(&mut out, tree.tree(), |out, leaf, value| {
            out.extend_from_slice(&value.to_le_bytes());
            if let Some(c) = counts {
                put_u32(out, c.get(leaf).copied().unwrap_or(0));
            }
        })?;
    }
    Ok(out)
}

/// Encodes classification trees with their leaf counts.
pub(crate) fn encode_class_trees(
    header: &Header,
    n_classes: usize,
    trees: &[ClassTree],
) -> Result<Vec<u8>, ModelFileError> {
    let mut out = begin(header, ENCODING)?;
    for tree in trees {
        let counts = tree.counts();
        put_tree(&mut out, tree.tree(), |out, leaf, _| {
            for c in counts
                .get(leaf * n_classes..(leaf + 1) * n_classes)
                .unwrap_or_default()
            {
                put_u32(out, *c);
            }
        })?;
    }
    Ok(out)
}

/// A bounds-checked reader over the file's bytes.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn take(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<&'a [u8], ModelFileError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(ModelFileError::Truncated {
                what,
                needed: n,
                offset: self.at,
                left: self.remaining(),
            });
        };
        let slice = self.bytes.get(self.at..end).unwrap_or_default();
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ModelFileError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ModelFileError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn f64(&mut self, what: &'static str) -> Result<f64, ModelFileError> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }
}

/// Decodes `model.bin`.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, Trees), ModelFileError> {
    if bytes.starts_with(crate::model::boost::codec::MAGIC) {
        return crate::model::boost::codec::decode(bytes);
    }
    let mut c = Cursor::new(bytes);
    let (encoding, header) = read_prelude(&mut c, MAGIC, &[ENCODING, ENCODING_COUNTS])?;
    let header: Header = serde_json::from_slice(header).map_err(ModelFileError::Header)?;
    let n_classes = header.classes.as_ref().map(Vec::len);
    if n_classes == Some(0) {
        return Err(ModelFileError::NoClasses);
    }
    let leaf_counts = encoding == ENCODING_COUNTS;
    if leaf_counts && n_classes.is_some() {
        return Err(ModelFileError::Encoding {
            found: encoding,
            supported: ENCODING,
        });
    }
    // Each tree takes at least 4 + 12 bytes: never allocate for more than could follow.
    if header.n_trees == 0 || header.n_trees > c.remaining() / 16 {
        return Err(ModelFileError::TreeCount {
            n_trees: header.n_trees,
            bytes: c.remaining(),
        });
    }
    let leaf_bytes = n_classes.map_or(if leaf_counts { 12 } else { 8 }, |k| 4 * k);
    let mut value_trees = Vec::new();
    let mut class_trees = Vec::new();
    for t in 0..header.n_trees {
        let n_nodes = c.u32("a node count")? as usize;
        if n_nodes == 0 || n_nodes > c.remaining() / 12_usize.min(4 + leaf_bytes) {
            return Err(ModelFileError::NodeCount {
                tree: t,
                n_nodes,
                bytes: c.remaining(),
            });
        }
        let mut preorder = Vec::with_capacity(n_nodes);
        // A complete binary tree of n nodes has (n + 1) / 2 leaves: the counts are
        // allocated once, at their size (checked against the tree below).
        let mut counts = Vec::with_capacity((n_nodes / 2 + 1) * n_classes.unwrap_or(1));
        for _ in 0..n_nodes {
            let feature = c.u32("a node")?;
            if feature != LEAF {
                let threshold = c.f64("a threshold")?;
                preorder.push(PreorderNode::Split { feature, threshold });
            } else if let Some(k) = n_classes {
                for _ in 0..k {
                    counts.push(c.u32("a class count")?);
                }
                preorder.push(PreorderNode::Leaf(0.0));
            } else {
                preorder.push(PreorderNode::Leaf(c.f64("a leaf value")?));
                if leaf_counts {
                    counts.push(c.u32("a leaf count")?);
                }
            }
        }
        let in_tree = |source: TreeError| ModelFileError::Tree { tree: t, source };
        let tree = FlatTree::from_preorder(preorder, header.n_features).map_err(in_tree)?;
        match n_classes {
            Some(k) => class_trees.push(ClassTree::new(tree, k, counts).map_err(in_tree)?),
            None => value_trees
                .push(ValueTree::new(tree, leaf_counts.then_some(counts)).map_err(in_tree)?),
        }
    }
    if c.remaining() != 0 {
        return Err(ModelFileError::TrailingBytes(c.remaining()));
    }
    let trees = match n_classes {
        Some(_) => Trees::Classes(class_trees),
        None => Trees::Values(value_trees),
    };
    Ok((header, trees))
}

/// A fitted model stored in `model.bin`: how it becomes a header and trees, and back.
pub(crate) trait TreeFile: Sized {
    /// Encodes the model.
    fn encode(&self) -> Result<Vec<u8>, ModelFileError>;
    /// Builds the model from a decoded file, whose header names one of its kinds.
    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError>;
}

/// The header of a model with `classes` (classifiers) and `n_trees` trees.
fn header_of(model: &impl Model, n_trees: usize) -> Header {
    Header {
        kind: model.kind(),
        n_features: model.n_features(),
        classes: model.classes().map(<[ClassLabel]>::to_vec),
        n_trees,
    }
}

/// The classes of a classifier's header with its class trees, or why not.
fn class_parts(
    header: Header,
    trees: Trees,
) -> Result<(Vec<ClassLabel>, Vec<ClassTree>), ModelFileError> {
    match (header.classes, trees) {
        (Some(classes), Trees::Classes(t)) => Ok((classes, t)),
        (Some(_) | None, Trees::Classes(_) | Trees::Values(_) | Trees::Boosted(_)) => {
            Err(ModelFileError::WrongFile {
                file: MODEL_BIN,
                kind: header.kind,
            })
        }
    }
}

/// The value trees of a regressor's header, or why not.
fn value_parts(header: &Header, trees: Trees) -> Result<Vec<ValueTree>, ModelFileError> {
    match (&header.classes, trees) {
        (None, Trees::Values(t)) => Ok(t),
        (Some(_) | None, Trees::Classes(_) | Trees::Values(_) | Trees::Boosted(_)) => {
            Err(ModelFileError::WrongFile {
                file: MODEL_BIN,
                kind: header.kind,
            })
        }
    }
}

/// The one tree of a decision tree's file.
fn single<T>(mut trees: Vec<T>) -> Result<T, ModelFileError> {
    match (trees.pop(), trees.is_empty()) {
        (Some(t), true) => Ok(t),
        (Some(_) | None, _) => Err(ModelFileError::NotOneTree),
    }
}

impl TreeFile for DecisionTreeClassifierModel {
    fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
        let n_classes = self.classes().map_or(0, <[ClassLabel]>::len);
        encode_class_trees(
            &header_of(self, 1),
            n_classes,
            std::slice::from_ref(self.tree()),
        )
    }

    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError> {
        let n_features = header.n_features;
        let (classes, trees) = class_parts(header, trees)?;
        Ok(Self::from_parts(classes, n_features, single(trees)?))
    }
}

impl TreeFile for DecisionTreeRegressorModel {
    fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
        encode_value_trees(&header_of(self, 1), std::slice::from_ref(self.tree()))
    }

    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError> {
        let trees = value_parts(&header, trees)?;
        Ok(Self::from_parts(header.n_features, single(trees)?))
    }
}

impl TreeFile for ForestClassifierModel {
    fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
        let n_classes = self.classes().map_or(0, <[ClassLabel]>::len);
        encode_class_trees(&header_of(self, self.n_trees()), n_classes, self.trees())
    }

    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError> {
        let n_features = header.n_features;
        let (classes, trees) = class_parts(header, trees)?;
        Ok(Self::from_parts(classes, n_features, trees))
    }
}

impl TreeFile for ForestRegressorModel {
    fn encode(&self) -> Result<Vec<u8>, ModelFileError> {
        encode_value_trees(&header_of(self, self.trees().len()), self.trees())
    }

    fn decode(header: Header, trees: Trees) -> Result<Self, ModelFileError> {
        let trees = value_parts(&header, trees)?;
        Ok(Self::from_parts(header.kind, header.n_features, trees))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> FlatTree {
        FlatTree::from_preorder(
            [
                PreorderNode::Split {
                    feature: 1,
                    threshold: 0.5,
                },
                PreorderNode::Leaf(-1.5),
                PreorderNode::Leaf(2.25),
            ],
            2,
        )
        .unwrap()
    }

    fn header(classes: Option<Vec<ClassLabel>>, n_trees: usize) -> Header {
        Header {
            kind: if classes.is_some() {
                ModelKind::RandomForestClassifier
            } else {
                ModelKind::RandomForestRegressor
            },
            n_features: 2,
            classes,
            n_trees,
        }
    }

    fn uncounted() -> ValueTree {
        ValueTree::new(stump(), None).unwrap()
    }

    fn counted() -> ValueTree {
        ValueTree::new(stump(), Some(vec![3, 5])).unwrap()
    }

    #[test]
    fn regression_trees_round_trip_and_have_the_documented_layout() {
        let h = header(None, 2);
        let bytes = encode_value_trees(&h, &[uncounted(), uncounted()]).unwrap();
        let json = serde_json::to_vec(&h).unwrap();
        // magic + encoding + header + 2 x (count + 3 nodes of 12 bytes)
        assert_eq!(bytes.len(), 8 + 4 + 4 + json.len() + 2 * (4 + 36));
        assert_eq!(&bytes[..8], b"FERRYTRE");
        let (back, trees) = decode(&bytes).unwrap();
        assert_eq!(back, h);
        let Trees::Values(trees) = trees else {
            panic!("regression trees")
        };
        assert_eq!(trees, vec![uncounted(), uncounted()]);

        // With leaf counts: encoding 2, four more bytes a leaf.
        let bytes = encode_value_trees(&h, &[counted(), counted()]).unwrap();
        assert_eq!(bytes.len(), 8 + 4 + 4 + json.len() + 2 * (4 + 36 + 8));
        assert_eq!(bytes[8..12], 2u32.to_le_bytes());
        let (_, Trees::Values(trees)) = decode(&bytes).unwrap() else {
            panic!("regression trees")
        };
        assert_eq!(trees, vec![counted(), counted()]);
        assert_eq!(trees[0].counts(), Some(&[3, 5][..]));
        // One tree without counts: the file keeps none.
        let bytes = encode_value_trees(&h, &[counted(), uncounted()]).unwrap();
        assert_eq!(bytes[8..12], 1u32.to_le_bytes());
    }

    #[test]
    fn class_trees_round_trip_with_their_counts() {
        let h = header(Some(vec![ClassLabel::Int(0), ClassLabel::Int(1)]), 1);
        let stump = FlatTree::from_preorder(
            [
                PreorderNode::Split {
                    feature: 1,
                    threshold: 0.5,
                },
                PreorderNode::Leaf(0.0),
                PreorderNode::Leaf(0.0),
            ],
            2,
        )
        .unwrap();
        let tree = ClassTree::new(stump, 2, vec![4, 1, 0, 7]).unwrap();
        let bytes = encode_class_trees(&h, 2, std::slice::from_ref(&tree)).unwrap();
        let (_, trees) = decode(&bytes).unwrap();
        let Trees::Classes(trees) = trees else {
            panic!("class trees")
        };
        assert_eq!(trees, vec![tree]);
    }

    #[test]
    fn damaged_files_are_refused_without_panicking() {
        let h = header(None, 1);
        // Every truncation, and every single-byte change, is refused or decodes into a
        // valid tree: never a panic, never an unchecked index.
        for tree in [counted(), uncounted()] {
            let good = encode_value_trees(&h, &[tree]).unwrap();
            for n in 0..good.len() {
                assert!(decode(&good[..n]).is_err(), "truncated at {n}");
            }
            for i in 0..good.len() {
                for v in [0u8, 0x7F, 0xFF] {
                    let mut bad = good.clone();
                    bad[i] = v;
                    if let Ok((_, Trees::Values(trees))) = decode(&bad) {
                        for t in &trees {
                            assert!(t.leaf(&[0.0, 1.0]).is_some());
                        }
                    }
                }
            }
        }
        let good = encode_value_trees(&h, &[uncounted()]).unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(
            decode(&trailing)
                .unwrap_err()
                .to_string()
                .contains("unexpected bytes")
        );
        let mut huge = good;
        let count_at = huge.len() - 40;
        huge[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).unwrap_err().to_string().contains("announces"));
    }
}
