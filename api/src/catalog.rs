//! Teams, systems, services and the dependencies between services.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Services this team owns (archived ones excluded).
    pub service_count: i64,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// Lower-case letters, digits and dashes, 1–63 characters, starting with a letter or digit.
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct System {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub owner_team: Option<TeamRef>,
    pub service_count: i64,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSystem {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Slug of the owning team.
    pub owner_team: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Slug of the owning team; `null` clears it.
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub owner_team: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamRef {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemRef {
    pub slug: String,
    pub name: String,
}

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Experimental,
    Production,
    Deprecated,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 3] = [Self::Experimental, Self::Production, Self::Deprecated];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Experimental => "experimental",
            Self::Production => "production",
            Self::Deprecated => "deprecated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub owner_team: TeamRef,
    pub system: Option<SystemRef>,
    /// 1 is the most critical, 4 the least.
    pub tier: i16,
    pub lifecycle: Lifecycle,
    pub repository_url: Option<String>,
    pub runbook_url: Option<String>,
    pub tags: Vec<String>,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewService {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Slug of the owning team.
    pub owner_team: String,
    /// Slug of the system the service belongs to.
    pub system: Option<String>,
    /// 1 (most critical) to 4.
    pub tier: i16,
    pub lifecycle: Lifecycle,
    pub repository_url: Option<String>,
    pub runbook_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub owner_team: Option<String>,
    /// `null` takes the service out of its system.
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub system: Option<Option<String>>,
    pub tier: Option<i16>,
    pub lifecycle: Option<Lifecycle>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub repository_url: Option<Option<String>>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub runbook_url: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// How one service depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// A request waits for the answer (HTTP, gRPC).
    Sync,
    /// Messages or events through a queue or stream.
    Async,
    /// Shared data: a database, a bucket, a feed.
    Data,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Async => "async",
            Self::Data => "data",
        }
    }
}

/// Where Portolan learnt of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DependencySource {
    Declared,
    Imported,
    Observed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceRef {
    pub slug: String,
    pub name: String,
}

/// One edge of the dependency graph, seen from one of its ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyEdge {
    /// The service at the other end of the edge.
    pub service: ServiceRef,
    pub owner_team: TeamRef,
    pub tier: i16,
    pub kind: DependencyKind,
    pub source: DependencySource,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceDependencies {
    /// What this service depends on.
    pub dependencies: Vec<DependencyEdge>,
    /// What depends on this service.
    pub dependents: Vec<DependencyEdge>,
    /// Dependency cycles this service is part of, each as the list of slugs around the loop
    /// (starting and ending with this service). Cycles are allowed but worth knowing about.
    pub cycles: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DependencyInput {
    pub kind: DependencyKind,
    #[serde(default)]
    pub description: String,
}
