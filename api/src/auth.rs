//! Who is signed in, and the API tokens they hand to pipelines.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The signed-in person, as the identity provider last described them, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub display_name: String,
    pub email: Option<String>,
    /// The directory (tenant) id, `tid`.
    pub tenant_id: String,
    /// The person's immutable object id in that directory, `oid`.
    pub object_id: String,
    /// App roles from the `roles` claim, as sent.
    pub roles: Vec<String>,
    /// Group object ids from the `groups` claim.
    pub groups: Vec<String>,
    /// True when the token said the person is in too many groups to list (the groups-overage
    /// marker): group-based rights are then missing until the groups are looked up.
    pub groups_overage: bool,
    /// The roles Portolan gives this person (from app roles and groups), e.g. `developer`,
    /// `approver@prod`.
    pub grants: Vec<String>,
    /// What those roles allow, e.g. `read`, `deployments:write`, `audit:read`.
    pub permissions: Vec<String>,
    /// The scopes this person may give an API token (a token never does more than its owner).
    #[serde(default)]
    pub token_scopes: Vec<String>,
    /// Things the person should know about their access, in words (e.g. why group-based roles
    /// are missing).
    pub notices: Vec<String>,
    /// True while the development sign-in is on: anyone who reaches this Portolan can act as
    /// anyone.
    pub development_sign_in: bool,
    /// Send it back as `x-csrf-token` with every change made with this session's cookie.
    pub csrf_token: String,
}

impl Me {
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// Whether a token can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

/// An API token as listed: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to recognise it (`ptl_AbCd1234`).
    pub prefix: String,
    /// `read`, `catalog:write`, `deployments:write`, `promotions:write`; every scope reads.
    pub scopes: Vec<String>,
    /// Who created it; the token never does more than they may.
    pub owner_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used_at: Option<OffsetDateTime>,
    /// Revoked wins over expired.
    pub status: TokenStatus,
}

/// A new API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// What it is for, e.g. `payments-service CI`; 1–100 characters.
    pub name: String,
    /// At least one of `read`, `catalog:write`, `deployments:write`, `promotions:write`; only
    /// scopes your own roles allow.
    pub scopes: Vec<String>,
    /// Days until it expires, 1–366 (default 90).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// The answer to creating a token: the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    /// Send as `Authorization: Bearer <token>`. Portolan keeps only its hash: copy it now.
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}
