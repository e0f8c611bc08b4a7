//! The `api` adapter: the provider's authenticated HTTP API, an axum [`Router`] served by
//! `lambda_http`.
//!
//! Every request must carry `Authorization: Bearer <key>`; the key's SHA-256 is compared in
//! constant time with `API_KEY_SHA256` ([`ApiKeyDigest`]), before any routing, so unknown paths
//! answer 401 too. A route is written once: its handler, with a `#[utoipa::path]` that documents
//! it, registered with `routes!` (which gives axum the route and the OpenAPI document the
//! operation). `openapi.yaml` is generated from that document. Handlers turn typed inputs into
//! service calls and typed errors into JSON errors with statuses ([`ApiError`]); the rules live
//! in `wxcomponent`.

mod authorizers;
mod campaigns;
mod doc;
mod error;
mod extract;
mod layers;
mod miniprogram;
mod official_accounts;

pub use error::ApiError;
pub use wxcomponent::service::passthrough::{PASSTHROUGH_PREFIXES, passthrough_path};

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use lambda_http::{Body, Error, Request, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use wxcomponent::config::{ApiConfig, ApiKeyDigest};
use wxcomponent::service::{Application, Campaigns, TokenSettings};
use wxcomponent::store::DynamoStore;
use wxcomponent::wechat::ClientConfig;

/// Page size of `GET /authorizers` without `limit`.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit`: the store's page size.
pub const MAX_LIMIT: usize = wxcomponent::store::MAX_PAGE_SIZE;
/// The largest request body read (Lambda's own limit for a synchronous invocation is 6 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The API over the application, checking requests against one key digest.
pub struct Api<S> {
    app: Application<S>,
    campaigns: Campaigns,
    key: ApiKeyDigest,
}

/// What every handler is given.
type AppState = Arc<Api<DynamoStore>>;

impl Api<DynamoStore> {
    pub fn new(app: Application<DynamoStore>, key: ApiKeyDigest) -> Self {
        Self {
            campaigns: Campaigns::new(app.clone()),
            app,
            key,
        }
    }

    /// The router with every route and the layers around them.
    pub fn router(&self) -> Router {
        let key = self.key.clone();
        let state = Arc::new(Api {
            app: self.app.clone(),
            campaigns: self.campaigns.clone(),
            key: self.key.clone(),
        });
        let (routes, _) = routes().split_for_parts();
        let routes = routes
            .merge(miniprogram::passthrough_routes())
            .route_layer(middleware::from_fn(layers::remember_route))
            .method_not_allowed_fallback(layers::method_not_allowed)
            .fallback(layers::not_found)
            .with_state(state);
        // `Router::layer` wraps each route on its own, inside the part that adds `Allow`; these
        // wrap the whole router, so they see (and may change) every answer as it leaves.
        let routes = Router::new()
            .fallback_service(routes)
            .layer(middleware::from_fn(layers::refuse_head));
        wxcomponent_http::limit_body(routes, MAX_BODY_BYTES, error::body_too_large)
            .layer(middleware::from_fn_with_state(key, layers::require_bearer))
            .layer(middleware::from_fn(layers::tidy_answers))
            .layer(middleware::from_fn(layers::log_request))
    }

    /// Answers one request in process, as Lambda would (for tests and tools).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        wxcomponent_http::answer(self.router(), request).await
    }
}

/// Every route, with its OpenAPI operation.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .merge(authorizers::routes())
        .merge(campaigns::routes())
        .merge(miniprogram::routes())
        .merge(official_accounts::routes())
}

/// The OpenAPI document of every route (`openapi.yaml` is this, as YAML).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = routes().into_openapi();
    document.merge(miniprogram::passthrough_doc());
    document
}

/// Every (method, path pattern) the document describes.
pub fn route_table() -> Vec<(Method, String)> {
    let document = openapi();
    let mut table = Vec::new();
    for (path, item) in &document.paths.paths {
        let operations = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, present) in operations {
            if present {
                table.push((method, path.clone()));
            }
        }
    }
    table
}

// ----- wiring ------------------------------------------------------------------------------------

/// The production API: [`wxcomponent::wiring::production`] and the configured key digest.
pub async fn production_api(config: &ApiConfig) -> Result<Api<DynamoStore>, Error> {
    let app = wxcomponent::wiring::production(
        &config.app,
        ClientConfig::from_config(&config.app),
        TokenSettings::default(),
    )
    .await?;
    Ok(Api::new(app.application, config.api_key.clone()))
}
