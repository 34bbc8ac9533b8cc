//! HTTP handlers of promotion requests: ask, read (with what the gate says now), and decide.
//! Every rule is enforced here, in a transaction that locks the request and holds the target
//! environment (so a policy edit waits, and the decision names the policy it was judged under).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use portolan_api::{
    ErrorBody, NewPromotion, Promotion, PromotionDecision, PromotionReason, PromotionState, Verdict,
};
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{model, repo};
use crate::AppState;
use crate::access::Caller;
use crate::audit::{self, Actor, repo::Change};
use crate::environments::gate as policies;
use crate::error::{AppError, AppResult, Problems};
use crate::extract::ApiJson;
use crate::validate;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_promotion, list_promotions))
        .routes(routes!(get_promotion))
        .routes(routes!(review_promotion))
        .routes(routes!(wait_for_promotion))
        .routes(routes!(decide_promotion))
        .routes(routes!(cancel_promotion))
        .routes(routes!(break_glass))
}

/// The request as answered, its gate judged now.
async fn answer(state: &AppState, conn: &mut PgConnection, id: i64) -> AppResult<Promotion> {
    let row = repo::row(conn, id, false).await?;
    let current = policies::current(conn, row.to_id, &row.to_slug).await?;
    repo::shown(
        conn,
        row,
        (current.version, current.policy),
        &state.config.group_roles,
        OffsetDateTime::now_utc(),
    )
    .await
}

/// Settles a pending request that the clock or its gate has decided, in the caller's
/// transaction: expired once past its time, approved once every condition of its gate passes
/// (no approval needed, or the soak time that was still running has passed). Both are recorded
/// as Portolan's doing.
async fn settle(state: &AppState, conn: &mut PgConnection, id: i64) -> AppResult<()> {
    let row = repo::row(conn, id, true).await?;
    if row.state() != PromotionState::Pending {
        return Ok(());
    }
    hold_environment(conn, row.to_id).await?;
    let now = OffsetDateTime::now_utc();
    let current = policies::current(conn, row.to_id, &row.to_slug).await?;
    let expired = now >= row.expires_at;
    let before = repo::shown(
        conn,
        row,
        (current.version, current.policy),
        &state.config.group_roles,
        now,
    )
    .await?;
    let (to, note) = if expired {
        (
            PromotionState::Expired,
            "expired before a decision".to_string(),
        )
    } else if before.verdict == Verdict::Open {
        (
            PromotionState::Approved,
            "the gate opened: every condition passes".to_string(),
        )
    } else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE promotions SET state = $2, decided_at = LEAST(now(), expires_at), decided_by = 'Portolan',
                decision_note = $3, policy_version = $4, updated_at = now(), row_version = row_version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(&note)
    .bind(current.version)
    .execute(&mut *conn)
    .await?;
    let after = answer(state, conn, id).await?;
    recorded(
        state,
        conn,
        &Actor::system(),
        if expired {
            "promotion.expire"
        } else {
            "promotion.approve"
        },
        Some(&before),
        &after,
    )
    .await?;
    Ok(())
}

/// Settles the request, then answers it.
pub(crate) async fn settled(state: &AppState, id: i64) -> AppResult<Promotion> {
    let mut tx = state.pool.begin().await?;
    settle(state, &mut tx, id).await?;
    let p = answer(state, &mut tx, id).await?;
    tx.commit().await?;
    Ok(p)
}

/// A change to a request (`before` it, `None` when it was just asked for, and `after`),
/// recorded in the caller's transaction: in the audit log, announced to open pages, and written
/// to the outbox of the Teams and Slack messages it calls for.
async fn recorded(
    state: &AppState,
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    before: Option<&Promotion>,
    after: &Promotion,
) -> AppResult<()> {
    let change = match before {
        Some(b) => Change::changed(b, after),
        None => Change::created(after),
    };
    let id = after.id;
    audit::record(conn, actor, action, ("promotion", &id.to_string()), change).await?;
    crate::live::promotion_changed(conn, id, action).await?;
    crate::notifications::promotion_changed(conn, &state.config, action, after).await
}

/// Holds the target environment until commit: a policy edit (which locks it) waits, so a
/// decision is made under the version it records.
async fn hold_environment(conn: &mut PgConnection, environment: i64) -> AppResult<()> {
    sqlx::query("SELECT 1 FROM environments WHERE id = $1 FOR SHARE")
        .bind(environment)
        .execute(conn)
        .await?;
    Ok(())
}

/// The person behind the caller: the one signed in, or the owner of the token.
async fn person_of(conn: &mut PgConnection, actor: &Actor) -> AppResult<Option<i64>> {
    if let Some(token) = actor.id.strip_prefix("token:") {
        let id: i64 = token.parse().unwrap_or_default();
        return Ok(
            sqlx::query_scalar("SELECT user_id FROM api_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await?,
        );
    }
    crate::incidents::repo::person_id(conn, &actor.id).await
}

/// An environment's id, position and whether it is live, by slug.
async fn environment(
    conn: &mut PgConnection,
    problems: &mut Problems,
    field: &str,
    slug: &str,
) -> AppResult<Option<(i64, i32)>> {
    let row: Option<(i64, i32, bool)> = sqlx::query_as(
        "SELECT id, position, archived_at IS NOT NULL FROM environments WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((id, position, false)) => Some((id, position)),
        Some(_) => {
            problems.add(field, format!("environment '{slug}' is archived"));
            None
        }
        None => {
            problems.add(field, format!("no environment has the slug '{slug}'"));
            None
        }
    })
}

/// Ask to promote a version into an environment. Asking again for the same pending promotion
/// answers the existing request (200) instead of making a second one (201).
#[utoipa::path(post, path = "/api/v1/promotions", tag = "promotions", request_body = NewPromotion,
    responses((status = 201, body = Promotion), (status = 200, body = Promotion),
        (status = 422, body = ErrorBody)))]
async fn request_promotion(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<NewPromotion>,
) -> AppResult<Response> {
    let (status, p) = ask(&state, &actor, &new, Reuse::Pending).await?;
    let location = format!("/api/v1/promotions/{}", p.id);
    Ok((status, [("location", location)], Json(p)).into_response())
}

/// Which earlier request of the same version into the same environment answers an ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// A pending one; otherwise a new request is made (people and pipelines asking again after
    /// a decision).
    Pending,
    /// The latest one, whatever its state; a new request only when there is none (a check that
    /// asks at every evaluation must not reopen a rejected or expired request by itself).
    Latest,
}

/// Asks for a promotion: the request (201 when made now, 200 when an earlier one answers).
pub(crate) async fn ask(
    state: &AppState,
    actor: &Actor,
    new: &NewPromotion,
    reuse: Reuse,
) -> AppResult<(StatusCode, Promotion)> {
    let mut problems = Problems::default();
    let version = problems.check("version", validate::token(&new.version, 100));
    let reason = new
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if reason.chars().count() > 2_000 {
        problems.add("reason", "must be at most 2000 characters");
    }
    let mut tx = state.pool.begin().await?;
    let service: Option<(i64, bool)> =
        crate::catalog::repo::service_id(&mut tx, &new.service).await?;
    let service = match service {
        Some((id, false)) => Some(id),
        Some(_) => {
            problems.add("service", format!("service '{}' is archived", new.service));
            None
        }
        None => {
            problems.add(
                "service",
                format!("no service has the slug '{}'", new.service),
            );
            None
        }
    };
    let to = environment(&mut tx, &mut problems, "to", &new.to).await?;
    let from = match (&new.from, to) {
        (Some(slug), _) => environment(&mut tx, &mut problems, "from", slug).await?,
        (None, Some((to_id, _))) => match repo::previous_stage(&mut tx, to_id).await? {
            Some((id, _)) => {
                let (id, position): (i64, i32) =
                    sqlx::query_as("SELECT id, position FROM environments WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                Some((id, position))
            }
            None => {
                problems.add(
                    "to",
                    format!("{} is the first stage: nothing is promoted into it", new.to),
                );
                None
            }
        },
        (None, None) => None,
    };
    if let (Some((_, f)), Some((_, t))) = (from, to)
        && f >= t
    {
        problems.add("from", "must be an earlier stage than the target");
    }
    problems.finish()?;
    let (Some(service), Some((from_id, _)), Some((to_id, _)), Some(version)) =
        (service, from, to, version)
    else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a checked promotion field is missing"
        )));
    };
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM promotions WHERE service_id = $1 AND to_environment_id = $2 AND version = $3
            AND ($4 OR state = 'pending')
          ORDER BY id DESC LIMIT 1",
    )
    .bind(service)
    .bind(to_id)
    .bind(&version)
    .bind(reuse == Reuse::Latest)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        tx.commit().await?;
        let mut conn = state.pool.acquire().await?;
        return Ok((StatusCode::OK, answer(state, &mut conn, id).await?));
    }
    let policy = policies::current(&mut tx, to_id, &new.to).await?;
    let requester_user = person_of(&mut tx, actor).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO promotions (service_id, version, from_environment_id, to_environment_id, hotfix,
                                 reason, requester_id, requester_name, requester_user_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(hours => $10))
         RETURNING id",
    )
    .bind(service)
    .bind(&version)
    .bind(from_id)
    .bind(to_id)
    .bind(new.hotfix)
    .bind(&reason)
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(requester_user)
    .bind(policy.policy.expire_after_hours as i32)
    .fetch_one(&mut *tx)
    .await?;
    let p = answer(state, &mut tx, id).await?;
    recorded(state, &mut tx, actor, "promotion.request", None, &p).await?;
    // A gate that needs nobody opens at once.
    settle(state, &mut tx, id).await?;
    let p = answer(state, &mut tx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, p))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PromotionListQuery {
    /// One state (`pending`, `approved`, …); by default every state.
    state: Option<String>,
    /// Only this service's requests (slug).
    service: Option<String>,
    /// Only requests into this environment (slug).
    to: Option<String>,
    /// `true`: my inbox — pending requests I may decide (into environments I approve, not asked
    /// by me, not decided by me yet).
    decidable: Option<bool>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Promotion requests, newest first, each with what its gate says.
#[utoipa::path(get, path = "/api/v1/promotions", tag = "promotions", params(PromotionListQuery),
    responses((status = 200, body = portolan_api::Page<Promotion>), (status = 422, body = ErrorBody)))]
async fn list_promotions(
    State(state): State<AppState>,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<PromotionListQuery>,
) -> AppResult<Json<portolan_api::Page<Promotion>>> {
    let limit = crate::pagination::page_size(q.limit)?;
    let before = crate::pagination::decode_id_cursor(q.cursor.as_deref())?;
    let mut problems = Problems::default();
    let wanted = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => problems.check(
            "state",
            PromotionState::parse(s).ok_or_else(|| {
                format!(
                    "'{s}' is not a state; use {}",
                    PromotionState::ALL.map(PromotionState::as_str).join(", ")
                )
            }),
        ),
    };
    let decidable = q.decidable.unwrap_or(false);
    if decidable && wanted.is_some_and(|s| s != PromotionState::Pending) {
        problems.add("state", "an inbox holds pending requests only");
    }
    problems.finish()?;
    let mut conn = state.pool.acquire().await?;
    let me = crate::incidents::repo::person_id(&mut conn, &actor.id).await?;
    // Where I may approve is decided by my roles, not by SQL: the inbox looks only into those
    // environments, so the database pages it (and skips the rest by index).
    let approvable: Option<Vec<String>> = if decidable {
        let all: Vec<String> =
            sqlx::query_scalar("SELECT slug FROM environments WHERE archived_at IS NULL")
                .fetch_all(&mut *conn)
                .await?;
        Some(match &caller {
            Caller::Person { access } => all
                .into_iter()
                .filter(|e| access.may_approve_in(e))
                .collect(),
            _ => Vec::new(),
        })
    } else {
        None
    };
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT p.id FROM promotions p
           JOIN services s ON s.id = p.service_id
           JOIN environments t ON t.id = p.to_environment_id
          WHERE ($1::text IS NULL OR p.state = $1)
            AND ($2::text IS NULL OR s.slug = $2)
            AND ($3::text IS NULL OR t.slug = $3)
            AND ($4::bigint IS NULL OR p.id < $4)
            AND ($5::text[] IS NULL OR (t.slug = ANY($5)
                 AND p.requester_user_id IS DISTINCT FROM $6
                 AND NOT EXISTS (SELECT 1 FROM promotion_approvals a
                                  WHERE a.promotion_id = p.id AND a.user_id = $6)))
          ORDER BY p.id DESC
          LIMIT $7",
    )
    .bind(if decidable {
        Some("pending")
    } else {
        wanted.map(PromotionState::as_str)
    })
    .bind(q.service.as_deref().filter(|s| !s.is_empty()))
    .bind(q.to.as_deref().filter(|s| !s.is_empty()))
    .bind(before)
    .bind(approvable)
    .bind(me)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let page = repo::shown_page(
        &mut conn,
        &ids,
        &state.config.group_roles,
        OffsetDateTime::now_utc(),
    )
    .await?;
    Ok(Json(crate::pagination::finish_page(page, limit, |p| {
        p.id.to_string()
    })))
}

/// What an approver reads besides the gate: the commits the promotion carries into the target
/// (from the commits pipelines recorded with deployments), open incidents on the service and up
/// to three hops along what it depends on, and how the version has done in every environment it
/// reached (failed deployments, rollbacks, incidents it was named the cause of).
#[utoipa::path(get, path = "/api/v1/promotions/{id}/review", tag = "promotions",
    params(("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = portolan_api::PromotionReview), (status = 404, body = ErrorBody)))]
async fn review_promotion(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<portolan_api::PromotionReview>> {
    let mut tx = state.pool.begin().await?;
    let row = repo::row(&mut tx, id, false).await?;
    let review = super::review::review(&mut tx, &row, OffsetDateTime::now_utc()).await?;
    tx.commit().await?;
    Ok(Json(review))
}

/// One promotion request, with every condition of its gate as of now (or as of its decision).
#[utoipa::path(get, path = "/api/v1/promotions/{id}", tag = "promotions",
    params(("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = Promotion), (status = 404, body = ErrorBody)))]
async fn get_promotion(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Promotion>> {
    Ok(Json(settled(&state, id).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// How long to wait for a decision, 1–300 seconds (default 60).
    timeout_seconds: Option<u64>,
}

/// Waits (long-poll) until the request is decided or the timeout passes, then answers it as it
/// stands: a pipeline calls this again while the state is `pending`.
#[utoipa::path(get, path = "/api/v1/promotions/{id}/wait", tag = "promotions", params(WaitQuery,
        ("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = Promotion), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn wait_for_promotion(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<WaitQuery>,
) -> AppResult<Json<Promotion>> {
    let timeout = q.timeout_seconds.unwrap_or(60);
    if !(1..=300).contains(&timeout) {
        return Err(AppError::field(
            "timeout_seconds",
            "must be between 1 and 300",
        ));
    }
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
    loop {
        let p = settled(&state, id).await?;
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if p.state.is_decided() || left.is_zero() {
            return Ok(Json(p));
        }
        tokio::time::sleep(left.min(std::time::Duration::from_secs(2))).await;
    }
}

/// Approve or reject (with a reason). One decision per person; the requester never decides,
/// nor anyone who may not approve into the target, nor (where the policy says so) an author of
/// a promoted commit. A rejection ends the request; an approval that opens the gate approves it.
#[utoipa::path(post, path = "/api/v1/promotions/{id}/decisions", tag = "promotions",
    request_body = PromotionDecision,
    params(("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = Promotion), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn decide_promotion(
    State(state): State<AppState>,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<PromotionDecision>,
) -> AppResult<Json<Promotion>> {
    let comment = d
        .comment
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let approve = match d.decision.as_str() {
        "approve" => true,
        "reject" if comment.is_empty() => {
            return Err(AppError::field(
                "comment",
                "say why you reject it (the requester reads it)",
            ));
        }
        "reject" => false,
        other => {
            return Err(AppError::field(
                "decision",
                format!("'{other}' is not approve or reject"),
            ));
        }
    };
    if comment.chars().count() > 2_000 {
        return Err(AppError::field(
            "comment",
            "must be at most 2000 characters",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let mut tx = state.pool.begin().await?;
    let row = repo::row(&mut tx, id, true).await?;
    // Held until commit: a policy edit (which locks the environment) waits for this decision.
    hold_environment(&mut tx, row.to_id).await?;
    let state_now = row.state();
    if state_now.is_decided() {
        return Err(AppError::Conflict(format!(
            "promotion #{id} is already {}; it takes no more decisions",
            state_now.as_str()
        )));
    }
    if now >= row.expires_at {
        settle(&state, &mut tx, id).await?;
        tx.commit().await?;
        return Err(AppError::Conflict(format!(
            "promotion #{id} expired; ask again"
        )));
    }
    let Caller::Person { access } = &caller else {
        return Err(AppError::Forbidden(
            "decisions are made by people, not tokens".into(),
        ));
    };
    if !access.may_approve_in(&row.to_slug) {
        return Err(AppError::Forbidden(format!(
            "you may not approve promotions into {} (this needs the approver role for it)",
            row.to_slug
        )));
    }
    let me = crate::incidents::repo::person_id(&mut tx, &actor.id)
        .await?
        .ok_or_else(|| {
            AppError::Forbidden("sign in again: your account is not on record".into())
        })?;
    if row.requester_key.as_deref() == Some(actor.id.as_str()) {
        return Err(AppError::Forbidden(format!(
            "you asked for promotion #{id}: someone else must decide it"
        )));
    }
    let current = policies::current(&mut tx, row.to_id, &row.to_slug).await?;
    if current.policy.exclude_commit_authors {
        let authors: Vec<String> = super::review::changes_of(&mut tx, &row, now)
            .await?
            .authors
            .into_iter()
            .map(|a| a.author)
            .collect();
        let mine: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT display_name, email FROM users WHERE id = $1")
                .bind(me)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((name, email)) = mine
            && super::gate::is_author(&name, email.as_deref(), &authors)
        {
            return Err(AppError::Forbidden(format!(
                "you authored a commit this promotion carries into {}: its gate takes no approval from authors",
                row.to_slug
            )));
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO promotion_approvals (promotion_id, user_id, decision, comment)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(me)
    .bind(if approve { "approve" } else { "reject" })
    .bind(&comment)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::Conflict(format!(
            "you already decided promotion #{id}"
        )));
    }
    let before = answer(&state, &mut tx, id).await?;
    let to = if !approve {
        Some((
            PromotionState::Rejected,
            format!("rejected by {}: {comment}", actor.name),
        ))
    } else if before.verdict == Verdict::Open {
        Some((
            PromotionState::Approved,
            format!(
                "approved; the gate is open ({} approvals)",
                before.approvals.len()
            ),
        ))
    } else {
        None
    };
    if let Some((to, note)) = to {
        model::check_move(PromotionState::Pending, to).map_err(AppError::Conflict)?;
        sqlx::query(
            "UPDATE promotions SET state = $2, decided_at = now(), decided_by = $3, decision_note = $4,
                    policy_version = $5, updated_at = now(), row_version = row_version + 1
              WHERE id = $1",
        )
        .bind(id)
        .bind(to.as_str())
        .bind(&actor.name)
        .bind(&note)
        .bind(current.version)
        .execute(&mut *tx)
        .await?;
    }
    let after = answer(&state, &mut tx, id).await?;
    recorded(
        &state,
        &mut tx,
        &actor,
        if approve {
            "promotion.approve"
        } else {
            "promotion.reject"
        },
        Some(&before),
        &after,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// A reason of 1–2000 characters, or a problem on `reason`.
fn reason_of(r: &PromotionReason, what: &str) -> AppResult<String> {
    let reason = r.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2_000 {
        return Err(AppError::field(
            "reason",
            format!("say why you {what}, in 1–2000 characters"),
        ));
    }
    Ok(reason.to_string())
}

/// Ends a request, pending or approved and not yet deployed: its requester (for a token, the
/// token's owner) or an admin.
#[utoipa::path(post, path = "/api/v1/promotions/{id}/cancel", tag = "promotions",
    request_body = PromotionReason,
    params(("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = Promotion), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_promotion(
    State(state): State<AppState>,
    actor: Actor,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<PromotionReason>,
) -> AppResult<Json<Promotion>> {
    let reason = reason_of(&r, "cancel it")?;
    let mut tx = state.pool.begin().await?;
    let row = repo::row(&mut tx, id, true).await?;
    let me = person_of(&mut tx, &actor).await?;
    let mine: Option<i64> =
        sqlx::query_scalar("SELECT requester_user_id FROM promotions WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let admin = matches!(&caller, Caller::Person { access } if access.allows(crate::access::Permission::PipelineWrite));
    if !(admin || (me.is_some() && me == mine)) {
        return Err(AppError::Forbidden(format!(
            "only whoever asked for promotion #{id} (or an admin) may cancel it"
        )));
    }
    model::check_move(row.state(), PromotionState::Cancelled).map_err(AppError::Conflict)?;
    let before = answer(&state, &mut tx, id).await?;
    sqlx::query(
        "UPDATE promotions SET state = 'cancelled', decided_at = COALESCE(decided_at, now()),
                decided_by = $2, decision_note = $3, updated_at = now(), row_version = row_version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(&actor.name)
    .bind(format!("cancelled: {reason}"))
    .execute(&mut *tx)
    .await?;
    let after = answer(&state, &mut tx, id).await?;
    recorded(
        &state,
        &mut tx,
        &actor,
        "promotion.cancel",
        Some(&before),
        &after,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Break-glass: an admin approves a pending request whatever its gate says. The reason is
/// mandatory; the override is logged as a warning, audited, and shown on the request forever.
#[utoipa::path(post, path = "/api/v1/promotions/{id}/break-glass", tag = "promotions",
    request_body = PromotionReason,
    params(("id" = i64, Path, description = "The request's number")),
    responses((status = 200, body = Promotion), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn break_glass(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<PromotionReason>,
) -> AppResult<Json<Promotion>> {
    let reason = reason_of(&r, "override the gate")?;
    let mut tx = state.pool.begin().await?;
    let row = repo::row(&mut tx, id, true).await?;
    hold_environment(&mut tx, row.to_id).await?;
    if row.state() != PromotionState::Pending {
        return Err(AppError::Conflict(format!(
            "promotion #{id} is already {}; only a pending request can be overridden",
            row.state().as_str()
        )));
    }
    let current = policies::current(&mut tx, row.to_id, &row.to_slug).await?;
    let before = answer(&state, &mut tx, id).await?;
    sqlx::query(
        "UPDATE promotions SET state = 'approved', decided_at = now(), decided_by = $2,
                decision_note = $3, policy_version = $4, break_glass_by = $2, break_glass_reason = $5,
                updated_at = now(), row_version = row_version + 1
          WHERE id = $1",
    )
    .bind(id)
    .bind(&actor.name)
    .bind(format!("BREAK-GLASS: {reason}"))
    .bind(current.version)
    .bind(&reason)
    .execute(&mut *tx)
    .await?;
    let after = answer(&state, &mut tx, id).await?;
    recorded(
        &state,
        &mut tx,
        &actor,
        "promotion.break_glass",
        Some(&before),
        &after,
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(promotion = id, by = %actor.name, reason = %reason, "break-glass: a promotion gate was overridden");
    Ok(Json(after))
}
