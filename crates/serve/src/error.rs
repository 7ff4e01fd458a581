//! One table from errors to HTTP: [`ErrorCode`] names every failure a client can see,
//! [`ApiError`] carries it, and [`ApiError::code`] maps every variant with an exhaustive
//! match (no `_ =>`), so a new error cannot silently become a 500. Nothing here renders:
//! each protocol renders the body in its own shape from the code and the error, through
//! [`crate::protocol::ErrorShape`] (Ferry's native shape, `{"code", "message", "type",
//! "errors"}`, is also what every route outside a protocol answers).

use actix_web::http::StatusCode;
use ferry_core::model::PredictError;
use ferry_core::preprocess::PreprocessError;
use ferry_core::schema::{RowErrors, SchemaError, describe_rows};

/// Every error a client can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not valid JSON.
    InvalidJson,
    /// The content type is not `application/json`.
    UnsupportedMediaType,
    /// The body exceeds the size limit.
    PayloadTooLarge,
    /// Valid JSON of the wrong shape.
    InvalidRequest,
    /// Records that fail the model's feature schema.
    InvalidFeatures,
    /// A category the model's one-hot step rejects.
    UnknownCategory,
    /// No model of that name is being served.
    ModelNotFound,
    /// The model is served, but not at that version.
    VersionNotFound,
    /// No such route.
    RouteNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The model is configured but failed to load.
    ModelNotLoaded,
    /// The served version has no reference statistics to compare drift with.
    DriftUnavailable,
    /// The served version's model cannot be explained (not a tree model).
    ExplanationUnavailable,
    /// No API key, or an unknown one.
    Unauthorized,
    /// An API key without the route's scope.
    Forbidden,
    /// The bytes are not an HTTP/1 request (answered by the HTTP layer).
    MalformedRequest,
    /// The request line and headers exceed the HTTP layer's buffer.
    HeadersTooLarge,
    /// The request head did not arrive in time.
    RequestTimeout,
    /// Something broke on the server.
    Internal,
}

/// The broad class of an error, the `type` field of every error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is at fault.
    InvalidRequest,
    /// The thing asked for does not exist.
    NotFound,
    /// Try again later.
    Unavailable,
    /// The caller is not allowed (401, 403).
    Unauthorized,
    /// The server is at fault.
    Internal,
}

impl ErrorKind {
    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Internal => "internal",
        }
    }
}

impl ErrorCode {
    /// The table: snake_case name, HTTP status, kind.
    #[must_use]
    pub fn info(self) -> (&'static str, StatusCode, ErrorKind) {
        use ErrorKind as K;
        use StatusCode as S;
        match self {
            ErrorCode::InvalidJson => ("invalid_json", S::BAD_REQUEST, K::InvalidRequest),
            ErrorCode::UnsupportedMediaType => (
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                K::InvalidRequest,
            ),
            ErrorCode::PayloadTooLarge => {
                ("payload_too_large", S::PAYLOAD_TOO_LARGE, K::InvalidRequest)
            }
            ErrorCode::InvalidRequest => (
                "invalid_request",
                S::UNPROCESSABLE_ENTITY,
                K::InvalidRequest,
            ),
            ErrorCode::InvalidFeatures => (
                "invalid_features",
                S::UNPROCESSABLE_ENTITY,
                K::InvalidRequest,
            ),
            ErrorCode::UnknownCategory => (
                "unknown_category",
                S::UNPROCESSABLE_ENTITY,
                K::InvalidRequest,
            ),
            ErrorCode::ModelNotFound => ("model_not_found", S::NOT_FOUND, K::NotFound),
            ErrorCode::VersionNotFound => ("version_not_found", S::NOT_FOUND, K::NotFound),
            ErrorCode::RouteNotFound => ("route_not_found", S::NOT_FOUND, K::NotFound),
            ErrorCode::MethodNotAllowed => (
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                K::InvalidRequest,
            ),
            ErrorCode::ModelNotLoaded => {
                ("model_not_loaded", S::SERVICE_UNAVAILABLE, K::Unavailable)
            }
            ErrorCode::DriftUnavailable => ("drift_unavailable", S::NOT_FOUND, K::NotFound),
            ErrorCode::ExplanationUnavailable => {
                ("explanation_unavailable", S::NOT_FOUND, K::NotFound)
            }
            ErrorCode::Unauthorized => ("unauthorized", S::UNAUTHORIZED, K::Unauthorized),
            ErrorCode::Forbidden => ("forbidden", S::FORBIDDEN, K::Unauthorized),
            ErrorCode::MalformedRequest => ("malformed_request", S::BAD_REQUEST, K::InvalidRequest),
            ErrorCode::HeadersTooLarge => (
                "headers_too_large",
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                K::InvalidRequest,
            ),
            ErrorCode::RequestTimeout => ("request_timeout", S::REQUEST_TIMEOUT, K::InvalidRequest),
            ErrorCode::Internal => ("internal", S::INTERNAL_SERVER_ERROR, K::Internal),
        }
    }

    /// The snake_case name, the `code` field of the error body.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.info().0
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        self.info().1
    }

    /// The broad class.
    #[must_use]
    pub fn kind(self) -> ErrorKind {
        self.info().2
    }
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Wrong content type.
    #[error("expected content-type application/json, found {0}")]
    UnsupportedMediaType(String),
    /// Body over the limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Valid JSON of the wrong shape.
    #[error("{0}")]
    InvalidRequest(String),
    /// Records that fail the schema.
    #[error("{}", describe_rows(.0))]
    InvalidFeatures(Vec<RowErrors>),
    /// A request whose data, as a whole, does not fit the model's inputs (no rows,
    /// columns of different lengths, values where records belong): what MLflow's schema
    /// enforcement refuses, told apart from a body that cannot be read.
    #[error("{0}")]
    SchemaMismatch(String),
    /// Prediction failed.
    #[error(transparent)]
    Predict(#[from] PredictError),
    /// Unknown model.
    #[error("model '{0}' is not served here")]
    ModelNotFound(String),
    /// Known model, but not at the version or alias asked for.
    #[error("model '{name}' is not served at {pick}")]
    VersionNotFound {
        /// The model.
        name: String,
        /// What was asked for (`version 3`, `alias 'production'`).
        pick: String,
    },
    /// Configured model that failed to load.
    #[error("model '{0}' failed to load and is not available")]
    ModelNotLoaded(String),
    /// A served version without reference statistics.
    #[error(
        "model '{name}' version {version} has no reference statistics (it was trained before Ferry stored them): retrain it to watch drift"
    )]
    DriftUnavailable {
        /// The model.
        name: String,
        /// The version.
        version: u64,
    },
    /// A served version whose model cannot be explained.
    #[error("model '{name}' version {version} cannot be explained: {reason}")]
    ExplanationUnavailable {
        /// The model.
        name: String,
        /// The version.
        version: u64,
        /// Why.
        reason: String,
    },
    /// Unknown route.
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// Wrong method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {millis} ms")]
    BodyTimeout {
        /// The limit.
        millis: u64,
    },
    /// No API key, or an unknown one.
    #[error("{0}")]
    Unauthorized(String),
    /// An API key without the route's scope.
    #[error("{0}")]
    Forbidden(String),
    /// Internal failure with its detail (logged, never sent).
    #[error("{0}")]
    Internal(String),
    /// An error the HTTP layer answers before any route runs (the server's
    /// `JsonErrors` wrapper around each connection).
    #[error("{}", protocol_message(*.0))]
    Protocol(ErrorCode),
}

fn protocol_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::HeadersTooLarge => "the request line and headers are larger than 128 KiB",
        ErrorCode::RequestTimeout => "the request head did not arrive in time",
        ErrorCode::MalformedRequest
        | ErrorCode::InvalidJson
        | ErrorCode::UnsupportedMediaType
        | ErrorCode::PayloadTooLarge
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidFeatures
        | ErrorCode::UnknownCategory
        | ErrorCode::ModelNotFound
        | ErrorCode::VersionNotFound
        | ErrorCode::RouteNotFound
        | ErrorCode::MethodNotAllowed
        | ErrorCode::ModelNotLoaded
        | ErrorCode::DriftUnavailable
        | ErrorCode::ExplanationUnavailable
        | ErrorCode::Unauthorized
        | ErrorCode::Forbidden
        | ErrorCode::Internal => {
            "the request is not valid HTTP/1.1: a URL is at most 65,534 bytes, headers must be well formed, and an HTTP/1.1 request needs a Host header"
        }
    }
}

impl ApiError {
    /// The records refused and why, for an error about records.
    #[must_use]
    pub fn row_errors(&self) -> Option<&[RowErrors]> {
        match self {
            ApiError::InvalidFeatures(rows)
            | ApiError::Predict(PredictError::InvalidValues(rows)) => Some(rows.as_slice()),
            ApiError::InvalidJson(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::PayloadTooLarge { .. }
            | ApiError::InvalidRequest(_)
            | ApiError::SchemaMismatch(_)
            | ApiError::Predict(
                PredictError::Preprocess(_)
                | PredictError::WidthMismatch { .. }
                | PredictError::Library(_),
            )
            | ApiError::ModelNotFound(_)
            | ApiError::VersionNotFound { .. }
            | ApiError::ModelNotLoaded(_)
            | ApiError::DriftUnavailable { .. }
            | ApiError::ExplanationUnavailable { .. }
            | ApiError::RouteNotFound { .. }
            | ApiError::MethodNotAllowed(_)
            | ApiError::BodyTimeout { .. }
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::Internal(_)
            | ApiError::Protocol(_) => None,
        }
    }

    /// The error's code: the one mapping from errors to statuses.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidJson(_) => ErrorCode::InvalidJson,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            ApiError::InvalidFeatures(_) | ApiError::SchemaMismatch(_) => {
                ErrorCode::InvalidFeatures
            }
            ApiError::Predict(PredictError::InvalidValues(rows)) => {
                let only_categories = rows.iter().flat_map(|r| &r.errors).all(|e| match e {
                    SchemaError::UnseenCategory { .. } => true,
                    SchemaError::UnknownCategory { .. }
                    | SchemaError::MissingFeature { .. }
                    | SchemaError::UnknownFeature { .. }
                    | SchemaError::NullNotAllowed { .. }
                    | SchemaError::WrongType { .. }
                    | SchemaError::OutOfRange { .. }
                    | SchemaError::TooLarge { .. } => false,
                });
                if only_categories {
                    ErrorCode::UnknownCategory
                } else {
                    ErrorCode::InvalidFeatures
                }
            }
            ApiError::Predict(PredictError::Preprocess(e)) => match e {
                PreprocessError::MissingValue { .. } => ErrorCode::InvalidFeatures,
                PreprocessError::InvalidValues(_)
                | PreprocessError::Invalid(_)
                | PreprocessError::NoValues { .. }
                | PreprocessError::FrameMismatch { .. }
                | PreprocessError::Internal(_) => ErrorCode::Internal,
            },
            ApiError::Predict(PredictError::WidthMismatch { .. } | PredictError::Library(_)) => {
                ErrorCode::Internal
            }
            ApiError::ModelNotFound(_) => ErrorCode::ModelNotFound,
            ApiError::VersionNotFound { .. } => ErrorCode::VersionNotFound,
            ApiError::ModelNotLoaded(_) => ErrorCode::ModelNotLoaded,
            ApiError::DriftUnavailable { .. } => ErrorCode::DriftUnavailable,
            ApiError::ExplanationUnavailable { .. } => ErrorCode::ExplanationUnavailable,
            ApiError::RouteNotFound { .. } => ErrorCode::RouteNotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::BodyTimeout { .. } => ErrorCode::RequestTimeout,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::Protocol(code) => *code,
        }
    }
}

/// Fixed message of every 5xx: details stay in the server log.
pub const INTERNAL_MESSAGE: &str = "internal error; the server log has the details";
