//! Blameless postmortems: one per incident, in Markdown section by section, rendered sanitised
//! ([`markdown`]), checked for language that blames people ([`language`]; it informs, never
//! blocks), reviewed by named people against a checklist, published, and changed after that only
//! through a new, visible revision; and the [`actions`] they commit to, followed through.

pub mod actions;
pub mod language;
pub mod markdown;
pub mod model;
pub mod routes;
