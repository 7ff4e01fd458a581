//! Criterion benches of tree-ensemble inference (`Model::predict` on a feature matrix),
//! one group per decision of the packed layout (`model::tree::packed`), so that undoing
//! a decision shows as a regression here:
//!
//! - `boosted/<rows>`: 300 boosted trees of 31 leaves on 8 columns, which the scorer
//!   takes (leaf sets cleared by splits sorted per feature, and marks that combine a
//!   feature's first splits; few features for the trees' depth). One list a feature,
//!   whichever side each split sends missing values: the model learned both sides on
//!   every feature, and a list per side made twice the passes (`boosted/10000` took
//!   1.4x as long).
//! - `missing/10000`: the same model on rows with 10% missing values, which the model
//!   learned to send left or right: walks read the second, NaN-first copy of a row's
//!   keys; the scorer clears a missing feature's right-going splits in one pass.
//! - `wide/<rows>`: 300 trees of 8 leaves on 120 columns, too many features for their
//!   depth, so walked:
//!   branchless steps on integer keys, six rows walked at once, row blocks whose keys
//!   fill a quarter of a 512 KiB second-level cache (60 rows of 120 columns; blocks
//!   sized for the first-level cache held 16 and took 1.02x to 1.25x as long in five
//!   pairs of runs); one row through four trees at a time.
//! - `shallow/10000`: 300 trees of at most 8 leaves on the same 120 columns, a random
//!   forest's: walked like `wide`'s, but a forest sends a missing value right at every
//!   split, so a row keeps one copy of its keys (128 a row, 128 rows a block) where
//!   `wide`'s boosted trees, which learned both sides per feature, need two (256 a row,
//!   60 rows a block).
//! - `forest/<rows>`: a 50-tree random forest grown until pure (deep trees that do not
//!   fit in cache), the mean of the trees; at 10,000 rows each tree is walked through
//!   its top levels, then the rows in the order of the subtree each reached.
//!
//! The models are fitted on seeded synthetic data when the bench starts; run with
//! `cargo bench -p ferry-core --bench trees`. bench/trees.sh compares the same layout
//! with LightGBM, ONNX Runtime, treelite and lleaves.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry_core::model::{
    EarlyStopping, ForestRegressorParams, GradientBoostingParams, NoProgress, Target, Trainer,
    TrainingSet,
};
use ferry_core::{FeatureMatrix, Model};

/// Seeded rows: `cols` columns, a share `missing` of them NaN, and a target that depends
/// on the first few columns non-linearly.
fn data(rows: usize, cols: usize, missing: f64, seed: u64) -> (FeatureMatrix, Vec<f64>) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let row: Vec<f64> = (0..cols).map(|_| next() * 4.0 - 2.0).collect();
        y.push(row[0].sin() * 3.0 + row[1] * row[2] + (row[3] > 0.5) as u8 as f64 + next() * 0.1);
        x.extend(
            row.into_iter()
                .map(|v| if next() < missing { f64::NAN } else { v }),
        );
    }
    (FeatureMatrix::from_row_major(x, rows, cols).unwrap(), y)
}

fn boosted(cols: usize, missing: f64, leaves: usize) -> impl Model {
    let (x, y) = data(20_000, cols, missing, 7);
    let params = GradientBoostingParams {
        max_iter: 300,
        max_leaf_nodes: leaves,
        early_stopping: EarlyStopping::Fixed(false),
        ..Default::default()
    };
    let data = TrainingSet {
        x,
        y: Target::Values(y),
        seed: 7,
    };
    params
        .validate_regressor()
        .unwrap()
        .fit_regressor(&data, &NoProgress)
        .unwrap()
}

fn forest(n_trees: usize, cols: usize, max_depth: Option<u16>) -> impl Model {
    let (x, y) = data(20_000, cols, 0.0, 11);
    let params = ForestRegressorParams {
        n_trees,
        max_depth,
        ..Default::default()
    };
    let data = TrainingSet {
        x,
        y: Target::Values(y),
        seed: 11,
    };
    params.validate().unwrap().fit(&data).unwrap()
}

fn batches(
    c: &mut Criterion,
    group: &str,
    model: &dyn Model,
    cols: usize,
    missing: f64,
    sizes: &[usize],
) {
    let mut g = c.benchmark_group(group);
    for &n in sizes {
        let (x, _) = data(n, cols, missing, 99);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| black_box(model.predict(black_box(x)).unwrap()));
        });
    }
    g.finish();
}

fn trees(c: &mut Criterion) {
    let model = boosted(8, 0.0, 31);
    batches(c, "boosted", &model, 8, 0.0, &[1, 100, 10_000]);
    let model = boosted(8, 0.1, 31);
    batches(c, "missing", &model, 8, 0.1, &[10_000]);
    let model = boosted(120, 0.0, 8);
    batches(c, "wide", &model, 120, 0.0, &[1, 10_000]);
    let model = forest(300, 120, Some(3));
    batches(c, "shallow", &model, 120, 0.0, &[10_000]);
    let model = forest(50, 8, None);
    batches(c, "forest", &model, 8, 0.0, &[1, 100, 10_000]);
}

criterion_group!(benches, trees);
criterion_main!(benches);
