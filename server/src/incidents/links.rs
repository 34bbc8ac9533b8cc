//! Links between incidents and the deployments that caused or fixed them: set and removed by
//! people, suggested (never set) by Portolan.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use portolan_api::{
    Deployment, DeploymentLink, ErrorBody, Incident, LinkCandidate, LinkRelation, NewLink,
};
use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::candidates::{self, Context};
use super::repo;
use crate::AppState;
use crate::audit::{self, Actor, repo::Change};
use crate::deployments::repo as deployments_repo;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::live;

const MAX_NOTE: usize = 2_000;
/// Deployments read to rank candidates from (the newest in the window).
const CANDIDATE_POOL: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_links))
        .routes(routes!(link_deployment, unlink_deployment))
        .routes(routes!(link_candidates))
}

/// The links of an incident, causes first, each with its deployment.
pub async fn links_of(conn: &mut PgConnection, incident_id: i64) -> AppResult<Vec<DeploymentLink>> {
    let rows: Vec<(i64, String, String, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT deployment_id, relation, note, linked_by, linked_at FROM incident_deployments
          WHERE incident_id = $1 ORDER BY relation, linked_at, deployment_id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let deployments: BTreeMap<i64, Deployment> = deployments_repo::by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(id, relation, note, linked_by, linked_at)| {
            Some(DeploymentLink {
                relation: LinkRelation::parse(&relation)?,
                deployment: deployments.get(&id)?.clone(),
                note,
                linked_by,
                linked_at,
            })
        })
        .collect())
}

/// The deployments linked to an incident as its cause or its fix.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/links", tag = "incidents",
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Vec<DeploymentLink>), (status = 404, body = ErrorBody)))]
async fn list_links(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<DeploymentLink>>> {
    let mut conn = state.pool.acquire().await?;
    repo::get(&mut conn, id).await?;
    Ok(Json(links_of(&mut conn, id).await?))
}

fn describe(d: &Deployment) -> String {
    format!(
        "deployment #{} ({} {} to {})",
        d.id, d.service.name, d.version, d.environment.name
    )
}

fn relation_words(r: LinkRelation) -> &'static str {
    match r {
        LinkRelation::CausedBy => "the cause",
        LinkRelation::FixedBy => "a fix",
    }
}

/// An incident that may still take links: not declined or merged away.
fn linkable(incident: &Incident) -> AppResult<()> {
    use portolan_api::IncidentState::{Declined, Merged};
    if matches!(incident.state, Declined | Merged) {
        return Err(AppError::Unprocessable(format!(
            "{} is {}: link deployments to the incident that stands",
            incident.reference,
            incident.state.as_str()
        )));
    }
    Ok(())
}

/// Link a deployment as the cause (`caused_by`) or a fix (`fixed_by`) of an incident. Linking
/// again only updates the note.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/links/{deployment}", tag = "incidents",
    request_body = NewLink,
    params(("id" = i64, Path, description = "The incident's number"),
        ("deployment" = i64, Path, description = "The deployment's id")),
    responses((status = 200, body = Vec<DeploymentLink>, description = "The incident's links now"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn link_deployment(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, deployment_id)): Path<(i64, i64)>,
    ApiJson(new): ApiJson<NewLink>,
) -> AppResult<Json<Vec<DeploymentLink>>> {
    let relation = LinkRelation::parse(&new.relation).ok_or_else(|| {
        AppError::field(
            "relation",
            format!("'{}' is not caused_by or fixed_by", new.relation),
        )
    })?;
    let note = new.note.as_deref().unwrap_or("").trim().to_string();
    if note.chars().count() > MAX_NOTE {
        return Err(AppError::field(
            "note",
            format!("must be at most {MAX_NOTE} characters"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let incident = repo::lock(&mut tx, id).await?;
    linkable(&incident)?;
    let deployment = deployments_repo::get(&mut tx, deployment_id).await?;
    let existed: Option<String> = sqlx::query_scalar(
        "SELECT note FROM incident_deployments
          WHERE incident_id = $1 AND deployment_id = $2 AND relation = $3",
    )
    .bind(id)
    .bind(deployment_id)
    .bind(relation.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if existed.as_deref() == Some(note.as_str()) {
        return Ok(Json(links_of(&mut tx, id).await?));
    }
    sqlx::query(
        "INSERT INTO incident_deployments (incident_id, deployment_id, relation, note, linked_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (incident_id, deployment_id, relation) DO UPDATE SET note = EXCLUDED.note",
    )
    .bind(id)
    .bind(deployment_id)
    .bind(relation.as_str())
    .bind(&note)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let mut text = format!(
        "Linked {} as {}",
        describe(&deployment),
        relation_words(relation)
    );
    if !note.is_empty() {
        text.push_str(": ");
        text.push_str(&note);
    }
    repo::event(&mut tx, id, None, "link", &actor, &text).await?;
    let links = links_of(&mut tx, id).await?;
    let link = links
        .iter()
        .find(|l| l.deployment.id == deployment_id && l.relation == relation);
    audit::record(
        &mut tx,
        &actor,
        "incident.link",
        ("incident", &id.to_string()),
        match existed {
            Some(before) => Change::changed(
                &serde_json::json!({"deployment": deployment_id, "relation": relation, "note": before}),
                &link,
            ),
            None => Change::created(&link),
        },
    )
    .await?;
    live::incident_changed(&mut tx, id, "incident.link").await?;
    tx.commit().await?;
    Ok(Json(links))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnlinkQuery {
    /// `caused_by` or `fixed_by`.
    relation: String,
}

/// Remove a link (a person changed their mind). Removing one that is not there changes nothing.
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/links/{deployment}", tag = "incidents",
    params(("id" = i64, Path, description = "The incident's number"),
        ("deployment" = i64, Path, description = "The deployment's id"), UnlinkQuery),
    responses((status = 200, body = Vec<DeploymentLink>, description = "The incident's links now"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unlink_deployment(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, deployment_id)): Path<(i64, i64)>,
    ApiQuery(q): ApiQuery<UnlinkQuery>,
) -> AppResult<Json<Vec<DeploymentLink>>> {
    let relation = LinkRelation::parse(&q.relation).ok_or_else(|| {
        AppError::field(
            "relation",
            format!("'{}' is not caused_by or fixed_by", q.relation),
        )
    })?;
    let mut tx = state.pool.begin().await?;
    let incident = repo::lock(&mut tx, id).await?;
    linkable(&incident)?;
    let before = links_of(&mut tx, id).await?;
    let Some(link) = before
        .iter()
        .find(|l| l.deployment.id == deployment_id && l.relation == relation)
    else {
        return Ok(Json(before));
    };
    sqlx::query(
        "DELETE FROM incident_deployments WHERE incident_id = $1 AND deployment_id = $2 AND relation = $3",
    )
    .bind(id)
    .bind(deployment_id)
    .bind(relation.as_str())
    .execute(&mut *tx)
    .await?;
    let text = format!(
        "Unlinked {} as {}",
        describe(&link.deployment),
        relation_words(relation)
    );
    repo::event(&mut tx, id, None, "unlink", &actor, &text).await?;
    audit::record(
        &mut tx,
        &actor,
        "incident.unlink",
        ("incident", &id.to_string()),
        Change::removed(link),
    )
    .await?;
    let after = links_of(&mut tx, id).await?;
    live::incident_changed(&mut tx, id, "incident.unlink").await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Deployments that may have caused or fixed the incident, best first, each with its reasons:
/// to the affected services and what they depend on, shortly before the impact started (causes)
/// or around when it stopped (fixes). Portolan never links them itself.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/link-candidates", tag = "incidents",
    params(("id" = i64, Path, description = "The incident's number")),
    responses((status = 200, body = Vec<LinkCandidate>), (status = 404, body = ErrorBody)))]
async fn link_candidates(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<LinkCandidate>>> {
    let mut conn = state.pool.acquire().await?;
    let incident = repo::get(&mut conn, id).await?;
    let affected: Vec<String> = incident.services.iter().map(|s| s.slug.clone()).collect();
    if affected.is_empty() {
        return Ok(Json(Vec::new()));
    }
    // The affected services, and what they depend on (one step), with who depends on it.
    let mut service_ids: BTreeSet<i64> =
        sqlx::query_scalar::<_, i64>("SELECT id FROM services WHERE slug = ANY ($1)")
            .bind(&affected)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let edges: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT t.id, t.slug, a.name
           FROM service_dependencies x
           JOIN services a ON a.id = x.from_service_id
           JOIN services t ON t.id = x.to_service_id
          WHERE a.slug = ANY ($1) AND t.slug <> ALL ($1)
          ORDER BY a.name",
    )
    .bind(&affected)
    .fetch_all(&mut *conn)
    .await?;
    let mut dependencies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (service_id, slug, dependent) in edges {
        service_ids.insert(service_id);
        dependencies.entry(slug).or_default().push(dependent);
    }
    let now = OffsetDateTime::now_utc();
    let ctx = Context {
        affected: affected.into_iter().collect(),
        dependencies,
        start: incident
            .started_at
            .or(incident.detected_at)
            .unwrap_or(incident.declared_at),
        end: incident.mitigated_at.or(incident.resolved_at),
        now,
    };
    let ids: Vec<i64> = service_ids.into_iter().collect();
    let deployments =
        deployments_repo::took_effect_between(&mut conn, &ids, ctx.window(), CANDIDATE_POOL)
            .await?;
    let linked: BTreeSet<(i64, LinkRelation)> = links_of(&mut conn, id)
        .await?
        .into_iter()
        .map(|l| (l.deployment.id, l.relation))
        .collect();
    Ok(Json(candidates::rank(&ctx, &deployments, &linked)))
}
