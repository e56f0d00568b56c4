//! Assembling the application: state, router (pages, server functions, REST), tracing.

use super::ai::local::LocalChat;
use super::ai::ModelRouter;
use super::auth::KeyCache;
use super::cache::Cache;
use super::config::Settings;
use super::employee_cache::{self, EmployeeCache};
use super::memory::{Embedder, Indexer};
use super::state::{AppState, Memory};
use crate::app::{shell, App};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::trace::TraceLayer;

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Builds the state; must run inside the Tokio runtime (it starts the memory indexer).
pub fn build_state(
    pool: PgPool,
    settings: Settings,
    leptos_options: LeptosOptions,
) -> anyhow::Result<AppState> {
    let cache = Cache::new(settings.redis_url.expose_secret())?;
    let providers = settings.provider_configs();
    let local = &settings.file.local;
    let local_chat = providers.iter().any(|p| p.kind == "local").then(|| {
        LocalChat::start(
            local.models_dir.clone(),
            local.chat_workers,
            local.chat_queue,
        )
    });
    let router = ModelRouter::new(
        providers,
        Duration::from_secs(settings.file.limits.model_timeout_seconds),
        local_chat,
    );
    let memory = Embedder::from_settings(&settings)?.map(|embedder| {
        let embedder = Arc::new(embedder);
        Memory {
            indexer: Indexer::start(
                pool.clone(),
                embedder.clone(),
                Duration::from_secs(settings.file.memory.sweep_seconds.max(1)),
            ),
            embedder,
        }
    });
    let employees = Arc::new(EmployeeCache::new(
        settings.file.limits.employee_cache_entries,
        Duration::from_secs(settings.file.limits.employee_cache_seconds),
    ));
    employee_cache::listen(cache.redis_client(), Arc::downgrade(&employees));
    Ok(AppState {
        pool,
        cache,
        employees,
        settings: Arc::new(settings),
        keys: Arc::new(KeyCache::default()),
        router: Arc::new(router),
        memory,
        leptos_options,
    })
}

async fn server_fn_handler(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), req).await
}

pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let body_limit = state.settings.file.limits.request_body_bytes;
    let ctx_state = state.clone();
    Router::new()
        .nest("/api/v1", crate::api::rest::api_routes())
        .merge(crate::api::rest::health_routes())
        .route(
            "/rpc/{*fn_name}",
            post(server_fn_handler).get(server_fn_handler),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
