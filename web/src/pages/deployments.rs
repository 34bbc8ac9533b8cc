//! The deployments feed: newest first, filtered by service, team, environment, status or kind.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use portolan_api::{Deployment, DeploymentKind, DeploymentStatus, Environment, Page, Team};

use super::{page_url, param};
use crate::api::{ClientError, api_url, use_api};
use crate::components::{DeploymentItem, EmptyState, ErrorState, Loading, Pager, status_label};

#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    service: Option<String>,
    team: Option<String>,
    environment: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("service", self.service.clone()),
            ("team", self.team.clone()),
            ("environment", self.environment.clone()),
            ("status", self.status.clone()),
            ("kind", self.kind.clone()),
            ("cursor", self.cursor.clone()),
        ]
    }
}

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            service: param(&q, "service"),
            team: param(&q, "team"),
            environment: param(&q, "environment"),
            status: param(&q, "status").filter(|s| DeploymentStatus::parse(s).is_some()),
            kind: param(&q, "kind").filter(|k| DeploymentKind::parse(k).is_some()),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let feed = Resource::new(move || filters.get(), {
        let api = api.clone();
        move |f: Filters| {
            let mut pairs = f.pairs();
            pairs.push(("limit", Some("30".into())));
            api.get::<Page<Deployment>>(api_url("deployments", &pairs))
        }
    });
    let choices = Resource::new(
        || (),
        move |_| {
            let teams = api.get::<Page<Team>>(api_url("teams", &[("limit", Some("200".into()))]));
            let envs = api.get::<Vec<Environment>>(api_url("environments", &[]));
            async move { Ok::<_, ClientError>((teams.await?.items, envs.await?)) }
        },
    );
    let navigate = use_navigate();
    let go = StoredValue::new(move |f: Filters| {
        navigate(
            &page_url("/deployments", &f.pairs()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    });
    let select = move |id: &'static str,
                       label: &'static str,
                       name: &'static str,
                       all: &'static str,
                       options: Vec<(String, String)>| {
        let current = move || {
            let f = filters.get();
            match name {
                "team" => f.team,
                "environment" => f.environment,
                "status" => f.status,
                _ => f.kind,
            }
        };
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <select id=id name=name on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let v = (!v.is_empty()).then_some(v);
                    let mut f = filters.get_untracked();
                    match name {
                        "team" => f.team = v,
                        "environment" => f.environment = v,
                        "status" => f.status = v,
                        _ => f.kind = v,
                    }
                    f.cursor = None;
                    go.with_value(|go| go(f));
                }>
                    <option value="">{all}</option>
                    {options.into_iter().map(|(value, text)| {
                        let v = value.clone();
                        view! { <option value=value selected=move || current().as_deref() == Some(v.as_str())>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };

    view! {
        <Title text="Deployments"/>
        <header class="page-header">
            <div>
                <h1>"Deployments"</h1>
                <p class="subtitle">"Everything recorded by pipelines and people, newest first, with the commits each one carried."</p>
            </div>
        </header>
        <Suspense fallback=|| view! { <Loading lines=1/> }>
            {move || Suspend::new(async move {
                let (teams, envs) = choices.await.unwrap_or_default();
                let statuses = DeploymentStatus::ALL.iter().map(|s| (s.as_str().to_string(), status_label(*s).to_string())).collect();
                let kinds = DeploymentKind::ALL.iter().map(|k| (k.as_str().to_string(), k.as_str().to_string())).collect();
                view! {
                    <form class="filters" method="get" action="/deployments" on:submit=|ev| ev.prevent_default()>
                        {move || filters.get().service.map(|s| view! {
                            <input type="hidden" name="service" value=s.clone()/>
                            <span class="tag">{format!("service: {s}")}</span>
                            <a href=page_url("/deployments", &Filters { service: None, cursor: None, ..filters.get() }.pairs())>"show all services"</a>
                        })}
                        {select("feed-team", "Team", "team", "All teams", teams.into_iter().map(|t| (t.slug, t.name)).collect())}
                        {select("feed-environment", "Environment", "environment", "All environments", envs.into_iter().map(|e| (e.slug, e.name)).collect())}
                        {select("feed-status", "Status", "status", "Any status", statuses)}
                        {select("feed-kind", "Kind", "kind", "Any kind", kinds)}
                        <button type="submit" class="button button-secondary filters-submit">"Filter"</button>
                    </form>
                }
            })}
        </Suspense>
        <section class="card">
            <Transition fallback=|| view! { <Loading lines=10/> }>
                {move || Suspend::new(async move {
                    match feed.await {
                        Err(e) => view! { <ErrorState what="the deployments" error=e/> }.into_any(),
                        Ok(page) if page.items.is_empty() => view! {
                            <EmptyState title="No deployment matches.".to_string()>
                                <p>"Pipelines record deployments with "<code>"POST /api/v1/deployments"</code>"; see the "<a href="/api/docs" rel="external">"API docs"</a>"."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(page) => {
                            let f = filters.get_untracked();
                            let shown = page.items.len();
                            let first_url = f.cursor.is_some().then(|| page_url("/deployments", &Filters { cursor: None, ..f.clone() }.pairs()));
                            let next_url = page.next_cursor.clone().map(|c| page_url("/deployments", &Filters { cursor: Some(c), ..f.clone() }.pairs()));
                            view! {
                                <ol class="feed">
                                    {page.items.into_iter().map(|d| view! { <DeploymentItem deployment=d/> }).collect_view()}
                                </ol>
                                <Pager first_url next_url shown noun="deployments"/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
