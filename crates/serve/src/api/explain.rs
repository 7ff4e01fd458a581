//! `POST /models/{name}/explain` and `POST /models/{name}/versions/{version}/explain`:
//! TreeSHAP contributions of each input feature to each record's output, for tree
//! models (decision trees, forests and gradient-boosted models, imported ones included).
//!
//! The body is the native predict body. A request explains at most
//! [`MAX_EXPLAIN_RECORDS`] records: each record costs about trees x leaves x depth^2
//! steps (about 0.8 ms for a 100-tree boosted model of 31 leaves); batches of more than
//! four records are computed off the request threads.

use actix_web::{HttpRequest, HttpResponse, web};
use ferry_core::FeatureExplanation;
use ferry_core::model::{ExplainError, ExplanationSpace};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::error::ApiError;
use crate::protocol::read_json_body;
use crate::request::{API_VERSION, RequestId};
use crate::state::{AppState, Pick};

/// Requests of at most this many records are explained on the request's thread.
const INLINE_RECORDS: usize = 4;

/// The most records one explain request may hold.
pub(super) const MAX_EXPLAIN_RECORDS: usize = 1_000;

/// `POST /models/{name}/explain`: the model's default version.
#[utoipa::path(post, path = "/models/{name}/explain", tag = "native",
    params(("name" = String, Path, description = "The model")),
    request_body(content = Object, content_type = "application/json", description = "One record (an object of features) or {\"records\": [...]}, at most 1,000"),
    responses((status = 200, description = "Per record and output, the base value and each feature's contribution", body = ExplainResponse<'_>),
        super::ModelErrors,
        super::BodyErrors,))]
pub(super) async fn explain(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    explain_pick(&req, &state, &name, Ok(Pick::Default), &request_id, payload).await
}

/// `POST /models/{name}/versions/{version}/explain`.
#[utoipa::path(post, path = "/models/{name}/versions/{version}/explain", tag = "native",
    params(("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "A served version number")),
    request_body(content = Object, content_type = "application/json", description = "One record (an object of features) or {\"records\": [...]}, at most 1,000"),
    responses((status = 200, description = "Per record and output, the base value and each feature's contribution", body = ExplainResponse<'_>),
        super::ModelErrors,
        super::BodyErrors,))]
pub(super) async fn explain_version(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    request_id: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let pick = super::version_pick(&name, &version);
    explain_pick(&req, &state, &name, pick, &request_id, payload).await
}

async fn explain_pick(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    pick: Result<Pick, ApiError>,
    request_id: &RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(req, payload, &state.limits).await?;
    let limit = state.limits.max_batch_records.min(MAX_EXPLAIN_RECORDS);
    // A shared handle, not a borrow from the model set: a large batch is explained on
    // the blocking pool, and an `arc_swap` guard is not for holding across an await.
    let (model, records) = {
        let models = state.models.load();
        let (model, records) =
            super::predict::decode_and_find(&body, state, &models, name, pick, limit)?;
        (std::sync::Arc::clone(model), records)
    };
    let frame = model
        .bundle
        .schema()
        .validate_rows(&records.rows())
        .map_err(ApiError::InvalidFeatures)?;
    // A few records are explained in place (well under a millisecond each); larger
    // batches on the blocking pool, off the request threads.
    let explained = if frame.n_rows() <= INLINE_RECORDS {
        model.bundle.explain(&frame)
    } else {
        let worker = std::sync::Arc::clone(&model);
        web::block(move || worker.bundle.explain(&frame))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let manifest = model.bundle.manifest();
    let explanation = explained.map_err(|e| match e {
        ExplainError::Predict(p) => ApiError::Predict(p),
        other @ (ExplainError::NotTrees(_)
        | ExplainError::NoCovers(_)
        | ExplainError::TooDeep { .. }
        | ExplainError::NotThreshold { .. }) => ApiError::ExplanationUnavailable {
            name: manifest.name.to_string(),
            version: manifest.version.0,
            reason: other.to_string(),
        },
    })?;
    let body = serde_json::to_vec(&ExplainResponse {
        request_id: request_id.as_str(),
        model: manifest.name.as_str(),
        model_version: manifest.version.0,
        api_version: API_VERSION,
        space: explanation.space,
        explanations: Records(&explanation),
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(crate::protocol::json_response(body, &model.version_header))
}

/// The answer of an explain route.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ExplainResponse<'a> {
    /// The request id (from `X-Request-Id`, or generated).
    pub(super) request_id: &'a str,
    /// Model name.
    pub(super) model: &'a str,
    /// Model version.
    pub(super) model_version: u64,
    /// The API version.
    pub(super) api_version: &'static str,
    /// What the explained outputs are: `value` (regressors), `probability` (class
    /// probabilities of trees and forests) or `raw_score` (boosted classifiers: the
    /// log-odds of the second class for two classes, each class's score for more).
    #[schema(value_type = String)]
    pub(super) space: ExplanationSpace,
    /// One entry per record, in request order: a list of outputs, each with `output`
    /// (a class label, or `value`), `base` and `contributions` (feature name to
    /// contribution, in schema order). `base` plus the contributions is the output.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub(super) explanations: Records<'a>,
}

/// The per-record lists of a [`FeatureExplanation`].
#[derive(Debug)]
pub(super) struct Records<'a>(&'a FeatureExplanation);

impl Serialize for Records<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let e = self.0;
        let mut seq = s.serialize_seq(Some(e.n_rows))?;
        for row in 0..e.n_rows {
            let outputs: Vec<Output<'_>> = (0..e.outputs.len())
                .map(|o| Output { e, row, output: o })
                .collect();
            seq.serialize_element(&outputs)?;
        }
        seq.end()
    }
}

struct Output<'a> {
    e: &'a FeatureExplanation,
    row: usize,
    output: usize,
}

impl Serialize for Output<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry(
            "output",
            self.e.outputs.get(self.output).map_or("", String::as_str),
        )?;
        m.serialize_entry(
            "base",
            &self.e.base.get(self.output).copied().unwrap_or(0.0),
        )?;
        m.serialize_entry(
            "contributions",
            &Contributions(&self.e.features, self.e.row(self.row, self.output)),
        )?;
        m.end()
    }
}

struct Contributions<'a>(&'a [String], &'a [f64]);

impl Serialize for Contributions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (name, v) in self.0.iter().zip(self.1) {
            m.serialize_entry(name, v)?;
        }
        m.end()
    }
}
