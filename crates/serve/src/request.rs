//! What every layer knows of a request: its id (the client's `X-Request-Id` when it is
//! sane, else a new UUID), the route template that answered it, the headers every
//! answer carries, and the model that answered (on the request's trace span). The
//! middleware that sets them is [`crate::middleware::trace`].

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};

/// The API version in every response.
pub const API_VERSION: &str = "v1";

/// The header carrying the served model version on prediction responses.
pub static MODEL_VERSION_HEADER: HeaderName = HeaderName::from_static("x-model-version");

/// The path template of the resource that answered a request, read after routing
/// without rebuilding it from the resource map.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// The request id header.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace-context header: on a response, the server span of the request (when
/// spans are exported), so a client can find its trace.
pub static TRACEPARENT_HEADER: HeaderName = HeaderName::from_static("traceparent");
/// The API version header.
pub static API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-ferry-api-version");

/// The id of the current request, kept as the header value it is answered with: taking
/// it in a handler or stamping it on the response copies no text.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Always printable ASCII: the client's id is checked, a new one is a UUID.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as the `X-Request-Id` header value of the response.
    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The client's id, when it is sane (printable, at most 128 bytes): the request's own
    /// bytes, shared.
    pub(crate) fn from_client(value: Option<&HeaderValue>) -> Option<Self> {
        value
            .filter(|v| {
                let b = v.as_bytes();
                !b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic)
            })
            .map(|v| Self(v.clone()))
    }

    /// A new id: a random UUID.
    pub(crate) fn generate() -> Self {
        let mut buffer = uuid::Uuid::encode_buffer();
        let len = uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut buffer)
            .len();
        // One allocation, shared by every clone.
        let bytes = Bytes::from_owner(buffer).slice(..len);
        Self(HeaderValue::from_maybe_shared(bytes).unwrap_or(HeaderValue::from_static("-")))
    }
}

/// The id the middleware gave `req`: it leaves the client's sane `X-Request-Id` in
/// place and sets a new one otherwise, so the header is the id. (Every route passes
/// the middleware; a request without the header still gets a new id here.)
#[must_use]
pub fn current(req: &HttpRequest) -> RequestId {
    // The middleware checked the header, or replaced it.
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .map_or_else(RequestId::generate, |v| RequestId(v.clone()))
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(current(req)))
    }
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
