//! HTTP handlers of action items: add to an incident, list, read, change (including moving
//! through open → in progress → done / won't do), and the follow-through figures.

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{
    ActionItem, ActionItemPatch, ActionKind, ActionPriority, ActionState, ErrorBody, FollowThrough,
    IncidentState, NewActionItem, Page, TeamFollowThrough,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model;
use super::repo::{self, Fields};
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::catalog::repo as catalog_repo;
use crate::error::{AppError, AppResult, Problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::incidents::repo as incidents_repo;
use crate::live;
use crate::pagination::{decode_id_cursor, finish_page, page_size};
use crate::respond::{Created, created};
use crate::validate;

const MAX_TITLE: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incident_items, add_item))
        .routes(routes!(list_items))
        .routes(routes!(follow_through))
        .routes(routes!(get_item, update_item))
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

fn parse_kind(s: &str) -> Result<ActionKind, String> {
    ActionKind::parse(s).ok_or_else(|| {
        format!(
            "'{s}' is not a kind; use {}",
            names(&ActionKind::ALL, ActionKind::as_str)
        )
    })
}

fn parse_priority(s: &str) -> Result<ActionPriority, String> {
    ActionPriority::parse(s).ok_or_else(|| {
        format!(
            "'{s}' is not a priority; use {}",
            names(&ActionPriority::ALL, ActionPriority::as_str)
        )
    })
}

fn parse_state(s: &str) -> Result<ActionState, String> {
    ActionState::parse(s).ok_or_else(|| {
        format!(
            "'{s}' is not a state; use {}",
            names(&ActionState::ALL, ActionState::as_str)
        )
    })
}

/// The id of a live team named by slug, or a problem on `field`.
async fn team_id(
    conn: &mut PgConnection,
    problems: &mut Problems,
    field: &str,
    slug: &str,
) -> AppResult<Option<i64>> {
    match catalog_repo::live_team_ref(conn, slug, field).await {
        Ok(id) => Ok(Some(id)),
        Err(AppError::Validation(errors)) => {
            for e in errors {
                problems.add(e.field, e.message);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The id of a person who has signed in, or a problem on `assignee`.
async fn assignee_id(
    conn: &mut PgConnection,
    problems: &mut Problems,
    key: &str,
) -> AppResult<Option<i64>> {
    crate::incidents::routes::person_in(conn, problems, "assignee", key).await
}

/// The incident's items, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/action-items", tag = "action items",
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Vec<ActionItem>), (status = 404, body = ErrorBody)))]
async fn list_incident_items(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<ActionItem>>> {
    let mut conn = state.pool.acquire().await?;
    incidents_repo::get(&mut conn, id).await?;
    let mut items = repo::list(
        &mut conn,
        &repo::Filter {
            incident: Some(id),
            ..repo::Filter::default()
        },
        i64::MAX,
    )
    .await?;
    items.reverse();
    Ok(Json(items))
}

/// Adds an action item to an incident. The team is accountable; `assignee` (optional) is the
/// person doing it. Without `due_on` it is due 14, 30 or 90 days from today for P1, P2, P3.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/action-items", tag = "action items",
    request_body = NewActionItem,
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 201, body = ActionItem), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn add_item(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(new): ApiJson<NewActionItem>,
) -> AppResult<Created<ActionItem>> {
    let today = OffsetDateTime::now_utc().date();
    let mut problems = Problems::default();
    let title = problems.check("title", validate::token(&new.title, MAX_TITLE));
    let details = problems.check(
        "details",
        validate::description(new.details.as_deref().unwrap_or_default()),
    );
    let kind = problems.check("kind", parse_kind(&new.kind));
    let priority = problems.check("priority", parse_priority(&new.priority));
    let due_on = match new.due_on.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => problems.check(
            "due_on",
            model::parse_date(text).and_then(|d| model::check_due(d, today).map(|()| d)),
        ),
        None => priority.map(|p| model::default_due(p, today)),
    };
    let ticket_url = match new.ticket_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(u) => problems.check("ticket_url", validate::http_url(u)),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    // Locked: items are not added to an incident that is being merged away meanwhile.
    let incident = incidents_repo::lock(&mut tx, id).await?;
    if matches!(
        incident.state,
        IncidentState::Declined | IncidentState::Merged
    ) {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: {}",
            incident.reference,
            incident.state.as_str(),
            if incident.state == IncidentState::Merged {
                "add action items to the incident it was merged into"
            } else {
                "a declined incident has no action items"
            }
        )));
    }
    let team = team_id(&mut tx, &mut problems, "team", &new.team).await?;
    let assignee = match new.assignee.as_deref().filter(|a| !a.is_empty()) {
        Some(key) => assignee_id(&mut tx, &mut problems, key).await?,
        None => None,
    };
    problems.finish()?;
    let (Some(title), Some(details), Some(kind), Some(priority), Some(due_on), Some(team)) =
        (title, details, kind, priority, due_on, team)
    else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a checked field of a new action item is missing"
        )));
    };
    let item_id = repo::insert(
        &mut tx,
        id,
        &Fields {
            title: &title,
            details: &details,
            kind,
            priority,
            state: ActionState::Open,
            state_note: "",
            team_id: team,
            assignee_id: assignee,
            due_on,
            ticket_url: ticket_url.as_deref(),
        },
        &actor.name,
    )
    .await?;
    let item = repo::get(&mut tx, item_id).await?;
    audit::record(
        &mut tx,
        &actor,
        "action_item.create",
        ("action_item", &item_id.to_string()),
        Change::created(&item),
    )
    .await?;
    live::action_item_changed(&mut tx, item_id, id, "action_item.create").await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/action-items/{item_id}"), item))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionItemListQuery {
    /// `open` (open or in progress), `closed`, `overdue`, `all` (the default), or one state.
    state: Option<String>,
    /// Only this team's items (slug).
    team: Option<String>,
    /// Only this person's items (`<tenant id>:<object id>`), or `me`.
    assignee: Option<String>,
    /// Only this incident's items (its number).
    incident: Option<i64>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Action items across incidents, newest first.
#[utoipa::path(get, path = "/api/v1/action-items", tag = "action items",
    params(ActionItemListQuery),
    responses((status = 200, body = Page<ActionItem>), (status = 422, body = ErrorBody)))]
async fn list_items(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<ActionItemListQuery>,
) -> AppResult<Json<Page<ActionItem>>> {
    let limit = page_size(q.limit)?;
    let mut filter = repo::Filter {
        before: decode_id_cursor(q.cursor.as_deref())?,
        incident: q.incident,
        ..repo::Filter::default()
    };
    let mut problems = Problems::default();
    match q.state.as_deref().filter(|s| !s.is_empty()) {
        None | Some("all") => {}
        Some("open") => filter.open = Some(true),
        Some("closed") => filter.open = Some(false),
        Some("overdue") => filter.overdue = true,
        Some(s) => {
            filter.state = problems.check(
                "state",
                parse_state(s).map_err(|m| format!("{m}, or open, closed, overdue or all")),
            )
        }
    }
    let mut conn = state.pool.acquire().await?;
    if let Some(slug) = q.team.as_deref().filter(|s| !s.is_empty()) {
        match catalog_repo::team_id(&mut conn, slug).await? {
            Some(id) => filter.team = Some(id),
            None => problems.add("team", format!("no team has the slug '{slug}'")),
        }
    }
    if let Some(key) = q.assignee.as_deref().filter(|s| !s.is_empty()) {
        let key = if key == "me" { actor.id.as_str() } else { key };
        match incidents_repo::person_id(&mut conn, key).await? {
            Some(id) => filter.assignee = Some(id),
            None => problems.add(
                "assignee",
                format!("'{key}' is not someone who has signed in to Portolan"),
            ),
        }
    }
    problems.finish()?;
    let rows = repo::list(&mut conn, &filter, limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |i| i.id.to_string())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FollowThroughQuery {
    /// One team (slug); without it, the whole organisation.
    team: Option<String>,
}

/// How well action items are followed through: open and overdue items, their age, how fast and
/// how punctually they get done, and the last twelve weeks' trend; for one team, or for the
/// organisation with a line per team.
#[utoipa::path(get, path = "/api/v1/action-items/follow-through", tag = "action items",
    params(FollowThroughQuery),
    responses((status = 200, body = FollowThrough), (status = 422, body = ErrorBody)))]
async fn follow_through(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FollowThroughQuery>,
) -> AppResult<Json<FollowThrough>> {
    let now = OffsetDateTime::now_utc();
    let mut conn = state.pool.acquire().await?;
    let team = match q.team.as_deref().filter(|s| !s.is_empty()) {
        Some(slug) => Some(
            catalog_repo::team_id(&mut conn, slug)
                .await?
                .ok_or_else(|| AppError::field("team", format!("no team has the slug '{slug}'")))?,
        ),
        None => None,
    };
    // A week more than the trend, so that its first week starts inside the window.
    let since = now - Duration::weeks(model::TREND_WEEKS as i64 + 1);
    let facts = repo::facts(&mut conn, team, since.min(now - Duration::days(90))).await?;
    let all: Vec<&model::Facts> = facts.iter().collect();
    let figures = model::figures(&all, now);
    let groups = model::by_team(&facts);
    let team_ids: Vec<i64> = groups.keys().copied().chain(team).collect();
    let team_refs = repo::teams(&mut conn, &team_ids).await?;
    let mut teams: Vec<TeamFollowThrough> = if team.is_some() {
        Vec::new()
    } else {
        team_refs
            .iter()
            .filter_map(|(id, team)| {
                Some(TeamFollowThrough {
                    team: team.clone(),
                    figures: model::figures(groups.get(id)?, now),
                })
            })
            .collect()
    };
    teams.sort_by(|a, b| {
        (b.figures.overdue, b.figures.open)
            .cmp(&(a.figures.overdue, a.figures.open))
            .then_with(|| a.team.name.cmp(&b.team.name))
    });
    let mut items = repo::open_items(&mut conn, team).await?;
    // Overdue first (they are already by due date, so the most overdue leads).
    items.sort_by_key(|i| !i.overdue);
    Ok(Json(FollowThrough {
        team: team.and_then(|id| {
            team_refs
                .iter()
                .find(|(t, _)| *t == id)
                .map(|(_, r)| r.clone())
        }),
        as_of: now,
        figures,
        ages: model::age_buckets(&all, now),
        trend: model::trend(&all, now),
        teams,
        items,
    }))
}

/// One action item.
#[utoipa::path(get, path = "/api/v1/action-items/{id}", tag = "action items",
    params(("id" = i64, Path, description = "The item's number (AI-<id>)")),
    responses((status = 200, body = ActionItem), (status = 404, body = ErrorBody)))]
async fn get_item(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<ActionItem>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get(&mut conn, id).await?))
}

/// Changes an action item, or moves it (`state`): open ⇄ in progress → done or won't do (with a
/// reason in `state_note`); a closed item only reopens, and changes nothing else until it has.
/// Send `expected_version` to refuse the change if someone changed it since you read it (409).
#[utoipa::path(patch, path = "/api/v1/action-items/{id}", tag = "action items",
    request_body = ActionItemPatch,
    params(("id" = i64, Path, description = "The item's number")),
    responses((status = 200, body = ActionItem), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_item(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<ActionItemPatch>,
) -> AppResult<Json<ActionItem>> {
    let today = OffsetDateTime::now_utc().date();
    let mut tx = state.pool.begin().await?;
    let before = repo::lock(&mut tx, id).await?;
    if let Some(v) = patch.expected_version
        && v != before.version
    {
        return Err(AppError::Conflict(format!(
            "{} changed since you read it (you sent version {v}, it is now at {}); reload it and apply your change again",
            before.reference, before.version
        )));
    }
    let mut problems = Problems::default();
    let to = match &patch.state {
        Some(s) => problems.check("state", parse_state(s)),
        None => Some(before.state),
    };
    let reopening = to == Some(ActionState::Open) && before.state.is_closed();
    if before.state.is_closed() && !reopening && changes_fields(&patch) {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: reopen it (state open) before changing it",
            before.reference,
            before.state.as_str()
        )));
    }
    let title = match &patch.title {
        Some(t) => problems.check("title", validate::token(t, MAX_TITLE)),
        None => Some(before.title.clone()),
    };
    let details = match &patch.details {
        Some(d) => problems.check("details", validate::description(d)),
        None => Some(before.details.clone()),
    };
    let kind = match &patch.kind {
        Some(k) => problems.check("kind", parse_kind(k)),
        None => Some(before.kind),
    };
    let priority = match &patch.priority {
        Some(p) => problems.check("priority", parse_priority(p)),
        None => Some(before.priority),
    };
    // A due date may stay in the past (it is overdue); a new one may not be.
    let due_on = match &patch.due_on {
        Some(text) => problems.check(
            "due_on",
            model::parse_date(text).and_then(|d| {
                if d == before.due_on {
                    Ok(d)
                } else {
                    model::check_due(d, today).map(|()| d)
                }
            }),
        ),
        None => Some(before.due_on),
    };
    let ticket_url = match &patch.ticket_url {
        None => Some(before.ticket_url.clone()),
        Some(None) => Some(None),
        Some(Some(u)) if u.trim().is_empty() => Some(None),
        Some(Some(u)) => problems
            .check("ticket_url", validate::http_url(u))
            .map(Some),
    };
    let note = match &patch.state_note {
        Some(n) => problems.check("state_note", validate::description(n)),
        // A move keeps no old note: a note belongs to the move that made it.
        None if to != Some(before.state) => Some(String::new()),
        None => Some(before.state_note.clone()),
    };
    if let (Some(to), Some(note)) = (to, &note)
        && let Err(m) = model::check_move(before.state, to, note)
    {
        problems.add(
            if m.contains("state_note") {
                "state_note"
            } else {
                "state"
            },
            m,
        );
    }
    let team = match &patch.team {
        Some(slug) => team_id(&mut tx, &mut problems, "team", slug).await?,
        None => catalog_repo::team_id(&mut tx, &before.team.slug).await?,
    };
    let assignee = match &patch.assignee {
        None => match &before.assignee {
            Some(p) => incidents_repo::person_id(&mut tx, &p.id).await?,
            None => None,
        },
        Some(None) => None,
        Some(Some(key)) if key.is_empty() => None,
        Some(Some(key)) => assignee_id(&mut tx, &mut problems, key).await?,
    };
    problems.finish()?;
    let (
        Some(title),
        Some(details),
        Some(kind),
        Some(priority),
        Some(state),
        Some(note),
        Some(due_on),
        Some(ticket_url),
        Some(team),
    ) = (
        title, details, kind, priority, to, note, due_on, ticket_url, team,
    )
    else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a checked field of an action item change is missing"
        )));
    };
    repo::update(
        &mut tx,
        id,
        &Fields {
            title: &title,
            details: &details,
            kind,
            priority,
            state,
            state_note: &note,
            team_id: team,
            assignee_id: assignee,
            due_on,
            ticket_url: ticket_url.as_deref(),
        },
    )
    .await?;
    let after = repo::get(&mut tx, id).await?;
    let action = if state != before.state {
        "action_item.transition"
    } else {
        "action_item.update"
    };
    audit::record(
        &mut tx,
        &actor,
        action,
        ("action_item", &id.to_string()),
        Change::changed(&before, &after),
    )
    .await?;
    live::action_item_changed(&mut tx, id, after.incident_id, action).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Whether a patch changes anything but the state and its note.
fn changes_fields(p: &ActionItemPatch) -> bool {
    p.title.is_some()
        || p.details.is_some()
        || p.kind.is_some()
        || p.priority.is_some()
        || p.team.is_some()
        || p.assignee.is_some()
        || p.due_on.is_some()
        || p.ticket_url.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_name_the_known_ones() {
        assert_eq!(
            parse_kind("fix").expect_err("refused"),
            "'fix' is not a kind; use prevent, mitigate, detect, process"
        );
        assert_eq!(
            parse_priority("high").expect_err("refused"),
            "'high' is not a priority; use p1, p2, p3"
        );
        assert!(
            parse_state("closed")
                .expect_err("refused")
                .contains("wont_do")
        );
        assert_eq!(parse_state("in_progress"), Ok(ActionState::InProgress));
    }

    #[test]
    fn only_state_and_note_leave_a_closed_item_alone() {
        let moving = ActionItemPatch {
            state: Some("open".into()),
            state_note: Some("it came back".into()),
            expected_version: Some(3),
            ..ActionItemPatch::default()
        };
        assert!(!changes_fields(&moving));
        let editing = ActionItemPatch {
            ticket_url: Some(None),
            ..ActionItemPatch::default()
        };
        assert!(changes_fields(&editing));
    }
}
