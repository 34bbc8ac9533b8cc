//! Health, the OpenAPI document, error envelopes for unknown routes and methods, and pages.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApp;

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn health_and_readiness(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    pool.close().await;
    assert_eq!(
        app.get("/healthz").await.status,
        StatusCode::OK,
        "alive while the process lives"
    );
    assert_eq!(
        app.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready without a database"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn openapi_document_matches_snapshot(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.get("/api/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["openapi"], "3.1.0");
    // Every operation has a verb_resource id and documents its error envelope.
    let paths = a.body["paths"].as_object().expect("paths");
    let mut ids = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("operations") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(id.contains('_'), "{id} is not verb_resource");
            ids.push(id.to_string());
            assert!(path.starts_with("/api/v1/"), "{path} is outside /api/v1");
        }
    }
    assert!(ids.len() >= 30, "only {} operations documented", ids.len());
    insta::assert_json_snapshot!("openapi", a.body);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn api_docs_page_lists_every_operation(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.get("/api/openapi.json").await.body;
    let page = app.get("/api/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("ops").values() {
            let id = op["operationId"].as_str().expect("id");
            assert!(
                page.text.contains(&format!("id=\"{id}\"")),
                "docs page lacks {id}"
            );
        }
    }
    assert!(
        !page.text.contains("cdn"),
        "the docs page loads nothing from elsewhere"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn unknown_endpoints_and_methods_answer_in_the_envelope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.get("/api/v1/nothing-here").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "not_found");
    let a = app.delete("/api/v1/teams").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.body["error"]["message"].as_str().is_some());
    assert!(
        a.headers.contains_key("x-request-id"),
        "every API answer carries its request id"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn request_body_problems_are_client_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Not JSON at all.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/teams")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"slug\": "))
        .expect("request");
    let a = app.send(req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON")
    );
    // No content type.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/teams")
        .body(Body::from("{}"))
        .expect("request");
    let a = app.send(req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text.contains("content-type"));
    // Wrong type: the path of the field is named.
    let a = app
        .post("/api/v1/teams", json!({"slug": 5, "name": "x"}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), vec!["slug"]);
    // A bad query parameter.
    let a = app.get("/api/v1/services?tier=high").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = app.get("/api/v1/services?colour=blue").await;
    assert_eq!(
        a.status,
        StatusCode::BAD_REQUEST,
        "unknown query parameters are refused: {}",
        a.text
    );
    assert!(a.text.contains("colour"));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pages_render_on_the_server_from_the_api(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("data-service=\"checkout-api\""),
        "catalog rows are server-rendered"
    );
    assert!(
        page.text.contains("/pkg/portolan.js"),
        "the page loads the hydration bundle"
    );
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{csp}");
    assert!(
        page.text.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the policy's nonce"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    let other = app.get("/").await.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert_ne!(other, csp, "a fresh nonce for every response");
    let docs = app.get("/api/docs").await;
    assert!(
        docs.headers["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("script-src 'none'")
    );
    let page = app.get("/?q=gateway").await;
    assert!(
        page.text.contains("value=\"gateway\""),
        "the search box keeps the query without JavaScript"
    );
    assert!(
        page.text.contains("data-service=\"payment-gateway\"")
            && !page.text.contains("data-service=\"checkout-api\"")
    );
    let page = app.get("/?team=search").await;
    assert!(
        page.text.contains("data-service=\"search-indexer\"")
            && !page.text.contains("data-service=\"checkout-api\"")
    );
    let page = app.get("/services/checkout-api").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("<h1>Checkout Api</h1>"),
        "{}",
        &page.text[..page.text.len().min(400)]
    );
    assert_eq!(
        app.get("/services/no-such-service").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
    for path in [
        "/environments",
        "/deployments",
        "/deployments?status=failed",
    ] {
        assert_eq!(app.get(path).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn managed_postgres_persists_between_runs_and_stops_on_exit() {
    use portolan_server::db::ManagedPostgres;
    let dir = std::env::temp_dir().join(format!("portolan-managed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let pg = ManagedPostgres::start(&dir)
        .await
        .expect("the managed Postgres starts");
    let pool = sqlx::PgPool::connect_with(pg.connect_options("portolan"))
        .await
        .expect("connect");
    sqlx::raw_sql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        .execute(&pool)
        .await
        .expect("write");
    pool.close().await;
    pg.stop();
    assert!(!dir.join("postmaster.pid").exists(), "stopped on exit");

    let pg = ManagedPostgres::start(&dir)
        .await
        .expect("it starts again on the same data");
    let pool = sqlx::PgPool::connect_with(pg.connect_options("portolan"))
        .await
        .expect("connect");
    let v: i32 = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&pool)
        .await
        .expect("read");
    assert_eq!(v, 42, "data persists between runs");
    pool.close().await;
    pg.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn nul_characters_anywhere_are_a_client_error(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app
        .post(
            "/api/v1/teams",
            json!({"slug": "nul", "name": "N", "description": "a\u{0}b"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(a.text.contains("NUL"));
    for path in [
        "/api/v1/services?q=a%00b",
        "/api/v1/services?team=a%00",
        "/api/v1/services/a%00b",
        "/api/v1/deployments?service=x%00",
    ] {
        let a = app.get(path).await;
        assert!(
            a.status.is_client_error(),
            "{path}: {} {}",
            a.status,
            a.text
        );
    }
}
