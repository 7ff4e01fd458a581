//! Ferry's tree layout against smartcore: every tree of every tree-based example config
//! (and of a diamonds forest) predicts exactly what the smartcore tree it was converted
//! from predicts, on the training and the test rows; a forest's output is the mean of its
//! trees; tree classifiers give leaf-distribution probabilities.

use ferry_core::model::{self, Parity, Predictions};
use ferry_core::{FeatureMatrix, Predictor};
use train::Pipeline;
use train::stages::split::{Prepared, prepare};

use crate::{workspace, write_config};

fn parity_of(pipeline: &Pipeline) -> (Parity, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let dataset = train::data::load(pipeline, &dir.path().join("dead.csv")).unwrap();
    let prepared = prepare(pipeline, &dataset).unwrap();
    // Probe with the training rows and the (preprocessed) test rows.
    let x_test = prepared
        .preprocessor
        .transform(&prepared.test_frame)
        .unwrap();
    let mut probe = prepared.training.x.values().to_vec();
    probe.extend_from_slice(x_test.values());
    let n = prepared.training.x.n_rows() + x_test.n_rows();
    let probe = FeatureMatrix::from_row_major(probe, n, x_test.n_cols()).unwrap();
    let parity = model::parity(pipeline.model(), &prepared.training, &probe)
        .unwrap()
        .expect("a tree model");
    assert_eq!(parity.compared, parity.trees * n);
    (parity, prepared)
}

#[test]
fn every_tree_of_every_tree_config_predicts_as_smartcore_does() {
    for config in [
        "configs/titanic.yaml",
        "configs/wine.yaml",
        "configs/diabetes_forest.yaml",
        "configs/diabetes_tree.yaml",
        "configs/diabetes_extra_trees.yaml",
    ] {
        let pipeline = Pipeline::from_file(&workspace().join(config)).unwrap();
        let (parity, _) = parity_of(&pipeline);
        assert!(parity.trees >= 1, "{config}");
        assert_eq!(parity.mismatches, 0, "{config}: {parity:?}");
        assert!(parity.max_abs_diff < 1e-9, "{config}: {parity:?}");
    }
}

#[test]
fn a_diamonds_forest_predicts_as_its_smartcore_trees() {
    // The shipped diamonds forest has 100 fully grown trees; four of them, fitted the
    // same way, cover the same code on the same 43,152 rows in a test's time.
    let dir = tempfile::tempdir().unwrap();
    let text = fs_err::read_to_string(workspace().join("configs/diamonds_forest.yaml"))
        .unwrap()
        .replace("../data/", "DATA/")
        .replace("n_trees: 100", "n_trees: 4");
    let config = write_config(dir.path(), "diamonds.yaml", &text);
    let pipeline = Pipeline::from_file(&config).unwrap();
    let (parity, prepared) = parity_of(&pipeline);
    assert_eq!(parity.trees, 4);
    assert_eq!(prepared.training.x.n_rows(), 43_152);
    assert_eq!(parity.mismatches, 0, "{parity:?}");
    assert!(parity.max_abs_diff < 1e-6, "{parity:?}");
}

#[test]
fn a_depth_limited_tree_gives_leaf_distribution_probabilities() {
    let pipeline = Pipeline::from_file(&workspace().join("configs/wine.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dataset = train::data::load(&pipeline, &dir.path().join("dead.csv")).unwrap();
    let prepared = prepare(&pipeline, &dataset).unwrap();
    let fitted = model::fit(pipeline.model(), &prepared.training).unwrap();
    let predictor = Predictor::new(prepared.preprocessor, fitted).unwrap();
    let Predictions::Classes {
        probabilities: Some(p),
        ..
    } = predictor.predict(&prepared.test_frame).unwrap()
    else {
        panic!("a classifier with probabilities")
    };
    assert!(p.iter().any(|v| *v > 0.0 && *v < 1.0), "{p:?}");
    for row in p.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
