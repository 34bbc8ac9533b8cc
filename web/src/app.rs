//! The document shell, the navigation and the routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use portolan_api::Me;

use crate::pages::{
    actions::ActionsPage,
    audit::AuditPage,
    catalog::CatalogPage,
    deployments::DeploymentsPage,
    environments::EnvironmentsPage,
    gate_policy::GatePolicyPage,
    incidents::{IncidentPage, IncidentsPage},
    not_found::NotFoundPage,
    postmortem::PostmortemPage,
    promotions::{PromotionPage, PromotionsPage},
    service::ServicePage,
    tokens::TokensPage,
};

/// The whole HTML document, rendered by the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href="/static/portolan.css"/>
                <link rel="icon" href="/static/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The Content-Security-Policy of a page: scripts only from Portolan itself or inline with this
/// response's nonce (hydration), WebAssembly allowed to compile, nothing from elsewhere.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) =
        http::HeaderValue::from_str(&content_security_policy(&nonce.to_string()))
    {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    // Who is signed in (pages are only served to them), for the top bar and what the UI offers.
    let api = crate::api::use_api();
    let me = Resource::new(|| (), move |_| api.get::<Me>("/api/v1/me".to_string()));
    provide_context(me);
    provide_context(crate::live::LiveStatus(RwSignal::new(
        crate::live::Connection::default(),
    )));
    view! {
        <Title formatter=|page: String| if page.is_empty() { "Portolan".to_string() } else { format!("{page} · Portolan") }/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Suspense fallback=|| ()>
                {move || me.get().and_then(Result::ok).filter(|m| m.development_sign_in).map(|_| view! {
                    <div class="banner banner-warning" role="note">
                        <strong>"Development sign-in is on."</strong>
                        " Anyone who can reach this Portolan can act as anyone. Never turn it on for real use. "
                        <a href="/auth/sign-in">"Switch person"</a>
                    </div>
                })}
            </Suspense>
            <TopBar me/>
            <main id="main" class="page">
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/") view=CatalogPage/>
                    <Route path=path!("/services/:slug") view=ServicePage/>
                    <Route path=path!("/environments") view=EnvironmentsPage/>
                    <Route path=path!("/environments/:slug/gate") view=GatePolicyPage/>
                    <Route path=path!("/deployments") view=DeploymentsPage/>
                    <Route path=path!("/incidents") view=IncidentsPage/>
                    <Route path=path!("/incidents/:id") view=IncidentPage/>
                    <Route path=path!("/incidents/:id/postmortem") view=PostmortemPage/>
                    <Route path=path!("/promotions") view=PromotionsPage/>
                    <Route path=path!("/promotions/:id") view=PromotionPage/>
                    <Route path=path!("/actions") view=ActionsPage/>
                    <Route path=path!("/audit") view=AuditPage/>
                    <Route path=path!("/settings/tokens") view=TokensPage/>
                </Routes>
            </main>
            <footer class="footer">
                <div class="row">
                    <span>"Portolan — the map of what runs where."</span>
                    <a href="/api/docs" rel="external">"REST API"</a>
                    <a href="/api/openapi.json" rel="external">"OpenAPI"</a>
                </div>
            </footer>
        </Router>
    }
}

#[component]
fn TopBar(me: Resource<Result<Me, crate::api::ClientError>>) -> impl IntoView {
    let location = use_location();
    // The catalog owns the service pages too.
    let current = move |href: &'static str| {
        let path = location.pathname.get();
        let active = match href {
            "/" => path == "/" || path.starts_with("/services/"),
            _ => path.starts_with(href),
        };
        active.then_some("page")
    };
    view! {
        <header class="topbar">
            <div class="topbar-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Portolan"
                </a>
                <nav class="nav" aria-label="Main">
                    <a href="/" aria-current=move || current("/")>"Catalog"</a>
                    <a href="/environments" aria-current=move || current("/environments")>"Environments"</a>
                    <a href="/deployments" aria-current=move || current("/deployments")>"Deployments"</a>
                    <a href="/promotions" aria-current=move || current("/promotions")>"Promotions"</a>
                    <a href="/incidents" aria-current=move || current("/incidents")>"Incidents"</a>
                    <a href="/actions" aria-current=move || current("/actions")>"Action items"</a>
                    <Suspense fallback=|| ()>
                        {move || me.get().and_then(Result::ok).filter(|m| m.can("audit:read")).map(|_| view! {
                            <a href="/audit" aria-current=move || current("/audit")>"Audit log"</a>
                        })}
                    </Suspense>
                </nav>
                <Suspense fallback=|| ()>
                    {move || me.get().and_then(Result::ok).map(|m| view! { <UserMenu me=m/> })}
                </Suspense>
            </div>
        </header>
    }
}

/// The signed-in person, their roles, and sign-out (a form: it works before hydration too).
#[component]
fn UserMenu(me: Me) -> impl IntoView {
    let roles = if me.grants.is_empty() {
        "no role".to_string()
    } else {
        me.grants.join(", ")
    };
    view! {
        <div class="user-menu">
            <crate::live::LiveIndicator/>
            <span class="user-name" title=me.email.clone().unwrap_or_default()>{me.display_name.clone()}</span>
            <span class="user-roles" data-roles=roles.clone()>{roles.clone()}</span>
            <a class="topbar-link" href="/settings/tokens">"API tokens"</a>
            <form method="post" action="/auth/logout">
                <input type="hidden" name="csrf_token" value=me.csrf_token.clone()/>
                <button class="topbar-button" type="submit">"Sign out"</button>
            </form>
        </div>
    }
}
