//! The audit log: every change made through the API is recorded in the same transaction as the
//! change, with its actor, action, target, before and after, and request id.
//!
//! Rules: records are append-only — the database refuses UPDATE, DELETE and TRUNCATE on them — and
//! hash-chained, so an edited or removed record is found by `portolan audit verify`. A request that
//! changes nothing (a retried status, a re-sent deployment event) records nothing.

pub mod model;
pub mod repo;
pub mod routes;

pub use model::Actor;
pub use repo::{record, verify};
