//! The catalog: search as you type, filter by team, system, tier and lifecycle.
//!
//! The filters live in the URL, so a search is a link to share, works with the form alone before
//! the browser bundle arrives (a plain GET), and after hydration updates in place as you type.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use portolan_api::{Lifecycle, Page, Service, System, Team};

use super::{page_url, param};
use crate::api::{ClientError, api_url, use_api};
use crate::components::{EmptyState, ErrorState, LifecycleBadge, Loading, Pager, TierBadge};

#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    q: Option<String>,
    team: Option<String>,
    system: Option<String>,
    tier: Option<String>,
    lifecycle: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("q", self.q.clone()),
            ("team", self.team.clone()),
            ("system", self.system.clone()),
            ("tier", self.tier.clone()),
            ("lifecycle", self.lifecycle.clone()),
            ("tag", self.tag.clone()),
            ("cursor", self.cursor.clone()),
        ]
    }
    fn is_filtered(&self) -> bool {
        self.q.is_some()
            || self.team.is_some()
            || self.system.is_some()
            || self.tier.is_some()
            || self.lifecycle.is_some()
            || self.tag.is_some()
    }
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            q: param(&q, "q")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            team: param(&q, "team"),
            system: param(&q, "system"),
            tier: param(&q, "tier"),
            lifecycle: param(&q, "lifecycle"),
            tag: param(&q, "tag"),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let services = Resource::new(move || filters.get(), {
        let api = api.clone();
        move |f: Filters| {
            // Bad filter values from a hand-edited URL are dropped rather than failing the page.
            let tier = f
                .tier
                .filter(|t| matches!(t.as_str(), "1" | "2" | "3" | "4"));
            let lifecycle = f.lifecycle.filter(|l| Lifecycle::parse(l).is_some());
            api.get::<Page<Service>>(api_url(
                "services",
                &[
                    ("q", f.q),
                    ("team", f.team),
                    ("system", f.system),
                    ("tier", tier),
                    ("lifecycle", lifecycle),
                    ("tag", f.tag),
                    ("cursor", f.cursor),
                    ("limit", Some("50".into())),
                ],
            ))
        }
    });
    // Services named by an open incident stand out.
    let open_incidents = Resource::new(|| (), {
        let api = api.clone();
        move |_| {
            api.get::<Page<portolan_api::Incident>>(api_url(
                "incidents",
                &[
                    ("state", Some("open".into())),
                    ("limit", Some("200".into())),
                ],
            ))
        }
    });
    let choices = Resource::new(|| (), {
        let api = api.clone();
        move |_| {
            let teams = api.get::<Page<Team>>(api_url("teams", &[("limit", Some("200".into()))]));
            let systems =
                api.get::<Page<System>>(api_url("systems", &[("limit", Some("200".into()))]));
            async move { Ok::<_, ClientError>((teams.await?.items, systems.await?.items)) }
        }
    });

    let navigate = use_navigate();
    let go = move |change: &dyn Fn(&mut Filters)| {
        let mut f = filters.get_untracked();
        change(&mut f);
        f.cursor = None;
        navigate(
            &page_url("/", &f.pairs()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let go = StoredValue::new(go);

    let select = move |id: &'static str,
                       label: &'static str,
                       name: &'static str,
                       all: &'static str,
                       options: Vec<(String, String)>| {
        let current = move || match name {
            "team" => filters.get().team,
            "system" => filters.get().system,
            "tier" => filters.get().tier,
            _ => filters.get().lifecycle,
        };
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <select id=id name=name on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let v = (!v.is_empty()).then_some(v);
                    go.with_value(|go| go(&|f: &mut Filters| match name {
                        "team" => f.team = v.clone(),
                        "system" => f.system = v.clone(),
                        "tier" => f.tier = v.clone(),
                        _ => f.lifecycle = v.clone(),
                    }));
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
        <Title text="Catalog"/>
        <header class="page-header">
            <div>
                <h1>"Service catalog"</h1>
                <p class="subtitle">"Every service, who owns it, and how critical it is."</p>
            </div>
        </header>
        <Suspense fallback=|| view! { <Loading lines=1/> }>
            {move || Suspend::new(async move {
                let (teams, systems) = choices.await.unwrap_or_default();
                let teams: Vec<(String, String)> = teams.into_iter().map(|t| (t.slug, t.name)).collect();
                let systems: Vec<(String, String)> = systems.into_iter().map(|s| (s.slug, s.name)).collect();
                let tiers: Vec<(String, String)> = (1..=4).map(|t| (t.to_string(), format!("Tier {t}"))).collect();
                let lifecycles: Vec<(String, String)> =
                    Lifecycle::ALL.iter().map(|l| (l.as_str().to_string(), l.as_str().to_string())).collect();
                view! {
                    <form class="filters" role="search" method="get" action="/" on:submit=move |ev| {
                        ev.prevent_default();
                    }>
                        <label class="field field-grow">
                            <span class="field-label">"Search"</span>
                            <input
                                type="search"
                                id="catalog-search"
                                class="search-input"
                                name="q"
                                placeholder="Name, slug, description or tag"
                                autocomplete="off"
                                // `value` for the server-rendered page, `prop:value` once hydrated.
                                value=move || filters.get().q.unwrap_or_default()
                                prop:value=move || filters.get().q.unwrap_or_default()
                                on:input=move |ev| {
                                    let v = event_target_value(&ev);
                                    let v = (!v.trim().is_empty()).then_some(v);
                                    go.with_value(|go| go(&|f: &mut Filters| f.q = v.clone()));
                                }
                            />
                        </label>
                        {select("filter-team", "Team", "team", "All teams", teams)}
                        {select("filter-system", "System", "system", "All systems", systems)}
                        {select("filter-tier", "Tier", "tier", "Any tier", tiers)}
                        {select("filter-lifecycle", "Lifecycle", "lifecycle", "Any lifecycle", lifecycles)}
                        {move || filters.get().tag.map(|t| view! {
                            <input type="hidden" name="tag" value=t.clone()/>
                            <span class="tag" title="Filtered by this tag">{format!("#{t}")}</span>
                        })}
                        <button type="submit" class="button button-secondary filters-submit">"Search"</button>
                    </form>
                }
            })}
        </Suspense>
        <section class="card">
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    let burning: std::collections::BTreeMap<String, (i64, String)> = open_incidents
                        .await
                        .map(|p| p.items)
                        .unwrap_or_default()
                        .into_iter()
                        .rev()
                        .flat_map(|i| {
                            let label = format!("{} {}", i.reference, i.severity.label());
                            i.services.into_iter().map(move |s| (s.slug, (i.id, label.clone())))
                        })
                        .collect();
                    match services.await {
                        Err(e) => view! { <ErrorState what="the catalog" error=e/> }.into_any(),
                        Ok(page) => results(page, filters.get_untracked(), burning).into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The catalog table; `burning` maps a service slug to an open incident naming it.
fn results(
    page: Page<Service>,
    f: Filters,
    burning: std::collections::BTreeMap<String, (i64, String)>,
) -> impl IntoView {
    if page.items.is_empty() {
        let filtered = f.is_filtered();
        return view! {
            <EmptyState title=if filtered { "No service matches these filters.".to_string() } else { "The catalog is empty.".to_string() }>
                {if filtered {
                    view! { <p><a href="/">"Clear the filters"</a>" to see every service."</p> }.into_any()
                } else {
                    view! { <p>"Register services through the REST API ("<a href="/api/docs" rel="external">"docs"</a>"), or start Portolan with the demo organisation."</p> }.into_any()
                }}
            </EmptyState>
        }
        .into_any();
    }
    let shown = page.items.len();
    let first_url = f.cursor.is_some().then(|| {
        page_url(
            "/",
            &Filters {
                cursor: None,
                ..f.clone()
            }
            .pairs(),
        )
    });
    let next_url = page.next_cursor.map(|c| {
        page_url(
            "/",
            &Filters {
                cursor: Some(c),
                ..f.clone()
            }
            .pairs(),
        )
    });
    view! {
        <div class="table-wrap">
            <table class="data-table">
                <caption class="visually-hidden">"Services"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        <th scope="col">"Team"</th>
                        <th scope="col">"System"</th>
                        <th scope="col">"Tier"</th>
                        <th scope="col">"Lifecycle"</th>
                        <th scope="col">"Tags"</th>
                    </tr>
                </thead>
                <tbody>
                    {page.items.into_iter().map(|s| view! {
                        <tr data-service=s.slug.clone()>
                            <td>
                                <a href=format!("/services/{}", s.slug)><strong>{s.name.clone()}</strong></a>
                                {burning.get(&s.slug).map(|(id, label)| view! {
                                    <a class="badge open-incident" href=format!("/incidents/{id}") title="An open incident names this service">{format!("Open incident {label}")}</a>
                                })}
                                <div class="muted mono">{s.slug.clone()}</div>
                            </td>
                            <td data-team=s.owner_team.slug.clone()>{s.owner_team.name.clone()}</td>
                            <td>{s.system.as_ref().map(|sy| sy.name.clone()).unwrap_or_else(|| "—".into())}</td>
                            <td><TierBadge tier=s.tier/></td>
                            <td><LifecycleBadge lifecycle=s.lifecycle/></td>
                            <td>
                                <span class="tags">
                                    {s.tags.iter().map(|t| view! { <a class="tag" href=format!("/?tag={}", crate::api::encode(t))>{t.clone()}</a> }).collect_view()}
                                </span>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <Pager first_url next_url shown noun="services"/>
    }
    .into_any()
}
