//! Alerts open, update and resolve incidents: receivers for Prometheus Alertmanager's webhook and
//! PagerDuty's v3 webhooks (`/api/v1/webhooks/…`).
//!
//! Rules: these endpoints are not for people or API tokens. Each authenticates its sender with its
//! own secret (Alertmanager: a bearer token; PagerDuty: an HMAC-SHA256 signature of the raw body,
//! checked before the body is parsed), compared in constant time, and answers 503 while that
//! secret is not configured; a wrong or missing one gets 401 and nothing is written. A delivery is
//! processed once: its id (PagerDuty's event id; for Alertmanager, which sends none, the SHA-256
//! of the body) is stored in the same transaction as what it did, so a retried or concurrent
//! duplicate changes nothing. Deliveries about one alert wait for each other, and the incident row
//! is locked while it changes. Every change writes the timeline and the audit log; the actor is
//! the sender (a system actor, `alertmanager` or `pagerduty`). An understood delivery is answered
//! 200 with what it did, even when that is nothing, so that the sender does not retry it.

pub mod alertmanager;
pub mod pagerduty;
pub mod repo;
pub mod routes;
pub mod signature;

/// Where the receivers live: requests below it skip the people-and-tokens authentication.
pub const PATH_PREFIX: &str = "/api/v1/webhooks/";
