//! Promotions: the approver's inbox (what I may decide), every request, and one request with
//! every condition of its gate, its decisions, and approve / reject.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use portolan_api::{
    ChangeDirection, ConditionStatus, Environment, NewPromotion, Page, Promotion, PromotionChanges,
    PromotionDecision, PromotionReason, PromotionReview, PromotionState, Verdict,
};

use super::incidents::{IncidentStateBadge, SeverityBadge};
use super::{page_url, param};
use crate::api::{Change, ClientError, api_url, use_api};
use crate::components::{
    Creating, EmptyState, ErrorState, FieldError, Loading, NotFoundState, Pager, acting, csrf,
    use_me,
};
use crate::format;
use crate::live::{NewsWaiting, Unsaved, use_live_resource};

fn state_label(s: PromotionState) -> &'static str {
    match s {
        PromotionState::Pending => "Pending",
        PromotionState::Approved => "Approved",
        PromotionState::Rejected => "Rejected",
        PromotionState::Expired => "Expired",
        PromotionState::Cancelled => "Cancelled",
        PromotionState::Deployed => "Deployed",
    }
}

#[component]
fn PromotionStateBadge(state: PromotionState) -> impl IntoView {
    view! { <span class=format!("badge promotion-{}", state.as_str()) data-state=state.as_str()>{state_label(state)}</span> }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Open => "Gate open",
        Verdict::Waiting => "Waiting",
        Verdict::Blocked => "Blocked",
    }
}

#[derive(Clone, PartialEq)]
struct ListFilters {
    /// `inbox` (what I may decide) or a state, or none for all.
    view: Option<String>,
    cursor: Option<String>,
}

#[component]
pub fn PromotionsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        ListFilters {
            view: Some(param(&q, "view").unwrap_or_else(|| "inbox".into())).filter(|v| v != "all"),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let load = move |f: ListFilters| {
        let mut pairs = vec![
            ("limit", Some("50".to_string())),
            ("cursor", f.cursor.clone()),
        ];
        match f.view.as_deref() {
            Some("inbox") => pairs.push(("decidable", Some("true".into()))),
            Some(state) => pairs.push(("state", Some(state.to_string()))),
            None => {}
        }
        api.get::<Page<Promotion>>(api_url("promotions", &pairs))
    };
    let list = Resource::new(move || filters.get(), load.clone());
    let waiting = use_live_resource(
        list,
        || vec!["promotions".into()],
        move || load(filters.get_untracked()),
    );
    let tab = move |value: &'static str, label: &'static str| {
        let current = move || {
            let v = filters.get().view.unwrap_or_else(|| "all".into());
            (v == value).then_some("page")
        };
        view! { <a class="tab" href=page_url("/promotions", &[("view", Some(value.to_string()))]) aria-current=current>{label}</a> }
    };
    let url = move |cursor: Option<String>| {
        let f = filters.get_untracked();
        page_url(
            "/promotions",
            &[
                ("view", Some(f.view.unwrap_or_else(|| "all".into()))),
                ("cursor", cursor),
            ],
        )
    };
    let me = use_me();
    // `?ask` opens the form, filled from `service`, `version` and `to` when given.
    let asking = RwSignal::new(query.read_untracked().get("ask").is_some());
    view! {
        <Title text="Promotions"/>
        <header class="page-header">
            <div>
                <h1>"Promotions"</h1>
                <p class="subtitle">"Versions asking to move to the next environment, and what their gates say."</p>
            </div>
            <div class="page-actions">
                // Inside a boundary: the server waits for who is signed in, so the browser
                // hydrates the same markup.
                <Suspense fallback=|| ()>
                    {move || me.and_then(|m| m.get()).and_then(Result::ok).is_some_and(|m| m.can("promotions:request")).then(|| view! {
                        <button type="button" class="button ask-promotion" on:click=move |_| asking.update(|a| *a = !*a)>
                            "Ask for a promotion"
                        </button>
                    })}
                </Suspense>
            </div>
        </header>
        {move || asking.get().then(|| view! { <AskForm on_cancel=move || asking.set(false)/> })}
        <NewsWaiting waiting refetch=move || list.refetch()/>
        <nav class="tabs" aria-label="Which promotions">
            {tab("inbox", "To decide")}
            {tab("pending", "Pending")}
            {tab("all", "All")}
        </nav>
        <section class="card">
            <Transition fallback=|| view! { <Loading lines=6/> }>
                {move || Suspend::new(async move {
                    let f = filters.get_untracked();
                    match list.await {
                        Err(e) => view! { <ErrorState what="the promotions" error=e/> }.into_any(),
                        Ok(page) if page.items.is_empty() => view! {
                            <EmptyState title=if f.view.as_deref() == Some("inbox") { "Nothing waits for you.".to_string() } else { "No promotions here.".to_string() }>
                                <p>"Pipelines ask with POST /api/v1/promotions; approvers decide here."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(page) => {
                            let shown = page.items.len();
                            let first_url = f.cursor.is_some().then(|| url(None));
                            let next_url = page.next_cursor.clone().map(|c| url(Some(c)));
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table promotions-table">
                                        <thead><tr>
                                            <th scope="col">"Promotion"</th>
                                            <th scope="col">"Where"</th>
                                            <th scope="col">"State"</th>
                                            <th scope="col">"Gate"</th>
                                            <th scope="col">"Asked by"</th>
                                            <th scope="col">"Asked"</th>
                                        </tr></thead>
                                        <tbody>
                                            {page.items.into_iter().map(|p| view! {
                                                <tr data-promotion=p.id>
                                                    <td><a href=format!("/promotions/{}", p.id)>{format!("{} {}", p.service.name, p.version)}</a>
                                                        {p.hotfix.then(|| view! { " "<span class="badge kind-hotfix">"Hotfix"</span> })}</td>
                                                    <td>{format!("{} → {}", p.from, p.to)}</td>
                                                    <td><PromotionStateBadge state=p.state/></td>
                                                    <td class=format!("verdict verdict-{}", verdict_class(p.verdict))>{verdict_label(p.verdict)}</td>
                                                    <td class="muted">{p.requester.clone()}</td>
                                                    <td class="muted"><time datetime=format::machine(p.created_at)>{format::datetime(p.created_at)}</time></td>
                                                </tr>
                                            }.into_any()).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <Pager first_url next_url shown noun="promotions"/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

/// Asking to promote a version from the browser (pipelines use the API with a token).
#[component]
fn AskForm(on_cancel: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let api = use_api();
    let me = use_me();
    let query = use_query_map();
    let start = |name: &str| query.read_untracked().get(name).unwrap_or_default();
    let service = RwSignal::new(start("service"));
    let version = RwSignal::new(start("version"));
    let to = RwSignal::new(start("to"));
    let hotfix = RwSignal::new(false);
    let from = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let creating = Creating::new();
    let (error, busy) = (creating.error, creating.busy);
    Unsaved::hold_while(move || !version.with(|v| v.trim().is_empty()));
    let environments = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Vec<Environment>>(api_url("environments", &[]))
    });
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewPromotion {
            service: service.get_untracked().trim().to_string(),
            version: version.get_untracked().trim().to_string(),
            to: to.get_untracked(),
            from: Some(from.get_untracked()).filter(|f| !f.is_empty()),
            hotfix: hotfix.get_untracked(),
            reason: Some(reason.get_untracked()).filter(|r| !r.trim().is_empty()),
        };
        let api = api.clone();
        creating.submit(
            move || {
                Box::pin(api.send::<Promotion>(Change::post(
                    api_url("promotions", &[]),
                    &new,
                    csrf(me),
                )))
            },
            |p| format!("/promotions/{}", p.id),
            navigate.clone(),
        );
    };
    let env_options = move |first_too: bool, chosen: RwSignal<String>| {
        environments
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !e.archived && (first_too || e.position > 1))
            .map(|e| {
                let slug = e.slug.clone();
                view! { <option value=e.slug.clone() selected=move || chosen.get() == slug>{format!("{} ({})", e.name, e.slug)}</option> }
            })
            .collect_view()
    };
    view! {
        <section class="card ask-card">
            <header class="card-header"><h2>"Ask for a promotion"</h2></header>
            <form class="stack ask-form" on:submit=submit>
                <div class="form-grid">
                    <label class="field">
                        <span class="field-label">"Service (slug)"</span>
                        <input type="text" name="service" required placeholder="e.g. checkout-api"
                            prop:value=service on:input=move |ev| service.set(event_target_value(&ev))/>
                        <FieldError error field="service"/>
                    </label>
                    <label class="field">
                        <span class="field-label">"Version"</span>
                        <input type="text" name="version" required placeholder="as the pipeline recorded it, e.g. 1.42.0"
                            prop:value=version on:input=move |ev| version.set(event_target_value(&ev))/>
                        <FieldError error field="version"/>
                    </label>
                    <label class="field">
                        <span class="field-label">"Into"</span>
                        <Transition fallback=|| view! { <select name="to" disabled=true><option>"…"</option></select> }>
                            <select name="to" required prop:value=to on:change=move |ev| to.set(event_target_value(&ev))>
                                <option value="">"Choose an environment"</option>
                                {move || env_options(false, to)}
                            </select>
                        </Transition>
                        <FieldError error field="to"/>
                    </label>
                    <label class="field">
                        <span class="field-label">"From"</span>
                        <Transition fallback=|| view! { <select name="from" disabled=true><option>"…"</option></select> }>
                            <select name="from" prop:value=from on:change=move |ev| from.set(event_target_value(&ev))>
                                <option value="">"The stage before"</option>
                                {move || env_options(true, from)}
                            </select>
                        </Transition>
                        <FieldError error field="from"/>
                    </label>
                </div>
                <label class="choice">
                    <input type="checkbox" name="hotfix" prop:checked=hotfix on:change=move |ev| hotfix.set(event_target_checked(&ev))/>
                    <span>"Hotfix "<span class="muted">"(may skip stages where the target's gate allows it; still needs its approvals)"</span></span>
                </label>
                <label class="field field-wide">
                    <span class="field-label">"Why, for the approvers"</span>
                    <textarea name="reason" rows="2" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                    <FieldError error field="reason"/>
                </label>
                {move || error.get().filter(|e| e.fields.is_empty()).map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
                <div class="row">
                    <button type="submit" class="button" disabled=move || busy.get()>"Ask"</button>
                    <button type="button" class="button button-secondary" on:click=move |_| on_cancel()>"Cancel"</button>
                </div>
            </form>
        </section>
    }
    .into_any()
}

/// Whether grants as shown (`approver`, `approver@staging,prod`) let someone approve into `env`.
fn approves_into(grants: &[String], env: &str) -> bool {
    grants.iter().any(|g| {
        g == "approver"
            || g.strip_prefix("approver@")
                .is_some_and(|envs| envs.split(',').any(|e| e.trim() == env))
    })
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Open => "open",
        Verdict::Waiting => "waiting",
        Verdict::Blocked => "blocked",
    }
}

#[component]
pub fn PromotionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let api = use_api();
    let load = move |id: String| {
        api.get::<Promotion>(format!("/api/v1/promotions/{}", crate::api::encode(&id)))
    };
    let data = Resource::new(move || id.get(), load.clone());
    let waiting = use_live_resource(
        data,
        move || vec![format!("promotion:{}", id.get())],
        move || load(id.get_untracked()),
    );
    // What changes, what burns nearby and the candidate's record: read once (a decision does
    // not change them; a reload does).
    let reviews = use_api();
    let review = Resource::new(
        move || id.get(),
        move |id: String| {
            reviews.get::<PromotionReview>(format!(
                "/api/v1/promotions/{}/review",
                crate::api::encode(&id)
            ))
        },
    );
    view! {
        <NewsWaiting waiting refetch=move || data.refetch()/>
        <Transition fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => view! { <PromotionView p reload=move || data.refetch() review/> }.into_any(),
                    Err(e) if e.is_not_found() || e.status == 400 => view! {
                        <NotFoundState title="Promotion not found" message=format!("There is no promotion {}.", id.get_untracked())>
                            <p><a href="/promotions?view=all">"All promotions"</a></p>
                        </NotFoundState>
                    }.into_any(),
                    Err(e) => view! { <ErrorState what="this promotion" error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PromotionView(
    p: Promotion,
    reload: impl Fn() + Send + Sync + Copy + 'static,
    review: Resource<Result<PromotionReview, ClientError>>,
) -> impl IntoView {
    let me = use_me();
    let error = RwSignal::new(None::<ClientError>);
    let act = acting(error, reload);
    let comment = RwSignal::new(String::new());
    let glass = RwSignal::new(String::new());
    // A comment or reason being typed is not thrown away by someone else's change.
    Unsaved::hold_while(move || {
        !comment.with(|c| c.trim().is_empty()) || !glass.with(|g| g.trim().is_empty())
    });
    let id = p.id;
    let pending = p.state == PromotionState::Pending;
    let to = p.to.clone();
    // Offered to approvers of the target; the server decides the rest (not the requester, once).
    let may_decide = move || {
        me.and_then(|m| m.get())
            .and_then(Result::ok)
            .is_some_and(|m| approves_into(&m.grants, &to))
    };
    let decide = move |decision: &'static str| {
        let body = PromotionDecision {
            decision: decision.to_string(),
            comment: Some(comment.get_untracked()).filter(|c| !c.trim().is_empty()),
        };
        act.with_value(|act| {
            act(Change::post(
                format!("/api/v1/promotions/{id}/decisions"),
                &body,
                csrf(me),
            ))
        });
    };
    let header = view! {
        <Title text=format!("Promote {} {} to {}", p.service.name, p.version, p.to)/>
        <header class="page-header">
            <div>
                <p class="eyebrow">{format!("Promotion #{} · asked by {}", p.id, p.requester)}</p>
                <h1>{format!("{} {} → {}", p.service.name, p.version, p.to)}</h1>
                <p class="row">
                    <PromotionStateBadge state=p.state/>
                    <span class=format!("verdict verdict-{}", verdict_class(p.verdict))>{verdict_label(p.verdict)}</span>
                    {p.hotfix.then(|| view! { <span class="badge kind-hotfix">"Hotfix"</span> })}
                    <span class="muted">{format!("from {}", p.from)}</span>
                </p>
            </div>
        </header>
        {p.break_glass.clone().map(|b| view! {
            <div class="callout break-glass" role="alert"><strong>"Break-glass: "</strong>{b}</div>
        })}
    }
    .into_any();
    let gate = view! {
        <section class="card">
            <header class="card-header"><h2>"Gate"</h2>
                <span class="muted">{format!("policy version {}", p.policy_version)}</span>
            </header>
            <ul class="conditions">
                {p.conditions.iter().map(|c| {
                    let status = match c.status { ConditionStatus::Pass => "pass", ConditionStatus::Waiting => "waiting", ConditionStatus::Fail => "fail" };
                    view! {
                        <li class=format!("condition condition-{status}") data-condition=c.key.clone() data-status=status>
                            <span class="condition-status">{match c.status { ConditionStatus::Pass => "Pass", ConditionStatus::Waiting => "Waiting", ConditionStatus::Fail => "Fail" }}</span>
                            <span class="condition-reason">{c.reason.clone()}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any();
    let facts = view! {
        <section class="card">
            <header class="card-header"><h2>"Request"</h2></header>
            <dl class="facts">
                <dt>"Service"</dt><dd><a href=format!("/services/{}", p.service.slug)>{p.service.name.clone()}</a></dd>
                <dt>"Version"</dt><dd><code>{p.version.clone()}</code></dd>
                <dt>"Why"</dt><dd>{if p.reason.is_empty() { "—".to_string() } else { p.reason.clone() }}</dd>
                <dt>"Asked"</dt><dd><time datetime=format::machine(p.created_at)>{format::datetime(p.created_at)}</time></dd>
                <dt>"Expires"</dt><dd><time datetime=format::machine(p.expires_at)>{format::datetime(p.expires_at)}</time></dd>
                {p.decided_at.map(|at| view! {
                    <dt>"Decided"</dt><dd>{format!("{} by {}", format::datetime(at), p.decided_by.clone().unwrap_or_default())}
                        {(!p.decision_note.is_empty()).then(|| view! { <span class="muted">{format!(" — {}", p.decision_note)}</span> })}</dd>
                })}
            </dl>
        </section>
    }
    .into_any();
    let decisions = view! {
        <section class="card">
            <header class="card-header"><h2>"Decisions"</h2></header>
            {if p.approvals.is_empty() {
                view! { <p class="muted">"Nobody has decided yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="reviewers">
                        {p.approvals.iter().map(|a| view! {
                            <li data-decision=a.decision.clone()>
                                <span>{a.person.name.clone()}</span>
                                <span class=if a.decision == "approve" { "status status-succeeded" } else { "status status-failed" }>
                                    {if a.decision == "approve" { "approved" } else { "rejected" }}
                                </span>
                                {(!a.comment.is_empty()).then(|| view! { <span class="muted">{format!("“{}”", a.comment)}</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || (pending && may_decide()).then(|| view! {
                <form class="stack decide-promotion" on:submit=move |ev| { ev.prevent_default(); decide("approve"); }>
                    <label class="field field-wide">
                        <span class="field-label">"Comment (needed to reject)"</span>
                        <input type="text" name="comment" prop:value=comment on:input=move |ev| comment.set(event_target_value(&ev))/>
                    </label>
                    <div class="row">
                        <button type="submit" class="button approve">"Approve"</button>
                        <button type="button" class="button button-secondary reject" on:click=move |_| decide("reject")>"Reject"</button>
                    </div>
                </form>
            })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e.message}</p> })}
        </section>
    }
    .into_any();
    let override_form = move || {
        (pending && me.and_then(|m| m.get()).and_then(Result::ok).is_some_and(|m| m.can("promotions:override"))).then(|| view! {
            <details class="card break-glass-form">
                <summary>"Break glass…"</summary>
                <form class="stack" on:submit=move |ev| {
                    ev.prevent_default();
                    let body = PromotionReason { reason: glass.get_untracked() };
                    act.with_value(|act| act(Change::post(format!("/api/v1/promotions/{id}/break-glass"), &body, csrf(me))));
                }>
                    <p class="muted">"Approves this promotion whatever its gate says. Everyone will see who did it and why, on this request, forever."</p>
                    <label class="field field-wide">
                        <span class="field-label">"Why it cannot wait"</span>
                        <input type="text" name="reason" required prop:value=glass on:input=move |ev| glass.set(event_target_value(&ev))/>
                    </label>
                    <div class="row"><button type="submit" class="button button-danger">"Override the gate"</button></div>
                </form>
            </details>
        })
    };
    let version = p.version.clone();
    let service = p.service.name.clone();
    let target = p.to.clone();
    let briefing = view! {
        <Transition fallback=|| view! { <section class="card"><Loading lines=4/></section> }>
            {move || {
                let (version, service, target) = (version.clone(), service.clone(), target.clone());
                Suspend::new(async move {
                    match review.await {
                        Ok(r) => view! { <ReviewCards r version service target/> }.into_any(),
                        Err(e) => view! { <ErrorState what="what this promotion changes" error=e/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
    .into_any();
    view! {
        {header}
        <div class="grid-2">{gate}{facts}</div>
        {briefing}
        {decisions}
        {override_form}
    }
    .into_any()
}

/// "prod runs 1.0; 1.2 adds 3 commits by 2 people (1.1, 1.2)".
fn changes_summary(c: &PromotionChanges, version: &str, target: &str) -> String {
    let commits = |n: u32| {
        if n == 1 {
            "1 commit".to_string()
        } else {
            format!("{n} commits")
        }
    };
    let people = |n: usize| {
        if n == 1 {
            "1 person".to_string()
        } else {
            format!("{n} people")
        }
    };
    let runs = c.target_version.as_ref().map_or_else(
        || format!("{target} has never run this service"),
        |t| format!("{target} runs {t}"),
    );
    match c.direction {
        ChangeDirection::Same => format!("{runs} already: nothing changes."),
        ChangeDirection::Hotfix => format!(
            "{runs}; hotfix {version} carries {} by {}.",
            commits(c.total_commits),
            people(c.authors.len())
        ),
        ChangeDirection::Back => format!(
            "{runs}; going back to {version} takes out {} by {} ({}).",
            commits(c.total_commits),
            people(c.authors.len()),
            c.versions.join(", ")
        ),
        ChangeDirection::First | ChangeDirection::Forward => format!(
            "{runs}; {version} adds {} by {} ({}).",
            commits(c.total_commits),
            people(c.authors.len()),
            c.versions.join(", ")
        ),
    }
}

#[component]
fn ReviewCards(
    r: PromotionReview,
    version: String,
    service: String,
    target: String,
) -> impl IntoView {
    let c = r.changes;
    let summary = changes_summary(&c, &version, &target);
    let shown = c.commits.len();
    let total = c.total_commits as usize;
    let changes = view! {
        <section class="card promotion-changes">
            <header class="card-header"><h2>"What changes"</h2>
                {(c.direction == ChangeDirection::Back).then(|| view! { <span class="badge kind-rollback">"Goes back"</span> })}
            </header>
            <p class="changes-summary">{summary}</p>
            {(!c.authors.is_empty()).then(|| view! {
                <p class="row authors">
                    <span class="muted">"Authors:"</span>
                    {c.authors.iter().map(|a| view! { <span class="chip" data-author=a.author.clone()>{format!("{} · {}", a.author, a.commits)}</span> }).collect_view()}
                </p>
            })}
            {if c.commits.is_empty() {
                view! { <p class="muted">"No commits were recorded with these deployments."</p> }.into_any()
            } else {
                view! {
                    <ul class="commit-list promoted-commits">
                        {c.commits.into_iter().map(|c| view! {
                            <li data-sha=c.sha.clone()>
                                <code class="sha" title=c.sha.clone()>{format::short_sha(&c.sha)}</code>
                                <span class="commit-msg" title=c.message.clone()>{c.message.clone()}</span>
                                <span class="commit-author">{format!("{} · {}", c.author, c.version)}</span>
                                <time datetime=format::machine(c.committed_at)>{format::datetime(c.committed_at)}</time>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {(total > shown).then(|| view! { <p class="muted">{format!("Showing the newest {shown} of {total} commits.")}</p> })}
        </section>
    }
    .into_any();
    let burning = view! {
        <section class="card promotion-incidents">
            <header class="card-header"><h2>"Open incidents nearby"</h2></header>
            {if r.incidents.is_empty() {
                view! { <p class="muted">{format!("No open incident on {service} or on what it depends on.")}</p> }.into_any()
            } else {
                view! {
                    <ul class="nearby-incidents">
                        {r.incidents.into_iter().map(|i| {
                            let via = if i.path.len() <= 1 {
                                "on this service".to_string()
                            } else {
                                format!("via {}", i.path.join(" → "))
                            };
                            view! {
                                <li data-incident=i.id>
                                    <SeverityBadge severity=i.severity/>
                                    <a href=format!("/incidents/{}", i.id)>{format!("INC-{} {}", i.id, i.title)}</a>
                                    <IncidentStateBadge state=i.state/>
                                    <span class="muted">{via}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
    .into_any();
    let record = view! {
        <section class="card promotion-record">
            <header class="card-header"><h2>{format!("How {version} has done")}</h2></header>
            {if r.record.is_empty() {
                view! { <p class="muted">{format!("{version} has not been deployed anywhere yet.")}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="data-table version-record">
                            <thead><tr>
                                <th scope="col">"Environment"</th><th scope="col">"Succeeded"</th><th scope="col">"Failed"</th>
                                <th scope="col">"Rolled back"</th><th scope="col">"First succeeded"</th><th scope="col">"Now"</th>
                                <th scope="col">"Incidents it caused"</th>
                            </tr></thead>
                            <tbody>
                                {r.record.into_iter().map(|e| {
                                    let now = if e.running_now { "running" } else if e.replaced_by_rollback { "rolled back" } else { "replaced" };
                                    let bad = e.failed > 0 || e.rolled_back > 0 || e.replaced_by_rollback || !e.incidents.is_empty();
                                    view! {
                                        <tr data-environment=e.environment.clone() class={match (e.is_source, bad) { (true, true) => "record-source record-bad", (true, false) => "record-source", (false, true) => "record-bad", _ => "" }}>
                                            <th scope="row">{e.environment.clone()}{e.is_source.then(|| view! { " "<span class="muted">"(source)"</span> })}</th>
                                            <td>{e.succeeded}</td>
                                            <td class={if e.failed > 0 { "number-bad" } else { "" }}>{e.failed}</td>
                                            <td class={if e.rolled_back > 0 { "number-bad" } else { "" }}>{e.rolled_back}</td>
                                            <td>{e.first_succeeded_at.map(|t| view! { <time datetime=format::machine(t)>{format::datetime(t)}</time> }.into_any()).unwrap_or_else(|| "—".into_any())}</td>
                                            <td data-now=now>{now}</td>
                                            <td>{if e.incidents.is_empty() {
                                                "—".into_any()
                                            } else {
                                                e.incidents.into_iter().map(|i| view! {
                                                    <a class="badge link-caused_by" href=format!("/incidents/{}", i.id) title=i.title.clone()>{format!("INC-{}", i.id)}</a>" "
                                                }).collect_view().into_any()
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
    .into_any();
    view! {
        {changes}
        {record}
        {burning}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changes_are_summed_up_in_a_sentence() {
        let mut c = PromotionChanges {
            target_version: Some("1.0".into()),
            direction: ChangeDirection::Forward,
            versions: vec!["1.1".into(), "1.2".into()],
            commits: Vec::new(),
            total_commits: 3,
            authors: vec![
                portolan_api::AuthorCount {
                    author: "Ben".into(),
                    commits: 2,
                },
                portolan_api::AuthorCount {
                    author: "Cy".into(),
                    commits: 1,
                },
            ],
        };
        assert_eq!(
            changes_summary(&c, "1.2", "prod"),
            "prod runs 1.0; 1.2 adds 3 commits by 2 people (1.1, 1.2)."
        );
        c.direction = ChangeDirection::Back;
        assert_eq!(
            changes_summary(&c, "0.9", "prod"),
            "prod runs 1.0; going back to 0.9 takes out 3 commits by 2 people (1.1, 1.2)."
        );
        c.direction = ChangeDirection::First;
        c.target_version = None;
        c.total_commits = 1;
        c.authors.truncate(1);
        assert_eq!(
            changes_summary(&c, "1.2", "prod"),
            "prod has never run this service; 1.2 adds 1 commit by 1 person (1.1, 1.2)."
        );
        c.direction = ChangeDirection::Same;
        c.target_version = Some("1.2".into());
        assert_eq!(
            changes_summary(&c, "1.2", "prod"),
            "prod runs 1.2 already: nothing changes."
        );
    }

    #[test]
    fn approvers_are_recognised_by_their_grants() {
        let grants = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(approves_into(&grants(&["approver"]), "prod"));
        assert!(approves_into(
            &grants(&["developer", "approver@qa,prod"]),
            "prod"
        ));
        assert!(!approves_into(&grants(&["approver@staging"]), "prod"));
        assert!(!approves_into(&grants(&["admin", "sre"]), "prod"));
        assert!(!approves_into(&grants(&["approver@production"]), "prod"));
    }
}
