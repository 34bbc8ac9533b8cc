//! Live updates: what the server tells open browsers when a change was committed.
//!
//! An event names what changed (its topic), not what it became: no record bodies and nothing
//! secret. Whoever receives one reads the record again through the API, which applies the usual
//! permissions.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most topics one event stream follows.
pub const MAX_TOPICS: usize = 20;
/// The longest topic taken.
pub const MAX_TOPIC_LEN: usize = 64;
/// The `kind` of the event that says events may have been missed: read everything again.
pub const RESYNC: &str = "resync";

/// Something changed. Topics name a record (`incident:12`, `postmortem:12`, `promotion:5`) or a
/// list (`incidents`, `action_items`, `promotions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    /// What changed: `incident:12`, `incidents`, … (`*` for a `resync`).
    pub topic: String,
    /// What happened, e.g. `incident.note`, `action_item.update`, or `resync`: events may have
    /// been missed (the stream fell behind, or the server lost its database connection for a
    /// moment), so read everything shown again.
    pub kind: String,
    /// The number of the record that changed, when there is one.
    pub id: Option<i64>,
    /// When the change was made.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl LiveEvent {
    pub fn new(topic: impl Into<String>, kind: impl Into<String>, id: Option<i64>) -> Self {
        Self {
            topic: topic.into(),
            kind: kind.into(),
            id,
            at: OffsetDateTime::now_utc(),
        }
    }

    /// Events may have been missed: whoever follows anything reads it again.
    pub fn resync() -> Self {
        Self::new("*", RESYNC, None)
    }

    pub fn is_resync(&self) -> bool {
        self.kind == RESYNC
    }
}

/// Whether `topic` is a topic: lowercase letters and `_`, optionally `:` and a number
/// (`incidents`, `incident:12`, `action_items`).
pub fn is_topic(topic: &str) -> bool {
    if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
        return false;
    }
    let (name, number) = match topic.split_once(':') {
        Some((n, d)) => (n, Some(d)),
        None => (topic, None),
    };
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && number.is_none_or(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The topic of one record: `incident:12`.
pub fn topic_of(name: &str, id: i64) -> String {
    format!("{name}:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_names_with_an_optional_number() {
        for ok in [
            "incidents",
            "incident:12",
            "action_items",
            "promotion:5",
            "a:0",
        ] {
            assert!(is_topic(ok), "{ok}");
        }
        for bad in [
            "",
            "Incidents",
            "incident:",
            ":12",
            "incident:12:3",
            "incident:-1",
            "incident:1a",
            "inc-idents",
            "incident 12",
            "*",
            &"a".repeat(MAX_TOPIC_LEN + 1),
        ] {
            assert!(!is_topic(bad), "{bad}");
        }
        assert_eq!(topic_of("incident", 12), "incident:12");
    }

    #[test]
    fn events_travel_as_small_json_with_rfc3339_times() {
        let e = LiveEvent {
            at: OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("time"),
            ..LiveEvent::new("incident:12", "incident.note", Some(12))
        };
        let json = serde_json::to_string(&e).expect("json");
        assert_eq!(
            json,
            r#"{"topic":"incident:12","kind":"incident.note","id":12,"at":"2026-11-18T11:06:40Z"}"#
        );
        assert_eq!(serde_json::from_str::<LiveEvent>(&json).expect("back"), e);
        assert!(LiveEvent::resync().is_resync());
    }
}
