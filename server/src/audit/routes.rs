//! Reading the audit log.

use axum::Json;
use axum::extract::State;
use portolan_api::{AuditRecord, ErrorBody, Page};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::repo;
use crate::AppState;
use crate::error::AppResult;
use crate::extract::ApiQuery;
use crate::pagination::{decode_id_cursor, finish_page, page_size};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_records))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Only changes by this actor id.
    actor: Option<String>,
    /// Only this action, e.g. `service.update`.
    action: Option<String>,
    /// Only changes to this kind of record: `team`, `system`, `service`, `dependency`,
    /// `environment`, `deployment`.
    target_kind: Option<String>,
    /// Only changes to this record (its slug or id).
    target_id: Option<String>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditListQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = 422, body = ErrorBody)))]
async fn list_audit_records(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditListQuery>,
) -> AppResult<Json<Page<AuditRecord>>> {
    let limit = page_size(q.limit)?;
    let before = decode_id_cursor(q.cursor.as_deref())?;
    let filter = repo::AuditFilter {
        actor_id: q.actor.filter(|s| !s.is_empty()),
        action: q.action.filter(|s| !s.is_empty()),
        target_kind: q.target_kind.filter(|s| !s.is_empty()),
        target_id: q.target_id.filter(|s| !s.is_empty()),
    };
    let mut conn = state.pool.acquire().await?;
    let rows = repo::list(&mut conn, &filter, before, limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |r| r.seq.to_string())))
}
