//! Deployments of a service's version into an environment, with the commits each one carries.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{EnvironmentRef, ServiceRef};

/// queued → in_progress → succeeded | failed; succeeded → rolled_back. The server refuses any
/// other move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    RolledBack,
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 5] = [
        Self::Queued,
        Self::InProgress,
        Self::Succeeded,
        Self::Failed,
        Self::RolledBack,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// A status the deployment can still move on from.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed | Self::RolledBack)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeploymentKind {
    Normal,
    Hotfix,
    Rollback,
}

impl DeploymentKind {
    pub const ALL: [DeploymentKind; 3] = [Self::Normal, Self::Hotfix, Self::Rollback];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Hotfix => "hotfix",
            Self::Rollback => "rollback",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An incident a deployment is linked to, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentLinkRef {
    pub incident_id: i64,
    /// `INC-<id>`.
    pub reference: String,
    /// `caused_by` or `fixed_by`.
    pub relation: String,
}

/// A commit a deployment carries to its environment for the first time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub sha: String,
    pub author: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub committed_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub id: i64,
    pub service: ServiceRef,
    pub environment: EnvironmentRef,
    pub version: String,
    pub commit_sha: Option<String>,
    pub status: DeploymentStatus,
    pub kind: DeploymentKind,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// The person or pipeline that deployed.
    pub deployed_by: Option<String>,
    pub pipeline_url: Option<String>,
    /// With `external_id`, what makes a re-sent event idempotent.
    pub source: String,
    pub external_id: Option<String>,
    pub changes: Vec<Change>,
    /// Incidents a person linked this deployment to, as their cause or their fix.
    #[serde(default)]
    pub incidents: Vec<IncidentLinkRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    /// Slug of the service.
    pub service: String,
    /// Slug of the environment.
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    /// Defaults to `succeeded`: the common case of a pipeline recording what it just did.
    pub status: Option<DeploymentStatus>,
    pub kind: Option<DeploymentKind>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// Defaults to now when `status` is final.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub deployed_by: Option<String>,
    pub pipeline_url: Option<String>,
    /// Who sends the event (`github-actions`, `argocd`, …); defaults to `api`.
    pub source: Option<String>,
    /// The sender's own id for this deployment. A second event with the same `source` and
    /// `external_id` returns the deployment already recorded instead of a duplicate.
    pub external_id: Option<String>,
    #[serde(default)]
    pub changes: Vec<NewChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewChange {
    pub sha: String,
    pub author: String,
    #[serde(default)]
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub committed_at: OffsetDateTime,
}

/// Move a deployment to its next status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusUpdate {
    pub status: DeploymentStatus,
    /// When it happened; defaults to now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}
