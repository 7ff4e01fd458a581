//! The per-request middleware: every request gets its id ([`crate::request`]) and its
//! API-key check ([`crate::middleware::auth`]), every response carries the id and the
//! API version, and every request is logged once with its route template and status (at
//! `debug`; a 5xx at `error`, with its detail, once), counted in the metrics, and traced
//! as one span when spans are exported. One middleware does it all: each layer of
//! actix-web middleware costs a boxed future per request.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::request::{
    API_VERSION, API_VERSION_HEADER, REQUEST_ID_HEADER, RequestId, RouteTemplate,
    TRACEPARENT_HEADER,
};
use crate::state::AppState;

/// The route template of an answered request: the resource's own (no allocation), else
/// the one actix-web rebuilds from its resource map (Swagger UI's assets), else
/// `<unmatched>`.
fn route_template(req: &HttpRequest) -> Cow<'static, str> {
    match req.app_data::<RouteTemplate>() {
        Some(t) => Cow::Borrowed(t.0),
        None => Cow::Owned(
            req.match_pattern()
                .unwrap_or_else(|| "<unmatched>".to_owned()),
        ),
    }
}

/// The middleware: assigns the id, opens the request's trace span (a child of the
/// client's W3C `traceparent`, when given), checks the API key, stamps the headers,
/// counts and logs the request.
///
/// The span (target [`ferry_telemetry::TRACE_TARGET`]) exists only when spans are
/// exported; handlers add the model and version to it (see
/// [`crate::request::record_model`]).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let id = RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER));
    let method = req.method().clone();
    let span = tracing::info_span!(
        target: "ferry::trace",
        "request",
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method.as_str(),
        http.route = Empty,
        http.response.status_code = Empty,
        url.path = Empty,
        ferry.request_id = Empty,
        ferry.model = Empty,
        ferry.model_version = Empty,
        ferry.latency_us = Empty,
    );
    if !span.is_disabled() {
        span.record("url.path", req.path());
        span.record("ferry.request_id", id.as_str());
        let headers = req.headers();
        ferry_telemetry::set_remote_parent(&span, |name| {
            headers.get(name).and_then(|v| v.to_str().ok())
        });
    }
    req.extensions_mut().insert(id.clone());
    let mut res = match span.in_scope(|| super::auth::refusal(&req)) {
        None => next
            .call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body(),
        Some(refusal) => {
            let (req, _) = req.into_parts();
            ServiceResponse::new(req, refusal).map_into_right_body()
        }
    };
    let status = res.status();
    let elapsed = started.elapsed();
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let route = route_template(res.request());
    if !span.is_disabled() {
        ferry_telemetry::rename(&span, format!("{method} {route}"));
        span.record("http.route", route.as_ref());
        span.record("http.response.status_code", status.as_u16());
        span.record("ferry.latency_us", micros);
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        headers.insert(REQUEST_ID_HEADER.clone(), v);
    }
    headers.insert(
        API_VERSION_HEADER.clone(),
        HeaderValue::from_static(API_VERSION),
    );
    if let Some(v) =
        ferry_telemetry::traceparent(&span).and_then(|t| HeaderValue::from_str(&t).ok())
    {
        headers.insert(TRACEPARENT_HEADER.clone(), v);
    }
    if status.is_server_error() {
        let detail = res
            .response()
            .error()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::error!(request_id = id.as_str(), %method, route = route.as_ref(), status = status.as_u16(), micros, error = detail, "Request failed.");
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(request_id = id.as_str(), %method, route = route.as_ref(), status = status.as_u16(), micros, "Handled request.");
    }
    if let Some(state) = res.request().app_data::<actix_web::web::Data<AppState>>() {
        state
            .metrics
            .request(route, method.as_str(), status.as_u16(), elapsed);
    }
    Ok(res)
}
