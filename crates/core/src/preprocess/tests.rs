use proptest::prelude::*;

use super::*;
use crate::config::from_yaml_str;
use crate::frame::{Column, Frame};
use crate::schema::{DType, FeatureSchema, FeatureSpec};

fn feature(name: &str, dtype: DType, nullable: bool) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        dtype,
        nullable,
        range: None,
        categories: None,
    }
}

fn titanic_like() -> (FeatureSchema, Frame) {
    let schema = FeatureSchema::new(vec![
        feature("age", DType::Numeric, true),
        feature("fare", DType::Numeric, false),
        feature("sex", DType::Categorical, false),
        feature("embarked", DType::Categorical, true),
    ])
    .unwrap();
    let frame = Frame::new(vec![
        Column::Numeric(vec![22.0, f64::NAN, 30.0, 40.0]),
        Column::Numeric(vec![7.25, 71.0, 8.0, 10.0]),
        Column::Categorical(vec![
            Some("male".into()),
            Some("female".into()),
            Some("male".into()),
            Some("female".into()),
        ]),
        Column::Categorical(vec![
            Some("S".into()),
            None,
            Some("C".into()),
            Some("S".into()),
        ]),
    ])
    .unwrap();
    (schema, frame)
}

fn spec() -> PreprocessSpec {
    from_yaml_str(
        r"
steps:
  - op: impute
    columns: [age]
    strategy: median
  - op: impute
    columns: [embarked]
    strategy: most_frequent
  - op: standard_scale
    columns: [age, fare]
  - op: one_hot
    columns: [sex, embarked]
    handle_unknown: ignore
",
    )
    .unwrap()
}

#[test]
fn fit_and_transform_match_hand_computation() {
    let (schema, frame) = titanic_like();
    let fitted = spec().fit(&schema, &frame).unwrap();
    assert_eq!(
        fitted.output(),
        [
            "age",
            "fare",
            "sex=female",
            "sex=male",
            "embarked=C",
            "embarked=S"
        ]
    );
    let x = fitted.transform(&frame).unwrap();
    // age median of [22, 30, 40] = 30; imputed column [22, 30, 30, 40]: mean 30.5.
    let ages = [22.0, 30.0, 30.0, 40.0];
    let mean = 30.5;
    let sd = (ages
        .iter()
        .map(|a: &f64| (a - mean) * (a - mean))
        .sum::<f64>()
        / 4.0)
        .sqrt();
    assert!((x.row(1)[0] - (30.0 - mean) / sd).abs() < 1e-12);
    // embarked most frequent is S; row 1 becomes S.
    assert_eq!(&x.row(1)[2..], &[1.0, 0.0, 0.0, 1.0]);
    assert_eq!(&x.row(2)[2..], &[0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn unknown_category_policy() {
    let (schema, frame) = titanic_like();
    let mut strict = spec();
    if let Some(StepSpec::OneHot(o)) = strict.steps.last_mut() {
        o.handle_unknown = HandleUnknown::Error;
    }
    let fitted_strict = strict.fit(&schema, &frame).unwrap();
    let fitted_lenient = spec().fit(&schema, &frame).unwrap();
    let new = Frame::new(vec![
        Column::Numeric(vec![1.0]),
        Column::Numeric(vec![1.0]),
        Column::Categorical(vec![Some("male".into())]),
        Column::Categorical(vec![Some("Q".into())]),
    ])
    .unwrap();
    let err = fitted_strict.transform(&new).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"record 0: feature 'embarked': unknown category "Q", expected one of ["C", "S"]"#
    );
    assert!(err.is_caller_error());
    let x = fitted_lenient.transform(&new).unwrap();
    assert_eq!(&x.row(0)[4..], &[0.0, 0.0]);
}

#[test]
fn validation_collects_every_problem() {
    let (schema, _) = titanic_like();
    let bad: PreprocessSpec = from_yaml_str(
        r"
steps:
  - op: standard_scale
    columns: [age, sex, nope]
  - op: impute
    columns: [age]
    strategy: mean
  - op: one_hot
    columns: [fare]
",
    )
    .unwrap();
    insta::assert_snapshot!(bad.validate(&schema).unwrap_err().to_string(), @r"
    7 configuration errors
      - steps[0].columns[1]: cannot standard_scale feature 'sex' of type categorical
      - steps[0].columns[2]: unknown feature 'nope'
      - steps[1].columns[0]: feature 'age' must be imputed before it is scaled or encoded
      - steps[2].columns[0]: cannot one_hot feature 'fare' of type numeric
      - steps: categorical feature 'sex' needs a one_hot step
      - steps: categorical feature 'embarked' needs a one_hot step
      - steps: nullable feature 'embarked' needs an impute step
    ");
}

#[test]
fn every_step_rejects_unknown_keys() {
    for (op, extra) in [
        ("impute", "strategy: mean\n    colums: [a]"),
        ("standard_scale", "scale: 2"),
        ("min_max_scale", "range: [0, 1]"),
        ("one_hot", "drop: first"),
    ] {
        let yaml = format!("steps:\n  - op: {op}\n    columns: [a]\n    {extra}\n");
        let err = from_yaml_str::<PreprocessSpec>(&yaml).unwrap_err();
        assert!(err.message.contains("unknown field"), "{op}: {err}");
    }
}

#[test]
fn constant_impute_parses_both_kinds() {
    let s: PreprocessSpec = from_yaml_str(
        "steps:\n  - op: impute\n    columns: [a]\n    strategy: {constant: 0}\n  - op: impute\n    columns: [b]\n    strategy: {constant: missing}\n",
    )
    .unwrap();
    let StepSpec::Impute(a) = &s.steps[0] else {
        panic!()
    };
    assert_eq!(
        a.strategy,
        ImputeStrategy::Constant(ConstantValue::Number(0.0))
    );
    let StepSpec::Impute(b) = &s.steps[1] else {
        panic!()
    };
    assert_eq!(
        b.strategy,
        ImputeStrategy::Constant(ConstantValue::Text("missing".into()))
    );
}

#[test]
fn min_max_scale_maps_to_unit_interval() {
    let schema = FeatureSchema::new(vec![feature("x", DType::Numeric, false)]).unwrap();
    let frame = Frame::new(vec![Column::Numeric(vec![2.0, 4.0, 6.0])]).unwrap();
    let spec: PreprocessSpec =
        from_yaml_str("steps:\n  - op: min_max_scale\n    columns: [x]\n").unwrap();
    let x = spec
        .fit(&schema, &frame)
        .unwrap()
        .transform(&frame)
        .unwrap();
    assert_eq!(x.values(), &[0.0, 0.5, 1.0]);
}

#[test]
fn tampered_preprocessor_is_refused_on_load() {
    let (schema, frame) = titanic_like();
    let fitted = spec().fit(&schema, &frame).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&fitted).unwrap();
    json["output"][0] = serde_json::Value::String("renamed".into());
    let err = serde_json::from_value::<FittedPreprocessor>(json).unwrap_err();
    assert!(err.to_string().contains("do not match"), "{err}");
}

proptest! {
    #[test]
    fn serde_round_trip_keeps_transform(ages in prop::collection::vec(prop_oneof![Just(f64::NAN), -100.0f64..100.0], 2..30),
                                        cats in prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 2..30)) {
        let n = ages.len().min(cats.len());
        prop_assume!(ages[..n].iter().any(|a| !a.is_nan()));
        let schema = FeatureSchema::new(vec![feature("age", DType::Numeric, true), feature("c", DType::Categorical, false)]).unwrap();
        let frame = Frame::new(vec![
            Column::Numeric(ages[..n].to_vec()),
            Column::Categorical(cats[..n].iter().map(|c| Some((*c).to_owned())).collect()),
        ]).unwrap();
        let spec: PreprocessSpec = from_yaml_str("steps:\n  - op: impute\n    columns: [age]\n    strategy: mean\n  - op: standard_scale\n    columns: [age]\n  - op: one_hot\n    columns: [c]\n").unwrap();
        let fitted = spec.fit(&schema, &frame).unwrap();
        let back: FittedPreprocessor = serde_json::from_str(&serde_json::to_string(&fitted).unwrap()).unwrap();
        let a = fitted.transform(&frame).unwrap();
        let b = back.transform(&frame).unwrap();
        prop_assert_eq!(a.n_rows(), n);
        prop_assert_eq!(a.n_cols(), fitted.output().len());
        prop_assert!(a.values().iter().all(|v| v.is_finite()));
        prop_assert_eq!(a, b);
    }
}

#[test]
fn a_value_that_overflows_scaling_is_a_caller_error() {
    let schema = FeatureSchema::new(vec![feature("x", DType::Numeric, false)]).unwrap();
    let train = Frame::new(vec![Column::Numeric(vec![0.0, 0.1, 0.2])]).unwrap();
    let spec: PreprocessSpec =
        from_yaml_str("steps:\n  - op: standard_scale\n    columns: [x]\n").unwrap();
    let fitted = spec.fit(&schema, &train).unwrap();
    let huge = Frame::new(vec![Column::Numeric(vec![1.0, f64::MAX, -f64::MAX])]).unwrap();
    let err = fitted.transform(&huge).unwrap_err();
    assert!(
        matches!(&err, PreprocessError::InvalidValues(rows) if rows.len() == 2 && rows[0].row == 1),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "record 1: feature 'x': {:e} is too large for the model; record 2: feature 'x': {:e} is too large for the model",
            f64::MAX,
            -f64::MAX
        )
    );
    assert!(err.is_caller_error());
}

const NATIVE: ModelInputs = ModelInputs {
    missing: true,
    category_codes: true,
};

#[test]
fn a_model_that_takes_missing_values_and_codes_needs_no_impute_or_one_hot() {
    let (schema, frame) = titanic_like();
    let scale: PreprocessSpec =
        from_yaml_str("steps:\n  - op: standard_scale\n    columns: [fare]\n").unwrap();
    // Encoded inputs: every nullable feature imputed, every categorical one encoded.
    let errors = scale.validate(&schema).unwrap_err().to_string();
    for expected in [
        "nullable feature 'age' needs an impute step",
        "categorical feature 'sex' needs a one_hot step",
        "nullable feature 'embarked' needs an impute step",
    ] {
        assert!(errors.contains(expected), "{errors}");
    }
    scale.validate_for(&schema, NATIVE).unwrap();
    // A nullable feature that is one-hot encoded still needs its impute step.
    let one_hot: PreprocessSpec =
        from_yaml_str("steps:\n  - op: one_hot\n    columns: [embarked]\n").unwrap();
    let errors = one_hot
        .validate_for(&schema, NATIVE)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("nullable feature 'embarked' needs an impute step"),
        "{errors}"
    );

    let fitted = scale.fit_for(&schema, &frame, NATIVE).unwrap();
    assert_eq!(fitted.output(), ["age", "fare", "sex", "embarked"]);
    let ops: Vec<String> = fitted
        .steps()
        .iter()
        .map(|s| {
            serde_json::to_value(s).unwrap()["op"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ops,
        [
            "standard_scale",
            "keep_missing",
            "category_codes",
            "category_codes",
            "keep_missing"
        ]
    );
    let x = fitted.transform(&frame).unwrap();
    // Codes in the learned (sorted) order: female 0, male 1; C 0, S 1; missing is NaN.
    assert!(x.row(1)[0].is_nan());
    assert_eq!(x.row(0)[2..], [1.0, 1.0]);
    assert_eq!(x.row(1)[2], 0.0);
    assert!(x.row(1)[3].is_nan());
    assert_eq!(x.row(2)[3], 0.0);
    assert_eq!(x.categories(), [(2, 2), (3, 2)]);
    // An unseen category is missing too; a round trip through JSON keeps everything.
    let unseen = Frame::new(vec![
        Column::Numeric(vec![5.0]),
        Column::Numeric(vec![1.0]),
        Column::Categorical(vec![Some("female".into())]),
        Column::Categorical(vec![Some("Q".into())]),
    ])
    .unwrap();
    let back: FittedPreprocessor =
        serde_json::from_str(&serde_json::to_string(&fitted).unwrap()).unwrap();
    assert_eq!(back, fitted);
    let y = back.transform(&unseen).unwrap();
    assert_eq!(y.row(0)[2], 0.0);
    assert!(y.row(0)[3].is_nan());
    // Explanations map the code columns back to their features.
    assert_eq!(back.source_feature(2), Some(2));
    assert_eq!(back.source_feature(3), Some(3));
}

#[test]
fn a_feature_encoded_twice_is_refused_when_read() {
    let (schema, frame) = titanic_like();
    let fitted = PreprocessSpec::default()
        .fit_for(&schema, &frame, NATIVE)
        .unwrap();
    let mut json = serde_json::to_value(&fitted).unwrap();
    let steps = json["steps"].as_array_mut().unwrap();
    let codes = steps
        .iter()
        .find(|s| s["op"] == "category_codes")
        .unwrap()
        .clone();
    let mut one_hot = codes.clone();
    one_hot["op"] = "one_hot".into();
    one_hot["handle_unknown"] = "error".into();
    steps.push(one_hot);
    let err = serde_json::from_value::<FittedPreprocessor>(json).unwrap_err();
    assert!(err.to_string().contains("encoded twice"), "{err}");
}
