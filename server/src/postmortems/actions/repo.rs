//! The SQL of action items.

use portolan_api::{
    ActionItem, ActionKind, ActionPriority, ActionState, PersonRef, Severity, TeamRef,
};
use sqlx::{FromRow, PgConnection, QueryBuilder};
use time::{Date, OffsetDateTime};

use super::model::{self, Facts};
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
struct Row {
    id: i64,
    incident_id: i64,
    incident_title: String,
    incident_severity: i16,
    title: String,
    details: String,
    kind: String,
    priority: i16,
    state: String,
    state_note: String,
    team_slug: String,
    team_name: String,
    assignee_key: Option<String>,
    assignee_name: Option<String>,
    due_on: Date,
    ticket_url: Option<String>,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    closed_at: Option<OffsetDateTime>,
    version: i32,
}

const SELECT: &str = "SELECT a.id, a.incident_id, i.title AS incident_title,
        i.severity AS incident_severity, a.title, a.details, a.kind, a.priority, a.state,
        a.state_note, t.slug AS team_slug, t.name AS team_name,
        u.tenant_id || ':' || u.object_id AS assignee_key, u.display_name AS assignee_name,
        a.due_on, a.ticket_url, a.created_by, a.created_at, a.updated_at, a.closed_at, a.version
   FROM action_items a
   JOIN incidents i ON i.id = a.incident_id
   JOIN teams t ON t.id = a.team_id
   LEFT JOIN users u ON u.id = a.assignee_id";

pub fn reference(id: i64) -> String {
    format!("AI-{id}")
}

impl Row {
    fn into_api(self, now: OffsetDateTime) -> ActionItem {
        // The database allows only the known values.
        let state = ActionState::parse(&self.state).unwrap_or(ActionState::Open);
        ActionItem {
            reference: reference(self.id),
            id: self.id,
            incident_reference: crate::incidents::model::reference(self.incident_id),
            incident_id: self.incident_id,
            incident_title: self.incident_title,
            incident_severity: Severity::from_level(self.incident_severity)
                .unwrap_or(Severity::Sev4),
            title: self.title,
            details: self.details,
            kind: ActionKind::parse(&self.kind).unwrap_or(ActionKind::Prevent),
            priority: ActionPriority::from_level(self.priority).unwrap_or(ActionPriority::P3),
            state,
            state_note: self.state_note,
            team: TeamRef {
                slug: self.team_slug,
                name: self.team_name,
            },
            assignee: self
                .assignee_key
                .zip(self.assignee_name)
                .map(|(id, name)| PersonRef { id, name }),
            overdue: model::overdue(state, self.due_on, now),
            age_days: model::age_days(self.created_at, self.closed_at, now),
            moves: model::moves(state),
            due_on: self.due_on,
            ticket_url: self.ticket_url,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
            version: self.version,
        }
    }
}

pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<ActionItem> {
    fetch_one(conn, id, "").await
}

/// Reads and locks the item for a change.
pub async fn lock(conn: &mut PgConnection, id: i64) -> AppResult<ActionItem> {
    fetch_one(conn, id, " FOR UPDATE OF a").await
}

async fn fetch_one(conn: &mut PgConnection, id: i64, suffix: &str) -> AppResult<ActionItem> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1{suffix}"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.into_api(OffsetDateTime::now_utc()))
        .ok_or_else(|| AppError::not_found("action item", reference(id)))
}

/// What a list is narrowed to.
#[derive(Default)]
pub struct Filter {
    pub incident: Option<i64>,
    pub team: Option<i64>,
    pub assignee: Option<i64>,
    /// `Some(true)`: open or in progress; `Some(false)`: done or won't do.
    pub open: Option<bool>,
    pub state: Option<ActionState>,
    pub overdue: bool,
    /// Keyset: ids below this one.
    pub before: Option<i64>,
}

/// Items, newest first (`limit` rows at most).
pub async fn list(conn: &mut PgConnection, f: &Filter, limit: i64) -> AppResult<Vec<ActionItem>> {
    let mut q = QueryBuilder::new(SELECT);
    q.push(" WHERE true");
    if let Some(id) = f.incident {
        q.push(" AND a.incident_id = ").push_bind(id);
    }
    if let Some(id) = f.team {
        q.push(" AND a.team_id = ").push_bind(id);
    }
    if let Some(id) = f.assignee {
        q.push(" AND a.assignee_id = ").push_bind(id);
    }
    match f.open {
        Some(true) => {
            q.push(" AND a.state IN ('open', 'in_progress')");
        }
        Some(false) => {
            q.push(" AND a.state IN ('done', 'wont_do')");
        }
        None => {}
    }
    if let Some(s) = f.state {
        q.push(" AND a.state = ").push_bind(s.as_str());
    }
    if f.overdue {
        q.push(" AND a.state IN ('open', 'in_progress') AND a.due_on < (now() AT TIME ZONE 'UTC')::date");
    }
    if let Some(id) = f.before {
        q.push(" AND a.id < ").push_bind(id);
    }
    q.push(" ORDER BY a.id DESC LIMIT ").push_bind(limit);
    let rows: Vec<Row> = q.build_query_as().fetch_all(conn).await?;
    let now = OffsetDateTime::now_utc();
    Ok(rows.into_iter().map(|r| r.into_api(now)).collect())
}

/// The open items (of a team, or everyone's), overdue first, then by due date and priority.
pub async fn open_items(conn: &mut PgConnection, team: Option<i64>) -> AppResult<Vec<ActionItem>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE a.state IN ('open', 'in_progress') AND ($1::bigint IS NULL OR a.team_id = $1)
          ORDER BY a.due_on, a.priority, a.id"
    ))
    .bind(team)
    .fetch_all(conn)
    .await?;
    let now = OffsetDateTime::now_utc();
    Ok(rows.into_iter().map(|r| r.into_api(now)).collect())
}

/// The facts the follow-through figures need: every open item, and every item created or closed
/// within the trend's window (of a team, or everyone's).
pub async fn facts(
    conn: &mut PgConnection,
    team: Option<i64>,
    since: OffsetDateTime,
) -> AppResult<Vec<Facts>> {
    let rows: Vec<(i64, String, OffsetDateTime, Option<OffsetDateTime>, Date)> = sqlx::query_as(
        "SELECT team_id, state, created_at, closed_at, due_on FROM action_items
          WHERE ($1::bigint IS NULL OR team_id = $1)
            AND (closed_at IS NULL OR closed_at >= $2 OR created_at >= $2)",
    )
    .bind(team)
    .bind(since)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(team, state, created_at, closed_at, due_on)| Facts {
            team,
            state: ActionState::parse(&state).unwrap_or(ActionState::Open),
            created_at,
            closed_at,
            due_on,
        })
        .collect())
}

/// The teams with these ids, by id.
pub async fn teams(conn: &mut PgConnection, ids: &[i64]) -> AppResult<Vec<(i64, TeamRef)>> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, slug, name FROM teams WHERE id = ANY($1) ORDER BY name")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, name)| (id, TeamRef { slug, name }))
        .collect())
}

/// The values of a new item or of an item after a change.
pub struct Fields<'a> {
    pub title: &'a str,
    pub details: &'a str,
    pub kind: ActionKind,
    pub priority: ActionPriority,
    pub state: ActionState,
    pub state_note: &'a str,
    pub team_id: i64,
    pub assignee_id: Option<i64>,
    pub due_on: Date,
    pub ticket_url: Option<&'a str>,
}

pub async fn insert(
    conn: &mut PgConnection,
    incident_id: i64,
    f: &Fields<'_>,
    created_by: &str,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO action_items (incident_id, title, details, kind, priority, team_id,
                                   assignee_id, due_on, ticket_url, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(incident_id)
    .bind(f.title)
    .bind(f.details)
    .bind(f.kind.as_str())
    .bind(f.priority.level())
    .bind(f.team_id)
    .bind(f.assignee_id)
    .bind(f.due_on)
    .bind(f.ticket_url)
    .bind(created_by)
    .fetch_one(conn)
    .await?)
}

/// Writes every field; `closed_at` follows the state (set when it closes, kept while closed,
/// cleared when it reopens).
pub async fn update(conn: &mut PgConnection, id: i64, f: &Fields<'_>) -> AppResult<()> {
    sqlx::query(
        "UPDATE action_items
            SET title = $2, details = $3, kind = $4, priority = $5, state = $6, state_note = $7,
                team_id = $8, assignee_id = $9, due_on = $10, ticket_url = $11,
                closed_at = CASE WHEN $6 IN ('done', 'wont_do') THEN COALESCE(closed_at, now()) END,
                updated_at = now(), version = version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(f.title)
    .bind(f.details)
    .bind(f.kind.as_str())
    .bind(f.priority.level())
    .bind(f.state.as_str())
    .bind(f.state_note)
    .bind(f.team_id)
    .bind(f.assignee_id)
    .bind(f.due_on)
    .bind(f.ticket_url)
    .execute(conn)
    .await?;
    Ok(())
}
