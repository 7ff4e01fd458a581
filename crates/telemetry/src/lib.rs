//! ferry-telemetry: the logging and tracing setup `train` and `serve` share.
//!
//! - **Logs**: text (for people, on a terminal) or JSON lines (for collectors), filtered
//!   with `RUST_LOG`. [`LogFormat::Auto`] picks JSON when the log stream is not a
//!   terminal.
//! - **Traces**: spans whose target starts with [`TRACE_TARGET`] (one per HTTP request in
//!   `serve`, one per pipeline stage in `train`) are exported as OpenTelemetry spans over
//!   OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, with the service name, version and
//!   `OTEL_RESOURCE_ATTRIBUTES` as the resource. When neither is set no span is even
//!   created: nothing consumes one, so tracing costs a cached callsite check.
//!
//! The standard `OTEL_*` variables keep their meaning: `OTEL_SERVICE_NAME` overrides the
//! service name, `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn export off,
//! `OTEL_BSP_*` tune the batch processor, `OTEL_EXPORTER_OTLP_HEADERS` adds headers.
//!
//! W3C trace context: [`parent_context`] reads a request's `traceparent` and
//! `tracestate`, [`traceparent`] writes the one of a span, both through OpenTelemetry's
//! `TraceContextPropagator`.

use std::collections::HashMap;
use std::io::IsTerminal;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The target prefix of the spans exported as OpenTelemetry spans. They are not written
/// to the logs (the request log line and the stage reports carry the same facts), unless
/// `RUST_LOG` names the target.
pub const TRACE_TARGET: &str = "ferry::trace";

/// Whether spans are exported (set once by [`init`]).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`init`] installed a span exporter: when not, code on a hot path can skip
/// work that only feeds spans.
#[must_use]
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when the log stream is not a terminal, text when it is.
    Auto,
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What [`init`] sets up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The service name spans carry (`service.name`), unless `OTEL_SERVICE_NAME` is set.
    pub service: &'static str,
    /// The service version (`service.version`).
    pub version: &'static str,
    /// The log format.
    pub format: LogFormat,
    /// Where JSON lines go (text always goes to standard error).
    pub json_stream: LogStream,
    /// The log filter when `RUST_LOG` is unset, in `RUST_LOG` syntax (`info`).
    pub default_filter: &'static str,
}

/// Why [`init`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the `OTEL_*` settings.
    #[error("cannot export traces to {endpoint}: {source}")]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// The exporter's error.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG: {0}")]
    Filter(String),
}

/// The installed telemetry. Dropping it flushes the spans not yet exported (within the
/// exporter's timeout) and stops the exporter; keep it alive until the program ends.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Errors here (the collector went away) cannot be reported anywhere useful.
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}

/// The OTLP endpoint the standard variables configure for traces, unless export is
/// turned off (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`).
fn configured_endpoint(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
    {
        return None;
    }
    set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// Whether `format` means JSON for a log stream.
fn json_for(format: LogFormat, stream: LogStream) -> bool {
    match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => match stream {
            LogStream::Stdout => !std::io::stdout().is_terminal(),
            LogStream::Stderr => !std::io::stderr().is_terminal(),
        },
    }
}

/// The log filter: `RUST_LOG` (or the default), with the exported spans left out unless
/// `RUST_LOG` names their target.
fn log_filter(default: &str) -> Result<EnvFilter, TelemetryError> {
    let given = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let spec = given.as_deref().unwrap_or(default);
    let mut filter = EnvFilter::builder()
        .parse(spec)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    if !spec.contains(TRACE_TARGET) {
        let off = format!("{TRACE_TARGET}=off").parse().map_err(
            |e: tracing_subscriber::filter::ParseError| TelemetryError::Filter(e.to_string()),
        )?;
        filter = filter.add_directive(off);
    }
    Ok(filter)
}

/// Installs the global logger and, when an OTLP endpoint is configured, the span
/// exporter. Call once, first thing in `main`, outside any async runtime.
///
/// # Errors
/// When `RUST_LOG` does not parse or the exporter cannot be built.
pub fn init(options: &Options) -> Result<Telemetry, TelemetryError> {
    let filter = log_filter(options.default_filter)?;
    let json = json_for(options.format, options.json_stream);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(false);
        match options.json_stream {
            LogStream::Stdout => Box::new(layer.with_writer(std::io::stdout).with_filter(filter)),
            LogStream::Stderr => Box::new(layer.with_writer(std::io::stderr).with_filter(filter)),
        }
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
    };
    let endpoint = configured_endpoint(|name| std::env::var(name).ok());
    // Without an endpoint no OpenTelemetry layer is installed at all: an absent layer
    // (`Option::None`) would declare interest in every span and event and so enable
    // them all, costing every request a span it never exports.
    let provider = match &endpoint {
        Some(endpoint) => {
            let provider = provider(options).map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                source,
            })?;
            let tracer = provider.tracer(options.service);
            // Exported: the trace spans, and warnings and errors raised inside them (as
            // span events).
            let otel = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter_fn(|meta| {
                    meta.target().starts_with(TRACE_TARGET)
                        || (meta.is_event() && *meta.level() <= tracing::Level::WARN)
                }));
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
            // A second init (a test calling main twice) keeps the first subscriber.
            let _ = tracing_subscriber::registry()
                .with(fmt)
                .with(otel)
                .try_init();
            Some(provider)
        }
        None => {
            let _ = tracing_subscriber::registry().with(fmt).try_init();
            None
        }
    };
    if let Some(endpoint) = &endpoint {
        tracing::info!(%endpoint, "Exporting traces over OTLP/HTTP.");
    }
    Ok(Telemetry { provider })
}

fn provider(
    options: &Options,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()?;
    // The builder reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; the service
    // name set here applies only when the variable does not.
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        resource = resource.with_service_name(options.service);
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            options.version,
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The two W3C trace-context headers of a request.
struct TraceHeaders<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// Makes `span` the child of the remote span a request's W3C `traceparent` (and
/// `tracestate`) names; `header` looks a header up by its lower-case name. A missing or
/// malformed `traceparent` leaves `span` a root span.
pub fn set_remote_parent<'a>(span: &tracing::Span, header: impl Fn(&str) -> Option<&'a str>) {
    if span.is_disabled() || header("traceparent").is_none() {
        return;
    }
    let parent = parent_context(header);
    // Only fails when no OpenTelemetry layer is installed, when there is nothing to do.
    let _ = span.set_parent(parent);
}

/// The context a request's W3C `traceparent` and `tracestate` headers carry.
#[must_use]
pub fn parent_context<'a>(header: impl Fn(&str) -> Option<&'a str>) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&TraceHeaders {
        traceparent: header("traceparent"),
        tracestate: header("tracestate"),
    })
}

/// Renames `span` as exported (`otel.name`), after it started: a name known only once
/// the work ran, such as an HTTP server span's route template.
pub fn rename(span: &tracing::Span, name: impl Into<std::borrow::Cow<'static, str>>) {
    use opentelemetry::trace::TraceContextExt as _;
    if !span.is_disabled() {
        span.context().span().update_name(name.into());
    }
}

struct Headers(HashMap<String, String>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The W3C `traceparent` of `span` (`00-{trace id}-{span id}-{flags}`), when it is
/// exported.
#[must_use]
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let mut headers = Headers(HashMap::new());
    TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    headers.0.remove("traceparent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_follows_the_standard_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(configured_endpoint(env(&[])), None);
        assert_eq!(
            configured_endpoint(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])),
            Some("http://c:4318".to_owned())
        );
        assert_eq!(
            configured_endpoint(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://t:4318/v1/traces"
                ),
            ])),
            Some("http://t:4318/v1/traces".to_owned())
        );
        assert_eq!(
            configured_endpoint(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")])),
            None
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let pairs: &'static [(&str, &str)] =
                Box::leak(vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), off].into());
            assert_eq!(configured_endpoint(env(pairs)), None, "{off:?}");
        }
    }

    #[test]
    fn a_traceparent_is_read_as_the_remote_parent() {
        use opentelemetry::trace::TraceContextExt as _;
        let context = parent_context(|name| match name {
            "traceparent" => Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            _ => None,
        });
        let span = context.span();
        let remote = span.span_context();
        assert!(remote.is_remote());
        assert_eq!(
            remote.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(remote.span_id().to_string(), "b7ad6b7169203331");
        assert!(remote.is_sampled());
        // A malformed header gives no parent.
        let context = parent_context(|name| (name == "traceparent").then_some("00-zz-01"));
        assert!(!context.span().span_context().is_valid());
    }

    #[test]
    fn json_is_chosen_only_when_asked_or_off_a_terminal() {
        assert!(json_for(LogFormat::Json, LogStream::Stdout));
        assert!(!json_for(LogFormat::Text, LogStream::Stderr));
        // Tests run with captured (non-terminal) output.
        assert_eq!(
            json_for(LogFormat::Auto, LogStream::Stdout),
            !std::io::stdout().is_terminal()
        );
    }
}
