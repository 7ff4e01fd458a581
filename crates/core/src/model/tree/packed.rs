//! The inference layout of tree ensembles: every tree of a model packed into one array
//! of 16-byte nodes, walked without a branch per node, several walks at a time.
//!
//! Forests ([`ValueTree`], [`ClassTree`]) and boosted models ([`BoostTree`], native or
//! imported) keep their own layouts for the file, explanations and training; the first
//! prediction packs them once into a [`Packed`] ensemble:
//!
//! - Nodes of a tree are in preorder, the left child next to its parent, the trees one
//!   after the other, so a walk reads forward through memory.
//! - A node is 16 bytes: its threshold, its column and its right child. Thresholds and
//!   row values are compared as order-preserving integer keys ([`key`]): an `f64`
//!   comparison that may meet a NaN compiles to a branch on the parity flag, an integer
//!   one to a conditional move. Each row is keyed twice, NaN last then NaN first, and a
//!   split that sends missing values left reads the second copy: no flag to test. When
//!   one key per feature sends a missing value the way every split on the feature does
//!   (models trained without missing values: LightGBM then reads one as 0 everywhere,
//!   forests send it right everywhere), a missing value takes that key instead and
//!   rows need one copy: half the keys a block.
//! - A leaf points to itself and its threshold is its leaf number, below every value's
//!   key, so a walk that reached a leaf stays there. Walks need no test for leaves, only
//!   a check, once per step over all lanes, that some walk still moved.
//! - The direction is a select ([`std::hint::select_unpredictable`]), not a branch:
//!   splits send rows either way about as often, and a mispredicted branch costs more
//!   than the step.
//! - Walks are independent chains of loads; [`LANES`] of them are interleaved so the
//!   processor overlaps their latencies: [`LANES`] rows through one tree for batches,
//!   [`TREE_LANES`] trees at a time for a batch of fewer rows. A row's keys are padded
//!   to a power of two and read as a fixed-size array through a mask, so a step has no
//!   bounds check on them and a lane holds one pointer. With that, six lanes measured
//!   fastest on the diamonds and 50-feature LightGBM models of bench/trees.sh (8.6 and
//!   5.7 us a row against 9.7 and 6.0 with four lanes and checked slices; four lanes
//!   with the arrays, or six with slices, gain nothing); eight lose more to lanes
//!   waiting for the longest path.
//! - Rows are taken in blocks whose keys stay in the second-level cache while a group
//!   of small trees, in the first-level cache, passes over the whole block: the more
//!   rows a block holds, the fewer times each tree is fetched (blocks sized for the
//!   first-level cache held 40 rows of the 50-feature model and took 1.12x as long a
//!   row). Blocks are what large batches spread over rayon's pool, several a thread.
//!   Trees larger than the caches take the whole batch instead, and a large block
//!   walks each such tree in two parts: every row through the top levels, then the
//!   rows in the order of the subtree each reached, so that rows going down the same
//!   subtree follow each other while its nodes are in cache ([`Packed::walk_in_order`]).
//!
//! Ensembles whose trees have at most 64 leaves (boosted models, imported or native)
//! can also be scored without walking, when that pays ([`Packed::scorer_for`]); the
//! idea is QuickScorer's (Lucchese et al., SIGIR 2015). Each tree's leaves are bits of a
//! 64-bit set, left to right. A split the row does not take left rules out its left
//! subtree's leaves, and the leaf the row reaches is the lowest bit that survives every
//! such split. So a row needs no walk: for each feature, the splits on it sorted by
//! threshold are read from the lowest while their threshold is below the row's key,
//! each clearing its bits in its tree's set. Every few splits a feature has a mark: the
//! sets of all splits up to it, combined, one mask per tree, applied in one pass over
//! the trees. A row applies the last mark below its key and then the splits after it.
//! There is no chain of dependent loads, and no branch on the data but one loop exit
//! per feature. A number has the same key whichever side its splits send missing
//! values, so a feature's splits of both kinds are one sorted list; a row missing the
//! feature applies instead, in one pass, the splits that send a missing value right.
//! On the deep, lopsided trees of bench/trees.sh's diamonds model (a row walks 10.9
//! splits a tree, lockstep walks 13.3) this measured 1.7 us a row against 7.9 walking.
//!
//! The sum keeps the arithmetic Ferry's ensembles always had: per row, trees are added
//! in groups of [`TREES_PER_GROUP`] starting from 0, and the groups' sums in order, so a
//! row gets the same bits alone or in a batch, on one thread or many, as before the
//! layout existed.
//!
//! Imported trees with categorical or LightGBM zero-as-missing splits are walked by
//! their own layout (the caller's `slow` function); they are rare and keep their place
//! in the sum.

use crate::FeatureMatrix;
use crate::model::PredictError;
use crate::model::boost::tree::BoostTree;
use crate::model::tree::flat::{ClassTree, FlatTree, TREES_PER_GROUP, ValueTree};

/// Walks interleaved per kernel call.
pub(crate) const LANES: usize = 6;
/// Trees walked side by side for one row (batches of fewer rows than [`LANES`]): a
/// group of eight in two passes.
const TREE_LANES: usize = 4;
/// Walks interleaved for trees larger than the caches, whose steps wait on memory.
const LARGE_LANES: usize = 8;
/// The key of a missing value: above every number's.
const NAN_KEY: u64 = u64::MAX;
/// Bytes of keys a block of rows aims at ([`Packed::stride`] keys a row): a quarter of
/// a 512 KiB second-level cache, the smallest of current server cores'.
const BLOCK_KEY_BYTES: usize = 128 * 1024;
/// Blocks a parallel sum aims at per thread, when the rows allow.
const PARALLEL_BLOCKS: usize = 4;
/// The fewest rows of a parallel sum's block: four walks of [`LANES`] rows.
const MIN_PARALLEL_BLOCK_ROWS: usize = 4 * LANES;
/// A group of trees larger than this does not stay in the second-level cache.
const LARGE_GROUP_BYTES: usize = 256 * 1024;
/// The most rows a block takes (their keys: 8 or 16 bytes a value, up to twice that
/// with the padding to [`Packed::stride`]).
const MAX_BLOCK_ROWS: usize = 16 * 1024;
/// The widest row (keys: twice the features) walked as a fixed-size array.
const MAX_FIXED_STRIDE: usize = 256;
/// A [`Scorer`] marks a feature every `trees / MARK_TREES_PER_SPLIT` splits: a mark's
/// set costs a pass over every tree's mask, and saves the splits it covers.
const MARK_TREES_PER_SPLIT: usize = 4;
/// The most trees a [`Scorer`] takes (its leaf sets are arrays of a listed size).
const MAX_SCORED_TREES: usize = 65_536;
/// The fewest splits between two marks.
const MIN_MARK_SPLITS: usize = 16;
/// A [`Scorer`] up to this size stays in a core's second-level cache while it scores a
/// batch; a larger one is read from the shared cache, several times slower a feature.
const SCORER_CACHE_BYTES: usize = 1 << 20;
/// [`Scorer`]'s `nan_at` of a feature whose splits all send missing values left.
const NO_NAN_SET: u32 = u32::MAX;
/// Steps every row of a large block takes through a large tree before the rows are
/// put in order of where they are: the top levels, whose nodes all rows share.
const TOP_STEPS: u32 = 10;
/// Ranges of a large tree's nodes the rows are put in order by.
const ORDER_BUCKETS: usize = 1024;
/// The fewest rows a block of a large tree walks in that order.
const ORDER_MIN_ROWS: usize = 2 * ORDER_BUCKETS;
/// Below this many (row, tree) visits a batch is predicted on the calling thread.
const PARALLEL_MIN_VISITS: usize = 1 << 14;

/// One node; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PNode {
    /// [`key`] of the threshold; a leaf's number for a leaf.
    threshold: u64,
    feature: u32,
    right: u32,
}

/// Where a tree starts and what its leaves add to.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PTree {
    root: u32,
    /// Steps from the root to the deepest leaf.
    depth: u32,
    /// The number of the tree's first leaf among all leaves.
    leaf_base: u32,
    /// The first output the tree's leaves add to.
    slot: u32,
    /// Walked by the caller's `slow` function instead.
    slow: bool,
    /// Its leaves.
    leaves: u32,
    /// The sum of its leaves' depths.
    leaf_depths: u64,
}

/// A packed ensemble; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Packed {
    nodes: Vec<PNode>,
    trees: Vec<PTree>,
    /// `width` values per leaf, by global leaf number.
    values: Vec<f64>,
    width: usize,
    outputs: usize,
    /// The width of the rows; when rows take two copies of their keys, a split that
    /// sends NaN left reads its column at `n_features + column`, where they put NaN
    /// first.
    n_features: usize,
    /// Per feature, the key a missing value takes when one key sends it the way every
    /// split on the feature does ([`Packed::single_nan_keys`]). Then a row has one copy
    /// of its keys and no split reads a second; `None` when rows need both copies.
    nan_keys: Option<Vec<u64>>,
    /// The splits by column and threshold, when every tree has at most 64 leaves.
    scorer: Option<Scorer>,
    /// How leaves are found.
    strategy: Strategy,
}

/// How [`Packed::sum`] finds the leaves: by the rule of [`Packed::scorer_for`], or
/// always one way (the tests compare both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Strategy {
    #[default]
    Auto,
    #[cfg_attr(not(test), allow(dead_code))]
    Walk,
    #[cfg_attr(not(test), allow(dead_code))]
    Score,
}

/// The splits of an ensemble whose trees have at most 64 leaves, by key column and
/// threshold: a row's leaves are found by clearing, for every split the row does not
/// take left, the bits of that split's left leaves in its tree's 64-bit set. The leaf
/// reached is the lowest bit left (the leftmost leaf no split ruled out).
#[derive(Debug, Clone, PartialEq, Default)]
struct Scorer {
    /// `starts[f]..starts[f + 1]`: the splits on feature `f`, those that send a missing
    /// value left and those that send it right together (for a number both keys are
    /// the same).
    starts: Vec<u32>,
    /// Each feature's splits by ascending threshold.
    splits: Vec<QSplit>,
    /// Splits between two marks of a feature.
    every: usize,
    /// `mark_starts[f]..mark_starts[f + 1]`: feature `f`'s marks in `marks`.
    mark_starts: Vec<u32>,
    /// Mark `j` of a feature covers its first `(j + 1) * every` splits; this is the
    /// largest threshold among them.
    marks: Vec<u64>,
    /// Per mark, one mask per tree: the splits it covers combined.
    sets: Vec<u64>,
    /// Per feature, where its missing-value set starts in `nan_sets`, or [`NO_NAN_SET`]
    /// when no split on it sends a missing value right.
    nan_at: Vec<u32>,
    /// Per feature with some split that sends a missing value right, one mask per tree:
    /// those splits combined, what a row missing the feature clears.
    nan_sets: Vec<u64>,
    /// Features that some split reads.
    features: usize,
    /// The mean depth of the trees' leaves.
    mean_depth: f64,
}

impl Scorer {
    /// The memory of its splits, marks and sets.
    fn bytes(&self) -> usize {
        std::mem::size_of_val(self.splits.as_slice())
            + 8 * (self.marks.len() + self.sets.len() + self.nan_sets.len())
    }
}

/// What [`Packed::score_block`] calls with each row's number and leaf sets.
type EachRow<'a> = dyn FnMut(usize, &[u64]) -> Result<(), PredictError> + 'a;

/// A split as [`Scorer`] keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct QSplit {
    threshold: u64,
    /// All ones but the split's left leaves.
    mask: u64,
    tree: u32,
}

/// A node of a tree being packed.
enum Pack {
    Split {
        column: u32,
        threshold: f64,
        nan_left: bool,
        right: u32,
    },
    Leaf,
}

impl Packed {
    fn new(n_features: usize, width: usize, outputs: usize) -> Self {
        Self {
            n_features,
            width,
            outputs,
            ..Self::default()
        }
    }

    /// Appends a tree given in preorder (right children as indices within the tree),
    /// whose leaves, in order, add `leaf_values` (`width` each) from output `slot`.
    fn push(
        &mut self,
        preorder: impl ExactSizeIterator<Item = Pack>,
        leaf_values: impl IntoIterator<Item = f64>,
        slot: usize,
        slow: bool,
    ) {
        let base = self.nodes.len() as u32;
        let leaf_base = (self.values.len() / self.width.max(1)) as u32;
        let mut depths = vec![0u32; preorder.len()];
        let mut depth = 0;
        let mut leaves = 0u32;
        let mut leaf_depths = 0u64;
        for (i, node) in preorder.enumerate() {
            let d = depths.get(i).copied().unwrap_or(0);
            depth = depth.max(d);
            let packed = match node {
                Pack::Split {
                    column,
                    threshold,
                    nan_left,
                    right,
                } => {
                    for child in [i + 1, right as usize] {
                        if let Some(slot) = depths.get_mut(child) {
                            *slot = d + 1;
                        }
                    }
                    PNode {
                        threshold: key(threshold),
                        feature: column + if nan_left { self.n_features as u32 } else { 0 },
                        right: base + right,
                    }
                }
                Pack::Leaf => {
                    leaves += 1;
                    leaf_depths += u64::from(d);
                    PNode {
                        threshold: u64::from(leaf_base + leaves - 1),
                        feature: 0,
                        right: base + i as u32,
                    }
                }
            };
            self.nodes.push(packed);
        }
        self.values.extend(leaf_values);
        self.trees.push(PTree {
            root: base,
            depth,
            leaf_base,
            slot: slot as u32,
            slow,
            leaves,
            leaf_depths,
        });
    }

    /// Forest regression trees: each leaf adds its value to the one output.
    pub(crate) fn value_trees(trees: &[ValueTree], n_features: usize) -> Self {
        let mut packed = Self::new(n_features, 1, 1);
        for t in trees {
            let tree = t.flat();
            packed.push(flat_nodes(tree), tree.leaf_values(), 0, false);
        }
        packed.finish()
    }

    /// Classification trees: each leaf adds its class distribution.
    pub(crate) fn class_trees(trees: &[ClassTree], n_classes: usize, n_features: usize) -> Self {
        let mut packed = Self::new(n_features, n_classes, n_classes);
        for t in trees {
            packed.push(
                flat_nodes(t.flat()),
                t.leaf_probabilities().iter().copied(),
                0,
                false,
            );
        }
        packed.finish()
    }

    /// Boosted trees: each leaf adds its value to its tree's output (class).
    pub(crate) fn boost_trees(trees: &[BoostTree], outputs: usize, n_features: usize) -> Self {
        let mut packed = Self::new(n_features, 1, outputs);
        for t in trees {
            let slow = t.needs_slow_path();
            let nodes = t.nodes();
            let preorder = nodes.iter().map(|n| {
                if n.is_leaf() {
                    Pack::Leaf
                } else {
                    Pack::Split {
                        column: n.column() as u32,
                        threshold: n.value,
                        nan_left: n.nan_goes_left(),
                        right: n.right,
                    }
                }
            });
            let values = nodes.iter().filter(|n| n.is_leaf()).map(|n| n.value);
            packed.push(preorder, values, t.group(), slow);
        }
        packed.finish()
    }

    /// The ensemble with its [`Scorer`], when its trees allow one and it can pay
    /// ([`Self::scorer_for`]): its splits take 24 bytes each and its marks up to 32 bytes
    /// a split, against 32 bytes of packed nodes a split (a split and a leaf), so up to
    /// about 1.75 times the packed nodes' memory, and 8 bytes a tree for each feature
    /// with splits that send missing values right.
    fn finish(mut self) -> Self {
        self.scorer = self.build_scorer();
        self.nan_keys = self.single_nan_keys();
        if self.nan_keys.is_some() {
            // Every split reads the one copy.
            let n = self.n_features as u32;
            for node in &mut self.nodes {
                if node.feature >= n {
                    node.feature -= n;
                }
            }
        }
        self
    }

    /// Per feature, a key that sends a missing value the way every split on the feature
    /// (in the trees not walked by the caller) sends it, or `None` when some feature
    /// has none. A key at or below the lowest threshold of the splits that send a
    /// missing value left, and above every threshold of those that send it right, does:
    /// there is one when the latter are all below the former. Models trained without
    /// missing values have one for every feature: LightGBM reads a missing value as 0
    /// at every split then, and Ferry's forests send it right everywhere.
    fn single_nan_keys(&self) -> Option<Vec<u64>> {
        let n = self.n_features;
        // The highest threshold that sends a missing value right, and the lowest that
        // sends it left, per feature.
        let mut right: Vec<Option<u64>> = vec![None; n];
        let mut left: Vec<Option<u64>> = vec![None; n];
        for (t, tree) in self.trees.iter().enumerate().filter(|(_, t)| !t.slow) {
            let root = tree.root as usize;
            for (i, node) in self.tree_nodes(t).iter().enumerate() {
                if is_leaf(node, root + i) {
                    continue;
                }
                // Column `f` keys a missing value last, `n + f` first.
                let column = node.feature as usize;
                let (f, missing) = if column >= n {
                    (column - n, 0)
                } else {
                    (column, NAN_KEY)
                };
                let t = node.threshold;
                if missing <= t {
                    let low = left.get_mut(f)?;
                    *low = Some(low.map_or(t, |l| l.min(t)));
                } else {
                    let high = right.get_mut(f)?;
                    *high = Some(high.map_or(t, |h| h.max(t)));
                }
            }
        }
        right
            .into_iter()
            .zip(left)
            .map(|(high, low)| match (high, low) {
                (Some(high), Some(low)) => (high < low).then_some(low),
                (None, Some(low)) => Some(low),
                // Every split sends it right: so does the last key, above every
                // threshold of a split that sends a missing value right.
                (_, None) => Some(NAN_KEY),
            })
            .collect()
    }

    /// The nodes of tree `t`.
    fn tree_nodes(&self, t: usize) -> &[PNode] {
        let root = self.trees.get(t).map_or(0, |tree| tree.root as usize);
        let end = self
            .trees
            .get(t + 1)
            .map_or(self.nodes.len(), |next| next.root as usize);
        self.nodes.get(root..end).unwrap_or_default()
    }

    /// The [`Scorer`] of the trees not walked by the caller, or `None` when one has more
    /// than 64 leaves, or when it would not pay even for single rows (decided before
    /// anything is built).
    fn build_scorer(&self) -> Option<Scorer> {
        let fast = || self.trees.iter().enumerate().filter(|(_, t)| !t.slow);
        if self.trees.len() > MAX_SCORED_TREES || fast().any(|(_, t)| t.leaves > 64) {
            return None;
        }
        let (depth_sum, leaf_count) = fast().fold((0, 0), |(d, n), (_, t)| {
            (d + t.leaf_depths, n + u64::from(t.leaves))
        });
        let mean_depth = depth_sum as f64 / leaf_count.max(1) as f64;
        let n = self.n_features;
        // A split reads column `f` (missing values right) or `n + f` (left) of a row's
        // keys; both are feature `f`'s.
        let feature = |node: &PNode| {
            let column = node.feature as usize;
            if column >= n { column - n } else { column }
        };
        let mut read = vec![false; n];
        for (t, tree) in fast() {
            for (i, node) in self.tree_nodes(t).iter().enumerate() {
                let leaf = is_leaf(node, tree.root as usize + i);
                if let (false, Some(r)) = (leaf, read.get_mut(feature(node))) {
                    *r = true;
                }
            }
        }
        let features = read.iter().filter(|&&r| r).count();
        // The most lenient case (one row, a scorer in cache): no scorer if not even then.
        if !scorer_pays(features, mean_depth, 1, 0) {
            return None;
        }
        let trees = self.trees.len();
        let mut by_feature: Vec<Vec<QSplit>> = vec![Vec::new(); n];
        let mut nan_sets: Vec<Option<Vec<u64>>> = vec![None; n];
        for (t, tree) in fast() {
            let root = tree.root as usize;
            let nodes = self.tree_nodes(t);
            // Leaves before each node: a split's left leaves are those of its left
            // subtree, the nodes between it and its right child.
            let mut before = Vec::with_capacity(nodes.len() + 1);
            let mut leaves = 0u32;
            for (i, node) in nodes.iter().enumerate() {
                before.push(leaves);
                if is_leaf(node, root + i) {
                    leaves += 1;
                }
            }
            before.push(leaves);
            let low = |k: u32| if k >= 64 { u64::MAX } else { (1u64 << k) - 1 };
            for (i, node) in nodes.iter().enumerate() {
                let right = (node.right as usize).checked_sub(root)?;
                if right == i {
                    continue;
                }
                let (first, last) = (*before.get(i + 1)?, *before.get(right)?);
                let split = QSplit {
                    threshold: node.threshold,
                    mask: !(low(last) & !low(first)),
                    tree: t as u32,
                };
                let f = feature(node);
                // A missing value's key (NaN last) is above every threshold but a NaN's.
                if (node.feature as usize) < n && split.threshold < NAN_KEY {
                    let set = nan_sets
                        .get_mut(f)?
                        .get_or_insert_with(|| vec![u64::MAX; trees]);
                    *set.get_mut(t)? &= split.mask;
                }
                by_feature.get_mut(f)?.push(split);
            }
        }
        let every = (trees / MARK_TREES_PER_SPLIT).max(MIN_MARK_SPLITS);
        let mut scorer = Scorer {
            starts: vec![0],
            every,
            mark_starts: vec![0],
            features,
            mean_depth,
            ..Scorer::default()
        };
        for (mut column, nan) in by_feature.into_iter().zip(nan_sets) {
            column.sort_by_key(|s| s.threshold);
            let mut set = vec![u64::MAX; trees];
            for (i, split) in column.iter().enumerate() {
                if let Some(m) = set.get_mut(split.tree as usize) {
                    *m &= split.mask;
                }
                if (i + 1) % every == 0 {
                    scorer.marks.push(split.threshold);
                    scorer.sets.extend_from_slice(&set);
                }
            }
            scorer.splits.extend(column);
            scorer.starts.push(u32::try_from(scorer.splits.len()).ok()?);
            scorer
                .mark_starts
                .push(u32::try_from(scorer.marks.len()).ok()?);
            scorer.nan_at.push(match nan {
                Some(nan) => {
                    let at = u32::try_from(scorer.nan_sets.len()).ok()?;
                    scorer.nan_sets.extend(nan);
                    at
                }
                None => NO_NAN_SET,
            });
        }
        Some(scorer)
    }

    /// The scorer, when it is expected faster than walking the trees for a block of
    /// `rows` rows. A row costs the scorer about a pass over the trees for each feature
    /// read, and the walk about the trees' depth in steps through each; a pass costs
    /// several times more when the scorer does not fit a core's second-level cache. Measured
    /// in batches of 10,000 rows (features per level of mean leaf depth, the scorer's
    /// size): the criterion benches' 8-feature boosted models (1.2, 0.5 MB) 2.1x and 1.9x
    /// faster scored than walked, a 60-feature one (9.0, 0.6 MB) 1.1x; bench/trees.sh's
    /// diamonds model (0.7, 1.7 MB) 4.7x faster, its 50-feature model (5.6, 1.8 MB) 1.3x
    /// slower. One row at a time the walk is slower: 120 features on the same trees
    /// (18 a level, 0.6 MB) took 3.9 us a row scored, 6.6 walked; the rule allows 24
    /// features a level for a scorer within 1 MiB, 12 for a larger one.
    fn scorer_for(&self, rows: usize) -> Option<&Scorer> {
        let scorer = self.scorer.as_ref()?;
        match self.strategy {
            Strategy::Walk => return None,
            Strategy::Score => return Some(scorer),
            Strategy::Auto => {}
        }
        scorer_pays(scorer.features, scorer.mean_depth, rows, scorer.bytes()).then_some(scorer)
    }

    /// Finds the leaf sets of each row of a block (`stride` keys a row) with the
    /// scorer and hands them to `each(row, sets)`, one set per tree; the leaf a tree
    /// not walked by the caller gives the row is the lowest bit of its set.
    fn score_block(
        &self,
        scorer: &Scorer,
        keys: &[u64],
        bits: &mut Vec<u64>,
        each: &mut EachRow<'_>,
    ) -> Result<(), PredictError> {
        macro_rules! score {
            ($($c:literal)*) => {
                match self.trees.len().next_power_of_two() {
                    $(c if c <= $c => self.score_rows::<$c>(scorer, keys, bits, each),)*
                    _ => Ok(()),
                }
            };
        }
        // The largest listed is MAX_SCORED_TREES: a scorer is never built for more.
        score!(64 128 256 512 1024 2048 4096 8192 16384 32768 65536)
    }

    /// [`Self::score_block`] for at most `C` trees, `C` a power of two (the sets are an
    /// array indexed through a mask: no bounds check per split).
    #[inline(never)]
    fn score_rows<const C: usize>(
        &self,
        scorer: &Scorer,
        keys: &[u64],
        bits: &mut Vec<u64>,
        each: &mut EachRow<'_>,
    ) -> Result<(), PredictError> {
        let trees = self.trees.len();
        bits.clear();
        bits.resize(C, 0);
        let Some(bits) = bits.as_chunks_mut::<C>().0.first_mut() else {
            return Ok(());
        };
        let columns = scorer
            .starts
            .windows(2)
            .zip(scorer.mark_starts.windows(2))
            .zip(&scorer.nan_at);
        for (r, row) in keys.chunks_exact(self.stride()).enumerate() {
            bits.fill(u64::MAX);
            // A row's first keys put NaN last: feature `f`'s is at `f`.
            for (&x, ((range, marks), &nan)) in row.iter().zip(columns.clone()) {
                if x == NAN_KEY {
                    // Missing: right at the splits that send it right, all of them
                    // combined in one pass; left at the others, which clear nothing.
                    if nan != NO_NAN_SET {
                        let at = nan as usize;
                        apply(
                            scorer.nan_sets.get(at..at + trees).unwrap_or_default(),
                            bits,
                        );
                    }
                    continue;
                }
                let splits = scorer
                    .splits
                    .get(range[0] as usize..range[1] as usize)
                    .unwrap_or_default();
                // The last mark below the value clears what all splits before it
                // clear, in one pass over the trees; the splits after it one by one.
                let (first, last) = (marks[0] as usize, marks[1] as usize);
                let below = scorer
                    .marks
                    .get(first..last)
                    .unwrap_or_default()
                    .partition_point(|&t| t < x);
                let mut from = 0;
                if below > 0 {
                    let at = (first + below - 1) * trees;
                    apply(scorer.sets.get(at..at + trees).unwrap_or_default(), bits);
                    from = below * scorer.every;
                }
                clear(splits.get(from..).unwrap_or_default(), x, bits);
            }
            each(r, bits.get(..trees).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Adds up one row's leaves given its leaf sets ([`Self::score_block`]) into `out`,
    /// in the order of [`Self::sum`]; `partial` is scratch.
    fn sum_sets(
        &self,
        row: &[f64],
        sets: &[u64],
        out: &mut [f64],
        partial: &mut Vec<f64>,
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
    ) -> Result<(), PredictError> {
        let leaf = |t: usize, tree: &PTree, set: u64| {
            if tree.slow {
                self.slow_leaf(tree, t, row, slow)
            } else {
                Ok(tree.leaf_base + set.trailing_zeros().min(63))
            }
        };
        let groups = self
            .trees
            .chunks(TREES_PER_GROUP)
            .zip(sets.chunks(TREES_PER_GROUP))
            .enumerate();
        if self.outputs == 1 && self.width == 1 {
            // One value a leaf: each group's sum is its own chain of additions, which
            // the processor overlaps.
            let mut total = 0.0;
            for (g, (group, sets)) in groups {
                let mut sum = 0.0;
                for (t, (tree, &set)) in group.iter().zip(sets).enumerate() {
                    let leaf = leaf(g * TREES_PER_GROUP + t, tree, set)?;
                    sum += self.values.get(leaf as usize).copied().unwrap_or(0.0);
                }
                total = if g == 0 { sum } else { total + sum };
            }
            if let Some(o) = out.first_mut() {
                *o = total;
            }
            return Ok(());
        }
        partial.resize(self.outputs, 0.0);
        for (g, (group, sets)) in groups {
            partial.fill(0.0);
            for (t, (tree, &set)) in group.iter().zip(sets).enumerate() {
                let leaf = leaf(g * TREES_PER_GROUP + t, tree, set)?;
                self.add_leaf(tree, leaf, partial);
            }
            add_group(g, out, partial);
        }
        Ok(())
    }

    /// The sum over the trees of each row's leaf values, `outputs` per row, row-major;
    /// see the module docs for the order of the additions. `slow(tree, row)` gives the
    /// leaf number (within the tree) of the trees packed as slow.
    ///
    /// # Errors
    /// [`PredictError::WidthMismatch`] when `slow` finds a row too narrow (callers check
    /// the width first).
    pub(crate) fn sum(
        &self,
        x: &FeatureMatrix,
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
    ) -> Result<Vec<f64>, PredictError> {
        use rayon::prelude::*;
        let n = x.n_rows();
        let cols = x.n_cols().max(1);
        if x.n_cols() != self.n_features {
            return Err(PredictError::WidthMismatch {
                expected: self.n_features,
                found: x.n_cols(),
            });
        }
        let k = self.outputs;
        let mut out = vec![0.0; n * k];
        if n == 0 || k == 0 {
            return Ok(out);
        }
        let parallel = rayon::current_num_threads() > 1
            && n.saturating_mul(self.trees.len()) >= PARALLEL_MIN_VISITS;
        if parallel && self.large() {
            // Trees larger than the caches come from memory: each is read once per
            // block of rows, by one thread, and the groups' sums are added in order.
            let mut scratch = Scratch::default();
            for (rows, out) in x
                .values()
                .chunks(MAX_BLOCK_ROWS * cols)
                .zip(out.chunks_mut(MAX_BLOCK_ROWS * k))
            {
                self.fill_keys(&mut scratch.keys, rows, cols);
                let keys = scratch.keys.as_slice();
                let partials = self
                    .trees
                    .par_chunks(TREES_PER_GROUP)
                    .enumerate()
                    .map_init(Scratch::default, |s, (g, group)| {
                        self.group_sum(g, group, rows, keys, s, slow)?;
                        Ok(std::mem::take(&mut s.partial))
                    })
                    .collect::<Result<Vec<_>, PredictError>>()?;
                for (g, partial) in partials.iter().enumerate() {
                    add_group(g, out, partial);
                }
            }
            return Ok(out);
        }
        let block = self.block_rows(n, parallel);
        let blocks = x
            .values()
            .chunks(block * cols)
            .zip(out.chunks_mut(block * k));
        if parallel && n > block {
            blocks
                .par_bridge()
                .try_for_each_init(Scratch::default, |scratch, (rows, out)| {
                    self.sum_block(rows, cols, out, scratch, slow)
                })?;
        } else {
            let mut scratch = Scratch::default();
            for (rows, out) in blocks {
                self.sum_block(rows, cols, out, &mut scratch, slow)?;
            }
        }
        Ok(out)
    }

    /// Rows per block. A group of small trees passes over a whole block while its
    /// nodes stay in the first-level cache, so the more rows a block holds, the fewer
    /// times every tree's nodes are fetched; the block's keys stay in the second-level
    /// cache ([`BLOCK_KEY_BYTES`]). A parallel sum takes smaller blocks when that gives
    /// each thread [`PARALLEL_BLOCKS`] of them, of at least [`MIN_PARALLEL_BLOCK_ROWS`].
    /// Trees larger than the caches are read from memory on every pass, so a pass serves
    /// as many rows as it can.
    fn block_rows(&self, n: usize, parallel: bool) -> usize {
        if self.large() {
            return MAX_BLOCK_ROWS;
        }
        let most =
            (BLOCK_KEY_BYTES / (self.stride() * 8)).clamp(LANES, MAX_BLOCK_ROWS) / LANES * LANES;
        if !parallel {
            return most;
        }
        // Several blocks a thread, taken as each thread is free, so that a thread on a
        // busier core takes fewer.
        let threads = rayon::current_num_threads().max(1);
        let rows = n
            .div_ceil(PARALLEL_BLOCKS * threads)
            .max(MIN_PARALLEL_BLOCK_ROWS)
            .next_multiple_of(LANES);
        most.min(rows)
    }

    /// [`Self::sum`] of one block of rows into `out`.
    fn sum_block(
        &self,
        rows: &[f64],
        cols: usize,
        out: &mut [f64],
        scratch: &mut Scratch,
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
    ) -> Result<(), PredictError> {
        let mut keys = std::mem::take(&mut scratch.keys);
        self.fill_keys(&mut keys, rows, cols);
        if let Some(scorer) = self.scorer_for(rows.len() / cols) {
            let k = self.outputs;
            let mut partial = std::mem::take(&mut scratch.partial);
            let mut bits = std::mem::take(&mut scratch.bits);
            self.score_block(scorer, &keys, &mut bits, &mut |r, sets| {
                let row = rows.get(r * cols..(r + 1) * cols).unwrap_or_default();
                let out = out.get_mut(r * k..(r + 1) * k).unwrap_or_default();
                self.sum_sets(row, sets, out, &mut partial, slow)
            })?;
            scratch.bits = bits;
            scratch.partial = partial;
        } else {
            for (g, group) in self.trees.chunks(TREES_PER_GROUP).enumerate() {
                self.group_sum(g, group, rows, &keys, scratch, slow)?;
                add_group(g, out, &scratch.partial);
            }
        }
        scratch.keys = keys;
        Ok(())
    }

    /// Adds `leaf`'s values (of `tree`) into one row's `partial`.
    #[inline]
    fn add_leaf(&self, tree: &PTree, leaf: u32, partial: &mut [f64]) {
        let (w, slot) = (self.width, tree.slot as usize);
        if w == 1 {
            if let (Some(o), Some(v)) = (partial.get_mut(slot), self.values.get(leaf as usize)) {
                *o += v;
            }
        } else {
            let at = leaf as usize * w;
            let values = self.values.get(at..at + w).unwrap_or_default();
            for (o, v) in partial.iter_mut().skip(slot).zip(values) {
                *o += v;
            }
        }
    }

    /// The sum of group `g`'s trees for each row of the block, trees in order from 0,
    /// into `scratch.partial`.
    fn group_sum(
        &self,
        g: usize,
        group: &[PTree],
        rows: &[f64],
        keys: &[u64],
        scratch: &mut Scratch,
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
    ) -> Result<(), PredictError> {
        let n = rows.len() / self.n_features.max(1);
        scratch.leaves.resize(n * TREES_PER_GROUP, 0);
        let leaves = scratch.leaves.as_mut_slice();
        let stride = self.stride();
        // Rows as arrays of each listed stride (no bounds check per step), or as
        // slices for rows wider than the largest.
        macro_rules! walk {
            ($lanes:expr, $tree_lanes:expr, $($s:literal)*) => {
                match stride {
                    $($s => self.group_leaves::<$lanes, $tree_lanes, _>(
                        g, group, rows, leaves, slow, fixed::<$s>(keys),
                    ),)*
                    _ => self.group_leaves::<$lanes, $tree_lanes, _>(
                        g, group, rows, leaves, slow,
                        |r: usize| keys.get(r * stride..(r + 1) * stride).unwrap_or_default(),
                    ),
                }
            };
        }
        if self.large() {
            walk!(LARGE_LANES, LARGE_LANES, 8 16 32 64 128 256)?;
        } else {
            walk!(LANES, TREE_LANES, 8 16 32 64 128 256)?;
        }
        scratch.partial.clear();
        scratch.partial.resize(n * self.outputs, 0.0);
        for (t, tree) in group.iter().enumerate() {
            let leaves = scratch.leaves.get(t * n..(t + 1) * n).unwrap_or_default();
            self.add_leaves(tree, leaves, &mut scratch.partial);
        }
        Ok(())
    }

    /// The leaves the block's rows reach in each tree of group `g`, tree-major into
    /// `leaves_out`, walking `L` rows at a time (`T` trees at a time for fewer rows than
    /// `L`); `keys(r)` are row `r`'s keys.
    fn group_leaves<const L: usize, const T: usize, K: RowKeys>(
        &self,
        g: usize,
        group: &[PTree],
        rows: &[f64],
        leaves_out: &mut [u32],
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
        keys: impl Fn(usize) -> K,
    ) -> Result<(), PredictError> {
        let cols = self.n_features.max(1);
        let n = rows.len() / cols;
        let row = |r: usize| rows.get(r * cols..(r + 1) * cols).unwrap_or_default();
        let mut order = Order::default();
        let in_order = self.large() && n >= ORDER_MIN_ROWS;
        if n >= L {
            for (t, tree) in group.iter().enumerate() {
                let leaves = leaves_out.get_mut(t * n..(t + 1) * n).unwrap_or_default();
                if tree.slow {
                    let first = g * TREES_PER_GROUP + t;
                    for (r, leaf) in leaves.iter_mut().enumerate() {
                        *leaf = self.slow_leaf(tree, first, row(r), slow)?;
                    }
                    continue;
                }
                if in_order {
                    let nodes = self.tree_nodes(g * TREES_PER_GROUP + t).len();
                    self.walk_in_order::<L, K>(tree, nodes, &keys, leaves, &mut order);
                    continue;
                }
                for (start, chunk) in (0..n).step_by(L).zip(leaves.chunks_mut(L)) {
                    // The last chunk may be short: its lanes repeat the last row.
                    let lanes: [K; L] = std::array::from_fn(|l| keys((start + l).min(n - 1)));
                    let ends = walk_rows(&self.nodes, tree, lanes);
                    for (leaf, end) in chunk.iter_mut().zip(ends) {
                        *leaf = self.leaf_of(end);
                    }
                }
            }
        } else {
            for r in 0..n {
                let mut ends = [0u32; TREES_PER_GROUP];
                for (trees, ends) in group.chunks(T).zip(ends.chunks_mut(T)) {
                    let walked = walk_trees::<T, K>(&self.nodes, trees, keys(r));
                    ends.copy_from_slice(walked.get(..ends.len()).unwrap_or_default());
                }
                for (t, (tree, end)) in group.iter().zip(ends).enumerate() {
                    let leaf = if tree.slow {
                        self.slow_leaf(tree, g * TREES_PER_GROUP + t, row(r), slow)?
                    } else {
                        self.leaf_of(end)
                    };
                    if let Some(slot) = leaves_out.get_mut(t * n + r) {
                        *slot = leaf;
                    }
                }
            }
        }
        Ok(())
    }

    /// The leaves of a block's rows in one tree larger than the caches, into `leaves`:
    /// every row takes the tree's top [`TOP_STEPS`] steps, then the rows are put in the
    /// order of the node each reached (by ranges of the tree's nodes, which in preorder
    /// hold whole subtrees), and walked on `L` at a time in that order, so that rows
    /// going down the same subtree follow each other while its nodes are in cache.
    fn walk_in_order<const L: usize, K: RowKeys>(
        &self,
        tree: &PTree,
        nodes: usize,
        keys: &impl Fn(usize) -> K,
        leaves: &mut [u32],
        order: &mut Order,
    ) {
        let n = leaves.len();
        if n == 0 {
            return;
        }
        let top = tree.depth.min(TOP_STEPS);
        // Where each row is after the top steps, in `leaves` until its leaf is known.
        for (start, chunk) in (0..n).step_by(L).zip(leaves.chunks_mut(L)) {
            let lanes: [K; L] = std::array::from_fn(|l| keys((start + l).min(n - 1)));
            let at = walk_from(&self.nodes, [tree.root; L], top, lanes);
            for (slot, at) in chunk.iter_mut().zip(at) {
                *slot = at;
            }
        }
        // Ranges of a power of two of nodes, at most ORDER_BUCKETS of them: a shift, not
        // a division, per row.
        let shift = nodes
            .div_ceil(ORDER_BUCKETS)
            .next_power_of_two()
            .trailing_zeros();
        let bucket = |at: u32| (at.saturating_sub(tree.root) >> shift) as usize;
        // A counting sort of the rows by bucket.
        order.starts.clear();
        order.starts.resize(ORDER_BUCKETS + 1, 0);
        for &at in leaves.iter() {
            if let Some(c) = order.starts.get_mut(bucket(at) + 1) {
                *c += 1;
            }
        }
        let mut total = 0;
        for start in &mut order.starts {
            total += *start;
            *start = total;
        }
        order.rows.clear();
        order.rows.resize(n, 0);
        for (r, &at) in leaves.iter().enumerate() {
            if let Some(next) = order.starts.get_mut(bucket(at)) {
                if let Some(slot) = order.rows.get_mut(*next as usize) {
                    *slot = r as u32;
                }
                *next += 1;
            }
        }
        let rest = tree.depth - top;
        for chunk in order.rows.chunks(L) {
            // The last chunk may be short: its lanes repeat its last row.
            let row = |l: usize| chunk.get(l.min(chunk.len() - 1)).map_or(0, |&r| r as usize);
            let lanes: [K; L] = std::array::from_fn(|l| keys(row(l)));
            let from: [u32; L] = std::array::from_fn(|l| leaves.get(row(l)).copied().unwrap_or(0));
            let ends = walk_from(&self.nodes, from, rest, lanes);
            for (&r, end) in chunk.iter().zip(ends) {
                if let Some(slot) = leaves.get_mut(r as usize) {
                    *slot = self.leaf_of(end);
                }
            }
        }
    }

    /// The keys of a block of rows, [`Self::stride`] per row: each row's [`key`]s, with
    /// a missing value's from [`Self::nan_keys`] when there are, or else its [`key`]s
    /// then its [`key_nan_first`]s; then missing keys up to the stride.
    fn fill_keys(&self, keys: &mut Vec<u64>, rows: &[f64], cols: usize) {
        let stride = self.stride();
        keys.clear();
        for row in rows.chunks_exact(cols) {
            let start = keys.len();
            if let Some(nan_keys) = &self.nan_keys {
                keys.extend(
                    row.iter()
                        .zip(nan_keys)
                        .map(|(&x, &nan)| if x.is_nan() { nan } else { key(x) }),
                );
            } else {
                keys.extend(row.iter().map(|&x| key(x)));
                keys.extend(row.iter().map(|&x| key_nan_first(x)));
            }
            keys.resize(start + stride, NAN_KEY);
        }
    }

    /// Keys per row in a block: the row's one or two copies, padded to a power of two
    /// up to [`MAX_FIXED_STRIDE`] so that walks index a fixed-size array with a mask.
    fn stride(&self) -> usize {
        let copies = if self.nan_keys.is_some() { 1 } else { 2 };
        let keys = copies * self.n_features.max(1);
        if keys <= MAX_FIXED_STRIDE {
            keys.next_power_of_two().max(8)
        } else {
            keys
        }
    }

    /// Whether a group of trees is too large for the second-level cache.
    fn large(&self) -> bool {
        self.nodes.len() * std::mem::size_of::<PNode>() / self.trees.len().max(1) * TREES_PER_GROUP
            > LARGE_GROUP_BYTES
    }

    /// Adds each row's leaf values of `tree` into `partial` (`outputs` per row).
    #[inline]
    fn add_leaves(&self, tree: &PTree, leaves: &[u32], partial: &mut [f64]) {
        for (out, &leaf) in partial.chunks_exact_mut(self.outputs).zip(leaves) {
            self.add_leaf(tree, leaf, out);
        }
    }

    /// The global leaf number a walk that ended at node `end` reached.
    #[inline]
    fn leaf_of(&self, end: u32) -> u32 {
        self.nodes
            .get(end as usize)
            .map_or(0, |n| n.threshold as u32)
    }

    #[cold]
    fn slow_leaf(
        &self,
        tree: &PTree,
        index: usize,
        row: &[f64],
        slow: &(dyn Fn(usize, &[f64]) -> Option<u32> + Sync),
    ) -> Result<u32, PredictError> {
        let leaf = slow(index, row).ok_or(PredictError::WidthMismatch {
            expected: self.n_features,
            found: row.len(),
        })?;
        Ok(tree.leaf_base + leaf)
    }
}

/// Whether `node`, at index `at` of the packed nodes, is a leaf (a leaf's right child
/// is itself).
fn is_leaf(node: &PNode, at: usize) -> bool {
    node.right as usize == at
}

/// Whether scoring `rows` rows with a scorer of `bytes` beats walking trees of
/// `mean_depth` that read `features` features; see [`Packed::scorer_for`].
fn scorer_pays(features: usize, mean_depth: f64, rows: usize, bytes: usize) -> bool {
    let cached = bytes <= SCORER_CACHE_BYTES;
    let per_step = match (rows < LANES, cached) {
        (true, true) => 24.0,
        (true, false) => 12.0,
        (false, true) => 10.0,
        (false, false) => 3.0,
    };
    features as f64 <= per_step * mean_depth
}

/// Applies to the leaf sets one mask per tree (a mark's, or a missing value's).
#[inline(always)]
fn apply<const C: usize>(masks: &[u64], bits: &mut [u64; C]) {
    for (b, m) in bits.iter_mut().zip(masks) {
        *b &= m;
    }
}

/// Applies to the leaf sets the splits (ascending) below `x`.
#[inline(always)]
fn clear<const C: usize>(splits: &[QSplit], x: u64, bits: &mut [u64; C]) {
    for split in splits {
        if split.threshold >= x {
            return;
        }
        bits[split.tree as usize & (C - 1)] &= split.mask;
    }
}

/// Group `g`'s sums onto the total: the first group's are the total.
fn add_group(g: usize, out: &mut [f64], partial: &[f64]) {
    if g == 0 {
        out.copy_from_slice(partial);
    } else {
        for (o, p) in out.iter_mut().zip(partial) {
            *o += p;
        }
    }
}

/// A row's keys as a walk reads them.
trait RowKeys: Copy {
    /// The key at `index` (a node's `feature`).
    fn key(self, index: u32) -> u64;
}

impl<const S: usize> RowKeys for &[u64; S] {
    /// `S` is a power of two above every index, so the mask keeps the index and lets
    /// the compiler drop the bounds check.
    #[inline(always)]
    fn key(self, index: u32) -> u64 {
        self[index as usize & (S - 1)]
    }
}

impl RowKeys for &[u64] {
    #[inline(always)]
    fn key(self, index: u32) -> u64 {
        self.get(index as usize).copied().unwrap_or(NAN_KEY)
    }
}

/// Row `r` of a block's keys as an array of `S`.
fn fixed<'k, const S: usize>(keys: &'k [u64]) -> impl Fn(usize) -> &'k [u64; S] + 'k {
    let (rows, _) = keys.as_chunks::<S>();
    move |r| rows.get(r).or(rows.first()).unwrap_or(&[NAN_KEY; S])
}

/// The order [`Packed::walk_in_order`] walks a block's rows in.
#[derive(Debug, Default)]
struct Order {
    /// Where each bucket's rows start in `rows` (then, while filling, where the next goes).
    starts: Vec<u32>,
    /// The block's rows by bucket.
    rows: Vec<u32>,
}

/// Reusable buffers of one thread's blocks.
#[derive(Debug, Default)]
struct Scratch {
    partial: Vec<f64>,
    leaves: Vec<u32>,
    /// The block's values as [`key`]s.
    keys: Vec<u64>,
    /// [`Scorer`]'s leaf sets of a row.
    bits: Vec<u64>,
}

/// [`key`], but with NaN below every number (0), for splits that send NaN left.
#[inline]
fn key_nan_first(x: f64) -> u64 {
    if x.is_nan() { 0 } else { key(x) }
}

/// An integer that orders numbers as `f64` comparisons do (`-0.0` and `0.0` alike),
/// with every NaN at [`NAN_KEY`], above them all. Walks compare keys: an `f64`
/// comparison that may meet a NaN compiles to a branch on it, an integer one to a flag.
/// The smallest key of a number is far above any leaf number, so `key <= leaf number`
/// is false for every value and a walk at a leaf goes right, to the leaf itself.
#[inline]
fn key(x: f64) -> u64 {
    if x.is_nan() {
        return NAN_KEY;
    }
    // Adding 0 turns -0.0 into 0.0.
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// One step of a walk: the child of node `i` that the row with `keys` goes to, or `i`
/// itself at a leaf. Compiles to comparisons and a select.
#[inline(always)]
fn step<K: RowKeys>(nodes: &[PNode], i: u32, keys: K) -> u32 {
    let Some(node) = nodes.get(i as usize) else {
        return i;
    };
    let x = keys.key(node.feature);
    // The direction is data: a branch on it would mispredict half the time.
    std::hint::select_unpredictable(x <= node.threshold, i + 1, node.right)
}

/// `L` rows through one tree: the node each ends at.
#[inline]
fn walk_rows<const L: usize, K: RowKeys>(nodes: &[PNode], tree: &PTree, rows: [K; L]) -> [u32; L] {
    walk_from(nodes, [tree.root; L], tree.depth, rows)
}

/// `L` rows from the nodes `at`, at most `steps` steps each: the node each is at then.
#[inline]
fn walk_from<const L: usize, K: RowKeys>(
    nodes: &[PNode],
    mut at: [u32; L],
    steps: u32,
    rows: [K; L],
) -> [u32; L] {
    for _ in 0..steps {
        let mut moved = 0;
        for (i, row) in at.iter_mut().zip(rows.iter()) {
            let next = step(nodes, *i, *row);
            moved |= next ^ *i;
            *i = next;
        }
        if moved == 0 {
            break;
        }
    }
    at
}

/// One row through up to `L` trees at once: the node each tree ends at.
#[inline]
fn walk_trees<const L: usize, K: RowKeys>(nodes: &[PNode], trees: &[PTree], row: K) -> [u32; L] {
    // Lanes beyond `trees` walk the first tree again; their ends are not read.
    let mut at = [trees.first().map_or(0, |t| t.root); L];
    let mut depth = 0;
    for (i, tree) in at.iter_mut().zip(trees) {
        *i = tree.root;
        depth = depth.max(tree.depth);
    }
    for _ in 0..depth {
        let mut moved = 0;
        for i in &mut at {
            let next = step(nodes, *i, row);
            moved |= next ^ *i;
            *i = next;
        }
        if moved == 0 {
            break;
        }
    }
    at
}

/// A flat tree's nodes for [`Packed::push`]: missing values go right.
fn flat_nodes(tree: &FlatTree) -> impl ExactSizeIterator<Item = Pack> + '_ {
    (0..tree.n_nodes()).map(|i| match tree.split(i) {
        Some((column, threshold, right)) => Pack::Split {
            column,
            threshold,
            nan_left: false,
            right,
        },
        None => Pack::Leaf,
    })
}

/// A [`Packed`] ensemble built on a model's first prediction. It is derived from the
/// model's trees, so comparisons ignore it and a clone starts without it.
#[derive(Default)]
pub(crate) struct LazyPacked(std::sync::OnceLock<Packed>);

impl LazyPacked {
    /// The packed ensemble, built by `build` the first time.
    pub(crate) fn get_or_build(&self, build: impl FnOnce() -> Packed) -> &Packed {
        self.0.get_or_init(build)
    }
}

impl Clone for LazyPacked {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for LazyPacked {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for LazyPacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes = self.0.get().map(|p| p.nodes.len());
        f.debug_struct("LazyPacked").field("nodes", &nodes).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::boost::tree::{
        BoostPreorder, CATEGORICAL, DEFAULT_LEFT, NAN_AS_ZERO, ZERO_MISSING,
    };
    use crate::model::tree::flat::sum_trees;
    use crate::model::{EncodedLabels, TrainingSet};
    use crate::model::{ForestClassifierParams, ForestRegressorParams, Target, Trainer};
    use crate::{ClassLabel, Model, Predictions};

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// Values that meet the edges of the comparison: NaN, both zeros, infinities,
        /// thresholds themselves, and small integers (category codes).
        fn value(&mut self) -> f64 {
            match self.below(12) {
                0 => f64::NAN,
                1 => 0.0,
                2 => -0.0,
                3 => f64::INFINITY,
                4 => f64::NEG_INFINITY,
                5 => 1e-36,
                6 => self.below(6) as f64,
                _ => (self.below(2000) as f64 - 1000.0) / 250.0,
            }
        }
    }

    /// A random tree in preorder: splits of every kind until `depth` runs out.
    fn preorder(rng: &mut Rng, depth: u32, features: u32, out: &mut Vec<BoostPreorder>) {
        if depth == 0 || rng.below(4) == 0 {
            out.push(BoostPreorder::Leaf {
                value: (rng.below(1000) as f64 - 500.0) / 7.0,
                cover: 1.0,
            });
            return;
        }
        let kinds = if rng.below(10) == 0 { 5 } else { 3 };
        let flags =
            [0, DEFAULT_LEFT, NAN_AS_ZERO, ZERO_MISSING, CATEGORICAL][rng.below(kinds) as usize];
        let threshold = match rng.below(4) {
            0 => 0.0,
            1 => -0.0,
            _ => (rng.below(2000) as f64 - 1000.0) / 250.0,
        };
        out.push(BoostPreorder::Split {
            feature: rng.below(u64::from(features)) as u32 | flags,
            threshold,
            categories: vec![1, 3, 4],
            cover: 2.0,
        });
        preorder(rng, depth - 1, features, out);
        preorder(rng, depth - 1, features, out);
    }

    fn rows(rng: &mut Rng, n: usize, cols: usize) -> FeatureMatrix {
        let values = (0..n * cols).map(|_| rng.value()).collect();
        FeatureMatrix::from_row_major(values, n, cols).unwrap()
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn keys_order_numbers_as_f64_comparisons_do() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut values: Vec<f64> = (0..2000).map(|_| rng.value()).collect();
        values.extend([
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
        ]);
        for &x in &values {
            for &t in values.iter().filter(|t| !t.is_nan()) {
                assert_eq!(x <= t, key(x) <= key(t), "{x} <= {t}");
                assert_eq!(
                    x <= t || x.is_nan(),
                    key_nan_first(x) <= key(t),
                    "{x} <= {t}"
                );
            }
            // Below every number's key: the leaf numbers.
            assert!(
                key(x) > u64::from(u32::MAX) && key_nan_first(x) > u64::from(u32::MAX)
                    || x.is_nan()
            );
        }
    }

    /// Every batch size, on one thread and on the pool, gives exactly the bits of the
    /// tree-by-tree sum, with fast and slow (categorical, zero-as-missing) trees mixed
    /// in the same groups and three outputs.
    #[test]
    fn boosted_sums_are_the_tree_by_tree_sums_bit_for_bit() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let features = 5;
        let trees: Vec<BoostTree> = (0..45)
            .map(|i| {
                let mut nodes = Vec::new();
                preorder(&mut rng, 1 + (i % 9), features, &mut nodes);
                BoostTree::from_preorder(nodes, features as usize, i % 3).unwrap()
            })
            .collect();
        assert!(trees.iter().any(BoostTree::needs_slow_path));
        assert!(trees.iter().any(|t| !t.needs_slow_path()));
        let packed = Packed::boost_trees(&trees, 3, features as usize);
        let slow = |t: usize, row: &[f64]| trees.get(t)?.leaf_number(row);
        for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 100, 2500] {
            let x = rows(&mut rng, n, features as usize);
            let expected = sum_trees(&trees, n * 3, |tree, out| {
                for (row, o) in x.rows().zip(out.chunks_exact_mut(3)) {
                    o[tree.group()] += tree.predict(row).unwrap();
                }
            });
            let got = packed.sum(&x, &slow).unwrap();
            assert_eq!(bits(&got), bits(&expected), "{n} rows");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let one = pool.install(|| packed.sum(&x, &slow).unwrap());
            assert_eq!(bits(&one), bits(&expected), "{n} rows, one thread");
        }
        let narrow = FeatureMatrix::from_row_major(vec![0.0; 4], 1, 4).unwrap();
        assert!(packed.sum(&narrow, &slow).is_err());
    }

    /// `packed` made to always walk, and to always score.
    fn forced(packed: &Packed) -> [Packed; 2] {
        [Strategy::Walk, Strategy::Score].map(|strategy| Packed {
            strategy,
            ..packed.clone()
        })
    }

    #[test]
    fn scored_sums_are_the_walked_sums_bit_for_bit() {
        // Trees of at most 64 leaves (depth 6), some a single leaf, some walked by the
        // caller; 70 trees, so each feature has marks (every 17 splits) and splits past
        // the last mark. One output (the overlapped group sums) and three.
        for outputs in [1, 3] {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 + outputs as u64);
            let features = 4;
            let trees: Vec<BoostTree> = (0..70)
                .map(|i| {
                    let mut nodes = Vec::new();
                    preorder(&mut rng, i % 7, features, &mut nodes);
                    BoostTree::from_preorder(nodes, features as usize, i % outputs as u32).unwrap()
                })
                .collect();
            assert!(trees.iter().any(BoostTree::needs_slow_path));
            let packed = Packed::boost_trees(&trees, outputs, features as usize);
            let scorer = packed.scorer.as_ref().expect("trees of at most 64 leaves");
            assert!(
                scorer.marks.len() > features as usize,
                "{}",
                scorer.marks.len()
            );
            // One list of splits per feature, and the splits that send a missing value
            // right combined for some.
            assert_eq!(scorer.starts.len(), features as usize + 1);
            assert_eq!(scorer.nan_at.len(), features as usize);
            assert!(scorer.nan_at.iter().any(|&at| at != NO_NAN_SET));
            for n in [0, 1, 2, 5, 6, 7, 64, 301, 2500] {
                let x = rows(&mut rng, n, features as usize);
                same_sums_walked_and_scored(&trees, &packed, &x, outputs);
            }
        }
    }

    /// `packed`'s sums of `x`, walked, scored and as it chooses, are the bits of the sums
    /// of `trees` one by one (`outputs` per row).
    fn same_sums_walked_and_scored(
        trees: &[BoostTree],
        packed: &Packed,
        x: &FeatureMatrix,
        outputs: usize,
    ) {
        let slow = |t: usize, row: &[f64]| trees.get(t)?.leaf_number(row);
        let n = x.n_rows();
        let expected = sum_trees(trees, n * outputs, |tree, out| {
            for (row, o) in x.rows().zip(out.chunks_exact_mut(outputs)) {
                o[tree.group()] += tree.predict(row).unwrap();
            }
        });
        let [walk, score] = forced(packed);
        for packed in [&walk, &score, packed] {
            let got = packed.sum(x, &slow).unwrap();
            assert_eq!(
                bits(&got),
                bits(&expected),
                "{n} rows, {:?}",
                packed.strategy
            );
        }
    }

    #[test]
    fn scored_class_distributions_are_the_walked_ones_bit_for_bit() {
        // A shallow classification forest: trees of at most 16 leaves, each leaf adding
        // a distribution over three classes (several values a leaf).
        let mut rng = Rng(0x51ed_2701_9f3c_44ab);
        let (x, y) = forest_data(&mut rng, 1500);
        let data = three_class_set(x, &y, 5);
        let params = ForestClassifierParams {
            n_trees: 40,
            max_depth: Some(4),
            ..Default::default()
        };
        let forest = params.validate().unwrap().fit(&data).unwrap();
        let k = forest.classes().unwrap().len();
        let packed = Packed::class_trees(forest.trees(), k, 4);
        assert!(packed.scorer.is_some());
        let [walk, score] = forced(&packed);
        let none = |_: usize, _: &[f64]| None;
        for n in [1, 5, 6, 300] {
            let probe = rows(&mut rng, n, 4);
            let walked = walk.sum(&probe, &none).unwrap();
            assert_eq!(
                bits(&score.sum(&probe, &none).unwrap()),
                bits(&walked),
                "{n} rows"
            );
            assert_eq!(
                bits(&packed.sum(&probe, &none).unwrap()),
                bits(&walked),
                "{n} rows"
            );
        }
    }

    /// A random tree whose splits on each feature all treat a missing value one way:
    /// `rules[f]` is feature `f`'s flags.
    fn consistent(rng: &mut Rng, depth: u32, rules: &[u32], out: &mut Vec<BoostPreorder>) {
        if depth == 0 || rng.below(5) == 0 {
            out.push(BoostPreorder::Leaf {
                value: (rng.below(1000) as f64 - 500.0) / 7.0,
                cover: 1.0,
            });
            return;
        }
        let f = rng.below(rules.len() as u64) as u32;
        let threshold = match rng.below(5) {
            0 => 0.0,
            1 => -0.0,
            _ => (rng.below(2000) as f64 - 1000.0) / 250.0,
        };
        out.push(BoostPreorder::Split {
            feature: f | rules[f as usize],
            threshold,
            categories: Vec::new(),
            cover: 2.0,
        });
        consistent(rng, depth - 1, rules, out);
        consistent(rng, depth - 1, rules, out);
    }

    /// Trees trained without missing values (LightGBM's `missing_type: None` reads one as
    /// 0 at every split), or whose splits on a feature all send one the same way, take
    /// one copy of a row's keys: half the keys a block, and the same bits as walking
    /// each tree, walked or scored, on rows with missing values.
    #[test]
    fn one_copy_of_the_keys_when_a_missing_value_goes_one_way_per_feature() {
        // Read as 0; sent left (key first); sent right (key last); read as 0.
        let rules = [NAN_AS_ZERO, DEFAULT_LEFT, 0, NAN_AS_ZERO | DEFAULT_LEFT];
        let features = rules.len();
        let mut rng = Rng(0x0bad_5eed_1234_0001);
        let trees: Vec<BoostTree> = (0..60)
            .map(|i| {
                let mut nodes = Vec::new();
                consistent(&mut rng, 1 + (i % 6), &rules, &mut nodes);
                BoostTree::from_preorder(nodes, features, 0).unwrap()
            })
            .collect();
        let packed = Packed::boost_trees(&trees, 1, features);
        let nan_keys = packed.nan_keys.as_ref().expect("one key a feature");
        assert_eq!(packed.stride(), 8);
        // Left everywhere: the lowest threshold. Right everywhere: the last key.
        let lowest = packed
            .nodes
            .iter()
            .enumerate()
            .filter(|&(i, n)| !is_leaf(n, i) && n.feature == 1)
            .map(|(_, n)| n.threshold)
            .min();
        assert_eq!(Some(nan_keys[1]), lowest);
        assert_eq!(nan_keys[2], NAN_KEY);
        // As 0: left where 0 is, right where it is not.
        for f in [0, 3] {
            assert!(nan_keys[f] >= key(0.0) && nan_keys[f] < NAN_KEY, "{f}");
        }
        assert!(packed.nodes.iter().all(|n| (n.feature as usize) < features));
        for n in [1, 2, 6, 7, 64, 301, 2500] {
            let x = rows(&mut rng, n, features);
            same_sums_walked_and_scored(&trees, &packed, &x, 1);
        }
    }

    #[test]
    fn two_copies_of_the_keys_when_a_feature_sends_a_missing_value_both_ways() {
        // A missing value goes left at a split on 2.0 and right at one on 1.0: no key is
        // at or below 1.0 and above 2.0.
        let split = |flags: u32, threshold: f64| BoostPreorder::Split {
            feature: flags,
            threshold,
            categories: Vec::new(),
            cover: 2.0,
        };
        let leaf = |value: f64| BoostPreorder::Leaf { value, cover: 1.0 };
        let tree = |flags, threshold| {
            BoostTree::from_preorder([split(flags, threshold), leaf(1.0), leaf(2.0)], 1, 0).unwrap()
        };
        let both = [tree(DEFAULT_LEFT, 1.0), tree(0, 2.0)];
        let packed = Packed::boost_trees(&both, 1, 1);
        assert_eq!(packed.nan_keys, None);
        assert_eq!(packed.stride(), 8);
        assert_eq!(packed.nodes[0].feature, 1);
        // The other way round, one key does: above 1.0 and at or below 2.0.
        let one = [tree(0, 1.0), tree(DEFAULT_LEFT, 2.0)];
        let packed = Packed::boost_trees(&one, 1, 1);
        assert_eq!(packed.nan_keys, Some(vec![key(2.0)]));
        let x = FeatureMatrix::from_row_major(vec![f64::NAN, 1.5, 2.5], 3, 1).unwrap();
        let slow = |_: usize, _: &[f64]| None;
        // NaN: right then left; 1.5: right then left; 2.5: right twice.
        assert_eq!(packed.sum(&x, &slow).unwrap(), [3.0, 3.0, 4.0]);
    }

    #[test]
    fn a_tree_over_64_leaves_is_walked() {
        let mut nodes = Vec::new();
        // A full tree of depth 7: 128 leaves.
        fn full(depth: u32, next: &mut f64, out: &mut Vec<BoostPreorder>) {
            if depth == 0 {
                *next += 1.0;
                out.push(BoostPreorder::Leaf {
                    value: *next,
                    cover: 1.0,
                });
                return;
            }
            out.push(BoostPreorder::Split {
                feature: depth % 2,
                threshold: f64::from(depth),
                categories: Vec::new(),
                cover: 2.0,
            });
            full(depth - 1, next, out);
            full(depth - 1, next, out);
        }
        full(7, &mut 0.0, &mut nodes);
        let tree = BoostTree::from_preorder(nodes, 2, 0).unwrap();
        assert!(Packed::boost_trees(&[tree], 1, 2).scorer.is_none());
    }

    fn forest_data(rng: &mut Rng, n: usize) -> (FeatureMatrix, Vec<f64>) {
        let x = rows(rng, n, 4);
        // Training rows without NaN or infinities; targets from the first columns.
        let values: Vec<f64> = x
            .values()
            .iter()
            .map(|v| if v.is_finite() { *v } else { 1.5 })
            .collect();
        let y = values.chunks(4).map(|r| r[0] * 3.0 + r[1].sin()).collect();
        (FeatureMatrix::from_row_major(values, n, 4).unwrap(), y)
    }

    /// `forest_data`'s rows with three classes made from its targets.
    fn three_class_set(x: FeatureMatrix, y: &[f64], seed: u64) -> TrainingSet {
        let labels: Vec<ClassLabel> = y
            .iter()
            .map(|v| ClassLabel::Int((*v > 0.0) as i64 + (*v > 3.0) as i64))
            .collect();
        TrainingSet {
            x,
            y: Target::Classes(EncodedLabels::encode(&labels)),
            seed,
        }
    }

    #[test]
    fn forest_predictions_are_the_tree_by_tree_sums_bit_for_bit() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (x, y) = forest_data(&mut rng, 3000);
        let classification = three_class_set(x.clone(), &y, 3);
        let regression = TrainingSet {
            x,
            y: Target::Values(y),
            seed: 3,
        };
        let params = ForestRegressorParams {
            n_trees: 19,
            ..Default::default()
        };
        let reg = params.validate().unwrap().fit(&regression).unwrap();
        // Trees grown until pure on 3,000 rows: larger than the caches, summed group by
        // group on the pool for large batches, and walked in the order of their
        // subtrees from 2,048 rows.
        let packed = Packed::value_trees(reg.trees(), 4);
        assert!(packed.large());
        // A forest sends a missing value right at every split: one copy of the keys.
        assert_eq!(packed.nan_keys, Some(vec![NAN_KEY; 4]));
        let params = ForestClassifierParams {
            n_trees: 13,
            ..Default::default()
        };
        let class = params.validate().unwrap().fit(&classification).unwrap();
        for n in [1, 3, 4, 9, 700, 2000, 5000] {
            let probe = rows(&mut rng, n, 4);
            let sums = sum_trees(reg.trees(), n, |tree, out| {
                for (row, o) in probe.rows().zip(out.iter_mut()) {
                    *o += tree.flat().leaf(row).unwrap().1;
                }
            });
            let expected: Vec<f64> = sums.iter().map(|s| s / 19.0).collect();
            let Predictions::Values(got) = reg.predict(&probe).unwrap() else {
                panic!("values")
            };
            assert_eq!(bits(&got), bits(&expected), "{n} rows");
            let k = class.classes().unwrap().len();
            let sums = sum_trees(class.trees(), n * k, |tree, out| {
                for (row, o) in probe.rows().zip(out.chunks_exact_mut(k)) {
                    for (o, p) in o.iter_mut().zip(tree.proba(row).unwrap()) {
                        *o += p;
                    }
                }
            });
            let expected: Vec<f64> = sums.iter().map(|s| s * (1.0 / 13.0)).collect();
            let Predictions::Classes { probabilities, .. } = class.predict(&probe).unwrap() else {
                panic!("classes")
            };
            assert_eq!(bits(&probabilities.unwrap()), bits(&expected), "{n} rows");
        }
    }
}
