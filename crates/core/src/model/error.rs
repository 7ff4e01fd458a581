use crate::model::Task;
use crate::preprocess::PreprocessError;
use crate::schema::{RowErrors, describe_rows};

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The target's kind does not match the algorithm (caller's fault).
    #[error("{algorithm} needs a {expected:?} target")]
    WrongTask {
        /// The algorithm.
        algorithm: &'static str,
        /// The task it performs.
        expected: Task,
    },
    /// Too few rows or classes to fit (caller's fault).
    #[error("cannot fit {algorithm}: {reason}")]
    NotEnoughData {
        /// The algorithm.
        algorithm: &'static str,
        /// What is missing.
        reason: String,
    },
    /// An iterative fit stopped at its iteration limit (caller's fault: the limit or
    /// the tolerance is too tight for the data).
    #[error(
        "{algorithm} did not converge in max_iter = {max_iter} iterations; raise max_iter or tol"
    )]
    NotConverged {
        /// The algorithm.
        algorithm: &'static str,
        /// The limit it hit.
        max_iter: usize,
    },
    /// The training data has values the algorithm cannot take (a negative count for
    /// multinomial naive Bayes, say): the caller's data or preprocessing.
    #[error("{algorithm} cannot be fitted on this data: {reason}")]
    UnsuitedData {
        /// The algorithm.
        algorithm: &'static str,
        /// Which value, where, and what was expected.
        reason: String,
    },
    /// smartcore reported a failure.
    #[error("{algorithm} failed to fit: {message}")]
    Library {
        /// The algorithm.
        algorithm: &'static str,
        /// smartcore's message.
        message: String,
    },
}

impl TrainError {
    /// True when the data or config is at fault, false for library failures.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            TrainError::WrongTask { .. }
            | TrainError::NotEnoughData { .. }
            | TrainError::NotConverged { .. }
            | TrainError::UnsuitedData { .. } => true,
            TrainError::Library { .. } => false,
        }
    }
}

/// Why a prediction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredictError {
    /// Values the model cannot use (caller's fault), every one of the batch by record:
    /// categories its `one_hot` steps never saw, values too large to scale, inputs so
    /// large the model's output overflows (attributed to the record's largest input).
    #[error("{}", describe_rows(.0))]
    InvalidValues(Vec<RowErrors>),
    /// Preprocessing failed for another reason (a value no step fills is the caller's
    /// fault; the others are internal).
    #[error(transparent)]
    Preprocess(PreprocessError),
    /// The input matrix has the wrong number of columns (internal fault: the
    /// preprocessor and model of a bundle disagree).
    #[error("model expects {expected} input columns, got {found}")]
    WidthMismatch {
        /// Columns the model was trained on.
        expected: usize,
        /// Columns given.
        found: usize,
    },
    /// The model failed (internal fault).
    #[error("prediction failed: {0}")]
    Library(String),
}

impl From<PreprocessError> for PredictError {
    fn from(e: PreprocessError) -> Self {
        match e {
            PreprocessError::InvalidValues(rows) => PredictError::InvalidValues(rows),
            other @ (PreprocessError::Invalid(_)
            | PreprocessError::NoValues { .. }
            | PreprocessError::MissingValue { .. }
            | PreprocessError::Internal(_)
            | PreprocessError::FrameMismatch { .. }) => PredictError::Preprocess(other),
        }
    }
}

impl PredictError {
    /// True when the request is at fault, false for internal faults.
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        match self {
            PredictError::Preprocess(e) => e.is_caller_error(),
            PredictError::InvalidValues(_) => true,
            PredictError::WidthMismatch { .. } | PredictError::Library(_) => false,
        }
    }
}

/// A `type` that names no algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model type '{0}'")]
pub struct UnknownModelKind(pub String);

/// Why a model file (`model.json` or `model.bin`) could not be written or read. A
/// model file is untrusted input: every count and index in it is checked.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The JSON does not parse into a model.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The artifact names a model file this build does not know.
    #[error("unknown model file {0:?}")]
    UnknownFile(String),
    /// The model kind in the file is not stored in a file of this name.
    #[error("{file} cannot hold a {kind} model")]
    WrongFile {
        /// The file.
        file: &'static str,
        /// The kind its header names.
        kind: super::ModelKind,
    },
    /// A single decision tree's file holds another number of trees.
    #[error("a decision tree holds exactly one tree")]
    NotOneTree,
    /// The file ends before a field it announces.
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, {left} are left")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Its size.
        needed: usize,
        /// Where it starts.
        offset: usize,
        /// The bytes left.
        left: usize,
    },
    /// The file does not start with `FERRYTRE`.
    #[error("not a Ferry tree model (bad magic number)")]
    BadMagic,
    /// The file's encoding version is not the one this build reads.
    #[error("tree encoding {found}, this build reads encoding {supported}")]
    Encoding {
        /// The file's version.
        found: u32,
        /// This build's.
        supported: u32,
    },
    /// The JSON header does not parse.
    #[error("invalid header: {0}")]
    Header(serde_json::Error),
    /// A part too large for its length field.
    #[error("{0} too large")]
    TooLarge(&'static str),
    /// A classifier header with an empty class list.
    #[error("a classifier with no classes")]
    NoClasses,
    /// More trees announced than the bytes left could hold.
    #[error("header announces {n_trees} trees in {bytes} bytes")]
    TreeCount {
        /// Trees announced.
        n_trees: usize,
        /// Bytes left.
        bytes: usize,
    },
    /// More nodes announced than the bytes left could hold.
    #[error("tree {tree} announces {n_nodes} nodes in {bytes} bytes")]
    NodeCount {
        /// The tree.
        tree: usize,
        /// Nodes announced.
        n_nodes: usize,
        /// Bytes left.
        bytes: usize,
    },
    /// A tree that is not a valid tree.
    #[error("tree {tree}: {source}")]
    Tree {
        /// The tree, from 0.
        tree: usize,
        /// What is wrong with it.
        source: TreeError,
    },
    /// Bytes after the last tree.
    #[error("{0} unexpected bytes after the last tree")]
    TrailingBytes(usize),
    /// A boosted model whose parts disagree (objective, classes, baselines, outputs).
    #[error("boosted model: {0}")]
    Boosted(String),
    /// The model's tables disagree with each other.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Why a tree (read from a file, converted from smartcore or grown by Ferry) is not a
/// valid tree in Ferry's flat layout.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TreeError {
    /// Nodes follow a complete tree.
    #[error("nodes after the tree is complete")]
    NodesAfterEnd,
    /// More nodes than a `u32` index reaches.
    #[error("too many nodes")]
    TooManyNodes,
    /// A right child with no open split above it.
    #[error("right child without a parent")]
    Orphan,
    /// A split on a column the model does not have.
    #[error("node {node} splits on column {feature}, the model has {n_features}")]
    Feature {
        /// The node.
        node: u32,
        /// The column.
        feature: u32,
        /// The model's width.
        n_features: usize,
    },
    /// A split threshold that is not a finite number.
    #[error("node {node} has threshold {threshold}")]
    Threshold {
        /// The node.
        node: u32,
        /// The threshold.
        threshold: f64,
    },
    /// A node cover that is negative or not a finite number.
    #[error("node {node} has cover {cover}")]
    Cover {
        /// The node.
        node: u32,
        /// The cover.
        cover: f64,
    },
    /// A category code too large for a category set.
    #[error("node {node} lists category {category}, above the largest supported")]
    Category {
        /// The node.
        node: u32,
        /// The code.
        category: u32,
    },
    /// A leaf value that is not a finite number.
    #[error("leaf {leaf} has value {value}")]
    LeafValue {
        /// The leaf.
        leaf: u32,
        /// The value.
        value: f64,
    },
    /// The nodes end before every split has both children.
    #[error("the tree ends early: {0} subtrees are missing")]
    Incomplete(usize),
    /// smartcore's node list loops.
    #[error("smartcore's tree has a cycle")]
    Cycle,
    /// A child index past the node list.
    #[error("node {0} does not exist")]
    MissingNode(usize),
    /// A split column past `u32`.
    #[error("split column {0} too large")]
    ColumnTooLarge(usize),
    /// A fitted forest with no trees.
    #[error("smartcore's forest has no trees")]
    NoTrees,
    /// A leaf whose row count differs from smartcore's.
    #[error("leaf {leaf}: smartcore fitted {theirs:?} samples, Ferry counts {ours}")]
    LeafSamples {
        /// The leaf.
        leaf: usize,
        /// smartcore's count.
        theirs: Option<usize>,
        /// Ferry's.
        ours: u64,
    },
    /// A split with only one child.
    #[error("node {0} has one child")]
    OneChild(usize),
    /// Class counts that do not fill every leaf.
    #[error("{counts} class counts for {leaves} leaves of {classes} classes")]
    Counts {
        /// Counts given.
        counts: usize,
        /// Leaves in the tree.
        leaves: usize,
        /// Classes.
        classes: usize,
    },
    /// A leaf no training row reached.
    #[error("leaf {0} holds no rows")]
    EmptyLeaf(usize),
    /// A training row narrower than the tree.
    #[error("row narrower than the tree")]
    NarrowRow,
    /// A class code past the class list.
    #[error("class code out of range")]
    ClassCode,
    /// More training rows than a tree indexes.
    #[error("{0} training rows; a tree holds at most {max}", max = u32::MAX)]
    TooManyRows(usize),
    /// Rows, targets and weights of different lengths.
    #[error("{rows} rows, {targets} targets and {counts} counts")]
    Lengths {
        /// Rows.
        rows: usize,
        /// Targets.
        targets: usize,
        /// Bootstrap counts.
        counts: usize,
    },
}

/// Why a fitted model's tables (read from `model.json`) disagree with each other.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    /// A table of the wrong size.
    #[error("{found} {what}, {expected} expected")]
    Size {
        /// The table.
        what: &'static str,
        /// Its length.
        found: usize,
        /// The length the model's other tables imply.
        expected: usize,
    },
    /// A classifier with no classes.
    #[error("a classifier needs at least one class")]
    NoClasses,
    /// A class index past the class list.
    #[error("{what} {index} of {classes} classes")]
    Class {
        /// What holds the index.
        what: &'static str,
        /// The index.
        index: usize,
        /// Classes.
        classes: usize,
    },
    /// A value out of its range.
    #[error("{0}")]
    Value(&'static str),
    /// `k` neighbours with too few training rows.
    #[error("k {k} with {rows} training rows")]
    K {
        /// `k`.
        k: usize,
        /// Training rows.
        rows: usize,
    },
}
