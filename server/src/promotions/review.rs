//! What an approver reads before deciding: the commits the promotion carries, the open
//! incidents on the service and on what it depends on, and how the candidate has done in the
//! environments it has already reached.
//!
//! Portolan has no repository to ask, so "what changes" comes from the commits pipelines
//! recorded with their deployments. A service's versions are ordered by when each was first
//! deployed anywhere; a version holds every commit first recorded with it or with an earlier
//! one. The commits between the target's version and the candidate are then the ones the
//! candidate holds and the target's does not (or, going back, the other way round).
//! [`changes`] is that arithmetic, a pure function.

use std::collections::HashMap;

use portolan_api::{
    AuthorCount, CausedIncident, ChangeDirection, IncidentOnPath, IncidentState, PromotedCommit,
    PromotionChanges, PromotionReview, ServiceRef, Severity, VersionRecord,
};
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::repo::Row;
use crate::error::AppResult;

/// At most this many commits are listed (all are counted).
pub const COMMITS_SHOWN: usize = 200;
/// How far along dependencies open incidents are looked for.
pub const DEPENDENCY_HOPS: i32 = 3;

/// A commit as a deployment recorded it, with the deployment's version.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recorded {
    pub sha: String,
    pub author: String,
    pub message: String,
    pub committed_at: OffsetDateTime,
    pub version: String,
}

/// The commits between `target` (the version the target runs, if any) and `candidate`.
/// `order` is the service's versions oldest first (by first deployment anywhere); `recorded`
/// every commit recorded with a deployment of a version in `order` (duplicates across
/// environments welcome). A hotfix is judged by its own commits only: it was cut from an older
/// line, so the order of first deployments says nothing about what it holds.
pub fn changes(
    order: &[String],
    recorded: &[Recorded],
    target: Option<&str>,
    candidate: &str,
    hotfix: bool,
) -> PromotionChanges {
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    // Each commit belongs to the first version that carried it.
    let mut first: HashMap<&str, (usize, &Recorded)> = HashMap::new();
    for r in recorded {
        let Some(&at) = rank.get(r.version.as_str()) else {
            continue;
        };
        first
            .entry(r.sha.as_str())
            .and_modify(|e| {
                if at < e.0 {
                    *e = (at, r);
                }
            })
            .or_insert((at, r));
    }
    let candidate_rank = rank.get(candidate).copied();
    let target_rank = target.and_then(|t| rank.get(t).copied());
    // (direction, the versions between, and which ranks' commits are in the range)
    let (direction, versions, range): (ChangeDirection, Vec<String>, Option<(usize, usize)>) =
        if target == Some(candidate) {
            (ChangeDirection::Same, Vec::new(), None)
        } else if hotfix {
            (ChangeDirection::Hotfix, vec![candidate.to_string()], None)
        } else {
            match (target_rank, candidate_rank) {
                (_, None) => (
                    if target.is_some() {
                        ChangeDirection::Forward
                    } else {
                        ChangeDirection::First
                    },
                    vec![candidate.to_string()],
                    None,
                ),
                (None, Some(c)) => (
                    if target.is_some() {
                        ChangeDirection::Forward
                    } else {
                        ChangeDirection::First
                    },
                    order[..=c].to_vec(),
                    Some((0, c)),
                ),
                (Some(t), Some(c)) if t < c => (
                    ChangeDirection::Forward,
                    order[t + 1..=c].to_vec(),
                    Some((t + 1, c)),
                ),
                (Some(t), Some(c)) => (
                    ChangeDirection::Back,
                    order[c + 1..=t].to_vec(),
                    Some((c + 1, t)),
                ),
            }
        };
    let mut commits: Vec<&Recorded> = match (direction, range) {
        (ChangeDirection::Hotfix, _) => {
            let mut seen = std::collections::HashSet::new();
            recorded
                .iter()
                .filter(|r| r.version == candidate && seen.insert(r.sha.as_str()))
                .collect()
        }
        (_, Some((low, high))) => first
            .values()
            .filter(|(at, _)| (low..=high).contains(at))
            .map(|(_, r)| *r)
            .collect(),
        _ => Vec::new(),
    };
    commits.sort_by(|a, b| {
        b.committed_at
            .cmp(&a.committed_at)
            .then_with(|| a.sha.cmp(&b.sha))
    });
    let mut authors: HashMap<&str, u32> = HashMap::new();
    for c in &commits {
        *authors.entry(c.author.as_str()).or_default() += 1;
    }
    let mut authors: Vec<AuthorCount> = authors
        .into_iter()
        .map(|(author, commits)| AuthorCount {
            author: author.to_string(),
            commits,
        })
        .collect();
    authors.sort_by(|a, b| b.commits.cmp(&a.commits).then(a.author.cmp(&b.author)));
    PromotionChanges {
        target_version: target.map(str::to_string),
        direction,
        versions,
        total_commits: u32::try_from(commits.len()).unwrap_or(u32::MAX),
        commits: commits
            .into_iter()
            .take(COMMITS_SHOWN)
            .map(|r| PromotedCommit {
                sha: r.sha.clone(),
                author: r.author.clone(),
                message: r.message.lines().next().unwrap_or_default().to_string(),
                committed_at: r.committed_at,
                version: r.version.clone(),
            })
            .collect(),
        authors,
    }
}

/// The version the environment ran at `at` (its latest succeeded deployment by then).
async fn version_at(
    conn: &mut PgConnection,
    service: i64,
    environment: i64,
    at: OffsetDateTime,
) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT version FROM deployments
          WHERE service_id = $1 AND environment_id = $2 AND status = 'succeeded' AND finished_at <= $3
          ORDER BY finished_at DESC, id DESC LIMIT 1",
    )
    .bind(service)
    .bind(environment)
    .bind(at)
    .fetch_optional(conn)
    .await?)
}

/// What the request carries into its target: as of now while it is pending, as of its
/// decision afterwards (a deployed request would otherwise change nothing).
pub async fn changes_of(
    conn: &mut PgConnection,
    row: &Row,
    now: OffsetDateTime,
) -> AppResult<PromotionChanges> {
    let at = row.decided_at.unwrap_or(now);
    let target = version_at(conn, row.service_id, row.to_id, at).await?;
    let order: Vec<String> = sqlx::query_scalar(
        "SELECT version FROM deployments WHERE service_id = $1
          GROUP BY version ORDER BY min(id)",
    )
    .bind(row.service_id)
    .fetch_all(&mut *conn)
    .await?;
    // Only versions up to the later of the two can be in the range.
    let last = order
        .iter()
        .position(|v| v == &row.version)
        .max(
            target
                .as_ref()
                .and_then(|t| order.iter().position(|v| v == t)),
        )
        .map_or(0, |i| i + 1);
    let wanted = &order[..last.min(order.len())];
    let recorded: Vec<Recorded> = sqlx::query_as(
        "SELECT c.sha, c.author, c.message, c.committed_at, d.version
           FROM deployment_changes c JOIN deployments d ON d.id = c.deployment_id
          WHERE d.service_id = $1 AND d.version = ANY($2)",
    )
    .bind(row.service_id)
    .bind(wanted)
    .fetch_all(&mut *conn)
    .await?;
    Ok(changes(
        &order,
        &recorded,
        target.as_deref(),
        &row.version,
        row.hotfix,
    ))
}

/// Open incidents on the service and on what it depends on, worst first.
async fn incidents_on_path(
    conn: &mut PgConnection,
    service: i64,
) -> AppResult<Vec<IncidentOnPath>> {
    type R = (
        i64,
        String,
        i16,
        String,
        String,
        String,
        Vec<String>,
        OffsetDateTime,
    );
    let rows: Vec<R> = sqlx::query_as(
        "WITH RECURSIVE path (service_id, slugs, depth) AS (
             SELECT s.id, ARRAY[s.slug], 0 FROM services s WHERE s.id = $1
             UNION ALL
             SELECT d.to_service_id, p.slugs || t.slug, p.depth + 1
               FROM path p
               JOIN service_dependencies d ON d.from_service_id = p.service_id
               JOIN services t ON t.id = d.to_service_id
              WHERE p.depth < $2 AND NOT t.slug = ANY (p.slugs)
         )
         SELECT DISTINCT ON (i.id) i.id, i.title, i.severity, i.state, s.slug, s.name, p.slugs,
                i.declared_at
           FROM path p
           JOIN incident_services x ON x.service_id = p.service_id
           JOIN incidents i ON i.id = x.incident_id
           JOIN services s ON s.id = p.service_id
          WHERE i.state IN ('triage', 'investigating', 'identified', 'monitoring')
          ORDER BY i.id, p.depth, p.slugs",
    )
    .bind(service)
    .bind(DEPENDENCY_HOPS)
    .fetch_all(conn)
    .await?;
    let mut found: Vec<IncidentOnPath> = rows
        .into_iter()
        .filter_map(
            |(id, title, severity, state, slug, name, path, declared_at)| {
                Some(IncidentOnPath {
                    id,
                    title,
                    severity: Severity::from_level(severity)?,
                    state: IncidentState::parse(&state)?,
                    service: ServiceRef { slug, name },
                    path,
                    declared_at,
                })
            },
        )
        .collect();
    found.sort_by(|a, b| {
        (
            a.severity.level(),
            a.path.len(),
            std::cmp::Reverse(a.declared_at),
        )
            .cmp(&(
                b.severity.level(),
                b.path.len(),
                std::cmp::Reverse(b.declared_at),
            ))
    });
    Ok(found)
}

/// How the candidate has done in every environment it was deployed to, in pipeline order.
async fn record(conn: &mut PgConnection, row: &Row) -> AppResult<Vec<VersionRecord>> {
    type R = (
        i64,
        String,
        i64,
        i64,
        i64,
        Option<OffsetDateTime>,
        bool,
        bool,
    );
    let rows: Vec<R> = sqlx::query_as(
        "WITH mine AS (
             SELECT environment_id,
                    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,
                    min(finished_at) FILTER (WHERE status = 'succeeded') AS first_succeeded,
                    max(id) FILTER (WHERE status IN ('succeeded', 'rolled_back')) AS last_landed
               FROM deployments WHERE service_id = $1 AND version = $2
              GROUP BY environment_id
         )
         SELECT e.id, e.slug, m.succeeded, m.failed, m.rolled_back, m.first_succeeded,
                COALESCE(cur.version = $2, false),
                COALESCE(nxt.kind = 'rollback', false)
           FROM mine m
           JOIN environments e ON e.id = m.environment_id
           LEFT JOIN LATERAL (
                SELECT version FROM deployments
                 WHERE service_id = $1 AND environment_id = e.id AND status = 'succeeded'
                 ORDER BY finished_at DESC, id DESC LIMIT 1
           ) cur ON true
           LEFT JOIN LATERAL (
                SELECT kind FROM deployments
                 WHERE service_id = $1 AND environment_id = e.id AND id > m.last_landed
                   AND version <> $2 AND status = 'succeeded'
                 ORDER BY id LIMIT 1
           ) nxt ON true
          ORDER BY e.position",
    )
    .bind(row.service_id)
    .bind(&row.version)
    .fetch_all(&mut *conn)
    .await?;
    type C = (i64, i64, String, i16, String);
    let caused: Vec<C> = sqlx::query_as(
        "SELECT DISTINCT d.environment_id, i.id, i.title, i.severity, i.state
           FROM incident_deployments l
           JOIN deployments d ON d.id = l.deployment_id
           JOIN incidents i ON i.id = l.incident_id
          WHERE d.service_id = $1 AND d.version = $2 AND l.relation = 'caused_by'
            AND i.state NOT IN ('declined', 'merged')
          ORDER BY i.id",
    )
    .bind(row.service_id)
    .bind(&row.version)
    .fetch_all(&mut *conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(rows
        .into_iter()
        .map(
            |(env, slug, succeeded, failed, rolled_back, first, running, replaced)| VersionRecord {
                is_source: env == row.from_id,
                environment: slug,
                succeeded: count(succeeded),
                failed: count(failed),
                rolled_back: count(rolled_back),
                first_succeeded_at: first,
                running_now: running,
                replaced_by_rollback: replaced,
                incidents: caused
                    .iter()
                    .filter(|c| c.0 == env)
                    .filter_map(|(_, id, title, severity, state)| {
                        Some(CausedIncident {
                            id: *id,
                            title: title.clone(),
                            severity: Severity::from_level(*severity)?,
                            state: IncidentState::parse(state)?,
                        })
                    })
                    .collect(),
            },
        )
        .collect())
}

/// Everything an approver reads besides the gate.
pub async fn review(
    conn: &mut PgConnection,
    row: &Row,
    now: OffsetDateTime,
) -> AppResult<PromotionReview> {
    Ok(PromotionReview {
        changes: changes_of(conn, row, now).await?,
        incidents: incidents_on_path(conn, row.service_id).await?,
        record: record(conn, row).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn commit(sha: &str, author: &str, version: &str, minute: u8) -> Recorded {
        Recorded {
            sha: sha.into(),
            author: author.into(),
            message: format!("{sha} does a thing\n\nwith details"),
            committed_at: datetime!(2026-11-20 10:00 UTC) + time::Duration::minutes(minute.into()),
            version: version.into(),
        }
    }

    fn order() -> Vec<String> {
        ["1.0", "1.1", "1.2", "1.3"].map(String::from).to_vec()
    }

    /// dev recorded each commit with the version that first carried it; qa, which skipped 1.1,
    /// recorded a's and b's commits again with 1.2.
    fn recorded() -> Vec<Recorded> {
        vec![
            commit("a0", "ana", "1.0", 0),
            commit("b1", "ben", "1.1", 1),
            commit("c1", "ana", "1.1", 2),
            commit("d2", "cy", "1.2", 3),
            commit("e3", "ana", "1.3", 4),
            // qa's view: everything since 1.0, with 1.2
            commit("b1", "ben", "1.2", 1),
            commit("c1", "ana", "1.2", 2),
            commit("d2", "cy", "1.2", 3),
        ]
    }

    fn shas(c: &PromotionChanges) -> Vec<&str> {
        c.commits.iter().map(|c| c.sha.as_str()).collect()
    }

    #[test]
    fn forward_lists_what_the_candidate_adds_newest_first_once_each() {
        let c = changes(&order(), &recorded(), Some("1.0"), "1.2", false);
        assert_eq!(c.direction, ChangeDirection::Forward);
        assert_eq!(c.versions, ["1.1", "1.2"]);
        assert_eq!(shas(&c), ["d2", "c1", "b1"]);
        assert_eq!(c.total_commits, 3);
        // b1 was first carried by 1.1, whatever qa recorded later.
        assert_eq!(c.commits[2].version, "1.1");
        assert_eq!(c.commits[0].message, "d2 does a thing");
        assert_eq!(
            c.authors,
            [
                AuthorCount {
                    author: "ana".into(),
                    commits: 1
                },
                AuthorCount {
                    author: "ben".into(),
                    commits: 1
                },
                AuthorCount {
                    author: "cy".into(),
                    commits: 1
                },
            ]
        );
        let c = changes(&order(), &recorded(), Some("1.1"), "1.3", false);
        assert_eq!(shas(&c), ["e3", "d2"]);
        assert_eq!(
            c.authors[0],
            AuthorCount {
                author: "ana".into(),
                commits: 1
            }
        );
    }

    #[test]
    fn going_back_lists_what_comes_out_and_the_same_version_changes_nothing() {
        let c = changes(&order(), &recorded(), Some("1.3"), "1.1", false);
        assert_eq!(c.direction, ChangeDirection::Back);
        assert_eq!(c.versions, ["1.2", "1.3"]);
        assert_eq!(shas(&c), ["e3", "d2"]);
        let c = changes(&order(), &recorded(), Some("1.2"), "1.2", false);
        assert_eq!(c.direction, ChangeDirection::Same);
        assert!(c.commits.is_empty() && c.versions.is_empty() && c.authors.is_empty());
    }

    #[test]
    fn a_first_deployment_carries_everything_up_to_the_candidate() {
        let c = changes(&order(), &recorded(), None, "1.1", false);
        assert_eq!(c.direction, ChangeDirection::First);
        assert_eq!(c.versions, ["1.0", "1.1"]);
        assert_eq!(shas(&c), ["c1", "b1", "a0"]);
        assert_eq!(c.target_version, None);
    }

    #[test]
    fn a_hotfix_is_judged_by_its_own_commits() {
        let mut all = recorded();
        let order = ["1.0", "1.1", "1.2", "1.3", "1.0.1"]
            .map(String::from)
            .to_vec();
        all.push(commit("f9", "dee", "1.0.1", 9));
        all.push(commit("f9", "dee", "1.0.1", 9));
        let c = changes(&order, &all, Some("1.0"), "1.0.1", true);
        assert_eq!(c.direction, ChangeDirection::Hotfix);
        assert_eq!(shas(&c), ["f9"]);
        // Without the hotfix flag, order says 1.0.1 holds everything since 1.0.
        let c = changes(&order, &all, Some("1.0"), "1.0.1", false);
        assert_eq!(c.total_commits, 5);
    }

    #[test]
    fn an_unknown_candidate_or_target_still_answers() {
        let c = changes(&order(), &recorded(), Some("1.1"), "9.9", false);
        assert_eq!(c.direction, ChangeDirection::Forward);
        assert_eq!(c.versions, ["9.9"]);
        assert!(c.commits.is_empty());
        // A target version with no recorded deployments (imported history): from the start.
        let c = changes(&order(), &recorded(), Some("0.9"), "1.0", false);
        assert_eq!(c.direction, ChangeDirection::Forward);
        assert_eq!(shas(&c), ["a0"]);
    }

    #[test]
    fn long_ranges_are_counted_in_full_and_listed_in_part() {
        let order: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
        let all: Vec<Recorded> = (0..300)
            .map(|i| Recorded {
                sha: format!("s{i}"),
                author: format!("p{}", i % 7),
                message: String::new(),
                committed_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::hours(i),
                version: format!("v{i}"),
            })
            .collect();
        let c = changes(&order, &all, Some("v0"), "v299", false);
        assert_eq!(c.total_commits, 299);
        assert_eq!(c.commits.len(), COMMITS_SHOWN);
        assert_eq!(c.commits[0].sha, "s299");
        assert_eq!(c.authors.iter().map(|a| a.commits).sum::<u32>(), 299);
    }
}
