//! What went wrong in the demo organisation, in words: one story per incident of the demo, with
//! the notes people wrote on its timeline and, for the ones that have one, its postmortem.
//!
//! The texts name no service and no version: `{svc}`, `{other}`, `{noun}`, `{nouns}`, `{ver}` (the
//! version that caused it), `{prev}` (the version rolled back to, or the hotfix), `{cause_at}`
//! and `{fix_at}` (when those deployments finished) are filled in from the deployment the story
//! is told about. Postmortems are blameless: they describe the system and the process, never who
//! made a mistake (`language::check` agrees; a test keeps it so).

use super::ServiceSpec;

/// How the trouble ended, which picks the deployments a story can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// A production deployment, rolled back within the hour by a `rollback` deployment.
    Rollback,
    /// A bug in the production version, fixed by a hotfix deployment hours or days later.
    Hotfix,
}

/// Which second service the incident names, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Other {
    None,
    /// A service that calls this one while serving requests.
    Caller,
    /// A service this one calls while serving requests.
    Callee,
}

pub(super) struct Story {
    pub cause: Cause,
    pub other: Other,
    /// Whether the story can be told about this service.
    pub fits: fn(&ServiceSpec) -> bool,
    pub title: &'static str,
    /// The incident's summary.
    pub summary: &'static str,
    /// A note while investigating.
    pub noticed: &'static str,
    /// Said when moving to identified.
    pub identified: &'static str,
    /// Said when moving to monitoring, once the fix is out.
    pub mitigated: &'static str,
    /// Said when resolving.
    pub resolved: &'static str,
    pub cause_note: &'static str,
    pub fix_note: &'static str,
    /// What noticed it first.
    pub alert: &'static str,
    pub postmortem: Option<PostmortemText>,
}

/// The parts of a postmortem only the story knows; the rest is written from the facts.
pub(super) struct PostmortemText {
    pub summary: &'static str,
    pub impact: &'static str,
    pub root_causes: &'static str,
    pub trigger: &'static str,
    /// What fixed it for good, after the impact stopped.
    pub fix: &'static str,
    pub went_well: &'static str,
    pub went_wrong: &'static str,
    pub lucky: &'static str,
}

fn is_stream(s: &ServiceSpec) -> bool {
    s.tags.contains(&"stream") || s.tags.contains(&"datastore")
}

fn is_frontend(s: &ServiceSpec) -> bool {
    s.tags.contains(&"frontend")
}

/// A service that answers requests: not a stream, a data store or a browser front end.
pub(super) fn backend(s: &ServiceSpec) -> bool {
    !is_stream(s) && !is_frontend(s)
}

/// A backend that calls other services while serving requests.
fn caller(s: &ServiceSpec) -> bool {
    backend(s) && s.deps.split_whitespace().any(|d| d.ends_with(":s"))
}

/// A backend that consumes a stream.
fn consumer(s: &ServiceSpec) -> bool {
    backend(s) && s.deps.split_whitespace().any(|d| d.ends_with(":c"))
}

/// A backend with a database of its own (everything but the stateless edges).
fn stateful(s: &ServiceSpec) -> bool {
    backend(s) && !s.tags.contains(&"bff") && !matches!(s.slug, "api-gateway" | "feature-flags")
}

pub(super) const CRASH_LOOP: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: backend,
    title: "{svc} instances restarting in a loop after {ver}",
    summary: "New {svc} instances exit at start-up since {ver} reached production; the rollout \
              kept replacing healthy {prev} instances, so capacity dropped and {other} sees errors \
              on calls to {svc}.",
    noticed: "Instances of {ver} exit about five seconds after starting; the last log line is a \
              configuration error about a missing key. The remaining {prev} instances are at 90% \
              CPU.",
    identified: "{ver} reads a new setting that the production configuration does not have; \
                 rolling back to {prev}",
    mitigated: "Rollback to {prev} finished, every instance is ready and the error rate is back \
                to its baseline",
    resolved: "Stable on {prev} for an hour. The setting goes into the production configuration \
               before {svc} is released again.",
    cause_note: "Expects a setting production did not have: instances exit at start-up",
    fix_note: "Rollback to {prev}",
    alert: "The {svc} availability alert (more than 2% of requests failing for five minutes)",
    postmortem: Some(PostmortemText {
        summary: "Version {ver} of {svc} needed a configuration key that existed in staging but \
                  not in production. New instances exited at start-up, the rolling deployment \
                  carried on replacing healthy instances, and {svc} lost half of its capacity \
                  until it was rolled back to {prev}.",
        impact: "Requests to {svc} and calls from {other} failed intermittently. At the worst \
                 point about one request in five returned an error; retries in the clients hid \
                 part of it from shoppers, who saw slow pages more often than error pages.",
        root_causes: "- {ver} added a required setting for new connection limits. The setting \
                      was added to the staging configuration in the same change, but production \
                      configuration lives in a separate repository and nothing compares the keys \
                      a release expects with the keys production has.\n\
                      - The readiness probe answers before the configuration is loaded, so the \
                      platform counted an instance as ready for the few seconds before it exited, \
                      and the rollout moved on to the next batch.\n\
                      - The rollout replaces a quarter of the instances at a time with no pause \
                      between batches, so two batches were gone before the first alert.",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "The setting now has a safe default in the code, the readiness probe loads the \
              configuration before answering, and the pipeline compares the configuration keys \
              of staging and production before a production deployment starts.",
        went_well: "- Portolan's deployment feed showed {ver} as the only production change to \
                    {svc} in the hour before, so the rollback decision took minutes.\n\
                    - The rollback is one command and finished in under five minutes.\n\
                    - Updates in the incident channel every fifteen minutes kept the teams \
                    calling {svc} from opening incidents of their own.",
        went_wrong: "- Staging and production configuration are kept in different places with no \
                     check between them.\n\
                     - The error-rate alert reacts after five minutes; an alert on instance \
                     restarts would have fired within the first minute.\n\
                     - The rollout has no pause after its first batch, which is where this \
                     release would have stopped on its own.",
        lucky: "Traffic was at its weekday level, not at a sale peak: the remaining {prev} \
                instances carried the load at 90% CPU. With more traffic they would have \
                saturated too.",
    }),
};

pub(super) const CONTRACT_BREAK: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: caller,
    title: "{other} requests rejected by {svc} after {ver}",
    summary: "Since {ver}, {svc} rejects a share of the requests {other} sends with 400 \
              Bad Request; the rejected requests are ones that leave out an optional field.",
    noticed: "The 400s all come from {other}, and only for requests without the `channel` field. \
              {ver} went out a few minutes before the first one.",
    identified: "{ver} made the `channel` field required; {other} still sends requests without \
                 it. Rolling back to {prev}",
    mitigated: "Back on {prev}; {other} requests succeed again and its retry queue is draining",
    resolved: "The retry queue of {other} is empty and every request made during the impact was \
               replayed or answered.",
    cause_note: "Made an optional request field required; older clients were rejected",
    fix_note: "Rollback to {prev}, which accepts both request shapes",
    alert: "The 4xx-ratio alert of {other}",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} tightened the validation of its requests and began rejecting \
                  requests that leave out the `channel` field. {other} still sends such \
                  requests, so a share of its traffic failed until {svc} was rolled back to \
                  {prev}.",
        impact: "About 30% of the requests from {other} to {svc} were rejected. Shoppers whose \
                 requests were rejected saw an error page and could retry; the error page does not \
                 say that retrying helps, and support received 140 contacts about it.",
        root_causes: "- The request schema of {svc} is generated from its code, so making a field \
                      required changed the contract without any change to a file its callers \
                      review.\n\
                      - The contract tests run the requests of the current version of each \
                      caller. {other} in production was two releases behind and still sent the \
                      older shape, which no test exercised.\n\
                      - Staging traffic comes from the latest versions of every caller, so it \
                      showed no rejected requests either.",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "{svc} accepts requests without the field again and fills in the default. The \
              contract tests now run against the versions of the callers that are in production, \
              read from Portolan's environment view, as well as their latest versions.",
        went_well: "- The 4xx alert of {other} fired within minutes and named the endpoint.\n\
                    - {other} queues failed writes for retry, so no request was lost.\n\
                    - The people who own both services were in the incident channel within ten \
                    minutes.",
        went_wrong: "- A contract change had no reviewable artefact: the generated schema is not \
                     checked in.\n\
                     - The test suite exercises only the latest version of each caller.\n\
                     - The customer-facing error page gave no hint to try again.",
        lucky: "Most traffic from {other} comes from the newer request shape; had the older one \
                been the majority, nearly every request would have failed.",
    }),
};

pub(super) const STALE_CACHE: Story = Story {
    cause: Cause::Hotfix,
    other: Other::None,
    fits: stateful,
    title: "{svc} serving stale {nouns} since {ver}",
    summary: "Since {ver}, changes to {nouns} take hours instead of seconds to show in {svc} \
              responses.",
    noticed: "Updates to {nouns} are stored, but reads keep returning the old values for hours. \
              The cache entries carry a TTL of 24 hours instead of 60 seconds.",
    identified: "{ver} reads the cache TTL in minutes where the setting is in seconds; the fix \
                 goes out as hotfix {prev}",
    mitigated: "Hotfix {prev} is in production and the cache was flushed; reads return current \
                values",
    resolved: "No stale reads since the hotfix.",
    cause_note: "Reads the cache TTL setting in the wrong unit",
    fix_note: "Hotfix {prev}: TTL read in seconds again, with a unit test for the parsing",
    alert: "A support ticket from the merchandising team",
    postmortem: None,
};

pub(super) const MEMORY_GROWTH: Story = Story {
    cause: Cause::Rollback,
    other: Other::None,
    fits: backend,
    title: "{svc} memory growing until instances are killed after {ver}",
    summary: "Instances of {svc} {ver} grow in memory until the platform kills them; requests \
              in flight on a killed instance fail.",
    noticed: "Memory of {ver} instances climbs in a straight line, about 40 MB a minute, and the \
              first instances were killed for exceeding their limit.",
    identified: "A heap profile shows the new per-request lookup cache of {ver} holding every \
                 entry; rolling back to {prev}",
    mitigated: "Rolled back to {prev}; memory is flat again",
    resolved: "Memory flat for an hour on {prev}; no instance was killed since the rollback.",
    cause_note: "Adds an in-process cache with no size limit",
    fix_note: "Rollback to {prev}",
    alert: "The container-restart alert of {svc}",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} added an in-process cache of {noun} lookups without a size limit. \
                  Every instance grew by about 40 MB a minute until the platform killed it, and \
                  the requests in flight on it failed. The rollback to {prev} ended it.",
        impact: "Each kill failed the 20 to 40 requests in flight on that instance. Over the \
                 incident about 0.4% of requests to {svc} failed; their callers retried most of \
                 them, so shoppers rarely saw an error.",
        root_causes: "- The cache holds every key it has seen and evicts nothing. The library's \
                      default is unbounded, and the code review checklist does not ask about \
                      limits.\n\
                      - Load tests in staging run for ten minutes, shorter than the time an \
                      instance needs to reach its memory limit at staging traffic.\n\
                      - The memory limit kills an instance without a graceful shutdown, so its \
                      in-flight requests fail instead of finishing elsewhere.",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "The cache now holds at most 10,000 entries with a five-minute expiry. The staging \
              soak test runs for an hour, and a memory-growth alert (more than 20% in 30 minutes) \
              covers every service.",
        went_well: "- The restart alert fired on the first killed instance.\n\
                    - A heap profile from a live instance showed the cache within minutes; the \
                    profiling endpoint added last quarter paid off.\n\
                    - Callers' retries absorbed most failures.",
        went_wrong: "- Nothing in the pipeline measures memory over a long enough run to show \
                     slow growth.\n\
                     - An instance that reaches its limit is stopped at once, not drained.",
        lucky: "The traffic mix at the time had few distinct {nouns}; with the full catalogue in \
                play the instances would have reached their limit three times as fast.",
    }),
};

pub(super) const POOL_EXHAUSTION: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: stateful,
    title: "Elevated 5xx from {svc} after {ver}",
    summary: "{svc} returns 503 for a growing share of requests since {ver}: requests wait for a \
              database connection and time out. {other} shows errors to shoppers.",
    noticed: "Database connection wait time on {svc} went from 2 ms to several seconds at \
              {cause_at}; the database itself is idle. Only instances running {ver} are \
              affected.",
    identified: "{ver} upgraded the database driver, whose default pool size is 10 instead of \
                 our 50; rolling back to {prev}",
    mitigated: "Rollback to {prev} is done and connection waits are back under 5 ms",
    resolved: "Error rate at baseline for an hour; {other} has recovered too.",
    cause_note: "Driver upgrade reset the connection pool to 10 connections per instance",
    fix_note: "Rollback to {prev}",
    alert: "The {svc} error-budget burn alert",
    postmortem: Some(PostmortemText {
        summary: "Version {ver} of {svc} upgraded its database driver. The new driver ignores \
                  the old name of the pool-size setting and falls back to 10 connections per \
                  instance instead of 50, so under normal traffic requests queued for a \
                  connection and timed out.",
        impact: "Between a quarter and a third of requests to {svc} failed with 503 at the peak. \
                 {other} showed an error page for the affected requests.",
        root_causes: "- The driver's new major version renamed the pool-size setting; the old \
                      name is ignored without a warning.\n\
                      - Staging runs at a tenth of production traffic, where 10 connections per \
                      instance are enough, so the change was invisible there.\n\
                      - The dependency update arrived as one automated pull request among \
                      twelve that week; its change log was long and the rename was in the \
                      middle of it.",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "The setting uses its new name, and the service logs its effective pool size at \
              start-up. A start-up check refuses to run with unknown settings, so a rename can \
              no longer be ignored.",
        went_well: "- The error-budget alert fired early and pointed at {svc} directly.\n\
                    - Connection wait time is on the service dashboard, which made the cause \
                    clear within ten minutes.\n\
                    - Portolan listed {ver} as the deployment that had just finished, with the \
                    driver upgrade in its commits.",
        went_wrong: "- Staging traffic is too low to show pool exhaustion.\n\
                     - Settings with unknown names are ignored instead of refused.\n\
                     - Automated dependency updates with breaking changes look the same as \
                     patch updates in review.",
        lucky: "The database had headroom: had the pool been set too large instead of too small, \
                the database could have run out of connections for every service that uses it.",
    }),
};

pub(super) const BROKEN_LINKS: Story = Story {
    cause: Cause::Hotfix,
    other: Other::None,
    fits: backend,
    title: "Malformed links in {svc} responses since {ver}",
    summary: "Some {nouns} returned by {svc} since {ver} carry links with a doubled slash, \
              which a few older app versions cannot open.",
    noticed: "Only links built from the CDN base URL are affected; the base URL setting now ends \
              with a slash and {ver} adds another.",
    identified: "{ver} joins URLs by concatenation; hotfix {prev} uses the URL library instead",
    mitigated: "Hotfix {prev} is in production; new responses carry well-formed links",
    resolved: "Links are well formed; cached responses expired within the hour.",
    cause_note: "Concatenates the CDN base URL and paths, doubling the slash",
    fix_note: "Hotfix {prev}",
    alert: "A report from customer support",
    postmortem: None,
};

pub(super) const RETRY_STORM: Story = Story {
    cause: Cause::Rollback,
    other: Other::Callee,
    fits: caller,
    title: "{svc} retries overloading {other} after {ver}",
    summary: "Since {ver}, {svc} retries failed calls to {other} immediately and up to five \
              times. A short slowdown of {other} turned into a flood of retries that keeps it \
              overloaded.",
    noticed: "Calls from {svc} to {other} went from 800 to 4,000 a second while the number of \
              incoming requests stayed flat; nearly all of the extra calls are retries.",
    identified: "{ver} replaced the HTTP client; its retry policy has no backoff and no budget. \
                 Rolling back to {prev}",
    mitigated: "Rolled back to {prev}; calls to {other} are back to 800 a second and its latency \
                is normal",
    resolved: "Both services stable for an hour.",
    cause_note: "New HTTP client retries immediately, five times, with no retry budget",
    fix_note: "Rollback to {prev}",
    alert: "The latency alert of {other} (p99 above 1 s for five minutes)",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} moved to a new HTTP client whose default retry policy retries five \
                  times with no delay. When {other} slowed down for a moment, the retries \
                  multiplied its load by five and kept it overloaded until {svc} was rolled back \
                  to {prev}.",
        impact: "Requests that needed {other} were slow or failed: the p99 latency of {svc} rose \
                 from 300 ms to over 4 s, and about 12% of its requests timed out.",
        root_causes: "- The new client's defaults differ from the old client's (three retries \
                      with exponential backoff and a retry budget of 10% of calls), and the \
                      migration kept the defaults.\n\
                      - {other} has no per-caller rate limit, so one caller's retries could \
                      take all of its capacity.\n\
                      - Nothing in staging slows {other} down, so the retry behaviour under \
                      failure was never exercised before production.",
        trigger: "A garbage-collection pause on {other} a few minutes after the production \
                  deployment of {svc} {ver} (finished at {cause_at}) made a burst of calls \
                  fail, and the retries took it from there.",
        fix: "The client is configured with exponential backoff with jitter, at most two \
              retries, and a retry budget. {other} limits each caller to twice its usual rate. \
              Staging runs a weekly fault-injection test that slows each dependency down.",
        went_well: "- The ratio of outgoing to incoming calls on the {svc} dashboard made the \
                    retry storm obvious.\n\
                    - The teams of both services worked from one incident channel instead of \
                    two.\n\
                    - A duplicate incident opened by a caller was merged within minutes, so \
                    everyone followed one timeline.",
        went_wrong: "- Client defaults changed silently with the library change.\n\
                     - One caller can saturate {other}.\n\
                     - The alert fired on {other}, the victim, so the first minutes went into \
                     investigating the wrong service.",
        lucky: "{other} recovered by itself once the retries stopped; a service that needs a \
                restart to recover would have extended the impact.",
    }),
};

pub(super) const VERBOSE_LOGGING: Story = Story {
    cause: Cause::Rollback,
    other: Other::None,
    fits: backend,
    title: "{svc} latency above its objective after {ver}",
    summary: "p99 latency of {svc} doubled after {ver}; log volume from the service went up \
              twenty times.",
    noticed: "Instances of {ver} spend a third of their CPU time writing logs; debug logging is \
              on for the request handler.",
    identified: "{ver} ships a logging configuration with the handler at debug level; rolling \
                 back to {prev}",
    mitigated: "Back on {prev}; latency and log volume are normal",
    resolved: "Latency within its objective for an hour.",
    cause_note: "Debug logging left on for the request handler",
    fix_note: "Rollback to {prev}",
    alert: "The latency objective alert of {svc}",
    postmortem: None,
};

pub(super) const DROPPED_MESSAGES: Story = Story {
    cause: Cause::Hotfix,
    other: Other::None,
    fits: consumer,
    title: "{svc} skipping a share of stream messages since {ver}",
    summary: "Since {ver}, {svc} acknowledges stream messages before processing them. Messages \
              whose processing fails are lost instead of retried, so some {nouns} are missing.",
    noticed: "The count of {nouns} written by {svc} is about 3% below the count of messages \
              consumed; the dead-letter topic has received nothing since {ver}.",
    identified: "{ver} moved the acknowledgement before the processing step. Hotfix {prev} moves \
                 it back; the lost messages will be replayed from the stream",
    mitigated: "Hotfix {prev} is in production; the replay of the affected window is running",
    resolved: "The replay finished and the counts match again.",
    cause_note: "Acknowledges messages before processing them, so failures are not retried",
    fix_note: "Hotfix {prev}, plus a replay of the messages since the deployment",
    alert: "The daily reconciliation job",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} changed the consumer loop so that messages were acknowledged \
                  before they were processed. Processing fails for a few percent of messages on \
                  a normal day (a dependency times out, a lock is held); those messages were \
                  acknowledged anyway and never retried.",
        impact: "About 3% of the {nouns} that {svc} should have written between the deployment \
                 and the hotfix were missing until the replay. Downstream reports for those days \
                 were low until they were recomputed.",
        root_causes: "- The refactoring in {ver} moved the acknowledgement into a shared helper \
                      that acknowledges on receipt; the helper's name does not say so.\n\
                      - _To do: why the integration tests pass with acknowledgement on receipt \
                      (they inject no processing failures?)._",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "_Draft:_ hotfix {prev} restored acknowledgement after processing; the replay \
              rebuilt the missing {nouns}. Permanent fixes to agree with the team.",
        went_well: "",
        went_wrong: "",
        lucky: "",
    }),
};

pub(super) const TABLE_LOCK: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: stateful,
    title: "{svc} timing out during the schema migration of {ver}",
    summary: "The schema migration that runs with {ver} holds a lock on the main {noun} table; \
              reads and writes of {nouns} wait behind it and time out. {other} cannot serve \
              requests that need {svc}.",
    noticed: "Every query on the {noun} table waits on a lock held by the migration job of \
              {ver}; the job is adding a column with a default to a table of 80 million rows.",
    identified: "The migration rewrites the whole table under an exclusive lock. Cancelling the \
                 migration job and rolling back to {prev}",
    mitigated: "Migration job cancelled, lock released, {svc} back on {prev}; queries are fast \
                again",
    resolved: "Queues drained and error rates at baseline for an hour. The migration will be \
               redone in steps that take no long lock.",
    cause_note: "Its migration rewrote the {noun} table under an exclusive lock",
    fix_note: "Rollback to {prev}, after cancelling the migration job",
    alert: "The availability alerts of {svc} and {other}, within a minute of each other",
    postmortem: Some(PostmortemText {
        summary: "Deploying {svc} {ver} ran a schema migration that added a column with a \
                  default value to the {noun} table. On this database version that rewrites the \
                  whole table under an exclusive lock, so every query on it waited and timed out \
                  until the migration job was cancelled and {svc} rolled back to {prev}.",
        impact: "{svc} failed nearly every request that touched {nouns}, and {other} could not \
                 serve the pages that need them. This is the longest full outage of the year for \
                 these services.",
        root_causes: "- Adding a column with a default rewrites the table on the version of the \
                      database {svc} runs; on the newer version used in development it does not, \
                      so the migration was instant everywhere it was tried.\n\
                      - The staging copy of the {noun} table has 200,000 rows, so even there the \
                      rewrite took a second.\n\
                      - Migrations run as part of the deployment with no lock timeout, so the \
                      migration waited indefinitely instead of giving up.\n\
                      - No migration linter runs in the pipeline to flag operations that take \
                      long locks.",
        trigger: "The schema migration of the {svc} {ver} deployment, which started a few \
                  minutes before {cause_at}.",
        fix: "The column is now added in three steps (add without default, backfill in batches, \
              then set the default), none of which holds a long lock. Migrations run with a lock \
              timeout of five seconds, and a migration linter in the pipeline flags table \
              rewrites.",
        went_well: "- Both alerts fired within a minute, and the lock was visible in the \
                    database dashboard straight away.\n\
                    - The runbook has a section on cancelling a migration job safely, which \
                    made the mitigation quick and sure.\n\
                    - The incident commander posted a status page update within 15 minutes.",
        went_wrong: "- Development, staging and production run different database versions, so \
                     the same migration behaves differently in each.\n\
                     - Staging data is too small to show the cost of a migration.\n\
                     - Migrations have no lock timeout.",
        lucky: "The deployment went out mid-morning rather than during the evening peak, when \
                the same outage would have affected three times as many shoppers.",
    }),
};

pub(super) const FLAG_DEFAULT: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: backend,
    title: "Unfinished feature switched on for everyone by {svc} {ver}",
    summary: "{ver} flipped the default of a feature flag, so an unfinished code path of {svc} \
              served every request; {other} shows incomplete results.",
    noticed: "Responses from {ver} follow the new code path for all traffic; the flag service \
              has no value for the flag, so the code default applies.",
    identified: "{ver} changed the code default of the flag from off to on; rolling back to \
                 {prev}",
    mitigated: "Back on {prev}; responses are complete again",
    resolved: "Stable for an hour; the flag now has an explicit value in every environment.",
    cause_note: "Changed a feature flag's code default to on",
    fix_note: "Rollback to {prev}",
    alert: "The synthetic checkout journey",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} changed the code default of the flag guarding an unfinished \
                  feature from off to on, to make local development easier. The flag had never \
                  been given a value in production, so the code default applied there too and \
                  the unfinished path served all traffic until the rollback to {prev}.",
        impact: "For the whole incident, responses of {svc} left out part of their data, and \
                 {other} showed incomplete pages. About 2% of the shoppers who saw them left \
                 their session; orders dropped by an estimated 180 against the same hour of the \
                 previous week.",
        root_causes: "- Flags without a value in an environment fall back to the default in the \
                      code, so a code change can switch a feature on in production without any \
                      change to the flag.\n\
                      - The pull request described the change as a development convenience; the \
                      diff does not show that production relies on the same default.\n\
                      - No check compares flag defaults between releases.",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "Flags must now have an explicit value in each environment before code that reads \
              them is deployed there; the flag service reports reads of unset flags, and the \
              pipeline lists flag default changes in the deployment summary.",
        went_well: "- The synthetic checkout journey noticed the incomplete pages within \
                    minutes.\n\
                    - The rollback restored complete responses at once.",
        went_wrong: "- The on-call engineer should have checked the flag values in production \
                     before approving the release.\n\
                     - Flag defaults live in code, far from the flag service where people look \
                     for flag values.\n\
                     - The synthetic journey checks that pages load, not that they are \
                     complete, so it took a human look at the page to confirm the impact.",
        lucky: "The unfinished path returned less data, not wrong data: no order was placed \
                with a wrong price or quantity.",
    }),
};

pub(super) const N_PLUS_ONE: Story = Story {
    cause: Cause::Rollback,
    other: Other::None,
    fits: stateful,
    title: "{svc} slow for listing requests after {ver}",
    summary: "Listing requests to {svc} take five to ten times longer since {ver}; the database \
              behind it is at 85% CPU.",
    noticed: "Each listing request of {ver} makes one query per {noun} instead of one query in \
              total.",
    identified: "The new serializer in {ver} loads related rows one by one; rolling back to \
                 {prev}",
    mitigated: "Rolled back to {prev}; listing latency and database CPU are normal",
    resolved: "Normal for an hour.",
    cause_note: "Serializer loads related rows with one query each",
    fix_note: "Rollback to {prev}",
    alert: "The database CPU alert",
    postmortem: Some(PostmortemText {
        summary: "{svc} {ver} introduced a serializer that loads related rows one query at a \
                  time. Listing requests went from one query to one per {noun}, their latency \
                  grew five to ten times and the database approached its CPU limit until the \
                  rollback to {prev}.",
        impact: "Listing requests to {svc} took 1.5 s at p50 instead of 200 ms for the \
                 duration of the incident. No request failed.",
        root_causes: "",
        trigger: "The production deployment of {svc} {ver}, which finished at {cause_at}.",
        fix: "",
        went_well: "",
        went_wrong: "",
        lucky: "",
    }),
};

pub(super) const HEALTH_CHECK: Story = Story {
    cause: Cause::Rollback,
    other: Other::Caller,
    fits: backend,
    title: "{svc} returning 503 for a share of requests after {ver}",
    summary: "Since {ver}, the load balancer marks {svc} instances unhealthy for a few seconds \
              at a time, and requests routed to them in those seconds get 503. {other} sees the \
              errors.",
    noticed: "The health check of {ver} calls the database and times out under load, so \
              instances flap between healthy and unhealthy.",
    identified: "{ver} made the liveness endpoint check the database; rolling back to {prev}",
    mitigated: "Rolled back to {prev}; no instance has been marked unhealthy since",
    resolved: "No 503s for an hour.",
    cause_note: "Liveness check depends on the database and times out under load",
    fix_note: "Rollback to {prev}",
    alert: "The availability alert of {svc}",
    postmortem: None,
};

/// Card payments slowed by the payment provider (no deployment involved).
pub(super) const PROVIDER_LATENCY: PostmortemText = PostmortemText {
    summary: "The card payment provider's authorisation API slowed down in one of its regions. \
              {svc} waited up to its 10-second timeout on each authorisation, checkout slowed \
              down for card payments, and a share of them timed out until traffic was moved to \
              the provider's other region.",
    impact: "Card payments took 6 s at p50 instead of 1.2 s; 9% of them timed out and the \
             shopper was asked to try again. Wallet payments were not affected. Checkout \
             conversion dropped by an estimated 4% for the duration.",
    root_causes: "- {svc} sends every authorisation to one provider region and switches only \
                  when that region is down, not when it is slow.\n\
                  - The 10-second timeout is longer than shoppers wait: most abandoned the page \
                  before the timeout ended the request.\n\
                  - The provider's status page showed the degradation 25 minutes after it began, \
                  so our checks of it did not help.",
    trigger: "A degradation of the payment provider's authorisation API in its primary region, \
              starting at {cause_at}.",
    fix: "Moving authorisations to the provider's secondary region ended the impact. {svc} now \
          routes by measured latency between the two regions, and the timeout is 4 s with one \
          retry in the other region.",
    went_well: "- The provider dashboard in Portolan's runbook link showed the regional latency \
                split at once.\n\
                - The region switch is a configuration change that needs no deployment, and it \
                worked as rehearsed.\n\
                - The provider's support confirmed the degradation within 30 minutes.",
    went_wrong: "- The region switch is manual and needs a judgement about slowness that the \
                 system could make itself.\n\
                 - The timeout was chosen years ago for a different provider.",
    lucky: "It happened on a weekday afternoon, not during the Friday evening peak.",
};

/// Brokers of the event bus running out of disk (no deployment involved).
pub(super) const BUS_DISK: PostmortemText = PostmortemText {
    summary: "Three brokers of the {svc} ran above 90% disk use after a consumer fell behind and \
              a topic's retention was extended for a data backfill. The brokers slowed down \
              writes to protect themselves, and producers such as {other} saw publishing \
              latency of several seconds until space was freed.",
    impact: "Publishing to the {svc} took 2 to 8 s instead of 20 ms for about an hour. Order \
             confirmations and stock updates were delayed by up to 15 minutes; no message was \
             lost.",
    root_causes: "- Retention of the clickstream topic was raised from 3 to 14 days for a \
                  backfill, through a change that did not show its effect on disk use.\n\
                  - Disk alerts fire at 85% per broker, but the growth was fast enough that the \
                  brokers reached 90% twenty minutes after the alert.\n\
                  - Partitions of the largest topics are not spread evenly: three brokers hold \
                  40% of the data.",
    trigger: "The retention change took effect at {cause_at}, while the analytics consumer \
              was six hours behind, so nothing could be deleted.",
    fix: "Retention was set back to 3 days, which freed 40% of the disk within minutes. \
          Retention changes now go through a review that shows their projected disk use, and \
          partitions were rebalanced across all brokers.",
    went_well: "- The disk alert fired before any write was refused.\n\
                - Producers buffered and retried, so no message was lost.\n\
                - The platform runbook for disk pressure listed retention as the first lever, \
                and it worked.",
    went_wrong: "- The disk forecast on the dashboard uses a seven-day trend, which cannot \
                 show a jump within hours.\n\
                 - Retention changes are made through a shared configuration file with no \
                 preview of their effect.",
    lucky: "The consumer that had fallen behind caught up within the hour; otherwise the \
            retention change alone would not have freed enough space.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_story_fits_some_service() {
        for story in [
            &CRASH_LOOP,
            &CONTRACT_BREAK,
            &STALE_CACHE,
            &MEMORY_GROWTH,
            &POOL_EXHAUSTION,
            &BROKEN_LINKS,
            &RETRY_STORM,
            &VERBOSE_LOGGING,
            &DROPPED_MESSAGES,
            &TABLE_LOCK,
            &FLAG_DEFAULT,
            &N_PLUS_ONE,
            &HEALTH_CHECK,
        ] {
            let fitting = super::super::SERVICES
                .iter()
                .filter(|s| (story.fits)(s))
                .count();
            assert!(fitting >= 5, "{}: {fitting}", story.title);
        }
    }
}
