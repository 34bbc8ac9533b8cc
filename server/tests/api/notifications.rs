//! Notifications to Microsoft Teams and Slack, end to end: promotion changes through the router,
//! the outbox in Postgres, the delivery worker (as `serve` starts it) and a real HTTP receiver on
//! 127.0.0.1 standing in for both incoming webhooks, which can fail on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::routing::post;
use portolan_server::config::{Config, WebhookUrl};
use portolan_server::{AppState, build_app, notifications};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{Answer, TestApp, session_for};

/// Long enough for a message to travel on a busy machine.
const WAIT: Duration = Duration::from_secs(30);
/// What every webhook URL here carries, as the real ones carry a signature: it must never show.
const SECRET: &str = "SECRET-sig-4f1c";
const LINK_BASE: &str = "https://portolan.example.com";

/// One incoming webhook: what it received (path and body), and how many calls it should still
/// fail with 500.
#[derive(Clone, Default)]
struct Receiver {
    base: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
    calls: Arc<AtomicUsize>,
    failures_left: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let me = Receiver {
            base: format!("http://{}", listener.local_addr().expect("addr")),
            failures_left: Arc::new(AtomicUsize::new(fail_first)),
            ..Default::default()
        };
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        me
    }

    fn url(&self, channel: &str) -> String {
        format!(
            "{}/{channel}/workflows/{SECRET}/invoke?api-version=1&sig={SECRET}",
            self.base
        )
    }

    /// The bodies received on `channel`'s URL, in order.
    fn bodies(&self, channel: &str) -> Vec<Value> {
        let prefix = format!("/{channel}/");
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .map(|(_, body)| body.clone())
            .collect()
    }

    fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }
}

async fn receive(
    State(r): State<Receiver>,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> (StatusCode, &'static str) {
    r.calls.fetch_add(1, Ordering::SeqCst);
    let failing = r
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "receiver down");
    }
    let body: Value = serde_json::from_str(&body).expect("a JSON message");
    r.received
        .lock()
        .expect("lock")
        .push((uri.path().to_string(), body));
    (StatusCode::OK, "ok")
}

/// The application with its delivery worker running, as `serve` starts it, posting to
/// `receiver` for the channels named; the first retry comes after `retry`.
async fn app_with(
    pool: PgPool,
    receiver: &Receiver,
    channels: &[&str],
    retry: Duration,
) -> TestApp {
    let hook = |name: &str| {
        channels
            .contains(&name)
            .then(|| WebhookUrl::parse(&receiver.url(name), false).expect("webhook URL"))
    };
    let config = Config {
        teams_webhook: hook("teams"),
        slack_webhook: hook("slack"),
        public_url: LINK_BASE.parse().expect("url"),
        notification_retry: retry,
        ..Config::default()
    };
    let state = AppState::new(pool.clone(), config).expect("state");
    notifications::spawn(pool.clone(), state.config.clone(), state.live.closing()).expect("worker");
    TestApp {
        router: build_app(state),
        auth: session_for(&pool, "admin", &["admin"], &[]).await,
        pool,
    }
}

/// Waits until `check` holds (at most [`WAIT`]).
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn shipped(app: &TestApp, env: &str, version: &str) {
    app.create(
        "/api/v1/deployments",
        json!({"service": "checkout-api", "environment": env, "version": version,
               "status": "succeeded", "external_id": format!("{env}-{version}")}),
    )
    .await;
}

/// The organisation, 1.2.0 of checkout-api in dev and staging, and a prod gate of one approval.
async fn stage(admin: &TestApp) {
    admin.scene().await;
    shipped(admin, "dev", "1.2.0").await;
    shipped(admin, "staging", "1.2.0").await;
    let set = admin
        .put(
            "/api/v1/environments/prod/gate",
            json!({"reason": "One approval", "policy": {"approvals": [{"name": "Approvers", "count": 1}]}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
}

/// Dana (a developer) asks for checkout-api 1.2.0 into `to`, with `reason`: the answer (201)
/// and the request's number.
async fn ask(admin: &TestApp, to: &str, reason: &str) -> (Answer, i64) {
    let asked = admin
        .as_roles("dana", &["developer"])
        .await
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2.0", "to": to, "reason": reason}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let id = asked.body["id"].as_i64().expect("id");
    (asked, id)
}

/// Every string in a JSON document, one per line.
fn text_of(v: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out.join("\n")
}

/// The outbox rows of a request, oldest first: `channel event state attempts`.
async fn rows(pool: &PgPool, promotion: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT concat_ws(' ', channel, event, state, attempts) FROM notifications
          WHERE promotion_id = $1 ORDER BY id",
    )
    .bind(promotion)
    .fetch_all(pool)
    .await
    .expect("rows")
}

/// The promotion's messages once none is still waiting to be sent (the receiver sees a message
/// before the worker has recorded that it was taken).
async fn settled_rows(pool: &PgPool, promotion: i64) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = rows(pool, promotion).await;
        if !now.iter().any(|r| r.contains(" pending ")) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for the messages to settle: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts that no answer shows anything of a webhook URL.
fn no_secret_in(answers: &[&Answer]) {
    for a in answers {
        assert!(
            !a.text.contains(SECRET) && !a.text.contains("/workflows/"),
            "{}",
            a.text
        );
    }
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_request_that_needs_approvers_is_announced_once_per_channel_and_so_is_its_decision(
    pool: PgPool,
) {
    let receiver = Receiver::start(0).await;
    let admin = app_with(
        pool.clone(),
        &receiver,
        &["teams", "slack"],
        Duration::from_millis(5),
    )
    .await;
    stage(&admin).await;
    // A gate that needs nobody opens at once: nobody to ask, nothing to announce.
    let (open, open_id) = ask(&admin, "staging", "").await;
    assert_eq!(open.body["state"], "approved");

    let reason = "Card \"retries\" <b>now</b> & *fast*\nsecond line";
    let (asked, id) = ask(&admin, "prod", reason).await;
    assert_eq!(asked.body["state"], "pending");
    let link = format!("{LINK_BASE}/promotions/{id}");

    until("the request on both channels", || {
        receiver.bodies("teams").len() == 1 && receiver.bodies("slack").len() == 1
    })
    .await;
    assert_eq!(
        settled_rows(&pool, id).await,
        [
            "teams promotion.requested sent 1",
            "slack promotion.requested sent 1"
        ]
    );
    assert!(
        rows(&pool, open_id).await.is_empty(),
        "nothing for {open_id}"
    );

    let teams = &receiver.bodies("teams")[0];
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["actions"][0]["url"], link.as_str());
    assert_eq!(card["content"]["actions"][0]["title"], "Open request");
    let text = text_of(teams);
    for said in [
        "Approval needed",
        "Checkout Api 1.2.0: staging → prod",
        "Test dana",
        "Card \"retries\" <b>now</b> & *fast* second line",
        "needs 1 more approval from Approvers",
    ] {
        assert!(text.contains(said), "{said} in {text}");
    }
    let slack = &receiver.bodies("slack")[0];
    let blocks = slack["blocks"].as_array().expect("blocks");
    assert_eq!(
        blocks.last().expect("actions")["elements"][0]["url"],
        link.as_str()
    );
    let text = text_of(slack);
    for said in [
        "*Approval needed*",
        "Card \"retries\" &lt;b&gt;now&lt;/b&gt; &amp; *fast* second line",
        "needs 1 more approval from Approvers",
    ] {
        assert!(text.contains(said), "{said} in {text}");
    }
    assert!(!text.contains("<b>"), "{text}");

    // An approver decides: the decision follows on both channels.
    let ann = admin.as_roles("ann", &["approver"]).await;
    let decided = ann
        .post(
            &format!("/api/v1/promotions/{id}/decisions"),
            json!({"decision": "reject", "comment": "Not \"today\" <tests> are red"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
    assert_eq!(decided.body["state"], "rejected");
    until("the decision on both channels", || {
        receiver.bodies("teams").len() == 2 && receiver.bodies("slack").len() == 2
    })
    .await;
    let teams = text_of(&receiver.bodies("teams")[1]);
    for said in [
        "Rejected",
        "Test ann",
        "rejected by Test ann: Not \"today\" <tests> are red",
        link.as_str(),
    ] {
        assert!(teams.contains(said), "{said} in {teams}");
    }
    assert!(
        !teams.contains("Still needed"),
        "a decision needs nothing more"
    );
    let slack = text_of(&receiver.bodies("slack")[1]);
    assert!(
        slack.contains("rejected by Test ann: Not \"today\" &lt;tests&gt; are red"),
        "{slack}"
    );

    // Admins see what went where.
    assert!(!settled_rows(&pool, id).await.is_empty());
    let list = admin
        .get(&format!("/api/v1/notifications?promotion={id}"))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body["items"].as_array().expect("items");
    let seen: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|n| {
            (
                n["channel"].as_str().unwrap_or(""),
                n["event"].as_str().unwrap_or(""),
                n["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("slack", "promotion.rejected", "sent"),
            ("teams", "promotion.rejected", "sent"),
            ("slack", "promotion.requested", "sent"),
            ("teams", "promotion.requested", "sent"),
        ]
    );
    assert!(items.iter().all(|n| n["promotion"] == id
        && n["attempts"] == 1
        && n["sent_at"].is_string()
        && n["next_attempt_at"].is_null()));
    let page = admin.get("/api/v1/notifications?state=sent&limit=3").await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(3));
    let rest = admin
        .get(&format!(
            "/api/v1/notifications?state=sent&limit=3&cursor={}",
            page.body["next_cursor"].as_str().expect("a next page")
        ))
        .await;
    assert_eq!(rest.body["items"].as_array().map(Vec::len), Some(1));
    assert!(rest.body["next_cursor"].is_null());
    let none = admin.get("/api/v1/notifications?state=failed").await;
    assert_eq!(none.body["items"], json!([]));
    let bad = admin
        .get("/api/v1/notifications?state=lost&promotion=seven")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["state", "promotion"]);
    no_secret_in(&[&open, &asked, &decided, &list, &page, &rest, &bad]);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn without_a_webhook_nothing_is_written(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    stage(&admin).await;
    let (asked, _) = ask(&admin, "prod", "").await;
    assert_eq!(asked.body["state"], "pending");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_failing_receiver_never_holds_a_decision_up_and_is_tried_until_it_takes_it(pool: PgPool) {
    let receiver = Receiver::start(3).await;
    let admin = app_with(
        pool.clone(),
        &receiver,
        &["slack"],
        Duration::from_millis(2),
    )
    .await;
    stage(&admin).await;
    let (asked, id) = ask(&admin, "prod", "").await;
    until("the request, after three failures", || {
        receiver.bodies("slack").len() == 1
    })
    .await;
    assert_eq!(receiver.calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        settled_rows(&pool, id).await,
        ["slack promotion.requested sent 4"]
    );
    let list = admin
        .get(&format!("/api/v1/notifications?promotion={id}"))
        .await;
    let n = &list.body["items"][0];
    assert_eq!(
        (&n["state"], &n["attempts"], &n["channel"]),
        (&json!("sent"), &json!(4), &json!("slack"))
    );
    assert_eq!(
        n["last_error"], "HTTP 500 Internal Server Error: receiver down",
        "the failure before it took"
    );

    // The receiver is down when the decision is made: the decision stands all the same.
    receiver.fail_next(2);
    let decided = admin
        .as_roles("ann", &["approver"])
        .await
        .post(
            &format!("/api/v1/promotions/{id}/decisions"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
    assert_eq!(decided.body["state"], "approved");
    let read = admin.get(&format!("/api/v1/promotions/{id}")).await;
    assert_eq!(read.body["state"], "approved");
    until("the decision, after two failures", || {
        receiver.bodies("slack").len() == 2
    })
    .await;
    assert!(text_of(&receiver.bodies("slack")[1]).contains("*Approved*"));
    assert_eq!(
        settled_rows(&pool, id).await,
        [
            "slack promotion.requested sent 4",
            "slack promotion.approved sent 3"
        ]
    );
    no_secret_in(&[&asked, &list, &decided, &read]);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_message_that_keeps_failing_is_given_up_shown_to_admins_and_sent_again_on_demand(
    pool: PgPool,
) {
    let receiver = Receiver::start(usize::MAX).await;
    let admin = app_with(
        pool.clone(),
        &receiver,
        &["teams"],
        Duration::from_millis(1),
    )
    .await;
    stage(&admin).await;
    let (asked, id) = ask(&admin, "prod", "").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let failed = loop {
        let a = admin.get("/api/v1/notifications?state=failed").await;
        if a.body["items"].as_array().is_some_and(|i| i.len() == 1) {
            break a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for the message to be given up: {}",
            a.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let n = &failed.body["items"][0];
    assert_eq!(n["promotion"], id);
    assert_eq!(n["attempts"], 8);
    assert_eq!(
        n["last_error"],
        "HTTP 500 Internal Server Error: receiver down"
    );
    assert!(n["next_attempt_at"].is_null() && n["sent_at"].is_null());
    assert_eq!(receiver.calls.load(Ordering::SeqCst), 8, "no ninth attempt");
    let nid = n["id"].as_i64().expect("id");
    // The request itself is untouched.
    let read = admin.get(&format!("/api/v1/promotions/{id}")).await;
    assert_eq!(read.body["state"], "pending");

    // Only admins see or retry messages.
    let retry = format!("/api/v1/notifications/{nid}/retry");
    let mut refusals = Vec::new();
    for role in ["developer", "approver", "sre", "viewer"] {
        let who = admin.as_roles(role, &[role]).await;
        for a in [
            who.get("/api/v1/notifications").await,
            who.post(&retry, json!({})).await,
        ] {
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{role}: {}", a.text);
            refusals.push(a);
        }
    }

    // The receiver is back: an admin sends it again.
    receiver.fail_next(0);
    let again = admin.post(&retry, json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["state"], "pending");
    assert_eq!(again.body["attempts"], 0);
    until("the message sent again", || {
        receiver.bodies("teams").len() == 1
    })
    .await;
    let sent = admin
        .get(&format!("/api/v1/notifications?promotion={id}"))
        .await;
    assert_eq!(sent.body["items"][0]["state"], "sent");
    assert_eq!(sent.body["items"][0]["attempts"], 1);
    assert!(text_of(&receiver.bodies("teams")[0]).contains("Approval needed"));
    let twice = admin.post(&retry, json!({})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    assert!(twice.text.contains("is sent"), "{}", twice.text);
    let missing = admin
        .post("/api/v1/notifications/999999/retry", json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let audit = admin.get("/api/v1/audit?action=notification.retry").await;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.text
    );
    assert_eq!(audit.body["items"][0]["target_kind"], "notification");
    let mut answers = vec![
        &asked, &failed, &read, &again, &sent, &twice, &missing, &audit,
    ];
    answers.extend(refusals.iter());
    no_secret_in(&answers);
}
