//! The demo's incidents and postmortems, told about its deployment history.
//!
//! Most incidents follow a production deployment that the history rolled back, or a bug fixed by
//! a hotfix: the incident starts minutes after the bad deployment finished, is mitigated when the
//! rollback or hotfix finishes, and links both (`caused_by`, `fixed_by`) as a person would. A few
//! have no deployment behind them (a payment provider, a full disk, a busy evening), two were
//! opened by alerts, one was a false alarm and one a duplicate merged into another. Two are still
//! open at `now`. Each has the timeline the server would have written, in its words.
//!
//! The incidents are chosen from [`SLOTS`]: each asks for a story, a severity, roughly when, and
//! how far its postmortem got, so that the demo shows every state of both (and a postmortem that
//! policy says is overdue, and one that is missing) whatever the clock.
//!
//! Incident and deployment numbers are only known once inserted, so texts refer to them as
//! `⟨self⟩`, `⟨inc:K⟩` (the incident planned with key K) and `⟨dep:N⟩` (deployment N of the
//! plan), replaced on insert.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use portolan_api::{
    DependencyKind, DeploymentKind, DeploymentStatus, IncidentState, PostmortemState, SECTIONS,
    Severity,
};
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};

use super::stories::{self, Cause, Other, PostmortemText, Story};
use super::{DemoOrg, PROD, Person, Rng, SERVICES, STAGING, service_index, splitmix64};
use crate::auth::dev;

/// The tenant of the demo organisation's people (a made-up directory id).
const ACME_TENANT: &str = "0ac32026-5eed-4c0d-a7e5-00000000ac3e";

/// Someone who has signed in: a `users` row, as `session::sign_in` writes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct User {
    pub tenant_id: String,
    pub object_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
}

impl User {
    /// `<tenant>:<object>`: how the API names people, and the `actor_id` of what they do.
    pub fn key(&self) -> String {
        format!("{}:{}", self.tenant_id, self.object_id)
    }
}

/// Who did something, as the timeline records it.
#[derive(Debug, Clone, PartialEq)]
struct Who {
    id: String,
    name: String,
}

impl Who {
    fn alertmanager() -> Self {
        Who {
            id: "alertmanager".into(),
            name: "Alertmanager".into(),
        }
    }
    fn pagerduty() -> Self {
        Who {
            id: "pagerduty".into(),
            name: "PagerDuty".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Incident {
    /// Its key in the plan (texts refer to it as `⟨inc:K⟩`).
    pub key: usize,
    pub title: String,
    pub severity: Severity,
    pub state: IncidentState,
    pub summary: String,
    /// Index into the users.
    pub commander: Option<usize>,
    /// The key of the incident it was merged into.
    pub merged_into: Option<usize>,
    pub source: &'static str,
    pub external_key: Option<String>,
    pub started_at: Option<OffsetDateTime>,
    pub detected_at: Option<OffsetDateTime>,
    pub mitigated_at: Option<OffsetDateTime>,
    pub resolved_at: Option<OffsetDateTime>,
    pub declared_at: OffsetDateTime,
    pub declared_by: String,
    pub updated_at: OffsetDateTime,
    pub version: i32,
    /// Indexes into the services.
    pub services: Vec<usize>,
    /// In the order they happened.
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub alerts: Vec<Alert>,
    pub postmortem: Option<Postmortem>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Event {
    pub at: OffsetDateTime,
    pub kind: &'static str,
    pub actor_id: String,
    pub actor_name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Link {
    /// Index into the deployments.
    pub deployment: usize,
    pub relation: &'static str,
    pub note: String,
    pub linked_by: String,
    pub linked_at: OffsetDateTime,
}

/// An alert seen on an incident opened by Alertmanager.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Alert {
    pub fingerprint: String,
    pub starts_at: OffsetDateTime,
    pub name: String,
    pub ends_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Postmortem {
    pub state: PostmortemState,
    /// Only the sections written so far.
    pub sections: BTreeMap<String, String>,
    pub review_note: String,
    pub author: String,
    pub version: i32,
    pub revision: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
    /// Index into the users, and when they approved.
    pub reviewers: Vec<(usize, Option<OffsetDateTime>)>,
    pub revisions: Vec<Revision>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Revision {
    pub revision: i32,
    pub reason: String,
    pub sections: BTreeMap<String, String>,
    pub published_by: String,
    pub published_at: OffsetDateTime,
}

/// How far a postmortem got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pm {
    /// None needed (SEV3, SEV4) and none written.
    None,
    /// Policy wants one, nobody has started it.
    Missing,
    Published {
        late: bool,
        revised: bool,
    },
    InReview {
        reviewers: usize,
        approved: usize,
    },
    /// The first sections only, and no news since.
    Stalled,
    /// Sent back by a reviewer; still has one sentence the language check flags.
    ChangesRequested,
    /// Started a day or so ago.
    Fresh,
}

/// One incident about a deployment: which story, how bad, about when, and its postmortem.
struct Slot {
    story: &'static Story,
    severity: Severity,
    /// Declared at this severity, then changed to `severity`.
    declared_as: Option<Severity>,
    days_ago: i64,
    pm: Pm,
    /// A caller's duplicate incident, merged into this one.
    duplicate: bool,
}

const fn slot(story: &'static Story, severity: Severity, days_ago: i64, pm: Pm) -> Slot {
    Slot {
        story,
        severity,
        declared_as: None,
        days_ago,
        pm,
        duplicate: false,
    }
}

/// The incidents told about deployments, oldest first.
const SLOTS: [Slot; 13] = [
    slot(
        &stories::CRASH_LOOP,
        Severity::Sev2,
        165,
        Pm::Published {
            late: false,
            revised: false,
        },
    ),
    Slot {
        declared_as: Some(Severity::Sev2),
        ..slot(
            &stories::CONTRACT_BREAK,
            Severity::Sev1,
            125,
            Pm::Published {
                late: false,
                revised: true,
            },
        )
    },
    slot(&stories::STALE_CACHE, Severity::Sev3, 112, Pm::None),
    Slot {
        declared_as: Some(Severity::Sev2),
        ..slot(
            &stories::MEMORY_GROWTH,
            Severity::Sev3,
            100,
            Pm::Published {
                late: false,
                revised: false,
            },
        )
    },
    slot(
        &stories::POOL_EXHAUSTION,
        Severity::Sev2,
        75,
        Pm::Published {
            late: true,
            revised: false,
        },
    ),
    slot(&stories::BROKEN_LINKS, Severity::Sev4, 62, Pm::None),
    Slot {
        duplicate: true,
        ..slot(
            &stories::RETRY_STORM,
            Severity::Sev2,
            48,
            Pm::InReview {
                reviewers: 2,
                approved: 1,
            },
        )
    },
    slot(&stories::VERBOSE_LOGGING, Severity::Sev3, 36, Pm::None),
    slot(&stories::DROPPED_MESSAGES, Severity::Sev2, 20, Pm::Stalled),
    Slot {
        declared_as: Some(Severity::Sev2),
        ..slot(
            &stories::TABLE_LOCK,
            Severity::Sev1,
            11,
            Pm::InReview {
                reviewers: 2,
                approved: 0,
            },
        )
    },
    slot(
        &stories::FLAG_DEFAULT,
        Severity::Sev2,
        7,
        Pm::ChangesRequested,
    ),
    slot(&stories::N_PLUS_ONE, Severity::Sev3, 4, Pm::Fresh),
    slot(&stories::HEALTH_CHECK, Severity::Sev2, 2, Pm::Missing),
];

/// A deployment that went wrong and the one that put it right.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    cause: usize,
    fix: usize,
    kind: Cause,
    service: usize,
}

/// What the story's placeholders stand for.
struct Facts {
    svc: String,
    other: String,
    noun: &'static str,
    nouns: &'static str,
    ver: String,
    prev: String,
    cause_at: String,
    fix_at: String,
}

impl Facts {
    fn fill(&self, text: &str) -> String {
        text.replace("{svc}", &self.svc)
            .replace("{other}", &self.other)
            .replace("{nouns}", self.nouns)
            .replace("{noun}", self.noun)
            .replace("{ver}", &self.ver)
            .replace("{prev}", &self.prev)
            .replace("{cause_at}", &self.cause_at)
            .replace("{fix_at}", &self.fix_at)
    }
}

/// Plans the users, incidents and postmortems of `org`: the same organisation, seed and clock
/// always give the same ones. Incidents come back in the order they were declared.
pub(super) fn plan(org: &DemoOrg, seed: u64, now: OffsetDateTime) -> (Vec<User>, Vec<Incident>) {
    let mut p = Planner::new(org, seed, now);
    p.run();
    let mut incidents = p.incidents;
    for i in &mut incidents {
        whole_seconds(i);
        i.events.sort_by_key(|e| e.at);
    }
    incidents.sort_by_key(|i| (i.declared_at, i.key));
    (p.users, incidents)
}

struct Planner<'a> {
    org: &'a DemoOrg,
    now: OffsetDateTime,
    rng: Rng,
    users: Vec<User>,
    incidents: Vec<Incident>,
    used_deployments: HashSet<usize>,
    used_services: HashSet<usize>,
    /// The SRE of the development sign-in, and two of Acme's.
    sres: [usize; 3],
}

impl<'a> Planner<'a> {
    fn new(org: &'a DemoOrg, seed: u64, now: OffsetDateTime) -> Self {
        // Every made-up person of the development sign-in, as signing in would record them.
        let users: Vec<User> = dev::PERSONAS
            .iter()
            .map(|p| {
                let who = p.identity();
                User {
                    tenant_id: who.tenant_id,
                    object_id: who.object_id,
                    display_name: who.display_name,
                    email: who.email,
                    roles: who.roles,
                }
            })
            .collect();
        let sasha = dev::PERSONAS
            .iter()
            .position(|p| p.login == "sre")
            .expect("the development sign-in has an SRE");
        let mut planner = Planner {
            org,
            now,
            rng: Rng::new(splitmix64(seed ^ 0x1c1d_e275)),
            users,
            incidents: Vec::new(),
            used_deployments: HashSet::new(),
            used_services: HashSet::new(),
            sres: [sasha; 3],
        };
        let platform = planner.team_members("platform");
        for (i, name) in ["Leila Haddad", "Mark Jensen"].into_iter().enumerate() {
            let person = platform
                .iter()
                .find(|p| p.name == name)
                .expect("the platform team has its SREs")
                .clone();
            planner.sres[i + 1] = planner.person(&person, "sre");
        }
        planner
    }

    fn team_members(&self, team: &str) -> Vec<Person> {
        self.org
            .teams
            .iter()
            .find(|t| t.slug == team)
            .map(|t| t.members.clone())
            .unwrap_or_default()
    }

    /// The user of one of Acme's people, added on first use.
    fn person(&mut self, p: &Person, role: &str) -> usize {
        if let Some(i) = self
            .users
            .iter()
            .position(|u| u.email.as_deref() == Some(p.email.as_str()))
        {
            return i;
        }
        let h = splitmix64(
            p.email
                .bytes()
                .fold(0xacu64, |h, b| splitmix64(h ^ u64::from(b))),
        );
        let g = splitmix64(h);
        self.users.push(User {
            tenant_id: ACME_TENANT.into(),
            object_id: format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xffff,
                h & 0xfff,
                g >> 52,
                g & 0xffff_ffff_ffff
            ),
            display_name: p.name.clone(),
            email: Some(p.email.clone()),
            roles: vec![role.into()],
        });
        self.users.len() - 1
    }

    /// A member of the team owning `service`, as a user.
    fn member_of(&mut self, service: usize) -> usize {
        let team = &self.org.teams[self.org.services[service].owner_team];
        let p = self.rng.pick(&team.members).clone();
        self.person(&p, "developer")
    }

    /// The member with this e-mail (who deployed something), else any member.
    fn member_by_email(&mut self, service: usize, email: &str) -> usize {
        let team = &self.org.teams[self.org.services[service].owner_team];
        match team.members.iter().find(|m| m.email == email).cloned() {
            Some(p) => self.person(&p, "developer"),
            None => self.member_of(service),
        }
    }

    fn who(&self, user: usize) -> Who {
        Who {
            id: self.users[user].key(),
            name: self.users[user].display_name.clone(),
        }
    }

    fn run(&mut self) {
        let candidates = candidates(self.org, self.now);
        let mut planned: Vec<(usize, Candidate)> = Vec::new();
        for (i, s) in SLOTS.iter().enumerate() {
            if let Some(c) = self.choose(&candidates, s) {
                self.used_deployments.insert(c.cause);
                self.used_services.insert(c.service);
                planned.push((i, c));
            }
        }
        let mut key = 0;
        for (i, c) in planned {
            self.told(key, &SLOTS[i], c, i);
            key += 1;
            if SLOTS[i].duplicate {
                self.duplicate(key, key - 1);
                key += 1;
            }
        }
        self.provider_latency(key);
        self.bus_disk(key + 1);
        let earlier = key + 2;
        self.tracking_lag(earlier, None);
        self.tracking_lag(key + 3, Some(earlier));
        self.false_alarm(key + 4);
        self.busy_search(key + 5);
    }

    /// The candidate nearest to the slot's day that fits its story and severity: a service used
    /// before only when nothing else fits, a service of the tier the severity suggests if any.
    fn choose(&self, candidates: &[Candidate], s: &Slot) -> Option<Candidate> {
        let target = self.now - Duration::days(s.days_ago);
        let tiers: &[i16] = match s.severity {
            Severity::Sev1 => &[1],
            Severity::Sev2 => &[1, 2],
            Severity::Sev3 => &[2, 3],
            Severity::Sev4 => &[3, 4],
        };
        candidates
            .iter()
            .filter(|c| c.kind == s.story.cause && !self.used_deployments.contains(&c.cause))
            .filter(|c| (s.story.fits)(&SERVICES[c.service]))
            .filter(|c| {
                s.story.other == Other::None || self.other(c.service, s.story.other).is_some()
            })
            .min_by_key(|c| {
                let at = self.org.deployments[c.cause]
                    .finished_at
                    .unwrap_or(self.now);
                // A service of another tier counts as three weeks further away.
                let off_tier = if tiers.contains(&SERVICES[c.service].tier) {
                    0
                } else {
                    21 * 24
                };
                (
                    self.used_services.contains(&c.service),
                    (at - target).abs().whole_hours() + off_tier,
                    c.cause,
                )
            })
            .copied()
    }

    /// The second service a story names: the most important caller, or callee, preferably of
    /// another team.
    fn other(&self, service: usize, other: Other) -> Option<usize> {
        let team = SERVICES[service].team;
        let rank = |s: usize| (SERVICES[s].team == team, SERVICES[s].tier, s);
        let sync = self
            .org
            .dependencies
            .iter()
            .filter(|d| d.kind == DependencyKind::Sync);
        match other {
            Other::None => None,
            Other::Caller => sync
                .filter(|d| d.to == service && stories::backend(&SERVICES[d.from]))
                .map(|d| d.from)
                .min_by_key(|&s| rank(s)),
            Other::Callee => sync
                .filter(|d| d.from == service && stories::backend(&SERVICES[d.to]))
                .map(|d| d.to)
                .min_by_key(|&s| rank(s)),
        }
    }

    /// Who reviews a postmortem: someone from a team the incident touched or an SRE, and last
    /// the SRE of the development sign-in (so that signing in as them shows what waits for them);
    /// never the author.
    fn reviewers(&mut self, author: usize, other: Option<usize>, count: usize) -> Vec<usize> {
        let mut pool = Vec::new();
        if let Some(o) = other {
            pool.push(self.member_of(o));
        }
        pool.push(self.sres[1 + self.rng.below(2) as usize]);
        pool.push(self.sres[1]);
        pool.push(self.sres[2]);
        let mut seen = HashSet::from([author, self.sres[0]]);
        pool.retain(|u| seen.insert(*u));
        pool.truncate(count.saturating_sub(1));
        pool.push(self.sres[0]);
        pool
    }

    /// Commander by severity: the SREs take SEV1 and SEV2 in turn, the owning team the rest.
    fn commander(&mut self, severity: Severity, service: usize, turn: usize) -> usize {
        match severity {
            Severity::Sev1 => self.sres[0],
            Severity::Sev2 => self.sres[turn % 3],
            _ => self.member_of(service),
        }
    }

    /// An incident told about a deployment and its rollback or hotfix.
    fn told(&mut self, key: usize, s: &Slot, c: Candidate, turn: usize) {
        let org = self.org;
        let story = s.story;
        let cause = &org.deployments[c.cause];
        let fix = &org.deployments[c.fix];
        let cause_end = cause.finished_at.expect("a cause has finished");
        let (fix_start, fix_end) = (
            fix.started_at.expect("a fix has started"),
            fix.finished_at.expect("a fix has finished"),
        );
        let other = self.other(c.service, story.other);
        let facts = Facts {
            svc: org.services[c.service].name.clone(),
            other: other.map_or_else(String::new, |o| org.services[o].name.clone()),
            noun: SERVICES[c.service].noun,
            nouns: SERVICES[c.service].nouns,
            ver: cause.version.clone(),
            prev: fix.version.clone(),
            cause_at: when(cause_end),
            fix_at: when(fix_end),
        };
        let mut services = vec![c.service];
        services.extend(other);

        // The moments, as shares of the time between the bad deployment and the fix.
        let gap = fix_start - cause_end;
        let share = |f: f64| cause_end + gap * f;
        let (started, detected, declared, investigating, noticed, identified) = match c.kind {
            Cause::Rollback => (
                cause_end + Duration::minutes(1) + Duration::seconds(self.rng.range(0, 90)),
                share(0.3),
                share(0.4),
                share(0.45),
                share(0.6),
                share(0.85),
            ),
            Cause::Hotfix => {
                let detected = share(0.3 + 0.1 * self.rng.unit());
                let left = fix_start - detected;
                (
                    cause_end + Duration::minutes(2),
                    detected,
                    detected + Duration::minutes(8),
                    detected + Duration::minutes(12),
                    detected + Duration::minutes(30),
                    detected + Ord::max(left * 0.3_f64, Duration::minutes(40)),
                )
            }
        };
        let declarer = self.member_of(c.service);
        let commander = self.commander(s.severity, c.service, turn);
        let fixer = self.member_by_email(c.service, &fix.deployed_by);
        let (declarer, commander_who, fixer_who) =
            (self.who(declarer), self.who(commander), self.who(fixer));

        let mut i = Incident::declare(
            key,
            &facts.fill(story.title),
            s.declared_as.unwrap_or(s.severity),
            &declarer,
            declared,
            "manual",
            "Declared",
        );
        i.summary = facts.fill(story.summary);
        i.commander = Some(commander);
        i.started_at = Some(started);
        i.detected_at = Some(detected);
        i.services = services;
        i.go(
            investigating,
            &commander_who,
            IncidentState::Investigating,
            None,
        );
        i.note(noticed, &declarer, &facts.fill(story.noticed));
        if let Some(initial) = s.declared_as {
            let at = noticed + (identified - noticed) * 0.3;
            i.severity_to(at, &commander_who, initial, s.severity);
        }
        i.go(
            identified,
            &commander_who,
            IncidentState::Identified,
            Some(&facts.fill(story.identified)),
        );
        i.link(
            identified + (fix_start - identified) * 0.5,
            &declarer,
            c.cause,
            "caused_by",
            &facts.fill(story.cause_note),
        );
        if c.kind == Cause::Hotfix
            && let Some(staged) = staging_of(org, c.fix)
            && staged > identified
        {
            i.note(
                staged,
                &fixer_who,
                &format!(
                    "Hotfix {} is in staging and passes its checks; production next",
                    fix.version
                ),
            );
        }
        i.go(
            fix_end + Duration::minutes(1),
            &commander_who,
            IncidentState::Monitoring,
            Some(&facts.fill(story.mitigated)),
        );
        i.mitigated(fix_end + Duration::minutes(2), &commander_who, fix_end);
        i.link(
            fix_end + Duration::minutes(4),
            &fixer_who,
            c.fix,
            "fixed_by",
            &facts.fill(story.fix_note),
        );
        let resolved = fix_end + Duration::minutes(self.rng.range(50, 110));
        i.go(
            resolved,
            &commander_who,
            IncidentState::Resolved,
            Some(&facts.fill(story.resolved)),
        );

        let sections = story.postmortem.as_ref().map(|text| {
            let first_signal = facts.fill(story.alert);
            let resolution = match c.kind {
                Cause::Rollback => format!(
                    "The rollback to {} started at {} and finished at {}; errors stopped within \
                     minutes, and the incident was resolved at {} after an hour of monitoring.",
                    fix.version,
                    clock(fix_start),
                    clock(fix_end),
                    clock(resolved)
                ),
                Cause::Hotfix => format!(
                    "Hotfix {} went through staging and reached production at {}; the incident \
                     was resolved at {}.",
                    fix.version,
                    when(fix_end),
                    clock(resolved)
                ),
            };
            let supporting = format!(
                "- Incident timeline and linked deployments: ⟨self⟩ in Portolan\n\
                 - Cause: ⟨dep:{}⟩, pipeline {}\n\
                 - Fix: ⟨dep:{}⟩, pipeline {}\n\
                 - Service dashboard: https://grafana.example.com/d/{slug}/overview\n\
                 - Runbook: https://runbooks.example.com/{slug}\n\
                 - Incident channel: #inc-{}-{slug}",
                c.cause,
                cause.pipeline_url,
                c.fix,
                fix.pipeline_url,
                day_stamp(declared),
                slug = org.services[c.service].slug,
            );
            write_sections(&facts, text, &i, &first_signal, &resolution, &supporting)
        });
        let author = self.member_of(c.service);
        let count = match s.pm {
            Pm::InReview { reviewers, .. } => reviewers,
            _ => 2,
        };
        let reviewers = self.reviewers(author, other, count);
        self.postmortem(&mut i, s.pm, sections, author, commander, reviewers);
        self.incidents.push(i);
    }

    /// A caller's team declares the same trouble as seen from their side; the commander of the
    /// first incident merges it.
    fn duplicate(&mut self, key: usize, into: usize) {
        let Some(main) = self.incidents.iter().find(|i| i.key == into).cloned() else {
            return;
        };
        let service = main.services[0];
        let caller = self
            .org
            .dependencies
            .iter()
            .filter(|d| d.kind == DependencyKind::Sync && d.to == service)
            .map(|d| d.from)
            .min_by_key(|&s| (SERVICES[s].tier, s))
            .unwrap_or(service);
        let (Some(detected), Some(started)) = (main.detected_at, main.started_at) else {
            return;
        };
        let investigating = main
            .events
            .iter()
            .find(|e| e.kind == "state")
            .map_or(main.declared_at, |e| e.at);
        let declared = main.declared_at + (investigating - main.declared_at) * 0.5;
        let declarer = self.member_of(caller);
        let declarer = self.who(declarer);
        let commander = main.commander.map(|c| self.who(c));
        let name = &self.org.services[caller].name;
        let mut dup = Incident::declare(
            key,
            &format!("{name} showing errors on most pages"),
            Severity::Sev2,
            &declarer,
            declared,
            "manual",
            "Declared",
        );
        dup.summary = format!(
            "Error pages and slow responses on {name}; calls to {} time out.",
            self.org.services[service].name
        );
        dup.started_at = Some(started);
        dup.detected_at = Some(detected.max(declared - Duration::minutes(2)));
        dup.services = vec![caller];
        let merger = commander.unwrap_or(declarer);
        let at = declared + Duration::minutes(6);
        dup.merge(at, &merger, into, "same cause, followed there");
        if let Some(main) = self.incidents.iter_mut().find(|i| i.key == into) {
            main.event(
                at,
                "change",
                &merger,
                &format!("⟨inc:{key}⟩ was merged into this incident"),
            );
            main.events.sort_by_key(|e| e.at);
        }
        self.incidents.push(dup);
    }

    /// The card payment provider slows down in one region: no deployment involved.
    fn provider_latency(&mut self, key: usize) {
        let service = service_index("payment-gateway");
        let caller = service_index("checkout-api");
        let started = working_day(self.now - Duration::days(140), 15, 10);
        let declarer = self.member_of(service);
        let declarer = self.who(declarer);
        let commander = self.sres[1];
        let cw = self.who(commander);
        let m = |n: i64| started + Duration::minutes(n);
        let mut i = Incident::declare(
            key,
            "Card payments slow and timing out at checkout",
            Severity::Sev2,
            &declarer,
            m(9),
            "manual",
            "Declared",
        );
        i.summary = "Card authorisations take 6 s or more and about one in ten times out; \
                     wallet payments are fine."
            .into();
        i.commander = Some(commander);
        i.started_at = Some(started);
        i.detected_at = Some(m(6));
        i.services = vec![service, caller];
        i.go(m(11), &cw, IncidentState::Investigating, None);
        i.note(
            m(20),
            &declarer,
            "Our side is healthy: the time is spent waiting for the provider, and only for \
             authorisations sent to its primary region.",
        );
        i.go(
            m(28),
            &cw,
            IncidentState::Identified,
            Some("the payment provider's primary region is degraded; moving authorisations to its secondary region"),
        );
        i.note(
            m(33),
            &cw,
            "The provider's support confirms a degradation in their primary region (their \
             ticket 58213).",
        );
        i.go(
            m(38),
            &cw,
            IncidentState::Monitoring,
            Some("authorisations go to the secondary region; p50 back to 1.3 s"),
        );
        i.mitigated(m(39), &cw, m(37));
        i.go(
            m(130),
            &cw,
            IncidentState::Resolved,
            Some("the provider reports its primary region healthy; we stay on the secondary until latency-based routing is in"),
        );
        let facts = Facts {
            svc: "the payment gateway".into(),
            other: String::new(),
            noun: "",
            nouns: "",
            ver: String::new(),
            prev: String::new(),
            cause_at: when(started),
            fix_at: when(m(37)),
        };
        let supporting = format!(
            "- Incident timeline: ⟨self⟩ in Portolan\n\
             - Provider dashboard: https://grafana.example.com/d/payment-gateway/provider-latency\n\
             - Provider ticket 58213 and their incident report\n\
             - Incident channel: #inc-{}-payment-gateway",
            day_stamp(started)
        );
        let sections = write_sections(
            &facts,
            &stories::PROVIDER_LATENCY,
            &i,
            "The payment gateway's authorisation-latency alert",
            &format!(
                "Authorisations were moved to the provider's secondary region at {}, which ended \
                 the impact; the incident was resolved at {} once the provider reported its \
                 primary region healthy.",
                clock(m(37)),
                clock(m(130))
            ),
            &supporting,
        );
        let author = self.member_of(service);
        let reviewers = self.reviewers(author, Some(caller), 2);
        self.postmortem(
            &mut i,
            Pm::Published {
                late: false,
                revised: false,
            },
            Some(sections),
            author,
            commander,
            reviewers,
        );
        self.incidents.push(i);
    }

    /// Brokers of the event bus run out of disk: no deployment involved.
    fn bus_disk(&mut self, key: usize) {
        let service = service_index("event-bus");
        let producer = service_index("order-service");
        let started = working_day(self.now - Duration::days(15), 10, 40);
        let platform = self.team_members("platform");
        let declarer = self.person(&platform[0], "developer");
        let declarer = self.who(declarer);
        let commander = self.sres[2];
        let cw = self.who(commander);
        let m = |n: i64| started + Duration::minutes(n);
        let mut i = Incident::declare(
            key,
            "Event bus brokers above 90% disk, publishing slow",
            Severity::Sev3,
            &declarer,
            m(4),
            "manual",
            "Declared",
        );
        i.summary = "Three brokers are above 90% disk use and throttle writes; publishing takes \
                     seconds and order confirmations are delayed."
            .into();
        i.commander = Some(commander);
        i.started_at = Some(started);
        i.detected_at = Some(m(1));
        i.services = vec![service, producer];
        i.go(m(6), &cw, IncidentState::Investigating, None);
        i.severity_to(m(14), &cw, Severity::Sev3, Severity::Sev2);
        i.note(
            m(17),
            &declarer,
            "The clickstream topic grows fastest: its retention went from 3 to 14 days this \
             morning, and the analytics consumer is six hours behind.",
        );
        i.go(
            m(25),
            &cw,
            IncidentState::Identified,
            Some("the clickstream retention change; setting it back to 3 days"),
        );
        i.go(
            m(52),
            &cw,
            IncidentState::Monitoring,
            Some(
                "retention back to 3 days, disk at 55% on every broker, publishing latency normal",
            ),
        );
        i.mitigated(m(53), &cw, m(48));
        i.go(
            m(140),
            &cw,
            IncidentState::Resolved,
            Some("disk use stable and the consumer has caught up"),
        );
        let facts = Facts {
            svc: "event bus".into(),
            other: "the order service".into(),
            noun: "",
            nouns: "",
            ver: String::new(),
            prev: String::new(),
            cause_at: when(started),
            fix_at: when(m(48)),
        };
        let supporting = format!(
            "- Incident timeline: ⟨self⟩ in Portolan\n\
             - Broker dashboard: https://grafana.example.com/d/event-bus/brokers\n\
             - The retention change: https://code.example.com/acme/event-bus-config/pull/412\n\
             - Incident channel: #inc-{}-event-bus",
            day_stamp(started)
        );
        let sections = write_sections(
            &facts,
            &stories::BUS_DISK,
            &i,
            "The broker disk alert (85% on one broker)",
            &format!(
                "Retention of the clickstream topic was set back to 3 days at {}; disk use fell \
                 to 55% and publishing latency returned to normal within minutes.",
                clock(m(48))
            ),
            &supporting,
        );
        let author = self.person(&platform[1], "developer");
        // Reviewed by the two teams hurt most, and the SRE of the development sign-in.
        let data = self.team_members("data");
        let checkout = self.team_members("checkout");
        let reviewers = vec![
            self.person(&data[0], "developer"),
            self.person(&checkout[0], "developer"),
            self.sres[0],
        ];
        self.postmortem(
            &mut i,
            Pm::InReview {
                reviewers: 3,
                approved: 2,
            },
            Some(sections),
            author,
            commander,
            reviewers,
        );
        self.incidents.push(i);
    }

    /// Carrier tracking falls behind, opened by Alertmanager: once long ago (closed), and again
    /// now (open, being investigated).
    fn tracking_lag(&mut self, key: usize, earlier: Option<usize>) {
        let service = service_index("carrier-tracking");
        let alertmanager = Who::alertmanager();
        let title = "Carrier tracking events are more than 30 minutes behind";
        let open = earlier.is_some();
        let started = if open {
            self.now - Duration::minutes(52)
        } else {
            working_day(self.now - Duration::days(88), 13, 20)
        };
        let m = |n: i64| started + Duration::minutes(n);
        let mut i = Incident::declare(
            key,
            title,
            if open { Severity::Sev3 } else { Severity::Sev4 },
            &alertmanager,
            m(1),
            "alertmanager",
            "Opened",
        );
        i.external_key = Some("{}/{}:{alertname=\"CarrierTrackingLag\"}".into());
        i.summary = "Tracking events from carriers are processed more than 30 minutes after they \
                     arrive.\n\nRunbook: https://runbooks.example.com/carrier-tracking\n\n\
                     Alertmanager: https://alertmanager.example.com"
            .into();
        i.started_at = Some(started);
        i.detected_at = Some(started);
        i.services = vec![service];
        i.alerts.push(Alert {
            fingerprint: format!("{:016x}", splitmix64(key as u64 ^ 0xa1e7)),
            starts_at: started,
            name: "CarrierTrackingLag".into(),
            ends_at: None,
        });
        i.event(m(1), "alert", &alertmanager, "Firing: CarrierTrackingLag");
        let fulfilment = self.member_of(service);
        let fw = self.who(fulfilment);
        if let Some(earlier) = earlier {
            i.event(
                m(1),
                "alert",
                &alertmanager,
                &format!("The same alert group was followed by ⟨inc:{earlier}⟩ (closed)"),
            );
            let sasha = self.sres[0];
            let sw = self.who(sasha);
            i.commander = Some(sasha);
            i.change(m(8), &sw, "Incident commander: Sasha SRE");
            i.go(m(9), &sw, IncidentState::Investigating, None);
            i.alerts.push(Alert {
                fingerprint: format!("{:016x}", splitmix64(key as u64 ^ 0xbee7)),
                starts_at: m(16),
                name: "CarrierWebhookErrors".into(),
                ends_at: None,
            });
            i.event(
                m(17),
                "alert",
                &alertmanager,
                "Also firing: CarrierWebhookErrors",
            );
            i.note(
                m(22),
                &sw,
                "One carrier's API answers 504 when we fetch event details; the consumer retries \
                 each event and falls behind. Events from the other carriers are current.",
            );
            i.note(
                m(34),
                &fw,
                "Ticket opened with the carrier; their status page lists degraded API \
                 performance since about when our alert started.",
            );
        } else {
            i.commander = Some(fulfilment);
            i.change(m(12), &fw, &format!("Incident commander: {}", fw.name));
            i.go(m(13), &fw, IncidentState::Investigating, None);
            i.note(
                m(25),
                &fw,
                "A carrier's API is slow to return event details; the backlog clears on its own \
                 as their latency improves.",
            );
            let ended = m(70);
            for a in &mut i.alerts {
                a.ends_at = Some(ended);
            }
            i.go(
                m(71),
                &alertmanager,
                IncidentState::Resolved,
                Some(&format!(
                    "every alert of the group ended, the last at {}",
                    rfc3339(ended)
                )),
            );
            i.go(
                m(71) + Duration::hours(20),
                &fw,
                IncidentState::Closed,
                Some("carrier confirmed the slowdown on their side; nothing to follow up"),
            );
        }
        self.incidents.push(i);
    }

    /// A synthetic check that fails for its own reasons, opened by PagerDuty and declined.
    fn false_alarm(&mut self, key: usize) {
        let service = service_index("storefront-web");
        let pagerduty = Who::pagerduty();
        let started = working_day(self.now - Duration::days(27), 16, 45);
        let m = |n: i64| started + Duration::minutes(n);
        let mut i = Incident::declare(
            key,
            "Storefront web synthetic check failing (eu-west)",
            Severity::Sev3,
            &pagerduty,
            m(1),
            "pagerduty",
            "Opened",
        );
        i.external_key = Some("Q3VN8WJ0KPLX2A".into());
        i.started_at = Some(started);
        i.detected_at = Some(started);
        i.services = vec![service];
        let growth = self.member_of(service);
        let gw = self.who(growth);
        i.event(
            m(1),
            "alert",
            &pagerduty,
            "PagerDuty incident #4821 (priority P3, high urgency) on service 'Storefront web': \
             https://acme.pagerduty.com/incidents/Q3VN8WJ0KPLX2A",
        );
        i.go(
            m(6),
            &pagerduty,
            IncidentState::Investigating,
            Some(&format!("acknowledged in PagerDuty by {}", gw.name)),
        );
        i.note(
            m(14),
            &gw,
            "Only the eu-west probe fails, with connection timeouts. Real traffic from that \
             region is normal and the other four probes pass.",
        );
        let sre = self.who(self.sres[1]);
        i.note(
            m(21),
            &sre,
            "The monitoring vendor reports network trouble at its eu-west probe location.",
        );
        i.go(
            m(24),
            &gw,
            IncidentState::Declined,
            Some("false alarm: the probe's own network in eu-west was failing; shoppers were not affected"),
        );
        self.incidents.push(i);
    }

    /// Search under more traffic than it scales to: mitigated, still being watched at `now`.
    fn busy_search(&mut self, key: usize) {
        let service = service_index("search-api");
        let front = service_index("storefront-bff");
        let started = self.now - Duration::minutes(200);
        let m = |n: i64| started + Duration::minutes(n);
        let declarer = self.member_of(service);
        let dw = self.who(declarer);
        let mut i = Incident::declare(
            key,
            "Search latency above its objective under peak traffic",
            Severity::Sev3,
            &dw,
            m(14),
            "manual",
            "Declared",
        );
        i.summary = "Search p99 latency is around 1.8 s against an objective of 500 ms; query \
                     volume is well above the usual evening peak."
            .into();
        i.commander = Some(declarer);
        i.started_at = Some(started);
        i.detected_at = Some(m(9));
        i.services = vec![service, front];
        i.go(m(16), &dw, IncidentState::Investigating, None);
        i.note(
            m(27),
            &dw,
            "Query volume is 2.4 times the usual evening peak (a marketing campaign). search-api \
             runs at 95% CPU on the maximum of 12 replicas; the index itself is healthy.",
        );
        i.go(
            m(33),
            &dw,
            IncidentState::Identified,
            Some("capacity: autoscaling is at its maximum"),
        );
        i.note(
            m(41),
            &dw,
            "Raised the autoscaling maximum to 24; 20 replicas running.",
        );
        i.go(
            m(58),
            &dw,
            IncidentState::Monitoring,
            Some("p99 back to 280 ms; watching until the campaign traffic falls off"),
        );
        i.mitigated(m(59), &dw, m(52));
        self.incidents.push(i);
    }

    /// Writes the postmortem an incident got as far as `pm`, with its timeline entries; closes
    /// the incident once its postmortem is published.
    fn postmortem(
        &mut self,
        i: &mut Incident,
        pm: Pm,
        sections: Option<BTreeMap<String, String>>,
        author: usize,
        commander: usize,
        reviewers: Vec<usize>,
    ) {
        let now = self.now;
        let resolved = i
            .resolved_at
            .expect("postmortems follow resolved incidents");
        let commander_who = self.who(commander);
        let author_who = self.who(author);
        // A day count after resolution, squeezed into the time there was when that is short.
        let after = |days: f64, share: f64| -> OffsetDateTime {
            let room = now - resolved - Duration::minutes(30);
            resolved + (Duration::seconds_f64(days * 86_400.0)).min(room * share)
        };
        let Some(sections) = sections.filter(|_| !matches!(pm, Pm::None | Pm::Missing)) else {
            if pm == Pm::None {
                let at = resolved + Duration::hours(self.rng.range(18, 50));
                if at <= now {
                    i.go(at, &commander_who, IncidentState::Closed, None);
                }
            }
            return;
        };
        let started = after(0.2, 0.1);
        i.event(started, "change", &author_who, "Postmortem started");
        let mut doc = Postmortem {
            state: PostmortemState::Draft,
            sections: BTreeMap::new(),
            review_note: String::new(),
            author: author_who.name.clone(),
            version: 1,
            revision: 0,
            created_at: started,
            updated_at: started,
            published_at: None,
            reviewers: Vec::new(),
            revisions: Vec::new(),
        };
        let full: BTreeMap<String, String> = sections
            .into_iter()
            .filter(|(_, text)| !text.trim().is_empty())
            .collect();
        let saved = |doc: &mut Postmortem, at: OffsetDateTime, saves: i32| {
            doc.version += saves;
            doc.updated_at = at;
        };
        match pm {
            Pm::None | Pm::Missing => unreachable!("handled above"),
            Pm::Fresh | Pm::Stalled => {
                doc.sections = full;
                saved(&mut doc, after(1.2, 0.5), 3);
            }
            Pm::ChangesRequested | Pm::InReview { .. } | Pm::Published { .. } => {
                doc.sections = full;
                let approved = match pm {
                    Pm::InReview { approved, .. } => approved,
                    Pm::ChangesRequested => 0,
                    _ => reviewers.len(),
                };
                let late = matches!(pm, Pm::Published { late: true, .. });
                let requested = after(if late { 8.0 } else { 2.0 }, 0.35);
                saved(&mut doc, requested - Duration::hours(2), 6);
                let named = reviewers;
                let names: Vec<String> = named
                    .iter()
                    .map(|&u| self.users[u].display_name.clone())
                    .collect();
                i.event(
                    requested,
                    "change",
                    &author_who,
                    &format!("Postmortem sent for review to {}", names.join(", ")),
                );
                doc.state = PostmortemState::InReview;
                saved(&mut doc, requested, 1);
                let mut last = requested;
                for (n, &u) in named.iter().enumerate() {
                    let at = if n < approved {
                        let at = requested + (now - requested) * (0.2 + 0.25 * n as f64);
                        let at = at.min(requested + Duration::hours(6 + 20 * n as i64));
                        let who = self.who(u);
                        i.event(at, "change", &who, "Postmortem approved");
                        saved(&mut doc, at, 1);
                        last = at;
                        Some(at)
                    } else {
                        None
                    };
                    doc.reviewers.push((u, at));
                }
                if pm == Pm::ChangesRequested {
                    let reviewer = self.who(named[named.len() - 1]);
                    let note = "Please reword the first point under \"What went wrong\": describe \
                                what the release process did not show, rather than what the \
                                on-call engineer did.";
                    let at = requested + (now - requested) * 0.4;
                    i.event(
                        at,
                        "change",
                        &reviewer,
                        &format!("Postmortem changes requested: {note}"),
                    );
                    doc.state = PostmortemState::Draft;
                    doc.review_note = note.into();
                    saved(&mut doc, at, 1);
                } else if let Pm::Published { revised, .. } = pm {
                    let published = last + Duration::hours(3);
                    i.event(published, "change", &author_who, "Postmortem published");
                    doc.state = PostmortemState::Published;
                    doc.revision = 1;
                    doc.published_at = Some(published);
                    doc.revisions.push(Revision {
                        revision: 1,
                        reason: "first publication".into(),
                        sections: complete(&doc.sections),
                        published_by: author_who.name.clone(),
                        published_at: published,
                    });
                    saved(&mut doc, published, 1);
                    i.go(
                        published + Duration::minutes(25),
                        &commander_who,
                        IncidentState::Closed,
                        Some("postmortem published"),
                    );
                    if revised {
                        let at = published + Duration::days(6);
                        let reason = "Updated the impact with support's final count of \
                                      contacts";
                        let impact = doc.sections.get("impact").cloned().unwrap_or_default();
                        doc.sections.insert(
                            "impact".into(),
                            format!(
                                "{impact}\n\nSupport's final count is 212 contacts about the \
                                 error page, not 140: the first revision counted chat only, and \
                                 e-mails kept arriving for two days."
                            ),
                        );
                        doc.revision = 2;
                        doc.published_at = Some(at);
                        doc.revisions.push(Revision {
                            revision: 2,
                            reason: reason.into(),
                            sections: complete(&doc.sections),
                            published_by: author_who.name.clone(),
                            published_at: at,
                        });
                        i.event(
                            at,
                            "change",
                            &author_who,
                            &format!("Postmortem revision 2 published: {reason}"),
                        );
                        saved(&mut doc, at, 1);
                    }
                }
            }
        }
        i.events.sort_by_key(|e| e.at);
        i.postmortem = Some(doc);
    }
}

impl Incident {
    /// A new incident in triage, with its `declared` entry.
    fn declare(
        key: usize,
        title: &str,
        severity: Severity,
        by: &Who,
        at: OffsetDateTime,
        source: &'static str,
        verb: &str,
    ) -> Self {
        let mut i = Incident {
            key,
            title: title.into(),
            severity,
            state: IncidentState::Triage,
            summary: String::new(),
            commander: None,
            merged_into: None,
            source,
            external_key: None,
            started_at: None,
            detected_at: None,
            mitigated_at: None,
            resolved_at: None,
            declared_at: at,
            declared_by: by.name.clone(),
            updated_at: at,
            version: 1,
            services: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            alerts: Vec::new(),
            postmortem: None,
        };
        i.event(
            at,
            "declared",
            by,
            &format!("{verb} {} ⟨self⟩: {title}", severity.label()),
        );
        i
    }

    fn event(&mut self, at: OffsetDateTime, kind: &'static str, by: &Who, text: &str) {
        self.events.push(Event {
            at,
            kind,
            actor_id: by.id.clone(),
            actor_name: by.name.clone(),
            text: text.into(),
        });
    }

    fn note(&mut self, at: OffsetDateTime, by: &Who, text: &str) {
        self.event(at, "note", by, text);
    }

    /// A change to the incident's fields, as a PATCH writes it.
    fn change(&mut self, at: OffsetDateTime, by: &Who, text: &str) {
        self.event(at, "change", by, text);
        self.version += 1;
        self.updated_at = at;
    }

    /// Records when the impact stopped (a PATCH of `mitigated_at`).
    fn mitigated(&mut self, at: OffsetDateTime, by: &Who, when: OffsetDateTime) {
        self.mitigated_at = Some(when);
        self.change(at, by, &format!("Mitigated at {}", rfc3339(when)));
    }

    fn severity_to(&mut self, at: OffsetDateTime, by: &Who, from: Severity, to: Severity) {
        self.severity = to;
        self.event(
            at,
            "severity",
            by,
            &format!("Severity {} → {}", from.label(), to.label()),
        );
        self.version += 1;
        self.updated_at = at;
    }

    /// A move through the lifecycle, as `POST …/transition` writes it.
    fn go(&mut self, at: OffsetDateTime, by: &Who, to: IncidentState, note: Option<&str>) {
        let mut text = format!("{} → {}", self.state.as_str(), to.as_str());
        if let Some(n) = note {
            text.push_str(": ");
            text.push_str(n);
        }
        if to == IncidentState::Resolved {
            self.resolved_at = Some(at);
            self.mitigated_at = Some(self.mitigated_at.unwrap_or(at));
        }
        self.state = to;
        self.event(at, "state", by, &text);
        self.version += 1;
        self.updated_at = at;
    }

    fn merge(&mut self, at: OffsetDateTime, by: &Who, into: usize, note: &str) {
        self.state = IncidentState::Merged;
        self.merged_into = Some(into);
        self.event(
            at,
            "state",
            by,
            &format!("Merged into ⟨inc:{into}⟩: {note}"),
        );
        self.version += 1;
        self.updated_at = at;
    }

    fn link(
        &mut self,
        at: OffsetDateTime,
        by: &Who,
        deployment: usize,
        relation: &'static str,
        note: &str,
    ) {
        self.links.push(Link {
            deployment,
            relation,
            note: note.into(),
            linked_by: by.name.clone(),
            linked_at: at,
        });
        let words = if relation == "caused_by" {
            "the cause"
        } else {
            "a fix"
        };
        self.event(
            at,
            "link",
            by,
            &format!("Linked ⟨dep:{deployment}⟩ as {words}: {note}"),
        );
    }
}

/// The ten sections, from a story's texts and the incident's facts.
fn write_sections(
    facts: &Facts,
    text: &PostmortemText,
    i: &Incident,
    first_signal: &str,
    resolution: &str,
    supporting: &str,
) -> BTreeMap<String, String> {
    let started = i.started_at.expect("started");
    let detected = i.detected_at.expect("detected");
    let mitigated = i.mitigated_at.expect("mitigated");
    let mut impact = facts.fill(text.impact);
    if !impact.is_empty() {
        impact.push_str(&format!(
            "\n\n- Impact from {} to {} ({})\n- Detected after {}; mitigated {} after detection\n- Severity: {}",
            when(started),
            clock(mitigated),
            span(mitigated - started),
            span(detected - started),
            span(mitigated - detected),
            i.severity.label(),
        ));
    }
    let fix = facts.fill(text.fix);
    let resolution = if fix.is_empty() {
        String::new()
    } else {
        format!("{resolution}\n\n{fix}")
    };
    let detection = if text.root_causes.is_empty() {
        String::new()
    } else {
        format!(
            "First signal: {first_signal}, at {}, {} after the impact started. The incident \
             was declared at {}.",
            clock(detected),
            span(detected - started),
            clock(i.declared_at)
        )
    };
    let supporting = if text.went_well.is_empty() {
        String::new()
    } else {
        supporting.to_string()
    };
    let values = [
        facts.fill(text.summary),
        impact,
        facts.fill(text.root_causes),
        facts.fill(text.trigger),
        resolution,
        detection,
        facts.fill(text.went_well),
        facts.fill(text.went_wrong),
        facts.fill(text.lucky),
        supporting,
    ];
    SECTIONS
        .iter()
        .zip(values)
        .map(|((key, _, _), value)| ((*key).to_string(), value))
        .collect()
}

/// Every section, empty where nothing was written: what a published revision keeps.
fn complete(sections: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    SECTIONS
        .iter()
        .map(|(k, _, _)| {
            (
                (*k).to_string(),
                sections.get(*k).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Drops the fractions of seconds the shares of durations leave (the order of times stays).
fn whole_seconds(i: &mut Incident) {
    let floor = |t: &mut OffsetDateTime| *t = t.replace_nanosecond(0).unwrap_or(*t);
    for t in [
        &mut i.started_at,
        &mut i.detected_at,
        &mut i.mitigated_at,
        &mut i.resolved_at,
    ]
    .into_iter()
    .flatten()
    {
        floor(t);
    }
    floor(&mut i.declared_at);
    floor(&mut i.updated_at);
    i.events.iter_mut().for_each(|e| floor(&mut e.at));
    i.links.iter_mut().for_each(|l| floor(&mut l.linked_at));
    if let Some(pm) = &mut i.postmortem {
        floor(&mut pm.created_at);
        floor(&mut pm.updated_at);
        pm.published_at.iter_mut().for_each(floor);
        pm.reviewers
            .iter_mut()
            .for_each(|(_, a)| a.iter_mut().for_each(floor));
        pm.revisions
            .iter_mut()
            .for_each(|r| floor(&mut r.published_at));
    }
}

/// The deployments that went wrong in production, with their rollback or hotfix.
fn candidates(org: &DemoOrg, now: OffsetDateTime) -> Vec<Candidate> {
    let mut by_service: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, d) in org.deployments.iter().enumerate() {
        if d.environment == PROD && d.finished_at.is_some() {
            by_service.entry(d.service).or_default().push(i);
        }
    }
    let oldest = now - Duration::days(super::HISTORY_DAYS - 3);
    let mut out = Vec::new();
    for (&service, list) in &by_service {
        for (n, &i) in list.iter().enumerate() {
            let d = &org.deployments[i];
            let found = if d.status == DeploymentStatus::RolledBack {
                list[n + 1..]
                    .iter()
                    .copied()
                    .find(|&j| org.deployments[j].kind == DeploymentKind::Rollback)
                    .map(|fix| (i, fix, Cause::Rollback))
            } else if d.kind == DeploymentKind::Hotfix
                && d.status == DeploymentStatus::Succeeded
                && n > 0
            {
                let before = list[n - 1];
                let b = &org.deployments[before];
                (b.kind == DeploymentKind::Normal && b.status == DeploymentStatus::Succeeded)
                    .then_some((before, i, Cause::Hotfix))
            } else {
                None
            };
            let Some((cause, fix, kind)) = found else {
                continue;
            };
            let (c, f) = (&org.deployments[cause], &org.deployments[fix]);
            let fits = c.started_at.is_some_and(|t| t >= oldest)
                && f.finished_at.is_some_and(|t| t + Duration::hours(3) <= now)
                && (kind == Cause::Rollback
                    || f.started_at
                        .zip(c.finished_at)
                        .is_some_and(|(s, e)| s - e >= Duration::hours(2)));
            if fits {
                out.push(Candidate {
                    cause,
                    fix,
                    kind,
                    service,
                });
            }
        }
    }
    out.sort_by_key(|c| c.cause);
    out
}

/// When the staging deployment of a hotfix finished.
fn staging_of(org: &DemoOrg, fix: usize) -> Option<OffsetDateTime> {
    let f = &org.deployments[fix];
    org.deployments
        .iter()
        .filter(|d| {
            d.service == f.service
                && d.environment == STAGING
                && d.version == f.version
                && d.status == DeploymentStatus::Succeeded
        })
        .filter_map(|d| d.finished_at)
        .filter(|&t| Some(t) <= f.started_at)
        .max()
}

/// That day at `hour:minute` UTC, moved back to the Friday before when it is a weekend.
fn working_day(day: OffsetDateTime, hour: u8, minute: u8) -> OffsetDateTime {
    let mut t = day.replace_time(time::Time::from_hms(hour, minute, 0).expect("a valid time"));
    while super::is_weekend(t) {
        t -= Duration::days(1);
    }
    t
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `14:02 UTC`.
fn clock(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!("[hour]:[minute] UTC"))
        .unwrap_or_default()
}

/// `14:02 UTC on 3 June`.
fn when(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[hour]:[minute] UTC on [day padding:none] [month repr:long]"
    ))
    .unwrap_or_default()
}

/// `20261122`.
fn day_stamp(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!("[year][month][day]"))
        .unwrap_or_default()
}

/// `25 minutes`, `1 h 05 min`.
fn span(d: Duration) -> String {
    let minutes = d.whole_minutes().max(1);
    if minutes < 60 {
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// Replaces `⟨self⟩`, `⟨inc:K⟩` and `⟨dep:N⟩` with what they stand for.
pub(super) fn resolve(
    text: &str,
    own: i64,
    incident_id: &impl Fn(usize) -> Option<i64>,
    deployment: &impl Fn(usize) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(start) = rest.find('⟨') {
        out.push_str(&rest[..start]);
        let after = &rest[start + '⟨'.len_utf8()..];
        let Some(end) = after.find('⟩') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let token = &after[..end];
        let number = |prefix: &str| {
            token
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
        };
        let replaced = if token == "self" {
            Some(crate::incidents::model::reference(own))
        } else if let Some(k) = number("inc:") {
            incident_id(k).map(crate::incidents::model::reference)
        } else if let Some(n) = number("dep:") {
            deployment(n)
        } else {
            None
        };
        out.push_str(&replaced.unwrap_or_else(|| token.to_string()));
        rest = &after[end + '⟩'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// What [`insert`] wrote.
pub(super) struct Inserted {
    pub users: usize,
    pub incidents: usize,
    pub postmortems: usize,
    /// The database's id of each planned incident, by key.
    pub incident_ids: HashMap<usize, i64>,
    /// The database's id of each planned person, in order.
    pub user_ids: Vec<i64>,
}

/// Inserts the users, incidents and postmortems of `org`, whose deployments are already in, in
/// a handful of bulk statements.
pub(super) async fn insert(
    conn: &mut PgConnection,
    org: &DemoOrg,
    service_ids: &[i64],
    deployment_ids: &HashMap<String, i64>,
) -> anyhow::Result<Inserted> {
    // People: the development sign-in may have recorded its people already; they are the same.
    let users = &org.users;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "INSERT INTO users (tenant_id, object_id, display_name, email, roles) \
         SELECT tenant, object, name, email, string_to_array(roles, ',') \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
              AS t(tenant, object, name, email, roles) \
         ON CONFLICT ON CONSTRAINT users_identity_key DO UPDATE SET display_name = EXCLUDED.display_name \
         RETURNING tenant_id || ':' || object_id, id",
    )
    .bind(users.iter().map(|u| u.tenant_id.clone()).collect::<Vec<_>>())
    .bind(users.iter().map(|u| u.object_id.clone()).collect::<Vec<_>>())
    .bind(users.iter().map(|u| u.display_name.clone()).collect::<Vec<_>>())
    .bind(users.iter().map(|u| u.email.clone()).collect::<Vec<_>>())
    .bind(users.iter().map(|u| u.roles.join(",")).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .context("inserting the demo people")?;
    let by_key: HashMap<String, i64> = rows.into_iter().collect();
    let user_ids: Vec<i64> = users
        .iter()
        .map(|u| {
            by_key
                .get(&u.key())
                .copied()
                .with_context(|| format!("no id came back for {}", u.key()))
        })
        .collect::<anyhow::Result<_>>()?;

    // Numbers first, so that texts can name incidents (INC-n) before they exist.
    let incidents = &org.incidents;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, $1)",
    )
    .bind(incidents.len() as i64)
    .fetch_all(&mut *conn)
    .await
    .context("numbering the demo incidents")?;
    let mut ids = ids;
    ids.sort_unstable();
    let id_of_key: HashMap<usize, i64> = incidents
        .iter()
        .zip(&ids)
        .map(|(i, id)| (i.key, *id))
        .collect();
    let deployment_id = |n: usize| {
        org.deployments
            .get(n)
            .and_then(|d| deployment_ids.get(&d.external_id).copied())
    };
    let label = |n: usize| {
        let d = org.deployments.get(n)?;
        Some(format!(
            "deployment #{} ({} {} to {})",
            deployment_id(n)?,
            org.services[d.service].name,
            d.version,
            org.environments[d.environment].name
        ))
    };
    let key_id = |k: usize| id_of_key.get(&k).copied();
    let text = |s: &str, own: i64| resolve(s, own, &key_id, &label);

    sqlx::query(
        "INSERT INTO incidents (id, title, severity, state, summary, commander_id, merged_into, \
                                source, external_key, started_at, detected_at, mitigated_at, \
                                resolved_at, declared_at, declared_by, updated_at, version) \
         OVERRIDING SYSTEM VALUE \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], \
                              $6::bigint[], $7::bigint[], $8::text[], $9::text[], \
                              $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], \
                              $13::timestamptz[], $14::timestamptz[], $15::text[], \
                              $16::timestamptz[], $17::integer[])",
    )
    .bind(&ids)
    .bind(
        incidents
            .iter()
            .map(|i| i.title.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        incidents
            .iter()
            .map(|i| i.severity.level())
            .collect::<Vec<_>>(),
    )
    .bind(
        incidents
            .iter()
            .map(|i| i.state.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        incidents
            .iter()
            .zip(&ids)
            .map(|(i, id)| text(&i.summary, *id))
            .collect::<Vec<_>>(),
    )
    .bind(
        incidents
            .iter()
            .map(|i| i.commander.map(|u| user_ids[u]))
            .collect::<Vec<_>>(),
    )
    .bind(
        incidents
            .iter()
            .map(|i| i.merged_into.and_then(key_id))
            .collect::<Vec<_>>(),
    )
    .bind(incidents.iter().map(|i| i.source).collect::<Vec<_>>())
    .bind(
        incidents
            .iter()
            .map(|i| i.external_key.clone())
            .collect::<Vec<_>>(),
    )
    .bind(incidents.iter().map(|i| i.started_at).collect::<Vec<_>>())
    .bind(incidents.iter().map(|i| i.detected_at).collect::<Vec<_>>())
    .bind(incidents.iter().map(|i| i.mitigated_at).collect::<Vec<_>>())
    .bind(incidents.iter().map(|i| i.resolved_at).collect::<Vec<_>>())
    .bind(incidents.iter().map(|i| i.declared_at).collect::<Vec<_>>())
    .bind(
        incidents
            .iter()
            .map(|i| i.declared_by.clone())
            .collect::<Vec<_>>(),
    )
    .bind(incidents.iter().map(|i| i.updated_at).collect::<Vec<_>>())
    .bind(incidents.iter().map(|i| i.version).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the demo incidents")?;

    let service_rows: Vec<(i64, usize)> = incidents
        .iter()
        .zip(&ids)
        .flat_map(|(i, id)| i.services.iter().map(move |s| (*id, *s)))
        .collect();
    let service_id = |s: usize| -> anyhow::Result<i64> {
        let slug = &org.services[s].slug;
        service_ids
            .get(s)
            .copied()
            .with_context(|| format!("no id for service {slug}"))
    };
    sqlx::query(
        "INSERT INTO incident_services (incident_id, service_id) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
    )
    .bind(service_rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        service_rows
            .iter()
            .map(|(_, s)| service_id(*s))
            .collect::<anyhow::Result<Vec<_>>>()?,
    )
    .execute(&mut *conn)
    .await
    .context("inserting the services of the demo incidents")?;

    // The timelines, in the order things happened, so that ids follow time.
    let mut events: Vec<(i64, &Event)> = incidents
        .iter()
        .zip(&ids)
        .flat_map(|(i, id)| i.events.iter().map(move |e| (*id, e)))
        .collect();
    events.sort_by_key(|(id, e)| (e.at, *id));
    sqlx::query(
        "INSERT INTO incident_events (incident_id, at, kind, actor_id, actor_name, text, recorded_at) \
         SELECT incident, at, kind, actor_id, actor_name, text, at \
         FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[]) \
              WITH ORDINALITY AS t(incident, at, kind, actor_id, actor_name, text, ord) \
         ORDER BY ord",
    )
    .bind(events.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.at).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.kind).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.actor_id.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.actor_name.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|(id, e)| text(&e.text, *id)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the timelines of the demo incidents")?;

    let links: Vec<(i64, &Link)> = incidents
        .iter()
        .zip(&ids)
        .flat_map(|(i, id)| i.links.iter().map(move |l| (*id, l)))
        .collect();
    sqlx::query(
        "INSERT INTO incident_deployments (incident_id, deployment_id, relation, note, linked_by, linked_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])",
    )
    .bind(links.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        links
            .iter()
            .map(|(_, l)| {
                deployment_id(l.deployment)
                    .with_context(|| format!("no id for linked deployment {}", l.deployment))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    )
    .bind(links.iter().map(|(_, l)| l.relation).collect::<Vec<_>>())
    .bind(links.iter().map(|(_, l)| l.note.clone()).collect::<Vec<_>>())
    .bind(links.iter().map(|(_, l)| l.linked_by.clone()).collect::<Vec<_>>())
    .bind(links.iter().map(|(_, l)| l.linked_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("linking the demo incidents to deployments")?;

    let alerts: Vec<(i64, &Alert)> = incidents
        .iter()
        .zip(&ids)
        .flat_map(|(i, id)| i.alerts.iter().map(move |a| (*id, a)))
        .collect();
    sqlx::query(
        "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, name, ends_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[])",
    )
    .bind(alerts.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(alerts.iter().map(|(_, a)| a.fingerprint.clone()).collect::<Vec<_>>())
    .bind(alerts.iter().map(|(_, a)| a.starts_at).collect::<Vec<_>>())
    .bind(alerts.iter().map(|(_, a)| a.name.clone()).collect::<Vec<_>>())
    .bind(alerts.iter().map(|(_, a)| a.ends_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the alerts of the demo incidents")?;

    let json = |sections: &BTreeMap<String, String>, own: i64| -> String {
        let resolved: BTreeMap<&String, String> =
            sections.iter().map(|(k, v)| (k, text(v, own))).collect();
        serde_json::to_string(&resolved).unwrap_or_else(|_| "{}".into())
    };
    let pms: Vec<(i64, &Postmortem)> = incidents
        .iter()
        .zip(&ids)
        .filter_map(|(i, id)| i.postmortem.as_ref().map(|p| (*id, p)))
        .collect();
    sqlx::query(
        "INSERT INTO postmortems (incident_id, state, sections, review_note, author, version, \
                                  revision, created_at, updated_at, published_at) \
         SELECT incident, state, sections::jsonb, note, author, version, revision, created_at, \
                updated_at, published_at \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], \
                     $7::integer[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[]) \
              AS t(incident, state, sections, note, author, version, revision, created_at, \
                   updated_at, published_at)",
    )
    .bind(pms.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        pms.iter()
            .map(|(_, p)| p.state.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        pms.iter()
            .map(|(id, p)| json(&p.sections, *id))
            .collect::<Vec<_>>(),
    )
    .bind(
        pms.iter()
            .map(|(_, p)| p.review_note.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        pms.iter()
            .map(|(_, p)| p.author.clone())
            .collect::<Vec<_>>(),
    )
    .bind(pms.iter().map(|(_, p)| p.version).collect::<Vec<_>>())
    .bind(pms.iter().map(|(_, p)| p.revision).collect::<Vec<_>>())
    .bind(pms.iter().map(|(_, p)| p.created_at).collect::<Vec<_>>())
    .bind(pms.iter().map(|(_, p)| p.updated_at).collect::<Vec<_>>())
    .bind(pms.iter().map(|(_, p)| p.published_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the demo postmortems")?;

    let reviewers: Vec<(i64, i64, Option<OffsetDateTime>)> = pms
        .iter()
        .flat_map(|(id, p)| p.reviewers.iter().map(|(u, at)| (*id, user_ids[*u], *at)))
        .collect();
    sqlx::query(
        "INSERT INTO postmortem_reviewers (incident_id, user_id, approved_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::timestamptz[])",
    )
    .bind(reviewers.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(reviewers.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(reviewers.iter().map(|r| r.2).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the reviewers of the demo postmortems")?;

    let revisions: Vec<(i64, &Revision)> = pms
        .iter()
        .flat_map(|(id, p)| p.revisions.iter().map(|r| (*id, r)))
        .collect();
    sqlx::query(
        "INSERT INTO postmortem_revisions (incident_id, revision, reason, sections, published_by, published_at) \
         SELECT incident, revision, reason, sections::jsonb, published_by, published_at \
         FROM UNNEST($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
              AS t(incident, revision, reason, sections, published_by, published_at)",
    )
    .bind(revisions.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(revisions.iter().map(|(_, r)| r.revision).collect::<Vec<_>>())
    .bind(revisions.iter().map(|(_, r)| r.reason.clone()).collect::<Vec<_>>())
    .bind(revisions.iter().map(|(id, r)| json(&r.sections, *id)).collect::<Vec<_>>())
    .bind(revisions.iter().map(|(_, r)| r.published_by.clone()).collect::<Vec<_>>())
    .bind(revisions.iter().map(|(_, r)| r.published_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the revisions of the demo postmortems")?;

    Ok(Inserted {
        users: users.len(),
        incidents: incidents.len(),
        postmortems: pms.len(),
        incident_ids: id_of_key,
        user_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::model::{self, Move, Times};
    use crate::postmortems::model as pm_model;
    use std::collections::BTreeSet;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-18 14:37 UTC);
    /// The publishing policy's default (PORTOLAN_POSTMORTEM_DUE_DAYS).
    const DUE_DAYS: u32 = crate::config::DEFAULT_POSTMORTEM_DUE_DAYS;

    fn org_at(now: OffsetDateTime) -> DemoOrg {
        super::super::plan(super::super::DEMO_SEED, now)
    }

    fn org() -> &'static DemoOrg {
        static ORG: std::sync::OnceLock<DemoOrg> = std::sync::OnceLock::new();
        ORG.get_or_init(|| org_at(NOW))
    }

    /// Texts as inserted, with made-up numbers.
    fn shown(text: &str) -> String {
        resolve(text, 7, &|k| Some(100 + k as i64), &|n| {
            Some(format!(
                "deployment #{n} (Some service 1.2.3 to Production)"
            ))
        })
    }

    fn check_times(org: &DemoOrg, now: OffsetDateTime) {
        for i in &org.incidents {
            let t = &i.title;
            let times = Times {
                started_at: i.started_at,
                detected_at: i.detected_at,
                mitigated_at: i.mitigated_at,
                resolved_at: i.resolved_at,
            };
            assert!(
                times.problems(now).is_empty(),
                "{t}: {:?}",
                times.problems(now)
            );
            // The server's own rule has a few minutes of grace; the demo needs none.
            for at in [i.started_at, i.detected_at, i.mitigated_at, i.resolved_at]
                .into_iter()
                .flatten()
                .chain([i.declared_at, i.updated_at])
            {
                assert!(at <= now, "{t}: {at} is after now");
            }
            assert!(i.detected_at.is_some_and(|d| d <= i.declared_at), "{t}");
            assert!(i.started_at.is_some(), "{t}");
            assert_eq!(
                matches!(i.state, IncidentState::Resolved | IncidentState::Closed),
                i.resolved_at.is_some(),
                "{t}"
            );
            assert!(
                !i.state.is_open() || i.mitigated_at.is_none_or(|m| m <= now),
                "{t}"
            );
            // The timeline: declared first, in order, none in the future.
            assert_eq!(i.events[0].kind, "declared", "{t}");
            assert_eq!(i.events[0].at, i.declared_at, "{t}");
            assert!(i.events.windows(2).all(|w| w[0].at <= w[1].at), "{t}");
            assert!(i.events.iter().all(|e| e.at <= now), "{t}");
            let last_change = i
                .events
                .iter()
                .filter(|e| matches!(e.kind, "state" | "severity" | "declared"))
                .map(|e| e.at)
                .max();
            assert!(last_change.is_some_and(|c| c <= i.updated_at), "{t}");
            if let Some(pm) = &i.postmortem {
                let resolved = i.resolved_at.expect("postmortems follow resolution");
                assert!(
                    resolved <= pm.created_at && pm.created_at <= pm.updated_at,
                    "{t}"
                );
                assert!(pm.updated_at <= now, "{t}");
                for (_, approved) in &pm.reviewers {
                    assert!(
                        approved.is_none_or(|a| a >= pm.created_at && a <= now),
                        "{t}"
                    );
                }
                if let Some(p) = pm.published_at {
                    assert!(p <= now && p >= pm.created_at, "{t}");
                }
            }
        }
    }

    fn check_lifecycle(org: &DemoOrg) {
        let keys: HashMap<usize, &Incident> = org.incidents.iter().map(|i| (i.key, i)).collect();
        for i in &org.incidents {
            let t = &i.title;
            // Replays the moves: each one the state machine allows, ending where the incident is.
            let mut state = IncidentState::Triage;
            let mut moves = 0;
            for e in i.events.iter().filter(|e| e.kind == "state") {
                let to = if e.text.starts_with("Merged into") {
                    IncidentState::Merged
                } else {
                    let (_, rest) = e.text.split_once(" → ").expect("a move says from → to");
                    let name = rest.split(':').next().expect("a state");
                    IncidentState::parse(name).unwrap_or_else(|| panic!("{t}: {}", e.text))
                };
                assert!(
                    e.text.starts_with("Merged") || e.text.starts_with(state.as_str()),
                    "{t}: {} from {state:?}",
                    e.text
                );
                assert_eq!(
                    model::transition(state, to),
                    Ok(Move::Step),
                    "{t}: {}",
                    e.text
                );
                state = to;
                moves += 1;
            }
            assert_eq!(state, i.state, "{t}");
            let patches = i
                .events
                .iter()
                .filter(|e| {
                    e.kind == "severity"
                        || (e.kind == "change"
                            && (e.text.starts_with("Incident commander")
                                || e.text.starts_with("Mitigated at")))
                })
                .count();
            assert_eq!(i.version as usize, 1 + moves + patches, "{t}");
            assert_eq!(
                i.state == IncidentState::Merged,
                i.merged_into.is_some(),
                "{t}"
            );
            if let Some(into) = i.merged_into {
                let target = keys.get(&into).expect("merged into a planned incident");
                assert!(target.declared_at <= i.updated_at, "{t}");
                let marker = format!("⟨inc:{}⟩ was merged into this incident", i.key);
                assert!(target.events.iter().any(|e| e.text == marker), "{t}");
            }
            // Who acted is someone: a user of the plan, or an alert sender.
            for e in &i.events {
                let known = org
                    .users
                    .iter()
                    .any(|u| u.key() == e.actor_id && u.display_name == e.actor_name)
                    || matches!(e.actor_id.as_str(), "alertmanager" | "pagerduty");
                assert!(known, "{t}: {} ({})", e.actor_name, e.actor_id);
            }
            let declared = &i.events[0].text;
            let verb = if i.source == "manual" {
                "Declared"
            } else {
                "Opened"
            };
            assert!(
                declared.starts_with(&format!("{verb} SEV")),
                "{t}: {declared}"
            );
            assert!(
                declared.ends_with(&format!("⟨self⟩: {}", i.title)),
                "{t}: {declared}"
            );
        }
    }

    fn check_links(org: &DemoOrg) {
        for i in &org.incidents {
            let t = &i.title;
            for l in &i.links {
                let d = &org.deployments[l.deployment];
                assert!(
                    i.services.contains(&d.service),
                    "{t}: links another service"
                );
                assert_eq!(d.environment, PROD, "{t}");
                let finished = d.finished_at.expect("linked deployments have finished");
                match l.relation {
                    "caused_by" => {
                        assert!(i.started_at.is_some_and(|s| finished <= s), "{t}");
                        assert!(
                            matches!(d.status, DeploymentStatus::RolledBack)
                                || d.kind == DeploymentKind::Normal,
                            "{t}"
                        );
                    }
                    "fixed_by" => {
                        assert!(i.mitigated_at.is_some_and(|m| finished <= m), "{t}");
                        assert!(
                            matches!(d.kind, DeploymentKind::Rollback | DeploymentKind::Hotfix),
                            "{t}"
                        );
                    }
                    other => panic!("{t}: relation {other}"),
                }
                assert!(l.linked_at >= i.declared_at, "{t}");
                let entry = format!("Linked ⟨dep:{}⟩ as ", l.deployment);
                assert!(
                    i.events
                        .iter()
                        .any(|e| e.kind == "link" && e.text.starts_with(&entry)),
                    "{t}"
                );
            }
            assert!(
                i.links.iter().filter(|l| l.relation == "caused_by").count() <= 1,
                "{t}"
            );
        }
    }

    fn check_mix(org: &DemoOrg, now: OffsetDateTime) {
        let incidents = &org.incidents;
        assert!(
            (15..=25).contains(&incidents.len()),
            "{} incidents",
            incidents.len()
        );
        let caused = incidents.iter().filter(|i| !i.links.is_empty()).count();
        assert!(caused * 2 > incidents.len(), "{caused} tied to deployments");
        let open: Vec<&Incident> = incidents.iter().filter(|i| i.state.is_open()).collect();
        assert!((1..=2).contains(&open.len()), "{} open", open.len());
        let count = |s: IncidentState| incidents.iter().filter(|i| i.state == s).count();
        assert_eq!(count(IncidentState::Declined), 1);
        assert_eq!(count(IncidentState::Merged), 1);
        assert!(count(IncidentState::Closed) >= 5);
        let severities: BTreeSet<i16> = incidents.iter().map(|i| i.severity.level()).collect();
        assert_eq!(severities, BTreeSet::from([1, 2, 3, 4]));
        // Alerts: one open incident per alert at a time, as the unique index wants.
        let alerted = incidents.iter().filter(|i| i.source != "manual").count();
        assert!(alerted >= 2, "{alerted} opened by alerts");
        let mut live = HashSet::new();
        for i in open.iter().filter(|i| i.external_key.is_some()) {
            assert!(
                live.insert((i.source, i.external_key.clone())),
                "{}",
                i.title
            );
        }
        assert!(!live.is_empty(), "an alert is behind an open incident");
        for i in incidents {
            assert_eq!(
                i.source == "manual",
                i.external_key.is_none(),
                "{}",
                i.title
            );
            assert_eq!(
                i.source == "alertmanager",
                !i.alerts.is_empty(),
                "{}",
                i.title
            );
        }
        // Postmortems in every state; the policy sees one overdue and one missing.
        let state_of = |s: PostmortemState| {
            incidents
                .iter()
                .filter(|i| i.postmortem.as_ref().is_some_and(|p| p.state == s))
                .count()
        };
        for s in PostmortemState::ALL {
            assert!(state_of(s) >= 2, "{} {s:?}", state_of(s));
        }
        let due = |i: &Incident| pm_model::due_at(i.severity, i.resolved_at, DUE_DAYS);
        let missing = incidents
            .iter()
            .filter(|i| due(i).is_some() && i.postmortem.is_none())
            .count();
        assert_eq!(missing, 1, "SEV1/SEV2 without a postmortem");
        let overdue = incidents
            .iter()
            .filter(|i| i.postmortem.is_some())
            .filter(|i| pm_model::overdue(due(i), i.postmortem.as_ref().map(|p| p.state), now))
            .count();
        assert!(overdue >= 1, "none overdue");
        for i in incidents {
            let Some(pm) = &i.postmortem else { continue };
            let t = &i.title;
            assert!(!matches!(
                i.state,
                IncidentState::Declined | IncidentState::Merged
            ));
            let author = org.users.iter().find(|u| u.display_name == pm.author);
            for (u, _) in &pm.reviewers {
                assert!(*u < org.users.len(), "{t}");
                assert!(
                    author.is_none_or(|a| a.key() != org.users[*u].key()),
                    "{t}: reviews own"
                );
            }
            match pm.state {
                PostmortemState::Published => {
                    assert_eq!(i.state, IncidentState::Closed, "{t}");
                    assert!(pm.reviewers.iter().all(|(_, a)| a.is_some()), "{t}");
                    assert_eq!(pm.revisions.len() as i32, pm.revision, "{t}");
                    let last = pm.revisions.last().expect("a revision");
                    assert_eq!(last.sections, complete(&pm.sections), "{t}");
                    assert_eq!(Some(last.published_at), pm.published_at, "{t}");
                    assert_eq!(pm.revisions[0].reason, "first publication");
                    assert_eq!(pm.sections.len(), SECTIONS.len(), "{t}");
                }
                PostmortemState::InReview => {
                    assert!(!pm.reviewers.is_empty(), "{t}");
                    assert!(pm.reviewers.iter().any(|(_, a)| a.is_none()), "{t}");
                    assert!(pm.revisions.is_empty() && pm.published_at.is_none(), "{t}");
                    assert_eq!(pm.sections.len(), SECTIONS.len(), "{t}");
                }
                PostmortemState::Draft => {
                    assert!(pm.reviewers.iter().all(|(_, a)| a.is_none()), "{t}");
                    assert!(pm.revisions.is_empty() && pm.published_at.is_none(), "{t}");
                }
            }
        }
        let revised: Vec<&Postmortem> = incidents
            .iter()
            .filter_map(|i| i.postmortem.as_ref())
            .filter(|p| p.revision == 2)
            .collect();
        assert_eq!(revised.len(), 1);
        assert_ne!(revised[0].revisions[1].reason, "first publication");
        assert_ne!(
            revised[0].revisions[0].sections,
            revised[0].revisions[1].sections
        );
        assert!(
            incidents
                .iter()
                .filter_map(|i| i.postmortem.as_ref())
                .any(|p| p.state == PostmortemState::Draft && !p.review_note.is_empty())
        );
    }

    /// Everything the plan promises, at one clock.
    fn check(org: &DemoOrg, now: OffsetDateTime) {
        check_times(org, now);
        check_lifecycle(org);
        check_links(org);
        check_mix(org, now);
    }

    #[test]
    fn incidents_hold_together() {
        check(org(), NOW);
    }

    #[test]
    fn incidents_hold_together_whatever_the_clock() {
        for now in [
            datetime!(2026-11-22 06:00 UTC),
            datetime!(2027-03-01 08:05 UTC),
            datetime!(2026-07-31 23:59 UTC),
            datetime!(2028-01-01 00:00 +02:00),
            datetime!(2027-06-14 12:00 UTC),
        ] {
            let org = org_at(now);
            check(&org, super::super::truncate_to_minute(now));
        }
    }

    #[test]
    fn incidents_are_deterministic() {
        let again = org_at(NOW);
        assert_eq!(again.users, org().users);
        assert_eq!(again.incidents, org().incidents);
        let other = super::super::plan(super::super::DEMO_SEED + 1, NOW);
        assert_ne!(other.incidents, org().incidents);
    }

    #[test]
    fn the_development_people_are_seeded_as_sign_in_records_them() {
        let users = &org().users;
        for p in dev::PERSONAS {
            let who = p.identity();
            let u = users
                .iter()
                .find(|u| u.tenant_id == who.tenant_id && u.object_id == who.object_id)
                .unwrap_or_else(|| panic!("{} is not seeded", p.login));
            assert_eq!(
                (&u.display_name, &u.email, &u.roles),
                (&who.display_name, &who.email, &who.roles)
            );
        }
        let keys: HashSet<String> = users.iter().map(User::key).collect();
        assert_eq!(keys.len(), users.len(), "one row per person");
        // The SRE of the development sign-in has something to do.
        let sasha = users
            .iter()
            .position(|u| u.key() == "development:sre")
            .expect("sre");
        let incidents = &org().incidents;
        assert!(
            incidents
                .iter()
                .any(|i| i.state.is_open() && i.commander == Some(sasha))
        );
        assert!(
            incidents
                .iter()
                .any(|i| i.postmortem.as_ref().is_some_and(|p| {
                    p.state == PostmortemState::InReview && p.reviewers.contains(&(sasha, None))
                }))
        );
    }

    #[test]
    fn postmortems_read_blameless_except_the_one_sent_back() {
        for now in [NOW, datetime!(2027-03-01 08:05 UTC)] {
            let org = org_at(now);
            let mut flagged_drafts = 0;
            for i in &org.incidents {
                let Some(pm) = &i.postmortem else { continue };
                let shown_sections: BTreeMap<String, String> = pm
                    .sections
                    .iter()
                    .map(|(k, v)| (k.clone(), shown(v)))
                    .collect();
                let flags = pm_model::flags_all(&shown_sections);
                if pm.state == PostmortemState::Draft && !pm.review_note.is_empty() {
                    assert_eq!(flags.len(), 1, "{}: {flags:?}", i.title);
                    flagged_drafts += 1;
                } else {
                    assert!(flags.is_empty(), "{}: {flags:?}", i.title);
                }
                for r in &pm.revisions {
                    let text: BTreeMap<String, String> = r
                        .sections
                        .iter()
                        .map(|(k, v)| (k.clone(), shown(v)))
                        .collect();
                    assert!(pm_model::flags_all(&text).is_empty(), "{}", i.title);
                }
                for (key, text) in &pm.sections {
                    assert!(pm_model::is_section(key), "{key}");
                    assert!(
                        !text.contains('{') || text.contains("{}/{}"),
                        "{}: unfilled {text}",
                        i.title
                    );
                    assert!(!shown(text).contains('⟨'), "{}", i.title);
                }
            }
            assert_eq!(flagged_drafts, 1);
        }
    }

    #[test]
    fn texts_name_what_they_stand_for() {
        assert_eq!(
            shown("Linked ⟨dep:12⟩ as the cause of ⟨self⟩, merged into ⟨inc:3⟩; ⟨odd⟩ ⟨"),
            "Linked deployment #12 (Some service 1.2.3 to Production) as the cause of INC-7, \
             merged into INC-103; odd ⟨"
        );
        for i in &org().incidents {
            for text in i
                .events
                .iter()
                .map(|e| &e.text)
                .chain([&i.title, &i.summary])
            {
                assert!(!text.contains("{svc}") && !text.contains("{ver}"), "{text}");
                assert!(!shown(text).contains('⟨'), "{text}");
            }
            assert!(!i.title.is_empty() && i.title.chars().count() <= 200);
        }
    }
}
