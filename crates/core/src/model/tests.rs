use super::*;
use crate::config::from_yaml_str;

#[test]
fn model_kind_names_are_unique_snake_case_and_pinned() {
    let names: Vec<&str> = ModelKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len());
    for (kind, name) in ModelKind::ALL.iter().zip(&names) {
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name}"
        );
        assert_eq!(name.parse::<ModelKind>().unwrap(), *kind);
        // The serde tag and as_str agree.
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::Value::String((*name).to_owned())
        );
    }
    // A rename breaks old artifacts: this snapshot must change only on purpose.
    insta::assert_snapshot!(names.join("\n"), @r"
    logistic_regression
    linear_regression
    ridge_regression
    lasso
    elastic_net
    decision_tree_classifier
    decision_tree_regressor
    random_forest_classifier
    random_forest_regressor
    extra_trees_regressor
    gradient_boosting_classifier
    gradient_boosting_regressor
    knn_classifier
    knn_regressor
    gaussian_nb
    multinomial_nb
    bernoulli_nb
    categorical_nb
    svc
    svr
    ");
}

#[test]
fn every_model_spec_variant_parses_and_rejects_unknown_keys() {
    for kind in ModelKind::ALL {
        let spec: ModelSpec = from_yaml_str(&format!("type: {kind}\n")).unwrap();
        assert_eq!(spec.kind(), *kind);
        assert_eq!(spec.validate().unwrap().kind(), *kind);
        let err = from_yaml_str::<ModelSpec>(&format!("type: {kind}\nn_tres: 10\n")).unwrap_err();
        assert!(
            err.message.contains("unknown field `n_tres`"),
            "{kind}: {err}"
        );
    }
    let err = from_yaml_str::<ModelSpec>("type: gradient_boosting\n").unwrap_err();
    assert!(
        err.message.contains("unknown variant `gradient_boosting`"),
        "{err}"
    );
}

#[test]
fn wrong_task_is_an_error() {
    let data = TrainingSet {
        x: FeatureMatrix::from_row_major(vec![1.0, 2.0, 3.0], 3, 1).unwrap(),
        y: Target::Values(vec![1.0, 2.0, 3.0]),
        seed: 0,
    };
    let spec = ModelSpec::LogisticRegression(LogisticRegressionParams::default())
        .validate()
        .unwrap();
    assert!(matches!(
        fit(&spec, &data),
        Err(TrainError::WrongTask { .. })
    ));
}

#[test]
fn the_hyperparameter_table_lists_exactly_what_each_params_struct_takes() {
    for kind in ModelKind::ALL {
        let listed: Vec<&str> = kind.hyperparameters().iter().map(|(k, _)| *k).collect();
        // Every default that serialises is listed, with the listed default.
        let spec: ModelSpec = from_yaml_str(&format!("type: {kind}\n")).unwrap();
        let value = serde_json::to_value(&spec).unwrap();
        for (key, default) in value.as_object().unwrap() {
            if key == "type" {
                continue;
            }
            let (_, shown) = kind
                .hyperparameters()
                .iter()
                .find(|(k, _)| k == key)
                .unwrap_or_else(|| panic!("{kind}: {key} is not listed"));
            let agrees = match (default.as_str(), default.as_f64()) {
                (Some(text), _) => shown.starts_with(text),
                (None, Some(number)) => {
                    shown.split_whitespace().next().and_then(|t| t.parse().ok()) == Some(number)
                }
                (None, None) => false,
            };
            assert!(agrees, "{kind}: {key} default {default}, listed {shown}");
        }
        // Every listed key is accepted (an unknown one would be an error).
        for key in listed {
            let value = match key {
                "solver" if *kind == ModelKind::LinearRegression => "svd",
                "solver" => "cholesky",
                "criterion" => "gini",
                "alpha" | "tol" | "var_smoothing" | "learning_rate" => "0.5",
                "early_stopping" => "true",
                "loss" if *kind == ModelKind::GradientBoostingClassifier => "log_loss",
                "loss" => "absolute_error",
                "l1_ratio" => "0.5",
                "weights" => "distance",
                "metric" => "manhattan",
                "binarize" => "0.5",
                "kernel" => "linear",
                _ => "3",
            };
            from_yaml_str::<ModelSpec>(&format!("type: {kind}\n{key}: {value}\n"))
                .unwrap_or_else(|e| panic!("{kind}: {key}: {e}"));
        }
    }
}

/// A small training set every algorithm can fit: three columns of category codes 0..=2
/// (counts for multinomial naive Bayes, codes for categorical naive Bayes) and a target
/// of the kind's task.
fn training_set(task: Task) -> TrainingSet {
    let n = 48;
    let x: Vec<f64> = (0..n)
        .flat_map(|i| (0..3).map(move |j| ((i * 7 + j * 5 + i / 3) % 3) as f64))
        .collect();
    let row = |i: usize| &x[i * 3..i * 3 + 3];
    let y = match task {
        Task::Classification => {
            let labels: Vec<ClassLabel> = (0..n)
                .map(|i| ClassLabel::Int(i64::from(row(i)[0] + row(i)[1] > 2.0)))
                .collect();
            Target::Classes(EncodedLabels::encode(&labels))
        }
        Task::Regression => Target::Values(
            (0..n)
                .map(|i| 2.0 * row(i)[0] + row(i)[1] - 0.5 * row(i)[2] + (i % 5) as f64 * 0.1)
                .collect(),
        ),
    };
    TrainingSet {
        x: FeatureMatrix::from_row_major(x, n, 3).unwrap(),
        y,
        seed: 7,
    }
}

/// Every row of the table, with its defaults: it fits on data of its task, writes the
/// artifact file its kind names and reads back the same model with the same
/// predictions to the bit, gives probabilities exactly when the table says so, and (for
/// trees) its trees agree with smartcore's. A new row is covered here without being
/// listed anywhere.
#[test]
fn every_kind_in_the_table_fits_round_trips_and_keeps_its_promises() {
    for kind in ModelKind::ALL {
        let spec: ModelSpec = from_yaml_str(&format!("type: {kind}\nn_trees: 5\n"))
            .or_else(|_| from_yaml_str(&format!("type: {kind}\n")))
            .unwrap();
        let spec = spec.validate().unwrap();
        let data = training_set(kind.task());
        let fitted = fit(&spec, &data).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(fitted.kind(), *kind);
        assert_eq!(fitted.n_features(), 3);
        assert_eq!(
            fitted.classes().is_some(),
            kind.task() == Task::Classification
        );

        let before = fitted.predict(&data.x).unwrap();
        match &before {
            Predictions::Classes { probabilities, .. } => {
                assert_eq!(
                    probabilities.is_some(),
                    kind.gives_probabilities(),
                    "{kind}"
                );
            }
            Predictions::Values(_) => assert!(!kind.gives_probabilities(), "{kind}"),
        }

        let bytes = fitted.encode().unwrap();
        let back = TrainedModel::decode(kind.model_file(), &bytes)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(back, fitted, "{kind}");
        assert_eq!(back.predict(&data.x).unwrap(), before, "{kind}");
        // The other file name refuses the bytes rather than misreading them.
        let other = if kind.model_file() == MODEL_JSON {
            MODEL_BIN
        } else {
            MODEL_JSON
        };
        assert!(TrainedModel::decode(other, &bytes).is_err(), "{kind}");

        if let Some(p) = parity(&spec, &data, &data.x).unwrap() {
            assert_eq!(kind.model_file(), MODEL_BIN, "{kind}: parity is for trees");
            assert!(p.trees >= 1 && p.compared > 0, "{kind}: {p:?}");
            assert_eq!(p.mismatches, 0, "{kind}: {p:?}");
            assert!(p.max_abs_diff < 1e-9, "{kind}: {p:?}");
        }
    }
}

mod round_trips {
    use proptest::prelude::*;

    use super::*;

    /// Class labels for `n` rows: both classes among the first two rows, the rest from
    /// `picks`.
    fn labels(n: usize, picks: &[u8]) -> Target {
        let labels: Vec<ClassLabel> = (0..n)
            .map(|i| {
                let class = if i < 2 {
                    i as u8
                } else {
                    picks[i % picks.len()] % 2
                };
                ClassLabel::Int(i64::from(class))
            })
            .collect();
        Target::Classes(EncodedLabels::encode(&labels))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Every kind, fitted on random data (a fit may refuse the data, by name), goes
        /// through its file and back unchanged, and predicts random rows, extreme
        /// values included, exactly as before.
        #[test]
        fn every_kind_round_trips_whatever_it_was_fitted_on(
            n in 12usize..40,
            width in 1usize..4,
            cells in proptest::collection::vec(-50i32..50, 160),
            picks in proptest::collection::vec(0u8..3, 40),
            probe in proptest::collection::vec(
                prop_oneof![
                    (-100i32..100).prop_map(f64::from),
                    Just(1e300),
                    Just(-1e300),
                    Just(0.5),
                ],
                12,
            ),
        ) {
            let x: Vec<f64> = (0..n * width)
                .map(|i| f64::from(cells[i % cells.len()].abs() % 4))
                .collect();
            let x = FeatureMatrix::from_row_major(x, n, width).unwrap();
            let probe = FeatureMatrix::from_row_major(probe[..width * 3].to_vec(), 3, width)
                .unwrap();
            let values: Vec<f64> = (0..n)
                .map(|i| f64::from(cells[(i * 7) % cells.len()]) * 0.5)
                .collect();
            let mut fitted_kinds = Vec::new();
            for kind in ModelKind::ALL {
                let y = match kind.task() {
                    Task::Classification => labels(n, &picks),
                    Task::Regression => Target::Values(values.clone()),
                };
                let data = TrainingSet { x: x.clone(), y, seed: 3 };
                let spec: ModelSpec = from_yaml_str(&format!("type: {kind}\nn_trees: 3\n"))
                    .or_else(|_| from_yaml_str(&format!("type: {kind}\nmax_iter: 5\n")))
                    .or_else(|_| from_yaml_str(&format!("type: {kind}\n")))
                    .unwrap();
                let Ok(fitted) = fit(&spec.validate().unwrap(), &data) else {
                    continue;
                };
                fitted_kinds.push(*kind);
                let bytes = fitted.encode().unwrap();
                let back = TrainedModel::decode(kind.model_file(), &bytes)
                    .unwrap_or_else(|e| panic!("{kind}: {e}"));
                prop_assert_eq!(&back, &fitted, "{}", kind);
                prop_assert_eq!(
                    back.predict(&probe).ok(),
                    fitted.predict(&probe).ok(),
                    "{}",
                    kind
                );
            }
            // Most kinds take any such data; the test would prove little otherwise.
            prop_assert!(fitted_kinds.len() >= 14, "only {:?} fitted", fitted_kinds);
        }
    }
}
