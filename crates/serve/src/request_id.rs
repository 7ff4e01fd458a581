//! Request ids and the per-request middleware: every request gets an id (the client's
//! `X-Request-Id` when it is sane, else a new UUID), every response carries it and the
//! API version, and every request is logged once with its route template and status (at
//! `debug`; a 5xx at `error`, with its detail, once).

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

/// The request id header.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
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

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER)));
        ready(Ok(id))
    }
}

/// The middleware: assigns the id, stamps the headers, logs the request.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER));
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    let mut res = next.call(req).await?;
    let status = res.status();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        headers.insert(REQUEST_ID_HEADER.clone(), v);
    }
    headers.insert(
        API_VERSION_HEADER.clone(),
        HeaderValue::from_static(crate::API_VERSION),
    );
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // The route template is rebuilt on demand: only when the line is logged.
    let route = || {
        res.request()
            .match_pattern()
            .unwrap_or_else(|| "<unmatched>".to_owned())
    };
    if let Some(state) = res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
    {
        state
            .metrics
            .request(route(), method.as_str(), status.as_u16(), started.elapsed());
    }
    if status.is_server_error() {
        let detail = res
            .response()
            .error()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::error!(request_id = id.as_str(), %method, route = route(), status = status.as_u16(), micros, error = detail, "Request failed.");
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(request_id = id.as_str(), %method, route = route(), status = status.as_u16(), micros, "Handled request.");
    }
    Ok(res)
}
