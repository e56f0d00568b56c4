//! `GET /healthz` (the process is alive) and `GET /readyz` (what the service needs answers).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// What `/readyz` reports. Only Postgres decides readiness (503): without it nothing works.
/// Redis is a cache and a model or the embedding model being down costs what it serves, not
/// the service; they are reported, and `status` says `degraded`, but the answer stays 200 so
/// that a load balancer keeps sending turns that can still be answered.
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    postgres: &'static str,
    redis: &'static str,
    /// Each configured model: `up`, or `down` while its breaker skips it.
    models: BTreeMap<String, &'static str>,
    /// The embedding model behind recall: `up`, `down` (its last call failed or missed the
    /// recall budget) or `off`.
    embeddings: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn readyz(State(state): State<AppState>) -> Response {
    let pg = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await;
    let pg_ok = matches!(pg, Ok(Ok(_)));
    let redis_ok = state.cache.ping().await;
    let state_of = |ok: bool| if ok { "up" } else { "down" };
    let models = state.router.model_states();
    let embeddings = match &state.memory {
        None => "off",
        Some(m) => state_of(m.embedder.is_answering()),
    };
    let degraded = !redis_ok || embeddings == "down" || models.values().any(|s| *s == "down");
    let body = Readiness {
        status: match (pg_ok, degraded) {
            (false, _) => "not_ready",
            (true, true) => "degraded",
            (true, false) => "ready",
        },
        postgres: state_of(pg_ok),
        redis: state_of(redis_ok),
        models,
        embeddings,
    };
    let status = if pg_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
