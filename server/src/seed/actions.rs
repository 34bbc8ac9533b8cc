//! The demo's action items: what each postmortem committed to, owned by the team of the service
//! that was hurt, and followed through the way real teams do: most done, some late, one or two
//! dropped with a reason, a few open past their due date, the newest just started.

use std::collections::HashMap;

use anyhow::Context;
use portolan_api::{ActionKind, ActionPriority, ActionState, IncidentState};
use sqlx::PgConnection;
use time::{Date, Duration, OffsetDateTime};

use super::incidents::Incident;
use super::{DemoOrg, Rng, splitmix64};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ActionPlan {
    /// The incident's key in the plan.
    pub incident: usize,
    pub title: String,
    pub details: String,
    pub kind: ActionKind,
    pub priority: ActionPriority,
    pub state: ActionState,
    pub state_note: String,
    /// Index into the teams.
    pub team: usize,
    /// Index into the users.
    pub assignee: Option<usize>,
    pub due_on: Date,
    pub ticket_url: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

type Template = (ActionKind, ActionPriority, &'static str, &'static str);

/// For incidents a deployment caused.
const AFTER_A_DEPLOYMENT: [Template; 4] = [
    (
        ActionKind::Prevent,
        ActionPriority::P1,
        "Canary {svc} releases in production and halt the rollout when its error rate rises",
        "Done when a release reaches 5% of traffic first and stops by itself on a 2× error-rate regression.",
    ),
    (
        ActionKind::Detect,
        ActionPriority::P2,
        "Alert on {svc}'s error rate by version within five minutes of a deployment",
        "The alert names the version and links the deployment in Portolan.",
    ),
    (
        ActionKind::Prevent,
        ActionPriority::P2,
        "Cover the failing path of {svc} with a contract test in CI",
        "",
    ),
    (
        ActionKind::Process,
        ActionPriority::P3,
        "Put a one-command rollback for {svc} at the top of its runbook",
        "Tried once in a game day by someone new to the service.",
    ),
];

/// For incidents with other causes (a dependency, capacity).
const OTHER_CAUSES: [Template; 3] = [
    (
        ActionKind::Mitigate,
        ActionPriority::P1,
        "Give {svc}'s calls to its slowest dependency a timeout, a circuit breaker and a fallback",
        "",
    ),
    (
        ActionKind::Detect,
        ActionPriority::P2,
        "Alert on {svc}'s saturation at 80% of its limit, not at the limit",
        "",
    ),
    (
        ActionKind::Process,
        ActionPriority::P3,
        "Load-test {svc} at twice last year's peak before each season",
        "",
    ),
];

const DROPPED: [&str; 2] = [
    "Covered by the platform-wide canary rollout",
    "The service is being replaced next quarter; the new one has this built in",
];

pub(super) fn plan(org: &DemoOrg, seed: u64, now: OffsetDateTime) -> Vec<ActionPlan> {
    let mut rng = Rng::new(splitmix64(seed ^ 0xac71_0175));
    let mut out = Vec::new();
    for incident in &org.incidents {
        let Some(pm) = &incident.postmortem else {
            continue;
        };
        if matches!(
            incident.state,
            IncidentState::Declined | IncidentState::Merged
        ) {
            continue;
        }
        let Some(&service) = incident.services.first() else {
            continue;
        };
        let svc = &org.services[service];
        let templates: &[Template] = if caused_by_a_deployment(incident) {
            &AFTER_A_DEPLOYMENT
        } else {
            &OTHER_CAUSES
        };
        let count = rng.range(2, templates.len() as i64) as usize;
        let author = pm.author.clone();
        for (n, (kind, priority, title, details)) in templates.iter().take(count).enumerate() {
            let created_at = (pm.created_at + Duration::minutes(20 + 7 * n as i64)).min(now);
            let due_on = (created_at + Duration::days(priority.default_due_days())).date();
            let due_passed = due_on < now.date();
            // Published postmortems are old enough to have been followed through.
            let roll = rng.unit();
            let state = match (pm.state, due_passed) {
                (portolan_api::PostmortemState::Published, true) if roll < 0.72 => {
                    ActionState::Done
                }
                (portolan_api::PostmortemState::Published, true) if roll < 0.82 => {
                    ActionState::WontDo
                }
                (portolan_api::PostmortemState::Published, true) => ActionState::Open,
                (portolan_api::PostmortemState::Published, false) if roll < 0.4 => {
                    ActionState::Done
                }
                (_, _) if roll < 0.5 => ActionState::InProgress,
                _ => ActionState::Open,
            };
            let closed_at = match state {
                ActionState::Done | ActionState::WontDo => {
                    let window = (due_on.midnight().assume_utc() - created_at).whole_minutes();
                    // Most finish within their window, some a little after.
                    let took = Duration::minutes((window as f64 * (0.3 + rng.unit() * 0.9)) as i64);
                    Some(
                        (created_at + took)
                            .min(now - Duration::hours(1))
                            .max(created_at),
                    )
                }
                _ => None,
            };
            let assignee = match state {
                ActionState::Open if rng.chance(0.6) => None,
                _ => Some(rng.below(org.users.len() as u64) as usize),
            };
            out.push(ActionPlan {
                incident: incident.key,
                title: title.replace("{svc}", &svc.name),
                details: (*details).to_string(),
                kind: *kind,
                priority: *priority,
                state,
                state_note: match state {
                    ActionState::WontDo => (*rng.pick(&DROPPED)).to_string(),
                    _ => String::new(),
                },
                team: svc.owner_team,
                assignee,
                due_on,
                ticket_url: rng.chance(0.5).then(|| {
                    format!(
                        "https://tickets.acme.example/{}-{}",
                        org.teams[svc.owner_team].slug.to_uppercase(),
                        100 + rng.below(900)
                    )
                }),
                created_by: author.clone(),
                created_at,
                updated_at: closed_at.unwrap_or(created_at),
                closed_at,
            });
        }
    }
    out
}

fn caused_by_a_deployment(incident: &Incident) -> bool {
    incident.links.iter().any(|l| l.relation == "caused_by")
}

/// Inserts the planned items in one statement.
pub(super) async fn insert(
    conn: &mut PgConnection,
    items: &[ActionPlan],
    incident_ids: &HashMap<usize, i64>,
    team_ids: &[i64],
    user_ids: &[i64],
) -> anyhow::Result<usize> {
    let incident = |i: &ActionPlan| {
        incident_ids
            .get(&i.incident)
            .copied()
            .with_context(|| format!("no id for demo incident {}", i.incident))
    };
    let incidents: Vec<i64> = items.iter().map(incident).collect::<anyhow::Result<_>>()?;
    sqlx::query(
        "INSERT INTO action_items (incident_id, title, details, kind, priority, state, state_note, \
                                   team_id, assignee_id, due_on, ticket_url, created_by, \
                                   created_at, updated_at, closed_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::smallint[], \
                              $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::date[], \
                              $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], \
                              $15::timestamptz[])",
    )
    .bind(&incidents)
    .bind(items.iter().map(|i| i.title.clone()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.details.clone()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.priority.level()).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.state.as_str()).collect::<Vec<_>>())
    .bind(
        items
            .iter()
            .map(|i| i.state_note.clone())
            .collect::<Vec<_>>(),
    )
    .bind(items.iter().map(|i| team_ids[i.team]).collect::<Vec<_>>())
    .bind(
        items
            .iter()
            .map(|i| i.assignee.map(|u| user_ids[u]))
            .collect::<Vec<_>>(),
    )
    .bind(items.iter().map(|i| i.due_on).collect::<Vec<_>>())
    .bind(
        items
            .iter()
            .map(|i| i.ticket_url.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        items
            .iter()
            .map(|i| i.created_by.clone())
            .collect::<Vec<_>>(),
    )
    .bind(items.iter().map(|i| i.created_at).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.updated_at).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.closed_at).collect::<Vec<_>>())
    .execute(conn)
    .await
    .context("inserting the demo action items")?;
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const CLOCKS: [OffsetDateTime; 3] = [
        datetime!(2026-11-18 10:30 UTC),
        datetime!(2026-03-02 08:00 UTC),
        datetime!(2027-07-15 16:45 UTC),
    ];

    fn items(now: OffsetDateTime) -> (DemoOrg, Vec<ActionPlan>) {
        let org = super::super::plan(super::super::DEMO_SEED, now);
        let items = plan(&org, super::super::DEMO_SEED, now);
        (org, items)
    }

    #[test]
    fn every_postmortem_commits_to_something_owned_by_the_hurt_service_team() {
        for now in CLOCKS {
            let (org, items) = items(now);
            for incident in org.incidents.iter().filter(|i| {
                i.postmortem.is_some()
                    && !matches!(i.state, IncidentState::Declined | IncidentState::Merged)
            }) {
                let mine: Vec<&ActionPlan> = items
                    .iter()
                    .filter(|a| a.incident == incident.key)
                    .collect();
                assert!(
                    mine.len() >= 2,
                    "{} has {} items",
                    incident.title,
                    mine.len()
                );
                let owner = org.services[incident.services[0]].owner_team;
                assert!(mine.iter().all(|a| a.team == owner));
                assert!(mine.iter().all(|a| !a.title.contains("{svc}")));
            }
        }
    }

    #[test]
    fn items_follow_the_rules_the_server_enforces() {
        for now in CLOCKS {
            let (_, items) = items(now);
            for a in &items {
                assert!(a.created_at <= now && a.updated_at <= now, "{a:?}");
                assert_eq!(a.state.is_closed(), a.closed_at.is_some(), "{a:?}");
                if let Some(c) = a.closed_at {
                    assert!(c >= a.created_at && c <= now, "{a:?}");
                }
                assert_eq!(a.state == ActionState::WontDo, !a.state_note.is_empty());
                assert!(!a.title.is_empty() && a.title.chars().count() <= 200);
                assert_eq!(
                    a.due_on,
                    (a.created_at + Duration::days(a.priority.default_due_days())).date()
                );
                if a.state != ActionState::Open {
                    assert!(a.assignee.is_some(), "work picked up has a person: {a:?}");
                }
            }
        }
    }

    #[test]
    fn the_demo_shows_follow_through_good_and_bad() {
        let now = CLOCKS[0];
        let (_, items) = items(now);
        let count = |f: &dyn Fn(&ActionPlan) -> bool| items.iter().filter(|a| f(a)).count();
        assert!(count(&|a| a.state == ActionState::Done) >= 5, "{items:#?}");
        assert!(count(&|a| a.state == ActionState::Open && a.due_on < now.date()) >= 1);
        assert!(count(&|a| !a.state.is_closed() && a.due_on >= now.date()) >= 1);
        assert!(count(&|a| a.state == ActionState::InProgress) >= 1);
        assert!(count(&|a| a.state == ActionState::WontDo) >= 1);
        assert!(
            count(&|a| a.closed_at.is_some_and(|c| c.date() > a.due_on)) >= 1,
            "some are done late"
        );
        assert_eq!(
            items,
            plan(
                &super::super::plan(super::super::DEMO_SEED, now),
                super::super::DEMO_SEED,
                now
            )
        );
    }
}
