//! HTTP handlers of the notification outbox, for admins: what was sent, what waits, what failed
//! and why, and sending a failed one again.

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{ErrorBody, Notification, NotificationState, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::repo;
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::error::{AppError, AppResult, Problems};
use crate::extract::ApiQuery;
use crate::pagination::{decode_id_cursor, finish_page, page_size};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(retry_notification))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationListQuery {
    /// `pending`, `sent` or `failed`; by default every state.
    state: Option<String>,
    /// Only the messages about this promotion request (its number).
    promotion: Option<String>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Messages to Microsoft Teams and Slack about promotion requests, newest first: their state,
/// attempts and last failure (never the webhook URL).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(NotificationListQuery),
    responses((status = 200, body = Page<Notification>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_notifications(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<NotificationListQuery>,
) -> AppResult<Json<Page<Notification>>> {
    let limit = page_size(q.limit)?;
    let before = decode_id_cursor(q.cursor.as_deref())?;
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let mut problems = Problems::default();
    let wanted = given(q.state).and_then(|s| {
        problems.check(
            "state",
            NotificationState::parse(&s).ok_or_else(|| {
                format!(
                    "'{s}' is not a state; use {}",
                    NotificationState::ALL
                        .map(NotificationState::as_str)
                        .join(", ")
                )
            }),
        )
    });
    let promotion = given(q.promotion).and_then(|p| {
        problems.check(
            "promotion",
            p.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{p}' is not a promotion request's number")),
        )
    });
    problems.finish()?;
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list(&mut conn, wanted, promotion, before, limit).await?;
    Ok(Json(finish_page(rows, limit, |n| n.id.to_string())))
}

/// Sends a failed (given-up) message again: it becomes pending, due now, with a fresh count of
/// attempts. Audited.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications",
    params(("id" = i64, Path, description = "The message's number")),
    responses((status = 200, body = Notification), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_notification(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> AppResult<Json<Notification>> {
    let mut tx = state.pool.begin().await?;
    let before = repo::get(&mut tx, id, true).await?;
    if before.state != NotificationState::Failed {
        return Err(AppError::Conflict(format!(
            "notification #{id} is {}: only a failed one is sent again",
            before.state.as_str()
        )));
    }
    repo::retry(&mut tx, id).await?;
    let after = repo::get(&mut tx, id, false).await?;
    audit::record(
        &mut tx,
        &actor,
        "notification.retry",
        ("notification", &id.to_string()),
        Change::changed(&before, &after),
    )
    .await?;
    repo::wake(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(after))
}
