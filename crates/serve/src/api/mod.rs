//! The route table, in one function.

mod admin;
pub mod dto;
mod explain;
mod health;
mod mlflow;
mod models;
pub mod openapi;
mod predict;
mod v2;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::request::RouteTemplate;
use crate::state::{AppState, Pick};

/// `GET /metrics`: Prometheus' text format.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.drift(&state.models.load());
    HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(state.metrics.render())
}

/// `GET /openapi.json`: the OpenAPI 3 document.
async fn openapi_json() -> HttpResponse {
    use utoipa::OpenApi as _;
    HttpResponse::Ok().json(openapi::ApiDoc::openapi())
}

/// `GET /docs`: to `/docs/`, where Swagger UI's relative asset paths resolve.
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

/// The errors a native route about one model can answer (OpenAPI only).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "only documents the responses")]
enum ModelErrors {
    /// Unknown model, version or alias.
    #[response(status = 404, description = "No such model, version or alias")]
    NotFound(crate::protocol::native::ErrorBody<'static>),
    /// No key.
    #[response(status = 401, description = "No API key, or an unknown one")]
    Unauthorized(crate::protocol::native::ErrorBody<'static>),
    /// A key without the scope.
    #[response(status = 403, description = "The key lacks the predict scope")]
    Forbidden(crate::protocol::native::ErrorBody<'static>),
    /// A configured model that did not load.
    #[response(
        status = 503,
        description = "The model is configured but failed to load"
    )]
    Unavailable(crate::protocol::native::ErrorBody<'static>),
}

/// The errors about a native request's body (OpenAPI only).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "only documents the responses")]
enum BodyErrors {
    /// Not JSON.
    #[response(status = 400, description = "The body is not JSON")]
    InvalidJson(crate::protocol::native::ErrorBody<'static>),
    /// Too slow.
    #[response(status = 408, description = "The body did not arrive in time")]
    Timeout(crate::protocol::native::ErrorBody<'static>),
    /// Too large.
    #[response(status = 413, description = "The body is over the limit")]
    TooLarge(crate::protocol::native::ErrorBody<'static>),
    /// Not JSON by its content type.
    #[response(status = 415, description = "Not application/json")]
    MediaType(crate::protocol::native::ErrorBody<'static>),
    /// Bad records.
    #[response(
        status = 422,
        description = "Records that fail the schema, or the wrong shape"
    )]
    Invalid(crate::protocol::native::ErrorBody<'static>),
}

/// The version a `/versions/{version}` path segment asks for.
fn version_pick(name: &str, version: &str) -> Result<Pick, ApiError> {
    version
        .parse::<u64>()
        .map(|v| Pick::Version(ferry_core::Version(v)))
        .map_err(|_| ApiError::VersionNotFound {
            name: name.to_owned(),
            pick: format!("version '{version}' (a version is a whole number)"),
        })
}

/// The alias an `/aliases/{alias}` path segment asks for.
fn alias_pick(name: &str, alias: &str) -> Result<Pick, ApiError> {
    alias
        .parse()
        .map(Pick::Alias)
        .map_err(|_| ApiError::VersionNotFound {
            name: name.to_owned(),
            pick: format!("alias '{alias}'"),
        })
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// One path with its one route; any other method gets a JSON 405. The path is kept as
/// the resource's [`RouteTemplate`], for metrics and spans.
fn resource(path: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .app_data(RouteTemplate(path))
        .route(route)
        .default_service(web::to(method_not_allowed))
}

/// A GET path, which also answers HEAD (the same status and headers, no body); any other
/// method gets a JSON 405.
fn get<F, Args>(path: &'static str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .app_data(RouteTemplate(path))
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(method_not_allowed))
}

/// The model a per-model route serves (see [`configure`]).
#[derive(Debug, Clone)]
pub(crate) struct RouteModel(pub(crate) String);

impl RouteModel {
    /// The model of the literal route `req` came in by (empty, so not found, otherwise).
    pub(crate) fn of(req: &actix_web::HttpRequest) -> &str {
        req.app_data::<Self>().map_or("", |m| m.0.as_str())
    }
}

/// At most this many models get their own routes.
const MAX_MODEL_ROUTES: usize = 32;

/// Registers every route.
///
/// The models served at start-up also get their own literal native-predict and V2-infer
/// paths (`/models/iris/predict`), ahead of the templates: a literal path is matched by
/// comparing strings, a template by a regular expression with captures, the largest
/// single cost of routing. Their answers, metrics and spans are the template's; models
/// loaded later are served by the template.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.clone()));
    let models = state.models.load();
    // A name with other characters would read as a pattern: the template serves it.
    let literal_names = models.names().filter(|n| {
        n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    });
    for name in literal_names.take(MAX_MODEL_ROUTES) {
        let literal = |template: &'static str, route: actix_web::Route| {
            web::resource(template.replace("{name}", name))
                .app_data(RouteTemplate(template))
                .app_data(RouteModel(name.to_owned()))
                .route(route)
                .default_service(web::to(method_not_allowed))
        };
        cfg.service(literal(
            "/models/{name}/predict",
            web::post().to(predict::predict_route_model),
        ))
        .service(literal(
            "/v2/models/{name}/infer",
            web::post().to(v2::infer_route_model),
        ));
    }
    // Resources are tried in order: the hot route first.
    cfg.service(resource(
        "/models/{name}/predict",
        web::post().to(predict::predict),
    ))
    .service(resource(
        "/models/{name}/versions/{version}/predict",
        web::post().to(predict::predict_version),
    ))
    .service(resource(
        "/models/{name}/aliases/{alias}/predict",
        web::post().to(predict::predict_alias),
    ))
    .service(resource(
        "/models/{name}/explain",
        web::post().to(explain::explain),
    ))
    .service(resource(
        "/models/{name}/versions/{version}/explain",
        web::post().to(explain::explain_version),
    ))
    .service(resource(
        "/v2/models/{name}/infer",
        web::post().to(v2::model_infer),
    ))
    .service(resource(
        "/v2/models/{name}/versions/{version}/infer",
        web::post().to(v2::version_infer),
    ))
    .service(resource(
        "/invocations",
        web::post().to(mlflow::invocations),
    ))
    .service(get("/ping", mlflow::ping))
    .service(get("/version", mlflow::version))
    .service(get("/v2", v2::server_metadata))
    .service(get("/v2/health/live", v2::live))
    .service(get("/v2/health/ready", v2::ready))
    .service(get("/v2/models/{name}", v2::model_metadata))
    .service(get("/v2/models/{name}/ready", v2::model_ready))
    .service(get(
        "/v2/models/{name}/versions/{version}",
        v2::version_metadata,
    ))
    .service(get(
        "/v2/models/{name}/versions/{version}/ready",
        v2::version_ready,
    ))
    .service(resource("/admin/reload", web::post().to(admin::reload)))
    .service(get("/openapi.json", openapi_json))
    .service(get("/metrics", metrics))
    .service(get("/docs", docs_redirect))
    .service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", {
            use utoipa::OpenApi as _;
            openapi::ApiDoc::openapi()
        }),
    )
    .service(get("/health", health::health))
    .service(get("/ready", health::ready))
    .service(get("/models", models::list))
    .service(get("/models/{name}", models::detail))
    .service(get(
        "/models/{name}/versions/{version}",
        models::detail_version,
    ))
    .service(get("/models/{name}/aliases/{alias}", models::detail_alias))
    .service(get("/models/{name}/drift", models::drift))
    .default_service(web::to(route_not_found));
}
