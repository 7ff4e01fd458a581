use actix_web::{HttpResponse, web};

use super::dto::{ModelDetail, ModelList, ModelSummary, ServedVersion};
use crate::error::ApiError;
use crate::request::API_VERSION;
use crate::state::{AppState, Pick};

/// `GET /models`.
#[utoipa::path(get, path = "/models", tag = "native",
    responses((status = 200, description = "The served models", body = ModelList<'_>),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::native::ErrorBody<'_>)))]
pub(super) async fn list(state: web::Data<AppState>) -> HttpResponse {
    let models = state.models.load();
    let summaries = models
        .defaults()
        .map(|m| ModelSummary::new(m.bundle.manifest(), m.reference.to_string()))
        .collect();
    HttpResponse::Ok().json(ModelList {
        api_version: API_VERSION,
        models: summaries,
    })
}

/// `GET /models/{name}`: the default version.
#[utoipa::path(get, path = "/models/{name}", tag = "native",
    params(("name" = String, Path, description = "The model")),
    responses((status = 200, description = "The model's details", body = ModelDetail<'_>),
        super::ModelErrors,))]
pub(super) async fn detail(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    detail_pick(&state, &name, Ok(Pick::Default))
}

/// `GET /models/{name}/versions/{version}`.
#[utoipa::path(get, path = "/models/{name}/versions/{version}", tag = "native",
    params(("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "A served version number")),
    responses((status = 200, description = "The version's details", body = ModelDetail<'_>),
        super::ModelErrors,))]
pub(super) async fn detail_version(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let pick = super::version_pick(&name, &version);
    detail_pick(&state, &name, pick)
}

/// `GET /models/{name}/aliases/{alias}`.
#[utoipa::path(get, path = "/models/{name}/aliases/{alias}", tag = "native",
    params(("name" = String, Path, description = "The model"),
        ("alias" = String, Path, description = "An alias the server loaded")),
    responses((status = 200, description = "The version's details", body = ModelDetail<'_>),
        super::ModelErrors,))]
pub(super) async fn detail_alias(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = path.into_inner();
    let pick = super::alias_pick(&name, &alias);
    detail_pick(&state, &name, pick)
}

/// `GET /models/{name}/drift`: the live drift of the default version, its recent
/// requests against its training rows.
#[utoipa::path(get, path = "/models/{name}/drift", tag = "native",
    params(("name" = String, Path, description = "The model")),
    responses((status = 200, description = "The drift of the rows in the window", body = DriftResponse<'_>),
        (status = 404, description = "No such model, or a version without reference statistics", body = crate::protocol::native::ErrorBody<'_>),
        (status = 401, description = "No API key, or an unknown one", body = crate::protocol::native::ErrorBody<'_>),
        (status = 403, description = "The key lacks the predict scope", body = crate::protocol::native::ErrorBody<'_>),
        (status = 503, description = "The model is configured but failed to load", body = crate::protocol::native::ErrorBody<'_>),))]
pub(super) async fn drift(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = state.find(&name, &Pick::Default)?;
    let Some(window) = &model.drift else {
        return Err(ApiError::DriftUnavailable {
            name: name.into_inner(),
            version: model.resolved.version.0,
        });
    };
    let report = window.report();
    Ok(HttpResponse::Ok().json(DriftResponse {
        api_version: API_VERSION,
        model: model.resolved.name.as_str(),
        version: model.resolved.version.0,
        drift: report,
    }))
}

/// The body of `GET /models/{name}/drift`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct DriftResponse<'a> {
    /// The API version.
    pub api_version: &'a str,
    /// The model.
    pub model: &'a str,
    /// The version compared.
    pub version: u64,
    /// The window and its comparison with the training rows: `window`, `rows_seen`,
    /// `current_rows`, `drifted_share`, `dataset_drift`, `thresholds` and one entry per
    /// feature (PSI, KS or chi-square and Jensen-Shannon, missing and unseen rates,
    /// histograms), as `train drift` writes them.
    #[schema(value_type = Object)]
    pub drift: crate::monitor::WindowReport,
}

fn detail_pick(
    state: &AppState,
    name: &str,
    pick: Result<Pick, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let model = state.find(name, &pick?)?;
    let models = state.models.load();
    let served = models
        .versions(name)
        .map(|v| {
            let default = v.default_model().map(|m| m.resolved.version);
            v.all()
                .map(|m| ServedVersion {
                    version: m.resolved.version.0,
                    reference: m.reference.to_string(),
                    default: Some(m.resolved.version) == default,
                })
                .collect()
        })
        .unwrap_or_default();
    let manifest = model.bundle.manifest();
    let last_reload_error = state.reloader.as_ref().and_then(|r| r.failure(name));
    Ok(HttpResponse::Ok().json(ModelDetail {
        api_version: API_VERSION,
        summary: ModelSummary::new(manifest, model.reference.to_string()),
        served_versions: served,
        last_reload_error,
        features: features_with_learned_categories(&model),
        target: &manifest.target,
        classes: model.bundle.classes(),
        rows: manifest.rows,
        git_sha: manifest.git_sha.as_deref(),
        data_sha256: &manifest.data_sha256,
    }))
}

/// The model's features, each categorical one with the categories it accepts: the
/// schema's list, or, when the schema listed none, the ones its one-hot (or category
/// code) step learned from the training data.
fn features_with_learned_categories(
    model: &crate::state::LoadedModel,
) -> Vec<ferry_core::schema::FeatureSpec> {
    let learned = |name: &str| {
        model
            .bundle
            .preprocessor()
            .steps()
            .iter()
            .find_map(|step| match step {
                ferry_core::preprocess::FittedStep::OneHot {
                    column, categories, ..
                }
                | ferry_core::preprocess::FittedStep::CategoryCodes { column, categories }
                    if column == name =>
                {
                    Some(categories.clone())
                }
                ferry_core::preprocess::FittedStep::OneHot { .. }
                | ferry_core::preprocess::FittedStep::CategoryCodes { .. }
                | ferry_core::preprocess::FittedStep::Impute { .. }
                | ferry_core::preprocess::FittedStep::KeepMissing { .. }
                | ferry_core::preprocess::FittedStep::StandardScale { .. }
                | ferry_core::preprocess::FittedStep::MinMaxScale { .. } => None,
            })
    };
    model
        .bundle
        .schema()
        .features()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f.categories.is_none() && matches!(f.dtype, ferry_core::schema::DType::Categorical) {
                f.categories = learned(&f.name);
            }
            f
        })
        .collect()
}
