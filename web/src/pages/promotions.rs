//! Promotions: the approver's inbox (what I may decide), every request, and one request with
//! every condition of its gate, its decisions, and approve / reject.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use portolan_api::{
    ConditionStatus, Page, Promotion, PromotionDecision, PromotionReason, PromotionState, Verdict,
};

use super::{page_url, param};
use crate::api::{Change, ClientError, api_url, use_api};
use crate::components::{
    EmptyState, ErrorState, Loading, NotFoundState, Pager, acting, csrf, use_me,
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
    view! {
        <Title text="Promotions"/>
        <header class="page-header">
            <div>
                <h1>"Promotions"</h1>
                <p class="subtitle">"Versions asking to move to the next environment, and what their gates say."</p>
            </div>
        </header>
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
    view! {
        <NewsWaiting waiting refetch=move || data.refetch()/>
        <Transition fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => view! { <PromotionView p reload=move || data.refetch()/> }.into_any(),
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
fn PromotionView(p: Promotion, reload: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
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
    view! {
        {header}
        <div class="grid-2">{gate}{facts}</div>
        {decisions}
        {override_form}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

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
