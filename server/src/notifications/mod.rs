//! Notifications out: Microsoft Teams and Slack incoming webhooks hear when a promotion request
//! needs approvers and how it was decided.
//!
//! A change of a request writes its messages to an outbox (`notifications`) in the change's own
//! transaction ([`promotion_changed`]): a change that rolls back sends nothing, a committed one is
//! never lost. A delivery worker on every replica ([`spawn`]) posts due messages, each locked with
//! `FOR UPDATE SKIP LOCKED` while it is posted so that replicas never send one twice at once, with
//! a timeout; a failure is tried again after growing pauses ([`model::retry_delay`]) and, after
//! the last attempt, kept as `failed`, for admins to see (`GET /api/v1/notifications`) and send
//! again. The worker wakes on `NOTIFY portolan_notifications` (sent with each new message) and
//! looks for due ones at least every [`POLL`]. Delivery never touches the request: a channel that
//! is down changes nothing about a gate. The webhook URLs are secrets: they are never logged,
//! stored or returned; a failure is told by channel, status and request.

pub mod model;
pub mod render;
pub mod repo;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use openidconnect::reqwest::{self, header};
use portolan_api::{NotificationChannel, Promotion};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::config::{Config, WebhookUrl};
use crate::error::AppResult;
use model::Event;

/// The Postgres channel that wakes the delivery workers.
pub const WAKE_CHANNEL: &str = "portolan_notifications";
/// The longest a worker waits before looking for due messages (should a wake-up be missed).
pub const POLL: Duration = Duration::from_secs(30);
/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a receiver's error answer kept in `last_error`.
const MAX_REASON: usize = 120;

/// The channels configured on this server, with their webhooks.
pub fn channels(config: &Config) -> Vec<(NotificationChannel, &WebhookUrl)> {
    [
        (NotificationChannel::Teams, config.teams_webhook.as_ref()),
        (NotificationChannel::Slack, config.slack_webhook.as_ref()),
    ]
    .into_iter()
    .filter_map(|(c, url)| url.map(|u| (c, u)))
    .collect()
}

/// The setting of a channel's webhook, for messages.
pub fn setting(channel: NotificationChannel) -> &'static str {
    match channel {
        NotificationChannel::Teams => "PORTOLAN_TEAMS_WEBHOOK_URL",
        NotificationChannel::Slack => "PORTOLAN_SLACK_WEBHOOK_URL",
    }
}

/// Writes the messages a change of request `after` calls for (`action`: what the audit log calls
/// the change) to the outbox, in the caller's transaction, for every configured channel. A
/// message that cannot be rendered is logged and left out: it never stops the change.
pub async fn promotion_changed(
    conn: &mut PgConnection,
    config: &Config,
    action: &str,
    after: &Promotion,
) -> AppResult<()> {
    let channels = channels(config);
    if channels.is_empty() {
        return Ok(());
    }
    let Some(event) = Event::of(action, after) else {
        return Ok(());
    };
    let message = render::Message::of(event, after, &config.public_url);
    let mut added = false;
    for (channel, _) in channels {
        if event.follows_request() && !repo::was_told_of_request(conn, channel, after.id).await? {
            continue;
        }
        match render::render(channel, &message) {
            Ok(payload) => {
                repo::enqueue(conn, channel, event.as_str(), after.id, &payload).await?;
                added = true;
            }
            Err(e) => tracing::error!(
                channel = channel.as_str(),
                promotion = after.id,
                event = event.as_str(),
                error = %e,
                "notification: the message could not be rendered; it is not sent"
            ),
        }
    }
    if added {
        repo::wake(conn).await?;
    }
    Ok(())
}

/// Starts this replica's delivery worker; it stops when `closing` turns true (or its sender is
/// gone) or the pool is closed.
pub fn spawn(
    pool: PgPool,
    config: Arc<Config>,
    closing: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let http = reqwest::ClientBuilder::new()
        // A webhook that redirects is misconfigured; following it would carry the message away.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()?;
    Ok(tokio::spawn(run(pool, config, http, closing)))
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let connected = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(WAKE_CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    }
    .await;
    match connected {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, poll = ?POLL, "notifications: cannot listen for new messages; looking for them periodically");
            None
        }
    }
}

async fn run(
    pool: PgPool,
    config: Arc<Config>,
    http: reqwest::Client,
    mut closing: watch::Receiver<bool>,
) {
    let mut listener = listen(&pool).await;
    loop {
        if *closing.borrow() || pool.is_closed() {
            return;
        }
        // Everything due now, one message at a time (other replicas take others).
        let wait = loop {
            match deliver_next(&pool, &config, &http).await {
                Ok(true) => continue,
                Ok(false) => break next_wait(&pool).await,
                Err(e) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "notifications: could not deliver; trying again shortly");
                    break Duration::from_secs(5).min(POLL);
                }
            }
        };
        if listener.is_none() {
            listener = listen(&pool).await;
        }
        let woken = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(drop),
                None => std::future::pending().await,
            }
        };
        let lost = tokio::select! {
            r = woken => r.err(),
            () = tokio::time::sleep(wait) => None,
            _ = closing.wait_for(|c| *c) => return,
        };
        if let Some(e) = lost {
            tracing::warn!(error = %e, "notifications: stopped hearing of new messages; listening again");
            listener = None;
        }
    }
}

/// How long to sleep before the next message is due, at most [`POLL`].
async fn next_wait(pool: &PgPool) -> Duration {
    let wait = async {
        let mut conn = pool.acquire().await?;
        repo::next_wait(&mut conn).await
    }
    .await;
    match wait {
        Ok(Some(d)) => d.min(POLL),
        _ => POLL,
    }
}

/// Delivers the oldest due message, if any: `false` when none is due.
async fn deliver_next(pool: &PgPool, config: &Config, http: &reqwest::Client) -> AppResult<bool> {
    let mut tx = pool.begin().await?;
    let Some(due) = repo::next_due(&mut tx).await? else {
        return Ok(false);
    };
    let attempts = due.attempts + 1;
    let channel = NotificationChannel::parse(&due.channel);
    let webhook = channel.and_then(|c| channels(config).into_iter().find(|(k, _)| *k == c));
    let outcome = match webhook {
        Some((_, url)) => post(http, url, &due.payload).await,
        None => Err(format!(
            "{} is not set on this server",
            channel.map(setting).unwrap_or("the channel's webhook URL")
        )),
    };
    match outcome {
        Ok(()) => repo::sent(&mut tx, due.id, attempts).await?,
        Err(reason) => {
            let retry_in = model::retry_delay(config.notification_retry, attempts);
            repo::failed(&mut tx, due.id, attempts, &reason, retry_in).await?;
            tracing::warn!(
                channel = %due.channel,
                promotion = due.promotion_id,
                event = %due.event,
                notification = due.id,
                attempts,
                error = %reason,
                retry_in = ?retry_in,
                "notification not delivered{}",
                if retry_in.is_some() { "; trying again later" } else { "; given up" }
            );
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Posts a message; `Err` says why it failed, in words that never hold the URL.
async fn post(
    http: &reqwest::Client,
    url: &WebhookUrl,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let res = http
        .post(url.expose().clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(payload.to_string())
        .send()
        .await
        .map_err(|e| scrub(&transport_error(e), url))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let body = res.text().await.unwrap_or_default();
    Err(scrub(&status_error(status, &body), url))
}

/// `HTTP 500 Internal Server Error: <the start of the answer>`.
fn status_error(status: reqwest::StatusCode, body: &str) -> String {
    let reason = clean(body);
    let head = format!(
        "HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let head = head.trim_end().to_string();
    if reason.is_empty() {
        head
    } else {
        format!("{head}: {reason}")
    }
}

/// A failure before any answer, without the URL reqwest would name.
fn transport_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let kind = if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let e = e.without_url();
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    match causes.last() {
        Some(root) => format!("{kind}: {}", clean(root)),
        None => kind.to_string(),
    }
}

/// At most [`MAX_REASON`] characters of printable text, on one line.
fn clean(text: &str) -> String {
    let one_line = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.chars().count() <= MAX_REASON {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(MAX_REASON - 1).collect();
        cut.push('…');
        cut
    }
}

/// The reason without the webhook URL or its path and query, should a receiver repeat them.
fn scrub(reason: &str, url: &WebhookUrl) -> String {
    let full = url.expose();
    let mut out = reason.replace(full.as_str(), &url.redacted());
    let path = full.path();
    if path.len() > 1 {
        out = out.replace(path, "/…");
    }
    if let Some(q) = full.query().filter(|q| !q.is_empty()) {
        out = out.replace(q, "…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_short_and_never_carry_the_url() {
        let url = WebhookUrl::parse(
            "https://hooks.example.com/services/T0/B0/s3cr3t?sig=abc123",
            true,
        )
        .expect("url");
        let e = status_error(
            reqwest::StatusCode::NOT_FOUND,
            "no_service\n for https://hooks.example.com/services/T0/B0/s3cr3t?sig=abc123",
        );
        let shown = scrub(&e, &url);
        assert_eq!(
            shown,
            "HTTP 404 Not Found: no_service for https://hooks.example.com/…"
        );
        let shown = scrub("bad path /services/T0/B0/s3cr3t and sig=abc123", &url);
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("abc123"),
            "{shown}"
        );
        assert_eq!(
            status_error(reqwest::StatusCode::INTERNAL_SERVER_ERROR, ""),
            "HTTP 500 Internal Server Error"
        );
        let long = status_error(reqwest::StatusCode::BAD_REQUEST, &"x".repeat(1_000));
        assert!(long.chars().count() < 150, "{long}");
        assert!(long.ends_with('…'));
    }
}
