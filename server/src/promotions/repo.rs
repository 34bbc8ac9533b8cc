//! The SQL of promotion requests, and gathering the facts their gate judges.

use std::collections::HashMap;

use portolan_api::{
    GatePolicy, PersonRef, Promotion, PromotionApproval, PromotionState, ServiceRef,
};
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::gate::{self, Approver, Facts};
use crate::access::{Access, GroupRoles};
use crate::error::{AppError, AppResult};

#[derive(FromRow)]
pub struct Row {
    pub id: i64,
    pub service_id: i64,
    pub service_slug: String,
    pub service_name: String,
    pub version: String,
    pub from_id: i64,
    pub from_slug: String,
    pub to_id: i64,
    pub to_slug: String,
    pub hotfix: bool,
    pub state: String,
    pub reason: String,
    pub requester_id: String,
    pub requester_name: String,
    pub requester_key: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    pub decision_note: String,
    pub policy_version: Option<i32>,
    pub break_glass_by: Option<String>,
    pub break_glass_reason: Option<String>,
    pub owning_group: Option<String>,
}

impl Row {
    pub fn state(&self) -> PromotionState {
        // The database allows only the known states.
        PromotionState::parse(&self.state).unwrap_or(PromotionState::Pending)
    }
}

const SELECT: &str = "SELECT p.id, p.service_id, s.slug AS service_slug, s.name AS service_name,
        p.version, p.from_environment_id AS from_id, f.slug AS from_slug,
        p.to_environment_id AS to_id, t.slug AS to_slug, p.hotfix, p.state, p.reason,
        p.requester_id, p.requester_name, ru.tenant_id || ':' || ru.object_id AS requester_key,
        p.created_at, p.expires_at, p.decided_at, p.decided_by, p.decision_note, p.policy_version,
        p.break_glass_by, p.break_glass_reason, tm.entra_group_id AS owning_group
   FROM promotions p
   JOIN services s ON s.id = p.service_id
   JOIN teams tm ON tm.id = s.owner_team_id
   JOIN environments f ON f.id = p.from_environment_id
   JOIN environments t ON t.id = p.to_environment_id
   LEFT JOIN users ru ON ru.id = p.requester_user_id";

/// The request's row (locked for a change when `lock`), or 404.
pub async fn row(conn: &mut PgConnection, id: i64, lock: bool) -> AppResult<Row> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE p.id = $1{}",
        if lock { " FOR UPDATE OF p" } else { "" }
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| AppError::not_found("promotion request", id))
}

/// A person's decision, with what the gate needs to know about them now.
pub struct Decided {
    pub approver: Approver,
    pub decision: String,
    pub comment: String,
    pub at: OffsetDateTime,
}

pub async fn decisions(
    conn: &mut PgConnection,
    id: i64,
    target: &str,
    group_roles: &GroupRoles,
) -> AppResult<Vec<Decided>> {
    let mut all = decisions_of(conn, &[(id, target)], group_roles).await?;
    Ok(all.remove(&id).unwrap_or_default())
}

/// The decisions on several requests (each with its target environment), by request.
pub async fn decisions_of(
    conn: &mut PgConnection,
    requests: &[(i64, &str)],
    group_roles: &GroupRoles,
) -> AppResult<HashMap<i64, Vec<Decided>>> {
    type R = (
        i64,
        String,
        String,
        Option<String>,
        Vec<String>,
        Vec<String>,
        String,
        String,
        OffsetDateTime,
    );
    let ids: Vec<i64> = requests.iter().map(|(id, _)| *id).collect();
    let targets: HashMap<i64, &str> = requests.iter().copied().collect();
    let rows: Vec<R> = sqlx::query_as(
        "SELECT a.promotion_id, u.tenant_id || ':' || u.object_id, u.display_name, u.email, u.roles,
                u.groups, a.decision, a.comment, a.at
           FROM promotion_approvals a JOIN users u ON u.id = a.user_id
          WHERE a.promotion_id = ANY($1) ORDER BY a.at, u.id",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Decided>> = HashMap::new();
    for (id, key, name, email, roles, groups, decision, comment, at) in rows {
        let access = Access::of(&roles, &groups, group_roles);
        let target = targets.get(&id).copied().unwrap_or_default();
        out.entry(id).or_default().push(Decided {
            approver: Approver {
                key,
                name,
                email,
                grants: access.grants.iter().map(ToString::to_string).collect(),
                groups,
                may_approve_here: access.may_approve_in(target),
            },
            decision,
            comment,
            at,
        });
    }
    Ok(out)
}

/// The gate policy of `environment` at `version` (0: the default).
pub async fn policy_at(
    conn: &mut PgConnection,
    environment: i64,
    version: i32,
) -> AppResult<GatePolicy> {
    let policy: Option<sqlx::types::Json<GatePolicy>> = sqlx::query_scalar(
        "SELECT policy FROM gate_policies WHERE environment_id = $1 AND version = $2",
    )
    .bind(environment)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(policy.map(|p| p.0).unwrap_or_default())
}

/// The live environment just before `to` in the pipeline, if any.
pub async fn previous_stage(conn: &mut PgConnection, to: i64) -> AppResult<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT e.id, e.slug FROM environments e, environments t
          WHERE t.id = $1 AND e.archived_at IS NULL AND e.position < t.position
          ORDER BY e.position DESC LIMIT 1",
    )
    .bind(to)
    .fetch_optional(conn)
    .await?)
}

/// When the version first succeeded in an environment.
pub async fn succeeded_in(
    conn: &mut PgConnection,
    service: i64,
    environment: i64,
    version: &str,
) -> AppResult<Option<OffsetDateTime>> {
    Ok(sqlx::query_scalar(
        "SELECT min(COALESCE(finished_at, updated_at)) FROM deployments
          WHERE service_id = $1 AND environment_id = $2 AND version = $3 AND status = 'succeeded'",
    )
    .bind(service)
    .bind(environment)
    .bind(version)
    .fetch_one(conn)
    .await?)
}

/// What answering a request needs besides its row.
struct Known {
    /// The policy it is judged under, and its version.
    policy: (i32, GatePolicy),
    /// The stage just before its target, if any.
    previous_stage: Option<String>,
    decided: Vec<Decided>,
    succeeded_in_source: Option<OffsetDateTime>,
    commit_authors: Vec<String>,
}

/// The policy a request is judged under: the one it was decided under, or the one in force.
async fn policy_for(
    conn: &mut PgConnection,
    row: &Row,
    current_policy: &(i32, GatePolicy),
) -> AppResult<(i32, GatePolicy)> {
    Ok(match row.policy_version {
        Some(v) if row.state().is_decided() => (v, policy_at(conn, row.to_id, v).await?),
        _ => current_policy.clone(),
    })
}

/// The authors of the commits being promoted: they matter only to a policy that excludes them.
async fn authors_for(
    conn: &mut PgConnection,
    row: &Row,
    policy: &GatePolicy,
    now: OffsetDateTime,
) -> AppResult<Vec<String>> {
    if !policy.exclude_commit_authors {
        return Ok(Vec::new());
    }
    Ok(super::review::changes_of(conn, row, now)
        .await?
        .authors
        .into_iter()
        .map(|a| a.author)
        .collect())
}

/// The request as answered: its decisions and what its gate says (now, or as of its decision,
/// under the policy it was decided under).
pub async fn shown(
    conn: &mut PgConnection,
    row: Row,
    current_policy: (i32, GatePolicy),
    group_roles: &GroupRoles,
    now: OffsetDateTime,
) -> AppResult<Promotion> {
    let policy = policy_for(conn, &row, &current_policy).await?;
    let decided = decisions(conn, row.id, &row.to_slug, group_roles).await?;
    let previous_stage = previous_stage(conn, row.to_id).await?.map(|(_, s)| s);
    let succeeded_in_source = succeeded_in(conn, row.service_id, row.from_id, &row.version).await?;
    let commit_authors = authors_for(conn, &row, &policy.1, now).await?;
    Ok(assemble(
        row,
        Known {
            policy,
            previous_stage,
            decided,
            succeeded_in_source,
            commit_authors,
        },
        now,
    ))
}

/// Several requests as answered (see [`shown`]), newest first, with a few queries for all of
/// them rather than a few for each: what a list page needs.
pub async fn shown_page(
    conn: &mut PgConnection,
    ids: &[i64],
    group_roles: &GroupRoles,
    now: OffsetDateTime,
) -> AppResult<Vec<Promotion>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE p.id = ANY($1) ORDER BY p.id DESC"))
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    // Per target environment: the policy in force and the stage before it.
    let mut environments: HashMap<i64, ((i32, GatePolicy), Option<String>)> = HashMap::new();
    for row in &rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = environments.entry(row.to_id) {
            let current = crate::environments::gate::current(conn, row.to_id, &row.to_slug).await?;
            let previous = previous_stage(conn, row.to_id).await?.map(|(_, s)| s);
            slot.insert(((current.version, current.policy), previous));
        }
    }
    let targets: Vec<(i64, &str)> = rows.iter().map(|r| (r.id, r.to_slug.as_str())).collect();
    let mut decided = decisions_of(conn, &targets, group_roles).await?;
    let succeeded: HashMap<i64, Option<OffsetDateTime>> = sqlx::query_as(
        "SELECT x.id, (SELECT min(COALESCE(d.finished_at, d.updated_at)) FROM deployments d
                         WHERE d.service_id = x.service AND d.environment_id = x.environment
                           AND d.version = x.version AND d.status = 'succeeded')
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
                AS x(id, service, environment, version)",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.service_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.from_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.version.clone()).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (current, previous_stage) = environments
            .get(&row.to_id)
            .cloned()
            .unwrap_or_else(|| ((0, GatePolicy::default()), None));
        let policy = policy_for(conn, &row, &current).await?;
        let commit_authors = authors_for(conn, &row, &policy.1, now).await?;
        let known = Known {
            policy,
            previous_stage,
            decided: decided.remove(&row.id).unwrap_or_default(),
            succeeded_in_source: succeeded.get(&row.id).copied().flatten(),
            commit_authors,
        };
        out.push(assemble(row, known, now));
    }
    Ok(out)
}

/// The request and what its gate says, from everything gathered: a pure function.
fn assemble(row: Row, k: Known, now: OffsetDateTime) -> Promotion {
    let state = row.state();
    let (policy_version, policy) = k.policy;
    let approvers: Vec<Approver> = k
        .decided
        .iter()
        .filter(|d| d.decision == "approve")
        .map(|d| d.approver.clone())
        .collect();
    let requester = row
        .requester_key
        .clone()
        .unwrap_or_else(|| row.requester_id.clone());
    let previous_slug = k.previous_stage.unwrap_or_else(|| row.from_slug.clone());
    let gate = gate::evaluate(&Facts {
        policy: &policy,
        requester: &requester,
        hotfix: row.hotfix,
        source: &row.from_slug,
        previous_stage: &previous_slug,
        target: &row.to_slug,
        created_at: row.created_at,
        now: row.decided_at.unwrap_or(now),
        decided: row.decided_at.is_some(),
        approvals: &approvers,
        succeeded_in_source: k.succeeded_in_source,
        owning_team_group: row.owning_group.as_deref(),
        commit_authors: &k.commit_authors,
        break_glass: row
            .break_glass_by
            .as_deref()
            .zip(row.break_glass_reason.as_deref()),
    });
    Promotion {
        id: row.id,
        service: ServiceRef {
            slug: row.service_slug,
            name: row.service_name,
        },
        version: row.version,
        from: row.from_slug,
        to: row.to_slug,
        hotfix: row.hotfix,
        state,
        reason: row.reason,
        requester: row.requester_name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by,
        decision_note: row.decision_note,
        policy_version,
        break_glass: row
            .break_glass_by
            .zip(row.break_glass_reason)
            .map(|(who, why)| format!("{who}: {why}")),
        approvals: k
            .decided
            .into_iter()
            .map(|d| PromotionApproval {
                person: PersonRef {
                    id: d.approver.key,
                    name: d.approver.name,
                },
                decision: d.decision,
                comment: d.comment,
                at: d.at,
            })
            .collect(),
        conditions: gate.conditions,
        verdict: gate.verdict,
    }
}
