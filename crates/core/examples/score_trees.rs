//! Ferry's side of bench/trees.sh: times tree-ensemble predictions on the rows
//! bench/reference/trees.py wrote, the way that script times the other tools.
//!
//! ```text
//! score_trees lightgbm DIR CASE THREADS SECONDS   # DIR/CASE.lgb.txt imported
//! score_trees forest DIR THREADS SECONDS          # a random forest fitted on diamonds
//! ```
//!
//! Each prints one JSON line per batch size (1, 100, 10,000): the median seconds per call
//! of `Model::predict` on consecutive rows, cycling through the 10,000. `lightgbm` also
//! reports the largest relative difference from LightGBM's own predictions
//! (DIR/CASE.lightgbm.f64, written by trees.py's `score`). THREADS sizes rayon's pool.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_core::model::{ForestRegressorParams, Target, Trainer, TrainingSet, import_lightgbm};
use ferry_core::{FeatureMatrix, Model};

const BATCHES: [usize; 3] = [1, 100, 10_000];

fn read_f64(path: &Path) -> Vec<f64> {
    let bytes = fs_err::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn features(dir: &Path, case: &str) -> usize {
    let shape: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dir.join(format!("{case}.json"))).unwrap()).unwrap();
    shape["features"].as_u64().unwrap() as usize
}

fn matrix(values: Vec<f64>, cols: usize) -> FeatureMatrix {
    let rows = values.len() / cols;
    FeatureMatrix::from_row_major(values, rows, cols).unwrap()
}

/// The batches of `batch` consecutive rows.
fn batches(rows: &FeatureMatrix, batch: usize) -> Vec<FeatureMatrix> {
    let cols = rows.n_cols();
    rows.values()
        .chunks_exact(batch * cols)
        .map(|c| matrix(c.to_vec(), cols))
        .collect()
}

/// Median seconds per call of `model.predict` on each batch size, and the call count.
fn time_cells(model: &dyn Model, rows: &FeatureMatrix, seconds: f64) -> Vec<(usize, f64, usize)> {
    BATCHES
        .iter()
        .map(|&batch| {
            let batches = batches(rows, batch);
            black_box(model.predict(&batches[0]).unwrap());
            let budget = Duration::from_secs_f64(seconds);
            let mut times = Vec::new();
            let mut spent = Duration::ZERO;
            let mut i = 0;
            while (spent < budget || times.len() < 5) && times.len() < 200_000 {
                let x = &batches[i % batches.len()];
                let start = Instant::now();
                black_box(model.predict(black_box(x)).unwrap());
                let elapsed = start.elapsed();
                times.push(elapsed.as_secs_f64());
                spent += elapsed;
                i += 1;
            }
            times.sort_by(f64::total_cmp);
            (batch, times[times.len() / 2], times.len())
        })
        .collect()
}

fn print_cells(case: &str, threads: usize, cells: &[(usize, f64, usize)], extra: &str) {
    for &(batch, median, calls) in cells {
        println!(
            "{{\"case\": \"{case}\", \"tool\": \"ferry\", \"threads\": {threads}, \"batch\": {batch}, \"call_s\": {median:e}, \"row_us\": {:e}, \"calls\": {calls}{extra}}}",
            median / batch as f64 * 1e6
        );
    }
}

fn values(model: &dyn Model, x: &FeatureMatrix) -> Vec<f64> {
    match model.predict(x).unwrap() {
        ferry_core::Predictions::Values(v) => v,
        other => panic!("expected values, got {other:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map_or("", String::as_str) };
    let (threads, seconds) = match arg(0) {
        "lightgbm" => (arg(3), arg(4)),
        "forest" => (arg(2), arg(3)),
        _ => {
            eprintln!(
                "usage: score_trees lightgbm DIR CASE THREADS SECONDS | forest DIR THREADS SECONDS"
            );
            std::process::exit(2);
        }
    };
    let threads: usize = threads.parse().expect("THREADS");
    let seconds: f64 = seconds.parse().expect("SECONDS");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();
    let dir = Path::new(arg(1));
    if arg(0) == "lightgbm" {
        let case = arg(2);
        let cols = features(dir, case);
        let text = fs_err::read_to_string(dir.join(format!("{case}.lgb.txt"))).unwrap();
        let model = import_lightgbm(&text, None).unwrap().model;
        let rows = matrix(read_f64(&dir.join(format!("{case}.rows.f64"))), cols);
        let cells = time_cells(&model, &rows, seconds);
        let ours = values(&model, &rows);
        let theirs = read_f64(&dir.join(format!("{case}.lightgbm.f64")));
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f64::max);
        assert_eq!(ours.len(), theirs.len(), "one prediction per row");
        print_cells(
            case,
            threads,
            &cells,
            &format!(", \"max_rel_diff\": {diff:e}"),
        );
    } else {
        let cols = features(dir, "diamonds");
        let x = matrix(read_f64(&dir.join("diamonds.train.f64")), cols);
        let y = read_f64(&dir.join("diamonds.target.f64"));
        let data = TrainingSet {
            x,
            y: Target::Values(y),
            seed: 42,
        };
        let start = Instant::now();
        let model = ForestRegressorParams::default()
            .validate()
            .unwrap()
            .fit(&data)
            .unwrap();
        let fit_s = start.elapsed().as_secs_f64();
        let rows = matrix(read_f64(&dir.join("diamonds.rows.f64")), cols);
        let cells = time_cells(&model, &rows, seconds);
        let table = ferry_core::TrainedModel::RandomForestRegressor(model.clone())
            .tree_table()
            .unwrap();
        let leaves: usize = table
            .trees
            .iter()
            .map(|t| t.children_left.iter().filter(|&&c| c < 0).count())
            .sum();
        print_cells(
            "diamonds-forest",
            threads,
            &cells,
            &format!(", \"leaves\": {leaves}, \"fit_s\": {fit_s}"),
        );
    }
}
