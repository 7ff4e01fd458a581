//! The OpenAPI 3 document of every route, generated from the handlers' annotations and
//! the wire types (utoipa), served at `/openapi.json`; `/docs` renders it with Swagger UI,
//! whose assets are embedded in the binary (no internet needed).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API keys, as the document declares them.
#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Ferry", description = "Ferry's model server: the native API, the Open \
        Inference Protocol (KServe V2) and MLflow's scoring protocol."),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = [])),
    paths(
        super::health::health,
        super::health::ready,
        super::models::list,
        super::models::detail,
        super::models::detail_version,
        super::models::detail_alias,
        super::models::drift,
        super::predict::predict,
        super::predict::predict_version,
        super::predict::predict_alias,
        super::explain::explain,
        super::explain::explain_version,
        super::v2::server_metadata,
        super::v2::live,
        super::v2::ready,
        super::v2::model_metadata,
        super::v2::version_metadata,
        super::v2::model_ready,
        super::v2::version_ready,
        super::v2::model_infer,
        super::v2::version_infer,
        super::mlflow::ping,
        super::mlflow::version,
        super::mlflow::invocations,
        super::admin::reload,
    )
)]
pub struct ApiDoc;
