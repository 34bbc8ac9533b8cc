//! Recording deployments, moving their status, and reading the feed.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::TestApp;

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn record_a_deployment_with_its_commits(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "prod", "version": "2.4.1", "commit_sha": "ABCDEF0123456789",
                   "started_at": "2026-11-01T10:00:00Z", "finished_at": "2026-11-01T10:06:00Z", "deployed_by": "ci/checkout",
                   "pipeline_url": "https://ci.example.com/acme/checkout/pipelines/7", "source": "ci", "external_id": "run-7",
                   "changes": [
                       {"sha": "1111111aaaa", "author": "Ana <ana@acme.example>", "message": "fix: keep the cart", "committed_at": "2026-10-31T09:00:00Z"},
                       {"sha": "2222222bbbb", "author": "Bo", "committed_at": "2026-10-31T12:00:00Z"}
                   ]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["id"].as_i64().expect("id");
    assert_eq!(a.headers["location"], format!("/api/v1/deployments/{id}"));
    assert_eq!(
        a.body["commit_sha"], "abcdef0123456789",
        "shas are stored lower-case"
    );
    assert_eq!(a.body["status"], "succeeded");
    assert_eq!(a.body["kind"], "normal");
    assert_eq!(a.body["changes"].as_array().expect("changes").len(), 2);
    assert_eq!(
        a.body["changes"][0]["sha"], "2222222bbbb",
        "newest commit first"
    );

    let g = app.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(g.body, a.body);
    assert_eq!(
        app.get("/api/v1/deployments/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/deployments/abc").await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_same_event_twice_records_one_deployment(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let event = json!({"service": "checkout-api", "environment": "dev", "version": "1.0.0", "source": "ci", "external_id": "run-1",
                       "changes": [{"sha": "abcdef1", "author": "Ana", "committed_at": "2026-11-01T09:00:00Z"}]});
    let first = app.post("/api/v1/deployments", event.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.post("/api/v1/deployments", event.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["id"], first.body["id"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM deployment_changes")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(changes, 1, "commits are not doubled either");

    let mut other = event.clone();
    other["version"] = json!("1.0.1");
    let clash = app.post("/api/v1/deployments", other).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert!(clash.text.contains("run-1"));
    // The same external id from another source is another event.
    let mut elsewhere = event;
    elsewhere["source"] = json!("argo");
    assert_eq!(
        app.post("/api/v1/deployments", elsewhere).await.status,
        StatusCode::CREATED
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn concurrent_resends_still_record_one_deployment(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::new(pool).await);
    app.scene().await;
    let event = json!({"service": "checkout-api", "environment": "dev", "version": "1.0.0", "source": "ci", "external_id": "race"});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let app = app.clone();
        let event = event.clone();
        tasks.push(tokio::spawn(async move {
            app.post("/api/v1/deployments", event).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::OK),
        "{statuses:?}"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn bad_deployments_name_the_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "ghost", "environment": "dev", "version": "1"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), vec!["service"]);
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "moon", "version": "1"}),
        )
        .await;
    assert_eq!(a.error_fields(), vec!["environment"]);
    let a = app
        .post("/api/v1/deployments", json!({"service": "checkout-api", "environment": "dev", "version": " ", "commit_sha": "xyz",
            "finished_at": "2099-01-01T00:00:00Z", "changes": [{"sha": "nothex!", "author": "A", "committed_at": "2026-01-01T00:00:00Z"}]}))
        .await;
    assert_eq!(
        a.error_fields(),
        vec!["version", "commit_sha", "finished_at", "changes[0].sha"]
    );
    let a = app.post("/api/v1/deployments", json!({"service": "checkout-api", "environment": "dev", "version": "1", "status": "done"})).await;
    assert_eq!(a.error_fields(), vec!["status"]);
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "dev", "version": "1",
        "changes": [{"sha": "abcdef1", "author": "A", "committed_at": "yesterday"}]}),
        )
        .await;
    assert_eq!(a.error_fields(), vec!["changes[0].committed_at"]);
    let a = app.post("/api/v1/deployments", json!({"service": "checkout-api", "environment": "dev", "version": "1", "status": "queued", "finished_at": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(a.error_fields(), vec!["finished_at"]);

    app.post("/api/v1/environments/dev/archive", json!({}))
        .await;
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "dev", "version": "1"}),
        )
        .await;
    assert_eq!(a.error_fields(), vec!["environment"]);
    app.post("/api/v1/services/search-indexer/archive", json!({}))
        .await;
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": "search-indexer", "environment": "prod", "version": "1"}),
        )
        .await;
    assert_eq!(a.error_fields(), vec!["service"]);
    assert!(a.text.contains("archived"));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn status_moves_follow_the_state_machine(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let d = app.create("/api/v1/deployments", json!({"service": "checkout-api", "environment": "prod", "version": "3.0.0", "status": "queued"})).await;
    let id = d["id"].as_i64().expect("id");
    assert!(d["started_at"].is_null() && d["finished_at"].is_null());
    let url = format!("/api/v1/deployments/{id}/status");

    let a = app.post(&url, json!({"status": "succeeded"})).await;
    assert_eq!(
        a.status,
        StatusCode::CONFLICT,
        "queued cannot jump to succeeded"
    );
    let a = app
        .post(
            &url,
            json!({"status": "in_progress", "at": "2026-11-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["started_at"], "2026-11-01T10:00:00Z");
    let a = app.post(&url, json!({"status": "in_progress"})).await;
    assert_eq!(
        (a.status, a.body["started_at"].as_str()),
        (StatusCode::OK, Some("2026-11-01T10:00:00Z")),
        "a retried move changes nothing"
    );
    let a = app
        .post(
            &url,
            json!({"status": "succeeded", "at": "2026-11-01T09:00:00Z"}),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "finishing before starting"
    );
    assert_eq!(a.error_fields(), vec!["at"]);
    let a = app
        .post(
            &url,
            json!({"status": "succeeded", "at": "2026-11-01T10:07:00Z"}),
        )
        .await;
    assert_eq!(
        (a.body["status"].as_str(), a.body["finished_at"].as_str()),
        (Some("succeeded"), Some("2026-11-01T10:07:00Z"))
    );
    let a = app.post(&url, json!({"status": "rolled_back"})).await;
    assert_eq!(a.body["status"], "rolled_back");
    let a = app.post(&url, json!({"status": "succeeded"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.text.contains("final"));
    assert_eq!(
        app.post(
            &url,
            json!({"status": "rolled_back", "at": "2099-01-01T00:00:00Z"})
        )
        .await
        .error_fields(),
        vec!["at"]
    );
    assert_eq!(
        app.post(
            "/api/v1/deployments/424242/status",
            json!({"status": "failed"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&url, json!({"status": "paused"}))
            .await
            .error_fields(),
        vec!["status"]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_feed_filters_and_pages_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let mut ids = Vec::new();
    for (service, env, status, kind) in [
        ("checkout-api", "dev", "succeeded", "normal"),
        ("checkout-api", "prod", "failed", "normal"),
        ("search-indexer", "prod", "succeeded", "hotfix"),
        ("payment-gateway", "staging", "succeeded", "normal"),
        ("checkout-api", "prod", "succeeded", "rollback"),
    ] {
        let d = app.create("/api/v1/deployments", json!({"service": service, "environment": env, "version": "1", "status": status, "kind": kind})).await;
        ids.push(d["id"].as_i64().expect("id"));
    }
    let ids_of = |v: &serde_json::Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|d| d["id"].as_i64().expect("id"))
            .collect()
    };
    let all = app.get("/api/v1/deployments").await.body;
    assert_eq!(ids_of(&all), ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(
        ids_of(
            &app.get("/api/v1/deployments?service=checkout-api&environment=prod")
                .await
                .body
        ),
        vec![ids[4], ids[1]]
    );
    assert_eq!(
        ids_of(&app.get("/api/v1/deployments?status=failed").await.body),
        vec![ids[1]]
    );
    assert_eq!(
        ids_of(&app.get("/api/v1/deployments?kind=hotfix").await.body),
        vec![ids[2]]
    );
    assert_eq!(
        ids_of(&app.get("/api/v1/deployments?team=search").await.body),
        vec![ids[2]]
    );
    assert_eq!(
        ids_of(&app.get("/api/v1/deployments?production=true").await.body),
        vec![ids[4], ids[2], ids[1]]
    );
    let p1 = app.get("/api/v1/deployments?limit=2").await.body;
    assert_eq!(ids_of(&p1), vec![ids[4], ids[3]]);
    let c = p1["next_cursor"].as_str().expect("cursor");
    assert_eq!(
        ids_of(
            &app.get(&format!("/api/v1/deployments?limit=2&cursor={c}"))
                .await
                .body
        ),
        vec![ids[2], ids[1]]
    );
    assert_eq!(
        app.get("/api/v1/deployments?service=ghost").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/deployments?environment=moon").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/deployments?status=weird").await.status,
        StatusCode::BAD_REQUEST
    );
}
