//! Live updates through the router against Postgres: a committed change reaches the event
//! streams that follow its topics (through NOTIFY and this test database's listener), and no
//! other; a rolled-back one reaches nobody.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portolan_api::LiveEvent;
use portolan_server::config::Config;
use portolan_server::{AppState, build_app, live};
use serde_json::json;
use sqlx::PgPool;

use crate::{TestApp, session_for};

/// Long enough for a commit to travel through Postgres and back on a busy machine.
const WAIT: Duration = Duration::from_secs(10);

/// The application with its listener on this test's database (NOTIFY is per database), as
/// `serve` starts it; requests made by a signed-in admin.
async fn live_app(pool: PgPool, config: Config) -> (TestApp, AppState) {
    let state = AppState::new(pool.clone(), config).expect("state");
    state.live.listen(&pool).await.expect("listen");
    let app = TestApp {
        router: build_app(state.clone()),
        auth: session_for(&pool, "admin", &["admin"], &[]).await,
        pool,
    };
    (app, state)
}

/// One open event stream, read as a browser's EventSource would.
struct Stream {
    body: Body,
    buffer: String,
}

/// What a stream said: the event's name (`message` unless named) and its data.
#[derive(Debug)]
struct Said {
    name: String,
    event: LiveEvent,
}

impl Stream {
    async fn open(app: &TestApp, topics: &[&str]) -> Stream {
        let query: Vec<String> = topics.iter().map(|t| format!("topic={t}")).collect();
        let res = app
            .open(
                Request::builder()
                    .uri(format!("/api/v1/events?{}", query.join("&")))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut s = Stream {
            body: res.into_body(),
            buffer: String::new(),
        };
        // The stream says hello at once (a comment and the reconnection pause).
        let hello = s.block(WAIT).await.expect("a first block at once");
        assert!(hello.contains("retry: 3000"), "{hello}");
        s
    }

    /// The next block of the stream (up to a blank line), or None when `wait` passes first or
    /// the stream ends.
    async fn block(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return Some(block);
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .expect("a frame");
            if let Ok(data) = frame.into_data() {
                self.buffer
                    .push_str(std::str::from_utf8(&data).expect("utf-8"));
            }
        }
    }

    /// The next event (comments skipped), or None when `wait` passes first.
    async fn next_within(&mut self, wait: Duration) -> Option<Said> {
        loop {
            let block = self.block(wait).await?;
            let mut name = "message".to_string();
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).expect("a LiveEvent"));
                }
            }
            if let Some(event) = data {
                return Some(Said { name, event });
            }
        }
    }

    async fn next(&mut self) -> Said {
        self.next_within(WAIT).await.expect("an event in time")
    }
}

async fn declare(app: &TestApp, title: &str) -> i64 {
    app.create(
        "/api/v1/incidents",
        json!({"title": title, "severity": "sev2"}),
    )
    .await["id"]
        .as_i64()
        .expect("id")
}

async fn add_note(app: &TestApp, id: i64, text: &str) {
    let a = app
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            json!({ "text": text }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

/// Declares two incidents, and returns once their announcements went by (so that streams
/// opened afterwards start with what comes next).
async fn two_incidents(app: &TestApp) -> (i64, i64) {
    let mut list = Stream::open(app, &["incidents"]).await;
    let one = declare(app, "Checkout answers 5xx").await;
    let two = declare(app, "Search is slow").await;
    for id in [one, two] {
        let e = list.next().await.event;
        assert_eq!(
            (e.topic.as_str(), e.kind.as_str(), e.id),
            ("incidents", "incident.declare", Some(id))
        );
    }
    (one, two)
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_note_reaches_the_streams_that_follow_its_incident_and_no_other(pool: PgPool) {
    let (app, _state) = live_app(pool.clone(), Config::default()).await;
    let (one, two) = two_incidents(&app).await;
    // Someone else, who may only read, follows the incident and the list.
    let viewer = app.as_roles("vic", &["viewer"]).await;
    let mut page = Stream::open(&viewer, &[&format!("incident:{one}")]).await;
    let mut list = Stream::open(&viewer, &["incidents"]).await;
    let mut other = Stream::open(&viewer, &[&format!("incident:{two}"), "action_items"]).await;

    add_note(&app, one, "Rolled back to 2.4.0").await;

    let said = page.next().await;
    assert_eq!(said.name, "message");
    assert_eq!(said.event.topic, format!("incident:{one}"));
    assert_eq!(said.event.kind, "incident.note");
    assert_eq!(said.event.id, Some(one));
    let said = list.next().await.event;
    assert_eq!((said.topic.as_str(), said.id), ("incidents", Some(one)));
    // Small: what changed, never the note itself.
    assert!(
        !serde_json::to_string(&said)
            .expect("json")
            .contains("Rolled back")
    );

    // The other incident's stream heard nothing of it: the next thing it hears is its own.
    let a = app
        .post(
            &format!("/api/v1/incidents/{two}/transition"),
            json!({"to": "investigating"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let said = other.next().await.event;
    assert_eq!(
        (said.topic, said.kind),
        (format!("incident:{two}"), "incident.transition".to_string())
    );
    assert!(
        other
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn only_committed_changes_are_announced(pool: PgPool) {
    let (app, _state) = live_app(pool.clone(), Config::default()).await;
    let mut s = Stream::open(&app, &["incident:7"]).await;
    let announce = |kind: &'static str| LiveEvent::new("incident:7", kind, Some(7));

    let mut tx = pool.begin().await.expect("begin");
    live::emit(&mut tx, &announce("rolled_back"))
        .await
        .expect("emit");
    tx.rollback().await.expect("rollback");
    // A change the API refuses writes nothing and announces nothing either.
    let refused = app
        .post(
            "/api/v1/incidents/7/notes",
            json!({"text": "no such incident"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let mut tx = pool.begin().await.expect("begin");
    live::emit(&mut tx, &announce("committed"))
        .await
        .expect("emit");
    // Not before the commit.
    assert!(s.next_within(Duration::from_millis(300)).await.is_none());
    tx.commit().await.expect("commit");
    assert_eq!(s.next().await.event.kind, "committed");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_new_gate_policy_reaches_the_gate_pages(pool: PgPool) {
    let (app, _state) = live_app(pool.clone(), Config::default()).await;
    app.scene().await;
    let mut gates = Stream::open(&app, &["gates"]).await;
    let saved = app
        .put(
            "/api/v1/environments/prod/gate",
            json!({"reason": "Two approvals", "policy": {"approvals": [{"name": "Release managers", "count": 2}]}}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let said = gates.next().await.event;
    assert_eq!(
        (said.topic.as_str(), said.kind.as_str()),
        ("gates", "environment.gate")
    );
    assert!(said.id.is_some());
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn postmortems_action_items_and_alerts_are_announced(pool: PgPool) {
    let config = Config {
        alertmanager_token: Some(portolan_server::config::Secret::new(
            crate::webhooks::AM_TOKEN,
        )),
        ..Config::default()
    };
    let (app, _state) = live_app(pool.clone(), config).await;
    app.scene().await;
    let (id, _) = two_incidents(&app).await;
    let mut postmortem = Stream::open(&app, &[&format!("postmortem:{id}")]).await;
    let mut incident = Stream::open(&app, &[&format!("incident:{id}")]).await;
    let mut items = Stream::open(&app, &["action_items"]).await;
    let mut list = Stream::open(&app, &["incidents"]).await;

    app.create(&format!("/api/v1/incidents/{id}/postmortem"), json!({}))
        .await;
    let e = postmortem.next().await.event;
    assert_eq!((e.kind.as_str(), e.id), ("postmortem.start", Some(id)));
    assert_eq!(incident.next().await.event.kind, "postmortem.start");

    let item = app
        .create(
            &format!("/api/v1/incidents/{id}/action-items"),
            json!({"title": "Canary the gateway", "kind": "prevent", "priority": "p2", "team": "payments"}),
        )
        .await["id"]
        .as_i64()
        .expect("id");
    let e = items.next().await.event;
    assert_eq!((e.kind.as_str(), e.id), ("action_item.create", Some(item)));
    let e = incident.next().await.event;
    assert_eq!((e.kind.as_str(), e.id), ("action_item.create", Some(item)));

    let a = crate::webhooks::alertmanager(
        &app,
        &crate::webhooks::notification(
            "firing",
            vec![crate::webhooks::alert_firing(
                "10.0.0.1",
                "2026-11-20T08:00:00Z",
            )],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let opened = a.body["incident"].as_i64().expect("an incident");
    let e = list.next().await.event;
    assert_eq!((e.kind.as_str(), e.id), ("alert.opened", Some(opened)));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn streams_are_for_readers_with_well_formed_topics(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let get = |path: &str| {
        let path = path.to_string();
        let app = app.clone();
        async move { app.get(&path).await }
    };
    let a = get("/api/v1/events?topic=incidents&topic=Incident:12&topic=incident:x").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), ["topic[1]", "topic[2]"]);
    assert!(
        a.text.contains("'Incident:12' is not a topic"),
        "{}",
        a.text
    );
    let a = get("/api/v1/events").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.text.contains("name at least one topic"), "{}", a.text);
    let many: Vec<String> = (0..21).map(|i| format!("topic=incident:{i}")).collect();
    let a = get(&format!("/api/v1/events?{}", many.join("&"))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.text.contains("at most 20 topics"), "{}", a.text);
    let a = get("/api/v1/events?topic=incidents&since=yesterday").await;
    assert_eq!(a.error_fields(), ["since"]);

    let a = app.anonymous().get("/api/v1/events?topic=incidents").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let nobody = app.as_roles("norole", &[]).await;
    assert_eq!(
        nobody.get("/api/v1/events?topic=incidents").await.status,
        StatusCode::FORBIDDEN
    );

    // Streamed as it comes, never compressed (a compressor would hold events back).
    let res = app
        .as_roles("vic", &["viewer"])
        .await
        .open(
            Request::builder()
                .uri("/api/v1/events?topic=incidents")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    let mut body = res.into_body();
    let first = tokio::time::timeout(WAIT, body.frame())
        .await
        .expect("at once")
        .expect("a frame")
        .expect("data");
    let text = String::from_utf8(first.into_data().expect("data").to_vec()).expect("utf-8");
    assert!(text.contains(": following 1\n"), "{text}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_stream_that_falls_behind_is_told_to_read_everything_again(pool: PgPool) {
    let (app, _state) = live_app(pool.clone(), Config::default()).await;
    let mut slow = Stream::open(&app, &["incidents"]).await;
    let mut marker = Stream::open(&app, &["marker"]).await;
    let mut burst: Vec<LiveEvent> = (1..=1000)
        .map(|i| LiveEvent::new("incidents", "burst", Some(i)))
        .collect();
    burst.push(LiveEvent::new("marker", "last", None));
    let mut tx = pool.begin().await.expect("begin");
    live::announce(&mut tx, &burst).await.expect("announce");
    tx.commit().await.expect("commit");
    // Once the last one went by, all of them did.
    loop {
        let said = marker.next().await;
        if said.event.kind == "last" {
            break;
        }
        assert!(said.event.is_resync(), "{said:?}");
    }
    // The stream that did not read meanwhile missed some: it hears `resync` first.
    let said = slow.next().await;
    assert_eq!(said.name, "resync");
    assert!(said.event.is_resync());
    assert_eq!(said.event.topic, "*");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_listener_comes_back_after_losing_its_connection(pool: PgPool) {
    let (app, _state) = live_app(pool.clone(), Config::default()).await;
    let (one, _) = two_incidents(&app).await;
    let mut s = Stream::open(&app, &[&format!("incident:{one}")]).await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .expect("terminate");
    assert_eq!(ended, [true], "one listener");
    // Whatever was missed meanwhile, pages read again.
    let said = s.next().await;
    assert_eq!(said.name, "resync");
    // And changes are heard again.
    add_note(&app, one, "Still here").await;
    assert_eq!(s.next().await.event.kind, "incident.note");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn streams_end_when_the_server_shuts_down(pool: PgPool) {
    let (app, state) = live_app(pool, Config::default()).await;
    let mut s = Stream::open(&app, &["incidents"]).await;
    state.live.close();
    let end = tokio::time::timeout(WAIT, s.body.frame())
        .await
        .expect("ends at once");
    assert!(end.is_none(), "the stream ended");
}
