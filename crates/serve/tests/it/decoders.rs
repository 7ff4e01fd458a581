//! Every request decoder against arbitrary input: native JSON, KServe V2 (JSON, and JSON
//! with a binary tensor part), and MLflow's `/invocations` (its four JSON shapes and
//! CSV). Arbitrary bytes, and arbitrary JSON built around each protocol's own keys, never
//! panic: each body either decodes or is refused with a 4xx. What decodes then goes
//! through validation, preprocessing and the model ([`serve::infer::infer`]), which
//! answers or refuses with a 4xx too. Valid records, in a native, a V2 and an MLflow
//! body, are answered in each protocol's documented schema with the same predictions.

use std::sync::Arc;

use actix_web::ResponseError;
use actix_web::body::MessageBody as _;
use actix_web::test::TestRequest;
use ferry_core::LocalRegistry;
use proptest::prelude::*;
use serde_json::{Map, Value};
use serve::infer::infer;
use serve::model_set::{LoadedModel, Pick};
use serve::protocol::{mlflow, native, v2};
use serve::request::current;
use serve::state::load_models;
use serve::{AppState, Limits};

use crate::fixture_registry;

fn tiny() -> (AppState, Arc<LoadedModel>) {
    let (models, _, _) = load_models(&LocalRegistry::new(fixture_registry()), &[]).unwrap();
    let model = Arc::clone(models.get("tiny", &Pick::Default).unwrap());
    (AppState::new(models, Vec::new(), Limits::default()), model)
}

/// Any JSON value, a few levels deep, with the strings and keys the protocols and the
/// tiny model's schema use among random ones, so that mutations reach past the first
/// check.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("records".to_owned()),
        Just("inputs".to_owned()),
        Just("instances".to_owned()),
        Just("dataframe_split".to_owned()),
        Just("dataframe_records".to_owned()),
        Just("columns".to_owned()),
        Just("data".to_owned()),
        Just("name".to_owned()),
        Just("shape".to_owned()),
        Just("datatype".to_owned()),
        Just("parameters".to_owned()),
        Just("binary_data_size".to_owned()),
        Just("pclass".to_owned()),
        Just("sex".to_owned()),
        Just("age".to_owned()),
        Just("embarked".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("FP32".to_owned()),
            Just("BYTES".to_owned()),
            Just("female".to_owned()),
            Just("S".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bodies: raw bytes, or JSON (possibly cut short).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (json(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let bytes = serde_json::to_vec(&v).unwrap();
            let at = cut.index(bytes.len() + 1);
            bytes[..at].to_vec()
        }),
    ]
}

/// A record the tiny model takes: every feature in its range or null where nullable,
/// categories it knows.
fn valid_record() -> impl Strategy<Value = Value> {
    (
        1..=3i64,
        prop_oneof![Just("female"), Just("male")],
        prop::option::of(0.0..=120.0f64),
        prop::option::of(prop_oneof![Just("S"), Just("C"), Just("Q")]),
    )
        .prop_map(|(pclass, sex, age, embarked)| {
            serde_json::json!({"pclass": pclass, "sex": sex, "age": age, "embarked": embarked})
        })
}

/// The JSON answer `res` carries, read into its documented schema `T` (which refuses a
/// field it does not know).
fn read_answer<T: serde::de::DeserializeOwned>(res: actix_web::HttpResponse) -> T {
    assert_eq!(res.status(), actix_web::http::StatusCode::OK);
    let Ok(bytes) = res.into_body().try_into_bytes() else {
        panic!("an answer is written in memory")
    };
    serde_json::from_slice(&bytes).unwrap()
}

fn client_error(status: actix_web::http::StatusCode, what: &str) {
    assert!(status.is_client_error(), "{what}: {status}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn native_bodies_decode_or_are_refused_with_a_4xx(bytes in body()) {
        let (state, model) = tiny();
        match native::decode(&bytes, 8) {
            Ok(records) => {
                if let Err(e) = infer(&state, &model, &records.rows(), "prop") {
                    client_error(e.status_code(), "native infer");
                }
            }
            Err(e) => client_error(e.status_code(), "native decode"),
        }
    }

    #[test]
    fn v2_bodies_decode_or_are_refused_with_a_4xx(
        bytes in body(),
        binary in prop::collection::vec(any::<u8>(), 0..64),
        header in prop::option::of(0usize..600),
    ) {
        let (state, model) = tiny();
        // With a header length, the body is the JSON part followed by binary tensors.
        let mut whole = bytes.clone();
        let header = header.map(|h| {
            whole.extend_from_slice(&binary);
            h.min(whole.len() + 8)
        });
        match v2::decode(&whole, header, &model, 8) {
            Ok(decoded) => {
                if let Err(e) = infer(&state, &model, &decoded.rows(), "prop") {
                    client_error(e.status_code(), "v2 infer");
                }
            }
            Err(e) => client_error(e.status_code(), "v2 decode"),
        }
    }

    #[test]
    fn mlflow_bodies_decode_or_are_refused_with_a_4xx(
        bytes in body(),
        csv in prop::collection::vec("[a-z0-9,\"\\n. -]{0,40}", 0..6),
        content_type in prop_oneof![
            Just(Some("application/json")),
            Just(Some("text/csv")),
            Just(Some("application/json; charset=utf-8")),
            Just(Some("text/csv; format=pandas-split")),
            Just(None),
        ],
    ) {
        let (state, model) = tiny();
        let body = if content_type.is_some_and(|c| c.starts_with("text/csv")) {
            let mut text = String::from("pclass,sex,age,embarked\n");
            text.push_str(&csv.join("\n"));
            text.into_bytes()
        } else {
            bytes
        };
        match mlflow::decode(&body, content_type, model.bundle.schema(), 8) {
            Ok(rows) => {
                if let Err(e) = infer(&state, &model, &rows.rows(), "prop") {
                    client_error(e.status_code(), "mlflow infer");
                }
            }
            Err(e) => client_error(e.status_code(), "mlflow decode"),
        }
    }

    #[test]
    fn valid_records_are_answered_in_each_protocols_schema_with_the_same_predictions(
        records in prop::collection::vec(valid_record(), 1..8),
        single in any::<bool>(),
        v2_id in "\\PC{0,8}|[\"\\\\]{1,3}",
    ) {
        let (state, model) = tiny();
        let body = if single && records.len() == 1 {
            records[0].clone()
        } else {
            serde_json::json!({ "records": records })
        };
        let bytes = serde_json::to_vec(&body).unwrap();
        let decoded = native::decode(&bytes, 8).unwrap();
        let inference = infer(&state, &model, &decoded.rows(), "prop").unwrap();
        let id = current(&TestRequest::default().to_http_request());
        let native: native::PredictResponse = read_answer(native::encode(&inference, &id).unwrap());
        prop_assert_eq!(native.request_id.as_str(), id.as_str());
        prop_assert_eq!((native.model.as_str(), native.model_version), ("tiny", 1));
        prop_assert_eq!(native.predictions.len(), records.len());

        let body = serde_json::to_vec(&serde_json::json!({ "dataframe_records": records })).unwrap();
        let rows = mlflow::decode(&body, Some("application/json"), model.bundle.schema(), 8).unwrap();
        let inference = infer(&state, &model, &rows.rows(), "prop").unwrap();
        let mlflow: mlflow::PredictionsBody = read_answer(mlflow::encode(&inference).unwrap());
        prop_assert_eq!(mlflow.predictions.len(), records.len());

        let column = |name: &str, datatype: &str| {
            let data: Vec<Value> = records.iter().map(|r| r[name].clone()).collect();
            serde_json::json!({"name": name, "datatype": datatype, "shape": [records.len()], "data": data})
        };
        let body = serde_json::json!({"id": v2_id, "inputs": [
            column("pclass", "INT64"), column("sex", "BYTES"),
            column("age", "FP64"), column("embarked", "BYTES"),
        ]});
        let bytes = serde_json::to_vec(&body).unwrap();
        let decoded = v2::decode(&bytes, None, &model, 8).unwrap();
        let inference = infer(&state, &model, &decoded.rows(), "prop").unwrap();
        let v2: v2::InferResponse = read_answer(v2::encode(&inference, &decoded).unwrap());
        prop_assert_eq!((v2.model_name.as_str(), v2.model_version.as_str()), ("tiny", "1"));
        prop_assert_eq!(v2.id.as_deref(), Some(v2_id.as_str()));
        let [labels, probabilities] = &v2.outputs[..] else {
            panic!("predict and predict_proba: {:?}", v2.outputs)
        };
        prop_assert_eq!((labels.name.as_str(), labels.datatype.as_str()), ("predict", "INT64"));
        prop_assert_eq!(&labels.shape, &[records.len()]);
        prop_assert_eq!(&probabilities.shape, &[records.len(), 2]);
        let labels = labels.data.as_ref().unwrap();
        let probabilities = probabilities.data.as_ref().unwrap();
        for (r, (n, m)) in native.predictions.iter().zip(&mlflow.predictions).enumerate() {
            prop_assert_eq!(&n["label"], m);
            prop_assert_eq!(&n["label"], &labels[r]);
            prop_assert_eq!(&n["probabilities"]["1"], &probabilities[2 * r + 1]);
            let p = &n["probabilities"];
            let sum = p["0"].as_f64().unwrap() + p["1"].as_f64().unwrap();
            prop_assert!((sum - 1.0).abs() < 1e-9, "probabilities {} sum to {}", p, sum);
        }
    }
}
