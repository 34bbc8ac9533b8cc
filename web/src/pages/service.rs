//! One service: who owns it, where each version runs, what it depends on and what depends on
//! it, and its recent deployments with their commits.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use portolan_api::{
    DependencyEdge, Deployment, Incident, Page, Service, ServiceDependencies, ServiceVersions,
};

use crate::api::{ClientError, api_url, use_api};
use crate::components::{
    DeploymentItem, EmptyState, ErrorState, LifecycleBadge, Loading, NotFoundState, TierBadge,
};
use crate::format;
use crate::pages::incidents::{IncidentStateBadge, SeverityBadge};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ServiceData {
    service: Service,
    dependencies: ServiceDependencies,
    versions: ServiceVersions,
    deployments: Page<Deployment>,
    incidents: Page<Incident>,
}

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let slug = Memo::new(move |_| params.read().get("slug").unwrap_or_default());
    let api = use_api();
    let data = Resource::new(
        move || slug.get(),
        move |slug: String| {
            let s = crate::api::encode(&slug);
            // Four calls of the public API, made at once.
            let service = api.get::<Service>(format!("/api/v1/services/{s}"));
            let dependencies =
                api.get::<ServiceDependencies>(format!("/api/v1/services/{s}/dependencies"));
            let versions = api.get::<ServiceVersions>(format!("/api/v1/services/{s}/versions"));
            let deployments = api.get::<Page<Deployment>>(api_url(
                "deployments",
                &[
                    ("service", Some(slug.clone())),
                    ("limit", Some("15".into())),
                ],
            ));
            let incidents = api.get::<Page<Incident>>(api_url(
                "incidents",
                &[
                    ("service", Some(slug.clone())),
                    ("state", Some("all".into())),
                    ("limit", Some("8".into())),
                ],
            ));
            async move {
                Ok::<_, ClientError>(ServiceData {
                    // The page stands without its incidents if they cannot be read.
                    incidents: incidents.await.unwrap_or(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    }),
                    service: service.await?,
                    dependencies: dependencies.await?,
                    versions: versions.await?,
                    deployments: deployments.await?,
                })
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <Loading lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => service_view(d).into_any(),
                    Err(e) if e.is_not_found() => view! {
                        <NotFoundState title="Service not found" message=format!("No service is registered as '{}'.", slug.get_untracked())>
                            <p><a href="/">"Search the catalog"</a></p>
                        </NotFoundState>
                    }.into_any(),
                    Err(e) => view! { <ErrorState what="this service" error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn service_view(d: ServiceData) -> impl IntoView {
    let s = d.service;
    let eyebrow = match &s.system {
        Some(sy) => format!("{} · {}", s.owner_team.name, sy.name),
        None => s.owner_team.name.clone(),
    };
    let deps = d.dependencies;
    view! {
        <Title text=s.name.clone()/>
        <header class="page-header">
            <div>
                <p class="eyebrow">{eyebrow}</p>
                <h1>{s.name.clone()}</h1>
                <p class="subtitle">{s.description.clone()}</p>
                <div class="row">
                    <TierBadge tier=s.tier/>
                    <LifecycleBadge lifecycle=s.lifecycle/>
                    {s.archived.then(|| view! { <span class="badge">"Archived"</span> })}
                </div>
            </div>
            <div class="page-actions">
                {s.repository_url.clone().map(|u| view! { <a class="button button-secondary link-external" href=u rel="external noopener">"Repository"</a> })}
                {s.runbook_url.clone().map(|u| view! { <a class="button button-secondary link-external" href=u rel="external noopener">"Runbook"</a> })}
            </div>
        </header>

        <section class="card" aria-labelledby="where-heading">
            <header class="card-header"><h2 id="where-heading">"Where it runs"</h2></header>
            <ol class="pipeline">
                {d.versions.environments.into_iter().map(|ev| {
                    let prod = if ev.environment.is_production { " stage-prod" } else { "" };
                    match ev.current {
                        None => view! {
                            <li class=format!("stage stage-empty{prod}")>
                                <span class="stage-name">{ev.environment.name}</span>
                                <span class="stage-version">"—"</span>
                                <span class="stage-age">"never deployed"</span>
                            </li>
                        }.into_any(),
                        Some(c) => view! {
                            <li class=format!("stage{}{prod}", if c.differs_from_previous { " stage-differs" } else { "" })
                                title=format!("deployed {}", format::datetime(c.deployed_at))>
                                <span class="stage-name">{ev.environment.name}</span>
                                <code class="stage-version">{c.version}</code>
                                <span class="stage-age">{format!("{} ago", format::age(c.age_seconds)).replace("just now ago", "just now")}</span>
                                {c.differs_from_previous.then(|| view! { <span class="visually-hidden">" (differs from the previous stage)"</span> })}
                            </li>
                        }.into_any(),
                    }
                }).collect_view()}
            </ol>
        </section>

        {(!deps.cycles.is_empty()).then(|| view! {
            <div class="callout callout-warning" role="note">
                <strong>"Dependency cycle"</strong>
                <p>"This service is part of a loop of dependencies; a failure can travel around it:"</p>
                <ul>
                    {deps.cycles.iter().map(|c| view! { <li class="mono">{c.join(" → ")}</li> }).collect_view()}
                </ul>
            </div>
        })}

        <div class="grid-2">
            <section class="card" aria-labelledby="deps-heading">
                <header class="card-header">
                    <h2 id="deps-heading">"Depends on"</h2>
                    <span class="count">{deps.dependencies.len()}</span>
                </header>
                {dep_list(deps.dependencies, "It depends on no other service.")}
            </section>
            <section class="card" aria-labelledby="dependents-heading">
                <header class="card-header">
                    <h2 id="dependents-heading">"Used by"</h2>
                    <span class="count">{deps.dependents.len()}</span>
                </header>
                {dep_list(deps.dependents, "No other service depends on it.")}
            </section>
        </div>

        <div class="grid-2">
            <section class="card" aria-labelledby="facts-heading">
                <header class="card-header"><h2 id="facts-heading">"About"</h2></header>
                <dl class="facts">
                    <dt>"Owner"</dt><dd><a href=format!("/?team={}", s.owner_team.slug)>{s.owner_team.name.clone()}</a></dd>
                    <dt>"System"</dt>
                    <dd>{match s.system.clone() {
                        Some(sy) => view! { <a href=format!("/?system={}", sy.slug)>{sy.name}</a> }.into_any(),
                        None => view! { <span class="muted">"None"</span> }.into_any(),
                    }}</dd>
                    <dt>"Slug"</dt><dd class="mono">{s.slug.clone()}</dd>
                    <dt>"Tags"</dt>
                    <dd><span class="tags">{s.tags.iter().map(|t| view! { <a class="tag" href=format!("/?tag={}", crate::api::encode(t))>{t.clone()}</a> }).collect_view()}</span></dd>
                    <dt>"Repository"</dt>
                    <dd>{match s.repository_url.clone() {
                        Some(u) => { let text = u.clone(); view! { <a class="link-external" href=u rel="external noopener">{text}</a> } }.into_any(),
                        None => view! { <span class="muted">"Not set"</span> }.into_any(),
                    }}</dd>
                    <dt>"Runbook"</dt>
                    <dd>{match s.runbook_url.clone() {
                        Some(u) => { let text = u.clone(); view! { <a class="link-external" href=u rel="external noopener">{text}</a> } }.into_any(),
                        None => view! { <span class="muted">"Not set"</span> }.into_any(),
                    }}</dd>
                </dl>
            </section>
            <section class="card" aria-labelledby="incidents-heading">
                <header class="card-header">
                    <h2 id="incidents-heading">"Incidents"</h2>
                    <a href=format!("/incidents?state=all")>"All"</a>
                </header>
                {if d.incidents.items.is_empty() {
                    view! { <p class="muted">"No incident has named this service."</p> }.into_any()
                } else {
                    view! {
                        <ul class="service-incidents">
                            {d.incidents.items.into_iter().map(|i| view! {
                                <li class:open=i.state.is_open()>
                                    <SeverityBadge severity=i.severity/>
                                    <a href=format!("/incidents/{}", i.id)>{i.title.clone()}</a>
                                    <IncidentStateBadge state=i.state/>
                                    <time class="muted" datetime=format::machine(i.declared_at)>{format::datetime(i.declared_at)}</time>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-labelledby="recent-heading">
                <header class="card-header">
                    <h2 id="recent-heading">"Recent deployments"</h2>
                    <a href=format!("/deployments?service={}", s.slug)>"All"</a>
                </header>
                {if d.deployments.items.is_empty() {
                    view! { <EmptyState title="No deployment recorded yet.".to_string()><p>"Pipelines record them through the API."</p></EmptyState> }.into_any()
                } else {
                    view! {
                        <ol class="feed">
                            {d.deployments.items.into_iter().map(|dep| view! { <DeploymentItem deployment=dep show_service=false/> }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </section>
        </div>
    }
}

fn dep_list(edges: Vec<DependencyEdge>, none: &'static str) -> impl IntoView {
    if edges.is_empty() {
        return view! { <p class="muted">{none}</p> }.into_any();
    }
    view! {
        <ul class="dep-list">
            {edges.into_iter().map(|e| {
                let kind = e.kind.as_str();
                view! {
                    <li class="dep">
                        <a href=format!("/services/{}", e.service.slug)>{e.service.name}</a>
                        <span class=format!("badge dep-{kind}") title=dep_title(kind)>{kind}</span>
                        <span class="muted">{e.owner_team.name}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

fn dep_title(kind: &str) -> &'static str {
    match kind {
        "sync" => "Synchronous: a request waits for the answer",
        "async" => "Asynchronous: messages or events",
        _ => "Data: shares a store or a feed",
    }
}
