//! Postmortem text: Markdown rendered to safe HTML and to plain text, and the blameless language
//! check that reads the plain text. Pure functions, with no HTTP or database in them.

pub mod language;
pub mod markdown;
