//! Action items: what an incident's postmortem commits the organisation to doing, owned by a team
//! (and, once someone picks it up, a person), due by a date, and followed until it is done or
//! consciously dropped.
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{PersonRef, Severity, TeamRef};

time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");

/// What an action item does about the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Prevent,
    Mitigate,
    Detect,
    Process,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [Self::Prevent, Self::Mitigate, Self::Detect, Self::Process];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prevent => "prevent",
            Self::Mitigate => "mitigate",
            Self::Detect => "detect",
            Self::Process => "process",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Prevent => "Prevent",
            Self::Mitigate => "Mitigate",
            Self::Detect => "Detect",
            Self::Process => "Process",
        }
    }
    /// Shown where a kind is chosen.
    pub fn definition(self) -> &'static str {
        match self {
            Self::Prevent => "Stops this from happening again (fix the cause, add a guard).",
            Self::Mitigate => {
                "Makes it hurt less when it happens (limits, fallbacks, faster rollback)."
            }
            Self::Detect => "Finds it sooner (alerts, dashboards, checks).",
            Self::Process => "Changes how people work (runbooks, reviews, training, on-call).",
        }
    }
}

/// How soon an action item matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionPriority {
    P1,
    P2,
    P3,
}

impl ActionPriority {
    pub const ALL: [ActionPriority; 3] = [Self::P1, Self::P2, Self::P3];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "p1",
            Self::P2 => "p2",
            Self::P3 => "p3",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    pub fn level(self) -> i16 {
        match self {
            Self::P1 => 1,
            Self::P2 => 2,
            Self::P3 => 3,
        }
    }
    pub fn from_level(level: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.level() == level)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }
    /// Shown where a priority is chosen.
    pub fn definition(self) -> &'static str {
        match self {
            Self::P1 => "Urgent: the incident can happen again any day until this is done.",
            Self::P2 => "Soon: a real risk, but something else holds it back for now.",
            Self::P3 => "When possible: an improvement worth making.",
        }
    }
    /// The due date when none is given: this many days after the item is created.
    pub fn default_due_days(self) -> i64 {
        match self {
            Self::P1 => 14,
            Self::P2 => 30,
            Self::P3 => 90,
        }
    }
}

/// Where an action item stands. `done` and `wont_do` close it; a closed item can be reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Open,
    InProgress,
    Done,
    WontDo,
}

impl ActionState {
    pub const ALL: [ActionState; 4] = [Self::Open, Self::InProgress, Self::Done, Self::WontDo];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::WontDo => "wont_do",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::InProgress => "In progress",
            Self::Done => "Done",
            Self::WontDo => "Won't do",
        }
    }
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Done | Self::WontDo)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionItem {
    pub id: i64,
    /// `AI-<id>`.
    pub reference: String,
    pub incident_id: i64,
    pub incident_reference: String,
    pub incident_title: String,
    pub incident_severity: Severity,
    pub title: String,
    /// Markdown-free plain text: what exactly, and how we will know it is done.
    pub details: String,
    pub kind: ActionKind,
    pub priority: ActionPriority,
    pub state: ActionState,
    /// Why it was closed as won't do, or what was done (optional for done).
    pub state_note: String,
    /// The team accountable for it.
    pub team: TeamRef,
    /// The person doing it, once someone has picked it up.
    pub assignee: Option<PersonRef>,
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due_on: Date,
    /// A ticket in the team's own tracker, if there is one.
    pub ticket_url: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub closed_at: Option<OffsetDateTime>,
    /// Open past its due date (UTC).
    pub overdue: bool,
    /// Whole days since it was created, until it was closed.
    pub age_days: i64,
    /// The states it may move to now.
    pub moves: Vec<ActionState>,
    /// Changes with every change; send it back as `expected_version`.
    pub version: i32,
}

/// A new action item on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewActionItem {
    pub title: String,
    #[serde(default)]
    pub details: Option<String>,
    /// `prevent`, `mitigate`, `detect` or `process`.
    pub kind: String,
    /// `p1`, `p2` or `p3`.
    pub priority: String,
    /// The slug of the team accountable.
    pub team: String,
    /// `<tenant id>:<object id>` of a person who has signed in.
    #[serde(default)]
    pub assignee: Option<String>,
    /// `YYYY-MM-DD`; by default 14, 30 or 90 days from today for P1, P2, P3.
    #[serde(default)]
    pub due_on: Option<String>,
    /// An http(s) link to a ticket.
    #[serde(default)]
    pub ticket_url: Option<String>,
}

/// A change to an action item: only the fields sent change; `null` clears `assignee` or
/// `ticket_url`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionItemPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub assignee: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<String>,
    #[serde(
        default,
        with = "crate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ticket_url: Option<Option<String>>,
    /// `open`, `in_progress`, `done` or `wont_do` (one of the item's `moves`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Needed to close as `wont_do`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_note: Option<String>,
    /// The `version` you last saw: the change is refused (409) if someone changed it since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i32>,
}

/// Open items by age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgeBucket {
    /// `under 7 days`, `7–30 days`, …
    pub label: String,
    pub open: i64,
}

/// One week of the trend (weeks start on Monday, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendWeek {
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub week_start: Date,
    /// Created that week.
    pub opened: i64,
    /// Closed (done or won't do) that week.
    pub closed: i64,
    /// Still open at the end of the week.
    pub open_at_end: i64,
    /// Open and past due at the end of the week.
    pub overdue_at_end: i64,
}

/// The follow-through figures of a set of action items (one team's, or everyone's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionFigures {
    pub open: i64,
    pub in_progress: i64,
    pub overdue: i64,
    /// Open and due in the next 7 days.
    pub due_soon: i64,
    pub closed_last_30_days: i64,
    pub median_open_age_days: Option<i64>,
    pub oldest_open_days: Option<i64>,
    /// Median days from created to done, over the last 90 days.
    pub median_days_to_done: Option<i64>,
    /// Of the items done in the last 90 days, the share done by their due date (`None` when
    /// none was).
    pub on_time_percent: Option<i64>,
}

/// Follow-through of one team, as a line of the organisation's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamFollowThrough {
    pub team: TeamRef,
    #[serde(flatten)]
    pub figures: ActionFigures,
}

/// How well action items are followed through, for one team or the whole organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowThrough {
    /// The team, or `None` for the whole organisation.
    pub team: Option<TeamRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    #[serde(flatten)]
    pub figures: ActionFigures,
    pub ages: Vec<AgeBucket>,
    /// The last 12 weeks, oldest first.
    pub trend: Vec<TrendWeek>,
    /// Every team with action items (the organisation's view only), most overdue first.
    pub teams: Vec<TeamFollowThrough>,
    /// The open items, overdue first, then by due date.
    pub items: Vec<ActionItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_their_names() {
        for k in ActionKind::ALL {
            assert_eq!(ActionKind::parse(k.as_str()), Some(k));
        }
        for p in ActionPriority::ALL {
            assert_eq!(ActionPriority::parse(p.as_str()), Some(p));
            assert_eq!(ActionPriority::from_level(p.level()), Some(p));
        }
        for s in ActionState::ALL {
            assert_eq!(ActionState::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).expect("serde");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(ActionKind::parse("fix"), None);
    }

    #[test]
    fn a_patch_tells_absent_from_null() {
        let p: ActionItemPatch = serde_json::from_str(r#"{"assignee": null}"#).expect("serde");
        assert_eq!(p.assignee, Some(None));
        assert_eq!(p.ticket_url, None);
        let json = serde_json::to_value(&p).expect("serde");
        assert_eq!(json, serde_json::json!({"assignee": null}));
        assert!(serde_json::from_str::<ActionItemPatch>(r#"{"owner": "x"}"#).is_err());
    }

    #[test]
    fn dates_are_plain_iso_days() {
        let w = TrendWeek {
            week_start: time::macros::date!(2026 - 11 - 16),
            opened: 1,
            closed: 0,
            open_at_end: 3,
            overdue_at_end: 1,
        };
        let json = serde_json::to_value(&w).expect("serde");
        assert_eq!(json["week_start"], "2026-11-16");
        assert_eq!(serde_json::from_value::<TrendWeek>(json).expect("serde"), w);
    }
}
