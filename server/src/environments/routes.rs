//! HTTP handlers of the pipeline and of "what runs where".

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{
    Environment, EnvironmentPatch, EnvironmentVersion, ErrorBody, Matrix, MatrixRow,
    NewEnvironment, ServiceVersions,
};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{model, repo};
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::catalog::repo as catalog_repo;
use crate::error::{AppError, AppResult, Problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{decode_cursor, encode_cursor, page_size};
use crate::respond::{Created, created};
use crate::validate;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_environments, create_environment))
        .routes(routes!(get_environment, update_environment))
        .routes(routes!(archive_environment))
        .routes(routes!(restore_environment))
        .routes(routes!(get_matrix))
        .routes(routes!(get_service_versions))
        .merge(super::gate::router())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EnvironmentListQuery {
    /// Also list archived environments (after the live pipeline).
    include_archived: Option<bool>,
}

/// The pipeline of environments, in order.
#[utoipa::path(get, path = "/api/v1/environments", tag = "environments", params(EnvironmentListQuery),
    responses((status = 200, body = Vec<Environment>)))]
async fn list_environments(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EnvironmentListQuery>,
) -> AppResult<Json<Vec<Environment>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        repo::list(&mut conn, q.include_archived.unwrap_or(false)).await?,
    ))
}

/// Add an environment to the pipeline (last, or at `position`).
#[utoipa::path(post, path = "/api/v1/environments", tag = "environments", request_body = NewEnvironment,
    responses((status = 201, body = Environment), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_environment(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewEnvironment>,
) -> AppResult<Created<Environment>> {
    let mut p = Problems::default();
    let slug = p.check("slug", validate::slug(&input.slug));
    let name = p.check("name", validate::name(&input.name));
    let description = p.check("description", validate::description(&input.description));
    p.finish()?;
    let slug = slug.unwrap_or_default();
    let mut tx = state.pool.begin().await?;
    repo::lock_pipeline(&mut tx).await?;
    let count = repo::live_count(&mut tx).await?;
    let position = model::insert_position(input.position, count)
        .map_err(|m| AppError::field("position", m))?;
    repo::insert(
        &mut tx,
        &repo::NewEnvironmentRow {
            slug: &slug,
            name: &name.unwrap_or_default(),
            description: &description.unwrap_or_default(),
            position,
            is_production: input.is_production,
        },
    )
    .await?;
    let out = repo::get(&mut tx, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "environment.create",
        ("environment", &slug),
        Change::created(&out),
    )
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/environments/{slug}"), out))
}

/// Get an environment.
#[utoipa::path(get, path = "/api/v1/environments/{slug}", tag = "environments", params(("slug" = String, Path)),
    responses((status = 200, body = Environment), (status = 404, body = ErrorBody)))]
async fn get_environment(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<Environment>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get(&mut conn, &slug).await?))
}

/// Rename, describe, mark as production, or move an environment in the pipeline.
#[utoipa::path(patch, path = "/api/v1/environments/{slug}", tag = "environments", params(("slug" = String, Path)),
    request_body = EnvironmentPatch,
    responses((status = 200, body = Environment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_environment(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
    ApiJson(patch): ApiJson<EnvironmentPatch>,
) -> AppResult<Json<Environment>> {
    let mut tx = state.pool.begin().await?;
    repo::lock_pipeline(&mut tx).await?;
    let current = repo::get(&mut tx, &slug).await?;
    let mut p = Problems::default();
    let name = p.check(
        "name",
        validate::name(patch.name.as_deref().unwrap_or(&current.name)),
    );
    let description = p.check(
        "description",
        validate::description(patch.description.as_deref().unwrap_or(&current.description)),
    );
    if let Some(pos) = patch.position {
        let count = repo::live_count(&mut tx).await?;
        if !(1..=count).contains(&pos) {
            p.add("position", format!("must be between 1 and {count}"));
        }
    }
    p.finish()?;
    repo::update(
        &mut tx,
        &slug,
        &name.unwrap_or_default(),
        &description.unwrap_or_default(),
        patch.is_production.unwrap_or(current.is_production),
    )
    .await?;
    if let Some(pos) = patch.position {
        repo::move_to(&mut tx, &slug, pos).await?;
    }
    let out = repo::get(&mut tx, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "environment.update",
        ("environment", &slug),
        Change::changed(&current, &out),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Take an environment out of the pipeline; its deployments stay on record.
#[utoipa::path(post, path = "/api/v1/environments/{slug}/archive", tag = "environments", params(("slug" = String, Path)),
    responses((status = 200, body = Environment), (status = 404, body = ErrorBody)))]
async fn archive_environment(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Environment>> {
    set_archived(state, actor, slug, true).await
}

/// Put an archived environment back, at the end of the pipeline.
#[utoipa::path(post, path = "/api/v1/environments/{slug}/restore", tag = "environments", params(("slug" = String, Path)),
    responses((status = 200, body = Environment), (status = 404, body = ErrorBody)))]
async fn restore_environment(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    actor: Actor,
) -> AppResult<Json<Environment>> {
    set_archived(state, actor, slug, false).await
}

async fn set_archived(
    state: AppState,
    actor: Actor,
    slug: String,
    archived: bool,
) -> AppResult<Json<Environment>> {
    let mut tx = state.pool.begin().await?;
    repo::lock_pipeline(&mut tx).await?;
    let before = repo::get(&mut tx, &slug).await?;
    repo::set_archived(&mut tx, &slug, archived).await?;
    let out = repo::get(&mut tx, &slug).await?;
    if before.archived != out.archived {
        let action = if archived {
            "environment.archive"
        } else {
            "environment.restore"
        };
        audit::record(
            &mut tx,
            &actor,
            action,
            ("environment", &slug),
            Change::changed(&before, &out),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatrixQuery {
    /// Words that must all appear in the service's slug, name, description or tags.
    q: Option<String>,
    /// Owning team's slug.
    team: Option<String>,
    cursor: Option<String>,
    /// Services per page, 1–200 (default 50).
    limit: Option<u32>,
}

/// What runs where: live services × the pipeline, with each current version and its age.
#[utoipa::path(get, path = "/api/v1/matrix", tag = "environments", params(MatrixQuery),
    responses((status = 200, body = Matrix), (status = 422, body = ErrorBody)))]
async fn get_matrix(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MatrixQuery>,
) -> AppResult<Json<Matrix>> {
    let limit = page_size(q.limit)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let words = crate::catalog::model::search_words(q.q.as_deref());
    let mut conn = state.pool.acquire().await?;
    let pipeline = repo::pipeline(&mut conn).await?;
    let mut services = repo::matrix_services(
        &mut conn,
        &words,
        q.team.as_deref().filter(|t| !t.is_empty()),
        after.as_deref(),
        limit + 1,
    )
    .await?;
    let next_cursor = if services.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        services.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        services.last().map(|s| encode_cursor(&s.slug))
    } else {
        None
    };
    let service_ids: Vec<i64> = services.iter().map(|s| s.id).collect();
    let env_ids: Vec<i64> = pipeline.iter().map(|(id, _)| *id).collect();
    let mut current = repo::current_deployments(&mut conn, &service_ids, &env_ids).await?;
    let as_of = OffsetDateTime::now_utc();
    let rows = services
        .iter()
        .map(|s| {
            let (service, owner_team) = s.refs();
            let cells = env_ids
                .iter()
                .map(|e| current.remove(&(s.id, *e)))
                .collect();
            MatrixRow {
                service,
                owner_team,
                tier: s.tier,
                cells: model::pipeline_cells(cells, as_of),
            }
        })
        .collect();
    Ok(Json(Matrix {
        as_of,
        environments: pipeline.into_iter().map(|(_, e)| e).collect(),
        rows,
        next_cursor,
    }))
}

/// The version a service runs in each environment of the pipeline.
#[utoipa::path(get, path = "/api/v1/services/{slug}/versions", tag = "environments", params(("slug" = String, Path)),
    responses((status = 200, body = ServiceVersions), (status = 404, body = ErrorBody)))]
async fn get_service_versions(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<ServiceVersions>> {
    let mut conn = state.pool.acquire().await?;
    let (service_id, _) = catalog_repo::service_id(&mut conn, &slug)
        .await?
        .ok_or_else(|| AppError::not_found("service", &slug))?;
    let pipeline = repo::pipeline(&mut conn).await?;
    let env_ids: Vec<i64> = pipeline.iter().map(|(id, _)| *id).collect();
    let mut current = repo::current_deployments(&mut conn, &[service_id], &env_ids).await?;
    let as_of = OffsetDateTime::now_utc();
    let cells = model::pipeline_cells(
        env_ids
            .iter()
            .map(|e| current.remove(&(service_id, *e)))
            .collect(),
        as_of,
    );
    let environments = pipeline
        .into_iter()
        .zip(cells)
        .map(|((_, environment), current)| EnvironmentVersion {
            environment,
            current,
        })
        .collect();
    Ok(Json(ServiceVersions {
        as_of,
        environments,
    }))
}
