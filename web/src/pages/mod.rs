//! One module per page.

pub mod actions;
pub mod audit;
pub mod catalog;
pub mod deployments;
pub mod environments;
pub mod gate_policy;
pub mod incidents;
pub mod not_found;
pub mod postmortem;
pub mod promotions;
pub mod service;
pub mod tokens;

use leptos_router::params::ParamsMap;

/// A page URL from its path and query pairs, skipping empty values.
pub fn page_url(path: &str, query: &[(&str, Option<String>)]) -> String {
    let api = crate::api::api_url("", query);
    let q = api.trim_start_matches("/api/v1/");
    format!("{path}{q}")
}

pub fn param(map: &ParamsMap, name: &str) -> Option<String> {
    map.get(name).filter(|v| !v.is_empty())
}
