//! The audit log: who changed what, when, from what to what.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Every kind of record the audit log speaks of (`target_kind`). The server refuses to record
/// any other, so a filter can offer exactly these.
pub const TARGET_KINDS: [&str; 12] = [
    "team",
    "system",
    "service",
    "dependency",
    "environment",
    "deployment",
    "incident",
    "action_item",
    "promotion",
    "notification",
    "api_token",
    "database",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Token,
    System,
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Position in the hash chain, 1 first.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub actor_name: String,
    /// `<target kind>.<verb>`, e.g. `service.update`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    /// Hex SHA-256 of this record and the previous one's hash.
    pub hash: String,
}
