//! API tokens for pipelines: create one with scopes you hold (its secret is shown once), see when
//! each was last used, revoke one at once.

use leptos::prelude::*;
use leptos_meta::Title;
use portolan_api::{ApiToken, CreatedApiToken, Me, NewApiToken, TokenStatus};

use crate::api::{Change, ClientError, api_url, use_api};
use crate::components::{EmptyState, ErrorState, Loading, csrf, use_me};
use crate::format;

/// What each scope lets a pipeline do, for the people choosing them.
pub fn scope_help(scope: &str) -> &'static str {
    match scope {
        "read" => "Read the catalog, environments and deployments.",
        "catalog:write" => "Change teams, systems, services and dependencies.",
        "deployments:write" => "Record deployments and their status.",
        "promotions:write" => "Ask for promotions between environments.",
        _ => "",
    }
}

/// Expiry choices in days, the default marked.
const EXPIRIES: [(u32, &str); 5] = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (180, "180 days"),
    (366, "1 year"),
];
const DEFAULT_EXPIRY: u32 = 90;

fn status_view(t: &ApiToken) -> impl IntoView + use<> {
    let (class, text) = match t.status {
        TokenStatus::Active => ("status status-succeeded", "Active".to_string()),
        TokenStatus::Expired => ("status status-queued", "Expired".to_string()),
        TokenStatus::Revoked => ("status status-failed", "Revoked".to_string()),
    };
    view! { <span class=class data-status=format!("{:?}", t.status).to_lowercase()>{text}</span> }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let me = use_me();
    let api = use_api();
    let tokens = Resource::new(|| (), {
        let api = api.clone();
        move |_| api.get::<Vec<ApiToken>>(api_url("tokens", &[]))
    });
    // The form works once the page is live in the browser (it sends JSON with the CSRF token).
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let created = RwSignal::new(None::<CreatedApiToken>);

    view! {
        <Title text="API tokens"/>
        <header class="page-header">
            <div>
                <p class="eyebrow">"Settings"</p>
                <h1>"API tokens"</h1>
                <p class="subtitle">
                    "Tokens let pipelines and scripts call Portolan's "<a href="/api/docs" rel="external">"API"</a>
                    " as you, limited to the scopes you choose. A token never does more than you may, and stops when you lose a role."
                </p>
            </div>
        </header>
        {move || created.get().map(|c| view! { <NewTokenSecret created=c on_done=move || created.set(None)/> })}
        <div class="grid-2 tokens-layout">
            <section class="card">
                <header class="card-header"><h2>"New token"</h2></header>
                <Suspense fallback=|| view! { <Loading lines=3/> }>
                    {move || Suspend::new(async move {
                        let me = match me {
                            Some(me) => me.await,
                            None => Err(ClientError::unreachable("who you are is unknown")),
                        };
                        match me {
                            Err(e) => view! { <ErrorState what="your roles" error=e/> }.into_any(),
                            Ok(me) => view! {
                                <CreateTokenForm me live on_created=move |c: CreatedApiToken| {
                                    created.set(Some(c));
                                    tokens.refetch();
                                }/>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <section class="card">
                <header class="card-header"><h2>"Using a token"</h2></header>
                <p>"Send it in the "<code>"Authorization"</code>" header:"</p>
                <pre class="snippet"><code>"curl -H \"Authorization: Bearer $PORTOLAN_TOKEN\" \\\n  "{move || origin()}"/api/v1/deployments?limit=5"</code></pre>
                <p class="muted">"Keep it in your pipeline's secret store, never in a repository. Portolan keeps only a hash of it, so a lost token cannot be shown again: revoke it and make a new one."</p>
            </section>
        </div>
        <section class="card">
            <header class="card-header"><h2>"Your tokens"</h2></header>
            <Transition fallback=|| view! { <Loading lines=4/> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Err(e) => view! { <ErrorState what="your tokens" error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No tokens yet.".to_string()>
                                <p>"Create one above for a pipeline that records deployments or asks for promotions."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(list) => view! { <TokenTable list live on_revoked=move || tokens.refetch()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Where this Portolan is reached, for the example (the browser knows; while rendering, a
/// placeholder).
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(o) = web_sys::window().and_then(|w| w.location().origin().ok()) {
        return o;
    }
    "https://portolan.example.com".into()
}

#[component]
fn CreateTokenForm(
    me: Me,
    live: RwSignal<bool>,
    on_created: impl Fn(CreatedApiToken) + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let api = use_api();
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(vec!["read".to_string()]);
    let days = RwSignal::new(DEFAULT_EXPIRY);
    let error = RwSignal::new(None::<ClientError>);
    let busy = RwSignal::new(false);
    let csrf = StoredValue::new(me.csrf_token.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let new = NewApiToken {
            name: name.get_untracked(),
            scopes: chosen.get_untracked(),
            expires_in_days: Some(days.get_untracked()),
        };
        let change = Change::post(api_url("tokens", &[]), &new, csrf.get_value());
        let sent = api.send::<CreatedApiToken>(change);
        leptos::task::spawn_local(async move {
            match sent.await {
                Ok(c) => {
                    name.set(String::new());
                    on_created(c);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let field_error = move |field: &'static str| {
        move || {
            error.get().and_then(|e| {
                e.fields
                    .iter()
                    .find(|f| f.field == field || f.field.starts_with(&format!("{field}[")))
                    .map(|f| view! { <span class="field-error" role="alert">{f.message.clone()}</span> })
            })
        }
    };
    let scopes = me.token_scopes.clone();
    view! {
        <form class="token-form stack" on:submit=submit>
            <label class="field field-wide">
                <span class="field-label">"Name"</span>
                <input type="text" name="name" required maxlength="100" placeholder="e.g. payments CI"
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                {field_error("name")}
            </label>
            <fieldset class="scope-choices">
                <legend class="field-label">"Scopes"</legend>
                {scopes.into_iter().map(|scope| {
                    let s = scope.clone();
                    let checked = move || chosen.get().contains(&s);
                    let s2 = scope.clone();
                    view! {
                        <label class="choice">
                            <input type="checkbox" name="scopes" value=scope.clone() prop:checked=checked
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| {
                                        c.retain(|x| x != &s2);
                                        if on { c.push(s2.clone()); }
                                    });
                                }/>
                            <span><code>{scope.clone()}</code>" "<span class="muted">{scope_help(&scope)}</span></span>
                        </label>
                    }
                }).collect_view()}
                {field_error("scopes")}
                <p class="muted field-hint">"Only the scopes your roles allow are offered. Every scope can also read."</p>
            </fieldset>
            <label class="field">
                <span class="field-label">"Expires after"</span>
                <select name="expires_in_days" on:change=move |ev| {
                    if let Ok(d) = event_target_value(&ev).parse() { days.set(d); }
                }>
                    {EXPIRIES.iter().map(|(d, label)| view! {
                        <option value=d.to_string() selected=*d == DEFAULT_EXPIRY>{*label}</option>
                    }).collect_view()}
                </select>
                {field_error("expires_in_days")}
            </label>
            {move || error.get().filter(|e| e.fields.is_empty()).map(|e| view! {
                <p class="form-error" role="alert">{e.message}</p>
            })}
            <div class="row">
                <button type="submit" class="button" disabled=move || !live.get() || busy.get()>
                    {move || if busy.get() { "Creating…" } else { "Create token" }}
                </button>
            </div>
        </form>
    }
}

/// The secret of a token just made, shown this once, with a copy button.
#[component]
fn NewTokenSecret(
    created: CreatedApiToken,
    on_done: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let secret = created.token.clone();
    let copied = RwSignal::new(false);
    let copy = {
        let secret = secret.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&secret);
                copied.set(true);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &secret;
        }
    };
    view! {
        <section class="callout callout-warning token-secret" role="status" aria-live="polite">
            <strong>{format!("Token “{}” created. Copy it now: it will not be shown again.", created.info.name)}</strong>
            <div class="row secret-row">
                <input class="secret" type="text" readonly value=secret.clone() aria-label="The new token"
                    on:focus=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            use wasm_bindgen::JsCast;
                            if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                input.select();
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }/>
                <button type="button" class="button" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                <button type="button" class="button button-secondary" on:click=move |_| on_done()>"Done"</button>
            </div>
            <p class="muted">{format!("Scopes: {} · expires {}", created.info.scopes.join(", "), format::datetime(created.info.expires_at))}</p>
        </section>
    }
}

#[component]
fn TokenTable(
    list: Vec<ApiToken>,
    live: RwSignal<bool>,
    on_revoked: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let me = use_me();
    let owners: std::collections::BTreeSet<&str> =
        list.iter().map(|t| t.owner_name.as_str()).collect();
    let show_owner = owners.len() > 1;
    let api = use_api();
    let error = RwSignal::new(None::<ClientError>);
    view! {
        {move || error.get().map(|e| view! { <p class="form-error" role="alert">{format!("Could not revoke: {}", e.message)}</p> })}
        <div class="table-wrap">
            <table class="data-table tokens-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        {show_owner.then(|| view! { <th scope="col">"Owner"</th> })}
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|t| {
                        let confirming = RwSignal::new(false);
                        let id = t.id;
                        let api = api.clone();
                        let revoke = move |_| {
                            let change = Change::delete(api_url(&format!("tokens/{id}"), &[]), csrf(me));
                            let sent = api.send::<ApiToken>(change);
                            leptos::task::spawn_local(async move {
                                match sent.await {
                                    Ok(_) => { error.set(None); on_revoked(); }
                                    Err(e) => error.set(Some(e)),
                                }
                            });
                        };
                        let active = t.status == TokenStatus::Active;
                        view! {
                            <tr data-token=t.id>
                                <td><strong>{t.name.clone()}</strong><br/><code class="muted">{format!("{}…", t.prefix)}</code></td>
                                {show_owner.then(|| view! { <td>{t.owner_name.clone()}</td> })}
                                <td><span class="tags">{t.scopes.iter().map(|s| view! { <span class="tag">{s.clone()}</span> }).collect_view()}</span></td>
                                <td>{status_view(&t)}</td>
                                <td class="muted"><time datetime=format::machine(t.created_at)>{format::datetime(t.created_at)}</time></td>
                                <td class="muted"><time datetime=format::machine(t.expires_at)>{format::datetime(t.expires_at)}</time></td>
                                <td class="muted">{match t.last_used_at {
                                    Some(at) => view! { <time datetime=format::machine(at)>{format::datetime(at)}</time> }.into_any(),
                                    None => "never".into_any(),
                                }}</td>
                                <td class="num">
                                    {active.then(|| view! {
                                        <Show when=move || confirming.get() fallback=move || view! {
                                            <button type="button" class="button button-secondary" disabled=move || !live.get()
                                                on:click=move |_| confirming.set(true)>"Revoke"</button>
                                        }>
                                            <span class="row confirm-revoke">
                                                <span>"Revoke now? Pipelines using it stop at once."</span>
                                                <button type="button" class="button button-danger" on:click=revoke.clone()>"Yes, revoke"</button>
                                                <button type="button" class="button button-secondary" on:click=move |_| confirming.set(false)>"Keep"</button>
                                            </span>
                                        </Show>
                                    })}
                                </td>
                            </tr>
                        }.into_any()
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_is_explained() {
        for scope in [
            "read",
            "catalog:write",
            "deployments:write",
            "promotions:write",
        ] {
            assert!(!scope_help(scope).is_empty(), "{scope}");
        }
        assert!(EXPIRIES.iter().any(|(d, _)| *d == DEFAULT_EXPIRY));
        assert!(EXPIRIES.iter().all(|(d, _)| (1..=366).contains(d)));
    }
}
