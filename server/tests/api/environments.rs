//! The pipeline, the matrix and each service's versions.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::TestApp;

fn order(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| {
            (
                e["slug"].as_str().expect("slug").to_string(),
                e["position"].as_i64().expect("position"),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(s, p)| (s.to_string(), *p)).collect()
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_pipeline_keeps_its_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("dev", 1), ("staging", 2), ("prod", 3)])
    );

    let qa = app
        .post(
            "/api/v1/environments",
            json!({"slug": "qa", "name": "QA", "position": 2}),
        )
        .await;
    assert_eq!(qa.status, StatusCode::CREATED);
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("dev", 1), ("qa", 2), ("staging", 3), ("prod", 4)])
    );

    let bad = app
        .post(
            "/api/v1/environments",
            json!({"slug": "late", "name": "Late", "position": 9}),
        )
        .await;
    assert_eq!(bad.error_fields(), vec!["position"]);
    assert_eq!(
        app.post(
            "/api/v1/environments",
            json!({"slug": "dev", "name": "Dev"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );

    let moved = app
        .patch("/api/v1/environments/qa", json!({"position": 1}))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("qa", 1), ("dev", 2), ("staging", 3), ("prod", 4)])
    );
    app.patch("/api/v1/environments/qa", json!({"position": 3}))
        .await;
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("dev", 1), ("staging", 2), ("qa", 3), ("prod", 4)])
    );
    assert_eq!(
        app.patch("/api/v1/environments/qa", json!({"position": 5}))
            .await
            .error_fields(),
        vec!["position"]
    );

    let archived = app
        .post("/api/v1/environments/staging/archive", json!({}))
        .await;
    assert_eq!(archived.body["archived"], true);
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("dev", 1), ("qa", 2), ("prod", 3)])
    );
    app.post("/api/v1/environments/staging/restore", json!({}))
        .await;
    assert_eq!(
        order(&app.get("/api/v1/environments").await.body),
        pairs(&[("dev", 1), ("qa", 2), ("prod", 3), ("staging", 4)])
    );

    let renamed = app
        .patch(
            "/api/v1/environments/prod",
            json!({"name": "Production", "is_production": true}),
        )
        .await;
    assert_eq!(
        (
            renamed.body["name"].as_str(),
            renamed.body["position"].as_i64()
        ),
        (Some("Production"), Some(3))
    );
    assert_eq!(
        app.get("/api/v1/environments/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn deploy(
    app: &TestApp,
    service: &str,
    env: &str,
    version: &str,
    status: &str,
    finished: &str,
) -> i64 {
    let mut body =
        json!({"service": service, "environment": env, "version": version, "status": status});
    if status != "queued" && status != "in_progress" {
        body["finished_at"] = json!(finished);
    }
    app.create("/api/v1/deployments", body).await["id"]
        .as_i64()
        .expect("id")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn what_runs_where_is_derived_from_deployments(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    deploy(
        &app,
        "checkout-api",
        "dev",
        "1.1.0",
        "succeeded",
        "2026-01-01T10:00:00Z",
    )
    .await;
    deploy(
        &app,
        "checkout-api",
        "staging",
        "1.1.0",
        "succeeded",
        "2026-01-01T11:00:00Z",
    )
    .await;
    deploy(
        &app,
        "checkout-api",
        "prod",
        "1.0.0",
        "succeeded",
        "2026-01-01T09:00:00Z",
    )
    .await;
    let bad = deploy(
        &app,
        "checkout-api",
        "prod",
        "1.1.0",
        "succeeded",
        "2026-01-01T12:00:00Z",
    )
    .await;
    deploy(
        &app,
        "checkout-api",
        "dev",
        "1.2.0",
        "failed",
        "2026-01-02T10:00:00Z",
    )
    .await;
    deploy(&app, "checkout-api", "dev", "1.3.0", "in_progress", "").await;
    // 1.1.0 in prod was rolled back: prod runs 1.0.0 again.
    let r = app
        .post(
            &format!("/api/v1/deployments/{bad}/status"),
            json!({"status": "rolled_back"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    deploy(
        &app,
        "checkout-api",
        "prod",
        "1.0.0",
        "succeeded",
        "2026-01-01T12:30:00Z",
    )
    .await;

    let v = app.get("/api/v1/services/checkout-api/versions").await.body;
    let cells: Vec<(String, Option<String>, Option<bool>)> = v["environments"]
        .as_array()
        .expect("envs")
        .iter()
        .map(|e| {
            (
                e["environment"]["slug"].as_str().expect("slug").to_string(),
                e["current"]["version"].as_str().map(str::to_string),
                e["current"]["differs_from_previous"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        vec![
            ("dev".into(), Some("1.1.0".into()), Some(false)),
            ("staging".into(), Some("1.1.0".into()), Some(false)),
            ("prod".into(), Some("1.0.0".into()), Some(true)),
        ]
    );
    assert!(
        v["environments"][0]["current"]["age_seconds"]
            .as_i64()
            .expect("age")
            > 86_400
    );

    let m = app.get("/api/v1/matrix?limit=2").await.body;
    let envs: Vec<&str> = m["environments"]
        .as_array()
        .expect("envs")
        .iter()
        .map(|e| e["slug"].as_str().expect("s"))
        .collect();
    assert_eq!(envs, vec!["dev", "staging", "prod"]);
    assert_eq!(m["rows"][0]["service"]["slug"], "checkout-api");
    assert_eq!(m["rows"][0]["cells"][2]["version"], "1.0.0");
    assert!(
        m["rows"][1]["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .all(Value::is_null),
        "never deployed"
    );
    let next = m["next_cursor"].as_str().expect("a second page");
    let m2 = app
        .get(&format!("/api/v1/matrix?limit=2&cursor={next}"))
        .await
        .body;
    assert_eq!(m2["rows"][0]["service"]["slug"], "search-indexer");
    assert!(m2["next_cursor"].is_null());
    assert_eq!(
        app.get("/api/v1/matrix?team=search").await.body["rows"]
            .as_array()
            .expect("rows")
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/services/nope/versions").await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn gate_policies_are_versioned_checked_and_audited(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let path = "/api/v1/environments/prod/gate";
    // Never set: the default applies, as version 0.
    let first = admin.get(path).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["version"], 0);
    assert_eq!(first.body["policy"]["require_previous_success"], true);
    assert_eq!(first.body["policy"]["expire_after_hours"], 72);

    // Bad policies are named field by field; nothing is saved.
    let bad = admin
        .put(
            path,
            json!({"reason": "tighten", "policy": {
                "approvals": [{"name": "", "count": 0}],
                "allowed_hours": {"days": ["mon"], "from": "17:00", "until": "09:00", "time_zone": "Europe/Berlin"}}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(
        bad.error_fields(),
        [
            "policy.approvals[0].name",
            "policy.approvals[0].count",
            "policy.allowed_hours"
        ]
    );
    let typo = admin
        .put(path, json!({"reason": "x", "policy": {"aprovals": []}}))
        .await;
    assert_eq!(
        typo.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        typo.text
    );
    let no_reason = admin.put(path, json!({"reason": " ", "policy": {}})).await;
    assert_eq!(no_reason.error_fields(), ["reason"]);

    // Only admins shape the pipeline's gates; everyone reads them.
    let policy = json!({"approvals": [{"name": "Release managers", "count": 2, "roles": ["approver@prod"]}],
                        "soak_minutes": 240, "exclude_commit_authors": true});
    let dev = admin.as_roles("dana", &["developer"]).await;
    assert_eq!(
        dev.put(path, json!({"reason": "mine", "policy": policy.clone()}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let saved = admin
        .put(path, json!({"reason": "Two approvals for prod", "policy": policy.clone(), "expected_version": 0}))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.body["version"], 1);
    assert_eq!(saved.body["policy"]["approvals"][0]["count"], 2);
    assert_eq!(dev.get(path).await.body["version"], 1);
    // A save from an old version is refused.
    let stale = admin
        .put(
            path,
            json!({"reason": "again", "policy": {}, "expected_version": 0}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
    admin
        .put(
            path,
            json!({"reason": "Back to the default", "policy": {}, "expected_version": 1}),
        )
        .await;
    let history = admin
        .get("/api/v1/environments/prod/gate/history")
        .await
        .body;
    let versions: Vec<(i64, &str)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap_or(-1),
                v["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [(2, "Back to the default"), (1, "Two approvals for prod")]
    );

    // Versions are history: the database refuses to change one.
    let changed = sqlx::query("UPDATE gate_policies SET reason = 'rewritten'")
        .execute(&pool)
        .await;
    assert!(changed.is_err(), "a kept version was changed");
    let audit = admin
        .get("/api/v1/audit?action=environment.gate")
        .await
        .body;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        admin.get("/api/v1/environments/nowhere/gate").await.status,
        StatusCode::NOT_FOUND
    );
}
