//! workforce: a multi-tenant platform on which businesses hire AI employees.
//!
//! Folders are capabilities first, compile target second. Each feature (`accounts`, `clients`,
//! `employees`, `conversations`, `memory`, `usage`, `audit`) holds its shared types and pure
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
pub mod memory;
pub mod usage;

#[cfg(feature = "ssr")]
pub mod ai;
#[cfg(feature = "ssr")]
pub mod platform;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The page's own code is a WASM file of its own (`app::lazy_page`): hydration waits for it,
    // then tells browser tests the page is interactive.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        app::components::mark_hydrated();
    });
}
