//! Demo data for a fresh Portolan: "Acme", an online retailer with ten teams, eight systems, sixty
//! services, a dependency graph and 180 days of deployments through dev → qa → staging → prod.
//!
//! Two steps. [`plan`] is a pure function of a seed and a clock: it simulates every service's
//! releases flowing through the pipeline and returns plain structs, so the tests can check that the
//! history holds together. [`seed_demo`] inserts one plan in a single transaction with bulk `UNNEST`
//! inserts. The DORA dashboards compute their numbers from this data, so it must be true, not just
//! look right:
//! - a deployment carries exactly the commits that are new to its environment since the previous
//!   successful deployment there (a rollback carries none), and every commit predates it;
//! - a rolled-back production deployment is followed, within the hour and before anything else
//!   reaches production, by a `rollback` deployment of the version it replaced;
//! - a hotfix branches from the version in production, goes to staging then production within an
//!   hour or two, and is merged back so that the next regular release carries it to dev and qa;
//! - nothing happens after `now` (truncated to the minute): a couple of deployments are still
//!   running and one is queued.
//!
//! On that history the plan tells about twenty incidents ([`incidents`]): most caused by a
//! production deployment that was rolled back or hotfixed (and linked to both), some with other
//! causes, two still open; with their timelines and postmortems in every state, written by the
//! people of the development sign-in and a few of Acme's, who are seeded as users.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;

use anyhow::{Context, bail};
use portolan_api::{DependencyKind, DeploymentKind, DeploymentStatus, Lifecycle};
use sqlx::{PgConnection, PgPool};
use time::macros::time;
use time::{Duration, OffsetDateTime, UtcOffset, Weekday};

mod actions;
mod incidents;
mod stories;

/// The seed of the demo organisation: the same seed and clock always give the same data.
const DEMO_SEED: u64 = 0x0ac3_2026_5eed_0001;
/// How far back the deployment history goes.
const HISTORY_DAYS: i64 = 180;
/// The `source` of every demo deployment (with `external_id`, their idempotency key).
const DEMO_SOURCE: &str = "demo";
/// Serialises concurrent seeders (two replicas starting on one empty database).
const SEED_LOCK_KEY: i64 = 0x706f_7274_7365_6564; // "portseed"
/// Rows per bulk statement: keeps each statement's parameters a few megabytes at most.
const DEPLOYMENT_CHUNK: usize = 5_000;
const CHANGE_CHUNK: usize = 20_000;

const DEV: usize = 0;
const QA: usize = 1;
const STAGING: usize = 2;
const PROD: usize = 3;

/// What [`seed_demo`] inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub teams: usize,
    pub systems: usize,
    pub services: usize,
    pub dependencies: usize,
    pub environments: usize,
    pub deployments: usize,
    pub changes: usize,
    /// People: the development sign-in's and the demo's own.
    pub users: usize,
    pub incidents: usize,
    pub postmortems: usize,
    pub action_items: usize,
}

/// Fills an empty database with the demo organisation, in one transaction.
///
/// Fails with a clear message (no changes made) when the database already has teams, services or
/// environments.
pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<SeedReport> {
    let started = std::time::Instant::now();
    let mut tx = pool
        .begin()
        .await
        .context("starting the demo seed transaction")?;
    // A second seeder waits here, then finds the database filled and stops cleanly.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .context("taking the demo seed lock")?;
    let (teams, services, environments): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM teams), (SELECT count(*) FROM services), \
                (SELECT count(*) FROM environments)",
    )
    .fetch_one(&mut *tx)
    .await
    .context("checking that the database is empty")?;
    if teams > 0 || services > 0 || environments > 0 {
        bail!(
            "the database already has {teams} team(s), {services} service(s) and {environments} \
             environment(s); the demo data only goes into an empty database, nothing was changed"
        );
    }
    // The database's clock, so that nothing seeded is later than what the server calls now.
    let now: OffsetDateTime = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await
        .context("reading the database clock")?;
    let org = plan(DEMO_SEED, now);
    let planned = started.elapsed();
    let report = insert(&mut tx, &org).await?;
    // Loaded in bulk, below the API: one audit record says so.
    crate::audit::record(
        &mut tx,
        &crate::audit::Actor::system(),
        "demo.seed",
        ("database", "demo"),
        crate::audit::repo::Change::created(&serde_json::json!({
            "teams": report.teams, "systems": report.systems, "services": report.services,
            "dependencies": report.dependencies, "environments": report.environments,
            "deployments": report.deployments, "changes": report.changes,
            "users": report.users, "incidents": report.incidents,
            "postmortems": report.postmortems, "action_items": report.action_items,
        })),
    )
    .await
    .map_err(|e| anyhow::anyhow!("recording the seed in the audit log: {e}"))?;
    tx.commit().await.context("committing the demo data")?;
    tracing::info!(
        teams = report.teams,
        systems = report.systems,
        services = report.services,
        dependencies = report.dependencies,
        environments = report.environments,
        deployments = report.deployments,
        changes = report.changes,
        incidents = report.incidents,
        postmortems = report.postmortems,
        action_items = report.action_items,
        plan_ms = planned.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "seeded the demo organisation"
    );
    Ok(report)
}

/// True when there is no team, service or environment yet (the server seeds the demo only then).
pub async fn is_empty(pool: &PgPool) -> anyhow::Result<bool> {
    let empty: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM teams) AND NOT EXISTS (SELECT 1 FROM services) \
                AND NOT EXISTS (SELECT 1 FROM environments)",
    )
    .fetch_one(pool)
    .await
    .context("checking whether the database is empty")?;
    Ok(empty)
}

// ---------------------------------------------------------------------------------------------
// The plan: plain data, no I/O.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct DemoOrg {
    teams: Vec<Team>,
    systems: Vec<System>,
    services: Vec<Service>,
    dependencies: Vec<Dependency>,
    environments: Vec<Environment>,
    /// In chronological order of `started_at` (queued ones, not started, last).
    deployments: Vec<Deployment>,
    /// Everyone who commands, reviews or writes in the incidents.
    users: Vec<incidents::User>,
    /// In the order they were declared.
    incidents: Vec<incidents::Incident>,
    /// What the postmortems committed to.
    actions: Vec<actions::ActionPlan>,
}

#[derive(Debug, Clone, PartialEq)]
struct Person {
    name: String,
    email: String,
}

impl Person {
    /// The `author` of a commit: `Name <email>`.
    fn author(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Team {
    slug: String,
    name: String,
    description: String,
    members: Vec<Person>,
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
struct System {
    slug: String,
    name: String,
    description: String,
    owner_team: usize,
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
struct Service {
    slug: String,
    name: String,
    description: String,
    owner_team: usize,
    system: usize,
    tier: i16,
    lifecycle: Lifecycle,
    repository_url: String,
    runbook_url: Option<String>,
    tags: Vec<String>,
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
struct Dependency {
    from: usize,
    to: usize,
    kind: DependencyKind,
    /// `declared` or `imported`.
    source: &'static str,
    description: String,
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
struct Environment {
    slug: String,
    name: String,
    description: String,
    position: i32,
    is_production: bool,
    created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
struct Deployment {
    service: usize,
    environment: usize,
    version: String,
    commit_sha: Option<String>,
    status: DeploymentStatus,
    kind: DeploymentKind,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    deployed_by: String,
    pipeline_url: String,
    external_id: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq)]
struct Change {
    sha: String,
    author: String,
    message: String,
    committed_at: OffsetDateTime,
}

/// Builds the whole demo organisation from a seed and a clock (truncated to the minute).
fn plan(seed: u64, now: OffsetDateTime) -> DemoOrg {
    let now = truncate_to_minute(now);
    let mut rng = Rng::new(seed);

    let teams: Vec<Team> = TEAMS
        .iter()
        .map(|spec| Team {
            slug: spec.slug.to_owned(),
            name: spec.name.to_owned(),
            description: spec.description.to_owned(),
            members: spec
                .members
                .iter()
                .map(|name| Person {
                    name: (*name).to_owned(),
                    email: format!("{}@acme.example", name.to_lowercase().replace(' ', ".")),
                })
                .collect(),
            created_at: now - Duration::days(rng.range(700, 2_200)),
        })
        .collect();

    let systems: Vec<System> = SYSTEMS
        .iter()
        .map(|spec| System {
            slug: spec.slug.to_owned(),
            name: spec.name.to_owned(),
            description: spec.description.to_owned(),
            owner_team: team_index(spec.owner),
            created_at: now - Duration::days(rng.range(500, 1_500)),
        })
        .collect();

    let window_start = now - Duration::days(HISTORY_DAYS);
    let mut cadences = Vec::with_capacity(SERVICES.len());
    let services: Vec<Service> = SERVICES
        .iter()
        .map(|spec| {
            let cadence = Cadence::for_service(spec, window_start, now, &mut rng);
            let created_at = match spec.lifecycle {
                Lifecycle::Experimental => cadence.start - Duration::days(rng.range(2, 14)),
                _ => now - Duration::days(rng.range(300, 1_500)),
            };
            cadences.push(cadence);
            Service {
                slug: spec.slug.to_owned(),
                name: spec.name.to_owned(),
                description: spec.description.to_owned(),
                owner_team: team_index(spec.team),
                system: system_index(spec.system),
                tier: spec.tier,
                lifecycle: spec.lifecycle,
                repository_url: format!("https://code.example.com/acme/{}", spec.slug),
                runbook_url: (spec.tier <= 2)
                    .then(|| format!("https://runbooks.example.com/{}", spec.slug)),
                tags: spec.tags.iter().map(|tag| (*tag).to_owned()).collect(),
                created_at,
            }
        })
        .collect();

    let dependencies = plan_dependencies(&services, now, &mut rng);

    let environments: Vec<Environment> = ENVIRONMENTS
        .iter()
        .enumerate()
        .map(|(i, (slug, name, description))| Environment {
            slug: (*slug).to_owned(),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            position: i as i32 + 1,
            is_production: i == PROD,
            created_at: now - Duration::days(900 - 10 * i as i64),
        })
        .collect();

    let deployments = plan_deployments(seed, now, &services, &teams, &cadences, &mut rng);

    let mut org = DemoOrg {
        teams,
        systems,
        services,
        dependencies,
        environments,
        deployments,
        users: Vec::new(),
        incidents: Vec::new(),
        actions: Vec::new(),
    };
    (org.users, org.incidents) = incidents::plan(&org, seed, now);
    org.actions = actions::plan(&org, seed, now);
    org
}

fn plan_dependencies(services: &[Service], now: OffsetDateTime, rng: &mut Rng) -> Vec<Dependency> {
    let mut edges = Vec::new();
    for (from, spec) in SERVICES.iter().enumerate() {
        for entry in spec.deps.split_whitespace() {
            let (to_slug, code) = entry
                .split_once(':')
                .expect("dependency entries are slug:code");
            let to = service_index(to_slug);
            let to_name = SERVICES[to].name;
            let (kind, generic) = match code {
                "s" => (
                    DependencyKind::Sync,
                    format!("Calls {to_name} while serving requests"),
                ),
                "p" => (
                    DependencyKind::Async,
                    format!("Publishes to the {to_name} stream"),
                ),
                "c" => (
                    DependencyKind::Async,
                    format!("Consumes the {to_name} stream"),
                ),
                "a" => (
                    DependencyKind::Async,
                    format!("Sends messages to {to_name}"),
                ),
                "d" if to_slug == "event-bus" => (
                    DependencyKind::Data,
                    format!("Runs as topics on the {to_name}"),
                ),
                "d" => (DependencyKind::Data, format!("Reads data from {to_name}")),
                other => panic!("unknown dependency code {other:?} in {}", spec.slug),
            };
            let description = EDGE_NOTES
                .iter()
                .find(|(f, t, _)| *f == spec.slug && *t == to_slug)
                .map_or(generic, |(_, _, note)| (*note).to_owned());
            // Teams that keep catalog files in their repositories had their edges imported.
            let source = if matches!(spec.team, "data" | "search" | "fulfilment") {
                "imported"
            } else {
                "declared"
            };
            let newest = services[from].created_at.max(services[to].created_at);
            let created_at = (newest + Duration::days(rng.range(1, 60))).min(now);
            edges.push(Dependency {
                from,
                to,
                kind,
                source,
                description,
                created_at,
            });
        }
    }
    edges
}

/// The simulated deployment history of every service, plus what is running or queued at `now`.
fn plan_deployments(
    seed: u64,
    now: OffsetDateTime,
    services: &[Service],
    teams: &[Team],
    cadences: &[Cadence],
    rng: &mut Rng,
) -> Vec<Deployment> {
    // About a quarter of the services end "in flight": production waits (for an approval, a
    // freeze…) while qa and staging move on. The others end settled: qa = staging = prod.
    let mut order: Vec<usize> = (0..services.len()).collect();
    rng.shuffle(&mut order);
    let in_flight_count = services.len() / 4;
    let mut in_flight = vec![false; services.len()];
    for &i in order
        .iter()
        .filter(|&&i| cadences[i].per_day >= 0.3)
        .take(in_flight_count)
    {
        in_flight[i] = true;
    }

    let inputs: Vec<SimInput> = services
        .iter()
        .enumerate()
        .map(|(i, service)| {
            let spec = &SERVICES[i];
            let cadence = cadences[i].clone();
            let schedule = release_schedule(rng, cadence.start, now, cadence.per_day);
            let baseline = match service.lifecycle {
                Lifecycle::Experimental => Version(0, 0, 0),
                _ => Version(
                    rng.range(1, 4) as u32,
                    rng.range(0, 30) as u32,
                    rng.range(0, 9) as u32,
                ),
            };
            SimInput {
                slug: spec.slug,
                scope: spec.scope,
                noun: spec.noun,
                nouns: spec.nouns,
                members: teams[service.owner_team].members.clone(),
                cadence,
                schedule,
                baseline,
                seed: splitmix64(seed ^ (i as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f)),
                first_pipeline: rng.range(800, 6_000) as u32,
                ending_jitter: Duration::hours(rng.range(0, 12)),
                now,
            }
        })
        .collect();

    let mut sims: Vec<ServiceSim<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            if in_flight[i] {
                first_fitting(
                    input,
                    &[1, 2, 3, 5, 8, 13, 21],
                    |days| Ending::Hold {
                        from: now - Duration::days(days) - input.ending_jitter,
                    },
                    |sim| !sim.is_settled(),
                )
            } else {
                first_fitting(
                    input,
                    &[1, 2, 3, 4, 6, 9, 14, 21, 30, 45, 60, 90, 120, 150, 170],
                    |days| Ending::Settle {
                        cutoff: now - Duration::days(days) - input.ending_jitter,
                    },
                    ServiceSim::is_settled,
                )
            }
        })
        .collect();

    // Live at `now`: a production deployment of an in-flight service and a dev deployment of a
    // fresh release still running, and a qa deployment waiting its turn.
    let mut used = HashSet::new();
    for (extra, want_in_flight) in [
        (Extra::ProdInProgress, true),
        (Extra::DevInProgress, false),
        (Extra::QaQueued, false),
    ] {
        for &i in &order {
            if in_flight[i] == want_in_flight && !used.contains(&i) && sims[i].add_extra(extra) {
                used.insert(i);
                break;
            }
        }
    }

    let mut deployments: Vec<Deployment> = sims
        .iter()
        .enumerate()
        .flat_map(|(i, sim)| sim.deployments_for_plan(i))
        .collect();
    // Queued deployments have not started: they go last.
    deployments.sort_by_key(|d| {
        (
            d.started_at.is_none(),
            d.started_at,
            d.service,
            d.environment,
        )
    });
    deployments
}

/// Simulates a service with each candidate ending in turn (nearest to `now` first) and keeps the
/// first history that ends as wanted, or the last one tried.
fn first_fitting<'a>(
    input: &'a SimInput,
    days: &[i64],
    ending: impl Fn(i64) -> Ending,
    fits: impl Fn(&ServiceSim<'a>) -> bool,
) -> ServiceSim<'a> {
    let mut last = None;
    for &d in days {
        let sim = ServiceSim::run(input, ending(d));
        if fits(&sim) {
            return sim;
        }
        last = Some(sim);
    }
    last.expect("at least one candidate ending")
}

/// How often a service releases and how far its releases usually travel.
#[derive(Debug, Clone)]
struct Cadence {
    /// Releases (dev deployments) per working day.
    per_day: f64,
    /// Chance that a release which reached dev, qa, staging is promoted to the next environment.
    promote: [f64; 3],
    /// How long the team lets a release sit before promoting it (1 = the usual; more for teams
    /// with heavier approvals), a factor on the longest wait.
    patience: f64,
    /// Share of normal production deployments started by a person rather than the pipeline.
    prod_by_person: f64,
    /// When the service's history starts.
    start: OffsetDateTime,
}

impl Cadence {
    fn for_service(
        spec: &ServiceSpec,
        window_start: OffsetDateTime,
        now: OffsetDateTime,
        rng: &mut Rng,
    ) -> Self {
        let tier = [1.6, 1.2, 0.75, 0.4][(spec.tier.clamp(1, 4) - 1) as usize];
        let team = match spec.team {
            "checkout" => 1.25,
            "growth" => 1.3,
            "search" => 1.1,
            "mobile" => 1.05,
            "platform" => 0.95,
            "fulfilment" => 0.9,
            "identity" | "payments" => 0.85,
            "data" => 0.8,
            _ => 1.0,
        };
        // Streams and data stores change their schemas, not their code, and rarely.
        let kind = if spec.tags.contains(&"stream") || spec.tags.contains(&"datastore") {
            0.35
        } else {
            1.0
        };
        let life = match spec.lifecycle {
            Lifecycle::Experimental => 1.2,
            Lifecycle::Deprecated => 0.12,
            Lifecycle::Production => 1.0,
        };
        let per_day = tier * team * kind * life * (0.75 + 0.55 * rng.unit());
        let mut promote = match spec.tier {
            1 => [0.9, 0.9, 0.85],
            2 => [0.85, 0.8, 0.75],
            3 => [0.75, 0.75, 0.6],
            _ => [0.75, 0.7, 0.55],
        };
        if spec.lifecycle == Lifecycle::Experimental {
            promote[2] *= 0.8;
        }
        let start = match spec.lifecycle {
            Lifecycle::Experimental => now - Duration::days(rng.range(45, 120)),
            _ => window_start,
        };
        let patience = match spec.team {
            "payments" => 1.6,
            "identity" => 1.4,
            "data" => 1.3,
            "fulfilment" => 1.2,
            "growth" => 0.6,
            "checkout" => 0.7,
            "search" => 0.8,
            _ => 1.0,
        };
        let prod_by_person = if spec.tier == 1 { 0.5 } else { 0.25 };
        Cadence {
            per_day,
            promote,
            patience,
            prod_by_person,
            start,
        }
    }
}

/// When a service cuts its releases: a few per working day at most, rarely at weekends, and one
/// early on so that every environment runs a known version soon after the history starts.
fn release_schedule(
    rng: &mut Rng,
    start: OffsetDateTime,
    now: OffsetDateTime,
    per_day: f64,
) -> Vec<OffsetDateTime> {
    let first = into_working_hours(start + Duration::hours(rng.range(20, 96)), rng);
    let mut times = vec![first];
    let mut day = start.replace_time(time!(0:00));
    while day < now {
        let lambda = if is_weekend(day) {
            per_day * 0.04
        } else {
            per_day
        };
        for _ in 0..rng.poisson(lambda) {
            let t = day + Duration::minutes(rng.range(8 * 60, 18 * 60));
            if t > first && t < now {
                times.push(t);
            }
        }
        day += Duration::days(1);
    }
    times.sort();
    times
}

// ---------------------------------------------------------------------------------------------
// One service's history, simulated event by event.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct SimInput {
    slug: &'static str,
    scope: &'static str,
    noun: &'static str,
    nouns: &'static str,
    members: Vec<Person>,
    cadence: Cadence,
    schedule: Vec<OffsetDateTime>,
    baseline: Version,
    seed: u64,
    first_pipeline: u32,
    ending_jitter: Duration,
    now: OffsetDateTime,
}

/// How the last days before `now` go for a service.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// From `cutoff` on, new releases stay in dev, whatever is under way is carried through to
    /// production (failures are retried) and no rollback or hotfix starts: qa, staging and prod end
    /// on the same version.
    Settle { cutoff: OffsetDateTime },
    /// From `from` on, production takes no regular release while qa and staging move on.
    Hold { from: OffsetDateTime },
}

impl Ending {
    fn settling(self, t: OffsetDateTime) -> bool {
        matches!(self, Ending::Settle { cutoff } if t >= cutoff)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flow {
    Normal,
    Hotfix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Release,
    Deploy {
        release: usize,
        env: usize,
        attempt: u8,
        flow: Flow,
    },
    Hotfix,
}

#[derive(Debug, Clone, Copy)]
enum Extra {
    ProdInProgress,
    DevInProgress,
    QaQueued,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Version(u32, u32, u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[derive(Debug, Clone)]
struct Commit {
    sha: String,
    author: usize,
    message: String,
    at: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct Release {
    version: Version,
    /// Every commit the release contains (not only its new ones).
    set: CommitSet,
    head: Option<usize>,
    hotfix: bool,
    /// Rolled back, or cut before the revert landed: never promoted again.
    bad: bool,
    pipeline: u32,
}

#[derive(Debug, Clone, Copy)]
struct EnvState {
    /// The release running there: its latest succeeded deployment (0, the baseline, before any).
    current: usize,
    busy_until: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct SimDeployment {
    env: usize,
    release: usize,
    status: DeploymentStatus,
    kind: DeploymentKind,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deployed_by: String,
    pipeline: u32,
    /// Indexes into `commits`.
    changes: Vec<usize>,
}

/// How long a deployment into each environment takes, in minutes.
const DEPLOY_MINUTES: [(i64, i64); 4] = [(1, 5), (2, 8), (3, 12), (4, 15)];

struct ServiceSim<'a> {
    input: &'a SimInput,
    ending: Ending,
    rng: Rng,
    commits: Vec<Commit>,
    releases: Vec<Release>,
    /// Everything merged to the main branch so far.
    mainline: CommitSet,
    mainline_version: Version,
    used_versions: HashSet<Version>,
    /// Reverts of rolled-back changes, waiting to be cut into the next release.
    pending_reverts: Vec<usize>,
    envs: [EnvState; 4],
    deployments: Vec<SimDeployment>,
    next_pipeline: u32,
    queue: BinaryHeap<Reverse<(OffsetDateTime, u64, Ev)>>,
    seq: u64,
}

impl<'a> ServiceSim<'a> {
    fn run(input: &'a SimInput, ending: Ending) -> Self {
        let before = input.cadence.start - Duration::days(30);
        let mut sim = ServiceSim {
            input,
            ending,
            rng: Rng::new(input.seed),
            commits: Vec::new(),
            releases: vec![Release {
                version: input.baseline,
                set: CommitSet::default(),
                head: None,
                hotfix: false,
                bad: false,
                pipeline: input.first_pipeline,
            }],
            mainline: CommitSet::default(),
            mainline_version: input.baseline,
            used_versions: HashSet::from([input.baseline]),
            pending_reverts: Vec::new(),
            envs: [EnvState {
                current: 0,
                busy_until: before,
            }; 4],
            deployments: Vec::new(),
            next_pipeline: input.first_pipeline + 1,
            queue: BinaryHeap::new(),
            seq: 0,
        };
        for &t in &input.schedule {
            sim.push(t, Ev::Release);
        }
        while let Some(Reverse((t, _, ev))) = sim.queue.pop() {
            if t > input.now {
                break;
            }
            match ev {
                Ev::Release => {
                    let release = sim.cut_release(t);
                    sim.push(
                        t,
                        Ev::Deploy {
                            release,
                            env: DEV,
                            attempt: 1,
                            flow: Flow::Normal,
                        },
                    );
                }
                Ev::Deploy {
                    release,
                    env,
                    attempt,
                    flow,
                } => {
                    sim.deploy(t, release, env, attempt, flow);
                }
                Ev::Hotfix => sim.hotfix(t),
            }
        }
        sim
    }

    fn push(&mut self, t: OffsetDateTime, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, ev)));
    }

    fn is_settled(&self) -> bool {
        let prod = self.envs[PROD].current;
        self.envs[QA].current == prod && self.envs[STAGING].current == prod
    }

    fn new_pipeline(&mut self) -> u32 {
        self.next_pipeline += 1 + self.rng.below(3) as u32;
        self.next_pipeline
    }

    fn person(&mut self) -> usize {
        self.rng.below(self.input.members.len() as u64) as usize
    }

    fn new_commit(&mut self, message: String, at: OffsetDateTime) -> usize {
        let author = self.person();
        let sha = format!(
            "{:016x}{:016x}{:08x}",
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u64() >> 32
        );
        self.commits.push(Commit {
            sha,
            author,
            message,
            at,
        });
        self.commits.len() - 1
    }

    fn message(&mut self, only_fixes: bool) -> String {
        // Draw again rather than repeat the previous commit word for word.
        let mut message = self.draw_message(only_fixes);
        for _ in 0..3 {
            if self.commits.last().is_none_or(|c| c.message != message) {
                break;
            }
            message = self.draw_message(only_fixes);
        }
        message
    }

    fn draw_message(&mut self, only_fixes: bool) -> String {
        let group = if only_fixes {
            &MESSAGES[1]
        } else {
            &MESSAGES[self.rng.weighted(&MESSAGE_WEIGHTS)]
        };
        let template = *self.rng.pick(group);
        template
            .replace("{scope}", self.input.scope)
            .replace("{nouns}", self.input.nouns)
            .replace("{noun}", self.input.noun)
    }

    /// Cuts a regular release from the main branch at `t`: 1–8 new commits, plus any revert that
    /// has landed since a rollback.
    fn cut_release(&mut self, t: OffsetDateTime) -> usize {
        let count = 1 + self.rng.weighted(&[22, 22, 18, 13, 10, 7, 5, 3]);
        let mut fresh = Vec::with_capacity(count + 1);
        let mut breaking = false;
        for _ in 0..count {
            let at = t - self.rng.log_minutes(60.0, 5.0 * 24.0 * 60.0);
            let message = if self.rng.chance(0.002) {
                breaking = true;
                format!(
                    "feat({})!: drop the v1 {} endpoints",
                    self.input.scope, self.input.noun
                )
            } else {
                self.message(false)
            };
            fresh.push(self.new_commit(message, at));
        }
        let due: Vec<usize> = self
            .pending_reverts
            .iter()
            .copied()
            .filter(|&c| self.commits[c].at + Duration::minutes(30) <= t)
            .collect();
        self.pending_reverts.retain(|c| !due.contains(c));
        fresh.extend(due);

        let mut set = self.mainline.clone();
        for &c in &fresh {
            set.insert(c);
        }
        self.mainline = set.clone();
        let head = fresh
            .iter()
            .copied()
            .max_by_key(|&c| (self.commits[c].at, c));
        let has_feature = fresh
            .iter()
            .any(|&c| self.commits[c].message.starts_with("feat"));
        let Version(major, minor, patch) = self.mainline_version;
        let mut version = if breaking {
            Version(major + 1, 0, 0)
        } else if has_feature {
            Version(major, minor + 1, 0)
        } else {
            Version(major, minor, patch + 1)
        };
        if self.used_versions.contains(&version) {
            // A hotfix took that number: move on to the next minor.
            version = Version(major, minor + 1, 0);
        }
        self.used_versions.insert(version);
        self.mainline_version = version;
        let pipeline = self.new_pipeline();
        self.releases.push(Release {
            version,
            set,
            head,
            hotfix: false,
            // Cut while a rolled-back change is still on main without its revert.
            bad: !self.pending_reverts.is_empty(),
            pipeline,
        });
        self.releases.len() - 1
    }

    fn deployer(&mut self, env: usize, flow: Flow) -> String {
        let by_person = match (env, flow) {
            (PROD, Flow::Hotfix) => true,
            (PROD, Flow::Normal) => self.rng.chance(self.input.cadence.prod_by_person),
            _ => false,
        };
        if by_person {
            let who = self.person();
            self.input.members[who].email.clone()
        } else {
            format!("ci/{}", self.input.slug)
        }
    }

    fn deploy(&mut self, t: OffsetDateTime, release: usize, env: usize, attempt: u8, flow: Flow) {
        let now = self.input.now;
        if self.releases[release].bad {
            return;
        }
        let current = self.envs[env].current;
        let brings_new = !self.releases[release]
            .set
            .is_subset(&self.releases[current].set);
        let keeps_all = self.releases[current]
            .set
            .is_subset(&self.releases[release].set);
        // A regular release only ever moves an environment forward; a hotfix may replace a newer
        // release in staging, but never one in production.
        let wanted = match flow {
            Flow::Normal => brings_new && keeps_all,
            Flow::Hotfix => brings_new && (env != PROD || keeps_all),
        };
        if !wanted {
            return;
        }
        if t < self.envs[env].busy_until {
            let later = self.envs[env].busy_until + Duration::minutes(self.rng.range(2, 15));
            self.push(
                later,
                Ev::Deploy {
                    release,
                    env,
                    attempt,
                    flow,
                },
            );
            return;
        }
        if let (PROD, Flow::Normal, Ending::Hold { from }) = (env, flow, self.ending)
            && t >= from
        {
            return;
        }
        let (lo, hi) = DEPLOY_MINUTES[env];
        let mut seconds = self.rng.range(lo * 60, hi * 60);
        let failed = self
            .rng
            .chance(if flow == Flow::Hotfix { 0.03 } else { 0.05 });
        if failed {
            seconds = ((seconds as f64) * (0.3 + 0.6 * self.rng.unit())) as i64;
            seconds = seconds.max(60);
        }
        let finished = t + Duration::seconds(seconds);
        if finished > now {
            return;
        }
        let changes = self.releases[release]
            .set
            .difference(&self.releases[current].set);
        let kind = match flow {
            Flow::Normal => DeploymentKind::Normal,
            Flow::Hotfix => DeploymentKind::Hotfix,
        };
        let deployed_by = self.deployer(env, flow);
        let index = self.deployments.len();
        self.deployments.push(SimDeployment {
            env,
            release,
            status: if failed {
                DeploymentStatus::Failed
            } else {
                DeploymentStatus::Succeeded
            },
            kind,
            started_at: Some(t),
            finished_at: Some(finished),
            created_at: t,
            updated_at: finished,
            deployed_by,
            pipeline: self.releases[release].pipeline,
            changes,
        });
        self.envs[env].busy_until = finished;
        let settling = self.ending.settling(t);

        if failed {
            let always_retry = settling || flow == Flow::Hotfix;
            let max_attempts = if always_retry { 6 } else { 3 };
            if attempt < max_attempts && (always_retry || self.rng.chance(0.7)) {
                let mut retry = finished + self.rng.log_minutes(10.0, 120.0);
                if env == PROD && flow == Flow::Normal {
                    retry = into_working_hours(retry, &mut self.rng);
                }
                self.push(
                    retry,
                    Ev::Deploy {
                        release,
                        env,
                        attempt: attempt + 1,
                        flow,
                    },
                );
            }
            return;
        }

        self.envs[env].current = release;
        if env == PROD
            && flow == Flow::Normal
            && !settling
            && current != 0
            && self.rng.chance(0.03)
            && self.roll_back(index, current)
        {
            return;
        }
        if env < PROD {
            let chance = match flow {
                Flow::Hotfix => 1.0,
                Flow::Normal if release == 1 => 1.0,
                Flow::Normal if settling => {
                    if env == DEV {
                        0.0
                    } else {
                        1.0
                    }
                }
                Flow::Normal => self.input.cadence.promote[env],
            };
            if self.rng.chance(chance) {
                let at = match flow {
                    Flow::Hotfix => finished + Duration::minutes(self.rng.range(15, 90)),
                    Flow::Normal => {
                        let (lo, hi) = [(15.0, 240.0), (30.0, 1_440.0), (60.0, 2_880.0)][env];
                        let at =
                            finished + self.rng.log_minutes(lo, hi * self.input.cadence.patience);
                        into_working_hours(at, &mut self.rng)
                    }
                };
                self.push(
                    at,
                    Ev::Deploy {
                        release,
                        env: env + 1,
                        attempt: 1,
                        flow,
                    },
                );
            }
        } else if flow == Flow::Normal && !settling && self.rng.chance(0.035) {
            let at = finished + self.rng.log_minutes(120.0, 2_880.0);
            self.push(at, Ev::Hotfix);
        }
    }

    /// Rolls the production deployment at `index` back to `previous`, 10–60 minutes after it
    /// finished. False (nothing done) when that would end after `now`.
    fn roll_back(&mut self, index: usize, previous: usize) -> bool {
        let Some(finished) = self.deployments[index].finished_at else {
            return false;
        };
        let start = finished + Duration::minutes(self.rng.range(10, 60));
        let end = start + Duration::seconds(self.rng.range(120, 360));
        if end > self.input.now {
            return false;
        }
        let bad = self.deployments[index].release;
        self.deployments[index].status = DeploymentStatus::RolledBack;
        self.deployments[index].updated_at = start;
        let deployed_by = {
            let who = self.person();
            self.input.members[who].email.clone()
        };
        let pipeline = self.new_pipeline();
        self.deployments.push(SimDeployment {
            env: PROD,
            release: previous,
            status: DeploymentStatus::Succeeded,
            kind: DeploymentKind::Rollback,
            started_at: Some(start),
            finished_at: Some(end),
            created_at: start,
            updated_at: end,
            deployed_by,
            pipeline,
            changes: Vec::new(),
        });
        self.envs[PROD] = EnvState {
            current: previous,
            busy_until: end,
        };
        // Every regular release cut since contains the broken change too.
        for release in self.releases.iter_mut().skip(bad).filter(|r| !r.hotfix) {
            release.bad = true;
        }
        let reverted = self.releases[bad].head.map_or_else(
            || "the last release".to_owned(),
            |c| self.commits[c].message.clone(),
        );
        let at = end + self.rng.log_minutes(20.0, 240.0);
        let revert = self.new_commit(format!("revert: {reverted}"), at);
        self.pending_reverts.push(revert);
        true
    }

    /// A bug found in production: a fix on a branch from the production version, straight to
    /// staging and then production, and merged back to main.
    fn hotfix(&mut self, t: OffsetDateTime) {
        if self.ending.settling(t) {
            return;
        }
        let base = self.envs[PROD].current;
        if base == 0 || self.releases[base].bad {
            return;
        }
        let Version(major, minor, patch) = self.releases[base].version;
        let version = Version(major, minor, patch + 1);
        if self.used_versions.contains(&version) {
            return;
        }
        let count = if self.rng.chance(0.3) { 2 } else { 1 };
        let mut set = self.releases[base].set.clone();
        let mut head = None;
        let mut latest = None;
        for _ in 0..count {
            let at = t - self.rng.log_minutes(30.0, 180.0);
            let message = self.message(true);
            let c = self.new_commit(message, at);
            set.insert(c);
            self.mainline.insert(c);
            if latest.is_none_or(|l| at > l) {
                latest = Some(at);
                head = Some(c);
            }
        }
        self.used_versions.insert(version);
        let pipeline = self.new_pipeline();
        self.releases.push(Release {
            version,
            set,
            head,
            hotfix: true,
            bad: false,
            pipeline,
        });
        let release = self.releases.len() - 1;
        self.push(
            t,
            Ev::Deploy {
                release,
                env: STAGING,
                attempt: 1,
                flow: Flow::Hotfix,
            },
        );
    }

    /// Adds one deployment that is not finished at `now`. False when this service's state does not
    /// allow it (nothing to promote, or its pipeline is busy).
    fn add_extra(&mut self, extra: Extra) -> bool {
        let now = self.input.now;
        let (env, release, status, started_at) = match extra {
            Extra::ProdInProgress => {
                let candidate = self.envs[STAGING].current;
                (
                    PROD,
                    candidate,
                    DeploymentStatus::InProgress,
                    Some(now - Duration::minutes(4)),
                )
            }
            Extra::QaQueued => (QA, self.envs[DEV].current, DeploymentStatus::Queued, None),
            Extra::DevInProgress => {
                if self.envs[DEV].busy_until > now - Duration::minutes(10) {
                    return false;
                }
                let release = self.cut_release(now - Duration::minutes(2));
                (
                    DEV,
                    release,
                    DeploymentStatus::InProgress,
                    Some(now - Duration::minutes(2)),
                )
            }
        };
        let current = self.envs[env].current;
        let forward = !self.releases[release]
            .set
            .is_subset(&self.releases[current].set)
            && self.releases[current]
                .set
                .is_subset(&self.releases[release].set);
        if !forward
            || self.releases[release].bad
            || self.envs[env].busy_until > now - Duration::minutes(10)
        {
            return false;
        }
        let deployed_by = self.deployer(env, Flow::Normal);
        let changes = self.releases[release]
            .set
            .difference(&self.releases[current].set);
        let created_at = started_at.unwrap_or(now - Duration::minutes(1));
        self.deployments.push(SimDeployment {
            env,
            release,
            status,
            kind: DeploymentKind::Normal,
            started_at,
            finished_at: None,
            created_at,
            updated_at: created_at,
            deployed_by,
            pipeline: self.releases[release].pipeline,
            changes,
        });
        true
    }

    fn deployments_for_plan(&self, service: usize) -> Vec<Deployment> {
        let mut records: Vec<&SimDeployment> = self.deployments.iter().collect();
        records.sort_by_key(|d| (d.started_at.is_none(), d.started_at, d.env));
        let mut counters = [0_u32; 4];
        records
            .into_iter()
            .map(|d| {
                counters[d.env] += 1;
                let release = &self.releases[d.release];
                let mut changes: Vec<Change> = d
                    .changes
                    .iter()
                    .map(|&c| {
                        let commit = &self.commits[c];
                        Change {
                            sha: commit.sha.clone(),
                            author: self.input.members[commit.author].author(),
                            message: commit.message.clone(),
                            committed_at: commit.at,
                        }
                    })
                    .collect();
                changes.sort_by(|a, b| (a.committed_at, &a.sha).cmp(&(b.committed_at, &b.sha)));
                Deployment {
                    service,
                    environment: d.env,
                    version: release.version.to_string(),
                    commit_sha: release.head.map(|c| self.commits[c].sha.clone()),
                    status: d.status,
                    kind: d.kind,
                    started_at: d.started_at,
                    finished_at: d.finished_at,
                    deployed_by: d.deployed_by.clone(),
                    pipeline_url: format!(
                        "https://ci.example.com/acme/{}/pipelines/{}",
                        self.input.slug, d.pipeline
                    ),
                    external_id: format!(
                        "{}-{}-{}",
                        self.input.slug, ENVIRONMENTS[d.env].0, counters[d.env]
                    ),
                    created_at: d.created_at,
                    updated_at: d.updated_at,
                    changes,
                }
            })
            .collect()
    }
}

/// A set of commits of one service, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CommitSet(Vec<u64>);

impl CommitSet {
    fn insert(&mut self, i: usize) {
        let word = i / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (i % 64);
    }

    fn is_subset(&self, other: &CommitSet) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(w, bits)| bits & !other.0.get(w).copied().unwrap_or(0) == 0)
    }

    /// The commits in `self` and not in `other`, in index order.
    fn difference(&self, other: &CommitSet) -> Vec<usize> {
        let mut out = Vec::new();
        for (w, bits) in self.0.iter().enumerate() {
            let mut rest = bits & !other.0.get(w).copied().unwrap_or(0);
            while rest != 0 {
                let bit = rest.trailing_zeros() as usize;
                out.push(w * 64 + bit);
                rest &= rest - 1;
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Time and randomness.
// ---------------------------------------------------------------------------------------------

fn truncate_to_minute(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t - Duration::seconds(i64::from(t.second())) - Duration::nanoseconds(i64::from(t.nanosecond()))
}

fn is_weekend(t: OffsetDateTime) -> bool {
    matches!(t.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The same moment if it falls in working hours (08:00–18:00 UTC, Monday to Friday), else early
/// on the next working morning.
fn into_working_hours(mut t: OffsetDateTime, rng: &mut Rng) -> OffsetDateTime {
    loop {
        if is_weekend(t) || t.hour() >= 18 {
            t = (t + Duration::days(1)).replace_time(time!(8:00));
        } else if t.hour() < 8 {
            t = t.replace_time(time!(8:00));
        } else {
            return t;
        }
        t += Duration::minutes(rng.range(0, 90));
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through splitmix64: small, fast and the same on every platform.
#[derive(Debug, Clone)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            splitmix64(x)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi], both included.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut roll = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if roll < u64::from(w) {
                return i;
            }
            roll -= u64::from(w);
        }
        weights.len() - 1
    }

    /// A duration between `lo` and `hi` minutes, log-uniform: short waits are common, long rare.
    fn log_minutes(&mut self, lo: f64, hi: f64) -> Duration {
        let minutes = (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp();
        Duration::seconds((minutes * 60.0) as i64)
    }

    fn poisson(&mut self, lambda: f64) -> u32 {
        let limit = (-lambda).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit && count < 50 {
            product *= self.unit();
            count += 1;
        }
        count
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Insert: one transaction, one bulk statement per table (chunked for the big ones).
// ---------------------------------------------------------------------------------------------

async fn insert(conn: &mut PgConnection, org: &DemoOrg) -> anyhow::Result<SeedReport> {
    let team_ids = returning_ids(
        sqlx::query_as(
            "INSERT INTO teams (slug, name, description, created_at, updated_at) \
             SELECT slug, name, description, created_at, created_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[]) \
                  WITH ORDINALITY AS t(slug, name, description, created_at, ord) \
             ORDER BY ord RETURNING slug, id",
        )
        .bind(org.teams.iter().map(|t| t.slug.clone()).collect::<Vec<_>>())
        .bind(org.teams.iter().map(|t| t.name.clone()).collect::<Vec<_>>())
        .bind(
            org.teams
                .iter()
                .map(|t| t.description.clone())
                .collect::<Vec<_>>(),
        )
        .bind(org.teams.iter().map(|t| t.created_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .context("inserting the demo teams")?,
        org.teams.iter().map(|t| t.slug.as_str()),
    )?;

    let system_ids = returning_ids(
        sqlx::query_as(
            "INSERT INTO systems (slug, name, description, owner_team_id, created_at, updated_at) \
             SELECT slug, name, description, owner, created_at, created_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) \
                  WITH ORDINALITY AS t(slug, name, description, owner, created_at, ord) \
             ORDER BY ord RETURNING slug, id",
        )
        .bind(
            org.systems
                .iter()
                .map(|s| s.slug.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            org.systems
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            org.systems
                .iter()
                .map(|s| s.description.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            org.systems
                .iter()
                .map(|s| team_ids[s.owner_team])
                .collect::<Vec<_>>(),
        )
        .bind(org.systems.iter().map(|s| s.created_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .context("inserting the demo systems")?,
        org.systems.iter().map(|s| s.slug.as_str()),
    )?;

    // Tags travel as one comma-separated text per service: Postgres has no ragged arrays.
    let service_ids = returning_ids(
        sqlx::query_as(
            "INSERT INTO services (slug, name, description, owner_team_id, system_id, tier, lifecycle, \
                                   repository_url, runbook_url, tags, created_at, updated_at) \
             SELECT slug, name, description, owner, system, tier, lifecycle, repository, runbook, \
                    string_to_array(tags, ','), created_at, created_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], \
                         $6::smallint[], $7::text[], $8::text[], $9::text[], $10::text[], \
                         $11::timestamptz[]) \
                  WITH ORDINALITY AS t(slug, name, description, owner, system, tier, lifecycle, \
                                       repository, runbook, tags, created_at, ord) \
             ORDER BY ord RETURNING slug, id",
        )
        .bind(org.services.iter().map(|s| s.slug.clone()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.description.clone()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| team_ids[s.owner_team]).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| system_ids[s.system]).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.tier).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.lifecycle.as_str()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.repository_url.clone()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.runbook_url.clone()).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.tags.join(",")).collect::<Vec<_>>())
        .bind(org.services.iter().map(|s| s.created_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .context("inserting the demo services")?,
        org.services.iter().map(|s| s.slug.as_str()),
    )?;

    let deps = &org.dependencies;
    sqlx::query(
        "INSERT INTO service_dependencies (from_service_id, to_service_id, kind, source, description, created_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])",
    )
    .bind(deps.iter().map(|d| service_ids[d.from]).collect::<Vec<_>>())
    .bind(deps.iter().map(|d| service_ids[d.to]).collect::<Vec<_>>())
    .bind(deps.iter().map(|d| d.kind.as_str()).collect::<Vec<_>>())
    .bind(deps.iter().map(|d| d.source).collect::<Vec<_>>())
    .bind(deps.iter().map(|d| d.description.clone()).collect::<Vec<_>>())
    .bind(deps.iter().map(|d| d.created_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("inserting the demo dependencies")?;

    let envs = &org.environments;
    let environment_ids = returning_ids(
        sqlx::query_as(
            "INSERT INTO environments (slug, name, description, position, is_production, created_at, updated_at) \
             SELECT slug, name, description, position, is_production, created_at, created_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::integer[], $5::boolean[], $6::timestamptz[]) \
                  WITH ORDINALITY AS t(slug, name, description, position, is_production, created_at, ord) \
             ORDER BY ord RETURNING slug, id",
        )
        .bind(envs.iter().map(|e| e.slug.clone()).collect::<Vec<_>>())
        .bind(envs.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
        .bind(envs.iter().map(|e| e.description.clone()).collect::<Vec<_>>())
        .bind(envs.iter().map(|e| e.position).collect::<Vec<_>>())
        .bind(envs.iter().map(|e| e.is_production).collect::<Vec<_>>())
        .bind(envs.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .context("inserting the demo environments")?,
        envs.iter().map(|e| e.slug.as_str()),
    )?;

    // Deployments go in chronological order, so that ordering by id is ordering by time; their
    // ids come back by external id for the changes.
    let mut deployment_ids: HashMap<String, i64> = HashMap::with_capacity(org.deployments.len());
    for chunk in org.deployments.chunks(DEPLOYMENT_CHUNK) {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "INSERT INTO deployments (service_id, environment_id, version, commit_sha, status, kind, \
                                      started_at, finished_at, deployed_by, pipeline_url, source, \
                                      external_id, created_at, updated_at) \
             SELECT service, environment, version, sha, status, kind, started_at, finished_at, \
                    deployed_by, pipeline_url, $11, external_id, created_at, updated_at \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $12::text[], \
                         $13::timestamptz[], $14::timestamptz[]) \
                  WITH ORDINALITY AS t(service, environment, version, sha, status, kind, started_at, \
                                       finished_at, deployed_by, pipeline_url, external_id, \
                                       created_at, updated_at, ord) \
             ORDER BY ord RETURNING external_id, id",
        )
        .bind(chunk.iter().map(|d| service_ids[d.service]).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| environment_ids[d.environment]).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.version.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.commit_sha.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.status.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.started_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.finished_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.deployed_by.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.pipeline_url.clone()).collect::<Vec<_>>())
        .bind(DEMO_SOURCE)
        .bind(chunk.iter().map(|d| d.external_id.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.updated_at).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .context("inserting the demo deployments")?;
        deployment_ids.extend(rows);
    }

    let mut changes: Vec<(i64, &Change)> = Vec::new();
    for deployment in &org.deployments {
        let id = *deployment_ids
            .get(&deployment.external_id)
            .with_context(|| {
                format!("no id came back for deployment {}", deployment.external_id)
            })?;
        changes.extend(deployment.changes.iter().map(|c| (id, c)));
    }
    for chunk in changes.chunks(CHANGE_CHUNK) {
        sqlx::query(
            "INSERT INTO deployment_changes (deployment_id, sha, author, message, committed_at) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])",
        )
        .bind(chunk.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|(_, c)| c.sha.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|(_, c)| c.author.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|(_, c)| c.message.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|(_, c)| c.committed_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .context("inserting the commits of the demo deployments")?;
    }

    let told = incidents::insert(conn, org, &service_ids, &deployment_ids).await?;
    let action_items = actions::insert(
        conn,
        &org.actions,
        &told.incident_ids,
        &team_ids,
        &told.user_ids,
    )
    .await?;

    Ok(SeedReport {
        teams: org.teams.len(),
        systems: org.systems.len(),
        services: org.services.len(),
        dependencies: org.dependencies.len(),
        environments: org.environments.len(),
        deployments: org.deployments.len(),
        changes: changes.len(),
        users: told.users,
        incidents: told.incidents,
        postmortems: told.postmortems,
        action_items,
    })
}

/// The ids of freshly inserted rows, in the order of `slugs`.
fn returning_ids<'s>(
    rows: Vec<(String, i64)>,
    slugs: impl Iterator<Item = &'s str>,
) -> anyhow::Result<Vec<i64>> {
    let by_slug: HashMap<String, i64> = rows.into_iter().collect();
    slugs
        .map(|slug| {
            by_slug
                .get(slug)
                .copied()
                .with_context(|| format!("no id came back for {slug}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The organisation itself.
// ---------------------------------------------------------------------------------------------

struct TeamSpec {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    members: &'static [&'static str],
}

struct SystemSpec {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    owner: &'static str,
}

struct ServiceSpec {
    slug: &'static str,
    name: &'static str,
    team: &'static str,
    system: &'static str,
    tier: i16,
    lifecycle: Lifecycle,
    /// Conventional-commit scope and the thing the service deals in, for commit messages.
    scope: &'static str,
    noun: &'static str,
    nouns: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
    /// What it depends on: `slug:code`, code s = sync, p = publishes to a stream, c = consumes a
    /// stream, a = other messages, d = data.
    deps: &'static str,
}

fn team_index(slug: &str) -> usize {
    TEAMS
        .iter()
        .position(|t| t.slug == slug)
        .expect("the demo tables name known teams")
}

fn system_index(slug: &str) -> usize {
    SYSTEMS
        .iter()
        .position(|s| s.slug == slug)
        .expect("the demo tables name known systems")
}

fn service_index(slug: &str) -> usize {
    SERVICES
        .iter()
        .position(|s| s.slug == slug)
        .expect("the demo tables name known services")
}

const ENVIRONMENTS: [(&str, &str, &str); 4] = [
    (
        "dev",
        "Development",
        "Every merge to main lands here within minutes; expect the odd breakage.",
    ),
    (
        "qa",
        "QA",
        "Integration and exploratory testing against shared test data.",
    ),
    (
        "staging",
        "Staging",
        "Production-like topology and configuration with anonymised data; the last stop before prod.",
    ),
    (
        "prod",
        "Production",
        "What customers use; a release needs a green staging run first, and an approval for tier 1.",
    ),
];

const TEAMS: [TeamSpec; 10] = [
    TeamSpec {
        slug: "checkout",
        name: "Checkout",
        description: "Carts, checkout and the order record: everything between add-to-cart and order placed.",
        members: &[
            "Ana Souza",
            "Tomasz Nowak",
            "Priya Raman",
            "Lucas Moreau",
            "Emily Carter",
        ],
    },
    TeamSpec {
        slug: "payments",
        name: "Payments",
        description: "Takes the money safely: payment gateway, fraud scoring, refunds and the ledger.",
        members: &["Kwame Mensah", "Sofia Rossi", "Daniel Kim", "Aisha Bello"],
    },
    TeamSpec {
        slug: "catalog",
        name: "Catalog",
        description: "Products, prices, media and the back office where merchandisers edit them.",
        members: &[
            "Marta Garcia",
            "Jonas Weber",
            "Hiroshi Tanaka",
            "Chloe Dubois",
            "Noah Andersen",
        ],
    },
    TeamSpec {
        slug: "search",
        name: "Search",
        description: "Product search, autocomplete and ranking for every storefront.",
        members: &["Ravi Patel", "Ingrid Larsen", "Mateo Fernandez"],
    },
    TeamSpec {
        slug: "identity",
        name: "Identity",
        description: "Customer and staff sign-in, sessions, profiles and consent.",
        members: &["Fatima Zahra", "Oliver Brown", "Yuki Sato", "Nina Petrova"],
    },
    TeamSpec {
        slug: "platform",
        name: "Platform",
        description: "The paved road: the gateway, configuration, feature flags, messaging and the event bus.",
        members: &[
            "Sam Okafor",
            "Elena Popescu",
            "Mark Jensen",
            "Leila Haddad",
            "Chen Wei",
            "Pedro Alves",
        ],
    },
    TeamSpec {
        slug: "data",
        name: "Data",
        description: "Clickstream, the analytics warehouse, experiments and machine-learning features.",
        members: &["Grace Liu", "Arjun Mehta", "Hannah Schmidt", "Kofi Asante"],
    },
    TeamSpec {
        slug: "mobile",
        name: "Mobile",
        description: "The mobile web shop, the backend of the apps and push notifications.",
        members: &["Isabel Costa", "Ethan Walker", "Mei Lin"],
    },
    TeamSpec {
        slug: "fulfilment",
        name: "Fulfilment",
        description: "Stock, warehouses, shipping, tracking and returns.",
        members: &[
            "Lars Nilsson",
            "Amara Nwosu",
            "Diego Ramirez",
            "Olga Ivanova",
            "Ben Fischer",
        ],
    },
    TeamSpec {
        slug: "growth",
        name: "Growth",
        description: "The web storefront, promotions, loyalty and the messages that bring shoppers back.",
        members: &[
            "Zoe Martin",
            "Rahul Verma",
            "Clara Hoffmann",
            "Jamal Wright",
            "Sara Lindqvist",
        ],
    },
];

const SYSTEMS: [SystemSpec; 8] = [
    SystemSpec {
        slug: "storefront",
        name: "Storefront",
        description: "Everything shoppers touch directly, on the web and in the apps.",
        owner: "growth",
    },
    SystemSpec {
        slug: "commerce",
        name: "Commerce core",
        description: "Carts, checkout, orders, payments and the money trail behind them.",
        owner: "checkout",
    },
    SystemSpec {
        slug: "catalog",
        name: "Catalog & search",
        description: "Product data, prices and media, and how shoppers find products.",
        owner: "catalog",
    },
    SystemSpec {
        slug: "identity",
        name: "Identity",
        description: "Who the customer is, how they sign in and what they agreed to.",
        owner: "identity",
    },
    SystemSpec {
        slug: "fulfilment",
        name: "Fulfilment",
        description: "From paid order to parcel at the door, and back again for returns.",
        owner: "fulfilment",
    },
    SystemSpec {
        slug: "marketing",
        name: "Marketing",
        description: "Promotions, loyalty and customer messaging.",
        owner: "growth",
    },
    SystemSpec {
        slug: "data",
        name: "Data & analytics",
        description: "Behavioural data, the analytics warehouse, experiments and model features.",
        owner: "data",
    },
    SystemSpec {
        slug: "platform",
        name: "Platform",
        description: "Shared runtime services every team builds on.",
        owner: "platform",
    },
];

/// Descriptions of the edges worth explaining, in particular the two deliberate cycles.
const EDGE_NOTES: [(&str, &str, &str); 4] = [
    (
        "order-service",
        "fulfilment-service",
        "Sends fulfilment requests for paid orders",
    ),
    (
        "fulfilment-service",
        "order-service",
        "Reports shipment progress back onto the order",
    ),
    (
        "promotions-service",
        "loyalty-service",
        "Checks member tiers for member-only offers",
    ),
    (
        "loyalty-service",
        "promotions-service",
        "Looks up bonus-point campaigns when awarding points",
    ),
];

const SERVICES: [ServiceSpec; 60] = [
    // Front ends.
    ServiceSpec {
        slug: "storefront-web",
        name: "Storefront web",
        team: "growth",
        system: "storefront",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "storefront",
        noun: "product page",
        nouns: "product pages",
        description: "The customer-facing web shop: home, product, cart and checkout pages.",
        tags: &["typescript", "frontend", "web"],
        deps: "storefront-bff:s feature-flags:s clickstream-collector:a",
    },
    ServiceSpec {
        slug: "mobile-web",
        name: "Mobile web",
        team: "mobile",
        system: "storefront",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "mobile",
        noun: "screen",
        nouns: "screens",
        description: "The lightweight web shop served to phones and inside the apps' web views.",
        tags: &["typescript", "frontend", "mobile"],
        deps: "mobile-bff:s clickstream-collector:a",
    },
    ServiceSpec {
        slug: "backoffice-web",
        name: "Back office",
        team: "catalog",
        system: "catalog",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "backoffice",
        noun: "product draft",
        nouns: "product drafts",
        description: "Internal web app where merchandisers edit products, prices and stock corrections.",
        tags: &["typescript", "frontend", "internal"],
        deps: "api-gateway:s auth-service:s",
    },
    // Backends for front ends and gateways.
    ServiceSpec {
        slug: "storefront-bff",
        name: "Storefront BFF",
        team: "growth",
        system: "storefront",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "bff",
        noun: "page model",
        nouns: "page models",
        description: "Backend for the web storefront that shapes domain data into page models.",
        tags: &["typescript", "bff"],
        deps: "catalog-service:s search-api:s cart-service:s checkout-api:s auth-service:s \
               session-service:s recommendations-service:s promotions-service:s reviews-service:s",
    },
    ServiceSpec {
        slug: "mobile-bff",
        name: "Mobile BFF",
        team: "mobile",
        system: "storefront",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "mobile-bff",
        noun: "app payload",
        nouns: "app payloads",
        description: "Backend for the mobile apps, with versioned endpoints per app release.",
        tags: &["kotlin", "bff", "mobile"],
        deps: "catalog-service:s search-api:s cart-service:s checkout-api:s auth-service:s \
               customer-profile-service:s push-service:a",
    },
    ServiceSpec {
        slug: "api-gateway",
        name: "API gateway",
        team: "platform",
        system: "platform",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "gateway",
        noun: "route",
        nouns: "routes",
        description: "Edge gateway for partner and back-office APIs: routing, authentication and rate limits.",
        tags: &["go", "edge", "gateway"],
        deps: "auth-service:s catalog-service:s pricing-service:s inventory-service:s order-service:s \
               refund-service:s returns-service:s audit-log-service:a",
    },
    // Commerce core.
    ServiceSpec {
        slug: "checkout-api",
        name: "Checkout API",
        team: "checkout",
        system: "commerce",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "checkout",
        noun: "checkout session",
        nouns: "checkout sessions",
        description: "Orchestrates checkout: validates the cart, prices it, takes payment and places the order.",
        tags: &["rust", "checkout", "pci"],
        deps: "cart-service:s order-service:s payment-gateway:s tax-service:s shipping-quotes:s \
               promotions-service:s fraud-scoring:s inventory-service:s customer-profile-service:s",
    },
    ServiceSpec {
        slug: "cart-service",
        name: "Cart service",
        team: "checkout",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "cart",
        noun: "cart item",
        nouns: "cart items",
        description: "Keeps shoppers' carts across devices and recalculates them when prices change.",
        tags: &["rust", "checkout"],
        deps: "catalog-service:s pricing-service:s currency-service:s inventory-service:s \
               promotions-service:s clickstream-events:p",
    },
    ServiceSpec {
        slug: "order-service",
        name: "Order service",
        team: "checkout",
        system: "commerce",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "orders",
        noun: "order",
        nouns: "orders",
        description: "The system of record for orders, from placement to completion or cancellation.",
        tags: &["rust", "orders", "events"],
        deps: "order-events:p fulfilment-service:a payment-gateway:s inventory-service:s \
               invoice-service:a audit-log-service:a",
    },
    ServiceSpec {
        slug: "tax-service",
        name: "Tax service",
        team: "checkout",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "tax",
        noun: "tax rule",
        nouns: "tax rules",
        description: "Computes sales tax and VAT per line item and destination.",
        tags: &["java", "checkout", "finance"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "order-events",
        name: "Order events",
        team: "checkout",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "order-events",
        noun: "order event schema",
        nouns: "order event schemas",
        description: "Event stream of order lifecycle changes, the backbone for downstream consumers.",
        tags: &["stream", "events", "orders"],
        deps: "event-bus:d",
    },
    ServiceSpec {
        slug: "payment-gateway",
        name: "Payment gateway",
        team: "payments",
        system: "commerce",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "payments",
        noun: "payment intent",
        nouns: "payment intents",
        description: "Authorises, captures and voids card and wallet payments through the acquiring banks.",
        tags: &["java", "payments", "pci"],
        deps: "fraud-scoring:s payments-ledger:s payment-events:p currency-service:s config-service:s \
               audit-log-service:a",
    },
    ServiceSpec {
        slug: "fraud-scoring",
        name: "Fraud scoring",
        team: "payments",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "fraud",
        noun: "risk score",
        nouns: "risk scores",
        description: "Scores each payment attempt for fraud risk in under fifty milliseconds.",
        tags: &["python", "payments", "ml"],
        deps: "feature-store:d customer-profile-service:s payment-events:c",
    },
    ServiceSpec {
        slug: "refund-service",
        name: "Refund service",
        team: "payments",
        system: "commerce",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "refunds",
        noun: "refund",
        nouns: "refunds",
        description: "Issues full and partial refunds and reconciles them with the ledger.",
        tags: &["java", "payments"],
        deps: "payment-gateway:s payments-ledger:s order-events:c payment-events:p",
    },
    ServiceSpec {
        slug: "invoice-service",
        name: "Invoice service",
        team: "payments",
        system: "commerce",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "invoices",
        noun: "invoice",
        nouns: "invoices",
        description: "Generates invoices and credit notes as PDF and e-invoicing documents.",
        tags: &["java", "finance", "documents"],
        deps: "order-events:c customer-profile-service:s messaging-gateway:s payments-ledger:s",
    },
    ServiceSpec {
        slug: "payments-ledger",
        name: "Payments ledger",
        team: "payments",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "ledger",
        noun: "ledger entry",
        nouns: "ledger entries",
        description: "Double-entry ledger of every money movement, for reconciliation and reporting.",
        tags: &["rust", "payments", "finance"],
        deps: "payment-events:c audit-log-service:a",
    },
    ServiceSpec {
        slug: "currency-service",
        name: "Currency service",
        team: "payments",
        system: "commerce",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "currency",
        noun: "exchange rate",
        nouns: "exchange rates",
        description: "Serves daily exchange rates and rounds amounts the way each currency expects.",
        tags: &["go", "finance"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "payment-events",
        name: "Payment events",
        team: "payments",
        system: "commerce",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "payment-events",
        noun: "payment event schema",
        nouns: "payment event schemas",
        description: "Event stream of authorisations, captures, refunds and chargebacks.",
        tags: &["stream", "events", "payments"],
        deps: "event-bus:d",
    },
    // Catalog and search.
    ServiceSpec {
        slug: "catalog-service",
        name: "Catalog service",
        team: "catalog",
        system: "catalog",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "catalog",
        noun: "product",
        nouns: "products",
        description: "The source of truth for products, variants, attributes and categories.",
        tags: &["kotlin", "catalog"],
        deps: "catalog-events:p product-media-service:s feature-flags:s config-service:s",
    },
    ServiceSpec {
        slug: "pricing-service",
        name: "Pricing service",
        team: "catalog",
        system: "catalog",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "pricing",
        noun: "price",
        nouns: "prices",
        description: "Resolves the selling price of each variant per market, channel and time window.",
        tags: &["kotlin", "catalog", "pricing"],
        deps: "catalog-service:s currency-service:s catalog-events:p",
    },
    ServiceSpec {
        slug: "product-media-service",
        name: "Product media",
        team: "catalog",
        system: "catalog",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "media",
        noun: "product image",
        nouns: "product images",
        description: "Stores product images and videos and serves resized renditions.",
        tags: &["go", "media"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "catalog-importer",
        name: "Catalog importer",
        team: "catalog",
        system: "catalog",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "importer",
        noun: "supplier feed",
        nouns: "supplier feeds",
        description: "Imports supplier product feeds every night and on demand.",
        tags: &["python", "batch", "catalog"],
        deps: "catalog-service:s product-media-service:s catalog-events:p",
    },
    ServiceSpec {
        slug: "reviews-service",
        name: "Reviews service",
        team: "catalog",
        system: "catalog",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "reviews",
        noun: "review",
        nouns: "reviews",
        description: "Collects, moderates and serves customer product reviews and ratings.",
        tags: &["kotlin", "catalog", "ugc"],
        deps: "customer-profile-service:s catalog-events:c",
    },
    ServiceSpec {
        slug: "catalog-events",
        name: "Catalog events",
        team: "catalog",
        system: "catalog",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "catalog-events",
        noun: "catalog event schema",
        nouns: "catalog event schemas",
        description: "Event stream of product, price and stock changes.",
        tags: &["stream", "events", "catalog"],
        deps: "event-bus:d",
    },
    ServiceSpec {
        slug: "search-api",
        name: "Search API",
        team: "search",
        system: "catalog",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "search",
        noun: "search query",
        nouns: "search queries",
        description: "Full-text and faceted product search for every storefront.",
        tags: &["java", "search"],
        deps: "search-index:d autocomplete-service:s feature-flags:s experiment-service:s",
    },
    ServiceSpec {
        slug: "search-indexer",
        name: "Search indexer",
        team: "search",
        system: "catalog",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "indexer",
        noun: "index document",
        nouns: "index documents",
        description: "Keeps the search index in step with catalog, price and stock events.",
        tags: &["java", "search", "events"],
        deps: "catalog-events:c search-index:d pricing-service:s inventory-service:s",
    },
    ServiceSpec {
        slug: "autocomplete-service",
        name: "Autocomplete",
        team: "search",
        system: "catalog",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "autocomplete",
        noun: "suggestion",
        nouns: "suggestions",
        description: "Suggests queries and products as the shopper types.",
        tags: &["go", "search"],
        deps: "search-index:d",
    },
    ServiceSpec {
        slug: "ranking-lab",
        name: "Ranking lab",
        team: "search",
        system: "catalog",
        tier: 4,
        lifecycle: Lifecycle::Experimental,
        scope: "ranking",
        noun: "ranking model",
        nouns: "ranking models",
        description: "Experimental learning-to-rank models tried on a slice of search traffic.",
        tags: &["python", "search", "ml"],
        deps: "search-index:d feature-store:d clickstream-events:c",
    },
    ServiceSpec {
        slug: "search-index",
        name: "Search index",
        team: "search",
        system: "catalog",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "search-index",
        noun: "index mapping",
        nouns: "index mappings",
        description: "The search cluster's index definitions, analysers and synonym lists.",
        tags: &["datastore", "search"],
        deps: "",
    },
    // Identity.
    ServiceSpec {
        slug: "auth-service",
        name: "Auth service",
        team: "identity",
        system: "identity",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "auth",
        noun: "token",
        nouns: "tokens",
        description: "Signs customers and staff in and issues the tokens every other service checks.",
        tags: &["go", "identity", "security"],
        deps: "session-service:s customer-profile-service:s audit-log-service:a config-service:s",
    },
    ServiceSpec {
        slug: "customer-profile-service",
        name: "Customer profiles",
        team: "identity",
        system: "identity",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "profiles",
        noun: "customer profile",
        nouns: "customer profiles",
        description: "Customers' names, addresses and preferences, with data export and erasure on request.",
        tags: &["kotlin", "identity", "pii"],
        deps: "consent-service:s audit-log-service:a",
    },
    ServiceSpec {
        slug: "session-service",
        name: "Session service",
        team: "identity",
        system: "identity",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "sessions",
        noun: "session",
        nouns: "sessions",
        description: "Stores sign-in sessions and remembered devices.",
        tags: &["go", "identity"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "consent-service",
        name: "Consent service",
        team: "identity",
        system: "identity",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "consent",
        noun: "consent record",
        nouns: "consent records",
        description: "Records marketing and cookie consent and answers whether a purpose is allowed.",
        tags: &["kotlin", "identity", "gdpr"],
        deps: "audit-log-service:a",
    },
    ServiceSpec {
        slug: "legacy-sso-bridge",
        name: "Legacy SSO bridge",
        team: "identity",
        system: "identity",
        tier: 4,
        lifecycle: Lifecycle::Deprecated,
        scope: "sso",
        noun: "legacy login",
        nouns: "legacy logins",
        description: "Turns the old store-staff login into tokens; retired once the last store migrates.",
        tags: &["java", "identity", "legacy"],
        deps: "auth-service:s customer-profile-service:s",
    },
    // Fulfilment.
    ServiceSpec {
        slug: "fulfilment-service",
        name: "Fulfilment service",
        team: "fulfilment",
        system: "fulfilment",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "fulfilment",
        noun: "shipment",
        nouns: "shipments",
        description: "Splits paid orders into shipments and follows them to the customer's door.",
        tags: &["kotlin", "fulfilment", "events"],
        deps: "order-service:a order-events:c inventory-service:s warehouse-gateway:s carrier-tracking:s \
               shipping-quotes:s messaging-gateway:s",
    },
    ServiceSpec {
        slug: "inventory-service",
        name: "Inventory service",
        team: "fulfilment",
        system: "fulfilment",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "inventory",
        noun: "stock level",
        nouns: "stock levels",
        description: "Available-to-promise stock per warehouse, with reservations for open carts and orders.",
        tags: &["rust", "fulfilment", "inventory"],
        deps: "order-events:c catalog-events:p warehouse-gateway:s",
    },
    ServiceSpec {
        slug: "shipping-quotes",
        name: "Shipping quotes",
        team: "fulfilment",
        system: "fulfilment",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "shipping",
        noun: "shipping quote",
        nouns: "shipping quotes",
        description: "Quotes delivery options, prices and promised dates at checkout.",
        tags: &["go", "fulfilment", "checkout"],
        deps: "config-service:s currency-service:s",
    },
    ServiceSpec {
        slug: "warehouse-gateway",
        name: "Warehouse gateway",
        team: "fulfilment",
        system: "fulfilment",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "warehouse",
        noun: "pick list",
        nouns: "pick lists",
        description: "Connects the warehouse management systems to the rest of the platform.",
        tags: &["java", "fulfilment", "integration"],
        deps: "config-service:s audit-log-service:a",
    },
    ServiceSpec {
        slug: "returns-service",
        name: "Returns service",
        team: "fulfilment",
        system: "fulfilment",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "returns",
        noun: "return",
        nouns: "returns",
        description: "Handles return requests and labels, and triggers the refund once the parcel arrives.",
        tags: &["kotlin", "fulfilment"],
        deps: "order-service:s refund-service:s carrier-tracking:s inventory-service:s",
    },
    ServiceSpec {
        slug: "carrier-tracking",
        name: "Carrier tracking",
        team: "fulfilment",
        system: "fulfilment",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "tracking",
        noun: "tracking event",
        nouns: "tracking events",
        description: "Receives carrier tracking updates and normalises their statuses.",
        tags: &["go", "fulfilment", "integration"],
        deps: "order-events:c",
    },
    ServiceSpec {
        slug: "delivery-slots",
        name: "Delivery slots",
        team: "fulfilment",
        system: "fulfilment",
        tier: 4,
        lifecycle: Lifecycle::Experimental,
        scope: "slots",
        noun: "delivery slot",
        nouns: "delivery slots",
        description: "Experimental booking of same-day delivery slots in three pilot cities.",
        tags: &["kotlin", "fulfilment", "pilot"],
        deps: "warehouse-gateway:s shipping-quotes:s feature-flags:s",
    },
    // Marketing.
    ServiceSpec {
        slug: "promotions-service",
        name: "Promotions",
        team: "growth",
        system: "marketing",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "promotions",
        noun: "voucher",
        nouns: "vouchers",
        description: "Evaluates vouchers, bundles and campaign discounts for a cart.",
        tags: &["kotlin", "marketing", "pricing"],
        deps: "catalog-service:s customer-profile-service:s experiment-service:s catalog-events:c \
               loyalty-service:s",
    },
    ServiceSpec {
        slug: "loyalty-service",
        name: "Loyalty",
        team: "growth",
        system: "marketing",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "loyalty",
        noun: "loyalty point",
        nouns: "loyalty points",
        description: "Awards and redeems loyalty points and manages member tiers.",
        tags: &["kotlin", "marketing"],
        deps: "order-events:c customer-profile-service:s promotions-service:s",
    },
    ServiceSpec {
        slug: "notification-worker",
        name: "Notification worker",
        team: "growth",
        system: "marketing",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "notifications",
        noun: "notification",
        nouns: "notifications",
        description: "Turns order and payment events into customer emails, texts and push messages.",
        tags: &["go", "messaging", "events"],
        deps: "order-events:c payment-events:c email-renderer:s messaging-gateway:s push-service:s",
    },
    ServiceSpec {
        slug: "email-renderer",
        name: "Email renderer",
        team: "growth",
        system: "marketing",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "email",
        noun: "email template",
        nouns: "email templates",
        description: "Renders localised transactional and marketing email templates.",
        tags: &["typescript", "messaging"],
        deps: "product-media-service:s config-service:s",
    },
    ServiceSpec {
        slug: "newsletter-service",
        name: "Newsletter",
        team: "growth",
        system: "marketing",
        tier: 4,
        lifecycle: Lifecycle::Deprecated,
        scope: "newsletter",
        noun: "newsletter issue",
        nouns: "newsletter issues",
        description: "The old weekly newsletter sender, replaced by campaign emails from the notification worker.",
        tags: &["java", "marketing", "legacy"],
        deps: "email-renderer:s customer-profile-service:s messaging-gateway:s",
    },
    ServiceSpec {
        slug: "referral-service",
        name: "Referrals",
        team: "growth",
        system: "marketing",
        tier: 4,
        lifecycle: Lifecycle::Experimental,
        scope: "referrals",
        noun: "referral code",
        nouns: "referral codes",
        description: "Experimental refer-a-friend codes that reward both shoppers.",
        tags: &["typescript", "marketing", "pilot"],
        deps: "loyalty-service:s customer-profile-service:s feature-flags:s",
    },
    ServiceSpec {
        slug: "push-service",
        name: "Push service",
        team: "mobile",
        system: "storefront",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "push",
        noun: "push message",
        nouns: "push messages",
        description: "Sends push notifications to the Acme mobile apps.",
        tags: &["go", "mobile", "messaging"],
        deps: "config-service:s consent-service:s",
    },
    // Platform.
    ServiceSpec {
        slug: "feature-flags",
        name: "Feature flags",
        team: "platform",
        system: "platform",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "flags",
        noun: "feature flag",
        nouns: "feature flags",
        description: "Serves feature flags and percentage rollouts to every service and front end.",
        tags: &["go", "platform"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "config-service",
        name: "Config service",
        team: "platform",
        system: "platform",
        tier: 2,
        lifecycle: Lifecycle::Production,
        scope: "config",
        noun: "config key",
        nouns: "config keys",
        description: "Central, versioned runtime configuration with per-environment overrides.",
        tags: &["go", "platform"],
        deps: "",
    },
    ServiceSpec {
        slug: "messaging-gateway",
        name: "Messaging gateway",
        team: "platform",
        system: "platform",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "messaging",
        noun: "outbound message",
        nouns: "outbound messages",
        description: "One outbound channel for email and text messages, with provider failover and bounce handling.",
        tags: &["go", "platform", "messaging"],
        deps: "config-service:s",
    },
    ServiceSpec {
        slug: "audit-log-service",
        name: "Audit log",
        team: "platform",
        system: "platform",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "audit",
        noun: "audit record",
        nouns: "audit records",
        description: "Append-only audit trail of security-relevant actions across services.",
        tags: &["rust", "platform", "security"],
        deps: "event-bus:a",
    },
    ServiceSpec {
        slug: "event-bus",
        name: "Event bus",
        team: "platform",
        system: "platform",
        tier: 1,
        lifecycle: Lifecycle::Production,
        scope: "event-bus",
        noun: "topic",
        nouns: "topics",
        description: "The shared message broker cluster that carries every event stream.",
        tags: &["platform", "events", "datastore"],
        deps: "",
    },
    // Data.
    ServiceSpec {
        slug: "clickstream-collector",
        name: "Clickstream collector",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "clickstream",
        noun: "tracking beacon",
        nouns: "tracking beacons",
        description: "Receives browsing beacons from the web and the apps and writes them to the clickstream.",
        tags: &["go", "data", "events"],
        deps: "clickstream-events:p",
    },
    ServiceSpec {
        slug: "clickstream-events",
        name: "Clickstream events",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "clickstream-events",
        noun: "clickstream schema",
        nouns: "clickstream schemas",
        description: "Event stream of page views, searches and add-to-cart actions.",
        tags: &["stream", "events", "data"],
        deps: "event-bus:d",
    },
    ServiceSpec {
        slug: "analytics-loader",
        name: "Analytics loader",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "loader",
        noun: "load job",
        nouns: "load jobs",
        description: "Loads the event streams into the analytics warehouse every fifteen minutes.",
        tags: &["python", "data", "batch"],
        deps: "clickstream-events:c order-events:c payment-events:c catalog-events:c",
    },
    ServiceSpec {
        slug: "feature-store",
        name: "Feature store",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "features",
        noun: "feature vector",
        nouns: "feature vectors",
        description: "Serves precomputed customer and product features to models online.",
        tags: &["python", "data", "ml"],
        deps: "clickstream-events:c",
    },
    ServiceSpec {
        slug: "experiment-service",
        name: "Experiments",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "experiments",
        noun: "experiment",
        nouns: "experiments",
        description: "Assigns shoppers to A/B test variants and reports the results.",
        tags: &["python", "data"],
        deps: "feature-flags:s clickstream-events:c",
    },
    ServiceSpec {
        slug: "recommendations-service",
        name: "Recommendations",
        team: "data",
        system: "data",
        tier: 3,
        lifecycle: Lifecycle::Production,
        scope: "recommendations",
        noun: "recommendation",
        nouns: "recommendations",
        description: "Serves customers-also-bought and personalised product lists.",
        tags: &["python", "data", "ml"],
        deps: "feature-store:d catalog-service:s clickstream-events:c",
    },
    ServiceSpec {
        slug: "legacy-reporting",
        name: "Legacy reporting",
        team: "data",
        system: "data",
        tier: 4,
        lifecycle: Lifecycle::Deprecated,
        scope: "reporting",
        noun: "report",
        nouns: "reports",
        description: "Nightly sales reports read straight from the order database; being replaced by warehouse dashboards.",
        tags: &["java", "data", "legacy"],
        deps: "analytics-loader:d order-service:d",
    },
];

/// Commit messages by type, weighted by [`MESSAGE_WEIGHTS`]; `{scope}`, `{noun}` and `{nouns}`
/// are filled in per service. Group 1 (fixes) also feeds hotfixes.
const MESSAGES: [&[&str]; 8] = [
    &[
        "feat({scope}): add a {noun} filter to the list endpoint",
        "feat({scope}): support bulk {noun} updates",
        "feat({scope}): expose {noun} history in the API",
        "feat({scope}): accept idempotency keys when creating a {noun}",
        "feat({scope}): emit an event whenever a {noun} changes",
        "feat({scope}): allow sorting {nouns} by last update",
        "feat({scope}): store the shopper's locale with each {noun}",
        "feat({scope}): add a dry-run mode for {noun} imports",
        "feat({scope}): return ETags on {noun} reads",
        "feat({scope}): let admins archive a {noun}",
        "feat({scope}): show {nouns} in the customer's currency",
        "feat({scope}): add per-market defaults for {nouns}",
    ],
    &[
        "fix({scope}): keep {noun} quantity when switching currency",
        "fix({scope}): handle an empty list of {nouns}",
        "fix({scope}): retry {noun} writes on serialization failure",
        "fix({scope}): stop counting {nouns} twice after a retry",
        "fix({scope}): round {noun} totals half-even",
        "fix({scope}): respect the shopper's time zone in {noun} dates",
        "fix({scope}): release the connection when a {noun} query times out",
        "fix({scope}): answer 404 instead of 500 for an unknown {noun}",
        "fix({scope}): avoid a race when two requests update one {noun}",
        "fix({scope}): trim whitespace in {noun} names",
        "fix({scope}): keep personal data out of {noun} error logs",
        "fix({scope}): off-by-one in {noun} paging",
        "fix({scope}): restore the cache key for {nouns} after the last refactor",
    ],
    &[
        "refactor({scope}): move {noun} validation into its own module",
        "refactor({scope}): rename {noun} fields to match the API",
        "refactor({scope}): remove dead {noun} code paths",
        "refactor({scope}): extract a repository for {nouns}",
    ],
    &[
        "chore(deps): weekly dependency update",
        "chore({scope}): remove unused config keys",
        "chore({scope}): clean up feature flags for {nouns} that shipped",
        "chore: bump the base image",
    ],
    &[
        "perf({scope}): cache {noun} lookups for 30 seconds",
        "perf({scope}): batch {noun} reads",
        "perf({scope}): add an index for the {noun} search query",
        "perf({scope}): stream large {noun} exports",
    ],
    &[
        "test({scope}): cover {noun} edge cases",
        "test({scope}): add contract tests for the {noun} API",
        "test({scope}): make {noun} tests deterministic",
    ],
    &[
        "docs({scope}): document the {noun} lifecycle",
        "docs({scope}): update the runbook for {noun} incidents",
    ],
    &[
        "ci: cache build artifacts between jobs",
        "ci: run integration tests in parallel",
        "build: pin the toolchain version",
        "ci({scope}): add a smoke test after deploy",
    ],
];
const MESSAGE_WEIGHTS: [u32; 8] = [28, 30, 10, 10, 5, 7, 4, 6];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use time::macros::datetime;

    /// A Wednesday afternoon, seconds included (the plan truncates them).
    const NOW: OffsetDateTime = datetime!(2026-11-18 14:37:42.5 UTC);

    /// The plan at [`NOW`], built once for all the tests that only read it.
    fn org() -> &'static DemoOrg {
        static ORG: std::sync::OnceLock<DemoOrg> = std::sync::OnceLock::new();
        ORG.get_or_init(|| plan(DEMO_SEED, NOW))
    }

    fn slug_is_valid(slug: &str) -> bool {
        let bytes = slug.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }

    fn count(org: &DemoOrg, f: impl Fn(&Deployment) -> bool) -> usize {
        org.deployments.iter().filter(|d| f(d)).count()
    }

    /// The latest succeeded deployment's version per (service, environment).
    fn current_versions(org: &DemoOrg) -> BTreeMap<(usize, usize), &str> {
        let mut latest: BTreeMap<(usize, usize), (OffsetDateTime, &str)> = BTreeMap::new();
        for d in org
            .deployments
            .iter()
            .filter(|d| d.status == DeploymentStatus::Succeeded)
        {
            let finished = d.finished_at.expect("succeeded deployments have finished");
            let entry = latest
                .entry((d.service, d.environment))
                .or_insert((finished, &d.version));
            if finished >= entry.0 {
                *entry = (finished, &d.version);
            }
        }
        latest
            .into_iter()
            .map(|(key, (_, version))| (key, version))
            .collect()
    }

    fn check_timestamps(org: &DemoOrg, now: OffsetDateTime) {
        for d in &org.deployments {
            let id = &d.external_id;
            assert!(d.created_at <= now && d.updated_at <= now, "{id}");
            assert!(d.created_at <= d.updated_at, "{id}");
            if let Some(started) = d.started_at {
                assert!(started <= now, "{id} starts after now");
                assert!(started >= now - Duration::days(HISTORY_DAYS), "{id}");
            }
            match (d.started_at, d.finished_at) {
                (Some(started), Some(finished)) => {
                    assert!(finished <= now, "{id} finishes after now");
                    let took = finished - started;
                    assert!(
                        took >= Duration::minutes(1) && took <= Duration::minutes(15),
                        "{id}"
                    );
                }
                (_, None) => assert!(
                    matches!(
                        d.status,
                        DeploymentStatus::InProgress | DeploymentStatus::Queued
                    ),
                    "{id} has no finish"
                ),
                (None, Some(_)) => panic!("{id} finished without starting"),
            }
            for change in &d.changes {
                assert!(
                    change.committed_at < d.started_at.unwrap_or(now),
                    "{id} carries a later commit"
                );
            }
        }
        // Sorted by start, so that insertion (id) order is chronological; queued ones last.
        assert!(org.deployments.windows(2).all(|w| {
            (w[0].started_at.is_none(), w[0].started_at)
                <= (w[1].started_at.is_none(), w[1].started_at)
        }));
        for edge in &org.dependencies {
            assert!(edge.created_at <= now);
        }
        for service in &org.services {
            assert!(service.created_at <= now);
        }
    }

    fn check_volumes(org: &DemoOrg) {
        let total = org.deployments.len();
        assert!((15_000..=40_000).contains(&total), "{total} deployments");
        let ids: BTreeSet<&str> = org
            .deployments
            .iter()
            .map(|d| d.external_id.as_str())
            .collect();
        assert_eq!(ids.len(), total, "external ids are unique");

        let failed = count(org, |d| d.status == DeploymentStatus::Failed) as f64 / total as f64;
        assert!((0.03..=0.07).contains(&failed), "failed share {failed}");
        assert_eq!(count(org, |d| d.status == DeploymentStatus::InProgress), 2);
        assert_eq!(count(org, |d| d.status == DeploymentStatus::Queued), 1);

        let prod = count(org, |d| {
            d.environment == PROD && d.kind != DeploymentKind::Rollback
        }) as f64;
        let rolled_back = count(org, |d| d.status == DeploymentStatus::RolledBack);
        assert!(
            (0.015..=0.045).contains(&(rolled_back as f64 / prod)),
            "{rolled_back} rolled back"
        );
        assert_eq!(
            rolled_back,
            count(org, |d| d.kind == DeploymentKind::Rollback)
        );
        assert_eq!(
            count(org, |d| d.status == DeploymentStatus::RolledBack
                && d.environment != PROD),
            0
        );
        let hotfixes = count(org, |d| {
            d.kind == DeploymentKind::Hotfix
                && d.environment == PROD
                && d.status == DeploymentStatus::Succeeded
        });
        assert!(
            (0.008..=0.04).contains(&(hotfixes as f64 / prod)),
            "{hotfixes} hotfixes"
        );
        assert_eq!(
            count(org, |d| d.kind == DeploymentKind::Hotfix
                && d.environment < STAGING),
            0,
            "hotfixes skip dev and qa"
        );

        // Every service runs something everywhere; production services reach prod every few
        // weeks at least, and nobody deploys to dev more than a few times a day.
        let current = current_versions(org);
        for (s, service) in org.services.iter().enumerate() {
            for env in 0..4 {
                assert!(
                    current.contains_key(&(s, env)),
                    "{} never reached env {env}",
                    service.slug
                );
            }
            let prod_deploys = count(org, |d| {
                d.service == s && d.environment == PROD && d.status == DeploymentStatus::Succeeded
            });
            if service.lifecycle == Lifecycle::Production {
                assert!(
                    prod_deploys >= 8,
                    "{} reached prod {prod_deploys} times",
                    service.slug
                );
            }
            let dev_deploys = count(org, |d| d.service == s && d.environment == DEV);
            assert!(
                dev_deploys <= 2 * 180,
                "{} deployed to dev {dev_deploys} times",
                service.slug
            );
        }
        // Regular production deployments are weekday work.
        let weekend = count(org, |d| {
            d.environment == PROD
                && d.kind == DeploymentKind::Normal
                && d.started_at.is_some_and(is_weekend)
        });
        assert!(
            (weekend as f64 / prod) < 0.01,
            "{weekend} weekend prod deployments"
        );

        for d in &org.deployments {
            if d.kind == DeploymentKind::Rollback {
                assert!(
                    d.changes.is_empty(),
                    "{} is a rollback with commits",
                    d.external_id
                );
            } else {
                assert!(!d.changes.is_empty(), "{} carries no commit", d.external_id);
            }
            assert!(d.deployed_by.starts_with("ci/") || d.deployed_by.ends_with("@acme.example"));
            assert!(d.pipeline_url.starts_with("https://ci.example.com/acme/"));
            assert_eq!(
                d.version
                    .split('.')
                    .filter(|p| p.parse::<u32>().is_ok())
                    .count(),
                3
            );
            assert_eq!(d.commit_sha.as_ref().map(String::len), Some(40));
        }
    }

    fn check_rollbacks(org: &DemoOrg) {
        let mut last: BTreeMap<(usize, usize), &Deployment> = BTreeMap::new();
        let mut last_succeeded: BTreeMap<(usize, usize), &Deployment> = BTreeMap::new();
        let mut rollbacks = 0;
        for d in &org.deployments {
            let key = (d.service, d.environment);
            if d.kind == DeploymentKind::Rollback {
                rollbacks += 1;
                let before = last.get(&key).expect("a deployment before the rollback");
                assert_eq!(
                    before.status,
                    DeploymentStatus::RolledBack,
                    "{}",
                    d.external_id
                );
                let gap = d.started_at.expect("started") - before.finished_at.expect("finished");
                assert!(
                    gap >= Duration::minutes(10) && gap <= Duration::minutes(60),
                    "{}",
                    d.external_id
                );
                assert_eq!(d.status, DeploymentStatus::Succeeded);
                // It restores the version that ran before the rolled-back one.
                let previous = last_succeeded.get(&key).expect("a version to roll back to");
                assert_eq!(previous.version, d.version, "{}", d.external_id);
                assert_ne!(before.version, d.version);
            }
            if d.status == DeploymentStatus::Succeeded {
                last_succeeded.insert(key, d);
            }
            last.insert(key, d);
        }
        assert!(rollbacks >= 20, "{rollbacks} rollbacks");
    }

    fn check_changes(org: &DemoOrg) {
        // Each commit reaches production once among succeeded deployments, before they finish.
        let mut shipped: BTreeSet<(usize, &str)> = BTreeSet::new();
        for d in org.deployments.iter().filter(|d| d.environment == PROD) {
            for change in &d.changes {
                if let Some(finished) = d.finished_at {
                    assert!(change.committed_at < finished, "{}", d.external_id);
                }
                if d.status == DeploymentStatus::Succeeded {
                    let first = shipped.insert((d.service, change.sha.as_str()));
                    assert!(first, "{} ships {} again", d.external_id, change.sha);
                }
            }
        }

        // A deployment's changes are exactly the commits of its version that were not running in
        // its environment: replaying them rebuilds the same content for a version wherever it
        // runs. Staging is left out: a hotfix may replace a newer release there, which "new since
        // the last deployment" cannot express (production only goes back by rollback).
        // Commits by the first 64 bits of their sha: sets of integers clone fast.
        let key = |sha: &str| u64::from_str_radix(&sha[..16], 16).expect("hex sha");
        let mut running: BTreeMap<(usize, usize), HashSet<u64>> = BTreeMap::new();
        let mut contents: BTreeMap<(usize, &str), HashSet<u64>> = BTreeMap::new();
        for d in org.deployments.iter().filter(|d| d.environment != STAGING) {
            let before = running
                .get(&(d.service, d.environment))
                .cloned()
                .unwrap_or_default();
            let mut after = before.clone();
            for change in &d.changes {
                let commit = key(&change.sha);
                assert!(
                    !before.contains(&commit),
                    "{} re-carries a commit",
                    d.external_id
                );
                after.insert(commit);
            }
            let version = (d.service, d.version.as_str());
            if d.kind == DeploymentKind::Rollback {
                after = contents
                    .get(&version)
                    .cloned()
                    .expect("the version rolled back to ran before");
            }
            if let Some(known) = contents.get(&version) {
                assert!(
                    known == &after,
                    "{} runs {} with other commits",
                    d.external_id,
                    d.version
                );
            }
            if matches!(
                d.status,
                DeploymentStatus::Succeeded | DeploymentStatus::RolledBack
            ) {
                contents.insert(version, after.clone());
            }
            if d.status == DeploymentStatus::Succeeded {
                running.insert((d.service, d.environment), after);
            }
        }
    }

    /// The number of services whose qa or staging version differs from production.
    fn in_flight(org: &DemoOrg) -> usize {
        let current = current_versions(org);
        (0..org.services.len())
            .filter(|&s| {
                let prod = current[&(s, PROD)];
                current[&(s, QA)] != prod || current[&(s, STAGING)] != prod
            })
            .count()
    }

    #[test]
    fn the_plan_is_deterministic() {
        let a = plan(DEMO_SEED, NOW);
        assert!(
            &a == org(),
            "the same seed and clock must give the same plan"
        );
        let other = plan(DEMO_SEED + 1, NOW);
        assert!(a != other, "another seed must give another plan");
        let slugs = |org: &DemoOrg| {
            org.services
                .iter()
                .map(|s| s.slug.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            slugs(&a),
            slugs(&other),
            "the catalog itself does not depend on the seed"
        );
        assert_ne!(
            a.deployments
                .iter()
                .map(|d| &d.external_id)
                .collect::<Vec<_>>(),
            other
                .deployments
                .iter()
                .map(|d| &d.external_id)
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn the_catalog_has_the_expected_shape() {
        let org = org();
        assert!(org.teams.len() >= 8);
        for team in &org.teams {
            assert!((3..=6).contains(&team.members.len()), "{}", team.slug);
            assert!(slug_is_valid(&team.slug));
        }
        assert!((6..=8).contains(&org.systems.len()));
        assert_eq!(org.services.len(), 60);
        let slugs: BTreeSet<&str> = org.services.iter().map(|s| s.slug.as_str()).collect();
        assert_eq!(slugs.len(), 60, "service slugs are unique");
        let tier1 = org.services.iter().filter(|s| s.tier == 1).count();
        assert!((7..=10).contains(&tier1), "{tier1} tier-1 services");
        let middle = org
            .services
            .iter()
            .filter(|s| s.tier == 2 || s.tier == 3)
            .count();
        assert!(middle >= 40, "most services are tier 2 or 3, got {middle}");
        for lifecycle in [Lifecycle::Experimental, Lifecycle::Deprecated] {
            let n = org
                .services
                .iter()
                .filter(|s| s.lifecycle == lifecycle)
                .count();
            assert!((2..=5).contains(&n), "{n} {lifecycle:?} services");
        }
        for service in &org.services {
            assert!(slug_is_valid(&service.slug), "{}", service.slug);
            assert!((1..=4).contains(&service.tier));
            assert!((1..=4).contains(&service.tags.len()), "{}", service.slug);
            assert!(
                service.tags.iter().all(|t| slug_is_valid(t)),
                "{}",
                service.slug
            );
            assert!(
                service
                    .repository_url
                    .starts_with("https://code.example.com/acme/")
            );
            assert_eq!(
                service.runbook_url.is_some(),
                service.tier <= 2,
                "{}",
                service.slug
            );
            assert!(service.description.ends_with('.'), "{}", service.slug);
        }
        let envs: Vec<(&str, i32, bool)> = org
            .environments
            .iter()
            .map(|e| (e.slug.as_str(), e.position, e.is_production))
            .collect();
        assert_eq!(
            envs,
            [
                ("dev", 1, false),
                ("qa", 2, false),
                ("staging", 3, false),
                ("prod", 4, true)
            ]
        );
    }

    #[test]
    fn the_dependency_graph_is_plausible() {
        let org = org();
        let n = org.services.len();
        let edges = &org.dependencies;
        assert!((140..=180).contains(&edges.len()), "{} edges", edges.len());
        let mut pairs = BTreeSet::new();
        for edge in edges {
            assert!(edge.from < n && edge.to < n, "edge endpoints exist");
            assert_ne!(
                edge.from, edge.to,
                "self-loop on {}",
                org.services[edge.from].slug
            );
            assert!(pairs.insert((edge.from, edge.to)), "duplicate edge");
            assert!(matches!(edge.source, "declared" | "imported"));
        }
        let imported = edges.iter().filter(|e| e.source == "imported").count();
        assert!(
            imported > 10 && imported < edges.len() / 2,
            "{imported} imported edges"
        );
        for kind in [
            DependencyKind::Sync,
            DependencyKind::Async,
            DependencyKind::Data,
        ] {
            assert!(edges.iter().any(|e| e.kind == kind), "some {kind:?} edges");
        }

        // The services on a cycle: exactly the two deliberate loops.
        let mut adjacency = vec![Vec::new(); n];
        for edge in edges {
            adjacency[edge.from].push(edge.to);
        }
        let reaches_itself = |start: usize| {
            let mut seen = vec![false; n];
            let mut stack = adjacency[start].clone();
            while let Some(node) = stack.pop() {
                if node == start {
                    return true;
                }
                if !std::mem::replace(&mut seen[node], true) {
                    stack.extend(adjacency[node].iter().copied());
                }
            }
            false
        };
        let on_cycle: BTreeSet<&str> = (0..n)
            .filter(|&i| reaches_itself(i))
            .map(|i| org.services[i].slug.as_str())
            .collect();
        assert_eq!(
            on_cycle,
            BTreeSet::from([
                "fulfilment-service",
                "loyalty-service",
                "order-service",
                "promotions-service"
            ])
        );
        let edge = |a: &str, b: &str| pairs.contains(&(service_index(a), service_index(b)));
        assert!(
            edge("order-service", "fulfilment-service")
                && edge("fulfilment-service", "order-service")
        );
        assert!(
            edge("promotions-service", "loyalty-service")
                && edge("loyalty-service", "promotions-service")
        );
        // Front ends depend on things; nothing depends on them.
        for front in ["storefront-web", "mobile-web", "backoffice-web"] {
            assert!(
                edges.iter().all(|e| e.to != service_index(front)),
                "{front} has dependents"
            );
        }
    }

    #[test]
    fn nothing_happens_after_now_and_ids_follow_time() {
        check_timestamps(org(), truncate_to_minute(NOW));
    }

    #[test]
    fn volumes_and_outcomes_are_plausible() {
        check_volumes(org());
    }

    #[test]
    fn every_rollback_follows_a_rolled_back_deployment() {
        check_rollbacks(org());
    }

    #[test]
    fn each_deployment_carries_the_commits_new_to_its_environment() {
        check_changes(org());
    }

    #[test]
    fn about_a_quarter_of_services_are_in_flight() {
        let org = org();
        let share = in_flight(org) as f64 / org.services.len() as f64;
        assert!(
            (0.2..=0.32).contains(&share),
            "{share} of services differ between qa/staging and prod"
        );
    }

    #[test]
    fn the_history_holds_together_whatever_the_clock() {
        // The server seeds with the real clock: a weekend, an early Monday, the last second of a
        // Friday, a new year.
        for now in [
            datetime!(2026-11-22 06:00:59 UTC),
            datetime!(2027-03-01 08:05:00 UTC),
            datetime!(2026-07-31 23:59:59.999 UTC),
            datetime!(2028-01-01 00:00:00 +02:00),
        ] {
            let org = plan(DEMO_SEED, now);
            check_timestamps(&org, truncate_to_minute(now));
            check_volumes(&org);
            check_rollbacks(&org);
            check_changes(&org);
            let in_flight = in_flight(&org);
            assert!(
                (10..=20).contains(&in_flight),
                "{in_flight} services in flight at {now}"
            );
        }
    }

    #[test]
    fn lead_times_are_plausible_and_differ_by_tier() {
        let org = org();
        let mut by_tier: BTreeMap<i16, Vec<i64>> = BTreeMap::new();
        for d in org
            .deployments
            .iter()
            .filter(|d| d.environment == PROD && d.status == DeploymentStatus::Succeeded)
        {
            let finished = d.finished_at.expect("finished");
            let tier = org.services[d.service].tier;
            by_tier.entry(tier).or_default().extend(
                d.changes
                    .iter()
                    .map(|c| (finished - c.committed_at).whole_hours()),
            );
        }
        let median = |hours: &mut Vec<i64>| {
            hours.sort_unstable();
            hours[hours.len() / 2]
        };
        let medians: Vec<i64> = by_tier.values_mut().map(median).collect();
        assert!(
            medians.iter().all(|&h| (12..=14 * 24).contains(&h)),
            "median lead times {medians:?}"
        );
        assert!(
            medians[0] < medians[2],
            "tier 1 ships faster than tier 3: {medians:?}"
        );
    }

    #[test]
    fn commits_look_like_commits() {
        let org = org();
        for d in &org.deployments {
            let team = &org.teams[org.services[d.service].owner_team];
            for change in &d.changes {
                assert_eq!(change.sha.len(), 40);
                assert!(change.sha.bytes().all(|b| b.is_ascii_hexdigit()));
                assert!(
                    team.members.iter().any(|m| m.author() == change.author),
                    "{}",
                    change.author
                );
                assert!(change.message.contains(": "), "{}", change.message);
                assert!(!change.message.contains('{'), "{}", change.message);
            }
        }
        let reverts = count(org, |d| {
            d.changes.iter().any(|c| c.message.starts_with("revert: "))
        });
        assert!(reverts > 0, "rollbacks are followed by reverts");
    }
}
