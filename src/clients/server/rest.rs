//! `/employees/clients` (operator: onboard, list) and `/employees/clients/{client_id}`.

use crate::accounts::server::principal::{ClientPath, OperatorAuth};
use crate::clients::{Client, ClientInfo, ClientList, OnboardedClient};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, CLIENT, CLIENTS};
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

async fn onboard_client(
    State(state): State<AppState>,
    _op: OperatorAuth,
    ApiJson(info): ApiJson<ClientInfo>,
) -> Result<(StatusCode, Json<OnboardedClient>), AppError> {
    let onboarded = super::service::onboard_client(&state, &info).await?;
    Ok((StatusCode::CREATED, Json(onboarded)))
}

async fn list_clients(
    State(state): State<AppState>,
    _op: OperatorAuth,
) -> Result<Json<ClientList>, AppError> {
    let clients = super::service::list_clients(&state).await?;
    Ok(Json(ClientList { clients }))
}

async fn get_client(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Client>, AppError> {
    Ok(Json(super::service::get_client(&state, &who).await?))
}

/// `POST …/clients/{client_id}/suspend` and `…/reactivate`, for the operator.
async fn suspend(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(client_id): Path<String>,
) -> Result<Json<Client>, AppError> {
    Ok(Json(
        super::service::set_active(&state, &client_id, false).await?,
    ))
}

async fn reactivate(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(client_id): Path<String>,
) -> Result<Json<Client>, AppError> {
    Ok(Json(
        super::service::set_active(&state, &client_id, true).await?,
    ))
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(CLIENTS, onboard_client)
        .get(CLIENTS, list_clients)
        .get(CLIENT, get_client)
        .post(&format!("{CLIENT}/suspend"), suspend)
        .post(&format!("{CLIENT}/reactivate"), reactivate)
}
