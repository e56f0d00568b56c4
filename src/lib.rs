//! workforce: a multi-tenant platform on which businesses hire AI employees.
//!
//! Folders are capabilities first, compile target second. Each feature (`accounts`, `clients`,
//! `employees`, `conversations`, `memory`, `usage`, `audit`, `tools`, `knowledge`) holds its shared types and pure
//! logic (server and browser), its server functions and pages, and an ssr-only `server` part
//! with its SQL (`repo`), its `service` and its REST `router()`.
//!
//! Dependency rules:
//! - `core` (wire error, ids, validation) depends on nothing of ours; everything may use it.
//! - `ai` (model router, providers, embeddings, with the local `inference` runtime below it)
//!   knows no feature.
//! - `platform` (config, state, db, redis, http, telemetry) serves the features; only
//!   `platform::startup`, the composition root, knows every feature's router.
//! - A feature's server part may call another feature's `service`, never its `repo`.
//! - `app` is the page shell and routes; features hold their own pages.
//! - No module imports one that imports it back.
// The chat page's view type is deep.
#![recursion_limit = "256"]

pub mod accounts;
pub mod app;
pub mod audit;
pub mod clients;
pub mod conversations;
pub mod core;
pub mod employees;
pub mod knowledge;
pub mod memory;
pub mod tools;
pub mod usage;

#[cfg(feature = "ssr")]
pub mod ai;
#[cfg(feature = "ssr")]
pub mod platform;

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
