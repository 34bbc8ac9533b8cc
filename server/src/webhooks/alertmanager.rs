//! Prometheus Alertmanager's webhook (payload version 4), and what a delivery says about its alert
//! group: title, severity, services, the alerts firing and resolved. No I/O.
//!
//! Severity: the label `portolan_severity` (`sev1`…`sev4`) decides where it is set; otherwise the
//! conventional `severity` label maps `critical` and `page` to SEV2, `error` and `warning` to SEV3,
//! `info` to SEV4 (case-insensitive). SEV1 (many customers hurt) is only ever set on purpose, by
//! that label or by a person. With neither label, or another value, an alert is SEV3. A group is as
//! severe as its worst alert.

use std::collections::BTreeMap;

use portolan_api::Severity;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::{AppError, Problems};

/// Label (or annotation) names to values.
pub type Labels = BTreeMap<String, String>;

/// The label naming the Portolan service an alert is about (its slug).
pub const SERVICE_LABEL: &str = "service";
/// The label that sets the severity outright: `sev1`…`sev4`.
pub const SEVERITY_OVERRIDE_LABEL: &str = "portolan_severity";
/// The conventional severity label of alerting rules.
pub const SEVERITY_LABEL: &str = "severity";
/// The severity of an alert whose labels say nothing usable.
pub const DEFAULT_SEVERITY: Severity = Severity::Sev3;

const MAX_TITLE: usize = 200;
const MAX_SUMMARY: usize = 20_000;
const MAX_GROUP_KEY: usize = 2_000;
/// Labels that set one alert apart from the rest of its group, shown at most.
const MAX_DISTINCT_LABELS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// What Alertmanager posts to a `webhook_config` receiver (version 4): one notification for a
/// group of alerts. Fields Portolan does not read are accepted and passed over.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// `4`.
    pub version: String,
    /// Identifies the group of alerts; one incident follows one group.
    pub group_key: String,
    /// How many alerts were left out by the receiver's `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` while any alert of the group fires, `resolved` when all have ended.
    pub status: AlertStatus,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// A link back to the Alertmanager.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert of the group.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    pub status: AlertStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// When it ended (resolved), or until when it is assumed to fire.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
    /// The rule (or other source) that raised it.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Identifies the alert by its labels; made from the labels when absent.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// One alert as Portolan keeps it: an alert is its fingerprint, and each time it starts to fire
/// again (a new `startsAt`) it is news again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSeen {
    pub fingerprint: String,
    pub starts_at: OffsetDateTime,
    /// When it ended; only for resolved alerts.
    pub ends_at: Option<OffsetDateTime>,
    pub firing: bool,
    /// Its name and what sets it apart in its group: `HighErrorRate {instance="api-1"}`.
    pub name: String,
    pub severity: Severity,
    /// The slug its `service` label names, if any.
    pub service: Option<String>,
}

/// What one delivery says about its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    /// The whole group has ended.
    pub resolved: bool,
    pub title: String,
    pub summary: String,
    pub alerts: Vec<AlertSeen>,
    /// Alerts left out of the delivery (`max_alerts`).
    pub truncated: u64,
    /// What was wrong with the labels, for the timeline.
    pub notes: Vec<String>,
}

impl Group {
    pub fn firing(&self) -> impl Iterator<Item = &AlertSeen> {
        self.alerts.iter().filter(|a| a.firing)
    }

    pub fn ended(&self) -> impl Iterator<Item = &AlertSeen> {
        self.alerts.iter().filter(|a| !a.firing)
    }

    /// When the first alert of the group started.
    pub fn started_at(&self) -> Option<OffsetDateTime> {
        self.alerts.iter().map(|a| a.starts_at).min()
    }

    /// When the last of its ended alerts ended.
    pub fn ended_at(&self) -> Option<OffsetDateTime> {
        self.ended().filter_map(|a| a.ends_at).max()
    }
}

/// The worst severity of these alerts (SEV1 is the worst), or `None` for no alerts.
pub fn worst<'a>(alerts: impl IntoIterator<Item = &'a AlertSeen>) -> Option<Severity> {
    alerts.into_iter().map(|a| a.severity).min()
}

/// The slugs named by these alerts' `service` labels, each once, in order.
pub fn services<'a>(alerts: impl IntoIterator<Item = &'a AlertSeen>) -> Vec<String> {
    let mut slugs: Vec<String> = alerts
        .into_iter()
        .filter_map(|a| a.service.clone())
        .collect();
    slugs.sort();
    slugs.dedup();
    slugs
}

/// The severity the labels ask for, and a note when `portolan_severity` holds something else
/// than a severity (then the `severity` label decides, as if it were absent).
pub fn severity_of(labels: &Labels) -> (Severity, Option<String>) {
    let mut note = None;
    if let Some(value) = labels.get(SEVERITY_OVERRIDE_LABEL) {
        match Severity::parse(value) {
            Some(s) => return (s, None),
            None => {
                note = Some(format!(
                    "The label {SEVERITY_OVERRIDE_LABEL}=\"{value}\" is not sev1, sev2, sev3 or sev4; it was ignored"
                ))
            }
        }
    }
    let mapped =
        labels
            .get(SEVERITY_LABEL)
            .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                "critical" | "page" => Some(Severity::Sev2),
                "error" | "warning" => Some(Severity::Sev3),
                "info" => Some(Severity::Sev4),
                _ => None,
            });
    (mapped.unwrap_or(DEFAULT_SEVERITY), note)
}

/// At most `max` characters, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The time as Postgres keeps it (to the microsecond), so that an alert read again is the same.
fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// A fingerprint made from the labels, for alerts sent without one.
fn fingerprint_of(labels: &Labels) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    super::signature::hex(&h.finalize()[..8])
}

/// `HighErrorRate {instance="api-1"}`: the alert's name and the labels it does not share with
/// its whole group.
fn name_of(labels: &Labels, common: &Labels) -> String {
    let name = labels.get("alertname").map_or("alert", String::as_str);
    let distinct: Vec<String> = labels
        .iter()
        .filter(|(k, v)| k.as_str() != "alertname" && common.get(*k) != Some(*v))
        .take(MAX_DISTINCT_LABELS)
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    let name = if distinct.is_empty() {
        name.to_string()
    } else {
        format!("{name} {{{}}}", distinct.join(", "))
    };
    cut(&name, 300)
}

fn first_text<'a>(candidates: impl IntoIterator<Item = Option<&'a String>>) -> Option<String> {
    candidates
        .into_iter()
        .flatten()
        .map(|t| t.trim())
        .find(|t| !t.is_empty())
        .map(str::to_string)
}

/// Reads a delivery: refuses (422, naming the field) what is not a version-4 notification with a
/// group key and alerts; labels it cannot use become notes, never a refusal, so that no alert is
/// lost over a label.
pub fn read(p: &AlertmanagerPayload) -> Result<Group, AppError> {
    let mut problems = Problems::default();
    if p.version.trim() != "4" {
        problems.add(
            "version",
            format!(
                "'{}' is not a webhook version Portolan reads; Alertmanager sends version 4",
                p.version
            ),
        );
    }
    let key = p.group_key.trim();
    if key.is_empty() {
        problems.add("groupKey", "must not be empty");
    } else if key.chars().count() > MAX_GROUP_KEY {
        problems.add(
            "groupKey",
            format!("must be at most {MAX_GROUP_KEY} characters"),
        );
    }
    if p.alerts.is_empty() {
        problems.add("alerts", "must list at least one alert");
    }
    problems.finish()?;

    let mut notes = Vec::new();
    let alerts: Vec<AlertSeen> = p
        .alerts
        .iter()
        .map(|a| {
            // An alert's labels include the group's common ones; a sparse sender may leave them out.
            let mut labels = p.common_labels.clone();
            labels.extend(a.labels.clone());
            let (severity, note) = severity_of(&labels);
            notes.extend(note);
            let firing = a.status == AlertStatus::Firing;
            AlertSeen {
                fingerprint: a
                    .fingerprint
                    .as_deref()
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map_or_else(|| fingerprint_of(&labels), str::to_string),
                starts_at: micros(a.starts_at),
                ends_at: if firing { None } else { a.ends_at.map(micros) },
                firing,
                name: name_of(&labels, &p.common_labels),
                severity,
                service: labels
                    .get(SERVICE_LABEL)
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty()),
            }
        })
        .collect();
    notes.sort();
    notes.dedup();

    let first = p.alerts.first();
    let title = first_text([
        p.common_annotations.get("summary"),
        p.common_labels.get("alertname"),
        p.group_labels.get("alertname"),
        first.and_then(|a| a.annotations.get("summary")),
        first.and_then(|a| a.labels.get("alertname")),
    ])
    .unwrap_or_else(|| format!("Alert group {key}"));

    let mut summary = Vec::new();
    if let Some(d) = first_text([p.common_annotations.get("description")]) {
        summary.push(d);
    }
    if let Some(r) = first_text([p.common_annotations.get("runbook_url")]) {
        summary.push(format!("Runbook: {r}"));
    }
    if !p.external_url.trim().is_empty() {
        summary.push(format!("Alertmanager: {}", p.external_url.trim()));
    }
    Ok(Group {
        key: key.to_string(),
        resolved: p.status == AlertStatus::Resolved,
        title: cut(&title, MAX_TITLE),
        summary: cut(&summary.join("\n\n"), MAX_SUMMARY),
        alerts,
        truncated: p.truncated_alerts,
        notes,
    })
}

/// `A, B and 3 more`: names for a timeline entry, at most `max` of them.
pub fn list(names: &[&str], max: usize) -> String {
    let shown = names
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(max) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;
    use serde_json::json;
    use time::macros::datetime;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Shaped like the example of Alertmanager's documentation: two alerts of one group.
    fn payload() -> serde_json::Value {
        json!({
            "version": "4",
            "groupKey": "{}/{severity=\"critical\"}:{alertname=\"HighErrorRate\"}",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "portolan",
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {"alertname": "HighErrorRate", "job": "checkout", "severity": "critical",
                             "service": "checkout-api"},
            "commonAnnotations": {"summary": "Checkout answers 5xx",
                                  "description": "More than 5% of requests fail.",
                                  "runbook_url": "https://runbooks.example.com/checkout"},
            "externalURL": "http://alertmanager.example.com:9093",
            "alerts": [
                {"status": "firing",
                 "labels": {"alertname": "HighErrorRate", "job": "checkout", "severity": "critical",
                            "service": "checkout-api", "instance": "api-1:8080"},
                 "annotations": {"summary": "Checkout answers 5xx"},
                 "startsAt": "2026-11-22T09:52:26.739266876+02:00",
                 "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=errors",
                 "fingerprint": "1a30ba71cca2921f"},
                {"status": "resolved",
                 "labels": {"alertname": "HighErrorRate", "job": "checkout", "severity": "critical",
                            "service": "checkout-api", "instance": "api-2:8080"},
                 "annotations": {"summary": "Checkout answers 5xx"},
                 "startsAt": "2026-11-22T07:50:00Z",
                 "endsAt": "2026-11-22T08:10:00Z",
                 "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=errors",
                 "fingerprint": "c6eadffa33fcdf37"}
            ]
        })
    }

    fn group(v: serde_json::Value) -> Result<Group, AppError> {
        let p: AlertmanagerPayload = parse_json(v.to_string().as_bytes())?;
        read(&p)
    }

    #[test]
    fn a_documented_notification_reads_as_its_group() {
        let g = group(payload()).expect("reads");
        assert_eq!(
            g.key,
            "{}/{severity=\"critical\"}:{alertname=\"HighErrorRate\"}"
        );
        assert!(!g.resolved);
        assert_eq!(g.title, "Checkout answers 5xx");
        assert_eq!(
            g.summary,
            "More than 5% of requests fail.\n\nRunbook: https://runbooks.example.com/checkout\n\n\
             Alertmanager: http://alertmanager.example.com:9093"
        );
        assert_eq!(g.alerts.len(), 2);
        let firing: Vec<&str> = g.firing().map(|a| a.name.as_str()).collect();
        assert_eq!(firing, ["HighErrorRate {instance=\"api-1:8080\"}"]);
        assert_eq!(g.alerts[0].fingerprint, "1a30ba71cca2921f");
        assert_eq!(g.alerts[0].ends_at, None, "a firing alert has not ended");
        assert_eq!(g.alerts[1].ends_at, Some(datetime!(2026-11-22 08:10 UTC)));
        assert_eq!(g.started_at(), Some(datetime!(2026-11-22 07:50 UTC)));
        assert_eq!(g.ended_at(), Some(datetime!(2026-11-22 08:10 UTC)));
        assert_eq!(worst(&g.alerts), Some(Severity::Sev2));
        assert_eq!(services(&g.alerts), ["checkout-api"]);
        assert!(g.notes.is_empty());
    }

    #[test]
    fn severity_comes_from_the_labels_with_an_override() {
        let sev = |pairs: &[(&str, &str)]| severity_of(&labels(pairs)).0;
        assert_eq!(sev(&[("severity", "critical")]), Severity::Sev2);
        assert_eq!(sev(&[("severity", "Page")]), Severity::Sev2);
        assert_eq!(sev(&[("severity", "warning")]), Severity::Sev3);
        assert_eq!(sev(&[("severity", "error")]), Severity::Sev3);
        assert_eq!(sev(&[("severity", "info")]), Severity::Sev4);
        assert_eq!(sev(&[("severity", "whatever")]), Severity::Sev3);
        assert_eq!(sev(&[]), Severity::Sev3);
        assert_eq!(
            sev(&[("severity", "info"), ("portolan_severity", "SEV1")]),
            Severity::Sev1
        );
        let (s, note) = severity_of(&labels(&[
            ("severity", "warning"),
            ("portolan_severity", "sev9"),
        ]));
        assert_eq!(s, Severity::Sev3, "a bad override falls back to severity");
        assert!(
            note.expect("a note").contains("portolan_severity=\"sev9\""),
            "the note names it"
        );
    }

    #[test]
    fn the_worst_alert_sets_the_group_severity_and_services_are_collected() {
        let mut v = payload();
        v["alerts"][1]["labels"]["portolan_severity"] = json!("sev1");
        v["alerts"][1]["labels"]["service"] = json!("Payment-Gateway");
        let g = group(v).expect("reads");
        assert_eq!(worst(&g.alerts), Some(Severity::Sev1));
        assert_eq!(worst(g.firing()), Some(Severity::Sev2));
        assert_eq!(services(&g.alerts), ["checkout-api", "payment-gateway"]);
        assert_eq!(worst(&[]), None);
    }

    #[test]
    fn the_title_falls_back_to_the_alert_name_and_is_cut_to_size() {
        let mut v = payload();
        v["commonAnnotations"] = json!({});
        assert_eq!(group(v.clone()).expect("reads").title, "HighErrorRate");
        v["commonLabels"] = json!({});
        v["groupLabels"] = json!({});
        v["alerts"][0]["annotations"] = json!({"summary": "  "});
        assert_eq!(
            group(v.clone()).expect("reads").title,
            "HighErrorRate",
            "the first alert's name"
        );
        v["alerts"][0]["labels"] = json!({});
        assert!(
            group(v.clone())
                .expect("reads")
                .title
                .starts_with("Alert group {}")
        );
        v["commonAnnotations"] = json!({"summary": "x".repeat(500)});
        let title = group(v).expect("reads").title;
        assert_eq!(title.chars().count(), 200);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn an_alert_without_a_fingerprint_gets_one_from_its_labels() {
        let mut v = payload();
        v["alerts"][0]
            .as_object_mut()
            .expect("alert")
            .remove("fingerprint");
        let a = group(v.clone()).expect("reads").alerts[0]
            .fingerprint
            .clone();
        assert_eq!(a.len(), 16);
        assert_eq!(a, group(v.clone()).expect("reads").alerts[0].fingerprint);
        v["alerts"][0]["labels"]["instance"] = json!("api-9:8080");
        assert_ne!(a, group(v).expect("reads").alerts[0].fingerprint);
    }

    #[test]
    fn what_is_not_a_version_4_notification_is_refused_by_field() {
        let fields = |v: serde_json::Value| match group(v) {
            Err(AppError::Validation(f)) => f.into_iter().map(|f| f.field).collect::<Vec<_>>(),
            other => panic!("expected a validation error, got {other:?}"),
        };
        let mut v = payload();
        v["version"] = json!("3");
        v["groupKey"] = json!(" ");
        v["alerts"] = json!([]);
        assert_eq!(fields(v), ["version", "groupKey", "alerts"]);
        let mut v = payload();
        v["alerts"][1]["startsAt"] = json!("yesterday");
        assert_eq!(fields(v), ["alerts[1].startsAt"]);
        let mut v = payload();
        v["status"] = json!("burning");
        assert_eq!(fields(v), ["status"]);
        let mut v = payload();
        v.as_object_mut().expect("object").remove("groupKey");
        assert_eq!(
            fields(v),
            ["body"],
            "a missing field is named in the message"
        );
    }

    #[test]
    fn lists_stay_short() {
        assert_eq!(list(&["a", "b"], 3), "a, b");
        assert_eq!(list(&["a", "b", "c", "d"], 2), "a, b and 2 more");
        assert_eq!(cut("  abc ", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }
}
