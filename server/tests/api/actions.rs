//! Action items through the router: adding them to an incident (and refusing bad input), moving
//! them to done or won't do, stale changes, the lists and the follow-through figures.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::TestApp;

async fn incident(app: &TestApp, title: &str) -> i64 {
    let a = app
        .post(
            "/api/v1/incidents",
            json!({"title": title, "severity": "sev2", "services": ["checkout-api"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["id"].as_i64().expect("id")
}

fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

fn refs(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["reference"].as_str().expect("reference").to_string())
        .collect()
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn action_items_are_added_worked_on_and_closed_with_reasons(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    let id = incident(&sre, "Checkout down").await;
    let path = format!("/api/v1/incidents/{id}/action-items");

    // Everything wrong at once: each field is named.
    let bad = sre
        .post(
            &path,
            json!({"title": " ", "kind": "fix", "priority": "high", "team": "nobody",
                   "assignee": "test-tenant:ghost", "due_on": "2020-01-01",
                   "ticket_url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(
        bad.error_fields(),
        [
            "title",
            "kind",
            "priority",
            "due_on",
            "ticket_url",
            "team",
            "assignee"
        ]
    );
    assert!(
        bad.text.contains("use prevent, mitigate, detect, process"),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("is in the past"), "{}", bad.text);
    let unknown = sre
        .post(&path, json!({"title": "x", "kind": "prevent", "priority": "p1", "team": "payments", "owner": "x"}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );

    // Adding is for those who run incidents.
    let item = json!({"title": "Alert on checkout error rate", "kind": "detect", "priority": "p1",
                      "team": "payments", "ticket_url": "https://tickets.example.com/PAY-12"});
    assert_eq!(
        dev.post(&path, item.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.anonymous().post(&path, item.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let created = sre.post(&path, item).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let ai = created.body.clone();
    let ai_id = ai["id"].as_i64().expect("id");
    assert_eq!(ai["reference"], format!("AI-{ai_id}"));
    assert_eq!(ai["incident_reference"], format!("INC-{id}"));
    assert_eq!(ai["state"], "open");
    assert_eq!(ai["team"]["slug"], "payments");
    assert_eq!(ai["assignee"], Value::Null);
    assert_eq!(
        ai["due_on"],
        (today() + Duration::days(14)).to_string(),
        "P1 is due in two weeks"
    );
    assert_eq!(ai["moves"], json!(["in_progress", "done", "wont_do"]));
    assert_eq!(ai["overdue"], false);
    let item_path = format!("/api/v1/action-items/{ai_id}");
    assert_eq!(
        viewer.get(&item_path).await.body["title"],
        "Alert on checkout error rate"
    );
    assert_eq!(refs(&viewer.get(&path).await.body), [format!("AI-{ai_id}")]);

    // A developer picks it up; a viewer may not.
    let pick =
        json!({"state": "in_progress", "assignee": "test-tenant:dana", "expected_version": 1});
    assert_eq!(
        viewer.patch(&item_path, pick.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let picked = dev.patch(&item_path, pick.clone()).await;
    assert_eq!(picked.status, StatusCode::OK, "{}", picked.text);
    assert_eq!(picked.body["state"], "in_progress");
    assert_eq!(picked.body["assignee"]["name"], "Test dana");
    assert_eq!(picked.body["version"], 2);
    // The same change from the old copy is refused, and says why.
    let stale = sre.patch(&item_path, pick).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
    assert!(stale.text.contains("it is now at 2"), "{}", stale.text);
    assert_eq!(
        refs(&dev.get("/api/v1/action-items?assignee=me").await.body["items"]),
        [format!("AI-{ai_id}")]
    );
    assert!(refs(&sre.get("/api/v1/action-items?assignee=me").await.body["items"]).is_empty());

    // Dropping it needs a reason; moves outside the machine are refused.
    let no_reason = dev.patch(&item_path, json!({"state": "wont_do"})).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.error_fields(), ["state_note"]);
    let done = dev
        .patch(
            &item_path,
            json!({"state": "done", "state_note": "Alert live since 10:00"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.body["closed_at"].is_string());
    assert_eq!(done.body["moves"], json!(["open"]));
    let sideways = dev.patch(&item_path, json!({"state": "in_progress"})).await;
    assert_eq!(sideways.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        sideways.text.contains("from done it can only move to open"),
        "{}",
        sideways.text
    );
    let edit_closed = dev
        .patch(&item_path, json!({"title": "Quietly renamed"}))
        .await;
    assert_eq!(edit_closed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        edit_closed.text.contains("reopen it"),
        "{}",
        edit_closed.text
    );

    // Reopened, it is open again and forgets when it closed.
    let reopened = sre
        .patch(
            &item_path,
            json!({"state": "open", "due_on": (today() + Duration::days(3)).to_string()}),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text);
    assert_eq!(reopened.body["closed_at"], Value::Null);
    assert_eq!(reopened.body["state_note"], "");
    let dropped = sre
        .patch(&item_path, json!({"state": "wont_do", "state_note": "Covered by the new SLO alerts", "ticket_url": null}))
        .await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.text);
    assert_eq!(dropped.body["state_note"], "Covered by the new SLO alerts");
    assert_eq!(dropped.body["ticket_url"], Value::Null);

    // Every change is in the audit log.
    let audit = admin
        .get(&format!(
            "/api/v1/audit?target_kind=action_item&target_id={ai_id}"
        ))
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "action_item.transition",
            "action_item.transition",
            "action_item.transition",
            "action_item.transition",
            "action_item.create"
        ]
    );

    assert_eq!(
        sre.get("/api/v1/action-items/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sre.get("/api/v1/incidents/999999/action-items")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn declined_and_merged_incidents_take_no_action_items(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let id = incident(&admin, "False alarm").await;
    let moved = admin
        .post(
            &format!("/api/v1/incidents/{id}/transition"),
            json!({"to": "declined", "note": "The alert fired on a test account"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let refused = admin
        .post(
            &format!("/api/v1/incidents/{id}/action-items"),
            json!({"title": "Tune the alert", "kind": "detect", "priority": "p3", "team": "payments"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("declined"), "{}", refused.text);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM action_items")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

/// Moves an item's creation and due date into the past, as time would.
async fn age(pool: &PgPool, id: i64, created_days_ago: i64, due_days_ago: i64) {
    sqlx::query(
        "UPDATE action_items SET created_at = now() - make_interval(days => $2),
                due_on = (now() AT TIME ZONE 'UTC')::date - $3::int WHERE id = $1",
    )
    .bind(id)
    .bind(created_days_ago as i32)
    .bind(due_days_ago as i32)
    .execute(pool)
    .await
    .expect("age an item");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn follow_through_shows_what_is_open_and_overdue_per_team(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let id = incident(&admin, "Search returns nothing").await;
    let path = format!("/api/v1/incidents/{id}/action-items");
    let mut ids = Vec::new();
    for (title, team, priority) in [
        ("Canary the indexer", "search", "p1"),
        ("Rollback runbook", "search", "p2"),
        ("Retry budget for gateway", "payments", "p2"),
        ("Dashboard for queue depth", "payments", "p3"),
    ] {
        let b = admin
            .create(
                &path,
                json!({"title": title, "kind": "prevent", "priority": priority, "team": team}),
            )
            .await;
        ids.push(b["id"].as_i64().expect("id"));
    }
    // Search: one 40 days old and 10 days late, one fresh. Payments: one late by a day, one
    // done on time.
    age(&pool, ids[0], 40, 10).await;
    age(&pool, ids[2], 20, 1).await;
    age(&pool, ids[3], 12, -5).await;
    let done = admin
        .patch(
            &format!("/api/v1/action-items/{}", ids[3]),
            json!({"state": "done"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);

    let org = admin.get("/api/v1/action-items/follow-through").await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.text);
    let o = &org.body;
    assert_eq!(o["team"], Value::Null);
    assert_eq!(
        (o["open"].as_i64(), o["overdue"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(o["closed_last_30_days"], 1);
    assert_eq!(o["oldest_open_days"], 40);
    assert_eq!(o["median_open_age_days"], 20);
    assert_eq!(o["on_time_percent"], 100);
    assert_eq!(o["median_days_to_done"], 12);
    assert_eq!(o["trend"].as_array().map(Vec::len), Some(12));
    let this_week = &o["trend"][11];
    assert_eq!(
        (
            this_week["open_at_end"].as_i64(),
            this_week["overdue_at_end"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let ages: Vec<i64> = o["ages"]
        .as_array()
        .expect("ages")
        .iter()
        .filter_map(|b| b["open"].as_i64())
        .collect();
    assert_eq!(ages, [1, 1, 1, 0]);
    // Teams with the most overdue first; both have one.
    let teams: Vec<(&str, i64, i64)> = o["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|t| {
            (
                t["team"]["slug"].as_str().unwrap_or(""),
                t["open"].as_i64().unwrap_or(-1),
                t["overdue"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(teams, [("search", 2, 1), ("payments", 1, 1)]);
    // Open items, the most overdue first.
    assert_eq!(
        refs(&o["items"]),
        [
            format!("AI-{}", ids[0]),
            format!("AI-{}", ids[2]),
            format!("AI-{}", ids[1])
        ]
    );
    assert_eq!(o["items"][0]["overdue"], true);
    assert_eq!(o["items"][0]["age_days"], 40);

    let search = admin
        .get("/api/v1/action-items/follow-through?team=search")
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text);
    assert_eq!(search.body["team"]["name"], "Search");
    assert_eq!(
        (
            search.body["open"].as_i64(),
            search.body["overdue"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(search.body["teams"], json!([]));
    assert_eq!(
        search.body["on_time_percent"],
        Value::Null,
        "nothing done: no share, not 0%"
    );

    let unknown = admin
        .get("/api/v1/action-items/follow-through?team=nobody")
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.error_fields(), ["team"]);

    // The list's filters.
    let overdue = admin.get("/api/v1/action-items?state=overdue").await;
    assert_eq!(
        refs(&overdue.body["items"]),
        [format!("AI-{}", ids[2]), format!("AI-{}", ids[0])]
    );
    let closed = admin
        .get("/api/v1/action-items?state=closed&team=payments")
        .await;
    assert_eq!(refs(&closed.body["items"]), [format!("AI-{}", ids[3])]);
    let paged = admin.get("/api/v1/action-items?limit=3").await;
    assert_eq!(paged.body["items"].as_array().map(Vec::len), Some(3));
    let cursor = paged.body["next_cursor"].as_str().expect("a next page");
    let rest = admin
        .get(&format!("/api/v1/action-items?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(refs(&rest.body["items"]), [format!("AI-{}", ids[0])]);
    let bad = admin
        .get("/api/v1/action-items?state=late&team=nobody")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["state", "team"]);
}
