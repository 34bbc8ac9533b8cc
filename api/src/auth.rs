//! Who is signed in.
use serde::{Deserialize, Serialize};

/// The signed-in person, as the identity provider last described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub display_name: String,
    pub email: Option<String>,
    /// The directory (tenant) id, `tid`.
    pub tenant_id: String,
    /// The person's immutable object id in that directory, `oid`.
    pub object_id: String,
    /// App roles from the `roles` claim.
    pub roles: Vec<String>,
    /// Group object ids from the `groups` claim.
    pub groups: Vec<String>,
    /// True when the token said the person is in too many groups to list (the groups-overage
    /// marker): group-based rights are then missing until the groups are looked up.
    pub groups_overage: bool,
    /// Send it back as `x-csrf-token` with every change made with this session's cookie.
    pub csrf_token: String,
}
