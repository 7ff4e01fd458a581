use super::*;
use crate::model::tree::codec::TreeFile;
use crate::model::{EncodedLabels, NoProgress, TrainedModel, Trainer};

fn blobs(n: usize, k: usize) -> TrainingSet {
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let class = i % k;
        let jitter = ((i * 37) % 11) as f64 / 10.0;
        values.extend([class as f64 * 2.0 + jitter, jitter * 3.0, (i % 5) as f64]);
        labels.push(ClassLabel::Int(class as i64));
    }
    TrainingSet {
        x: FeatureMatrix::from_row_major(values, n, 3).unwrap(),
        y: Target::Classes(EncodedLabels::encode(&labels)),
        seed: 1,
    }
}

fn params() -> ValidGradientBoostingParams {
    GradientBoostingParams {
        max_iter: 30,
        min_samples_leaf: 5,
        ..Default::default()
    }
    .validate()
    .unwrap()
}

#[test]
fn classifiers_learn_separable_classes_and_give_calibrated_shapes() {
    for k in [2, 3] {
        let data = blobs(300, k);
        let model = params().fit_classifier(&data, &NoProgress).unwrap();
        assert_eq!(model.n_trees(), 30 * if k == 2 { 1 } else { k });
        let Predictions::Classes {
            labels,
            probabilities: Some(p),
            n_classes,
        } = model.predict(&data.x).unwrap()
        else {
            panic!("classes")
        };
        assert_eq!(n_classes, k);
        let Target::Classes(y) = &data.y else {
            panic!()
        };
        let right = labels
            .iter()
            .zip(y.codes())
            .filter(|(a, b)| **a == **b as usize)
            .count();
        assert!(right as f64 / 300.0 > 0.95, "k={k}: {right}");
        for row in p.chunks(k) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn boosted_models_round_trip_through_their_file_and_refuse_damage() {
    let data = blobs(200, 3);
    let model = params().fit_classifier(&data, &NoProgress).unwrap();
    let bytes = TreeFile::encode(&model).unwrap();
    assert_eq!(&bytes[..8], b"FERRYGBT");
    let back = TrainedModel::decode(crate::model::MODEL_BIN, &bytes).unwrap();
    assert_eq!(back, TrainedModel::GradientBoosting(model.clone()));
    assert_eq!(
        back.predict(&data.x).unwrap(),
        model.predict(&data.x).unwrap()
    );
    for n in (0..bytes.len()).step_by(7) {
        assert!(TrainedModel::decode(crate::model::MODEL_BIN, &bytes[..n]).is_err());
    }
    let mut trailing = bytes.clone();
    trailing.push(1);
    assert!(TrainedModel::decode(crate::model::MODEL_BIN, &trailing).is_err());
}

#[test]
fn a_regressor_beats_the_mean_and_early_stopping_keeps_the_best_iterations() {
    let n = 2000;
    let mut values = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let a = (i % 100) as f64 / 10.0;
        let b = ((i * 7) % 13) as f64;
        values.extend([a, b]);
        y.push(a.sin() * 3.0 + b * 0.5 + ((i * 31) % 7) as f64 * 0.05);
    }
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(values, n, 2).unwrap(),
        y: Target::Values(y.clone()),
        seed: 4,
    };
    let p = GradientBoostingParams {
        max_iter: 500,
        early_stopping: EarlyStopping::Fixed(true),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let model = p.fit_regressor(&data, &NoProgress).unwrap();
    assert!(model.n_trees() < 500, "{}", model.n_trees());
    let Predictions::Values(pred) = model.predict(&data.x).unwrap() else {
        panic!()
    };
    let mean = y.iter().sum::<f64>() / n as f64;
    let sse: f64 = pred.iter().zip(&y).map(|(p, t)| (p - t).powi(2)).sum();
    let sst: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    assert!(sse / sst < 0.05, "{}", sse / sst);
}

#[test]
fn bad_hyperparameters_are_named() {
    let p = GradientBoostingParams {
        learning_rate: 0.0,
        max_bins: 300,
        subsample: 0.0,
        validation_fraction: 1.0,
        ..Default::default()
    };
    let err = p.validate().unwrap_err().to_string();
    for field in [
        "learning_rate",
        "max_bins",
        "subsample",
        "validation_fraction",
    ] {
        assert!(err.contains(field), "{err}");
    }
    let yaml = "{max_iter: 10, early_stopping: auto}";
    let p: GradientBoostingParams = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(p.early_stopping, EarlyStopping::Rule(StopRule::Auto));
    let p: GradientBoostingParams = serde_yaml::from_str("{early_stopping: false}").unwrap();
    assert_eq!(p.early_stopping, EarlyStopping::Fixed(false));
    assert!(serde_yaml::from_str::<GradientBoostingParams>("{early_stopping: maybe}").is_err());
}

#[test]
fn explanations_add_up_to_the_raw_scores() {
    for k in [2, 3] {
        let data = blobs(240, k);
        let model = params().fit_classifier(&data, &NoProgress).unwrap();
        let raw = model.raw_scores(&data.x).unwrap();
        let e = TrainedModel::GradientBoosting(model.clone())
            .explain(&data.x)
            .unwrap();
        let outputs = if k == 2 { 1 } else { k };
        assert_eq!((e.n_outputs, e.n_columns), (outputs, 3));
        for r in 0..data.x.n_rows() {
            for o in 0..outputs {
                let sum: f64 = e.row(r, o).iter().sum::<f64>() + e.base[o];
                assert!(
                    (sum - raw[r * outputs + o]).abs() < 1e-9,
                    "{sum} vs {}",
                    raw[r * outputs + o]
                );
            }
        }
    }
}

#[test]
fn kept_expected_values_equal_the_cover_weighted_means() {
    use crate::model::explain::{ShapTree, expected_value};
    let data = blobs(240, 3);
    let model = params().fit_classifier(&data, &NoProgress).unwrap();
    for t in model.trees() {
        let (mut kept, mut walked) = (vec![0.0; 3], vec![0.0; 3]);
        t.add_expected(1.0, &mut kept);
        expected_value(t, 1.0, &mut walked);
        for (a, b) in kept.iter().zip(&walked) {
            assert!((a - b).abs() < 1e-12, "{kept:?} vs {walked:?}");
        }
    }
}

#[test]
fn forest_explanations_add_up_to_the_class_probabilities() {
    let data = blobs(240, 3);
    let forest = crate::model::ForestClassifierParams {
        n_trees: 10,
        ..Default::default()
    }
    .validate()
    .unwrap()
    .fit(&data)
    .unwrap();
    let Predictions::Classes {
        probabilities: Some(p),
        ..
    } = forest.predict(&data.x).unwrap()
    else {
        panic!("probabilities")
    };
    let e = TrainedModel::RandomForestClassifier(forest)
        .explain(&data.x)
        .unwrap();
    assert_eq!(e.space, crate::model::ExplanationSpace::Probability);
    for r in 0..data.x.n_rows() {
        for o in 0..3 {
            let sum = e.row(r, o).iter().sum::<f64>() + e.base[o];
            assert!(
                (sum - p[r * 3 + o]).abs() < 1e-9,
                "{sum} vs {}",
                p[r * 3 + o]
            );
        }
    }
}

#[test]
fn regression_trees_and_forests_explain_and_their_files_keep_the_counts() {
    let data = blobs(300, 2);
    let y: Vec<f64> = data
        .x
        .rows()
        .map(|r| 3.0 * r[0] - r[1] * r[1] + (r[0] * r[1]).sin())
        .collect();
    let data = TrainingSet {
        y: Target::Values(y),
        ..data
    };
    let forest = crate::model::ForestRegressorParams {
        n_trees: 8,
        ..Default::default()
    }
    .validate()
    .unwrap()
    .fit(&data)
    .unwrap();
    let tree = crate::model::DecisionTreeRegressorParams::default()
        .validate()
        .unwrap()
        .fit(&data)
        .unwrap();
    // The forest's trees are covered by their in-bag rows: 300 draws each.
    for t in forest.trees() {
        assert_eq!(t.counts().unwrap().iter().sum::<u32>(), 300);
    }
    let back =
        TrainedModel::decode(crate::model::MODEL_BIN, &TreeFile::encode(&forest).unwrap()).unwrap();
    assert_eq!(back, TrainedModel::RandomForestRegressor(forest.clone()));
    for model in [
        TrainedModel::RandomForestRegressor(forest),
        TrainedModel::DecisionTreeRegressor(tree),
    ] {
        let Predictions::Values(v) = model.predict(&data.x).unwrap() else {
            panic!("values")
        };
        let e = model.explain(&data.x).unwrap();
        assert_eq!(e.space, crate::model::ExplanationSpace::Value);
        for (r, value) in v.iter().enumerate() {
            let sum = e.row(r, 0).iter().sum::<f64>() + e.base[0];
            assert!((sum - value).abs() < 1e-9, "{sum} vs {value}");
        }
    }
}

#[test]
fn categorical_columns_split_on_category_sets_and_keep_them_through_the_file() {
    // The target depends on the category through a set no threshold separates:
    // codes 0, 2 and 4 are high, 1 and 3 low; column 1 is noise with missing values.
    let n = 1000;
    let mut values = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let code = (i * 7 % 5) as f64;
        let noise = if i % 9 == 0 {
            f64::NAN
        } else {
            (i % 13) as f64
        };
        values.extend([code, noise]);
        y.push(if (i * 7 % 5) % 2 == 0 { 10.0 } else { -10.0 });
    }
    let x = FeatureMatrix::from_row_major(values, n, 2)
        .unwrap()
        .with_categories(vec![(0, 5)]);
    let data = TrainingSet {
        x,
        y: Target::Values(y.clone()),
        seed: 1,
    };
    let p = GradientBoostingParams {
        max_iter: 1,
        learning_rate: 1.0,
        max_leaf_nodes: 2,
        early_stopping: EarlyStopping::Fixed(false),
        ..Default::default()
    }
    .validate()
    .unwrap();
    // One split of one tree separates the two sets exactly.
    let model = p.fit_regressor(&data, &NoProgress).unwrap();
    let Predictions::Values(v) = model.predict(&data.x).unwrap() else {
        panic!("values")
    };
    for (pred, target) in v.iter().zip(&y) {
        assert!((pred - target).abs() < 1e-9, "{pred} vs {target}");
    }
    // An unseen code and a missing value go right, with the codes not in the set.
    let probe =
        FeatureMatrix::from_row_major(vec![7.0, 1.0, f64::NAN, 1.0, 1.0, 1.0], 3, 2).unwrap();
    let Predictions::Values(p3) = model.predict(&probe).unwrap() else {
        panic!("values")
    };
    assert_eq!(p3[0], p3[2]);
    assert_eq!(p3[1], p3[2]);
    let bytes = TreeFile::encode(&model).unwrap();
    let back = TrainedModel::decode(crate::model::MODEL_BIN, &bytes).unwrap();
    assert_eq!(
        back.predict(&data.x).unwrap(),
        Predictions::Values(v.clone())
    );
    // Explanations add up through category splits too.
    let e = back.explain(&data.x).unwrap();
    for (r, value) in v.iter().enumerate() {
        let sum = e.row(r, 0).iter().sum::<f64>() + e.base[0];
        assert!((sum - value).abs() < 1e-9);
    }
    // More categories than max_bins is refused by column.
    let wide = FeatureMatrix::from_row_major(vec![0.0; 20], 10, 2)
        .unwrap()
        .with_categories(vec![(1, 300)]);
    let err = p
        .fit_regressor(
            &TrainingSet {
                x: wide,
                y: Target::Values(vec![0.0; 10]),
                seed: 1,
            },
            &NoProgress,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("input column 1 holds 300 categories"),
        "{err}"
    );
}

#[test]
fn cv_early_stopping_picks_the_iterations_on_the_folds_and_fits_every_row() {
    // A noisy target: boosting long overfits, so the folds' pooled loss turns up.
    let n = 400;
    let mut values = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let a = (i % 40) as f64 / 4.0;
        values.push(a);
        y.push(a.sin() + ((i * 7919) % 97) as f64 / 24.0);
    }
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(values, n, 1).unwrap(),
        y: Target::Values(y),
        seed: 3,
    };
    let fit = |early_stopping| {
        GradientBoostingParams {
            max_iter: 200,
            learning_rate: 0.3,
            min_samples_leaf: 2,
            early_stopping,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit_regressor(&data, &NoProgress)
        .unwrap()
    };
    let full = fit(EarlyStopping::Fixed(false));
    let cv = fit(EarlyStopping::Rule(StopRule::Cv));
    assert_eq!(full.n_trees(), 200);
    assert!(cv.n_trees() < 60, "{} trees", cv.n_trees());
    assert!(cv.n_trees() >= 1);
    // Deterministic, and the chosen count is fitted on every row: the same trees as a
    // fit of that many iterations without early stopping.
    assert_eq!(fit(EarlyStopping::Rule(StopRule::Cv)), cv);
    let same = GradientBoostingParams {
        max_iter: cv.n_trees(),
        learning_rate: 0.3,
        min_samples_leaf: 2,
        early_stopping: EarlyStopping::Fixed(false),
        ..Default::default()
    }
    .validate()
    .unwrap()
    .fit_regressor(&data, &NoProgress)
    .unwrap();
    assert_eq!(same, cv);
    let bad = GradientBoostingParams {
        cv_folds: 1,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(bad.to_string().contains("cv_folds"), "{bad}");
}

#[test]
fn absolute_error_fits_medians_and_shrugs_off_outliers() {
    // y = 2x plus rare huge outliers: squared error chases them, absolute error not.
    let n = 600;
    let mut values = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let x = (i % 60) as f64;
        values.push(x);
        y.push(2.0 * x + if i % 50 == 0 { 5000.0 } else { 0.0 });
    }
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(values, n, 1).unwrap(),
        y: Target::Values(y),
        seed: 2,
    };
    let fit = |loss| {
        let p = GradientBoostingParams {
            max_iter: 50,
            min_samples_leaf: 5,
            early_stopping: EarlyStopping::Fixed(false),
            loss,
            ..Default::default()
        }
        .validate_regressor()
        .unwrap();
        p.fit_regressor(&data, &NoProgress).unwrap()
    };
    let clean_error = |model: &GradientBoostingModel| {
        let Predictions::Values(v) = model.predict(&data.x).unwrap() else {
            panic!("values")
        };
        v.iter()
            .enumerate()
            .filter(|(i, _)| i % 50 != 0)
            .map(|(i, p)| (p - 2.0 * (i % 60) as f64).abs())
            .fold(0.0_f64, f64::max)
    };
    let absolute = fit(Some(BoostLoss::AbsoluteError));
    let squared = fit(None);
    assert_eq!(absolute.objective(), Objective::AbsoluteError);
    // The baseline is the median, not the mean the outliers pull up.
    assert!(
        absolute.base_score()[0] < 70.0,
        "{:?}",
        absolute.base_score()
    );
    assert!(clean_error(&absolute) < 5.0, "{}", clean_error(&absolute));
    assert!(clean_error(&squared) > 50.0, "{}", clean_error(&squared));
    // Through the file, and refused by name for a classifier.
    let bytes = TreeFile::encode(&absolute).unwrap();
    let back = TrainedModel::decode(crate::model::MODEL_BIN, &bytes).unwrap();
    assert_eq!(back, TrainedModel::GradientBoosting(absolute));
    let err = GradientBoostingParams {
        loss: Some(BoostLoss::AbsoluteError),
        ..Default::default()
    }
    .validate_classifier()
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("loss: expected log_loss, found absolute_error"),
        "{err}"
    );
}
