//! The state every handler and server function receives.

use super::config::Settings;
use super::limits::Limiter;
use super::redis::Cache;
use super::secrets::ServerKeys;
use crate::accounts::server::keys::KeyCache;
use crate::ai::embeddings::Embedder;
use crate::ai::ModelRouter;
use crate::employees::server::cache::EmployeeCache;
use crate::memory::server::indexer::Indexer;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    /// Runtime pool, connected as `workforce_app`.
    pub pool: PgPool,
    pub cache: Cache,
    pub settings: Arc<Settings>,
    pub keys: Arc<KeyCache>,
    /// Clients' limits in force (tier and operator overrides), invalidated across instances.
    pub client_limits: Arc<crate::clients::server::limits::LimitsCache>,
    /// Keys derived from `WORKFORCE_SECRET_KEY` (API-key digests, Redis entry tags).
    pub secrets: Arc<ServerKeys>,
    /// Rate limits and throttles (token buckets in Redis, in memory while it is down).
    pub limiter: Arc<Limiter>,
    pub router: Arc<ModelRouter>,
    /// The streamed turns running here that someone may stop (from any instance, via Redis).
    pub stops: Arc<crate::conversations::server::stop::TurnStops>,
    /// Employees as chat turns need them, invalidated across instances through Redis.
    pub employees: Arc<EmployeeCache>,
    /// The embedding model and the background indexer; `None` when recall is turned off.
    pub memory: Option<Memory>,
    /// Outbound HTTP for clients' tools: no internal address unless the operator opened it.
    pub outbound: Arc<super::outbound::Outbound>,
    /// Ingests uploaded knowledge documents in the background.
    pub ingester: crate::knowledge::server::ingest::Ingester,
    pub leptos_options: LeptosOptions,
}

#[derive(Clone)]
pub struct Memory {
    pub embedder: Arc<Embedder>,
    pub indexer: Indexer,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
