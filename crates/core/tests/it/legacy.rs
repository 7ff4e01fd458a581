//! Artifacts written before the model table (one per model kind, under
//! `tests/fixtures/legacy/registry`) load and predict exactly as they did: the
//! predictions are pinned to the bit in snapshots recorded with the code that wrote them.
//! Tree models explain, except regression trees and forests written before their files
//! kept leaf counts (`-counted` fixtures are written since), which say so by name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ferry_core::model::{ExplainError, Model, ModelKind};
use ferry_core::schema::DType;
use ferry_core::{ModelBundle, Predictions};
use serde_json::{Map, Value};

fn legacy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/legacy")
}

/// The data set a fixture model was trained on: the start of its name.
fn dataset_of(name: &str) -> &str {
    name.split('-').next().unwrap()
}

/// A CSV row (strings, `null` for missing) typed by the model's schema.
fn typed(bundle: &ModelBundle, raw: &Map<String, Value>) -> Map<String, Value> {
    bundle
        .schema()
        .features()
        .iter()
        .map(|f| {
            let name = f.name.as_str();
            let value = match raw.get(name).and_then(Value::as_str) {
                None => Value::Null,
                Some(s) => match f.dtype {
                    DType::Numeric | DType::Integer => {
                        serde_json::Number::from_f64(s.parse::<f64>().unwrap())
                            .map_or(Value::Null, Value::Number)
                    }
                    DType::Boolean => Value::Bool(s == "1" || s == "true"),
                    DType::Categorical => Value::String(s.to_owned()),
                },
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// Every prediction with its exact bits (`{:?}` of an `f64` round-trips).
fn render(predictions: &Predictions) -> String {
    match predictions {
        Predictions::Classes {
            labels,
            probabilities,
            n_classes,
        } => labels
            .iter()
            .enumerate()
            .map(|(i, label)| match probabilities {
                Some(p) => format!("{label} {:?}", &p[i * n_classes..(i + 1) * n_classes]),
                None => label.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Predictions::Values(values) => values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn every_legacy_artifact_loads_and_predicts_as_before() {
    let rows: Map<String, Value> =
        serde_json::from_str(&fs_err::read_to_string(legacy_dir().join("rows.json")).unwrap())
            .unwrap();
    let mut kinds = HashSet::new();
    let mut names: Vec<_> = fs_err::read_dir(legacy_dir().join("registry"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in names {
        let bundle =
            ModelBundle::load(&legacy_dir().join("registry").join(&name).join("1")).unwrap();
        kinds.insert(bundle.model().kind());
        let typed: Vec<_> = rows[dataset_of(&name)]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| typed(&bundle, r.as_object().unwrap()))
            .filter(|r| {
                bundle
                    .schema()
                    .validate_rows(std::slice::from_ref(r))
                    .is_ok()
            })
            .collect();
        assert!(typed.len() >= 8, "{name}: only {} valid rows", typed.len());
        let frame = bundle.schema().validate_rows(&typed).unwrap();
        let rendered = render(&bundle.predict(&frame).unwrap());
        insta::assert_snapshot!(format!("legacy_{name}"), rendered);
        // Regression trees and forests written before leaf counts were kept load and
        // predict, and refuse to explain by name; the ones written since explain.
        let explained = bundle.explain(&frame);
        match bundle.model().kind() {
            ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor
            | ModelKind::DecisionTreeRegressor
                if !name.ends_with("-counted") =>
            {
                assert!(
                    matches!(explained, Err(ExplainError::NoCovers(_))),
                    "{name}: {explained:?}"
                );
            }
            ModelKind::RandomForestRegressor
            | ModelKind::ExtraTreesRegressor
            | ModelKind::DecisionTreeRegressor
            | ModelKind::DecisionTreeClassifier
            | ModelKind::RandomForestClassifier
            | ModelKind::GradientBoostingClassifier
            | ModelKind::GradientBoostingRegressor => {
                assert!(explained.is_ok(), "{name}: {explained:?}");
            }
            ModelKind::LogisticRegression
            | ModelKind::LinearRegression
            | ModelKind::RidgeRegression
            | ModelKind::Lasso
            | ModelKind::ElasticNet
            | ModelKind::KnnClassifier
            | ModelKind::KnnRegressor
            | ModelKind::GaussianNb
            | ModelKind::MultinomialNb
            | ModelKind::BernoulliNb
            | ModelKind::CategoricalNb
            | ModelKind::Svc
            | ModelKind::Svr => assert!(
                matches!(explained, Err(ExplainError::NotTrees(_))),
                "{name}: {explained:?}"
            ),
        }
    }
    let missing: Vec<_> = ModelKind::ALL
        .iter()
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(missing.is_empty(), "no legacy artifact of {missing:?}");
}
