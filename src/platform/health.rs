//! `GET /healthz` (the process is alive) and `GET /readyz` (what the service needs answers).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    postgres: &'static str,
    redis: &'static str,
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
    let ready = pg_ok && redis_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        postgres: state_of(pg_ok),
        redis: state_of(redis_ok),
    };
    (status, Json(body)).into_response()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
