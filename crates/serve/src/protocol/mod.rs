//! Wire protocols: each decodes request bytes into rows for the shared inference step
//! ([`crate::infer`]) and encodes its answer; errors are rendered from the one
//! [`ErrorCode`](crate::ErrorCode) table in the protocol's own body shape.
//!
//! - [`native`]: Ferry's JSON (`POST /models/{name}/predict`);
//! - [`v2`]: the Open Inference Protocol (KServe V2) over REST, with Triton's binary
//!   tensor extension (`POST /v2/models/{name}/infer`);
//! - [`mlflow`]: MLflow's scoring protocol (`POST /invocations`).

pub mod mlflow;
pub mod native;
pub mod v2;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_core::Stream;

use crate::config::Limits;
use crate::error::ApiError;

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
    let is_json = match req.mime_type() {
        Ok(Some(mime)) => {
            mime.subtype() == actix_web::mime::JSON || mime.suffix() == Some(actix_web::mime::JSON)
        }
        Ok(None) | Err(_) => false,
    };
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            req.headers()
                .get(header::CONTENT_TYPE)
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
    let timeout = limits.body_timeout();
    actix_web::rt::time::timeout(
        timeout,
        read_body_untimed(req, payload, limits.max_body_bytes),
    )
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
