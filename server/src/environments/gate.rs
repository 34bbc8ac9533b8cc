//! Each environment's gate policy: read the version in force and its history; admins save a new
//! version with a reason. Versions are kept as written (the database refuses to change one), so
//! a promotion decision can always name the policy it was judged under.

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{ErrorBody, GatePolicy, GatePolicyChange, GatePolicyVersion};
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::error::{AppError, AppResult, Problems};
use crate::extract::ApiJson;
use crate::promotions::gate::check_policy;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_gate, set_gate))
        .routes(routes!(gate_history))
}

type Row = (
    i32,
    sqlx::types::Json<GatePolicy>,
    String,
    String,
    OffsetDateTime,
);

fn version_of(environment: &str, row: Option<Row>) -> GatePolicyVersion {
    match row {
        Some((version, policy, reason, created_by, created_at)) => GatePolicyVersion {
            environment: environment.to_string(),
            version,
            policy: policy.0,
            reason,
            created_by,
            created_at: Some(created_at),
        },
        None => GatePolicyVersion {
            environment: environment.to_string(),
            version: 0,
            policy: GatePolicy::default(),
            reason: "never set: the default policy applies".into(),
            created_by: String::new(),
            created_at: None,
        },
    }
}

/// The environment's id, or 404.
async fn environment_id(conn: &mut PgConnection, slug: &str, lock: bool) -> AppResult<i64> {
    let id: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM environments WHERE slug = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await?;
    id.ok_or_else(|| AppError::not_found("environment", slug))
}

/// The policy in force for an environment (version 0 and the default when never set). A caller
/// deciding under it should hold the environment row (`FOR SHARE`) so no edit slips in between.
pub async fn current(
    conn: &mut PgConnection,
    environment_id: i64,
    slug: &str,
) -> AppResult<GatePolicyVersion> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, policy, reason, created_by, created_at FROM gate_policies
          WHERE environment_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(environment_id)
    .fetch_optional(conn)
    .await?;
    Ok(version_of(slug, row))
}

/// The gate policy in force for an environment.
#[utoipa::path(get, path = "/api/v1/environments/{slug}/gate", tag = "environments",
    params(("slug" = String, Path, description = "The environment")),
    responses((status = 200, body = GatePolicyVersion), (status = 404, body = ErrorBody)))]
async fn get_gate(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<GatePolicyVersion>> {
    let mut conn = state.pool.acquire().await?;
    let id = environment_id(&mut conn, &slug, false).await?;
    Ok(Json(current(&mut conn, id, &slug).await?))
}

/// Every version of the environment's gate policy, newest first.
#[utoipa::path(get, path = "/api/v1/environments/{slug}/gate/history", tag = "environments",
    params(("slug" = String, Path, description = "The environment")),
    responses((status = 200, body = Vec<GatePolicyVersion>), (status = 404, body = ErrorBody)))]
async fn gate_history(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Json<Vec<GatePolicyVersion>>> {
    let mut conn = state.pool.acquire().await?;
    let id = environment_id(&mut conn, &slug, false).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT version, policy, reason, created_by, created_at FROM gate_policies
          WHERE environment_id = $1 ORDER BY version DESC",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| version_of(&slug, Some(r)))
            .collect(),
    ))
}

/// Saves a new version of the environment's gate policy, with the reason for it. Requests
/// already decided keep the version they were decided under; pending ones are judged under the
/// new one from now on.
#[utoipa::path(put, path = "/api/v1/environments/{slug}/gate", tag = "environments",
    request_body = GatePolicyChange,
    params(("slug" = String, Path, description = "The environment")),
    responses((status = 200, body = GatePolicyVersion), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_gate(
    State(state): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    ApiJson(change): ApiJson<GatePolicyChange>,
) -> AppResult<Json<GatePolicyVersion>> {
    let mut problems = Problems::default();
    for (field, message) in check_policy(&change.policy) {
        problems.add(format!("policy.{field}"), message);
    }
    let reason = change.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2_000 {
        problems.add("reason", "say why the policy changes, in 1–2000 characters");
    }
    problems.finish()?;
    let mut tx = state.pool.begin().await?;
    // Locked: a decision holding the environment (FOR SHARE) finishes under the old version, or
    // starts after this one is saved.
    let id = environment_id(&mut tx, &slug, true).await?;
    let before = current(&mut tx, id, &slug).await?;
    if let Some(v) = change.expected_version
        && v != before.version
    {
        return Err(AppError::Conflict(format!(
            "the gate of {slug} changed since you read it (you edited version {v}, it is now at {}); reload it and apply your change again",
            before.version
        )));
    }
    sqlx::query(
        "INSERT INTO gate_policies (environment_id, version, policy, reason, created_by)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(before.version + 1)
    .bind(sqlx::types::Json(&change.policy))
    .bind(reason)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let after = current(&mut tx, id, &slug).await?;
    audit::record(
        &mut tx,
        &actor,
        "environment.gate",
        ("environment", &slug),
        Change::changed(&before, &after),
    )
    .await?;
    crate::live::gate_changed(&mut tx, id, "environment.gate").await?;
    tx.commit().await?;
    Ok(Json(after))
}
