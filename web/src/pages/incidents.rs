//! Incidents: the list (open ones first in mind), declaring one, and one incident with its facts,
//! its lifecycle moves, its timeline and notes, and the deployments linked as cause or fix next
//! to the ones Portolan suggests.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use portolan_api::{
    DeploymentLink, Incident, IncidentPatch, IncidentRole, IncidentState, LinkCandidate,
    LinkRelation, Me, NewIncident, NewLink, NewNote, Page, PersonRef, Service, Severity,
    TimelineEntry,
};

use super::{page_url, param};
use crate::api::{Change, ClientError, api_url, use_api};
use crate::components::{
    Creating, EmptyState, ErrorState, FieldError, Loading, NotFoundState, Pager, StatusBadge,
    acting, csrf, use_me,
};
use crate::format;
use crate::live::{NewsWaiting, Unsaved, use_live_resource};
use crate::pages::actions::ActionItemsCard;

/// Whether the signed-in person holds `permission` (false while unknown).
fn can(me: Option<Resource<Result<Me, ClientError>>>, permission: &'static str) -> bool {
    me.and_then(|m| m.get())
        .and_then(Result::ok)
        .is_some_and(|m| m.can(permission))
}

pub fn state_label(s: IncidentState) -> &'static str {
    match s {
        IncidentState::Triage => "Triage",
        IncidentState::Investigating => "Investigating",
        IncidentState::Identified => "Identified",
        IncidentState::Monitoring => "Monitoring",
        IncidentState::Resolved => "Resolved",
        IncidentState::Closed => "Closed",
        IncidentState::Declined => "Declined",
        IncidentState::Merged => "Merged",
    }
}

#[component]
pub fn SeverityBadge(severity: Severity) -> impl IntoView {
    view! {
        <span class=format!("badge sev sev-{}", severity.level()) title=severity.definition()>
            {severity.label()}
        </span>
    }
}

#[component]
pub fn IncidentStateBadge(state: IncidentState) -> impl IntoView {
    view! {
        <span class=format!("incident-state incident-state-{}", state.as_str()) data-state=state.as_str()>
            {state_label(state)}
        </span>
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ListFilters {
    state: Option<String>,
    severity: Option<String>,
    cursor: Option<String>,
}

impl ListFilters {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("state", self.state.clone()),
            ("severity", self.severity.clone()),
            ("cursor", self.cursor.clone()),
        ]
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        ListFilters {
            // Open ones unless asked otherwise: what is on fire comes first.
            state: Some(param(&q, "state").unwrap_or_else(|| "open".into())).filter(|s| s != "all"),
            severity: param(&q, "severity"),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let load = move |f: ListFilters| {
        let mut pairs = f.pairs();
        pairs.push(("limit", Some("50".into())));
        api.get::<Page<Incident>>(api_url("incidents", &pairs))
    };
    let incidents = Resource::new(move || filters.get(), load.clone());
    let refetch = move || incidents.refetch();
    let waiting = use_live_resource(
        incidents,
        || vec!["incidents".into()],
        move || load(filters.get_untracked()),
    );
    let me = use_me();
    let declaring = RwSignal::new(false);
    let tab = move |value: &'static str, label: &'static str| {
        let current = move || {
            let s = filters.get().state.unwrap_or_else(|| "all".into());
            (s == value).then_some("page")
        };
        view! { <a class="tab" href=page_url("/incidents", &[("state", Some(value.to_string()))]) aria-current=current>{label}</a> }
    };

    let header = view! {
        <Title text="Incidents"/>
        <header class="page-header">
            <div>
                <h1>"Incidents"</h1>
                <p class="subtitle">"What is going wrong, who is on it, and what caused and fixed it."</p>
            </div>
            <div class="page-actions">
                // Inside a boundary, so that the server waits for who is signed in and the
                // browser hydrates the same markup.
                <Suspense fallback=|| ()>
                    {move || can(me, "incidents:declare").then(|| view! {
                        <button type="button" class="button" on:click=move |_| declaring.update(|d| *d = !*d)>
                            "Declare an incident"
                        </button>
                    })}
                </Suspense>
            </div>
        </header>
        {move || declaring.get().then(|| view! { <DeclareForm on_cancel=move || declaring.set(false)/> })}
        <nav class="tabs" aria-label="Which incidents">
            {tab("open", "Open")}
            {tab("ended", "Ended")}
            {tab("all", "All")}
        </nav>
    }
    .into_any();
    view! {
        {header}
        <NewsWaiting waiting refetch/>
        <section class="card">
            <Transition fallback=|| view! { <Loading lines=6/> }>
                {move || Suspend::new(async move {
                    let f = filters.get_untracked();
                    match incidents.await {
                        Err(e) => view! { <ErrorState what="the incidents" error=e/> }.into_any(),
                        Ok(page) if page.items.is_empty() => view! {
                            <EmptyState title=if f.state.as_deref() == Some("open") { "Nothing is on fire.".to_string() } else { "No incidents here.".to_string() }>
                                <p>"Incidents are declared here, or opened by alerts from Alertmanager and PagerDuty."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(page) => {
                            let shown = page.items.len();
                            let first_url = f.cursor.is_some().then(|| page_url("/incidents", &ListFilters { cursor: None, ..f.clone() }.pairs()));
                            let next_url = page.next_cursor.clone().map(|c| page_url("/incidents", &ListFilters { cursor: Some(c), ..f.clone() }.pairs()));
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table incidents-table">
                                        <thead><tr>
                                            <th scope="col">"Incident"</th>
                                            <th scope="col">"Severity"</th>
                                            <th scope="col">"State"</th>
                                            <th scope="col">"Services"</th>
                                            <th scope="col">"Commander"</th>
                                            <th scope="col">"Declared"</th>
                                        </tr></thead>
                                        <tbody>
                                            {page.items.into_iter().map(|i| view! {
                                                <tr data-incident=i.id>
                                                    <td>
                                                        <a href=format!("/incidents/{}", i.id)>{i.title.clone()}</a>
                                                        <span class="muted incident-ref">{i.reference.clone()}</span>
                                                    </td>
                                                    <td><SeverityBadge severity=i.severity/></td>
                                                    <td><IncidentStateBadge state=i.state/></td>
                                                    <td>{i.services.iter().map(|s| view! { <a class="tag" href=format!("/services/{}", s.slug)>{s.name.clone()}</a> }).collect_view()}</td>
                                                    <td class="muted">{i.commander.clone().map(|c| c.name).unwrap_or_else(|| "—".into())}</td>
                                                    <td class="muted"><time datetime=format::machine(i.declared_at)>{format::datetime(i.declared_at)}</time></td>
                                                </tr>
                                            }.into_any()).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <Pager first_url next_url shown noun="incidents"/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

/// A multiple choice of the services (by slug), with `chosen` selected.
#[component]
fn ServicesPicker(chosen: RwSignal<Vec<String>>) -> impl IntoView {
    let api = use_api();
    let services = Resource::new(
        || (),
        move |_| api.get::<Page<Service>>(api_url("services", &[("limit", Some("200".into()))])),
    );
    view! {
        <Suspense fallback=|| view! { <Loading lines=1/> }>
            {move || Suspend::new(async move {
                let list = services.await.map(|p| p.items).unwrap_or_default();
                view! {
                    <select name="services" multiple size="6" on:change=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            use wasm_bindgen::JsCast;
                            if let Some(sel) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()) {
                                let opts = sel.selected_options();
                                let picked = (0..opts.length())
                                    .filter_map(|i| opts.item(i))
                                    .filter_map(|o| o.get_attribute("value"))
                                    .collect();
                                chosen.set(picked);
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }>
                        {list.into_iter().map(|s| {
                            let on = chosen.get_untracked().contains(&s.slug);
                            view! { <option value=s.slug.clone() selected=on>{s.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                }
            })}
        </Suspense>
    }
}

/// Declaring an incident: title, severity (with what each means), services, what is known.
#[component]
fn DeclareForm(on_cancel: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let api = use_api();
    let me = use_me();
    let title = RwSignal::new(String::new());
    let severity = RwSignal::new("sev3".to_string());
    let chosen = RwSignal::new(Vec::<String>::new());
    let summary = RwSignal::new(String::new());
    let creating = Creating::new();
    let (error, busy) = (creating.error, creating.busy);
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewIncident {
            title: title.get_untracked(),
            severity: severity.get_untracked(),
            summary: Some(summary.get_untracked()),
            services: chosen.get_untracked(),
            commander: None,
            started_at: None,
            detected_at: None,
        };
        let api = api.clone();
        creating.submit(
            move || {
                Box::pin(api.send::<Incident>(Change::post(
                    api_url("incidents", &[]),
                    &new,
                    csrf(me),
                )))
            },
            |i| format!("/incidents/{}", i.id),
            navigate.clone(),
        );
    };
    view! {
        <section class="card declare-card">
            <header class="card-header"><h2>"Declare an incident"</h2></header>
            <form class="stack declare-form" on:submit=submit>
                <label class="field field-wide">
                    <span class="field-label">"What is wrong"</span>
                    <input type="text" name="title" required maxlength="200" placeholder="e.g. Checkout returns errors"
                        prop:value=title on:input=move |ev| title.set(event_target_value(&ev))/>
                    <FieldError error field="title"/>
                </label>
                <fieldset class="severity-choices">
                    <legend class="field-label">"Severity"</legend>
                    {Severity::ALL.into_iter().map(|s| view! {
                        <label class="choice">
                            <input type="radio" name="severity" value=s.as_str()
                                prop:checked=move || severity.get() == s.as_str()
                                on:change=move |_| severity.set(s.as_str().to_string())/>
                            <span><SeverityBadge severity=s/>" "<span class="muted">{s.definition()}</span></span>
                        </label>
                    }).collect_view()}
                </fieldset>
                <label class="field field-wide">
                    <span class="field-label">"Affected services"</span>
                    <ServicesPicker chosen/>
                    <span class="field-hint muted">"Hold Ctrl (⌘ on a Mac) to choose several."</span>
                    <FieldError error field="services"/>
                </label>
                <label class="field field-wide">
                    <span class="field-label">"What is known so far"</span>
                    <textarea name="summary" rows="3" prop:value=summary on:input=move |ev| summary.set(event_target_value(&ev))></textarea>
                </label>
                {move || error.get().filter(|e| e.fields.is_empty()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                <div class="row">
                    <button type="submit" class="button" disabled=move || busy.get()>"Declare"</button>
                    <button type="button" class="button button-secondary" on:click=move |_| on_cancel()>"Cancel"</button>
                </div>
            </form>
        </section>
    }
}

/// Changing an incident's facts: title, severity, services, commander and roles, times, summary.
/// Sent whole with the version it started from, so a change made meanwhile is never overwritten.
#[component]
fn EditIncident(
    incident: Incident,
    on_done: impl Fn() + Send + Sync + Copy + 'static,
    on_cancel: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let api = use_api();
    let me = use_me();
    let people = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Vec<PersonRef>>("/api/v1/people".into())
    });
    let i = incident;
    let title = RwSignal::new(i.title.clone());
    let severity = RwSignal::new(i.severity.as_str().to_string());
    let chosen = RwSignal::new(
        i.services
            .iter()
            .map(|s| s.slug.clone())
            .collect::<Vec<_>>(),
    );
    let summary = RwSignal::new(i.summary.clone());
    let commander = RwSignal::new(
        i.commander
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default(),
    );
    let roles: Vec<(IncidentRole, RwSignal<String>)> = IncidentRole::ALL
        .into_iter()
        .map(|role| {
            let holder = i
                .roles
                .iter()
                .find(|r| r.role == role)
                .map(|r| r.person.id.clone());
            (role, RwSignal::new(holder.unwrap_or_default()))
        })
        .collect();
    let time_input = |t: Option<time::OffsetDateTime>| {
        RwSignal::new(t.map(format::local_input).unwrap_or_default())
    };
    let started = time_input(i.started_at);
    let detected = time_input(i.detected_at);
    let mitigated = time_input(i.mitigated_at);
    let error = RwSignal::new(None::<ClientError>);
    let busy = RwSignal::new(false);
    let (id, version) = (i.id, i.version);
    let sent_roles = roles.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let person = |v: String| Some(v).filter(|v| !v.is_empty());
        let patch = IncidentPatch {
            title: Some(title.get_untracked()),
            severity: Some(severity.get_untracked()),
            summary: Some(summary.get_untracked()),
            services: Some(chosen.get_untracked()),
            commander: Some(person(commander.get_untracked())),
            roles: Some(
                sent_roles
                    .iter()
                    .map(|(role, who)| (role.as_str().to_string(), person(who.get_untracked())))
                    .collect(),
            ),
            started_at: Some(format::from_local_input(&started.get_untracked())),
            detected_at: Some(format::from_local_input(&detected.get_untracked())),
            mitigated_at: Some(format::from_local_input(&mitigated.get_untracked())),
            expected_version: Some(version),
        };
        let sent = api.send::<Incident>(Change::patch(
            format!("/api/v1/incidents/{id}"),
            &patch,
            csrf(me),
        ));
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(_) => on_done(),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let person_select = move |name: &'static str,
                              label: &'static str,
                              hint: &'static str,
                              value: RwSignal<String>| {
        view! {
            <label class="field">
                <span class="field-label" title=hint>{label}</span>
                <Suspense fallback=|| view! { <Loading lines=1/> }>
                    {move || Suspend::new(async move {
                        let list = people.await.unwrap_or_default();
                        view! {
                            <select name=name on:change=move |ev| value.set(event_target_value(&ev))>
                                <option value="" selected=value.get_untracked().is_empty()>"Nobody"</option>
                                {list.into_iter().map(|p| {
                                    let on = value.get_untracked() == p.id;
                                    view! { <option value=p.id.clone() selected=on>{p.name.clone()}</option> }
                                }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
                <span class="field-hint muted">{hint}</span>
            </label>
        }
    };
    let time_field = move |name: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field">
                <span class="field-label">{label}" (UTC)"</span>
                <input type="datetime-local" name=name prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <form class="stack edit-incident" on:submit=submit>
            <label class="field field-wide">
                <span class="field-label">"Title"</span>
                <input type="text" name="title" required maxlength="200" prop:value=title on:input=move |ev| title.set(event_target_value(&ev))/>
                <FieldError error field="title"/>
            </label>
            <div class="form-grid">
                <label class="field">
                    <span class="field-label">"Severity"</span>
                    <select name="severity" on:change=move |ev| severity.set(event_target_value(&ev))>
                        {Severity::ALL.into_iter().map(|s| view! {
                            <option value=s.as_str() selected=move || severity.get() == s.as_str()>{format!("{} — {}", s.label(), s.definition())}</option>
                        }).collect_view()}
                    </select>
                </label>
                {person_select("commander", "Incident commander", "Leads the response and decides.", commander)}
                {roles.iter().map(|(role, value)| person_select(role.as_str(), role.label(), role.definition(), *value)).collect_view()}
                {time_field("started_at", "Impact started", started)}
                {time_field("detected_at", "Detected", detected)}
                {time_field("mitigated_at", "Mitigated", mitigated)}
            </div>
            {move || error.get().and_then(|e| {
                let times: Vec<String> = e.fields.iter().filter(|f| f.field.ends_with("_at") || f.field == "times" || f.field.starts_with("roles.") || f.field == "commander").map(|f| format!("{}: {}", field_label(&f.field), f.message)).collect();
                (!times.is_empty()).then(|| view! { <ul class="form-error">{times.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul> })
            })}
            <label class="field field-wide">
                <span class="field-label">"Affected services"</span>
                <ServicesPicker chosen/>
                <FieldError error field="services"/>
            </label>
            <label class="field field-wide">
                <span class="field-label">"What is known"</span>
                <textarea name="summary" rows="3" prop:value=summary on:input=move |ev| summary.set(event_target_value(&ev))></textarea>
                <FieldError error field="summary"/>
            </label>
            {move || error.get().filter(|e| e.fields.is_empty()).map(|e| {
                let stale = e.status == 409;
                view! {
                    <p class="form-error" role="alert">{e.message}
                        {stale.then(|| view! { " "<a href="" rel="external">"Reload"</a> })}
                    </p>
                }
            })}
            <div class="row">
                <button type="submit" class="button" disabled=move || busy.get()>"Save"</button>
                <button type="button" class="button button-secondary" on:click=move |_| on_cancel()>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}

/// How the edit form names a field the API refused.
fn field_label(field: &str) -> String {
    match field {
        "started_at" => "Impact started".into(),
        "detected_at" => "Detected".into(),
        "mitigated_at" => "Mitigated".into(),
        "commander" => "Incident commander".into(),
        other => other
            .strip_prefix("roles.")
            .and_then(IncidentRole::parse)
            .map_or_else(|| other.to_string(), |r| r.label().to_string()),
    }
}

#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct IncidentData {
    incident: Incident,
    timeline: Vec<TimelineEntry>,
    links: Vec<DeploymentLink>,
    candidates: Vec<LinkCandidate>,
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let api = use_api();
    let load = {
        let api = api.clone();
        move |id: String| {
            let id = crate::api::encode(&id);
            let incident = api.get::<Incident>(format!("/api/v1/incidents/{id}"));
            let timeline =
                api.get::<Vec<TimelineEntry>>(format!("/api/v1/incidents/{id}/timeline"));
            let links = api.get::<Vec<DeploymentLink>>(format!("/api/v1/incidents/{id}/links"));
            let candidates =
                api.get::<Vec<LinkCandidate>>(format!("/api/v1/incidents/{id}/link-candidates"));
            async move {
                Ok::<_, ClientError>(IncidentData {
                    incident: incident.await?,
                    timeline: timeline.await?,
                    links: links.await?,
                    candidates: candidates.await?,
                })
            }
        }
    };
    let data = Resource::new(move || id.get(), load.clone());
    let refetch = move || data.refetch();
    let waiting = use_live_resource(
        data,
        move || vec![format!("incident:{}", id.get())],
        move || load(id.get_untracked()),
    );
    view! {
        <NewsWaiting waiting refetch/>
        <Transition fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <IncidentView data=d reload=move || data.refetch()/> }.into_any(),
                    Err(e) if e.is_not_found() || e.status == 400 => view! {
                        <NotFoundState title="Incident not found" message=format!("There is no incident {}.", id.get_untracked())>
                            <p><a href="/incidents?state=all">"All incidents"</a></p>
                        </NotFoundState>
                    }.into_any(),
                    Err(e) => view! { <ErrorState what="this incident" error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn time_or_dash(t: Option<time::OffsetDateTime>) -> AnyView {
    match t {
        Some(t) => {
            view! { <time datetime=format::machine(t)>{format::datetime(t)}</time> }.into_any()
        }
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
fn IncidentView(
    data: IncidentData,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let me = use_me();
    let i = data.incident;
    let id = i.id;
    let error = RwSignal::new(None::<ClientError>);
    let act = acting(error, reload);
    let moves = i.moves.clone();
    let move_to = RwSignal::new(
        moves
            .first()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    );
    let move_note = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let editing = RwSignal::new(false);
    // A change by someone else waits while this person edits or types.
    Unsaved::hold_while(move || {
        editing.get() || !note.read().trim().is_empty() || !move_note.read().trim().is_empty()
    });
    let links = data.links;
    let candidates = data.candidates;
    let timeline = data.timeline;
    let is_final = i.state.is_final();
    let header = view! {
        <Title text=format!("{} {}", i.reference, i.title)/>
        <header class="page-header">
            <div>
                <p class="eyebrow">{format!("{} · declared by {}", i.reference, i.declared_by)}</p>
                <h1>{i.title.clone()}</h1>
                <p class="row incident-badges">
                    <SeverityBadge severity=i.severity/>
                    <IncidentStateBadge state=i.state/>
                    {i.merged_into.map(|m| view! { <a href=format!("/incidents/{m}")>{format!("merged into INC-{m}")}</a> })}
                </p>
            </div>
            <div class="page-actions">
                <a class="button button-secondary" href=format!("/incidents/{id}/postmortem")>"Postmortem"</a>
            </div>
        </header>
    }
    .into_any();
    let for_edit = i.clone();
    let facts = view! {
            <section class="card">
                <header class="card-header"><h2>"Facts"</h2>
                    {move || (can(me, "incidents:write") && !is_final && !editing.get()).then(|| view! {
                        <button type="button" class="button button-secondary button-small edit-facts" on:click=move |_| editing.set(true)>"Edit"</button>
                    })}
                </header>
                {move || editing.get().then(|| view! {
                    <EditIncident incident=for_edit.clone() on_done=move || { editing.set(false); reload(); } on_cancel=move || editing.set(false)/>
                })}
                <dl class="facts" hidden=move || editing.get()>
                    <dt>"Severity"</dt><dd>{i.severity.label()}" — "<span class="muted">{i.severity.definition()}</span></dd>
                    <dt>"Commander"</dt><dd>{i.commander.clone().map(|c| c.name).unwrap_or_else(|| "nobody yet".into())}</dd>
                    {i.roles.iter().map(|r| view! { <dt title=r.role.definition()>{r.role.label()}</dt><dd data-role=r.role.as_str()>{r.person.name.clone()}</dd> }).collect_view()}
                    <dt>"Services"</dt>
                    <dd>{if i.services.is_empty() { view! { <span class="muted">"none named"</span> }.into_any() } else {
                        i.services.iter().map(|s| view! { <a class="tag" href=format!("/services/{}", s.slug)>{s.name.clone()}</a> }).collect_view().into_any()
                    }}</dd>
                    <dt>"Impact started"</dt><dd>{time_or_dash(i.started_at)}</dd>
                    <dt>"Detected"</dt><dd>{time_or_dash(i.detected_at)}</dd>
                    <dt>"Mitigated"</dt><dd>{time_or_dash(i.mitigated_at)}</dd>
                    <dt>"Resolved"</dt><dd>{time_or_dash(i.resolved_at)}</dd>
                </dl>
                {(!i.summary.is_empty()).then(|| view! { <p class="incident-summary" hidden=move || editing.get()>{i.summary.clone()}</p> })}
            </section>
    }
    .into_any();
    let lifecycle = view! {
            <section class="card">
                <header class="card-header"><h2>"Lifecycle"</h2></header>
                <ol class="lifecycle">
                    {[IncidentState::Triage, IncidentState::Investigating, IncidentState::Identified, IncidentState::Monitoring, IncidentState::Resolved, IncidentState::Closed]
                        .into_iter()
                        .map(|s| view! { <li class:current=s == i.state>{state_label(s)}</li> })
                        .collect_view()}
                </ol>
                {move || (can(me, "incidents:write") && !moves.is_empty()).then(|| {
                    let moves = moves.clone();
                    view! {
                        <form class="stack move-form" on:submit=move |ev| {
                            ev.prevent_default();
                            let body = serde_json::json!({
                                "to": move_to.get_untracked(),
                                "note": Some(move_note.get_untracked()).filter(|n| !n.trim().is_empty()),
                            });
                            act.with_value(|act| act(Change::post(format!("/api/v1/incidents/{id}/transition"), &body, csrf(me))));
                        }>
                            <label class="field">
                                <span class="field-label">"Move to"</span>
                                <select name="to" on:change=move |ev| move_to.set(event_target_value(&ev))>
                                    {moves.iter().map(|s| view! { <option value=s.as_str()>{state_label(*s)}</option> }).collect_view()}
                                </select>
                            </label>
                            <label class="field field-wide">
                                <span class="field-label">"Why (needed to decline or merge)"</span>
                                <input type="text" name="note" prop:value=move_note on:input=move |ev| move_note.set(event_target_value(&ev))/>
                            </label>
                            <div class="row"><button type="submit" class="button">"Move"</button></div>
                        </form>
                    }
                })}
            </section>
    }
    .into_any();
    let links_section = view! {
        <section class="card">
            <header class="card-header"><h2>"Cause and fix"</h2></header>
            {if links.is_empty() {
                view! { <p class="muted">"No deployment is linked yet. Portolan suggests candidates below; a person decides."</p> }.into_any()
            } else {
                view! {
                    <ul class="link-list">
                        {links.into_iter().map(|l| {
                            let d = l.deployment.clone();
                            let unlink = Change::delete(
                                format!("/api/v1/incidents/{id}/links/{}?relation={}", d.id, l.relation.as_str()),
                                String::new(),
                            );
                            view! {
                                <li class="link-item" data-relation=l.relation.as_str()>
                                    <span class=format!("badge link-{}", l.relation.as_str())>{relation_label(l.relation)}</span>
                                    <DeploymentLine d=d.clone()/>
                                    {(!l.note.is_empty()).then(|| view! { <span class="muted">{format!("“{}”", l.note)}</span> })}
                                    <span class="muted">{format!("linked by {}", l.linked_by)}</span>
                                    {move || can(me, "incidents:write").then(|| {
                                        let mut unlink = unlink.clone();
                                        view! {
                                            <button type="button" class="button button-secondary button-small" on:click=move |_| {
                                                unlink.csrf_token = csrf(me);
                                                let change = unlink.clone();
                                                act.with_value(|act| act(change));
                                            }>"Unlink"</button>
                                        }
                                    })}
                                </li>
                            }.into_any()
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h3 class="subhead">"Suggested by Portolan"</h3>
            {if candidates.is_empty() {
                view! { <p class="muted">"No deployment to the affected services or what they depend on fits. Name the affected services to get suggestions."</p> }.into_any()
            } else {
                view! {
                    <ul class="candidate-list">
                        {candidates.into_iter().map(|c| {
                            let d = c.deployment.clone();
                            let body = NewLink { relation: c.relation.as_str().to_string(), note: None };
                            let path = format!("/api/v1/incidents/{id}/links/{}", d.id);
                            view! {
                                <li class="candidate" data-deployment=d.id data-relation=c.relation.as_str()>
                                    <div class="row">
                                        <span class=format!("badge link-{}", c.relation.as_str())>{format!("{}?", relation_label(c.relation))}</span>
                                        <DeploymentLine d=d.clone()/>
                                        <span class="muted score" title="How well it fits, for ordering">{format!("fit {:.0}%", c.score * 100.0)}</span>
                                    </div>
                                    <ul class="reasons">{c.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
                                    {move || can(me, "incidents:write").then(|| {
                                        let body = body.clone();
                                        let path = path.clone();
                                        view! {
                                            <button type="button" class="button button-secondary button-small" on:click=move |_| {
                                                let change = Change {
                                                    method: "PUT",
                                                    path: path.clone(),
                                                    body: serde_json::to_string(&body).ok(),
                                                    csrf_token: csrf(me),
                                                };
                                                act.with_value(|act| act(change));
                                            }>{format!("Link as {}", relation_label(c.relation).to_lowercase())}</button>
                                        }
                                    })}
                                </li>
                            }.into_any()
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
    .into_any();
    let timeline_section = view! {
        <section class="card">
            <header class="card-header"><h2>"Timeline"</h2></header>
            <ol class="timeline">
                {timeline.into_iter().map(|e| view! {
                    <li class=format!("timeline-entry timeline-{}", e.kind)>
                        <time datetime=format::machine(e.at)>{format::datetime(e.at)}</time>
                        <span class="timeline-actor">{e.actor_name}</span>
                        <span class="timeline-text">{e.text}</span>
                    </li>
                }).collect_view()}
            </ol>
            {move || (can(me, "incidents:declare") && !is_final).then(|| view! {
                <form class="row note-form" on:submit=move |ev| {
                    ev.prevent_default();
                    let body = NewNote { text: note.get_untracked(), at: None };
                    note.set(String::new());
                    act.with_value(|act| act(Change::post(format!("/api/v1/incidents/{id}/notes"), &body, csrf(me))));
                }>
                    <label class="field field-grow">
                        <span class="visually-hidden">"Note"</span>
                        <input type="text" name="note" required placeholder="Add what you see or did…"
                            prop:value=note on:input=move |ev| note.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="button">"Add note"</button>
                </form>
            })}
        </section>
    }
    .into_any();
    view! {
        {header}
        {move || error.get().map(|e| view! { <p class="form-error callout" role="alert">{e.message}</p> })}
        <div class="grid-2">{facts}{lifecycle}</div>
        {links_section}
        <ActionItemsCard incident_id=id/>
        {timeline_section}
    }
    .into_any()
}

fn relation_label(r: LinkRelation) -> &'static str {
    match r {
        LinkRelation::CausedBy => "Cause",
        LinkRelation::FixedBy => "Fix",
    }
}

#[component]
fn DeploymentLine(d: portolan_api::Deployment) -> impl IntoView {
    let when = d.finished_at.or(d.started_at).unwrap_or(d.created_at);
    view! {
        <span class="deployment-line">
            <a href=format!("/services/{}", d.service.slug)>{d.service.name.clone()}</a>
            " "<code>{d.version.clone()}</code>" → "
            <span class=if d.environment.is_production { "env env-prod" } else { "env" }>{d.environment.name.clone()}</span>
            " "<StatusBadge status=d.status/>
            " "<time class="muted" datetime=format::machine(when)>{format::datetime(when)}</time>
        </span>
    }
}
