//! Incidents: declared by people or opened by alerts, run through a fixed lifecycle, tied to the
//! services they hurt and, by a person's explicit link, to the deployments that caused and fixed
//! them.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ServiceRef;

/// How bad an incident is. SEV1 is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Sev1, Self::Sev2, Self::Sev3, Self::Sev4];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sev1 => "sev1",
            Self::Sev2 => "sev2",
            Self::Sev3 => "sev3",
            Self::Sev4 => "sev4",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
    /// `SEV1`…`SEV4`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sev1 => "SEV1",
            Self::Sev2 => "SEV2",
            Self::Sev3 => "SEV3",
            Self::Sev4 => "SEV4",
        }
    }
    /// 1 for SEV1 … 4 for SEV4 (the database stores this).
    pub fn level(self) -> i16 {
        match self {
            Self::Sev1 => 1,
            Self::Sev2 => 2,
            Self::Sev3 => 3,
            Self::Sev4 => 4,
        }
    }
    pub fn from_level(level: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.level() == level)
    }
    /// What the level means, shown wherever a severity is chosen.
    pub fn definition(self) -> &'static str {
        match self {
            Self::Sev1 => {
                "Critical: a core service is down or data is at risk, for many customers. Everyone needed joins now."
            }
            Self::Sev2 => {
                "Major: a key feature is unavailable or badly degraded for some customers, or a SEV1 is close."
            }
            Self::Sev3 => {
                "Minor: limited or partial impact with a workaround; fix within working hours."
            }
            Self::Sev4 => {
                "Low: no customer impact yet (internal tools, a near miss, a risk to remove)."
            }
        }
    }
}

/// triage → investigating → identified → monitoring → resolved → closed, and declined (not an
/// incident after all) or merged (into another incident). The server refuses any other move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Triage,
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Closed,
    Declined,
    Merged,
}

impl IncidentState {
    pub const ALL: [IncidentState; 8] = [
        Self::Triage,
        Self::Investigating,
        Self::Identified,
        Self::Monitoring,
        Self::Resolved,
        Self::Closed,
        Self::Declined,
        Self::Merged,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
            Self::Declined => "declined",
            Self::Merged => "merged",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// Still being worked on: triage to monitoring.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Triage | Self::Investigating | Self::Identified | Self::Monitoring
        )
    }
    /// No move leads out of it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::Declined | Self::Merged)
    }
}

/// Where an incident came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentSource {
    Manual,
    Alertmanager,
    Pagerduty,
}

/// A person as Portolan knows them (they have signed in at least once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonRef {
    /// `<tenant id>:<object id>`.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    pub id: i64,
    /// `INC-<id>`, how people refer to it.
    pub reference: String,
    pub title: String,
    pub severity: Severity,
    pub state: IncidentState,
    /// What is known, in a few sentences (Markdown).
    pub summary: String,
    pub commander: Option<PersonRef>,
    /// The other roles taken, in the order of [`IncidentRole::ALL`].
    #[serde(default)]
    pub roles: Vec<RoleHolder>,
    pub services: Vec<ServiceRef>,
    /// The incident this one was merged into (state `merged`).
    pub merged_into: Option<i64>,
    pub source: IncidentSource,
    /// When the impact began.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub started_at: Option<OffsetDateTime>,
    /// When someone or something noticed.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub detected_at: Option<OffsetDateTime>,
    /// When the impact stopped (a workaround or fix in place).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub mitigated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub resolved_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub declared_at: OffsetDateTime,
    pub declared_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Changes with every edit; send it back as `expected_version` to refuse a stale edit.
    pub version: i32,
    /// The states it may move to from here.
    pub moves: Vec<IncidentState>,
}

/// The roles people take while an incident runs, besides its commander (who leads and decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentRole {
    OperationsLead,
    CommunicationsLead,
    Scribe,
}

impl IncidentRole {
    pub const ALL: [IncidentRole; 3] =
        [Self::OperationsLead, Self::CommunicationsLead, Self::Scribe];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OperationsLead => "operations_lead",
            Self::CommunicationsLead => "communications_lead",
            Self::Scribe => "scribe",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::OperationsLead => "Operations lead",
            Self::CommunicationsLead => "Communications lead",
            Self::Scribe => "Scribe",
        }
    }
    /// Shown where a role is given.
    pub fn definition(self) -> &'static str {
        match self {
            Self::OperationsLead => "Works on the system: diagnoses, changes, rolls back.",
            Self::CommunicationsLead => "Keeps stakeholders, support and customers informed.",
            Self::Scribe => "Keeps the timeline: what was seen, said and done, and when.",
        }
    }
}

/// Someone in a role on an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleHolder {
    pub role: IncidentRole,
    pub person: PersonRef,
}

/// Declaring an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// 1–200 characters.
    pub title: String,
    /// `sev1`…`sev4`.
    pub severity: String,
    #[serde(default)]
    pub summary: Option<String>,
    /// Slugs of the services affected.
    #[serde(default)]
    pub services: Vec<String>,
    /// `<tenant id>:<object id>` of someone who has signed in; default: nobody yet.
    #[serde(default)]
    pub commander: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// Default: now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub detected_at: Option<OffsetDateTime>,
}

/// Changing an incident: only the fields sent change; `null` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    /// Replaces the list of affected services.
    #[serde(default)]
    pub services: Option<Vec<String>>,
    #[serde(default, with = "crate::double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub commander: Option<Option<String>>,
    /// Roles to give (`<tenant id>:<object id>`) or take back (`null`), by role
    /// (`operations_lead`, `communications_lead`, `scribe`); roles not named stay as they are.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<std::collections::BTreeMap<String, Option<String>>>))]
    pub roles: Option<std::collections::BTreeMap<String, Option<String>>>,
    #[serde(default, with = "crate::double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Option<String>>,
    #[serde(default, with = "crate::double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub detected_at: Option<Option<String>>,
    #[serde(default, with = "crate::double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub mitigated_at: Option<Option<String>>,
    /// The `version` you last saw: the change is refused (409) if someone changed it since.
    #[serde(default)]
    pub expected_version: Option<i32>,
}

/// Moving an incident through its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentTransition {
    /// The state to move to.
    pub to: String,
    /// For `merged`: the incident it joins.
    #[serde(default)]
    pub merged_into: Option<i64>,
    /// Why, for the timeline (needed for `declined` and `merged`).
    #[serde(default)]
    pub note: Option<String>,
    /// When it happened, if not now (e.g. resolved ten minutes ago).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `declared`, `state`, `severity`, `change`, `note`, `link`, `unlink`, `alert`.
    pub kind: String,
    pub actor_name: String,
    /// A sentence for people ("Severity SEV3 → SEV2").
    pub text: String,
}

/// A person's note on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// 1–10,000 characters.
    pub text: String,
    /// When it happened, if not now (notes written after the fact).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

/// How a deployment and an incident are tied, in a person's judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// The deployment caused the incident.
    CausedBy,
    /// The deployment fixed (or mitigated) it.
    FixedBy,
}

impl LinkRelation {
    pub const ALL: [LinkRelation; 2] = [Self::CausedBy, Self::FixedBy];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CausedBy => "caused_by",
            Self::FixedBy => "fixed_by",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A deployment a person linked to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentLink {
    pub relation: LinkRelation,
    pub deployment: crate::Deployment,
    pub note: String,
    pub linked_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
}

/// Linking a deployment to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// `caused_by` or `fixed_by`.
    pub relation: String,
    /// Why, in a sentence (optional).
    #[serde(default)]
    pub note: Option<String>,
}

/// A deployment that may have caused or fixed an incident, with why Portolan thinks so. Portolan
/// only suggests: a person decides and links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkCandidate {
    pub relation: LinkRelation,
    /// 0–1, higher is likelier; for ordering, not a probability.
    pub score: f64,
    /// Each reason in words ("deployed to Checkout API, which this incident affects").
    pub reasons: Vec<String>,
    pub deployment: crate::Deployment,
}
