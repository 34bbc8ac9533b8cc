//! Postmortems through the router: writing (and refusing a stale save), review by named people,
//! publishing, revisions, the policy list, previews and exports.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::TestApp;

async fn incident(app: &TestApp, severity: &str) -> i64 {
    let a = app
        .post(
            "/api/v1/incidents",
            json!({"title": "Checkout down", "severity": severity}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["id"].as_i64().expect("id")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn writing_a_postmortem_never_loses_a_concurrent_edit(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let id = incident(&sre, "sev2").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");
    assert_eq!(sre.get(&path).await.status, StatusCode::NOT_FOUND);
    let started = sre.post(&path, json!({})).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    assert_eq!(started.body["state"], "draft");
    assert_eq!(
        started.body["sections"].as_object().map(|o| o.len()),
        Some(10)
    );
    assert_eq!(
        sre.post(&path, json!({})).await.status,
        StatusCode::CONFLICT
    );

    // Two people start from version 1; the first save wins, the second is refused whole.
    let first = sre
        .put(
            &path,
            json!({"base_version": 1, "sections": {"summary": "Checkout **failed** for 20 min."}}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["version"], 2);
    assert!(
        first.body["rendered"]["summary"]
            .as_str()
            .is_some_and(|h| h.contains("<strong>failed</strong>"))
    );
    let stale = sre
        .put(
            &path,
            json!({"base_version": 1, "sections": {"summary": "Something else"}}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.text.contains("nothing was saved"), "{}", stale.text);
    assert_eq!(
        sre.get(&path).await.body["sections"]["summary"],
        "Checkout **failed** for 20 min.",
        "the first save stands"
    );

    // Bad sections are named; a developer may not write.
    let bad = sre
        .put(
            &path,
            json!({"base_version": 2, "sections": {"gossip": "x", "impact": "y".repeat(100_001)}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["sections.gossip", "sections.impact"]);
    let dev = admin.as_roles("dana", &["developer"]).await;
    assert_eq!(
        dev.put(&path, json!({"base_version": 2, "sections": {}}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Script in the text is stored as written and rendered harmless.
    let xss = sre
        .put(
            &path,
            json!({"base_version": 2, "sections": {"impact":
                "<script>alert(1)</script>[click](javascript:alert(2)) <img src=x onerror=alert(3)>"}}),
        )
        .await;
    assert_eq!(xss.status, StatusCode::OK, "{}", xss.text);
    let html = xss.body["rendered"]["impact"].as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("href=\"javascript:"), "{html}");
    assert!(!html.contains("onerror"), "{html}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn named_reviewers_approve_then_it_is_published_and_revised_visibly(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let reviewer = admin.as_roles("rita", &["viewer"]).await;
    let stranger = admin.as_roles("sam", &["sre"]).await;
    let id = incident(&sre, "sev1").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");
    sre.post(&path, json!({})).await;
    sre.put(
        &path,
        json!({"base_version": 1, "sections": {"root_causes": "Human error by Bob caused the outage."}}),
    )
    .await;
    let pm = sre.get(&path).await.body;
    assert!(
        pm["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["section"] == "root_causes")),
        "the language check informs: {}",
        pm["flags"]
    );

    // Publishing needs a review first.
    assert_eq!(
        sre.post(&format!("{path}/publish"), json!({})).await.status,
        StatusCode::CONFLICT
    );
    let r = sre
        .post(
            &format!("{path}/review-request"),
            json!({"reviewers": ["test-tenant:sasha"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "not your own");
    let r = sre
        .post(
            &format!("{path}/review-request"),
            json!({"reviewers": ["test-tenant:rita", "t:ghost"]}),
        )
        .await;
    assert_eq!(r.error_fields(), ["reviewers[1]"]);
    let r = sre
        .post(
            &format!("{path}/review-request"),
            json!({"reviewers": ["test-tenant:rita"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "in_review");

    // Only the named reviewer decides; changes need a comment, approval every question.
    let review = format!("{path}/review");
    let r = stranger
        .post(
            &review,
            json!({"decision": "approve", "checklist": [true, true, true, true, true, true]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = reviewer
        .post(
            &review,
            json!({"decision": "approve", "checklist": [true, true, false, true, true, true]}),
        )
        .await;
    assert_eq!(r.error_fields(), ["checklist"]);
    let r = reviewer
        .post(&review, json!({"decision": "request_changes"}))
        .await;
    assert_eq!(r.error_fields(), ["comment"]);
    let r = reviewer
        .post(
            &review,
            json!({"decision": "request_changes", "comment": "Name the system conditions, not Bob."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["state"], "draft");
    assert_eq!(
        r.body["review_note"],
        "Name the system conditions, not Bob."
    );

    let version = r.body["version"].as_i64().expect("version");
    sre.put(
        &path,
        json!({"base_version": version, "sections": {"root_causes": "A config flag defaulted to on."}}),
    )
    .await;
    sre.post(
        &format!("{path}/review-request"),
        json!({"reviewers": ["test-tenant:rita"]}),
    )
    .await;
    let r = reviewer
        .post(
            &review,
            json!({"decision": "approve", "checklist": [true, true, true, true, true, true]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["reviewers"][0]["approved_at"].is_string());
    let published = sre.post(&format!("{path}/publish"), json!({})).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.text);
    assert_eq!(published.body["state"], "published");
    assert_eq!(published.body["revision"], 1);

    // Once published, a change is a new revision with a reason, kept for ever.
    let version = published.body["version"].as_i64().expect("version");
    let r = sre
        .put(
            &path,
            json!({"base_version": version, "sections": {"impact": "3,100 failed payments."}}),
        )
        .await;
    assert_eq!(r.error_fields(), ["revision_reason"]);
    let r = sre
        .put(
            &path,
            json!({"base_version": version, "sections": {"impact": "3,100 failed payments."},
                   "revision_reason": "impact counted"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revision"], 2);
    assert_eq!(r.body["state"], "published");
    let revisions = sre.get(&format!("{path}/revisions")).await.body;
    let list: Vec<(i64, String)> = revisions
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or_default(),
                r["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        list,
        [
            (2, "impact counted".to_string()),
            (1, "first publication".to_string())
        ]
    );
    let refused = sqlx::query("DELETE FROM postmortem_revisions")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the database keeps revisions");

    let timeline = sre
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    let texts = crate::incidents::texts(&timeline);
    for expected in [
        "Postmortem started",
        "Postmortem sent for review to Test rita",
        "Postmortem changes requested: Name the system conditions, not Bob.",
        "Postmortem approved",
        "Postmortem published",
        "Postmortem revision 2 published: impact counted",
    ] {
        assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
    }
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn policy_lists_what_is_due_and_exports_render_the_whole_story(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let late = incident(&sre, "sev1").await;
    let minor = incident(&sre, "sev3").await;
    let fresh = incident(&sre, "sev2").await;
    for id in [late, minor, fresh] {
        sre.post(
            &format!("/api/v1/incidents/{id}/transition"),
            json!({"to": "resolved"}),
        )
        .await;
    }
    // The first was resolved ten days ago.
    sqlx::query(
        "UPDATE incidents SET resolved_at = now() - interval '10 days', mitigated_at = now() - interval '10 days',
                detected_at = now() - interval '11 days', declared_at = now() - interval '11 days'
          WHERE id = $1",
    )
    .bind(late)
    .execute(&pool)
    .await
    .expect("age it");
    sre.post(&format!("/api/v1/incidents/{fresh}/postmortem"), json!({}))
        .await;

    let list = sre.get("/api/v1/postmortems").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let rows: Vec<(i64, Value, bool)> = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["incident_id"].as_i64().unwrap_or_default(),
                r["state"].clone(),
                r["overdue"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [(late, Value::Null, true), (fresh, json!("draft"), false)],
        "SEV3 needs none; the overdue one comes first"
    );
    let overdue = sre.get("/api/v1/postmortems?overdue=true").await.body;
    assert_eq!(overdue.as_array().map(Vec::len), Some(1));
    let missing = sre.get("/api/v1/postmortems?state=missing").await.body;
    assert_eq!(missing[0]["incident_id"], late);
    assert_eq!(
        sre.get("/api/v1/postmortems?state=lost")
            .await
            .error_fields(),
        ["state"]
    );

    let path = format!("/api/v1/incidents/{fresh}/postmortem");
    sre.put(
        &path,
        json!({"base_version": 1, "sections": {"summary": "Payments failed.\n\n<script>alert(1)</script>",
               "trigger": "A | pipe in a table"}}),
    )
    .await;
    admin
        .create(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "Payments"}),
        )
        .await;
    let item = admin
        .create(
            &format!("/api/v1/incidents/{fresh}/action-items"),
            json!({"title": "Retry budget | per client", "kind": "mitigate", "priority": "p1",
                   "team": "payments"}),
        )
        .await;
    let md = sre.get(&format!("{path}/export?format=md")).await;
    assert!(
        md.text.contains(&format!(
            "| {} | Retry budget \\| per client | Mitigate | P1 | Payments | {} | Open |",
            item["reference"].as_str().unwrap_or_default(),
            item["due_on"].as_str().unwrap_or_default()
        )),
        "the action items are in it, pipes escaped: {}",
        md.text
    );
    assert_eq!(md.status, StatusCode::OK);
    assert!(
        md.headers["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/markdown"))
    );
    assert!(
        md.text
            .starts_with(&format!("# Postmortem: INC-{fresh} Checkout down")),
        "{}",
        md.text
    );
    assert!(md.text.contains("## Summary\n\nPayments failed."));
    assert!(
        md.text
            .contains("## Where we got lucky\n\n_Not written yet._")
    );
    assert!(
        md.text.contains("| Declared SEV2"),
        "the timeline is in it: {}",
        md.text
    );
    let html = sre.get(&format!("{path}/export?format=html")).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text.contains("<h2>Summary</h2>"));
    assert!(html.text.contains("<h2>Action items</h2>"));
    assert!(
        html.text.contains("<td>Retry budget | per client</td>"),
        "{}",
        html.text
    );
    assert!(
        !html.text.contains("<script>alert"),
        "sanitised: {}",
        html.text
    );
    assert_eq!(
        sre.get(&format!("{path}/export?format=pdf"))
            .await
            .error_fields(),
        ["format"]
    );

    let preview = admin
        .as_roles("vic", &["viewer"])
        .await
        .post(
            "/api/v1/postmortems/preview",
            json!({"markdown": "Alice should have checked the *dashboard*."}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert!(
        preview.body["html"]
            .as_str()
            .is_some_and(|h| h.contains("<em>dashboard</em>"))
    );
    assert!(
        preview.body["flags"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{}",
        preview.body
    );
}
