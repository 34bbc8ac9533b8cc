//! The deployments' SQL.

use std::collections::HashMap;

use portolan_api::{
    Change, Deployment, DeploymentKind, DeploymentStatus, EnvironmentRef, IncidentLinkRef,
    ServiceRef,
};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::model::ValidDeployment;
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
struct DeploymentRow {
    id: i64,
    service_slug: String,
    service_name: String,
    env_slug: String,
    env_name: String,
    env_is_production: bool,
    version: String,
    commit_sha: Option<String>,
    status: String,
    kind: String,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    deployed_by: Option<String>,
    pipeline_url: Option<String>,
    source: String,
    external_id: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl DeploymentRow {
    fn into_api(self, changes: Vec<Change>, incidents: Vec<IncidentLinkRef>) -> Deployment {
        Deployment {
            incidents,
            id: self.id,
            service: ServiceRef {
                slug: self.service_slug,
                name: self.service_name,
            },
            environment: EnvironmentRef {
                slug: self.env_slug,
                name: self.env_name,
                is_production: self.env_is_production,
            },
            version: self.version,
            commit_sha: self.commit_sha,
            status: DeploymentStatus::parse(&self.status).unwrap_or(DeploymentStatus::Queued),
            kind: DeploymentKind::parse(&self.kind).unwrap_or(DeploymentKind::Normal),
            started_at: self.started_at,
            finished_at: self.finished_at,
            deployed_by: self.deployed_by,
            pipeline_url: self.pipeline_url,
            source: self.source,
            external_id: self.external_id,
            changes,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const DEPLOYMENT_SELECT: &str = "SELECT d.id, s.slug AS service_slug, s.name AS service_name,
    e.slug AS env_slug, e.name AS env_name, e.is_production AS env_is_production,
    d.version, d.commit_sha, d.status, d.kind, d.started_at, d.finished_at, d.deployed_by, d.pipeline_url,
    d.source, d.external_id, d.created_at, d.updated_at
    FROM deployments d JOIN services s ON s.id = d.service_id JOIN environments e ON e.id = d.environment_id";

#[derive(Debug, Default)]
pub struct DeploymentFilter {
    pub service_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub team_id: Option<i64>,
    pub status: Option<DeploymentStatus>,
    pub kind: Option<DeploymentKind>,
    pub production_only: bool,
}

/// Newest first (by id, the order they were recorded in).
pub async fn list(
    conn: &mut PgConnection,
    f: &DeploymentFilter,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Deployment>> {
    let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
        "{DEPLOYMENT_SELECT}
         WHERE ($1::bigint IS NULL OR d.id < $1)
           AND ($2::bigint IS NULL OR d.service_id = $2)
           AND ($3::bigint IS NULL OR d.environment_id = $3)
           AND ($4::bigint IS NULL OR s.owner_team_id = $4)
           AND ($5::text IS NULL OR d.status = $5)
           AND ($6::text IS NULL OR d.kind = $6)
           AND (NOT $7 OR e.is_production)
         ORDER BY d.id DESC LIMIT $8"
    ))
    .bind(before)
    .bind(f.service_id)
    .bind(f.environment_id)
    .bind(f.team_id)
    .bind(f.status.map(DeploymentStatus::as_str))
    .bind(f.kind.map(DeploymentKind::as_str))
    .bind(f.production_only)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_changes(conn, rows).await
}

/// Deployments to these services that took effect (finished, else started, else were recorded)
/// between `from` and `to`, newest first, `limit` at most.
pub async fn took_effect_between(
    conn: &mut PgConnection,
    service_ids: &[i64],
    (from, to): (OffsetDateTime, OffsetDateTime),
    limit: i64,
) -> AppResult<Vec<Deployment>> {
    let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
        "{DEPLOYMENT_SELECT}
         WHERE d.service_id = ANY ($1)
           AND COALESCE(d.finished_at, d.started_at, d.created_at) BETWEEN $2 AND $3
         ORDER BY COALESCE(d.finished_at, d.started_at, d.created_at) DESC, d.id DESC LIMIT $4"
    ))
    .bind(service_ids)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_changes(conn, rows).await
}

/// These deployments, in the order of `ids` (missing ones left out).
pub async fn by_ids(conn: &mut PgConnection, ids: &[i64]) -> AppResult<Vec<Deployment>> {
    let rows: Vec<DeploymentRow> =
        sqlx::query_as(&format!("{DEPLOYMENT_SELECT} WHERE d.id = ANY ($1)"))
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let mut found = with_changes(conn, rows).await?;
    found.sort_by_key(|d| ids.iter().position(|i| *i == d.id));
    Ok(found)
}

async fn with_changes(
    conn: &mut PgConnection,
    rows: Vec<DeploymentRow>,
) -> AppResult<Vec<Deployment>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let change_rows: Vec<(i64, String, String, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT deployment_id, sha, author, message, committed_at FROM deployment_changes
          WHERE deployment_id = ANY ($1) ORDER BY deployment_id, committed_at DESC, sha",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let link_rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT deployment_id, incident_id, relation FROM incident_deployments
          WHERE deployment_id = ANY ($1) ORDER BY deployment_id, incident_id, relation",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut links: HashMap<i64, Vec<IncidentLinkRef>> = HashMap::new();
    for (deployment_id, incident_id, relation) in link_rows {
        links
            .entry(deployment_id)
            .or_default()
            .push(IncidentLinkRef {
                incident_id,
                reference: format!("INC-{incident_id}"),
                relation,
            });
    }
    let mut by_deployment: HashMap<i64, Vec<Change>> = HashMap::new();
    for (id, sha, author, message, committed_at) in change_rows {
        by_deployment.entry(id).or_default().push(Change {
            sha,
            author,
            message,
            committed_at,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let changes = by_deployment.remove(&r.id).unwrap_or_default();
            let incidents = links.remove(&r.id).unwrap_or_default();
            r.into_api(changes, incidents)
        })
        .collect())
}

pub async fn get(conn: &mut PgConnection, id: i64) -> AppResult<Deployment> {
    let row: Option<DeploymentRow> =
        sqlx::query_as(&format!("{DEPLOYMENT_SELECT} WHERE d.id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let row = row.ok_or_else(|| AppError::not_found("deployment", id))?;
    Ok(with_changes(conn, vec![row]).await?.remove(0))
}

/// Inserts a deployment and its commits. Returns `None` when `(source, external_id)` is taken:
/// the event was recorded before.
pub async fn insert(
    conn: &mut PgConnection,
    d: &ValidDeployment,
    service_id: i64,
    environment_id: i64,
) -> AppResult<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO deployments (service_id, environment_id, version, commit_sha, status, kind, started_at,
                                  finished_at, deployed_by, pipeline_url, source, external_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT ON CONSTRAINT deployments_source_external_id_key DO NOTHING
         RETURNING id",
    )
    .bind(service_id)
    .bind(environment_id)
    .bind(&d.version)
    .bind(&d.commit_sha)
    .bind(d.status.as_str())
    .bind(d.kind.as_str())
    .bind(d.started_at)
    .bind(d.finished_at)
    .bind(&d.deployed_by)
    .bind(&d.pipeline_url)
    .bind(&d.source)
    .bind(&d.external_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    if !d.changes.is_empty() {
        let shas: Vec<&str> = d.changes.iter().map(|c| c.sha.as_str()).collect();
        let authors: Vec<&str> = d.changes.iter().map(|c| c.author.as_str()).collect();
        let messages: Vec<&str> = d.changes.iter().map(|c| c.message.as_str()).collect();
        let times: Vec<OffsetDateTime> = d.changes.iter().map(|c| c.committed_at).collect();
        sqlx::query(
            "INSERT INTO deployment_changes (deployment_id, sha, author, message, committed_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[])",
        )
        .bind(id)
        .bind(&shas)
        .bind(&authors)
        .bind(&messages)
        .bind(&times)
        .execute(conn)
        .await?;
    }
    Ok(Some(id))
}

/// The deployment already recorded for a sender's event, locked.
pub async fn find_by_external_id(
    conn: &mut PgConnection,
    source: &str,
    external_id: &str,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM deployments WHERE source = $1 AND external_id = $2 FOR UPDATE",
    )
    .bind(source)
    .bind(external_id)
    .fetch_optional(conn)
    .await?)
}

pub struct StatusRow {
    pub status: DeploymentStatus,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

pub async fn lock_status(conn: &mut PgConnection, id: i64) -> AppResult<StatusRow> {
    let row: Option<(String, Option<OffsetDateTime>, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT status, started_at, finished_at FROM deployments WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let (status, started_at, finished_at) =
        row.ok_or_else(|| AppError::not_found("deployment", id))?;
    Ok(StatusRow {
        status: DeploymentStatus::parse(&status).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "unknown status {status} in deployment {id}"
            ))
        })?,
        started_at,
        finished_at,
    })
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: DeploymentStatus,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
) -> AppResult<()> {
    sqlx::query("UPDATE deployments SET status = $2, started_at = $3, finished_at = $4, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(started_at)
        .bind(finished_at)
        .execute(conn)
        .await?;
    Ok(())
}
