//! Action items: the card on an incident and its postmortem (add, pick up, finish, drop with a
//! reason, edit), and the follow-through page for a team or the whole organisation.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_api::{
    ActionItem, ActionItemPatch, ActionKind, ActionPriority, ActionState, FollowThrough,
    NewActionItem, Page, PersonRef, Team, TrendWeek,
};

use super::{page_url, param};
use crate::api::{Change, ClientError, api_url, use_api};
use crate::components::{
    EmptyState, ErrorState, FieldError, Loading, MeResource, acting, csrf, use_me,
};
use crate::format;
use crate::live::{NewsWaiting, Unsaved, use_live_resource};

fn can(me: Option<MeResource>, permission: &'static str) -> bool {
    me.and_then(|m| m.get())
        .and_then(Result::ok)
        .is_some_and(|m| m.can(permission))
}

fn my_key(me: Option<MeResource>) -> Option<String> {
    me.and_then(|m| m.get_untracked())
        .and_then(Result::ok)
        .map(|m| format!("{}:{}", m.tenant_id, m.object_id))
}

#[component]
pub fn ActionStateBadge(state: ActionState) -> impl IntoView {
    view! { <span class=format!("badge action-{}", state.as_str())>{state.label()}</span> }
}

#[component]
pub fn PriorityBadge(priority: ActionPriority) -> impl IntoView {
    view! {
        <span class=format!("badge priority-{}", priority.as_str()) title=priority.definition()>
            {priority.label()}
        </span>
    }
}

/// The due date, marked when it has passed.
#[component]
fn Due(item: ActionItem) -> impl IntoView {
    let text = format!("due {}", item.due_on);
    if item.overdue {
        view! { <span class="due due-overdue" title="Past its due date">{format!("{text} · overdue")}</span> }.into_any()
    } else if item.state.is_closed() {
        view! { <span class="due muted">{text}</span> }.into_any()
    } else {
        view! { <span class="due">{text}</span> }.into_any()
    }
}

#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct CardData {
    items: Vec<ActionItem>,
    teams: Vec<Team>,
    people: Vec<PersonRef>,
}

/// The action items of one incident, with what the signed-in person may do to them; read again
/// when the incident changes.
#[component]
pub fn ActionItemsCard(incident_id: i64) -> impl IntoView {
    let api = use_api();
    let load = move |_| {
        let items =
            api.get::<Vec<ActionItem>>(format!("/api/v1/incidents/{incident_id}/action-items"));
        let teams = api.get::<Page<Team>>(api_url("teams", &[("limit", Some("200".into()))]));
        let people = api.get::<Vec<PersonRef>>("/api/v1/people".into());
        async move {
            Ok::<_, ClientError>(CardData {
                items: items.await?,
                teams: teams.await?.items,
                people: people.await?,
            })
        }
    };
    let data = Resource::new(|| (), load.clone());
    let reload = move || data.refetch();
    // Waiting news needs no notice of its own: the page's says it.
    use_live_resource(
        data,
        move || vec![format!("incident:{incident_id}")],
        move || load(()),
    );
    let me = use_me();
    let adding = RwSignal::new(false);
    view! {
        <section class="card action-items" id="action-items">
            <header class="card-header">
                <h2>"Action items"</h2>
                {move || (can(me, "incidents:write") && !adding.get()).then(|| view! {
                    <button type="button" class="button button-secondary button-small" on:click=move |_| adding.set(true)>"Add action item"</button>
                })}
            </header>
            <Transition fallback=|| view! { <Loading lines=3/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let teams = d.teams.clone();
                            let people = d.people.clone();
                            view! {
                                {move || adding.get().then(|| view! {
                                    <ItemForm incident_id item=None teams=teams.clone() people=people.clone()
                                        on_done=move || { adding.set(false); reload(); }
                                        on_cancel=move || adding.set(false)/>
                                })}
                                <ItemList items=d.items teams=d.teams people=d.people reload/>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorState what="the action items" error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ItemList(
    items: Vec<ActionItem>,
    teams: Vec<Team>,
    people: Vec<PersonRef>,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    if items.is_empty() {
        return view! {
            <p class="muted">"No action items yet. Each one says what will be done, by which team, and by when."</p>
        }
        .into_any();
    }
    let open = items.iter().filter(|i| !i.state.is_closed()).count();
    let overdue = items.iter().filter(|i| i.overdue).count();
    view! {
        <p class="muted action-summary">
            {format!("{open} open of {}", items.len())}
            {(overdue > 0).then(|| view! { " · "<span class="due-overdue">{format!("{overdue} overdue")}</span> })}
        </p>
        <ul class="action-list">
            {items.into_iter().map(|item| view! {
                <ItemRow item teams=teams.clone() people=people.clone() reload/>
            }.into_any()).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn ItemRow(
    item: ActionItem,
    teams: Vec<Team>,
    people: Vec<PersonRef>,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let me = use_me();
    let error = RwSignal::new(None::<ClientError>);
    let act = acting(error, reload);
    let editing = RwSignal::new(false);
    let dropping = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    Unsaved::hold_while(move || dropping.get());
    let id = item.id;
    let version = item.version;
    let path = format!("/api/v1/action-items/{id}");
    let send = {
        let path = path.clone();
        move |patch: ActionItemPatch| {
            let patch = ActionItemPatch {
                expected_version: Some(version),
                ..patch
            };
            let change = Change::patch(path.clone(), &patch, csrf(me));
            act.with_value(|act| act(change));
        }
    };
    let send = StoredValue::new(send);
    let moves = item.moves.clone();
    let has_assignee = item.assignee.is_some();
    // A closed item only reopens.
    let closed = item.state.is_closed();
    let row_class = format!(
        "action-item action-item-{}{}",
        item.state.as_str(),
        if item.overdue { " is-overdue" } else { "" }
    );
    let shown = item.clone();
    let for_edit = item.clone();
    view! {
        <li class=row_class data-action-item=item.reference.clone() data-state=item.state.as_str()>
            <div class="action-main">
                <span class="muted action-ref">{item.reference.clone()}</span>
                <span class="action-title">{item.title.clone()}</span>
                <span class="badge action-kind" title=item.kind.definition()>{item.kind.label()}</span>
                <PriorityBadge priority=item.priority/>
                <ActionStateBadge state=item.state/>
            </div>
            <div class="action-meta">
                <span>{item.team.name.clone()}</span>
                <span>{item.assignee.clone().map(|p| p.name).unwrap_or_else(|| "nobody has picked it up".into())}</span>
                <Due item=shown/>
                {item.ticket_url.clone().map(|u| view! { <a class="link-external" href=u rel="external noopener">"Ticket"</a> })}
            </div>
            {(!item.details.is_empty()).then(|| view! { <p class="action-details">{item.details.clone()}</p> })}
            {(!item.state_note.is_empty()).then(|| view! { <p class="action-note muted">{format!("“{}”", item.state_note)}</p> })}
            {move || can(me, "incidents:declare").then(|| {
                let moves = moves.clone();
                view! {
                    <div class="row action-buttons">
                        {moves.iter().copied().map(|to| {
                            let label = match to {
                                ActionState::InProgress => "Start",
                                ActionState::Done => "Done",
                                ActionState::WontDo => "Won't do…",
                                ActionState::Open if item.state == ActionState::InProgress => "Stop",
                                ActionState::Open => "Reopen",
                            };
                            view! {
                                <button type="button" class="button button-secondary button-small" data-move=to.as_str() on:click=move |_| {
                                    if to == ActionState::WontDo {
                                        dropping.set(true);
                                        return;
                                    }
                                    let mut patch = ActionItemPatch { state: Some(to.as_str().into()), ..Default::default() };
                                    // Starting something nobody has picked up makes it yours.
                                    if to == ActionState::InProgress && !has_assignee {
                                        patch.assignee = my_key(me).map(Some);
                                    }
                                    send.with_value(|send| send(patch));
                                }>{label}</button>
                            }
                        }).collect_view()}
                        {(!closed).then(|| view! {
                            <button type="button" class="button button-secondary button-small" on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                        })}
                    </div>
                }
            })}
            {move || dropping.get().then(|| view! {
                <form class="row drop-form" on:submit=move |ev| {
                    ev.prevent_default();
                    let patch = ActionItemPatch {
                        state: Some(ActionState::WontDo.as_str().into()),
                        state_note: Some(reason.get_untracked()),
                        ..Default::default()
                    };
                    send.with_value(|send| send(patch));
                }>
                    <label class="field field-grow">
                        <span class="field-label">"Why it will not be done"</span>
                        <input type="text" name="reason" required placeholder="e.g. covered by AI-12, or the service is being retired"
                            prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="button">"Close as won't do"</button>
                    <button type="button" class="button button-secondary" on:click=move |_| dropping.set(false)>"Cancel"</button>
                </form>
            })}
            {move || editing.get().then(|| view! {
                <ItemForm incident_id=for_edit.incident_id item=Some(for_edit.clone()) teams=teams.clone() people=people.clone()
                    on_done=move || { editing.set(false); reload(); }
                    on_cancel=move || editing.set(false)/>
            })}
            {move || error.get().map(|e| {
                let detail = e.fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ");
                view! { <p class="form-error" role="alert">{if detail.is_empty() { e.message } else { format!("{}: {detail}", e.message) }}</p> }
            })}
        </li>
    }
    .into_any()
}

/// Adding an item (`item` is `None`) or editing one.
#[component]
fn ItemForm(
    incident_id: i64,
    item: Option<ActionItem>,
    teams: Vec<Team>,
    people: Vec<PersonRef>,
    on_done: impl Fn() + Send + Sync + Copy + 'static,
    on_cancel: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let api = use_api();
    let me = use_me();
    // Open means unsaved: news waits until it is saved or cancelled.
    Unsaved::hold();
    let editing = item.clone();
    let title = RwSignal::new(item.as_ref().map(|i| i.title.clone()).unwrap_or_default());
    let details = RwSignal::new(item.as_ref().map(|i| i.details.clone()).unwrap_or_default());
    let kind = RwSignal::new(
        item.as_ref()
            .map_or(ActionKind::Prevent, |i| i.kind)
            .as_str()
            .to_string(),
    );
    let priority = RwSignal::new(
        item.as_ref()
            .map_or(ActionPriority::P2, |i| i.priority)
            .as_str()
            .to_string(),
    );
    let team = RwSignal::new(
        item.as_ref()
            .map(|i| i.team.slug.clone())
            .unwrap_or_default(),
    );
    let assignee = RwSignal::new(
        item.as_ref()
            .and_then(|i| i.assignee.as_ref().map(|p| p.id.clone()))
            .unwrap_or_default(),
    );
    let due = RwSignal::new(
        item.as_ref()
            .map(|i| i.due_on.to_string())
            .unwrap_or_default(),
    );
    let ticket = RwSignal::new(
        item.as_ref()
            .and_then(|i| i.ticket_url.clone())
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<ClientError>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        let change = match &editing {
            None => Change::post(
                format!("/api/v1/incidents/{incident_id}/action-items"),
                &NewActionItem {
                    title: title.get_untracked(),
                    details: opt(details.get_untracked()),
                    kind: kind.get_untracked(),
                    priority: priority.get_untracked(),
                    team: team.get_untracked(),
                    assignee: opt(assignee.get_untracked()),
                    due_on: opt(due.get_untracked()),
                    ticket_url: opt(ticket.get_untracked()),
                },
                csrf(me),
            ),
            Some(i) => Change::patch(
                format!("/api/v1/action-items/{}", i.id),
                &ActionItemPatch {
                    title: Some(title.get_untracked()),
                    details: Some(details.get_untracked()),
                    kind: Some(kind.get_untracked()),
                    priority: Some(priority.get_untracked()),
                    team: Some(team.get_untracked()),
                    assignee: Some(opt(assignee.get_untracked())),
                    due_on: opt(due.get_untracked()),
                    ticket_url: Some(opt(ticket.get_untracked())),
                    expected_version: Some(i.version),
                    ..Default::default()
                },
                csrf(me),
            ),
        };
        let sent = api.send::<ActionItem>(change);
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(_) => on_done(),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let adding = item.is_none();
    let form_class = if adding {
        "stack action-form"
    } else {
        "stack action-form action-form-edit"
    };
    view! {
        <form class=form_class on:submit=submit>
            <label class="field field-wide">
                <span class="field-label">"What will be done"</span>
                <input type="text" name="title" required maxlength="200" placeholder="e.g. Alert when checkout errors pass 1% for 5 minutes"
                    prop:value=title on:input=move |ev| title.set(event_target_value(&ev))/>
                <FieldError error field="title"/>
            </label>
            <div class="form-grid">
                <label class="field">
                    <span class="field-label">"Kind"</span>
                    <select name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {ActionKind::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == k.as_str() title=k.definition()>{format!("{} — {}", k.label(), k.definition())}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="field-label">"Priority"</span>
                    <select name="priority" on:change=move |ev| priority.set(event_target_value(&ev))>
                        {ActionPriority::ALL.into_iter().map(|p| view! {
                            <option value=p.as_str() selected=move || priority.get() == p.as_str()>{format!("{} — {}", p.label(), p.definition())}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="field-label">"Team accountable"</span>
                    <select name="team" required on:change=move |ev| team.set(event_target_value(&ev))>
                        <option value="" selected=move || team.get().is_empty()>"Choose a team"</option>
                        {teams.into_iter().filter(|t| !t.archived).map(|t| {
                            let slug = t.slug.clone();
                            view! { <option value=t.slug.clone() selected=move || team.get() == slug>{t.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                    <FieldError error field="team"/>
                </label>
                <label class="field">
                    <span class="field-label">"Person doing it"</span>
                    <select name="assignee" on:change=move |ev| assignee.set(event_target_value(&ev))>
                        <option value="" selected=move || assignee.get().is_empty()>"Nobody yet"</option>
                        {people.into_iter().map(|p| {
                            let key = p.id.clone();
                            view! { <option value=p.id.clone() selected=move || assignee.get() == key>{p.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                    <FieldError error field="assignee"/>
                </label>
                <label class="field">
                    <span class="field-label">"Due"</span>
                    <input type="date" name="due_on" prop:value=due on:input=move |ev| due.set(event_target_value(&ev))/>
                    {adding.then(|| view! { <span class="field-hint muted">"Empty: 14, 30 or 90 days for P1, P2, P3."</span> })}
                    <FieldError error field="due_on"/>
                </label>
                <label class="field">
                    <span class="field-label">"Ticket (optional)"</span>
                    <input type="url" name="ticket_url" placeholder="https://…"
                        prop:value=ticket on:input=move |ev| ticket.set(event_target_value(&ev))/>
                    <FieldError error field="ticket_url"/>
                </label>
            </div>
            <label class="field field-wide">
                <span class="field-label">"Details (optional)"</span>
                <textarea name="details" rows="2" placeholder="How we will know it is done"
                    prop:value=details on:input=move |ev| details.set(event_target_value(&ev))></textarea>
                <FieldError error field="details"/>
            </label>
            {move || error.get().filter(|e| e.fields.is_empty()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
            <div class="row">
                <button type="submit" class="button" disabled=move || busy.get()>{if adding { "Add" } else { "Save" }}</button>
                <button type="button" class="button button-secondary" on:click=move |_| on_cancel()>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}

// ------------------------------------------------------------------ the follow-through page

#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct PageData {
    follow: FollowThrough,
    teams: Vec<Team>,
}

#[component]
pub fn ActionsPage() -> impl IntoView {
    let query = use_query_map();
    let team = Memo::new(move |_| param(&query.read(), "team"));
    let api = use_api();
    let load = move |team: Option<String>| {
        let follow =
            api.get::<FollowThrough>(api_url("action-items/follow-through", &[("team", team)]));
        let teams = api.get::<Page<Team>>(api_url("teams", &[("limit", Some("200".into()))]));
        async move {
            Ok::<_, ClientError>(PageData {
                follow: follow.await?,
                teams: teams.await?.items,
            })
        }
    };
    let data = Resource::new(move || team.get(), load.clone());
    let refetch = move || data.refetch();
    let waiting = use_live_resource(
        data,
        || vec!["action_items".into()],
        move || load(team.get_untracked()),
    );
    view! {
        <Title text="Action items"/>
        <NewsWaiting waiting refetch/>
        <Transition fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <FollowThroughView data=d/> }.into_any(),
                    Err(e) => view! {
                        <header class="page-header"><div><h1>"Action items"</h1></div></header>
                        <ErrorState what="the action items" error=e/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

fn days(n: Option<i64>) -> String {
    match n {
        None => "—".into(),
        Some(1) => "1 day".into(),
        Some(n) => format!("{n} days"),
    }
}

#[component]
fn FollowThroughView(data: PageData) -> impl IntoView {
    let f = data.follow;
    let fig = f.figures.clone();
    let chosen = f.team.as_ref().map(|t| t.slug.clone()).unwrap_or_default();
    let heading = match &f.team {
        Some(t) => format!("Action items of {}", t.name),
        None => "Action items across the organisation".to_string(),
    };
    let header = view! {
        <header class="page-header">
            <div>
                <p class="eyebrow">"Follow-through"</p>
                <h1>{heading}</h1>
                <p class="muted">"What postmortems committed to, and whether it gets done. Overdue means open past its due date (UTC)."</p>
            </div>
            <form class="row filters" method="get" action="/actions">
                <label class="field">
                    <span class="field-label">"Team"</span>
                    <select name="team">
                        <option value="" selected=chosen.is_empty()>"Whole organisation"</option>
                        {data.teams.into_iter().map(|t| {
                            let on = t.slug == chosen;
                            view! { <option value=t.slug.clone() selected=on>{t.name}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="button button-secondary">"Show"</button>
            </form>
        </header>
    }
    .into_any();
    let overdue_class = if fig.overdue > 0 {
        "tile tile-alert"
    } else {
        "tile"
    };
    let tiles = view! {
        <section class="tiles" aria-label="Figures">
            <div class="tile"><span class="tile-value" data-figure="open">{fig.open}</span><span class="tile-label">"open"</span>
                <span class="tile-note muted">{format!("{} in progress", fig.in_progress)}</span></div>
            <div class=overdue_class><span class="tile-value" data-figure="overdue">{fig.overdue}</span><span class="tile-label">"overdue"</span>
                <span class="tile-note muted">{format!("{} due in the next 7 days", fig.due_soon)}</span></div>
            <div class="tile"><span class="tile-value">{days(fig.median_open_age_days)}</span><span class="tile-label">"median age of open items"</span>
                <span class="tile-note muted">{format!("oldest: {}", days(fig.oldest_open_days))}</span></div>
            <div class="tile"><span class="tile-value">{fig.closed_last_30_days}</span><span class="tile-label">"closed in the last 30 days"</span></div>
            <div class="tile"><span class="tile-value">{days(fig.median_days_to_done)}</span><span class="tile-label">"median time to done"</span>
                <span class="tile-note muted">"items done in the last 90 days"</span></div>
            <div class="tile"><span class="tile-value" data-figure="on-time">{fig.on_time_percent.map(|p| format!("{p}%")).unwrap_or_else(|| "—".into())}</span>
                <span class="tile-label">"done by the due date"</span><span class="tile-note muted">"last 90 days"</span></div>
        </section>
    }
    .into_any();
    let max_age = f.ages.iter().map(|b| b.open).max().unwrap_or(0).max(1);
    let charts = view! {
        <div class="grid-2">
            <section class="card">
                <header class="card-header"><h2>"Trend"</h2><span class="muted">"open at the end of each week; overdue in red"</span></header>
                <TrendChart weeks=f.trend.clone()/>
            </section>
            <section class="card">
                <header class="card-header"><h2>"Age of open items"</h2></header>
                <ul class="bars">
                    {f.ages.iter().map(|b| {
                        // An SVG bar: the page's CSP allows no inline styles.
                        let width = b.open * 100 / max_age;
                        view! {
                            <li class="bar-row">
                                <span class="bar-label">{b.label.clone()}</span>
                                <svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                                    <rect class="bar-fill" x="0" y="0" width=width height="10" rx="0"></rect>
                                </svg>
                                <span class="bar-value">{b.open}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        </div>
    }
    .into_any();
    let teams = (!f.teams.is_empty()).then(|| view! {
        <section class="card">
            <header class="card-header"><h2>"By team"</h2><span class="muted">"most overdue first"</span></header>
            <table class="data-table team-follow">
                <thead><tr><th>"Team"</th><th class="num">"Open"</th><th class="num">"Overdue"</th><th class="num">"Oldest open"</th><th class="num">"Closed, 30 days"</th><th class="num">"On time, 90 days"</th></tr></thead>
                <tbody>
                    {f.teams.iter().map(|t| view! {
                        <tr data-team=t.team.slug.clone()>
                            <td><a href=page_url("/actions", &[("team", Some(t.team.slug.clone()))])>{t.team.name.clone()}</a></td>
                            <td class="num">{t.figures.open}</td>
                            <td class="num">{if t.figures.overdue > 0 { view! { <span class="due-overdue">{t.figures.overdue}</span> }.into_any() } else { view! { <span>"0"</span> }.into_any() }}</td>
                            <td class="num">{days(t.figures.oldest_open_days)}</td>
                            <td class="num">{t.figures.closed_last_30_days}</td>
                            <td class="num">{t.figures.on_time_percent.map(|p| format!("{p}%")).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    });
    let items = f.items;
    let list = view! {
        <section class="card">
            <header class="card-header"><h2>"Open items"</h2><span class="muted">"overdue first, then by due date"</span></header>
            {if items.is_empty() {
                view! { <EmptyState title="Nothing open.".to_string()><p class="muted">"Every action item is done or closed."</p></EmptyState> }.into_any()
            } else {
                view! {
                    <table class="data-table open-items">
                        <thead><tr><th>"Item"</th><th>"Incident"</th><th>"Team"</th><th>"Person"</th><th>"Priority"</th><th>"Due"</th><th class="num">"Age"</th><th>"State"</th></tr></thead>
                        <tbody>
                            {items.into_iter().map(|i| view! {
                                <tr class:is-overdue=i.overdue data-action-item=i.reference.clone()>
                                    <td><span class="muted">{i.reference.clone()}</span>" "{i.title.clone()}
                                        {i.ticket_url.clone().map(|u| view! { " "<a class="link-external" href=u rel="external noopener">"Ticket"</a> })}</td>
                                    <td><a href=format!("/incidents/{}#action-items", i.incident_id) title=i.incident_title.clone()>{i.incident_reference.clone()}</a></td>
                                    <td>{i.team.name.clone()}</td>
                                    <td>{i.assignee.clone().map(|p| p.name).unwrap_or_else(|| "—".into())}</td>
                                    <td><PriorityBadge priority=i.priority/></td>
                                    <td><Due item=i.clone()/></td>
                                    <td class="num">{days(Some(i.age_days))}</td>
                                    <td><ActionStateBadge state=i.state/></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any();
    let as_of = f.as_of;
    view! {
        {header}
        {tiles}
        {charts}
        {teams}
        {list}
        <p class="muted small">"As of "<time datetime=format::machine(as_of)>{format::datetime(as_of)}</time></p>
    }
    .into_any()
}

/// Twelve weekly bars: open at the end of the week, the overdue part in red.
#[component]
fn TrendChart(weeks: Vec<TrendWeek>) -> impl IntoView {
    const W: i64 = 36;
    const H: i64 = 120;
    let max = weeks
        .iter()
        .map(|w| w.open_at_end)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = W * weeks.len() as i64;
    let label = weeks
        .iter()
        .map(|w| {
            format!(
                "week of {}: {} open, {} overdue, {} opened, {} closed",
                w.week_start, w.open_at_end, w.overdue_at_end, w.opened, w.closed
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    view! {
        <svg class="trend-chart" viewBox=format!("0 0 {width} {}", H + 18) role="img" aria-label=label>
            {weeks.into_iter().enumerate().map(|(n, w)| {
                let x = n as i64 * W + 4;
                let open_h = w.open_at_end * H / max;
                let late_h = w.overdue_at_end * H / max;
                view! {
                    <g>
                        <title>{format!("Week of {}: {} open ({} overdue); {} opened, {} closed", w.week_start, w.open_at_end, w.overdue_at_end, w.opened, w.closed)}</title>
                        <rect class="trend-open" x=x y=H - open_h width=W - 8 height=open_h></rect>
                        <rect class="trend-overdue" x=x y=H - late_h width=W - 8 height=late_h></rect>
                        <text class="trend-label" x=x + (W - 8) / 2 y=H + 14 text-anchor="middle">{format!("{}/{}", w.week_start.day(), u8::from(w.week_start.month()))}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}
