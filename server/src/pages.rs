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

/// Every path that is not API, static or health renders the app; its router decides the page
/// (and answers 404 itself for unknown ones).
pub fn router(config: &Config, api: Router) -> Router {
    // Leptos spawns its rendering tasks on the global executor; a second call is harmless.
    let _ = any_spawner::Executor::init_tokio();
    let options = leptos_options(config);
    let transport: Arc<dyn Transport> = Arc::new(InProcess { api });
    let render = leptos_axum::render_app_async_with_context(
        move || provide_context(InProcessApi(transport.clone())),
        move || portolan_web::app::shell(options.clone()),
    );
    Router::new().fallback(move |req: Request| {
        let render = render.clone();
        async move {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return (
                    http::StatusCode::METHOD_NOT_ALLOWED,
                    "pages only answer GET",
                )
                    .into_response();
            }
            render(req).await.into_response()
        }
    })
}
