//! Changes to an incident written whole, in the caller's transaction: the row, its timeline entry
//! and the audit record. Shared by the API's handlers and the alert receivers.

use portolan_api::{Incident, IncidentState};
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::model::{Times, reference};
use super::repo;
use crate::audit::{self, Actor, repo::Change};
use crate::error::AppResult;

/// Opens an incident: its row and services, the `declared` timeline entry
/// (`<verb> SEV2 INC-7: <title>`) and the audit record.
pub async fn open(
    conn: &mut PgConnection,
    actor: &Actor,
    row: &repo::NewRow<'_>,
    services: &[i64],
    verb: &str,
) -> AppResult<Incident> {
    let id = repo::insert(conn, row).await?;
    repo::set_services(conn, id, services).await?;
    repo::event(
        conn,
        id,
        None,
        "declared",
        actor,
        &format!(
            "{verb} {} {}: {}",
            row.severity.label(),
            reference(id),
            row.title
        ),
    )
    .await?;
    let incident = repo::get(conn, id).await?;
    audit::record(
        conn,
        actor,
        "incident.declare",
        ("incident", &id.to_string()),
        Change::created(&incident),
    )
    .await?;
    Ok(incident)
}

/// A move through the lifecycle, already judged legal (see [`super::model::transition`]).
pub struct Moving<'a> {
    pub to: IncidentState,
    pub merged_into: Option<i64>,
    /// The times after the move.
    pub times: Times,
    /// When it happened, for the timeline.
    pub at: OffsetDateTime,
    /// The timeline entry.
    pub text: &'a str,
}

/// Moves a locked incident: the new state and times, a `state` timeline entry and the audit
/// record.
pub async fn record_move(
    conn: &mut PgConnection,
    actor: &Actor,
    before: &Incident,
    m: &Moving<'_>,
) -> AppResult<Incident> {
    repo::set_state(conn, before.id, m.to, m.merged_into, &m.times).await?;
    repo::event(conn, before.id, Some(m.at), "state", actor, m.text).await?;
    let after = repo::get(conn, before.id).await?;
    audit::record(
        conn,
        actor,
        "incident.transition",
        ("incident", &before.id.to_string()),
        Change::changed(before, &after),
    )
    .await?;
    Ok(after)
}
