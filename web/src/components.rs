//! Small pieces shared by the pages.

use leptos::prelude::*;
use portolan_api::{Deployment, DeploymentKind, DeploymentStatus, Lifecycle};

use crate::api::ClientError;
use crate::format;

#[component]
pub fn TierBadge(tier: i16) -> impl IntoView {
    let title = match tier {
        1 => "Tier 1: most critical",
        2 => "Tier 2: important",
        3 => "Tier 3: standard",
        _ => "Tier 4: least critical",
    };
    view! { <span class=format!("badge tier-{tier}") title=title>{format!("Tier {tier}")}</span> }
}

#[component]
pub fn LifecycleBadge(lifecycle: Lifecycle) -> impl IntoView {
    let name = lifecycle.as_str();
    view! { <span class=format!("badge lifecycle-{name}")>{name}</span> }
}

pub fn status_label(s: DeploymentStatus) -> &'static str {
    match s {
        DeploymentStatus::Queued => "Queued",
        DeploymentStatus::InProgress => "In progress",
        DeploymentStatus::Succeeded => "Succeeded",
        DeploymentStatus::Failed => "Failed",
        DeploymentStatus::RolledBack => "Rolled back",
    }
}

#[component]
pub fn StatusBadge(status: DeploymentStatus) -> impl IntoView {
    view! { <span class=format!("status status-{}", status.as_str())>{status_label(status)}</span> }
}

#[component]
pub fn KindBadge(kind: DeploymentKind) -> impl IntoView {
    match kind {
        DeploymentKind::Normal => ().into_any(),
        DeploymentKind::Hotfix => {
            view! { <span class="badge kind-hotfix">"Hotfix"</span> }.into_any()
        }
        DeploymentKind::Rollback => {
            view! { <span class="badge kind-rollback">"Rollback"</span> }.into_any()
        }
    }
}

/// A failed load, with what went wrong and a way to try again.
#[component]
pub fn ErrorState(what: &'static str, error: ClientError) -> impl IntoView {
    view! {
        <div class="error-state" role="alert">
            <p class="error-title">{format!("Could not load {what}")}</p>
            <p>{error.message}</p>
            <a class="button" href="" rel="external">"Try again"</a>
        </div>
    }
}

#[component]
pub fn EmptyState(title: String, children: Children) -> impl IntoView {
    view! {
        <div class="empty-state">
            <p class="empty-title">{title}</p>
            {children()}
        </div>
    }
}

/// A page whose record does not exist: answered with 404, titled, and saying where to go instead.
#[component]
pub fn NotFoundState(title: &'static str, message: String, children: Children) -> impl IntoView {
    set_status(404);
    view! {
        <leptos_meta::Title text=title/>
        <header class="page-header"><div><h1>{title}</h1></div></header>
        <section class="card">
            <EmptyState title=message>{children()}</EmptyState>
        </section>
    }
}

/// Placeholder rows while data loads.
#[component]
pub fn Loading(#[prop(default = 5)] lines: usize) -> impl IntoView {
    view! {
        <div class="skeleton" aria-busy="true" aria-label="Loading">
            {(0..lines).map(|_| view! { <div class="skeleton-line"></div> }).collect_view()}
        </div>
    }
}

/// Keyset pager: back to the first page, or on to the next.
#[component]
pub fn Pager(
    first_url: Option<String>,
    next_url: Option<String>,
    shown: usize,
    noun: &'static str,
) -> impl IntoView {
    // "1 record", "2 records": nouns are given in the plural.
    let noun = if shown == 1 {
        noun.strip_suffix('s').unwrap_or(noun)
    } else {
        noun
    };
    if first_url.is_none() && next_url.is_none() {
        return view! { <p class="pager-info muted">{format!("{shown} {noun}")}</p> }.into_any();
    }
    view! {
        <nav class="pager" aria-label="Pages">
            {match first_url {
                Some(u) => view! { <a class="button button-secondary" href=u>"← First page"</a> }.into_any(),
                None => view! { <span class="button button-secondary" aria-disabled="true">"← First page"</span> }.into_any(),
            }}
            <span class="pager-info">{format!("{shown} {noun} on this page")}</span>
            {match next_url {
                Some(u) => view! { <a class="button button-secondary" href=u>"Next page →"</a> }.into_any(),
                None => view! { <span class="button button-secondary" aria-disabled="true">"Next page →"</span> }.into_any(),
            }}
        </nav>
    }
    .into_any()
}

/// One deployment in a feed, with the commits it carried.
#[component]
pub fn DeploymentItem(
    deployment: Deployment,
    #[prop(default = true)] show_service: bool,
) -> impl IntoView {
    let d = deployment;
    let took = match (d.started_at, d.finished_at) {
        (Some(s), Some(f)) => Some(format::duration((f - s).whole_seconds())),
        _ => None,
    };
    let when = d.finished_at.or(d.started_at).unwrap_or(d.created_at);
    let changes = d.changes.clone();
    let n = changes.len();
    view! {
        <li class="feed-item" data-deployment=d.id>
            <div class="feed-main">
                {show_service.then(|| view! {
                    <a href=format!("/services/{}", d.service.slug)>{d.service.name.clone()}</a>
                    <span aria-hidden="true">"→"</span>
                })}
                <span class=if d.environment.is_production { "env env-prod" } else { "env" }>{d.environment.name.clone()}</span>
                <code>{d.version.clone()}</code>
                <StatusBadge status=d.status/>
                <KindBadge kind=d.kind/>
            </div>
            <div class="feed-meta">
                <time datetime=format::machine(when)>{format::datetime(when)}</time>
                {took.map(|t| view! { <span>{format!("took {t}")}</span> })}
                {d.deployed_by.clone().map(|by| view! { <span>{format!("by {by}")}</span> })}
                {d.commit_sha.clone().map(|sha| view! { <span><code class="sha" title=sha.clone()>{format::short_sha(&sha)}</code></span> })}
                {d.pipeline_url.clone().map(|u| view! { <a class="link-external" href=u rel="external noopener">"Pipeline"</a> })}
                {d.incidents.iter().map(|l| {
                    let (class, verb) = if l.relation == "caused_by" { ("badge link-caused_by", "Caused") } else { ("badge link-fixed_by", "Fixed") };
                    view! { <a class=class href=format!("/incidents/{}", l.incident_id) data-incident-link=l.relation.clone()>{format!("{verb} {}", l.reference)}</a> }
                }).collect_view()}
            </div>
            {(n > 0).then(|| view! {
                <details class="commits">
                    <summary>{if n == 1 { "1 commit".to_string() } else { format!("{n} commits") }}</summary>
                    <ul class="commit-list">
                        {changes.into_iter().map(|c| view! {
                            <li>
                                <code class="sha" title=c.sha.clone()>{format::short_sha(&c.sha)}</code>
                                <span class="commit-msg">{c.message}</span>
                                <span class="commit-author">{c.author}</span>
                                <time datetime=format::machine(c.committed_at)>{format::datetime(c.committed_at)}</time>
                            </li>
                        }).collect_view()}
                    </ul>
                </details>
            })}
        </li>
    }
}

/// Sets the HTTP status of the server-rendered page (404 for a missing page or record).
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(code),
    ) {
        res.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

/// The signed-in person, as the app provides them.
pub type MeResource = Resource<Result<portolan_api::Me, ClientError>>;

pub fn use_me() -> Option<MeResource> {
    use_context::<MeResource>()
}

/// The session's CSRF token, for a change about to be sent.
pub fn csrf(me: Option<MeResource>) -> String {
    me.and_then(|m| m.get_untracked())
        .and_then(Result::ok)
        .map(|m| m.csrf_token)
        .unwrap_or_default()
}

/// Sends a change, then reloads the page's data on success, or puts why it was refused into
/// `error`.
pub fn acting(
    error: RwSignal<Option<ClientError>>,
    reload: impl Fn() + Send + Sync + Copy + 'static,
) -> StoredValue<impl Fn(crate::api::Change) + Send + Sync + 'static> {
    let api = crate::api::use_api();
    StoredValue::new(move |change: crate::api::Change| {
        let sent = api.send::<serde_json::Value>(change);
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(_) => {
                    error.set(None);
                    reload();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    })
}

/// A form that creates something and then opens it: one submission at a time (`busy`); the
/// created record's page opens (`page_of`), or the refusal shows (`error`).
#[derive(Clone, Copy)]
pub struct Creating {
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<ClientError>>,
}

impl Creating {
    pub fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Sends the creation `send` makes, unless one is under way, and follows it up.
    pub fn submit<T: 'static>(
        self,
        send: impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<T, ClientError>>>>,
        page_of: impl FnOnce(&T) -> String + 'static,
        navigate: impl Fn(&str, leptos_router::NavigateOptions) + 'static,
    ) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        let sent = send();
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(created) => navigate(&page_of(&created), Default::default()),
                Err(e) => self.error.set(Some(e)),
            }
            self.busy.set(false);
        });
    }
}

impl Default for Creating {
    fn default() -> Self {
        Self::new()
    }
}

/// The message of a refused field (or one of its items, `field[2]`).
#[component]
pub fn FieldError(error: RwSignal<Option<ClientError>>, field: &'static str) -> impl IntoView {
    move || {
        error.get().and_then(|e| {
            e.fields
                .iter()
                .find(|f| f.field == field || f.field.starts_with(&format!("{field}[")))
                .map(
                    |f| view! { <span class="field-error" role="alert">{f.message.clone()}</span> },
                )
        })
    }
}
