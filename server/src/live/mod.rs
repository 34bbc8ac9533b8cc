//! Live updates: a committed change reaches every open browser without a reload.
//!
//! A writer announces its change in its own transaction ([`emit`], or one of the helpers below):
//! `pg_notify('portolan_events', …)`, which Postgres delivers only when the transaction commits
//! and never when it rolls back. Every replica LISTENs on that channel ([`Live::listen`]) and fans
//! what it hears out to the browsers connected to it over server-sent events
//! (`GET /api/v1/events`, [`routes`]). Several replicas behind a load balancer with one Postgres
//! need nothing else. An event carries a topic and an id, never a record: browsers read the
//! record again through the API, with their own permissions.

pub mod model;
pub mod repo;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use portolan_api::{LiveEvent, topic_of};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{broadcast, watch};

use crate::error::AppResult;

/// The Postgres channel every replica listens on.
pub const CHANNEL: &str = "portolan_events";
/// Events kept for a browser's stream that has not been sent on yet; one further behind is told
/// to read everything again (`resync`).
const BUFFER: usize = 256;
/// The longest wait between two attempts to listen again after the connection was lost.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// This replica's fan-out: what its listener hears, for every open event stream. Always there
/// (so that the router works without a listener, as in most tests); [`Live::listen`] connects it
/// to Postgres.
#[derive(Clone)]
pub struct Live {
    events: broadcast::Sender<LiveEvent>,
    /// Set when the server shuts down: streams end, the listener stops. Dropping the last
    /// [`Live`] does the same.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        Self {
            events: broadcast::channel(BUFFER).0,
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// A receiver of every event heard from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// Resolves when the server shuts down (or the last [`Live`] is gone).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every event stream and stops the listener: graceful shutdown waits for open
    /// connections, and an event stream would otherwise stay open for ever.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Listens on [`CHANNEL`] through a connection of `pool` (so: the same database), and once
    /// listening, passes what it hears to this replica's streams in a task of its own. A lost
    /// connection is logged and reopened, with a growing pause between attempts; once listening
    /// again, streams get a `resync` (events of the gap are lost). Returns an error only when
    /// the first attempt to listen fails.
    pub async fn listen(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let listener = connect(pool).await?;
        tokio::spawn(run(
            listener,
            pool.clone(),
            self.events.clone(),
            self.closing.subscribe(),
        ));
        Ok(())
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnect here, explicitly, so that the gap can be announced (resync).
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn run(
    mut listener: PgListener,
    pool: PgPool,
    events: broadcast::Sender<LiveEvent>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            next = listener.try_recv() => next,
            _ = closing.wait_for(|c| *c) => return,
        };
        let lost = match next {
            Ok(Some(n)) => {
                match serde_json::from_str::<LiveEvent>(n.payload()) {
                    // Nobody listening is fine.
                    Ok(event) => drop(events.send(event)),
                    Err(e) => {
                        tracing::warn!(error = %e, payload = n.payload(), "live: not an event; skipped")
                    }
                }
                continue;
            }
            Ok(None) => "the connection was lost".to_string(),
            Err(e) => e.to_string(),
        };
        drop(listener);
        if pool.is_closed() {
            return;
        }
        tracing::warn!(
            reason = %lost,
            "live: stopped hearing changes from the database; listening again"
        );
        let mut pause = Duration::from_millis(250);
        listener = loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            if pool.is_closed() {
                return;
            }
            match connect(&pool).await {
                Ok(l) => break l,
                Err(e) => {
                    pause = (pause * 2).min(MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in = ?pause, "live: could not listen again");
                }
            }
        };
        tracing::info!("live: listening again; open pages read what they show again");
        drop(events.send(LiveEvent::resync()));
    }
}

/// Announces `event` when the caller's transaction commits (and never if it rolls back).
pub async fn emit(conn: &mut PgConnection, event: &LiveEvent) -> AppResult<()> {
    announce(conn, std::slice::from_ref(event)).await
}

/// Announces several events in one round trip, in the caller's transaction.
pub async fn announce(conn: &mut PgConnection, events: &[LiveEvent]) -> AppResult<()> {
    let payloads = events
        .iter()
        .map(|e| {
            debug_assert!(portolan_api::is_topic(&e.topic), "{}", e.topic);
            serde_json::to_string(e)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!(e))?;
    repo::notify(conn, &payloads).await
}

/// One change, under each of its topics.
async fn changed(conn: &mut PgConnection, kind: &str, id: i64, topics: &[String]) -> AppResult<()> {
    let events: Vec<LiveEvent> = topics
        .iter()
        .map(|t| LiveEvent::new(t.clone(), kind, Some(id)))
        .collect();
    announce(conn, &events).await
}

/// An incident changed (`kind`: what the audit log calls it, e.g. `incident.note`): its page
/// (`incident:<id>`) and the list (`incidents`).
pub async fn incident_changed(conn: &mut PgConnection, id: i64, kind: &str) -> AppResult<()> {
    changed(
        conn,
        kind,
        id,
        &[topic_of("incident", id), "incidents".into()],
    )
    .await
}

/// The postmortem of incident `id` changed: its page (`postmortem:<id>`) and the incident's,
/// which shows it in the timeline.
pub async fn postmortem_changed(conn: &mut PgConnection, id: i64, kind: &str) -> AppResult<()> {
    changed(
        conn,
        kind,
        id,
        &[topic_of("postmortem", id), topic_of("incident", id)],
    )
    .await
}

/// Action item `id` of incident `incident_id` changed: the incident (whose page and postmortem
/// show its items) and the follow-through (`action_items`).
pub async fn action_item_changed(
    conn: &mut PgConnection,
    id: i64,
    incident_id: i64,
    kind: &str,
) -> AppResult<()> {
    changed(
        conn,
        kind,
        id,
        &[topic_of("incident", incident_id), "action_items".into()],
    )
    .await
}

/// Promotion request `id` changed: its page (`promotion:<id>`) and the lists (`promotions`).
pub async fn promotion_changed(conn: &mut PgConnection, id: i64, kind: &str) -> AppResult<()> {
    changed(
        conn,
        kind,
        id,
        &[topic_of("promotion", id), "promotions".into()],
    )
    .await
}

/// The gate policy of environment `environment_id` changed: the gate pages (`gates`).
pub async fn gate_changed(
    conn: &mut PgConnection,
    environment_id: i64,
    kind: &str,
) -> AppResult<()> {
    changed(conn, kind, environment_id, &["gates".into()]).await
}
