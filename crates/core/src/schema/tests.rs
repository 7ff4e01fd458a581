use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::frame::Column;
use crate::label::ClassLabel;
use crate::model::Task;

fn spec(name: &str, dtype: DType) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        dtype,
        nullable: false,
        range: None,
        categories: None,
    }
}

fn schema() -> FeatureSchema {
    FeatureSchema::new(vec![
        FeatureSpec {
            range: Some(ValueRange {
                min: Some(0.0),
                max: Some(120.0),
            }),
            nullable: true,
            ..spec("age", DType::Numeric)
        },
        spec("sibsp", DType::Integer),
        FeatureSpec {
            categories: Some(vec!["male".into(), "female".into()]),
            ..spec("sex", DType::Categorical)
        },
        spec("alone", DType::Boolean),
    ])
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {
            panic!("not an object")
        }
    }
}

#[test]
fn valid_json_rows_become_a_frame() {
    let rows = [
        obj(json!({"age": 22.5, "sibsp": 1, "sex": "male", "alone": false})),
        obj(json!({"age": null, "sibsp": 0, "sex": "female", "alone": true})),
        obj(json!({"sibsp": 0, "sex": "female", "alone": true})),
    ];
    let frame = schema().validate_rows(&rows).unwrap();
    assert_eq!(frame.n_rows(), 3);
    let Column::Numeric(age) = &frame.columns()[0] else {
        panic!()
    };
    assert_eq!(age[0], 22.5);
    assert!(age[1].is_nan() && age[2].is_nan());
    assert_eq!(frame.columns()[3], Column::Numeric(vec![0.0, 1.0, 1.0]));
    assert_eq!(
        frame.columns()[2],
        Column::Categorical(vec![
            Some("male".into()),
            Some("female".into()),
            Some("female".into())
        ])
    );
}

#[test]
fn every_error_names_the_field_expected_and_found() {
    let rows = [
        obj(json!({"age": "old", "sibsp": 1.5, "sex": "other", "alone": 1, "cabin": "C85"})),
        obj(json!({"age": 500})),
    ];
    let errors = schema().validate_rows(&rows).unwrap_err();
    let rendered: Vec<String> = errors
        .iter()
        .map(|e| format!("row {}: {e}", e.row))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"), @r#"
    row 0: feature 'age': expected a number, found string "old"; feature 'sibsp': expected a whole number, found number 1.5; feature 'sex': expected one of ["male", "female"], found "other"; feature 'alone': expected a boolean, found number 1; unknown feature 'cabin'
    row 1: feature 'age': expected a value between 0 and 120, found 500; missing feature 'sibsp'; missing feature 'sex'; missing feature 'alone'
    "#);
}

/// A CSV record's fields, as raw text by position.
struct Csv(Vec<&'static str>);

impl Row for Csv {
    fn cell(&self, index: usize, _name: &str) -> Cell<'_> {
        Cell::Raw(self.0[index])
    }
    fn unknown_keys(&self, _schema: &FeatureSchema) -> Vec<String> {
        Vec::new()
    }
}

#[test]
fn raw_csv_fields_are_parsed_by_type() {
    let s = schema();
    let mut b = FrameBuilder::new(&s, 2);
    b.push(&Csv(vec!["", "3", "female", "yes"])).unwrap();
    let err = b.push(&Csv(vec!["1", "x", "male", "maybe"])).unwrap_err();
    assert_eq!(err.len(), 2);
    assert_eq!(
        err[0].to_string(),
        "feature 'sibsp': expected a whole number, found \"x\""
    );
    let err = b.check(&Csv(vec!["1", "x", "male", "no"])).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(b.check(&Csv(vec!["1", "2", "male", "no"])).is_ok());
    let err = b.push(&Csv(vec!["1", "", "male", "no"])).unwrap_err();
    assert_eq!(
        err,
        vec![SchemaError::NullNotAllowed {
            name: "sibsp".into()
        }]
    );
    assert_eq!(b.n_rows(), 1);
}

#[test]
fn a_refused_row_leaves_no_value_in_any_column() {
    let s = schema();
    let mut b = FrameBuilder::new(&s, 3);
    b.push(&Csv(vec!["30", "1", "male", "no"])).unwrap();
    // Its first, third and fourth values are good: only the second is not.
    b.push(&Csv(vec!["40", "x", "female", "yes"])).unwrap_err();
    // Its last value is bad, after three good ones.
    b.push(&Csv(vec!["50", "2", "male", "maybe"])).unwrap_err();
    b.push(&Csv(vec!["", "3", "female", "yes"])).unwrap();
    let frame = b.finish();
    assert_eq!(frame.n_rows(), 2);
    let columns = frame.columns();
    assert!(
        matches!(&columns[0], Column::Numeric(v) if v[0] == 30.0 && v[1].is_nan() && v.len() == 2)
    );
    assert!(matches!(&columns[1], Column::Numeric(v) if v == &[1.0, 3.0]));
    assert!(matches!(&columns[2], Column::Categorical(v)
        if v == &[Some("male".to_owned()), Some("female".to_owned())]));
    assert!(matches!(&columns[3], Column::Numeric(v) if v == &[0.0, 1.0]));
}

#[test]
fn schema_construction_collects_every_problem() {
    let err = FeatureSchema::new(vec![
        FeatureSpec {
            range: Some(ValueRange {
                min: Some(2.0),
                max: Some(1.0),
            }),
            ..spec("a", DType::Numeric)
        },
        FeatureSpec {
            categories: Some(vec![]),
            ..spec("a", DType::Numeric)
        },
    ])
    .unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r"
    4 configuration errors
      - [0].range: min 2 is greater than max 1
      - [1].name: duplicate feature 'a'
      - [1].categories: only categorical features have categories, 'a' is numeric
      - [1].categories: must list at least one category
    ");
}

#[test]
fn target_parsing() {
    let t = TargetSpec {
        name: "survived".into(),
        dtype: DType::Integer,
    };
    assert_eq!(
        t.parse(Some("1"), Task::Classification),
        Ok(TargetValue::Label(ClassLabel::Int(1)))
    );
    assert_eq!(
        t.parse(Some("?"), Task::Classification)
            .unwrap_err()
            .to_string(),
        "target 'survived': expected a whole number, found \"?\""
    );
    assert_eq!(
        t.parse(None, Task::Classification),
        Err(TargetError::Missing {
            name: "survived".into()
        })
    );
    let t = TargetSpec {
        name: "price".into(),
        dtype: DType::Numeric,
    };
    assert_eq!(
        t.parse(Some(" 326 "), Task::Regression),
        Ok(TargetValue::Number(326.0))
    );
}

#[test]
fn an_integer_target_is_a_number_for_a_regressor_and_a_label_for_a_classifier() {
    let t = TargetSpec {
        name: "price".into(),
        dtype: DType::Integer,
    };
    assert_eq!(
        t.parse(Some("326"), Task::Regression),
        Ok(TargetValue::Number(326.0))
    );
    assert_eq!(
        t.parse(Some("326"), Task::Classification),
        Ok(TargetValue::Label(ClassLabel::Int(326)))
    );
    assert!(t.parse(Some("326.5"), Task::Regression).is_err());
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("age".to_owned()),
                    Just("sex".to_owned()),
                    ".{0,4}".prop_map(|s| s)
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn validation_never_panics_on_arbitrary_json(values in prop::collection::vec(arb_json(), 0..4)) {
        let rows: Vec<Map<String, Value>> = values.into_iter().filter_map(|v| v.as_object().cloned()).collect();
        let s = schema();
        match s.validate_rows(&rows) {
            Ok(frame) => prop_assert_eq!(frame.n_rows(), rows.len()),
            Err(errors) => prop_assert!(errors.iter().all(|e| !e.errors.is_empty() && e.row < rows.len())),
        }
    }

    #[test]
    fn schema_serde_round_trip(nullable: bool, min in -1e6f64..0.0, max in 0.0f64..1e6) {
        let s = FeatureSchema::new(vec![FeatureSpec { nullable, range: Some(ValueRange { min: Some(min), max: Some(max) }), ..spec("x", DType::Numeric) }]).unwrap();
        let back: FeatureSchema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        prop_assert_eq!(back, s);
    }
}
