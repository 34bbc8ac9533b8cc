//! HTTP handlers of the catalog: extract, call the domain, respond.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portolan_api::{
    DependencyInput, ErrorBody, Lifecycle, NewService, NewSystem, NewTeam, Page, Service,
    ServiceDependencies, ServicePatch, System, SystemPatch, Team, TeamPatch,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{model, repo};
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::error::{AppError, AppResult, Problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{decode_cursor, finish_page, page_size};
use crate::respond::{Created, created};
use crate::validate;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team))
        .routes(routes!(archive_team))
        .routes(routes!(restore_team))
        .routes(routes!(list_systems, create_system))
        .routes(routes!(get_system, update_system))
        .routes(routes!(archive_system))
        .routes(routes!(restore_system))
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service))
        .routes(routes!(archive_service))
        .routes(routes!(restore_service))
        .routes(routes!(list_service_dependencies))
        .routes(routes!(put_service_dependency, delete_service_dependency))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimpleListQuery {
    /// Also list archived records.
    include_archived: Option<bool>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

// ---------------------------------------------------------------- teams

/// List teams, by slug.
#[utoipa::path(get, path = "/api/v1/teams", tag = "catalog", params(SimpleListQuery),
    responses((status = 200, body = Page<Team>), (status = 422, body = ErrorBody)))]
async fn list_teams(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SimpleListQuery>,
) -> AppResult<Json<Page<Team>>> {
    let limit = page_size(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list_teams(
        &mut conn,
        after.as_deref(),
        limit + 1,
        q.include_archived.unwrap_or(false),
    )
    .await?;
    Ok(Json(finish_page(rows, limit, |t| t.slug.clone())))
}

/// Create a team.
#[utoipa::path(post, path = "/api/v1/teams", tag = "catalog", request_body = NewTeam,
    responses((status = 201, body = Team), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_team(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewTeam>,
) -> AppResult<Created<Team>> {
    let team = model::validate_new_team(&input)?;
    let mut tx = state.pool.begin().await?;
    repo::insert_team(&mut tx, &team).await?;
    let out = repo::get_team(&mut tx, &team.slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "team.create",
        ("team", &out.slug),
        Change::created(&out),
    )
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/teams/{}", out.slug), out))
}

/// Get a team.
#[utoipa::path(get, path = "/api/v1/teams/{slug}", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Team), (status = 404, body = ErrorBody)))]
async fn get_team(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<Team>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get_team(&mut conn, &slug).await?))
}

/// Change a team's name or description.
#[utoipa::path(patch, path = "/api/v1/teams/{slug}", tag = "catalog", params(("slug" = String, Path)), request_body = TeamPatch,
    responses((status = 200, body = Team), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_team(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
    ApiJson(patch): ApiJson<TeamPatch>,
) -> AppResult<Json<Team>> {
    let mut tx = state.pool.begin().await?;
    let current = repo::get_team(&mut tx, &slug).await?;
    let mut p = Problems::default();
    let name = p.check(
        "name",
        validate::name(patch.name.as_deref().unwrap_or(&current.name)),
    );
    let description = p.check(
        "description",
        validate::description(patch.description.as_deref().unwrap_or(&current.description)),
    );
    p.finish()?;
    repo::update_team(
        &mut tx,
        &slug,
        &name.unwrap_or_default(),
        &description.unwrap_or_default(),
    )
    .await?;
    let out = repo::get_team(&mut tx, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "team.update",
        ("team", &slug),
        Change::changed(&current, &out),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Archive a team. Refused while it owns live services.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/archive", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Team), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn archive_team(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Team>> {
    set_team_archived(state, actor, slug, true).await
}

/// Restore an archived team.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/restore", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Team), (status = 404, body = ErrorBody)))]
async fn restore_team(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Team>> {
    set_team_archived(state, actor, slug, false).await
}

async fn set_team_archived(
    state: AppState,
    actor: Actor,
    slug: String,
    archived: bool,
) -> AppResult<Json<Team>> {
    let mut tx = state.pool.begin().await?;
    let before = repo::get_team(&mut tx, &slug).await?;
    repo::set_team_archived(&mut tx, &slug, archived).await?;
    let out = repo::get_team(&mut tx, &slug).await?;
    if before.archived != out.archived {
        let action = if archived {
            "team.archive"
        } else {
            "team.restore"
        };
        audit::record(
            &mut tx,
            &actor,
            action,
            ("team", &slug),
            Change::changed(&before, &out),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out))
}

// ---------------------------------------------------------------- systems

/// List systems, by slug.
#[utoipa::path(get, path = "/api/v1/systems", tag = "catalog", params(SimpleListQuery),
    responses((status = 200, body = Page<System>), (status = 422, body = ErrorBody)))]
async fn list_systems(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SimpleListQuery>,
) -> AppResult<Json<Page<System>>> {
    let limit = page_size(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list_systems(
        &mut conn,
        after.as_deref(),
        limit + 1,
        q.include_archived.unwrap_or(false),
    )
    .await?;
    Ok(Json(finish_page(rows, limit, |t| t.slug.clone())))
}

/// Create a system.
#[utoipa::path(post, path = "/api/v1/systems", tag = "catalog", request_body = NewSystem,
    responses((status = 201, body = System), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_system(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewSystem>,
) -> AppResult<Created<System>> {
    let system = model::validate_new_system(&input)?;
    let mut tx = state.pool.begin().await?;
    repo::insert_system(&mut tx, &system).await?;
    let out = repo::get_system(&mut tx, &system.slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "system.create",
        ("system", &out.slug),
        Change::created(&out),
    )
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/systems/{}", out.slug), out))
}

/// Get a system.
#[utoipa::path(get, path = "/api/v1/systems/{slug}", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = System), (status = 404, body = ErrorBody)))]
async fn get_system(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<System>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get_system(&mut conn, &slug).await?))
}

/// Change a system's name, description or owner.
#[utoipa::path(patch, path = "/api/v1/systems/{slug}", tag = "catalog", params(("slug" = String, Path)), request_body = SystemPatch,
    responses((status = 200, body = System), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_system(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
    ApiJson(patch): ApiJson<SystemPatch>,
) -> AppResult<Json<System>> {
    let mut tx = state.pool.begin().await?;
    let current = repo::get_system(&mut tx, &slug).await?;
    let mut p = Problems::default();
    let name = p.check(
        "name",
        validate::name(patch.name.as_deref().unwrap_or(&current.name)),
    );
    let description = p.check(
        "description",
        validate::description(patch.description.as_deref().unwrap_or(&current.description)),
    );
    p.finish()?;
    let owner = match patch.owner_team {
        Some(v) => v,
        None => current.owner_team.as_ref().map(|t| t.slug.clone()),
    };
    repo::update_system(
        &mut tx,
        &slug,
        &name.unwrap_or_default(),
        &description.unwrap_or_default(),
        owner.as_deref(),
    )
    .await?;
    let out = repo::get_system(&mut tx, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "system.update",
        ("system", &slug),
        Change::changed(&current, &out),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Archive a system.
#[utoipa::path(post, path = "/api/v1/systems/{slug}/archive", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = System), (status = 404, body = ErrorBody)))]
async fn archive_system(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<System>> {
    set_system_archived(state, actor, slug, true).await
}

/// Restore an archived system.
#[utoipa::path(post, path = "/api/v1/systems/{slug}/restore", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = System), (status = 404, body = ErrorBody)))]
async fn restore_system(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<System>> {
    set_system_archived(state, actor, slug, false).await
}

async fn set_system_archived(
    state: AppState,
    actor: Actor,
    slug: String,
    archived: bool,
) -> AppResult<Json<System>> {
    let mut tx = state.pool.begin().await?;
    let before = repo::get_system(&mut tx, &slug).await?;
    repo::set_system_archived(&mut tx, &slug, archived).await?;
    let out = repo::get_system(&mut tx, &slug).await?;
    if before.archived != out.archived {
        let action = if archived {
            "system.archive"
        } else {
            "system.restore"
        };
        audit::record(
            &mut tx,
            &actor,
            action,
            ("system", &slug),
            Change::changed(&before, &out),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out))
}

// ---------------------------------------------------------------- services

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceListQuery {
    /// Words that must all appear in the slug, name, description or tags (case-insensitive).
    q: Option<String>,
    /// Owning team's slug.
    team: Option<String>,
    /// System's slug.
    system: Option<String>,
    /// 1–4.
    tier: Option<i16>,
    lifecycle: Option<Lifecycle>,
    /// Only services carrying this tag.
    tag: Option<String>,
    include_archived: Option<bool>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Search and filter the catalog, by slug.
#[utoipa::path(get, path = "/api/v1/services", tag = "catalog", params(ServiceListQuery),
    responses((status = 200, body = Page<Service>), (status = 422, body = ErrorBody)))]
async fn list_services(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ServiceListQuery>,
) -> AppResult<Json<Page<Service>>> {
    let limit = page_size(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    if let Some(t) = q.tier {
        validate::tier(t).map_err(|m| AppError::field("tier", m))?;
    }
    let words = model::search_words(q.q.as_deref());
    let filter = repo::ServiceFilter {
        words,
        team: q.team.filter(|s| !s.is_empty()),
        system: q.system.filter(|s| !s.is_empty()),
        tier: q.tier,
        lifecycle: q.lifecycle,
        tag: q.tag.filter(|s| !s.is_empty()).map(|t| t.to_lowercase()),
        include_archived: q.include_archived.unwrap_or(false),
    };
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list_services(&mut conn, &filter, after.as_deref(), limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |s| s.slug.clone())))
}

/// Register a service.
#[utoipa::path(post, path = "/api/v1/services", tag = "catalog", request_body = NewService,
    responses((status = 201, body = Service), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_service(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewService>,
) -> AppResult<Created<Service>> {
    let fields =
        model::validate_service_fields(model::ServiceFields::from(&input), Some(&input.slug))?;
    let mut tx = state.pool.begin().await?;
    repo::insert_service(&mut tx, &input.slug, &fields).await?;
    let out = repo::get_service(&mut tx, &input.slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "service.create",
        ("service", &out.slug),
        Change::created(&out),
    )
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/services/{}", out.slug), out))
}

/// Get a service.
#[utoipa::path(get, path = "/api/v1/services/{slug}", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody)))]
async fn get_service(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<Service>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get_service(&mut conn, &slug).await?))
}

/// Change a service. Absent fields stay; `null` clears a nullable field.
#[utoipa::path(patch, path = "/api/v1/services/{slug}", tag = "catalog", params(("slug" = String, Path)), request_body = ServicePatch,
    responses((status = 200, body = Service), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_service(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
    ApiJson(patch): ApiJson<ServicePatch>,
) -> AppResult<Json<Service>> {
    let mut tx = state.pool.begin().await?;
    let current = repo::lock_service_fields(&mut tx, &slug).await?;
    let before = repo::get_service(&mut tx, &slug).await?;
    let merged = model::ServiceFields {
        name: patch.name.unwrap_or(current.name),
        description: patch.description.unwrap_or(current.description),
        owner_team: patch.owner_team.unwrap_or(current.owner_team),
        system: patch.system.unwrap_or(current.system),
        tier: patch.tier.unwrap_or(current.tier),
        lifecycle: patch.lifecycle.unwrap_or(current.lifecycle),
        repository_url: patch.repository_url.unwrap_or(current.repository_url),
        runbook_url: patch.runbook_url.unwrap_or(current.runbook_url),
        tags: patch.tags.unwrap_or(current.tags),
    };
    let fields = model::validate_service_fields(merged, None)?;
    repo::update_service(&mut tx, &slug, &fields).await?;
    let out = repo::get_service(&mut tx, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "service.update",
        ("service", &slug),
        Change::changed(&before, &out),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Archive a service: it leaves the catalog and takes no more deployments; its history stays.
#[utoipa::path(post, path = "/api/v1/services/{slug}/archive", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody)))]
async fn archive_service(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Service>> {
    set_service_archived(state, actor, slug, true).await
}

/// Restore an archived service.
#[utoipa::path(post, path = "/api/v1/services/{slug}/restore", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn restore_service(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Service>> {
    set_service_archived(state, actor, slug, false).await
}

async fn set_service_archived(
    state: AppState,
    actor: Actor,
    slug: String,
    archived: bool,
) -> AppResult<Json<Service>> {
    let mut tx = state.pool.begin().await?;
    let before = repo::get_service(&mut tx, &slug).await?;
    repo::set_service_archived(&mut tx, &slug, archived).await?;
    let out = repo::get_service(&mut tx, &slug).await?;
    if before.archived != out.archived {
        let action = if archived {
            "service.archive"
        } else {
            "service.restore"
        };
        audit::record(
            &mut tx,
            &actor,
            action,
            ("service", &slug),
            Change::changed(&before, &out),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out))
}

// ---------------------------------------------------------------- dependencies

/// A service's dependencies in both directions, and the dependency cycles it is part of.
#[utoipa::path(get, path = "/api/v1/services/{slug}/dependencies", tag = "catalog", params(("slug" = String, Path)),
    responses((status = 200, body = ServiceDependencies), (status = 404, body = ErrorBody)))]
async fn list_service_dependencies(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<ServiceDependencies>> {
    let mut conn = state.pool.acquire().await?;
    let (id, _) = repo::service_id(&mut conn, &slug)
        .await?
        .ok_or_else(|| AppError::not_found("service", &slug))?;
    let (dependencies, dependents) = repo::dependency_edges(&mut conn, id).await?;
    let cycles = if dependencies.is_empty() || dependents.is_empty() {
        Vec::new() // a node without both in- and out-edges is on no cycle
    } else {
        let depth = i32::try_from(model::MAX_CYCLE_LEN).unwrap_or(8) - 1;
        let edges = repo::reachable_edges(&mut conn, id, depth).await?;
        let cycles = model::cycles_through(&id, &edges);
        let mut on_cycles: Vec<i64> = cycles.iter().flatten().copied().collect();
        on_cycles.sort_unstable();
        on_cycles.dedup();
        let names = repo::slugs_by_id(&mut conn, &on_cycles).await?;
        cycles
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|n| names.get(&n).cloned().unwrap_or_default())
                    .collect()
            })
            .collect()
    };
    Ok(Json(ServiceDependencies {
        dependencies,
        dependents,
        cycles,
    }))
}

/// Declare that `{slug}` depends on `{to}` (or change how). Idempotent.
#[utoipa::path(put, path = "/api/v1/services/{slug}/dependencies/{to}", tag = "catalog",
    params(("slug" = String, Path), ("to" = String, Path, description = "The service depended on")),
    request_body = DependencyInput,
    responses((status = 200, description = "Changed"), (status = 201, description = "Created"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_service_dependency(
    State(state): State<AppState>,
    Path((slug, to)): Path<(String, String)>,
    actor: Actor,
    ApiJson(input): ApiJson<DependencyInput>,
) -> AppResult<StatusCode> {
    let description =
        validate::description(&input.description).map_err(|m| AppError::field("description", m))?;
    if slug == to {
        return Err(AppError::field("to", "a service cannot depend on itself"));
    }
    let mut tx = state.pool.begin().await?;
    let (from_id, from_archived) = repo::service_id(&mut tx, &slug)
        .await?
        .ok_or_else(|| AppError::not_found("service", &slug))?;
    let (to_id, to_archived) = repo::service_id(&mut tx, &to)
        .await?
        .ok_or_else(|| AppError::Unprocessable(format!("service '{to}' does not exist")))?;
    if from_archived || to_archived {
        return Err(AppError::Unprocessable(
            "archived services take no new dependencies".into(),
        ));
    }
    let inserted =
        repo::upsert_dependency(&mut tx, from_id, to_id, input.kind, &description).await?;
    let edge =
        serde_json::json!({"from": slug, "to": to, "kind": input.kind, "description": description});
    let (action, change) = if inserted {
        ("dependency.create", Change::created(&edge))
    } else {
        ("dependency.update", Change::created(&edge))
    };
    audit::record(
        &mut tx,
        &actor,
        action,
        ("dependency", &format!("{slug}->{to}")),
        change,
    )
    .await?;
    tx.commit().await?;
    Ok(if inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// Remove the dependency of `{slug}` on `{to}`.
#[utoipa::path(delete, path = "/api/v1/services/{slug}/dependencies/{to}", tag = "catalog",
    params(("slug" = String, Path), ("to" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody)))]
async fn delete_service_dependency(
    State(state): State<AppState>,
    Path((slug, to)): Path<(String, String)>,
    actor: Actor,
) -> AppResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let (from_id, _) = repo::service_id(&mut tx, &slug)
        .await?
        .ok_or_else(|| AppError::not_found("service", &slug))?;
    let (to_id, _) = repo::service_id(&mut tx, &to)
        .await?
        .ok_or_else(|| AppError::not_found("service", &to))?;
    if !repo::delete_dependency(&mut tx, from_id, to_id).await? {
        return Err(AppError::NotFound(format!(
            "'{slug}' does not depend on '{to}'"
        )));
    }
    let edge = serde_json::json!({"from": slug, "to": to});
    audit::record(
        &mut tx,
        &actor,
        "dependency.delete",
        ("dependency", &format!("{slug}->{to}")),
        Change::removed(&edge),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
