//! The catalog's SQL: the only place that knows its tables.

use portolan_api::{
    DependencyEdge, DependencyKind, DependencySource, Lifecycle, Service, ServiceRef, System,
    SystemRef, Team, TeamRef,
};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::model::{ServiceFields, ValidSystem, ValidTeam};
use crate::error::{AppError, AppResult};

// ---------------------------------------------------------------- teams

#[derive(FromRow)]
struct TeamRow {
    slug: String,
    name: String,
    description: String,
    service_count: i64,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team {
            slug: r.slug,
            name: r.name,
            description: r.description,
            service_count: r.service_count,
            archived: r.archived,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const TEAM_SELECT: &str = "SELECT t.slug, t.name, t.description,
    (SELECT count(*) FROM services s WHERE s.owner_team_id = t.id AND s.archived_at IS NULL) AS service_count,
    t.archived_at IS NOT NULL AS archived, t.created_at, t.updated_at
    FROM teams t";

pub async fn list_teams(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
    include_archived: bool,
) -> AppResult<Vec<Team>> {
    let rows: Vec<TeamRow> = sqlx::query_as(&format!(
        "{TEAM_SELECT} WHERE ($1::text IS NULL OR t.slug > $1) AND ($2 OR t.archived_at IS NULL)
         ORDER BY t.slug LIMIT $3"
    ))
    .bind(after)
    .bind(include_archived)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Team::from).collect())
}

pub async fn get_team(conn: &mut PgConnection, slug: &str) -> AppResult<Team> {
    let row: Option<TeamRow> = sqlx::query_as(&format!("{TEAM_SELECT} WHERE t.slug = $1"))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.map(Team::from)
        .ok_or_else(|| AppError::not_found("team", slug))
}

pub async fn insert_team(conn: &mut PgConnection, t: &ValidTeam) -> AppResult<()> {
    sqlx::query("INSERT INTO teams (slug, name, description) VALUES ($1, $2, $3)")
        .bind(&t.slug)
        .bind(&t.name)
        .bind(&t.description)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn update_team(
    conn: &mut PgConnection,
    slug: &str,
    name: &str,
    description: &str,
) -> AppResult<()> {
    let done = sqlx::query(
        "UPDATE teams SET name = $2, description = $3, updated_at = now() WHERE slug = $1",
    )
    .bind(slug)
    .bind(name)
    .bind(description)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("team", slug));
    }
    Ok(())
}

/// Archives (or restores) a team. A team that still owns live services stays.
pub async fn set_team_archived(
    conn: &mut PgConnection,
    slug: &str,
    archived: bool,
) -> AppResult<()> {
    let id = team_id(conn, slug)
        .await?
        .ok_or_else(|| AppError::not_found("team", slug))?;
    if archived {
        let owned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM services WHERE owner_team_id = $1 AND archived_at IS NULL",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if owned > 0 {
            return Err(AppError::Conflict(format!(
                "team '{slug}' still owns {owned} live service(s); move or archive them first"
            )));
        }
    }
    set_archived(conn, "teams", id, archived).await
}

async fn set_archived(
    conn: &mut PgConnection,
    table: &str,
    id: i64,
    archived: bool,
) -> AppResult<()> {
    // `table` is always one of our own table names, never input.
    sqlx::query(&format!(
        "UPDATE {table} SET archived_at = CASE WHEN $2 THEN coalesce(archived_at, now()) ELSE NULL END,
         updated_at = now() WHERE id = $1"
    ))
    .bind(id)
    .bind(archived)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn team_id(conn: &mut PgConnection, slug: &str) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM teams WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await?)
}

/// The id of a live team, for a reference from another record; `field` names the input field.
pub async fn live_team_ref(conn: &mut PgConnection, slug: &str, field: &str) -> AppResult<i64> {
    let row: Option<(i64, bool)> =
        sqlx::query_as("SELECT id, archived_at IS NOT NULL FROM teams WHERE slug = $1")
            .bind(slug)
            .fetch_optional(conn)
            .await?;
    match row {
        Some((id, false)) => Ok(id),
        Some((_, true)) => Err(AppError::field(field, format!("team '{slug}' is archived"))),
        None => Err(AppError::field(
            field,
            format!("no team has the slug '{slug}'"),
        )),
    }
}

// ---------------------------------------------------------------- systems

#[derive(FromRow)]
struct SystemRow {
    slug: String,
    name: String,
    description: String,
    team_slug: Option<String>,
    team_name: Option<String>,
    service_count: i64,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<SystemRow> for System {
    fn from(r: SystemRow) -> Self {
        System {
            slug: r.slug,
            name: r.name,
            description: r.description,
            owner_team: r
                .team_slug
                .zip(r.team_name)
                .map(|(slug, name)| TeamRef { slug, name }),
            service_count: r.service_count,
            archived: r.archived,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SYSTEM_SELECT: &str = "SELECT sy.slug, sy.name, sy.description, t.slug AS team_slug, t.name AS team_name,
    (SELECT count(*) FROM services s WHERE s.system_id = sy.id AND s.archived_at IS NULL) AS service_count,
    sy.archived_at IS NOT NULL AS archived, sy.created_at, sy.updated_at
    FROM systems sy LEFT JOIN teams t ON t.id = sy.owner_team_id";

pub async fn list_systems(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
    include_archived: bool,
) -> AppResult<Vec<System>> {
    let rows: Vec<SystemRow> = sqlx::query_as(&format!(
        "{SYSTEM_SELECT} WHERE ($1::text IS NULL OR sy.slug > $1) AND ($2 OR sy.archived_at IS NULL)
         ORDER BY sy.slug LIMIT $3"
    ))
    .bind(after)
    .bind(include_archived)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(System::from).collect())
}

pub async fn get_system(conn: &mut PgConnection, slug: &str) -> AppResult<System> {
    let row: Option<SystemRow> = sqlx::query_as(&format!("{SYSTEM_SELECT} WHERE sy.slug = $1"))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.map(System::from)
        .ok_or_else(|| AppError::not_found("system", slug))
}

pub async fn insert_system(conn: &mut PgConnection, s: &ValidSystem) -> AppResult<()> {
    let owner = match &s.owner_team {
        Some(t) => Some(live_team_ref(conn, t, "owner_team").await?),
        None => None,
    };
    sqlx::query(
        "INSERT INTO systems (slug, name, description, owner_team_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(&s.slug)
    .bind(&s.name)
    .bind(&s.description)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_system(
    conn: &mut PgConnection,
    slug: &str,
    name: &str,
    description: &str,
    owner_team: Option<&str>,
) -> AppResult<()> {
    let owner = match owner_team {
        Some(t) => Some(live_team_ref(conn, t, "owner_team").await?),
        None => None,
    };
    let done = sqlx::query(
        "UPDATE systems SET name = $2, description = $3, owner_team_id = $4, updated_at = now() WHERE slug = $1",
    )
    .bind(slug)
    .bind(name)
    .bind(description)
    .bind(owner)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("system", slug));
    }
    Ok(())
}

pub async fn set_system_archived(
    conn: &mut PgConnection,
    slug: &str,
    archived: bool,
) -> AppResult<()> {
    let id: i64 = sqlx::query_scalar("SELECT id FROM systems WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found("system", slug))?;
    set_archived(conn, "systems", id, archived).await
}

// ---------------------------------------------------------------- services

#[derive(FromRow)]
struct ServiceRow {
    slug: String,
    name: String,
    description: String,
    team_slug: String,
    team_name: String,
    system_slug: Option<String>,
    system_name: Option<String>,
    tier: i16,
    lifecycle: String,
    repository_url: Option<String>,
    runbook_url: Option<String>,
    tags: Vec<String>,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<ServiceRow> for Service {
    fn from(r: ServiceRow) -> Self {
        Service {
            slug: r.slug,
            name: r.name,
            description: r.description,
            owner_team: TeamRef {
                slug: r.team_slug,
                name: r.team_name,
            },
            system: r
                .system_slug
                .zip(r.system_name)
                .map(|(slug, name)| SystemRef { slug, name }),
            tier: r.tier,
            lifecycle: Lifecycle::parse(&r.lifecycle).unwrap_or(Lifecycle::Production),
            repository_url: r.repository_url,
            runbook_url: r.runbook_url,
            tags: r.tags,
            archived: r.archived,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SERVICE_SELECT: &str = "SELECT s.slug, s.name, s.description, t.slug AS team_slug, t.name AS team_name,
    sy.slug AS system_slug, sy.name AS system_name, s.tier, s.lifecycle, s.repository_url, s.runbook_url,
    s.tags, s.archived_at IS NOT NULL AS archived, s.created_at, s.updated_at
    FROM services s JOIN teams t ON t.id = s.owner_team_id LEFT JOIN systems sy ON sy.id = s.system_id";

#[derive(Debug, Default)]
pub struct ServiceFilter {
    /// Every word must appear in the slug, name, description or tags.
    pub words: Vec<String>,
    pub team: Option<String>,
    pub system: Option<String>,
    pub tier: Option<i16>,
    pub lifecycle: Option<Lifecycle>,
    pub tag: Option<String>,
    pub include_archived: bool,
}

pub async fn list_services(
    conn: &mut PgConnection,
    filter: &ServiceFilter,
    after: Option<&str>,
    limit: i64,
) -> AppResult<Vec<Service>> {
    let patterns = super::model::like_patterns(&filter.words);
    let rows: Vec<ServiceRow> = sqlx::query_as(&format!(
        "{SERVICE_SELECT}
         WHERE ($1::text IS NULL OR s.slug > $1)
           AND ($2 OR s.archived_at IS NULL)
           AND ($3::text IS NULL OR t.slug = $3)
           AND ($4::text IS NULL OR sy.slug = $4)
           AND ($5::smallint IS NULL OR s.tier = $5)
           AND ($6::text IS NULL OR s.lifecycle = $6)
           AND ($7::text IS NULL OR $7 = ANY (s.tags))
           AND s.search_text LIKE ALL ($8::text[])
         ORDER BY s.slug LIMIT $9"
    ))
    .bind(after)
    .bind(filter.include_archived)
    .bind(filter.team.as_deref())
    .bind(filter.system.as_deref())
    .bind(filter.tier)
    .bind(filter.lifecycle.map(Lifecycle::as_str))
    .bind(filter.tag.as_deref())
    .bind(&patterns)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Service::from).collect())
}

pub async fn get_service(conn: &mut PgConnection, slug: &str) -> AppResult<Service> {
    let row: Option<ServiceRow> = sqlx::query_as(&format!("{SERVICE_SELECT} WHERE s.slug = $1"))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.map(Service::from)
        .ok_or_else(|| AppError::not_found("service", slug))
}

/// The id of a service, with whether it is archived.
pub async fn service_id(conn: &mut PgConnection, slug: &str) -> AppResult<Option<(i64, bool)>> {
    Ok(
        sqlx::query_as("SELECT id, archived_at IS NOT NULL FROM services WHERE slug = $1")
            .bind(slug)
            .fetch_optional(conn)
            .await?,
    )
}

async fn system_ref(conn: &mut PgConnection, slug: Option<&str>) -> AppResult<Option<i64>> {
    let Some(slug) = slug else { return Ok(None) };
    let row: Option<(i64, bool)> =
        sqlx::query_as("SELECT id, archived_at IS NOT NULL FROM systems WHERE slug = $1")
            .bind(slug)
            .fetch_optional(conn)
            .await?;
    match row {
        Some((id, false)) => Ok(Some(id)),
        Some((_, true)) => Err(AppError::field(
            "system",
            format!("system '{slug}' is archived"),
        )),
        None => Err(AppError::field(
            "system",
            format!("no system has the slug '{slug}'"),
        )),
    }
}

pub async fn insert_service(
    conn: &mut PgConnection,
    slug: &str,
    f: &ServiceFields,
) -> AppResult<()> {
    let team = live_team_ref(conn, &f.owner_team, "owner_team").await?;
    let system = system_ref(conn, f.system.as_deref()).await?;
    sqlx::query(
        "INSERT INTO services (slug, name, description, owner_team_id, system_id, tier, lifecycle,
                               repository_url, runbook_url, tags)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(slug)
    .bind(&f.name)
    .bind(&f.description)
    .bind(team)
    .bind(system)
    .bind(f.tier)
    .bind(f.lifecycle.as_str())
    .bind(&f.repository_url)
    .bind(&f.runbook_url)
    .bind(&f.tags)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored fields of a service, locked for the rest of the transaction.
pub async fn lock_service_fields(conn: &mut PgConnection, slug: &str) -> AppResult<ServiceFields> {
    let s = {
        let row: Option<ServiceRow> = sqlx::query_as(&format!(
            "{SERVICE_SELECT} WHERE s.slug = $1 FOR UPDATE OF s"
        ))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
        row.map(Service::from)
            .ok_or_else(|| AppError::not_found("service", slug))?
    };
    Ok(ServiceFields {
        name: s.name,
        description: s.description,
        owner_team: s.owner_team.slug,
        system: s.system.map(|sy| sy.slug),
        tier: s.tier,
        lifecycle: s.lifecycle,
        repository_url: s.repository_url,
        runbook_url: s.runbook_url,
        tags: s.tags,
    })
}

pub async fn update_service(
    conn: &mut PgConnection,
    slug: &str,
    f: &ServiceFields,
) -> AppResult<()> {
    let team = live_team_ref(conn, &f.owner_team, "owner_team").await?;
    let system = system_ref(conn, f.system.as_deref()).await?;
    sqlx::query(
        "UPDATE services SET name = $2, description = $3, owner_team_id = $4, system_id = $5, tier = $6,
                lifecycle = $7, repository_url = $8, runbook_url = $9, tags = $10, updated_at = now()
         WHERE slug = $1",
    )
    .bind(slug)
    .bind(&f.name)
    .bind(&f.description)
    .bind(team)
    .bind(system)
    .bind(f.tier)
    .bind(f.lifecycle.as_str())
    .bind(&f.repository_url)
    .bind(&f.runbook_url)
    .bind(&f.tags)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_service_archived(
    conn: &mut PgConnection,
    slug: &str,
    archived: bool,
) -> AppResult<()> {
    let (id, _) = service_id(conn, slug)
        .await?
        .ok_or_else(|| AppError::not_found("service", slug))?;
    if !archived {
        // Restoring into an archived team would make a live service with a dead owner.
        let team_archived: bool = sqlx::query_scalar(
            "SELECT t.archived_at IS NOT NULL FROM services s JOIN teams t ON t.id = s.owner_team_id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if team_archived {
            return Err(AppError::Conflict(format!(
                "the owning team of '{slug}' is archived; restore it or move the service first"
            )));
        }
    }
    set_archived(conn, "services", id, archived).await
}

// ---------------------------------------------------------------- dependencies

#[derive(FromRow)]
struct EdgeRow {
    slug: String,
    name: String,
    team_slug: String,
    team_name: String,
    tier: i16,
    kind: String,
    source: String,
    description: String,
}

impl From<EdgeRow> for DependencyEdge {
    fn from(r: EdgeRow) -> Self {
        DependencyEdge {
            service: ServiceRef {
                slug: r.slug,
                name: r.name,
            },
            owner_team: TeamRef {
                slug: r.team_slug,
                name: r.team_name,
            },
            tier: r.tier,
            kind: match r.kind.as_str() {
                "async" => DependencyKind::Async,
                "data" => DependencyKind::Data,
                _ => DependencyKind::Sync,
            },
            source: match r.source.as_str() {
                "imported" => DependencySource::Imported,
                "observed" => DependencySource::Observed,
                _ => DependencySource::Declared,
            },
            description: r.description,
        }
    }
}

/// Both directions of a service's edges: (what it depends on, what depends on it).
pub async fn dependency_edges(
    conn: &mut PgConnection,
    service_id: i64,
) -> AppResult<(Vec<DependencyEdge>, Vec<DependencyEdge>)> {
    let rows: Vec<(bool, EdgeRow)> = sqlx::query_as::<_, (bool, String, String, String, String, i16, String, String, String)>(
        "SELECT true, o.slug, o.name, t.slug, t.name, o.tier, d.kind, d.source, d.description
           FROM service_dependencies d JOIN services o ON o.id = d.to_service_id JOIN teams t ON t.id = o.owner_team_id
          WHERE d.from_service_id = $1
         UNION ALL
         SELECT false, o.slug, o.name, t.slug, t.name, o.tier, d.kind, d.source, d.description
           FROM service_dependencies d JOIN services o ON o.id = d.from_service_id JOIN teams t ON t.id = o.owner_team_id
          WHERE d.to_service_id = $1
         ORDER BY 1 DESC, 2",
    )
    .bind(service_id)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|(out, slug, name, team_slug, team_name, tier, kind, source, description)| {
        (out, EdgeRow { slug, name, team_slug, team_name, tier, kind, source, description })
    })
    .collect();
    let (outgoing, incoming): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(out, _)| *out);
    Ok((
        outgoing.into_iter().map(|(_, r)| r.into()).collect(),
        incoming.into_iter().map(|(_, r)| r.into()).collect(),
    ))
}

/// The edges (as ids) reachable from a service within `depth` steps: enough to find every
/// cycle through it up to that length. Ids, not slugs: joining names onto thousands of edges
/// costs more than the walk itself.
pub async fn reachable_edges(
    conn: &mut PgConnection,
    service_id: i64,
    depth: i32,
) -> AppResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "WITH RECURSIVE reach(id, depth) AS (
             SELECT $1::bigint, 0
           UNION
             SELECT d.to_service_id, r.depth + 1
               FROM reach r JOIN service_dependencies d ON d.from_service_id = r.id
              WHERE r.depth < $2
         ), nodes AS (SELECT DISTINCT id FROM reach)
         SELECT d.from_service_id, d.to_service_id
           FROM service_dependencies d JOIN nodes n ON n.id = d.from_service_id",
    )
    .bind(service_id)
    .bind(depth)
    .fetch_all(conn)
    .await?)
}

/// Slugs of the given services.
pub async fn slugs_by_id(
    conn: &mut PgConnection,
    ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, slug FROM services WHERE id = ANY ($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn upsert_dependency(
    conn: &mut PgConnection,
    from: i64,
    to: i64,
    kind: DependencyKind,
    description: &str,
) -> AppResult<bool> {
    let inserted: bool = sqlx::query_scalar(
        "INSERT INTO service_dependencies (from_service_id, to_service_id, kind, description)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (from_service_id, to_service_id)
         DO UPDATE SET kind = EXCLUDED.kind, description = EXCLUDED.description
         RETURNING (xmax = 0)",
    )
    .bind(from)
    .bind(to)
    .bind(kind.as_str())
    .bind(description)
    .fetch_one(conn)
    .await?;
    Ok(inserted)
}

pub async fn delete_dependency(conn: &mut PgConnection, from: i64, to: i64) -> AppResult<bool> {
    let done = sqlx::query(
        "DELETE FROM service_dependencies WHERE from_service_id = $1 AND to_service_id = $2",
    )
    .bind(from)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
