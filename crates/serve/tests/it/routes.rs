use actix_web::http::StatusCode;
use actix_web::test;
use serde_json::{Value, json};

use crate::{state, state_with};

#[actix_web::test]
async fn health_ready_and_models() {
    let app = test::init_service(serve::app(state())).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("x-ferry-api-version").unwrap(), "v1");
    assert!(res.headers().contains_key("x-request-id"));

    let body: Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/ready").to_request())
            .await;
    assert_eq!(
        body,
        json!({"status": "ready", "api_version": "v1", "models": {"tiny": 1}, "missing": []})
    );

    let body: Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/models").to_request())
            .await;
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["name"], "tiny");
    assert_eq!(models[0]["version"], 1);
    assert_eq!(models[0]["kind"], "logistic_regression");
    assert_eq!(models[0]["reference"], "tiny@latest");

    let body: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/models/tiny").to_request(),
    )
    .await;
    assert_eq!(body["classes"], json!([0, 1]));
    assert_eq!(
        body["target"],
        json!({"name": "survived", "dtype": "integer"})
    );
    let names: Vec<&str> = body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pclass", "sex", "age", "embarked"]);
    // The schema lists no categories: the ones one-hot learned from the data are shown.
    assert_eq!(body["features"][1]["categories"], json!(["female", "male"]));
    assert_eq!(body["features"][3]["categories"], json!(["C", "Q", "S"]));
    assert!(body["features"][0].get("categories").is_none());
    assert!(body["metrics"]["accuracy"].as_f64().unwrap() > 0.5);
}

#[actix_web::test]
async fn ready_is_503_while_an_expected_model_is_missing() {
    let app = test::init_service(serve::app(state_with(Default::default(), &["ghost"]))).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/ready").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers().get("retry-after").unwrap(), "30");
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["missing"], json!(["ghost"]));
}

#[actix_web::test]
async fn single_and_batch_predictions_agree() {
    let app = test::init_service(serve::app(state())).await;
    let record = json!({"pclass": 1, "sex": "female", "age": 29.0, "embarked": "S"});
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .insert_header(("x-request-id", "abc-123"))
        .set_json(&record)
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    assert_eq!(res.headers().get("x-model-version").unwrap(), "1");
    let single: Value = test::read_body_json(res).await;
    assert_eq!(single["request_id"], "abc-123");
    assert_eq!(single["model"], "tiny");
    assert_eq!(single["model_version"], 1);
    assert_eq!(single["api_version"], "v1");
    assert_eq!(single["predictions"][0]["label"], 1);
    let p = &single["predictions"][0]["probabilities"];
    assert!((p["0"].as_f64().unwrap() + p["1"].as_f64().unwrap() - 1.0).abs() < 1e-12);

    let other = json!({"pclass": 3, "sex": "male", "age": null, "embarked": null});
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .set_json(json!({"records": [record, other]}))
        .to_request();
    let batch: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(batch["predictions"][0], single["predictions"][0]);
    assert_eq!(batch["predictions"][1]["label"], 0);
    assert_ne!(batch["request_id"], "abc-123");

    // A client's id with a quote and a backslash is answered as JSON text, unchanged.
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .insert_header(("x-request-id", r#"a"b\c"#))
        .set_json(&record)
        .to_request();
    let answer: serve::protocol::native::PredictResponse =
        test::call_and_read_body_json(&app, req).await;
    assert_eq!(answer.request_id, r#"a"b\c"#);
    assert_eq!(
        serde_json::to_value(&answer.predictions).unwrap(),
        single["predictions"]
    );
}

#[actix_web::test]
async fn the_largest_batch_allowed_fits_in_the_default_body_limit() {
    // 10,000 records (the default batch limit) with every field written out long.
    let record =
        json!({"pclass": 3, "sex": "female", "age": 29.123_456_789_012_3, "embarked": "S"});
    let records: Vec<Value> = (0..serve::Limits::default().max_batch_records)
        .map(|_| record.clone())
        .collect();
    let body = json!({ "records": records }).to_string();
    assert!(body.len() < serve::Limits::default().max_body_bytes);
    let app = test::init_service(serve::app(state())).await;
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = test::read_body_json(res).await;
    assert_eq!(answer["predictions"].as_array().unwrap().len(), 10_000);
}

#[actix_web::test]
async fn a_request_without_a_sane_id_is_answered_with_the_id_it_was_given() {
    let app = test::init_service(serve::app(state())).await;
    let record = json!({"pclass": 1, "sex": "female", "age": 29.0, "embarked": "S"});
    for client_id in [None, Some("has a space"), Some("")] {
        let mut req = test::TestRequest::post()
            .uri("/models/tiny/predict")
            .set_json(&record);
        if let Some(id) = client_id {
            req = req.insert_header(("x-request-id", id));
        }
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{client_id:?}");
        let header = res
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            uuid::Uuid::parse_str(&header).is_ok(),
            "{client_id:?}: {header}"
        );
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["request_id"], header.as_str(), "{client_id:?}");
    }
}

/// A model served at start-up answers through its own literal path; one loaded later
/// (here: swapped in after the app was built) through the template. Both answer alike
/// and count under the template in the metrics.
#[actix_web::test]
async fn literal_and_template_routes_answer_alike() {
    let loaded = state();
    let late = serve::AppState::new(
        serve::state::ModelSet::new(),
        Vec::new(),
        serve::Limits::default(),
    );
    let literal = test::init_service(serve::app(loaded.clone())).await;
    let template = test::init_service(serve::app(late.clone())).await;
    late.models.store(loaded.models.load_full());
    let record = json!({"pclass": 1, "sex": "female", "age": 29.0, "embarked": "S"});
    let predict = || {
        test::TestRequest::post()
            .uri("/models/tiny/predict")
            .insert_header(("x-request-id", "same-id"))
            .set_json(&record)
            .to_request()
    };
    let v2 = || {
        test::TestRequest::post()
            .uri("/v2/models/tiny/infer")
            .set_json(json!({"inputs": [
                {"name": "pclass", "shape": [1], "datatype": "INT64", "data": [1]},
                {"name": "sex", "shape": [1], "datatype": "BYTES", "data": ["female"]},
                {"name": "age", "shape": [1], "datatype": "FP64", "data": [29.0]},
                {"name": "embarked", "shape": [1], "datatype": "BYTES", "data": ["S"]}
            ]}))
            .to_request()
    };
    let metrics = || test::TestRequest::get().uri("/metrics").to_request();
    let a: Value = test::call_and_read_body_json(&literal, predict()).await;
    let b: Value = test::call_and_read_body_json(&template, predict()).await;
    assert_eq!(a, b);
    let a: Value = test::call_and_read_body_json(&literal, v2()).await;
    let b: Value = test::call_and_read_body_json(&template, v2()).await;
    assert_eq!(a["outputs"], b["outputs"]);
    assert!(a["outputs"].is_array(), "{a}");
    for body in [
        test::call_and_read_body(&literal, metrics()).await,
        test::call_and_read_body(&template, metrics()).await,
    ] {
        let text = String::from_utf8(body.to_vec()).unwrap();
        for route in ["/models/{name}/predict", "/v2/models/{name}/infer"] {
            assert!(
                text.contains(&format!(
                    r#"ferry_http_requests_total{{method="POST",route="{route}",status="200"}} 1"#
                )),
                "{route} in\n{text}"
            );
        }
    }
}
