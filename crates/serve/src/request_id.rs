//! Request ids and the per-request middleware: every request gets an id (the client's
//! `X-Request-Id` when it is sane, else a new UUID), every response carries it and the
//! API version, and every request is logged once with its route template and status (at
//! `debug`; a 5xx at `error`, with its detail, once), counted in the metrics, and traced
//! as one span when spans are exported.

use std::borrow::Cow;
use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument as _;
use tracing::field::Empty;

/// The request id header.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace-context header: on a response, the server span of the request (when
/// spans are exported), so a client can find its trace.
pub static TRACEPARENT_HEADER: HeaderName = HeaderName::from_static("traceparent");
/// The API version header.
pub static API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-ferry-api-version");

/// The id of the current request.
#[derive(Debug, Clone)]
pub struct RequestId(String);

impl RequestId {
    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_header(value: Option<&HeaderValue>) -> Self {
        let client = value
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()));
        match client {
            Some(s) => Self(s.to_owned()),
            None => Self(uuid::Uuid::new_v4().to_string()),
        }
    }
}

/// The id the middleware gave `req`.
#[must_use]
pub fn current(req: &HttpRequest) -> RequestId {
    req.extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(|| RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER)))
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(current(req)))
    }
}

/// The route template of an answered request: the resource's own (no allocation), else
/// the one actix-web rebuilds from its resource map (Swagger UI's assets), else
/// `<unmatched>`.
fn route_template(req: &HttpRequest) -> Cow<'static, str> {
    match req.app_data::<crate::api::RouteTemplate>() {
        Some(t) => Cow::Borrowed(t.0),
        None => Cow::Owned(
            req.match_pattern()
                .unwrap_or_else(|| "<unmatched>".to_owned()),
        ),
    }
}

/// The middleware: assigns the id, opens the request's trace span (a child of the
/// client's W3C `traceparent`, when given), stamps the headers, counts and logs the
/// request.
///
/// The span (target [`ferry_telemetry::TRACE_TARGET`]) exists only when spans are
/// exported; handlers add the model and version to it (see [`record_model`]).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
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
    let mut res = next.call(req).instrument(span.clone()).await?;
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
        HeaderValue::from_static(crate::API_VERSION),
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
    if let Some(state) = res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
    {
        state
            .metrics
            .request(route, method.as_str(), status.as_u16(), elapsed);
    }
    Ok(res)
}

/// Adds the model and version that answered to the current request's span, when spans
/// are exported.
pub fn record_model(name: &str, version: u64) {
    if !ferry_telemetry::exporting() {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("ferry.model", name);
        span.record("ferry.model_version", version);
    }
}
