//! The SQL of the notification outbox.

use std::time::Duration;

use portolan_api::{Notification, NotificationChannel, NotificationState};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::WAKE_CHANNEL;
use crate::error::{AppError, AppResult};

/// Adds a message to the outbox, due now, in the caller's transaction.
pub async fn enqueue(
    conn: &mut PgConnection,
    channel: NotificationChannel,
    event: &str,
    promotion: i64,
    payload: &serde_json::Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO notifications (channel, event, promotion_id, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(channel.as_str())
    .bind(event)
    .bind(promotion)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `channel` was told that request `promotion` was asked for.
pub async fn was_told_of_request(
    conn: &mut PgConnection,
    channel: NotificationChannel,
    promotion: i64,
) -> AppResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM notifications
                         WHERE promotion_id = $1 AND channel = $2 AND event = 'promotion.requested')",
    )
    .bind(promotion)
    .bind(channel.as_str())
    .fetch_one(conn)
    .await?)
}

/// Wakes the delivery workers of every replica when the caller's transaction commits.
pub async fn wake(conn: &mut PgConnection) -> AppResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(WAKE_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// A message due for delivery, locked by the caller's transaction.
#[derive(FromRow)]
pub struct Due {
    pub id: i64,
    pub channel: String,
    pub event: String,
    pub promotion_id: i64,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// The oldest due message nobody else is delivering, locked until the caller's transaction ends
/// (other replicas skip it).
pub async fn next_due(conn: &mut PgConnection) -> AppResult<Option<Due>> {
    Ok(sqlx::query_as(
        "SELECT id, channel, event, promotion_id, payload, attempts FROM notifications
          WHERE state = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id
          LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(conn)
    .await?)
}

/// How long until the next pending message is due (zero if one is due now); `None`: none pending.
pub async fn next_wait(conn: &mut PgConnection) -> AppResult<Option<Duration>> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT GREATEST(EXTRACT(EPOCH FROM min(next_attempt_at) - clock_timestamp()), 0)::float8
           FROM notifications WHERE state = 'pending'",
    )
    .fetch_one(conn)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Records a delivered message.
pub async fn sent(conn: &mut PgConnection, id: i64, attempts: i32) -> AppResult<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'sent', attempts = $2, sent_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(attempts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: tried again after `retry_in`, or (`None`) given up.
pub async fn failed(
    conn: &mut PgConnection,
    id: i64,
    attempts: i32,
    error: &str,
    retry_in: Option<Duration>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE notifications
            SET attempts = $2, last_error = $3,
                state = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                       ELSE now() + make_interval(secs => $4::float8) END
          WHERE id = $1",
    )
    .bind(id)
    .bind(attempts)
    .bind(error)
    .bind(retry_in.map(|d| d.as_secs_f64()))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct Row {
    id: i64,
    channel: String,
    event: String,
    promotion_id: i64,
    state: String,
    attempts: i32,
    next_attempt_at: OffsetDateTime,
    last_error: Option<String>,
    created_at: OffsetDateTime,
    sent_at: Option<OffsetDateTime>,
}

impl Row {
    fn shown(self) -> Notification {
        // The database allows only the known channels and states.
        let state = NotificationState::parse(&self.state).unwrap_or(NotificationState::Pending);
        Notification {
            id: self.id,
            channel: NotificationChannel::parse(&self.channel)
                .unwrap_or(NotificationChannel::Teams),
            event: self.event,
            promotion: self.promotion_id,
            state,
            attempts: self.attempts,
            next_attempt_at: (state == NotificationState::Pending).then_some(self.next_attempt_at),
            last_error: self.last_error,
            created_at: self.created_at,
            sent_at: self.sent_at,
        }
    }
}

const COLUMNS: &str = "id, channel, event, promotion_id, state, attempts, next_attempt_at, \
                       last_error, created_at, sent_at";

/// One message (locked for a change when `lock`), or 404.
pub async fn get(conn: &mut PgConnection, id: i64, lock: bool) -> AppResult<Notification> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Row::shown)
        .ok_or_else(|| AppError::not_found("notification", id))
}

/// Messages, newest first: `limit + 1` of them (to tell whether a page follows) before `before`.
pub async fn list(
    conn: &mut PgConnection,
    state: Option<NotificationState>,
    promotion: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications
          WHERE ($1::text IS NULL OR state = $1)
            AND ($2::bigint IS NULL OR promotion_id = $2)
            AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"
    ))
    .bind(state.map(NotificationState::as_str))
    .bind(promotion)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Row::shown).collect())
}

/// Makes a given-up message pending again, due now, with a fresh count of attempts.
pub async fn retry(conn: &mut PgConnection, id: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
