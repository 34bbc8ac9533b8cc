//! The ordered pipeline of environments, and "what runs where".
//!
//! Rules: positions are 1..n without gaps among live environments, changed only by inserting or
//! moving (the others close up); archiving keeps an environment's history but drops it from the
//! pipeline. The version a service runs in an environment is its latest succeeded deployment
//! there — derived on read, never stored — and a version "differs" when the previous live
//! environment of the pipeline runs another one (or none). Each environment has a gate policy
//! ([`gate`]), kept as numbered versions.

pub mod gate;
pub mod model;
pub mod repo;
pub mod routes;
