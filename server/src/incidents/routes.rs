//! HTTP handlers of incidents: declare, list, read, change, move through the lifecycle, and the
//! timeline. Every change is one transaction that also writes the timeline and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{
    ErrorBody, Incident, IncidentPatch, IncidentRole, IncidentState, IncidentTransition,
    NewIncident, NewNote, Page, Severity, TimelineEntry,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{self, Move, Times};
use super::{changes, repo};
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::catalog::repo as catalog_repo;
use crate::error::{AppError, AppResult, Problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::live;
use crate::pagination::{decode_id_cursor, finish_page, page_size};
use crate::respond::{Created, created};

const MAX_SUMMARY: usize = 20_000;
const MAX_NOTE: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, declare_incident))
        .routes(routes!(get_incident, update_incident))
        .routes(routes!(transition_incident))
        .routes(routes!(get_timeline))
        .routes(routes!(add_note))
        .routes(routes!(list_people))
        .merge(super::links::router())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentListQuery {
    /// `open` (triage to monitoring), `ended`, `all` (the default), or one state (`resolved`, …).
    state: Option<String>,
    /// `sev1`…`sev4`.
    severity: Option<String>,
    /// Only incidents affecting this service (slug).
    service: Option<String>,
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentListQuery),
    responses((status = 200, body = Page<Incident>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<IncidentListQuery>,
) -> AppResult<Json<Page<Incident>>> {
    let limit = page_size(q.limit)?;
    let before = decode_id_cursor(q.cursor.as_deref())?;
    let mut filter = repo::IncidentFilter::default();
    let mut problems = Problems::default();
    match q.state.as_deref().filter(|s| !s.is_empty()) {
        None | Some("all") => {}
        Some("open") => filter.open = Some(true),
        Some("ended") => filter.open = Some(false),
        Some(s) => {
            filter.state = problems.check(
                "state",
                IncidentState::parse(s).ok_or_else(|| {
                    format!("'{s}' is not open, ended, all or a state ({})", states())
                }),
            )
        }
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !s.is_empty()) {
        filter.severity = problems.check("severity", parse_severity(s));
    }
    problems.finish()?;
    let mut conn = state.pool.acquire().await?;
    if let Some(slug) = q.service.as_deref().filter(|s| !s.is_empty()) {
        let (id, _) = catalog_repo::service_id(&mut conn, slug)
            .await?
            .ok_or_else(|| AppError::not_found("service", slug))?;
        filter.service_id = Some(id);
    }
    let rows = repo::list(&mut conn, &filter, before, limit + 1).await?;
    Ok(Json(finish_page(rows, limit, |i| i.id.to_string())))
}

fn states() -> String {
    IncidentState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("'{s}' is not a severity; use sev1, sev2, sev3 or sev4"))
}

/// Checks a title: trimmed, 1–200 characters.
fn check_title(problems: &mut Problems, title: &str) -> String {
    let title = title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        problems.add("title", "must be 1–200 characters");
    }
    title
}

fn check_summary(problems: &mut Problems, summary: &str) {
    if summary.chars().count() > MAX_SUMMARY {
        problems.add(
            "summary",
            format!("must be at most {MAX_SUMMARY} characters"),
        );
    }
}

/// The ids of live services by slug, every unknown or archived one named by its position.
async fn service_ids(
    conn: &mut PgConnection,
    problems: &mut Problems,
    slugs: &[String],
) -> AppResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(slugs.len());
    for (i, slug) in slugs.iter().enumerate() {
        match catalog_repo::service_id(conn, slug).await? {
            Some((id, false)) => ids.push(id),
            Some((_, true)) => problems.add(
                format!("services[{i}]"),
                format!("service '{slug}' is archived"),
            ),
            None => problems.add(
                format!("services[{i}]"),
                format!("no service has the slug '{slug}'"),
            ),
        }
    }
    Ok(ids)
}

/// The id of the person named as commander, or a problem saying why not.
async fn commander_id(
    conn: &mut PgConnection,
    problems: &mut Problems,
    key: &str,
) -> AppResult<Option<i64>> {
    person_in(conn, problems, "commander", key).await
}

/// The id of a person who has signed in, named in `field`, or a problem on it saying why not.
pub async fn person_in(
    conn: &mut PgConnection,
    problems: &mut Problems,
    field: &str,
    key: &str,
) -> AppResult<Option<i64>> {
    let id = repo::person_id(conn, key).await?;
    if id.is_none() {
        problems.add(
            field,
            format!(
                "'{key}' is not someone who has signed in to Portolan (use <tenant id>:<object id>)"
            ),
        );
    }
    Ok(id)
}

fn add_time_problems(problems: &mut Problems, times: &Times, now: OffsetDateTime) {
    for (field, message) in times.problems(now) {
        problems.add(field, message);
    }
}

/// Declare an incident. It starts in triage; the timeline starts with who declared it.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncident,
    responses((status = 201, body = Incident), (status = 422, body = ErrorBody)))]
async fn declare_incident(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<NewIncident>,
) -> AppResult<Created<Incident>> {
    let now = OffsetDateTime::now_utc();
    let mut problems = Problems::default();
    let title = check_title(&mut problems, &new.title);
    let severity = problems.check("severity", parse_severity(&new.severity));
    let summary = new.summary.clone().unwrap_or_default();
    check_summary(&mut problems, &summary);
    let times = Times {
        started_at: new.started_at,
        detected_at: Some(new.detected_at.unwrap_or(now)),
        ..Times::default()
    };
    add_time_problems(&mut problems, &times, now);
    let mut tx = state.pool.begin().await?;
    let services = service_ids(&mut tx, &mut problems, &new.services).await?;
    let commander = match new.commander.as_deref().filter(|c| !c.is_empty()) {
        Some(key) => commander_id(&mut tx, &mut problems, key).await?,
        None => None,
    };
    problems.finish()?;
    let severity = severity.ok_or_else(|| AppError::field("severity", "missing"))?;
    let incident = changes::open(
        &mut tx,
        &actor,
        &repo::NewRow {
            title: &title,
            severity,
            summary: &summary,
            commander_id: commander,
            source: "manual",
            external_key: None,
            times,
            declared_by: &actor.name,
        },
        &services,
        "Declared",
    )
    .await?;
    live::incident_changed(&mut tx, incident.id, "incident.declare").await?;
    tx.commit().await?;
    let id = incident.id;
    Ok(created(format!("/api/v1/incidents/{id}"), incident))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = i64, Path, description = "The incident's number (INC-<id>)")),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Incident>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(repo::get(&mut conn, id).await?))
}

/// Parses an optional time field of a PATCH (`null` clears it).
fn patch_time(
    problems: &mut Problems,
    field: &str,
    value: &Option<Option<String>>,
    current: Option<OffsetDateTime>,
) -> Option<OffsetDateTime> {
    match value {
        None => current,
        Some(None) => None,
        Some(Some(text)) => problems.check(
            field,
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| format!("'{text}' is not an RFC 3339 time (2026-11-22T09:30:00Z)")),
        ),
    }
}

/// Change an incident's title, severity, summary, services, commander or times. Send
/// `expected_version` to refuse the change if someone else changed the incident since you read
/// it (409, with the current version in the message).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = IncidentPatch,
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_incident(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<IncidentPatch>,
) -> AppResult<Json<Incident>> {
    let now = OffsetDateTime::now_utc();
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
    if before.state.is_final() {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: it no longer changes",
            before.reference,
            before.state.as_str()
        )));
    }
    let mut problems = Problems::default();
    let title = match &patch.title {
        Some(t) => check_title(&mut problems, t),
        None => before.title.clone(),
    };
    let severity = match &patch.severity {
        Some(s) => problems.check("severity", parse_severity(s)),
        None => Some(before.severity),
    };
    let summary = patch
        .summary
        .clone()
        .unwrap_or_else(|| before.summary.clone());
    check_summary(&mut problems, &summary);
    let times = Times {
        started_at: patch_time(
            &mut problems,
            "started_at",
            &patch.started_at,
            before.started_at,
        ),
        detected_at: patch_time(
            &mut problems,
            "detected_at",
            &patch.detected_at,
            before.detected_at,
        ),
        mitigated_at: patch_time(
            &mut problems,
            "mitigated_at",
            &patch.mitigated_at,
            before.mitigated_at,
        ),
        resolved_at: before.resolved_at,
    };
    add_time_problems(&mut problems, &times, now);
    let services = match &patch.services {
        Some(slugs) => Some(service_ids(&mut tx, &mut problems, slugs).await?),
        None => None,
    };
    let commander = match &patch.commander {
        None => match &before.commander {
            Some(c) => repo::person_id(&mut tx, &c.id).await?,
            None => None,
        },
        Some(None) => None,
        Some(Some(key)) => commander_id(&mut tx, &mut problems, key).await?,
    };
    let mut roles = Vec::new();
    for (name, holder) in patch.roles.iter().flatten() {
        let field = format!("roles.{name}");
        let Some(role) = IncidentRole::parse(name) else {
            problems.add(
                field,
                format!(
                    "'{name}' is not a role; use {}",
                    IncidentRole::ALL.map(IncidentRole::as_str).join(", ")
                ),
            );
            continue;
        };
        let user = match holder.as_deref().filter(|k| !k.is_empty()) {
            None => None,
            Some(key) => person_in(&mut tx, &mut problems, &field, key).await?,
        };
        roles.push((role, user));
    }
    problems.finish()?;
    let severity = severity.unwrap_or(before.severity);
    repo::update(
        &mut tx,
        id,
        &repo::Fields {
            title: &title,
            severity,
            summary: &summary,
            commander_id: commander,
            times,
        },
    )
    .await?;
    if let Some(ids) = &services {
        repo::set_services(&mut tx, id, ids).await?;
    }
    for (role, user) in roles {
        repo::set_role(&mut tx, id, role, user).await?;
    }
    let after = repo::get(&mut tx, id).await?;
    for (kind, text) in describe_changes(&before, &after) {
        repo::event(&mut tx, id, None, kind, &actor, &text).await?;
    }
    audit::record(
        &mut tx,
        &actor,
        "incident.update",
        ("incident", &id.to_string()),
        Change::changed(&before, &after),
    )
    .await?;
    live::incident_changed(&mut tx, id, "incident.update").await?;
    tx.commit().await?;
    Ok(Json(after))
}

fn when(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "unknown".into())
}

/// The timeline entries a change makes: one per thing that changed, in words.
pub fn describe_changes(before: &Incident, after: &Incident) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if before.severity != after.severity {
        out.push((
            "severity",
            format!(
                "Severity {} → {}",
                before.severity.label(),
                after.severity.label()
            ),
        ));
    }
    if before.title != after.title {
        out.push(("change", format!("Title: {}", after.title)));
    }
    if before.summary != after.summary {
        out.push(("change", "Summary updated".into()));
    }
    if before.services != after.services {
        let names: Vec<&str> = after.services.iter().map(|s| s.name.as_str()).collect();
        out.push((
            "change",
            if names.is_empty() {
                "Affected services: none".into()
            } else {
                format!("Affected services: {}", names.join(", "))
            },
        ));
    }
    if before.commander != after.commander {
        out.push((
            "change",
            match &after.commander {
                Some(c) => format!("Incident commander: {}", c.name),
                None => "Incident commander: nobody".into(),
            },
        ));
    }
    for role in IncidentRole::ALL {
        let holder = |i: &Incident| {
            i.roles
                .iter()
                .find(|r| r.role == role)
                .map(|r| r.person.clone())
        };
        let (b, a) = (holder(before), holder(after));
        if b != a {
            out.push((
                "change",
                format!(
                    "{}: {}",
                    role.label(),
                    a.map_or_else(|| "nobody".to_string(), |p| p.name)
                ),
            ));
        }
    }
    for (name, b, a) in [
        ("Impact started", before.started_at, after.started_at),
        ("Detected", before.detected_at, after.detected_at),
        ("Mitigated", before.mitigated_at, after.mitigated_at),
    ] {
        if b != a {
            out.push(("change", format!("{name} at {}", when(a))));
        }
    }
    out
}

/// Move an incident through its lifecycle. Moving to the state it is in changes nothing (200).
/// `declined` and `merged` need a `note` saying why; `merged` needs `merged_into`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/transition", tag = "incidents",
    request_body = IncidentTransition,
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Incident), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn transition_incident(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(t): ApiJson<IncidentTransition>,
) -> AppResult<Json<Incident>> {
    let now = OffsetDateTime::now_utc();
    let to = IncidentState::parse(&t.to).ok_or_else(|| {
        AppError::field(
            "to",
            format!("'{}' is not a state; use one of {}", t.to, states()),
        )
    })?;
    let note = t.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let mut tx = state.pool.begin().await?;
    let before = repo::lock(&mut tx, id).await?;
    let how = model::transition(before.state, to).map_err(AppError::Conflict)?;
    if how == Move::Unchanged {
        return Ok(Json(before));
    }
    let mut problems = Problems::default();
    if matches!(to, IncidentState::Declined | IncidentState::Merged) && note.is_none() {
        problems.add("note", format!("say why it is {}", to.as_str()));
    }
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        problems.add("note", format!("must be at most {MAX_NOTE} characters"));
    }
    let merged_into = match (to, t.merged_into) {
        (IncidentState::Merged, None) => {
            problems.add("merged_into", "name the incident it joins");
            None
        }
        (IncidentState::Merged, Some(target)) if target == id => {
            problems.add("merged_into", "an incident cannot be merged into itself");
            None
        }
        (IncidentState::Merged, Some(target)) => {
            // Locked too, so that the two cannot be merged into each other at once.
            match repo::lock(&mut tx, target).await {
                Ok(other) if other.state.is_final() => {
                    problems.add(
                        "merged_into",
                        format!(
                            "{} is {}; merge into an incident still running",
                            other.reference,
                            other.state.as_str()
                        ),
                    );
                    None
                }
                Ok(other) => Some(other.id),
                Err(AppError::NotFound(_)) => {
                    problems.add(
                        "merged_into",
                        format!("{} does not exist", model::reference(target)),
                    );
                    None
                }
                Err(e) => return Err(e),
            }
        }
        (_, Some(_)) => {
            problems.add("merged_into", "only for a move to merged");
            None
        }
        (_, None) => None,
    };
    let at = t.at.unwrap_or(now);
    let times = Times::of(&before).after_move(to, how, at);
    for (field, message) in times.problems(now) {
        // The only time this move sets is `at`'s.
        problems.add(if t.at.is_some() { "at" } else { field }, message);
    }
    problems.finish()?;
    let mut text = match (how, merged_into) {
        (Move::Reopen, _) => format!("Reopened: {} → investigating", before.state.as_str()),
        (_, Some(target)) => format!("Merged into {}", model::reference(target)),
        _ => format!("{} → {}", before.state.as_str(), to.as_str()),
    };
    if let Some(n) = note {
        text.push_str(": ");
        text.push_str(n);
    }
    if let Some(target) = merged_into {
        repo::event(
            &mut tx,
            target,
            Some(at),
            "change",
            &actor,
            &format!("{} was merged into this incident", before.reference),
        )
        .await?;
    }
    let after = changes::record_move(
        &mut tx,
        &actor,
        &before,
        &changes::Moving {
            to,
            merged_into,
            times,
            at,
            text: &text,
        },
    )
    .await?;
    live::incident_changed(&mut tx, id, "incident.transition").await?;
    if let Some(target) = merged_into {
        live::incident_changed(&mut tx, target, "incident.merge").await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}

/// The timeline: every change, in the order it happened, and people's notes.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents",
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = ErrorBody)))]
async fn get_timeline(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<TimelineEntry>>> {
    let mut conn = state.pool.acquire().await?;
    repo::get(&mut conn, id).await?;
    Ok(Json(repo::timeline(&mut conn, id).await?))
}

/// Add a note to the timeline (`at` for something that happened earlier). Notes can be added
/// until the incident is closed.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents", request_body = NewNote,
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 201, body = TimelineEntry), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn add_note(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(note): ApiJson<NewNote>,
) -> AppResult<Created<TimelineEntry>> {
    let now = OffsetDateTime::now_utc();
    let text = note.text.trim();
    let mut problems = Problems::default();
    if text.is_empty() || text.chars().count() > MAX_NOTE {
        problems.add("text", format!("must be 1–{MAX_NOTE} characters"));
    }
    if let Some(at) = note.at
        && at > now + crate::deployments::model::CLOCK_SKEW
    {
        problems.add("at", "is in the future");
    }
    problems.finish()?;
    let mut tx = state.pool.begin().await?;
    let incident = repo::lock(&mut tx, id).await?;
    if incident.state.is_final() {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: its timeline is complete",
            incident.reference,
            incident.state.as_str()
        )));
    }
    repo::event(&mut tx, id, note.at, "note", &actor, text).await?;
    let entry = repo::timeline(&mut tx, id)
        .await?
        .into_iter()
        .max_by_key(|e| e.id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the note just written is missing")))?;
    audit::record(
        &mut tx,
        &actor,
        "incident.note",
        ("incident", &id.to_string()),
        Change::created(&entry),
    )
    .await?;
    live::incident_changed(&mut tx, id, "incident.note").await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/incidents/{id}/timeline"), entry))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Part of a name or e-mail address.
    q: Option<String>,
}

/// People who have signed in to Portolan, by name: to name a commander or reviewers.
#[utoipa::path(get, path = "/api/v1/people", tag = "incidents", params(PeopleQuery),
    responses((status = 200, body = Vec<portolan_api::PersonRef>)))]
async fn list_people(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> AppResult<Json<Vec<portolan_api::PersonRef>>> {
    let pattern =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                format!(
                    "%{}%",
                    s.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                )
            });
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT tenant_id || ':' || object_id, display_name FROM users
          WHERE $1::text IS NULL OR display_name ILIKE $1 OR email ILIKE $1
          ORDER BY display_name, id LIMIT 200",
    )
    .bind(pattern)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, name)| portolan_api::PersonRef { id, name })
            .collect(),
    ))
}
