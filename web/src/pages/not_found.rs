use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{EmptyState, set_status};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Not found"/>
        <header class="page-header"><div><h1>"Page not found"</h1></div></header>
        <section class="card">
            <EmptyState title="There is nothing at this address.".to_string()>
                <p>"It may have moved, or the link may be mistyped. "<a href="/">"Back to the catalog"</a></p>
            </EmptyState>
        </section>
    }
}
