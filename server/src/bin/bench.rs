//! `portolan-bench`: loads a realistic, large catalog into a fresh database and measures the
//! server time of the API calls the portal makes, in-process (no network, no HTTP client).
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --release -p portolan-server --bin portolan-bench -- [--services N] [--deployments N]
//! ```
//!
//! It creates (and afterwards drops, unless `--keep`) a database named `portolan_bench` on the
//! server of `DATABASE_URL`, loads it with set-based SQL, then sends each scenario's requests one
//! after another through the whole router (`build_app`), timing each from the start of `oneshot`
//! until its body is fully read. It prints figures; it asserts nothing about speed.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use clap::Parser;
use http::{Method, Request, header};
use http_body_util::BodyExt;
use portolan_server::config::{Config, redact_url};
use portolan_server::db::MIGRATOR;
use portolan_server::{AppState, build_app};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt;

const BENCH_DB: &str = "portolan_bench";
const WARM_UP: usize = 20;
const READ_TARGET_MS: f64 = 50.0;
const WRITE_TARGET_MS: f64 = 20.0;

#[derive(Parser, Debug)]
#[command(
    name = "portolan-bench",
    about = "Load a large catalog into a fresh database `portolan_bench` and time Portolan's API calls",
    after_help = "DATABASE_URL (required) names a Postgres server on which the bench may create and drop \
                  the database `portolan_bench`, e.g. postgres://postgres@127.0.0.1:5432/postgres"
)]
struct Args {
    /// Services to load (50 teams and 200 systems are always loaded; dependencies: 3 per service).
    #[arg(long, default_value_t = 10_000)]
    services: i64,
    /// Deployments to load, spread over 180 days.
    #[arg(long, default_value_t = 1_000_000)]
    deployments: i64,
    /// How many of the latest deployments get 2 recorded commits each (default: all of them).
    #[arg(long)]
    changes_for: Option<i64>,
    /// Measured requests per scenario (after a warm-up of 20).
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Pending promotion requests to load, across the first `--promotion-services` services
    /// (into qa, staging and prod; gates need 2 approvals; a third already has one).
    #[arg(long, default_value_t = 10_000)]
    promotions: i64,
    /// Services the promotion requests are spread over.
    #[arg(long, default_value_t = 500)]
    promotion_services: i64,
    /// Approvers racing on the same requests in the contention scenario.
    #[arg(long, default_value_t = 8)]
    approvers: usize,
    /// Keep the database `portolan_bench` afterwards (to look at plans with psql).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // sqlx warns about every "slow" statement; the load is made of them.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.services < 10 || args.deployments < 100 || args.requests == 0 {
        bail!("use at least --services 10, --deployments 100 and --requests 1");
    }
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .context(
            "DATABASE_URL is not set. Point it at a Postgres server on which the bench may create \
             (and drop) the database `portolan_bench`, e.g.\n  \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres target/release/portolan-bench",
        )?;
    let server: PgConnectOptions = url
        .parse()
        .with_context(|| format!("DATABASE_URL ({}) is not a Postgres URL", redact_url(&url)))?;
    let admin_options = server.clone().database("postgres");
    let bench_options = server.database(BENCH_DB);

    println!("portolan-bench: server {}", redact_url(&url));
    recreate_database(&admin_options).await?;

    let outcome = run(&args, &bench_options).await;

    if args.keep {
        println!("kept the database {BENCH_DB} (--keep)");
    } else if let Err(e) = drop_database(&admin_options).await {
        eprintln!("warning: could not drop the database {BENCH_DB}: {e:#}");
    } else {
        println!("dropped the database {BENCH_DB}");
    }
    outcome
}

async fn admin_connection(admin: &PgConnectOptions) -> anyhow::Result<PgConnection> {
    PgConnection::connect_with(admin).await.context(
        "could not connect to the `postgres` database of the DATABASE_URL server; is it running, \
         and may this user create databases?",
    )
}

async fn recreate_database(admin: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = admin_connection(admin).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("could not drop the old database {BENCH_DB}"))?;
    sqlx::raw_sql(&format!("CREATE DATABASE {BENCH_DB}"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("could not create the database {BENCH_DB}"))?;
    conn.close().await?;
    Ok(())
}

async fn drop_database(admin: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = admin_connection(admin).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

async fn run(args: &Args, options: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(options)
        .await
        .with_context(|| format!("could not connect to the new database {BENCH_DB}"))?;
    MIGRATOR
        .run(&mut conn)
        .await
        .context("applying the migrations failed")?;
    load(&mut conn, args).await?;
    conn.close().await?;

    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await
        .context("could not open the pool")?;
    let result = measure(args, &pool).await;
    let db_size: Option<(i64, String)> = sqlx::query_as(
        "SELECT pg_database_size(current_database()), pg_size_pretty(pg_database_size(current_database()))",
    )
    .fetch_optional(&pool)
    .await
    .ok()
    .flatten();
    pool.close().await;

    let (rss_peak, rss_now) = memory();
    println!();
    println!(
        "peak resident memory of this process (VmHWM): {rss_peak} (VmRSS at the end: {rss_now})"
    );
    println!(
        "  note: the requests are sent in-process, so this includes the client side (building \
         requests, reading bodies) and the loading connection, not the server alone"
    );
    if let Some((bytes, pretty)) = db_size {
        println!(
            "Postgres database size (pg_database_size of {BENCH_DB}): {pretty} ({bytes} bytes)"
        );
    }
    result
}

// ------------------------------------------------------------------------------------ loading

/// The teams, one per business domain; service slugs start with their team's.
const DOMAINS: [&str; 50] = [
    "payments",
    "checkout",
    "identity",
    "search",
    "catalog",
    "inventory",
    "shipping",
    "billing",
    "notifications",
    "messaging",
    "ads",
    "recommendations",
    "fraud",
    "risk",
    "ledger",
    "pricing",
    "promotions",
    "loyalty",
    "reviews",
    "media",
    "video",
    "storage",
    "observability",
    "platform",
    "infra",
    "data",
    "ml",
    "analytics",
    "growth",
    "onboarding",
    "accounts",
    "auth",
    "compliance",
    "support",
    "crm",
    "maps",
    "routing",
    "dispatch",
    "fleet",
    "warehouse",
    "returns",
    "tax",
    "invoicing",
    "payouts",
    "subscriptions",
    "content",
    "localization",
    "security",
    "devex",
    "mobile",
];

/// Teams, systems, environments.
const LOAD_ORG: &str = "
INSERT INTO teams (id, slug, name, description, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT i, d, initcap(d), 'Owns the ' || d || ' domain end to end: its services, data and on-call.',
       now() - interval '3 years', now() - interval '30 days'
  FROM unnest($1::text[]) WITH ORDINALITY AS u(d, i);

INSERT INTO systems (id, slug, name, description, owner_team_id, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT (t.id - 1) * 4 + k, t.slug || '-' || (ARRAY['core', 'edge', 'data', 'ops'])[k],
       initcap(t.slug) || ' ' || (ARRAY['Core', 'Edge', 'Data', 'Operations'])[k],
       'The ' || (ARRAY['core', 'edge', 'data', 'operations'])[k] || ' of ' || t.slug || '.',
       t.id, now() - interval '2 years', now() - interval '60 days'
  FROM teams t CROSS JOIN generate_series(1, 4) AS k;

INSERT INTO environments (id, slug, name, description, position, is_production) OVERRIDING SYSTEM VALUE
VALUES (1, 'dev', 'Development', 'Every merge lands here.', 1, false),
       (2, 'qa', 'QA', 'Integration and end-to-end tests.', 2, false),
       (3, 'staging', 'Staging', 'Production-like, with anonymised data.', 3, false),
       (4, 'prod', 'Production', 'What customers use.', 4, true);
";

/// `$1` services. Slugs are `<team>[-<entity>]-<component>` (deduplicated with `-2`, `-3`…), so
/// words select very differently: a component word ~2.5 %, a team ~2 % (skewed), `kafka` ~5 %,
/// `gdpr` ~1.5 %, `api`/`postgres` 15–25 %.
const LOAD_SERVICES: &str = "
WITH cand AS (
    SELECT g,
           1 + floor(50 * power(random(), 1.4))::int AS team,
           (ARRAY['', '', '', '', '', '', '', 'orders', 'users', 'sessions', 'invoices', 'carts',
                  'quotes', 'tokens', 'profiles', 'images', 'documents', 'metrics', 'alerts',
                  'feeds', 'prices', 'offers', 'coupons', 'claims', 'refunds', 'tickets',
                  'accounts', 'events'])[1 + floor(random() * 28)::int] AS entity,
           (ARRAY['api', 'api', 'api', 'gateway', 'worker', 'worker', 'scheduler', 'indexer',
                  'consumer', 'producer', 'cache', 'store', 'frontend', 'bff', 'admin', 'sync',
                  'exporter', 'importer', 'reconciler', 'notifier', 'processor', 'aggregator',
                  'router', 'webhooks', 'reports', 'graphql', 'grpc', 'batch', 'stream',
                  'ingest', 'validator', 'resolver', 'manager', 'controller', 'operator',
                  'migrator', 'archiver', 'monitor', 'cron', 'proxy'])[1 + floor(random() * 40)::int] AS component,
           random() AS r_store, random() AS r_note, random() AS r_tier, random() AS r_life,
           random() AS r_sys, random() AS r_lang, random() AS r_tag
      FROM generate_series(1, $1::bigint) AS g
), named AS (
    SELECT c.*, t.slug AS domain,
           t.slug || CASE WHEN c.entity = '' THEN '' ELSE '-' || c.entity END || '-' || c.component AS base
      FROM cand c JOIN teams t ON t.id = c.team
), uniq AS (
    SELECT n.*, CASE WHEN n.rn = 1 THEN n.base ELSE n.base || '-' || n.rn END AS slug,
           CASE WHEN n.r_life < 0.80 THEN 'production' WHEN n.r_life < 0.92 THEN 'experimental'
                ELSE 'deprecated' END AS lifecycle,
           (ARRAY['go', 'go', 'go', 'java', 'java', 'kotlin', 'python', 'python', 'rust',
                  'typescript'])[1 + floor(n.r_lang * 10)::int] AS lang
      FROM (SELECT named.*, row_number() OVER (PARTITION BY base ORDER BY g) AS rn FROM named) n
)
INSERT INTO services (id, slug, name, description, owner_team_id, system_id, tier, lifecycle,
                      repository_url, runbook_url, tags, archived_at, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT g, slug, initcap(replace(slug, '-', ' ')),
       (ARRAY['Handles', 'Serves', 'Processes', 'Stores', 'Publishes', 'Reconciles', 'Exposes',
              'Validates'])[1 + (g % 8)::int]
         || ' ' || CASE WHEN entity = '' THEN 'requests' ELSE entity END
         || ' for the ' || domain || ' domain'
         || CASE WHEN component IN ('api', 'gateway', 'bff', 'graphql', 'grpc') THEN ' through a public API'
                 ELSE '' END
         || CASE WHEN r_store < 0.05 THEN ', consuming events from Kafka'
                 WHEN r_store < 0.25 THEN ', backed by Postgres'
                 WHEN r_store < 0.33 THEN ', backed by Redis'
                 WHEN r_store < 0.36 THEN ', backed by Cassandra'
                 ELSE '' END
         || CASE WHEN r_note < 0.03 THEN '. Legacy: being replaced, do not add callers.'
                 WHEN r_note < 0.045 THEN '. In GDPR scope: holds personal data.'
                 WHEN r_note < 0.06 THEN '. In PCI scope: handles card data.'
                 ELSE '.' END,
       team,
       CASE WHEN r_sys < 0.85 THEN (team - 1) * 4 + 1 + floor(r_sys / 0.85 * 4)::int END,
       CASE WHEN r_tier < 0.10 THEN 1 WHEN r_tier < 0.35 THEN 2 WHEN r_tier < 0.75 THEN 3 ELSE 4 END,
       lifecycle,
       'https://git.example.com/' || domain || '/' || slug,
       CASE WHEN r_tier < 0.35 THEN 'https://runbooks.example.com/' || slug END,
       array_remove(ARRAY[lang,
                          CASE WHEN r_tag < 0.80 THEN 'k8s' END,
                          CASE WHEN r_store < 0.05 THEN 'kafka' END,
                          CASE WHEN r_note >= 0.03 AND r_note < 0.045 THEN 'gdpr' END,
                          CASE WHEN r_note >= 0.045 AND r_note < 0.06 THEN 'pci' END,
                          CASE WHEN r_tag > 0.90 THEN 'public' END,
                          CASE WHEN r_tier < 0.10 THEN 'critical' END], NULL),
       CASE WHEN lifecycle = 'deprecated' AND r_tag < 0.25 THEN now() - interval '20 days' END,
       now() - interval '3 years' + (g % 900) * interval '1 day',
       now() - (g % 60) * interval '1 day'
  FROM uniq;
";

/// `$1` services, `$2` edges. Edges mostly point at "lower", more central services (ids skewed
/// low), so the graph is layered like a real one; 3 % point back up and make some cycles.
const LOAD_DEPENDENCIES: &str = "
INSERT INTO service_dependencies (from_service_id, to_service_id, kind, source, description, created_at)
SELECT f, t,
       CASE WHEN r < 0.6 THEN 'sync' WHEN r < 0.9 THEN 'async' ELSE 'data' END,
       CASE WHEN r2 < 0.7 THEN 'declared' WHEN r2 < 0.9 THEN 'imported' ELSE 'observed' END,
       CASE WHEN r < 0.6 THEN 'HTTP calls on the request path' WHEN r < 0.9 THEN 'Consumes its events'
            ELSE 'Reads its tables' END,
       now() - interval '1 year'
  FROM (SELECT f, t, random() AS r, random() AS r2
          FROM (SELECT DISTINCT CASE WHEN back THEN t0 ELSE f0 END AS f,
                                CASE WHEN back THEN f0 ELSE t0 END AS t
                  FROM (SELECT f0, 1 + floor((f0 - 1) * power(random(), 1.5))::bigint AS t0,
                               random() < 0.03 AS back
                          FROM (SELECT 2 + floor(random() * ($1::bigint - 1))::bigint AS f0
                                  FROM generate_series(1, $2::bigint * 3 / 2)) a) b) c
         ORDER BY random() LIMIT $2::bigint) d
";

/// `$1` services, `$2` deployments, evenly spread over 180 days ending 2 hours ago, in id order
/// (the feed is by id). Busy services (low ids) deploy far more often than the long tail.
const LOAD_DEPLOYMENTS: &str = "
INSERT INTO deployments (id, service_id, environment_id, version, commit_sha, status, kind, started_at,
                         finished_at, deployed_by, pipeline_url, source, external_id, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT g, service_id, environment_id, version, commit_sha, status, kind, started_at,
       CASE WHEN status IN ('queued', 'in_progress') THEN NULL ELSE started_at + duration END,
       deployed_by, 'https://ci.example.com/runs/' || g, source, 'run-' || g,
       started_at, CASE WHEN status IN ('queued', 'in_progress') THEN started_at ELSE started_at + duration END
  FROM (SELECT g,
               1 + floor($1::bigint * power(random(), 1.5))::bigint AS service_id,
               CASE WHEN r_env < 0.40 THEN 1 WHEN r_env < 0.60 THEN 2 WHEN r_env < 0.80 THEN 3 ELSE 4 END AS environment_id,
               format('1.%s.%s', (g - 1) * 180 / $2::bigint, g % 100) AS version,
               md5(g::text) || left(md5(g::text || 'x'), 8) AS commit_sha,
               CASE WHEN g > $2::bigint - 5 THEN 'in_progress'
                    WHEN r_status < 0.90 THEN 'succeeded' WHEN r_status < 0.96 THEN 'failed'
                    ELSE 'rolled_back' END AS status,
               CASE WHEN r_kind < 0.93 THEN 'normal' WHEN r_kind < 0.98 THEN 'hotfix' ELSE 'rollback' END AS kind,
               now() - interval '180 days 2 hours'
                 + make_interval(secs => (g - 1)::float8 * 180 * 86400 / $2::bigint + r_kind * 5) AS started_at,
               make_interval(secs => 30 + r_status * 900) AS duration,
               (ARRAY['ci-bot', 'ci-bot', 'ci-bot', 'alice', 'bob', 'carol', 'dave', 'erin', 'frank',
                      'grace'])[1 + floor(r_who * 10)::int] AS deployed_by,
               CASE WHEN r_who < 0.6 THEN 'github-actions' WHEN r_who < 0.9 THEN 'argocd' ELSE 'jenkins' END AS source
          FROM (SELECT g, random() AS r_env, random() AS r_status, random() AS r_kind, random() AS r_who
                  FROM generate_series(1, $2::bigint) AS g) r) d
";

/// Two commits for each deployment with an id above `$1`.
const LOAD_CHANGES: &str = "
INSERT INTO deployment_changes (deployment_id, sha, author, message, committed_at)
SELECT d.id, md5(d.id::text || '-' || k) || left(md5(k || '-' || d.id::text), 8),
       (ARRAY['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
              'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter',
              'yolanda'])[1 + ((d.id * 7 + k * 13) % 20)::int],
       (ARRAY['Fix a nil check in the request handler', 'Bump dependencies', 'Add retries with backoff',
              'Log the request id on errors', 'Speed up the nightly export', 'Remove a dead feature flag',
              'Tighten input validation', 'Raise the connection pool size', 'Add a metric for queue lag',
              'Refactor the client configuration', 'Handle timeouts from the upstream',
              'Update the runbook link'])[1 + ((d.id * 3 + k) % 12)::int],
       d.started_at - make_interval(mins => k * 37 + (d.id % 240)::int)
  FROM deployments d CROSS JOIN generate_series(1, 2) AS k
 WHERE d.id > $1::bigint
";

/// Gates into qa, staging and prod that need two approvals from any approver of the target
/// (requests are judged for real, but need not have shipped before), the people of the bench:
/// one developer who asks, and approvers.
const LOAD_GATES: &str = "
INSERT INTO gate_policies (environment_id, version, policy, reason, created_by)
SELECT id, 1, '{\"approvals\": [{\"name\": \"Approvers\", \"count\": 2}],
                \"require_previous_success\": false, \"expire_after_hours\": 720}'::jsonb,
       'benchmark', 'portolan-bench'
  FROM environments WHERE position > 1;
INSERT INTO users (tenant_id, object_id, display_name, email, roles)
VALUES ('bench', 'developer', 'Bench developer', 'developer@bench.invalid', '{developer}');
INSERT INTO users (tenant_id, object_id, display_name, email, roles)
SELECT 'bench', 'approver-' || i, 'Bench approver ' || i, 'approver-' || i || '@bench.invalid', '{approver}'
  FROM generate_series(1, 64) AS i;
";

/// `$1` pending requests over the first `$2` services, `$3` versions (that ran in the source)
/// per service and target, asked by the bench developer over the last week.
const LOAD_PROMOTIONS: &str = "
INSERT INTO promotions (service_id, version, from_environment_id, to_environment_id, reason,
                        requester_id, requester_name, requester_user_id, created_at, expires_at)
SELECT service_id, version, from_id, to_id, 'benchmark', 'bench:developer', 'Bench developer',
       (SELECT id FROM users WHERE tenant_id = 'bench' AND object_id = 'developer'),
       now() - make_interval(secs => n * 60), now() + interval '30 days'
  FROM (SELECT s.id AS service_id, v.version, f.id AS from_id, t.id AS to_id,
               row_number() OVER (ORDER BY v.version, s.id, t.id) AS n
          FROM (SELECT id FROM services ORDER BY id LIMIT $2) s
          JOIN environments t ON t.position > 1
          JOIN environments f ON f.position = t.position - 1
          CROSS JOIN LATERAL (SELECT DISTINCT version FROM deployments d
                               WHERE d.service_id = s.id AND d.environment_id = f.id LIMIT $3) v) x
 ORDER BY n LIMIT $1
";

/// A third of the requests already have one approval (of the two needed).
const LOAD_FIRST_APPROVALS: &str = "
INSERT INTO promotion_approvals (promotion_id, user_id, decision)
SELECT p.id, a.ids[1 + (p.id % 64)::int], 'approve'
  FROM promotions p,
       (SELECT array_agg(id ORDER BY id) AS ids FROM users
         WHERE tenant_id = 'bench' AND object_id LIKE 'approver-%') a
 WHERE p.id % 3 = 0
";

async fn timed<F, T>(label: &str, f: F) -> anyhow::Result<(T, Duration)>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let start = Instant::now();
    let out = f
        .await
        .with_context(|| format!("loading failed at: {label}"))?;
    let took = start.elapsed();
    println!("  {label:<46} {:>7.1} s", took.as_secs_f64());
    Ok((out, took))
}

async fn load(conn: &mut PgConnection, args: &Args) -> anyhow::Result<()> {
    let services = args.services;
    let deployments = args.deployments;
    let edges = services * 3;
    let changes_for = args
        .changes_for
        .unwrap_or(deployments)
        .clamp(0, deployments);
    println!(
        "loading {BENCH_DB}: 50 teams, 200 systems, {services} services, ~{edges} dependencies, \
         4 environments, {deployments} deployments, 2 commits for each of the latest {changes_for}, \
         {} pending promotions over {} services",
        args.promotions, args.promotion_services
    );
    sqlx::raw_sql(
        "SET synchronous_commit = off; SET work_mem = '256MB'; SET maintenance_work_mem = '512MB';
         SELECT setseed(0.4242);",
    )
    .execute(&mut *conn)
    .await?;

    let start = Instant::now();
    timed("teams, systems, environments", async {
        let mut tx = conn.begin().await?;
        // Several statements, one bound parameter: run them one by one.
        for stmt in LOAD_ORG.split(";\n").filter(|s| !s.trim().is_empty()) {
            if stmt.contains("$1") {
                sqlx::query(stmt)
                    .bind(&DOMAINS[..])
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(stmt).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    })
    .await?;
    timed("services", async {
        sqlx::query(LOAD_SERVICES)
            .bind(services)
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
    .await?;
    let (edge_count, _) = timed("dependencies", async {
        Ok(sqlx::query(LOAD_DEPENDENCIES)
            .bind(services)
            .bind(edges)
            .execute(&mut *conn)
            .await?
            .rows_affected())
    })
    .await?;
    timed("deployments", async {
        sqlx::query(LOAD_DEPLOYMENTS)
            .bind(services)
            .bind(deployments)
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
    .await?;
    let (change_count, _) = timed("deployment changes", async {
        Ok(sqlx::query(LOAD_CHANGES)
            .bind(deployments - changes_for)
            .execute(&mut *conn)
            .await?
            .rows_affected())
    })
    .await?;
    let (promotion_count, _) = timed("promotion requests and gates", async {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(LOAD_GATES).execute(&mut *tx).await?;
        let n = sqlx::query(LOAD_PROMOTIONS)
            .bind(args.promotions)
            .bind(args.promotion_services)
            .bind((args.promotions / (args.promotion_services.max(1) * 3)) + 1)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(LOAD_FIRST_APPROVALS).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n)
    })
    .await?;
    timed("identity sequences", async {
        for table in [
            "teams",
            "systems",
            "services",
            "environments",
            "deployments",
        ] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            ))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    })
    .await?;
    // VACUUM too, not just ANALYZE: a long-lived database has its visibility map set, which
    // index-only scans need; a freshly loaded one has not.
    timed("VACUUM (ANALYZE)", async {
        sqlx::raw_sql("VACUUM (ANALYZE)")
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
    .await?;
    let loaded = start.elapsed();
    println!(
        "loaded in {:.1} s: {edge_count} dependencies, {change_count} deployment changes, \
         {promotion_count} pending promotions",
        loaded.as_secs_f64()
    );
    // Write the loaded gigabyte out now rather than while requests are being timed. Needs
    // superuser or pg_checkpoint; without it the figures are only noisier.
    let flush = Instant::now();
    match sqlx::raw_sql("CHECKPOINT").execute(&mut *conn).await {
        Ok(_) => println!(
            "  (CHECKPOINT before measuring, not counted: {:.1} s)",
            flush.elapsed().as_secs_f64()
        ),
        Err(e) => println!("  (no CHECKPOINT before measuring: {e})"),
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ measuring

/// A small deterministic generator (SplitMix64): runs pick the same services.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone)]
struct Answer {
    status: http::StatusCode,
    body: axum::body::Bytes,
    took: Duration,
}

/// Sends one request through the whole router and times it until the body is fully read.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn bench_token(pool: &PgPool) -> anyhow::Result<String> {
    let mut tx = pool.begin().await?;
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, object_id, display_name, roles)
         VALUES ('bench', 'pipeline', 'Benchmark pipeline', '{developer}')
         ON CONFLICT ON CONSTRAINT users_identity_key DO UPDATE SET roles = EXCLUDED.roles
         RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    let request = portolan_server::auth::tokens::TokenRequest {
        name: "benchmark".into(),
        scopes: [portolan_server::access::Scope::DeploymentsWrite].into(),
        days: 1,
    };
    let made = portolan_server::auth::tokens::create(
        &mut tx,
        &portolan_server::audit::Actor::system(),
        user_id,
        &request,
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the benchmark's API token: {e}"))?;
    tx.commit().await?;
    Ok(made.token)
}

/// A signed-in person of the bench: the session cookie and the CSRF token changes carry.
#[derive(Clone)]
struct Person {
    cookie: String,
    csrf: String,
}

/// Opens a session for a bench person (loaded with the promotions), as signing in would.
async fn person(pool: &PgPool, object_id: &str, roles: &[&str]) -> anyhow::Result<Person> {
    use portolan_server::auth::session::{self, Identity};
    let who = Identity {
        tenant_id: "bench".into(),
        object_id: object_id.into(),
        display_name: format!("Bench {object_id}"),
        email: Some(format!("{object_id}@bench.invalid")),
        roles: roles.iter().map(|r| (*r).to_string()).collect(),
        groups: Vec::new(),
        groups_overage: false,
    };
    let token = session::sign_in(pool, &who, None)
        .await
        .map_err(|e| anyhow::anyhow!("signing in {object_id}: {e}"))?;
    let me = session::lookup(pool, &token)
        .await
        .map_err(|e| anyhow::anyhow!("reading the session of {object_id}: {e}"))?
        .context("the new session is not live")?;
    Ok(Person {
        cookie: format!("{}={token}", portolan_server::auth::SESSION_COOKIE),
        csrf: me.me.csrf_token,
    })
}

/// The request, sent as this person instead of the pipeline's token.
fn as_person(mut req: Request<Body>, who: &Person) -> anyhow::Result<Request<Body>> {
    let h = req.headers_mut();
    h.insert(header::COOKIE, who.cookie.parse().context("cookie header")?);
    h.insert("x-csrf-token", who.csrf.parse().context("csrf header")?);
    Ok(req)
}

async fn send(app: &Router, mut req: Request<Body>) -> anyhow::Result<Answer> {
    if let Some(t) = TOKEN.get()
        && !req.headers().contains_key(header::COOKIE)
    {
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().context("token header")?,
        );
    }
    let svc = app.clone();
    let start = Instant::now();
    let res = svc.oneshot(req).await.context("the router failed")?;
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .context("reading the response body failed")?
        .to_bytes();
    let took = start.elapsed();
    Ok(Answer { status, body, took })
}

fn get(path: &str) -> anyhow::Result<Request<Body>> {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .context("building a request")
}

fn post_json(path: &str, body: &Value) -> anyhow::Result<Request<Body>> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .context("building a request")
}

/// The figures of one scenario.
struct Stats {
    name: String,
    target_ms: Option<f64>,
    times: Vec<Duration>,
    failures: usize,
    warm_up_sent: usize,
    warm_up_failed: usize,
    first_failure: Option<String>,
    aborted: bool,
}

impl Stats {
    fn new(name: &str, target_ms: Option<f64>) -> Self {
        Self {
            name: name.to_string(),
            target_ms,
            times: Vec::new(),
            failures: 0,
            warm_up_sent: 0,
            warm_up_failed: 0,
            first_failure: None,
            aborted: false,
        }
    }

    /// Records a measured answer (or only counts its failure during the warm-up).
    fn record(&mut self, what: &str, a: &Answer, measured: bool) {
        if !measured {
            self.warm_up_sent += 1;
        }
        if a.status.is_success() {
            if measured {
                self.times.push(a.took);
            }
        } else {
            if measured {
                self.failures += 1;
            } else {
                self.warm_up_failed += 1;
            }
            if self.first_failure.is_none() {
                let text = String::from_utf8_lossy(&a.body);
                let text: String = text.chars().take(400).collect();
                self.first_failure = Some(format!("{what} answered {}: {text}", a.status));
            }
        }
    }

    /// True when most requests so far failed: timing errors is worthless.
    fn mostly_failing(&self) -> bool {
        let sent = self.times.len() + self.failures + self.warm_up_sent;
        let failed = self.failures + self.warm_up_failed;
        sent >= 10 && failed * 2 > sent
    }

    fn percentile(&self, q: f64) -> Option<f64> {
        if self.times.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = self.times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest rank.
        let rank = (q * ms.len() as f64).ceil().max(1.0) as usize;
        ms.get(rank.min(ms.len()) - 1).copied()
    }
}

/// Runs the warm-up and then `requests` measured iterations of `one`, which sends its request(s)
/// and says which stats (by index) each answer belongs to. Aborts the scenario when most fail.
async fn scenario<F, Fut>(stats: &mut [Stats], requests: usize, mut one: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<(usize, String, Answer)>>>,
{
    for i in 0..WARM_UP + requests {
        let measured = i >= WARM_UP;
        for (idx, what, a) in &one().await? {
            if let Some(s) = stats.get_mut(*idx) {
                s.record(what, a, measured);
            }
        }
        if stats.iter().any(Stats::mostly_failing) {
            for s in stats.iter_mut() {
                s.aborted = true;
            }
            let why = stats
                .iter()
                .find_map(|s| s.first_failure.clone())
                .unwrap_or_default();
            println!(
                "  ABORTED {}: most requests fail, so its timings would be worthless. First failure: {why}",
                stats
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
            return Ok(());
        }
    }
    for s in stats.iter() {
        if let (true, Some(f)) = (s.failures > 0, &s.first_failure) {
            println!("  {}: {} non-2xx; first: {f}", s.name, s.failures);
        }
    }
    Ok(())
}

async fn measure(args: &Args, pool: &PgPool) -> anyhow::Result<()> {
    let config = Config {
        addr: "127.0.0.1:0".parse().context("address")?,
        ..Config::default()
    };
    let app = build_app(AppState::new(pool.clone(), config)?);
    // Requests authenticate as a pipeline does: a developer's API token that may record
    // deployments (so every figure includes the token check).
    let token = bench_token(pool).await?;
    let _ = TOKEN.set(token);
    let n = args.requests;
    let mut rng = Rng(0x5EED_B0A7_CAFE);

    let services: Vec<String> =
        sqlx::query_scalar("SELECT slug FROM services WHERE archived_at IS NULL ORDER BY slug")
            .fetch_all(pool)
            .await?;
    let teams: Vec<String> = sqlx::query_scalar("SELECT slug FROM teams ORDER BY slug")
        .fetch_all(pool)
        .await?;
    if services.is_empty() {
        bail!("no live services were loaded");
    }

    // Search words from very common to none at all; how many live services each matches.
    let words = [
        "api",
        "postgres",
        "payments",
        "orders",
        "kafka",
        "reconciler",
        "gdpr",
        "legacy",
        "orders worker",
        "search indexer",
        "zzqx",
    ];
    println!();
    println!(
        "search words (live services matching each, of {}):",
        services.len()
    );
    let mut word_line = Vec::new();
    for w in words {
        let patterns: Vec<String> = w.split_whitespace().map(|p| format!("%{p}%")).collect();
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM services WHERE archived_at IS NULL AND search_text LIKE ALL ($1)",
        )
        .bind(&patterns)
        .fetch_one(pool)
        .await?;
        word_line.push(format!("'{w}' {count}"));
    }
    println!("  {}", word_line.join(", "));

    // Later matrix pages: cursors handed out by the API itself, walking all of it once.
    let mut matrix_cursors: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/matrix?limit=200&cursor={c}"),
            None => "/api/v1/matrix?limit=200".to_string(),
        };
        let a = send(&app, get(&path)?).await?;
        if !a.status.is_success() {
            bail!(
                "walking the matrix for cursors: {path} answered {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
        }
        let page: Value = serde_json::from_slice(&a.body).context("the matrix is not JSON")?;
        match page["next_cursor"].as_str() {
            Some(c) => {
                matrix_cursors.push(c.to_string());
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    if matrix_cursors.is_empty() {
        println!("  (the matrix has a single page of 200; 'later page' will use the first page)");
    }

    println!();
    println!(
        "measuring: {WARM_UP} warm-up + {n} measured requests per scenario, one at a time \
         (load average before: {})",
        load_average()
    );
    let mut all: Vec<Stats> = Vec::new();

    // Catalog search: the words in turn; figures overall (index 0) and per word (1..).
    let mut st = vec![Stats::new(
        "catalog search ?q=<word>&limit=50",
        Some(READ_TARGET_MS),
    )];
    st.extend(words.iter().map(|w| Stats::new(w, Some(READ_TARGET_MS))));
    let mut k = 0usize;
    scenario(&mut st, n, || {
        let i = k % words.len();
        k += 1;
        let app = &app;
        async move {
            let w = words[i].replace(' ', "%20");
            let path = format!("/api/v1/services?q={w}&limit=50");
            let a = send(app, get(&path)?).await?;
            Ok(vec![(1 + i, path.clone(), a.clone()), (0, path, a)])
        }
    })
    .await?;
    println!("  catalog search, per word (ms):");
    for s in &st[1..] {
        println!(
            "    {:<16} p50 {:>5.1}  p95 {:>5.1}  max {:>5.1}  ({} requests)",
            format!("'{}'", s.name),
            s.percentile(0.5).unwrap_or(f64::NAN),
            s.percentile(0.95).unwrap_or(f64::NAN),
            s.percentile(1.0).unwrap_or(f64::NAN),
            s.times.len() + s.failures
        );
    }
    st.truncate(1);
    all.append(&mut st);

    let mut st = vec![Stats::new(
        "catalog filter ?team=<slug>&tier=2",
        Some(READ_TARGET_MS),
    )];
    scenario(&mut st, n, || {
        let t = rng.pick(&teams).clone();
        let app = &app;
        async move {
            let path = format!("/api/v1/services?team={t}&tier=2&limit=50");
            let a = send(app, get(&path)?).await?;
            Ok(vec![(0, path, a)])
        }
    })
    .await?;
    all.append(&mut st);

    // The service page: its four API calls, one after another.
    let mut st = vec![
        Stats::new("service: GET /services/{slug}", Some(READ_TARGET_MS)),
        Stats::new(
            "service: /services/{slug}/dependencies",
            Some(READ_TARGET_MS),
        ),
        Stats::new("service: /services/{slug}/versions", Some(READ_TARGET_MS)),
        Stats::new(
            "service: /deployments?service=&limit=15",
            Some(READ_TARGET_MS),
        ),
        Stats::new("service page (4 calls, summed)", None),
    ];
    scenario(&mut st, n, || {
        let s = rng.pick(&services).clone();
        let app = &app;
        async move {
            let paths = [
                format!("/api/v1/services/{s}"),
                format!("/api/v1/services/{s}/dependencies"),
                format!("/api/v1/services/{s}/versions"),
                format!("/api/v1/deployments?service={s}&limit=15"),
            ];
            let mut out = Vec::new();
            let mut total = Duration::ZERO;
            let mut worst = http::StatusCode::OK;
            for (i, p) in paths.into_iter().enumerate() {
                let a = send(app, get(&p)?).await?;
                total += a.took;
                if !a.status.is_success() {
                    worst = a.status;
                }
                out.push((i, p, a));
            }
            out.push((
                4,
                format!("the page of {s}"),
                Answer {
                    status: worst,
                    body: axum::body::Bytes::from_static(b"(one of the four calls failed)"),
                    took: total,
                },
            ));
            Ok(out)
        }
    })
    .await?;
    all.append(&mut st);

    // The environments matrix.
    let mut st = vec![Stats::new(
        "matrix ?limit=50 (first page)",
        Some(READ_TARGET_MS),
    )];
    scenario(&mut st, n, || {
        let app = &app;
        async move {
            let path = "/api/v1/matrix?limit=50".to_string();
            let a = send(app, get(&path)?).await?;
            Ok(vec![(0, path, a)])
        }
    })
    .await?;
    all.append(&mut st);

    let mut st = vec![Stats::new(
        "matrix ?limit=50&cursor= (later page)",
        Some(READ_TARGET_MS),
    )];
    scenario(&mut st, n, || {
        let c = if matrix_cursors.is_empty() {
            String::new()
        } else {
            rng.pick(&matrix_cursors).clone()
        };
        let app = &app;
        async move {
            let path = format!("/api/v1/matrix?limit=50&cursor={c}");
            let a = send(app, get(&path)?).await?;
            Ok(vec![(0, path, a)])
        }
    })
    .await?;
    all.append(&mut st);

    // The deployments feed.
    let mut st = vec![Stats::new(
        "deployments feed ?limit=50",
        Some(READ_TARGET_MS),
    )];
    scenario(&mut st, n, || {
        let app = &app;
        async move {
            let path = "/api/v1/deployments?limit=50".to_string();
            let a = send(app, get(&path)?).await?;
            Ok(vec![(0, path, a)])
        }
    })
    .await?;
    all.append(&mut st);

    // Recording a deployment.
    let run_id = OffsetDateTime::now_utc().unix_timestamp();
    let envs = ["dev", "qa", "staging", "prod"];
    let mut st = vec![Stats::new(
        "record deployment POST (2 changes)",
        Some(WRITE_TARGET_MS),
    )];
    let mut seq = 0u64;
    scenario(&mut st, n, || {
        seq += 1;
        let s = rng.pick(&services).clone();
        let e = *rng.pick(&envs);
        let salt = rng.next();
        let app = &app;
        async move {
            let now = OffsetDateTime::now_utc();
            let at = |mins: i64| -> anyhow::Result<String> {
                Ok((now - time::Duration::minutes(mins)).format(&Rfc3339)?)
            };
            let body = json!({
                "service": s,
                "environment": e,
                "version": format!("2.0.{seq}"),
                "commit_sha": format!("{salt:016x}{:024x}", u128::from(seq)),
                "status": "succeeded",
                "kind": "normal",
                "started_at": at(6)?,
                "finished_at": at(1)?,
                "deployed_by": "portolan-bench",
                "pipeline_url": format!("https://ci.example.com/bench/{run_id}/{seq}"),
                "source": "portolan-bench",
                "external_id": format!("bench-{run_id}-{seq}"),
                "changes": [
                    {"sha": format!("{salt:016x}{:024x}", 1_000_000_000u128 + u128::from(seq)),
                     "author": "alice", "message": "Add retries with backoff", "committed_at": at(90)?},
                    {"sha": format!("{salt:016x}{:024x}", 2_000_000_000u128 + u128::from(seq)),
                     "author": "bob", "message": "Bump dependencies", "committed_at": at(60)?},
                ],
            });
            let path = "/api/v1/deployments".to_string();
            let a = send(app, post_json(&path, &body)?).await?;
            Ok(vec![(0, format!("POST {path} ({s} to {e})"), a)])
        }
    })
    .await?;
    all.append(&mut st);

    measure_promotions(args, pool, &app, &mut all).await?;

    print_table(&all);
    println!(
        "load average after: {} (other work on this machine skews the figures)",
        load_average()
    );
    if all.iter().any(|s| s.aborted) {
        bail!("some scenarios were aborted because most of their requests failed (see above)");
    }
    Ok(())
}

/// The approver's day: the inbox, one request's page, and many approvers deciding the same
/// requests at once.
async fn measure_promotions(
    args: &Args,
    pool: &PgPool,
    app: &Router,
    all: &mut Vec<Stats>,
) -> anyhow::Result<()> {
    let n = args.requests;
    let mut rng = Rng(0x0A11_0E5E_D00D);
    let pending: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM promotions WHERE state = 'pending' ORDER BY id")
            .fetch_all(pool)
            .await?;
    if pending.is_empty() {
        println!("  (no promotion requests were loaded: --promotions 0)");
        return Ok(());
    }
    // One approver who has approved a third of them (so the inbox skips those), and one more.
    let reader = person(pool, "approver-1", &["approver"]).await?;

    let mut st = vec![Stats::new(
        "promotions inbox ?decidable=true&limit=50",
        Some(READ_TARGET_MS),
    )];
    scenario(&mut st, n, || {
        let app = &app;
        let reader = &reader;
        async move {
            let path = "/api/v1/promotions?decidable=true&limit=50".to_string();
            let a = send(app, as_person(get(&path)?, reader)?).await?;
            Ok(vec![(0, path, a)])
        }
    })
    .await?;
    all.append(&mut st);

    let mut st = vec![
        Stats::new("request page: GET /promotions/{id}", Some(READ_TARGET_MS)),
        Stats::new(
            "request page: /promotions/{id}/review",
            Some(READ_TARGET_MS),
        ),
        Stats::new("request page (2 calls, summed)", None),
    ];
    scenario(&mut st, n, || {
        let id = *rng.pick(&pending);
        let app = &app;
        let reader = &reader;
        async move {
            let mut out = Vec::new();
            let mut total = Duration::ZERO;
            let mut worst = http::StatusCode::OK;
            for (i, p) in [
                format!("/api/v1/promotions/{id}"),
                format!("/api/v1/promotions/{id}/review"),
            ]
            .into_iter()
            .enumerate()
            {
                let a = send(app, as_person(get(&p)?, reader)?).await?;
                total += a.took;
                if !a.status.is_success() {
                    worst = a.status;
                }
                out.push((i, p, a));
            }
            out.push((
                2,
                format!("the page of promotion {id}"),
                Answer {
                    status: worst,
                    body: axum::body::Bytes::from_static(b"(one of the two calls failed)"),
                    took: total,
                },
            ));
            Ok(out)
        }
    })
    .await?;
    all.append(&mut st);

    // Contention: every approver decides the same requests in the same order, all at once.
    // Each request takes two approvals (the second approves it); every other decision on it is
    // refused (409). Requests that already have an approval are left out, so each is fresh.
    let approvers = args.approvers.max(2);
    let fresh: Vec<i64> = pending
        .iter()
        .copied()
        .filter(|id| id % 3 != 0)
        .rev()
        .take(n)
        .collect();
    let mut people = Vec::with_capacity(approvers);
    for i in 0..approvers {
        people.push(person(pool, &format!("approver-{}", 100 + i), &["approver"]).await?);
    }
    println!(
        "  contention: {approvers} approvers each deciding the same {} requests in the same order",
        fresh.len()
    );
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for who in people {
        let app = app.clone();
        let ids = fresh.clone();
        tasks.spawn(async move {
            let mut answers = Vec::with_capacity(ids.len());
            for id in ids {
                let path = format!("/api/v1/promotions/{id}/decisions");
                let req = as_person(post_json(&path, &json!({"decision": "approve"}))?, &who)?;
                answers.push((path, send(&app, req).await?));
            }
            anyhow::Ok(answers)
        });
    }
    let mut st = vec![Stats::new(
        "decision POST, under contention (recorded ones)",
        None,
    )];
    let (mut recorded, mut refused, mut other) = (0usize, 0usize, Vec::new());
    while let Some(done) = tasks.join_next().await {
        for (path, a) in done.context("an approver's task failed")?? {
            if a.status.is_success() {
                recorded += 1;
                st[0].record(&path, &a, true);
            } else if a.status == http::StatusCode::CONFLICT {
                refused += 1;
            } else {
                other.push(format!("{path}: {}", a.status));
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let approved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM promotions WHERE id = ANY($1) AND state = 'approved'",
    )
    .bind(&fresh)
    .fetch_one(pool)
    .await?;
    let per_request: Vec<i64> = sqlx::query_scalar(
        "SELECT count(a.user_id) FROM unnest($1::bigint[]) AS p(id)
           LEFT JOIN promotion_approvals a ON a.promotion_id = p.id
          GROUP BY p.id",
    )
    .bind(&fresh)
    .fetch_all(pool)
    .await?;
    println!(
        "  contention: {recorded} decisions recorded and {refused} refused (409) in {wall:.2} s: \
         {:.0} recorded decisions/s, {:.0} answered decisions/s; {approved} of {} requests approved, \
         approvals per request: min {} max {}",
        recorded as f64 / wall,
        (recorded + refused) as f64 / wall,
        fresh.len(),
        per_request.iter().min().unwrap_or(&0),
        per_request.iter().max().unwrap_or(&0),
    );
    if !other.is_empty() {
        bail!(
            "{} decisions answered neither 200 nor 409, e.g. {}",
            other.len(),
            other[0]
        );
    }
    if recorded != fresh.len() * 2 || approved as usize != fresh.len() {
        bail!("contention lost or doubled a decision: expected two approvals on each request");
    }
    all.append(&mut st);
    Ok(())
}

fn print_table(all: &[Stats]) {
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    println!();
    println!(
        "{:<42} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}  {:<14} verdict",
        "scenario (server time, ms)", "requests", "non-2xx", "p50", "p95", "p99", "max", "target"
    );
    println!("{}", "-".repeat(118));
    for s in all {
        let p95 = s.percentile(0.95);
        let (target, verdict) = match (s.target_ms, p95) {
            _ if s.aborted => (String::from("-"), String::from("ABORTED")),
            (Some(t), Some(p)) => (
                format!("p95 < {t:.0} ms"),
                if p < t { "meets" } else { "MISSES" }.to_string(),
            ),
            (Some(t), None) => (format!("p95 < {t:.0} ms"), "-".to_string()),
            (None, _) => ("-".to_string(), "(no target)".to_string()),
        };
        println!(
            "{:<42} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}  {:<14} {}",
            s.name,
            s.times.len() + s.failures,
            s.failures,
            fmt(s.percentile(0.50)),
            fmt(p95),
            fmt(s.percentile(0.99)),
            fmt(s.percentile(1.0)),
            target,
            verdict
        );
    }
}

/// Peak and current resident memory of this process, from /proc/self/status.
fn memory() -> (String, String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or_else(
                || "unknown".to_string(),
                |kb| format!("{:.1} MiB", kb / 1024.0),
            )
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The 1, 5 and 15 minute load averages, to tell a quiet machine from a busy one.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}
