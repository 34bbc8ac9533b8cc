//! Environments form an ordered pipeline (dev → qa → staging → prod); "what runs where" is derived
//! from the deployments recorded into them.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ServiceRef, TeamRef};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Environment {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Place in the pipeline, 1 first.
    pub position: i32,
    pub is_production: bool,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Place in the pipeline (1 first). Absent: after the last environment. Environments at or
    /// after this place move one step later.
    pub position: Option<i32>,
    #[serde(default)]
    pub is_production: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Move to this place in the pipeline; the others close up around it.
    pub position: Option<i32>,
    pub is_production: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvironmentRef {
    pub slug: String,
    pub name: String,
    pub is_production: bool,
}

/// The version a service runs in one environment: its latest succeeded deployment there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployedVersion {
    pub deployment_id: i64,
    pub version: String,
    pub commit_sha: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub deployed_at: OffsetDateTime,
    /// Seconds between `deployed_at` and the answer's `as_of`.
    pub age_seconds: i64,
    /// True when the previous environment of the pipeline runs another version (or none):
    /// the change is still on its way, or this environment is ahead.
    pub differs_from_previous: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceVersions {
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// One entry per environment, in pipeline order.
    pub environments: Vec<EnvironmentVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvironmentVersion {
    pub environment: EnvironmentRef,
    /// Absent when the service was never deployed there successfully.
    pub current: Option<DeployedVersion>,
}

/// "What runs where": services × environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Matrix {
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// The columns, in pipeline order.
    pub environments: Vec<EnvironmentRef>,
    pub rows: Vec<MatrixRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatrixRow {
    pub service: ServiceRef,
    pub owner_team: TeamRef,
    pub tier: i16,
    /// One cell per column of `environments`, `null` where nothing was ever deployed.
    pub cells: Vec<Option<DeployedVersion>>,
}
