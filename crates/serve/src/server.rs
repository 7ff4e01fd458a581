//! The HTTP server: actix-web's HTTP/1 service on a TCP listener, with every connection
//! wrapped so that the errors actix-http answers itself get Ferry's error shape too.
//!
//! actix-http answers a request it cannot parse (a URL over 65,534 bytes, an HTTP/1.1
//! request without a `Host` header, a malformed header), a request head over its buffer,
//! or a client too slow to send its head, before any application code runs, with a
//! status and an empty body. The application never sends an error without a JSON body,
//! so [`JsonErrors`] recognises those responses as they are written and replaces each
//! with the same status, the JSON body of its [`ErrorCode`], an `X-Request-Id` and the API
//! version header.

use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_rt::net::TcpStream;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};

use crate::error::{ApiError, ErrorCode};
use crate::middleware::trace;
use crate::protocol::native::error_body;
use crate::request::{API_VERSION, API_VERSION_HEADER};
use crate::state::AppState;

/// The application: the request middleware (id, API key, span, metrics) around the
/// route table.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // One middleware: the request id, the API-key check, the span, metrics and logs.
    App::new()
        .wrap(trace::RequestLayer)
        .configure(move |cfg| crate::api::configure(cfg, &state))
}

/// Runs the application for `state` on `listener` with `workers` worker threads (one per
/// core when `None`). SIGTERM and Ctrl-C stop accepting and give in-flight requests up
/// to 30 s.
///
/// # Errors
/// When the listener cannot be registered.
pub fn run(
    listener: TcpListener,
    workers: Option<usize>,
    state: AppState,
) -> io::Result<actix_server::Server> {
    let addr = listener.local_addr()?;
    let limits = state.limits;
    let mut builder = actix_server::Server::build().shutdown_timeout(30);
    if let Some(n) = workers {
        builder = builder.workers(n);
    }
    builder = builder.listen("ferry-serve", listener, move || {
        let app = app(state.clone())
            .into_factory()
            .map_err(|err: actix_web::Error| err.error_response());
        let http = HttpService::build()
            .client_request_timeout(Duration::from_millis(limits.head_timeout_ms))
            .keep_alive(actix_http::KeepAlive::Timeout(Duration::from_millis(
                limits.keep_alive_ms,
            )))
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .finish(map_config(app, |()| AppConfig::default()));
        fn_service(|io: TcpStream| async move {
            // Small responses go out at once (as actix-web's own server does).
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            Ok((JsonErrors::new(io), Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// The error code of a body-less response head that actix-http wrote itself, if `buf`
/// starts with one, and the length of that head.
fn protocol_error(buf: &[u8]) -> Option<(ErrorCode, usize)> {
    // Most writes are 2xx heads or bodies: one byte tells them apart.
    if buf.get(9) != Some(&b'4') {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = buf.get(..head_end)?;
    let status_line = head.split(|&b| b == b'\r').next()?;
    let code = match status_line.get(9..12)? {
        b"400" => ErrorCode::MalformedRequest,
        b"408" => ErrorCode::RequestTimeout,
        b"431" => ErrorCode::HeadersTooLarge,
        _ => return None,
    };
    let lower = head.to_ascii_lowercase();
    let empty = lower.windows(19).any(|w| w == b"content-length: 0\r\n");
    (status_line.starts_with(b"HTTP/1.") && empty).then_some((code, head_end))
}

/// The full response replacing a body-less protocol error.
fn json_response(code: ErrorCode) -> Vec<u8> {
    let error = ApiError::Protocol(code);
    let body = error_body(&error);
    let status = code.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-request-id: {}\r\n{}: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        uuid::Uuid::new_v4(),
        API_VERSION_HEADER,
        API_VERSION,
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// A connection whose body-less protocol error responses are rewritten as JSON ones.
#[derive(Debug)]
pub struct JsonErrors<T> {
    io: T,
    /// A replacement being written: its bytes, how many are written, and how many bytes
    /// of the caller's buffer it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonErrors<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> Self {
        Self { io, pending: None }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some((code, head_len)) = protocol_error(buf)
        {
            this.pending = Some((json_response(code), 0, head_len));
        }
        let Some((bytes, written, stands_for)) = this.pending.as_mut() else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            let rest = bytes.get(*written..).unwrap_or_default();
            match Pin::new(&mut this.io).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let consumed = *stands_for;
        this.pending = None;
        Poll::Ready(Ok(consumed))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_body_less_protocol_errors_are_recognised() {
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        assert_eq!(
            protocol_error(head),
            Some((ErrorCode::MalformedRequest, head.len()))
        );
        assert_eq!(
            protocol_error(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n"
            )
            .map(|(c, _)| c),
            Some(ErrorCode::HeadersTooLarge)
        );
        // The application's own errors have bodies; other statuses pass.
        assert_eq!(
            protocol_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 80\r\n\r\n{}"),
            None
        );
        assert_eq!(
            protocol_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        assert_eq!(protocol_error(b"HTTP/1.1 400 Bad Req"), None);
    }

    #[test]
    fn the_replacement_is_a_json_error_with_a_request_id() {
        let bytes = json_response(ErrorCode::MalformedRequest);
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nx-request-id: "), "{head}");
        assert!(head.contains("\r\nx-ferry-api-version: v1"), "{head}");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "malformed_request");
        assert_eq!(json["type"], "invalid_request");
    }
}
