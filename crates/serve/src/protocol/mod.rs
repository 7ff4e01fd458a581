//! Wire protocols: each decodes request bytes into rows for the shared inference step
//! ([`crate::infer`]) and encodes its answer; errors are rendered from the one
//! [`ErrorCode`] table in the protocol's own body shape.
//!
//! - [`native`]: Ferry's JSON (`POST /models/{name}/predict`);
//! - [`v2`]: the Open Inference Protocol (KServe V2) over REST, with Triton's binary
//!   tensor extension (`POST /v2/models/{name}/infer`);
//! - [`mlflow`]: MLflow's scoring protocol (`POST /invocations`).

pub mod mlflow;
pub mod native;
pub mod v2;

use std::marker::PhantomData;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_core::Stream;

use crate::config::Limits;
use crate::error::{ApiError, ErrorCode};

/// How a protocol answers an error: the one trait every protocol implements, so each
/// renders the shared [`ErrorCode`] table in its own body shape (and, where its
/// clients expect it, its own status for a code).
pub trait ErrorShape {
    /// The status `error` is answered with; the table's by default.
    fn status(error: &ApiError) -> StatusCode {
        error.code().status()
    }

    /// The JSON body for `error`. A 5xx body never carries the error's detail.
    fn body(error: &ApiError) -> Vec<u8>;
}

/// An [`ApiError`] answered in protocol `P`'s shape: what the protocol's handlers
/// return. Every protocol's answer also follows the table's header rules: a 503 for a
/// model that failed to load carries `Retry-After`, and a body that arrived too late
/// closes the connection (the rest of it is never read).
pub struct ProtocolError<P>(pub ApiError, PhantomData<fn() -> P>);

impl<P> From<ApiError> for ProtocolError<P> {
    fn from(error: ApiError) -> Self {
        Self(error, PhantomData)
    }
}

impl<P> std::fmt::Debug for ProtocolError<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<P> std::fmt::Display for ProtocolError<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl<P: ErrorShape> ResponseError for ProtocolError<P> {
    fn status_code(&self) -> StatusCode {
        P::status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        respond::<P>(&self.0)
    }
}

/// The answer to `error` in protocol `P`'s shape.
pub fn respond<P: ErrorShape>(error: &ApiError) -> HttpResponse {
    let code = error.code();
    let mut response = HttpResponse::build(P::status(error))
        .insert_header((header::CONTENT_TYPE, APPLICATION_JSON))
        .body(P::body(error));
    if code == ErrorCode::RequestTimeout {
        // The rest of a late body is not read: the connection cannot be reused.
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if code == ErrorCode::ModelNotLoaded {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    response
}

/// A 200 with a JSON `body` (every protocol's answer) and the `X-Model-Version` header
/// of the model that answered (its [`crate::model_set::LoadedModel::version_header`]).
pub fn json_response(body: Vec<u8>, version: &HeaderValue) -> HttpResponse {
    let mut response = HttpResponse::with_body(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    headers.insert(
        crate::request::MODEL_VERSION_HEADER.clone(),
        version.clone(),
    );
    response.map_into_boxed_body()
}

/// `application/json`, without parsing or copying it per response.
pub(crate) const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Reads a JSON request body: checks the content type (`application/json` or any
/// `+json` type), decompresses it when the client sent it compressed, and stops at
/// `limit` bytes.
///
/// # Errors
/// [`ApiError::UnsupportedMediaType`], [`ApiError::PayloadTooLarge`], or
/// [`ApiError::InvalidRequest`] when the body cannot be read.
pub async fn read_json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limits: &Limits,
) -> Result<web::Bytes, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE);
    // The common header needs no MIME parse.
    let exact =
        content_type.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/json"));
    let is_json = exact
        || match req.mime_type() {
            Ok(Some(mime)) => {
                mime.subtype() == actix_web::mime::JSON
                    || mime.suffix() == Some(actix_web::mime::JSON)
            }
            Ok(None) | Err(_) => false,
        };
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            content_type
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "no content-type".to_owned(), |v| format!("'{v}'")),
        ));
    }
    read_body(req, payload, limits).await
}

/// Reads a request body of any content type, decompressed, stopping at
/// `limits.max_body_bytes` bytes and after `limits.body_timeout_ms`.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`], [`ApiError::BodyTimeout`], or
/// [`ApiError::InvalidRequest`] when the body cannot be read.
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limits: &Limits,
) -> Result<web::Bytes, ApiError> {
    let mut read = std::pin::pin!(read_body_untimed(req, payload, limits.max_body_bytes));
    // A small body usually arrived with the headers: reading it needs no timer, and
    // arming and clearing one costs more than the read. actix-web calls the handler as
    // soon as it has parsed the head, before it hands over the body from the same read,
    // so a first miss yields once (waking itself, so the timer is never skipped) and
    // looks again before arming the timer.
    let mut yielded = false;
    let first = std::future::poll_fn(|cx| match read.as_mut().poll(cx) {
        std::task::Poll::Ready(done) => std::task::Poll::Ready(Some(done)),
        std::task::Poll::Pending if !yielded => {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await;
    if let Some(done) = first {
        return done;
    }
    actix_web::rt::time::timeout(limits.body_timeout(), read)
        .await
        .map_err(|_| ApiError::BodyTimeout {
            millis: limits.body_timeout_ms,
        })?
}

async fn read_body_untimed(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut stream = actix_web::dev::Decompress::from_headers(payload.into_inner(), req.headers());
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        #[allow(
            clippy::wildcard_enum_match_arm,
            reason = "PayloadError is non_exhaustive"
        )]
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge { limit },
            other => ApiError::InvalidRequest(format!("cannot read the request body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
