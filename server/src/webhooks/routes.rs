//! The alert receivers over HTTP: authenticate the sender, read the delivery, and apply it to
//! the incident that follows its alert, once, in one transaction.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use portolan_api::{
    ActorKind, ErrorBody, Incident, IncidentState, Severity, WebhookAction, WebhookOutcome,
};
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alertmanager::{self, AlertSeen, AlertmanagerPayload, Group};
use super::pagerduty::{self, Intent, PagerdutyWebhook, Reading};
use super::{repo, signature};
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::catalog::repo as catalog_repo;
use crate::error::{AppError, AppResult};
use crate::extract::parse_json;
use crate::incidents::changes::{self, Moving};
use crate::incidents::model::{self, Move, Times};
use crate::incidents::repo as incidents;
use crate::incidents::routes::describe_changes;
use crate::live;

/// The largest body taken: far more than any real notification.
pub const MAX_BODY: usize = 1024 * 1024;
/// Alerts named in one timeline entry at most.
const MAX_LISTED: usize = 10;

const ALERTMANAGER: &str = "alertmanager";
const PAGERDUTY: &str = "pagerduty";
/// The header PagerDuty signs its deliveries in.
pub const PAGERDUTY_SIGNATURE: &str = "x-pagerduty-signature";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_alertmanager_webhook))
        .routes(routes!(receive_pagerduty_webhook))
}

/// The actor of a sender's changes, in the timeline and the audit log.
fn sender(id: &str, name: &str) -> Actor {
    Actor {
        kind: ActorKind::System,
        id: id.into(),
        name: name.into(),
    }
}

fn not_configured(sender: &str, setting: &str) -> AppError {
    AppError::Unavailable(format!(
        "the {sender} receiver is not configured on this Portolan: set {setting} (or {setting}_FILE)"
    ))
}

/// The raw body, at most [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> AppResult<Bytes> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let inner = e.into_inner();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return AppError::TooLarge(format!(
                    "the body is larger than {} KiB",
                    MAX_BODY / 1024
                ));
            }
            cause = c.source();
        }
        AppError::BadRequest("could not read the request body".into())
    })
}

fn outcome(
    incident: Option<i64>,
    action: WebhookAction,
    reason: impl Into<String>,
) -> WebhookOutcome {
    WebhookOutcome {
        incident,
        action,
        reason: reason.into(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// A delivery read and authenticated, to be applied.
enum Delivery {
    Alertmanager(Group),
    Pagerduty(Reading),
}

/// Processes a delivery once: claims its id, applies it, stores what it did, in one transaction.
async fn deliver(
    state: &AppState,
    delivery_id: &str,
    delivery: Delivery,
) -> AppResult<Json<WebhookOutcome>> {
    let source = match delivery {
        Delivery::Alertmanager(_) => ALERTMANAGER,
        Delivery::Pagerduty(_) => PAGERDUTY,
    };
    let now = OffsetDateTime::now_utc();
    let mut tx = state.pool.begin().await?;
    let done = match repo::claim(&mut tx, source, delivery_id).await? {
        Some(before) => before,
        None => {
            let done = match delivery {
                Delivery::Alertmanager(g) => apply_group(&mut tx, &g, now).await?,
                Delivery::Pagerduty(Reading::Act(e)) => apply_event(&mut tx, &e, now).await?,
                Delivery::Pagerduty(Reading::Ignore { reason, .. }) => {
                    outcome(None, WebhookAction::Ignored, reason)
                }
            };
            repo::finish(&mut tx, source, delivery_id, &done).await?;
            if let Some(id) = done.incident
                && matches!(
                    done.action,
                    WebhookAction::Opened | WebhookAction::Updated | WebhookAction::Resolved
                )
            {
                live::incident_changed(&mut tx, id, &format!("alert.{}", done.action.as_str()))
                    .await?;
            }
            tx.commit().await?;
            done
        }
    };
    tracing::info!(
        source,
        delivery_id,
        incident = ?done.incident,
        action = done.action.as_str(),
        "alert delivery"
    );
    Ok(Json(done))
}

/// Receive a notification of Prometheus Alertmanager (`webhook_config`, payload version 4).
///
/// One incident follows one alert group (`groupKey`). A firing group opens an incident in triage
/// when none is open for it; later deliveries add the alerts that newly fire to its timeline
/// (raising its severity and linking services when the new alerts call for it); a resolved group
/// resolves it, or only notes that on the timeline when people already moved it on. Authenticate
/// with `Authorization: Bearer <PORTOLAN_ALERTMANAGER_TOKEN>`. The same body sent again changes
/// nothing (`duplicate`).
#[utoipa::path(post, path = "/api/v1/webhooks/alertmanager", tag = "webhooks",
    request_body = AlertmanagerPayload,
    security(("alertmanager_token" = [])),
    responses((status = 200, body = WebhookOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn receive_alertmanager_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<WebhookOutcome>> {
    let Some(token) = state.config.alertmanager_token.clone() else {
        return Err(not_configured(
            "Alertmanager",
            "PORTOLAN_ALERTMANAGER_TOKEN",
        ));
    };
    let sent = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !signature::bearer_matches(sent, token.expose()) {
        return Err(AppError::Unauthenticated(
            "send the Alertmanager token configured in Portolan as 'Authorization: Bearer <token>'"
                .into(),
        ));
    }
    let bytes = read_body(body).await?;
    let group = alertmanager::read(&parse_json::<AlertmanagerPayload>(&bytes)?)?;
    deliver(
        &state,
        &signature::body_digest(&bytes),
        Delivery::Alertmanager(group),
    )
    .await
}

/// Receive an event of a PagerDuty v3 webhook subscription.
///
/// One incident follows one PagerDuty incident. `incident.triggered` opens it (triage),
/// `incident.acknowledged` moves it from triage to investigating, `incident.resolved` resolves
/// it, `incident.reopened` reopens it, `incident.priority_updated` sets its severity (P1 → SEV1 …
/// P4 and P5 → SEV4), `incident.annotated` adds the note to its timeline; other events are
/// answered `ignored`. The `X-PagerDuty-Signature` header must hold an HMAC-SHA256 of the raw
/// body under `PORTOLAN_PAGERDUTY_SECRET` (`v1=<hex>`; several are accepted while a secret is
/// rotated). An event delivered again (same `event.id`) changes nothing (`duplicate`).
#[utoipa::path(post, path = "/api/v1/webhooks/pagerduty", tag = "webhooks",
    request_body = PagerdutyWebhook,
    security(("pagerduty_signature" = [])),
    responses((status = 200, body = WebhookOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn receive_pagerduty_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<WebhookOutcome>> {
    let Some(secret) = state.config.pagerduty_secret.clone() else {
        return Err(not_configured("PagerDuty", "PORTOLAN_PAGERDUTY_SECRET"));
    };
    let bytes = read_body(body).await?;
    let sent = headers
        .get(PAGERDUTY_SIGNATURE)
        .and_then(|v| v.to_str().ok());
    if !signature::pagerduty_signed(sent, &bytes, secret.expose()) {
        return Err(AppError::Unauthenticated(
            "the X-PagerDuty-Signature header holds no valid signature of this body".into(),
        ));
    }
    let reading = pagerduty::read(&parse_json::<PagerdutyWebhook>(&bytes)?)?;
    let id = match &reading {
        Reading::Act(e) => e.id.clone(),
        Reading::Ignore { id, .. } => id.clone(),
    };
    deliver(&state, &id, Delivery::Pagerduty(reading)).await
}

/// The newest incident following this alert, locked; deliveries about the alert wait for this
/// transaction.
async fn following(
    conn: &mut PgConnection,
    source: &str,
    key: &str,
) -> AppResult<Option<Incident>> {
    repo::lock_alert(conn, source, key).await?;
    match repo::latest(conn, source, key).await? {
        Some(id) => Ok(Some(incidents::lock(conn, id).await?)),
        None => Ok(None),
    }
}

/// Service ids for slugs, and a sentence about those that cannot be linked.
async fn services_for(
    conn: &mut PgConnection,
    slugs: &[String],
) -> AppResult<(Vec<i64>, Option<String>)> {
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for slug in slugs {
        match catalog_repo::service_id(conn, slug).await? {
            Some((id, false)) => ids.push(id),
            Some((_, true)) => missing.push(format!("'{slug}' (archived)")),
            None => missing.push(format!("'{slug}' (no such service)")),
        }
    }
    let note = (!missing.is_empty()).then(|| {
        format!(
            "Services named by the alerts but not linked: {}",
            missing.join(", ")
        )
    });
    Ok((ids, note))
}

/// When a move to resolved happened: as the sender says, but never in the future nor before the
/// times the incident already has.
fn resolved_time(
    i: &Incident,
    said: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let floor = [i.started_at, i.detected_at, i.mitigated_at]
        .into_iter()
        .flatten()
        .max();
    let at = said.unwrap_or(now).min(now);
    floor.map_or(at, |f| at.max(f))
}

/// A move the lifecycle allows from where the incident is (the callers made sure).
async fn move_to(
    conn: &mut PgConnection,
    actor: &Actor,
    before: &Incident,
    to: IncidentState,
    at: OffsetDateTime,
    why: &str,
) -> AppResult<Incident> {
    let how =
        model::transition(before.state, to).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let text = match how {
        Move::Reopen => format!("Reopened: {} → investigating: {why}", before.state.as_str()),
        _ => format!("{} → {}: {why}", before.state.as_str(), to.as_str()),
    };
    changes::record_move(
        conn,
        actor,
        before,
        &Moving {
            to,
            merged_into: None,
            times: Times::of(before).after_move(to, how, at),
            at,
            text: &text,
        },
    )
    .await
}

/// Adds entries to the timeline of an incident whose row does not change, with one audit record.
async fn note(
    conn: &mut PgConnection,
    actor: &Actor,
    incident: &Incident,
    entries: &[(&str, Option<OffsetDateTime>, String)],
) -> AppResult<()> {
    let mut ids = Vec::new();
    for (kind, at, text) in entries {
        ids.push(incidents::event(conn, incident.id, *at, kind, actor, text).await?);
    }
    let written = incidents::entries(conn, incident.id, &ids).await?;
    audit::record(
        conn,
        actor,
        "incident.note",
        ("incident", &incident.id.to_string()),
        Change::created(&written),
    )
    .await
}

fn names(alerts: &[&AlertSeen]) -> String {
    let names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    alertmanager::list(&names, MAX_LISTED)
}

/// Applies an Alertmanager notification to the incident following its group.
async fn apply_group(
    conn: &mut PgConnection,
    g: &Group,
    now: OffsetDateTime,
) -> AppResult<WebhookOutcome> {
    let actor = sender(ALERTMANAGER, "Alertmanager");
    let latest = following(conn, ALERTMANAGER, &g.key).await?;
    let ended: Vec<&AlertSeen> = g.ended().collect();
    match latest {
        Some(i) if i.state.is_open() && g.resolved => {
            repo::end(conn, i.id, &ended).await?;
            let at = resolved_time(&i, g.ended_at(), now);
            let after = move_to(
                conn,
                &actor,
                &i,
                IncidentState::Resolved,
                at,
                &format!(
                    "every alert of the group ended, the last at {}",
                    rfc3339(at)
                ),
            )
            .await?;
            Ok(outcome(
                Some(after.id),
                WebhookAction::Resolved,
                format!(
                    "every alert of the group ended: {} is resolved",
                    after.reference
                ),
            ))
        }
        Some(i) if i.state.is_open() => update_group(conn, &actor, &i, g).await,
        Some(i) if g.resolved => {
            if repo::end(conn, i.id, &ended).await?.is_empty() {
                return Ok(outcome(
                    Some(i.id),
                    WebhookAction::Duplicate,
                    format!("{} already knows these alerts ended", i.reference),
                ));
            }
            let last = g.ended_at().map_or_else(|| "now".to_string(), rfc3339);
            note(
                conn,
                &actor,
                &i,
                &[(
                    "alert",
                    None,
                    format!(
                        "Every alert of the group ended (the last at {last}); the incident was already {}, so nothing else changes",
                        i.state.as_str()
                    ),
                )],
            )
            .await?;
            Ok(outcome(
                Some(i.id),
                WebhookAction::Updated,
                format!(
                    "{} is already {}: the end of its alerts is noted on its timeline",
                    i.reference,
                    i.state.as_str()
                ),
            ))
        }
        None if g.resolved => Ok(outcome(
            None,
            WebhookAction::Ignored,
            "no incident follows this alert group, and a resolved group opens none",
        )),
        latest => {
            let firing: Vec<&AlertSeen> = g.firing().collect();
            if firing.is_empty() {
                return Ok(outcome(
                    latest.map(|i| i.id),
                    WebhookAction::Ignored,
                    "no alert of the group fires",
                ));
            }
            if let Some(i) = &latest
                && repo::unseen(conn, i.id, &firing).await?.is_empty()
            {
                return Ok(outcome(
                    Some(i.id),
                    WebhookAction::Ignored,
                    format!(
                        "{} is {} while these alerts still fire; nothing new fires, so no incident is opened",
                        i.reference,
                        i.state.as_str()
                    ),
                ));
            }
            open_group(conn, &actor, g, &firing, latest.as_ref(), now).await
        }
    }
}

/// Opens the incident of a firing group.
async fn open_group(
    conn: &mut PgConnection,
    actor: &Actor,
    g: &Group,
    firing: &[&AlertSeen],
    previous: Option<&Incident>,
    now: OffsetDateTime,
) -> AppResult<WebhookOutcome> {
    let severity =
        alertmanager::worst(firing.iter().copied()).unwrap_or(alertmanager::DEFAULT_SEVERITY);
    let (service_ids, unlinked) =
        services_for(conn, &alertmanager::services(firing.iter().copied())).await?;
    // The alerts noticed the trouble when they started firing.
    let started = g.started_at().unwrap_or(now).min(now);
    let times = Times {
        started_at: Some(started),
        detected_at: Some(started),
        ..Times::default()
    };
    let incident = changes::open(
        conn,
        actor,
        &incidents::NewRow {
            title: &g.title,
            severity,
            summary: &g.summary,
            commander_id: None,
            source: ALERTMANAGER,
            external_key: Some(&g.key),
            times,
            declared_by: &actor.name,
        },
        &service_ids,
        "Opened",
    )
    .await?;
    repo::add_firing(conn, incident.id, firing).await?;
    let mut lines = vec![format!("Firing: {}", names(firing))];
    if g.truncated > 0 {
        lines.push(format!(
            "{} more alerts of the group were left out of the notification (max_alerts)",
            g.truncated
        ));
    }
    lines.extend(unlinked);
    lines.extend(g.notes.iter().cloned());
    if let Some(p) = previous {
        lines.push(format!(
            "The same alert group was followed by {} ({})",
            p.reference,
            p.state.as_str()
        ));
    }
    for line in &lines {
        incidents::event(conn, incident.id, None, "alert", actor, line).await?;
    }
    Ok(outcome(
        Some(incident.id),
        WebhookAction::Opened,
        format!("{} opened for the alert group", incident.reference),
    ))
}

/// Applies a notification of a group whose incident is open: news to the timeline, a worse
/// severity and new services to the incident.
async fn update_group(
    conn: &mut PgConnection,
    actor: &Actor,
    before: &Incident,
    g: &Group,
) -> AppResult<WebhookOutcome> {
    let firing: Vec<&AlertSeen> = g.firing().collect();
    let ended: Vec<&AlertSeen> = g.ended().collect();
    let news = repo::add_firing(conn, before.id, &firing).await?;
    let stopped = repo::end(conn, before.id, &ended).await?;
    let mut lines = Vec::new();
    if !news.is_empty() {
        lines.push(format!("Also firing: {}", names(&news)));
    }
    if !stopped.is_empty() {
        lines.push(format!("No longer firing: {}", names(&stopped)));
    }
    let mut changed = false;
    if let Some(worse) = alertmanager::worst(news.iter().copied()).filter(|s| *s < before.severity)
    {
        incidents::set_severity(conn, before.id, worse).await?;
        changed = true;
    }
    let (ids, unlinked) = services_for(conn, &alertmanager::services(news.iter().copied())).await?;
    if !news.is_empty() {
        lines.extend(unlinked);
        lines.extend(g.notes.iter().cloned());
    }
    let linked = linked_services(conn, before.id).await?;
    if ids.iter().any(|id| !linked.contains(id)) {
        let all: Vec<i64> = linked.iter().chain(&ids).copied().collect();
        incidents::set_services(conn, before.id, &all).await?;
        incidents::touch(conn, before.id).await?;
        changed = true;
    }
    if lines.is_empty() && !changed {
        return Ok(outcome(
            Some(before.id),
            WebhookAction::Duplicate,
            format!(
                "nothing new: {} already knows every alert in it",
                before.reference
            ),
        ));
    }
    let entries: Vec<(&str, Option<OffsetDateTime>, String)> =
        lines.into_iter().map(|l| ("alert", None, l)).collect();
    if changed {
        for (kind, at, text) in &entries {
            incidents::event(conn, before.id, *at, kind, actor, text).await?;
        }
        let after = incidents::get(conn, before.id).await?;
        for (kind, text) in describe_changes(before, &after) {
            incidents::event(conn, before.id, None, kind, actor, &text).await?;
        }
        audit::record(
            conn,
            actor,
            "incident.update",
            ("incident", &before.id.to_string()),
            Change::changed(before, &after),
        )
        .await?;
    } else {
        note(conn, actor, before, &entries).await?;
    }
    Ok(outcome(
        Some(before.id),
        WebhookAction::Updated,
        format!(
            "{} updated with what changed in the alert group",
            before.reference
        ),
    ))
}

async fn linked_services(conn: &mut PgConnection, incident_id: i64) -> AppResult<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT service_id FROM incident_services WHERE incident_id = $1")
            .bind(incident_id)
            .fetch_all(conn)
            .await?,
    )
}

/// Applies a PagerDuty event to the incident following its PagerDuty incident.
async fn apply_event(
    conn: &mut PgConnection,
    e: &pagerduty::Event,
    now: OffsetDateTime,
) -> AppResult<WebhookOutcome> {
    let actor = sender(PAGERDUTY, "PagerDuty");
    let at = e.at.min(now);
    let by =
        e.by.as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default();
    let latest = following(conn, PAGERDUTY, &e.key).await?;
    let ignored = |i: &Incident, why: String| outcome(Some(i.id), WebhookAction::Ignored, why);
    let Some(i) = latest else {
        return match &e.intent {
            Intent::Trigger(t) => open_pagerduty(conn, &actor, e, t, now).await,
            _ => Ok(outcome(
                None,
                WebhookAction::Ignored,
                format!(
                    "no incident follows PagerDuty incident {} (it was triggered before Portolan was subscribed)",
                    e.key
                ),
            )),
        };
    };
    let updated = |why: String| Ok(outcome(Some(i.id), WebhookAction::Updated, why));
    match &e.intent {
        Intent::Trigger(_) => Ok(ignored(
            &i,
            format!(
                "{} already follows PagerDuty incident {}",
                i.reference, e.key
            ),
        )),
        Intent::Acknowledge if i.state == IncidentState::Triage => {
            let why = format!("acknowledged in PagerDuty{by}");
            move_to(conn, &actor, &i, IncidentState::Investigating, at, &why).await?;
            updated(format!("{} is investigating: {why}", i.reference))
        }
        Intent::Acknowledge => Ok(ignored(
            &i,
            format!("{} is already {}", i.reference, i.state.as_str()),
        )),
        Intent::Resolve if i.state.is_open() => {
            let at = resolved_time(&i, Some(at), now);
            let why = format!("resolved in PagerDuty{by}");
            move_to(conn, &actor, &i, IncidentState::Resolved, at, &why).await?;
            Ok(outcome(
                Some(i.id),
                WebhookAction::Resolved,
                format!("{} is resolved", i.reference),
            ))
        }
        Intent::Reopen if i.state == IncidentState::Resolved => {
            let why = format!("reopened in PagerDuty{by}");
            move_to(conn, &actor, &i, IncidentState::Investigating, at, &why).await?;
            updated(format!("{} is investigating again: {why}", i.reference))
        }
        Intent::Reopen if i.state.is_open() => Ok(ignored(
            &i,
            format!("{} is already {}", i.reference, i.state.as_str()),
        )),
        Intent::Resolve | Intent::Reopen => {
            let what = if e.intent == Intent::Resolve {
                "Resolved"
            } else {
                "Reopened"
            };
            note(
                conn,
                &actor,
                &i,
                &[(
                    "alert",
                    Some(at),
                    format!(
                        "{what} in PagerDuty{by}; the incident was already {}, so nothing else changes",
                        i.state.as_str()
                    ),
                )],
            )
            .await?;
            updated(format!(
                "{} is {}: noted on its timeline",
                i.reference,
                i.state.as_str()
            ))
        }
        Intent::Priority { severity, priority } => {
            let Some(s) = severity else {
                return Ok(ignored(
                    &i,
                    match priority {
                        Some(p) => format!("the priority '{p}' maps to no severity"),
                        None => "the incident has no priority now; its severity stays".into(),
                    },
                ));
            };
            set_severity(conn, &actor, &i, *s).await
        }
        Intent::Annotate { text } => {
            note(conn, &actor, &i, &[("note", Some(at), text.clone())]).await?;
            updated(format!("the note is on the timeline of {}", i.reference))
        }
    }
}

/// Sets the severity a PagerDuty priority maps to.
async fn set_severity(
    conn: &mut PgConnection,
    actor: &Actor,
    before: &Incident,
    severity: Severity,
) -> AppResult<WebhookOutcome> {
    if before.state.is_final() || before.severity == severity {
        return Ok(outcome(
            Some(before.id),
            WebhookAction::Ignored,
            format!(
                "{} is {} and {}; nothing changes",
                before.reference,
                before.state.as_str(),
                before.severity.label()
            ),
        ));
    }
    incidents::set_severity(conn, before.id, severity).await?;
    let after = incidents::get(conn, before.id).await?;
    for (kind, text) in describe_changes(before, &after) {
        incidents::event(conn, before.id, None, kind, actor, &text).await?;
    }
    audit::record(
        conn,
        actor,
        "incident.update",
        ("incident", &before.id.to_string()),
        Change::changed(before, &after),
    )
    .await?;
    Ok(outcome(
        Some(before.id),
        WebhookAction::Updated,
        format!("{} is {} now", before.reference, severity.label()),
    ))
}

/// Opens the incident of a triggered PagerDuty incident. Its service is linked when the PagerDuty
/// service's name, written as a slug, is a Portolan service's.
async fn open_pagerduty(
    conn: &mut PgConnection,
    actor: &Actor,
    e: &pagerduty::Event,
    t: &pagerduty::Trigger,
    now: OffsetDateTime,
) -> AppResult<WebhookOutcome> {
    let slugs: Vec<String> = t
        .service
        .iter()
        .map(|s| slug_of(s))
        .filter(|s| !s.is_empty())
        .collect();
    let (service_ids, unlinked) = services_for(conn, &slugs).await?;
    // PagerDuty noticed the trouble when it created its incident.
    let started = t.created_at.unwrap_or(e.at).min(now);
    let incident = changes::open(
        conn,
        actor,
        &incidents::NewRow {
            title: &t.title,
            severity: t.severity,
            summary: "",
            commander_id: None,
            source: PAGERDUTY,
            external_key: Some(&e.key),
            times: Times {
                started_at: Some(started),
                detected_at: Some(started),
                ..Times::default()
            },
            declared_by: &actor.name,
        },
        &service_ids,
        "Opened",
    )
    .await?;
    let mut lines = vec![format!(
        "{}{}",
        t.details,
        e.by.as_deref()
            .map(|b| format!(" (triggered by {b})"))
            .unwrap_or_default()
    )];
    lines.extend(unlinked);
    for line in &lines {
        incidents::event(conn, incident.id, None, "alert", actor, line).await?;
    }
    Ok(outcome(
        Some(incident.id),
        WebhookAction::Opened,
        format!(
            "{} opened for PagerDuty incident {}",
            incident.reference, e.key
        ),
    ))
}

/// `API Service` → `api-service`: how a PagerDuty service name is matched to a Portolan slug.
pub fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn pagerduty_service_names_become_slugs() {
        assert_eq!(slug_of("API Service"), "api-service");
        assert_eq!(slug_of("  checkout-api "), "checkout-api");
        assert_eq!(slug_of("Payments / Gateway (EU)"), "payments-gateway-eu");
        assert_eq!(slug_of("***"), "");
    }

    #[test]
    fn a_resolution_is_never_in_the_future_nor_before_what_is_known() {
        let now = datetime!(2026-11-22 12:00 UTC);
        let mut i: Incident = serde_json::from_value(serde_json::json!({
            "id": 1, "reference": "INC-1", "title": "t", "severity": "sev3", "state": "triage",
            "summary": "", "commander": null, "services": [], "merged_into": null,
            "source": "alertmanager", "started_at": "2026-11-22T09:00:00Z",
            "detected_at": "2026-11-22T09:10:00Z", "mitigated_at": null, "resolved_at": null,
            "declared_at": "2026-11-22T09:10:00Z", "declared_by": "Alertmanager",
            "updated_at": "2026-11-22T09:10:00Z", "version": 1, "moves": []
        }))
        .expect("an incident");
        let said = datetime!(2026-11-22 10:00 UTC);
        assert_eq!(resolved_time(&i, Some(said), now), said);
        assert_eq!(resolved_time(&i, None, now), now);
        assert_eq!(
            resolved_time(&i, Some(datetime!(2026-11-23 00:00 UTC)), now),
            now
        );
        assert_eq!(
            resolved_time(&i, Some(datetime!(2026-11-22 09:05 UTC)), now),
            datetime!(2026-11-22 09:10 UTC),
            "not before it was detected"
        );
        i.mitigated_at = Some(datetime!(2026-11-22 10:30 UTC));
        assert_eq!(
            resolved_time(&i, Some(said), now),
            datetime!(2026-11-22 10:30 UTC)
        );
    }
}
