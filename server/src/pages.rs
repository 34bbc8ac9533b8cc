//! The Leptos pages, rendered on the server and hydrated in the browser.
//!
//! Pages get their data through the same REST API as everyone else: during rendering they call
//! the API router in-process with the viewer's own headers (see `portolan_web::api`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use portolan_web::api::{BoxFuture, InProcessApi, Transport};
use tower::ServiceExt;

use askama::Template;
use axum::response::{Html, Redirect, Response};

use crate::AppState;
use crate::access::Permission;
use crate::auth::{self, SESSION_COOKIE, session};
use crate::config::Config;

/// Largest API answer a page render reads (the API pages its lists, so this is generous).
const MAX_BODY: usize = 16 * 1024 * 1024;

struct InProcess {
    api: Router,
}

impl Transport for InProcess {
    fn get(
        &self,
        path_and_query: String,
        headers: http::HeaderMap,
    ) -> BoxFuture<Result<(u16, Vec<u8>), String>> {
        let api = self.api.clone();
        Box::pin(async move {
            let mut req = Request::builder()
                .method(Method::GET)
                .uri(&path_and_query)
                .body(Body::empty())
                .map_err(|e| format!("bad API path {path_and_query}: {e}"))?;
            *req.headers_mut() = headers;
            let res = api
                .oneshot(req)
                .await
                .unwrap_or_else(|never| match never {});
            let status = res.status().as_u16();
            let body = http_body_util::Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the API answer failed: {e}"))?
                .to_bytes();
            Ok((status, body.to_vec()))
        })
    }
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("portolan")
        .site_pkg_dir("pkg")
        .site_root(config.site_root.display().to_string())
        .build()
}

#[derive(Template)]
#[template(path = "no_access.html")]
struct NoAccess {
    name: String,
    who: String,
    notices: Vec<String>,
    csrf_token: String,
    dev: bool,
}

#[derive(Template)]
#[template(path = "page_forbidden.html")]
struct PageForbidden {
    title: &'static str,
    reason: String,
    name: String,
    grants: String,
    dev: bool,
}

/// Pages that need more than reading, with what they need and what to say to others.
const RESTRICTED: [(&str, Permission, &str); 1] = [(
    "/audit",
    Permission::AuditRead,
    "The audit log is for administrators",
)];

/// What a page path needs beyond reading, if anything.
fn restriction(path: &str) -> Option<(Permission, &'static str)> {
    RESTRICTED
        .iter()
        .find(|(prefix, _, _)| {
            path == *prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|(_, p, title)| (*p, *title))
}

/// Pages are for people with a role: signed-out visitors go to sign in (and come back), people
/// without a role get a polite page saying so. `None`: go ahead and render.
async fn gate(state: &AppState, headers: &http::HeaderMap, uri: &http::Uri) -> Option<Response> {
    let back = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let to_sign_in = || {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &back)
            .finish();
        Redirect::to(&format!("/auth/sign-in?{query}")).into_response()
    };
    let Some(token) = auth::cookie(headers, SESSION_COOKIE) else {
        return Some(to_sign_in());
    };
    let signed_in = match session::lookup(&state.pool, token).await {
        Ok(Some(s)) => s,
        Ok(None) => return Some(to_sign_in()),
        Err(e) => return Some(e.into_response()),
    };
    let access = state.access_of(&signed_in);
    if access.allows(Permission::Read) {
        let (needs, title) = restriction(uri.path())?;
        if access.allows(needs) {
            return None;
        }
        let page = PageForbidden {
            title,
            reason: format!(
                "This page needs {}. If your work needs it, ask an administrator.",
                crate::access::role_list(needs)
            ),
            name: signed_in.me.display_name,
            grants: access
                .grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            dev: state.config.dev_sign_in,
        };
        return Some(match page.render() {
            Ok(html) => (http::StatusCode::FORBIDDEN, Html(html)).into_response(),
            Err(e) => crate::error::AppError::Internal(e.into()).into_response(),
        });
    }
    // The page itself says there is no role; it adds what else the person should know.
    let page = NoAccess {
        who: format!("{}:{}", signed_in.me.tenant_id, signed_in.me.object_id),
        notices: auth::access_notices(
            signed_in.me.groups_overage,
            state.config.graph_groups(),
            &access,
        ),
        name: signed_in.me.display_name,
        csrf_token: signed_in.me.csrf_token,
        dev: state.config.dev_sign_in,
    };
    Some(match page.render() {
        Ok(html) => (http::StatusCode::FORBIDDEN, Html(html)).into_response(),
        Err(e) => crate::error::AppError::Internal(e.into()).into_response(),
    })
}

/// Every path that is not API, static or health renders the app; its router decides the page
/// (and answers 404 itself for unknown ones).
pub fn router(state: AppState, api: Router) -> Router {
    // Leptos spawns its rendering tasks on the global executor; a second call is harmless.
    let _ = any_spawner::Executor::init_tokio();
    let options = leptos_options(&state.config);
    let transport: Arc<dyn Transport> = Arc::new(InProcess { api });
    let render = leptos_axum::render_app_async_with_context(
        move || provide_context(InProcessApi(transport.clone())),
        move || portolan_web::app::shell(options.clone()),
    );
    Router::new().fallback(move |req: Request| {
        let render = render.clone();
        let state = state.clone();
        async move {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return (
                    http::StatusCode::METHOD_NOT_ALLOWED,
                    "pages only answer GET",
                )
                    .into_response();
            }
            let (headers, uri) = (req.headers().clone(), req.uri().clone());
            if let Some(stop) = gate(&state, &headers, &uri).await {
                return stop;
            }
            render(req).await.into_response()
        }
    })
}
