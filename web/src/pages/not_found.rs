//! What any address Portolan does not know shows.

use leptos::prelude::*;

use crate::components::NotFoundState;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <NotFoundState title="Page not found" message="There is nothing at this address.".to_string()>
            <p>"It may have moved, or the link may be mistyped. "<a href="/">"Back to the catalog"</a></p>
        </NotFoundState>
    }
}
