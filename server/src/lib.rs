//! Portolan's server: the REST API (`/api/v1`, the one contract), the server-rendered pages that
//! hydrate in the browser, the OpenAPI document and its docs page, static files, and health.

pub mod access;
pub mod api_docs;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod deployments;
pub mod environments;
pub mod error;
pub mod extract;
pub mod incidents;
pub mod live;
pub mod notifications;
pub mod pages;
pub mod pagination;
pub mod postmortems;
pub mod promotions;
pub mod respond;
pub mod seed;
pub mod validate;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::error::{AppError, REQUEST_ID};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// The identity provider, when sign-in is configured.
    pub oidc: Option<Arc<auth::oidc::Oidc>>,
    /// Changes committed anywhere, for this replica's event streams; connected to Postgres by
    /// [`live::Live::listen`] (`serve` does; most tests need not).
    pub live: live::Live,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> anyhow::Result<Self> {
        let oidc = match &config.oidc {
            Some(c) => Some(Arc::new(auth::oidc::Oidc::new(c.clone())?)),
            None => None,
        };
        Ok(Self {
            pool,
            config: Arc::new(config),
            oidc,
            live: live::Live::new(),
        })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portolan API",
        description = "The REST API of Portolan, the internal developer portal: the service catalog, \
            the pipeline of environments, and deployments. Every list is keyset-paginated, and \
            every error answers with the same JSON envelope.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "catalog", description = "Teams, systems, services and their dependencies"),
        (name = "environments", description = "The pipeline of environments and what runs where"),
        (name = "deployments", description = "Deployments and the commits they carry"),
        (name = "incidents", description = "Incidents, their lifecycle and timeline"),
        (name = "webhooks", description = "Alerts open, update and resolve incidents: receivers for \
            Alertmanager and PagerDuty, each authenticated by its own secret"),
        (name = "postmortems", description = "Blameless postmortems: writing, review, publishing"),
        (name = "promotions", description = "Promotion requests and their gates: ask, read what the gate says, decide"),
        (name = "notifications", description = "Messages about promotion requests to Microsoft Teams and Slack: \
            what was sent, what waits, what failed"),
        (name = "action items", description = "What postmortems commit to doing, and how well it gets done"),
        (name = "live", description = "Changes as they are committed, streamed to browsers"),
        (name = "audit", description = "The append-only, hash-chained record of every change"),
        (name = "auth", description = "Who is signed in, and API tokens")
    ),
    modifiers(&Security)
)]
struct ApiDoc;

/// How callers authenticate: an API token as a bearer token (pipelines), or the session cookie
/// set at sign-in (browsers; changes then also carry `x-csrf-token`).
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`ptl_…`) from POST /api/v1/tokens or `portolan token create`. \
                         Every scope reads; writes need their scope and an owner who still holds the role. \
                         HTTP Basic with the token as the password (any user name) is taken too, for \
                         clients that only speak Basic (an Azure DevOps generic service connection).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "The browser session set at sign-in. Changes also need the x-csrf-token header \
                 (csrf_token in GET /api/v1/me).",
            ))),
        );
        components.add_security_scheme(
            "alertmanager_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The Alertmanager receiver's token (PORTOLAN_ALERTMANAGER_TOKEN), sent by \
                         webhook_config's http_config.authorization.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "pagerduty_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-PagerDuty-Signature",
                "v1=<hex HMAC-SHA256 of the raw body under PORTOLAN_PAGERDUTY_SECRET>; several, \
                 separated by commas, while a secret is rotated.",
            ))),
        );
        doc.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("api_token", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

/// The API routes and the OpenAPI document generated from the same table.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(catalog::routes::router())
        .merge(environments::routes::router())
        .merge(deployments::routes::router())
        .merge(incidents::routes::router())
        .merge(webhooks::routes::router())
        .merge(postmortems::routes::router())
        .merge(postmortems::actions::routes::router())
        .merge(promotions::routes::router())
        .merge(notifications::routes::router())
        .merge(promotions::azure_devops::router())
        .merge(live::routes::router())
        .merge(audit::routes::router())
        .merge(auth::routes::api_router())
        .split_for_parts()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().1
}

/// The API alone, with its state: what pages call in-process during server-side rendering.
fn api_router(state: AppState) -> Router {
    let (routes, _) = api_routes();
    routes
        // Every matched endpoint is authorized by its rule; unknown paths just 404.
        .route_layer(middleware::from_fn(auth::authorize))
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state)
        .layer(middleware::from_fn(request_id))
}

/// The whole application.
pub fn build_app(state: AppState) -> Router {
    let api = api_router(state.clone());
    let openapi_doc = Arc::new(openapi());
    let docs_html = Arc::new(api_docs::render(&openapi_doc));
    let pages = pages::router(state.clone(), api.clone());
    let static_files = ServeDir::new(&state.config.static_dir);
    let bundle = ServeDir::new(state.config.site_root.join("pkg"));

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz).with_state(state.pool.clone()))
        .route(
            "/api/openapi.json",
            get({
                let doc = openapi_doc.clone();
                move || async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route(
            "/api/docs",
            get({
                let html = docs_html.clone();
                move || async move { axum::response::Html(html.as_ref().clone()) }
            }),
        )
        .route_service(
            "/favicon.ico",
            tower_http::services::ServeFile::new(state.config.static_dir.join("favicon.svg")),
        )
        .nest_service("/static", static_files)
        .nest_service("/pkg", bundle)
        .merge(api)
        .merge(auth::routes::browser_routes().with_state(state.clone()))
        .merge(pages)
        .layer(CompressionLayer::new())
        // Pages set their own policy with a per-response nonce; everything else runs no script.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Behind TLS, browsers must never come back over plain http.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            state
                .config
                .serves_https()
                .then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains")),
        ))
        .layer(TraceLayer::new_for_http())
}

async fn readyz(State(pool): State<PgPool>) -> Response {
    let check = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&pool),
    )
    .await;
    match check {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database did not answer within 2 s",
        )
            .into_response(),
    }
}

async fn api_not_found() -> AppError {
    AppError::NotFound("no such API endpoint; see /api/docs".into())
}

async fn method_not_allowed() -> Response {
    let mut res =
        AppError::BadRequest("this endpoint does not take that method; see /api/docs".into())
            .into_response();
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Gives each request an id (or keeps a sane one sent by a proxy), makes it available to error
/// bodies and logs, and returns it as `x-request-id`.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
            let t = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
            format!("{:x}-{n:x}", t & 0xffff_ffff_ffff)
        });
    let mut res = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    res
}
