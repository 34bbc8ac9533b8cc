//! The gate evaluator: a pure function from a policy, a request and the facts around it to
//! every condition of the gate, each pass / waiting / fail with a reason a person understands.
//! No I/O and no clock: the caller passes `now`, so every rule is testable at its edges.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use portolan_api::{AllowedHours, ApprovalRule, Condition, ConditionStatus, GatePolicy, Verdict};
use time::{Duration, OffsetDateTime};

/// Someone whose approval is on the request, as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct Approver {
    /// `<tenant id>:<object id>`.
    pub key: String,
    pub name: String,
    pub email: Option<String>,
    /// App roles as granted (`approver@prod`, `sre`).
    pub grants: Vec<String>,
    /// Entra group object ids.
    pub groups: Vec<String>,
    /// Whether their roles let them approve into the target environment at all.
    pub may_approve_here: bool,
}

/// What the gate judges.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub policy: &'a GatePolicy,
    /// The requester's key: their approval never counts.
    pub requester: &'a str,
    pub hotfix: bool,
    /// The environment it comes from, and the one just before the target (they differ when
    /// stages are skipped).
    pub source: &'a str,
    pub previous_stage: &'a str,
    pub target: &'a str,
    pub created_at: OffsetDateTime,
    /// The time the gate is judged at: now, or for a decided request the moment of its decision.
    pub now: OffsetDateTime,
    /// The request is decided (`now` is its decision): nothing is still to come.
    pub decided: bool,
    /// Who approved, in the order they did.
    pub approvals: &'a [Approver],
    /// When the version first succeeded in the source environment.
    pub succeeded_in_source: Option<OffsetDateTime>,
    /// The Entra group of the service's owning team, if it has one.
    pub owning_team_group: Option<&'a str>,
    /// Authors (names or e-mail addresses) of the commits being promoted.
    pub commit_authors: &'a [String],
    /// Who broke the glass, and why.
    pub break_glass: Option<(&'a str, &'a str)>,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub conditions: Vec<Condition>,
    pub verdict: Verdict,
}

fn condition(
    key: impl Into<String>,
    status: ConditionStatus,
    reason: impl Into<String>,
) -> Condition {
    Condition {
        key: key.into(),
        status,
        reason: reason.into(),
    }
}

/// Every condition of the gate, in a stable order, and the verdict. Break-glass opens the gate
/// whatever the other conditions say, and says so.
pub fn evaluate(f: &Facts<'_>) -> Gate {
    use ConditionStatus::*;
    let p = f.policy;
    let mut out = Vec::new();

    let expires_at = f.created_at + Duration::hours(i64::from(p.expire_after_hours));
    out.push(if f.now >= expires_at {
        condition(
            "expiry",
            Fail,
            format!(
                "expired {} (pending requests expire after {} h)",
                stamp(expires_at),
                p.expire_after_hours
            ),
        )
    } else if f.decided {
        condition(
            "expiry",
            Pass,
            format!(
                "decided {} before it would have expired",
                span(expires_at - f.now)
            ),
        )
    } else {
        condition(
            "expiry",
            Pass,
            format!("expires in {}", span(expires_at - f.now)),
        )
    });

    if f.source != f.previous_stage {
        out.push(if f.hotfix && p.hotfix_may_skip {
            condition(
                "path",
                Pass,
                format!("hotfix from {}, skipping to {}", f.source, f.target),
            )
        } else if f.hotfix {
            condition(
                "path",
                Fail,
                format!(
                    "{} does not let hotfixes skip stages: promote from {}",
                    f.target, f.previous_stage
                ),
            )
        } else {
            condition(
                "path",
                Fail,
                format!(
                    "only a hotfix may skip stages: promote from {}, the stage before {}",
                    f.previous_stage, f.target
                ),
            )
        });
    }

    if p.require_previous_success {
        out.push(match f.succeeded_in_source {
            Some(t) => condition(
                "previous_environment",
                Pass,
                format!("succeeded in {} {}", f.source, stamp(t)),
            ),
            None => condition(
                "previous_environment",
                Waiting,
                format!("not yet succeeded in {}", f.source),
            ),
        });
    }

    let soak = if f.hotfix {
        p.hotfix_soak_minutes
    } else {
        p.soak_minutes
    };
    if soak > 0 {
        let need = Duration::minutes(i64::from(soak));
        out.push(match f.succeeded_in_source {
            None => condition(
                "soak",
                Waiting,
                format!(
                    "soak time: needs {} in {} once it succeeds there",
                    span(need),
                    f.source
                ),
            ),
            Some(t) if f.now - t >= need => condition(
                "soak",
                Pass,
                format!(
                    "ran {} in {} (needs {})",
                    span(f.now - t),
                    f.source,
                    span(need)
                ),
            ),
            Some(t) => condition(
                "soak",
                Waiting,
                format!(
                    "soak time: {} left in {}",
                    span(need - (f.now - t)),
                    f.source
                ),
            ),
        });
    }

    out.push(freeze(p, f.now));
    if let Some(hours) = &p.allowed_hours {
        out.push(allowed_hours(hours, f.now));
    }
    for rule in p.approvals.iter().filter(|r| r.count > 0) {
        out.push(approvals(f, rule));
    }

    let mut verdict = Verdict::of(&out);
    if let Some((who, why)) = f.break_glass {
        out.push(condition(
            "break_glass",
            Pass,
            format!("BREAK-GLASS by {who}: {why}"),
        ));
        verdict = Verdict::Open;
    }
    Gate {
        conditions: out,
        verdict,
    }
}

fn freeze(p: &GatePolicy, now: OffsetDateTime) -> Condition {
    let active = p
        .freeze_windows
        .iter()
        .filter(|w| w.start <= now && now < w.end)
        .max_by_key(|w| w.end);
    if let Some(w) = active {
        return condition(
            "freeze",
            ConditionStatus::Waiting,
            format!("freeze: {} until {}", w.reason, stamp(w.end)),
        );
    }
    match p
        .freeze_windows
        .iter()
        .filter(|w| w.start > now)
        .min_by_key(|w| w.start)
    {
        Some(next) => condition(
            "freeze",
            ConditionStatus::Pass,
            format!(
                "no freeze now; next: {} from {}",
                next.reason,
                stamp(next.start)
            ),
        ),
        None => condition("freeze", ConditionStatus::Pass, "no freeze"),
    }
}

/// A policy's allowed hours, parsed.
struct Hours {
    days: Vec<Weekday>,
    from: Time,
    until: Time,
    tz: TimeZone,
}

pub fn parse_day(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

pub fn parse_clock(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn parse_hours(h: &AllowedHours) -> Result<Hours, String> {
    let tz = TimeZone::get(&h.time_zone).map_err(|_| {
        format!(
            "'{}' is not a time zone (use e.g. Europe/Berlin or UTC)",
            h.time_zone
        )
    })?;
    let days = h
        .days
        .iter()
        .map(|d| parse_day(d).ok_or_else(|| format!("'{d}' is not a day (mon … sun)")))
        .collect::<Result<Vec<_>, _>>()?;
    let from = parse_clock(&h.from).ok_or_else(|| format!("'{}' is not a time (HH:MM)", h.from))?;
    let until =
        parse_clock(&h.until).ok_or_else(|| format!("'{}' is not a time (HH:MM)", h.until))?;
    if until <= from {
        return Err(format!("{} must be after {}", h.until, h.from));
    }
    if days.is_empty() {
        return Err("name at least one day".into());
    }
    Ok(Hours {
        days,
        from,
        until,
        tz,
    })
}

fn allowed_hours(h: &AllowedHours, now: OffsetDateTime) -> Condition {
    let hours = match parse_hours(h) {
        Ok(hours) => hours,
        Err(e) => {
            return condition(
                "allowed_hours",
                ConditionStatus::Fail,
                format!("allowed hours: {e}"),
            );
        }
    };
    let described = format!(
        "{} {}–{} {}",
        h.days.join(", "),
        h.from,
        h.until,
        h.time_zone
    );
    let Ok(ts) = jiff::Timestamp::from_second(now.unix_timestamp()) else {
        return condition(
            "allowed_hours",
            ConditionStatus::Fail,
            "the time is out of range",
        );
    };
    let here = ts.to_zoned(hours.tz.clone());
    let open_now = hours.days.contains(&here.weekday())
        && here.time() >= hours.from
        && here.time() < hours.until;
    if open_now {
        return condition(
            "allowed_hours",
            ConditionStatus::Pass,
            format!("inside the allowed hours ({described})"),
        );
    }
    // The next opening: the first allowed day (today included) whose start is still ahead.
    let next = (0..8).find_map(|d| {
        let day = here.date().checked_add(jiff::Span::new().days(d)).ok()?;
        if !hours.days.contains(&day.weekday()) {
            return None;
        }
        let start = day
            .to_datetime(hours.from)
            .to_zoned(hours.tz.clone())
            .ok()?;
        (start > here).then_some(start)
    });
    condition(
        "allowed_hours",
        ConditionStatus::Waiting,
        match next {
            Some(at) => format!(
                "outside the allowed hours ({described}); next opening {}",
                at.strftime("%a %-d %b %H:%M %Z")
            ),
            None => format!("outside the allowed hours ({described})"),
        },
    )
}

/// Who the rule takes, in words: its name, or what it filters on.
fn who(rule: &ApprovalRule, target: &str) -> String {
    if !rule.name.trim().is_empty() {
        return rule.name.clone();
    }
    let mut parts = Vec::new();
    if !rule.roles.is_empty() {
        parts.push(format!("role {}", rule.roles.join(" or ")));
    }
    if !rule.groups.is_empty() {
        parts.push(format!("group {}", rule.groups.join(" or ")));
    }
    if rule.owning_team {
        parts.push("the owning team".to_string());
    }
    if parts.is_empty() {
        format!("an approver of {target}")
    } else {
        parts.join(" or ")
    }
}

fn matches(rule: &ApprovalRule, a: &Approver, owning_team_group: Option<&str>) -> bool {
    let filtered = !rule.roles.is_empty() || !rule.groups.is_empty() || rule.owning_team;
    !filtered
        || rule
            .roles
            .iter()
            .any(|r| a.grants.iter().any(|g| g.eq_ignore_ascii_case(r)))
        || rule.groups.iter().any(|g| a.groups.contains(g))
        || (rule.owning_team && owning_team_group.is_some_and(|t| a.groups.iter().any(|g| g == t)))
}

/// Whether the person named `name` (with `email`) authored one of the commits: an author is
/// matched by name or e-mail address (alone or as `Name <address>`), ignoring case.
pub fn is_author(name: &str, email: Option<&str>, authors: &[String]) -> bool {
    authors.iter().any(|author| {
        let author = author.trim();
        author.eq_ignore_ascii_case(name)
            || email.is_some_and(|e| {
                author.eq_ignore_ascii_case(e)
                    || author
                        .to_lowercase()
                        .contains(&format!("<{}>", e.to_lowercase()))
            })
    })
}

/// Why an approval does not count at all, if it does not.
fn disqualified(f: &Facts<'_>, a: &Approver) -> Option<&'static str> {
    if a.key == f.requester {
        Some("asked for this promotion")
    } else if !a.may_approve_here {
        Some("may not approve into this environment")
    } else if f.policy.exclude_commit_authors
        && is_author(&a.name, a.email.as_deref(), f.commit_authors)
    {
        Some("authored a commit being promoted")
    } else {
        None
    }
}

fn approvals(f: &Facts<'_>, rule: &ApprovalRule) -> Condition {
    let mut seen: Vec<&str> = Vec::new();
    let mut counted: Vec<&str> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for a in f.approvals {
        if seen.contains(&a.key.as_str()) {
            continue;
        }
        seen.push(&a.key);
        match disqualified(f, a) {
            Some(why) => ignored.push(format!("{} {why}", a.name)),
            None if matches(rule, a, f.owning_team_group) => counted.push(&a.name),
            None => {}
        }
    }
    let need = rule.count as usize;
    let from = who(rule, f.target);
    let mut reason = if counted.len() >= need {
        format!(
            "{} of {need} approvals from {from}: {}",
            counted.len(),
            counted.join(", ")
        )
    } else {
        let more = need - counted.len();
        format!(
            "needs {more} more approval{} from {from}{}",
            if more == 1 { "" } else { "s" },
            if counted.is_empty() {
                String::new()
            } else {
                format!(" (approved: {})", counted.join(", "))
            }
        )
    };
    if !ignored.is_empty() {
        reason.push_str(&format!("; not counted: {}", ignored.join("; ")));
    }
    condition(
        format!("approvals:{}", rule.name),
        if counted.len() >= need {
            ConditionStatus::Pass
        } else {
            ConditionStatus::Waiting
        },
        reason,
    )
}

/// "2 h 10 min", "3 d 4 h", "45 min", "under a minute".
pub fn span(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "under a minute".into(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[day padding:none] [month repr:short] [year] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// Everything wrong with a policy an admin wants to save, by field.
pub fn check_policy(p: &GatePolicy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if p.approvals.len() > 10 {
        out.push(("approvals".into(), "at most 10 rules".into()));
    }
    for (i, r) in p.approvals.iter().enumerate() {
        if r.name.trim().is_empty() || r.name.chars().count() > 100 {
            out.push((
                format!("approvals[{i}].name"),
                "name the rule in 1–100 characters (e.g. Release managers)".into(),
            ));
        }
        if p.approvals[..i]
            .iter()
            .any(|earlier| earlier.name.trim().eq_ignore_ascii_case(r.name.trim()))
        {
            out.push((
                format!("approvals[{i}].name"),
                format!("another rule is already called '{}'", r.name.trim()),
            ));
        }
        if !(1..=10).contains(&r.count) {
            out.push((
                format!("approvals[{i}].count"),
                "must be between 1 and 10".into(),
            ));
        }
    }
    if !(1..=720).contains(&p.expire_after_hours) {
        out.push((
            "expire_after_hours".into(),
            "must be between 1 and 720 (30 days)".into(),
        ));
    }
    for (field, m) in [
        ("soak_minutes", p.soak_minutes),
        ("hotfix_soak_minutes", p.hotfix_soak_minutes),
    ] {
        if m > 30 * 24 * 60 {
            out.push((field.into(), "must be at most 43200 (30 days)".into()));
        }
    }
    for (i, w) in p.freeze_windows.iter().enumerate() {
        if w.end <= w.start {
            out.push((
                format!("freeze_windows[{i}].end"),
                "must be after its start".into(),
            ));
        }
        if w.reason.trim().is_empty() {
            out.push((
                format!("freeze_windows[{i}].reason"),
                "say why (it is shown to everyone waiting)".into(),
            ));
        }
    }
    if let Some(h) = &p.allowed_hours
        && let Err(e) = parse_hours(h)
    {
        out.push(("allowed_hours".into(), e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConditionStatus::*;
    use portolan_api::FreezeWindow;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-18 10:00 UTC); // a Wednesday

    fn person(key: &str, grants: &[&str]) -> Approver {
        Approver {
            key: key.into(),
            name: format!("Person {key}"),
            email: Some(format!("{key}@acme.example")),
            grants: grants.iter().map(|g| g.to_string()).collect(),
            groups: Vec::new(),
            may_approve_here: true,
        }
    }

    fn rule(name: &str, count: u32) -> ApprovalRule {
        ApprovalRule {
            name: name.into(),
            count,
            roles: Vec::new(),
            groups: Vec::new(),
            owning_team: false,
        }
    }

    fn facts<'a>(policy: &'a GatePolicy, approvals: &'a [Approver]) -> Facts<'a> {
        Facts {
            policy,
            requester: "req",
            hotfix: false,
            source: "staging",
            previous_stage: "staging",
            target: "prod",
            created_at: NOW - Duration::hours(1),
            now: NOW,
            decided: false,
            approvals,
            succeeded_in_source: Some(NOW - Duration::hours(6)),
            owning_team_group: None,
            commit_authors: &[],
            break_glass: None,
        }
    }

    fn find<'g>(g: &'g Gate, key: &str) -> &'g Condition {
        g.conditions
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", g.conditions))
    }

    #[test]
    fn the_default_policy_opens_once_the_previous_stage_succeeded() {
        let p = GatePolicy::default();
        let g = evaluate(&facts(&p, &[]));
        assert_eq!(g.verdict, Verdict::Open, "{:?}", g.conditions);
        let keys: Vec<&str> = g.conditions.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["expiry", "previous_environment", "freeze"]);
        assert_eq!(
            find(&g, "previous_environment").reason,
            "succeeded in staging 18 Nov 2026 04:00 UTC"
        );
        let mut f = facts(&p, &[]);
        f.succeeded_in_source = None;
        let g = evaluate(&f);
        assert_eq!(g.verdict, Verdict::Waiting);
        assert_eq!(
            find(&g, "previous_environment").reason,
            "not yet succeeded in staging"
        );
    }

    #[test]
    fn approvals_count_people_once_and_never_the_requester() {
        let p = GatePolicy {
            approvals: vec![ApprovalRule {
                roles: vec!["approver@prod".into()],
                ..rule("", 2)
            }],
            ..GatePolicy::default()
        };
        let none = evaluate(&facts(&p, &[]));
        assert_eq!(find(&none, "approvals:").status, Waiting);
        assert_eq!(
            find(&none, "approvals:").reason,
            "needs 2 more approvals from role approver@prod"
        );
        let a = person("a", &["approver@prod"]);
        let twice = [a.clone(), a.clone(), person("req", &["approver@prod"])];
        let g = evaluate(&facts(&p, &twice));
        let c = find(&g, "approvals:");
        assert_eq!(c.status, Waiting);
        assert_eq!(
            c.reason,
            "needs 1 more approval from role approver@prod (approved: Person a); not counted: Person req asked for this promotion"
        );
        let ok = [a, person("b", &["APPROVER@PROD"])];
        let g = evaluate(&facts(&p, &ok));
        assert_eq!(find(&g, "approvals:").status, Pass);
        assert_eq!(
            find(&g, "approvals:").reason,
            "2 of 2 approvals from role approver@prod: Person a, Person b"
        );
        assert_eq!(g.verdict, Verdict::Open);
    }

    #[test]
    fn every_rule_must_be_met_and_one_approval_may_meet_several() {
        let mut sre = rule("SRE", 1);
        sre.roles = vec!["sre".into()];
        let mut team = rule("Owning team", 1);
        team.owning_team = true;
        let p = GatePolicy {
            approvals: vec![sre, team],
            ..GatePolicy::default()
        };
        let mut both = person("x", &["sre"]);
        both.groups = vec!["team-group".into()];
        let approvals = [both];
        let mut f = facts(&p, &approvals);
        f.owning_team_group = Some("team-group");
        let g = evaluate(&f);
        assert_eq!(find(&g, "approvals:SRE").status, Pass);
        assert_eq!(find(&g, "approvals:Owning team").status, Pass);
        // Without the team's group, the owning-team rule waits.
        f.owning_team_group = None;
        let g = evaluate(&f);
        assert_eq!(
            find(&g, "approvals:Owning team").reason,
            "needs 1 more approval from Owning team"
        );
        assert_eq!(g.verdict, Verdict::Waiting);
        // Groups count too.
        let mut by_group = rule("CAB", 1);
        by_group.groups = vec!["cab".into()];
        let p = GatePolicy {
            approvals: vec![by_group],
            ..GatePolicy::default()
        };
        let mut member = person("m", &["approver"]);
        member.groups = vec!["cab".into()];
        let approvals = [person("n", &["approver"]), member];
        assert_eq!(
            find(&evaluate(&facts(&p, &approvals)), "approvals:CAB").reason,
            "1 of 1 approvals from CAB: Person m"
        );
    }

    #[test]
    fn commit_authors_and_approvers_elsewhere_do_not_count() {
        let p = GatePolicy {
            approvals: vec![rule("Approvers", 1)],
            exclude_commit_authors: true,
            ..GatePolicy::default()
        };
        let mut elsewhere = person("s", &["approver@staging"]);
        elsewhere.may_approve_here = false;
        let approvals = [person("dev", &["approver"]), elsewhere];
        let authors = vec!["Dev Eloper <DEV@acme.example>".to_string()];
        let mut f = facts(&p, &approvals);
        f.commit_authors = &authors;
        let c = find(&evaluate(&f), "approvals:Approvers").clone();
        assert_eq!(c.status, Waiting);
        assert!(
            c.reason
                .contains("Person dev authored a commit being promoted"),
            "{}",
            c.reason
        );
        assert!(
            c.reason
                .contains("Person s may not approve into this environment"),
            "{}",
            c.reason
        );
        // By name as well as e-mail; without the rule, authors count.
        let by_name = vec!["person DEV".to_string()];
        f.commit_authors = &by_name;
        assert_eq!(find(&evaluate(&f), "approvals:Approvers").status, Waiting);
        let lax = GatePolicy {
            exclude_commit_authors: false,
            ..p.clone()
        };
        f.policy = &lax;
        assert_eq!(find(&evaluate(&f), "approvals:Approvers").status, Pass);
    }

    #[test]
    fn soak_time_counts_from_success_in_the_source() {
        let p = GatePolicy {
            soak_minutes: 8 * 60,
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        f.succeeded_in_source = Some(NOW - Duration::minutes(5 * 60 + 50));
        let g = evaluate(&f);
        assert_eq!(find(&g, "soak").status, Waiting);
        assert_eq!(
            find(&g, "soak").reason,
            "soak time: 2 h 10 min left in staging"
        );
        f.succeeded_in_source = Some(NOW - Duration::hours(8));
        assert_eq!(
            find(&evaluate(&f), "soak").status,
            Pass,
            "exactly the soak time is enough"
        );
        assert_eq!(
            find(&evaluate(&f), "soak").reason,
            "ran 8 h in staging (needs 8 h)"
        );
        f.succeeded_in_source = None;
        assert_eq!(
            find(&evaluate(&f), "soak").reason,
            "soak time: needs 8 h in staging once it succeeds there"
        );
    }

    #[test]
    fn a_freeze_holds_promotions_until_it_ends_at_its_edges() {
        let window = |start, end, reason: &str| FreezeWindow {
            start,
            end,
            reason: reason.into(),
        };
        let p = GatePolicy {
            freeze_windows: vec![
                window(
                    datetime!(2026-12-20 00:00 UTC),
                    datetime!(2027-01-02 00:00 UTC),
                    "end-of-year",
                ),
                window(
                    datetime!(2026-11-18 09:00 UTC),
                    datetime!(2026-11-18 10:00 UTC),
                    "board demo",
                ),
            ],
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        // At 10:00 the demo freeze (until 10:00, exclusive) is over; the next one is announced.
        let g = evaluate(&f);
        assert_eq!(find(&g, "freeze").status, Pass);
        assert_eq!(
            find(&g, "freeze").reason,
            "no freeze now; next: end-of-year from 20 Dec 2026 00:00 UTC"
        );
        f.now = datetime!(2026-11-18 09:00 UTC);
        f.created_at = f.now - Duration::hours(1);
        assert_eq!(
            find(&evaluate(&f), "freeze").reason,
            "freeze: board demo until 18 Nov 2026 10:00 UTC"
        );
        f.now = datetime!(2027-01-01 23:59 UTC);
        f.created_at = f.now;
        let g = evaluate(&f);
        assert_eq!(
            find(&g, "freeze").reason,
            "freeze: end-of-year until 2 Jan 2027 00:00 UTC"
        );
        assert_eq!(g.verdict, Verdict::Waiting);
    }

    #[test]
    fn allowed_hours_are_judged_in_their_time_zone() {
        let hours = |tz: &str| AllowedHours {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            from: "09:00".into(),
            until: "17:00".into(),
            time_zone: tz.into(),
        };
        let p = GatePolicy {
            allowed_hours: Some(hours("Europe/Berlin")),
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        // 10:00 UTC is 11:00 in Berlin (winter): open.
        assert_eq!(find(&evaluate(&f), "allowed_hours").status, Pass);
        // 16:00 UTC is 17:00 in Berlin: closed (until is exclusive); next opening Thursday.
        f.now = datetime!(2026-11-18 16:00 UTC);
        f.created_at = f.now;
        let c = find(&evaluate(&f), "allowed_hours").clone();
        assert_eq!(c.status, Waiting);
        assert_eq!(
            c.reason,
            "outside the allowed hours (mon, tue, wed, thu, fri 09:00–17:00 Europe/Berlin); next opening Thu 19 Nov 09:00 CET"
        );
        // In New York the same instant is 11:00: open. In summer, Berlin is UTC+2.
        let ny = GatePolicy {
            allowed_hours: Some(hours("America/New_York")),
            ..GatePolicy::default()
        };
        f.policy = &ny;
        assert_eq!(find(&evaluate(&f), "allowed_hours").status, Pass);
        f.policy = &p;
        f.now = datetime!(2026-07-03 15:30 UTC); // Friday 17:30 in Berlin
        f.created_at = f.now;
        let c = find(&evaluate(&f), "allowed_hours").clone();
        assert!(
            c.reason.ends_with("next opening Mon 6 Jul 09:00 CEST"),
            "{}",
            c.reason
        );
        f.now = datetime!(2026-07-03 06:59 UTC); // 08:59 in Berlin
        f.created_at = f.now;
        assert!(
            find(&evaluate(&f), "allowed_hours")
                .reason
                .ends_with("next opening Fri 3 Jul 09:00 CEST")
        );
        f.now = datetime!(2026-07-03 07:00 UTC);
        f.created_at = f.now;
        assert_eq!(
            find(&evaluate(&f), "allowed_hours").status,
            Pass,
            "09:00 sharp is open"
        );
    }

    #[test]
    fn pending_requests_expire() {
        let p = GatePolicy {
            expire_after_hours: 24,
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        f.created_at = NOW - Duration::hours(23) - Duration::minutes(30);
        assert_eq!(find(&evaluate(&f), "expiry").reason, "expires in 30 min");
        // Once decided, the request no longer waits for its expiry.
        f.decided = true;
        assert_eq!(
            find(&evaluate(&f), "expiry").reason,
            "decided 30 min before it would have expired"
        );
        f.decided = false;
        f.created_at = NOW - Duration::hours(24);
        let g = evaluate(&f);
        assert_eq!(find(&g, "expiry").status, Fail);
        assert_eq!(
            find(&g, "expiry").reason,
            "expired 18 Nov 2026 10:00 UTC (pending requests expire after 24 h)"
        );
        assert_eq!(g.verdict, Verdict::Blocked);
    }

    #[test]
    fn only_hotfixes_skip_stages_and_only_where_allowed() {
        let p = GatePolicy {
            hotfix_soak_minutes: 30,
            soak_minutes: 24 * 60,
            approvals: vec![rule("Approvers", 1)],
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        f.source = "qa";
        let g = evaluate(&f);
        assert_eq!(find(&g, "path").status, Fail);
        assert_eq!(
            find(&g, "path").reason,
            "only a hotfix may skip stages: promote from staging, the stage before prod"
        );
        f.hotfix = true;
        assert_eq!(
            find(&evaluate(&f), "path").reason,
            "prod does not let hotfixes skip stages: promote from staging"
        );
        let allowing = GatePolicy {
            hotfix_may_skip: true,
            ..p.clone()
        };
        f.policy = &allowing;
        let g = evaluate(&f);
        assert_eq!(find(&g, "path").status, Pass);
        // The hotfix's own soak time applies, and it still needs the approvals.
        assert_eq!(find(&g, "soak").reason, "ran 6 h in qa (needs 30 min)");
        assert_eq!(find(&g, "approvals:Approvers").status, Waiting);
        assert_eq!(g.verdict, Verdict::Waiting);
        // No path condition when nothing is skipped.
        f.source = "staging";
        assert!(evaluate(&f).conditions.iter().all(|c| c.key != "path"));
    }

    #[test]
    fn break_glass_opens_any_gate_and_says_so() {
        let p = GatePolicy {
            approvals: vec![rule("Approvers", 3)],
            freeze_windows: vec![FreezeWindow {
                start: NOW - Duration::hours(1),
                end: NOW + Duration::hours(1),
                reason: "audit".into(),
            }],
            ..GatePolicy::default()
        };
        let mut f = facts(&p, &[]);
        f.created_at = NOW - Duration::days(10);
        assert_eq!(evaluate(&f).verdict, Verdict::Blocked);
        f.break_glass = Some(("Ada Admin", "payments down, fix ready"));
        let g = evaluate(&f);
        assert_eq!(g.verdict, Verdict::Open);
        assert_eq!(
            find(&g, "break_glass").reason,
            "BREAK-GLASS by Ada Admin: payments down, fix ready"
        );
        // The other conditions still say what they would have said.
        assert_eq!(find(&g, "freeze").status, Waiting);
        assert_eq!(find(&g, "expiry").status, Fail);
    }

    #[test]
    fn rules_combine_into_one_verdict() {
        let p = GatePolicy {
            approvals: vec![rule("Approvers", 1)],
            soak_minutes: 60,
            allowed_hours: Some(AllowedHours {
                days: vec!["wed".into()],
                from: "08:00".into(),
                until: "12:00".into(),
                time_zone: "UTC".into(),
            }),
            ..GatePolicy::default()
        };
        let approvals = [person("a", &["approver"])];
        let g = evaluate(&facts(&p, &approvals));
        assert_eq!(g.verdict, Verdict::Open, "{:?}", g.conditions);
        assert!(g.conditions.iter().all(|c| c.status == Pass));
        let mut f = facts(&p, &approvals);
        f.now = datetime!(2026-11-18 12:00 UTC);
        f.created_at = f.now;
        assert_eq!(evaluate(&f).verdict, Verdict::Waiting, "the window closed");
    }

    #[test]
    fn a_policy_is_checked_field_by_field() {
        let bad = GatePolicy {
            approvals: vec![rule("", 0)],
            expire_after_hours: 0,
            soak_minutes: 50_000,
            freeze_windows: vec![FreezeWindow {
                start: NOW,
                end: NOW,
                reason: " ".into(),
            }],
            allowed_hours: Some(AllowedHours {
                days: vec!["monday".into()],
                from: "9:00".into(),
                until: "17:00".into(),
                time_zone: "Mars/Olympus".into(),
            }),
            ..GatePolicy::default()
        };
        let fields: Vec<String> = check_policy(&bad).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "approvals[0].name",
                "approvals[0].count",
                "expire_after_hours",
                "soak_minutes",
                "freeze_windows[0].end",
                "freeze_windows[0].reason",
                "allowed_hours"
            ]
        );
        let tz = check_policy(&bad).pop().map(|(_, m)| m).unwrap_or_default();
        assert_eq!(
            tz,
            "'Mars/Olympus' is not a time zone (use e.g. Europe/Berlin or UTC)"
        );
        assert!(check_policy(&GatePolicy::default()).is_empty());
        let twice = GatePolicy {
            approvals: vec![rule("Release managers", 1), rule("release managers ", 1)],
            ..GatePolicy::default()
        };
        assert_eq!(
            check_policy(&twice),
            [(
                "approvals[1].name".to_string(),
                "another rule is already called 'release managers'".to_string()
            )]
        );
        assert_eq!(parse_clock("23:59").map(|t| t.minute()), Some(59));
        assert_eq!(parse_clock("24:00"), None);
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(Duration::seconds(30)), "under a minute");
        assert_eq!(span(Duration::minutes(45)), "45 min");
        assert_eq!(span(Duration::minutes(130)), "2 h 10 min");
        assert_eq!(span(Duration::hours(3)), "3 h");
        assert_eq!(span(Duration::hours(76)), "3 d 4 h");
        assert_eq!(span(Duration::days(2)), "2 d");
        assert_eq!(span(Duration::minutes(-5)), "under a minute");
    }
}
