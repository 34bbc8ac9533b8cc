//! Postmortem text: Markdown rendered to safe HTML and to plain text. Pure functions, with no
//! HTTP or database in them.

pub mod markdown;
