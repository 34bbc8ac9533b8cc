//! The pipeline's SQL, and the queries that derive what runs where.

use std::collections::HashMap;

use portolan_api::{Environment, EnvironmentRef, ServiceRef, TeamRef};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::model::Current;
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
struct EnvironmentRow {
    id: i64,
    slug: String,
    name: String,
    description: String,
    position: i32,
    is_production: bool,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<EnvironmentRow> for Environment {
    fn from(r: EnvironmentRow) -> Self {
        Environment {
            slug: r.slug,
            name: r.name,
            description: r.description,
            position: r.position,
            is_production: r.is_production,
            archived: r.archived,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const ENV_SELECT: &str = "SELECT id, slug, name, description, position, is_production,
    archived_at IS NOT NULL AS archived, created_at, updated_at FROM environments";

/// Live environments in pipeline order (and archived ones after them when asked).
pub async fn list(conn: &mut PgConnection, include_archived: bool) -> AppResult<Vec<Environment>> {
    let rows: Vec<EnvironmentRow> = sqlx::query_as(&format!(
        "{ENV_SELECT} WHERE $1 OR archived_at IS NULL ORDER BY archived_at IS NOT NULL, position"
    ))
    .bind(include_archived)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Environment::from).collect())
}

/// Ids and references of the live pipeline, in order.
pub async fn pipeline(conn: &mut PgConnection) -> AppResult<Vec<(i64, EnvironmentRef)>> {
    let rows: Vec<EnvironmentRow> = sqlx::query_as(&format!(
        "{ENV_SELECT} WHERE archived_at IS NULL ORDER BY position"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                EnvironmentRef {
                    slug: r.slug,
                    name: r.name,
                    is_production: r.is_production,
                },
            )
        })
        .collect())
}

pub async fn get(conn: &mut PgConnection, slug: &str) -> AppResult<Environment> {
    let row: Option<EnvironmentRow> = sqlx::query_as(&format!("{ENV_SELECT} WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.map(Environment::from)
        .ok_or_else(|| AppError::not_found("environment", slug))
}

/// Serialises every change to the pipeline's order: positions are a property of the whole set.
pub async fn lock_pipeline(conn: &mut PgConnection) -> AppResult<()> {
    sqlx::query("LOCK TABLE environments IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn live_count(conn: &mut PgConnection) -> AppResult<i32> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM environments WHERE archived_at IS NULL")
        .fetch_one(conn)
        .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

pub struct NewEnvironmentRow<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub position: i32,
    pub is_production: bool,
}

pub async fn insert(conn: &mut PgConnection, e: &NewEnvironmentRow<'_>) -> AppResult<()> {
    renumber(conn).await?;
    sqlx::query("UPDATE environments SET position = position + 1 WHERE archived_at IS NULL AND position >= $1")
        .bind(e.position)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO environments (slug, name, description, position, is_production) VALUES ($1, $2, $3, $4, $5)")
        .bind(e.slug)
        .bind(e.name)
        .bind(e.description)
        .bind(e.position)
        .bind(e.is_production)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn update(
    conn: &mut PgConnection,
    slug: &str,
    name: &str,
    description: &str,
    is_production: bool,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE environments SET name = $2, description = $3, is_production = $4, updated_at = now() WHERE slug = $1",
    )
    .bind(slug)
    .bind(name)
    .bind(description)
    .bind(is_production)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a live environment to `to` (1-based); the others close up around it.
pub async fn move_to(conn: &mut PgConnection, slug: &str, to: i32) -> AppResult<()> {
    renumber(conn).await?;
    let from: i32 = sqlx::query_scalar(
        "SELECT position FROM environments WHERE slug = $1 AND archived_at IS NULL",
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        AppError::Conflict(format!(
            "environment '{slug}' is archived; restore it first"
        ))
    })?;
    sqlx::query(
        "UPDATE environments SET position = CASE
            WHEN slug = $1 THEN $3
            WHEN $3 < $2 AND position >= $3 AND position < $2 THEN position + 1
            WHEN $3 > $2 AND position > $2 AND position <= $3 THEN position - 1
            ELSE position END,
          updated_at = CASE WHEN slug = $1 THEN now() ELSE updated_at END
         WHERE archived_at IS NULL",
    )
    .bind(slug)
    .bind(from)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(())
}

/// Archives or restores; the live pipeline is renumbered 1..n (a restored one goes last).
pub async fn set_archived(conn: &mut PgConnection, slug: &str, archived: bool) -> AppResult<()> {
    let done = sqlx::query(
        "UPDATE environments SET archived_at = CASE WHEN $2 THEN coalesce(archived_at, now()) ELSE NULL END,
           position = CASE WHEN NOT $2 AND archived_at IS NOT NULL
                           THEN (SELECT coalesce(max(position), 0) + 1000000 FROM environments) ELSE position END,
           updated_at = now()
         WHERE slug = $1",
    )
    .bind(slug)
    .bind(archived)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("environment", slug));
    }
    renumber(conn).await
}

/// Closes gaps: live environments get 1..n in their current order; archived ones are parked
/// after them so they never collide.
async fn renumber(conn: &mut PgConnection) -> AppResult<()> {
    sqlx::query(
        "UPDATE environments e SET position = o.rn
           FROM (SELECT id, row_number() OVER (ORDER BY archived_at IS NOT NULL, position)::int AS rn FROM environments) o
          WHERE o.id = e.id AND e.position <> o.rn",
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn id(conn: &mut PgConnection, slug: &str) -> AppResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM environments WHERE slug = $1")
            .bind(slug)
            .fetch_optional(conn)
            .await?,
    )
}

/// A live environment's id for a reference from another record.
pub async fn live_ref(conn: &mut PgConnection, slug: &str, field: &str) -> AppResult<i64> {
    let row: Option<(i64, bool)> =
        sqlx::query_as("SELECT id, archived_at IS NOT NULL FROM environments WHERE slug = $1")
            .bind(slug)
            .fetch_optional(conn)
            .await?;
    match row {
        Some((id, false)) => Ok(id),
        Some((_, true)) => Err(AppError::field(
            field,
            format!("environment '{slug}' is archived"),
        )),
        None => Err(AppError::field(
            field,
            format!("no environment has the slug '{slug}'"),
        )),
    }
}

#[derive(FromRow)]
pub struct MatrixService {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub tier: i16,
    pub team_slug: String,
    pub team_name: String,
}

impl MatrixService {
    pub fn refs(&self) -> (ServiceRef, TeamRef) {
        (
            ServiceRef {
                slug: self.slug.clone(),
                name: self.name.clone(),
            },
            TeamRef {
                slug: self.team_slug.clone(),
                name: self.team_name.clone(),
            },
        )
    }
}

/// A page of live services for the matrix, by slug.
pub async fn matrix_services(
    conn: &mut PgConnection,
    words: &[String],
    team: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> AppResult<Vec<MatrixService>> {
    let patterns = crate::catalog::model::like_patterns(words);
    Ok(sqlx::query_as(
        "SELECT s.id, s.slug, s.name, s.tier, t.slug AS team_slug, t.name AS team_name
           FROM services s JOIN teams t ON t.id = s.owner_team_id
          WHERE s.archived_at IS NULL
            AND ($1::text IS NULL OR s.slug > $1)
            AND ($2::text IS NULL OR t.slug = $2)
            AND s.search_text LIKE ALL ($3::text[])
          ORDER BY s.slug LIMIT $4",
    )
    .bind(after)
    .bind(team)
    .bind(&patterns)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The current (latest succeeded) deployment of each service in each environment.
pub async fn current_deployments(
    conn: &mut PgConnection,
    service_ids: &[i64],
    environment_ids: &[i64],
) -> AppResult<HashMap<(i64, i64), Current>> {
    let rows: Vec<(i64, i64, i64, String, Option<String>, OffsetDateTime)> = sqlx::query_as(
        "SELECT s.id, e.id, d.id, d.version, d.commit_sha, d.finished_at
           FROM unnest($1::bigint[]) AS s(id)
           CROSS JOIN unnest($2::bigint[]) AS e(id)
           JOIN LATERAL (
                SELECT id, version, commit_sha, finished_at FROM deployments
                 WHERE service_id = s.id AND environment_id = e.id AND status = 'succeeded'
                 ORDER BY finished_at DESC, id DESC LIMIT 1
           ) d ON true",
    )
    .bind(service_ids)
    .bind(environment_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, e, id, version, commit_sha, at)| {
            (
                (s, e),
                Current {
                    deployment_id: id,
                    version,
                    commit_sha,
                    deployed_at: at,
                },
            )
        })
        .collect())
}
