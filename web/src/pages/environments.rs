//! What runs where: services × the pipeline of environments. A version that differs from the
//! previous stage stands out: a change on its way to production, or a stage that is ahead. Above
//! it, the pipeline with the gate of each environment in one line, leading to its gate page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use portolan_api::{Environment, GatePolicyVersion, Matrix, Page, Team};

use super::gate_policy::summary;
use super::{page_url, param};
use crate::api::{ClientError, api_url, encode, use_api};
use crate::components::{EmptyState, ErrorState, Loading, Pager, TierBadge};
use crate::format;

#[derive(Debug, Clone, PartialEq)]
struct Filters {
    q: Option<String>,
    team: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("q", self.q.clone()),
            ("team", self.team.clone()),
            ("cursor", self.cursor.clone()),
        ]
    }
}

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            q: param(&q, "q"),
            team: param(&q, "team"),
            cursor: param(&q, "cursor"),
        }
    });
    let api = use_api();
    let matrix = Resource::new(move || filters.get(), {
        let api = api.clone();
        move |f: Filters| {
            api.get::<Matrix>(api_url(
                "matrix",
                &[
                    ("q", f.q),
                    ("team", f.team),
                    ("cursor", f.cursor),
                    ("limit", Some("50".into())),
                ],
            ))
        }
    });
    let teams = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Page<Team>>(api_url("teams", &[("limit", Some("200".into()))]))
    });
    let gates = Resource::new(
        || (),
        move |_| {
            let api = api.clone();
            async move {
                let environments = api
                    .get::<Vec<Environment>>("/api/v1/environments".into())
                    .await?;
                let mut gates = Vec::with_capacity(environments.len());
                for e in environments {
                    let gate = api
                        .get::<GatePolicyVersion>(format!(
                            "/api/v1/environments/{}/gate",
                            encode(&e.slug)
                        ))
                        .await?;
                    gates.push((e, gate));
                }
                Ok::<_, ClientError>(gates)
            }
        },
    );
    let navigate = use_navigate();
    let go = StoredValue::new(move |f: Filters| {
        navigate(
            &page_url("/environments", &f.pairs()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    });

    view! {
        <Title text="Environments"/>
        <header class="page-header">
            <div>
                <h1>"What runs where"</h1>
                <p class="subtitle">"The version of every service in each environment, in pipeline order. Highlighted cells differ from the stage before them."</p>
            </div>
        </header>
        <Suspense fallback=|| view! { <Loading lines=2/> }>
            {move || Suspend::new(async move {
                match gates.await {
                    Ok(g) => gates_view(g).into_any(),
                    Err(e) => view! { <ErrorState what="the gates" error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <Loading lines=1/> }>
            {move || Suspend::new(async move {
                let teams = teams.await.map(|p| p.items).unwrap_or_default();
                view! {
                    <form class="filters" role="search" method="get" action="/environments" on:submit=|ev| ev.prevent_default()>
                        <label class="field field-grow">
                            <span class="field-label">"Service"</span>
                            <input type="search" id="matrix-search" class="search-input" name="q" placeholder="Filter services" autocomplete="off"
                                value=move || filters.get().q.unwrap_or_default()
                                prop:value=move || filters.get().q.unwrap_or_default()
                                on:input=move |ev| {
                                    let v = event_target_value(&ev);
                                    let f = Filters { q: (!v.trim().is_empty()).then_some(v), cursor: None, ..filters.get_untracked() };
                                    go.with_value(|go| go(f));
                                }/>
                        </label>
                        <label class="field">
                            <span class="field-label">"Team"</span>
                            <select id="matrix-team" name="team" on:change=move |ev| {
                                let v = event_target_value(&ev);
                                let f = Filters { team: (!v.is_empty()).then_some(v), cursor: None, ..filters.get_untracked() };
                                go.with_value(|go| go(f));
                            }>
                                <option value="">"All teams"</option>
                                {teams.into_iter().map(|t| {
                                    let slug = t.slug.clone();
                                    view! { <option value=t.slug selected=move || filters.get().team.as_deref() == Some(slug.as_str())>{t.name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <button type="submit" class="button button-secondary filters-submit">"Filter"</button>
                    </form>
                }
            })}
        </Suspense>
        <section class="card">
            <Transition fallback=|| view! { <Loading lines=10/> }>
                {move || Suspend::new(async move {
                    match matrix.await {
                        Err(e) => view! { <ErrorState what="the environments" error=e/> }.into_any(),
                        Ok(m) => matrix_view(m, filters.get_untracked()).into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The pipeline, each environment with its gate in one line.
fn gates_view(gates: Vec<(Environment, GatePolicyVersion)>) -> impl IntoView {
    if gates.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card gates" aria-labelledby="gates-title">
            <header class="card-header">
                <h2 id="gates-title">"Promotion gates"</h2>
                <span class="muted">"what a promotion into each environment needs"</span>
            </header>
            <ol class="pipeline gate-pipeline">
                {gates.into_iter().map(|(e, gate)| view! {
                    <li class=if e.is_production { "stage stage-prod" } else { "stage" } data-environment=e.slug.clone()>
                        <span class="stage-name">{e.name.clone()}</span>
                        <a class="gate-link" href=format!("/environments/{}/gate", e.slug)>{summary(&gate.policy)}</a>
                        <span class="stage-age">{if gate.version == 0 { "default policy".to_string() } else { format!("version {}", gate.version) }}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
    .into_any()
}

fn matrix_view(m: Matrix, f: Filters) -> impl IntoView {
    if m.environments.is_empty() {
        return view! {
            <EmptyState title="No environment is defined yet.".to_string()>
                <p>"Create the pipeline (for example dev, qa, staging, prod) through the REST API."</p>
            </EmptyState>
        }
        .into_any();
    }
    if m.rows.is_empty() {
        return view! {
            <EmptyState title="No service matches.".to_string()>
                <p><a href="/environments">"Show every service"</a></p>
            </EmptyState>
        }
        .into_any();
    }
    let shown = m.rows.len();
    let first_url = f.cursor.is_some().then(|| {
        page_url(
            "/environments",
            &Filters {
                cursor: None,
                ..f.clone()
            }
            .pairs(),
        )
    });
    let next_url = m.next_cursor.clone().map(|c| {
        page_url(
            "/environments",
            &Filters {
                cursor: Some(c),
                ..f.clone()
            }
            .pairs(),
        )
    });
    let envs = m.environments.clone();
    view! {
        <div class="table-wrap">
            <table class="matrix data-table">
                <caption class="visually-hidden">"Versions per service and environment"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Service"</th>
                        {envs.iter().map(|e| view! {
                            <th scope="col" class=if e.is_production { "env-col env-prod" } else { "env-col" }>{e.name.clone()}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {m.rows.into_iter().map(|row| {
                        let envs = envs.clone();
                        view! {
                            <tr data-service=row.service.slug.clone()>
                                <th scope="row">
                                    <a href=format!("/services/{}", row.service.slug)>{row.service.name.clone()}</a>
                                    <div class="row muted"><TierBadge tier=row.tier/>{row.owner_team.name.clone()}</div>
                                </th>
                                {row.cells.into_iter().enumerate().map(|(i, cell)| match cell {
                                    None => view! { <td class="cell cell-empty"><span aria-label="never deployed">"—"</span></td> }.into_any(),
                                    Some(c) => {
                                        let title = if c.differs_from_previous && i > 0 {
                                            format!("differs from {}; deployed {}", envs[i - 1].name, format::datetime(c.deployed_at))
                                        } else {
                                            format!("deployed {}", format::datetime(c.deployed_at))
                                        };
                                        view! {
                                            <td class=if c.differs_from_previous { "cell cell-differs" } else { "cell" } title=title>
                                                <code class="cell-version">{c.version}</code>
                                                <span class="cell-age">{format::age(c.age_seconds)}</span>
                                                {c.differs_from_previous.then(|| view! { <span class="visually-hidden">" (differs from the previous stage)"</span> })}
                                            </td>
                                        }.into_any()
                                    }
                                }).collect_view()}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <Pager first_url next_url shown noun="services"/>
    }
    .into_any()
}
