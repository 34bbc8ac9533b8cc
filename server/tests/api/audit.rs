//! The audit log: written with every change, append-only, and a chain that names tampering.

use axum::http::StatusCode;
use portolan_server::audit::{model::Finding, verify};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::TestApp;

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn every_change_is_recorded_with_before_and_after(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let created = app
        .post(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "Payments"}),
        )
        .await;
    let request_id = created.headers["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    app.patch("/api/v1/teams/payments", json!({"description": "Money"}))
        .await;

    let log = app
        .get("/api/v1/audit?target_kind=team&target_id=payments")
        .await
        .body;
    let items = log["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let (update, create) = (&items[0], &items[1]);
    assert_eq!(create["action"], "team.create");
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["name"], "Payments");
    assert_eq!(create["actor_kind"], "user");
    assert_eq!(create["actor_id"], "test-tenant:admin");
    assert_eq!(
        create["request_id"], request_id,
        "the record carries the request id"
    );
    assert_eq!(update["action"], "team.update");
    assert_eq!(
        (
            update["before"]["description"].as_str(),
            update["after"]["description"].as_str()
        ),
        (Some(""), Some("Money"))
    );
    assert_eq!(update["seq"].as_i64(), Some(2));
    assert_eq!(update["hash"].as_str().map(str::len), Some(64));

    // A refused change records nothing: it rolled back with its transaction.
    let before = count(&pool).await;
    assert_eq!(
        app.post(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "Again"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post("/api/v1/teams/nobody/archive", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(&pool).await, before);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn every_kind_of_change_is_recorded(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.scene().await;
    app.put(
        "/api/v1/services/checkout-api/dependencies/payment-gateway",
        json!({"kind": "sync"}),
    )
    .await;
    app.delete("/api/v1/services/checkout-api/dependencies/payment-gateway")
        .await;
    app.post("/api/v1/services/search-indexer/archive", json!({}))
        .await;
    app.post("/api/v1/environments/staging/archive", json!({}))
        .await;
    let d = app.create("/api/v1/deployments", json!({"service": "checkout-api", "environment": "prod", "version": "1", "status": "in_progress", "external_id": "e1"})).await;
    let id = d["id"].as_i64().expect("id");
    app.post(
        &format!("/api/v1/deployments/{id}/status"),
        json!({"status": "succeeded"}),
    )
    .await;
    // Retries change nothing and record nothing.
    app.post(
        &format!("/api/v1/deployments/{id}/status"),
        json!({"status": "succeeded"}),
    )
    .await;
    app.post("/api/v1/deployments", json!({"service": "checkout-api", "environment": "prod", "version": "1", "status": "in_progress", "external_id": "e1"})).await;
    app.post("/api/v1/services/search-indexer/archive", json!({}))
        .await;

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(&pool)
        .await
        .expect("actions");
    assert_eq!(
        actions,
        vec![
            "team.create",
            "team.create",
            "system.create",
            "service.create",
            "service.create",
            "service.create",
            "environment.create",
            "environment.create",
            "environment.create",
            "dependency.create",
            "dependency.delete",
            "service.archive",
            "environment.archive",
            "deployment.record",
            "deployment.succeeded",
        ]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_database_refuses_to_change_the_log(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.scene().await;
    for sql in [
        "UPDATE audit_log SET actor_name = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let v = verify(&pool).await.expect("verify");
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    assert_eq!(v.rows, 9);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn verify_names_an_edited_and_a_removed_record(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.scene().await;
    let mut conn = pool.acquire().await.expect("conn");
    // Behind the application's back: a superuser session that skips triggers.
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("replica");
    sqlx::query(
        "UPDATE audit_log SET after = jsonb_set(after, '{name}', '\"Innocent\"') WHERE seq = 4",
    )
    .execute(&mut *conn)
    .await
    .expect("edit");
    let id4: i64 = sqlx::query_scalar("SELECT id FROM audit_log WHERE seq = 4")
        .fetch_one(&mut *conn)
        .await
        .expect("id");
    let v = verify(&pool).await.expect("verify");
    assert_eq!(v.findings, vec![Finding::Edited { seq: 4, id: id4 }]);
    assert_eq!(
        v.findings[0].to_string(),
        format!("record seq 4 (id {id4}) was changed after it was written")
    );

    sqlx::query("DELETE FROM audit_log WHERE seq = 7")
        .execute(&mut *conn)
        .await
        .expect("delete");
    let id8: i64 = sqlx::query_scalar("SELECT id FROM audit_log WHERE seq = 8")
        .fetch_one(&mut *conn)
        .await
        .expect("id");
    let v = verify(&pool).await.expect("verify");
    assert_eq!(
        v.findings,
        vec![
            Finding::Edited { seq: 4, id: id4 },
            Finding::Missing {
                from_seq: 7,
                to_seq: 7
            },
            Finding::Unlinked { seq: 8, id: id8 }
        ]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn concurrent_changes_append_one_unbroken_chain(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::new(pool.clone()).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.post(
                "/api/v1/teams",
                json!({"slug": format!("team-{i}"), "name": format!("Team {i}")}),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::CREATED);
    }
    let v = verify(&pool).await.expect("verify");
    assert_eq!(v.rows, 12);
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn admins_export_the_log_oldest_first_as_csv_or_json_lines(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.scene().await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(total > 5);

    let csv = app.get("/api/v1/audit/export").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .expect("disposition")
            .starts_with("attachment; filename=\"portolan-audit-")
    );
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "seq,at,actor_kind,actor_id,actor_name,action,target_kind,target_id,request_id,before,after,hash"
        )
    );
    assert_eq!(lines.clone().count() as i64, total, "one line per record");
    assert!(
        lines.next().expect("first").starts_with("\"1\","),
        "oldest first"
    );

    let jsonl = app
        .get("/api/v1/audit/export?format=jsonl&action=team.create")
        .await;
    assert_eq!(jsonl.status, StatusCode::OK);
    let records: Vec<Value> = jsonl
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
        .collect();
    let teams: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'team.create'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(records.len() as i64, teams, "the filter applies");
    assert!(
        records
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );

    // More records than one chunk of the stream: none lost or repeated at the seams.
    sqlx::query(
        "INSERT INTO audit_log (seq, actor_kind, actor_id, actor_name, action, target_kind, target_id,
                                prev_hash, hash)
         SELECT 0, 'system', 'system', 'Portolan', 'test.bulk', 'test', n::text, '\\x', '\\x'
           FROM generate_series(1, 2500) AS n",
    )
    .execute(&pool)
    .await
    .expect("bulk");
    let all = app.get("/api/v1/audit/export?format=jsonl").await;
    let seqs: Vec<i64> = all
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["seq"]
                .as_i64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs.len() as i64, total + 2500);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "every seq once, in order"
    );

    // A display name from the directory that a spreadsheet would run as a formula.
    sqlx::query(
        "INSERT INTO audit_log (seq, actor_kind, actor_id, actor_name, action, target_kind, target_id,
                                prev_hash, hash)
         VALUES (0, 'user', 't:o', '=HYPERLINK(\"http://x\")', 'test.formula', 'test', '1', '\\x', '\\x')",
    )
    .execute(&pool)
    .await
    .expect("formula");
    let csv = app.get("/api/v1/audit/export?action=test.formula").await;
    assert!(
        csv.text.contains(r#""'=HYPERLINK(""http://x"")""#),
        "the formula is defused and quoted: {}",
        csv.text
    );

    let bad = app.get("/api/v1/audit/export?format=xml").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["format"]);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_log_is_filtered_by_time_and_bad_filters_are_named(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.create(
        "/api/v1/teams",
        json!({"slug": "payments", "name": "Payments"}),
    )
    .await;
    let first_at = app.get("/api/v1/audit?limit=1").await.body["items"][0]["at"]
        .as_str()
        .expect("at")
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.patch("/api/v1/teams/payments", json!({"description": "Money"}))
        .await;
    let second_at = app.get("/api/v1/audit?limit=1").await.body["items"][0]["at"]
        .as_str()
        .expect("at")
        .to_string();
    let actions = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|r| r["action"].as_str().map(str::to_string))
            .collect()
    };
    let enc = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    // `since` is inclusive, `until` exclusive.
    let since = app
        .get(&format!("/api/v1/audit?since={}", enc(&second_at)))
        .await;
    assert_eq!(since.status, StatusCode::OK, "{}", since.text);
    assert_eq!(actions(&since.body), ["team.update"]);
    let until = app
        .get(&format!("/api/v1/audit?until={}", enc(&second_at)))
        .await;
    assert_eq!(actions(&until.body), ["team.create"]);
    let window = app
        .get(&format!(
            "/api/v1/audit?since={}&until={}",
            enc(&first_at),
            enc(&second_at)
        ))
        .await;
    assert_eq!(actions(&window.body), ["team.create"]);
    // A whole day, as a date: today (UTC) holds both; the day before holds neither.
    let today = &first_at[..10];
    let day = app
        .get(&format!("/api/v1/audit?since={today}&until={today}"))
        .await;
    assert_eq!(actions(&day.body), ["team.update", "team.create"]);
    let before = app.get("/api/v1/audit?until=2000-01-01").await;
    assert_eq!(actions(&before.body), Vec::<String>::new());
    // The export takes the same filters.
    let export = app
        .get(&format!(
            "/api/v1/audit/export?format=jsonl&since={}",
            enc(&second_at)
        ))
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.text.lines().count(), 1, "{}", export.text);
    assert!(export.text.contains("team.update"));

    let bad = app
        .get("/api/v1/audit?target_kind=spaceship&since=yesterday&until=2026-02-30")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["target_kind", "since", "until"]);
    assert!(
        bad.text.contains("'spaceship' is not a kind of record"),
        "{}",
        bad.text
    );
    let bad = app
        .get("/api/v1/audit/export?since=2026-11-02&until=2026-11-01")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["until"]);
}
