//! Portolan's user interface, written once with Leptos: rendered to HTML inside the server
//! (`ssr`), then hydrated in the browser (`hydrate`) so the same components become interactive.
//! Pages read data only through [`api::Api`], the typed client of the REST contract.
// Deep view trees (the incident page) need more than the default type-layout depth.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod format;
pub mod live;
pub mod pages;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for people and tests: the page is now interactive.
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
