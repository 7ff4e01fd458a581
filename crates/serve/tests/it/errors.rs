use actix_web::http::StatusCode;
use actix_web::test;
use serde_json::{Value, json};
use serve::Limits;

use crate::{state, state_with};

async fn call(req: test::TestRequest) -> (StatusCode, Value) {
    let app = test::init_service(serve::app(state_with(
        Limits {
            max_body_bytes: 4096,
            max_batch_records: 3,
            ..Limits::default()
        },
        &["ghost"],
    )))
    .await;
    let res = test::call_service(&app, req.to_request()).await;
    let status = res.status();
    assert_eq!(res.headers().get("x-ferry-api-version").unwrap(), "v1");
    let body: Value = test::read_body_json(res).await;
    (status, body)
}

fn predict(body: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/models/tiny/predict")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

#[actix_web::test]
async fn unparsable_json_is_400() {
    let (status, body) = call(predict(r#"{"pclass": 1,"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "invalid_json",
      "message": "request body is not valid JSON: EOF while parsing a value at line 1 column 13",
      "type": "invalid_request"
    }
    "#);
}

#[actix_web::test]
async fn wrong_content_type_is_415() {
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .insert_header(("content-type", "text/csv"))
        .set_payload("a,b");
    let (status, body) = call(req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "unsupported_media_type",
      "message": "expected content-type application/json, found 'text/csv'",
      "type": "invalid_request"
    }
    "#);
}

#[actix_web::test]
async fn huge_body_is_413() {
    let big = format!(r#"{{"sex": "{}"}}"#, "x".repeat(10_000));
    let (status, body) = call(predict(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "payload_too_large",
      "message": "request body is larger than the limit of 4096 bytes",
      "type": "invalid_request"
    }
    "#);
}

#[actix_web::test]
async fn schema_violations_are_422_naming_each_field() {
    let (status, body) = call(predict(
        r#"{"records": [{"pclass": "first", "sex": "male", "age": 200}, {"pclass": 1, "sex": "male", "embarked": "S", "cabin": "C85"}]}"#,
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "invalid_features",
      "errors": [
        {
          "errors": [
            {
              "error": "wrong_type",
              "expected": "a whole number",
              "found": "string \"first\"",
              "name": "pclass"
            },
            {
              "error": "out_of_range",
              "expected": "between 0 and 120",
              "found": 200.0,
              "name": "age"
            }
          ],
          "row": 0
        },
        {
          "errors": [
            {
              "error": "unknown_feature",
              "name": "cabin"
            }
          ],
          "row": 1
        }
      ],
      "message": "record 0: feature 'pclass': expected a whole number, found string \"first\"; feature 'age': expected a value between 0 and 120, found 200; record 1: unknown feature 'cabin'",
      "type": "invalid_request"
    }
    "#);
}

#[actix_web::test]
async fn missing_feature_is_422() {
    let (status, body) = call(predict(r#"{"pclass": 1, "age": 3}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "record 0: missing feature 'sex'");
    assert_eq!(
        body["errors"][0]["errors"][0],
        json!({"error": "missing_feature", "name": "sex"})
    );
}

#[actix_web::test]
async fn unknown_category_with_policy_error_is_422() {
    let (status, body) = call(predict(
        r#"{"pclass": 1, "sex": "male", "age": 3, "embarked": "X"}"#,
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "unknown_category",
      "errors": [
        {
          "errors": [
            {
              "error": "unknown_category",
              "expected": [
                "C",
                "Q",
                "S"
              ],
              "found": "X",
              "name": "embarked"
            }
          ],
          "row": 0
        }
      ],
      "message": "record 0: feature 'embarked': unknown category \"X\", expected one of [\"C\", \"Q\", \"S\"]",
      "type": "invalid_request"
    }
    "#);
}

#[actix_web::test]
async fn every_bad_value_of_a_batch_is_reported_in_one_answer() {
    // Two unseen categories in three records: both come back in one answer.
    let (status, body) = call(predict(
        r#"{"records": [
            {"pclass": 1, "sex": "male", "age": 3, "embarked": "X"},
            {"pclass": 1, "sex": "male", "age": 3, "embarked": "S"},
            {"pclass": 1, "sex": "male", "age": 3, "embarked": "Y"}]}"#,
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "unknown_category");
    let rows: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [0, 2]);
    assert_eq!(
        body["message"],
        "record 0: feature 'embarked': unknown category \"X\", expected one of [\"C\", \"Q\", \"S\"]; record 2: feature 'embarked': unknown category \"Y\", expected one of [\"C\", \"Q\", \"S\"]"
    );
}

#[actix_web::test]
async fn wrong_shapes_are_422() {
    for (body, message) in [
        (
            "[1, 2]",
            "expected a JSON object (one record) or {\"records\": [...]}, found an array",
        ),
        (
            r#"{"records": {}}"#,
            "'records' must be an array of objects, found an object",
        ),
        (
            r#"{"records": []}"#,
            "'records' is empty: send at least one record",
        ),
        (
            r#"{"records": [1]}"#,
            "records[0] must be an object of features, found a number",
        ),
        (
            r#"{"records": [{}, {}, {}, {}]}"#,
            "'records' has 4 records, the limit is 3 per request",
        ),
    ] {
        let (status, got) = call(predict(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(got["code"], "invalid_request", "{body}");
        assert_eq!(got["message"], message, "{body}");
    }
}

#[actix_web::test]
async fn unknown_model_route_and_method() {
    let (status, body) = call(predict("{}").uri("/models/nope/predict")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "model_not_found",
      "message": "model 'nope' is not served here",
      "type": "not_found"
    }
    "#);
    let (status, body) = call(test::TestRequest::get().uri("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "route_not_found");
    let (status, body) = call(test::TestRequest::get().uri("/models/tiny/predict")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[actix_web::test]
async fn expected_but_unloaded_model_is_503() {
    let app = test::init_service(serve::app(state_with(Limits::default(), &["ghost"]))).await;
    let res = test::call_service(
        &app,
        predict("{}").uri("/models/ghost/predict").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers().get("retry-after").unwrap(), "30");
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["code"], "model_not_loaded");
}

#[actix_web::test]
async fn the_server_keeps_serving_after_bad_requests() {
    let app = test::init_service(serve::app(state())).await;
    for bad in ["{", "[]", r#"{"sex": 1}"#] {
        let req = predict(bad).to_request();
        assert!(
            test::call_service(&app, req)
                .await
                .status()
                .is_client_error()
        );
    }
    let good = json!({"pclass": 2, "sex": "female", "age": 30, "embarked": "C"});
    let req = test::TestRequest::post()
        .uri("/models/tiny/predict")
        .set_json(good)
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_key_repeated_in_a_record_is_422_naming_it() {
    let (status, body) = call(predict(
        r#"{"records": [{"age": 1}, {"age": 30, "sex": "male", "age": 31}]}"#,
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["message"], "records[1] has the key 'age' twice");
}

#[actix_web::test]
async fn head_answers_on_get_routes() {
    let app = test::init_service(serve::app(crate::state())).await;
    for uri in [
        "/health",
        "/ready",
        "/models",
        "/models/tiny",
        "/v2/models/tiny",
    ] {
        let res = test::call_service(
            &app,
            test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(uri)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
    }
    let res = test::call_service(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/models/tiny/predict")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn explaining_a_model_that_is_not_trees_is_404_naming_the_kind() {
    let req = test::TestRequest::post()
        .uri("/models/tiny/explain")
        .insert_header(("content-type", "application/json"))
        .set_payload(json!({"pclass": 2, "sex": "female", "age": 30, "embarked": "C"}).to_string());
    let (status, body) = call(req).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "explanation_unavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cannot be explained"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_bad_v2_header_length_is_400_naming_the_header() {
    let v2 = |length: &str| {
        test::TestRequest::post()
            .uri("/v2/models/tiny/infer")
            .insert_header(("content-type", "application/json"))
            .insert_header(("Inference-Header-Content-Length", length))
            .set_payload(r#"{"inputs":[]}"#)
    };
    let (status, body) = call(v2("twelve")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "inference-header-content-length must be a byte count, found \"twelve\""})
    );
    // A length past the body is refused by the decoder, naming both sizes.
    let (status, body) = call(v2("99")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "Inference-Header-Content-Length is 99 but the body has 13 bytes"})
    );
}
