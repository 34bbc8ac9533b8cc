//! PagerDuty's v3 webhooks, and what an event asks of the incident that follows a PagerDuty
//! incident. No I/O.
//!
//! Events: `incident.triggered` opens an incident (triage); `incident.acknowledged` moves it from
//! triage to investigating; `incident.resolved` resolves it; `incident.reopened` takes a resolved
//! one back to investigating; `incident.priority_updated` sets its severity; `incident.annotated`
//! adds PagerDuty's note to the timeline. Every other event is answered and ignored.
//!
//! Severity: priority P1 → SEV1, P2 → SEV2, P3 → SEV3, P4 and P5 → SEV4 (PagerDuty's standard
//! priorities; a priority named `SEV1`…`SEV4` is taken as it is). Without a priority, high urgency
//! → SEV2 and low → SEV3.

use portolan_api::Severity;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::alertmanager::cut;
use crate::error::{AppError, AppResult};
use crate::extract::parse_value_at;

const MAX_TITLE: usize = 200;
const MAX_NOTE: usize = 10_000;

/// What PagerDuty posts to a v3 webhook subscription: one event. Fields Portolan does not read
/// are accepted and passed over.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PagerdutyWebhook {
    pub event: PagerdutyEvent,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PagerdutyEvent {
    /// Unique per event: a re-delivery carries the same id.
    pub id: String,
    /// `incident.triggered`, `incident.acknowledged`, `incident.resolved`, `incident.reopened`,
    /// `incident.priority_updated`, `incident.annotated`, …
    pub event_type: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Who or what did it.
    #[serde(default)]
    pub agent: Option<PagerdutyReference>,
    /// Depends on `event_type`: an incident, or an incident note for `incident.annotated`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A reference to a PagerDuty object (a user, a service, a priority, an incident).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PagerdutyReference {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `event.data` of the incident events.
#[derive(Debug, Clone, Deserialize)]
struct IncidentData {
    id: String,
    #[serde(default)]
    number: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    service: Option<PagerdutyReference>,
    #[serde(default)]
    priority: Option<PagerdutyReference>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_at: Option<OffsetDateTime>,
}

/// `event.data` of `incident.annotated`.
#[derive(Debug, Clone, Deserialize)]
struct NoteData {
    incident: IncidentRef,
    content: String,
}

#[derive(Debug, Clone, Deserialize)]
struct IncidentRef {
    id: String,
}

/// What a triggered PagerDuty incident opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub title: String,
    pub severity: Severity,
    /// The PagerDuty service's name.
    pub service: Option<String>,
    /// A line for the timeline: number, priority, urgency, link.
    pub details: String,
    pub created_at: Option<OffsetDateTime>,
}

/// What an event asks of the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Trigger(Trigger),
    Acknowledge,
    Resolve,
    Reopen,
    /// `severity` is `None` for a priority that maps to none (named in `priority`).
    Priority {
        severity: Option<Severity>,
        priority: Option<String>,
    },
    Annotate {
        text: String,
    },
}

/// An event Portolan acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    /// The PagerDuty incident's id: one Portolan incident follows it.
    pub key: String,
    pub at: OffsetDateTime,
    /// Who did it, as PagerDuty names them.
    pub by: Option<String>,
    pub intent: Intent,
}

/// What a delivery is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Act(Event),
    /// Understood, and not acted on: the reason says why.
    Ignore {
        id: String,
        reason: String,
    },
}

/// P1 → SEV1, P2 → SEV2, P3 → SEV3, P4 and P5 → SEV4; `SEV1`…`SEV4` as they are; else `None`.
pub fn severity_of_priority(name: &str) -> Option<Severity> {
    match name.trim().to_ascii_uppercase().as_str() {
        "P1" => Some(Severity::Sev1),
        "P2" => Some(Severity::Sev2),
        "P3" => Some(Severity::Sev3),
        "P4" | "P5" => Some(Severity::Sev4),
        other => Severity::parse(other),
    }
}

/// Without a priority: high urgency → SEV2, anything else → SEV3.
pub fn severity_of_urgency(urgency: Option<&str>) -> Severity {
    match urgency.map(|u| u.trim().to_ascii_lowercase()).as_deref() {
        Some("high") => Severity::Sev2,
        _ => Severity::Sev3,
    }
}

fn nonempty(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn trigger(d: &IncidentData) -> Trigger {
    let priority = d
        .priority
        .as_ref()
        .and_then(|p| nonempty(p.summary.as_ref()));
    let severity = priority
        .as_deref()
        .and_then(severity_of_priority)
        .unwrap_or_else(|| severity_of_urgency(d.urgency.as_deref()));
    let number = d.number.map_or_else(|| d.id.clone(), |n| format!("#{n}"));
    let title =
        nonempty(d.title.as_ref()).unwrap_or_else(|| format!("PagerDuty incident {number}"));
    let mut details = format!("PagerDuty incident {number}");
    let about: Vec<String> = [
        priority.map(|p| format!("priority {p}")),
        nonempty(d.urgency.as_ref()).map(|u| format!("{u} urgency")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !about.is_empty() {
        details.push_str(&format!(" ({})", about.join(", ")));
    }
    let service = d
        .service
        .as_ref()
        .and_then(|s| nonempty(s.summary.as_ref()));
    if let Some(s) = &service {
        details.push_str(&format!(" on service '{s}'"));
    }
    if let Some(url) = nonempty(d.html_url.as_ref()) {
        details.push_str(&format!(": {url}"));
    }
    Trigger {
        title: cut(&title, MAX_TITLE),
        severity,
        service,
        details,
        created_at: d.created_at,
    }
}

/// Reads an event: what it asks of which incident, or why it is ignored. The data of the events
/// acted on must have its documented shape (422 naming the field otherwise).
pub fn read(w: &PagerdutyWebhook) -> AppResult<Reading> {
    let e = &w.event;
    let id = e.id.trim().to_string();
    if id.is_empty() {
        return Err(AppError::field("event.id", "must not be empty"));
    }
    let incident = || parse_value_at::<IncidentData>(&e.data, "event.data");
    let (key, intent) = match e.event_type.as_str() {
        "incident.triggered" => {
            let d = incident()?;
            (d.id.clone(), Intent::Trigger(trigger(&d)))
        }
        "incident.acknowledged" => (incident()?.id, Intent::Acknowledge),
        "incident.resolved" => (incident()?.id, Intent::Resolve),
        "incident.reopened" => (incident()?.id, Intent::Reopen),
        "incident.priority_updated" => {
            let d = incident()?;
            let priority = d
                .priority
                .as_ref()
                .and_then(|p| nonempty(p.summary.as_ref()));
            let severity = priority.as_deref().and_then(severity_of_priority);
            (d.id, Intent::Priority { severity, priority })
        }
        "incident.annotated" => {
            let d = parse_value_at::<NoteData>(&e.data, "event.data")?;
            (
                d.incident.id,
                Intent::Annotate {
                    text: d.content.trim().to_string(),
                },
            )
        }
        other => {
            return Ok(Reading::Ignore {
                id,
                reason: format!("Portolan does not act on {other} events"),
            });
        }
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        let at = if matches!(intent, Intent::Annotate { .. }) {
            "event.data.incident.id"
        } else {
            "event.data.id"
        };
        return Err(AppError::field(at, "must not be empty"));
    }
    let by = e.agent.as_ref().and_then(|a| nonempty(a.summary.as_ref()));
    let intent = match intent {
        Intent::Annotate { text } => Intent::Annotate {
            text: cut(
                &format!(
                    "Note in PagerDuty by {}: {text}",
                    by.as_deref().unwrap_or("someone")
                ),
                MAX_NOTE,
            ),
        },
        other => other,
    };
    Ok(Reading::Act(Event {
        id,
        key,
        at: e.occurred_at,
        by,
        intent,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;
    use serde_json::{Value, json};
    use time::macros::datetime;

    /// Shaped like the example in PagerDuty's documentation of v3 webhooks (the integration tests
    /// send it whole).
    fn webhook(event_type: &str) -> Value {
        json!({"event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-22T09:45:22.169Z",
            "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                      "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Tenex Engineer",
                      "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": {
                "id": "PGR0VU2", "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "number": 2, "status": "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-11-22T09:40:27Z",
                "title": "A little bump in the road",
                "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                            "self": "https://api.pagerduty.com/services/PF9KMXH",
                            "summary": "API Service", "type": "service_reference"},
                "priority": {"html_url": "https://acme.pagerduty.com/account/incident_priorities",
                             "id": "PSO75BM", "self": "https://api.pagerduty.com/priorities/PSO75BM",
                             "summary": "P1", "type": "priority_reference"},
                "urgency": "high",
                "resolve_reason": null
            }
        }})
    }

    fn reading(v: Value) -> AppResult<Reading> {
        read(&parse_json::<PagerdutyWebhook>(v.to_string().as_bytes())?)
    }

    fn event(v: Value) -> Event {
        match reading(v) {
            Ok(Reading::Act(e)) => e,
            other => panic!("expected an event to act on, got {other:?}"),
        }
    }

    #[test]
    fn a_triggered_incident_reads_with_its_priority_and_service() {
        let e = event(webhook("incident.triggered"));
        assert_eq!(e.id, "5ac64822-4adc-4fda-ade0-410becf0de4f");
        assert_eq!(e.key, "PGR0VU2");
        assert_eq!(e.at, datetime!(2026-11-22 09:45:22.169 UTC));
        assert_eq!(e.by.as_deref(), Some("Tenex Engineer"));
        let Intent::Trigger(t) = e.intent else {
            panic!("a trigger")
        };
        assert_eq!(t.title, "A little bump in the road");
        assert_eq!(t.severity, Severity::Sev1);
        assert_eq!(t.service.as_deref(), Some("API Service"));
        assert_eq!(
            t.details,
            "PagerDuty incident #2 (priority P1, high urgency) on service 'API Service': \
             https://acme.pagerduty.com/incidents/PGR0VU2"
        );
        assert_eq!(t.created_at, Some(datetime!(2026-11-22 09:40:27 UTC)));
    }

    #[test]
    fn priorities_and_urgency_map_to_severities() {
        assert_eq!(severity_of_priority("P1"), Some(Severity::Sev1));
        assert_eq!(severity_of_priority("p2"), Some(Severity::Sev2));
        assert_eq!(severity_of_priority("P3"), Some(Severity::Sev3));
        assert_eq!(severity_of_priority("P4"), Some(Severity::Sev4));
        assert_eq!(severity_of_priority("P5"), Some(Severity::Sev4));
        assert_eq!(severity_of_priority("SEV2"), Some(Severity::Sev2));
        assert_eq!(severity_of_priority("Critical"), None);
        assert_eq!(severity_of_urgency(Some("high")), Severity::Sev2);
        assert_eq!(severity_of_urgency(Some("low")), Severity::Sev3);
        assert_eq!(severity_of_urgency(None), Severity::Sev3);
        let mut v = webhook("incident.triggered");
        v["event"]["data"]["priority"] = Value::Null;
        v["event"]["data"]["urgency"] = json!("low");
        let Intent::Trigger(t) = event(v).intent else {
            panic!("a trigger")
        };
        assert_eq!(t.severity, Severity::Sev3);
        let mut v = webhook("incident.priority_updated");
        v["event"]["data"]["priority"]["summary"] = json!("P4");
        assert_eq!(
            event(v).intent,
            Intent::Priority {
                severity: Some(Severity::Sev4),
                priority: Some("P4".into())
            }
        );
    }

    #[test]
    fn each_lifecycle_event_reads_as_its_intent() {
        for (t, want) in [
            ("incident.acknowledged", Intent::Acknowledge),
            ("incident.resolved", Intent::Resolve),
            ("incident.reopened", Intent::Reopen),
        ] {
            assert_eq!(event(webhook(t)).intent, want, "{t}");
        }
        let note = json!({"event": {
            "id": "01BRB6ZP4M6T8ZG4X6BP63ZB9O", "event_type": "incident.annotated",
            "resource_type": "incident", "occurred_at": "2026-11-22T10:00:00Z",
            "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
            "client": null,
            "data": {"incident": {"html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                                  "id": "PGR0VU2", "summary": "A little bump in the road",
                                  "type": "incident_reference"},
                     "id": "P2LA89X", "content": "Rolled back the deploy.", "trimmed": false,
                     "type": "incident_note"}}});
        let e = event(note);
        assert_eq!(e.key, "PGR0VU2");
        assert_eq!(
            e.intent,
            Intent::Annotate {
                text: "Note in PagerDuty by Tenex Engineer: Rolled back the deploy.".into()
            }
        );
    }

    #[test]
    fn other_events_are_ignored_with_a_reason() {
        let Ok(Reading::Ignore { id, reason }) = reading(webhook("incident.escalated")) else {
            panic!("ignored")
        };
        assert_eq!(id, "5ac64822-4adc-4fda-ade0-410becf0de4f");
        assert_eq!(reason, "Portolan does not act on incident.escalated events");
        // Its data is not looked at.
        let mut v = webhook("service.updated");
        v["event"]["data"] = json!({"id": "PF9KMXH", "type": "service"});
        assert!(matches!(reading(v), Ok(Reading::Ignore { .. })));
    }

    #[test]
    fn malformed_events_name_the_field() {
        let field = |v: Value| match reading(v) {
            Err(AppError::Validation(f)) => f[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        };
        let mut v = webhook("incident.resolved");
        v["event"]["data"]["id"] = json!(42);
        assert_eq!(field(v), "event.data.id");
        let mut v = webhook("incident.triggered");
        v["event"]["data"]["created_at"] = json!("tuesday");
        assert_eq!(field(v), "event.data.created_at");
        let mut v = webhook("incident.triggered");
        v["event"]["occurred_at"] = json!("soon");
        assert_eq!(field(v), "event.occurred_at");
        let mut v = webhook("incident.acknowledged");
        v["event"]["data"]["id"] = json!("  ");
        assert_eq!(field(v), "event.data.id");
        let mut v = webhook("incident.acknowledged");
        v["event"]["id"] = json!("");
        assert_eq!(field(v), "event.id");
        let mut v = webhook("incident.annotated");
        v["event"]["data"] = json!({"content": "hi"});
        assert_eq!(field(v), "event.data");
    }
}
