//! The SQL of the alert receivers: the deliveries processed, the incident that follows an alert,
//! and the alerts seen on an incident.

use portolan_api::{WebhookAction, WebhookOutcome};
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::alertmanager::AlertSeen;
use crate::error::AppResult;

/// Takes a delivery for this transaction. `None`: it is new, and now claimed (a concurrent
/// duplicate waits for this transaction to end, then finds it); `Some`: processed before, with
/// what it did then.
pub async fn claim(
    conn: &mut PgConnection,
    source: &str,
    delivery_id: &str,
) -> AppResult<Option<WebhookOutcome>> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO alert_deliveries (source, delivery_id, action, reason)
         VALUES ($1, $2, 'ignored', 'being processed')
         ON CONFLICT DO NOTHING RETURNING true",
    )
    .bind(source)
    .bind(delivery_id)
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    let (incident, action, reason, received_at): (Option<i64>, String, String, OffsetDateTime) =
        sqlx::query_as(
            "SELECT incident_id, action, reason, received_at FROM alert_deliveries
              WHERE source = $1 AND delivery_id = $2",
        )
        .bind(source)
        .bind(delivery_id)
        .fetch_one(conn)
        .await?;
    let when = received_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| received_at.to_string());
    Ok(Some(WebhookOutcome {
        incident,
        action: WebhookAction::Duplicate,
        reason: format!("this delivery was processed at {when} ({action}: {reason})"),
    }))
}

/// Stores what a claimed delivery did.
pub async fn finish(
    conn: &mut PgConnection,
    source: &str,
    delivery_id: &str,
    outcome: &WebhookOutcome,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE alert_deliveries SET incident_id = $3, action = $4, reason = $5
          WHERE source = $1 AND delivery_id = $2",
    )
    .bind(source)
    .bind(delivery_id)
    .bind(outcome.incident)
    .bind(outcome.action.as_str())
    .bind(&outcome.reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serialises the deliveries about one alert until the transaction ends: the incident a delivery
/// may open does not exist yet to be locked.
pub async fn lock_alert(conn: &mut PgConnection, source: &str, key: &str) -> AppResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{source}\n{key}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest incident that follows this alert, if any.
pub async fn latest(conn: &mut PgConnection, source: &str, key: &str) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM incidents WHERE source = $1 AND external_key = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(source)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

fn columns(alerts: &[&AlertSeen]) -> (Vec<String>, Vec<OffsetDateTime>) {
    alerts
        .iter()
        .map(|a| (a.fingerprint.clone(), a.starts_at))
        .unzip()
}

/// Picks the alerts named by `(fingerprint, starts_at)` pairs out of `alerts`, each once.
fn pick<'a>(alerts: &[&'a AlertSeen], found: &[(String, OffsetDateTime)]) -> Vec<&'a AlertSeen> {
    let mut picked: Vec<&AlertSeen> = Vec::new();
    for a in alerts.iter().copied() {
        let same = |b: &&AlertSeen| b.fingerprint == a.fingerprint && b.starts_at == a.starts_at;
        if found
            .iter()
            .any(|(f, s)| *f == a.fingerprint && *s == a.starts_at)
            && !picked.iter().any(same)
        {
            picked.push(a);
        }
    }
    picked
}

/// The alerts the incident has not seen fire yet.
pub async fn unseen<'a>(
    conn: &mut PgConnection,
    incident_id: i64,
    alerts: &[&'a AlertSeen],
) -> AppResult<Vec<&'a AlertSeen>> {
    let (fingerprints, starts) = columns(alerts);
    let found: Vec<(String, OffsetDateTime)> = sqlx::query_as(
        "SELECT t.f, t.s FROM unnest($2::text[], $3::timestamptz[]) AS t(f, s)
          WHERE NOT EXISTS (SELECT 1 FROM incident_alerts a
                             WHERE a.incident_id = $1 AND a.fingerprint = t.f AND a.starts_at = t.s)",
    )
    .bind(incident_id)
    .bind(&fingerprints)
    .bind(&starts)
    .fetch_all(conn)
    .await?;
    Ok(pick(alerts, &found))
}

/// Records firing alerts on the incident; returns those it had not seen yet.
pub async fn add_firing<'a>(
    conn: &mut PgConnection,
    incident_id: i64,
    alerts: &[&'a AlertSeen],
) -> AppResult<Vec<&'a AlertSeen>> {
    let (fingerprints, starts) = columns(alerts);
    let names: Vec<String> = alerts.iter().map(|a| a.name.clone()).collect();
    let added: Vec<(String, OffsetDateTime)> = sqlx::query_as(
        "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, name)
         SELECT $1, t.f, t.s, t.n FROM unnest($2::text[], $3::timestamptz[], $4::text[]) AS t(f, s, n)
         ON CONFLICT DO NOTHING RETURNING fingerprint, starts_at",
    )
    .bind(incident_id)
    .bind(&fingerprints)
    .bind(&starts)
    .bind(&names)
    .fetch_all(conn)
    .await?;
    Ok(pick(alerts, &added))
}

/// Marks ended alerts as ended; returns those the incident knew as firing until now.
pub async fn end<'a>(
    conn: &mut PgConnection,
    incident_id: i64,
    alerts: &[&'a AlertSeen],
) -> AppResult<Vec<&'a AlertSeen>> {
    let (fingerprints, starts) = columns(alerts);
    let ends: Vec<Option<OffsetDateTime>> = alerts.iter().map(|a| a.ends_at).collect();
    let ended: Vec<(String, OffsetDateTime)> = sqlx::query_as(
        "UPDATE incident_alerts a SET ends_at = COALESCE(t.e, now())
           FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS t(f, s, e)
          WHERE a.incident_id = $1 AND a.fingerprint = t.f AND a.starts_at = t.s
            AND a.ends_at IS NULL
         RETURNING a.fingerprint, a.starts_at",
    )
    .bind(incident_id)
    .bind(&fingerprints)
    .bind(&starts)
    .bind(&ends)
    .fetch_all(conn)
    .await?;
    Ok(pick(alerts, &ended))
}
