//! Blameless postmortems: one per incident, written in Markdown section by section, reviewed by
//! named people against a checklist, published, and changed after that only through a new,
//! visible revision.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{PersonRef, Severity};

/// The sections of a postmortem, in order: key, heading, and what belongs there.
pub const SECTIONS: [(&str, &str, &str); 10] = [
    (
        "summary",
        "Summary",
        "What happened, in two or three sentences a newcomer understands.",
    ),
    (
        "impact",
        "Impact",
        "Who and what was affected, how badly and for how long (users, requests, revenue, data).",
    ),
    (
        "root_causes",
        "Root causes",
        "The conditions in the system that made this possible; usually more than one.",
    ),
    (
        "trigger",
        "Trigger",
        "What set it off at that moment (a deployment, a traffic spike, a certificate expiring).",
    ),
    (
        "resolution",
        "Resolution",
        "What stopped the impact, and what fixed it for good.",
    ),
    (
        "detection",
        "Detection",
        "How we found out, and how we could have found out sooner.",
    ),
    (
        "went_well",
        "What went well",
        "What helped: tools, practices, people working together.",
    ),
    (
        "went_wrong",
        "What went wrong",
        "Where the system, the process or the tools made things harder.",
    ),
    (
        "lucky",
        "Where we got lucky",
        "What could have made it worse and did not, this time.",
    ),
    (
        "supporting",
        "Supporting information",
        "Graphs, logs, links to dashboards, chat threads and tickets.",
    ),
];

/// What reviewers confirm before approving.
pub const REVIEW_QUESTIONS: [&str; 6] = [
    "The key facts are recorded: times, impact, severity, services.",
    "The impact is assessed completely, including who was affected and for how long.",
    "The root causes go deep enough that fixing them prevents a repeat.",
    "The action items fit the causes and have owners and sensible priorities.",
    "The people who need to know (owners, support, stakeholders) will see the outcome.",
    "It is blameless: it looks at systems and processes, not at who made a mistake.",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PostmortemState {
    Draft,
    InReview,
    Published,
}

impl PostmortemState {
    pub const ALL: [PostmortemState; 3] = [Self::Draft, Self::InReview, Self::Published];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Published => "published",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A sentence the language check thinks puts blame on people, with a system-focused suggestion.
/// It informs; it never blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LanguageFlag {
    /// The section key (`root_causes`, …).
    pub section: String,
    pub sentence: String,
    /// The words that drew the flag.
    pub matched: String,
    /// e.g. `human_error`, `person_as_cause`.
    pub rule: String,
    pub why: String,
    pub suggestion: String,
}

/// A named reviewer and whether they approved the current text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reviewer {
    pub person: PersonRef,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub approved_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Postmortem {
    pub incident_id: i64,
    pub incident_reference: String,
    pub incident_title: String,
    pub severity: Severity,
    pub state: PostmortemState,
    /// Markdown by section key (every key of [`SECTIONS`]).
    pub sections: BTreeMap<String, String>,
    /// The same, rendered to sanitised HTML.
    pub rendered: BTreeMap<String, String>,
    /// What the language check noticed, section by section.
    pub flags: Vec<LanguageFlag>,
    pub reviewers: Vec<Reviewer>,
    /// What the last reviewer who asked for changes said.
    pub review_note: String,
    pub author: String,
    /// Changes with every save; send it back as `base_version`.
    pub version: i32,
    /// The published revision shown (0 while never published).
    pub revision: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub published_at: Option<OffsetDateTime>,
    /// By when policy wants it published (SEV1 and SEV2), if it applies.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub due_at: Option<OffsetDateTime>,
    pub overdue: bool,
}

/// Saving the text. A save based on an older version is refused (409) and nothing is lost: read
/// the current text, merge, and save again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostmortemSave {
    /// Only the sections sent change.
    pub sections: BTreeMap<String, String>,
    /// The `version` the edit started from.
    pub base_version: i32,
    /// Required once published: why this new revision.
    #[serde(default)]
    pub revision_reason: Option<String>,
}

/// Asking named people to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `<tenant id>:<object id>` of people who have signed in; not the one asking.
    pub reviewers: Vec<String>,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// `approve` or `request_changes`.
    pub decision: String,
    /// To approve, every question of [`REVIEW_QUESTIONS`] confirmed, in order.
    #[serde(default)]
    pub checklist: Vec<bool>,
    /// Needed when asking for changes.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A published revision, kept forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostmortemRevision {
    pub revision: i32,
    pub reason: String,
    pub published_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub sections: BTreeMap<String, String>,
}

/// Markdown to preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub markdown: String,
}

/// The preview: sanitised HTML and the language check's flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub html: String,
    pub flags: Vec<LanguageFlag>,
}

/// A line of the postmortem list: incidents that have one, or that policy says need one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostmortemSummary {
    pub incident_id: i64,
    pub incident_reference: String,
    pub incident_title: String,
    pub severity: Severity,
    /// `None`: not started.
    pub state: Option<PostmortemState>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub due_at: Option<OffsetDateTime>,
    pub overdue: bool,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub updated_at: Option<OffsetDateTime>,
}
