//! Deployments of a service's version into an environment, with the commits each one carries.
//!
//! Rules: a deployment moves queued → in_progress → succeeded | failed, and succeeded →
//! rolled_back; nothing else (re-sending the current status is a no-op, so pipelines may retry).
//! A deployment that has ended has a finish time; times are never in the future and a finish is
//! never before its start. `(source, external_id)` identifies a sender's event: the same event
//! sent twice records one deployment. Archived services and environments take no deployments.

pub mod model;
pub mod repo;
pub mod routes;
