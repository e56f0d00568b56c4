//! `/employees/clients` (operator: onboard, list) and `/employees/clients/{client_id}`.

use crate::accounts::server::principal::{ClientPath, OperatorAuth};
use crate::clients::{Client, ClientInfo, ClientList, LimitOverrides, OnboardedClient};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::ClientParams;
use crate::platform::http::{ApiJson, CLIENT, CLIENTS};
use crate::platform::AppState;
use crate::usage::TierLimits;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// Onboard a client
///
/// Creates the client with its tier's defaults for whatever is omitted, and its first API key
/// (an `admin` key), shown only in this answer.
#[utoipa::path(post, path = "/api/v1/employees/clients", tag = "clients",
    request_body = ClientInfo,
    responses((status = 201, description = "The client and its first API key.", body = OnboardedClient)))]
async fn onboard_client(
    State(state): State<AppState>,
    _op: OperatorAuth,
    ApiJson(info): ApiJson<ClientInfo>,
) -> Result<(StatusCode, Json<OnboardedClient>), AppError> {
    let onboarded = super::service::onboard_client(&state, &info).await?;
    Ok((StatusCode::CREATED, Json(onboarded)))
}

/// List every client (the operator)
#[utoipa::path(get, path = "/api/v1/employees/clients", tag = "clients",
    responses((status = 200, description = "Every client.", body = ClientList)))]
async fn list_clients(
    State(state): State<AppState>,
    _op: OperatorAuth,
) -> Result<Json<ClientList>, AppError> {
    let clients = super::service::list_clients(&state).await?;
    Ok(Json(ClientList { clients }))
}

/// One client (itself, or the operator)
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}", tag = "clients",
    params(ClientParams),
    responses((status = 200, description = "The client.", body = Client)))]
async fn get_client(
    State(state): State<AppState>,
    op: Result<OperatorAuth, AppError>,
    who: Result<ClientPath, AppError>,
    Path(client_id): Path<String>,
) -> Result<Json<Client>, AppError> {
    // The client itself, or the operator (who sees every client, not its conversations).
    match (who, op) {
        (Ok(ClientPath(who)), _) => Ok(Json(super::service::get_client(&state, &who).await?)),
        (Err(_), Ok(_)) => Ok(Json(
            super::service::get_client_by_id(&state, &client_id).await?,
        )),
        (Err(e), Err(_)) => Err(e),
    }
}

/// Suspend a client (the operator)
///
/// Its sessions, keys and turns stop at once on every instance; nothing is deleted.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/suspend", tag = "clients",
    params(ClientParams),
    responses((status = 200, description = "The client, suspended.", body = Client)))]
async fn suspend(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(client_id): Path<String>,
) -> Result<Json<Client>, AppError> {
    Ok(Json(
        super::service::set_active(&state, &client_id, false).await?,
    ))
}

/// Reactivate a suspended client (the operator)
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/reactivate", tag = "clients",
    params(ClientParams),
    responses((status = 200, description = "The client, active again.", body = Client)))]
async fn reactivate(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(client_id): Path<String>,
) -> Result<Json<Client>, AppError> {
    Ok(Json(
        super::service::set_active(&state, &client_id, true).await?,
    ))
}

/// Override a client's limits (the operator)
///
/// Replaces the client's overrides of its tier's limits: each limit given is used in place of
/// the tier's, each one left out is the tier's (`{}` restores them all). Every instance applies
/// them from the next request.
#[utoipa::path(put, path = "/api/v1/employees/clients/{client_id}/limits", tag = "clients",
    params(ClientParams), request_body = LimitOverrides,
    responses((status = 200, description = "The limits now in force.", body = TierLimits)))]
async fn set_limits(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(client_id): Path<String>,
    ApiJson(overrides): ApiJson<LimitOverrides>,
) -> Result<Json<TierLimits>, AppError> {
    Ok(Json(
        super::limits::set_overrides(&state, &client_id, &overrides).await?,
    ))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    onboard_client,
    list_clients,
    get_client,
    suspend,
    reactivate,
    set_limits
))]
pub struct Api;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(CLIENTS, onboard_client)
        .get(CLIENTS, list_clients)
        .get(CLIENT, get_client)
        .post(&format!("{CLIENT}/suspend"), suspend)
        .post(&format!("{CLIENT}/reactivate"), reactivate)
        .put(&format!("{CLIENT}/limits"), set_limits)
}
