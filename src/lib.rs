//! workforce: a multi-tenant platform on which businesses hire AI employees.
//!
//! - `domain` — plain types and pure logic, shared by the server and the browser.
//! - `app` — the Leptos pages.
//! - `api` — server functions (for the pages) and, on the server, the REST API.
//! - `server` — configuration, database, cache, authentication and services (ssr only).

pub mod api;
pub mod app;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Lets browser tests wait until the page is interactive.
    let _ = js_sys::Reflect::set(
        &leptos::prelude::window(),
        &"__wf_hydrated".into(),
        &true.into(),
    );
}
