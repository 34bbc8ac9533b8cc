//! Alerts open, update and resolve incidents: the Alertmanager and PagerDuty receivers through the
//! router, with payloads shaped like the examples of their documentation.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use portolan_server::config::{Config, Secret};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;

use crate::incidents::texts;
use crate::{Answer, Auth, TestApp};

pub(crate) const AM_TOKEN: &str = "am-token-6f1c0b9e2d7a4c58";
const PD_SECRET: &str = "pd-secret-3b8e5a1f7c2d9e40";
const AM: &str = "/api/v1/webhooks/alertmanager";
const PD: &str = "/api/v1/webhooks/pagerduty";
const GROUP: &str = "{}/{severity=~\"critical|warning\"}:{alertname=\"HighErrorRate\"}";

async fn app(pool: PgPool) -> TestApp {
    let config = Config {
        alertmanager_token: Some(Secret::new(AM_TOKEN)),
        pagerduty_secret: Some(Secret::new(PD_SECRET)),
        ..Config::default()
    };
    TestApp::with_config(pool, config).await
}

/// Posts `body` as it is, with these headers.
async fn post_raw(
    app: &TestApp,
    path: &str,
    body: impl Into<Body>,
    headers: &[(&str, String)],
) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    app.send(req.body(body.into()).expect("request")).await
}

/// Posts an Alertmanager notification with the configured token.
pub(crate) async fn alertmanager(app: &TestApp, body: &Value) -> Answer {
    post_raw(
        app,
        AM,
        body.to_string(),
        &[("authorization", format!("Bearer {AM_TOKEN}"))],
    )
    .await
}

fn sign(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1={hex}")
}

/// Posts a PagerDuty event signed with the configured secret.
async fn pagerduty(app: &TestApp, body: &Value) -> Answer {
    let raw = body.to_string();
    let signature = sign(&raw, PD_SECRET);
    post_raw(app, PD, raw, &[("x-pagerduty-signature", signature)]).await
}

/// One firing alert, shaped like those of Alertmanager's documentation.
pub(crate) fn alert_firing(instance: &str, starts: &str) -> Value {
    json!({
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "job": "checkout", "severity": "critical",
                   "service": "checkout-api", "instance": instance},
        "annotations": {"summary": "Checkout answers 5xx", "description": "More than 5% of requests fail."},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=rate%28errors%5B5m%5D%29",
        "fingerprint": format!("fp-{instance}")
    })
}

/// The same alert, ended.
fn alert_ended(instance: &str, starts: &str, ends: &str) -> Value {
    let mut a = alert_firing(instance, starts);
    a["status"] = json!("resolved");
    a["endsAt"] = json!(ends);
    a
}

/// The alert with these labels added or changed.
fn labelled(mut alert: Value, labels: Value) -> Value {
    for (k, v) in labels.as_object().expect("labels") {
        alert["labels"][k] = v.clone();
    }
    alert
}

/// A version-4 notification of the group, its common labels being those all its alerts share.
pub(crate) fn notification(status: &str, alerts: Vec<Value>) -> Value {
    let mut common = alerts[0]["labels"].as_object().expect("labels").clone();
    for a in &alerts[1..] {
        common.retain(|k, v| a["labels"][k] == *v);
    }
    json!({
        "version": "4",
        "groupKey": GROUP,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "portolan",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": common,
        "commonAnnotations": {"summary": "Checkout answers 5xx",
                              "description": "More than 5% of requests fail."},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": alerts
    })
}

async fn timeline(app: &TestApp, id: i64) -> Vec<String> {
    texts(
        &app.get(&format!("/api/v1/incidents/{id}/timeline"))
            .await
            .body,
    )
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// The audit records of an incident, oldest first: (action, actor id).
async fn audit(pool: &PgPool, id: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, actor_id FROM audit_log WHERE target_kind = 'incident' AND target_id = $1 ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .expect("audit")
}

/// People resolve and close the incident.
async fn close_as_people(app: &TestApp, id: i64) {
    for to in ["resolved", "closed"] {
        let a = app
            .post(
                &format!("/api/v1/incidents/{id}/transition"),
                json!({"to": to}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{to}: {}", a.text);
    }
}

fn incident_of(a: &Answer) -> i64 {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["incident"].as_i64().expect("an incident")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn alertmanager_opens_updates_and_resolves_an_incident(pool: PgPool) {
    let app = app(pool.clone()).await;
    app.scene().await;
    let first = alert_firing("api-1:8080", "2026-11-22T09:52:26.739266876+02:00");
    let a = alertmanager(&app, &notification("firing", vec![first.clone()])).await;
    let id = incident_of(&a);
    assert_eq!(a.body["action"], "opened");
    assert_eq!(
        a.body["reason"],
        format!("INC-{id} opened for the alert group")
    );
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(incident["title"], "Checkout answers 5xx");
    assert_eq!(incident["severity"], "sev2", "critical → SEV2");
    assert_eq!(incident["state"], "triage");
    assert_eq!(incident["source"], "alertmanager");
    assert_eq!(incident["declared_by"], "Alertmanager");
    assert_eq!(
        incident["services"],
        json!([{"slug": "checkout-api", "name": "Checkout Api"}])
    );
    assert_eq!(
        incident["started_at"], "2026-11-22T07:52:26.739266Z",
        "the earliest startsAt"
    );
    assert!(
        incident["summary"]
            .as_str()
            .expect("summary")
            .starts_with("More than 5% of requests fail.")
    );
    assert_eq!(
        timeline(&app, id).await,
        [
            format!("Opened SEV2 INC-{id}: Checkout answers 5xx"),
            "Firing: HighErrorRate".into()
        ]
    );
    assert_eq!(
        audit(&pool, id).await,
        [("incident.declare".into(), "alertmanager".into())]
    );
    let actor: (String, String) =
        sqlx::query_as("SELECT actor_kind, actor_name FROM audit_log WHERE target_id = $1")
            .bind(id.to_string())
            .fetch_one(&pool)
            .await
            .expect("actor");
    assert_eq!(actor, ("system".into(), "Alertmanager".into()));

    // The group grows: a second alert, labelled SEV1 and naming an unknown service.
    let second = labelled(
        alert_firing("api-2:8080", "2026-11-22T08:01:00Z"),
        json!({"portolan_severity": "sev1", "service": "billing"}),
    );
    let grown = notification("firing", vec![first.clone(), second.clone()]);
    let a = alertmanager(&app, &grown).await;
    assert_eq!(incident_of(&a), id);
    assert_eq!(a.body["action"], "updated", "{}", a.text);
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(
        incident["severity"], "sev1",
        "a worse alert raises the severity"
    );
    assert_eq!(incident["services"].as_array().expect("services").len(), 1);
    let lines = timeline(&app, id).await;
    assert_eq!(
        lines[2..],
        [
            "Also firing: HighErrorRate {instance=\"api-2:8080\", portolan_severity=\"sev1\", service=\"billing\"}",
            "Services named by the alerts but not linked: 'billing' (no such service)",
            "Severity SEV2 → SEV1",
        ]
    );
    let audit_count = audit(&pool, id).await.len();
    assert_eq!(audit_count, 2);

    // Sent again, byte for byte (a retry, or the other Alertmanager of a pair): nothing changes.
    let again = alertmanager(&app, &grown).await;
    assert_eq!(again.body["action"], "duplicate", "{}", again.text);
    assert_eq!(again.body["incident"], id);
    assert!(
        again.body["reason"]
            .as_str()
            .expect("reason")
            .contains("this delivery was processed at")
    );
    // The same alerts in another notification (a repeat, alerts in another order): nothing new.
    let repeat = notification("firing", vec![second.clone(), first.clone()]);
    let a = alertmanager(&app, &repeat).await;
    assert_eq!(a.body["action"], "duplicate", "{}", a.text);
    assert_eq!(
        timeline(&app, id).await.len(),
        lines.len(),
        "no second timeline entry"
    );
    assert_eq!(
        audit(&pool, id).await.len(),
        audit_count,
        "no second audit record"
    );

    // One alert ends while the other fires; then the whole group resolves.
    let first_ended = alert_ended(
        "api-1:8080",
        "2026-11-22T09:52:26.739266876+02:00",
        "2026-11-22T08:20:00Z",
    );
    let a = alertmanager(
        &app,
        &notification("firing", vec![first_ended.clone(), second.clone()]),
    )
    .await;
    assert_eq!(a.body["action"], "updated", "{}", a.text);
    assert_eq!(
        timeline(&app, id).await.last().expect("entry"),
        "No longer firing: HighErrorRate {instance=\"api-1:8080\", service=\"checkout-api\"}"
    );
    let second_ended = labelled(
        alert_ended("api-2:8080", "2026-11-22T08:01:00Z", "2026-11-22T08:30:00Z"),
        json!({"portolan_severity": "sev1", "service": "billing"}),
    );
    let a = alertmanager(
        &app,
        &notification("resolved", vec![first_ended, second_ended]),
    )
    .await;
    assert_eq!(a.body["action"], "resolved", "{}", a.text);
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(incident["state"], "resolved");
    // The alerts noticed the trouble when the first fired; it ended when the last one did.
    assert_eq!(incident["detected_at"], incident["started_at"]);
    assert_eq!(
        incident["resolved_at"], "2026-11-22T08:30:00Z",
        "the latest endsAt"
    );
    assert_eq!(incident["mitigated_at"], "2026-11-22T08:30:00Z");
    let entries = app
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .body;
    let resolved = entries
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "state")
        .expect("a state entry");
    assert_eq!(
        resolved["text"],
        "triage → resolved: every alert of the group ended, the last at 2026-11-22T08:30:00Z"
    );
    assert_eq!(
        resolved["at"], "2026-11-22T08:30:00Z",
        "placed when it happened"
    );
    assert_eq!(resolved["actor_name"], "Alertmanager");
    let actions: Vec<String> = audit(&pool, id).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "incident.declare",
            "incident.update",
            "incident.note",
            "incident.transition"
        ]
    );
    assert_eq!(count(&pool, "incidents").await, 1);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn alertmanager_labels_set_severity_and_services(pool: PgPool) {
    let app = app(pool.clone()).await;
    app.scene().await;
    let firing = labelled(
        alert_firing("api-1:8080", "2026-11-22T09:00:00Z"),
        json!({"severity": "warning", "service": "nope"}),
    );
    let id = incident_of(&alertmanager(&app, &notification("firing", vec![firing])).await);
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(incident["severity"], "sev3", "warning → SEV3");
    assert_eq!(
        incident["services"],
        json!([]),
        "an unknown service is not linked"
    );
    assert!(timeline(&app, id).await.contains(
        &"Services named by the alerts but not linked: 'nope' (no such service)".to_string()
    ));

    // Another group: a bad override is noted and ignored; services of every alert are linked;
    // an alert that claims to start in the future (a skewed clock) started now at the latest.
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let mut group = notification(
        "firing",
        vec![
            labelled(
                alert_firing("a", "2026-11-22T09:00:00Z"),
                json!({"severity": "page", "portolan_severity": "sev9", "service": "payment-gateway"}),
            ),
            labelled(
                alert_firing("b", &tomorrow),
                json!({"severity": "info", "service": "search-indexer"}),
            ),
        ],
    );
    group["groupKey"] = json!("{}:{alertname=\"Other\"}");
    group["truncatedAlerts"] = json!(3);
    let a = alertmanager(&app, &group).await;
    assert_eq!(a.body["action"], "opened", "{}", a.text);
    let other = incident_of(&a);
    let incident = app.get(&format!("/api/v1/incidents/{other}")).await.body;
    assert_eq!(
        incident["severity"], "sev2",
        "page → SEV2, the worst of the group"
    );
    let slugs: Vec<&str> = incident["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["payment-gateway", "search-indexer"]);
    assert_eq!(incident["started_at"], "2026-11-22T09:00:00Z");
    let lines = timeline(&app, other).await;
    for expected in [
        "The label portolan_severity=\"sev9\" is not sev1, sev2, sev3 or sev4; it was ignored",
        "3 more alerts of the group were left out of the notification (max_alerts)",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected}: {lines:#?}"
        );
    }
    let mut future = notification("firing", vec![alert_firing("c", &tomorrow)]);
    future["groupKey"] = json!("{}:{alertname=\"Future\"}");
    let id = incident_of(&alertmanager(&app, &future).await);
    let started = app.get(&format!("/api/v1/incidents/{id}")).await.body["started_at"].clone();
    assert!(
        started.as_str().expect("time") < tomorrow.as_str(),
        "{started} is not in the future"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_group_people_already_closed_is_only_noted_and_new_trouble_opens_a_new_incident(
    pool: PgPool,
) {
    let app = app(pool.clone()).await;
    let firing = labelled(
        alert_firing("api-1:8080", "2026-11-22T08:00:00Z"),
        json!({"severity": "info"}),
    );
    let id = incident_of(&alertmanager(&app, &notification("firing", vec![firing.clone()])).await);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.body["severity"],
        "sev4",
        "info → SEV4"
    );
    close_as_people(&app, id).await;
    let closed = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    let audit_before = audit(&pool, id).await.len();

    // Still firing after people closed it, nothing new: no new incident, nothing written.
    let a = alertmanager(&app, &notification("firing", vec![firing.clone()])).await;
    assert_eq!(
        a.body["action"], "duplicate",
        "the same body as the first delivery: {}",
        a.text
    );
    let mut repeat = notification("firing", vec![firing.clone()]);
    repeat["receiver"] = json!("portolan-repeat");
    let a = alertmanager(&app, &repeat).await;
    assert_eq!(a.body["action"], "ignored", "{}", a.text);
    assert!(
        a.body["reason"]
            .as_str()
            .expect("reason")
            .contains(&format!("INC-{id} is closed while these alerts still fire"))
    );

    // The group resolves: the incident stays closed, and its timeline says so.
    let ended = labelled(
        alert_ended("api-1:8080", "2026-11-22T08:00:00Z", "2026-11-22T08:40:00Z"),
        json!({"severity": "info"}),
    );
    let a = alertmanager(&app, &notification("resolved", vec![ended.clone()])).await;
    assert_eq!(a.body["action"], "updated", "{}", a.text);
    assert_eq!(incident_of(&a), id);
    let after = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(after["state"], "closed");
    assert_eq!(
        after["resolved_at"], closed["resolved_at"],
        "people's resolution stands"
    );
    assert_eq!(
        after["version"], closed["version"],
        "the incident itself did not change"
    );
    assert_eq!(
        timeline(&app, id).await.last().expect("entry"),
        "Every alert of the group ended (the last at 2026-11-22T08:40:00Z); the incident was already closed, so nothing else changes"
    );
    assert_eq!(audit(&pool, id).await.len(), audit_before + 1);
    assert_eq!(
        audit(&pool, id).await.last().expect("record").0,
        "incident.note"
    );
    // Another resolved notification of the same end: nothing new.
    let mut again = notification("resolved", vec![ended]);
    again["receiver"] = json!("other");
    assert_eq!(alertmanager(&app, &again).await.body["action"], "duplicate");

    // The alert fires again (a new startsAt): new trouble, a new incident.
    let refired = labelled(
        alert_firing("api-1:8080", "2026-11-22T11:00:00Z"),
        json!({"severity": "info"}),
    );
    let a = alertmanager(&app, &notification("firing", vec![refired])).await;
    assert_eq!(a.body["action"], "opened", "{}", a.text);
    let second = incident_of(&a);
    assert_ne!(second, id);
    assert!(timeline(&app, second).await.contains(&format!(
        "The same alert group was followed by INC-{id} (closed)"
    )));
}

/// Sends two notifications at once; the actions they got, in alphabetical order. Both must be
/// about one incident.
async fn at_once(app: &TestApp, one: &Value, two: &Value) -> Vec<String> {
    let (a, b) = tokio::join!(alertmanager(app, one), alertmanager(app, two));
    assert_eq!(
        a.body["incident"], b.body["incident"],
        "{} / {}",
        a.text, b.text
    );
    let mut actions: Vec<String> = [&a, &b]
        .iter()
        .map(|x| x.body["action"].as_str().unwrap_or(&x.text).to_string())
        .collect();
    actions.sort();
    actions
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn concurrent_deliveries_of_one_group_apply_once(pool: PgPool) {
    let app = app(pool.clone()).await;
    let first = alert_firing("api-1:8080", "2026-11-22T08:00:00Z");
    let second = alert_firing("api-2:8080", "2026-11-22T08:00:30Z");
    let body = notification("firing", vec![first.clone()]);
    assert_eq!(at_once(&app, &body, &body).await, ["duplicate", "opened"]);
    // Two deliveries for a new group at once, each with an alert of its own: whichever comes
    // first opens the incident, the other adds its alert to it.
    let mut one = notification("firing", vec![first]);
    one["groupKey"] = json!("{}:{alertname=\"Other\"}");
    let mut two = notification("firing", vec![second]);
    two["groupKey"] = one["groupKey"].clone();
    assert_eq!(at_once(&app, &one, &two).await, ["opened", "updated"]);
    assert_eq!(count(&pool, "incidents").await, 2);
    assert_eq!(count(&pool, "alert_deliveries").await, 3);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn alertmanager_needs_its_token_and_nothing_is_written_without_it(pool: PgPool) {
    let app = app(pool.clone()).await;
    let body = notification(
        "firing",
        vec![alert_firing("api-1:8080", "2026-11-22T08:00:00Z")],
    );
    let audit_before = count(&pool, "audit_log").await;
    // An admin's session (the test app's own caller) counts for nothing here.
    let a = post_raw(&app, AM, body.to_string(), &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(a.error_code(), "unauthenticated");
    for wrong in [
        format!("Bearer {AM_TOKEN}x"),
        format!("Basic {AM_TOKEN}"),
        "Bearer ".to_string(),
        format!("Bearer {}", &AM_TOKEN[..AM_TOKEN.len() - 1]),
    ] {
        let a = post_raw(
            &app,
            AM,
            body.to_string(),
            &[("authorization", wrong.clone())],
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{wrong}: {}", a.text);
        assert!(
            !a.text.contains(AM_TOKEN),
            "the answer says nothing of the secret"
        );
    }
    // An API token is not the receiver's token either.
    let made = app
        .post(
            "/api/v1/tokens",
            json!({"name": "not for alerts", "scopes": ["read"]}),
        )
        .await;
    let api_token = made.body["token"].as_str().expect("token").to_string();
    let a = post_raw(
        &app,
        AM,
        body.to_string(),
        &[("authorization", format!("Bearer {api_token}"))],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(count(&pool, "incidents").await, 0);
    assert_eq!(count(&pool, "alert_deliveries").await, 0);
    assert_eq!(
        count(&pool, "audit_log").await,
        audit_before + 1,
        "only the API token's creation"
    );

    // Without the setting, the receiver is off and says which setting turns it on.
    let off = TestApp::new(pool.clone()).await.with_auth(Auth::Anonymous);
    let a = post_raw(
        &off,
        AM,
        body.to_string(),
        &[("authorization", format!("Bearer {AM_TOKEN}"))],
    )
    .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert!(a.text.contains("PORTOLAN_ALERTMANAGER_TOKEN"), "{}", a.text);
    let a = post_raw(&off, PD, "{}", &[]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    assert!(a.text.contains("PORTOLAN_PAGERDUTY_SECRET"), "{}", a.text);
    assert_eq!(count(&pool, "incidents").await, 0);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn malformed_notifications_are_refused_naming_the_problem(pool: PgPool) {
    let app = app(pool.clone()).await;
    let token = [("authorization", format!("Bearer {AM_TOKEN}"))];
    let a = post_raw(&app, AM, "{\"version\": \"4\",", &token).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert!(a.text.contains("not valid JSON"), "{}", a.text);
    let good = notification(
        "firing",
        vec![alert_firing("api-1:8080", "2026-11-22T08:00:00Z")],
    );
    let mut bad = good.clone();
    bad["alerts"][0]["startsAt"] = json!("an hour ago");
    let a = alertmanager(&app, &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.error_fields(), ["alerts[0].startsAt"]);
    let mut bad = good.clone();
    bad["version"] = json!("3");
    bad["alerts"] = json!([]);
    let a = alertmanager(&app, &bad).await;
    assert_eq!(a.error_fields(), ["version", "alerts"], "{}", a.text);
    let mut bad = good.clone();
    bad["status"] = json!("on fire");
    let a = alertmanager(&app, &bad).await;
    assert_eq!(a.error_fields(), ["status"], "{}", a.text);
    assert!(
        a.text.contains("firing") && a.text.contains("resolved"),
        "{}",
        a.text
    );
    let mut bad = good.clone();
    bad["alerts"][0]["labels"] = json!(["not", "a", "map"]);
    assert_eq!(
        alertmanager(&app, &bad).await.error_fields(),
        ["alerts[0].labels"]
    );
    let big = format!(
        "{{\"version\": \"4\", \"padding\": \"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    let a = post_raw(&app, AM, big, &token).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    // Text Postgres cannot keep is refused, not a server error.
    let mut nul = good.clone();
    nul["commonAnnotations"]["summary"] = json!("bad\u{0}title");
    let a = alertmanager(&app, &nul).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    assert_eq!(count(&pool, "incidents").await, 0);
    assert_eq!(count(&pool, "alert_deliveries").await, 0);
    // And a well-formed one goes through.
    assert_eq!(alertmanager(&app, &good).await.body["action"], "opened");
}

/// A PagerDuty v3 webhook, shaped like the example of its documentation.
fn pd_event(id: &str, event_type: &str, priority: Option<&str>) -> Value {
    json!({"event": {
        "id": id,
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": "2026-11-22T09:45:22.169Z",
        "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                  "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Tenex Engineer",
                  "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {
            "id": "PGR0VU2", "type": "incident",
            "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "number": 2, "status": "triggered",
            "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": "2026-11-22T09:40:27Z",
            "title": "A little bump in the road",
            "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                        "self": "https://api.pagerduty.com/services/PF9KMXH",
                        "summary": "Checkout API", "type": "service_reference"},
            "assignees": [{"html_url": "https://acme.pagerduty.com/users/PTUXL6G", "id": "PTUXL6G",
                           "self": "https://api.pagerduty.com/users/PTUXL6G", "summary": "User 123",
                           "type": "user_reference"}],
            "escalation_policy": {"html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
                                  "id": "PUS0KTE", "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
                                  "summary": "Default", "type": "escalation_policy_reference"},
            "teams": [{"html_url": "https://acme.pagerduty.com/teams/PFCVPS0", "id": "PFCVPS0",
                       "self": "https://api.pagerduty.com/teams/PFCVPS0", "summary": "Engineering",
                       "type": "team_reference"}],
            "priority": priority.map(|p| json!({
                "html_url": "https://acme.pagerduty.com/account/incident_priorities", "id": "PSO75BM",
                "self": "https://api.pagerduty.com/priorities/PSO75BM", "summary": p,
                "type": "priority_reference"})),
            "urgency": "high",
            "conference_bridge": {"conference_number": "+1 1234123412,,987654321#",
                                  "conference_url": "https://example.com"},
            "resolve_reason": null
        }
    }})
}

fn pd_note(id: &str, content: &str) -> Value {
    json!({"event": {
        "id": id, "event_type": "incident.annotated", "resource_type": "incident",
        "occurred_at": "2026-11-22T09:50:00Z",
        "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                  "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Tenex Engineer",
                  "type": "user_reference"},
        "client": null,
        "data": {"incident": {"html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "id": "PGR0VU2",
                              "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                              "summary": "A little bump in the road", "type": "incident_reference"},
                 "id": "P2LA89X", "content": content, "trimmed": false, "type": "incident_note"}
    }})
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pagerduty_runs_an_incident_through_its_lifecycle(pool: PgPool) {
    let app = app(pool.clone()).await;
    app.scene().await;
    let a = pagerduty(&app, &pd_event("ev-1", "incident.triggered", Some("P2"))).await;
    let id = incident_of(&a);
    assert_eq!(a.body["action"], "opened");
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
    assert_eq!(incident["title"], "A little bump in the road");
    assert_eq!(incident["severity"], "sev2", "P2 → SEV2");
    assert_eq!(incident["state"], "triage");
    assert_eq!(incident["source"], "pagerduty");
    assert_eq!(incident["started_at"], "2026-11-22T09:40:27Z");
    assert_eq!(
        incident["services"][0]["slug"], "checkout-api",
        "'Checkout API' as a slug"
    );
    assert_eq!(
        timeline(&app, id).await,
        [
            format!("Opened SEV2 INC-{id}: A little bump in the road"),
            "PagerDuty incident #2 (priority P2, high urgency) on service 'Checkout API': \
             https://acme.pagerduty.com/incidents/PGR0VU2 (triggered by Tenex Engineer)"
                .into()
        ]
    );

    // (event id, type, priority, then: action, state, severity)
    let steps = [
        (
            "ev-2",
            "incident.acknowledged",
            "P2",
            "updated",
            "investigating",
            "sev2",
        ),
        (
            "ev-3",
            "incident.priority_updated",
            "P1",
            "updated",
            "investigating",
            "sev1",
        ),
        (
            "ev-4",
            "incident.annotated",
            "P1",
            "updated",
            "investigating",
            "sev1",
        ),
        (
            "ev-5",
            "incident.resolved",
            "P1",
            "resolved",
            "resolved",
            "sev1",
        ),
        (
            "ev-6",
            "incident.reopened",
            "P1",
            "updated",
            "investigating",
            "sev1",
        ),
        (
            "ev-7",
            "incident.acknowledged",
            "P1",
            "ignored",
            "investigating",
            "sev1",
        ),
        (
            "ev-8",
            "incident.priority_updated",
            "P5",
            "updated",
            "investigating",
            "sev4",
        ),
        (
            "ev-9",
            "incident.priority_updated",
            "Urgent",
            "ignored",
            "investigating",
            "sev4",
        ),
        (
            "ev-10",
            "incident.triggered",
            "P1",
            "ignored",
            "investigating",
            "sev4",
        ),
    ];
    for (event_id, what, priority, action, state, severity) in steps {
        let event = match what {
            "incident.annotated" => pd_note(event_id, "Rolled back checkout-api 2.14.3."),
            _ => pd_event(event_id, what, Some(priority)),
        };
        let a = pagerduty(&app, &event).await;
        assert_eq!(incident_of(&a), id, "{what}");
        assert_eq!(a.body["action"], action, "{what}: {}", a.text);
        let incident = app.get(&format!("/api/v1/incidents/{id}")).await.body;
        assert_eq!(incident["state"], state, "{what}");
        assert_eq!(incident["severity"], severity, "{what}");
    }
    let lines = timeline(&app, id).await;
    for expected in [
        "triage → investigating: acknowledged in PagerDuty by Tenex Engineer",
        "Severity SEV2 → SEV1",
        "Note in PagerDuty by Tenex Engineer: Rolled back checkout-api 2.14.3.",
        "investigating → resolved: resolved in PagerDuty by Tenex Engineer",
        "Reopened: resolved → investigating: reopened in PagerDuty by Tenex Engineer",
        "Severity SEV1 → SEV4",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} missing from {lines:#?}"
        );
    }
    let actions: Vec<String> = audit(&pool, id).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        [
            "incident.declare",
            "incident.transition",
            "incident.update",
            "incident.note",
            "incident.transition",
            "incident.transition",
            "incident.update"
        ]
    );
    assert!(
        audit(&pool, id)
            .await
            .iter()
            .all(|(_, actor)| actor == "pagerduty")
    );

    // A re-delivery of the same event, byte for byte: nothing changes.
    let a = pagerduty(&app, &pd_event("ev-5", "incident.resolved", Some("P1"))).await;
    assert_eq!(a.body["action"], "duplicate", "{}", a.text);
    assert!(
        a.body["reason"]
            .as_str()
            .expect("reason")
            .contains("(resolved: INC-"),
        "{}",
        a.text
    );
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.body["state"],
        "investigating"
    );
    assert_eq!(timeline(&app, id).await.len(), lines.len());
    assert_eq!(audit(&pool, id).await.len(), actions.len());

    // Resolved in PagerDuty after people closed it here: noted, nothing else.
    close_as_people(&app, id).await;
    let a = pagerduty(&app, &pd_event("ev-11", "incident.resolved", Some("P1"))).await;
    assert_eq!(a.body["action"], "updated", "{}", a.text);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.body["state"],
        "closed"
    );
    assert!(
        timeline(&app, id).await.contains(
            &"Resolved in PagerDuty by Tenex Engineer; the incident was already closed, so nothing else changes"
                .to_string()
        )
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pagerduty_signatures_are_checked_over_the_raw_body(pool: PgPool) {
    let app = app(pool.clone()).await;
    let raw = pd_event("ev-1", "incident.triggered", None).to_string();
    let refused = [
        vec![],
        vec![(
            "x-pagerduty-signature",
            sign(&raw, "not-the-secret-0123456789"),
        )],
        vec![("x-pagerduty-signature", "v1=".to_string())],
        vec![(
            "x-pagerduty-signature",
            sign(&raw, PD_SECRET).replace("v1=", "v0="),
        )],
        // The same JSON, written differently: another body, another signature.
        vec![(
            "x-pagerduty-signature",
            sign(
                &serde_json::to_string_pretty(&pd_event("ev-1", "incident.triggered", None))
                    .expect("json"),
                PD_SECRET,
            ),
        )],
    ];
    for headers in &refused {
        let a = post_raw(&app, PD, raw.clone(), headers).await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{headers:?}: {}",
            a.text
        );
        assert!(!a.text.contains(PD_SECRET));
    }
    // An unsigned body is refused before it is read as JSON: no hint about its shape.
    let a = post_raw(&app, PD, "not json", &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(count(&pool, "incidents").await, 0);
    assert_eq!(count(&pool, "alert_deliveries").await, 0);
    // While PagerDuty rotates the secret, it signs with both; either one will do.
    let rotated = format!(
        "{},{}",
        sign(&raw, "the-old-secret-0123456789"),
        sign(&raw, PD_SECRET)
    );
    let a = post_raw(&app, PD, raw.clone(), &[("x-pagerduty-signature", rotated)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["action"], "opened");
    let id = incident_of(&a);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.body["severity"],
        "sev2",
        "no priority, high urgency → SEV2"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pagerduty_events_not_acted_on_are_answered_and_bad_ones_named(pool: PgPool) {
    let app = app(pool.clone()).await;
    let a = pagerduty(&app, &pd_event("ev-1", "incident.escalated", Some("P1"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["action"], "ignored");
    assert_eq!(a.body["incident"], Value::Null);
    assert_eq!(
        a.body["reason"],
        "Portolan does not act on incident.escalated events"
    );
    let a = pagerduty(&app, &pd_event("ev-2", "incident.acknowledged", Some("P1"))).await;
    assert_eq!(
        a.body["action"], "ignored",
        "no incident follows it: {}",
        a.text
    );
    assert!(
        a.body["reason"]
            .as_str()
            .expect("reason")
            .contains("PGR0VU2")
    );

    let mut bad = pd_event("ev-3", "incident.triggered", Some("P1"));
    bad["event"]["data"]["id"] = json!(17);
    let a = pagerduty(&app, &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.error_fields(), ["event.data.id"]);
    let mut bad = pd_event("ev-4", "incident.triggered", Some("P1"));
    bad["event"]["occurred_at"] = json!("now-ish");
    assert_eq!(
        pagerduty(&app, &bad).await.error_fields(),
        ["event.occurred_at"]
    );
    let raw = "{\"event\": ";
    let a = post_raw(
        &app,
        PD,
        raw,
        &[("x-pagerduty-signature", sign(raw, PD_SECRET))],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
    let a = pagerduty(&app, &json!({"event": {"id": "ev-5"}})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a.text.contains("missing field"), "{}", a.text);
    assert_eq!(count(&pool, "incidents").await, 0);
    assert_eq!(
        count(&pool, "alert_deliveries").await,
        2,
        "the two ignored events"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_older_incident_of_a_group_is_not_reopened_beside_a_newer_open_one(pool: PgPool) {
    let app = app(pool.clone()).await;
    let firing = alert_firing("api-1:8080", "2026-11-22T08:00:00Z");
    let old = incident_of(&alertmanager(&app, &notification("firing", vec![firing])).await);
    let ended = alert_ended("api-1:8080", "2026-11-22T08:00:00Z", "2026-11-22T08:10:00Z");
    let a = alertmanager(&app, &notification("resolved", vec![ended])).await;
    assert_eq!(a.body["action"], "resolved", "{}", a.text);
    let again = alert_firing("api-1:8080", "2026-11-22T09:00:00Z");
    let a = alertmanager(&app, &notification("firing", vec![again])).await;
    assert_eq!(
        a.body["action"], "opened",
        "a resolved incident is not open: {}",
        a.text
    );
    let new = incident_of(&a);
    assert_ne!(new, old);
    let a = app
        .post(
            &format!("/api/v1/incidents/{old}/transition"),
            json!({"to": "investigating"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert!(a.text.contains("merge this one into it"), "{}", a.text);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{old}")).await.body["state"],
        "resolved"
    );
    // Merging it into the open one is the way.
    let a = app
        .post(
            &format!("/api/v1/incidents/{old}/transition"),
            json!({"to": "merged", "merged_into": new, "note": "the same trouble"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
