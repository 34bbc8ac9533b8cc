//! Teams, systems, services and the dependency graph between services.
//!
//! Rules: slugs are unique and never change (they are the public identity in URLs and APIs);
//! things are archived, never deleted, so history that points at them stays whole; a team that
//! still owns live services cannot be archived; a service cannot depend on itself, while
//! dependency cycles are allowed and reported on the services that form them.

pub mod model;
pub mod repo;
pub mod routes;
