//! Which deployments may have caused or fixed an incident, ranked and explained. No I/O.
//!
//! A cause is a deployment shortly before the impact started, to a service the incident affects
//! or to one those services depend on; production counts far more than other environments, and a
//! deployment later rolled back is more suspect. A fix is a deployment after the start and around
//! the time the impact stopped, rollbacks and hotfixes first. Portolan never links on its own: a
//! person reads the reasons and decides.

use std::collections::{BTreeMap, BTreeSet};

use portolan_api::{Deployment, DeploymentKind, DeploymentStatus, LinkCandidate, LinkRelation};
use time::{Duration, OffsetDateTime};

/// How far back a cause is looked for.
pub const CAUSE_WINDOW: Duration = Duration::hours(24);
/// A deployment this long after the start can still be the cause (clocks and detection lag).
pub const START_SLACK: Duration = Duration::minutes(5);
/// A fix may land this long after the impact was mitigated (the incident resolved on a workaround
/// first).
pub const FIX_SLACK: Duration = Duration::hours(2);
/// Candidates offered per relation.
pub const PER_RELATION: usize = 8;

/// What the ranking knows of the incident.
pub struct Context {
    /// Slugs of the services the incident affects.
    pub affected: BTreeSet<String>,
    /// A dependency's slug → the affected services (names) that depend on it.
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// When the impact started (or, unknown, when it was detected or declared).
    pub start: OffsetDateTime,
    /// When the impact stopped, if it has.
    pub end: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

impl Context {
    /// The window deployments are read from.
    pub fn window(&self) -> (OffsetDateTime, OffsetDateTime) {
        (
            self.start - CAUSE_WINDOW,
            self.end.map_or(self.now, |e| (e + FIX_SLACK).min(self.now)),
        )
    }
}

/// When a deployment took effect: its finish, else its start, else when it was recorded.
pub fn effective_at(d: &Deployment) -> OffsetDateTime {
    d.finished_at.or(d.started_at).unwrap_or(d.created_at)
}

/// "12 min", "3 h 05 min", "2 d".
fn span(d: Duration) -> String {
    let m = d.whole_minutes().max(0);
    match m {
        0 => "less than a minute".into(),
        1..60 => format!("{m} min"),
        60..1440 if m % 60 == 0 => format!("{} h", m / 60),
        60..1440 => format!("{} h {:02} min", m / 60, m % 60),
        _ => format!("{} d", m / 1440),
    }
}

/// Closeness in time, 1 at no distance falling off over hours.
fn nearness(gap: Duration) -> f64 {
    let hours = gap.abs().as_seconds_f64() / 3600.0;
    1.0 / (1.0 + hours)
}

/// Where the deployment went, relative to the incident: weight and the reason in words.
fn reach(ctx: &Context, d: &Deployment) -> Option<(f64, String)> {
    if ctx.affected.contains(&d.service.slug) {
        return Some((
            1.0,
            format!(
                "deployed to {}, which this incident affects",
                d.service.name
            ),
        ));
    }
    ctx.dependencies.get(&d.service.slug).map(|dependents| {
        (
            0.6,
            format!(
                "deployed to {}, which {} depend{} on",
                d.service.name,
                dependents.join(" and "),
                if dependents.len() == 1 { "s" } else { "" }
            ),
        )
    })
}

fn environment(d: &Deployment) -> (f64, String) {
    if d.environment.is_production {
        (1.0, format!("in {} (production)", d.environment.name))
    } else {
        (0.35, format!("in {}, not production", d.environment.name))
    }
}

fn as_cause(ctx: &Context, d: &Deployment) -> Option<LinkCandidate> {
    let at = effective_at(d);
    if at > ctx.start + START_SLACK || at < ctx.start - CAUSE_WINDOW {
        return None;
    }
    let (where_weight, where_reason) = reach(ctx, d)?;
    let (env_weight, env_reason) = environment(d);
    let mut score = where_weight * env_weight * nearness(ctx.start - at);
    let mut reasons = vec![where_reason, env_reason];
    reasons.push(if at <= ctx.start {
        format!("{} before the impact started", span(ctx.start - at))
    } else {
        format!(
            "{} after the impact started (within clock drift)",
            span(at - ctx.start)
        )
    });
    match d.status {
        DeploymentStatus::RolledBack => {
            score *= 1.25;
            reasons.push("later rolled back".into());
        }
        DeploymentStatus::Failed => {
            score *= 0.7;
            reasons.push("it failed, so it may have changed only part of the service".into());
        }
        _ => {}
    }
    if d.kind == DeploymentKind::Rollback {
        score *= 0.3;
        reasons.push("a rollback, which rarely causes trouble".into());
    }
    Some(LinkCandidate {
        relation: LinkRelation::CausedBy,
        score: score.min(1.0),
        reasons,
        deployment: d.clone(),
    })
}

fn as_fix(ctx: &Context, d: &Deployment) -> Option<LinkCandidate> {
    let at = effective_at(d);
    let latest = ctx.end.map_or(ctx.now, |e| e + FIX_SLACK);
    if at <= ctx.start || at > latest || d.status != DeploymentStatus::Succeeded {
        return None;
    }
    let (where_weight, where_reason) = reach(ctx, d)?;
    let (env_weight, env_reason) = environment(d);
    let mut reasons = vec![where_reason, env_reason];
    let timing = match ctx.end {
        Some(end) => {
            reasons.push(if at <= end {
                format!("finished {} before the impact stopped", span(end - at))
            } else {
                format!("finished {} after the impact stopped", span(at - end))
            });
            nearness(end - at)
        }
        None => {
            reasons.push(format!("{} after the impact started", span(at - ctx.start)));
            0.5
        }
    };
    let mut score = where_weight * env_weight * timing;
    match d.kind {
        DeploymentKind::Rollback => {
            score *= 1.3;
            reasons.push("a rollback".into());
        }
        DeploymentKind::Hotfix => {
            score *= 1.3;
            reasons.push("a hotfix".into());
        }
        DeploymentKind::Normal => {}
    }
    Some(LinkCandidate {
        relation: LinkRelation::FixedBy,
        score: score.min(1.0),
        reasons,
        deployment: d.clone(),
    })
}

/// The likeliest causes, then the likeliest fixes, best first, leaving out what is linked already.
pub fn rank(
    ctx: &Context,
    deployments: &[Deployment],
    linked: &BTreeSet<(i64, LinkRelation)>,
) -> Vec<LinkCandidate> {
    let mut out = Vec::new();
    for pick in [as_cause, as_fix] {
        let mut found: Vec<LinkCandidate> = deployments
            .iter()
            .filter_map(|d| pick(ctx, d))
            .filter(|c| !linked.contains(&(c.deployment.id, c.relation)))
            .collect();
        found.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(effective_at(&b.deployment).cmp(&effective_at(&a.deployment)))
        });
        found.truncate(PER_RELATION);
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portolan_api::{EnvironmentRef, ServiceRef};
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

    fn deployment(id: i64, service: &str, prod: bool, at: OffsetDateTime) -> Deployment {
        Deployment {
            id,
            service: ServiceRef {
                slug: service.into(),
                name: service.to_uppercase(),
            },
            environment: EnvironmentRef {
                slug: if prod { "prod" } else { "staging" }.into(),
                name: if prod { "Production" } else { "Staging" }.into(),
                is_production: prod,
            },
            version: "1.0".into(),
            commit_sha: None,
            status: DeploymentStatus::Succeeded,
            kind: DeploymentKind::Normal,
            started_at: Some(at - Duration::minutes(3)),
            finished_at: Some(at),
            deployed_by: None,
            pipeline_url: None,
            source: "api".into(),
            external_id: None,
            changes: vec![],
            incidents: vec![],
            created_at: at,
            updated_at: at,
        }
    }

    fn ctx(end: Option<OffsetDateTime>) -> Context {
        Context {
            affected: ["checkout".to_string()].into(),
            dependencies: [("payments".to_string(), vec!["CHECKOUT".to_string()])].into(),
            start: START,
            end,
            now: datetime!(2026-11-22 18:00 UTC),
        }
    }

    fn ids(c: &[LinkCandidate], relation: LinkRelation) -> Vec<i64> {
        c.iter()
            .filter(|c| c.relation == relation)
            .map(|c| c.deployment.id)
            .collect()
    }

    #[test]
    fn causes_are_recent_production_deployments_to_what_is_affected_first() {
        let m = Duration::minutes;
        let deployments = [
            deployment(1, "checkout", true, START - m(10)),
            deployment(2, "checkout", false, START - m(10)),
            deployment(3, "payments", true, START - m(10)),
            deployment(4, "checkout", true, START - m(300)),
            deployment(5, "search", true, START - m(5)),
            deployment(6, "checkout", true, START - Duration::hours(30)),
            deployment(7, "checkout", true, START + m(30)),
        ];
        let ranked = rank(&ctx(None), &deployments, &BTreeSet::new());
        assert_eq!(
            ids(&ranked, LinkRelation::CausedBy),
            [1, 3, 2, 4],
            "unrelated (5), too old (6) and after the start (7) are left out"
        );
        let first = &ranked[0];
        assert_eq!(
            first.reasons,
            [
                "deployed to CHECKOUT, which this incident affects",
                "in Production (production)",
                "10 min before the impact started"
            ]
        );
        assert!(ranked[1].reasons[0].contains("which CHECKOUT depends on"));
        assert!(ranked.iter().all(|c| (0.0..=1.0).contains(&c.score)));
    }

    #[test]
    fn a_rolled_back_deployment_is_more_suspect_and_a_rollback_less() {
        let m = Duration::minutes;
        let mut rolled_back = deployment(1, "checkout", true, START - m(60));
        rolled_back.status = DeploymentStatus::RolledBack;
        let plain = deployment(2, "checkout", true, START - m(50));
        let mut rollback = deployment(3, "checkout", true, START - m(40));
        rollback.kind = DeploymentKind::Rollback;
        let ranked = rank(
            &ctx(None),
            &[rolled_back, plain, rollback],
            &BTreeSet::new(),
        );
        assert_eq!(ids(&ranked, LinkRelation::CausedBy), [1, 2, 3]);
        assert!(ranked[0].reasons.contains(&"later rolled back".to_string()));
    }

    #[test]
    fn fixes_are_succeeded_deployments_near_the_end_rollbacks_first() {
        let m = Duration::minutes;
        let end = START + m(90);
        let mut rollback = deployment(1, "checkout", true, end - m(20));
        rollback.kind = DeploymentKind::Rollback;
        let near = deployment(2, "checkout", true, end - m(5));
        let mut failed = deployment(3, "checkout", true, end - m(2));
        failed.status = DeploymentStatus::Failed;
        let late = deployment(4, "checkout", true, end + Duration::hours(3));
        let ranked = rank(
            &ctx(Some(end)),
            &[rollback, near, failed, late],
            &BTreeSet::new(),
        );
        assert_eq!(ids(&ranked, LinkRelation::FixedBy), [1, 2]);
        assert!(ranked.iter().any(|c| {
            c.reasons
                .contains(&"finished 5 min before the impact stopped".into())
        }));
    }

    #[test]
    fn what_is_linked_already_is_not_suggested_again() {
        let d = deployment(1, "checkout", true, START - Duration::minutes(10));
        let linked = [(1, LinkRelation::CausedBy)].into();
        assert!(rank(&ctx(None), &[d], &linked).is_empty());
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::seconds(20)), "less than a minute");
        assert_eq!(span(Duration::minutes(12)), "12 min");
        assert_eq!(span(Duration::minutes(120)), "2 h");
        assert_eq!(span(Duration::minutes(185)), "3 h 05 min");
        assert_eq!(span(Duration::hours(50)), "2 d");
    }
}
