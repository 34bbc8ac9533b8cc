//! HTTP handlers of postmortems: start, read, save (refusing stale saves), ask for review,
//! review, publish, revisions, the list with the publishing policy, previews and exports.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use portolan_api::{
    ErrorBody, PersonRef, Postmortem, PostmortemRevision, PostmortemSave, PostmortemState,
    PostmortemSummary, Preview, PreviewRequest, ReviewDecision, ReviewRequest, Reviewer, SECTIONS,
    Severity,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model;
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::error::{AppError, AppResult, Problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::incidents::repo as incidents_repo;
use crate::live;
use crate::respond::{Created, created};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_postmortem, start_postmortem, save_postmortem))
        .routes(routes!(request_review))
        .routes(routes!(review_postmortem))
        .routes(routes!(publish_postmortem))
        .routes(routes!(list_revisions))
        .routes(routes!(export_postmortem))
        .routes(routes!(list_postmortems))
        .routes(routes!(preview_postmortem))
}

#[derive(sqlx::FromRow)]
struct Row {
    state: String,
    sections: sqlx::types::Json<BTreeMap<String, String>>,
    review_note: String,
    author: String,
    version: i32,
    revision: i32,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    published_at: Option<OffsetDateTime>,
}

/// The postmortem as it is answered: its sections also rendered (sanitised) and checked by the
/// blameless check. Both are costly on long texts, so only what is sent back gets them.
fn shown(mut pm: Postmortem) -> Postmortem {
    pm.rendered = model::render_all(&pm.sections);
    pm.flags = model::flags_all(&pm.sections);
    pm
}

/// The postmortem of incident `id` as stored (without rendering, see [`shown`]), or 404.
async fn load(
    conn: &mut PgConnection,
    id: i64,
    due_days: u32,
    lock: bool,
) -> AppResult<Postmortem> {
    let incident = if lock {
        incidents_repo::lock(conn, id).await?
    } else {
        incidents_repo::get(conn, id).await?
    };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT state, sections, review_note, author, version, revision, created_at, updated_at,
                published_at FROM postmortems WHERE incident_id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or_else(|| {
        AppError::NotFound(format!(
            "{} has no postmortem yet; start one with POST",
            incident.reference
        ))
    })?;
    let reviewers: Vec<(String, String, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT u.tenant_id || ':' || u.object_id, u.display_name, r.approved_at
           FROM postmortem_reviewers r JOIN users u ON u.id = r.user_id
          WHERE r.incident_id = $1 ORDER BY u.display_name",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let state = PostmortemState::parse(&row.state).unwrap_or(PostmortemState::Draft);
    let sections = model::complete(row.sections.0);
    let due_at = model::due_at(incident.severity, incident.resolved_at, due_days);
    Ok(Postmortem {
        incident_id: id,
        incident_reference: incident.reference,
        incident_title: incident.title,
        severity: incident.severity,
        state,
        // Filled in by `shown`, only for what is answered.
        rendered: BTreeMap::new(),
        flags: Vec::new(),
        sections,
        reviewers: reviewers
            .into_iter()
            .map(|(id, name, approved_at)| Reviewer {
                person: PersonRef { id, name },
                approved_at,
            })
            .collect(),
        review_note: row.review_note,
        author: row.author,
        version: row.version,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
        published_at: row.published_at,
        overdue: model::overdue(due_at, Some(state), OffsetDateTime::now_utc()),
        due_at,
    })
}

const ID: &str = "The incident's number";

/// revision, reason, published by, published at, sections.
type RevisionRow = (
    i32,
    String,
    String,
    OffsetDateTime,
    sqlx::types::Json<BTreeMap<String, String>>,
);

/// incident id, title, severity level, resolved at, postmortem state, postmortem updated at.
type SummaryRow = (
    i64,
    String,
    i16,
    Option<OffsetDateTime>,
    Option<String>,
    Option<OffsetDateTime>,
);

/// The postmortem of an incident: its sections as Markdown and as sanitised HTML, the language
/// check's flags, the reviewers and the publishing policy's due date.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Postmortem), (status = 404, body = ErrorBody)))]
async fn get_postmortem(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Postmortem>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(shown(
        load(&mut conn, id, state.config.postmortem_due_days, false).await?,
    )))
}

/// Start the postmortem of an incident (one per incident), as a draft.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    params(("id" = i64, Path, description = ID)),
    responses((status = 201, body = Postmortem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn start_postmortem(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> AppResult<Created<Postmortem>> {
    let mut tx = state.pool.begin().await?;
    let incident = incidents_repo::lock(&mut tx, id).await?;
    if incident.state == portolan_api::IncidentState::Declined
        || incident.state == portolan_api::IncidentState::Merged
    {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: it needs no postmortem",
            incident.reference,
            incident.state.as_str()
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO postmortems (incident_id, author) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::Conflict(format!(
            "{} has a postmortem already",
            incident.reference
        )));
    }
    let pm = load(&mut tx, id, state.config.postmortem_due_days, false).await?;
    recorded(
        &mut tx,
        &actor,
        id,
        "postmortem.start",
        "Postmortem started",
        Change::created(&pm.sections),
    )
    .await?;
    tx.commit().await?;
    Ok(created(
        format!("/api/v1/incidents/{id}/postmortem"),
        shown(pm),
    ))
}

/// Save sections. A save that did not start from the current `version` is refused with 409 and
/// changes nothing: read the current text, merge, and save again. Saving a published
/// postmortem needs a `revision_reason` and publishes a new revision at once; saving one in
/// review withdraws the approvals given so far.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/postmortem", tag = "postmortems",
    request_body = PostmortemSave, params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Postmortem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_postmortem(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(save): ApiJson<PostmortemSave>,
) -> AppResult<Json<Postmortem>> {
    let mut problems = Problems::default();
    model::check_sections(&mut problems, &save.sections);
    let reason = save
        .revision_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    problems.finish()?;
    let due_days = state.config.postmortem_due_days;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, id, due_days, true).await?;
    if save.base_version != before.version {
        return Err(AppError::Conflict(format!(
            "the postmortem changed since you started editing (your version {}, now {}); \
             nothing was saved: read the current text, merge your changes into it and save again",
            save.base_version, before.version
        )));
    }
    let published = before.state == PostmortemState::Published;
    if published && reason.is_none() {
        return Err(AppError::field(
            "revision_reason",
            "a published postmortem changes only through a new revision: say why",
        ));
    }
    let mut sections = before.sections.clone();
    sections.extend(save.sections.clone());
    if sections == before.sections {
        return Ok(Json(shown(before)));
    }
    sqlx::query(
        "UPDATE postmortems SET sections = $2, version = version + 1, updated_at = now(),
                revision = revision + CASE WHEN state = 'published' THEN 1 ELSE 0 END,
                published_at = CASE WHEN state = 'published' THEN now() ELSE published_at END
          WHERE incident_id = $1",
    )
    .bind(id)
    .bind(sqlx::types::Json(&sections))
    .execute(&mut *tx)
    .await?;
    if before.state == PostmortemState::InReview {
        sqlx::query("UPDATE postmortem_reviewers SET approved_at = NULL WHERE incident_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let (true, Some(reason)) = (published, reason) {
        sqlx::query(
            "INSERT INTO postmortem_revisions (incident_id, revision, reason, sections, published_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(before.revision + 1)
        .bind(reason)
        .bind(sqlx::types::Json(&sections))
        .bind(&actor.name)
        .execute(&mut *tx)
        .await?;
        incidents_repo::event(
            &mut tx,
            id,
            None,
            "change",
            &actor,
            &format!(
                "Postmortem revision {} published: {reason}",
                before.revision + 1
            ),
        )
        .await?;
    }
    let after = load(&mut tx, id, due_days, false).await?;
    audit::record(
        &mut tx,
        &actor,
        "postmortem.save",
        ("incident", &id.to_string()),
        Change::changed(&before.sections, &after.sections),
    )
    .await?;
    live::postmortem_changed(&mut tx, id, "postmortem.save").await?;
    tx.commit().await?;
    // Rendered once the locks are released.
    Ok(Json(shown(after)))
}

/// Writes a postmortem change to the incident's timeline and to the audit log, and announces
/// it, in the caller's transaction.
async fn recorded(
    conn: &mut PgConnection,
    actor: &Actor,
    id: i64,
    action: &str,
    text: &str,
    change: Change,
) -> AppResult<()> {
    incidents_repo::event(conn, id, None, "change", actor, text).await?;
    audit::record(conn, actor, action, ("incident", &id.to_string()), change).await?;
    live::postmortem_changed(conn, id, action).await
}

/// Ask named people to review a draft. They may not include the one asking.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem/review-request", tag = "postmortems",
    request_body = ReviewRequest, params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Postmortem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn request_review(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> AppResult<Json<Postmortem>> {
    let due_days = state.config.postmortem_due_days;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, id, due_days, true).await?;
    if before.state != PostmortemState::Draft {
        return Err(AppError::Conflict(format!(
            "the postmortem is {}; only a draft goes to review",
            before.state.as_str()
        )));
    }
    let me = incidents_repo::person_id(&mut tx, &actor.id).await?;
    let mut problems = Problems::default();
    if req.reviewers.is_empty() {
        problems.add("reviewers", "name at least one reviewer");
    }
    let mut ids = Vec::new();
    for (i, key) in req.reviewers.iter().enumerate() {
        match incidents_repo::person_id(&mut tx, key).await? {
            None => problems.add(
                format!("reviewers[{i}]"),
                format!("'{key}' is not someone who has signed in to Portolan"),
            ),
            Some(p) if Some(p) == me => problems.add(
                format!("reviewers[{i}]"),
                "you cannot review your own request; name someone else",
            ),
            Some(p) => ids.push(p),
        }
    }
    problems.finish()?;
    sqlx::query("DELETE FROM postmortem_reviewers WHERE incident_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO postmortem_reviewers (incident_id, user_id)
         SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE postmortems SET state = 'in_review', version = version + 1, updated_at = now()
          WHERE incident_id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = load(&mut tx, id, due_days, false).await?;
    let names: Vec<&str> = after
        .reviewers
        .iter()
        .map(|r| r.person.name.as_str())
        .collect();
    recorded(
        &mut tx,
        &actor,
        id,
        "postmortem.review_request",
        &format!("Postmortem sent for review to {}", names.join(", ")),
        Change::changed(&before.reviewers, &after.reviewers),
    )
    .await?;
    tx.commit().await?;
    // Rendered once the locks are released.
    Ok(Json(shown(after)))
}

/// A named reviewer approves (every review question confirmed) or asks for changes (with a
/// comment; the postmortem goes back to draft).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem/review", tag = "postmortems",
    request_body = ReviewDecision, params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Postmortem), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn review_postmortem(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<ReviewDecision>,
) -> AppResult<Json<Postmortem>> {
    let approve = match d.decision.as_str() {
        "approve" => true,
        "request_changes" => false,
        other => {
            return Err(AppError::field(
                "decision",
                format!("'{other}' is not approve or request_changes"),
            ));
        }
    };
    let comment = d.comment.as_deref().map(str::trim).unwrap_or_default();
    if approve {
        model::check_checklist(&d.checklist).map_err(|m| AppError::field("checklist", m))?;
    } else if comment.is_empty() {
        return Err(AppError::field("comment", "say what should change"));
    }
    let due_days = state.config.postmortem_due_days;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, id, due_days, true).await?;
    if before.state != PostmortemState::InReview {
        return Err(AppError::Conflict(format!(
            "the postmortem is {}, not in review",
            before.state.as_str()
        )));
    }
    let me = incidents_repo::person_id(&mut tx, &actor.id).await?;
    let named: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM postmortem_reviewers WHERE incident_id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(me)
    .fetch_optional(&mut *tx)
    .await?;
    if named.is_none() {
        return Err(AppError::Forbidden(
            "only the reviewers named for this postmortem decide on it".into(),
        ));
    }
    let text = if approve {
        sqlx::query(
            "UPDATE postmortem_reviewers SET approved_at = now() WHERE incident_id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(me)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE postmortems SET version = version + 1, updated_at = now() WHERE incident_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        "Postmortem approved".to_string()
    } else {
        sqlx::query(
            "UPDATE postmortems SET state = 'draft', review_note = $2, version = version + 1,
                    updated_at = now() WHERE incident_id = $1",
        )
        .bind(id)
        .bind(comment)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE postmortem_reviewers SET approved_at = NULL WHERE incident_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        format!("Postmortem changes requested: {comment}")
    };
    let after = load(&mut tx, id, due_days, false).await?;
    recorded(
        &mut tx,
        &actor,
        id,
        if approve {
            "postmortem.approve"
        } else {
            "postmortem.request_changes"
        },
        &text,
        Change::changed(&before.reviewers, &after.reviewers),
    )
    .await?;
    tx.commit().await?;
    // Rendered once the locks are released.
    Ok(Json(shown(after)))
}

/// Publish a postmortem every named reviewer approved. It becomes revision 1.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem/publish", tag = "postmortems",
    params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Postmortem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn publish_postmortem(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> AppResult<Json<Postmortem>> {
    let due_days = state.config.postmortem_due_days;
    let mut tx = state.pool.begin().await?;
    let before = load(&mut tx, id, due_days, true).await?;
    if before.state != PostmortemState::InReview {
        return Err(AppError::Conflict(format!(
            "the postmortem is {}; it is published after review",
            before.state.as_str()
        )));
    }
    let waiting: Vec<&str> = before
        .reviewers
        .iter()
        .filter(|r| r.approved_at.is_none())
        .map(|r| r.person.name.as_str())
        .collect();
    if !waiting.is_empty() {
        return Err(AppError::Conflict(format!(
            "waiting for approval from {}",
            waiting.join(", ")
        )));
    }
    sqlx::query(
        "UPDATE postmortems SET state = 'published', revision = 1, published_at = now(),
                version = version + 1, updated_at = now() WHERE incident_id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO postmortem_revisions (incident_id, revision, reason, sections, published_by)
         VALUES ($1, 1, 'first publication', $2, $3)",
    )
    .bind(id)
    .bind(sqlx::types::Json(&before.sections))
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let after = load(&mut tx, id, due_days, false).await?;
    recorded(
        &mut tx,
        &actor,
        id,
        "postmortem.publish",
        "Postmortem published",
        Change::changed(&before.state, &after.state),
    )
    .await?;
    tx.commit().await?;
    // Rendered once the locks are released.
    Ok(Json(shown(after)))
}

/// Every published revision, newest first, with why it was made.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem/revisions", tag = "postmortems",
    params(("id" = i64, Path, description = ID)),
    responses((status = 200, body = Vec<PostmortemRevision>), (status = 404, body = ErrorBody)))]
async fn list_revisions(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<PostmortemRevision>>> {
    let mut conn = state.pool.acquire().await?;
    load(&mut conn, id, state.config.postmortem_due_days, false).await?;
    let rows: Vec<RevisionRow> = sqlx::query_as(
        "SELECT revision, reason, published_by, published_at, sections FROM postmortem_revisions
              WHERE incident_id = $1 ORDER BY revision DESC",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(revision, reason, published_by, published_at, sections)| PostmortemRevision {
                    revision,
                    reason,
                    published_by,
                    published_at,
                    sections: model::complete(sections.0),
                },
            )
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `md` (Markdown, a download) or `html` (a page to print or save as PDF).
    format: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "postmortem.md", escape = "none")]
struct MarkdownExport<'a> {
    pm: &'a Postmortem,
    sections: Vec<(&'static str, &'a str)>,
    /// Time, who, what.
    timeline: Vec<(String, String, String)>,
    actions: Vec<ActionRow>,
}

/// An action item as a line of an export.
struct ActionRow {
    reference: String,
    title: String,
    kind: &'static str,
    priority: &'static str,
    owner: String,
    due: String,
    state: &'static str,
}

impl ActionRow {
    fn of(a: portolan_api::ActionItem) -> Self {
        Self {
            reference: a.reference,
            title: a.title,
            kind: a.kind.label(),
            priority: a.priority.label(),
            owner: match a.assignee {
                Some(p) => format!("{} ({})", a.team.name, p.name),
                None => a.team.name,
            },
            due: a.due_on.to_string(),
            state: a.state.label(),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "postmortem_print.html")]
struct PrintExport<'a> {
    pm: &'a Postmortem,
    /// Heading and sanitised HTML.
    sections: Vec<(&'static str, &'a str)>,
    /// Time, who, what.
    timeline: Vec<(String, String, String)>,
    actions: Vec<ActionRow>,
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// The postmortem as Markdown (a download) or as a printable page, with the incident's timeline.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem/export", tag = "postmortems",
    params(("id" = i64, Path, description = ID), ExportQuery),
    responses((status = 200, description = "text/markdown or text/html", content_type = "text/markdown"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_postmortem(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> AppResult<Response> {
    use askama::Template;
    let html = match q.format.as_deref() {
        None | Some("md") => false,
        Some("html") => true,
        Some(other) => {
            return Err(AppError::field(
                "format",
                format!("'{other}' is not md or html"),
            ));
        }
    };
    let mut conn = state.pool.acquire().await?;
    let pm = shown(load(&mut conn, id, state.config.postmortem_due_days, false).await?);
    let timeline: Vec<(String, String, String)> = incidents_repo::timeline(&mut conn, id)
        .await?
        .into_iter()
        .map(|e| (stamp(e.at), e.actor_name, e.text))
        .collect();
    let actions: Vec<ActionRow> = super::actions::repo::list(
        &mut conn,
        &super::actions::repo::Filter {
            incident: Some(id),
            ..Default::default()
        },
        i64::MAX,
    )
    .await?
    .into_iter()
    .rev()
    .map(ActionRow::of)
    .collect();
    let source = if html { &pm.rendered } else { &pm.sections };
    let sections: Vec<(&'static str, &str)> = SECTIONS
        .iter()
        .map(|(k, title, _)| (*title, source.get(*k).map(String::as_str).unwrap_or("")))
        .collect();
    let name = format!("{}-postmortem", pm.incident_reference);
    if html {
        let page = PrintExport {
            pm: &pm,
            sections,
            timeline,
            actions,
        }
        .render()
        .map_err(|e| AppError::Internal(e.into()))?;
        Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string())],
            page,
        )
            .into_response())
    } else {
        // Table cells: a pipe or a line break would end the cell.
        let cell = |t: String| t.replace('|', "\\|").replace(['\n', '\r'], " ");
        let timeline = timeline
            .into_iter()
            .map(|(at, who, what)| (at, cell(who), cell(what)))
            .collect();
        let actions = actions
            .into_iter()
            .map(|a| ActionRow {
                title: cell(a.title),
                owner: cell(a.owner),
                ..a
            })
            .collect();
        let text = MarkdownExport {
            pm: &pm,
            sections,
            timeline,
            actions,
        }
        .render()
        .map_err(|e| AppError::Internal(e.into()))?;
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "text/markdown; charset=utf-8".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.md\""),
                ),
            ],
            text,
        )
            .into_response())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostmortemListQuery {
    /// `draft`, `in_review`, `published`, or `missing` (policy wants one, none started).
    state: Option<String>,
    /// Only the ones late under the publishing policy.
    overdue: Option<bool>,
}

/// Postmortems, and the SEV1 and SEV2 incidents that policy says need one, most urgent first:
/// overdue ones, then by due date, then the newest.
#[utoipa::path(get, path = "/api/v1/postmortems", tag = "postmortems", params(PostmortemListQuery),
    responses((status = 200, body = Vec<PostmortemSummary>), (status = 422, body = ErrorBody)))]
async fn list_postmortems(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PostmortemListQuery>,
) -> AppResult<Json<Vec<PostmortemSummary>>> {
    let wanted = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("missing") => Some(None),
        Some(s) => Some(Some(PostmortemState::parse(s).ok_or_else(|| {
            AppError::field(
                "state",
                format!("'{s}' is not draft, in_review, published or missing"),
            )
        })?)),
    };
    let mut conn = state.pool.acquire().await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "SELECT i.id, i.title, i.severity, i.resolved_at, p.state, p.updated_at
               FROM incidents i LEFT JOIN postmortems p ON p.incident_id = i.id
              WHERE p.incident_id IS NOT NULL
                 OR (i.severity <= 2 AND i.state IN ('resolved', 'closed'))
              ORDER BY i.id DESC LIMIT 1000",
    )
    .fetch_all(&mut *conn)
    .await?;
    let now = OffsetDateTime::now_utc();
    let mut out: Vec<PostmortemSummary> = rows
        .into_iter()
        .map(|(id, title, level, resolved_at, pm_state, updated_at)| {
            let severity = Severity::from_level(level).unwrap_or(Severity::Sev4);
            let pm_state = pm_state.as_deref().and_then(PostmortemState::parse);
            let due_at = model::due_at(severity, resolved_at, state.config.postmortem_due_days);
            PostmortemSummary {
                incident_id: id,
                incident_reference: crate::incidents::model::reference(id),
                incident_title: title,
                severity,
                state: pm_state,
                overdue: model::overdue(due_at, pm_state, now),
                due_at,
                updated_at,
            }
        })
        .filter(|s| wanted.is_none_or(|w| s.state == w))
        .filter(|s| q.overdue.is_none_or(|o| s.overdue == o))
        .collect();
    out.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(a.due_at.is_none().cmp(&b.due_at.is_none()))
            .then(a.due_at.cmp(&b.due_at))
            .then(b.incident_id.cmp(&a.incident_id))
    });
    Ok(Json(out))
}

/// Render Markdown as a postmortem would show it (sanitised) and run the language check on it:
/// the editor's live preview.
#[utoipa::path(post, path = "/api/v1/postmortems/preview", tag = "postmortems",
    request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 422, body = ErrorBody)))]
async fn preview_postmortem(ApiJson(req): ApiJson<PreviewRequest>) -> AppResult<Json<Preview>> {
    if req.markdown.chars().count() > model::MAX_SECTION_CHARS {
        return Err(AppError::field(
            "markdown",
            format!("must be at most {} characters", model::MAX_SECTION_CHARS),
        ));
    }
    Ok(Json(Preview {
        html: super::markdown::render(&req.markdown),
        flags: model::flags_of("preview", &req.markdown),
    }))
}
