//! Incidents through the router: declaring, the lifecycle, edits, merging, notes and the list.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::TestApp;

pub fn texts(timeline: &Value) -> Vec<String> {
    timeline
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .collect()
}

async fn declare(app: &TestApp, body: Value) -> Value {
    let a = app.post("/api/v1/incidents", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body
}

async fn move_to(app: &TestApp, id: i64, body: Value) -> crate::Answer {
    app.post(&format!("/api/v1/incidents/{id}/transition"), body)
        .await
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_developer_declares_and_bad_declarations_are_named(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let incident = declare(
        &dev,
        json!({"title": "  Checkout errors  ", "severity": "SEV2",
               "services": ["checkout-api"], "summary": "5xx on /pay"}),
    )
    .await;
    let id = incident["id"].as_i64().expect("id");
    assert_eq!(incident["reference"], format!("INC-{id}"));
    assert_eq!(incident["title"], "Checkout errors");
    assert_eq!(incident["severity"], "sev2");
    assert_eq!(incident["state"], "triage");
    assert_eq!(incident["services"][0]["slug"], "checkout-api");
    assert!(
        incident["detected_at"].is_string(),
        "detected defaults to now"
    );
    assert_eq!(incident["version"], 1);
    let timeline = dev
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    assert_eq!(
        texts(&timeline),
        [format!("Declared SEV2 INC-{id}: Checkout errors")]
    );
    let audit = admin
        .get(&format!(
            "/api/v1/audit?target_kind=incident&target_id={id}"
        ))
        .await
        .body;
    assert_eq!(audit["items"][0]["action"], "incident.declare");

    // A viewer may not declare.
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    let a = viewer
        .post(
            "/api/v1/incidents",
            json!({"title": "x", "severity": "sev4"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    let a = dev
        .post(
            "/api/v1/incidents",
            json!({"title": " ", "severity": "sev9", "services": ["checkout-api", "nope"],
                   "commander": "t:nobody", "started_at": "2026-01-01T10:00:00Z",
                   "detected_at": "2026-01-01T09:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.error_fields(),
        [
            "title",
            "severity",
            "detected_at",
            "services[1]",
            "commander"
        ]
    );
    assert!(a.text.contains("'sev9' is not a severity"), "{}", a.text);
    assert!(a.text.contains("no service has the slug 'nope'"));
    let a = dev
        .post(
            "/api/v1/incidents",
            json!({"title": "x", "severity": "sev4", "priority": "high"}),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused: {}",
        a.text
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1, "nothing half-written by the refusals");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_sre_runs_the_lifecycle_and_illegal_moves_are_refused(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let id = declare(&dev, json!({"title": "Queue backlog", "severity": "sev3"})).await["id"]
        .as_i64()
        .expect("id");

    let a = move_to(&dev, id, json!({"to": "investigating"})).await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "developers declare, SREs run"
    );

    for to in ["investigating", "identified", "monitoring"] {
        let a = move_to(&sre, id, json!({"to": to})).await;
        assert_eq!(a.status, StatusCode::OK, "{to}: {}", a.text);
        assert_eq!(a.body["state"], to);
    }
    // Re-sending the current state changes nothing.
    let before = sre.get(&format!("/api/v1/incidents/{id}")).await.body;
    let a = move_to(&sre, id, json!({"to": "monitoring"})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["version"], before["version"]);

    let a = move_to(&sre, id, json!({"to": "closed"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.text.contains("it must be resolved first"), "{}", a.text);
    let a = move_to(&sre, id, json!({"to": "declined", "note": "x"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = move_to(&sre, id, json!({"to": "sleeping"})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), ["to"]);

    let a = move_to(
        &sre,
        id,
        json!({"to": "resolved", "note": "replayed the queue"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.body["resolved_at"].is_string());
    assert_eq!(
        a.body["mitigated_at"], a.body["resolved_at"],
        "mitigated no later than resolved"
    );
    // The fix did not hold: reopen, then resolve again, then close.
    let a = move_to(&sre, id, json!({"to": "investigating"})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["resolved_at"].is_null());
    assert_eq!(
        move_to(&sre, id, json!({"to": "resolved"})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        move_to(&sre, id, json!({"to": "closed"})).await.status,
        StatusCode::OK
    );
    let a = move_to(&sre, id, json!({"to": "investigating"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.text.contains("closed is final"));
    let a = sre
        .patch(&format!("/api/v1/incidents/{id}"), json!({"title": "late"}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    let timeline = sre
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    assert_eq!(
        texts(&timeline)[1..],
        [
            "triage → investigating",
            "investigating → identified",
            "identified → monitoring",
            "monitoring → resolved: replayed the queue",
            "Reopened: resolved → investigating",
            "investigating → resolved",
            "resolved → closed",
        ]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn edits_are_recorded_checked_and_refused_when_stale(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    admin.scene().await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let incident = declare(&sre, json!({"title": "Slow search", "severity": "sev3"})).await;
    let id = incident["id"].as_i64().expect("id");
    let path = format!("/api/v1/incidents/{id}");

    let a = sre
        .patch(
            &path,
            json!({"severity": "sev2", "services": ["checkout-api"],
                   "commander": "test-tenant:sasha", "expected_version": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["severity"], "sev2");
    assert_eq!(a.body["commander"]["id"], "test-tenant:sasha");
    assert_eq!(a.body["version"], 2);

    // Someone still holding version 1 is told, and nothing changes.
    let a = sre
        .patch(
            &path,
            json!({"title": "Search down", "expected_version": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.text.contains("it is now at 2"), "{}", a.text);
    assert_eq!(sre.get(&path).await.body["title"], "Slow search");

    let a = sre
        .patch(
            &path,
            json!({"started_at": "2999-01-01T00:00:00Z", "mitigated_at": "yesterday"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A start in the future is also after the detection.
    assert_eq!(
        a.error_fields(),
        ["mitigated_at", "started_at", "detected_at"]
    );

    let a = sre.patch(&path, json!({"commander": null})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["commander"].is_null());

    let timeline = sre.get(&format!("{path}/timeline")).await.body;
    assert_eq!(
        texts(&timeline)[1..],
        [
            "Severity SEV3 → SEV2",
            "Affected services: Checkout Api",
            "Incident commander: Test sasha",
            "Incident commander: nobody",
        ]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn declining_and_merging_need_a_reason_and_a_live_target(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let a = declare(&sre, json!({"title": "Alerts firing", "severity": "sev3"})).await["id"]
        .as_i64()
        .expect("id");
    let b = declare(
        &sre,
        json!({"title": "Same alerts again", "severity": "sev3"}),
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let c = declare(&sre, json!({"title": "Flaky check", "severity": "sev4"})).await["id"]
        .as_i64()
        .expect("id");

    let r = move_to(&sre, c, json!({"to": "declined"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["note"]);
    let r = move_to(&sre, c, json!({"to": "declined", "note": "a test alert"})).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = move_to(
        &sre,
        b,
        json!({"to": "merged", "note": "dup", "merged_into": b}),
    )
    .await;
    assert_eq!(r.error_fields(), ["merged_into"]);
    let r = move_to(
        &sre,
        b,
        json!({"to": "merged", "note": "dup", "merged_into": c}),
    )
    .await;
    assert_eq!(r.error_fields(), ["merged_into"]);
    assert!(r.text.contains("is declined"), "{}", r.text);
    let r = move_to(
        &sre,
        b,
        json!({"to": "merged", "note": "dup", "merged_into": 424242}),
    )
    .await;
    assert!(r.text.contains("INC-424242 does not exist"), "{}", r.text);
    let r = move_to(&sre, b, json!({"to": "investigating", "merged_into": a})).await;
    assert_eq!(r.error_fields(), ["merged_into"]);

    let r = move_to(
        &sre,
        b,
        json!({"to": "merged", "note": "same alerts", "merged_into": a}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["merged_into"], a);
    let target = sre
        .get(&format!("/api/v1/incidents/{a}/timeline"))
        .await
        .body;
    assert!(texts(&target).contains(&format!("INC-{b} was merged into this incident")));
    // An incident merged away is final.
    let r = move_to(&sre, b, json!({"to": "investigating"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn notes_join_the_timeline_in_the_order_things_happened(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let id = declare(&dev, json!({"title": "DNS", "severity": "sev2"})).await["id"]
        .as_i64()
        .expect("id");
    let notes = format!("/api/v1/incidents/{id}/notes");
    let a = dev
        .post(&notes, json!({"text": "Rolled back the resolver config"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["kind"], "note");
    assert_eq!(a.body["actor_name"], "Test dana");
    // Written after the fact, placed when it happened.
    let a = dev
        .post(
            &notes,
            json!({"text": "First page from the resolver alert", "at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let timeline = dev
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    assert_eq!(texts(&timeline)[0], "First page from the resolver alert");

    for bad in [
        json!({"text": "  "}),
        json!({"text": "x", "at": "2999-01-01T00:00:00Z"}),
    ] {
        let a = dev.post(&notes, bad).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    }
    assert_eq!(
        dev.post("/api/v1/incidents/999999/notes", json!({"text": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    assert_eq!(
        viewer.post(&notes, json!({"text": "x"})).await.status,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_list_filters_by_state_severity_and_service(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    admin.scene().await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let first = declare(
        &sre,
        json!({"title": "One", "severity": "sev1", "services": ["checkout-api"]}),
    )
    .await["id"]
        .as_i64()
        .expect("id");
    declare(&sre, json!({"title": "Two", "severity": "sev3"})).await;
    move_to(&sre, first, json!({"to": "resolved"})).await;

    let titles = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["title"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        titles(sre.get("/api/v1/incidents").await.body),
        ["Two", "One"]
    );
    assert_eq!(
        titles(sre.get("/api/v1/incidents?state=open").await.body),
        ["Two"]
    );
    assert_eq!(
        titles(sre.get("/api/v1/incidents?state=ended").await.body),
        ["One"]
    );
    assert_eq!(
        titles(sre.get("/api/v1/incidents?state=resolved").await.body),
        ["One"]
    );
    assert_eq!(
        titles(sre.get("/api/v1/incidents?severity=sev1").await.body),
        ["One"]
    );
    assert_eq!(
        titles(sre.get("/api/v1/incidents?service=checkout-api").await.body),
        ["One"]
    );
    let a = sre.get("/api/v1/incidents?state=burning&severity=0").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), ["state", "severity"]);
    assert_eq!(
        sre.get("/api/v1/incidents?service=nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sre.get("/api/v1/incidents/999999").await.status,
        StatusCode::NOT_FOUND
    );
}

/// Records a deployment that finished `minutes_ago` minutes ago; returns its id.
async fn deployed(app: &TestApp, service: &str, env: &str, version: &str, minutes_ago: i64) -> i64 {
    let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .expect("time")
    };
    let a = app
        .post(
            "/api/v1/deployments",
            json!({"service": service, "environment": env, "version": version, "status": "succeeded",
                   "started_at": stamp(at - time::Duration::minutes(2)), "finished_at": stamp(at)}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["id"].as_i64().expect("id")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn people_link_causes_and_fixes_that_portolan_only_suggests(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    admin
        .put(
            "/api/v1/services/checkout-api/dependencies/payment-gateway",
            json!({"kind": "sync"}),
        )
        .await;
    let suspect = deployed(&admin, "checkout-api", "prod", "2.0.0", 50).await;
    let upstream = deployed(&admin, "payment-gateway", "prod", "7.1.0", 45).await;
    let staging = deployed(&admin, "checkout-api", "staging", "2.0.1", 40).await;
    let unrelated = deployed(&admin, "search-indexer", "prod", "0.9.0", 40).await;
    let started = (time::OffsetDateTime::now_utc() - time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let id = declare(
        &sre,
        json!({"title": "Payments failing", "severity": "sev1", "services": ["checkout-api"],
               "started_at": started}),
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let fix = deployed(&admin, "checkout-api", "prod", "2.0.2", 5).await;

    let candidates = sre
        .get(&format!("/api/v1/incidents/{id}/link-candidates"))
        .await;
    assert_eq!(candidates.status, StatusCode::OK, "{}", candidates.text);
    let picked = |relation: &str| -> Vec<i64> {
        candidates
            .body
            .as_array()
            .expect("candidates")
            .iter()
            .filter(|c| c["relation"] == relation)
            .filter_map(|c| c["deployment"]["id"].as_i64())
            .collect()
    };
    assert_eq!(picked("caused_by"), [suspect, upstream, staging]);
    assert!(!picked("caused_by").contains(&unrelated));
    assert_eq!(picked("fixed_by"), [fix]);
    let reasons = candidates.body[1]["reasons"].to_string();
    assert!(
        reasons.contains("Payment Gateway, which Checkout Api depends on"),
        "{reasons}"
    );
    // Suggesting links nothing.
    let links = sre.get(&format!("/api/v1/incidents/{id}/links")).await;
    assert_eq!(links.body, json!([]));

    // A developer may not link; an SRE may, and linking again only updates the note.
    let link = format!("/api/v1/incidents/{id}/links/{suspect}");
    let dev = admin.as_roles("dana", &["developer"]).await;
    assert_eq!(
        dev.put(&link, json!({"relation": "caused_by"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let a = sre
        .put(
            &link,
            json!({"relation": "caused_by", "note": "bad config flag"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body[0]["deployment"]["id"], suspect);
    assert_eq!(a.body[0]["note"], "bad config flag");
    let again = sre
        .put(
            &link,
            json!({"relation": "caused_by", "note": "bad config flag"}),
        )
        .await;
    assert_eq!(again.body, a.body, "linking twice changes nothing");
    let fixed = sre
        .put(
            &format!("/api/v1/incidents/{id}/links/{fix}"),
            json!({"relation": "fixed_by"}),
        )
        .await;
    assert_eq!(fixed.body.as_array().map(Vec::len), Some(2));
    // What is linked is no longer suggested.
    let candidates = sre
        .get(&format!("/api/v1/incidents/{id}/link-candidates"))
        .await
        .body;
    assert!(
        candidates
            .as_array()
            .expect("candidates")
            .iter()
            .all(|c| c["deployment"]["id"] != suspect || c["relation"] != "caused_by")
    );

    for (body, field) in [
        (json!({"relation": "blamed"}), "relation"),
        (
            json!({"relation": "caused_by", "note": "x".repeat(3000)}),
            "note",
        ),
    ] {
        let a = sre.put(&link, body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(a.error_fields(), [field]);
    }
    assert_eq!(
        sre.put(
            &format!("/api/v1/incidents/{id}/links/999999"),
            json!({"relation": "caused_by"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Unlinking; unlinking again changes nothing.
    let a = sre.delete(&format!("{link}?relation=caused_by")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body.as_array().map(Vec::len), Some(1));
    let a = sre.delete(&format!("{link}?relation=caused_by")).await;
    assert_eq!(a.body.as_array().map(Vec::len), Some(1));
    let a = sre.delete(&link).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "the relation is needed");
    assert!(a.text.contains("relation"), "{}", a.text);

    let timeline = sre
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    let texts = texts(&timeline);
    assert!(texts.contains(&format!(
        "Linked deployment #{suspect} (Checkout Api 2.0.0 to Prod) as the cause: bad config flag"
    )), "{texts:?}");
    assert!(texts.contains(&format!(
        "Unlinked deployment #{suspect} (Checkout Api 2.0.0 to Prod) as the cause"
    )));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action IN ('incident.link', 'incident.unlink')",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        audited, 3,
        "two links and one unlink; the repeats recorded nothing"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn roles_are_given_taken_back_and_recorded(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let sre = admin.as_roles("sasha", &["sre"]).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    admin.as_roles("rita", &["viewer"]).await;
    let id = declare(&sre, json!({"title": "Search slow", "severity": "sev3"})).await["id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/v1/incidents/{id}");

    // Unknown roles and people are named, each on its own field; nothing changes.
    let bad = sre
        .patch(
            &path,
            json!({"roles": {"chef": "test-tenant:dana", "scribe": "test-tenant:ghost"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["roles.chef", "roles.scribe"]);
    assert!(
        bad.text
            .contains("use operations_lead, communications_lead, scribe"),
        "{}",
        bad.text
    );
    assert_eq!(sre.get(&path).await.body["roles"], json!([]));
    // Only those who run incidents give roles.
    let refused = dev
        .patch(&path, json!({"roles": {"scribe": "test-tenant:dana"}}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let given = sre
        .patch(
            &path,
            json!({"roles": {"scribe": "test-tenant:rita", "communications_lead": "test-tenant:dana",
                             "operations_lead": "test-tenant:sasha"},
                   "commander": "test-tenant:sasha", "expected_version": 1}),
        )
        .await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text);
    let roles: Vec<(String, String)> = given.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap_or_default().to_string(),
                r["person"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("operations_lead".to_string(), "Test sasha".to_string()),
            ("communications_lead".to_string(), "Test dana".to_string()),
            ("scribe".to_string(), "Test rita".to_string()),
        ],
        "in the order of the roles, not of the request"
    );

    // Taking one back and leaving the others.
    let back = sre.patch(&path, json!({"roles": {"scribe": null}})).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(back.body["roles"].as_array().map(Vec::len), Some(2));
    let timeline = sre.get(&format!("{path}/timeline")).await.body;
    let said = texts(&timeline);
    for line in [
        "Incident commander: Test sasha",
        "Operations lead: Test sasha",
        "Communications lead: Test dana",
        "Scribe: Test rita",
        "Scribe: nobody",
    ] {
        assert!(
            said.iter().any(|t| t == line),
            "{line} missing from {said:?}"
        );
    }
    // Giving a role to the one who has it changes nothing on the timeline.
    let before = said.len();
    sre.patch(
        &path,
        json!({"roles": {"operations_lead": "test-tenant:sasha"}}),
    )
    .await;
    let after = texts(&sre.get(&format!("{path}/timeline")).await.body).len();
    assert_eq!(after, before);
}
