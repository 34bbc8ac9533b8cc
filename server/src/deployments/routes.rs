//! HTTP handlers of deployments: record, move, read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portolan_api::{
    Deployment, DeploymentKind, DeploymentStatus, ErrorBody, NewDeployment, Page, StatusUpdate,
};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{self, Transition};
use super::repo;
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::catalog::repo as catalog_repo;
use crate::environments::repo as env_repo;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{decode_id_cursor, finish_page, page_size};
use crate::respond::created;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments, record_deployment))
        .routes(routes!(get_deployment))
        .routes(routes!(update_deployment_status))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeploymentListQuery {
    /// Service slug.
    service: Option<String>,
    /// Environment slug.
    environment: Option<String>,
    /// Slug of the team owning the service.
    team: Option<String>,
    status: Option<DeploymentStatus>,
    kind: Option<DeploymentKind>,
    /// Only production environments.
    production: Option<bool>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Deployments, newest first, with the commits each carried.
#[utoipa::path(get, path = "/api/v1/deployments", tag = "deployments", params(DeploymentListQuery),
    responses((status = 200, body = Page<Deployment>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_deployments(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeploymentListQuery>,
) -> AppResult<Json<Page<Deployment>>> {
    let limit = page_size(q.limit)?;
    let before = decode_id_cursor(q.cursor.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    let mut filter = repo::DeploymentFilter {
        status: q.status,
        kind: q.kind,
        production_only: q.production.unwrap_or(false),
        ..Default::default()
    };
    if let Some(s) = q.service.as_deref().filter(|s| !s.is_empty()) {
        let (id, _) = catalog_repo::service_id(&mut conn, s)
            .await?
            .ok_or_else(|| AppError::not_found("service", s))?;
        filter.service_id = Some(id);
    }
    if let Some(e) = q.environment.as_deref().filter(|s| !s.is_empty()) {
        filter.environment_id = Some(env_repo::get(&mut conn, e).await.map(|_| ())?).and(
            sqlx::query_scalar("SELECT id FROM environments WHERE slug = $1")
                .bind(e)
                .fetch_optional(&mut *conn)
                .await?,
        );
    }
    if let Some(t) = q.team.as_deref().filter(|s| !s.is_empty()) {
        filter.team_id = Some(
            catalog_repo::team_id(&mut conn, t)
                .await?
                .ok_or_else(|| AppError::not_found("team", t))?,
        );
    }
    let rows = repo::list(&mut conn, &filter, before, limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |d| d.id.to_string())))
}

/// Record a deployment (idempotent by `source` + `external_id`).
///
/// Answers 201 with the new deployment, or 200 with the one recorded before when the same event
/// is sent again. The same `source` + `external_id` for a different service, environment, version
/// or commit is a 409.
#[utoipa::path(post, path = "/api/v1/deployments", tag = "deployments", request_body = NewDeployment,
    responses((status = 201, body = Deployment, description = "Recorded"),
        (status = 200, body = Deployment, description = "Already recorded: the same event sent again"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_deployment(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewDeployment>,
) -> AppResult<Response> {
    let d = model::validate_new_deployment(&input, OffsetDateTime::now_utc())?;
    let mut tx = state.pool.begin().await?;
    let service_id = match catalog_repo::service_id(&mut tx, &d.service).await? {
        Some((id, false)) => id,
        Some((_, true)) => {
            return Err(AppError::field(
                "service",
                format!("service '{}' is archived", d.service),
            ));
        }
        None => {
            return Err(AppError::field(
                "service",
                format!("no service has the slug '{}'", d.service),
            ));
        }
    };
    let environment_id = env_repo::live_ref(&mut tx, &d.environment, "environment").await?;
    let id = match repo::insert(&mut tx, &d, service_id, environment_id).await? {
        Some(id) => id,
        None => {
            // The same event again: answer with what was recorded, if it is the same deployment.
            let external_id = d.external_id.as_deref().unwrap_or_default();
            let existing_id = repo::find_by_external_id(&mut tx, &d.source, external_id)
                .await?
                .ok_or_else(|| {
                    AppError::Conflict("the deployment raced another; try again".into())
                })?;
            let existing = repo::get(&mut tx, existing_id).await?;
            let same = existing.service.slug == d.service
                && existing.environment.slug == d.environment
                && existing.version == d.version
                && existing.commit_sha == d.commit_sha;
            tx.commit().await?;
            if !same {
                return Err(AppError::Conflict(format!(
                    "source '{}' already used external_id '{external_id}' for deployment {existing_id} \
                     ({} {} to {}); use another external_id",
                    d.source, existing.service.slug, existing.version, existing.environment.slug
                )));
            }
            return Ok((StatusCode::OK, Json(existing)).into_response());
        }
    };
    let out = repo::get(&mut tx, id).await?;
    audit::record(
        &mut tx,
        &actor,
        "deployment.record",
        ("deployment", &id.to_string()),
        Change::created(&out),
    )
    .await?;
    crate::promotions::deployed(&mut tx, &actor, &out).await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/deployments/{id}"), out).into_response())
}

/// Get a deployment with its commits.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deployments", params(("id" = i64, Path)),
    responses((status = 200, body = Deployment), (status = 404, body = ErrorBody)))]
async fn get_deployment(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Deployment>> {
    let id = parse_id(&id)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get(&mut conn, id).await?))
}

/// Move a deployment to its next status (queued → in_progress → succeeded | failed;
/// succeeded → rolled_back). Sending the current status again changes nothing.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/status", tag = "deployments", params(("id" = i64, Path)),
    request_body = StatusUpdate,
    responses((status = 200, body = Deployment), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_deployment_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    ApiJson(update): ApiJson<StatusUpdate>,
) -> AppResult<Json<Deployment>> {
    let id = parse_id(&id)?;
    let now = OffsetDateTime::now_utc();
    let at = update.at.unwrap_or(now);
    if at > now + model::CLOCK_SKEW {
        return Err(AppError::field("at", "is in the future"));
    }
    let mut tx = state.pool.begin().await?;
    let current = repo::lock_status(&mut tx, id).await?;
    if model::transition(current.status, update.status).map_err(AppError::Conflict)?
        == Transition::Move
    {
        let (started, finished) =
            model::times_after_move(update.status, current.started_at, current.finished_at, at)
                .map_err(|m| AppError::field("at", m))?;
        let before = repo::get(&mut tx, id).await?;
        repo::set_status(&mut tx, id, update.status, started, finished).await?;
        let after = repo::get(&mut tx, id).await?;
        let action = format!("deployment.{}", update.status.as_str());
        audit::record(
            &mut tx,
            &actor,
            &action,
            ("deployment", &id.to_string()),
            Change::changed(&before, &after),
        )
        .await?;
        crate::promotions::deployed(&mut tx, &actor, &after).await?;
    }
    let out = repo::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

fn parse_id(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        AppError::NotFound(format!(
            "deployment '{raw}' does not exist: ids are positive integers"
        ))
    })
}
