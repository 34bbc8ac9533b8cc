//! Action items: what an incident's postmortem commits to doing. A team is accountable for each
//! item and a person may pick it up; it is due by a date (by default from its priority) and ends
//! done or consciously dropped with a reason. The follow-through figures show, per team and for
//! the organisation, what is open and overdue, how old it is, and the trend.
//!
//! Rules: open ⇄ in progress → done | won't do, and a closed item only reopens (see
//! [`model::check_move`]); items are added by those who run incidents and moved by anyone who
//! takes part in them. Every change is one transaction with the item row locked and an audit
//! record; `expected_version` refuses a change made on a stale copy.

pub mod model;
pub mod repo;
pub mod routes;
