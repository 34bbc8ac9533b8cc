//! Pure rules of the catalog: input validation and cycle finding.

use std::collections::{HashMap, HashSet};

use portolan_api::{NewService, NewSystem, NewTeam};

use crate::error::{AppResult, Problems};
use crate::validate;

pub struct ValidTeam {
    pub slug: String,
    pub name: String,
    pub description: String,
}

pub fn validate_new_team(input: &NewTeam) -> AppResult<ValidTeam> {
    let mut p = Problems::default();
    let slug = p.check("slug", validate::slug(&input.slug));
    let name = p.check("name", validate::name(&input.name));
    let description = p.check("description", validate::description(&input.description));
    p.finish()?;
    Ok(ValidTeam {
        slug: slug.unwrap_or_default(),
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
    })
}

pub struct ValidSystem {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub owner_team: Option<String>,
}

pub fn validate_new_system(input: &NewSystem) -> AppResult<ValidSystem> {
    let mut p = Problems::default();
    let slug = p.check("slug", validate::slug(&input.slug));
    let name = p.check("name", validate::name(&input.name));
    let description = p.check("description", validate::description(&input.description));
    p.finish()?;
    Ok(ValidSystem {
        slug: slug.unwrap_or_default(),
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        owner_team: input.owner_team.clone(),
    })
}

/// A service as stored, with its references still as slugs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFields {
    pub name: String,
    pub description: String,
    pub owner_team: String,
    pub system: Option<String>,
    pub tier: i16,
    pub lifecycle: portolan_api::Lifecycle,
    pub repository_url: Option<String>,
    pub runbook_url: Option<String>,
    pub tags: Vec<String>,
}

/// Validates every field of a service (new or patched), reporting all problems at once.
pub fn validate_service_fields(f: ServiceFields, slug: Option<&str>) -> AppResult<ServiceFields> {
    let mut p = Problems::default();
    if let Some(s) = slug {
        p.check("slug", validate::slug(s));
    }
    let name = p.check("name", validate::name(&f.name));
    let description = p.check("description", validate::description(&f.description));
    let tier = p.check("tier", validate::tier(f.tier));
    let repository_url = match &f.repository_url {
        Some(u) => p.check("repository_url", validate::http_url(u)).map(Some),
        None => Some(None),
    };
    let runbook_url = match &f.runbook_url {
        Some(u) => p.check("runbook_url", validate::http_url(u)).map(Some),
        None => Some(None),
    };
    let tags = p.check("tags", validate::tags(&f.tags));
    p.finish()?;
    Ok(ServiceFields {
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        tier: tier.unwrap_or(f.tier),
        repository_url: repository_url.flatten(),
        runbook_url: runbook_url.flatten(),
        tags: tags.unwrap_or_default(),
        ..f
    })
}

impl From<&NewService> for ServiceFields {
    fn from(s: &NewService) -> Self {
        Self {
            name: s.name.clone(),
            description: s.description.clone(),
            owner_team: s.owner_team.clone(),
            system: s.system.clone(),
            tier: s.tier,
            lifecycle: s.lifecycle,
            repository_url: s.repository_url.clone(),
            runbook_url: s.runbook_url.clone(),
            tags: s.tags.clone(),
        }
    }
}

/// The words of a catalog search: every one must match. Bounded so a pasted paragraph cannot
/// build a huge query.
pub fn search_words(q: Option<&str>) -> Vec<String> {
    q.unwrap_or("")
        .split_whitespace()
        .take(8)
        .map(str::to_lowercase)
        .collect()
}

/// `LIKE` patterns matching each word anywhere, with the wildcards escaped so that a search for
/// `50%` means those characters. Used as `search_text LIKE ALL ($n)`.
pub fn like_patterns(words: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            let escaped = w
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect()
}

/// Longest cycle looked for, and how many are reported: enough to show a person the problem
/// without walking a huge graph on every page view.
pub const MAX_CYCLE_LEN: usize = 8;
pub const MAX_CYCLES: usize = 10;

/// The simple cycles through `start` in a directed graph given as edges, each as the list of
/// nodes around the loop beginning and ending with `start`, shortest first.
pub fn cycles_through<N>(start: &N, edges: &[(N, N)]) -> Vec<Vec<N>>
where
    N: Clone + Eq + std::hash::Hash + Ord,
{
    let mut out_edges: HashMap<&N, Vec<&N>> = HashMap::new();
    for (from, to) in edges {
        out_edges.entry(from).or_default().push(to);
    }
    for targets in out_edges.values_mut() {
        targets.sort();
        targets.dedup();
    }
    let mut found: Vec<Vec<N>> = Vec::new();
    let mut path: Vec<&N> = vec![start];
    let mut on_path: HashSet<&N> = HashSet::from([start]);
    // Iterative deepening keeps the shortest cycles first and bounds the work.
    for depth in 1..=MAX_CYCLE_LEN {
        walk(
            start,
            depth,
            &out_edges,
            &mut path,
            &mut on_path,
            &mut found,
        );
        if found.len() >= MAX_CYCLES {
            break;
        }
    }
    found.truncate(MAX_CYCLES);
    found
}

fn walk<'a, N>(
    start: &'a N,
    remaining: usize,
    out_edges: &HashMap<&'a N, Vec<&'a N>>,
    path: &mut Vec<&'a N>,
    on_path: &mut HashSet<&'a N>,
    found: &mut Vec<Vec<N>>,
) where
    N: Clone + Eq + std::hash::Hash + Ord,
{
    if found.len() >= MAX_CYCLES {
        return;
    }
    let Some(last) = path.last().copied() else {
        return;
    };
    let Some(nexts) = out_edges.get(last) else {
        return;
    };
    for &next in nexts {
        if remaining == 1 {
            if next == start {
                let mut cycle: Vec<N> = path.iter().map(|n| (*n).clone()).collect();
                cycle.push(start.clone());
                found.push(cycle);
            }
        } else if !on_path.contains(next) {
            path.push(next);
            on_path.insert(next);
            walk(start, remaining - 1, out_edges, path, on_path, found);
            on_path.remove(next);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        pairs.to_vec()
    }

    #[test]
    fn search_words_are_bounded_and_patterns_escaped() {
        assert_eq!(search_words(Some("  Pay   GATE ")), vec!["pay", "gate"]);
        assert_eq!(search_words(None), Vec::<String>::new());
        assert_eq!(search_words(Some(&"w ".repeat(20))).len(), 8);
        assert_eq!(
            like_patterns(&["50%".into(), "a_b".into(), "c\\d".into()]),
            vec!["%50\\%%", "%a\\_b%", "%c\\\\d%"]
        );
    }

    #[test]
    fn no_cycle_in_a_dag() {
        let g = e(&[("a", "b"), ("b", "c"), ("a", "c")]);
        assert!(cycles_through(&"a", &g).is_empty());
    }

    #[test]
    fn finds_two_and_three_node_cycles_shortest_first() {
        let g = e(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "d")]);
        let cycles = cycles_through(&"a", &g);
        assert_eq!(cycles, vec![vec!["a", "b", "a"], vec!["a", "b", "c", "a"]]);
    }

    #[test]
    fn cycles_elsewhere_are_not_reported_for_start() {
        let g = e(&[("a", "b"), ("b", "c"), ("c", "b")]);
        assert!(cycles_through(&"a", &g).is_empty());
        assert_eq!(cycles_through(&"b", &g), vec![vec!["b", "c", "b"]]);
    }

    #[test]
    fn long_cycles_beyond_the_limit_are_not_walked() {
        let names: Vec<String> = (0..=MAX_CYCLE_LEN).map(|i| format!("n{i}")).collect();
        let mut g: Vec<(String, String)> = names
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect();
        g.push((names[MAX_CYCLE_LEN].clone(), names[0].clone()));
        assert!(
            cycles_through(&names[0], &g).is_empty(),
            "a {}-edge loop is too long",
            MAX_CYCLE_LEN + 1
        );
        g.pop();
        g.push((names[MAX_CYCLE_LEN - 1].clone(), names[0].clone()));
        assert_eq!(cycles_through(&names[0], &g).len(), 1);
    }

    #[test]
    fn service_validation_reports_every_bad_field() {
        let f = ServiceFields {
            name: " ".into(),
            description: String::new(),
            owner_team: "t".into(),
            system: None,
            tier: 7,
            lifecycle: portolan_api::Lifecycle::Production,
            repository_url: Some("nope".into()),
            runbook_url: None,
            tags: vec![],
        };
        let Err(crate::error::AppError::Validation(fields)) =
            validate_service_fields(f, Some("Bad Slug"))
        else {
            panic!("expected a validation error");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, vec!["slug", "name", "tier", "repository_url"]);
    }
}
