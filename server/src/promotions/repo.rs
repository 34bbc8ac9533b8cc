//! The SQL of promotion requests, and gathering the facts their gate judges.

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
    type R = (
        String,
        String,
        Option<String>,
        Vec<String>,
        Vec<String>,
        String,
        String,
        OffsetDateTime,
    );
    let rows: Vec<R> = sqlx::query_as(
        "SELECT u.tenant_id || ':' || u.object_id, u.display_name, u.email, u.roles, u.groups,
                a.decision, a.comment, a.at
           FROM promotion_approvals a JOIN users u ON u.id = a.user_id
          WHERE a.promotion_id = $1 ORDER BY a.at, u.id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, name, email, roles, groups, decision, comment, at)| {
            let access = Access::of(&roles, &groups, group_roles);
            Decided {
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
            }
        })
        .collect())
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

/// The request as answered: its decisions and what its gate says (now, or as of its decision,
/// under the policy it was decided under).
pub async fn shown(
    conn: &mut PgConnection,
    row: Row,
    current_policy: (i32, GatePolicy),
    group_roles: &GroupRoles,
    now: OffsetDateTime,
) -> AppResult<Promotion> {
    let state = row.state();
    let (policy_version, policy) = match row.policy_version {
        Some(v) if state.is_decided() => (v, policy_at(conn, row.to_id, v).await?),
        _ => current_policy,
    };
    let decided = decisions(conn, row.id, &row.to_slug, group_roles).await?;
    let previous = previous_stage(conn, row.to_id).await?;
    let succeeded = succeeded_in(conn, row.service_id, row.from_id, &row.version).await?;
    // The authors of the commits being promoted matter only to a policy that excludes them.
    let authors: Vec<String> = if policy.exclude_commit_authors {
        super::review::changes_of(conn, &row, now)
            .await?
            .authors
            .into_iter()
            .map(|a| a.author)
            .collect()
    } else {
        Vec::new()
    };
    let approvers: Vec<Approver> = decided
        .iter()
        .filter(|d| d.decision == "approve")
        .map(|d| d.approver.clone())
        .collect();
    let requester = row
        .requester_key
        .clone()
        .unwrap_or_else(|| row.requester_id.clone());
    let previous_slug = previous
        .map(|(_, s)| s)
        .unwrap_or_else(|| row.from_slug.clone());
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
        succeeded_in_source: succeeded,
        owning_team_group: row.owning_group.as_deref(),
        commit_authors: &authors,
        break_glass: row
            .break_glass_by
            .as_deref()
            .zip(row.break_glass_reason.as_deref()),
    });
    Ok(Promotion {
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
        approvals: decided
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
    })
}
