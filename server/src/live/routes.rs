//! The event stream browsers follow: `GET /api/v1/events`, server-sent events.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderName;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use portolan_api::{ErrorBody, LiveEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model;
use crate::AppState;
use crate::error::{AppError, AppResult};

/// A comment this often keeps proxies and load balancers from closing a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting a stream that broke.
const RETRY: Duration = Duration::from_secs(3);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(follow_events))
}

/// Follow changes as they are committed, as server-sent events.
///
/// The answer is a `text/event-stream`, for example for a browser's `EventSource`. Name what to
/// follow with `topic`, once per topic (at most 20): a record (`incident:12`, `postmortem:12`, `promotion:5`) or a list (`incidents`,
/// `action_items`, `promotions`). Each event's data is a small JSON object (topic, kind, id,
/// at) saying what changed, never the record: read it again through the API. An event named
/// `resync` (kind `resync`, topic `*`) says events may have been missed; read everything shown
/// again. A comment every 15 s keeps the connection open. Every Portolan server sends every
/// change, whichever server it was made on.
#[utoipa::path(get, path = "/api/v1/events", tag = "live",
    params(("topic" = Vec<String>, Query,
        description = "What to follow, repeated for each topic: `[a-z_]+(:[0-9]+)?`, at most 20",
        example = json!(["incident:12", "incidents"]))),
    responses(
        (status = 200, description = "The stream of events: `data:` lines holding a LiveEvent",
            content_type = "text/event-stream", body = LiveEvent),
        (status = 422, description = "A topic is missing or malformed, or there are too many",
            body = ErrorBody)))]
async fn follow_events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let topics = model::topics(query.as_deref().unwrap_or("")).map_err(AppError::Validation)?;
    // Subscribed before answering: whatever commits once the caller has the answer reaches it.
    let stream = follow(topics, state.live.subscribe(), state.live.closing());
    Ok((
        // Tells nginx-like proxies not to hold events back in a buffer.
        [(HeaderName::from_static("x-accel-buffering"), "no")],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
        .into_response())
}

struct Following {
    topics: BTreeSet<String>,
    events: broadcast::Receiver<LiveEvent>,
    closing: watch::Receiver<bool>,
    started: bool,
}

fn sse_event(e: &LiveEvent) -> Event {
    let data = serde_json::to_string(e).unwrap_or_default();
    let event = Event::default().data(data);
    if e.is_resync() {
        event.event(portolan_api::RESYNC)
    } else {
        event
    }
}

/// The events of `topics` until the server shuts down. A stream that fell too far behind
/// gets one `resync` in place of what it missed.
fn follow(
    topics: BTreeSet<String>,
    events: broadcast::Receiver<LiveEvent>,
    closing: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = Following {
        topics,
        events,
        closing,
        started: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        if !s.started {
            // At once, so that the browser knows it is connected; and its reconnection pause.
            s.started = true;
            let hello = Event::default()
                .retry(RETRY)
                .comment(format!("following {}", s.topics.len()));
            return Some((Ok(hello), s));
        }
        loop {
            let next = tokio::select! {
                next = s.events.recv() => next,
                _ = s.closing.wait_for(|c| *c) => return None,
            };
            let event = match next {
                Ok(e) if model::follows(&s.topics, &e) => e,
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "live: a stream fell behind; it gets a resync");
                    LiveEvent::resync()
                }
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(sse_event(&event)), s));
        }
    })
}
