//! `portolan gate wait` and `portolan gate request`: a pipeline asks for a promotion and waits for
//! its gate, through the REST API of a running Portolan, with an API token.
//!
//! The token comes from the environment (`PORTOLAN_TOKEN`) or a file (`--token-file`), never from
//! a command-line value: the arguments of a process are readable by every user of the machine
//! (`ps`, `/proc/<pid>/cmdline`) and are often echoed into build logs, while its environment is
//! readable only by its own user. The token is never printed.
//!
//! `wait` prints the request's page at once, then what its gate still waits for (only when that
//! changes), then the outcome and why; it loops on the long-poll `GET
//! /api/v1/promotions/{id}/wait`, and rides out network errors and 5xx answers with growing
//! pauses (saying so) until its own timeout. Its exit code tells the outcome ([`Outcome::code`]).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use openidconnect::reqwest;
use portolan_api::{
    Condition, ConditionStatus, ErrorBody, NewPromotion, Promotion, PromotionState,
};
use tokio::time::Instant;

use crate::promotions::model;

/// Exit codes of `portolan gate`. Clap itself exits with 2 when the command line is wrong, so the
/// outcomes of a gate start at 10.
pub mod exit {
    /// Approved (or already deployed): go ahead.
    pub const APPROVED: u8 = 0;
    /// Portolan could not be asked: no or bad token (401/403), unknown service or environment
    /// (404/422), an unreadable answer, or Portolan unreachable until the timeout.
    pub const ERROR: u8 = 1;
    /// Clap's own exit code for a wrong command line (never returned by this module).
    pub const USAGE: u8 = 2;
    pub const REJECTED: u8 = 10;
    pub const EXPIRED: u8 = 11;
    pub const CANCELLED: u8 = 12;
    /// The timeout passed with the request still pending.
    pub const TIMED_OUT: u8 = 13;
}

/// The exit codes as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0   approved (or already deployed): go ahead
  1   error: no or bad token (401/403), unknown service, environment or request (404/422),
      Portolan unreachable until the timeout; the reason is printed
  2   the command line is wrong
  10  rejected (who rejected it and their comment are printed)
  11  expired before anyone decided
  12  cancelled (by whom and why are printed)
  13  timed out: still pending when --timeout passed";

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected,
    Expired,
    Cancelled,
    TimedOut,
    Error,
}

impl Outcome {
    /// The outcome a request in `state` stands for; `None` while it is pending.
    pub fn of(state: PromotionState) -> Option<Outcome> {
        match state {
            PromotionState::Pending => None,
            PromotionState::Approved | PromotionState::Deployed => Some(Outcome::Approved),
            PromotionState::Rejected => Some(Outcome::Rejected),
            PromotionState::Expired => Some(Outcome::Expired),
            PromotionState::Cancelled => Some(Outcome::Cancelled),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Outcome::Approved => exit::APPROVED,
            Outcome::Error => exit::ERROR,
            Outcome::Rejected => exit::REJECTED,
            Outcome::Expired => exit::EXPIRED,
            Outcome::Cancelled => exit::CANCELLED,
            Outcome::TimedOut => exit::TIMED_OUT,
        }
    }
}

/// `30m`, `2h`, `90s`, `1h30m`, `1d`: a positive duration of at most 30 days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || {
        format!("'{text}' is not a duration: write a number and a unit, e.g. 90s, 30m, 2h, 1h30m")
    };
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || text.is_empty() {
        return Err(bad());
    }
    if total == 0 {
        return Err(format!("'{text}' is no time at all: wait at least 1s"));
    }
    if total > 30 * 86_400 {
        return Err(format!("'{text}' is more than 30 days"));
    }
    Ok(Duration::from_secs(total))
}

/// A duration for people: `1 h 30 min`, `45 s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3_600, s % 3_600 / 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec} s"));
    }
    parts.join(" ")
}

/// The pause before retry number `attempt` (0 first): 1 s, doubling, at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

/// What the gate holds a request back for, remembered between reads so that only news is
/// printed: a condition that starts holding it, one whose status or reason changed (beyond a
/// clock ticking down: "2 h 10 min left" → "2 h 9 min left" is no news), and one that stopped.
#[derive(Debug, Default)]
pub struct Progress {
    holding: Vec<(String, ConditionStatus, String)>,
}

impl Progress {
    /// The lines to print for the gate's conditions as they are now.
    pub fn update(&mut self, conditions: &[Condition]) -> Vec<String> {
        let mut lines = Vec::new();
        for c in conditions {
            let before = self.holding.iter().find(|(k, _, _)| *k == c.key);
            let news = match (before, c.status) {
                (None, ConditionStatus::Pass) => false,
                (Some((_, status, reason)), now) => {
                    *status != now || !same_but_for_numbers(reason, &c.reason)
                }
                (None, _) => true,
            };
            if news {
                let label = match c.status {
                    ConditionStatus::Pass => "passes",
                    ConditionStatus::Waiting => "waiting",
                    ConditionStatus::Fail => "cannot pass",
                };
                lines.push(format!("{label}: {}", c.reason));
            }
        }
        self.holding = conditions
            .iter()
            .filter(|c| c.status != ConditionStatus::Pass)
            .map(|c| (c.key.clone(), c.status, c.reason.clone()))
            .collect();
        lines
    }
}

/// Whether two reasons differ only in their numbers (a countdown).
fn same_but_for_numbers(a: &str, b: &str) -> bool {
    let shape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut in_number = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    out.push('#');
                }
                in_number = true;
            } else {
                out.push(c);
                in_number = false;
            }
        }
        out
    };
    shape(a) == shape(b)
}

/// How to reach Portolan.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// Portolan's address, e.g. https://portolan.example.com
    #[arg(long, env = "PORTOLAN_URL")]
    pub url: String,
    /// A file holding the API token. Without it the token is read from the environment variable
    /// PORTOLAN_TOKEN. There is no option taking the token itself: other users of the machine
    /// can read a process's arguments, and build logs often echo them.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// A PEM file with the certificate authority that signed Portolan's TLS certificate, when it
    /// is not a public one (an internal CA).
    #[arg(long, env = "PORTOLAN_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// What to promote. Given as a whole or not at all: --service needs --version and --to.
#[derive(Debug, Clone, clap::Args)]
pub struct Ask {
    /// The service's slug.
    #[arg(long, requires_all = ["version", "to"])]
    pub service: Option<String>,
    /// The version to promote, e.g. a tag or commit id.
    #[arg(long, requires = "service")]
    pub version: Option<String>,
    /// The environment to promote into.
    #[arg(long, requires = "service")]
    pub to: Option<String>,
    /// Where it comes from (by default the stage before --to; only a hotfix may name an earlier one).
    #[arg(long, requires = "service")]
    pub from: Option<String>,
    /// A hotfix, which the target's gate may let skip stages.
    #[arg(long, requires = "service")]
    pub hotfix: bool,
    /// Why, for the approvers.
    #[arg(long, requires = "service")]
    pub reason: Option<String>,
}

impl Ask {
    /// The request to make, when a service was named.
    fn new_promotion(&self) -> Option<NewPromotion> {
        Some(NewPromotion {
            service: self.service.clone()?,
            version: self.version.clone().unwrap_or_default(),
            to: self.to.clone().unwrap_or_default(),
            from: self.from.clone(),
            hotfix: self.hotfix,
            reason: self.reason.clone(),
        })
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum GateCommand {
    /// Ask for a promotion (or name one with --id), then wait until its gate decides. Prints the
    /// request's page at once, what the gate still waits for as it changes, and the outcome.
    #[command(after_help = EXIT_CODES_HELP)]
    Wait(WaitArgs),
    /// Ask for a promotion and print its number, page and state (asking again for the same
    /// pending promotion answers the same request).
    Request(RequestArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "service"])))]
pub struct WaitArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Wait for this request instead of asking (the token then needs only the read scope).
    #[arg(long)]
    pub id: Option<i64>,
    #[command(flatten)]
    pub ask: Ask,
    /// How long to wait in all, e.g. 90s, 30m, 2h, 1h30m.
    #[arg(long, default_value = "60m", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["service"])))]
pub struct RequestArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub ask: Ask,
    /// Print the request as JSON (the API's answer, with its page as `url`).
    #[arg(long)]
    pub json: bool,
}

/// Runs a `portolan gate` command, printing to `out` (progress and outcome) and `err` (retries
/// and errors); returns the exit code.
pub async fn run(command: GateCommand, out: &mut impl Write, err: &mut impl Write) -> u8 {
    match command {
        GateCommand::Wait(args) => wait(args, out, err).await.code(),
        GateCommand::Request(args) => request(args, out, err).await,
    }
}

/// An API token; never shown.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Why a call did not give a request.
#[derive(Debug)]
enum Failure {
    /// Worth trying again: the network, a timeout, a 5xx, 429.
    Transient(String),
    /// Trying again will not help: the message says why.
    Refused(String),
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Token,
}

impl Client {
    fn new(c: &Connection) -> Result<Client, String> {
        let base = url::Url::parse(c.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                format!(
                    "--url (PORTOLAN_URL) '{}' is not an http(s) address such as https://portolan.example.com",
                    c.url
                )
            })?;
        let token = match &c.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("could not read --token-file {}: {e}", path.display()))?,
            None => std::env::var("PORTOLAN_TOKEN").unwrap_or_default(),
        };
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(match &c.token_file {
                Some(path) => format!("--token-file {} is empty", path.display()),
                None => "no API token: set PORTOLAN_TOKEN (or pass --token-file) to a token with \
                         the promotions:write scope (read is enough with --id)"
                    .into(),
            });
        }
        let mut builder = reqwest::ClientBuilder::new()
            // Portolan answers where it is asked; a redirect would carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("portolan-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &c.ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("could not read --ca-cert {}: {e}", path.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                format!("--ca-cert {} is not a PEM certificate: {e}", path.display())
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| format!("could not set up HTTP: {e}"))?;
        Ok(Client {
            http,
            base: base.as_str().trim_end_matches('/').to_string(),
            token: Token(token),
        })
    }

    fn page(&self, id: i64) -> String {
        format!("{}/promotions/{id}", self.base)
    }

    async fn ask(&self, new: &NewPromotion) -> Result<Promotion, Failure> {
        let body = serde_json::to_vec(new).map_err(|e| Failure::Refused(e.to_string()))?;
        let req = self
            .http
            .post(format!("{}/api/v1/promotions", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(Duration::from_secs(60));
        self.send(req).await
    }

    async fn get(&self, id: i64) -> Result<Promotion, Failure> {
        let req = self
            .http
            .get(format!("{}/api/v1/promotions/{id}", self.base))
            .timeout(Duration::from_secs(60));
        self.send(req).await
    }

    /// The long-poll: answers when the request is decided, or after `poll` with it pending.
    async fn wait(&self, id: i64, poll: Duration) -> Result<Promotion, Failure> {
        // Rounded up: a wait never ends before the time asked for.
        let whole = poll.as_secs() + u64::from(poll.subsec_nanos() > 0);
        let seconds = whole.clamp(1, 300);
        let req = self
            .http
            .get(format!(
                "{}/api/v1/promotions/{id}/wait?timeout_seconds={seconds}",
                self.base
            ))
            .timeout(Duration::from_secs(seconds + 30));
        self.send(req).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Promotion, Failure> {
        let res = req
            .bearer_auth(&self.token.0)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failure::Transient(plain(&e)))?;
        let status = res.status();
        let location = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = res
            .bytes()
            .await
            .map_err(|e| Failure::Transient(plain(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Refused(format!(
                    "Portolan's answer ({status}) is not a promotion request: {e}"
                ))
            });
        }
        let problem = problem_of(&bytes);
        let said = match &problem {
            Some(p) => format!("{status}: {p}"),
            None => status.to_string(),
        };
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            return Err(Failure::Transient(format!("Portolan answered {said}")));
        }
        Err(Failure::Refused(if status.is_redirection() {
            format!(
                "Portolan answered {status}, sending us to {}: use that address as --url",
                location.as_deref().unwrap_or("another address")
            )
        } else if status == reqwest::StatusCode::UNAUTHORIZED
            || status == reqwest::StatusCode::FORBIDDEN
        {
            format!("Portolan refused the API token ({said})")
        } else {
            format!("Portolan refused the request ({said})")
        }))
    }
}

/// A reqwest error, with its causes, in one line.
fn plain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

/// The message of an error envelope, with its fields.
fn problem_of(bytes: &[u8]) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(bytes).ok()?;
    let mut text = body.error.message;
    if body.error.fields.len() > 1 {
        let fields: Vec<String> = body
            .error
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let _ = write!(text, " ({})", fields.join("; "));
    }
    Some(text)
}

/// How a call with retries ended without a request.
enum Stop {
    Refused(String),
    /// The deadline passed while Portolan could not be reached; the last failure.
    Deadline(String),
}

/// Calls `f` until it gives a request, is refused, or `deadline` passes, pausing longer after
/// each transient failure and saying so on `err`.
async fn retrying<F, Fut>(
    deadline: Instant,
    err: &mut impl Write,
    mut f: F,
) -> Result<Promotion, Stop>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Promotion, Failure>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(p) => return Ok(p),
            Err(Failure::Refused(why)) => return Err(Stop::Refused(why)),
            Err(Failure::Transient(why)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Stop::Deadline(why));
                }
                let pause = backoff(attempt).min(left);
                attempt += 1;
                let _ = writeln!(
                    err,
                    "could not reach Portolan ({why}); trying again in {}",
                    human(pause)
                );
                let _ = err.flush();
                tokio::time::sleep(pause).await;
            }
        }
    }
}

fn say(out: &mut impl Write, line: impl std::fmt::Display) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The first lines: which request, and where a person opens it.
fn introduce(out: &mut impl Write, p: &Promotion, page: &str) {
    say(
        out,
        format_args!(
            "promotion #{}: {} {} from {} to {}{} is {}",
            p.id,
            p.service.slug,
            p.version,
            p.from,
            p.to,
            if p.hotfix { " (hotfix)" } else { "" },
            p.state.as_str()
        ),
    );
    say(out, page);
}

/// The longest one long-poll waits: progress is printed at least this often when it changes.
const POLL: Duration = Duration::from_secs(60);
/// With nothing new, a line at least this often, so a log shows the wait is alive.
const HEARTBEAT: Duration = Duration::from_secs(600);

async fn wait(args: WaitArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let started = Instant::now();
    let deadline = started + args.timeout;
    let client = match Client::new(&args.connection) {
        Ok(c) => c,
        Err(why) => {
            say(err, format_args!("portolan gate wait: {why}"));
            return Outcome::Error;
        }
    };
    let new = args.ask.new_promotion();
    let mut progress = Progress::default();
    let mut last_line = Instant::now();
    // The request as last read; none before the first answer.
    let mut seen: Option<Promotion> = None;
    loop {
        let read = match (&seen, &new, args.id) {
            (None, Some(new), _) => retrying(deadline, err, || client.ask(new)).await,
            (None, None, Some(id)) => retrying(deadline, err, || client.get(id)).await,
            (None, None, None) => Err(Stop::Refused(
                "name a request with --id, or what to promote with --service, --version and --to"
                    .into(),
            )),
            (Some(p), _, _) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let id = p.id;
                retrying(deadline, err, || client.wait(id, left.min(POLL))).await
            }
        };
        let p = match (read, &seen) {
            (Ok(p), _) => p,
            (Err(Stop::Refused(why)), _) => {
                say(err, format_args!("portolan gate wait: {why}"));
                return Outcome::Error;
            }
            (Err(Stop::Deadline(why)), None) => {
                say(
                    err,
                    format_args!(
                        "portolan gate wait: gave up after {}: Portolan could not be reached ({why})",
                        human(args.timeout)
                    ),
                );
                return Outcome::Error;
            }
            (Err(Stop::Deadline(why)), Some(p)) => {
                say(
                    err,
                    format_args!("the last attempt to reach Portolan failed: {why}"),
                );
                return timed_out(out, p, args.timeout);
            }
        };
        if seen.is_none() {
            introduce(out, &p, &client.page(p.id));
        }
        for line in progress.update(&p.conditions) {
            say(out, line);
            last_line = Instant::now();
        }
        if let Some(outcome) = Outcome::of(p.state) {
            say(out, model::outcome(&p));
            return outcome;
        }
        if deadline.saturating_duration_since(Instant::now()) < Duration::from_secs(1) {
            return timed_out(out, &p, args.timeout);
        }
        if last_line.elapsed() >= HEARTBEAT {
            say(
                out,
                format_args!(
                    "still pending after {}; {}",
                    human(Duration::from_secs(started.elapsed().as_secs())),
                    model::outcome(&p)
                ),
            );
            last_line = Instant::now();
        }
        seen = Some(p);
    }
}

fn timed_out(out: &mut impl Write, p: &Promotion, timeout: Duration) -> Outcome {
    say(
        out,
        format_args!(
            "timed out after {}: promotion #{} is still pending; {}",
            human(timeout),
            p.id,
            model::outcome(p)
        ),
    );
    Outcome::TimedOut
}

/// How long `request` rides out network errors.
const REQUEST_RETRIES_FOR: Duration = Duration::from_secs(60);

async fn request(args: RequestArgs, out: &mut impl Write, err: &mut impl Write) -> u8 {
    let client = match Client::new(&args.connection) {
        Ok(c) => c,
        Err(why) => {
            say(err, format_args!("portolan gate request: {why}"));
            return exit::ERROR;
        }
    };
    let Some(new) = args.ask.new_promotion() else {
        say(
            err,
            "portolan gate request: name what to promote with --service, --version and --to",
        );
        return exit::ERROR;
    };
    let deadline = Instant::now() + REQUEST_RETRIES_FOR;
    let p = match retrying(deadline, err, || client.ask(&new)).await {
        Ok(p) => p,
        Err(Stop::Refused(why) | Stop::Deadline(why)) => {
            say(err, format_args!("portolan gate request: {why}"));
            return exit::ERROR;
        }
    };
    let page = client.page(p.id);
    if args.json {
        let mut value = serde_json::to_value(&p).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("url".into(), page.into());
        }
        say(out, value);
    } else {
        introduce(out, &p, &page);
        say(out, model::outcome(&p));
    }
    exit::APPROVED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let secs = |t: &str| parse_duration(t).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1_800));
        assert_eq!(secs("2h"), Ok(7_200));
        assert_eq!(secs("1h30m"), Ok(5_400));
        assert_eq!(secs(" 1d "), Ok(86_400));
        for bad in ["", "30", "m", "1.5h", "10 m", "2w", "-5s", "h1"] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains("is not a duration"), "{bad}: {e}");
        }
        assert!(
            parse_duration("0s")
                .expect_err("zero")
                .contains("no time at all")
        );
        assert!(
            parse_duration("31d")
                .expect_err("too long")
                .contains("more than 30 days")
        );
        assert!(parse_duration("99999999999999999999h").is_err(), "overflow");
        assert_eq!(human(Duration::from_secs(5_400)), "1 h 30 min");
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(3_601)), "1 h 1 s");
        assert_eq!(human(Duration::ZERO), "0 s");
    }

    #[test]
    fn every_outcome_has_its_own_exit_code_clear_of_clap_usage_errors() {
        use PromotionState::*;
        assert_eq!(Outcome::of(Pending), None);
        let codes: Vec<(PromotionState, u8)> = [Approved, Deployed, Rejected, Expired, Cancelled]
            .into_iter()
            .map(|s| (s, Outcome::of(s).expect("decided").code()))
            .collect();
        assert_eq!(
            codes,
            [
                (Approved, 0),
                (Deployed, 0),
                (Rejected, 10),
                (Expired, 11),
                (Cancelled, 12)
            ]
        );
        assert_eq!(Outcome::TimedOut.code(), 13);
        assert_eq!(Outcome::Error.code(), 1);
        let all = [
            Outcome::Approved,
            Outcome::Rejected,
            Outcome::Expired,
            Outcome::Cancelled,
            Outcome::TimedOut,
            Outcome::Error,
        ]
        .map(Outcome::code);
        let mut distinct = all.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), all.len(), "distinct: {all:?}");
        assert!(!all.contains(&exit::USAGE), "2 is clap's");
        for code in all {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n  {code} ")),
                "{code} is documented"
            );
        }
    }

    #[test]
    fn pauses_between_retries_grow_to_half_a_minute() {
        let pauses: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX).as_secs(), 30);
    }

    fn condition(key: &str, status: ConditionStatus, reason: &str) -> Condition {
        Condition {
            key: key.into(),
            status,
            reason: reason.into(),
        }
    }

    #[test]
    fn only_news_about_the_gate_is_printed() {
        use ConditionStatus::*;
        let mut p = Progress::default();
        let approvals = |reason| condition("approvals:Release managers", Waiting, reason);
        let two_more = "needs 2 more approvals from Release managers";
        let one_more = "needs 1 more approval from Release managers (approved: Ann)";
        let soak = |left: &str| {
            condition(
                "soak",
                Waiting,
                &format!("soak time: {left} left in staging"),
            )
        };
        let expiry = |reason| condition("expiry", Pass, reason);
        assert_eq!(
            p.update(&[
                expiry("expires in 2 d 23 h"),
                approvals(two_more),
                soak("2 h 10 min")
            ]),
            [
                format!("waiting: {two_more}"),
                "waiting: soak time: 2 h 10 min left in staging".into()
            ]
        );
        // Nothing changed but the clocks: nothing to say.
        assert!(
            p.update(&[
                expiry("expires in 2 d 22 h"),
                approvals(two_more),
                soak("2 h 9 min")
            ])
            .is_empty()
        );
        // An approval arrives.
        assert_eq!(
            p.update(&[approvals(one_more), soak("2 h 8 min")]),
            [format!("waiting: {one_more}")]
        );
        // The soak time ends and a freeze starts.
        let freeze = "freeze: audit until 2 Dec 2026 00:00 UTC";
        let frozen = [
            approvals(one_more),
            condition("soak", Pass, "ran 2 h 10 min in staging (needs 2 h 10 min)"),
            condition("freeze", Fail, freeze),
        ];
        assert_eq!(
            p.update(&frozen),
            [
                "passes: ran 2 h 10 min in staging (needs 2 h 10 min)".to_string(),
                format!("cannot pass: {freeze}")
            ]
        );
        // A condition that passed before and passes still is not news.
        assert!(p.update(&frozen).is_empty());
        // A status change with the same words is news.
        assert_eq!(
            p.update(&[approvals(one_more), condition("freeze", Waiting, freeze)]),
            [format!("waiting: {freeze}")]
        );
    }

    #[test]
    fn numbers_alone_do_not_make_news() {
        assert!(same_but_for_numbers(
            "soak time: 2 h 10 min left",
            "soak time: 1 h 9 min left"
        ));
        assert!(!same_but_for_numbers(
            "needs 2 more approvals",
            "needs 1 more approval"
        ));
        assert!(!same_but_for_numbers("2 h left", "2 h 1 min left"));
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let t = Token("ptl_secret".into());
        assert!(!format!("{t:?}").contains("ptl_secret"));
    }

    #[test]
    fn error_envelopes_are_read_with_their_fields() {
        let one = br#"{"error": {"code": "forbidden", "message": "this token lacks the promotions:write scope"}}"#;
        assert_eq!(
            problem_of(one).as_deref(),
            Some("this token lacks the promotions:write scope")
        );
        let two = br#"{"error": {"code": "validation_failed", "message": "2 fields are invalid",
            "fields": [{"field": "service", "message": "no service has the slug 'x'"},
                       {"field": "to", "message": "no environment has the slug 'y'"}]}}"#;
        assert_eq!(
            problem_of(two).as_deref(),
            Some(
                "2 fields are invalid (service: no service has the slug 'x'; to: no environment has the slug 'y')"
            )
        );
        assert_eq!(problem_of(b"<html>bad gateway</html>"), None);
    }
}
