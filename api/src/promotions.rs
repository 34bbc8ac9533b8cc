//! Promotion gates: the policy of an environment (who must approve, what must have happened
//! before, when changes may go in), promotion requests and what the gate says about each.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One approval requirement: `count` approvals from people who match any of its filters (a
/// rule with no filter takes any approver of the environment). Every rule must be met; one
/// person's approval counts toward every rule they match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Shown in reasons: "needs 1 more approval from SRE on call".
    pub name: String,
    pub count: u32,
    /// App roles, as granted (`sre`, `approver@prod`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Entra group object ids.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Members of the team that owns the service (through the team's Entra group).
    #[serde(default)]
    pub owning_team: bool,
}

/// A period in which nothing is promoted into the environment (break-glass aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    pub reason: String,
}

/// When promotions may go in: these days, between these times, in this time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AllowedHours {
    /// `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, inclusive.
    pub from: String,
    /// `HH:MM`, exclusive; after `from`.
    pub until: String,
    /// An IANA time zone: `Europe/Berlin`, `America/New_York`, `UTC`.
    pub time_zone: String,
}

/// The gate of an environment: what a promotion into it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    #[serde(default)]
    pub approvals: Vec<ApprovalRule>,
    /// Nobody who authored a commit in the promoted range may approve (the requester never may).
    #[serde(default)]
    pub exclude_commit_authors: bool,
    /// The version must have succeeded in the environment it comes from.
    #[serde(default = "yes")]
    pub require_previous_success: bool,
    /// And run there at least this long.
    #[serde(default)]
    pub soak_minutes: u32,
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
    #[serde(default)]
    pub allowed_hours: Option<AllowedHours>,
    /// A pending request expires after this many hours.
    #[serde(default = "default_expiry")]
    pub expire_after_hours: u32,
    /// A hotfix may come from any earlier environment, skipping stages; it still needs this
    /// environment's approvals.
    #[serde(default)]
    pub hotfix_may_skip: bool,
    /// The soak time a hotfix needs where it comes from.
    #[serde(default)]
    pub hotfix_soak_minutes: u32,
}

fn yes() -> bool {
    true
}

fn default_expiry() -> u32 {
    72
}

impl Default for GatePolicy {
    /// No approvals, the previous stage must have succeeded, requests expire after 72 hours.
    fn default() -> Self {
        Self {
            approvals: Vec::new(),
            exclude_commit_authors: false,
            require_previous_success: true,
            soak_minutes: 0,
            freeze_windows: Vec::new(),
            allowed_hours: None,
            expire_after_hours: default_expiry(),
            hotfix_may_skip: false,
            hotfix_soak_minutes: 0,
        }
    }
}

/// A version of an environment's gate policy. Versions are never changed: an edit makes the next
/// one, and every decision names the version it was judged under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GatePolicyVersion {
    pub environment: String,
    /// 0: never set (the default policy applies).
    pub version: i32,
    pub policy: GatePolicy,
    pub reason: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub created_at: Option<OffsetDateTime>,
}

/// A new version of a gate policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GatePolicyChange {
    pub policy: GatePolicy,
    /// Why it changes (kept with the version).
    pub reason: String,
    /// The version you edited: refused (409) if someone saved another since.
    #[serde(default)]
    pub expected_version: Option<i32>,
}

/// How a condition of the gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConditionStatus {
    Pass,
    /// Not yet, but time or people can still make it pass.
    Waiting,
    /// It cannot pass for this request.
    Fail,
}

/// One condition of the gate, with a reason a person understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    /// `approvals:<rule>`, `previous_environment`, `soak`, `freeze`, `allowed_hours`, `expiry`,
    /// `break_glass`.
    pub key: String,
    pub status: ConditionStatus,
    pub reason: String,
}

/// What the gate says overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every condition passes: the promotion may go ahead.
    Open,
    /// Something is still to come (approvals, soak time, the end of a freeze).
    Waiting,
    /// Something can no longer pass.
    Blocked,
}

impl Verdict {
    pub fn of(conditions: &[Condition]) -> Self {
        if conditions.iter().any(|c| c.status == ConditionStatus::Fail) {
            Self::Blocked
        } else if conditions
            .iter()
            .any(|c| c.status == ConditionStatus::Waiting)
        {
            Self::Waiting
        } else {
            Self::Open
        }
    }
}

/// Where a promotion request stands. `pending` ends `approved`, `rejected`, `expired` or
/// `cancelled`; an approved one becomes `deployed` when its deployment to the target is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Deployed,
}

impl PromotionState {
    pub const ALL: [PromotionState; 6] = [
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
        Self::Cancelled,
        Self::Deployed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Deployed => "deployed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// Decided: nothing but recording the deployment (of an approved one) changes it.
    pub fn is_decided(self) -> bool {
        self != Self::Pending
    }
}

/// Asking to promote a version of a service into an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPromotion {
    /// The service's slug.
    pub service: String,
    pub version: String,
    /// The target environment's slug.
    pub to: String,
    /// Where the version comes from; by default the stage just before `to`. Only a hotfix may
    /// name an earlier one, where the target's policy allows it.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub hotfix: bool,
    /// Why, for the approvers.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An approver's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionDecision {
    /// `approve` or `reject`.
    pub decision: String,
    /// Needed to reject: why.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Breaking the glass, or cancelling: why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionReason {
    pub reason: String,
}

/// One person's decision on a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotionApproval {
    pub person: crate::PersonRef,
    /// `approve` or `reject`.
    pub decision: String,
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A promotion request, with what its gate says now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Promotion {
    pub id: i64,
    pub service: crate::ServiceRef,
    pub version: String,
    pub from: String,
    pub to: String,
    pub hotfix: bool,
    pub state: PromotionState,
    pub reason: String,
    pub requester: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    pub decision_note: String,
    /// The gate policy version it was decided under (while pending: the one in force now).
    pub policy_version: i32,
    /// Who broke the glass, and why: shown on the request forever.
    pub break_glass: Option<String>,
    pub approvals: Vec<PromotionApproval>,
    /// Every condition of the gate, as of now (or as of the decision).
    pub conditions: Vec<Condition>,
    pub verdict: Verdict,
}

/// Which way a promotion moves the target, as far as recorded history tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeDirection {
    /// The target has never run this service: everything recorded up to the candidate.
    First,
    /// The candidate is newer than the target's version: the commits it adds.
    Forward,
    /// The candidate is older: promoting it takes these commits back out.
    Back,
    /// The target already runs the candidate.
    Same,
    /// A hotfix: the commits recorded with the candidate's own deployments.
    Hotfix,
}

/// A commit the promotion carries (or takes back out), with the version that first carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotedCommit {
    pub sha: String,
    pub author: String,
    /// The first line of the message.
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub committed_at: OffsetDateTime,
    pub version: String,
}

/// What the promotion changes in the target: the commits between the version it runs and the
/// candidate, from the deployments recorded so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotionChanges {
    /// The version the target runs now (its latest succeeded deployment), if any.
    pub target_version: Option<String>,
    pub direction: ChangeDirection,
    /// The versions between, oldest first (the candidate last).
    pub versions: Vec<String>,
    /// Newest first; at most 200 (see `total_commits`).
    pub commits: Vec<PromotedCommit>,
    pub total_commits: u32,
    /// Everyone who authored a commit in the range, with how many, most first.
    pub authors: Vec<AuthorCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorCount {
    pub author: String,
    pub commits: u32,
}

/// An open incident on the service or on something it depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentOnPath {
    pub id: i64,
    pub title: String,
    pub severity: crate::Severity,
    pub state: crate::IncidentState,
    /// The affected service on the path.
    pub service: crate::ServiceRef,
    /// From the promoted service to the affected one: `[promoted, …, affected]` slugs (one
    /// element: the service itself).
    pub path: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub declared_at: OffsetDateTime,
}

/// An incident a deployment of the candidate was named as the cause of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CausedIncident {
    pub id: i64,
    pub title: String,
    pub severity: crate::Severity,
    pub state: crate::IncidentState,
}

/// How the candidate has done in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionRecord {
    pub environment: String,
    /// The request's source environment.
    pub is_source: bool,
    pub succeeded: u32,
    pub failed: u32,
    pub rolled_back: u32,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub first_succeeded_at: Option<OffsetDateTime>,
    /// It is the version the environment runs now.
    pub running_now: bool,
    /// A later rollback deployment there took it back out.
    pub replaced_by_rollback: bool,
    pub incidents: Vec<CausedIncident>,
}

/// What an approver reads before deciding: what changes, what is burning nearby, and how the
/// candidate has done so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotionReview {
    pub changes: PromotionChanges,
    /// Open incidents on the service and on what it depends on (up to three hops), worst first.
    pub incidents: Vec<IncidentOnPath>,
    /// Every environment the candidate was deployed to, in pipeline order.
    pub record: Vec<VersionRecord>,
}

/// The answer to Azure DevOps' "Invoke REST API" check (`POST
/// /api/v1/integrations/azure-devops/check`, completion event `ApiResponse`): the check passes
/// with the success criterion `eq(root['approved'], true)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AzureDevOpsCheck {
    /// The promotion may go ahead: approved (or already deployed).
    pub approved: bool,
    /// The request is decided and will not change: approved, deployed, rejected, expired or
    /// cancelled. A check that reads `final` and not `approved` can no longer pass.
    #[serde(rename = "final")]
    pub is_final: bool,
    pub state: PromotionState,
    /// The request's number.
    pub id: i64,
    /// Its page, for a person to open.
    pub url: String,
    /// What the gate still waits for, or how it was decided, in words.
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_fills_in_safe_defaults_and_refuses_typos() {
        let p: GatePolicy =
            serde_json::from_str(r#"{"approvals": [{"name": "Approvers", "count": 2}]}"#)
                .expect("a policy");
        assert!(p.require_previous_success);
        assert_eq!(p.expire_after_hours, 72);
        assert_eq!(p.approvals[0].roles, Vec::<String>::new());
        assert!(serde_json::from_str::<GatePolicy>(r#"{"aprovals": []}"#).is_err());
        assert_eq!(
            GatePolicy::default(),
            serde_json::from_str("{}").expect("empty")
        );
    }

    #[test]
    fn the_verdict_is_the_worst_condition() {
        let c = |status| Condition {
            key: "k".into(),
            status,
            reason: String::new(),
        };
        assert_eq!(Verdict::of(&[]), Verdict::Open);
        assert_eq!(
            Verdict::of(&[c(ConditionStatus::Pass), c(ConditionStatus::Waiting)]),
            Verdict::Waiting
        );
        assert_eq!(
            Verdict::of(&[c(ConditionStatus::Fail), c(ConditionStatus::Waiting)]),
            Verdict::Blocked
        );
        for s in PromotionState::ALL {
            assert_eq!(PromotionState::parse(s.as_str()), Some(s));
        }
    }
}
