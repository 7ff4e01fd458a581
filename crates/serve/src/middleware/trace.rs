//! The per-request middleware: every request gets its id ([`crate::request`]) and its
//! API-key check ([`crate::middleware::auth`]), every response carries the id and the
//! API version, and every request is logged once with its route template and status (at
//! `debug`; a 5xx at `error`, with its detail, once), counted in the metrics, and traced
//! as one span when spans are exported. One middleware does it all, written as a
//! [`Transform`] with its own future type: each layer of actix-web middleware built with
//! `from_fn` costs two boxed futures per request.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::HttpRequest;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::HeaderValue;
use tracing::Span;
use tracing::field::Empty;
use tracing::instrument::{Instrument as _, Instrumented};

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

/// The request middleware: assigns the id, opens the request's trace span (a child of
/// the client's W3C `traceparent`, when given), checks the API key, stamps the headers,
/// counts and logs the request.
///
/// The span (target [`ferry_telemetry::TRACE_TARGET`]) exists only when spans are
/// exported; handlers add the model and version to it (see
/// [`crate::request::record_model`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLayer;

impl<S, B> Transform<S, ServiceRequest> for RequestLayer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequestService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestService { service }))
    }
}

/// [`RequestLayer`] around the route table.
#[derive(Debug)]
pub struct RequestService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = RequestFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        // Handlers read the id from the request's header (`request::current`): a new one
        // replaces what the client sent, if anything. (A header, not an extension: the
        // map of extensions is allocated anew for every request.)
        let id =
            RequestId::from_client(req.headers().get(&REQUEST_ID_HEADER)).unwrap_or_else(|| {
                let id = RequestId::generate();
                req.headers_mut()
                    .insert(REQUEST_ID_HEADER.clone(), id.header_value().clone());
                id
            });
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
        let stage = match span.in_scope(|| super::auth::refusal(&req)) {
            None => Stage::Called {
                fut: self.service.call(req).instrument(span.clone()),
            },
            Some(refusal) => {
                let (req, _) = req.into_parts();
                Stage::Refused {
                    response: ready(ServiceResponse::new(req, refusal)),
                }
            }
        };
        RequestFuture {
            stage,
            started,
            id,
            method,
            span,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of one request through [`RequestService`].
    pub struct RequestFuture<F> {
        #[pin]
        stage: Stage<F>,
        started: Instant,
        id: RequestId,
        method: Method,
        span: Span,
    }
}

pin_project_lite::pin_project! {
    /// The routed request, or the API-key refusal answered instead.
    #[project = StageProj]
    enum Stage<F> {
        Called { #[pin] fut: Instrumented<F> },
        Refused { #[pin] response: Ready<ServiceResponse<BoxBody>> },
    }
}

impl<F, B> Future for RequestFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = match this.stage.project() {
            StageProj::Called { fut } => match fut.poll(cx) {
                Poll::Ready(Ok(res)) => res.map_into_left_body(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            },
            StageProj::Refused { response } => match response.poll(cx) {
                Poll::Ready(res) => res.map_into_right_body(),
                Poll::Pending => return Poll::Pending,
            },
        };
        Poll::Ready(Ok(answered(
            res,
            *this.started,
            this.id,
            this.method,
            this.span,
        )))
    }
}

/// What every answer gets: the span's outcome, the id, API version and `traceparent`
/// headers, the log line and the request metrics.
fn answered<B>(
    mut res: ServiceResponse<B>,
    started: Instant,
    id: &RequestId,
    method: &Method,
    span: &Span,
) -> ServiceResponse<B> {
    let status = res.status();
    let elapsed = started.elapsed();
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let route = route_template(res.request());
    if !span.is_disabled() {
        ferry_telemetry::rename(span, format!("{method} {route}"));
        span.record("http.route", route.as_ref());
        span.record("http.response.status_code", status.as_u16());
        span.record("ferry.latency_us", micros);
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    let headers = res.headers_mut();
    headers.insert(REQUEST_ID_HEADER.clone(), id.header_value().clone());
    headers.insert(
        API_VERSION_HEADER.clone(),
        HeaderValue::from_static(API_VERSION),
    );
    if let Some(v) = ferry_telemetry::traceparent(span).and_then(|t| HeaderValue::from_str(&t).ok())
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
    res
}
