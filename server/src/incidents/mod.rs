//! Incidents: declared by people (or opened by alerts), run through a fixed lifecycle, tied to the
//! services they hurt, with a timeline of everything that happened.
//!
//! Rules: the lifecycle is triage → investigating → identified → monitoring → resolved → closed,
//! plus declined and merged (see [`model::transition`]); moving to the current state changes
//! nothing. Times obey started ≤ detected ≤ mitigated ≤ resolved and are never in the future.
//! Every change writes the timeline and the audit log in its own transaction, with the incident
//! row locked; `expected_version` refuses an edit made on a stale copy.

pub mod candidates;
pub mod changes;
pub mod links;
pub mod model;
pub mod repo;
pub mod routes;
