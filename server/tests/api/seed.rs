//! The demo organisation, read back through the API: what the seed wrote is what the server
//! itself would have written, and the server goes on from there.

use axum::http::StatusCode;
use portolan_server::auth::{dev, session};
use portolan_server::seed;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{Auth, TestApp, session_of};

/// A session for one of the development sign-in's people, as signing in makes it.
async fn session_as(pool: &PgPool, login: &str) -> Auth {
    session_of(pool, &dev::persona(login).expect("a persona").identity()).await
}

/// Each postmortem in this state of the list, read whole: (incident id, postmortem).
async fn postmortems(app: &TestApp, state: &str) -> Vec<(i64, Value)> {
    let list = app.get(&format!("/api/v1/postmortems?state={state}")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let mut out = Vec::new();
    for summary in list.body.as_array().expect("list") {
        let id = summary["incident_id"].as_i64().expect("id");
        let pm = app.get(&format!("/api/v1/incidents/{id}/postmortem")).await;
        assert_eq!(pm.status, StatusCode::OK, "{}", pm.text);
        out.push((id, pm.body));
    }
    out
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().expect("items").clone()
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_demo_incidents_and_postmortems_read_back_and_carry_on(pool: PgPool) {
    // `serve` records the development people before it seeds: the seed reuses their rows.
    session::add_development_people(&pool)
        .await
        .expect("development people");
    let report = seed::seed_demo(&pool).await.expect("seed");
    assert!(
        (15..=25).contains(&report.incidents),
        "{} incidents",
        report.incidents
    );
    assert!(
        report.postmortems >= 6,
        "{} postmortems",
        report.postmortems
    );
    let app = TestApp::new(pool.clone()).await;
    let sre = app.with_auth(session_as(&pool, "sre").await);
    let people: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE tenant_id = 'development' AND object_id = 'sre'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(people, 1, "signing in reuses the seeded person");

    // The seed says what it did in the audit log.
    let audit = app.get("/api/v1/audit?action=demo.seed").await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let record = &items(&audit.body)[0];
    assert_eq!(record["after"]["incidents"], json!(report.incidents));
    assert_eq!(record["after"]["postmortems"], json!(report.postmortems));
    assert_eq!(record["after"]["action_items"], json!(report.action_items));

    // The action items read back, and their follow-through has something to show.
    let follow = app.get("/api/v1/action-items/follow-through").await;
    assert_eq!(follow.status, StatusCode::OK, "{}", follow.text);
    let f = &follow.body;
    let open = f["open"].as_i64().expect("open");
    assert!(open >= 1 && f["overdue"].as_i64() >= Some(1), "{f}");
    assert!(f["teams"].as_array().is_some_and(|t| !t.is_empty()), "{f}");
    assert_eq!(f["items"].as_array().map(Vec::len), Some(open as usize));
    let every = app.get("/api/v1/action-items?limit=200").await;
    assert_eq!(items(&every.body).len(), report.action_items);

    // Every incident, its links and its timeline.
    let all = app.get("/api/v1/incidents?state=all&limit=200").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let incidents = items(&all.body);
    assert_eq!(incidents.len(), report.incidents);
    let mut linked = 0;
    for i in &incidents {
        let id = i["id"].as_i64().expect("id");
        let reference = i["reference"].as_str().expect("reference");
        let services: Vec<&str> = i["services"]
            .as_array()
            .expect("services")
            .iter()
            .map(|s| s["slug"].as_str().expect("slug"))
            .collect();
        assert!(!services.is_empty(), "{reference}");
        let links = app.get(&format!("/api/v1/incidents/{id}/links")).await;
        assert_eq!(links.status, StatusCode::OK, "{}", links.text);
        for l in links.body.as_array().expect("links") {
            let slug = l["deployment"]["service"]["slug"].as_str().expect("slug");
            assert!(services.contains(&slug), "{reference} links {slug}");
            assert_eq!(l["deployment"]["environment"]["slug"], "prod");
            linked += 1;
        }
        let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
        assert_eq!(timeline.status, StatusCode::OK, "{}", timeline.text);
        let entries = timeline.body.as_array().expect("entries");
        assert_eq!(entries[0]["kind"], "declared", "{reference}");
        let first = entries[0]["text"].as_str().expect("text");
        assert!(first.contains(&format!(" {reference}: ")), "{first}");
        for e in entries {
            let text = e["text"].as_str().expect("text");
            assert!(!text.contains('⟨'), "{reference}: {text}");
            if e["kind"] == "link" {
                assert!(text.starts_with("Linked deployment #"), "{text}");
            }
        }
    }
    assert!(linked >= 20, "{linked} links");

    // Open ones: the SRE commands one, and the lifecycle offers its moves.
    let open = items(&app.get("/api/v1/incidents?state=open").await.body);
    assert!((1..=2).contains(&open.len()), "{open:?}");
    let mine = open
        .iter()
        .find(|i| i["commander"]["id"] == "development:sre")
        .expect("an open incident commanded by the SRE");
    assert!(
        mine["moves"]
            .as_array()
            .expect("moves")
            .contains(&json!("resolved"))
    );
    let id = mine["id"].as_i64().expect("id");
    let resolved = sre
        .post(
            &format!("/api/v1/incidents/{id}/transition"),
            json!({"to": "resolved", "note": "the carrier's API is fast again"}),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    assert_eq!(resolved.body["state"], "resolved");

    // Postmortems in every state, and the policy's view of them.
    for state in ["draft", "in_review", "published", "missing"] {
        let list = app.get(&format!("/api/v1/postmortems?state={state}")).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert!(
            !list.body.as_array().expect("list").is_empty(),
            "no postmortem {state}"
        );
    }
    let overdue = app.get("/api/v1/postmortems?overdue=true").await;
    assert!(!overdue.body.as_array().expect("list").is_empty());

    let mut revised = 0;
    for (id, pm) in postmortems(&app, "published").await {
        assert_eq!(pm["flags"], json!([]), "{}", pm["incident_reference"]);
        assert!(
            pm["reviewers"]
                .as_array()
                .expect("reviewers")
                .iter()
                .all(|r| !r["approved_at"].is_null())
        );
        for (key, text) in pm["sections"].as_object().expect("sections") {
            assert!(!text.as_str().expect("text").is_empty(), "{key} is empty");
        }
        let revisions = app
            .get(&format!("/api/v1/incidents/{id}/postmortem/revisions"))
            .await
            .body;
        let revisions = revisions.as_array().expect("revisions");
        assert_eq!(json!(revisions.len()), pm["revision"]);
        assert_eq!(revisions[0]["sections"], pm["sections"]);
        if revisions.len() == 2 {
            revised += 1;
        }
        let md = app
            .get(&format!("/api/v1/incidents/{id}/postmortem/export"))
            .await;
        assert_eq!(md.status, StatusCode::OK);
    }
    assert_eq!(revised, 1);

    // The one sent back shows its flag and the reviewer's note.
    let mut flagged = 0;
    for (_, pm) in postmortems(&app, "draft").await {
        if pm["review_note"] != "" {
            assert_eq!(pm["flags"].as_array().expect("flags").len(), 1);
            flagged += 1;
        }
    }
    assert_eq!(flagged, 1);

    // In review: the SRE is a named reviewer still to decide, and can approve and publish.
    let mut approved_one = false;
    for (id, pm) in postmortems(&app, "in_review").await {
        assert!(!pm["reviewers"].as_array().expect("reviewers").is_empty());
        let pending: Vec<&Value> = pm["reviewers"]
            .as_array()
            .expect("reviewers")
            .iter()
            .filter(|r| r["approved_at"].is_null())
            .collect();
        if pending.len() != 1 || pending[0]["person"]["id"] != "development:sre" {
            continue;
        }
        let review = sre
            .post(
                &format!("/api/v1/incidents/{id}/postmortem/review"),
                json!({"decision": "approve", "checklist": [true, true, true, true, true, true]}),
            )
            .await;
        assert_eq!(review.status, StatusCode::OK, "{}", review.text);
        let publish = sre
            .post(
                &format!("/api/v1/incidents/{id}/postmortem/publish"),
                json!({}),
            )
            .await;
        assert_eq!(publish.status, StatusCode::OK, "{}", publish.text);
        assert_eq!(publish.body["revision"], 1);
        approved_one = true;
        break;
    }
    assert!(
        approved_one,
        "a postmortem waits for the SRE's approval alone"
    );
}
