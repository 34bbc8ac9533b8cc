//! The SQL of incidents, their services and their timeline.

use portolan_api::{
    Incident, IncidentRole, IncidentSource, IncidentState, PersonRef, RoleHolder, ServiceRef,
    Severity, TimelineEntry,
};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::model::{Times, reference};
use crate::audit::Actor;
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
struct IncidentRow {
    id: i64,
    title: String,
    severity: i16,
    state: String,
    summary: String,
    commander_key: Option<String>,
    commander_name: Option<String>,
    merged_into: Option<i64>,
    source: String,
    started_at: Option<OffsetDateTime>,
    detected_at: Option<OffsetDateTime>,
    mitigated_at: Option<OffsetDateTime>,
    resolved_at: Option<OffsetDateTime>,
    declared_at: OffsetDateTime,
    declared_by: String,
    updated_at: OffsetDateTime,
    version: i32,
    services: sqlx::types::Json<Vec<ServiceRef>>,
    roles: sqlx::types::Json<Vec<RoleHolder>>,
}

const COLUMNS: &str = "i.id, i.title, i.severity, i.state, i.summary,
    u.tenant_id || ':' || u.object_id AS commander_key, u.display_name AS commander_name,
    i.merged_into, i.source, i.started_at, i.detected_at, i.mitigated_at, i.resolved_at,
    i.declared_at, i.declared_by, i.updated_at, i.version,
    COALESCE((SELECT json_agg(json_build_object('slug', s.slug, 'name', s.name) ORDER BY s.name)
                FROM incident_services x JOIN services s ON s.id = x.service_id
               WHERE x.incident_id = i.id), '[]') AS services,
    COALESCE((SELECT json_agg(json_build_object('role', r.role, 'person',
                       json_build_object('id', ru.tenant_id || ':' || ru.object_id, 'name', ru.display_name)))
                FROM incident_roles r JOIN users ru ON ru.id = r.user_id
               WHERE r.incident_id = i.id), '[]') AS roles";

const FROM: &str = "FROM incidents i LEFT JOIN users u ON u.id = i.commander_id";

impl IncidentRow {
    fn into_api(self) -> Incident {
        // The database allows only the known states.
        let state = IncidentState::parse(&self.state).unwrap_or(IncidentState::Triage);
        Incident {
            moves: super::model::moves(state),
            reference: reference(self.id),
            id: self.id,
            title: self.title,
            // The database allows only 1–4 and the known states and sources.
            severity: Severity::from_level(self.severity).unwrap_or(Severity::Sev4),
            state,
            summary: self.summary,
            commander: self
                .commander_key
                .zip(self.commander_name)
                .map(|(id, name)| PersonRef { id, name }),
            services: self.services.0,
            roles: {
                let mut roles = self.roles.0;
                roles.sort_by_key(|r| r.role);
                roles
            },
            merged_into: self.merged_into,
            source: match self.source.as_str() {
                "alertmanager" => IncidentSource::Alertmanager,
                "pagerduty" => IncidentSource::Pagerduty,
                _ => IncidentSource::Manual,
            },
            started_at: self.started_at,
            detected_at: self.detected_at,
            mitigated_at: self.mitigated_at,
            resolved_at: self.resolved_at,
            declared_at: self.declared_at,
            declared_by: self.declared_by,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// One incident, or 404.
pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<Incident> {
    let row: Option<IncidentRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(IncidentRow::into_api)
        .ok_or_else(|| AppError::not_found("incident", reference(id)))
}

/// Locks the incident for a change in this transaction, then reads it; 404 if absent.
pub async fn lock(conn: &mut PgConnection, id: i64) -> AppResult<Incident> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if found.is_none() {
        return Err(AppError::not_found("incident", reference(id)));
    }
    get(conn, id).await
}

#[derive(Debug, Default, Clone)]
pub struct IncidentFilter {
    /// `Some(true)`: only open ones; `Some(false)`: only ended ones.
    pub open: Option<bool>,
    pub state: Option<IncidentState>,
    pub severity: Option<Severity>,
    pub service_id: Option<i64>,
}

/// Incidents matching `f`, newest first, before the id `before`.
pub async fn list(
    conn: &mut PgConnection,
    f: &IncidentFilter,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Incident>> {
    let rows: Vec<IncidentRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} {FROM}
          WHERE ($1::bigint IS NULL OR i.id < $1)
            AND ($2::boolean IS NULL OR (i.state IN ('triage', 'investigating', 'identified', 'monitoring')) = $2)
            AND ($3::text IS NULL OR i.state = $3)
            AND ($4::smallint IS NULL OR i.severity = $4)
            AND ($5::bigint IS NULL OR EXISTS (SELECT 1 FROM incident_services x
                                               WHERE x.incident_id = i.id AND x.service_id = $5))
          ORDER BY i.id DESC LIMIT $6"
    ))
    .bind(before)
    .bind(f.open)
    .bind(f.state.map(IncidentState::as_str))
    .bind(f.severity.map(Severity::level))
    .bind(f.service_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(IncidentRow::into_api).collect())
}

/// A new incident's row (services and timeline are added by the caller).
pub struct NewRow<'a> {
    pub title: &'a str,
    pub severity: Severity,
    pub summary: &'a str,
    pub commander_id: Option<i64>,
    pub source: &'a str,
    pub external_key: Option<&'a str>,
    pub times: Times,
    pub declared_by: &'a str,
}

pub async fn insert(conn: &mut PgConnection, n: &NewRow<'_>) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO incidents (title, severity, summary, commander_id, source, external_key,
                                started_at, detected_at, declared_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(n.title)
    .bind(n.severity.level())
    .bind(n.summary)
    .bind(n.commander_id)
    .bind(n.source)
    .bind(n.external_key)
    .bind(n.times.started_at)
    .bind(n.times.detected_at)
    .bind(n.declared_by)
    .fetch_one(conn)
    .await?)
}

/// The editable fields of an incident, all written at once (the caller read and locked it).
pub struct Fields<'a> {
    pub title: &'a str,
    pub severity: Severity,
    pub summary: &'a str,
    pub commander_id: Option<i64>,
    pub times: Times,
}

pub async fn update(conn: &mut PgConnection, id: i64, f: &Fields<'_>) -> AppResult<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, severity = $3, summary = $4, commander_id = $5,
                started_at = $6, detected_at = $7, mitigated_at = $8, updated_at = now(),
                version = version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(f.title)
    .bind(f.severity.level())
    .bind(f.summary)
    .bind(f.commander_id)
    .bind(f.times.started_at)
    .bind(f.times.detected_at)
    .bind(f.times.mitigated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives `role` to a person, or takes it back (`None`).
pub async fn set_role(
    conn: &mut PgConnection,
    id: i64,
    role: IncidentRole,
    user_id: Option<i64>,
) -> AppResult<()> {
    match user_id {
        Some(user) => {
            sqlx::query(
                "INSERT INTO incident_roles (incident_id, role, user_id) VALUES ($1, $2, $3)
                 ON CONFLICT (incident_id, role)
                 DO UPDATE SET user_id = EXCLUDED.user_id, assigned_at = now()
                 WHERE incident_roles.user_id <> EXCLUDED.user_id",
            )
            .bind(id)
            .bind(role.as_str())
            .bind(user)
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM incident_roles WHERE incident_id = $1 AND role = $2")
                .bind(id)
                .bind(role.as_str())
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Sets the severity alone (an alert or a priority changed it).
pub async fn set_severity(conn: &mut PgConnection, id: i64, severity: Severity) -> AppResult<()> {
    sqlx::query(
        "UPDATE incidents SET severity = $2, updated_at = now(), version = version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(severity.level())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the incident changed (its services, say), so that a stale edit is refused.
pub async fn touch(conn: &mut PgConnection, id: i64) -> AppResult<()> {
    sqlx::query("UPDATE incidents SET updated_at = now(), version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the incident to `state` with the times that move set.
pub async fn set_state(
    conn: &mut PgConnection,
    id: i64,
    state: IncidentState,
    merged_into: Option<i64>,
    times: &Times,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE incidents SET state = $2, merged_into = $3, mitigated_at = $4, resolved_at = $5,
                updated_at = now(), version = version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(merged_into)
    .bind(times.mitigated_at)
    .bind(times.resolved_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the services an incident affects.
pub async fn set_services(conn: &mut PgConnection, id: i64, service_ids: &[i64]) -> AppResult<()> {
    sqlx::query("DELETE FROM incident_services WHERE incident_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO incident_services (incident_id, service_id)
         SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(service_ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// The internal id of someone who has signed in, by `<tenant>:<object>`.
pub async fn person_id(conn: &mut PgConnection, key: &str) -> AppResult<Option<i64>> {
    let Some((tenant, object)) = key.split_once(':') else {
        return Ok(None);
    };
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND object_id = $2")
            .bind(tenant)
            .bind(object)
            .fetch_optional(conn)
            .await?,
    )
}

/// Adds to the timeline; returns the new entry's id.
pub async fn event(
    conn: &mut PgConnection,
    incident_id: i64,
    at: Option<OffsetDateTime>,
    kind: &str,
    actor: &Actor,
    text: &str,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO incident_events (incident_id, at, kind, actor_id, actor_name, text)
         VALUES ($1, COALESCE($2, now()), $3, $4, $5, $6) RETURNING id",
    )
    .bind(incident_id)
    .bind(at)
    .bind(kind)
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(text)
    .fetch_one(conn)
    .await?)
}

/// The whole timeline, in the order things happened.
pub async fn timeline(conn: &mut PgConnection, incident_id: i64) -> AppResult<Vec<TimelineEntry>> {
    timeline_where(conn, incident_id, None).await
}

/// These entries of one timeline, in the order things happened.
pub async fn entries(
    conn: &mut PgConnection,
    incident_id: i64,
    ids: &[i64],
) -> AppResult<Vec<TimelineEntry>> {
    timeline_where(conn, incident_id, Some(ids)).await
}

async fn timeline_where(
    conn: &mut PgConnection,
    incident_id: i64,
    ids: Option<&[i64]>,
) -> AppResult<Vec<TimelineEntry>> {
    let rows: Vec<(i64, OffsetDateTime, String, String, String)> = sqlx::query_as(
        "SELECT id, at, kind, actor_name, text FROM incident_events
          WHERE incident_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2)) ORDER BY at, id",
    )
    .bind(incident_id)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, kind, actor_name, text)| TimelineEntry {
            id,
            at,
            kind,
            actor_name,
            text,
        })
        .collect())
}
