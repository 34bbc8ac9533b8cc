//! Notifications out: messages about promotion requests sent to Microsoft Teams and Slack
//! incoming webhooks, kept as an outbox so that a failed delivery is retried and visible.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationChannel {
    /// A Microsoft Teams incoming webhook (a Workflows "post to a channel when a webhook
    /// request is received" flow): an Adaptive Card.
    Teams,
    /// A Slack incoming webhook: Block Kit blocks with mrkdwn.
    Slack,
}

impl NotificationChannel {
    pub const ALL: [NotificationChannel; 2] = [Self::Teams, Self::Slack];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Teams => "teams",
            Self::Slack => "slack",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a message stands: `pending` (waiting for its next attempt), `sent`, or `failed` (given
/// up after its last attempt; an admin may send it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    Pending,
    Sent,
    Failed,
}

impl NotificationState {
    pub const ALL: [NotificationState; 3] = [Self::Pending, Self::Sent, Self::Failed];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One message to one channel about one change of a promotion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: i64,
    pub channel: NotificationChannel,
    /// `promotion.requested`, `promotion.approved`, `promotion.rejected`, `promotion.expired`,
    /// `promotion.cancelled` or `promotion.break_glass`.
    pub event: String,
    /// The promotion request it is about.
    pub promotion: i64,
    pub state: NotificationState,
    /// Attempts made so far.
    pub attempts: i32,
    /// While pending: when the next attempt is due.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The last failure, if any: the HTTP status and a short reason (never the webhook URL).
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub sent_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in NotificationChannel::ALL {
            assert_eq!(NotificationChannel::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).expect("json"),
                serde_json::json!(c.as_str())
            );
        }
        for s in NotificationState::ALL {
            assert_eq!(NotificationState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).expect("json"),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(NotificationState::parse("gave up"), None);
    }
}
