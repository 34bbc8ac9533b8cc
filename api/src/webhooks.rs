//! What the alert receivers (`/api/v1/webhooks/…`) answer: what a delivery did.
use serde::{Deserialize, Serialize};

/// What a delivery did to Portolan's incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    /// A new incident, in triage.
    Opened,
    /// An incident changed (state, severity, services) or its timeline grew.
    Updated,
    /// An open incident moved to resolved.
    Resolved,
    /// Nothing new: this delivery, or what it says, was processed before.
    Duplicate,
    /// Deliberately not acted on; `reason` says why.
    Ignored,
}

impl WebhookAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Updated => "updated",
            Self::Resolved => "resolved",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

/// The answer to a delivery (always 200 once it is authenticated and well-formed, so that the
/// sender does not retry what was understood).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookOutcome {
    /// The incident the delivery concerned (its number, `INC-<id>`), if any.
    pub incident: Option<i64>,
    pub action: WebhookAction,
    /// What happened, in words.
    pub reason: String,
}
