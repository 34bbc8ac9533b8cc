//! The gate of one environment: the policy in force, in plain words, for everyone; every earlier
//! version, newest first; and for admins an editor that saves the next version with a reason.
//!
//! The editor sends the version it started from: a save made meanwhile by someone else is refused
//! (409) rather than overwritten, and the page offers to load it. A refused field (422) is shown
//! next to its field: the API names fields by their path in the change (`policy.approvals[0].count`),
//! which [`slot_of`] places on the form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use portolan_api::{
    AllowedHours, ApprovalRule, Environment, FieldError, FreezeWindow, GatePolicy,
    GatePolicyChange, GatePolicyVersion,
};
use time::OffsetDateTime;

use crate::api::{Change, ClientError, encode, use_api};
use crate::components::{ErrorState, Loading, NotFoundState, csrf, use_me};
use crate::format;
use crate::live::{NewsWaiting, Unsaved, use_live_resource};

// ------------------------------------------------------------------ the policy in words

/// The days of the week as the API names them, in order.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_label(day: &str) -> String {
    let mut chars = day.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// "Mon–Fri", "Mon, Wed, Fri", "Sat–Sun", "every day": runs of three or more days read as a span.
pub fn days_words(days: &[String]) -> String {
    let on: Vec<usize> = DAYS
        .iter()
        .enumerate()
        .filter(|(_, d)| days.iter().any(|x| x == *d))
        .map(|(i, _)| i)
        .collect();
    if on.len() == DAYS.len() {
        return "every day".into();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < on.len() {
        let mut j = i;
        while j + 1 < on.len() && on[j + 1] == on[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!(
                "{}–{}",
                day_label(DAYS[on[i]]),
                day_label(DAYS[on[j]])
            ));
        } else {
            parts.extend((i..=j).map(|k| day_label(DAYS[on[k]])));
        }
        i = j + 1;
    }
    parts.join(", ")
}

/// "45 min", "2 h", "1 h 30 min", "3 d", "1 d 4 h".
pub fn minutes_words(minutes: u32) -> String {
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn count_of(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// One line for a list of environments: "2 approvals · soak 30 min · 1 freeze".
pub fn summary(p: &GatePolicy) -> String {
    let mut parts = vec![match p.approvals.as_slice() {
        [] => "no approvals".to_string(),
        [rule] => count_of(rule.count, "approval"),
        rules => format!(
            "{} approvals",
            rules
                .iter()
                .map(|r| r.count.to_string())
                .collect::<Vec<_>>()
                .join(" + ")
        ),
    }];
    if p.soak_minutes > 0 {
        parts.push(format!("soak {}", minutes_words(p.soak_minutes)));
    }
    if !p.freeze_windows.is_empty() {
        parts.push(count_of(p.freeze_windows.len() as u32, "freeze"));
    }
    if let Some(h) = &p.allowed_hours {
        parts.push(format!("{} {}–{}", days_words(&h.days), h.from, h.until));
    }
    parts.join(" · ")
}

/// Whose approvals a rule takes, in words.
fn rule_words(r: &ApprovalRule) -> String {
    let mut who = Vec::new();
    if !r.roles.is_empty() {
        who.push(format!("people with the role {}", r.roles.join(" or ")));
    }
    if !r.groups.is_empty() {
        who.push(format!(
            "members of the Entra group {}",
            r.groups.join(" or ")
        ));
    }
    if r.owning_team {
        who.push("members of the team that owns the service".to_string());
    }
    let who = if who.is_empty() {
        "anyone who may approve into this environment".to_string()
    } else {
        who.join(", or ")
    };
    format!("{} from {}: {who}.", count_of(r.count, "approval"), r.name)
}

/// One term of the policy in words, with its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub term: &'static str,
    pub lines: Vec<String>,
}

/// The whole policy in words, for people who do not read JSON.
pub fn describe(p: &GatePolicy) -> Vec<Fact> {
    let mut approvals: Vec<String> = p.approvals.iter().map(rule_words).collect();
    if approvals.is_empty() {
        approvals.push("None needed.".into());
    } else {
        approvals.push(
            if p.exclude_commit_authors {
                "Neither the requester nor anyone who authored a commit being promoted counts."
            } else {
                "The requester's own approval never counts."
            }
            .into(),
        );
    }
    let soak = minutes_words(p.soak_minutes);
    let before = match (p.require_previous_success, p.soak_minutes) {
        (true, 0) => "The version must have succeeded in the stage before.".to_string(),
        (true, _) => format!(
            "The version must have succeeded in the stage before and run there for at least {soak}."
        ),
        (false, 0) => "Nothing is asked of the stage before.".to_string(),
        (false, _) => format!("The version must have run in the stage before for at least {soak}."),
    };
    let freezes = if p.freeze_windows.is_empty() {
        vec!["No freeze windows.".to_string()]
    } else {
        p.freeze_windows
            .iter()
            .map(|w| {
                format!(
                    "{} to {}: {}",
                    format::datetime(w.start),
                    format::datetime(w.end),
                    w.reason
                )
            })
            .collect()
    };
    let hours = match &p.allowed_hours {
        None => "Any day, at any time.".to_string(),
        Some(h) => format!(
            "Only {}, {}–{} ({}).",
            days_words(&h.days),
            h.from,
            h.until,
            h.time_zone
        ),
    };
    let hotfix_soak = if p.hotfix_soak_minutes == 0 {
        "no soak time".to_string()
    } else {
        format!("at least {}", minutes_words(p.hotfix_soak_minutes))
    };
    vec![
        Fact {
            term: "Approvals",
            lines: approvals,
        },
        Fact {
            term: "Stage before",
            lines: vec![before],
        },
        Fact {
            term: "Freezes",
            lines: freezes,
        },
        Fact {
            term: "Hours",
            lines: vec![hours],
        },
        Fact {
            term: "Requests",
            lines: vec![format!(
                "A request still pending after {} h expires.",
                p.expire_after_hours
            )],
        },
        Fact {
            term: "Hotfixes",
            lines: vec![
                if p.hotfix_may_skip {
                    "May skip stages, coming from any earlier environment; they still need these approvals."
                } else {
                    "Go through every stage, like any version."
                }
                .to_string(),
                format!("Need {hotfix_soak} where they come from."),
            ],
        },
    ]
}

/// "Version 2 · set by Ada Admin on 2026-11-21 14:03 UTC", or what applies when never set.
pub fn set_by(v: &GatePolicyVersion) -> String {
    match v.created_at {
        None => format!(
            "Version {}: never set, so the default policy applies.",
            v.version
        ),
        Some(at) => format!(
            "Version {} · set by {} on {}",
            v.version,
            v.created_by,
            format::datetime(at)
        ),
    }
}

// ------------------------------------------------------------------ the form, as text

/// One approval rule as typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleForm {
    pub name: String,
    pub count: String,
    /// Comma-separated.
    pub roles: String,
    /// Comma-separated.
    pub groups: String,
    pub owning_team: bool,
}

/// One freeze window as typed: `datetime-local` values, in UTC.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FreezeForm {
    pub start: String,
    pub end: String,
    pub reason: String,
}

/// The allowed hours as typed; kept while switched off, so switching back loses nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct HoursForm {
    pub on: bool,
    pub days: Vec<String>,
    pub from: String,
    pub until: String,
    pub time_zone: String,
}

impl Default for HoursForm {
    /// Office hours, should someone switch them on.
    fn default() -> Self {
        Self {
            on: false,
            days: DAYS[..5].iter().map(|d| d.to_string()).collect(),
            from: "09:00".into(),
            until: "17:00".into(),
            time_zone: "UTC".into(),
        }
    }
}

/// A gate policy as the editor holds it: numbers and times as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyForm {
    pub approvals: Vec<RuleForm>,
    pub exclude_commit_authors: bool,
    pub require_previous_success: bool,
    pub soak_minutes: String,
    pub freeze_windows: Vec<FreezeForm>,
    pub hours: HoursForm,
    pub expire_after_hours: String,
    pub hotfix_may_skip: bool,
    pub hotfix_soak_minutes: String,
}

/// Items of a comma-separated list, trimmed, without empty ones.
fn items(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A whole number as typed; `empty` stands for an empty box.
fn whole(value: &str, empty: Option<u32>) -> Result<u32, String> {
    let v = value.trim();
    match (v.is_empty(), empty) {
        (true, Some(n)) => Ok(n),
        (true, None) => Err("enter a number".into()),
        _ => v
            .parse()
            .map_err(|_| format!("'{v}' is not a whole number of 0 or more")),
    }
}

fn moment(value: &str) -> Result<OffsetDateTime, String> {
    let rfc3339 = format::from_local_input(value).ok_or("pick a date and a time")?;
    OffsetDateTime::parse(&rfc3339, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("'{}' is not a date and time", value.trim()))
}

impl PolicyForm {
    pub fn of(p: &GatePolicy) -> Self {
        Self {
            approvals: p
                .approvals
                .iter()
                .map(|r| RuleForm {
                    name: r.name.clone(),
                    count: r.count.to_string(),
                    roles: r.roles.join(", "),
                    groups: r.groups.join(", "),
                    owning_team: r.owning_team,
                })
                .collect(),
            exclude_commit_authors: p.exclude_commit_authors,
            require_previous_success: p.require_previous_success,
            soak_minutes: p.soak_minutes.to_string(),
            freeze_windows: p
                .freeze_windows
                .iter()
                .map(|w| FreezeForm {
                    start: format::local_input(w.start),
                    end: format::local_input(w.end),
                    reason: w.reason.clone(),
                })
                .collect(),
            hours: match &p.allowed_hours {
                None => HoursForm::default(),
                Some(h) => HoursForm {
                    on: true,
                    days: h.days.clone(),
                    from: h.from.clone(),
                    until: h.until.clone(),
                    time_zone: h.time_zone.clone(),
                },
            },
            expire_after_hours: p.expire_after_hours.to_string(),
            hotfix_may_skip: p.hotfix_may_skip,
            hotfix_soak_minutes: p.hotfix_soak_minutes.to_string(),
        }
    }

    /// The policy to send, or what cannot even be sent (not a number, not a time), named as
    /// the API names fields. Everything else (ranges, names, time zones) the API judges.
    pub fn policy(&self) -> Result<GatePolicy, Vec<FieldError>> {
        let mut bad = Vec::new();
        let mut check = |field: String, r: Result<u32, String>| {
            r.unwrap_or_else(|m| {
                bad.push(FieldError::new(format!("policy.{field}"), m));
                0
            })
        };
        let approvals = self
            .approvals
            .iter()
            .enumerate()
            .map(|(i, r)| ApprovalRule {
                name: r.name.trim().to_string(),
                count: check(format!("approvals[{i}].count"), whole(&r.count, None)),
                roles: items(&r.roles),
                groups: items(&r.groups),
                owning_team: r.owning_team,
            })
            .collect();
        let soak_minutes = check("soak_minutes".into(), whole(&self.soak_minutes, Some(0)));
        let expire_after_hours = check(
            "expire_after_hours".into(),
            whole(&self.expire_after_hours, None),
        );
        let hotfix_soak_minutes = check(
            "hotfix_soak_minutes".into(),
            whole(&self.hotfix_soak_minutes, Some(0)),
        );
        let mut freeze_windows = Vec::new();
        for (i, w) in self.freeze_windows.iter().enumerate() {
            let mut at = |field: &str, value: &str| {
                moment(value)
                    .map_err(|m| {
                        bad.push(FieldError::new(
                            format!("policy.freeze_windows[{i}].{field}"),
                            m,
                        ))
                    })
                    .ok()
            };
            if let (Some(start), Some(end)) = (at("start", &w.start), at("end", &w.end)) {
                freeze_windows.push(FreezeWindow {
                    start,
                    end,
                    reason: w.reason.trim().to_string(),
                });
            }
        }
        let h = &self.hours;
        let allowed_hours = h.on.then(|| AllowedHours {
            days: DAYS
                .iter()
                .filter(|d| h.days.iter().any(|x| x == *d))
                .map(|d| d.to_string())
                .collect(),
            from: h.from.trim().to_string(),
            until: h.until.trim().to_string(),
            time_zone: h.time_zone.trim().to_string(),
        });
        if !bad.is_empty() {
            return Err(bad);
        }
        Ok(GatePolicy {
            approvals,
            exclude_commit_authors: self.exclude_commit_authors,
            require_previous_success: self.require_previous_success,
            soak_minutes,
            freeze_windows,
            allowed_hours,
            expire_after_hours,
            hotfix_may_skip: self.hotfix_may_skip,
            hotfix_soak_minutes,
        })
    }
}

// ------------------------------------------------------------------ where a refused field goes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    Name,
    Count,
    Roles,
    Groups,
    /// The rule as a whole (anything else about it).
    Row,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeField {
    Start,
    End,
    Reason,
    Row,
}

/// The place on the form of a field the API refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The list of rules as a whole ("at most 10 rules").
    Approvals,
    Rule(usize, RuleField),
    Freeze(usize, FreezeField),
    SoakMinutes,
    AllowedHours,
    ExpireAfterHours,
    HotfixSoakMinutes,
    Reason,
}

/// `list[3].rest` → (3, "rest").
fn indexed<'a>(field: &'a str, list: &str) -> Option<(usize, &'a str)> {
    let rest = field.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    Some((i.parse().ok()?, rest.strip_prefix('.').unwrap_or(rest)))
}

/// Where a refused field (`policy.approvals[0].count`, `reason`) belongs on the form; `None`
/// for a field the form does not show (it is then said with the form's error).
pub fn slot_of(field: &str) -> Option<Slot> {
    if field == "reason" {
        return Some(Slot::Reason);
    }
    let f = field.strip_prefix("policy.")?;
    let slot = match f {
        "approvals" => Slot::Approvals,
        "soak_minutes" => Slot::SoakMinutes,
        "expire_after_hours" => Slot::ExpireAfterHours,
        "hotfix_soak_minutes" => Slot::HotfixSoakMinutes,
        _ if f == "allowed_hours" || f.starts_with("allowed_hours.") => Slot::AllowedHours,
        _ => {
            if let Some((i, rest)) = indexed(f, "approvals") {
                let part = rest.split(['.', '[']).next().unwrap_or_default();
                Slot::Rule(
                    i,
                    match part {
                        "name" => RuleField::Name,
                        "count" => RuleField::Count,
                        "roles" => RuleField::Roles,
                        "groups" => RuleField::Groups,
                        _ => RuleField::Row,
                    },
                )
            } else if let Some((i, rest)) = indexed(f, "freeze_windows") {
                Slot::Freeze(
                    i,
                    match rest {
                        "start" => FreezeField::Start,
                        "end" => FreezeField::End,
                        "reason" => FreezeField::Reason,
                        _ => FreezeField::Row,
                    },
                )
            } else {
                return None;
            }
        }
    };
    Some(slot)
}

// ------------------------------------------------------------------ the page

#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct GateData {
    environment: Environment,
    current: GatePolicyVersion,
    /// Newest first.
    history: Vec<GatePolicyVersion>,
}

#[component]
pub fn GatePolicyPage() -> impl IntoView {
    let params = use_params_map();
    let slug = Memo::new(move |_| params.read().get("slug").unwrap_or_default());
    let api = use_api();
    let load = move |slug: String| {
        let base = format!("/api/v1/environments/{}", encode(&slug));
        let environment = api.get::<Environment>(base.clone());
        let current = api.get::<GatePolicyVersion>(format!("{base}/gate"));
        let history = api.get::<Vec<GatePolicyVersion>>(format!("{base}/gate/history"));
        async move {
            Ok::<_, ClientError>(GateData {
                environment: environment.await?,
                current: current.await?,
                history: history.await?,
            })
        }
    };
    let data = Resource::new(move || slug.get(), load.clone());
    let waiting = use_live_resource(
        data,
        || vec!["gates".into()],
        move || load(slug.get_untracked()),
    );
    let me = use_me();
    // The version this person just saved, to say so once it shows.
    let saved = RwSignal::new(None::<i32>);
    view! {
        <NewsWaiting waiting refetch=move || data.refetch()/>
        <Transition fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                // Awaited here, inside the boundary: the server and the browser render the same
                // markup for the same person.
                let may_edit = match me {
                    Some(me) => me.await.is_ok_and(|m| m.can("pipeline:write")),
                    None => false,
                };
                match data.await {
                    Ok(d) => view! {
                        <GateView data=d may_edit saved reload=move || data.refetch()/>
                    }.into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <NotFoundState title="Environment not found" message=format!("There is no environment {}.", slug.get_untracked())>
                            <p><a href="/environments">"All environments"</a></p>
                        </NotFoundState>
                    }.into_any(),
                    Err(e) => view! { <ErrorState what="this gate" error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The policy in words.
#[component]
fn PolicyWords(policy: GatePolicy) -> impl IntoView {
    view! {
        <dl class="facts policy-words">
            {describe(&policy).into_iter().map(|f| view! {
                <dt>{f.term}</dt>
                <dd>{f.lines.into_iter().map(|l| view! { <span class="policy-line">{l}</span> }).collect_view()}</dd>
            }).collect_view()}
        </dl>
    }
}

#[component]
fn GateView(
    data: GateData,
    may_edit: bool,
    saved: RwSignal<Option<i32>>,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let GateData {
        environment: env,
        current,
        history,
    } = data;
    let version = current.version;
    let header = view! {
        <Title text=format!("Gate of {}", env.name)/>
        <header class="page-header">
            <div>
                <p class="eyebrow"><a href="/environments">"Environments"</a>{format!(" · {}", env.slug)}</p>
                <h1>{format!("Gate of {}", env.name)}</h1>
                <p class="subtitle">{format!("What a promotion into {} needs. Every change is a new version, kept with who made it and why.", env.name)}</p>
            </div>
        </header>
    }
    .into_any();
    let in_force = view! {
        <section class="card gate-in-force" data-version=version>
            <header class="card-header">
                <h2>"In force"</h2>
                <span class="badge policy-number">{format!("version {version}")}</span>
            </header>
            <div class="stack">
                {move || (saved.get() == Some(version)).then(|| view! {
                    <p class="callout callout-info gate-saved" role="status">{format!("Saved: version {version} is in force from now on.")}</p>
                })}
                <p class="policy-meta">{set_by(&current)}
                    {current.created_at.is_some().then(|| view! { <span class="policy-reason">{format!("“{}”", current.reason)}</span> })}
                </p>
                <PolicyWords policy=current.policy.clone()/>
                {(!may_edit).then(|| view! { <p class="muted small">"Admins change this policy."</p> })}
            </div>
        </section>
    }
    .into_any();
    let editor = may_edit.then(|| {
        view! {
            <GateEditor slug=env.slug.clone() current=current.clone() reload
                on_saved=move |v: i32| { saved.set(Some(v)); reload(); }/>
        }
        .into_any()
    });
    let count = history.len();
    let history = view! {
        <section class="card gate-history">
            <header class="card-header"><h2>"History"</h2><span class="count">{count}</span></header>
            {if history.is_empty() {
                view! { <p class="muted">"Never changed: the default policy has applied from the start."</p> }.into_any()
            } else {
                view! {
                    <ol class="policy-history">
                        // Keyed, so that what someone opened stays with its version when a newer one arrives.
                        <For each=move || history.clone() key={move |v: &GatePolicyVersion| (v.version, v.version == version)}
                            children={move |v: GatePolicyVersion| {
                                let at = v.created_at.map(|t| view! { <time datetime=format::machine(t)>{format::datetime(t)}</time> });
                                view! {
                                    <li class="policy-version" data-version=v.version>
                                        <details>
                                            <summary>
                                                <span class="policy-version-number">{format!("Version {}", v.version)}</span>
                                                {(v.version == version).then(|| view! { <span class="badge policy-current">"in force"</span> })}
                                                <span class="muted">{at}{format!(" · {}", v.created_by)}</span>
                                                <span class="policy-reason">{format!("“{}”", v.reason)}</span>
                                            </summary>
                                            <PolicyWords policy=v.policy/>
                                        </details>
                                    </li>
                                }
                            }}/>
                    </ol>
                }.into_any()
            }}
        </section>
    }
    .into_any();
    view! {
        {header}
        <div class="grid-2 gate-layout">{in_force}{history}</div>
        {editor}
    }
    .into_any()
}

// ------------------------------------------------------------------ the editor

/// An approval rule being edited: one signal per box, so typing re-renders nothing.
#[derive(Clone, Copy)]
struct RuleRow {
    key: u64,
    name: RwSignal<String>,
    count: RwSignal<String>,
    roles: RwSignal<String>,
    groups: RwSignal<String>,
    owning_team: RwSignal<bool>,
}

impl RuleRow {
    fn new(key: u64, r: &RuleForm) -> Self {
        Self {
            key,
            name: RwSignal::new(r.name.clone()),
            count: RwSignal::new(r.count.clone()),
            roles: RwSignal::new(r.roles.clone()),
            groups: RwSignal::new(r.groups.clone()),
            owning_team: RwSignal::new(r.owning_team),
        }
    }

    fn form(&self) -> RuleForm {
        RuleForm {
            name: self.name.get(),
            count: self.count.get(),
            roles: self.roles.get(),
            groups: self.groups.get(),
            owning_team: self.owning_team.get(),
        }
    }
}

#[derive(Clone, Copy)]
struct FreezeRow {
    key: u64,
    start: RwSignal<String>,
    end: RwSignal<String>,
    reason: RwSignal<String>,
}

impl FreezeRow {
    fn new(key: u64, w: &FreezeForm) -> Self {
        Self {
            key,
            start: RwSignal::new(w.start.clone()),
            end: RwSignal::new(w.end.clone()),
            reason: RwSignal::new(w.reason.clone()),
        }
    }

    fn form(&self) -> FreezeForm {
        FreezeForm {
            start: self.start.get(),
            end: self.end.get(),
            reason: self.reason.get(),
        }
    }
}

/// Everything the editor holds.
#[derive(Clone, Copy)]
struct EditorState {
    next_key: StoredValue<u64>,
    rules: RwSignal<Vec<RuleRow>>,
    exclude_commit_authors: RwSignal<bool>,
    require_previous_success: RwSignal<bool>,
    soak_minutes: RwSignal<String>,
    freezes: RwSignal<Vec<FreezeRow>>,
    hours_on: RwSignal<bool>,
    days: RwSignal<Vec<String>>,
    from: RwSignal<String>,
    until: RwSignal<String>,
    time_zone: RwSignal<String>,
    expire_after_hours: RwSignal<String>,
    hotfix_may_skip: RwSignal<bool>,
    hotfix_soak_minutes: RwSignal<String>,
}

impl EditorState {
    fn new(f: &PolicyForm) -> Self {
        let s = Self {
            next_key: StoredValue::new(0),
            rules: RwSignal::new(Vec::new()),
            exclude_commit_authors: RwSignal::new(f.exclude_commit_authors),
            require_previous_success: RwSignal::new(f.require_previous_success),
            soak_minutes: RwSignal::new(f.soak_minutes.clone()),
            freezes: RwSignal::new(Vec::new()),
            hours_on: RwSignal::new(f.hours.on),
            days: RwSignal::new(f.hours.days.clone()),
            from: RwSignal::new(f.hours.from.clone()),
            until: RwSignal::new(f.hours.until.clone()),
            time_zone: RwSignal::new(f.hours.time_zone.clone()),
            expire_after_hours: RwSignal::new(f.expire_after_hours.clone()),
            hotfix_may_skip: RwSignal::new(f.hotfix_may_skip),
            hotfix_soak_minutes: RwSignal::new(f.hotfix_soak_minutes.clone()),
        };
        for r in &f.approvals {
            s.add_rule(r);
        }
        for w in &f.freeze_windows {
            s.add_freeze(w);
        }
        s
    }

    fn key(&self) -> u64 {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        key
    }

    fn add_rule(&self, r: &RuleForm) {
        let row = RuleRow::new(self.key(), r);
        self.rules.update(|v| v.push(row));
    }

    fn add_freeze(&self, w: &FreezeForm) {
        let row = FreezeRow::new(self.key(), w);
        self.freezes.update(|v| v.push(row));
    }

    /// What the boxes hold now (tracked: read it in a reactive closure, or untracked).
    fn form(&self) -> PolicyForm {
        PolicyForm {
            approvals: self.rules.get().iter().map(RuleRow::form).collect(),
            exclude_commit_authors: self.exclude_commit_authors.get(),
            require_previous_success: self.require_previous_success.get(),
            soak_minutes: self.soak_minutes.get(),
            freeze_windows: self.freezes.get().iter().map(FreezeRow::form).collect(),
            hours: HoursForm {
                on: self.hours_on.get(),
                days: self.days.get(),
                from: self.from.get(),
                until: self.until.get(),
                time_zone: self.time_zone.get(),
            },
            expire_after_hours: self.expire_after_hours.get(),
            hotfix_may_skip: self.hotfix_may_skip.get(),
            hotfix_soak_minutes: self.hotfix_soak_minutes.get(),
        }
    }
}

/// The messages of the refused fields that belong at `slot`.
#[component]
fn SlotError(
    error: RwSignal<Option<ClientError>>,
    place: impl Fn() -> Slot + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        let here = place();
        let messages: Vec<String> = error.with(|e| {
            e.iter()
                .flat_map(|e| e.fields.iter())
                .filter(|f| slot_of(&f.field) == Some(here))
                .map(|f| f.message.clone())
                .collect()
        });
        messages
            .into_iter()
            .map(|m| view! { <span class="field-error" role="alert">{m}</span> })
            .collect_view()
    }
}

/// A checkbox with its words.
fn choice(name: &'static str, label: &'static str, value: RwSignal<bool>) -> impl IntoView {
    view! {
        <label class="choice">
            <input type="checkbox" name=name checked=value.get_untracked() prop:checked=value
                on:change=move |ev| value.set(event_target_checked(&ev))/>
            <span>{label}</span>
        </label>
    }
}

/// A text box bound to `value`.
fn text_box(kind: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <input type=kind name=name value=value.get_untracked() prop:value=value
            on:input=move |ev| value.set(event_target_value(&ev))/>
    }
}

#[component]
fn GateEditor(
    slug: String,
    current: GatePolicyVersion,
    on_saved: impl Fn(i32) + Send + Sync + Copy + 'static,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let api = use_api();
    let me = use_me();
    let initial = PolicyForm::of(&current.policy);
    let state = EditorState::new(&initial);
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ClientError>);
    let busy = RwSignal::new(false);
    let done = RwSignal::new(false);
    // A change not yet saved holds news of someone else's back (see `NewsWaiting`).
    Unsaved::hold_while(move || {
        !done.get() && (state.form() != initial || !reason.with(|r| r.trim().is_empty()))
    });
    let version = current.version;
    let path = format!("/api/v1/environments/{}/gate", encode(&slug));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let policy = match untrack(|| state.form()).policy() {
            Ok(p) => p,
            Err(fields) => {
                error.set(Some(ClientError {
                    status: 422,
                    message: "Some values need fixing.".into(),
                    fields,
                }));
                return;
            }
        };
        busy.set(true);
        let change = GatePolicyChange {
            policy,
            reason: reason.get_untracked(),
            expected_version: Some(version),
        };
        let sent = api.send::<GatePolicyVersion>(Change::put(path.clone(), &change, csrf(me)));
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(v) => {
                    done.try_set(true);
                    error.try_set(None);
                    on_saved(v.version);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let clear = move || error.set(None);

    let rules = view! {
        <fieldset class="gate-section">
            <legend>"Approvals"</legend>
            <p class="field-hint muted">"Every rule must be met; one person's approval counts toward every rule they match. Leave roles, groups and owning team empty to take anyone who may approve into this environment."</p>
            <ForEnumerate each=move || state.rules.get() key={|r: &RuleRow| r.key} children={move |index: ReadSignal<usize>, row: RuleRow| {
                let at = move |f: RuleField| move || Slot::Rule(index.get(), f);
                view! {
                    <fieldset class="edit-row rule-row" data-rule=move || index.get()>
                        <legend class="visually-hidden">{move || format!("Rule {}", index.get() + 1)}</legend>
                        <label class="field rule-name">
                            <span class="field-label">"Name"</span>
                            <input type="text" name="name" placeholder="e.g. Release managers" value=row.name.get_untracked() prop:value=row.name
                                on:input=move |ev| row.name.set(event_target_value(&ev))/>
                            <SlotError error place=at(RuleField::Name)/>
                        </label>
                        <label class="field rule-count">
                            <span class="field-label">"Approvals"</span>
                            {text_box("number", "count", row.count)}
                            <SlotError error place=at(RuleField::Count)/>
                        </label>
                        <label class="field rule-roles">
                            <span class="field-label">"Roles (comma-separated)"</span>
                            <input type="text" name="roles" placeholder="e.g. approver@prod, sre" value=row.roles.get_untracked() prop:value=row.roles
                                on:input=move |ev| row.roles.set(event_target_value(&ev))/>
                            <SlotError error place=at(RuleField::Roles)/>
                        </label>
                        <label class="field rule-groups">
                            <span class="field-label">"Entra group ids (comma-separated)"</span>
                            {text_box("text", "groups", row.groups)}
                            <SlotError error place=at(RuleField::Groups)/>
                        </label>
                        <div class="field field-check rule-team">
                            <span class="field-label">"Owning team"</span>
                            {choice("owning_team", "members count", row.owning_team)}
                        </div>
                        <div class="field field-action rule-remove">
                            <span class="field-label" aria-hidden="true">"\u{a0}"</span>
                            <button type="button" class="button button-secondary button-small remove-rule"
                                on:click=move |_| { state.rules.update(|v| v.retain(|r| r.key != row.key)); clear(); }>
                                "Remove"
                            </button>
                        </div>
                        <SlotError error place=at(RuleField::Row)/>
                    </fieldset>
                }
            }}/>
            <SlotError error place=|| Slot::Approvals/>
            <div class="row">
                <button type="button" class="button button-secondary button-small add-rule"
                    on:click=move |_| { state.add_rule(&RuleForm { count: "1".into(), ..Default::default() }); clear(); }>
                    "Add an approval rule"
                </button>
            </div>
            {choice("exclude_commit_authors", "Approvals from people who authored a commit being promoted do not count", state.exclude_commit_authors)}
        </fieldset>
    }
    .into_any();

    let before = view! {
        <fieldset class="gate-section">
            <legend>"The stage before"</legend>
            {choice("require_previous_success", "The version must have succeeded in the stage before", state.require_previous_success)}
            <div class="row gate-numbers">
                <label class="field field-number">
                    <span class="field-label">"Soak minutes"</span>
                    {text_box("number", "soak_minutes", state.soak_minutes)}
                    <SlotError error place=|| Slot::SoakMinutes/>
                </label>
                <p class="field-hint muted soak-hint">"How long it must have run there (0 for no soak time)."</p>
            </div>
        </fieldset>
    }
    .into_any();

    let freezes = view! {
        <fieldset class="gate-section">
            <legend>"Freeze windows"</legend>
            <p class="field-hint muted">"Nothing is promoted in a freeze (break-glass aside). Times are UTC."</p>
            <ForEnumerate each=move || state.freezes.get() key={|w: &FreezeRow| w.key} children={move |index: ReadSignal<usize>, row: FreezeRow| {
                let at = move |f: FreezeField| move || Slot::Freeze(index.get(), f);
                view! {
                    <fieldset class="edit-row freeze-row" data-freeze=move || index.get()>
                        <legend class="visually-hidden">{move || format!("Freeze window {}", index.get() + 1)}</legend>
                        <label class="field field-time">
                            <span class="field-label">"Start (UTC)"</span>
                            {text_box("datetime-local", "start", row.start)}
                            <SlotError error place=at(FreezeField::Start)/>
                        </label>
                        <label class="field field-time">
                            <span class="field-label">"End (UTC)"</span>
                            {text_box("datetime-local", "end", row.end)}
                            <SlotError error place=at(FreezeField::End)/>
                        </label>
                        <label class="field field-grow">
                            <span class="field-label">"Reason (shown to everyone waiting)"</span>
                            <input type="text" name="freeze_reason" placeholder="e.g. End-of-year freeze" value=row.reason.get_untracked() prop:value=row.reason
                                on:input=move |ev| row.reason.set(event_target_value(&ev))/>
                            <SlotError error place=at(FreezeField::Reason)/>
                        </label>
                        <div class="field field-action">
                            <span class="field-label" aria-hidden="true">"\u{a0}"</span>
                            <button type="button" class="button button-secondary button-small remove-freeze"
                                on:click=move |_| { state.freezes.update(|v| v.retain(|w| w.key != row.key)); clear(); }>
                                "Remove"
                            </button>
                        </div>
                        <SlotError error place=at(FreezeField::Row)/>
                    </fieldset>
                }
            }}/>
            <div class="row">
                <button type="button" class="button button-secondary button-small add-freeze"
                    on:click=move |_| { state.add_freeze(&FreezeForm::default()); clear(); }>
                    "Add a freeze window"
                </button>
            </div>
        </fieldset>
    }
    .into_any();

    let hours = view! {
        <fieldset class="gate-section">
            <legend>"Allowed hours"</legend>
            {choice("allowed_hours", "Only on some days, between some times", state.hours_on)}
            {move || state.hours_on.get().then(|| view! {
                <div class="hours-fields">
                    <fieldset class="day-choices">
                        <legend class="field-label">"Days"</legend>
                        {DAYS.into_iter().map(|d| view! {
                            <label class="choice">
                                <input type="checkbox" name="days" value=d checked=state.days.with_untracked(|v| v.iter().any(|x| x == d))
                                    prop:checked=move || state.days.with(|v| v.iter().any(|x| x == d))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        state.days.update(|v| {
                                            v.retain(|x| x != d);
                                            if on { v.push(d.to_string()); }
                                        });
                                    }/>
                                <span>{day_label(d)}</span>
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <div class="row hours-times">
                        <label class="field field-clock">
                            <span class="field-label">"From"</span>
                            {text_box("time", "from", state.from)}
                        </label>
                        <label class="field field-clock">
                            <span class="field-label">"Until"</span>
                            {text_box("time", "until", state.until)}
                        </label>
                        <label class="field field-grow">
                            <span class="field-label">"Time zone (IANA)"</span>
                            <input type="text" name="time_zone" list="time-zones" placeholder="e.g. Europe/Berlin" value=state.time_zone.get_untracked() prop:value=state.time_zone
                                on:input=move |ev| state.time_zone.set(event_target_value(&ev))/>
                            <datalist id="time-zones">
                                {["UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney"]
                                    .into_iter().map(|z| view! { <option value=z></option> }).collect_view()}
                            </datalist>
                        </label>
                    </div>
                    <SlotError error place=|| Slot::AllowedHours/>
                </div>
            })}
        </fieldset>
    }
    .into_any();

    let requests = view! {
        <fieldset class="gate-section">
            <legend>"Requests and hotfixes"</legend>
            <div class="row gate-numbers">
                <label class="field field-number">
                    <span class="field-label">"Expire after hours"</span>
                    {text_box("number", "expire_after_hours", state.expire_after_hours)}
                    <SlotError error place=|| Slot::ExpireAfterHours/>
                </label>
                <label class="field field-number">
                    <span class="field-label">"Hotfix soak minutes"</span>
                    {text_box("number", "hotfix_soak_minutes", state.hotfix_soak_minutes)}
                    <SlotError error place=|| Slot::HotfixSoakMinutes/>
                </label>
            </div>
            {choice("hotfix_may_skip", "A hotfix may skip stages (it still needs these approvals)", state.hotfix_may_skip)}
        </fieldset>
    }
    .into_any();

    let finish = view! {
        <label class="field field-wide">
            <span class="field-label">"Reason for this change"</span>
            <textarea name="change_reason" rows="2" required placeholder="e.g. Two approvals for prod after the November incident"
                prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            <SlotError error place=|| Slot::Reason/>
        </label>
        {move || error.get().map(|e| {
            let stale = e.status == 409;
            let unplaced: Vec<String> = e.fields.iter().filter(|f| slot_of(&f.field).is_none())
                .map(|f| format!("{}: {}", f.field, f.message)).collect();
            let message = if e.fields.is_empty() {
                format!("Not saved: {}", e.message)
            } else {
                "Not saved: fix the values marked above.".to_string()
            };
            view! {
                <div class="form-error gate-error" role="alert">
                    <p>{message}</p>
                    {(!unplaced.is_empty()).then(|| view! { <ul>{unplaced.into_iter().map(|u| view! { <li>{u}</li> }).collect_view()}</ul> })}
                    {stale.then(|| view! {
                        <button type="button" class="button button-secondary button-small reload-gate" on:click=move |_| reload()>
                            "Load the policy in force (your changes here are lost)"
                        </button>
                    })}
                </div>
            }
        })}
        <div class="row">
            <button type="submit" class="button save-gate" disabled=move || busy.get()>{format!("Save as version {}", version + 1)}</button>
        </div>
    }
    .into_any();

    view! {
        <section class="card gate-editor-card">
            <header class="card-header"><h2>"Change the policy"</h2>
                <span class="muted">{format!("starting from version {version}")}</span>
            </header>
            <form class="stack gate-editor" novalidate on:submit=submit>
                {rules}
                {before}
                {freezes}
                {hours}
                {requests}
                {finish}
            </form>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rule(name: &str, count: u32) -> ApprovalRule {
        ApprovalRule {
            name: name.into(),
            count,
            roles: Vec::new(),
            groups: Vec::new(),
            owning_team: false,
        }
    }

    fn days(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| s.to_string()).collect()
    }

    fn strict() -> GatePolicy {
        GatePolicy {
            approvals: vec![ApprovalRule {
                roles: vec!["approver@prod".into(), "sre".into()],
                owning_team: true,
                ..rule("Release managers", 2)
            }],
            exclude_commit_authors: true,
            soak_minutes: 30,
            freeze_windows: vec![FreezeWindow {
                start: datetime!(2030-12-20 00:00 UTC),
                end: datetime!(2031-01-02 00:00 UTC),
                reason: "End of year".into(),
            }],
            allowed_hours: Some(AllowedHours {
                days: days(&["mon", "tue", "wed", "thu", "fri"]),
                from: "09:00".into(),
                until: "17:00".into(),
                time_zone: "Europe/Berlin".into(),
            }),
            hotfix_may_skip: true,
            hotfix_soak_minutes: 10,
            ..GatePolicy::default()
        }
    }

    #[test]
    fn days_and_minutes_read_naturally() {
        assert_eq!(
            days_words(&days(&["fri", "mon", "tue", "wed", "thu"])),
            "Mon–Fri"
        );
        assert_eq!(days_words(&days(&["mon", "wed", "fri"])), "Mon, Wed, Fri");
        assert_eq!(days_words(&days(&["sat", "sun"])), "Sat, Sun");
        assert_eq!(
            days_words(&days(&["mon", "tue", "wed", "sun"])),
            "Mon–Wed, Sun"
        );
        assert_eq!(days_words(&days(&DAYS)), "every day");
        assert_eq!(minutes_words(0), "0 min");
        assert_eq!(minutes_words(45), "45 min");
        assert_eq!(minutes_words(120), "2 h");
        assert_eq!(minutes_words(90), "1 h 30 min");
        assert_eq!(minutes_words(1440 * 3), "3 d");
        assert_eq!(minutes_words(1440 + 250), "1 d 4 h");
    }

    #[test]
    fn a_policy_sums_up_in_one_line() {
        assert_eq!(summary(&GatePolicy::default()), "no approvals");
        let p = GatePolicy {
            allowed_hours: None,
            ..strict()
        };
        assert_eq!(summary(&p), "2 approvals · soak 30 min · 1 freeze");
        let p = GatePolicy {
            approvals: vec![rule("A", 1), rule("B", 2)],
            soak_minutes: 0,
            freeze_windows: Vec::new(),
            ..strict()
        };
        assert_eq!(summary(&p), "1 + 2 approvals · Mon–Fri 09:00–17:00");
        let p = GatePolicy {
            approvals: vec![rule("A", 1)],
            ..GatePolicy::default()
        };
        assert_eq!(summary(&p), "1 approval");
    }

    #[test]
    fn a_policy_reads_in_words() {
        let words = describe(&strict());
        let line = |term: &str| {
            words
                .iter()
                .find(|f| f.term == term)
                .map(|f| f.lines.join(" "))
                .unwrap_or_default()
        };
        assert_eq!(
            line("Approvals"),
            "2 approvals from Release managers: people with the role approver@prod or sre, or \
             members of the team that owns the service. Neither the requester nor anyone who \
             authored a commit being promoted counts."
        );
        assert_eq!(
            line("Stage before"),
            "The version must have succeeded in the stage before and run there for at least 30 min."
        );
        assert_eq!(
            line("Freezes"),
            "2030-12-20 00:00 UTC to 2031-01-02 00:00 UTC: End of year"
        );
        assert_eq!(line("Hours"), "Only Mon–Fri, 09:00–17:00 (Europe/Berlin).");
        assert_eq!(
            line("Requests"),
            "A request still pending after 72 h expires."
        );
        assert!(line("Hotfixes").starts_with("May skip stages"));
        assert!(line("Hotfixes").ends_with("Need at least 10 min where they come from."));

        let default = describe(&GatePolicy::default());
        let lines: Vec<String> = default.iter().flat_map(|f| f.lines.clone()).collect();
        assert_eq!(lines[0], "None needed.");
        assert_eq!(
            lines[1],
            "The version must have succeeded in the stage before."
        );
        assert_eq!(lines[2], "No freeze windows.");
        assert_eq!(lines[3], "Any day, at any time.");
        let anyone = describe(&GatePolicy {
            approvals: vec![rule("Approvers", 1)],
            require_previous_success: false,
            soak_minutes: 60,
            ..GatePolicy::default()
        });
        assert_eq!(
            anyone[0].lines,
            [
                "1 approval from Approvers: anyone who may approve into this environment.",
                "The requester's own approval never counts."
            ]
        );
        assert_eq!(
            anyone[1].lines,
            ["The version must have run in the stage before for at least 1 h."]
        );
    }

    #[test]
    fn who_set_a_version_and_when() {
        let mut v = GatePolicyVersion {
            environment: "prod".into(),
            version: 0,
            policy: GatePolicy::default(),
            reason: "never set: the default policy applies".into(),
            created_by: String::new(),
            created_at: None,
        };
        assert_eq!(
            set_by(&v),
            "Version 0: never set, so the default policy applies."
        );
        v.version = 3;
        v.created_by = "Ada Admin".into();
        v.created_at = Some(datetime!(2026-11-21 14:03 UTC));
        assert_eq!(
            set_by(&v),
            "Version 3 · set by Ada Admin on 2026-11-21 14:03 UTC"
        );
    }

    #[test]
    fn the_form_gives_back_the_policy_it_was_made_from() {
        for p in [GatePolicy::default(), strict()] {
            assert_eq!(PolicyForm::of(&p).policy(), Ok(p));
        }
        let form = PolicyForm::of(&strict());
        assert_eq!(form.approvals[0].roles, "approver@prod, sre");
        assert_eq!(form.freeze_windows[0].start, "2030-12-20T00:00");
        assert!(form.hours.on);
        // Switched off, the hours are kept in the form but not sent.
        let off = PolicyForm::of(&GatePolicy::default());
        assert!(!off.hours.on);
        assert_eq!(off.hours.from, "09:00");
    }

    #[test]
    fn the_form_tidies_what_was_typed() {
        let mut form = PolicyForm::of(&GatePolicy::default());
        form.approvals.push(RuleForm {
            name: " Release managers ".into(),
            count: " 2".into(),
            roles: "approver@prod, ,sre,".into(),
            groups: "".into(),
            owning_team: false,
        });
        form.soak_minutes = "".into();
        form.hours = HoursForm {
            on: true,
            days: days(&["fri", "mon"]),
            from: "08:00".into(),
            until: "18:00".into(),
            time_zone: " Europe/Berlin ".into(),
        };
        let p = form.policy().expect("a policy");
        assert_eq!(p.approvals[0].name, "Release managers");
        assert_eq!(p.approvals[0].count, 2);
        assert_eq!(p.approvals[0].roles, ["approver@prod", "sre"]);
        assert!(p.approvals[0].groups.is_empty());
        assert_eq!(p.soak_minutes, 0);
        let h = p.allowed_hours.expect("hours");
        assert_eq!(h.days, ["mon", "fri"]);
        assert_eq!(h.time_zone, "Europe/Berlin");
    }

    #[test]
    fn what_cannot_be_sent_is_named_as_the_api_names_it() {
        let mut form = PolicyForm::of(&strict());
        form.approvals[0].count = "two".into();
        form.expire_after_hours = "".into();
        form.freeze_windows[0].end = "".into();
        form.freeze_windows.push(FreezeForm {
            start: "2030-01-01T00:00".into(),
            end: "soon".into(),
            reason: "x".into(),
        });
        let bad = form.policy().expect_err("refused");
        let fields: Vec<&str> = bad.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "policy.approvals[0].count",
                "policy.expire_after_hours",
                "policy.freeze_windows[0].end",
                "policy.freeze_windows[1].end",
            ]
        );
        assert_eq!(bad[0].message, "'two' is not a whole number of 0 or more");
        assert_eq!(bad[1].message, "enter a number");
        assert_eq!(bad[2].message, "pick a date and a time");
        // Each lands where the form shows it.
        assert_eq!(
            slot_of(&bad[0].field),
            Some(Slot::Rule(0, RuleField::Count))
        );
        assert_eq!(
            slot_of(&bad[3].field),
            Some(Slot::Freeze(1, FreezeField::End))
        );
    }

    #[test]
    fn refused_fields_find_their_place() {
        // The names check_policy gives, prefixed by the change's `policy`.
        let cases = [
            ("reason", Some(Slot::Reason)),
            ("policy.approvals", Some(Slot::Approvals)),
            (
                "policy.approvals[0].name",
                Some(Slot::Rule(0, RuleField::Name)),
            ),
            (
                "policy.approvals[3].count",
                Some(Slot::Rule(3, RuleField::Count)),
            ),
            (
                "policy.approvals[1].roles[2]",
                Some(Slot::Rule(1, RuleField::Roles)),
            ),
            (
                "policy.approvals[1].groups",
                Some(Slot::Rule(1, RuleField::Groups)),
            ),
            (
                "policy.approvals[1].owning_team",
                Some(Slot::Rule(1, RuleField::Row)),
            ),
            ("policy.approvals[1]", Some(Slot::Rule(1, RuleField::Row))),
            ("policy.expire_after_hours", Some(Slot::ExpireAfterHours)),
            ("policy.soak_minutes", Some(Slot::SoakMinutes)),
            ("policy.hotfix_soak_minutes", Some(Slot::HotfixSoakMinutes)),
            (
                "policy.freeze_windows[0].end",
                Some(Slot::Freeze(0, FreezeField::End)),
            ),
            (
                "policy.freeze_windows[2].reason",
                Some(Slot::Freeze(2, FreezeField::Reason)),
            ),
            (
                "policy.freeze_windows[2].start",
                Some(Slot::Freeze(2, FreezeField::Start)),
            ),
            ("policy.allowed_hours", Some(Slot::AllowedHours)),
            ("policy.allowed_hours.from", Some(Slot::AllowedHours)),
            ("policy.approvals[x].name", None),
            ("policy.aprovals", None),
            ("expected_version", None),
            ("body", None),
        ];
        for (field, slot) in cases {
            assert_eq!(slot_of(field), slot, "{field}");
        }
    }
}
